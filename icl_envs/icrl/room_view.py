"""Pixel observations of the dark rooms (``obs_mode="image"``): the room seen from above.

A frame shows what the symbolic state shows and nothing more: the room's grid on a dark floor and
the agent's disc on its cell. The goal, the key and the door stay hidden, as in the symbolic rooms.
Both pictures are drawn once per (room size, image size) with pygame-ce on the card games' RGB
surfaces (:mod:`icl_envs.cards.sprites`); a frame is the empty room with the agent's tile pasted on
its cell, so a batch of frames is one numpy indexing operation and is the same pixel for pixel
whichever env (single or vector) draws it.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from gymnasium import spaces

from icl_envs.checks import check_choice, check_int

OBS_MODES = ("symbolic", "image")
DEFAULT_IMAGE_SIZE = 84  # the frame size of the Atari agents (Mnih et al. 2015)
MAX_IMAGE_SIZE = 1024
MIN_CELL_PIXELS = 4  # a smaller cell leaves no room for the agent's disc
FLOOR = (22, 24, 32)
GRID = (58, 62, 78)
AGENT = (236, 214, 120)


def check_image_arguments(obs_mode: Any, image_size: Any, size: int) -> tuple[str, int]:
    """``obs_mode`` and ``image_size`` checked (the image must give every cell ``MIN_CELL_PIXELS``)."""
    obs_mode = check_choice("obs_mode", obs_mode, OBS_MODES)
    minimum = MIN_CELL_PIXELS * size
    image_size = check_int("image_size", image_size, minimum=1, maximum=MAX_IMAGE_SIZE)
    if image_size < minimum:
        raise ValueError(
            f"image_size must be >= {MIN_CELL_PIXELS} pixels per cell ({minimum} for a room of size {size}), "
            f"got {image_size}"
        )
    return obs_mode, image_size


def image_observation_space(symbolic: spaces.Dict, image_size: int) -> spaces.Dict:
    """The trial's observation with the frame in place of the state."""
    parts = {key: space for key, space in symbolic.spaces.items() if key != "state"}
    return spaces.Dict({"image": spaces.Box(0, 255, (image_size, image_size, 3), np.uint8), **parts})


@functools.lru_cache(maxsize=32)
def room_pictures(size: int, image_size: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(the empty room (H, W, 3), the agent's tile (cell, cell, 3), cell pixels, margin): drawn once
    per sizes. Callers must not write into the arrays."""
    # Lazily, as the card games do: symbolic rooms (the default) never load pygame.
    import pygame

    from icl_envs.cards.sprites import rgb_surface, surface_to_array

    cell = image_size // size
    margin = (image_size - cell * size) // 2  # the room centred in the frame
    room = rgb_surface((image_size, image_size))
    room.fill(FLOOR)
    line = max(1, cell // 12)
    for i in range(size + 1):
        offset = margin + i * cell
        pygame.draw.line(room, GRID, (margin, offset), (margin + size * cell - 1, offset), line)
        pygame.draw.line(room, GRID, (offset, margin), (offset, margin + size * cell - 1), line)
    empty = surface_to_array(room)
    tile = rgb_surface((cell, cell))
    tile.blit(room, (0, 0), pygame.Rect(margin, margin, cell, cell))  # a cell of the empty room
    pygame.draw.circle(tile, AGENT, (cell / 2, cell / 2), cell * 0.32)
    agent = surface_to_array(tile)
    empty.flags.writeable = agent.flags.writeable = False
    return empty, agent, cell, margin


def room_frames(cells: np.ndarray, size: int, image_size: int) -> np.ndarray:
    """Frames (B, H, W, 3) uint8 of agents on ``cells`` (B,) of a ``size`` x ``size`` room."""
    empty, agent, cell, margin = room_pictures(size, image_size)
    cells = np.asarray(cells, dtype=np.int64)
    frames = np.repeat(empty[None], len(cells), axis=0)
    top = margin + (cells // size) * cell
    left = margin + (cells % size) * cell
    rows = top[:, None, None] + np.arange(cell)[None, :, None]
    cols = left[:, None, None] + np.arange(cell)[None, None, :]
    frames[np.arange(len(cells))[:, None, None], rows, cols] = agent
    return frames
