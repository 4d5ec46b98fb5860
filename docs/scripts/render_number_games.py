"""Render the frames shown on docs/envs/numberline.md and docs/envs/points.md.

Run from the repository root: ``python docs/scripts/render_number_games.py``. Writes
``docs/img/numberline_*.png`` and ``docs/img/points_*.png`` (the exact frames an agent sees) and
prints the prompts quoted on the pages.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np  # noqa: E402
import pygame  # noqa: E402

from icl_envs.cards.numberline import NumberLineEnv  # noqa: E402
from icl_envs.cards.points import EZPointsEnv, Points24Env  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "img"


def save(frame: np.ndarray, name: str) -> None:
    pygame.image.save(pygame.surfarray.make_surface(frame.swapaxes(0, 1)), str(OUT / name))
    print(f"wrote docs/img/{name} {frame.shape}")


def play(env, tokens: list[str]) -> np.ndarray:
    frame = None
    for token in tokens:
        frame = env.step(env.action_strings.index(token))[0]
    return frame


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)

    numberline = NumberLineEnv()
    save(numberline.reset(options={"start": 1, "target": 4})[0], "numberline_start.png")
    save(play(numberline, ["+", "+"]), "numberline_step.png")
    save(
        NumberLineEnv(max_position=10, image_size=480).reset(options={"start": 7, "target": 2})[0],
        "numberline_480.png",
    )

    ez = EZPointsEnv()
    ez.reset(options={"cards": ["D2", "SQ"]})
    save(play(ez, ["2", "+"]), "points_ezpoints.png")

    p24 = Points24Env()
    save(p24.reset(options={"cards": ["H8", "S3", "D8", "C3"]})[0], "points_24_start.png")
    save(play(p24, "8 / ( 3 - 8 / 3 )".split()), "points_24_formula.png")
    wide = Points24Env(image_size=480)
    wide.reset(options={"cards": ["CK", "HA", "S5", "DJ"]})
    save(play(wide, "( 10 - 1 ) * 5 - 10 - 10 - 1".split()[:9]), "points_24_480.png")

    text_env = Points24Env(obs_mode="text")
    obs, _ = text_env.reset(options={"cards": ["H8", "S3", "D8", "C3"]})
    print("\n--- Points24 text prompt ---\n" + text_env.prompt(obs))
    image_env = NumberLineEnv()
    obs, _ = image_env.reset(options={"start": 1, "target": 4})
    print("\n--- NumberLine image prompt ---\n" + image_env.prompt(obs))
    text_line = NumberLineEnv(obs_mode="text")
    obs, _ = text_line.reset(options={"start": 1, "target": 4})
    print("\n--- NumberLine text prompt ---\n" + text_line.prompt(obs))
    ez_text = EZPointsEnv(obs_mode="text")
    obs, _ = ez_text.reset(options={"cards": ["D2", "SQ"]})
    print("\n--- EZPoints text prompt ---\n" + ez_text.prompt(obs))


if __name__ == "__main__":
    main()
