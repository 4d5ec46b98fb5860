"""Results files: a valid file passes; every kind of tampering is rejected, naming the field."""

import copy
import json

import numpy as np
import pytest
from leaderboard_fixtures import SEEDS, tiny_results_json
from typer.testing import CliRunner

from leaderboard.cli import app
from leaderboard.harness import EntryRun
from leaderboard.protocol import CORE_V0, sha256_of
from leaderboard.results import ResultsValidationError, build_results, validate_results
from leaderboard.seed_sets import test_set_id


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


def test_test_seed_files_need_their_secret(valid):
    """A dev file relabelled as a test file: unverifiable without a secret, invalid with one (the
    seeds are the dev seeds, not the set's); tests/test_seed_sets.py covers real test files."""
    data = copy.deepcopy(valid)
    data["seed_set"], data["test_set"] = "test", test_set_id(b"a secret of sixteen bytes or more")
    rejected(data, "seed_set", "cannot be verified without the secret")
    with pytest.raises(ResultsValidationError, match="foreign seeds"):
        validate_results(json.dumps(data), secrets=[b"a secret of sixteen bytes or more"])


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
    entry = data["entries"][0]  # regression: a return may be any number <= 0
    entry["returns"][0][0] = -1e308  # finite, but 100 · R overflows to -infinity
    entry["errors_by_context"][0] += 1e308 / 24  # the error curve still adds up to the mean return
    rejected(data, "entries.0.returns", "cannot be scored")


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


# --- Episodes the env cannot produce (icl_envs/bounds.py) --------------------------------------


def forged(label: str, returns, lengths, errors_by_context=None) -> str:
    """A core-v0 results file of one entry whose every derived number and aggregate is recomputed
    from the given returns by the project's own code: only the returns themselves can give it away."""
    entry = CORE_V0.select([label])[0]
    shape = (len(entry.seeds), entry.episodes)
    run = EntryRun(
        entry=entry,
        returns=np.broadcast_to(np.asarray(returns, dtype=np.float64), shape).copy(),
        lengths=np.broadcast_to(np.asarray(lengths, dtype=np.int64), shape).copy(),
        errors_by_context=None if errors_by_context is None else np.asarray(errors_by_context),
        parse_failures=None,
        wall_time_s=1.0,
    )
    versions = {"python": "3", "numpy": "2", "gymnasium": "1", "icl-envs": "0.1.0"}
    return build_results(
        suite=CORE_V0,
        runs=[run],
        agent_reference="forger:Agent",
        agent_config={},
        wall_time_s=1.0,
        versions=versions,
        hardware={},
    ).to_json()


def test_every_blackjack_hand_paying_the_most_there_is_validates():
    """The forging helper makes valid files: +1 on every hand is improbable, not impossible."""
    results = validate_results(forged("Blackjack", 1.0, 1))
    assert results.entries[0].normalized_score.value > 300


def test_blackjack_hands_paying_one_and_a_half_are_rejected():
    """The audit's file: every hand +1.5 (only a natural with natural=True pays that), every aggregate
    recomputed; it was accepted with a score of 542.7."""
    error = rejected(forged("Blackjack", 1.5, 1), "entries.0.returns.0.0")
    assert str(error) == (
        "entries.0.returns.0.0: Blackjack (seed 10000, episode 0) returns 1.5; an episode returns from -1 to 1"
    )


def test_numberline_return_of_two_is_rejected():
    returns = np.zeros((5, 1000))
    returns[3, 17] = 2.0  # +1 is paid once, on reaching the target, which ends the episode
    rejected(
        forged("NumberLine", returns, 2), "entries.0.returns.3.17", "seed 40000, episode 17) returns 2.0"
    )


def test_return_that_no_sum_of_step_rewards_makes_is_rejected():
    returns = np.ones((5, 1000))
    returns[0, 5] = 0.5  # NumberLine pays -1, 0 or +1 per step
    rejected(forged("NumberLine", returns, 3), "entries.0.returns.0.5", "no sum of 3 step rewards")


def test_regression_return_above_zero_is_rejected():
    """One episode returns +5, a negative squared error, hidden in a mean that stays negative and
    an error curve that is non-negative and adds up to it."""
    returns = np.full((5, 200), -50.0)
    returns[1, 2] = 5.0
    curve = np.full(20, -returns.mean() / 20)
    rejected(
        forged("LinReg", returns, 20, curve),
        "entries.0.returns.1.2",
        "returns 5.0; an episode returns from -inf to 0",
    )


@pytest.mark.parametrize(
    "label, length, steps", [("LinReg", 19, "exactly 20"), ("Blackjack", 21, "from 1 to 20")]
)
def test_wrong_episode_length_is_rejected(label, length, steps):
    entry = CORE_V0.select([label])[0]
    lengths = np.full((5, entry.episodes), 20 if label == "LinReg" else 1)
    lengths[4, 0] = length
    returns, curve = (-30.0, np.full(20, 1.5)) if label == "LinReg" else (0.0, None)
    rejected(
        forged(label, returns, lengths, curve),
        "entries.0.episode_lengths.4.0",
        f"an episode lasts {steps} steps",
    )


def test_in_context_entry_without_its_error_curve_is_rejected():
    rejected(
        forged("LinReg", -30.0, 20), "entries.0.errors_by_context", "records its mean error at each step"
    )
    validate_results(forged("LinReg", -30.0, 20, np.full(20, 1.5)))  # with it, the same file is valid


def test_error_curve_of_a_game_is_rejected(valid):
    data = copy.deepcopy(valid)
    data["entries"][1]["errors_by_context"] = [0.0]
    rejected(data, "entries.1.errors_by_context", "only in-context entries")
