"""Draw one MQAR episode of icl/AssociativeRecall-v0 as a strip of tokens: the pairs, the queries
and the filler, coloured by role. Writes docs/img/recall_episode.png.

    python docs/scripts/render_recall.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from icl_envs.recall import RecallGenerator  # noqa: E402

IMAGE = ROOT / "docs" / "img" / "recall_episode.png"


def main() -> None:
    generator = RecallGenerator(vocab_size=64, num_pairs=4, seq_len=32)
    task = generator.sample(np.random.default_rng(3))
    colours = {"key": "#4C72B0", "value": "#DD8452", "query": "#55A868", "filler": "#DDDDDD"}
    roles = ["filler"] * 32
    for i in range(8):
        roles[i] = "key" if i % 2 == 0 else "value"
    for p in task.query_positions:
        roles[p] = "query"
    figure, axis = plt.subplots(figsize=(12, 1.9))
    for i, (token, role) in enumerate(zip(task.tokens, roles)):
        axis.add_patch(plt.Rectangle((i, 0), 0.95, 1, color=colours[role]))
        axis.text(i + 0.47, 0.5, str(token), ha="center", va="center", fontsize=8)
    answers = dict(zip(task.query_positions, task.answers))
    for p, answer in answers.items():
        axis.annotate(f"→ {answer}", (p + 0.47, 1.05), ha="center", va="bottom", fontsize=8, color="#55A868")
    for role, colour in colours.items():
        axis.bar(0, 0, color=colour, label=role)
    axis.set_xlim(0, 32)
    axis.set_ylim(0, 1.6)
    axis.axis("off")
    axis.legend(ncol=4, loc="upper right", fontsize=8, frameon=False, bbox_to_anchor=(1, 1.25))
    axis.set_title(
        "MQAR, vocabulary 64, 4 pairs, 32 tokens: each query (green) asks for its key's value",
        fontsize=9,
        loc="left",
    )
    figure.tight_layout()
    figure.savefig(IMAGE, dpi=110)
    print(f"wrote {IMAGE}")


if __name__ == "__main__":
    main()
