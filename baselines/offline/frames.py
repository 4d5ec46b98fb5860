"""Frames of the image datasets: stored as the few numbers a frame is drawn from, drawn again on load.

A frame at 300 px is 270 kB raw, and Minari's default JPEG changes pixels; the games' renderers are
deterministic functions of a small state, so an image dataset stores that state (a handful of
integers per step) and :func:`draw_frames` rebuilds the exact frames when the dataset is read.
``docs/datasets.md`` gives the measured sizes and load times behind this choice.

The state of each game with an image dataset:

- NumberLine: the symbolic observation ``(current, target)``; the frame is ``numberline_frame``.
- Blackjack: the card ids of both hands, how many of each are on the table, whether the hand is
  over, its reward and whether the player went bust (``BlackjackVectorEnv.table_states``); the
  frame is ``table_frame``. The symbolic triple does not determine the frame (it shows suits).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from icl_envs.cards.blackjack.stream import MAX_HAND
from icl_envs.cards.blackjack.viewer import table_frame
from icl_envs.cards.deck import NUM_CARDS
from icl_envs.cards.numberline.viewer import numberline_frame


def _numberline_frame(state: Mapping[str, Any], kwargs: Mapping[str, Any]) -> np.ndarray:
    return numberline_frame(state["current"], state["target"], kwargs["max_position"], kwargs["image_size"])


def _blackjack_frame(state: Mapping[str, Any], kwargs: Mapping[str, Any]) -> np.ndarray:
    return table_frame(
        kwargs["image_size"],
        state["player"][: state["player_count"]].tolist(),
        state["dealer"][: state["dealer_count"]].tolist(),
        hand_over=bool(state["hand_over"]),
        reward=float(state["reward"]),
        player_bust=bool(state["player_bust"]),
    )


def _blackjack_state_space(symbolic_space: gym.Space) -> gym.Space:
    cards = gym.spaces.Box(0, NUM_CARDS - 1, (MAX_HAND,), np.uint8)
    return gym.spaces.Dict(
        {
            "player": cards,
            "player_count": gym.spaces.Discrete(MAX_HAND + 1),
            "dealer": cards,
            "dealer_count": gym.spaces.Discrete(MAX_HAND + 1),
            "hand_over": gym.spaces.Discrete(2),
            "reward": gym.spaces.Box(-1.0, 1.5, (), np.float64),
            "player_bust": gym.spaces.Discrete(2),
        }
    )


@dataclass(frozen=True)
class FrameState:
    """How one game's image dataset stores and redraws its frames."""

    #: The stored observation space, from the game's symbolic observation space.
    space: Callable[[gym.Space], gym.Space]
    #: Extra kwargs of the symbolic vector env that make it keep what ``capture`` reads.
    vector_kwargs: Mapping[str, Any]
    #: The batched state of every sub-env, from the vector env and its symbolic observation.
    capture: Callable[[Any, Any], Any]
    #: One frame from one step's state and the env's kwargs (defaults filled in).
    draw: Callable[[Mapping[str, Any], Mapping[str, Any]], np.ndarray]


FRAME_STATES: dict[str, FrameState] = {
    "icl/NumberLine-v0": FrameState(
        space=lambda symbolic: symbolic,
        vector_kwargs={},
        capture=lambda env, obs: obs,
        draw=_numberline_frame,
    ),
    "icl/Blackjack-v0": FrameState(
        space=_blackjack_state_space,
        # The vector env keeps card ids only when it may draw frames; rgb_array asks for that
        # without drawing a frame at every step.
        vector_kwargs={"render_mode": "rgb_array"},
        capture=lambda env, obs: env.table_states(),
        draw=_blackjack_frame,
    ),
}


def frame_state(env_id: str) -> FrameState:
    """The frame state of ``env_id``; a clear error for a game without image datasets."""
    try:
        return FRAME_STATES[env_id]
    except KeyError:
        raise ValueError(
            f"image datasets exist for {', '.join(FRAME_STATES)}; {env_id!r} has none (use obs_mode='symbolic')"
        ) from None


def draw_frames(env_id: str, states: Mapping[str, np.ndarray], env_kwargs: Mapping[str, Any]) -> np.ndarray:
    """The frames (steps, size, size, 3) uint8 of an episode's stored states (a dict of arrays whose
    first axis is the step), for an env built with ``env_kwargs`` (defaults filled in)."""
    draw = frame_state(env_id).draw
    size = int(env_kwargs["image_size"])
    steps = len(next(iter(states.values())))
    frames = np.empty((steps, size, size, 3), dtype=np.uint8)
    for t in range(steps):
        frames[t] = draw({key: value[t] for key, value in states.items()}, env_kwargs)
    return frames
