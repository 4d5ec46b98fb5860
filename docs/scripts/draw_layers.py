"""Draw the design page's picture of the layers: the three packages and the modules in each, bottom up.

The layers drawn are the ones ``tests/test_layering.py`` enforces (``LEADERBOARD_LAYERS`` there) and
the folders of ``icl_envs`` and ``baselines``; every arrow of the picture points down.

    python docs/scripts/draw_layers.py      # writes docs/img/layers.png
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "docs" / "img" / "layers.png"

# Each package: its layers from the bottom up, each layer a list of module names.
PACKAGES = {
    "icl_envs": [
        ["checks", "bounds", "vector_base", "cards/deck"],
        ["prediction", "cards/ base, sprites, text_protocol"],
        ["regression/", "mrp/", "cards/numberline/", "cards/points/", "cards/blackjack/"],
        ["multi/blackjack_table/", "__init__ (ENVIRONMENTS)"],
    ],
    "leaderboard": [
        ["untrusted", "protocol", "seed_sets", "scoring", "references", "agent"],
        ["loading", "provenance", "results"],
        ["migrations", "store", "isolation", "harness"],
        ["compute_references", "report", "run_all", "server", "cli"],
    ],
    "baselines": [
        ["configs", "config_cli", "classic/ (exact and classic solvers)"],
        ["icl/ samplers, models"],
        ["icl/ train, agent, reproduce", "icl/cli (icl-bench train)"],
    ],
}
# Drawn left to right; the arrows say who imports whom.
COLUMNS = ("baselines", "leaderboard", "icl_envs")
ARROWS = (("baselines", "icl_envs"), ("baselines", "leaderboard"), ("leaderboard", "icl_envs"))
COLORS = {"icl_envs": "#d8ecd9", "leaderboard": "#dbe6f6", "baselines": "#f6e4d0"}


def main() -> None:
    fig, ax = plt.subplots(figsize=(12, 5.2), dpi=110)
    ax.set_xlim(0, 12)
    ax.set_ylim(-0.3, 5.2)
    ax.axis("off")
    width, layer_height, gap = 3.5, 0.82, 0.18
    centres = {}
    # Every package box has the height of the tallest, so the arrows between them run straight.
    top = 0.4 + max(len(layers) for layers in PACKAGES.values()) * (layer_height + gap)
    for column, name in enumerate(COLUMNS):
        left = 0.3 + column * 4.0
        layers = PACKAGES[name]
        box = FancyBboxPatch(
            (left - 0.12, 0.25),
            width + 0.24,
            top - 0.05,
            boxstyle="round,pad=0.02",
            fc=COLORS[name],
            ec="#555",
        )
        ax.add_patch(box)
        ax.text(left + width / 2, top + 0.45, name, ha="center", va="center", fontsize=13, weight="bold")
        for row, modules in enumerate(layers):
            y = 0.4 + row * (layer_height + gap)
            ax.add_patch(
                FancyBboxPatch(
                    (left, y), width, layer_height, boxstyle="round,pad=0.01", fc="white", ec="#888"
                )
            )
            ax.text(
                left + width / 2,
                y + layer_height / 2,
                "\n".join(_wrap(modules)),
                ha="center",
                va="center",
                fontsize=8.5,
            )
            if row:
                ax.add_patch(
                    FancyArrowPatch(
                        (left + width - 0.2, y + 0.02),
                        (left + width - 0.2, y - gap - 0.02),
                        arrowstyle="-|>",
                        mutation_scale=9,
                        color="#666",
                    )
                )
        centres[name] = (left, left + width, top)
    for source, target in ARROWS:
        start = centres[source]
        end = centres[target]
        forward = COLUMNS.index(target) > COLUMNS.index(source)
        skip = abs(COLUMNS.index(target) - COLUMNS.index(source)) > 1
        y = 4.95 if skip else 4.55
        x0 = start[1] if forward else start[0]
        x1 = end[0] if forward else end[1]
        ax.add_patch(
            FancyArrowPatch(
                (x0, y),
                (x1, y),
                arrowstyle="-|>",
                mutation_scale=14,
                color="#333",
                connectionstyle="arc3,rad=-0.08" if skip else "arc3",
            )
        )
    ax.text(
        6.0,
        -0.25,
        "An arrow means 'imports'. Inside a package a layer imports only the layers below it;\n"
        "leaderboard loads agents and trainers by 'module:Name' strings, never by import.",
        ha="center",
        fontsize=8.5,
        color="#333",
    )
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUTPUT, bbox_inches="tight")
    print(f"wrote {OUTPUT}")


def _wrap(modules: list[str]) -> list[str]:
    """Modules joined by commas, at most about 40 characters a line."""
    lines, line = [], ""
    for module in modules:
        piece = module if not line else f"{line}, {module}"
        if len(piece) > 40 and line:
            lines.append(line + ",")
            line = module
        else:
            line = piece
    return [*lines, line]


if __name__ == "__main__":
    main()
