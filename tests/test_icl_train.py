"""Training: a CPU-sized run learns, configs are checked, runs resume exactly, the CLI works."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from baselines.icl.cli import train_from_cli
from baselines.icl.constructions import cosine, preconditioner_of
from baselines.icl.models import ModelConfig
from baselines.icl.samplers import MRPSampler, PromptConfig, RegressionSampler, make_sampler
from baselines.icl.train import (
    TrainConfig,
    evaluate_prefixes,
    load_model,
    make_loss,
    make_model,
    train,
    validate,
)
from leaderboard.cli import app

# One torch thread for these tiny tensors (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


ONE_LAYER_OPTIMUM = 5 * 6 / (20 + 5 + 1)  # d(d+1)/(n+d+1), Ahn et al. 2023, isotropic, n = 20


def test_one_layer_linear_transformer_learns_preconditioned_gd(tmp_path):
    config = TrainConfig(
        model=ModelConfig(layers=1),
        steps=800,
        batch_size=512,
        lr=3e-3,
        lr_final=3e-4,
        out=str(tmp_path / "run"),
        progress=False,
    )
    model, _ = load_model(train(config))
    errors = evaluate_prefixes(model, RegressionSampler(d=5, n=20), batch_size=20000)
    # The CPU bar: below 1.3 after 20 examples (the optimum is 1.154; the standard error of
    # the estimate over 20000 prompts is ~0.015, so 1.3 is not reached by chance).
    assert errors[20] < 1.3, errors[20]
    assert errors[20] > ONE_LAYER_OPTIMUM - 0.06  # no single linear layer beats the optimum
    # What it learned is a preconditioner proportional to the identity (the optimum's n/(n+d+1) I).
    gamma = preconditioner_of(model)
    assert cosine(gamma, torch.eye(5)) > 0.95
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["step"] == 800
    assert json.loads(lines[0])["loss"] > json.loads(lines[-1])["loss"]


def test_multi_task_td_training_learns_batch_td(tmp_path):
    """Wang et al. 2024: a 3-layer linear transformer pretrained with multi-task TD on random rewards
    implements batch TD(0): its implied weights and its prediction's gradient with respect to the
    context point where 3-step batch TD's do (the issue asks for cosine >= 0.9). Regressed on the
    true value instead, the same model lands at ~0.82 and ~0.6 (docs/baselines/icl_transformers.md),
    so this fails if the TD target is not what is trained."""
    from baselines.icl import reproduce

    config = TrainConfig(
        prompts=PromptConfig(task="icl-mrp", d=4, n=30), model=ModelConfig(layers=3), steps=1000, batch_size=512, lr=3e-3, target="td",
        out=str(tmp_path / "td"), progress=False,
    )  # fmt: skip
    model, _ = load_model(train(config))
    result = reproduce.mrp_agreement(model, MRPSampler(d=4, n=30), layers=3, batch=4000)
    assert result["implied_weight_cosine"] > 0.9, result
    assert result["sensitivity_cosine"] > 0.9, result
    # Its error is that of TD (best α), not of the zero predictor.
    assert result["model_error"] < result["td_best_error"] * 1.1, result


def test_td_loss_bootstraps_without_gradient():
    """The TD target is r(s_n) + γ·(the model's prediction for φ(s_{n+1})), held fixed: the gradient is
    (prediction - target)·∂prediction alone."""
    torch.manual_seed(0)
    config = TrainConfig(
        prompts=PromptConfig(task="icl-mrp", d=4, n=6, gamma=0.8), model=ModelConfig(layers=2), target="td"
    )
    model = make_model(config)
    loss_fn, num_steps = make_loss(config)
    prompts = make_sampler(config.prompts).sample(16, torch.Generator().manual_seed(1), num_steps=num_steps)
    assert num_steps == 8
    n, length = 6, torch.full((16,), 6)
    prediction = model(prompts.context[:, :n], length, prompts.queries[:, n])
    following = model(prompts.context[:, :n], length, prompts.queries[:, n + 1]).detach()
    target = prompts.context[:, n, -1] + 0.8 * following
    expected = (prediction - target).square().mean()
    loss = loss_fn(model, prompts)
    torch.testing.assert_close(loss, expected)
    ours = torch.autograd.grad(loss, list(model.parameters()))
    theirs = torch.autograd.grad(expected, list(model.parameters()))
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b)
    # Row n's second block is γφ(s_{n+1}): the bootstrap reads the state the chain moved to.
    torch.testing.assert_close(prompts.context[:, n, 4:8], 0.8 * prompts.queries[:, n + 1])


def test_resume_continues_exactly(tmp_path):
    base = dict(
        model=ModelConfig(layers=2),
        steps=30,
        batch_size=64,
        log_every=10,
        checkpoint_every=10,
        progress=False,
    )
    straight = train(TrainConfig(out=str(tmp_path / "a"), **base))
    first = TrainConfig(out=str(tmp_path / "b"), **{**base, "steps": 20})
    train(first)
    assert json.loads((tmp_path / "b" / "state.json").read_text())["step"] == 20
    resumed = train(dataclasses.replace(first, steps=30))
    a, b = load_file(str(straight / "model.safetensors")), load_file(str(resumed / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key  # same data per step and the AdamW state restored
    steps = [json.loads(line)["step"] for line in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert steps == [10, 20, 30]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("task", "icl-blackjack"),
        ("model", "mamba"),
        ("layers", 0),
        ("batch_size", -3),
        ("lr", 0.0),
        ("loss_on", "first"),
        ("covariance", "diagonal"),
        ("gamma", 1.5),
        ("activation", "tanh"),
        ("grad_clip", float("nan")),
        ("target", "monte_carlo"),
    ],
)
def test_bad_configs_name_the_field(field, value, tmp_path):
    with pytest.raises(ValueError, match=field):
        validate(TrainConfig.from_dict({"out": str(tmp_path), field: value}))


def test_bad_combinations_are_explained(tmp_path):
    with pytest.raises(ValueError, match="activation applies to the linear model only"):
        validate(TrainConfig(model=ModelConfig(kind="softmax", activation="relu")))
    with pytest.raises(ValueError, match="tied"):
        validate(TrainConfig(model=ModelConfig(kind="rebased", tied=True)))
    with pytest.raises(ValueError, match="target 'td' applies to task 'icl-mrp' only"):
        validate(TrainConfig(target="td"))
    with pytest.raises(ValueError, match="target 'td' bootstraps with the discount"):
        validate(TrainConfig(prompts=PromptConfig(task="icl-mrp", objective="average_reward"), target="td"))
    with pytest.raises(ValueError, match="target 'td' bootstraps the query after n examples"):
        validate(
            TrainConfig(prompts=PromptConfig(task="icl-mrp"), target="td", model=ModelConfig(kind="softmax"))
        )
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            validate(TrainConfig(device="cuda"))
    (tmp_path / "notes.txt").write_text("not a run")
    with pytest.raises(ValueError, match="not a run folder"):
        train(TrainConfig(out=str(tmp_path), steps=1, progress=False))
    run = tmp_path / "run"
    train(TrainConfig(out=str(run), steps=2, batch_size=8, progress=False))
    with pytest.raises(ValueError, match="differs in layers"):
        train(TrainConfig(out=str(run), steps=4, batch_size=8, model=ModelConfig(layers=3), progress=False))
    with pytest.raises(ValueError, match="--set expects KEY=VALUE"):
        train_from_cli("icl-regression", d=None, n=None, options=["colour=blue"], out=str(tmp_path / "x"))


def test_cli_trains_a_run_folder(tmp_path):
    runner = CliRunner()
    out = tmp_path / "mrp"
    result = runner.invoke(
        app,
        [
            "train",
            "icl-mrp",
            "--model",
            "softmax",
            "--layers",
            "1",
            "--steps",
            "3",
            "--batch-size",
            "8",
            "--device",
            "cpu",
            "--out",
            str(out),
            "--n",
            "6",
            "--set",
            "width=32",
            "--set",
            "progress=false",
        ],
    )
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert (
        config["prompts"]["task"],
        config["model"]["kind"],
        config["prompts"]["d"],
        config["prompts"]["n"],
        config["model"]["width"],
    ) == (
        "icl-mrp",
        "softmax",
        4,
        6,
        32,
    )
    assert (out / "model.safetensors").is_file() and (out / "optimizer.safetensors").is_file()
    bad = runner.invoke(app, ["train", "icl-regression", "--model", "lstm", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "model must be one of" in bad.output


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("layers=abc", "--set layers expects an integer; got 'abc'"),
        ("lr=fast", "--set lr expects a number; got 'fast'"),
        ("gamma=none", "--set gamma expects a number; got 'none'"),
        ("log_every=none", "--set log_every expects an integer"),
        ("compile=maybe", "--set compile expects true or false"),
    ],
)
def test_bad_set_values_name_the_field(option, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        train_from_cli("icl-regression", d=None, n=None, options=[option], out=str(tmp_path / "x"))


def test_wrong_types_name_the_field(tmp_path):
    for field, value in (("log_every", "10"), ("bf16", "yes"), ("steps", 2.5), ("out", 3), ("gamma", None)):
        with pytest.raises(ValueError, match=f"^{field} must be"):
            validate(TrainConfig.from_dict({"out": str(tmp_path), field: value}))
    validate(
        TrainConfig(model=ModelConfig(activation=None), prompts=PromptConfig(gamma=0), lr=1)
    )  # None where allowed, ints for floats


def test_resume_drops_metrics_logged_after_the_checkpoint(tmp_path):
    base = dict(model=ModelConfig(layers=1), batch_size=16, log_every=10, checkpoint_every=10, progress=False)
    run = train(TrainConfig(out=str(tmp_path / "run"), steps=20, **base))
    # A run killed after logging step 25 but before its next checkpoint left this line behind.
    with (run / "metrics.jsonl").open("a") as metrics:
        metrics.write(json.dumps({"step": 25, "loss": 1.0}) + "\n")
    train(TrainConfig(out=str(tmp_path / "run") + "/", steps=30, **base))  # `out` spelled otherwise
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [10, 20, 30]


def test_time_capped_runs_decay_the_learning_rate_by_the_clock():
    from baselines.training import warmup_cosine

    config = TrainConfig(steps=1000, warmup_steps=10, lr=1e-3, lr_final=1e-4, max_seconds=10.0)
    assert warmup_cosine(config, 100, elapsed=10.0) == pytest.approx(1e-4)  # time is up: lr_final
    assert warmup_cosine(config, 100, elapsed=5.0) == pytest.approx(5.5e-4)  # half the time: midway
    assert warmup_cosine(config, 999, elapsed=0.0) == pytest.approx(1e-4, rel=1e-3)  # steps ran out
    uncapped = dataclasses.replace(config, max_seconds=0.0)
    assert warmup_cosine(uncapped, 100, elapsed=1e6) > 9e-4  # without a cap the clock is ignored


def test_gpu_script_smoke_runs_on_cpu_without_gymnasium(tmp_path):
    """``python -m benchmarks.gpu_bench --smoke``: every part writes its results, and it never
    imports gymnasium, pygame or the envs (the GPU machine has none of them)."""
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "for name in ('gymnasium', 'pygame', 'icl_envs', 'leaderboard'): sys.modules[name] = None\n"
        "from benchmarks import gpu_bench\n"
        f"gpu_bench.main(['--out', {str(tmp_path)!r}, '--smoke'])\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "TMPDIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads((tmp_path / "gpu_results.json").read_text())
    for key in ("linear_speed", "gpt_flops", "dt_speed", "regression", "mrp", "curves"):
        assert key in data and "error" not in data[key], (key, data.get(key))
    assert data["total_seconds"] > 0
    assert not [key for key in data if key.endswith("_partial")]
    report = (tmp_path / "gpu_report.md").read_text()
    assert "Regression, d=5, n=20 (smoke)" in report and "icl-mrp: squared error" in report
    for plot in ("icl_regression_layers", "icl_mrp_pq", "icl_context_regression", "icl_context_mrp"):
        assert (tmp_path / f"{plot}.png").stat().st_size > 0
