"""Play any card env with the keyboard: ``icl-bench play icl/Blackjack-v0`` or ``play("icl/Points24-v0")``.

Works for every env that offers ``action_strings`` (NumberLine, EZPoints, Points24, Blackjack):
each action gets one key (``key_map``), shown under the table together with the running return.
The window shows the env's ``rgb_array`` frame, so it looks exactly like what a vision agent sees,
with a legend strip below it. Enter (or space) deals a new episode once one has ended; Escape or
closing the window quits.
"""

from __future__ import annotations

import os
import string
from collections.abc import Sequence
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import icl_envs  # noqa: E402, F401  (registers the ids)
from icl_envs.cards import sprites  # noqa: E402

_SPARE_KEYS = string.digits[1:] + "0" + string.ascii_lowercase
LEGEND_BACKGROUND = (30, 30, 36)
LEGEND_TEXT = (235, 235, 225)
LEGEND_NOTE = (255, 215, 70)


def key_map(action_strings: Sequence[str]) -> dict[str, int]:
    """Map one typed character to each action, the most natural key first.

    A one-character action is its own key ("+", "7"); otherwise the first free of its first
    letter ("s" for "stand"), its last character ("0" for "10"), then digits and letters in order.
    """
    keys: dict[str, int] = {}
    for action, text in enumerate(action_strings):
        text = str(text)
        candidates = [text] if len(text) == 1 else [text[0].lower(), text[-1].lower()]
        for key in [*candidates, *_SPARE_KEYS]:
            if len(key) == 1 and key not in keys and key not in "\r\n\x1b ":
                keys[key] = action
                break
        else:  # pragma: no cover - more actions than printable keys
            raise ValueError(f"too many actions to give each a key: {len(action_strings)}")
    return keys


def _legend_lines(keys: dict[str, int], action_strings: Sequence[str], width: int, font_px: int) -> list[str]:
    """``key: action`` entries wrapped to lines that fit ``width`` pixels."""
    entries = [f"{key}: {action_strings[action]}" for key, action in keys.items()]
    lines, line = [], "Keys  "
    for entry in entries:
        candidate = f"{line}   {entry}" if line.strip() != "Keys" else f"{line}{entry}"
        if (
            sprites.text_surface(candidate, font_px, LEGEND_TEXT).get_width() > width
            and line.strip() != "Keys"
        ):
            lines.append(line)
            line = "      " + entry
        else:
            line = candidate
    lines.append(line)
    lines.append("Enter: new episode (when over)   Esc: quit")
    return lines


def play(
    env_id: str = "icl/Blackjack-v0",
    *,
    seed: int | None = None,
    episodes: int | None = None,
    fps: int = 30,
    **env_kwargs: Any,
) -> list[float]:
    """Open a window and play ``env_id`` with the keyboard; return the finished episodes' returns.

    ``episodes``: stop after this many finished episodes (default: until Escape or the window closes).
    Other keyword arguments go to ``gym.make`` (e.g. ``natural=True``, ``image_size=450``).
    """
    import pygame

    if episodes is not None and (isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1):
        raise ValueError(f"episodes must be None or a positive integer, got {episodes!r}")
    env_kwargs.setdefault("obs_mode", "symbolic")  # the window shows render(); no need for image obs
    env = gym.make(env_id, render_mode="rgb_array", **env_kwargs)
    base = env.unwrapped
    action_strings = getattr(base, "action_strings", None)
    if not action_strings:
        env.close()
        raise ValueError(f"{env_id} has no action_strings; play works with the card envs")
    keys = key_map(action_strings)
    print(f"{env_id}: " + ", ".join(f"'{key}' = {action_strings[a]}" for key, a in keys.items()))

    _, info = env.reset(seed=seed)
    frame = env.render()
    height, width = frame.shape[:2]
    font_px = max(14, width // 22)
    lines = _legend_lines(keys, action_strings, width - 16, font_px)
    legend_height = (len(lines) + 2) * (font_px + 4) + 8
    pygame.display.init()
    pygame.display.set_caption(f"{env_id} - icl-bench play")
    window = pygame.display.set_mode((width, height + legend_height))
    clock = pygame.time.Clock()

    returns: list[float] = []
    episode_return, over, note = 0.0, False, "Your move."
    running = True
    while running:
        for event in pygame.event.get():
            if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE):
                running = False
                break
            if event.type != pygame.KEYDOWN:
                continue
            if over:
                if event.key in (pygame.K_RETURN, pygame.K_KP_ENTER, pygame.K_SPACE):
                    _, info = env.reset()
                    episode_return, over, note = 0.0, False, "New episode. Your move."
                continue
            action = keys.get(event.unicode)
            if action is None:
                note = f"Key {event.unicode or pygame.key.name(event.key)!r} is not an action."
                continue
            mask = np.asarray(info.get("action_mask", np.ones(len(action_strings))))
            if not mask[action]:
                note = f"'{action_strings[action]}' is not legal now."
                continue
            _, reward, terminated, truncated, info = env.step(action)
            episode_return += float(reward)
            note = f"{action_strings[action]}: reward {float(reward):+g}"
            if terminated or truncated:
                over = True
                returns.append(episode_return)
                note = "Episode over. Enter: new episode."
                print(f"episode {len(returns)}: return {episode_return:+g}")
                if episodes is not None and len(returns) >= episodes:
                    running = False
                    break
        _draw(window, env.render(), [f"Return {episode_return:+g}", note], lines, font_px)
        pygame.display.flip()
        clock.tick(fps)
    env.close()
    pygame.display.quit()
    return returns


def _draw(window, frame: np.ndarray, status: list[str], lines: list[str], font_px: int) -> None:
    import pygame

    height, width = frame.shape[:2]
    window.fill(LEGEND_BACKGROUND)
    window.blit(
        pygame.image.frombuffer(np.ascontiguousarray(frame).tobytes(), (width, height), "RGB"), (0, 0)
    )
    y = height + 6
    for k, line in enumerate([*status, *lines]):
        color = LEGEND_NOTE if k < len(status) else LEGEND_TEXT
        window.blit(sprites.text_surface(line, font_px, color), (8, y))
        y += font_px + 4
