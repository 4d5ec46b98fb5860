"""Seed sets: public dev seeds can be memorised, held-out test seeds from a secret cannot; a test
file is verified with the secret of its test set, and a new secret is a new, distinguishable set."""

from __future__ import annotations

import json

import pytest
from leaderboard_fixtures import TINY_SUITE
from typer.testing import CliRunner

from leaderboard.cli import app
from leaderboard.harness import evaluate
from leaderboard.protocol import CORE_V0, DEV_SEEDS_V0, test_seeds
from leaderboard.report import leaderboard_tables, markdown_tables
from leaderboard.results import ResultsValidationError, UnverifiableResultsError, validate_results
from leaderboard.seed_sets import MIN_SECRET_BYTES, SecretError, read_secret, test_set_id
from leaderboard.store import ResultsStore

SECRET = b"tests: the secret of the memorising-agent test"
OLD_SECRET = b"tests: a secret rotated out, whose files stay verifiable"


@pytest.fixture(scope="module")
def tiny_test() -> str:
    return evaluate("leaderboard_fixtures:SweepAgent", TINY_SUITE, progress=False, secret=SECRET).to_json()


@pytest.fixture(scope="module")
def tiny_old_test() -> str:
    return evaluate(
        "leaderboard_fixtures:SweepAgent", TINY_SUITE, progress=False, secret=OLD_SECRET
    ).to_json()


def test_memorised_dev_seeds_beat_the_optimum_and_test_seeds_show_the_honest_learner():
    """The audit's cheat: the agent replays the public dev seeds and recognises each task by its
    first query. On dev seeds it scores far above 100 (the Bayes optimum), with an interval that no
    honest learner's can have; on test seeds it plays exactly as the honest learner it falls back on."""
    envs = ["LinReg", "LinReg σ=0.5"]
    dev = evaluate("memorising_agent:MemorisingAgent", "core-v0", envs=envs, progress=False)
    test = evaluate("memorising_agent:MemorisingAgent", "core-v0", envs=envs, progress=False, secret=SECRET)
    honest = evaluate(
        "baselines.classic.regression:Ridge", "core-v0", envs=envs, progress=False, secret=SECRET
    )
    assert [round(e.normalized_score.value, 1) for e in dev.entries] == [117.6, 133.1]  # the audit's figures
    assert all(e.normalized_score.low > 100 for e in dev.entries)
    assert (dev.seed_set, dev.test_set) == ("dev", None)
    assert (test.seed_set, test.test_set) == ("test", test_set_id(SECRET))
    for cheat, learner in zip(test.entries, honest.entries):
        assert cheat.seeds == list(test_seeds(CORE_V0, SECRET)) != list(DEV_SEEDS_V0)
        assert cheat.returns == learner.returns  # not one test task was recognised
        assert cheat.normalized_score.value < 100 and cheat.normalized_score.low < 100
    validate_results(test.to_json(), secrets=[SECRET])


def test_test_file_records_its_set_and_validates_with_its_secret(tiny_test):
    results = validate_results(tiny_test, secrets=[SECRET])
    assert results.seed_set == "test" and results.test_set == test_set_id(SECRET) == results.seed_set_id
    assert results.test_set.startswith("test-") and len(results.test_set) == 13
    for entry in results.entries:
        assert entry.seeds == list(test_seeds(TINY_SUITE, SECRET, len(TINY_SUITE.entries[0].seeds)))
        assert not set(entry.seeds) & set(TINY_SUITE.entries[0].seeds)


def test_test_file_without_the_secret_cannot_be_verified(tiny_test):
    with pytest.raises(UnverifiableResultsError, match=f"test set {test_set_id(SECRET)} cannot be verified"):
        validate_results(tiny_test)
    # Everything checkable without the secret is still checked first: a broken file is invalid.
    data = json.loads(tiny_test)
    data["aggregates"]["iqm"]["value"] += 1.0
    with pytest.raises(ResultsValidationError) as caught:
        validate_results(json.dumps(data))
    assert not isinstance(caught.value, UnverifiableResultsError)
    assert caught.value.field == "aggregates.iqm.value"


def test_test_file_with_another_secret_is_invalid(tiny_test):
    with pytest.raises(ResultsValidationError, match="scored on test set") as caught:
        validate_results(tiny_test, secrets=[OLD_SECRET])
    assert not isinstance(caught.value, UnverifiableResultsError)
    assert caught.value.field == "test_set"


def test_test_file_whose_seeds_are_not_its_sets_is_invalid(tiny_test):
    """A file that names the right test set but played other seeds (the dev ones, say)."""
    dev = json.loads(evaluate("leaderboard_fixtures:SweepAgent", TINY_SUITE, progress=False).to_json())
    dev["seed_set"], dev["test_set"] = "test", test_set_id(SECRET)
    with pytest.raises(ResultsValidationError, match="the seeds of test set") as caught:
        validate_results(json.dumps(dev), secrets=[SECRET])
    assert caught.value.field == "entries.0.seeds"


@pytest.mark.parametrize(
    "seed_set, test_set, message",
    [
        ("test", None, "a test file names its test set"),
        ("test", "test-XYZ", "a test file names its test set"),
        ("dev", "test-0123abcd", "a dev file names no test set"),
    ],
)
def test_seed_set_and_test_set_must_agree(tiny_test, seed_set, test_set, message):
    data = json.loads(tiny_test)
    data["seed_set"], data["test_set"] = seed_set, test_set
    with pytest.raises(ResultsValidationError, match=message) as caught:
        validate_results(json.dumps(data), secrets=[SECRET])
    assert caught.value.field == "test_set"


def test_a_file_written_before_test_sets_still_reads():
    data = json.loads(evaluate("leaderboard_fixtures:SweepAgent", TINY_SUITE, progress=False).to_json())
    assert data.pop("test_set") is None
    assert validate_results(json.dumps(data)).seed_set_id == "dev"


def test_rotated_secrets_are_distinct_sets_each_verified_by_its_own(tiny_test, tiny_old_test):
    new, old = (
        validate_results(tiny_test, secrets=[SECRET]),
        validate_results(tiny_old_test, secrets=[OLD_SECRET]),
    )
    assert new.test_set != old.test_set
    assert new.entries[0].seeds != old.entries[0].seeds
    both = [SECRET, OLD_SECRET]  # an operator keeps the old secrets: each file picks its own
    assert validate_results(tiny_test, secrets=both) == new
    assert validate_results(tiny_old_test, secrets=both) == old


def test_store_needs_the_secret_and_shows_dev_and_test_apart(tmp_path, tiny_test):
    store = ResultsStore(tmp_path / "store.sqlite")
    with pytest.raises(UnverifiableResultsError):
        store.add(tiny_test)
    store.add(tiny_test, secrets=[SECRET])
    store.add(evaluate("leaderboard_fixtures:SweepAgent", TINY_SUITE, progress=False))
    latest = store.latest("tiny-v0")
    assert sorted(r.seed_set_id for r in latest) == ["dev", test_set_id(SECRET)]  # not one hiding the other
    titles = [str(table.title) for table in leaderboard_tables(latest)]
    assert titles[0].startswith("tiny-v0 — ") and titles[1].startswith(
        f"tiny-v0, test set {test_set_id(SECRET)}"
    )
    assert f"### tiny-v0, test set {test_set_id(SECRET)}" in markdown_tables(latest)


# --- The command line -------------------------------------------------------------------------


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "secret"
    path.write_bytes(SECRET)
    return path


def test_evaluate_on_test_seeds_then_validate(runner, tmp_path, secret_file):
    out, db = tmp_path / "test.json", tmp_path / "store.sqlite"
    arguments = ["--agent", "leaderboard_fixtures:SweepAgent", "--suite", "tiny-v0", "--out", str(out)]
    result = runner.invoke(
        app,
        ["evaluate", *arguments, "--db", str(db), "--seed-set", "test", "--secret-file", str(secret_file)],
    )
    assert result.exit_code == 0, result.output
    assert "stored as #1" in result.output and f"test set {test_set_id(SECRET)}" in result.output
    assert json.loads(out.read_text())["test_set"] == test_set_id(SECRET)

    valid = runner.invoke(app, ["validate", str(out), "--secret-file", str(secret_file)])
    assert valid.exit_code == 0, valid.output
    assert valid.output.startswith("valid: ")
    assert f"test set {test_set_id(SECRET)}, IQM" in " ".join(valid.output.split())

    unverifiable = runner.invoke(app, ["validate", str(out)])
    assert unverifiable.exit_code == 3, unverifiable.output
    assert unverifiable.output.startswith("unverifiable: seed_set: test seeds of test set")
    assert "--secret-file" in unverifiable.output

    other = tmp_path / "other-secret"
    other.write_bytes(OLD_SECRET)
    wrong = runner.invoke(app, ["validate", str(out), "--secret-file", str(other)])
    assert wrong.exit_code == 1, wrong.output
    assert wrong.output.startswith("invalid: test_set: the file was scored on test set")
    # Both secrets (the current and a rotated-out one): the file's own is used.
    both = runner.invoke(
        app, ["validate", str(out), "--secret-file", str(other), "--secret-file", str(secret_file)]
    )
    assert both.exit_code == 0, both.output


@pytest.mark.parametrize(
    "options, content, message",
    [
        (["--seed-set", "test"], None, "--seed-set test needs --secret-file"),
        (["--secret-file", "SECRET"], SECRET, "--seed-set test needs --secret-file, and only it does"),
        (["--seed-set", "held-out"], None, "--seed-set must be 'dev' or 'test'"),
        (["--seed-set", "test", "--secret-file", "SECRET"], None, "cannot be read"),
        (["--seed-set", "test", "--secret-file", "SECRET"], b"", "is empty"),
        (["--seed-set", "test", "--secret-file", "SECRET"], b"hunter2\n", "holds 8 bytes"),
    ],
)
def test_evaluate_refuses_a_bad_seed_set_or_secret_before_playing(
    runner, tmp_path, options, content, message
):
    path = tmp_path / "secret"
    if content is not None:
        path.write_bytes(content)
    options = [str(path) if option == "SECRET" else option for option in options]
    out = tmp_path / "out.json"
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--agent",
            "leaderboard_fixtures:SweepAgent",
            "--suite",
            "tiny-v0",
            "--no-store",
            "--out",
            str(out),
            *options,
        ],
    )
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and message in " ".join(result.output.split())
    assert not out.exists()


def test_validate_refuses_an_unusable_secret_file(runner, tmp_path, tiny_test):
    results = tmp_path / "test.json"
    results.write_text(tiny_test)
    result = runner.invoke(app, ["validate", str(results), "--secret-file", str(tmp_path / "missing")])
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert output.startswith("error: --secret-file: secret file") and "cannot be read: No such file" in output


def test_read_secret_keeps_the_bytes_as_they_are(tmp_path):
    path = tmp_path / "secret"
    path.write_bytes(b"\x00\xff" * 8 + b"\n")  # any bytes, a trailing newline included
    assert read_secret(path) == b"\x00\xff" * 8 + b"\n"
    path.write_bytes(b"x" * (MIN_SECRET_BYTES - 1))
    with pytest.raises(SecretError, match=f"a secret has at least {MIN_SECRET_BYTES}"):
        read_secret(path)
    with pytest.raises(SecretError, match="cannot be read"):
        read_secret(tmp_path)  # a folder


def test_dev_evaluations_are_unchanged():
    """The dev seed set is the suite's own seeds, as before test sets existed."""
    dev = evaluate("leaderboard_fixtures:SweepAgent", TINY_SUITE, progress=False)
    assert [e.seeds for e in dev.entries] == [list(e.seeds) for e in TINY_SUITE.entries]
    assert dev.seed_set == "dev" and dev.test_set is None
    assert validate_results(dev.to_json()) == dev
