"""``icl-bench list``: every registered id, its description and every argument of its constructor."""

from __future__ import annotations

import inspect

from gymnasium.envs.registration import load_env_creator
from typer.testing import CliRunner

from icl_envs import ENVIRONMENTS
from leaderboard.cli import app


def _arguments(entry_point: str) -> list[str]:
    parameters = inspect.signature(load_env_creator(entry_point)).parameters
    return [name for name in parameters if name not in ("self", "render_mode")]


def test_list_prints_every_id_and_its_argument_names():
    # The default width of a non-terminal (80 columns): values may wrap, names must all be there.
    result = CliRunner().invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    text = result.output
    for env_id, entry_point, _, _ in ENVIRONMENTS:
        assert env_id in text
        for name in _arguments(entry_point):
            assert name in text, f"{env_id}: argument {name} missing from `icl-bench list`"


def test_list_prints_every_default_on_a_wide_terminal():
    result = CliRunner().invoke(app, ["list"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    # One row per env at this width: the row of each id holds its description and every default.
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") >= 3}
    for env_id, entry_point, _, description in ENVIRONMENTS:
        row = rows[env_id]
        assert description in row
        for name, parameter in inspect.signature(load_env_creator(entry_point)).parameters.items():
            if name in ("self", "render_mode"):
                continue
            assert f"{name}={parameter.default!r}" in row, f"{env_id}: {name} default missing"


def test_list_never_cuts_a_default_at_80_columns():
    # Folded cells wrap instead of ending in "…": every default must survive at the default width.
    result = CliRunner().invoke(app, ["list"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "…" not in result.output
