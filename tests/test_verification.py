"""``icl-bench verify``: a stored dev-seed submission re-scored on the held-out test seeds, isolated.

An honest learner scores the same on seeds it has never seen and is verified; the agent that
remembers the public dev tasks (memorising_agent.py) scores above any honest learner on dev and
like one on test, and is flagged. The secret is never printed, and nothing of the test evaluation
(its seeds) reaches the API or the pages.
"""

from __future__ import annotations

import pytest
from server_helpers import make_server
from typer.testing import CliRunner

from baselines.classic.regression import Ridge
from leaderboard.cli import app
from leaderboard.harness import evaluate
from leaderboard.protocol import CORE_V0, test_seeds
from leaderboard.seed_sets import test_set_id
from leaderboard.server.settings import SECRET_FILES_ENV
from leaderboard.store import ResultsStore
from leaderboard.verification import VerificationError, agree, verify

SECRET = b"tests: the secret of the verification test"
ENVS = ["LinReg"]


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A store with three dev-seed submissions on core-v0's LinReg: honest, memorising, and one
    whose agent reference cannot be imported here; and the secret's file."""
    folder = tmp_path_factory.mktemp("verify")
    db = str(folder / "store.sqlite")
    store = ResultsStore(db)
    ids = {
        "honest": evaluate("baselines.classic.regression:Ridge", "core-v0", envs=ENVS, progress=False),
        "memorising": evaluate("memorising_agent:MemorisingAgent", "core-v0", envs=ENVS, progress=False),
        "missing": evaluate(
            "agent_not_installed_here:Agent", "core-v0", envs=ENVS, agent=Ridge(), progress=False
        ),
    }
    ids = {name: store.add(results).id for name, results in ids.items()}
    store.close()
    secret_file = folder / "secret"
    secret_file.write_bytes(SECRET)
    return db, ids, str(secret_file)


def _verify(stored, name, *options, submission_id=None):
    db, ids, secret_file = stored
    target = str(submission_id if submission_id is not None else ids[name])
    return CliRunner().invoke(app, ["verify", target, "--db", db, "--secret-file", secret_file, *options])


def test_an_honest_learner_is_verified_and_its_page_says_so(stored):
    result = _verify(stored, "honest")
    assert result.exit_code == 0, result.output
    assert "verified" in result.output and f"on test set {test_set_id(SECRET)}" in result.output
    assert SECRET.decode() not in result.output

    db, ids, _ = stored
    store = ResultsStore(db)
    status, test_iqm, _ = store.verifications(ids["honest"])[-1]
    assert status == "verified"
    dev_iqm = store.get(ids["honest"]).aggregates.iqm
    assert test_iqm != (dev_iqm.value, dev_iqm.low, dev_iqm.high)  # another set of seeds was played

    server = make_server(db)
    api = server.client.get(f"/api/v1/submissions/{ids['honest']}")
    page = server.client.get(f"/submissions/{ids['honest']}").text
    board = server.client.get("/leaderboard/core-v0").text
    assert api.json()["status"] == "verified" and 'class="badge badge-verified"' in page + board
    for shown in (api.text, page, board):  # neither the secret nor the test seeds it derives
        assert SECRET.decode() not in shown
        assert all(
            f'"{seed}"' not in shown and f">{seed}<" not in shown for seed in test_seeds(CORE_V0, SECRET, 5)
        )


def test_the_memorising_agent_is_flagged(stored):
    result = _verify(stored, "memorising")
    assert result.exit_code == 3, result.output
    assert "flagged" in result.output
    db, ids, _ = stored
    store = ResultsStore(db)
    status, (_, _, high), _ = store.verifications(ids["memorising"])[-1]
    assert status == "flagged" and high < store.get(ids["memorising"]).aggregates.iqm.low


def test_an_agent_that_cannot_be_imported_here_is_a_clear_error(stored):
    result = _verify(stored, "missing")
    assert result.exit_code == 2, result.output
    print(result.output)
    output = " ".join(result.output.split())  # the console wraps long lines
    assert "cannot be verified here" in output and "agent_not_installed_here" in output
    db, ids, _ = stored
    assert ResultsStore(db).verifications(ids["missing"]) == []


def test_an_unknown_id_is_a_clear_error(stored):
    result = _verify(stored, None, submission_id=999)
    assert result.exit_code == 2, result.output
    assert "no submission with id 999" in result.output


def test_a_missing_or_unusable_secret_is_a_clear_error(stored, tmp_path, monkeypatch):
    db, ids, _ = stored
    monkeypatch.delenv(SECRET_FILES_ENV, raising=False)
    missing = CliRunner().invoke(app, ["verify", str(ids["honest"]), "--db", db])
    assert missing.exit_code == 2, missing.output
    output = " ".join(missing.output.split())
    assert "needs the test set's secret" in output and SECRET_FILES_ENV in output

    short = tmp_path / "short"
    short.write_bytes(b"hunter2")
    monkeypatch.setenv(SECRET_FILES_ENV, str(short))  # the server's configuration is the default
    unusable = CliRunner().invoke(app, ["verify", str(ids["honest"]), "--db", db])
    assert unusable.exit_code == 2, unusable.output
    assert "holds 7 bytes" in " ".join(unusable.output.split()) and "hunter2" not in unusable.output


def test_a_test_seed_submission_is_not_verified_again(tmp_path):
    store = ResultsStore(str(tmp_path / "store.sqlite"))
    test = evaluate("baselines.classic.regression:Ridge", "core-v0", envs=ENVS, progress=False, secret=SECRET)
    submission_id = store.add(test, secrets=[SECRET]).id
    with pytest.raises(VerificationError, match="was scored on test set"):
        verify(store, submission_id, SECRET, progress=False)


@pytest.mark.parametrize(
    "dev, test, expected",
    [
        ((90, 95), (94, 99), True),
        ((90, 95), (95, 99), True),
        ((90, 95), (95.1, 99), False),
        ((117, 117), (97, 101), False),
    ],
)
def test_scores_agree_when_their_intervals_overlap(dev, test, expected):
    from leaderboard.results import Interval

    def interval(low_high):
        return Interval(value=sum(low_high) / 2, low=low_high[0], high=low_high[1])

    assert agree(interval(dev), interval(test)) is expected
    assert agree(interval(test), interval(dev)) is expected
