"""Heatmaps of the exact optimal Blackjack policy for docs/baselines/classic_games.md.

Run from the repository root: ``python docs/scripts/blackjack_policy.py``. Writes

- docs/img/blackjack_policy_return.png: the policy maximising the expected return (letters S/H),
  coloured by the advantage of hitting, Q(s, hit) - Q(s, stand); cells outlined in black are where
  the win-probability-maximising policy chooses the other action;
- docs/img/blackjack_policy_value.png: the optimal value V(s) of every state.

Both for Gymnasium's default rules (natural=False, sab=False); the other rule sets have the same
return-maximising policy (tested).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a plain script, with or without the package installed

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from baselines.classic.blackjack import HIT, blackjack_dp  # noqa: E402

OUT = ROOT / "docs" / "img"
DEALER_LABELS = ["A", "2", "3", "4", "5", "6", "7", "8", "9", "10"]
# (title, usable_ace, player sums shown top to bottom)
PANELS = (
    ("No usable ace", 0, list(range(21, 3, -1))),
    ("Usable ace (soft hand)", 1, list(range(21, 11, -1))),
)


def _panel_axes(title: str):
    figure, axes = plt.subplots(
        1, 2, figsize=(10, 6.2), gridspec_kw={"width_ratios": [1, 1]}, constrained_layout=True
    )
    figure.suptitle(title)
    return figure, axes


def _decorate(ax, sums, panel_title) -> None:
    ax.set_title(panel_title)
    ax.set_xticks(range(10), DEALER_LABELS)
    ax.set_yticks(range(len(sums)), [str(s) for s in sums])
    ax.set_xlabel("dealer's up card")
    ax.set_ylabel("player sum")


def policy_figure() -> None:
    best, win = blackjack_dp(), blackjack_dp(objective="win")
    advantage = best.q_hit - best.q_stand
    # Clip the colours at +-0.5: the near-ties around the decision boundary are what the plot is for
    # (standing on 21 is 1.9 better than hitting and would wash everything else out).
    limit = 0.5
    figure, axes = _panel_axes(
        f"Optimal policy, natural=False, sab=False (expected return {float(best.expected_return):+.4f} per hand)"
    )
    for ax, (panel_title, usable, sums) in zip(axes, PANELS):
        grid = advantage[sums, 1:11, usable]
        image = ax.imshow(grid, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
        for row, total in enumerate(sums):
            for column, dealer in enumerate(range(1, 11)):
                action = best.policy[total, dealer, usable]
                dark = abs(advantage[total, dealer, usable]) > 0.35
                ax.text(
                    column,
                    row,
                    "H" if action == HIT else "S",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if dark else "black",
                )
                if win.policy[total, dealer, usable] != action:
                    ax.add_patch(
                        Rectangle((column - 0.5, row - 0.5), 1, 1, fill=False, linewidth=2, edgecolor="black")
                    )
        _decorate(ax, sums, panel_title)
    figure.colorbar(
        image, ax=axes, shrink=0.8, extend="both", label="Q(hit) - Q(stand)  (blue: hit, red: stand)"
    )
    figure.savefig(OUT / "blackjack_policy_return.png", dpi=110)
    plt.close(figure)


def value_figure() -> None:
    best = blackjack_dp()
    figure, axes = _panel_axes(
        "Optimal state value V(player sum, dealer card, usable ace), natural=False, sab=False"
    )
    for ax, (panel_title, usable, sums) in zip(axes, PANELS):
        grid = best.value[sums, 1:11, usable]
        image = ax.imshow(grid, cmap="viridis", vmin=-1, vmax=1, aspect="auto")
        for row in range(len(sums)):
            for column in range(10):
                value = grid[row, column]
                ax.text(
                    column,
                    row,
                    f"{value:+.2f}",
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="white" if value < 0.3 else "black",
                )
        _decorate(ax, sums, panel_title)
    figure.colorbar(image, ax=axes, shrink=0.8, label="expected reward under optimal play")
    figure.savefig(OUT / "blackjack_policy_value.png", dpi=110)
    plt.close(figure)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    policy_figure()
    value_figure()
    print("wrote", OUT / "blackjack_policy_return.png", "and", OUT / "blackjack_policy_value.png")


if __name__ == "__main__":
    main()
