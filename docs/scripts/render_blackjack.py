"""Render the frames shown on docs/envs/blackjack.md and print the prompt quoted there.

Run from the repository root: ``python docs/scripts/render_blackjack.py``. Writes
``docs/img/blackjack_*.png``: the exact frames an agent sees (found by seed, nothing staged) and
a sheet of the card sprites.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np  # noqa: E402
import pygame  # noqa: E402

from icl_envs.cards import sprites  # noqa: E402
from icl_envs.cards.blackjack import BlackjackEnv  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "img"


def save(frame: np.ndarray, name: str) -> None:
    pygame.image.save(pygame.surfarray.make_surface(frame.swapaxes(0, 1)), str(OUT / name))
    print(f"wrote docs/img/{name} {frame.shape}")


def first_seed(condition, env: BlackjackEnv) -> int:
    """The smallest seed whose deal satisfies ``condition(env)`` after reset."""
    for seed in range(100_000):
        env.reset(seed=seed)
        if condition(env):
            return seed
    raise RuntimeError("no seed found")


def hand_after_hits(env: BlackjackEnv, seed: int, hits: int):
    """Reset with ``seed``, hit ``hits`` times; return the last (obs, terminated)."""
    obs, _ = env.reset(seed=seed)
    terminated = False
    for _ in range(hits):
        obs, _, terminated, _, _ = env.step(1)
        if terminated:
            break
    return obs, terminated


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    env = BlackjackEnv()  # image observations, 300 x 300

    # Mid-hand: a soft hand after one hit, the hole card still face down.
    symbolic = BlackjackEnv(obs_mode="symbolic")

    def soft_after_hit(e):
        total, _, soft = e.symbolic_observation()
        if total > 11:
            return False
        obs, _, terminated, _, _ = e.step(1)
        return not terminated and obs[2] == 1

    seed = first_seed(soft_after_hit, symbolic)
    frame, _ = hand_after_hits(env, seed, 1)
    save(frame, "blackjack_mid.png")
    # The same hand after standing: the dealer's hole card and draws are shown, and the result.
    frame, _, terminated, _, info = env.step(0)
    assert terminated
    save(frame, "blackjack_end.png")
    print(f"  mid/end seed {seed}: player {info['player_cards']}, dealer {info['dealer_cards']}")

    # A long hand: as many cards as the player can take without busting (they overlap, never clip).
    def long_hand(e):
        count = 0
        while True:
            _, _, terminated, _, _ = e.step(1)
            if terminated:
                return count >= 5
            count += 1

    seed = first_seed(long_hand, symbolic)
    obs, _ = env.reset(seed=seed)
    for _ in range(50):
        nxt, _, terminated, _, _ = env.step(1)
        if terminated:
            break
        obs = nxt
    save(obs, "blackjack_long.png")

    # A larger frame: the same layout scaled.
    big = BlackjackEnv(image_size=480)
    frame, _ = big.reset(seed=2)
    save(frame, "blackjack_480.png")

    # The card sprites: every rank of one suit per row, and the back.
    width, gap = 48, 4
    height = sprites.card_height(width)
    sheet = pygame.Surface((14 * (width + gap) + gap, 4 * (height + gap) + gap))
    sheet.fill((22, 110, 62))
    for row, suit in enumerate(sprites.SUIT_LETTERS):
        for col, rank in enumerate(sprites.RANK_NAMES):
            sheet.blit(
                sprites.card_surface(suit + rank, width),
                (gap + col * (width + gap), gap + row * (height + gap)),
            )
        sheet.blit(sprites.card_back_surface(width), (gap + 13 * (width + gap), gap + row * (height + gap)))
    save(sprites.surface_to_array(sheet), "blackjack_cards.png")

    # The prompt for a text observation (quoted on the page).
    text_env = BlackjackEnv(obs_mode="text")
    obs, _ = text_env.reset(seed=0)
    print("\n--- prompt (obs_mode='text', seed=0) ---")
    print(text_env.prompt(obs))


if __name__ == "__main__":
    main()
