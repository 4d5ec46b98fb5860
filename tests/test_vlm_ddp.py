"""The VLM trainer under ``torchrun`` (gloo on CPU): two processes run every stage (text, reading,
SFT, PPO), and hold the same weights at every save (``Run.save`` checks it), in a loopback-only
network namespace (the process group binds loopback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.live import in_loopback_namespace
from leaderboard.harness import play_entry
from leaderboard.loading import load_agent
from leaderboard.protocol import SuiteEntry

#: A tiny NumberLine run through every stage that averages gradients: text, reading, SFT, PPO.
OPTIONS = {
    "env": "icl/NumberLine-v0",
    "state_in_prompt": False,
    "short_prompt": True,
    "vocab_size": 300,
    "max_new_tokens": 48,
    "model.image_size": 16,
    "model.channels": 4,
    "model.image_tokens_side": 2,
    "model.width": 32,
    "model.layers": 1,
    "model.heads": 2,
    "model.max_tokens": 96,
    "sft.episodes": 20,
    "sft.steps": 4,
    "sft.batch_size": 8,
    "sft.text_steps": 2,
    "sft.text_episodes": 20,
    "sft.align_steps": 2,
    "sft.align_frames": 40,
    "ppo.iterations": 1,
    "ppo.num_envs": 4,
    "ppo.rollout_steps": 2,
    "ppo.minibatch_size": 4,
    "progress": False,
}


def torchrun_vlm(out: str, processes: int) -> dict:
    """``icl-bench train vlm`` under ``torchrun --nproc-per-node processes`` (a target of
    ``benchmarks.live.in_loopback_namespace``)."""
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
        "-m", "leaderboard.cli", "train", "vlm", "--out", out,
        *[part for key, value in OPTIONS.items() for part in ("--set", f"{key}={value}")],
    ]  # fmt: skip
    return run_command(command)


def test_two_processes_train_every_stage_in_step(tmp_path):
    out = tmp_path / "run"
    finished = in_loopback_namespace("test_vlm_ddp:torchrun_vlm", timeout=300, out=str(out), processes=2)
    assert finished["returncode"] == 0, finished["output"]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert {r["phase"] for r in records} == {"text", "align", "sft", "read_check", "ppo"}
    assert [r["phase"] for r in records].count("read_check") == 1, "one log, process 0's"
    assert json.loads((out / "state.json").read_text())["ppo_iterations"] == 1
    entry = SuiteEntry("icl/NumberLine-v0", {"obs_mode": "multimodal"}, 4, (10_000,))
    played = play_entry(load_agent(f"run:{out}"), entry, agent_name="vlm", text_actions=True)
    assert played.returns.size == 4


def test_processes_out_of_step_are_caught(tmp_path):
    """The check that the test above relies on: a process whose weights drift makes the run fail."""
    worker = Path(__file__).with_name("vlm_ddp_drift.py")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", str(worker),
    ]  # fmt: skip
    finished = in_loopback_namespace("test_vlm_ddp:run_command", timeout=120, command=command)
    assert finished["returncode"] != 0
    assert "processes [1] hold other weights than process 0" in finished["output"]


def run_command(command: list[str]) -> dict:
    """A target of ``in_loopback_namespace``: ``command``'s exit status and output's tail."""
    finished = subprocess.run(command, capture_output=True, text=True, timeout=240)
    return {"returncode": finished.returncode, "output": (finished.stdout + finished.stderr)[-4000:]}
