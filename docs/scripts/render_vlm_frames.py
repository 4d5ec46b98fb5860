"""Render one frame of each card game at the env's size and at the sizes the VLM agent reads.

    python docs/scripts/render_vlm_frames.py   # writes docs/img/vlm_frames.png

The agent downsamples the env's 300 px frames by area averaging (baselines.vlm.agent.downsample);
this shows what each size leaves legible.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import matplotlib.pyplot as plt  # noqa: E402

from baselines.vlm.agent import downsample  # noqa: E402
from baselines.vlm.tasks import GAMES, game_env  # noqa: E402

SIZES = (300, 128, 96, 64, 32)


def main() -> None:
    fig, axes = plt.subplots(len(GAMES), len(SIZES), figsize=(2.2 * len(SIZES), 2.3 * len(GAMES)))
    for row, env_id in enumerate(GAMES):
        env = game_env(env_id)
        frame = env.reset(seed=3)[0]["image"]
        env.close()
        for col, size in enumerate(SIZES):
            ax = axes[row, col]
            ax.imshow(downsample(frame[None], size)[0].numpy(), interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(f"{env_id.split('/')[1]} {size} px", fontsize=8)
    fig.tight_layout()
    out = ROOT / "docs" / "img" / "vlm_frames.png"
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
