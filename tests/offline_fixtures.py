"""Tiny offline datasets for the offline models' tests, written by ``icl-bench collect``'s
:func:`~baselines.offline.collect.collect` (the native vector envs and the exact solver) under the
caller's ``MINARI_DATASETS_PATH``, as the trainer reads only datasets of that form.
"""

from __future__ import annotations

import numpy as np

from baselines.offline.collect import collect


def numberline_dataset(
    dataset_id: str = "test/numberline/mixed-v0", episodes: int = 40, random_share: float = 0.3, seed: int = 0
):
    """A NumberLine dataset written by ``icl-bench collect`` (what the trainer reads): the solver's
    actions, each step random with probability ``random_share``."""
    policy = f"eps-optimal:{random_share}" if random_share else "optimal"
    return collect("NumberLine", policy, episodes, seed=seed, dataset_id=dataset_id)


def torchrun_losses(dataset_id: str, out: str, processes: int, options: list[str]) -> list[float]:
    """The logged losses of ``icl-bench train dt`` under ``torchrun --nproc-per-node processes``
    (a target of ``benchmarks.live.in_loopback_namespace``: the process group binds loopback)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
        "-m", "baselines.offline.cli", "dt", "--dataset", dataset_id, "--out", out,
        *[part for option in options for part in ("--set", option)],
    ]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, timeout=240)
    if finished.returncode != 0:
        raise RuntimeError(
            f"torchrun failed ({finished.returncode}):\n{finished.stdout[-3000:]}\n{finished.stderr[-3000:]}"
        )
    lines = Path(out, "metrics.jsonl").read_text().splitlines()
    return [json.loads(line)["loss"] for line in lines if "loss" in json.loads(line)]


class ObservingAgent:
    """Moves right after an even number of ``observe`` calls, left after an odd one (with
    ``observing=False`` it has no ``observe`` and always moves right): its episodes show whether the
    harness called ``observe``."""

    def __init__(self, observing: bool = True) -> None:
        self.calls = 0
        if observing:
            self.observe = self._observe

    def _observe(self, rewards, terminated, truncated) -> None:
        self.calls += 1

    def act_batch(self, obs):
        return np.full(len(obs["current"]), 1 - self.calls % 2)
