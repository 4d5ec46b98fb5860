"""The papers' results, reproduced at a chosen scale (CPU-sized for the docs, full-sized on a GPU).

1. ``regression_layers``: trained L-layer linear transformers against L-step GD and preconditioned
   GD on d=5, n=20 (Ahn et al. 2023), isotropic and rotated Σ with w ~ N(0, Σ⁻¹); the one-layer
   optimum d(d+1)/(n+d+1), the learned preconditioner's direction (cosine) and scale against the
   optimum's n/(n+d+1)·I, and against ((n+1)/n Σ + tr(Σ)/n I)⁻¹ for a fixed anisotropic Σ.
2. ``mrp_td``: trained 3-layer linear transformers on MRP prompts against batch TD(0)
   (Wang et al. 2024): cosine of the implied weights and of the prediction's gradient with respect
   to the context; the learned P and Q. Trained as in the paper (multi-task TD) and on the true value.
3. ``context_lengths``: linear vs softmax vs ReBased error against the number of examples, beside
   least squares (regression) and batch TD (MRP).

How every number is made:

- **One prompt set per table, drawn once.** ``evaluation_prompts`` draws a table's prompts on the
  CPU from a fixed seed (``EVAL_SEEDS``) and moves them to the device; every trained model and every
  reference algorithm of the table is scored on exactly those prompts (and a CPU and a GPU run score
  the same prompts).
- **Standard errors.** A mean over prompts comes with its standard error over the prompts
  (``KEY_stderr``).
- **Training seeds.** Every model is trained ``scale.seeds`` times (seeds 0, 1, ...). A figure is
  the mean over prompts of the errors averaged over the seeds (so its standard error is over
  prompts), a median is the mean of the seeds' medians, and ``KEY_by_seed`` holds each seed's own
  mean: their spread is the training noise.
- **Step sizes, named apart.** ``η_err`` (``gd_step``) and ``α_err`` (``td_best_step``) are the
  steps of least mean error, searched on a log grid *on the evaluation prompts themselves* (the
  reference algorithm gets that in-sample advantage); ``THEORY_STEP`` = n/(n+d+1) is the theory's
  optimal step for one GD step; ``α_cos`` (``td_step_size``) is the TD step whose implied weights
  agree best with a trained model's, a property of the model rather than of TD.

Each returns a dict of numbers (and writes its plot); ``markdown_tables`` renders them, also the
files written before standard errors and seeds were recorded (those cells simply lack them).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from baselines.icl.constructions import (
    batch_td,
    cosine,
    implied_weights,
    preconditioned_gd,
    preconditioner_of,
)
from baselines.icl.models import ModelConfig
from baselines.icl.samplers import MRPSampler, PromptConfig, Prompts, RegressionSampler, make_sampler
from baselines.icl.train import TrainConfig, load_model, prompt_errors, train


@dataclass
class Scale:
    """How big each reproduction is."""

    name: str
    device: str
    #: Steps and batch of the linear models of ``regression_layers`` and ``mrp_td``.
    linear_steps: int
    linear_batch: int
    #: Steps and batch of every model of ``context_lengths`` (linear, softmax and ReBased alike).
    sequence_steps: int
    sequence_batch: int
    eval_batch: int
    max_layers: int = 4
    width: int = 64
    #: Wall-clock cap per trained model (0: none); the GPU script fits its time budget with it.
    linear_seconds: float = 0.0
    sequence_seconds: float = 0.0
    #: The cap of the three 3-layer MRP models of ``mrp_td`` (0: ``linear_seconds``); their steps cost
    #: more (a longer context, the chain's trajectory drawn step by step).
    mrp_seconds: float = 0.0
    #: The steps of those MRP models (0: ``linear_steps``), for the same reason.
    mrp_steps: int = 0
    #: Training seeds of every model (each run takes well under a minute at these scales).
    seeds: int = 1


#: About seven minutes on one CPU thread: 16 models × 3 seeds, each a few seconds to half a minute.
#: Small enough to rerun anywhere; the linear models learn what the tables test, the sequence models
#: only begin to (the GPU scale trains them for real).
CPU = Scale(
    "CPU-sized",
    "cpu",
    linear_steps=1000,
    linear_batch=512,
    mrp_steps=400,
    sequence_steps=100,
    sequence_batch=32,
    eval_batch=2000,
    max_layers=3,
    width=32,
    seeds=3,
)
SMOKE = Scale(
    "smoke",
    "cpu",
    linear_steps=5,
    linear_batch=32,
    sequence_steps=3,
    sequence_batch=8,
    eval_batch=64,
    max_layers=2,
    width=32,
    seeds=2,
)
#: 18 trained models × 3 seeds; each stops at its cap (the learning rate decays over the time
#: allowed), so the three reproductions take at most 3 × (9 × 6 + 3 × 15 + 6 × 15) = 567 s of
#: training, plus evaluation: run them as separate ``--parts`` calls if one call has less time.
GPU = Scale(
    "GPU",
    "cuda",
    linear_steps=2000,
    linear_batch=16384,
    sequence_steps=1500,
    sequence_batch=256,
    eval_batch=100_000,
    linear_seconds=6.0,
    sequence_seconds=15.0,
    mrp_seconds=15.0,
    seeds=3,
)

D, N = 5, 20
ONE_LAYER_OPTIMUM = D * (D + 1) / (N + D + 1)
#: The optimal step of one GD step from w = 0 (isotropic): Γ = n/(n+d+1)·I, i.e. η = n/(n+d+1).
THEORY_STEP = N / (N + D + 1)
STEP_SIZES = torch.logspace(-2, 0.5, 41).tolist()
#: The seed of each table's evaluation prompts.
EVAL_SEEDS = {"regression": 99, "fixed_sigma": 12345, "mrp": 7, "curves": 12345}


def evaluation_prompts(
    sampler: RegressionSampler | MRPSampler, batch: int, seed: int, device: str | torch.device = "cpu"
) -> Prompts:
    """``batch`` prompts of n+1 steps, drawn once on the CPU from ``seed`` and moved to ``device``: the
    one set on which a table's models and reference algorithms are all scored."""
    prompts = sampler.sample(batch, torch.Generator().manual_seed(seed), num_steps=sampler.n + 1)
    return dataclasses.replace(
        prompts,
        context=prompts.context.to(device),
        queries=prompts.queries.to(device),
        targets=prompts.targets.to(device),
        extras={key: value.to(device) for key, value in prompts.extras.items()},
    )


def over_seeds(per_seed: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per-prompt values (P,) or (P, T) of each training seed (or of one deterministic algorithm):
    ``mean`` over prompts of the seed-averaged values, its ``stderr`` over prompts, ``median`` (the
    mean of the seeds' medians) and ``by_seed`` (each seed's mean)."""
    stacked = torch.stack([values.detach().double().cpu() for values in per_seed])
    averaged = stacked.mean(0)
    return {
        "mean": averaged.mean(0),
        "stderr": averaged.std(0) / math.sqrt(averaged.shape[0]),
        "median": stacked.median(1).values.mean(0),
        "by_seed": stacked.mean(1),
    }


def _put(record: dict, key: str, per_seed: list[torch.Tensor], median: bool = False) -> None:
    """``record[key]`` and its ``_stderr`` (and ``_median``; ``_by_seed`` for several seeds)."""
    summary = over_seeds(per_seed)
    record[key] = summary["mean"].item()
    record[f"{key}_stderr"] = summary["stderr"].item()
    if median:
        record[f"{key}_median"] = summary["median"].item()
    if len(per_seed) > 1:
        record[f"{key}_by_seed"] = summary["by_seed"].tolist()


def _put_scalars(record: dict, key: str, values: list[float]) -> None:
    """A per-model number (a cosine of matrices, a step size): the mean over seeds, and each seed's."""
    record[key] = sum(values) / len(values)
    if len(values) > 1:
        record[f"{key}_by_seed"] = list(values)


def _train(
    out: Path,
    scale: Scale,
    prompts: PromptConfig,
    model: ModelConfig,
    seconds: float | None = None,
    **training,
) -> torch.nn.Module:
    """Train one model of the reproduction; ``seconds`` overrides the scale's cap for its kind,
    ``training`` the other ``TrainConfig`` fields (``seed`` among them)."""
    if seconds is None:
        seconds = scale.linear_seconds if model.kind == "linear" else scale.sequence_seconds
    print(f"[reproduce] training {out.name} (cap {seconds or 'none'} s)", flush=True)
    config = TrainConfig(
        prompts=prompts,
        model=model,
        max_seconds=seconds,
        steps=training.pop("steps", scale.linear_steps),
        batch_size=training.pop("batch_size", scale.linear_batch),
        device=scale.device,
        bf16=False,  # the reproductions compare errors to 3 digits: float32 throughout
        progress=False,
        log_every=100,
        checkpoint_every=10**9,
        out=str(out),
        **training,
    )
    start = time.perf_counter()
    with torch.enable_grad():
        run = train(config)
    state = json.loads((run / "state.json").read_text())
    print(f"[reproduce] {out.name}: {state['step']} steps in {time.perf_counter() - start:.1f} s", flush=True)
    model, _ = load_model(run, scale.device)
    return model


def _train_seeds(work: Path, name: str, scale: Scale, *args, **training) -> list[torch.nn.Module]:
    """``_train`` once per training seed of the scale, each in its own run folder."""
    return [
        _train(work / f"{name}-seed{seed}", scale, *args, seed=seed, **training)
        for seed in range(scale.seeds)
    ]


def _best_over_step_sizes(errors_of) -> tuple[torch.Tensor, float]:
    """(the errors over prompts, the step size) at the step size of the log grid with the least mean
    error: searched on the prompts it is then scored on."""
    candidates = ((errors_of(eta), eta) for eta in STEP_SIZES)
    return min(candidates, key=lambda pair: pair[0].mean().item())


def _best_gd(context, query, target, steps: int, preconditioner=None) -> tuple[torch.Tensor, float]:
    return _best_over_step_sizes(
        lambda eta: (preconditioned_gd(context, query, steps, eta, preconditioner) - target).square()
    )


def _best_td(context, query, target, steps: int) -> tuple[torch.Tensor, float]:
    return _best_over_step_sizes(lambda eta: (batch_td(context, query, steps, eta) - target).square())


def _last_query(prompts: Prompts) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(context of n rows, query n, its target, the length n per prompt)."""
    n = prompts.num_steps - 1
    length = torch.full((prompts.batch_size,), n, device=prompts.context.device)
    return prompts.context[:, :n], prompts.queries[:, n], prompts.targets[:, n], length


@torch.no_grad()
def regression_layers(
    scale: Scale, work: Path, plot: Path | None = None, partial: Callable[[dict], None] | None = None
) -> dict:
    """``partial`` (if given) receives the results so far after each trained model."""
    settings = {
        "isotropic": dict(covariance="identity", weight_prior="identity"),
        "rotated": dict(covariance="rotated", weight_prior="inverse_covariance"),
    }
    results: dict = {"scale": scale.name, "seeds": scale.seeds, "eval_prompts": scale.eval_batch, "rows": []}
    for setting, task in settings.items():
        task_prompts = PromptConfig(d=D, n=N, **task)
        prompts = evaluation_prompts(
            make_sampler(task_prompts), scale.eval_batch, EVAL_SEEDS["regression"], scale.device
        )
        context, query, target, length = _last_query(prompts)
        inverse = torch.linalg.inv(prompts.extras["covariance"]) if "covariance" in prompts.extras else None
        for layers in range(1, scale.max_layers + 1):
            models = _train_seeds(
                work,
                f"regression-{setting}-L{layers}",
                scale,
                task_prompts,
                ModelConfig(layers=layers),
                lr=3e-3,
            )
            row: dict = {"setting": setting, "layers": layers}
            _put(
                row, "trained", [(model(context, length, query) - target).square() for model in models], True
            )
            gd, row["gd_step"] = _best_gd(context, query, target, layers)
            _put(row, "gd", [gd], median=True)
            if inverse is not None:
                pgd, row["preconditioned_gd_step"] = _best_gd(context, query, target, layers, inverse)
                _put(row, "preconditioned_gd", [pgd], median=True)
            if setting == "isotropic" and layers == 1:
                row["relative_gap"] = row["trained"] / ONE_LAYER_OPTIMUM - 1
                row["theory_step"] = THEORY_STEP
                theory = (preconditioned_gd(context, query, 1, THEORY_STEP) - target).square()
                _put(row, "gd_at_theory_step", [theory], median=True)
                gammas = [preconditioner_of(model).cpu().double() for model in models]
                eye = torch.eye(D, dtype=torch.float64)
                _put_scalars(row, "preconditioner_cosine", [cosine(gamma, eye).item() for gamma in gammas])
                # Its size: Γ = c·I at the optimum with c = n/(n+d+1); tr(Γ)/d is c for any such Γ.
                _put_scalars(
                    row, "preconditioner_scale", [(torch.trace(gamma) / D).item() for gamma in gammas]
                )
                row["optimal_scale"] = THEORY_STEP
            results["rows"].append(row)
            if partial is not None:
                partial(results)
    results["fixed_sigma"] = _fixed_sigma(scale, work)
    results["one_layer_optimum"] = ONE_LAYER_OPTIMUM
    if plot is not None:
        _plot_layers(results, plot)
    return results


def _fixed_sigma(scale: Scale, work: Path) -> dict:
    """One fixed anisotropic Σ with w ~ N(0, I): the learned Γ against the closed-form optimum."""
    fixed = PromptConfig(d=D, n=N, covariance="rotated", weight_prior="identity", rotation="fixed")
    models = _train_seeds(work, "regression-fixed-sigma-L1", scale, fixed, ModelConfig(layers=1), lr=3e-3)
    prompts = evaluation_prompts(
        make_sampler(fixed), scale.eval_batch, EVAL_SEEDS["fixed_sigma"], scale.device
    )
    context, query, target, length = _last_query(prompts)
    sigma = prompts.extras["covariance"][0].double().cpu()
    optimum = torch.linalg.inv(
        (N + 1) / N * sigma + torch.trace(sigma) / N * torch.eye(D, dtype=torch.float64)
    )
    learned = [preconditioner_of(model).cpu().double() for model in models]
    # The loss is flat along Σ's small-eigenvalue directions, so also compare in the metric the loss
    # sees, Σ^{1/2} Γ Σ^{1/2}, and compare the errors themselves.
    root = torch.linalg.cholesky(sigma)
    second_moment = (N + 1) / N * sigma @ sigma + torch.trace(sigma) / N * sigma
    result: dict = {"optimum_error": (torch.trace(sigma) - torch.trace(sigma @ optimum @ sigma)).item()}
    _put(result, "trained_error", [(model(context, length, query) - target).square() for model in models])
    optimum_errors = (preconditioned_gd(context, query, 1, 1.0, optimum) - target).square()
    _put(result, "optimum_error_on_prompts", [optimum_errors])
    _put_scalars(result, "preconditioner_cosine", [cosine(gamma, optimum).item() for gamma in learned])
    _put_scalars(
        result,
        "weighted_cosine",
        [cosine(root.T @ gamma @ root, root.T @ optimum @ root).item() for gamma in learned],
    )
    # Its size along the optimum: the c of the best c·Γ* (1 when Γ has the optimum's scale).
    _put_scalars(
        result,
        "preconditioner_scale",
        [((gamma * optimum).sum() / optimum.square().sum()).item() for gamma in learned],
    )
    result.update(learned=learned[0].tolist(), optimum=optimum.tolist(), second_moment=second_moment.tolist())
    return result


def _plot_layers(results: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=False)
    for ax, setting in zip(axes, ("isotropic", "rotated")):
        rows = [r for r in results["rows"] if r["setting"] == setting]
        layers = [r["layers"] for r in rows]
        ax.plot(layers, [r["trained"] for r in rows], "o-", label="trained linear transformer (mean)")
        ax.plot(
            layers, [r["trained_median"] for r in rows], "o:", label="trained linear transformer (median)"
        )
        ax.plot(layers, [r["gd"] for r in rows], "s--", label="L-step GD (best step)")
        if "preconditioned_gd" in rows[0]:
            ax.plot(
                layers, [r["preconditioned_gd"] for r in rows], "^--", label="L-step GD, Γ=Σ⁻¹ (best step)"
            )
        if setting == "isotropic":
            ax.axhline(ONE_LAYER_OPTIMUM, color="gray", lw=0.8, ls=":", label="1-layer optimum 1.154")
        ax.set_xticks(layers)
        ax.set_xlabel("layers / steps L")
        ax.set_title(f"{setting} ({results['scale']})")
        ax.set_yscale("log")
    axes[0].set_ylabel("squared error after n=20 examples")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


#: The trained MRP models of ``mrp_td``: (name, training target, rewards). The first is the paper's
#: setting (multi-task TD pretraining on random rewards); the others regress on the true value v.
MRP_SETTINGS = (
    ("td-random", "td", "random"),
    ("value-random", "value", "random"),
    ("value-representable", "value", "representable"),
)


def mrp_td(
    scale: Scale,
    work: Path,
    plot: Path | None = None,
    layers: int = 3,
    partial: Callable[[dict], None] | None = None,
) -> dict:
    """Three 3-layer models (``MRP_SETTINGS``), each trained ``scale.seeds`` times. Rewards
    ``random``, r ~ U(-1, 1): v is not linear in φ, so TD's fixed point only approximates it and a
    model regressed on v can beat TD, and differ from it; ``representable``, v = Φw: TD's fixed point
    is v. Trained with multi-task TD (Wang et al. 2024) the model is pulled towards TD itself.
    ``partial`` (if given) receives the results so far after each setting; ``plot`` shows the learned
    P and Q of the first setting's first seed."""
    batch = min(scale.eval_batch, 20_000)
    results: dict = {"scale": scale.name, "layers": layers, "seeds": scale.seeds, "eval_prompts": batch}
    results["settings"] = {}
    for name, target, rewards in MRP_SETTINGS:
        prompt_config = PromptConfig(task="icl-mrp", d=4, n=30, rewards=rewards)
        models = _train_seeds(
            work,
            f"mrp-{target}-{rewards}-linear-L{layers}",
            scale,
            prompt_config,
            ModelConfig(layers=layers),
            seconds=scale.mrp_seconds or scale.linear_seconds,
            steps=scale.mrp_steps or scale.linear_steps,
            lr=3e-3,
            target=target,
        )
        prompts = evaluation_prompts(make_sampler(prompt_config), batch, EVAL_SEEDS["mrp"], scale.device)
        results["settings"][name] = _agreement_summary(
            [_agreement(m, prompts, layers) for m in models], prompts, layers
        )
        if partial is not None:
            partial(results)
        if plot is not None and name == MRP_SETTINGS[0][0]:
            _plot_pq(models[0], plot, f"{scale.name}, multi-task TD on random rewards")
    return results


def mrp_agreement(model, sampler: MRPSampler, layers: int, batch: int, device="cpu") -> dict:
    """How closely one trained linear transformer on ``sampler``'s prompts follows ``layers``-step
    batch TD(0), on ``batch`` evaluation prompts (``_agreement_summary``)."""
    prompts = evaluation_prompts(sampler, batch, EVAL_SEEDS["mrp"], device)
    return _agreement_summary([_agreement(model, prompts, layers)], prompts, layers)


def _agreement(model, prompts: Prompts, layers: int) -> dict:
    """One model's per-prompt numbers: its squared errors, the cosine of its implied weights with
    TD's at α_cos (the grid's α with the greatest mean cosine), the cosine of its prediction's
    gradient with respect to the context with TD's at α_cos (the first 2000 prompts), and TD's
    errors at α_cos."""
    context, query, target, length = _last_query(prompts)
    with torch.no_grad():
        w_model = implied_weights(model, context)
        model_errors = (model(context, length, query) - target).square()

        def weight_cosines(eta: float) -> torch.Tensor:
            _, w_td = batch_td(context, query, layers, eta, return_weights=True)
            return torch.nn.functional.cosine_similarity(w_model, w_td, dim=-1)

        _, alpha_cos = max((weight_cosines(eta).mean().item(), eta) for eta in STEP_SIZES)
        cosines = weight_cosines(alpha_cos)
        td_errors = (batch_td(context, query, layers, alpha_cos) - target).square()

    # Sensitivity: the gradient of the prediction with respect to the whole context.
    sub = context[:2000].clone().requires_grad_(True)
    grad_model = torch.autograd.grad(model(sub, length[:2000], query[:2000]).sum(), sub)[0]
    sub_td = context[:2000].clone().requires_grad_(True)
    grad_td = torch.autograd.grad(batch_td(sub_td, query[:2000], layers, alpha_cos).sum(), sub_td)[0]
    sensitivity = torch.nn.functional.cosine_similarity(grad_model.flatten(1), grad_td.flatten(1), dim=-1)
    return {
        "model_error": model_errors,
        "implied_weight_cosine": cosines,
        "sensitivity_cosine": sensitivity,
        "td_step_size": alpha_cos,
        "td_error_at_that_step": td_errors,
    }


@torch.no_grad()
def _agreement_summary(per_model: list[dict], prompts: Prompts, layers: int) -> dict:
    """The models' numbers over seeds (``_put``), and what does not depend on a model: ``layers``-step
    batch TD(0) at α_err (``td_best_step``, the grid's α of least mean error on these prompts) and
    the zero predictor."""
    context, query, target, _ = _last_query(prompts)
    summary: dict = {}
    for key in ("model_error", "implied_weight_cosine", "sensitivity_cosine", "td_error_at_that_step"):
        _put(summary, key, [agreement[key] for agreement in per_model])
    _put_scalars(summary, "td_step_size", [agreement["td_step_size"] for agreement in per_model])
    td_best_errors, summary["td_best_step"] = _best_td(context, query, target, layers)
    _put(summary, "td_best_error", [td_best_errors])
    _put(summary, "zero_predictor_error", [target.square()])
    return summary


def _plot_pq(model, path: Path, scale_name: str) -> None:
    import matplotlib.pyplot as plt

    layers = model.P.shape[0]
    fig, axes = plt.subplots(2, layers, figsize=(3.2 * layers, 6.2))
    d = model.query_dim
    ticks = [f"φ{i}" for i in range(d)] + [f"γφ'{i}" for i in range(d)] + ["r"]
    for layer in range(layers):
        for row, (name, matrix) in enumerate((("P", model.P[layer]), ("Q", model.Q[layer]))):
            ax = axes[row, layer] if layers > 1 else axes[row]
            values = matrix.detach().cpu()
            limit = values.abs().max().item() or 1.0
            ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(f"layer {layer + 1}: {name}", fontsize=9)
            ax.set_xticks(range(len(ticks)), ticks, fontsize=6, rotation=90)
            ax.set_yticks(range(len(ticks)), ticks, fontsize=6)
    fig.suptitle(f"learned P, Q on MRP prompts ({scale_name}); TD(0) puts -αI, +αI in Q's φ rows", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@torch.no_grad()
def _least_squares_errors(prompts: Prompts) -> torch.Tensor:
    """Squared errors (prompts × steps) of minimum-norm least squares at every prefix (Bayes-optimal
    for noiseless isotropic regression)."""
    context, queries, targets = prompts.context.double(), prompts.queries.double(), prompts.targets.double()
    d = queries.shape[-1]
    errors = [targets[:, 0].square()]
    for t in range(1, context.shape[1]):
        w = torch.linalg.pinv(context[:, :t, :d]) @ context[:, :t, d:]
        errors.append(((queries[:, t : t + 1] @ w).squeeze(-1).squeeze(-1) - targets[:, t]).square())
    return torch.stack(errors, -1)


@torch.no_grad()
def _td_errors(prompts: Prompts, steps: int) -> torch.Tensor:
    """Squared errors (prompts × steps) of ``steps``-step batch TD(0) at every prefix, each prefix at
    its α_err (the α of least mean error there, on these prompts)."""
    context, queries, targets = prompts.context, prompts.queries, prompts.targets
    errors = [targets[:, 0].square()]
    for t in range(1, context.shape[1]):
        errors.append(_best_td(context[:, :t], queries[:, t], targets[:, t], steps)[0])
    return torch.stack(errors, -1).double()


#: The reference row of each task of ``context_lengths``.
REFERENCE_ROWS = {
    "icl-regression": "least squares (Bayes-optimal)",
    "icl-mrp": "batch TD(0), 3 steps, α_err at each length",
}


def context_lengths(
    scale: Scale,
    work: Path,
    plots: dict[str, Path] | None = None,
    layers: int = 3,
    partial: Callable[[dict], None] | None = None,
) -> dict:
    """Every model trained on the same prompts (the sequence models' steps and batch, ``scale.seeds``
    seeds) with the loss on every prefix, and scored with the reference row on one set of evaluation
    prompts. ``results[task]`` holds the mean squared error at each context length,
    ``results["stderr"][task]`` its standard error, ``results["medians"][task]`` the median (a
    linear transformer's prediction is a polynomial of degree 2L+1 in the prompt, so its mean is
    ruled by rare prompts) and ``results["seed_means"][task]`` each seed's mean. ``partial`` (if
    given) receives the results so far after each trained model."""
    tasks = {
        "icl-regression": PromptConfig(task="icl-regression", d=5, n=20),
        "icl-mrp": PromptConfig(task="icl-mrp", d=4, n=30),
    }
    batch = min(scale.eval_batch, 8192)
    results: dict = {"scale": scale.name, "seeds": scale.seeds, "eval_prompts": batch}
    results.update(medians={}, stderr={}, seed_means={})
    for task, prompt_config in tasks.items():
        prompts = evaluation_prompts(make_sampler(prompt_config), batch, EVAL_SEEDS["curves"], scale.device)
        errors: dict[str, list[torch.Tensor]] = {}
        for kind in ("linear", "softmax", "rebased"):
            # The torch path of ReBased: the same function as fla's kernels (the GPU tests compare
            # them), without their minutes of Triton autotuning in a time-capped run.
            models = _train_seeds(
                work,
                f"{task}-{kind}-all",
                scale,
                prompt_config,
                ModelConfig(kind=kind, layers=layers, width=scale.width, backend="torch"),
                seconds=scale.sequence_seconds,
                loss_on="all",
                steps=scale.sequence_steps,
                batch_size=scale.sequence_batch,
                lr=1e-3,
            )
            errors[kind] = [prompt_errors(model, prompts) for model in models]
            if partial is not None:
                partial(
                    {**results, task: {name: over_seeds(e)["mean"].tolist() for name, e in errors.items()}}
                )
        reference = _least_squares_errors if task == "icl-regression" else lambda p: _td_errors(p, 3)
        errors[REFERENCE_ROWS[task]] = [reference(prompts)]
        summaries = {name: over_seeds(per_seed) for name, per_seed in errors.items()}
        results[task] = {name: summary["mean"].tolist() for name, summary in summaries.items()}
        results["stderr"][task] = {name: summary["stderr"].tolist() for name, summary in summaries.items()}
        results["medians"][task] = {name: summary["median"].tolist() for name, summary in summaries.items()}
        results["seed_means"][task] = {
            name: summaries[name]["by_seed"].tolist()
            for name, per_seed in errors.items()
            if len(per_seed) > 1
        }
        if plots is not None and task in plots:
            _plot_curves(results[task], results["medians"][task], task, scale.name, plots[task])
    return results


def _plot_curves(means: dict, medians: dict, task: str, scale_name: str, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharex=True)
    for ax, curves, statistic in zip(axes, (means, medians), ("mean", "median")):
        for name, values in curves.items():
            style = "--" if "least" in name or "TD" in name else "-"
            ax.plot(range(len(values)), values, style, label=name)
        ax.set_yscale("log")
        ax.set_xlabel("examples in context")
        ax.set_ylabel(f"{statistic} squared error")
        ax.set_title(f"{task}: {statistic} error against context length ({scale_name})", fontsize=9)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _value(record: dict, key: str, fmt: str = ".3f", median: bool = True) -> str:
    """``mean ± stderr (median)`` of ``key``, with the parts the record has."""
    text = f"{record[key]:{fmt}}"
    if f"{key}_stderr" in record:
        text += f" ± {record[f'{key}_stderr']:{fmt}}"
    if median and f"{key}_median" in record:
        text += f" ({record[f'{key}_median']:{fmt}})"
    return text


def _seed_range(values: list[float] | None, fmt: str = ".3f") -> str:
    """``min–max`` of the seeds' values (empty without several seeds)."""
    return f"{min(values):{fmt}}–{max(values):{fmt}}" if values else ""


def _seeds_note(results: dict, median: bool = True, spread: str = "") -> str:
    """What a table's cells hold: mean ± SE (median) [spread], or mean (median) for a file written
    before standard errors were recorded."""
    prompts, seeds = results.get("eval_prompts"), results.get("seeds", 1)
    if prompts is None:
        return "mean (median); this file records no standard errors" if median else "mean; no standard errors"
    note = "mean ± SE" + (" (median)" if median else "") + (f" {spread}" if seeds > 1 and spread else "")
    note += f"; SE over the {prompts} evaluation prompts"
    return note + (f", figures averaged over {seeds} training seeds" if seeds > 1 else "")


def _regression_tables(regression: dict) -> list[str]:
    several = regression.get("seeds", 1) > 1
    lines = [
        f"**Regression, d=5, n=20 ({regression['scale']})** — squared error after 20 examples, "
        + _seeds_note(regression),
        "",
        "| setting | L | trained linear transformer |"
        + (" seeds' means, min–max |" if several else "")
        + " L-step GD at η_err | η_err | L-step GD with Γ=Σ⁻¹ at η_err |",
        "|---|---|---|" + ("---|" if several else "") + "---|---|---|",
    ]
    for r in regression["rows"]:
        pgd = _value(r, "preconditioned_gd") if "preconditioned_gd" in r else "= GD"
        spread = f" {_seed_range(r.get('trained_by_seed'))} |" if several else ""
        lines.append(
            f"| {r['setting']} | {r['layers']} | {_value(r, 'trained')} |{spread} {_value(r, 'gd')} "
            f"| {r['gd_step']:.3g} | {pgd} |"
        )
    first = next(r for r in regression["rows"] if r["setting"] == "isotropic" and r["layers"] == 1)
    text = (
        f"One layer, isotropic: {_value(first, 'trained', '.4f', median=False)} against the optimum "
        f"d(d+1)/(n+d+1) = {regression['one_layer_optimum']:.4f} ({100 * first['relative_gap']:+.1f}%)."
    )
    if "gd_at_theory_step" in first:
        text += (
            f" One GD step at the theory's η = n/(n+d+1) = {first['theory_step']:.4f}: "
            f"{_value(first, 'gd_at_theory_step', '.4f', median=False)}; at η_err = {first['gd_step']:.4f}, the "
            f"step of least error searched on these prompts: {_value(first, 'gd', '.4f', median=False)}."
        )
    text += f" Learned preconditioner Γ: cosine with the optimum's n/(n+d+1)·I {first['preconditioner_cosine']:.4f}"
    if "preconditioner_scale" in first:
        text += f", scale tr(Γ)/d {first['preconditioner_scale']:.4f} against n/(n+d+1) = {first['optimal_scale']:.4f}"
        if "preconditioner_scale_by_seed" in first:
            text += f" (seeds {_seed_range(first['preconditioner_scale_by_seed'], '.4f')})"
    fixed = regression["fixed_sigma"]
    text += (
        f". Fixed anisotropic Σ (eigenvalues 1, 1, 1/4, 1/16, 1), w ~ N(0, I): error "
        f"{_value(fixed, 'trained_error', '.4f')} against the optimum's {fixed['optimum_error']:.4f}"
    )
    if "optimum_error_on_prompts" in fixed:
        text += f" (on these prompts {_value(fixed, 'optimum_error_on_prompts', '.4f')})"
    text += (
        f"; cosine of the learned Γ with ((n+1)/n·Σ + tr(Σ)/n·I)⁻¹: {fixed['preconditioner_cosine']:.4f} "
        f"(in the loss's metric, Σ^½ Γ Σ^½: {fixed['weighted_cosine']:.4f})"
    )
    if "preconditioner_scale" in fixed:
        text += f", its scale along the optimum (1: the optimum's size) {fixed['preconditioner_scale']:.4f}"
    return lines + ["", text + ".", ""]


#: The rows of the MRP table: (label, key, format, with its standard error).
MRP_ROWS = (
    ("cosine of implied weights with {L}-step batch TD(0) at α_cos", "implied_weight_cosine", ".3f"),
    ("cosine of ∂prediction/∂context with batch TD(0) at α_cos", "sensitivity_cosine", ".3f"),
    ("α_cos: the TD step whose implied weights agree best with the model's", "td_step_size", ".3g"),
    ("trained model's squared error", "model_error", ".4f"),
    ("batch TD(0), {L} steps at α_cos: squared error", "td_error_at_that_step", ".4f"),
    ("batch TD(0), {L} steps at α_err: squared error", "td_best_error", ".4f"),
    ("α_err: the TD step of least error on these prompts", "td_best_step", ".3g"),
    ("zero predictor's squared error", "zero_predictor_error", ".4f"),
)


def _mrp_table(mrp: dict) -> list[str]:
    lines = [
        f"**MRP (Boyan chain, d=4, n=30, γ=0.9), {mrp['layers']}-layer linear transformer ({mrp['scale']})** — "
        + _seeds_note(mrp, median=False, spread="[min–max of the seeds' means]"),
        "",
        "| quantity | multi-task TD, random rewards | regressed on v, random rewards "
        "| regressed on v, representable rewards (v = Φw) |",
        "|---|---|---|---|",
    ]
    settings = [mrp["settings"][name] for name, _, _ in MRP_SETTINGS if name in mrp["settings"]]
    for label, key, fmt in MRP_ROWS:
        cells = []
        for setting in settings:
            cell = _value(setting, key, fmt, median=False)
            if f"{key}_by_seed" in setting:
                cell += f" [{_seed_range(setting[f'{key}_by_seed'], fmt)}]"
            cells.append(cell)
        lines.append(f"| {label.format(L=mrp['layers'])} | " + " | ".join(cells) + " |")
    return lines + [""]


def _curve_tables(curves: dict) -> list[str]:
    lines: list[str] = []
    for task in ("icl-regression", "icl-mrp"):
        if task not in curves:
            continue
        names = list(curves[task])
        last = len(curves[task][names[0]]) - 1
        lengths = [t for t in (0, 1, 2, 5, 10, 20, 30) if t <= last]
        medians = curves.get("medians", {}).get(task, {})
        stderr = curves.get("stderr", {}).get(task, {})
        seed_means = curves.get("seed_means", {}).get(task, {})
        lines += [
            f"**{task}: squared error against examples in context ({curves['scale']})** — "
            + _seeds_note(curves),
            "",
            "| model | "
            + " | ".join(f"t={t}" for t in lengths)
            + (f" | seeds' means at t={last}, min–max |" if seed_means else " |"),
            "|---|" + "---|" * (len(lengths) + bool(seed_means)),
        ]
        for name in names:
            cells = []
            for t in lengths:
                cell = f"{curves[task][name][t]:.3f}"
                if name in stderr:
                    cell += f" ± {stderr[name][t]:.3f}"
                if name in medians:
                    cell += f" ({medians[name][t]:.3f})"
                cells.append(cell)
            if seed_means:
                cells.append(
                    _seed_range([means[last] for means in seed_means[name]]) if name in seed_means else ""
                )
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def markdown_tables(regression: dict | None, mrp: dict | None, curves: dict | None) -> str:
    """The numbers as Markdown tables (what the docs page shows)."""
    lines: list[str] = []
    if regression:
        lines += _regression_tables(regression)
    if mrp:
        lines += _mrp_table(mrp)
    if curves:
        lines += _curve_tables(curves)
    return "\n".join(lines)


__all__ = [
    "CPU",
    "EVAL_SEEDS",
    "GPU",
    "MRP_SETTINGS",
    "SMOKE",
    "THEORY_STEP",
    "Scale",
    "context_lengths",
    "evaluation_prompts",
    "markdown_tables",
    "mrp_agreement",
    "mrp_td",
    "over_seeds",
    "regression_layers",
]
