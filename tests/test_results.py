"""Results files: a valid file passes; every kind of tampering is rejected, naming the field."""

import copy
import json

import pytest
from leaderboard_fixtures import SEEDS, tiny_results_json
from typer.testing import CliRunner

from leaderboard.cli import app
from leaderboard.protocol import sha256_of
from leaderboard.results import ResultsValidationError, validate_results


@pytest.fixture(scope="module")
def valid() -> dict:
    return json.loads(tiny_results_json())


def rejected(data, field_start: str, message: str = "") -> ResultsValidationError:
    with pytest.raises(ResultsValidationError) as caught:
        validate_results(json.dumps(data) if isinstance(data, dict) else data)
    assert caught.value.field.startswith(field_start), str(caught.value)
    assert message in str(caught.value)
    return caught.value


def test_valid_file_passes_and_round_trips(valid):
    results = validate_results(json.dumps(valid))
    assert results.suite == "tiny-v0"
    assert [e.seeds for e in results.entries] == [list(SEEDS)] * 2
    assert validate_results(results.to_json()) == results
    # Aggregates summarise the score matrix: the IQM lies within its own interval.
    iqm = results.aggregates.iqm
    assert iqm.low <= iqm.value <= iqm.high


def test_content_hash_ignores_when_and_where(valid):
    moved = copy.deepcopy(valid)
    moved["wall_time_s"] += 5.0
    moved["created"] = "2030-01-01T00:00:00+00:00"
    moved["hardware"] = {"cpu_count": 1}
    assert validate_results(moved).content_hash == validate_results(valid).content_hash


def test_edited_aggregate_is_rejected(valid):
    data = copy.deepcopy(valid)
    data["aggregates"]["iqm"]["value"] += 0.5
    rejected(data, "aggregates.iqm.value", "recorded")


def test_edited_interval_is_rejected(valid):
    data = copy.deepcopy(valid)
    data["aggregates"]["median"]["high"] += 1e-6
    rejected(data, "aggregates.median.high")


def test_edited_return_is_caught_by_recomputation(valid):
    data = copy.deepcopy(valid)
    data["entries"][1]["returns"][0][3] = 0.0  # a hit turned into a miss, scores left as they were
    rejected(data, "entries.1.mean_return")


def test_extra_seed_is_rejected(valid):
    data = copy.deepcopy(valid)
    entry = data["entries"][0]
    entry["seeds"].append(99_999)
    entry["returns"].append(entry["returns"][0])
    entry["episode_lengths"].append(entry["episode_lengths"][0])
    rejected(data, "entries.0.seeds", "foreign seeds [99999]")


def test_replaced_seed_is_rejected(valid):
    data = copy.deepcopy(valid)
    data["entries"][1]["seeds"][2] = 7
    rejected(data, "entries.1.seeds", "foreign seeds [7]")


def test_wrong_number_of_episodes_is_rejected(valid):
    data = copy.deepcopy(valid)
    data["entries"][0]["returns"][1].pop()
    rejected(data, "entries.0.returns", "rows of 8 episodes")


@pytest.mark.parametrize("field", ["hardware", "aggregates", "suite_hash", "agent"])
def test_missing_field_is_rejected(valid, field):
    data = copy.deepcopy(valid)
    del data[field]
    rejected(data, field, "Field required")


def test_missing_nested_field_is_rejected(valid):
    data = copy.deepcopy(valid)
    del data["entries"][0]["seed_scores"]
    rejected(data, "entries.0.seed_scores", "Field required")


def test_unknown_field_is_rejected(valid):
    data = copy.deepcopy(valid)
    data["bonus_points"] = 10
    rejected(data, "bonus_points", "Extra inputs")


def test_non_finite_number_is_rejected(valid):
    data = copy.deepcopy(valid)
    data["entries"][0]["returns"][2][5] = float("nan")
    text = json.dumps(data)  # writes the JSON literal NaN, which json.loads accepts
    assert "NaN" in text
    rejected(text, "entries.0.returns.2.5", "finite")
    data["entries"][0]["returns"][2][5] = float("inf")
    rejected(data, "entries.0.returns.2.5", "finite")


def test_wrong_type_is_rejected(valid):
    data = copy.deepcopy(valid)
    data["entries"][0]["mean_return"] = "-3.4"
    rejected(data, "entries.0.mean_return", "valid number")
    data = copy.deepcopy(valid)
    data["entries"][1]["episode_lengths"][0][0] = 1.5
    rejected(data, "entries.1.episode_lengths.0.0", "integer")


def test_unknown_suite_and_version_are_rejected(valid):
    data = copy.deepcopy(valid)
    data["suite"] = "tiny-v9"
    rejected(data, "suite", "tiny-v9")
    data = copy.deepcopy(valid)
    data["suite_hash"] = "0" * 64
    rejected(data, "suite_hash")
    data = copy.deepcopy(valid)
    data["references_version"] = 3
    rejected(data, "references_version")
    data = copy.deepcopy(valid)
    data["format_version"] = 2
    rejected(data, "format_version")


def test_config_hash_must_match_config(valid):
    data = copy.deepcopy(valid)
    data["agent"]["config"] = {"lr": 0.1}
    rejected(data, "agent.config_hash")
    data["agent"]["config_hash"] = sha256_of({"lr": 0.1})
    validate_results(data)  # a consistent config is fine


def test_entries_must_follow_the_suite(valid):
    data = copy.deepcopy(valid)
    data["entries"].reverse()
    rejected(data, "entries.1", "order")
    data = copy.deepcopy(valid)
    data["entries"][0]["kwargs"] = {"d": 3}
    rejected(data, "entries.0", "not an entry")


def test_partial_file_must_say_so(valid):
    data = copy.deepcopy(valid)
    data["entries"] = data["entries"][1:]
    rejected(data, "complete")  # aggregates are checked after the flag


def test_test_seed_files_need_the_server(valid):
    data = copy.deepcopy(valid)
    data["seed_set"] = "test"
    rejected(data, "seed_set")


def test_validate_command(tmp_path, valid):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(valid))
    data = copy.deepcopy(valid)
    data["aggregates"]["mean"]["value"] = 100.0
    bad.write_text(json.dumps(data))
    runner = CliRunner()
    result = runner.invoke(app, ["validate", str(good)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "aggregates.mean.value" in result.output
    result = runner.invoke(app, ["validate", str(tmp_path / "missing.json")])
    assert result.exit_code == 2  # unreadable, not an invalid results file
    assert "unreadable: file: no such file" in result.output


@pytest.mark.parametrize(
    "path, value",
    [
        (("agent", "config", "lr"), float("nan")),  # would crash the config hash
        (("hardware", "gpu_memory_gb"), float("inf")),  # the store would write it back as null
        (("entries", 0, "kwargs", "d"), float("-inf")),
    ],
)
def test_non_finite_number_in_free_form_fields_is_rejected(valid, path, value):
    data = copy.deepcopy(valid)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    rejected(json.dumps(data), ".".join(map(str, path)), "finite")


def test_returns_too_large_to_score_are_rejected_naming_the_entry(valid):
    data = copy.deepcopy(valid)
    data["entries"][1]["returns"][0][0] = 1e308  # finite, but 100 · R overflows to infinity
    rejected(data, "entries.1.returns", "cannot be scored")


def test_error_curve_of_the_wrong_size_is_rejected(valid):
    data = copy.deepcopy(valid)
    errors = data["entries"][0]["errors_by_context"]
    data["entries"][0]["errors_by_context"] = [sum(errors)]  # same sum, one value instead of n
    rejected(data, "entries.0.errors_by_context", "has 1 values, expected 4")


def test_overlong_agent_reference_is_rejected(valid):
    data = copy.deepcopy(valid)
    data["agent"]["reference"] = "run:" + "x" * 600
    rejected(data, "agent.reference", "1 to 500 characters")


def test_versions_of_the_core_packages_are_required(valid):
    data = copy.deepcopy(valid)
    del data["versions"]["gymnasium"]
    rejected(data, "versions", "gymnasium")
    data["versions"] = {}
    rejected(data, "versions", "python, numpy, gymnasium, icl-envs")
