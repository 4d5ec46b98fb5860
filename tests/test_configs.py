"""Configs as data (baselines/configs.py) and the command lines generated from them (config_cli.py)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest
import typer
from typer.testing import CliRunner

from baselines.config_cli import ConfigOptions, parse_value
from baselines.configs import (
    check_types,
    config_fields,
    field_names,
    from_dict,
    replace_paths,
    values_by_path,
)


@dataclass
class Part:
    size: int = 3
    """How big the part is."""
    label: str | None = None
    """What it is called."""


@dataclass
class Whole:
    part: Part = field(default_factory=Part)
    """The part."""
    rate: float = 0.5
    """How fast."""
    size: int = 1
    """Another size: no field is called ``size`` alone then."""
    flag: bool = False


ALIASES = {"name": "part.label"}


def test_fields_are_listed_by_path_with_type_default_and_docstring():
    fields = {f.path: f for f in config_fields(Whole)}
    assert list(fields) == ["part.size", "part.label", "rate", "size", "flag"]
    assert (fields["part.size"].type, fields["part.size"].default, fields["part.size"].name) == (
        int,
        3,
        "size",
    )
    assert fields["part.label"].optional and not fields["rate"].optional
    assert fields["part.size"].help == "How big the part is."
    assert fields["size"].help == "Another size: no field is called ``size`` alone then."
    assert fields["flag"].help == ""


def test_a_field_answers_to_its_path_its_own_unique_name_and_aliases():
    names = field_names(Whole, ALIASES)
    assert names["part.size"].path == "part.size" and names["size"].path == "size"  # the path wins
    assert names["label"].path == names["name"].path == "part.label"
    assert names["rate"].path == "rate" and "part" not in names
    with pytest.raises(ValueError, match="alias 'x' names no field of Whole: 'part.colour'"):
        field_names(Whole, {"x": "part.colour"})


def test_only_plain_fields_and_groups_are_allowed():
    @dataclass
    class Listy:
        sizes: list[int] = field(default_factory=list)

    with pytest.raises(TypeError, match="Listy.sizes: a config field must be bool, int, float or str"):
        config_fields(Listy)


def test_values_are_read_and_set_by_path():
    whole = replace_paths(Whole(), {"part.size": 7, "rate": 2.0})
    assert whole == Whole(part=Part(size=7), rate=2.0)
    assert values_by_path(whole) == {
        "part.size": 7,
        "part.label": None,
        "rate": 2.0,
        "size": 1,
        "flag": False,
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rate": "fast"}, "^rate must be a number, got 'fast'"),
        ({"rate": True}, "^rate must be a number"),
        ({"size": 2.0}, "^size must be an integer, got 2.0"),
        ({"part.size": None}, "^size must be set"),
        ({"flag": 1}, "^flag must be true or false, got 1"),
        ({"part.label": 3}, "^label must be a string, got 3"),
        ({"part": "big"}, "^part must be a Part, got 'big'"),
    ],
)
def test_wrong_types_name_the_field(change, message):
    with pytest.raises(ValueError, match=message):
        check_types(replace_paths(Whole(), change))


def test_types_that_fit():
    check_types(
        replace_paths(Whole(), {"rate": 1, "part.label": None})
    )  # an int for a float, None if allowed


def test_from_dict_reads_nested_flat_and_mixed_objects():
    whole = Whole(part=Part(size=5, label="a"), rate=0.25, flag=True)
    assert from_dict(Whole, dataclasses.asdict(whole)) == whole
    flat = {"label": "a", "rate": 0.25, "flag": True, "part.size": 5}
    assert from_dict(Whole, flat) == whole
    assert from_dict(Whole, {"part": {"size": 5}, "name": "a", "rate": 0.25, "flag": True}, ALIASES) == whole
    assert from_dict(Whole, {}) == Whole()  # fields not given keep their defaults
    with pytest.raises(ValueError, match=r"run/config.json has unknown fields \['colour', 'part.colour'\]"):
        from_dict(Whole, {"colour": 1, "part": {"colour": 2}}, source="run/config.json")


def test_values_are_parsed_by_type_with_messages_naming_the_option():
    fields = {f.path: f for f in config_fields(Whole)}
    assert parse_value(fields["part.size"], "4", "--size") == 4
    assert parse_value(fields["rate"], "1e-3", "--rate") == 1e-3
    assert (
        parse_value(fields["flag"], "TRUE", "--flag") is True
        and parse_value(fields["flag"], "0", "-") is False
    )
    assert parse_value(fields["part.label"], "None", "--label") is None
    assert parse_value(fields["part.label"], "x", "--label") == "x"
    for path, text, message in (
        ("part.size", "four", "--part.size expects an integer; got 'four'"),
        ("rate", "none", "--rate expects a number; got 'none'"),
        ("flag", "yes", "--flag expects true or false; got 'yes'"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_value(fields[path], text, f"--{path}")


def whole_app() -> tuple[typer.Typer, list[Whole]]:
    """A command whose options are generated from ``Whole``; it records the configs it builds."""
    options = ConfigOptions(Whole, aliases=ALIASES, exclude=("flag",), shown_defaults={"rate": "fast"})
    built: list[Whole] = []

    def make(**given) -> None:
        """Make a whole."""
        built.append(replace_paths(Whole(), options.values(given)))

    app = typer.Typer(add_completion=False, rich_markup_mode=None)
    app.command()(options.command(make))
    return app, built


def test_the_generated_command_reads_paths_names_aliases_and_set():
    app, built = whole_app()
    runner = CliRunner()
    args = ["--part.size", "4", "--name", "a", "--rate", "2", "--set", "size=9", "--set", "part.size=6"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert built == [Whole(part=Part(size=6, label="a"), rate=2.0, size=9)]  # --set after the options
    assert runner.invoke(app, ["--flag", "true"]).exit_code == 2  # excluded: no such option
    help_text = runner.invoke(app, ["--help"]).output
    assert "Make a whole." in help_text and "How big the part is. [default: 3]" in help_text
    assert "--part.label, --label, --name TEXT|none" in help_text and "[default: fast]" in help_text


def test_set_names_a_bad_key_or_value():
    options = ConfigOptions(Whole, exclude=("flag",))
    assert options.assignments(["part.label=none", "rate=3"]) == {"part.label": None, "rate": 3.0}
    for item in ("colour=red", "rate", "flag=true"):
        with pytest.raises(ValueError, match="--set expects KEY=VALUE with KEY a Whole field"):
            options.assignments([item])
    with pytest.raises(ValueError, match="--set size expects an integer; got 'big'"):
        options.assignments(["size=big"])
