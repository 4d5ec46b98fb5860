"""Draw the pixel observations of the dark rooms (``obs_mode="image"``): the frames of the first
steps of a Dark Room trial, side by side. Writes docs/img/icrl_room_frames.png.

    python docs/scripts/render_room_frames.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import icl_envs  # noqa: E402, F401  (registers the ids)

IMAGE = ROOT / "docs" / "img" / "icrl_room_frames.png"
ACTIONS = (0, 0, 3, 3)  # up, up, right, right from the centre
GAP = 6


def main() -> None:
    env = gym.make("icl/DarkRoom-v0", obs_mode="image", image_size=84)
    obs, _ = env.reset(seed=0)
    frames = [obs["image"]]
    for action in ACTIONS:
        obs, *_ = env.step(action)
        frames.append(obs["image"])
    height = frames[0].shape[0]
    strip = np.full((height, len(frames) * (height + GAP) - GAP, 3), 255, dtype=np.uint8)
    for i, frame in enumerate(frames):
        strip[:, i * (height + GAP) : i * (height + GAP) + height] = frame
    # Shown at 3x, nearest neighbour: the frame's own pixels, as an agent receives them.
    image = Image.fromarray(strip).resize((strip.shape[1] * 3, height * 3), Image.NEAREST)
    image.save(IMAGE, optimize=True)
    print(f"wrote {IMAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
