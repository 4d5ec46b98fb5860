"""The icrl-v0 suite: scored by the trial's return, with the learning curve across sub-episodes in
every results file, checked on validation and drawn by the report and the server page."""

from __future__ import annotations

import json

import numpy as np
import pytest

from leaderboard.harness import evaluate, play_entry
from leaderboard.loading import load_agent
from leaderboard.protocol import SuiteEntry, get_suite
from leaderboard.references import reference_for
from leaderboard.report import leaderboard_tables, markdown_tables, plot_learning_curves
from leaderboard.results import ResultsValidationError, validate_results
from leaderboard.server.pages import _curves
from leaderboard.server.tables import columns


@pytest.fixture(scope="module")
def explorer_results():
    return evaluate("baselines.classic.rooms:SweepExplorer", "icrl-v0", envs=["DarkRoom"], progress=False)


def test_results_carry_the_learning_curve(explorer_results):
    (entry,) = explorer_results.entries
    curve = np.array(entry.returns_by_episode)
    assert len(curve) == 10
    assert curve.sum() == pytest.approx(entry.mean_return)
    # The explorer finds the goal within five sub-episodes, then walks straight to it every time.
    assert curve[0] < curve[-1] / 3 and curve[-1] == pytest.approx(curve[-2])
    validate_results(explorer_results.to_json())  # the file as stored validates


def test_the_curve_is_per_sub_episode_for_any_entry():
    entry = SuiteEntry("icl/DarkRoom-v0", {"size": 3, "horizon": 3, "episodes_per_trial": 4}, 20, (5,))
    run = play_entry(load_agent("baselines.classic.random_agent:RandomAgent"), entry, agent_name="random")
    assert run.returns_by_episode.shape == (4,)
    assert run.returns_by_episode.sum() == pytest.approx(run.returns.mean())
    bandit = SuiteEntry("icl/Bandit-v0", {"horizon": 7}, 10, (5,))
    assert play_entry(
        load_agent("baselines.classic.bandits:UCB1"), bandit, agent_name="ucb"
    ).returns_by_episode.shape == (1,)


def test_a_missing_or_forged_curve_is_rejected(explorer_results):
    data = json.loads(explorer_results.to_json())
    del data["entries"][0]["returns_by_episode"]
    with pytest.raises(ResultsValidationError, match="returns_by_episode"):
        validate_results(data)
    data = json.loads(explorer_results.to_json())
    data["entries"][0]["returns_by_episode"][0] += 1.0
    with pytest.raises(ResultsValidationError, match="does not add up"):
        validate_results(data)


def test_other_suites_carry_no_curve():
    results = evaluate(
        "baselines.classic.number_games:NumberLineOptimalAgent",
        "core-v0",
        envs=["NumberLine"],
        progress=False,
    )
    assert "returns_by_episode" not in results.to_json()  # files keep the format they had
    data = json.loads(results.to_json())
    data["entries"][0]["returns_by_episode"] = [1.0]
    with pytest.raises(ResultsValidationError, match="only in-context RL entries"):
        validate_results(data)


def test_report_and_server_draw_the_curve(explorer_results, tmp_path):
    assert plot_learning_curves([explorer_results], tmp_path / "learning.png").stat().st_size > 1000
    (chart,) = _curves(explorer_results)
    assert "sub-episode" in chart and "<polyline" in chart


def test_references_span_random_to_the_best_known():
    suite = get_suite("icrl-v0")
    small = reference_for(suite.select(["Bandit K=2 H=30"])[0])
    assert small.r_random == 15.0 and "exact DP" in small.reference_method
    default = reference_for(suite.select(["Bandit"])[0])
    assert (default.r_random, default.r_reference) == (50.0, pytest.approx(100 * 5 / 6))
    room = reference_for(suite.select(["DarkRoom"])[0])
    assert room.r_random == pytest.approx(200 / 81)


def test_no_success_rate_without_card_games(explorer_results):
    """A positive return in Dark Room is a goal reward, not a game won: no success rate, in the
    results, the report's tables or the server's columns; a suite with card games keeps it."""
    assert explorer_results.entries[0].success_rate is None and explorer_results.success_rate is None
    (table,) = leaderboard_tables([explorer_results])
    assert "success" not in [str(column.header) for column in table.columns]
    assert "| success |" not in markdown_tables([explorer_results])
    assert "success" not in [column.id for column in columns(get_suite("icrl-v0"), [])]
    assert "success" in [column.id for column in columns(get_suite("core-v0"), [])]
    games = evaluate(
        "baselines.classic.random_agent:RandomAgent", "text-v0", envs=["NumberLine"], progress=False
    )
    assert 0 < games.entries[0].success_rate < 1
    (table,) = leaderboard_tables([games])
    assert "success" in [str(column.header) for column in table.columns]
