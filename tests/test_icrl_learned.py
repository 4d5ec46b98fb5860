"""Algorithm Distillation and the Decision-Pretrained Transformer (baselines/icrl) at tiny size, on CPU:
each learns a 2-armed bandit in context (the reward rate rises across the trial, with frozen
weights), and a run folder is a harness agent, resumable, trained through ``icl-bench train``."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from typer.testing import CliRunner

import icl_envs  # noqa: F401  (registers the ids)
from baselines.icrl.model import ModelConfig
from baselines.icrl.train import TrainConfig, train
from leaderboard.cli import app
from leaderboard.harness import play_entry
from leaderboard.loading import load_agent
from leaderboard.protocol import SuiteEntry

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors: see tests/conftest.py


@pytest.fixture(autouse=True)
def datasets_root(tmp_path, monkeypatch):
    """The runs' Minari datasets go to a folder of the test's own."""
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "datasets"))
    return tmp_path / "datasets"


BANDIT = {"arms": 2, "horizon": 20}


def tiny(method: str, out, **changes) -> TrainConfig:
    fields = {
        "method": method,
        "env": "icl/Bandit-v0",
        "env_kwargs": json.dumps(BANDIT),
        "tasks": 1000,
        "model": ModelConfig(layers=1, heads=1, width=32),
        "steps": 250,
        "batch_size": 32,
        "lr": 3e-3,
        "lr_final": 3e-4,
        "warmup_steps": 10,
        "out": str(out),
        "progress": False,
        "log_every": 50,
    }
    return TrainConfig(**(fields | changes))


def reward_by_step(run_dir, trials: int = 1000) -> np.ndarray:
    agent = load_agent(f"run:{run_dir}")
    env = gym.make_vec("icl/Bandit-v0", trials, **BANDIT)
    agent.reset("icl/Bandit-v0", BANDIT)
    obs, _ = env.reset(seed=123)  # tasks the training (seeds 0..999) never saw
    rewards = []
    for _ in range(BANDIT["horizon"]):
        obs, reward, _, _, _ = env.step(agent.act_batch(obs))
        rewards.append(reward.mean())
    return np.array(rewards)


@pytest.mark.parametrize("method", ["ad", "dpt"])
def test_learns_a_two_armed_bandit_in_context(method, tmp_path):
    """With 1000 trials a mean over 5 steps has a standard error near 0.007: both rise by 0.05 or
    more from the first five pulls to the last five (AD 0.53 -> 0.60, DPT 0.53 -> 0.58 when
    measured), where a policy that does not learn in context stays flat at its first rate."""
    run_dir = train(tiny(method, tmp_path / method))
    rewards = reward_by_step(run_dir)
    assert rewards[-5:].mean() > rewards[:5].mean() + 0.03, rewards.round(2)
    assert rewards[-5:].mean() > 0.55  # uniformly random arms pay 0.5
    losses = [json.loads(line)["loss"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < losses[0]


def test_run_folder_is_a_resumable_harness_agent(tmp_path):
    config = tiny("ad", tmp_path / "run", steps=20, tasks=64, log_every=10, checkpoint_every=10)
    run_dir = train(config)
    assert json.loads((run_dir / "agent.json").read_text()) == {
        "loader": "baselines.icrl.agent:load_run_agent"
    }
    assert {"config.json", "model.safetensors", "optimizer.safetensors", "state.json"} <= {
        p.name for p in run_dir.iterdir()
    }
    train(tiny("ad", tmp_path / "run", steps=30, tasks=64, log_every=10, checkpoint_every=10))
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == [10, 20, 30] and json.loads((run_dir / "state.json").read_text())["step"] == 30
    with pytest.raises(ValueError, match="differs in tasks"):
        train(tiny("ad", tmp_path / "run", steps=40, tasks=65))
    entry = SuiteEntry("icl/Bandit-v0", BANDIT, 8, (7,))
    run = play_entry(load_agent(f"run:{run_dir}"), entry, agent_name="ad")
    assert run.returns.shape == (1, 8) and run.returns_by_episode.shape == (1,)
    with pytest.raises(ValueError, match="was trained for icl/Bandit-v0"):
        load_agent(f"run:{run_dir}").reset("icl/Bandit-v0", {"arms": 3})


def test_rooms_train_and_play(tmp_path):
    # AD on a tiny Key-to-Door from the Q-learner's histories, DPT on a tiny Dark Room: a few steps.
    for method, env_id in (("ad", "icl/KeyToDoor-v0"), ("dpt", "icl/DarkRoom-v0")):
        kwargs = {"size": 3, "horizon": 4, "episodes_per_trial": 2}
        config = tiny(method, tmp_path / method, env=env_id, env_kwargs=json.dumps(kwargs), tasks=32, steps=5)
        run = play_entry(
            load_agent(f"run:{train(config)}"), SuiteEntry(env_id, kwargs, 4, (1,)), agent_name=method
        )
        assert run.returns_by_episode.shape == (2,)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["dpt", "--env", "icl/KeyToDoor-v0"], "DPT needs the optimal action"),
        (["ad", "--env-kwargs", "{arms: 2}"], "env_kwargs must be a JSON object"),
        (["ad", "--env", "icl/Blackjack-v0"], "env must be an in-context RL trial env"),
        (
            ["ad", "--env", "icl/DarkRoom-v0", "--env-kwargs", '{"obs_mode": "image"}'],
            "obs_mode='image' is not supported",
        ),
        (["ad", "--env-kwargs", '{"arms": 1}'], "arms must be >= 2"),
        (["ad", "--width", "30", "--heads", "4"], "width must be a multiple of heads"),
        (["ad", "--source", "sweep"], "source 'sweep' does not play icl/Bandit-v0"),
        (["ad", "--source", "a3c"], "source must be one of 'auto'"),
    ],
)
def test_bad_configs_are_refused_by_name(arguments, message, tmp_path):
    result = CliRunner().invoke(
        app, ["train", *arguments, "--out", str(tmp_path / "x")], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


@pytest.mark.slow  # two torchrun processes start (imports): ~50 s on a loaded 2-core machine
def test_torchrun_ddp_trains_the_same_weights_as_one_process(tmp_path):
    """Two gloo processes under torchrun, each with half of every batch, inside a loopback-only
    network namespace (NOTES.md), end where one process with the whole batch ends."""
    import os
    import shutil
    import subprocess
    import sys

    from safetensors.torch import load_file

    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.fail("the DDP test needs root and unshare (util-linux) for a loopback-only namespace")
    options = {"env_kwargs": json.dumps(BANDIT), "tasks": 64, "steps": 4, "batch_size": 8, "warmup_steps": 1}
    single = train(tiny("ad", tmp_path / "one", **options))
    arguments = ["train", "ad", "--out", str(tmp_path / "two"), "--progress", "false"]
    arguments += ["--env-kwargs", options["env_kwargs"], "--tasks", "64", "--steps", "4", "--batch-size", "8"]
    arguments += ["--warmup-steps", "1", "--layers", "1", "--heads", "1", "--width", "32", "--lr", "3e-3"]
    arguments += ["--lr-final", "3e-4", "--log-every", "50"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    command = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
    command += [*torchrun, "-m", "leaderboard.cli", *arguments]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-4000:]
    one, two = (
        load_file(str(single / "model.safetensors")),
        load_file(str(tmp_path / "two" / "model.safetensors")),
    )
    assert one.keys() == two.keys()
    # Float rounding only: the two processes sum the gradients in another order, and Adam divides
    # by sqrt(v), which turns a rounding difference of a near-zero gradient into up to lr-sized
    # steps (2e-5 measured after 4 steps at lr <= 3e-3), while training itself moves weights by
    # more than 1e-3.
    for name in one:
        assert (one[name] - two[name]).abs().max() < 1e-4, name
    initial = build_initial(tmp_path)
    assert max((one[name] - initial[name]).abs().max() for name in one) > 1e-3  # it did train


def build_initial(tmp_path):
    """The untrained weights of the tiny config (seed 0)."""
    import torch

    from baselines.icrl.train import build_model, validate

    config = tiny("ad", tmp_path / "initial", env_kwargs=json.dumps(BANDIT))
    torch.manual_seed(config.seed)
    return build_model(config, validate(config)).state_dict()
