"""The harness end to end on the tiny suite, broken agents, agent loading, and the real suites."""

import json

import gymnasium as gym
import numpy as np
import pytest
from leaderboard_fixtures import (
    SEEDS,
    TINY_SUITE,
    GuessEnv,
    NaNAgent,
    RaisingAgent,
    StringAgent,
    SweepAgent,
    TinyRegressionEnv,
    WrongShapeAgent,
    ZeroAgent,
)
from typer.testing import CliRunner

from leaderboard.cli import app
from leaderboard.harness import AgentError, evaluate, load_agent, load_config, play_entry
from leaderboard.references import reference_for
from leaderboard.results import validate_results
from leaderboard.store import ResultsStore


def test_returns_match_single_envs_replayed_with_the_same_seeds():
    """Sub-env i of seed s plays the task of seed s + i; only the first episode counts."""
    results = evaluate("leaderboard_fixtures:ZeroAgent", TINY_SUITE, agent=ZeroAgent(), progress=False)
    regression, guess = results.entries
    for row, seed in enumerate(SEEDS):
        for i in (0, 5, 7):
            env = TinyRegressionEnv()
            env.reset(seed=seed + i)
            assert regression.returns[row][i] == pytest.approx(-np.sum(env.y**2), rel=1e-12)
            game = GuessEnv()
            game.reset(seed=seed + i)
            # Always guessing 0: a hit at once (return 1, one step) or three misses.
            assert guess.returns[row][i] == (1.0 if game.target == 0 else 0.0)
            assert guess.episode_lengths[row][i] == (1 if game.target == 0 else 3)


def test_in_context_errors_are_recorded_per_context_length():
    results = evaluate("leaderboard_fixtures:SweepAgent", TINY_SUITE, agent=SweepAgent(), progress=False)
    regression, guess = results.entries
    errors = np.array(regression.errors_by_context)
    assert errors.shape == (4,)
    # Least squares is exact once it has seen d = 2 examples (noise 0); before, it is not.
    assert errors[0] > 0.5 and np.all(errors[2:] < 1e-9)
    assert -errors.sum() == pytest.approx(regression.mean_return)
    assert guess.errors_by_context is None
    # Sweeping 0, 1, 2 always hits: every first episode returns 1, lasting 1 to 3 steps.
    assert np.all(np.array(guess.returns) == 1.0)
    assert set(np.ravel(guess.episode_lengths)) == {1, 2, 3}
    assert guess.normalized_score.value == pytest.approx(100.0)
    validate_results(results.to_json())


def test_evaluation_is_reproducible():
    first = evaluate("leaderboard_fixtures:SweepAgent", TINY_SUITE, agent=SweepAgent(), progress=False)
    second = evaluate("leaderboard_fixtures:SweepAgent", TINY_SUITE, agent=SweepAgent(), progress=False)
    assert first.content_hash == second.content_hash
    assert first.aggregates == second.aggregates


@pytest.mark.parametrize(
    "agent, message",
    [
        (WrongShapeAgent(), "expected shape (8, 1), got (3, 2)"),
        (NaNAgent(), "must be finite"),
        (RaisingAgent(), "act_batch raised RuntimeError: model weights missing"),
        (StringAgent(), "expected numbers"),
    ],
)
def test_broken_agent_gives_a_clear_error(agent, message):
    with pytest.raises(AgentError) as caught:
        evaluate("my.module:Broken", TINY_SUITE, agent=agent, progress=False)
    text = str(caught.value)
    assert "agent my.module:Broken" in text
    assert "icltest/TinyRegression-v0" in text
    assert "seed 10000, step 0" in text
    assert message in text


def test_out_of_range_discrete_action_is_rejected():
    entry = TINY_SUITE.entries[1]

    class Five(ZeroAgent):
        def act(self, obs):
            return 5

    with pytest.raises(AgentError, match=r"icltest/Guess-v0.*must lie in \[0, 2\]"):
        play_entry(Five(), entry, agent_name="five")


@pytest.mark.parametrize("name", ["WrongShapeAgent", "NaNAgent", "RaisingAgent"])
def test_broken_agent_on_the_command_line_writes_and_stores_nothing(tmp_path, name):
    out, db = tmp_path / "results.json", tmp_path / "store.sqlite"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--agent",
            f"leaderboard_fixtures:{name}",
            "--suite",
            "tiny-v0",
            "--out",
            str(out),
            "--db",
            str(db),
        ],
    )
    assert result.exit_code == 1, result.output
    assert f"leaderboard_fixtures:{name}" in result.output
    assert "nothing was written or stored" in result.output
    assert not out.exists()
    assert ResultsStore(db).count() == 0


def test_evaluate_command_writes_a_valid_file_and_stores_it_once(tmp_path):
    out, db = tmp_path / "results.json", tmp_path / "store.sqlite"
    arguments = ["evaluate", "--agent", "leaderboard_fixtures:SweepAgent", "--suite", "tiny-v0"]
    runner = CliRunner()
    result = runner.invoke(app, [*arguments, "--out", str(out), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert validate_results(out.read_text()).agent.reference == "leaderboard_fixtures:SweepAgent"
    assert "stored as #1" in result.output
    again = runner.invoke(app, [*arguments, "--db", str(db), "--envs", "Guess"])
    assert again.exit_code == 0, again.output
    assert ResultsStore(db).count() == 2  # a partial run is another submission
    same = runner.invoke(app, [*arguments, "--db", str(db)])
    assert "already stored" in same.output
    assert ResultsStore(db).count() == 2
    table = runner.invoke(app, ["leaderboard", "--db", str(db)], env={"COLUMNS": "200"})
    assert table.exit_code == 0
    assert "SweepAgent" in table.output and "tiny-v0" in table.output


@pytest.mark.parametrize(
    "reference, message",
    [
        ("no_colon", "must look like"),
        ("leaderboard.nothing_here:Agent", "cannot import module"),
        ("leaderboard.agent:Missing", "has no 'Missing'"),
        ("leaderboard.protocol:DEV_SEEDS_V0", "neither act_batch"),
    ],
)
def test_bad_agent_references(reference, message):
    with pytest.raises(ValueError, match=message):
        load_agent(reference)


def test_run_folder_agents_resolve_through_the_run_loader(monkeypatch):
    import leaderboard_fixtures

    from leaderboard import loading as harness  # RUN_AGENT_LOADER moved to leaderboard.loading

    monkeypatch.setattr(harness, "RUN_AGENT_LOADER", "leaderboard_fixtures:load_run")
    results = evaluate("run:runs/icl/linear-3", TINY_SUITE, config={"device": "cpu"}, progress=False)
    assert leaderboard_fixtures.RUN_FOLDERS_LOADED[-1] == ("runs/icl/linear-3", {"device": "cpu"})
    assert results.agent.reference == "run:runs/icl/linear-3"
    assert results.entries[1].normalized_score.value == pytest.approx(100.0)


def test_agent_config_files(tmp_path):
    json_file = tmp_path / "agent.json"
    json_file.write_text(json.dumps({"seed": 3}))
    toml_file = tmp_path / "agent.toml"
    toml_file.write_text("seed = 4\n")
    assert load_config(json_file) == {"seed": 3}
    assert load_config(toml_file) == {"seed": 4}
    (tmp_path / "agent.yaml").write_text("seed: 1")
    with pytest.raises(ValueError, match="config must be a .json or .toml"):
        load_config(tmp_path / "agent.yaml")
    with pytest.raises(ValueError, match="cannot be built with config"):
        load_agent("leaderboard_fixtures:ZeroAgent", {"lr": 1})


def test_duck_typed_agent_with_only_act_is_batched():
    class OnlyAct:
        def act(self, obs):
            return 1

    agent = load_agent("leaderboard_fixtures:ZeroAgent")
    assert isinstance(agent, ZeroAgent)
    run = play_entry(
        load_agent.__globals__["_BatchedAgent"](OnlyAct()), TINY_SUITE.entries[1], agent_name="x"
    )
    assert run.returns.shape == (3, 10)


def test_unknown_env_in_selection():
    with pytest.raises(ValueError, match="'Pong' not in suite tiny-v0"):
        evaluate("leaderboard_fixtures:ZeroAgent", TINY_SUITE, envs=["Pong"], progress=False)


def test_agent_declaring_other_suites_is_refused():
    agent = ZeroAgent()
    agent.suites = ("core-v0",)
    with pytest.raises(AgentError, match="declares suites"):
        evaluate("x:Y", TINY_SUITE, agent=agent, progress=False)


# --- The real suites: the harness and the frozen references agree on what scores 0 -------------


def test_zero_predictor_scores_zero_on_linear_regression():
    # R_random of LinearRegression is the zero predictor's exact expected return, so its normalized
    # score must be 0 up to sampling noise. One episode's normalized score has a standard deviation
    # near 80 (the sum of 20 squared targets of a random w), so 1000 episodes give an interval about
    # ±1.96 · 80 / √1000 ≈ ±5 wide; ±7.5 leaves room for the bootstrap's own noise.
    results = evaluate("leaderboard.references:ZeroPredictor", "core-v0", envs=["LinReg"], progress=False)
    score = results.entries[0].normalized_score
    assert score.low < 0.0 < score.high
    assert score.high - score.low < 15.0
    assert not results.complete
    validate_results(results.to_json())


def test_random_agent_scores_zero_on_blackjack_and_text_parse_failures_are_counted():
    pytest.importorskip("baselines.classic.random_agent")
    core = evaluate(
        "baselines.classic.random_agent:RandomAgent", "core-v0", envs=["Blackjack"], progress=False
    )
    returns = np.ravel(core.entries[0].returns)
    # R_random is the exact DP value of this very policy: the sample mean of 5000 episodes must lie
    # within 4 standard errors of it (these dev seeds happen to land 2.3 standard errors above).
    standard_error = returns.std(ddof=1) / np.sqrt(returns.size)
    assert abs(
        returns.mean() - reference_for(core.entries[0].env_id + '{"obs_mode":"symbolic"}').r_random
    ) < (4 * standard_error)
    text = evaluate(
        "baselines.classic.random_agent:RandomAgent", "text-v0", envs=["NumberLine"], progress=False
    )
    assert text.entries[0].parse_failures == 0  # the random agent names legal action strings

    class Gibberish:
        def act_batch(self, obs_batch):
            return ["I would like to move"] * len(obs_batch)

    garbled = evaluate("x:Gibberish", "text-v0", envs=["NumberLine"], agent=Gibberish(), progress=False)
    entry = garbled.entries[0]
    assert entry.parse_failures == int(np.sum(entry.episode_lengths))  # every answer failed to parse


def test_vector_env_of_every_core_entry_builds():
    import icl_envs  # noqa: F401
    from leaderboard.protocol import CORE_V0

    for entry in CORE_V0.entries:
        env = gym.make_vec(entry.env_id, num_envs=2, **entry.kwargs)
        env.close()


BROKEN_MODULES = {
    "agent_import_raises": 'raise RuntimeError("config.yaml not found")\n',
    "agent_syntax_error": "def act(:\n",
    "agent_parts": (
        "from leaderboard.agent import Agent\n"
        "class NoAct(Agent):\n    pass\n"
        "class NeedsWeights(Agent):\n"
        "    def __init__(self):\n        raise FileNotFoundError('weights.safetensors')\n"
        "    def act(self, obs):\n        return 0\n"
    ),
}


@pytest.mark.parametrize(
    "reference, message",
    [
        ("agent_import_raises:Agent", "importing module 'agent_import_raises' raised RuntimeError"),
        ("agent_syntax_error:Agent", "importing module 'agent_syntax_error' raised SyntaxError"),
        ("agent_parts:NoAct", "implements neither act nor act_batch"),
        ("agent_parts:NeedsWeights", "building it raised FileNotFoundError: weights.safetensors"),
    ],
)
def test_agents_that_fail_to_load_give_a_clear_error(tmp_path, monkeypatch, reference, message):
    """A user's module that raises on import, a class without act, a constructor that raises:
    each becomes a ValueError naming the reference (the CLI prints it), never a raw traceback."""
    for name, source in BROKEN_MODULES.items():
        (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match=f"agent (reference )?'{reference}'") as caught:
        load_agent(reference)
    assert message in str(caught.value)


def test_run_folder_that_cannot_be_loaded_is_named(monkeypatch):
    from leaderboard import loading as harness  # RUN_AGENT_LOADER moved to leaderboard.loading

    monkeypatch.setattr(harness, "RUN_AGENT_LOADER", "builtins:open")  # open() of a missing path raises
    with pytest.raises(ValueError, match="'run:/no/such/run': the run folder cannot be loaded"):
        load_agent("run:/no/such/run")


# --- The main job -----------------------------------------------------------------------------


def test_the_main_job_runs_every_classic_baseline():
    """``icl-bench run`` must score every classic and exact baseline: each public Agent class of
    baselines/classic appears in run_all.BASELINES (a new baseline without a row fails here)."""
    import importlib
    import inspect
    import pkgutil

    import baselines.classic
    from leaderboard.agent import Agent
    from leaderboard.run_all import BASELINES

    bases = {
        "RegressionAgent",
        "MRPAgent",
        "TrialAgent",
        "BanditAgent",
        "RoomAgent",
    }  # shared base classes, not baselines themselves
    found = set()
    for module_info in pkgutil.iter_modules(baselines.classic.__path__):
        module = importlib.import_module(f"baselines.classic.{module_info.name}")
        for name, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, Agent) and value.__module__ == module.__name__:
                if not name.startswith("_") and name not in bases:
                    found.add(f"{module.__name__}:{name}")
    assert found, "no classic baselines found"
    scored = {baseline.reference for baseline in BASELINES}
    assert found - scored == set()
    # The random agent plays every suite.
    random = "baselines.classic.random_agent:RandomAgent"
    assert {b.suite for b in BASELINES if b.reference == random} == {
        "core-v0",
        "pixels-v0",
        "text-v0",
        "icrl-v0",
    }


def test_run_all_stores_reports_and_collects_failures(tmp_path):
    from leaderboard.run_all import Baseline, run_all

    baselines = (
        Baseline("leaderboard_fixtures:SweepAgent", suite="tiny-v0"),
        Baseline("leaderboard_fixtures:ZeroAgent", suite="tiny-v0", envs=("TinyRegression",)),
        Baseline("leaderboard_fixtures:NaNAgent", suite="tiny-v0"),
    )
    out, db = tmp_path / "report", tmp_path / "store.sqlite"
    summary = run_all(out_dir=out, db=str(db), baselines=baselines, progress=False)
    assert [r.agent.reference for r in summary.results] == [b.reference for b in baselines[:2]]
    assert [b.reference for b, _ in summary.failures] == ["leaderboard_fixtures:NaNAgent"]
    assert "must be finite" in summary.failures[0][1]
    assert (summary.added, summary.duplicates) == (2, 0)
    assert ResultsStore(db).count() == 2  # the broken agent stored nothing
    page = (out / "index.html").read_text()
    assert "leaderboard_fixtures:SweepAgent" in page and "TinyRegression" in page
    for image in ("scores-tiny-v0.png", "errors-tiny-v0.png"):
        assert (out / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'src="{image}"' in page
    assert len(list((out / "results").glob("*.json"))) == 2
    record = json.loads((out / "run.json").read_text())
    assert record["results"] == 2 and record["wall_time_s"] == summary.wall_time_s
    assert record["failures"][0].startswith("leaderboard_fixtures:NaNAgent on tiny-v0: ")
    again = run_all(out_dir=out, db=str(db), baselines=baselines[:1], progress=False)
    assert (again.added, again.duplicates) == (0, 1)  # the same result is recognised


def test_an_agent_module_in_the_working_directory_is_found(tmp_path, monkeypatch):
    """`icl-bench evaluate --agent my_agent:MyAgent` run beside my_agent.py: the console script's
    sys.path does not hold the working directory, the harness must look there."""
    import sys

    (tmp_path / "my_cwd_agent.py").write_text(
        "from leaderboard.agent import Agent\nclass MyAgent(Agent):\n    def act(self, obs):\n        return 0\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path), ".")])
    agent = load_agent("my_cwd_agent:MyAgent")
    assert type(agent).__name__ == "MyAgent"


def test_error_plot_gives_every_agent_of_a_panel_its_own_colour(tmp_path, monkeypatch):
    """With more than 10 agents matplotlib's default colour cycle repeats, and two curves of one
    panel (least squares' spike and tuned ridge, say) were drawn in the same colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from leaderboard_fixtures import tiny_results_json, variant

    from leaderboard.report import plot_errors

    results = [validate_results(variant(tiny_results_json(), k=k)) for k in range(12)]
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)  # keep the figure to look at it
    plot_errors(results, tmp_path / "errors.png")
    panel = figures[0].axes[0]
    colours = [tuple(line.get_color()) for line in panel.get_lines()]
    assert len(colours) == 12 and len(set(colours)) == 12


def test_progress_bar_on_a_terminal_counts_seed_batches(monkeypatch, capsys):
    import re

    monkeypatch.setenv("FORCE_COLOR", "1")  # rich then treats stderr as a terminal
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "80")
    reference = "my_lab.agents.in_context.transformers:SweepAgent"  # a realistic, long reference
    evaluate(reference, TINY_SUITE, agent=SweepAgent(), progress=True)
    err = capsys.readouterr().err
    # The class name alone leaves room on 80 columns for the batch count (2 entries x 3 seeds)
    # and the elapsed time; the full reference squeezed the time to "0:0…".
    last_entry = [frame for frame in err.split("\r") if "tiny-v0 · Guess" in frame]
    assert last_entry and "SweepAgent" in last_entry[-1]
    assert "6/6" in last_entry[-1] and re.search(r"\d:\d\d:\d\d", last_entry[-1])


def test_suite_without_references_is_refused_before_any_episode(monkeypatch):
    """A private suite whose entries have no normalization references cannot be scored: say so
    before spending the evaluation, naming the entries."""
    from leaderboard.protocol import Suite, SuiteEntry

    suite = Suite(
        name="private-v0",
        description="An entry nobody gave references.",
        entries=(SuiteEntry("icltest/Guess-v0", {"unused": 1}, 10, SEEDS, label="Guess"),),
        published=False,
    )
    played = []
    monkeypatch.setattr("leaderboard.harness.play_suite", lambda *args, **kwargs: played.append(1))
    with pytest.raises(ValueError, match=r"private-v0 has no normalization references for icltest/Guess-v0"):
        evaluate("leaderboard_fixtures:ZeroAgent", suite, progress=False)
    assert not played


def test_run_folder_names_its_own_agent_loader(tmp_path, monkeypatch):
    """A run folder's agent.json picks its loader (the offline and in-context RL trainers write one);
    without it the in-context transformers' loader is used, and a bad agent.json is named."""
    from leaderboard.loading import RUN_AGENT_LOADER, run_agent_loader

    assert run_agent_loader(tmp_path) == RUN_AGENT_LOADER
    (tmp_path / "run_loader_module.py").write_text(
        "from baselines.classic.regression import LeastSquares\n"
        "def load(run_dir, **config):\n"
        "    agent = LeastSquares()\n"
        "    agent.run_dir = run_dir\n"
        "    return agent\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "agent.json").write_text(json.dumps({"loader": "run_loader_module:load"}))
    agent = load_agent(f"run:{tmp_path}")
    assert type(agent).__name__ == "LeastSquares" and agent.run_dir == str(tmp_path)
    (tmp_path / "agent.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="agent.json: not a JSON object with a 'loader' field"):
        load_agent(f"run:{tmp_path}")
    (tmp_path / "agent.json").write_text(json.dumps({"loader": "no_colon"}))
    with pytest.raises(ValueError, match="'loader' must be a 'module:function' string"):
        load_agent(f"run:{tmp_path}")
