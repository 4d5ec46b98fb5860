"""The training loop every trainer shares (baselines/training.py): a resumed run ends with the
weights of the unbroken one, a non-finite loss stops the run by name, and the clock stops it with a
checkpoint. The trainers' own tests (test_icl_train, test_offline_models, test_icrl_learned) run
the same loop on their data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from baselines.icrl.model import ModelConfig
from baselines.icrl.train import TrainConfig, train
from baselines.training import Loop, StepLoss, step_seed, train_steps

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors: see tests/conftest.py


def tiny_icrl(out, steps: int) -> TrainConfig:
    return TrainConfig(
        env_kwargs=json.dumps({"arms": 2, "horizon": 6}),
        tasks=16,
        steps=steps,
        batch_size=4,
        warmup_steps=2,
        lr_final=1e-3,  # = lr: a constant rate after the warm-up, so stopping at 5 of 8 steps
        # leaves the schedule of the steps done unchanged (a cosine over 5 steps would not)
        model=ModelConfig(layers=1, heads=1, width=16),
        out=str(out),
        progress=False,
        log_every=2,
        checkpoint_every=3,
    )


def test_an_interrupted_icrl_run_resumes_to_the_unbroken_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "datasets"))
    unbroken = train(tiny_icrl(tmp_path / "unbroken", 8))
    train(tiny_icrl(tmp_path / "resumed", 5))  # stops at 5: checkpoint at 3 and at its end, 5
    resumed = train(tiny_icrl(tmp_path / "resumed", 8))
    one, two = load_file(str(unbroken / "model.safetensors")), load_file(str(resumed / "model.safetensors"))
    assert one.keys() == two.keys()
    for name in one:
        assert torch.equal(one[name], two[name]), name
    steps = [json.loads(line)["step"] for line in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 5, 6, 8]


def regression_loop(folder, steps: int, loss_scale: float = 1.0, **options) -> Loop:
    """A linear model fitted to y = 2x through the loop, its batch seeded by the step."""
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)

    def step_loss(step: int) -> StepLoss:
        x = torch.as_tensor(
            np.random.default_rng(step_seed(0, step)).normal(size=(8, 1)), dtype=torch.float32
        )
        return StepLoss((model(x) - 2 * x).square().mean() * loss_scale, 8)

    return Loop(
        folder,
        model,
        optimizer,
        0,
        0.0,
        steps,
        step_loss,
        lambda step, elapsed: 0.1,
        1.0,
        5,
        10,
        False,
        **options,
    )


def test_the_loop_logs_checkpoints_and_stops_on_a_nan_loss(tmp_path):
    loop = regression_loop(tmp_path, 40, rate_name="items_per_s")
    train_steps(loop)
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == list(range(5, 41, 5))
    assert lines[-1]["loss"] < lines[0]["loss"] and lines[0]["items_per_s"] > 0
    assert json.loads((tmp_path / "state.json").read_text())["step"] == 40
    with pytest.raises(FloatingPointError, match="loss became nan at step 0; lower lr"):
        train_steps(regression_loop(tmp_path, 3, loss_scale=float("nan")))


def test_the_clock_stops_a_run_with_a_checkpoint(tmp_path):
    train_steps(regression_loop(tmp_path, 10_000, max_seconds=1e-9))
    assert json.loads((tmp_path / "state.json").read_text())["step"] == 1
