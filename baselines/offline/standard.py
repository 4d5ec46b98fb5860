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

from baselines.offline.collect import (
    DEFAULT_BLOCK_EPISODES,
    DEFAULT_NUM_ENVS,
    Collection,
    collect_all,
    plan_collection,
)
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

    def plan(self, overwrite: bool = False) -> Collection:
        """What ``collect`` is called with, checked (:func:`baselines.offline.collect.plan_collection`)."""
        return plan_collection(
            self.game,
            self.policy,
            self.episodes,
            obs_mode=self.obs_mode,
            seed=self.seed,
            num_envs=self.num_envs,
            block_episodes=DEFAULT_BLOCK_EPISODES,
            overwrite=overwrite,
        )

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
    workers: int | None = None,
    scheduler: str | None = None,
) -> list[MinariDataset]:
    """Collect the selected standard datasets (see :func:`select_standard`) that do not exist yet
    (all of them with ``overwrite``), here or with their blocks on a Dask pool (``workers``,
    ``scheduler``: :func:`baselines.offline.collect.collect_all`); ``progress`` is called after each
    with its definition, the dataset (None when it existed and was kept) and the seconds since the
    previous one."""
    plans, selected = [], {}
    for standard in select_standard(names):
        if dataset_path(standard.dataset_id).exists() and not overwrite:
            if progress is not None:
                progress(standard, None, 0.0)
            continue
        selected[standard.dataset_id] = standard
        plans.append(standard.plan(overwrite=overwrite))
    last = time.perf_counter()

    def written(plan: Collection, dataset: MinariDataset) -> None:
        nonlocal last
        now = time.perf_counter()
        if progress is not None:
            progress(selected[plan.dataset_id], dataset, now - last)
        last = now

    return collect_all(plans, workers=workers, scheduler=scheduler, on_written=written)
