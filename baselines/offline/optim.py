"""Optimizers of the offline trainers: AdamW (Decision Transformer's) or LAMB (Reinformer's option),
a linear warm-up then a constant learning rate, as both papers' code trains.

Torch has no LAMB, so :class:`Lamb` is written here (You et al. 2020, "Large Batch Optimization for
Deep Learning", Algorithm 2): Adam's bias-corrected update plus decoupled weight decay, scaled per
parameter tensor by the trust ratio ‖w‖ / ‖update‖ (1 where either norm is 0).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch
from torch import nn

from baselines.configs import check_choice, fail
from baselines.training import bf16_autocast, optimizer_update

OPTIMIZERS = ("adamw", "lamb")


@dataclass
class OptimConfig:
    """How the weights are fitted."""

    optimizer: str = "adamw"
    """``adamw`` or ``lamb`` (Reinformer's paper trains with LAMB)."""
    lr: float = 1e-4
    """Learning rate after the warm-up."""
    weight_decay: float = 1e-4
    """Decoupled weight decay."""
    warmup_steps: int = 1000
    """Steps of linear learning-rate warm-up from lr/warmup_steps to lr."""
    grad_clip: float = 0.25
    """Clip the global gradient norm to this (0 disables clipping)."""

    def validate(self) -> None:
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        if not math.isfinite(self.lr) or self.lr <= 0:
            fail("lr", f"must be a finite number > 0, got {self.lr!r}")
        for name in ("weight_decay", "grad_clip"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                fail(name, f"must be a finite number >= 0, got {value!r}")
        if self.warmup_steps < 0:
            fail("warmup_steps", f"must be a non-negative integer, got {self.warmup_steps!r}")


def learning_rate(config: OptimConfig, step: int) -> float:
    """The learning rate of step ``step`` (0-based)."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    return config.lr


class Lamb(torch.optim.Optimizer):
    """LAMB: layer-wise adaptive moments (see the module's docstring)."""

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None if closure is None else closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for parameter in group["params"]:
                if parameter.grad is None:
                    continue
                state = self.state[parameter]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32)
                    state["exp_avg"] = torch.zeros_like(parameter)
                    state["exp_avg_sq"] = torch.zeros_like(parameter)
                state["step"] += 1
                step = state["step"].item()
                state["exp_avg"].lerp_(parameter.grad, 1 - beta1)
                state["exp_avg_sq"].mul_(beta2).addcmul_(parameter.grad, parameter.grad, value=1 - beta2)
                first = state["exp_avg"] / (1 - beta1**step)
                second = state["exp_avg_sq"] / (1 - beta2**step)
                update = first / (second.sqrt() + group["eps"]) + group["weight_decay"] * parameter
                weight_norm, update_norm = parameter.norm(), update.norm()
                trust = torch.where(
                    (weight_norm > 0) & (update_norm > 0),
                    weight_norm / update_norm,
                    torch.ones_like(weight_norm),
                )
                parameter.sub_(update * (group["lr"] * trust))
        return loss


def make_optimizer(config: OptimConfig, parameters: Iterable[torch.Tensor]) -> torch.optim.Optimizer:
    """The optimizer of ``config`` over ``parameters`` (float32, on one device). AdamW is torch's fused
    kernel (one kernel for all tensors, on the CPU too): its per-tensor loop cost 6% of a CPU training
    step at the cross-check's size; the update is the same up to float32 rounding."""
    if config.optimizer == "lamb":
        return Lamb(parameters, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay, fused=True)


def optimizer_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    module: ModuleType,
    config: Any,
    windows,
    normalizer: torch.Tensor,
    autocast: bool,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One step on ``windows``: the algorithm's loss (bf16 autocast if ``autocast``), backward,
    gradient clipping, the optimizer's update. Returns the loss and its logged parts."""
    with bf16_autocast(windows.actions.device, autocast):
        loss, parts = module.loss(model, windows, config, normalizer)
    optimizer_update(model, optimizer, loss, config.optim.grad_clip)
    return loss, parts


__all__ = ["OPTIMIZERS", "Lamb", "OptimConfig", "learning_rate", "make_optimizer", "optimizer_step"]
