"""The trained checkpoints shipped in ``baselines/checkpoints`` (issue 12): complete, packaged, small,
played by ``icl-bench run``, and scoring what the docs say.

The scores the docs quote come from ``docs/data/checkpoints.json`` (``docs/scripts/score_checkpoints.py``;
``tests/test_docs_figures.py`` checks the pages against it): per checkpoint, the IQM over its entries'
dev seeds and each seed's score. Here the IQM is recomputed from the seed scores by the
leaderboard's own aggregation, and every checkpoint plays one dev seed again through the harness (a
different seed for each checkpoint in turn, so all five are played: the whole set costs five times
as much, and CI has a minute for this file), which must score the recorded seed score. On the
machine kind that recorded it that is the same number (same seed, same weights, one torch thread:
the tolerance is float round-off). On another CPU torch may pick other kernels, and a logit that was
a near tie can fall the other way and change a few episodes: the test then accepts a move smaller
than half the recorded 95% interval, which a broken or swapped checkpoint does not stay within.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest

from baselines.checkpoints import CHECKPOINTS_DIR, checkpoint_dir, load_checkpoint, shipped_checkpoints
from leaderboard.harness import play_entry, reset_agent
from leaderboard.protocol import SuiteEntry, get_suite
from leaderboard.references import reference_for
from leaderboard.results import default_bootstrap, derive_aggregates
from leaderboard.run_all import BASELINES, CHECKPOINT_LOADER, SHIPPED_CHECKPOINTS
from leaderboard.scoring import normalized_score

ROOT = Path(__file__).resolve().parents[1]
RECORDED = json.loads((ROOT / "docs" / "data" / "checkpoints.json").read_text())
BY_NAME = {row["name"]: row for row in RECORDED["checkpoints"]}
#: "A few MB in all" (issue 12).
MAX_TOTAL_BYTES = 4 * 1024 * 1024
#: The small VLM's checkpoints (``vlm-<game>``, issue 13: "a few MB"), each on its own budget: they
#: are played on vl-v0 (tests/test_vlm_results.py), not by ``icl-bench run``. 6 MiB, not 4: the
#: best Points24 run has the hyper projector, whose hypernetwork adds 0.54M float32 weights (5.2 MiB).
MAX_VLM_BYTES = 6 * 1024 * 1024
REQUIRED_FILES = ("config.json", "model.safetensors", "agent.json", "COMMAND")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_every_learned_family_is_shipped_and_played_by_the_main_job():
    names = shipped_checkpoints()
    games = ("numberline", "ezpoints", "points24", "blackjack")
    expected = {f"{kind}-{game}" for kind in ("dt", "reinformer", "bc") for game in games}
    expected |= {"icl-linear-1", "icl-linear-2", "icl-linear-3", "icl-softmax", "icl-mrp-td"}
    vlm = {name for name in names if name.startswith("vlm-")}
    assert "vlm-numberline" in vlm and vlm <= {f"vlm-{game}" for game in games}
    assert set(names) - vlm == expected
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
    vlm = [path for path in files if path.parent.name.startswith("vlm-")]
    assert sum(path.stat().st_size for path in files if path not in vlm) <= MAX_TOTAL_BYTES
    for folder in {path.parent for path in vlm}:
        assert sum(path.stat().st_size for path in vlm if path.parent == folder) <= MAX_VLM_BYTES, folder.name
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
def test_recorded_iqm_is_the_scoring_of_the_recorded_seed_scores(name):
    """The IQM and interval the docs quote are the leaderboard's aggregate of the file's seed scores."""
    recorded = BY_NAME[name]
    seed_scores = [entry["seed_scores"] for entry in recorded["entries"].values()]
    assert derive_aggregates(seed_scores, default_bootstrap())["iqm"] == pytest.approx(
        recorded["iqm"], abs=1e-9
    )


@pytest.mark.parametrize("index, name", list(enumerate(sorted(SHIPPED_CHECKPOINTS))))
def test_checkpoint_plays_its_recorded_seed_scores(index, name):
    """One dev seed per checkpoint, a different one for each in turn (all five over the checkpoints):
    played again by the harness, each entry's score on that seed is the recorded one."""
    recorded, agent = BY_NAME[name], load_checkpoint(name)
    for entry in get_suite(RECORDED["suite"]).select(SHIPPED_CHECKPOINTS[name]):
        row = index % len(entry.seeds)
        one_seed = SuiteEntry(entry.env_id, entry.kwargs, entry.episodes, (entry.seeds[row],), entry.label)
        reset_agent(agent, entry.env_id, entry.kwargs, f"checkpoint {name}")
        run = play_entry(agent, one_seed, agent_name=name)
        reference = reference_for(entry)
        played = float(normalized_score(run.returns.mean(), reference.r_random, reference.r_reference))
        expected = recorded["entries"][entry.label]["seed_scores"][row]
        interval = recorded["entries"][entry.label]["normalized_score"]
        # Same machine kind: the same number. Another CPU may round a near-tie logit the other way
        # and change a few episodes: accept a move smaller than the half-width of the entry's 95% interval.
        same = played == pytest.approx(expected, abs=1e-6)
        assert same or abs(played - expected) <= (interval["high"] - interval["low"]) / 2, (
            f"{name} on {entry.label}, seed {entry.seeds[row]}: scored {played:.3f}, recorded {expected:.3f}"
        )
