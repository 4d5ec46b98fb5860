"""The evaluation protocol: versioned, immutable suites of (env id, kwargs, episodes, seeds).

A *suite* is what a leaderboard score means. Each entry names a registered env (its id carries the
env's version), the keyword arguments it is built with, how many episodes are played per seed and
the public ``dev`` seeds. For each seed ``s`` the harness builds one vector env of ``episodes``
sub-envs and resets it with ``seed=s``, so sub-env ``i`` plays the task of seed ``s + i`` (Gymnasium's
vector seeding). Seeds are spaced 10 000 apart, so no two seeds of a suite share a task as long as an
entry has fewer than 10 000 episodes per seed.

Published suites never change: a change that could change a score is a new suite version
(``core-v1``), and ``tests/test_protocol.py`` pins a hash of each published suite's content.

- ``core-v0``: the in-context regression and MRP envs, and the card games with symbolic observations.
- ``pixels-v0``: the card games as 300×300 RGB frames, for vision agents.
- ``text-v0``: the card games as text, for language agents: actions are strings, parsed by the env's
  text protocol (``icl_envs.cards.text_protocol.TextActions``), and parse failures are counted.
- ``recall-v0``: multi-query associative recall (``icl/AssociativeRecall-v0``, Zoology's MQAR).
- ``vl-v0``: the card games for vision-language agents, the setting of RL4VLM (Zhai et al. 2024):
  each observation is a frame with its text (``obs_mode="multimodal"``), actions are strings read by
  the same text protocol, and parse failures are counted.
- ``icrl-v0``: in-context reinforcement learning across episodes (bandits, Dark Room, Key-to-Door):
  an episode is a trial of sub-episodes on one task, scored by its whole return; results also carry
  the mean return of each sub-episode (the learning curve).

The leaderboard server derives private ``test`` seeds from a suite secret with :func:`test_seeds`;
only the ``dev`` seeds are published.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

#: Public evaluation seeds shared by every entry of the v0 suites.
DEV_SEEDS_V0: tuple[int, ...] = (10_000, 20_000, 30_000, 40_000, 50_000)
#: No entry may play more episodes per seed than this, or seed s + i would reach the next seed.
SEED_SPACING = 10_000


@dataclass(frozen=True)
class SuiteEntry:
    """One env of a suite: built with ``kwargs``, ``episodes`` episodes for each of ``seeds``."""

    env_id: str
    kwargs: Mapping[str, Any]
    episodes: int
    seeds: tuple[int, ...]
    #: Short column label for tables and plots, e.g. "LinReg σ=0.5".
    label: str = ""

    def __post_init__(self) -> None:
        if "/" not in self.env_id or "-v" not in self.env_id:
            raise ValueError(f"env_id must be a versioned id like 'icl/Blackjack-v0', got {self.env_id!r}")
        if not isinstance(self.episodes, int) or not 1 <= self.episodes <= SEED_SPACING:
            raise ValueError(f"episodes must be an integer in [1, {SEED_SPACING}], got {self.episodes!r}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be a non-empty tuple of distinct integers, got {self.seeds!r}")
        # Freeze the kwargs: a suite is immutable, and a dict field could be edited in place.
        object.__setattr__(self, "kwargs", MappingProxyType(dict(self.kwargs)))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        if not self.label:
            object.__setattr__(self, "label", self.env_id.split("/")[-1].rsplit("-v", 1)[0])

    @property
    def key(self) -> str:
        """Identity of an entry across suites: the env id and its canonical kwargs, e.g.
        ``icl/Blackjack-v0{"obs_mode":"symbolic"}``. Normalization references are stored by key."""
        return entry_key(self.env_id, self.kwargs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "env_id": self.env_id,
            "kwargs": dict(self.kwargs),
            "episodes": self.episodes,
            "seeds": list(self.seeds),
            "label": self.label,
        }


def entry_key(env_id: str, kwargs: Mapping[str, Any]) -> str:
    return env_id + canonical_json(dict(kwargs))


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the form every hash in the leaderboard is taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def sha256_of(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


@dataclass(frozen=True)
class Suite:
    """A named, versioned list of entries. ``actions="text"``: agents answer with strings."""

    name: str
    description: str
    entries: tuple[SuiteEntry, ...]
    actions: Literal["native", "text"] = "native"
    published: bool = True
    _by_key: Mapping[str, SuiteEntry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if "-v" not in self.name:
            raise ValueError(f"suite name must carry a version like 'core-v0', got {self.name!r}")
        if self.actions not in ("native", "text"):
            raise ValueError(f"actions must be 'native' or 'text', got {self.actions!r}")
        keys = [entry.key for entry in self.entries]
        if not keys or len(set(keys)) != len(keys):
            raise ValueError(f"suite {self.name} must have at least one entry and no duplicate entries")
        object.__setattr__(self, "_by_key", MappingProxyType(dict(zip(keys, self.entries))))

    def entry(self, key: str) -> SuiteEntry:
        try:
            return self._by_key[key]
        except KeyError:
            raise KeyError(f"suite {self.name} has no entry {key!r}") from None

    def select(self, envs: Iterable[str] | None) -> tuple[SuiteEntry, ...]:
        """The entries whose env id, short name or label is in ``envs`` (all when ``None``)."""
        if envs is None:
            return self.entries
        wanted = list(envs)
        chosen = tuple(e for e in self.entries if _names(e) & set(wanted))
        matched = {name for e in chosen for name in _names(e)}
        unknown = [name for name in wanted if name not in matched]
        if unknown:
            raise ValueError(
                f"envs: {', '.join(map(repr, unknown))} not in suite {self.name}; "
                f"its entries are {', '.join(e.label for e in self.entries)}"
            )
        return chosen

    def content(self) -> dict[str, Any]:
        """Everything that defines the suite's scores, the input of :attr:`content_hash`."""
        return {
            "name": self.name,
            "actions": self.actions,
            "entries": [entry.as_dict() for entry in self.entries],
        }

    @property
    def content_hash(self) -> str:
        return sha256_of(self.content())


def _names(entry: SuiteEntry) -> set[str]:
    """What selects ``entry`` in :meth:`Suite.select`: env id, short name, label or key."""
    return {entry.env_id, entry.env_id.split("/")[-1], entry.label, entry.key}


#: The card and number games: their episodes are won or lost, and a positive return is a win (a
#: hand won, a correct formula, the target reached). Results show their success rate, the metric the
#: card-game literature reports (Zhai et al. 2024). Elsewhere a positive return is no win (a
#: bandit's pulls, a Dark Room's goal rewards), and no success rate is shown.
GAME_ENV_IDS = tuple(f"icl/{name}-v0" for name in ("NumberLine", "EZPoints", "Points24", "Blackjack"))
_WON_BY_A_POSITIVE_RETURN = set(GAME_ENV_IDS)


def register_game(env_id: str) -> None:
    """Count an unpublished env's episodes as won when their return is positive (tests, private
    suites): its entries then show a success rate, as the card games' do."""
    _WON_BY_A_POSITIVE_RETURN.add(env_id)


def is_game(env_id: str) -> bool:
    """Whether a positive return wins an episode of ``env_id`` (the card games, and registered ones)."""
    return env_id in _WON_BY_A_POSITIVE_RETURN


def _games(obs_mode: str, episodes: dict[str, int]) -> tuple[SuiteEntry, ...]:
    """The four card and number games in one observation mode, gym-cards defaults otherwise."""
    return tuple(
        SuiteEntry(
            env_id, {"obs_mode": obs_mode}, episodes[env_id.split("/")[1][: -len("-v0")]], DEV_SEEDS_V0
        )
        for env_id in GAME_ENV_IDS
    )


# Episode counts balance the noise of each entry against the time `icl-bench run` may take on two
# CPU cores: Blackjack's return has a standard deviation near 1 against a 0.35-wide range from random
# to optimal, so it needs the most episodes; frames and text cost more per step than symbols.
CORE_V0 = Suite(
    name="core-v0",
    description="In-context regression and policy evaluation, and the card games with symbolic observations.",
    entries=(
        SuiteEntry("icl/LinearRegression-v0", {}, 200, DEV_SEEDS_V0, label="LinReg"),
        SuiteEntry("icl/LinearRegression-v0", {"noise_std": 0.5}, 200, DEV_SEEDS_V0, label="LinReg σ=0.5"),
        SuiteEntry("icl/SparseRegression-v0", {}, 200, DEV_SEEDS_V0, label="Sparse"),
        SuiteEntry("icl/ReLUNetRegression-v0", {}, 200, DEV_SEEDS_V0, label="ReLUNet"),
        SuiteEntry("icl/DecisionTreeRegression-v0", {}, 200, DEV_SEEDS_V0, label="DecisionTree"),
        SuiteEntry("icl/MRPValue-v0", {}, 500, DEV_SEEDS_V0, label="MRPValue"),
        *_games("symbolic", {"NumberLine": 1000, "EZPoints": 1000, "Points24": 1000, "Blackjack": 5000}),
    ),
)

PIXELS_V0 = Suite(
    name="pixels-v0",
    description="The card games as 300×300 RGB frames, for vision agents.",
    entries=_games("image", {"NumberLine": 40, "EZPoints": 40, "Points24": 40, "Blackjack": 100}),
)

TEXT_V0 = Suite(
    name="text-v0",
    description="The card games as text descriptions; agents answer with action strings.",
    entries=_games("text", {"NumberLine": 40, "EZPoints": 40, "Points24": 40, "Blackjack": 100}),
    actions="text",
)

# Multi-query associative recall (Zoology's MQAR): Zoology's defaults (vocabulary 8192, 8 pairs in 64
# tokens), a longer sequence with more pairs, and uniform query placement. Each episode is 8 or 16
# steps of 0/1 rewards; 500 episodes per seed make an entry's standard error a few points at most.
RECALL_V0 = Suite(
    name="recall-v0",
    description="Multi-query associative recall (MQAR): the value of every queried key from the pairs in context.",
    entries=(
        SuiteEntry("icl/AssociativeRecall-v0", {}, 500, DEV_SEEDS_V0, label="MQAR"),
        SuiteEntry(
            "icl/AssociativeRecall-v0",
            {"num_pairs": 16, "seq_len": 256},
            500,
            DEV_SEEDS_V0,
            label="MQAR L=256",
        ),
        SuiteEntry(
            "icl/AssociativeRecall-v0", {"placement": "uniform"}, 500, DEV_SEEDS_V0, label="MQAR uniform"
        ),
    ),
)


VL_V0 = Suite(
    name="vl-v0",
    description="The card games as frame + text (multimodal) for vision-language agents; agents answer with action strings.",
    entries=_games("multimodal", {"NumberLine": 40, "EZPoints": 40, "Points24": 40, "Blackjack": 100}),
    actions="text",
)


# The bandit with 2 arms and 30 pulls is small enough for the exact Bayes-optimal DP (its 100); the
# default 5-armed bandit is normalized by the oracle that knows the best arm. Trials of the rooms
# are 200 (Dark Room) and up to 500 (Key-to-Door) steps, hence fewer episodes.
ICRL_V0 = Suite(
    name="icrl-v0",
    description="In-context RL across episodes: bandits, Dark Room and Key-to-Door trials, scored by the trial's return.",
    entries=(
        SuiteEntry("icl/Bandit-v0", {}, 200, DEV_SEEDS_V0, label="Bandit"),
        SuiteEntry("icl/Bandit-v0", {"arms": 2, "horizon": 30}, 200, DEV_SEEDS_V0, label="Bandit K=2 H=30"),
        SuiteEntry("icl/DarkRoom-v0", {}, 100, DEV_SEEDS_V0, label="DarkRoom"),
        SuiteEntry("icl/KeyToDoor-v0", {}, 100, DEV_SEEDS_V0, label="KeyToDoor"),
    ),
)


_SUITES: dict[str, Suite] = {
    suite.name: suite for suite in (CORE_V0, PIXELS_V0, TEXT_V0, RECALL_V0, VL_V0, ICRL_V0)
}


def suites() -> dict[str, Suite]:
    """Every known suite by name (the published ones and any registered in this process)."""
    return dict(_SUITES)


def get_suite(name: str) -> Suite:
    try:
        return _SUITES[name]
    except KeyError:
        raise ValueError(f"suite must be one of {', '.join(map(repr, _SUITES))}; got {name!r}") from None


def register_suite(suite: Suite) -> Suite:
    """Make an unpublished suite known in this process (tests, private experiments).

    Published names cannot be replaced: their content is frozen.
    """
    if suite.published:
        raise ValueError(f"suite {suite.name}: only unpublished suites (published=False) can be registered")
    existing = _SUITES.get(suite.name)
    if existing is not None and existing.published:
        raise ValueError(f"suite {suite.name} is published and cannot be replaced")
    _SUITES[suite.name] = suite
    return suite


def test_seeds(suite: Suite, secret: bytes, count: int | None = None) -> tuple[int, ...]:
    """Private evaluation seeds derived from the server's suite secret (never published).

    Seeds are multiples of :data:`SEED_SPACING` drawn from the secret's hash, far from the dev seeds.
    """
    if not secret:
        raise ValueError("secret must be a non-empty byte string")
    count = len(suite.entries[0].seeds) if count is None else count
    seeds: list[int] = []
    counter = 0
    while len(seeds) < count:
        digest = hashlib.sha256(secret + suite.name.encode() + counter.to_bytes(4, "big")).digest()
        seed = (int.from_bytes(digest[:4], "big") % 100_000 + 1_000) * SEED_SPACING
        if seed not in seeds:
            seeds.append(seed)
        counter += 1
    return tuple(seeds)


test_seeds.__test__ = False  # a protocol function, not a pytest test, despite its name
