"""The isolated mode (``evaluate(..., isolate=True)``, ``icl-bench evaluate --isolate``).

The attack of issue 10 wins in-process and is a zero predictor isolated; honest agents score the
same to the bit either way; time limits kill the agent's process and reap it; crashes and forged
answers end the evaluation with an error that says what happened.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from leaderboard import harness
from leaderboard.cli import app
from leaderboard.harness import AgentError, evaluate
from leaderboard.isolation import IsolatedAgent, _Arena
from leaderboard.protocol import CORE_V0, TEXT_V0, Suite, SuiteEntry, register_suite
from leaderboard.results import read_results

SEEDS = CORE_V0.entries[0].seeds[:2]


def _small(entry: SuiteEntry, episodes: int) -> SuiteEntry:
    """A core entry with fewer episodes and seeds; the same env and kwargs, so the same references."""
    return SuiteEntry(entry.env_id, entry.kwargs, episodes, SEEDS, label=entry.label)


LINREG, POINTS24 = CORE_V0.entries[0], CORE_V0.select(["Points24"])[0]
# 37 envs: no other test's vector env has that many, so the cheater finds the harness's own.
SMALL_CORE = register_suite(
    Suite(
        name="isolation-core-v0",
        description="A few core-v0 entries, fewer episodes and seeds.",
        entries=(_small(LINREG, 37), _small(POINTS24, 50)),
        published=False,
    )
)
SMALL_TEXT = register_suite(
    Suite(
        name="isolation-text-v0",
        description="Blackjack as text, a few episodes.",
        entries=(_small(TEXT_V0.select(["Blackjack"])[0], 10),),
        actions="text",
        published=False,
    )
)


def _returns(results) -> list[np.ndarray]:
    return [np.array(entry.returns) for entry in results.entries]


@pytest.fixture
def started(monkeypatch):
    """Every IsolatedAgent the harness starts, to check afterwards that its process is gone."""
    agents: list[IsolatedAgent] = []

    class Recorded(IsolatedAgent):
        def __init__(self, *args, **kwargs):
            agents.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(harness, "IsolatedAgent", Recorded)
    return agents


def _reaped(agent: IsolatedAgent) -> bool:
    """The child has exited and been waited for: no process, not even a zombie, has its pid."""
    try:
        os.kill(agent._process.pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_gc_cheater_wins_in_process_and_is_a_zero_predictor_isolated(started):
    cheater = "cheating_agents:GcCheater"
    in_process = evaluate(cheater, SMALL_CORE, envs=["LinReg"], progress=False)
    assert in_process.entries[0].normalized_score.value > 110  # above the Bayes optimum, 100

    isolated = evaluate(cheater, SMALL_CORE, envs=["LinReg"], progress=False, isolate=True)
    zero = evaluate("baselines.classic.regression:ZeroPredictor", SMALL_CORE, envs=["LinReg"], progress=False)
    assert np.array_equal(_returns(isolated)[0], _returns(zero)[0])
    assert abs(isolated.entries[0].normalized_score.value) < 10
    assert started and all(_reaped(agent) for agent in started)


@pytest.mark.parametrize(
    "reference, suite",
    [
        ("baselines.classic.regression:Ridge", SMALL_CORE),  # regression and a card game's symbols
        ("baselines.classic.random_agent:RandomAgent", SMALL_CORE),
        ("baselines.classic.random_agent:RandomAgent", SMALL_TEXT),  # strings both ways
    ],
)
def test_an_honest_agent_scores_the_same_to_the_bit(reference, suite):
    envs = ["LinReg"] if reference.endswith("Ridge") else None
    in_process = evaluate(reference, suite, envs=envs, progress=False)
    isolated = evaluate(reference, suite, envs=envs, progress=False, isolate=True)
    assert isolated.content_hash == in_process.content_hash
    for ours, theirs in zip(_returns(isolated), _returns(in_process)):
        assert ours.tobytes() == theirs.tobytes()
    assert isolated.versions == in_process.versions


def test_observations_an_agent_keeps_stay_as_they_were():
    """Contexts of 150 envs (72 KB) go through the shared arena; a copy the agent keeps is its own."""
    wide = _small(LINREG, 150)
    suite = register_suite(Suite("isolation-wide-v0", "LinReg, 150 envs.", (wide,), published=False))
    hoarded = evaluate("cheating_agents:Hoarder", suite, progress=False, isolate=True)
    zero = evaluate("baselines.classic.regression:ZeroPredictor", suite, progress=False)
    assert np.array_equal(_returns(hoarded)[0], _returns(zero)[0])


def test_the_agent_process_is_not_told_where_the_secrets_are(monkeypatch):
    monkeypatch.setenv("ICL_BENCH_SECRET_FILES", "/etc/icl-bench/secret")
    seeker = evaluate("cheating_agents:SecretSeeker", SMALL_CORE, envs=["LinReg"], progress=False)
    isolated = evaluate(
        "cheating_agents:SecretSeeker", SMALL_CORE, envs=["LinReg"], progress=False, isolate=True
    )
    zero = evaluate("baselines.classic.regression:ZeroPredictor", SMALL_CORE, envs=["LinReg"], progress=False)
    assert not np.array_equal(_returns(seeker)[0], _returns(zero)[0])  # in-process, it sees the variable
    assert np.array_equal(_returns(isolated)[0], _returns(zero)[0])


def test_the_arena_refills_only_memory_the_agent_let_go_of():
    writer = _Arena.create()
    reader = _Arena(os.dup(writer.fd))
    arrays = [np.arange(10**5, dtype=np.float64) * k for k in range(3)]

    def send(array):
        return reader.read(writer.write([memoryview(array).cast("B")]))[0]

    def address(array):
        return array.__array_interface__["data"][0]

    kept = send(arrays[0])
    second = send(arrays[1])  # `kept` is still held: fresh memory
    assert address(second) != address(kept)
    second_address = address(second)
    del second
    third = send(arrays[2])  # nothing holds the second copy: its memory is refilled
    assert address(third) == second_address
    assert np.array_equal(kept.view(np.float64), arrays[0])
    assert np.array_equal(third.view(np.float64), arrays[2])
    writer.close()
    reader.close()


def test_a_step_over_the_step_limit_kills_the_agent(started):
    start = time.monotonic()
    with pytest.raises(AgentError) as caught:
        evaluate(
            "cheating_agents:Sleeper",
            SMALL_CORE,
            envs=["LinReg"],
            progress=False,
            isolate=True,
            step_timeout=0.5,
        )
    assert time.monotonic() - start < 20  # start-up, 0.5 s, the kill: not the hour it sleeps
    message = str(caught.value)
    assert "icl/LinearRegression-v0" in message and "step 0" in message
    assert "step time limit of 0.5 s" in message and "killed" in message
    assert _reaped(started[0])


def test_steps_over_the_entry_limit_kill_the_agent(started):
    with pytest.raises(AgentError) as caught:
        evaluate(
            "cheating_agents:Sleeper",
            SMALL_CORE,
            envs=["LinReg"],
            config={"seconds": 0.1},
            progress=False,
            isolate=True,
            entry_timeout=0.5,
        )
    message = str(caught.value)
    assert "icl/LinearRegression-v0" in message and "entry time limit of 0.5 s" in message
    assert "step 0" not in message  # each step was within the step limit; their sum was not
    assert _reaped(started[0])


@pytest.mark.parametrize(
    "agent, expected",
    [
        ("Crasher", ["ZeroDivisionError: division by zero", "Traceback", "cheating_agents.py"]),
        ("Exiter", ["the agent's process ended during act_batch (exit code 3)"]),
    ],
)
def test_a_crash_in_the_agent_process_names_its_cause(started, agent, expected):
    with pytest.raises(AgentError) as caught:
        evaluate(f"cheating_agents:{agent}", SMALL_CORE, envs=["LinReg"], progress=False, isolate=True)
    message = str(caught.value)
    assert f"agent cheating_agents:{agent} on icl/LinearRegression-v0" in message
    for text in expected:
        assert text in message
    assert _reaped(started[0])


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("pickle", "not JSON"),
        ("object-array", "dtype object is not a plain number type"),
        ("huge", "a message of 1000000000000 bytes"),
        ("extra-parts", "3 parts in one message"),
    ],
)
def test_a_forged_answer_is_refused_and_never_unpickled(started, tmp_path, kind, expected):
    marker = tmp_path / "ran"
    with pytest.raises(AgentError, match="malformed answer to act_batch") as caught:
        evaluate(
            "cheating_agents:ForgedAnswer",
            SMALL_CORE,
            envs=["LinReg"],
            config={"kind": kind, "marker": str(marker)},
            progress=False,
            isolate=True,
        )
    assert expected in str(caught.value)
    assert not marker.exists()
    assert _reaped(started[0])


def test_a_bad_reference_or_config_is_refused_as_in_process():
    for reference, config in [("cheating_agents:Nope", {}), ("cheating_agents:Sleeper", {"bad": 1})]:
        with pytest.raises(ValueError) as in_process:
            evaluate(reference, SMALL_CORE, config=config, progress=False)
        with pytest.raises(ValueError) as isolated:
            evaluate(reference, SMALL_CORE, config=config, progress=False, isolate=True)
        assert str(isolated.value) == str(in_process.value)


@pytest.mark.parametrize(
    "limits, message",
    [
        ({"step_timeout": 0}, "step_timeout must be a positive number of seconds"),
        ({"entry_timeout": -1.0}, "entry_timeout must be a positive number of seconds"),
        ({"step_timeout": "soon"}, "step_timeout must be a real number"),
        ({"entry_timeout": float("inf")}, "entry_timeout must be finite"),
    ],
)
def test_bad_limits_are_refused_before_any_process_starts(started, limits, message):
    with pytest.raises(ValueError, match=message):
        IsolatedAgent("cheating_agents:Sleeper", **limits)


def test_a_built_agent_cannot_be_isolated():
    from cheating_agents import Sleeper

    with pytest.raises(ValueError, match="an agent built in this process cannot be isolated"):
        evaluate("cheating_agents:Sleeper", SMALL_CORE, agent=Sleeper(), progress=False, isolate=True)


def test_the_command_line_isolates_and_limits(tmp_path):
    runner = CliRunner()
    common = ["evaluate", "--suite", SMALL_CORE.name, "--envs", "LinReg", "--no-store"]
    crashed = runner.invoke(app, [*common, "--agent", "cheating_agents:Crasher", "--isolate"])
    assert crashed.exit_code == 1, crashed.output
    assert "ZeroDivisionError" in crashed.output and "nothing was written or stored" in crashed.output

    out = tmp_path / "cheater.json"
    cheated = runner.invoke(
        app, [*common, "--agent", "cheating_agents:GcCheater", "--isolate", "--out", str(out)]
    )
    assert cheated.exit_code == 0, cheated.output
    zero = evaluate("baselines.classic.regression:ZeroPredictor", SMALL_CORE, envs=["LinReg"], progress=False)
    assert np.array_equal(_returns(read_results(out))[0], _returns(zero)[0])

    unisolated = runner.invoke(app, [*common, "--agent", "cheating_agents:Sleeper", "--step-timeout", "1"])
    assert unisolated.exit_code == 2
    assert "add --isolate" in unisolated.output


def test_the_agent_builds_while_the_harness_prepares_and_its_error_comes_with_the_next_call():
    """Construction returns at once and ``ready`` never waits; a refused reference raises its
    ValueError at the first call that needs the agent (again at the next), and the child is reaped."""
    start = time.monotonic()
    slow = IsolatedAgent("cheating_agents:Sleeper", {"build_seconds": 30})
    assert not slow.ready() and time.monotonic() - start < 10  # not the 30 s the building takes
    slow.close()
    assert _reaped(slow)

    agent = IsolatedAgent("cheating_agents:Nope")
    while not agent.ready():
        assert time.monotonic() - start < 60
        time.sleep(0.01)
    with pytest.raises(ValueError, match="Nope"):
        agent.reset("icl/LinearRegression-v0", {})
    with pytest.raises(ValueError, match="Nope"):  # the same error, not "the process has been closed"
        _ = agent.suites
    assert _reaped(agent)
