"""The trained checkpoints shipped in ``baselines/checkpoints`` (issue 12): complete, packaged, small,
played by ``icl-bench run``, and scoring what the docs say.

The scores the docs quote come from ``docs/data/checkpoints.json`` (``docs/scripts/score_checkpoints.py``;
``tests/test_docs_figures.py`` checks the pages against it). Here every checkpoint is played again by
the harness, exactly as ``icl-bench run`` plays it (all dev seeds of its entries), and must reproduce
the file's IQM. On the machine kind that recorded it the IQM is the same number (same seeds, same
weights, one torch thread: the tolerance is float round-off). On another CPU, torch may pick other
kernels, and a logit that was a near tie can then fall the other way and change an episode: so the
test also accepts any IQM inside the recorded 95% interval, which a broken or swapped checkpoint
does not reach.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest

from baselines.checkpoints import CHECKPOINTS_DIR, checkpoint_dir, load_checkpoint, shipped_checkpoints
from leaderboard.harness import evaluate
from leaderboard.run_all import BASELINES, CHECKPOINT_LOADER, SHIPPED_CHECKPOINTS

ROOT = Path(__file__).resolve().parents[1]
RECORDED = json.loads((ROOT / "docs" / "data" / "checkpoints.json").read_text())
BY_NAME = {row["name"]: row for row in RECORDED["checkpoints"]}
#: "A few MB in all" (issue 12).
MAX_TOTAL_BYTES = 4 * 1024 * 1024
REQUIRED_FILES = ("config.json", "model.safetensors", "agent.json", "COMMAND")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_every_learned_family_is_shipped_and_played_by_the_main_job():
    names = shipped_checkpoints()
    games = ("numberline", "ezpoints", "points24", "blackjack")
    expected = {f"{kind}-{game}" for kind in ("dt", "reinformer", "bc") for game in games}
    expected |= {"icl-linear-1", "icl-linear-2", "icl-linear-3", "icl-softmax", "icl-mrp-td"}
    assert set(names) == expected
    assert set(SHIPPED_CHECKPOINTS) == expected
    played = {b.config["name"]: tuple(b.envs) for b in BASELINES if b.reference == CHECKPOINT_LOADER}
    assert played == SHIPPED_CHECKPOINTS
    assert set(BY_NAME) == expected, "docs/data/checkpoints.json must score every shipped checkpoint"


@pytest.mark.parametrize("name", sorted(SHIPPED_CHECKPOINTS))
def test_checkpoint_folder_is_complete_and_says_how_it_was_made(name):
    folder = checkpoint_dir(name)
    for file in REQUIRED_FILES:
        assert (folder / file).is_file(), f"{name} lacks {file}"
    assert not (folder / "optimizer.safetensors").exists(), "shipped checkpoints carry no optimizer state"
    command = (folder / "COMMAND").read_text()
    assert f"--out baselines/checkpoints/{name}" in command
    assert "icl-bench train" in command
    loader = json.loads((folder / "agent.json").read_text())["loader"]
    assert loader in ("baselines.offline.agent:load_run_agent", "baselines.icl.agent:load_run_agent")


def test_checkpoints_are_small_and_package_data():
    files = [path for path in CHECKPOINTS_DIR.glob("*/*") if path.is_file()]
    assert sum(path.stat().st_size for path in files) <= MAX_TOTAL_BYTES
    # A non-editable install has them: every file matches baselines.checkpoints' package-data patterns.
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+; CI runs 3.11
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["baselines.checkpoints"]
    for path in files:
        relative = path.relative_to(CHECKPOINTS_DIR).as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative


def test_unknown_checkpoint_names_the_shipped_ones():
    with pytest.raises(ValueError, match="name must be a shipped checkpoint, one of .*dt-numberline"):
        load_checkpoint("dt-tetris")


@pytest.mark.parametrize("name", sorted(SHIPPED_CHECKPOINTS))
def test_checkpoint_scores_what_the_docs_say(name):
    recorded = BY_NAME[name]
    results = evaluate(
        CHECKPOINT_LOADER,
        RECORDED["suite"],
        envs=SHIPPED_CHECKPOINTS[name],
        config={"name": name},
        progress=False,
    )
    assert [entry.label for entry in results.entries] == list(recorded["entries"])
    iqm, interval = results.aggregates.iqm.value, recorded["iqm"]
    same = iqm == pytest.approx(interval["value"], abs=1e-6)
    assert same or interval["low"] <= iqm <= interval["high"], (
        f"{name}: IQM {iqm:.3f}, the docs say {interval['value']:.3f} [{interval['low']:.3f}, {interval['high']:.3f}]"
    )
