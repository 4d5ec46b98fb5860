"""The papers' results, reproduced at a chosen scale (CPU-sized for the docs, full-sized on a GPU).

1. ``regression_layers``: trained L-layer linear transformers against L-step GD and preconditioned
   GD on d=5, n=20 (Ahn et al. 2023), isotropic and rotated Σ with w ~ N(0, Σ⁻¹); the one-layer
   optimum d(d+1)/(n+d+1) and the learned preconditioner against ((n+1)/n Σ + tr(Σ)/n I)⁻¹.
2. ``mrp_td``: trained 3-layer linear transformers on MRP prompts against batch TD(0)
   (Wang et al. 2024): cosine of the implied weights and of the prediction's gradient with respect
   to the context; the learned P and Q. Trained as in the paper (multi-task TD) and on the true value.
3. ``context_lengths``: linear vs softmax vs ReBased error against the number of examples.

Each returns a dict of numbers (and writes its plot); ``markdown_tables`` renders them.
"""

from __future__ import annotations

import json
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
from baselines.icl.samplers import MRPSampler, PromptConfig, make_sampler
from baselines.icl.train import TrainConfig, evaluate_prefixes, load_model, prefix_errors, train


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


CPU = Scale(
    "CPU-sized",
    "cpu",
    linear_steps=3000,
    linear_batch=512,
    sequence_steps=300,
    sequence_batch=64,
    eval_batch=4000,
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
)
#: 18 trained models; each stops at its cap (the learning rate decays over the time allowed), so the
#: three reproductions take at most 9 × 6 + 3 × 15 + 6 × 15 = 189 s of training, plus evaluation.
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
)

D, N = 5, 20
ONE_LAYER_OPTIMUM = D * (D + 1) / (N + D + 1)
STEP_SIZES = torch.logspace(-2, 0.5, 41).tolist()


def _train(
    out: Path,
    scale: Scale,
    prompts: PromptConfig,
    model: ModelConfig,
    seconds: float | None = None,
    **training,
) -> torch.nn.Module:
    """Train one model of the reproduction; ``seconds`` overrides the scale's cap for its kind,
    ``training`` the other ``TrainConfig`` fields."""
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
    run = train(config)
    state = json.loads((run / "state.json").read_text())
    print(f"[reproduce] {out.name}: {state['step']} steps in {time.perf_counter() - start:.1f} s", flush=True)
    model, _ = load_model(run, scale.device)
    return model


def _best_over_step_sizes(errors_of) -> tuple[torch.Tensor, float]:
    """(the errors over prompts, the step size) at the step size of the log grid with the least mean
    error."""
    candidates = ((errors_of(eta), eta) for eta in STEP_SIZES)
    return min(candidates, key=lambda pair: pair[0].mean().item())


def _best_gd(context, query, target, steps: int, preconditioner=None) -> tuple[torch.Tensor, float]:
    return _best_over_step_sizes(
        lambda eta: (preconditioned_gd(context, query, steps, eta, preconditioner) - target).square()
    )


def _best_td(context, query, target, steps: int) -> tuple[torch.Tensor, float]:
    return _best_over_step_sizes(lambda eta: (batch_td(context, query, steps, eta) - target).square())


@torch.no_grad()
def regression_layers(
    scale: Scale, work: Path, plot: Path | None = None, partial: Callable[[dict], None] | None = None
) -> dict:
    """``partial`` (if given) receives the results so far after each trained model."""
    settings = {
        "isotropic": dict(covariance="identity", weight_prior="identity"),
        "rotated": dict(covariance="rotated", weight_prior="inverse_covariance"),
    }
    results: dict = {"scale": scale.name, "rows": []}
    for setting, task in settings.items():
        task_prompts = PromptConfig(d=D, n=N, **task)
        sampler = make_sampler(task_prompts)
        generator = torch.Generator(device=scale.device).manual_seed(99)
        prompts = sampler.sample(scale.eval_batch, generator, num_steps=N + 1, device=scale.device)
        context, query, target = prompts.context[:, :N], prompts.queries[:, N], prompts.targets[:, N]
        inverse = torch.linalg.inv(prompts.extras["covariance"]) if "covariance" in prompts.extras else None
        for layers in range(1, scale.max_layers + 1):
            with torch.enable_grad():
                model = _train(
                    work / f"regression-{setting}-L{layers}",
                    scale,
                    task_prompts,
                    ModelConfig(layers=layers),
                    lr=3e-3,
                )
            length = torch.full((scale.eval_batch,), N, device=scale.device)
            errors = (model(context, length, query) - target).square()
            trained = errors.mean().item()
            gd, gd_eta = _best_gd(context, query, target, layers)
            row = {
                "setting": setting,
                "layers": layers,
                "trained": trained,
                "trained_median": errors.median().item(),
                "gd": gd.mean().item(),
                "gd_median": gd.median().item(),
                "gd_step": gd_eta,
            }
            if inverse is not None:
                pgd, pgd_eta = _best_gd(context, query, target, layers, inverse)
                row.update(
                    preconditioned_gd=pgd.mean().item(),
                    preconditioned_gd_median=pgd.median().item(),
                    preconditioned_gd_step=pgd_eta,
                )
            if setting == "isotropic" and layers == 1:
                gamma = preconditioner_of(model).cpu()
                row["preconditioner_cosine"] = cosine(gamma, torch.eye(D)).item()
                row["relative_gap"] = trained / ONE_LAYER_OPTIMUM - 1
            results["rows"].append(row)
            if partial is not None:
                partial(results)
    # One fixed anisotropic Σ with w ~ N(0, I): the learned Γ against the closed-form optimum.
    fixed = PromptConfig(d=D, n=N, covariance="rotated", weight_prior="identity", rotation="fixed")
    with torch.enable_grad():
        model = _train(work / "regression-fixed-sigma-L1", scale, fixed, ModelConfig(layers=1), lr=3e-3)
    fixed_sampler = make_sampler(fixed)
    sigma = fixed_sampler.sample(1, torch.Generator().manual_seed(0)).extras["covariance"][0].double()
    optimum = torch.linalg.inv(
        (N + 1) / N * sigma + torch.trace(sigma) / N * torch.eye(D, dtype=torch.float64)
    )
    learned = preconditioner_of(model).cpu().double()
    # The loss is flat along Σ's small-eigenvalue directions, so also compare in the metric the loss
    # sees, Σ^{1/2} Γ Σ^{1/2}, and compare the errors themselves.
    root = torch.linalg.cholesky(sigma)
    second_moment = (N + 1) / N * sigma @ sigma + torch.trace(sigma) / N * sigma
    optimum_error = (torch.trace(sigma) - torch.trace(sigma @ optimum @ sigma)).item()
    trained_error = evaluate_prefixes(model, fixed_sampler, batch_size=scale.eval_batch, device=scale.device)[
        N
    ]
    results["fixed_sigma"] = {
        "preconditioner_cosine": cosine(learned, optimum).item(),
        "weighted_cosine": cosine(root.T @ learned @ root, root.T @ optimum @ root).item(),
        "trained_error": trained_error.item(),
        "optimum_error": optimum_error,
        "learned": learned.tolist(),
        "optimum": optimum.tolist(),
        "second_moment": second_moment.tolist(),
    }
    results["one_layer_optimum"] = ONE_LAYER_OPTIMUM
    if plot is not None:
        _plot_layers(results, plot)
    return results


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
    """Three 3-layer models (``MRP_SETTINGS``). Rewards ``random``, r ~ U(-1, 1): v is not linear in
    φ, so TD's fixed point only approximates it and a model regressed on v can beat TD, and differ
    from it; ``representable``, v = Φw: TD's fixed point is v. Trained with multi-task TD (Wang et
    al. 2024) the model is pulled towards TD itself. ``partial`` (if given) receives the results so
    far after each trained model; ``plot`` shows the learned P and Q of the first setting."""
    results: dict = {"scale": scale.name, "layers": layers, "settings": {}}
    for name, target, rewards in MRP_SETTINGS:
        setting, model = _mrp_setting(scale, work, rewards, layers, target)
        results["settings"][name] = setting
        if partial is not None:
            partial(results)
        if plot is not None and name == MRP_SETTINGS[0][0]:
            _plot_pq(model, plot, f"{scale.name}, multi-task TD on random rewards")
    return results


def _mrp_setting(
    scale: Scale, work: Path, rewards: str, layers: int, target: str = "value"
) -> tuple[dict, torch.nn.Module]:
    prompts = PromptConfig(task="icl-mrp", d=4, n=30, rewards=rewards)
    with torch.enable_grad():
        model = _train(
            work / f"mrp-{target}-{rewards}-linear-L{layers}",
            scale,
            prompts,
            ModelConfig(layers=layers),
            seconds=scale.mrp_seconds or scale.linear_seconds,
            lr=3e-3,
            target=target,
        )
    sampler = make_sampler(prompts)
    batch = min(scale.eval_batch, 20_000)
    return mrp_agreement(model, sampler, layers, batch, scale.device), model


def mrp_agreement(model, sampler: MRPSampler, layers: int, batch: int, device="cpu") -> dict:
    """How closely a trained linear transformer on ``sampler``'s prompts follows ``layers``-step batch
    TD(0): the cosine of its implied weights with TD's at the α that maximises it, the cosine of the
    prediction's gradient with respect to the context (the first 2000 prompts) at that α, and the
    errors of the model, of TD at its best α and of the zero predictor."""
    n = sampler.n
    generator = torch.Generator(device=device).manual_seed(7)
    prompts = sampler.sample(batch, generator, num_steps=n + 1, device=device)
    context, query, target = prompts.context[:, :n], prompts.queries[:, n], prompts.targets[:, n]
    length = torch.full((batch,), n, device=device)
    with torch.no_grad():
        w_model = implied_weights(model, context)
        model_error = (model(context, length, query) - target).square().mean().item()

        def weight_cosine(eta: float) -> float:
            _, w_td = batch_td(context, query, layers, eta, return_weights=True)
            return torch.nn.functional.cosine_similarity(w_model, w_td, dim=-1).mean().item()

        best_cosine, best_eta = max((weight_cosine(eta), eta) for eta in STEP_SIZES)
        td_error = (batch_td(context, query, layers, best_eta) - target).square().mean().item()
        td_best_errors, td_best_eta = _best_td(context, query, target, layers)

    # Sensitivity: the gradient of the prediction with respect to the whole context.
    sub = context[:2000].clone().requires_grad_(True)
    sub_query = query[:2000]
    grad_model = torch.autograd.grad(model(sub, length[:2000], sub_query).sum(), sub)[0]
    sub_td = context[:2000].clone().requires_grad_(True)
    grad_td = torch.autograd.grad(batch_td(sub_td, sub_query, layers, best_eta).sum(), sub_td)[0]
    sensitivity = torch.nn.functional.cosine_similarity(grad_model.flatten(1), grad_td.flatten(1), dim=-1)
    return {
        "model_error": model_error,
        "implied_weight_cosine": best_cosine,
        "td_step_size": best_eta,
        "td_error_at_that_step": td_error,
        "td_best_error": td_best_errors.mean().item(),
        "td_best_step": td_best_eta,
        "sensitivity_cosine": sensitivity.mean().item(),
        "zero_predictor_error": target.square().mean().item(),
    }


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
def _least_squares_errors(prompts) -> torch.Tensor:
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
def _td_errors(prompts, steps: int) -> torch.Tensor:
    """Squared errors (prompts × steps) of ``steps``-step batch TD(0) at every prefix, each prefix at
    the α with the least mean error there."""
    context, queries, targets = prompts.context, prompts.queries, prompts.targets
    errors = [targets[:, 0].square()]
    for t in range(1, context.shape[1]):
        errors.append(_best_td(context[:, :t], queries[:, t], targets[:, t], steps)[0])
    return torch.stack(errors, -1).double()


def context_lengths(
    scale: Scale,
    work: Path,
    plots: dict[str, Path] | None = None,
    layers: int = 3,
    partial: Callable[[dict], None] | None = None,
) -> dict:
    """Every model trained on the same prompts (the sequence models' steps and batch) with the loss
    on every prefix. ``results[task]`` holds the mean squared error at each context length,
    ``results["medians"][task]`` the median: a linear transformer's prediction is a polynomial of
    degree 2L+1 in the prompt, so its mean is ruled by rare prompts. ``partial`` (if given) receives
    the results so far after each trained model."""
    tasks = {
        "icl-regression": PromptConfig(task="icl-regression", d=5, n=20),
        "icl-mrp": PromptConfig(task="icl-mrp", d=4, n=30),
    }
    results: dict = {"scale": scale.name, "medians": {}}
    for task, prompts in tasks.items():
        sampler = make_sampler(prompts)
        errors = {}
        for kind in ("linear", "softmax", "rebased"):
            # The torch path of ReBased: the same function as fla's kernels (the GPU tests compare
            # them), without their minutes of Triton autotuning in a time-capped run.
            model_config = ModelConfig(kind=kind, layers=layers, width=scale.width, backend="torch")
            with torch.enable_grad():
                model = _train(
                    work / f"{task}-{kind}-all",
                    scale,
                    prompts,
                    model_config,
                    seconds=scale.sequence_seconds,
                    loss_on="all",
                    steps=scale.sequence_steps,
                    batch_size=scale.sequence_batch,
                    lr=1e-3,
                )
            errors[kind] = prefix_errors(
                model, sampler, batch_size=min(scale.eval_batch, 8192), device=scale.device
            )
            if partial is not None:
                partial({**results, task: {name: e.mean(0).tolist() for name, e in errors.items()}})
        generator = torch.Generator(device="cpu").manual_seed(12345)
        reference = sampler.sample(min(scale.eval_batch, 8192), generator, num_steps=sampler.n + 1)
        if task == "icl-regression":
            errors["least squares (Bayes-optimal)"] = _least_squares_errors(reference)
        else:
            errors["batch TD(0), 3 steps, best α"] = _td_errors(reference, 3)
        results[task] = {name: e.mean(0).tolist() for name, e in errors.items()}
        results["medians"][task] = {name: e.median(0).values.tolist() for name, e in errors.items()}
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


def markdown_tables(regression: dict | None, mrp: dict | None, curves: dict | None) -> str:
    """The numbers as Markdown tables (what the docs page shows)."""
    lines: list[str] = []
    if regression:
        lines += [
            f"**Regression, d=5, n=20 ({regression['scale']})** — squared error after 20 examples, "
            "mean (median)",
            "",
            "| setting | L | trained linear transformer | L-step GD (best η) | L-step GD with Γ=Σ⁻¹ (best η) |",
            "|---|---|---|---|---|",
        ]

        def cell(row: dict, key: str) -> str:
            median = row.get(f"{key}_median")
            return f"{row[key]:.3f}" + ("" if median is None else f" ({median:.3f})")

        for r in regression["rows"]:
            pgd = cell(r, "preconditioned_gd") if "preconditioned_gd" in r else "= GD"
            lines.append(
                f"| {r['setting']} | {r['layers']} | {cell(r, 'trained')} | {cell(r, 'gd')} | {pgd} |"
            )
        first = next(r for r in regression["rows"] if r["setting"] == "isotropic" and r["layers"] == 1)
        lines += [
            "",
            f"One layer, isotropic: {first['trained']:.4f} against the optimum d(d+1)/(n+d+1) = "
            f"{regression['one_layer_optimum']:.4f} ({100 * first['relative_gap']:+.1f}%); cosine of the learned "
            f"preconditioner with the optimum's n/(n+d+1)·I: {first['preconditioner_cosine']:.4f}. "
            f"Fixed anisotropic Σ (eigenvalues 1, 1, 1/4, 1/16, 1), w ~ N(0, I): error "
            f"{regression['fixed_sigma']['trained_error']:.4f} against the optimum's "
            f"{regression['fixed_sigma']['optimum_error']:.4f}; cosine of the learned Γ with "
            f"((n+1)/n·Σ + tr(Σ)/n·I)⁻¹: {regression['fixed_sigma']['preconditioner_cosine']:.4f} "
            f"(in the loss's metric, Σ^½ Γ Σ^½: {regression['fixed_sigma']['weighted_cosine']:.4f}).",
            "",
        ]
    if mrp:
        lines += [
            f"**MRP (Boyan chain, d=4, n=30, γ=0.9), {mrp['layers']}-layer linear transformer ({mrp['scale']})**",
            "",
            "| quantity | multi-task TD, random rewards | regressed on v, random rewards "
            "| regressed on v, representable rewards (v = Φw) |",
            "|---|---|---|---|",
        ]
        settings = [mrp["settings"][name] for name, _, _ in MRP_SETTINGS if name in mrp["settings"]]
        rows = [
            (
                f"cosine of implied weights with {mrp['layers']}-step batch TD(0) (best α)",
                "implied_weight_cosine",
                ".3f",
            ),
            ("cosine of ∂prediction/∂context with batch TD(0) (same α)", "sensitivity_cosine", ".3f"),
            ("that α", "td_step_size", ".3g"),
            ("trained model's squared error", "model_error", ".4f"),
            (f"batch TD(0), {mrp['layers']} steps, best α: squared error", "td_best_error", ".4f"),
            ("zero predictor's squared error", "zero_predictor_error", ".4f"),
        ]
        for label, key, fmt in rows:
            lines.append(f"| {label} | " + " | ".join(f"{row[key]:{fmt}}" for row in settings) + " |")
        lines.append("")
    if curves:
        for task in ("icl-regression", "icl-mrp"):
            if task not in curves:
                continue
            names = list(curves[task])
            lengths = [t for t in (0, 1, 2, 5, 10, 20, 30) if t < len(curves[task][names[0]])]
            medians = curves.get("medians", {}).get(task, {})
            lines += [
                f"**{task}: squared error against examples in context, mean (median) ({curves['scale']})**",
                "",
                "| model | " + " | ".join(f"t={t}" for t in lengths) + " |",
                "|---|" + "---|" * len(lengths),
            ]
            for name in names:
                cells = [
                    f"{curves[task][name][t]:.3f}" + (f" ({medians[name][t]:.3f})" if name in medians else "")
                    for t in lengths
                ]
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


__all__ = [
    "CPU",
    "GPU",
    "MRP_SETTINGS",
    "SMOKE",
    "Scale",
    "context_lengths",
    "markdown_tables",
    "mrp_agreement",
    "mrp_td",
    "regression_layers",
]
