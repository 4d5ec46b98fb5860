"""Offline datasets of the suite's games in Minari's format: ids, where they live, loading with checks.

A dataset is a standard Minari dataset (HDF5), read with ``minari`` as any other; this module adds
what the suite needs around it:

- **ids** ``icl/<game>-<obs>/<policy>-v<N>`` (:func:`dataset_id`), e.g.
  ``icl/numberline-symbolic/mixed-v0`` or ``icl/blackjack-image/eps-optimal-0_3-v0``: Minari's
  ``namespace/name-vN`` with a nested namespace; Minari allows only ``[A-Za-z0-9_-]`` and ``/``, so
  the ε of ``eps-optimal:0.3`` is written ``0_3``, and env kwargs other than ``obs_mode`` add an
  8-hex digest of them to the namespace (``icl/numberline-symbolic-1a2b3c4d/random-v0``);
- **where**: ``$MINARI_DATASETS_PATH`` if set, else ``<user data dir>/icl-bench/datasets`` (the
  results store's folder, from ``platformdirs``) rather than Minari's ``~/.minari``;
- **writing** (:func:`write_checked_dataset`): episode buffers with the env spec, the content hash
  and the suite's metadata, for every writer of the project's datasets;
- **loading** (:func:`load_offline_dataset`): a missing, unreadable or altered dataset (its content
  hash is checked), or one collected on another env id, version or kwargs than the one asked for,
  raises :class:`DatasetError` naming the problem, never an h5py traceback;
- **episodes as arrays** (:func:`iter_episode_arrays`): symbolic observations as one integer column
  per component (:func:`observation_components` gives each column's number of values), image
  datasets' frames drawn again from their stored states (:mod:`baselines.offline.frames`).

The suite's own fields live in the dataset's metadata under ``"icl_bench"`` (:data:`METADATA_KEY`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import json
import os
import re
import shutil
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import load_env_creator
from platformdirs import user_data_dir

from baselines.offline.frames import draw_frames

# minari (and h5py under it) is an optional dependency: the `offline` extra.
try:
    import minari
    from minari import MinariDataset
except ImportError:  # pragma: no cover - the message says what to install
    minari = None
    MinariDataset = Any

#: The four games and their env ids.
GAMES: dict[str, str] = {
    "NumberLine": "icl/NumberLine-v0",
    "EZPoints": "icl/EZPoints-v0",
    "Points24": "icl/Points24-v0",
    "Blackjack": "icl/Blackjack-v0",
}
OBS_MODES = ("symbolic", "image")
DATASETS_PATH_ENV = "MINARI_DATASETS_PATH"
METADATA_KEY = "icl_bench"
#: Bumped when what is stored under METADATA_KEY changes meaning.
METADATA_FORMAT = 0
# What Minari's parser accepts, narrowed to ASCII and a required version.
_ID_RE = re.compile(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*-v[0-9]+")
# Arguments that do not change what an episode contains.
_IGNORED_KWARGS = ("render_mode",)


class DatasetError(ValueError):
    """A dataset that is missing, unreadable, altered or collected on another env."""


def require_minari() -> None:
    if minari is None:
        raise ImportError('offline datasets need minari: pip install "icl-envs[offline]"')


# ----------------------------------------------------------------------------------------------
# Ids, envs and where datasets live


def game_env_id(game: str) -> str:
    """The env id of a game given by name ("Blackjack") or id ("icl/Blackjack-v0")."""
    for name, env_id in GAMES.items():
        if game in (name, env_id, name.lower()):
            return env_id
    raise ValueError(f"env must be one of {', '.join(GAMES)} (or their ids), got {game!r}")


def game_name(env_id: str) -> str:
    return next(name for name, known in GAMES.items() if known == env_id)


def check_obs_mode(obs_mode: Any) -> str:
    if obs_mode not in OBS_MODES:
        raise ValueError(f"obs_mode must be one of {', '.join(map(repr, OBS_MODES))}, got {obs_mode!r}")
    return obs_mode


def resolved_kwargs(env_id: str, env_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every argument of the env, defaults filled in (so ``{}`` and ``{"max_position": 5}`` compare
    equal); ``render_mode`` is left out since it does not change an episode."""
    try:
        creator = load_env_creator(gym.spec(env_id).entry_point)
    except gym.error.Error as error:
        raise DatasetError(f"env id {env_id!r} is not a registered environment ({error})") from None
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(creator).parameters.items()
        if parameter.default is not inspect.Parameter.empty and name not in _IGNORED_KWARGS
    }
    unknown = sorted(set(env_kwargs or {}) - set(defaults) - set(_IGNORED_KWARGS))
    if unknown:
        raise ValueError(
            f"env_kwargs for {env_id}: unknown argument(s) {unknown}; allowed: {sorted(defaults)}"
        )
    given = {key: value for key, value in (env_kwargs or {}).items() if key not in _IGNORED_KWARGS}
    return defaults | given


def policy_slug(policy: str) -> str:
    """The policy as Minari allows it in an id: ``eps-optimal:0.3`` -> ``eps-optimal-0_3``."""
    return policy.replace(":", "-").replace(".", "_")


def dataset_id(env_id: str, env_kwargs: Mapping[str, Any], policy: str, version: int = 0) -> str:
    """``icl/<game>-<obs>[-<kwargs digest>]/<policy>-v<version>`` (see the module docstring)."""
    obs_mode = check_obs_mode(env_kwargs.get("obs_mode", "symbolic"))
    namespace = f"icl/{game_name(env_id).lower()}-{obs_mode}"
    others = {key: value for key, value in env_kwargs.items() if key not in ("obs_mode", *_IGNORED_KWARGS)}
    if others:
        digest = hashlib.sha256(json.dumps(others, sort_keys=True).encode()).hexdigest()[:8]
        namespace += f"-{digest}"
    return check_dataset_id(f"{namespace}/{policy_slug(policy)}-v{version}")


def check_dataset_id(dataset_id: Any) -> str:
    """Our form (ASCII segments) that Minari's parser also accepts (it wants a namespace of two
    characters or more)."""
    from minari.dataset.minari_dataset import DATASET_ID_RE  # lazy: the optional `offline` extra

    if not isinstance(dataset_id, str) or not (
        _ID_RE.fullmatch(dataset_id) and DATASET_ID_RE.fullmatch(dataset_id)
    ):
        raise DatasetError(
            f"dataset id must look like 'namespace/name-vN' (letters, digits, '_', '-' and '/', "
            f"a namespace of 2 characters or more, an integer version; e.g. 'icl/numberline-symbolic/mixed-v0'), got {dataset_id!r}"
        )
    return dataset_id


def datasets_root() -> Path:
    """``$MINARI_DATASETS_PATH`` if set, else the project's data folder's ``datasets``."""
    configured = os.environ.get(DATASETS_PATH_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path(user_data_dir("icl-bench", appauthor=False)) / "datasets"


@contextlib.contextmanager
def minari_root() -> Iterator[Path]:
    """Point Minari at :func:`datasets_root` while writing (Minari reads the variable at each call)."""
    root = datasets_root()
    previous = os.environ.get(DATASETS_PATH_ENV)
    os.environ[DATASETS_PATH_ENV] = str(root)
    try:
        yield root
    finally:
        if previous is None:
            del os.environ[DATASETS_PATH_ENV]
        else:
            os.environ[DATASETS_PATH_ENV] = previous


def dataset_path(dataset_id: str) -> Path:
    return datasets_root() / check_dataset_id(dataset_id)


# ----------------------------------------------------------------------------------------------
# Content hash


def _leaves(value: Any) -> Iterator[np.ndarray]:
    """The arrays of a nested observation in a fixed order (dict keys sorted, tuples in order)."""
    if isinstance(value, Mapping):
        for key in sorted(value):
            yield from _leaves(value[key])
    elif isinstance(value, tuple):
        for part in value:
            yield from _leaves(part)
    else:
        yield np.asarray(value)


def episode_digest(
    seed: int | None, observations: Any, actions: Any, rewards: Any, terminations: Any, truncations: Any
) -> bytes:
    """SHA-256 of one episode: its seed and every array's dtype, shape and bytes."""
    digest = hashlib.sha256(repr(seed).encode())
    for array in (
        *_leaves(observations),
        *_leaves(actions),
        *map(np.asarray, (rewards, terminations, truncations)),
    ):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.digest()


def content_hash(env_id: str, env_kwargs: Mapping[str, Any], episode_digests: Iterable[bytes]) -> str:
    """The dataset's content hash: SHA-256 over the env (id and kwargs, which say what the stored
    observations mean) and its episodes' digests in order."""
    digest = hashlib.sha256(json.dumps([env_id, dict(env_kwargs)], sort_keys=True).encode())
    for part in episode_digests:
        digest.update(part)
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------------
# Writing


def buffers_hash(env_id: str, env_kwargs: Mapping[str, Any], buffers: Sequence[Any]) -> str:
    """The content hash of a dataset of these ``EpisodeBuffer``s (what its metadata records)."""
    return content_hash(
        env_id,
        env_kwargs,
        (
            episode_digest(b.seed, b.observations, b.actions, b.rewards, b.terminations, b.truncations)
            for b in buffers
        ),
    )


def write_checked_dataset(
    dataset_id: str,
    buffers: list[Any],
    stored_space: gym.Space,
    env_id: str,
    env_kwargs: Mapping[str, Any],
    *,
    author: str,
    algorithm_name: str,
    description: str,
    reference: tuple[float, float] | None,
    info: Mapping[str, Any],
    overwrite: bool = False,
) -> MinariDataset:
    """Write episode buffers as a Minari dataset that :func:`baselines.offline.datasets.load_offline_dataset`
    reads back checked: the env spec with its kwargs, the (random, reference) scores when given, and
    under :data:`METADATA_KEY` the env, the episode count, the content hash and ``info`` (which must
    say ``observations``: ``symbolic`` or ``frame-state``). Every writer of the project's datasets
    (the games' collection, the in-context RL histories) comes through here."""
    require_minari()
    path = dataset_path(dataset_id)
    if path.exists():
        if not overwrite:
            raise DatasetError(
                f"dataset {dataset_id!r} already exists at {path}; pass overwrite (--overwrite) to replace it"
            )
        shutil.rmtree(path)
    spec = gym.spec(env_id)
    spec = dataclasses.replace(spec, kwargs={**spec.kwargs, **env_kwargs})
    digest = buffers_hash(env_id, env_kwargs, buffers)
    # Minari drops ref_min_score unless ref_max_score is given too: both or neither.
    scores = (
        {}
        if reference is None
        else {"ref_min_score": float(reference[0]), "ref_max_score": float(reference[1])}
    )
    with minari_root(), warnings.catch_warnings():
        # Minari asks for a code permalink and an author email, which a local collection has not.
        warnings.filterwarnings("ignore", message=r"`(code_permalink|author_email)` is set to None")
        dataset = minari.create_dataset_from_buffers(
            dataset_id,
            buffers,
            env=spec,
            eval_env=spec,
            author=author,
            algorithm_name=algorithm_name,
            observation_space=stored_space,
            description=description,
            jpeg_encoding=False,
            **scores,
        )
        dataset.storage.update_metadata(
            {
                METADATA_KEY: {
                    "format": METADATA_FORMAT,
                    "env_id": env_id,
                    "env_kwargs": dict(env_kwargs),
                    **info,
                    "episodes": len(buffers),
                    "content_hash": digest,
                }
            }
        )
    return dataset


# ----------------------------------------------------------------------------------------------
# Loading with checks


def _unreadable(dataset_id: str, path: Path, error: BaseException) -> DatasetError:
    detail = str(error).splitlines()[0] if str(error) else type(error).__name__
    return DatasetError(
        f"dataset {dataset_id!r} at {path} is unreadable or altered ({type(error).__name__}: {detail}); "
        f"delete that folder and collect it again (icl-bench collect ...)"
    )


def _hash_mismatch(dataset_id: str, path: Path, found: str, recorded: Any) -> DatasetError:
    return _unreadable(
        dataset_id,
        path,
        ValueError(f"content hash {found[:12]}... differs from the recorded {str(recorded)[:12]}..."),
    )


# What a damaged HDF5 file or metadata makes h5py, json and Minari raise.
_READ_ERRORS = (OSError, KeyError, ValueError, TypeError, AssertionError, RuntimeError, gym.error.Error)


def load_offline_dataset(
    dataset_id: str,
    env_id: str | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    *,
    verify: bool = True,
) -> MinariDataset:
    """Open a collected dataset, checked.

    Raises :class:`DatasetError` if the id is malformed, the dataset is missing, its files are
    unreadable, its content does not match its content hash (``verify``: reads every episode once),
    or (when ``env_id`` is given) it was collected on another env id, version or kwargs than
    ``env_id`` with ``env_kwargs`` (defaults filled in on both sides).
    """
    require_minari()
    path = dataset_path(dataset_id)
    data_path = path / "data"
    if not data_path.is_dir():
        raise DatasetError(
            f"no dataset {dataset_id!r} under {datasets_root()} (set {DATASETS_PATH_ENV} to look elsewhere); "
            "collect it with `icl-bench collect ENV --policy ...`, or `icl-bench collect --standard` "
            "for the standard datasets"
        )
    try:
        dataset = MinariDataset(data_path)
        info = dataset.storage.metadata.get(METADATA_KEY)
    except _READ_ERRORS as error:
        raise _unreadable(dataset_id, path, error) from None
    if not isinstance(info, Mapping) or info.get("format") != METADATA_FORMAT:
        raise DatasetError(
            f"dataset {dataset_id!r} at {path} was not written by icl-bench collect (format {METADATA_FORMAT}); "
            "collect it again"
        )
    if env_id is not None:
        check_env_match(dataset, dataset_id, env_id, env_kwargs)
    if verify:
        try:
            found = content_hash(*dataset_env(dataset), _digests(dataset))
        except _READ_ERRORS as error:
            raise _unreadable(dataset_id, path, error) from None
        if found != info.get("content_hash"):
            raise _hash_mismatch(dataset_id, path, found, info.get("content_hash"))
    return dataset


def dataset_info(dataset: MinariDataset) -> dict[str, Any]:
    """The suite's metadata of a dataset: env_id, env_kwargs, policy, behaviour, seed, episodes,
    num_envs, observations ("symbolic" or "frame-state"), content_hash."""
    return dict(dataset.storage.metadata[METADATA_KEY])


def dataset_env(dataset: MinariDataset) -> tuple[str, dict[str, Any]]:
    """The env id and kwargs the dataset was collected on (what ``gym.make`` needs to evaluate on it)."""
    info = dataset_info(dataset)
    return info["env_id"], dict(info["env_kwargs"])


def check_env_match(
    dataset: MinariDataset, dataset_id: str, env_id: str, env_kwargs: Mapping[str, Any] | None
) -> None:
    """A clear error naming both envs unless ``env_id(**env_kwargs)`` is the dataset's env."""
    recorded_id, recorded_kwargs = dataset_env(dataset)
    wanted = f"{env_id} {json.dumps(dict(env_kwargs or {}), sort_keys=True)}"
    recorded = f"{recorded_id} {json.dumps(recorded_kwargs, sort_keys=True)}"
    if env_id != recorded_id:
        base, version = env_id.rsplit("-v", 1) if "-v" in env_id else (env_id, "")
        what = "version" if base == recorded_id.rsplit("-v", 1)[0] else "env id"
        raise DatasetError(
            f"dataset {dataset_id!r} was collected on {recorded}; it does not fit {wanted} (different {what})"
        )
    mine = resolved_kwargs(recorded_id, recorded_kwargs)
    theirs = resolved_kwargs(env_id, env_kwargs)
    differing = sorted(key for key in mine.keys() | theirs.keys() if mine.get(key) != theirs.get(key))
    if differing:
        raise DatasetError(
            f"dataset {dataset_id!r} was collected on {recorded}; it does not fit {wanted} "
            f"(different {', '.join(differing)})"
        )


def _episode_seeds(dataset: MinariDataset) -> list[int | None]:
    return [meta.get("seed") for meta in dataset.storage.get_episode_metadata(dataset.episode_indices)]


def _stored_digest(seed: int | None, episode: Any) -> bytes:
    """The digest of an episode as Minari reads it back (an ``EpisodeData``)."""
    return episode_digest(
        seed,
        episode.observations,
        episode.actions,
        episode.rewards,
        episode.terminations,
        episode.truncations,
    )


def _digests(dataset: MinariDataset) -> Iterator[bytes]:
    for seed, episode in zip(_episode_seeds(dataset), dataset.iterate_episodes(), strict=True):
        yield _stored_digest(seed, episode)


# ----------------------------------------------------------------------------------------------
# Episodes as arrays


@dataclass(frozen=True)
class EpisodeArrays:
    """One episode as plain arrays (``T`` steps)."""

    #: Symbolic datasets: (T + 1, k) int64, one column per component (see observation_components);
    #: image datasets: (T + 1, size, size, 3) uint8 frames, exactly the env's.
    observations: np.ndarray
    actions: np.ndarray  #: (T,) int64
    rewards: np.ndarray  #: (T,) float64
    terminations: np.ndarray  #: (T,) bool
    truncations: np.ndarray  #: (T,) bool
    seed: int | None  #: ``env.reset(seed=seed)`` starts this episode's task again


def observation_components(space: gym.Space) -> tuple[int, ...]:
    """The number of values of each integer component of a symbolic observation space, in the
    column order of :func:`symbolic_columns` (Dict keys in the space's order, Tuple in order)."""
    if isinstance(space, gym.spaces.Discrete):
        return (int(space.n),)
    if isinstance(space, gym.spaces.MultiDiscrete):
        return tuple(int(n) for n in np.asarray(space.nvec).reshape(-1))
    if isinstance(space, gym.spaces.Dict):
        return tuple(n for sub in space.spaces.values() for n in observation_components(sub))
    if isinstance(space, gym.spaces.Tuple):
        return tuple(n for sub in space.spaces for n in observation_components(sub))
    raise ValueError(f"symbolic observations must be Discrete, MultiDiscrete, Dict or Tuple; got {space}")


def symbolic_columns(space: gym.Space, observations: Any) -> np.ndarray:
    """A batch of symbolic observations (first axis: steps) as an (n, k) int64 array."""
    if isinstance(space, gym.spaces.Dict):
        parts = [symbolic_columns(sub, observations[key]) for key, sub in space.spaces.items()]
    elif isinstance(space, gym.spaces.Tuple):
        parts = [symbolic_columns(sub, part) for sub, part in zip(space.spaces, observations)]
    else:
        array = np.asarray(observations, dtype=np.int64)
        return array.reshape(len(array), -1)
    return np.concatenate(parts, axis=1)


def episode_observation_space(dataset: MinariDataset) -> gym.Space:
    """The space of :attr:`EpisodeArrays.observations`' rows: the stored space of a symbolic dataset,
    the env's frames (``Box`` of (size, size, 3) ``uint8``) for an image dataset, whose stored
    space is the state its frames are drawn from."""
    if dataset_info(dataset)["observations"] != "frame-state":
        return dataset.observation_space
    size = int(resolved_kwargs(*dataset_env(dataset))["image_size"])
    return gym.spaces.Box(0, 255, (size, size, 3), np.uint8)


def iter_episode_arrays(dataset: MinariDataset, *, check_hash: bool = False) -> Iterator[EpisodeArrays]:
    """Every episode as :class:`EpisodeArrays`, in order; an image dataset's frames are drawn from
    its stored states here, one episode at a time (a whole dataset of frames may not fit in memory).
    ``check_hash`` checks the content hash on the way (the error comes after the last episode), so
    a checked read costs one pass over the file instead of two."""
    env_id, env_kwargs = dataset_env(dataset)
    info = dataset_info(dataset)
    stores_states = info["observations"] == "frame-state"
    kwargs = resolved_kwargs(env_id, env_kwargs)
    space = dataset.observation_space
    path = Path(dataset.storage.data_path).parent
    digests: list[bytes] = []
    try:
        for seed, episode in zip(_episode_seeds(dataset), dataset.iterate_episodes(), strict=True):
            if check_hash:
                digests.append(_stored_digest(seed, episode))
            if stores_states:
                observations = draw_frames(env_id, episode.observations, kwargs)
            else:
                observations = symbolic_columns(space, episode.observations)
            yield EpisodeArrays(
                observations=observations,
                actions=np.asarray(episode.actions, dtype=np.int64),
                rewards=np.asarray(episode.rewards, dtype=np.float64),
                terminations=np.asarray(episode.terminations, dtype=bool),
                truncations=np.asarray(episode.truncations, dtype=bool),
                seed=seed,
            )
    except _READ_ERRORS as error:
        raise _unreadable(dataset.id, path, error) from None
    found = content_hash(env_id, env_kwargs, digests) if check_hash else None
    if check_hash and found != info.get("content_hash"):
        raise _hash_mismatch(dataset.id, path, found, info.get("content_hash"))


def load_episode_arrays(
    dataset_id: str, env_id: str | None = None, env_kwargs: Mapping[str, Any] | None = None
) -> tuple[MinariDataset, list[EpisodeArrays]]:
    """:func:`load_offline_dataset` and every episode as arrays, the content hash checked in the
    same pass. For image datasets, prefer iterating (every frame of the dataset is in the list)."""
    dataset = load_offline_dataset(dataset_id, env_id, env_kwargs, verify=False)
    return dataset, list(iter_episode_arrays(dataset, check_hash=True))
