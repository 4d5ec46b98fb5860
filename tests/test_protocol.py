"""Published suites never change, and their normalization references are what project code computes."""

import math
from dataclasses import FrozenInstanceError

import pytest

from leaderboard.compute_references import compute_reference, sources_for
from leaderboard.protocol import (
    CORE_V0,
    DEV_SEEDS_V0,
    SEED_SPACING,
    Suite,
    SuiteEntry,
    get_suite,
    register_suite,
    suites,
    test_seeds,
)
from leaderboard.references import published_references, reference_for

# A published suite is frozen: if one of these fails, publish a new version (core-v1) instead.
PUBLISHED_HASHES = {
    "core-v0": "be01cea0302d075eb1d50edb61f48819a0e15abd3ecbc3ec4b8e4c661c3f553e",
    "pixels-v0": "0b12bc56cdc92be421d5a253a79392501109960f1b4d47186edb2070d7b6d4c9",
    "text-v0": "44c5e8b32bc0d95e00bc12ea941370eb8311b19334c5f6358eb6d88016fb5878",
    "recall-v0": "a3716941b964283e685e256fd38e8ae86eeae1e74c40dca656d006ddf411ca17",
    "vl-v0": "af2a3d828b34956e45b9af4702d44b0b7291a7f595789590a57b2235103b11ba",
    "icrl-v0": "0227af70cd8929887aa0f9e8c2dbb145f180dbd1974e4afbfb629ac4935dc4a9",
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_HASHES))
def test_published_suite_content_is_frozen(name):
    assert get_suite(name).content_hash == PUBLISHED_HASHES[name]


def test_published_suites_are_exactly_these():
    assert sorted(n for n, s in suites().items() if s.published) == sorted(PUBLISHED_HASHES)


def test_suites_cover_the_envs_in_the_right_modes():
    core = {e.env_id for e in CORE_V0.entries}
    assert {"icl/LinearRegression-v0", "icl/MRPValue-v0", "icl/Blackjack-v0", "icl/Points24-v0"} <= core
    for name, mode in (
        ("core-v0", "symbolic"),
        ("pixels-v0", "image"),
        ("text-v0", "text"),
        ("vl-v0", "multimodal"),
    ):
        games = [e for e in get_suite(name).entries if "Regression" not in e.env_id and "MRP" not in e.env_id]
        assert len(games) == 4
        assert all(e.kwargs["obs_mode"] == mode for e in games)
    assert get_suite("text-v0").actions == "text" and get_suite("vl-v0").actions == "text"


def test_seeds_never_overlap():
    for suite in suites().values():
        for entry in suite.entries:
            assert entry.episodes <= SEED_SPACING
            assert all(b - a >= SEED_SPACING for a, b in zip(entry.seeds, entry.seeds[1:]))
    assert CORE_V0.entries[0].seeds == DEV_SEEDS_V0


def test_suites_are_immutable():
    entry = CORE_V0.entries[0]
    with pytest.raises(FrozenInstanceError):
        entry.episodes = 1
    with pytest.raises(TypeError):
        entry.kwargs["noise_std"] = 1.0  # a read-only mapping
    with pytest.raises(ValueError, match="published"):
        register_suite(CORE_V0)
    with pytest.raises(ValueError, match="cannot be replaced"):
        register_suite(Suite("core-v0", "x", CORE_V0.entries, published=False))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"env_id": "Blackjack"}, "env_id must be a versioned id"),
        ({"episodes": 0}, "episodes must be"),
        ({"episodes": SEED_SPACING + 1}, "episodes must be"),
        ({"seeds": ()}, "seeds must be"),
        ({"seeds": (1, 1)}, "seeds must be"),
    ],
)
def test_bad_entries_are_rejected(kwargs, message):
    arguments = {"env_id": "icl/Blackjack-v0", "kwargs": {}, "episodes": 10, "seeds": (0,)} | kwargs
    with pytest.raises(ValueError, match=message):
        SuiteEntry(**arguments)


def test_selection_by_id_short_name_or_label():
    assert [e.label for e in CORE_V0.select(["Blackjack"])] == ["Blackjack"]
    assert len(CORE_V0.select(["icl/LinearRegression-v0"])) == 2
    assert [e.label for e in CORE_V0.select(["LinReg σ=0.5", "MRPValue-v0"])] == ["LinReg σ=0.5", "MRPValue"]
    with pytest.raises(ValueError, match="'Chess' not in suite core-v0"):
        CORE_V0.select(["Chess"])
    with pytest.raises(ValueError, match="suite must be one of"):
        get_suite("core-v7")


def test_private_test_seeds():
    first = test_seeds(CORE_V0, b"server secret")
    assert first == test_seeds(CORE_V0, b"server secret")
    assert first != test_seeds(CORE_V0, b"another secret")
    assert len(first) == len(DEV_SEEDS_V0) and not set(first) & set(DEV_SEEDS_V0)
    assert all(seed % SEED_SPACING == 0 for seed in first)
    with pytest.raises(ValueError, match="secret"):
        test_seeds(CORE_V0, b"")


# --- Normalization references ------------------------------------------------------------------


def test_every_published_entry_has_references():
    references = published_references()
    for suite in suites().values():
        for entry in suite.entries if suite.published else ():
            reference = references[entry.key]
            assert math.isfinite(reference.r_random) and math.isfinite(reference.r_reference)
            assert reference.r_reference > reference.r_random  # 100 is better than 0
            assert reference.random_method and reference.reference_method
    with pytest.raises(KeyError, match="no normalization reference"):
        reference_for('icl/Blackjack-v0{"sab":true}')


def test_hand_checked_references():
    linear = reference_for(CORE_V0.entries[0])
    # Zero predictor: n · tr(I) = 20 · 5; Bayes without noise: Σ_t max(d − t, 0) = 5+4+3+2+1.
    assert (linear.r_random, linear.r_reference) == (-100.0, -15.0)
    sparse = reference_for(CORE_V0.select(["Sparse"])[0])
    assert (sparse.r_random, sparse.r_reference) == (-60.0, -6.0)  # k = 3: E[y²] = 3; 3+2+1
    points = reference_for(CORE_V0.select(["Points24"])[0])
    assert points.r_reference == pytest.approx(11 * 20876 / 28561 - 1, rel=1e-12)


def _distinct_sources():
    """Each (sources, kwargs that reach them) once: modes share one computation where they agree."""
    seen = {}
    for suite in suites().values():
        for entry in suite.entries if suite.published else ():
            sources = sources_for(entry)
            seen.setdefault((repr(sources), entry.env_id, entry.kwargs.get("obs_mode")), (entry, sources))
    return list(seen.values())


@pytest.mark.parametrize("entry, sources", _distinct_sources(), ids=lambda value: getattr(value, "key", ""))
def test_references_recomputed_match_the_frozen_file(entry, sources):
    """Exact values must match to float precision; Monte Carlo ones are recomputed with fewer samples
    on another seed and must agree within 5 combined standard errors (plus 1e-3 of the score range,
    for estimates whose sample showed no spread at all)."""
    frozen = reference_for(entry)
    fresh = compute_reference(entry, sources, quick=True)
    anchors = (
        (frozen.random_method, frozen.r_random, frozen.random_stderr, fresh.r_random, fresh.random_stderr),
        (
            frozen.reference_method,
            frozen.r_reference,
            frozen.reference_stderr,
            fresh.r_reference,
            fresh.reference_stderr,
        ),
    )
    for method, value, error, fresh_value, fresh_error in anchors:
        if "Monte Carlo" not in method:
            assert error == 0.0 and fresh_error == 0.0
            assert fresh_value == pytest.approx(value, rel=1e-12, abs=1e-12), method
        else:
            tolerance = 5 * math.hypot(error, fresh_error) + 1e-3 * (frozen.r_reference - frozen.r_random)
            assert abs(fresh_value - value) <= tolerance, method


def test_an_env_without_reference_sources_is_refused():
    entry = SuiteEntry("icl/Chess-v0", {}, 10, (0,))
    with pytest.raises(KeyError, match="no reference sources for icl/Chess-v0"):
        sources_for(entry)
