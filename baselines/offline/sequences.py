"""Offline episodes as training windows, and the observation encoders the models share.

An offline dataset (any ``minari.MinariDataset``, read through its standard ``iterate_episodes()``) is
flattened once into an :class:`EpisodeTable`: one row per step (the observation before the action, the
action, the reward, the return-to-go R̂_t = r_t + ... + r_T and the timestep), with each row's episode
start. :meth:`EpisodeTable.windows` gathers a batch of K-step windows ending at given rows, entirely
in torch: rows before the episode's start are padding (zeros, ``mask`` False) on the left. A window
is always K steps, and the agent pads its history the same way at play time, so the models need no
attention mask: they see the same left padding in training and in play (unless their config's
``mask_padding`` masks it out; then :meth:`Windows.trimmed` may cut it).

Observations arrive here as arrays (:mod:`baselines.offline.observations` turns Gymnasium's into
them): symbolic ones as (N, C) integer components, each embedded by its own table
(:class:`SymbolicEncoder`), frames as (N, H, W, C) ``uint8`` (:class:`FrameEncoder`, a small CNN).
Only torch and numpy are needed here, so the GPU benchmark machine (no Gymnasium) runs the models.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# ---- encoders ---------------------------------------------------------------------------------


class SymbolicEncoder(nn.Module):
    """One embedding table per component (stored as one table with offsets), summed: the same as a
    linear map of the concatenated one-hot components."""

    def __init__(self, sizes: Sequence[int], dim: int) -> None:
        super().__init__()
        self.table = nn.Embedding(int(sum(sizes)), dim)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.register_buffer("starts", torch.as_tensor(starts), persistent=False)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """(..., C) integers -> (..., dim)."""
        return self.table(obs + self.starts).sum(dim=-2)


#: Frames are first averaged over p×p pixel blocks, p = side // FRAME_SIDE (4 at the suite's
#: 300 px): the games draw large flat shapes (NumberLine's flag and marker stay distinct at 75 px)
#: and the convolutions' cost falls by p² (16 at 300 px), what lets a CPU train on frames at all.
FRAME_SIDE = 75


def frame_pool(frame_shape: Sequence[int]) -> int:
    """p for frames of shape (H, W, C)."""
    return max(1, min(int(frame_shape[0]), int(frame_shape[1])) // FRAME_SIDE)


def shrink_frames(frames: torch.Tensor | np.ndarray, pool: int) -> torch.Tensor:
    """(..., H, W, C) ``uint8`` frames as the CNN reads them: float in [0, 1], averaged over
    ``pool``×``pool`` pixel blocks, (..., H / pool, W / pool, C)."""
    frames = torch.as_tensor(frames)
    leading = frames.shape[:-3]
    images = frames.reshape(-1, *frames.shape[-3:]).permute(0, 3, 1, 2).float() / 255.0
    if pool > 1:
        images = F.avg_pool2d(images, pool)
    return images.permute(0, 2, 3, 1).reshape(*leading, *images.shape[-2:], images.shape[1])


class FrameEncoder(nn.Module):
    """A small CNN over frames: :func:`shrink_frames` (``pool``), three strided convolutions (as
    DQN's), an average over what is left of the image (any size), a linear map to ``dim``.

    It reads raw ``uint8`` frames (the agent's, shrunk here) or frames already shrunk (float: what a
    training table holds, :func:`baselines.offline.observations.dataset_episodes` shrinks them once
    on load, so a step neither converts nor averages 300 px frames again); both give the same
    features."""

    def __init__(self, channels: int, dim: int, pool: int = 1) -> None:
        super().__init__()
        self.pool = pool
        self.net = nn.Sequential(
            nn.Conv2d(channels, 32, 8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=2),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(64, dim),
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.dtype == torch.uint8:
            frames = shrink_frames(frames, self.pool)
        leading = frames.shape[:-3]
        images = frames.reshape(-1, *frames.shape[-3:]).permute(0, 3, 1, 2)
        return self.net(images).reshape(*leading, -1)


def make_encoder(
    observation_sizes: Sequence[int] | None, frame_shape: Sequence[int] | None, dim: int
) -> nn.Module:
    """The encoder into ``dim`` features of symbolic observations (each component's number of
    values) or of frames (H, W, C)."""
    if frame_shape is not None:
        return FrameEncoder(int(frame_shape[-1]), dim, pool=frame_pool(frame_shape))
    return SymbolicEncoder(observation_sizes, dim)


# ---- episodes ---------------------------------------------------------------------------------


@dataclass
class Episode:
    """One episode's steps: ``observations`` the T observations acted on (the form of
    :func:`observation_array`), ``actions`` and ``rewards`` T each."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray


def returns_to_go(rewards: np.ndarray) -> np.ndarray:
    """R̂_t = r_t + r_{t+1} + ... + r_T (undiscounted, as Decision Transformer's)."""
    return np.cumsum(rewards[::-1])[::-1].copy()


def top_episodes(episodes: Sequence[Episode], fraction: float) -> list[Episode]:
    """The best ``fraction`` of the episodes by return (%BC), at least one; ties keep dataset order."""
    if not 0 < fraction <= 1:
        raise ValueError(f"top_fraction must lie in (0, 1], got {fraction!r}")
    returns = np.asarray([e.rewards.sum() for e in episodes])
    keep = max(1, int(round(fraction * len(episodes))))
    chosen = np.sort(np.argsort(-returns, kind="stable")[:keep])
    return [episodes[i] for i in chosen]


@dataclass
class Windows:
    """A batch of K-step windows; padded steps (``mask`` False) come first."""

    observations: torch.Tensor
    """(B, K, C) int64 or (B, K, H, W, C) uint8."""
    actions: torch.Tensor
    """(B, K) int64."""
    returns_to_go: torch.Tensor
    """(B, K) float32, already divided by the return scale."""
    timesteps: torch.Tensor
    """(B, K) int64."""
    mask: torch.Tensor
    """(B, K) bool: True on the episode's steps."""

    def part(self, rows: slice) -> Windows:
        """The windows ``rows`` of the batch (one process's share)."""
        return Windows(*(getattr(self, f.name)[rows] for f in dataclasses.fields(self)))

    def trimmed(self) -> Windows:
        """The windows without the leading steps that are padding in every row (for a model that
        masks the padding out, the same outputs on the real steps, from fewer tokens)."""
        keep = max(int(self.mask.sum(dim=1).max()), 1)
        return Windows(*(getattr(self, f.name)[:, -keep:] for f in dataclasses.fields(self)))


class EpisodeTable:
    """Every step of the episodes as flat tensors on ``device``, ready for :meth:`windows`."""

    def __init__(self, episodes: Iterable[Episode], device: torch.device | str = "cpu") -> None:
        episodes = list(episodes)
        if not episodes:
            raise ValueError("the dataset has no episodes")
        lengths = np.asarray([len(e.actions) for e in episodes])
        if lengths.min() < 1:
            raise ValueError("the dataset holds an episode with no steps")
        starts = np.repeat(np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        self.episode_returns = np.asarray([e.rewards.sum() for e in episodes])
        self.max_length = int(lengths.max())
        device = torch.device(device)
        self.observations = torch.as_tensor(np.concatenate([e.observations for e in episodes])).to(device)
        self.actions = torch.as_tensor(np.concatenate([e.actions for e in episodes]).astype(np.int64)).to(
            device
        )
        rtg = np.concatenate([returns_to_go(e.rewards) for e in episodes])
        self.returns_to_go = torch.as_tensor(rtg, dtype=torch.float32).to(device)
        self.timesteps = torch.as_tensor(np.arange(len(starts)) - starts).to(device)
        self.starts = torch.as_tensor(starts).to(device)

    def __len__(self) -> int:
        return len(self.actions)

    def sample_ends(self, batch_size: int, seed: int) -> torch.Tensor:
        """``batch_size`` rows drawn uniformly over the dataset's steps by a generator seeded with
        ``seed`` (on the CPU, so every device and process draws the same rows)."""
        generator = torch.Generator().manual_seed(seed)
        return torch.randint(len(self), (batch_size,), generator=generator)

    def windows(self, ends: torch.Tensor, context: int, return_scale: float) -> Windows:
        """The ``context``-step windows ending at rows ``ends`` (B,)."""
        offsets = torch.arange(context - 1, -1, -1, device=ends.device)
        rows = ends[:, None] - offsets  # (B, K)
        mask = rows >= self.starts[ends][:, None]
        rows = torch.where(mask, rows, ends[:, None])  # any valid row; zeroed below

        def gather(values: torch.Tensor) -> torch.Tensor:
            picked = values[rows]
            shape = mask.shape + (1,) * (picked.dim() - 2)
            return torch.where(
                mask.reshape(shape), picked, torch.zeros((), dtype=picked.dtype, device=picked.device)
            )

        return Windows(
            observations=gather(self.observations),
            actions=gather(self.actions),
            returns_to_go=gather(self.returns_to_go) / return_scale,
            timesteps=gather(self.timesteps),
            mask=mask,
        )


__all__ = [
    "Episode",
    "EpisodeTable",
    "FRAME_SIDE",
    "FrameEncoder",
    "frame_pool",
    "shrink_frames",
    "SymbolicEncoder",
    "Windows",
    "make_encoder",
    "returns_to_go",
    "top_episodes",
]
