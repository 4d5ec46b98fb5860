"""The leaderboard commands through typer's CliRunner: evaluate, validate and leaderboard on the tiny
suite, exit codes and messages on bad input (never a traceback)."""

import json

import pytest
from leaderboard_fixtures import tiny_results_json, variant
from rich.console import Console
from typer.testing import CliRunner

from leaderboard import cli
from leaderboard.cli import app
from leaderboard.store import ResultsStore

TINY = ["--suite", "tiny-v0"]


@pytest.fixture
def runner(monkeypatch):
    # The module's console was built when cli was imported; give it a fixed 80-column width (what
    # rich uses when output goes to a file or pipe) so every test sees the same layout.
    monkeypatch.setattr(cli, "console", Console(width=80))
    return CliRunner()


def test_evaluate_validate_and_leaderboard_round_trip(runner, tmp_path):
    out, db = tmp_path / "deep" / "folder" / "results.json", tmp_path / "store.sqlite"
    config = tmp_path / "agent.json"
    config.write_text("{}")
    evaluated = runner.invoke(
        app,
        [
            "evaluate",
            "--agent",
            "leaderboard_fixtures:SweepAgent",
            *TINY,
            "--config",
            str(config),
            "--out",
            str(out),
            "--db",
            str(db),
        ],
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert "stored as #1" in evaluated.output
    assert out.exists()  # the --out folder was created
    validated = runner.invoke(app, ["validate", str(out)])
    assert validated.exit_code == 0, validated.output
    assert validated.output.startswith("valid: leaderboard_fixtures:SweepAgent on tiny-v0, 2 entries")
    table = runner.invoke(app, ["leaderboard", "--db", str(db), "--suite", "tiny-v0"])
    assert table.exit_code == 0, table.output
    iqm = json.loads(out.read_text())["aggregates"]["iqm"]
    assert f"{iqm['value']:.1f} [{iqm['low']:.1f}, {iqm['high']:.1f}]" in table.output
    empty = runner.invoke(app, ["leaderboard", "--db", str(db), "--suite", "core-v0"])
    assert empty.exit_code == 0 and "no results" in empty.output


def test_wide_leaderboard_keeps_every_number_on_a_narrow_console(runner, tmp_path):
    """Rich squeezes a table into 80 columns; a long agent label used to leave the score columns
    zero characters wide, so the table printed no number at all."""
    db = tmp_path / "store.sqlite"
    data = variant(tiny_results_json(), note="a configuration value long enough to fill a line")
    ResultsStore(db).add(data)
    table = runner.invoke(app, ["leaderboard", "--db", str(db)])
    assert table.exit_code == 0, table.output
    iqm = data["aggregates"]["iqm"]
    assert f"{iqm['value']:.1f} [{iqm['low']:.1f}, {iqm['high']:.1f}]" in table.output
    for entry in data["entries"]:
        assert entry["label"] in table.output
        assert f"{entry['normalized_score']['value']:.1f}" in table.output


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda d: d["aggregates"]["optimality_gap"].update(value=0.0), "aggregates.optimality_gap.value"),
        (lambda d: d["entries"][0]["seeds"].__setitem__(0, 12345), "entries.0.seeds"),
        (lambda d: d.pop("versions"), "versions"),
    ],
)
def test_validate_rejects_a_bad_file_with_exit_code_1_naming_the_field(runner, tmp_path, change, field):
    data = json.loads(tiny_results_json())
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"invalid: {field}:")
    assert "Traceback" not in result.output


def test_validate_rejects_a_file_that_is_not_json_with_exit_code_2(runner, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("IQM 97, trust me")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2  # not a results file at all (1 is for a results file that breaks a rule)
    assert "unreadable: file: not valid JSON" in result.output


@pytest.mark.parametrize(
    "agent, message",
    [
        ("leaderboard_fixtures:NoSuchAgent", "has no 'NoSuchAgent'"),
        ("no_such_package.agents:Agent", "cannot import module 'no_such_package.agents'"),
        ("leaderboard_fixtures", "must look like 'package.module:Name'"),
        ("leaderboard_fixtures:SEEDS", "neither act_batch"),
    ],
)
def test_evaluate_with_a_bad_agent_reference_exits_1_and_stores_nothing(runner, tmp_path, agent, message):
    db = tmp_path / "store.sqlite"
    result = runner.invoke(app, ["evaluate", "--agent", agent, *TINY, "--db", str(db)])
    assert result.exit_code == 1
    assert message in result.output.replace("\n", "")
    assert "nothing was written or stored" in result.output
    assert ResultsStore(db).count() == 0


def test_evaluate_with_a_bad_suite_env_or_config(runner, tmp_path):
    arguments = ["evaluate", "--agent", "leaderboard_fixtures:SweepAgent", "--no-store"]
    result = runner.invoke(app, [*arguments, "--suite", "core-v9"])
    assert result.exit_code == 1 and "suite must be one of" in result.output
    result = runner.invoke(app, [*arguments, *TINY, "--envs", "Chess"])
    assert result.exit_code == 1 and "'Chess' not in suite tiny-v0" in result.output
    result = runner.invoke(app, [*arguments, *TINY, "--config", str(tmp_path / "none.json")])
    assert result.exit_code == 1 and "config: no such file" in result.output


def test_a_store_that_cannot_be_opened_fails_before_the_evaluation(runner, tmp_path):
    out = tmp_path / "results.json"
    arguments = ["evaluate", "--agent", "leaderboard_fixtures:SweepAgent", *TINY, "--out", str(out)]
    result = runner.invoke(app, [*arguments, "--db", "nodialect://host/db"])
    assert result.exit_code == 2
    assert "--db nodialect://host/db: cannot open the results store" in result.output.replace("\n", "")
    assert not out.exists()  # nothing evaluated, nothing written
    result = runner.invoke(app, ["leaderboard", "--db", "nodialect://host/db"])
    assert result.exit_code == 2 and "cannot open the results store" in result.output


def test_the_protocol_pages_agent_example_runs(runner, tmp_path, monkeypatch):
    """docs/protocol.md's minimal agent, saved as mean_agent.py, evaluates and validates as shown."""
    import re
    from pathlib import Path

    page = (Path(__file__).parents[1] / "docs" / "protocol.md").read_text()
    (tmp_path / "mean_agent.py").write_text(re.search(r"```python\n(.*?)```", page, re.S).group(1))
    monkeypatch.chdir(tmp_path)
    arguments = ["--agent", "mean_agent:MeanOfContext", "--suite", "core-v0", "--envs", "LinReg"]
    result = runner.invoke(app, ["evaluate", *arguments, "--out", "mean.json", "--no-store"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["validate", "mean.json"]).exit_code == 0
    # The mean of the targets seen is a poor predictor of y = <w, x>: worse than predicting 0.
    score = json.loads((tmp_path / "mean.json").read_text())["entries"][0]["normalized_score"]
    assert score["high"] < 0.0
