"""The standard offline datasets: defined here, built reproducibly by ``icl-bench collect --standard``.

Each game with symbolic observations × {random, eps-optimal:0.3, mixed}, and NumberLine and
Blackjack with image observations × mixed. Seeds are distinct per dataset and far from the suite's
dev seeds (10,000..50,000 and their episodes), so no two datasets replay the same tasks and none
replays an evaluation episode's seed. Episode counts keep the whole set at about a minute on two
CPU cores (most of it Minari writing HDF5; the measured time is in ``docs/datasets.md``):
Blackjack gets more episodes because its returns are noisy (a standard deviation near 1 against a
0.35-wide gap from random to optimal), image datasets fewer because a learner reads their frames.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from baselines.offline.collect import DEFAULT_NUM_ENVS, collect
from baselines.offline.datasets import GAMES, MinariDataset, dataset_id, dataset_path, game_env_id


@dataclass(frozen=True)
class StandardDataset:
    """One standard dataset: what ``collect`` is called with."""

    game: str
    obs_mode: str
    policy: str
    episodes: int
    seed: int
    num_envs: int = DEFAULT_NUM_ENVS

    @property
    def dataset_id(self) -> str:
        return dataset_id(game_env_id(self.game), {"obs_mode": self.obs_mode}, self.policy)

    @property
    def name(self) -> str:
        """The short name ``collect --standard`` accepts: ``numberline-symbolic-mixed``."""
        return f"{self.game.lower()}-{self.obs_mode}-{self.policy.replace(':', '-').replace('.', '_')}"


SYMBOLIC_EPISODES = {"NumberLine": 1000, "EZPoints": 1000, "Points24": 1000, "Blackjack": 3000}
IMAGE_EPISODES = 500
SYMBOLIC_POLICIES = ("random", "eps-optimal:0.3", "mixed")
# Seeds: 1,000,000 apart per dataset, from 1,000,000 (the dev seeds are below 60,000).
_SEED_STRIDE = 1_000_000


def _registry() -> tuple[StandardDataset, ...]:
    datasets = [
        StandardDataset(game, "symbolic", policy, SYMBOLIC_EPISODES[game], 0)
        for game in GAMES
        for policy in SYMBOLIC_POLICIES
    ]
    datasets += [
        StandardDataset(game, "image", "mixed", IMAGE_EPISODES, 0) for game in ("NumberLine", "Blackjack")
    ]
    return tuple(
        StandardDataset(d.game, d.obs_mode, d.policy, d.episodes, (k + 1) * _SEED_STRIDE)
        for k, d in enumerate(datasets)
    )


STANDARD_DATASETS: tuple[StandardDataset, ...] = _registry()


def select_standard(names: Iterable[str] | None = None) -> tuple[StandardDataset, ...]:
    """The standard datasets named by short name or dataset id (all of them for None or empty)."""
    names = list(names or [])
    if not names:
        return STANDARD_DATASETS
    by_name = {d.name: d for d in STANDARD_DATASETS} | {d.dataset_id: d for d in STANDARD_DATASETS}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise ValueError(
            f"unknown standard dataset(s) {unknown}; choose from: {', '.join(d.name for d in STANDARD_DATASETS)}"
        )
    return tuple(dict.fromkeys(by_name[name] for name in names))


def build_standard(
    names: Iterable[str] | None = None,
    *,
    overwrite: bool = False,
    progress: Callable[[StandardDataset, MinariDataset | None, float], None] | None = None,
) -> list[MinariDataset]:
    """Collect the selected standard datasets (see :func:`select_standard`) that do not exist yet
    (all of them with ``overwrite``); ``progress`` is called after each with its definition, the
    dataset (None when it existed and was kept) and the seconds it took."""
    built = []
    for standard in select_standard(names):
        start = time.perf_counter()
        if dataset_path(standard.dataset_id).exists() and not overwrite:
            if progress is not None:
                progress(standard, None, 0.0)
            continue
        dataset = collect(
            standard.game,
            standard.policy,
            standard.episodes,
            obs_mode=standard.obs_mode,
            seed=standard.seed,
            num_envs=standard.num_envs,
            overwrite=overwrite,
        )
        if progress is not None:
            progress(standard, dataset, time.perf_counter() - start)
        built.append(dataset)
    return built
