"""Render frames of the multi-player Blackjack table for docs/envs/blackjack_table.md.

Run from the repository root: ``python docs/scripts/render_blackjack_table.py``. Writes
docs/img/blackjack_table_playing.png (a round in progress: the hole card face down, the acting seat
highlighted) and docs/img/blackjack_table_settled.png (the same round settled), both played by the
DP-optimal policy from a fixed seed, so the frames are reproducible; and
docs/img/blackjack_table_six_players.png (six seats sit in two rows).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a plain script, with or without the package installed

import pygame  # noqa: E402

from baselines.classic.blackjack import OptimalBlackjackAgent  # noqa: E402
from icl_envs.multi import blackjack_table_v0  # noqa: E402

OUT = ROOT / "docs" / "img"
NUM_PLAYERS, SEED, IMAGE_SIZE = 4, 7, 400


def save(frame, name: str) -> None:
    # frame is (H, W, 3); pygame wants (W, H, 3).
    pygame.image.save(pygame.surfarray.make_surface(frame.swapaxes(0, 1)), str(OUT / name))
    print("wrote", OUT / name)


def play_round(
    num_players: int, seed: int, image_size: int, playing_name: str | None, settled_name: str
) -> None:
    agent = OptimalBlackjackAgent()
    env = blackjack_table_v0.env(num_players=num_players, render_mode="rgb_array", image_size=image_size)
    env.reset(seed=seed)
    saved_playing = playing_name is None
    for name in env.agent_iter():
        observation, _, terminated, truncated, _ = env.last()
        if terminated or truncated:
            env.step(None)
            continue
        # Snapshot the round once the third seat is about to act: hands in every state are visible.
        if not saved_playing and name == "player_2":
            save(env.render(), playing_name)
            saved_playing = True
        env.step(agent.act(observation))
    save(env.render(), settled_name)
    env.close()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    play_round(NUM_PLAYERS, SEED, IMAGE_SIZE, "blackjack_table_playing.png", "blackjack_table_settled.png")
    play_round(6, 3, 480, None, "blackjack_table_six_players.png")


if __name__ == "__main__":
    main()
