"""Learning curves of the offline baselines: docs/img/offline_curves.png from docs/data/offline_results.json.

    python docs/scripts/offline_curves.py

One panel per dataset of the file, one line per trained algorithm (Decision Transformer once: its
two target returns are two evaluations of the same runs): the cross-entropy of the dataset's actions
at each logged step, the mean over the training seeds (Reinformer's action part of its loss, without
the expectile return loss, so every line measures the same thing). ``offline_results.py`` measured
the curves; this script only draws them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT)]
os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib.pyplot as plt  # noqa: E402

DATA = ROOT / "docs" / "data" / "offline_results.json"
IMAGE = ROOT / "docs" / "img" / "offline_curves.png"
#: The table's algorithm labels drawn, and the name of their line (DT's second target is not a run).
DRAWN = {"DT (best return)": "DT", "Reinformer": "Reinformer", "BC": "BC", "10%BC": "10%BC"}


def curves_by_dataset(data: dict) -> dict[str, dict[str, dict]]:
    """dataset -> line name -> its curve, in the file's order."""
    panels: dict[str, dict[str, dict]] = {}
    for row in data["rows"]:
        if row["algorithm"] in DRAWN:
            panels.setdefault(row["dataset"], {})[DRAWN[row["algorithm"]]] = row["curve"]
    return panels


def plot(data: dict, path: Path) -> None:
    panels = curves_by_dataset(data)
    columns = min(4, len(panels))
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 2.8 * rows), squeeze=False)
    for axis, (dataset, lines) in zip(axes.flat, panels.items()):
        for name, curve in lines.items():
            axis.plot(curve["step"], curve.get("action_loss", curve["loss"]), label=name)
        axis.set_title(dataset.removeprefix("icl/"), fontsize=8)
        axis.set_xlabel("training step", fontsize=8)
        axis.set_ylabel("action cross-entropy", fontsize=8)
        axis.tick_params(labelsize=7)
    for axis in list(axes.flat)[len(panels) :]:
        axis.axis("off")
    axes.flat[0].legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    plot(json.loads(DATA.read_text()), IMAGE)
    print(f"wrote {IMAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
