"""Hostile results files and strings: refused cleanly, never a traceback, never raw on a terminal.

A results file is written by whoever submits it. The audit of issue 10 found terminal escape
sequences and rich markup printed raw by ``icl-bench validate`` and ``leaderboard``, validator
crashes (deep nesting, huge integers, non-UTF-8 bytes, lone surrogates, free-form fields too deep to
store) and an agent label that crashed the HTML report's plots. Each has a test here, and the
property tests at the end (hypothesis) feed random and mutated files and strings to the validator:
it raises nothing but :class:`ResultsValidationError`, and whatever it accepts is stored and printed
as plain text.
"""

from __future__ import annotations

import copy
import io
import json
import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from leaderboard_fixtures import TINY_SUITE, SweepAgent, tiny_results_json
from rich.console import Console
from typer.testing import CliRunner

from leaderboard import cli, results
from leaderboard.cli import app
from leaderboard.harness import evaluate
from leaderboard.protocol import sha256_of
from leaderboard.report import leaderboard_tables, markdown_tables, print_tables, write_html_report
from leaderboard.results import (
    MAX_FREE_FORM_DEPTH,
    ResultsFile,
    ResultsValidationError,
    UnreadableResultsError,
    validate_results,
)
from leaderboard.run_all import Baseline, run_all
from leaderboard.store import ResultsStore
from leaderboard.untrusted import CONTROL_CHARACTERS, for_matplotlib, plain, visible

#: Terminal attacks: OSC 52 clipboard write, clear screen, window title, full reset, an 8-bit CSI.
OSC52 = "\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07"
CLEAR = "\x1b[2J\x1b[H"
TITLE = "\x1b]0;pwned\x07"
RESET = "\x1bc"
CSI8 = "\x9b2J"
LINK = "[link=https://evil.example]click me[/link]"


@pytest.fixture
def valid() -> dict:
    return json.loads(tiny_results_json())


@pytest.fixture
def runner(monkeypatch):
    monkeypatch.setattr(cli, "console", Console(width=300))  # no line wrapped in the middle of a check
    return CliRunner()


def with_config(data: dict, config) -> dict:
    data = copy.deepcopy(data)
    data["agent"]["config"] = config
    data["agent"]["config_hash"] = sha256_of(config)
    return data


def nested(depth: int, leaf=0, kind: str = "dict"):
    """A value ``depth`` containers deep (a flat ``{"a": 0}`` is 1 deep)."""
    value = leaf
    for _ in range(depth):
        value = {"a": value} if kind == "dict" else [value]
    return value


def rejected(data, field: str, message: str = "") -> ResultsValidationError:
    with pytest.raises(ResultsValidationError) as caught:
        validate_results(data)
    assert caught.value.field.startswith(field), str(caught.value)
    assert message in str(caught.value)
    return caught.value


def no_terminal_controls(text: str) -> bool:
    """Nothing but newlines among the control characters (no ESC, BEL, C1, surrogate...)."""
    return CONTROL_CHARACTERS.search(text.replace("\n", "")) is None


# ----------------------------------------------------------------------------------------------
# Terminal injection: control characters refused, untrusted strings printed as plain text


@pytest.mark.parametrize(
    "character", ["\x1b", "\x07", "\x00", "\n", "\t", "\r", "\x7f", "\x85", "\x9b", "\ud800", "\udfff"]
)
def test_control_characters_are_refused_in_every_string(valid, character):
    escaped = visible(character)
    data = copy.deepcopy(valid)
    data["agent"]["reference"] += character
    rejected(json.dumps(data), "agent.reference", f"control character {escaped}")
    if character in "\t\n\r":  # an agent config's values may be multi-line text (a prompt)
        validate_results(with_config(valid, {"note": f"x{character}"}))
    else:
        rejected(with_config(valid, {"note": f"x{character}"}), "agent.config.note", escaped)
    rejected(
        with_config(valid, {f"k{character}": 1}), "agent.config", f"a key holds control character {escaped}"
    )
    data = copy.deepcopy(valid)
    data["hardware"]["cpu"] = ["fine", {"model": character}]
    rejected(data, "hardware.cpu.1.model", escaped)
    data = copy.deepcopy(valid)
    data["entries"][1]["label"] += character
    rejected(data, "entries.1.label", escaped)


@pytest.mark.parametrize("attack", [OSC52, CLEAR, TITLE, RESET, CSI8])
def test_validate_command_refuses_escape_sequences_and_prints_none(runner, tmp_path, valid, attack):
    data = copy.deepcopy(valid)
    data["agent"]["reference"] = f"leaderboard_fixtures:SweepAgent{attack}"
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("invalid: agent.reference: control character")
    assert no_terminal_controls(result.output), repr(result.output)


def test_validate_command_prints_rich_markup_in_a_reference_literally(runner, tmp_path, valid):
    data = copy.deepcopy(valid)
    data["agent"]["reference"] = f"leaderboard_fixtures:Sweep{LINK}[bold red]"
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"valid: leaderboard_fixtures:Sweep{LINK}[bold red] on tiny-v0" in result.output


def test_leaderboard_command_prints_markup_in_a_config_literally(runner, tmp_path, valid):
    db = tmp_path / "store.sqlite"
    store = ResultsStore(db)
    store.add(with_config(valid, {"note": LINK, "style": "[reverse]"}))
    store.close()
    result = runner.invoke(app, ["leaderboard", "--db", str(db), "--suite", "tiny-v0"])
    assert result.exit_code == 0, result.output
    assert "[link=https://evil.example]click me[/link]" in result.output
    assert "style=[reverse]" in result.output


def test_tables_escape_control_characters_that_reached_a_store_before_they_were_refused(valid):
    """Rows stored by an older validator are read back without validation: printing them to a
    terminal must still send no escape sequence of theirs, only rich's own colours."""
    data = copy.deepcopy(valid)
    data["agent"]["reference"] = f"lab:Agent{OSC52}{CLEAR}{TITLE}{RESET}{CSI8}"
    data["agent"]["config"] = {"note": LINK}
    old_row = ResultsFile.model_validate(data)  # as the store reads it back: no validation
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="truecolor", width=200)
    print_tables(console, leaderboard_tables([old_row]))
    text = out.getvalue()
    assert "\x1b]" not in text and "\x07" not in text and "\x1bc" not in text and "\x9b" not in text
    assert "\x1b[2J" not in text and "\x1b[H" not in text
    assert "\\x1b]52;c;" in text and LINK in text  # shown, escaped


def test_evaluate_refuses_a_config_the_results_file_could_not_hold_before_playing(runner, tmp_path):
    config = tmp_path / "agent.json"
    config.write_text(json.dumps({"prompt": f"hi{OSC52}"}))
    db = tmp_path / "store.sqlite"
    result = runner.invoke(
        app,
        ["evaluate", "--agent", "leaderboard_fixtures:SweepAgent", "--suite", "tiny-v0"]
        + ["--config", str(config), "--db", str(db)],
    )
    assert result.exit_code == 1, result.output
    assert "error: agent.config.prompt: control character \\x1b at position 2" in result.output
    assert "nothing was written or stored" in result.output
    assert no_terminal_controls(result.output)
    assert ResultsStore(db).count() == 0


def test_evaluate_prints_markup_in_an_agent_reference_literally(runner, tmp_path):
    result = runner.invoke(
        app, ["evaluate", "--agent", "no_such[bold]lab:[link=x]Agent", "--suite", "tiny-v0", "--no-store"]
    )
    assert result.exit_code == 1, result.output
    assert "'no_such[bold]lab:[link=x]Agent'" in result.output


def test_run_prints_markup_in_a_failure_literally(tmp_path):
    out = io.StringIO()
    summary = run_all(
        out_dir=tmp_path / "report",
        db=tmp_path / "store.sqlite",
        baselines=[Baseline("no_such[blink]lab:[link=x]Agent", suite="tiny-v0")],
        progress=False,
        console=Console(file=out, width=200),
    )
    assert len(summary.failures) == 1
    assert "✗ no_such[blink]lab:[link=x]Agent on tiny-v0" in out.getvalue()


def test_progress_bar_prints_markup_in_an_agent_reference_literally(monkeypatch, capsys):
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich then treats stderr as a terminal
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "120")
    evaluate("my_lab:[reverse]Sweep", TINY_SUITE, agent=SweepAgent(), progress=True)
    assert "[reverse]Sweep" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------
# Validator crashes: every one a clean rejection naming the problem


@pytest.mark.parametrize("depth, field", [(100, "x.0.0.0"), (1_000, "file"), (100_000, "file")])
def test_deeply_nested_json_is_refused(depth, field):
    text = '{"format": "icl-bench-results", "x": ' + "[" * depth + "]" * depth + "}"
    rejected(text, field, "nested deeper than 64 levels")


def test_deeply_nested_values_are_refused_naming_where(valid):
    data = copy.deepcopy(valid)
    data["hardware"]["x"] = nested(200, kind="list")
    rejected(json.dumps(data), "hardware.x.0.0", "nested deeper than 64 levels")
    data["hardware"]["x"] = nested(1_000, kind="list")
    rejected(data, "hardware.x.0.0", "nested deeper than 64 levels")  # a dict, not text: no parser limit
    data["hardware"]["x"] = nested(100_000, kind="list")
    rejected(data, "hardware.x.0.0", "nested deeper than 64 levels")


@pytest.mark.parametrize("field", ["agent.config", "hardware"])
@pytest.mark.parametrize("depth", [MAX_FREE_FORM_DEPTH + 1, 60, 255, 300])
def test_free_form_fields_nested_too_deep_to_store_are_refused(tmp_path, valid, field, depth):
    data = with_config(valid, nested(depth)) if field == "agent.config" else copy.deepcopy(valid)
    if field == "hardware":
        data["hardware"] = nested(depth)
    error = rejected(json.dumps(data), field)
    assert "nested" in str(error)
    with pytest.raises(ResultsValidationError):
        ResultsStore(tmp_path / "store.sqlite").add(data)


def test_free_form_fields_as_deep_as_allowed_validate_and_store(tmp_path, valid):
    data = with_config(valid, {"a": nested(MAX_FREE_FORM_DEPTH - 1, kind="list")})
    data["hardware"]["x"] = nested(MAX_FREE_FORM_DEPTH - 1)
    store = ResultsStore(tmp_path / "store.sqlite")
    added = store.add(json.dumps(data))
    assert store.get(added.id).agent.config == data["agent"]["config"]


def test_a_results_object_too_deep_to_serialize_is_refused(valid):
    model = ResultsFile.model_validate(with_config(valid, nested(300)))  # built without the validator
    rejected(model, "agent.config", "nested deeper than 64 levels")


@pytest.mark.parametrize("digits", [310, 4_301, 100_000])
def test_huge_integer_literals_are_refused(valid, digits):
    text = json.dumps(valid).replace('"hardware": {', f'"hardware": {{"x": {"9" * digits}, ', 1)
    rejected(text, "file", f"an integer of {digits} digits")


def test_integers_outside_the_float64_range_are_refused_naming_the_field(valid):
    data = copy.deepcopy(valid)
    data["hardware"]["x"] = 2 * 10**308  # 309 digits: parsed, then refused where it stands
    rejected(json.dumps(data), "hardware.x", "float64 range")
    rejected(data, "hardware.x", "float64 range")
    data["hardware"]["x"] = 10**300
    validate_results(json.dumps(data))  # large, but a float64 can hold it


def test_lone_surrogates_are_refused_before_the_store_sees_them(tmp_path, valid):
    data = copy.deepcopy(valid)
    data["agent"]["reference"] += "\ud800"
    text = json.dumps(data)  # written as the escape \ud800, which json.loads turns into a lone surrogate
    assert "\\ud800" in text
    rejected(text, "agent.reference", "\\ud800")
    with pytest.raises(ResultsValidationError):
        ResultsStore(tmp_path / "store.sqlite").add(text)
    data = copy.deepcopy(valid)
    data["hardware"]["\udc80"] = "x"
    rejected(json.dumps(data), "hardware", "a key holds control character \\udc80")
    emoji = with_config(valid, {"note": "\U0001f600"})  # a proper pair is fine
    validate_results(json.dumps(emoji))


def test_duplicate_keys_are_refused(valid):
    text = json.dumps(valid)
    rejected(
        text.replace('"complete": ', '"complete": false, "complete": ', 1), "file", "duplicate key 'complete'"
    )
    rejected(text.replace('"hardware": {', '"hardware": {"a": 1, "a": 1, ', 1), "file", "duplicate key 'a'")


def test_bytes_must_be_utf8(valid):
    text = json.dumps(valid)
    error = rejected(text.encode("latin-1").replace(b"tiny-v0", b"tiny-v0\xff", 1), "file", "not UTF-8 text")
    assert isinstance(error, UnreadableResultsError)
    rejected(text.encode("utf-16"), "file", "not UTF-8")  # json.loads would have guessed the encoding


@pytest.mark.parametrize(
    "content, code, message",
    [
        # 2: unreadable or not a results file at all
        (b"IQM 97, trust me", 2, "unreadable: file: not valid JSON"),
        (b"\xff\xfe{}", 2, "unreadable: file: not UTF-8 text: invalid start byte at byte 0"),
        (b'{"x": "\xc3"}', 2, "unreadable: file: not UTF-8 text"),
        (b"[1, 2]", 2, "unreadable: file: must hold a JSON object, got list"),
        (b'{"agent": "me"}', 2, "unreadable: format: not an icl-bench results file"),
        (b'{"format": "other"}', 2, "unreadable: format: not an icl-bench results file"),
        # 1: JSON crafted to crash a parser or the store, refused as an invalid file
        (b"[" * 1_000 + b"]" * 1_000, 1, "invalid: file: nested deeper than 64 levels"),
        (
            b'{"format": "icl-bench-results", "x": ' + b"9" * 5_000 + b"}",
            1,
            "invalid: file: an integer of 5000",
        ),
        (b'{"format": "icl-bench-results", "x": "\\ud800"}', 1, "invalid: x: control character \\ud800"),
    ],
)
def test_validate_command_exit_codes_without_a_traceback(runner, tmp_path, content, code, message):
    path = tmp_path / "file.json"
    path.write_bytes(content)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == code, result.output
    assert result.output.startswith(message), result.output
    assert isinstance(result.exception, SystemExit)  # no traceback
    assert "Traceback" not in result.output


def test_validate_command_exits_2_for_a_folder_and_a_file_too_large(runner, tmp_path, monkeypatch, valid):
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 2 and "is not a regular file" in result.output
    path = tmp_path / "results.json"
    path.write_text(json.dumps(valid))
    monkeypatch.setattr(results, "MAX_FILE_BYTES", 1_000)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith("unreadable: file: larger than 1000 bytes")


# ----------------------------------------------------------------------------------------------
# The report: labels are plain text


def test_html_report_draws_labels_holding_math_text_as_plain_text(tmp_path, monkeypatch, valid):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)  # keep the figures to read their labels
    hostile = validate_results(with_config(valid, {"note": r"$\frac{$", "cost": "$5 and $6"}))
    with matplotlib.rc_context({"text.usetex": True}):  # and no TeX run, whatever matplotlibrc says
        index = write_html_report([hostile], tmp_path)
    assert index.exists() and (tmp_path / "scores-tiny-v0.png").exists()
    legend = [t.get_text() for t in figures[0].axes[0].get_legend().get_texts()]
    assert legend == [r"leaderboard_fixtures:SweepAgent(cost=\$5 and \$6, note=\$\frac{\$)"]
    assert for_matplotlib("a$b") == r"a\$b"


def test_markdown_tables_keep_one_cell_per_column(valid):
    hostile = validate_results(with_config(valid, {"note": "a|b`c"}))
    row = markdown_tables([hostile]).splitlines()[-1]
    assert row.startswith(r"| `` leaderboard_fixtures:SweepAgent(note=a\|b`c) `` |")
    # 6 cells: agent, IQM, success (the fixture's entries are games), envs and 2 entries
    assert row.replace(r"\|", "").count("|") == 7


# ----------------------------------------------------------------------------------------------
# Property tests: random and mutated files and strings

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Any code point, lone surrogates and controls included.
ANY_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=12)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([2**63, 10**300, -(10**309), 2**1024])  # a float64 holds the first two only
    | st.floats()
    | ANY_TEXT
    | st.sampled_from(["[link=https://x]y[/link]", OSC52, "$\\frac{$", "ok"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(ANY_TEXT, children, max_size=3),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory):
    store = ResultsStore(tmp_path_factory.mktemp("fuzz") / "store.sqlite")
    yield store
    store.close()


@pytest.fixture(scope="module")
def valid_data() -> dict:
    return json.loads(tiny_results_json())


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*path, i))


def accepted_or_refused(store: ResultsStore, data) -> ResultsFile | None:
    """Validate ``data``: None if refused (with a ResultsValidationError only). If accepted, it must
    be stored, read back unchanged, and print as plain text."""
    try:
        accepted = validate_results(data)
    except ResultsValidationError:
        return None
    assert ResultsFile.model_validate_json(accepted.to_json(indent=None)) == accepted  # what the store does
    added = store.add(accepted)
    assert store.get(added.id).content_hash == accepted.content_hash
    out = io.StringIO()
    print_tables(Console(file=out, width=120), leaderboard_tables([accepted]))
    assert no_terminal_controls(out.getvalue())
    return accepted


@FUZZ
@given(data=st.data())
def test_fuzz_a_value_replaced_anywhere(fuzz_store, valid_data, data):
    target = copy.deepcopy(valid_data)
    paths = [path for path in _paths(target) if path]  # every value but the whole file
    # Half of the draws edit the fields no recomputation covers, which a mutation can leave valid.
    free = [p for p in paths if p[0] in ("agent", "hardware", "versions", "created", "wall_time_s")]
    path = data.draw(st.sampled_from(paths) | st.sampled_from(free), label="path")
    value = data.draw(JSON_VALUES, label="value")
    parent = target
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    if path[:2] == ("agent", "config"):  # keep the hash right, to reach the checks behind it
        target["agent"]["config_hash"] = sha256_of(target["agent"]["config"]) if _hashable(target) else ""
    as_text = data.draw(st.booleans(), label="as text")
    accepted_or_refused(fuzz_store, json.dumps(target) if as_text else target)


def _hashable(data: dict) -> bool:
    try:
        sha256_of(data["agent"]["config"])
    except (ValueError, TypeError, RecursionError):
        return False
    return True


@FUZZ
@given(config=st.dictionaries(ANY_TEXT, JSON_VALUES, max_size=4), hardware=JSON_VALUES)
def test_fuzz_free_form_fields_validate_then_store(fuzz_store, valid_data, config, hardware):
    data = copy.deepcopy(valid_data)
    data["agent"]["config"] = config
    data["agent"]["config_hash"] = sha256_of(config) if _hashable(data) else ""
    data["hardware"] = {"x": hardware}
    accepted = accepted_or_refused(fuzz_store, json.dumps(data))
    clean = all(
        isinstance(v, str) and not CONTROL_CHARACTERS.search(v) for v in _strings([config, hardware])
    ) and all(math.isfinite(v) for v in _numbers([config, hardware]))
    # (config values may also hold tab, newline and carriage return: "clean" is the stricter test)
    if clean:  # every string printable, every number a finite float64: it must be accepted
        assert accepted is not None


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _numbers(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        yield float(value) if abs(value) <= 1.7976931348623157e308 else math.inf
    elif isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item)


@FUZZ
@given(reference=ANY_TEXT | st.sampled_from([OSC52, LINK, RESET]).map(lambda s: f"lab:Agent{s}"))
def test_fuzz_agent_reference(fuzz_store, valid_data, reference):
    data = copy.deepcopy(valid_data)
    data["agent"]["reference"] = reference
    accepted = accepted_or_refused(fuzz_store, json.dumps(data))
    if reference and not CONTROL_CHARACTERS.search(reference):
        assert accepted is not None


@FUZZ
@given(data=st.data())
def test_fuzz_bytes_edited_anywhere(fuzz_store, valid_data, data):
    """Random byte edits of a valid file (and random bytes): refused or accepted, never a crash."""
    content = bytearray(json.dumps(valid_data).encode())
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        at = data.draw(st.integers(0, len(content)), label="at")
        kind = data.draw(st.sampled_from(["insert", "delete", "replace", "truncate"]), label="kind")
        chunk = data.draw(
            st.binary(min_size=1, max_size=8)
            | st.sampled_from([b"[", b"{", b"\\ud800", b"\x1b", b"9" * 400, b'"a": 1, "a": 2, ', b"NaN"]),
            label="bytes",
        )
        if kind == "insert":
            content[at:at] = chunk
        elif kind == "delete":
            del content[at : at + len(chunk)]
        elif kind == "replace":
            content[at : at + len(chunk)] = chunk
        else:
            del content[at:]
    accepted_or_refused(fuzz_store, bytes(content))


@FUZZ
@given(text=st.text(max_size=200) | st.binary(max_size=200))
def test_fuzz_random_text_and_bytes(fuzz_store, text):
    with pytest.raises(ResultsValidationError):
        validate_results(text)


@FUZZ
@given(text=ANY_TEXT | st.sampled_from([OSC52, CLEAR, TITLE, RESET, CSI8, LINK, ":warning: [/]"]))
def test_fuzz_plain_text_reaches_a_terminal_as_itself(text):
    """Whatever string is printed through ``plain``, a terminal receives only rich's own colour
    codes and the string's visible characters: no markup is interpreted, no control sent."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="truecolor", width=1_000)
    console.print(plain(text, "bold"))
    printed = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())  # rich's own SGR codes
    assert printed == visible(text) + "\n"
