"""Leaderboard tables (terminal and Markdown) and the static HTML report with its plots.

Everything here reads validated :class:`~leaderboard.results.ResultsFile` objects, so a table printed
from the store and one printed right after ``icl-bench run`` are the same table. Their strings were
written by whoever submitted them, and are shown as plain text everywhere: rich ``Text`` cells (no
markup), HTML-escaped cells, Markdown code spans, and matplotlib labels whose ``$`` starts no math.
"""

from __future__ import annotations

import functools
import html
import os
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from leaderboard.protocol import get_suite, is_game, suites
from leaderboard.results import ResultsFile, agent_label
from leaderboard.untrusted import for_matplotlib, plain

#: Normalized scores shown on the score plot's axis; lower ones are marked on its lower edge.
SCORE_AXIS = (-60.0, 110.0)


def ranked(results: Sequence[ResultsFile]) -> list[ResultsFile]:
    """Complete results first, then by IQM, best first."""
    return sorted(results, key=lambda r: (not r.complete, -r.aggregates.iqm.value))


def _columns(suite_name: str, results: Sequence[ResultsFile]) -> list[str]:
    """The suite's entry labels that at least one result covers, in suite order."""
    covered = {entry.label for r in results for entry in r.entries}
    try:
        labels = [entry.label for entry in get_suite(suite_name).entries]
    except ValueError:
        labels = sorted(covered)
    return [label for label in labels if label in covered]


def _cells(results: ResultsFile, columns: Sequence[str]) -> list[str]:
    """Each entry's normalized score; a game's success rate beside it, e.g. ``41.3 (38%)``."""
    cells = {}
    for entry in results.entries:
        success = entry.success_rate
        cells[entry.label] = f"{entry.normalized_score.value:.1f}" + (
            "" if success is None else f" ({100 * success:.0f}%)"
        )
    return [cells.get(c, "—") for c in columns]


def _success(results: ResultsFile) -> str:
    """Mean success rate over the game entries (return > 0), or a dash without games."""
    success = results.success_rate
    return "—" if success is None else f"{100 * success:.1f}%"


def _iqm(results: ResultsFile) -> str:
    iqm = results.aggregates.iqm
    return f"{iqm.value:.1f} [{iqm.low:.1f}, {iqm.high:.1f}]"


def _by_suite(results: Sequence[ResultsFile]) -> dict[tuple[str, str], list[ResultsFile]]:
    """Results grouped by (suite, seed set id), suites in their order, dev before test sets: a dev
    score and a test score are different claims and never share a ranking."""
    grouped: dict[tuple[str, str], list[ResultsFile]] = {}
    for r in results:
        grouped.setdefault((r.suite, r.seed_set_id), []).append(r)
    order = list(suites())

    def position(key: tuple[str, str]) -> tuple[int, bool, str]:
        suite_name, seed_set = key
        return (order.index(suite_name) if suite_name in order else 99, seed_set != "dev", seed_set)

    return {key: grouped[key] for key in sorted(grouped, key=position)}


def _heading(suite_name: str, seed_set: str) -> str:
    """``core-v0``, or ``core-v0, test set test-1a2b3c4d`` for results on held-out seeds."""
    return suite_name if seed_set == "dev" else f"{suite_name}, test set {seed_set}"


def _table(suite_name: str, group: Sequence[ResultsFile]) -> tuple[list[str], list[list[str]]]:
    """The header and rows (best first) of one suite's table, whatever it is rendered as:
    agent, IQM with 95% interval, success rate (suites with games), entries covered, per-entry
    scores (a game's with its success rate)."""
    columns = _columns(suite_name, group)
    total = len(get_suite(suite_name).entries) if suite_name in suites() else len(columns)
    # Suites with card games show the success rate (share of episodes with return > 0) beside the
    # normalized score: the metric RL4VLM and the card-game literature report. The suite decides
    # (the results' own entries, for a suite this process does not know), as on the server.
    known = suite_name in suites()
    entries = get_suite(suite_name).entries if known else [e for r in group for e in r.entries]
    games = any(is_game(entry.env_id) for entry in entries)
    header = ["agent", "IQM [95% CI]", *(["success"] if games else []), "envs", *columns]
    rows = [
        [
            agent_label(r),
            _iqm(r),
            *([_success(r)] if games else []),
            f"{len(r.entries)}/{total}",
            *_cells(r, columns),
        ]
        for r in ranked(group)
    ]
    return header, rows


def leaderboard_tables(results: Sequence[ResultsFile]):
    """One rich table per suite (see :func:`_table`)."""
    tables = []
    for (suite_name, seed_set), group in _by_suite(results).items():
        header, rows = _table(suite_name, group)
        title = f"{_heading(suite_name, seed_set)} — normalized score (0 random, 100 reference)"
        table = Table(title=plain(title), title_justify="left")
        table.add_column(plain(header[0]), style="bold cyan", no_wrap=True)
        table.add_column(plain(header[1]), justify="right", style="bold")
        for column in header[2:]:
            table.add_column(plain(column), justify="right")
        for row in rows:
            table.add_row(*map(plain, row))
        tables.append(table)
    return tables


def print_tables(console, tables) -> None:
    """Print each table at its natural width, even where that is wider than the console.

    Rich shrinks a table to the console (80 columns when output goes to a file or a pipe), and a
    leaderboard with ten entry columns then collapses to empty cells: no number would be printed.
    A table wider than the console is printed by a console of the table's own width instead.
    """
    for table in tables:
        natural = console.measure(table, options=console.options.update_width(10_000)).maximum
        if natural <= console.width:
            console.print(table)
            continue
        wide = Console(
            file=console.file,
            width=natural,
            color_system=console.color_system,
            force_terminal=console.is_terminal,
            no_color=console.no_color,
        )
        wide.print(table)


def _markdown_code(text: str) -> str:
    """``text`` as a Markdown code span inside a table cell: a ``|`` would end the cell, and a
    backtick the span (it is then fenced by two backticks)."""
    text = text.replace("|", r"\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def markdown_tables(results: Sequence[ResultsFile]) -> str:
    """The same tables in Markdown, for the docs' results page."""
    parts = []
    for (suite_name, seed_set), group in _by_suite(results).items():
        header, rows = _table(suite_name, group)
        lines = [
            f"### {_heading(suite_name, seed_set)}",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
        ]
        for agent, *cells in rows:
            lines.append("| " + " | ".join([_markdown_code(agent), *cells]) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


# ----------------------------------------------------------------------------------------------
# Plots


def _pyplot():
    """matplotlib's pyplot drawing to files (the Agg backend, no window).

    Imported on use, not at the top: matplotlib takes about a second to import, and the commands
    that only print tables (``evaluate``, ``leaderboard``) never plot.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plain_labels(plot):
    """Draw ``plot`` with TeX off whatever the user's matplotlibrc says: its labels are untrusted
    text, passed through :func:`~leaderboard.untrusted.for_matplotlib` so that no ``$`` starts math."""

    @functools.wraps(plot)
    def plot_with_plain_labels(*args, **kwargs):
        with _pyplot().rc_context({"text.usetex": False}):
            return plot(*args, **kwargs)

    return plot_with_plain_labels


@_plain_labels
def plot_scores(results: Sequence[ResultsFile], suite_name: str, path: str | os.PathLike) -> Path:
    """Normalized score per env with 95% intervals, one marker per agent."""
    plt = _pyplot()
    group = ranked([r for r in results if r.suite == suite_name])
    columns = _columns(suite_name, group)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(columns) + 3), 5.0))
    colours = plt.get_cmap("tab20")
    width = 0.8 / max(1, len(group))
    # Scores far below 0 (an interpolating least-squares fit on noisy data can score -5000) would
    # squash every other point; they are drawn as triangles on the lower edge with their value.
    low_edge, high_edge = SCORE_AXIS
    for k, r in enumerate(group):
        colour = colours(k % 20)
        marker = "o" if k < 20 else "s"  # past 20 agents colours repeat: change the marker
        by_label = {e.label: e.normalized_score for e in r.entries}
        for i, column in enumerate(columns):
            if column not in by_label:
                continue
            score, x = by_label[column], i - 0.4 + width * (k + 0.5)
            if score.value < low_edge:
                ax.plot([x], [low_edge], marker="v", color=colour, ms=6)
                ax.annotate(
                    f"{score.value:.0f}", (x, low_edge), fontsize=6, rotation=90, va="bottom", ha="center"
                )
                continue
            error = [[score.value - max(score.low, low_edge)], [max(score.high - score.value, 0.0)]]
            ax.errorbar([x], [score.value], yerr=error, fmt=marker, ms=4, capsize=2, color=colour)
        ax.plot([], [], marker, color=colour, label=for_matplotlib(agent_label(r)))
    ax.set_ylim(
        low_edge - 5,
        max(
            high_edge,
            *(e.normalized_score.high for r in group for e in r.entries if e.normalized_score.high < 1000),
        )
        + 5,
    )
    ax.axhline(0, color="grey", lw=0.8, ls=":")
    ax.axhline(100, color="grey", lw=0.8, ls="--")
    ax.set_xticks(range(len(columns)), [for_matplotlib(c) for c in columns], rotation=30, ha="right")
    ax.set_ylabel("normalized score")
    ax.set_title(for_matplotlib(f"{suite_name}: normalized score per env (95% bootstrap CI)"))
    ax.legend(fontsize=7, ncol=1, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


@_plain_labels
def plot_errors(results: Sequence[ResultsFile], path: str | os.PathLike) -> Path | None:
    """Mean squared error against context length for each in-context entry, one line per agent."""
    return _plot_curves(
        results, path, "errors_by_context", "context length (examples seen)", "mean squared error", log=True
    )


@_plain_labels
def plot_learning_curves(results: Sequence[ResultsFile], path: str | os.PathLike) -> Path | None:
    """Mean return of each sub-episode of the in-context RL trials (entries of more than one
    sub-episode), one line per agent: the in-context learning curve."""
    return _plot_curves(
        results, path, "returns_by_episode", "sub-episode of the trial", "mean return", log=False
    )


def _plot_curves(
    results: Sequence[ResultsFile], path: str | os.PathLike, field: str, xlabel: str, ylabel: str, log: bool
) -> Path | None:
    """One panel per entry that records the curve ``field`` (of at least two points), one line per agent."""
    plt = _pyplot()
    # Each agent keeps the colour it has in the score plot (its rank): matplotlib's default cycle has
    # only 10 colours, so with more agents two curves of a panel shared one and were confused.
    colours = plt.get_cmap("tab20")
    curves: dict[str, list[tuple[str, int, list[float]]]] = {}
    for k, r in enumerate(ranked(results)):
        for entry in r.entries:
            curve = getattr(entry, field)
            if curve is not None and len(curve) > 1:
                curves.setdefault(entry.label, []).append((for_matplotlib(agent_label(r)), k, curve))
    if not curves:
        return None
    columns = min(3, len(curves))
    rows = (len(curves) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.4 * rows), squeeze=False)
    for ax, (label, lines) in zip(axes.ravel(), curves.items()):
        for name, k, errors in lines:
            style = "-" if k < 20 else "--"  # past 20 agents colours repeat: change the dash
            ax.plot(
                range(len(errors)), errors, style, color=colours(k % 20), marker=".", ms=3, lw=1, label=name
            )
        # Exact fits reach an error of 0, which a log axis cannot show: linear near 0 then.
        if log and min(min(errors) for _, _, errors in lines) > 0:
            ax.set_yscale("log")
        elif log:
            ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_title(for_matplotlib(label), fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=6)
    for ax in axes.ravel()[len(curves) :]:
        ax.axis("off")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_html_report(results: Sequence[ResultsFile], out_dir: str | os.PathLike) -> Path:
    """``out_dir/index.html`` with the tables and plots of every suite (PNG files beside it)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = []
    for (suite_name, seed_set), group in _by_suite(results).items():
        name = suite_name if seed_set == "dev" else f"{suite_name}-{seed_set}"  # a file name
        heading = _heading(suite_name, seed_set)
        image = plot_scores(group, suite_name, out_dir / f"scores-{name}.png")
        header, rows = _table(suite_name, group)
        head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
        )
        sections.append(
            f"<h2>{html.escape(heading)}</h2><table><tr>{head}</tr>{body}</table>"
            f'<p><img src="{image.name}" alt="normalized scores on {html.escape(heading)}"></p>'
        )
        errors = plot_errors(group, out_dir / f"errors-{name}.png")
        if errors is not None:
            sections.append(
                f"<h3>Error against context length ({html.escape(heading)})</h3>"
                f'<p><img src="{errors.name}" alt="error against context length"></p>'
            )
        learning = plot_learning_curves(group, out_dir / f"learning-{name}.png")
        if learning is not None:
            sections.append(
                f"<h3>Return per sub-episode of the trial ({html.escape(heading)})</h3>"
                f'<p><img src="{learning.name}" alt="mean return of each sub-episode"></p>'
            )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>icl-bench leaderboard</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 1200px; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; font-family: monospace; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>icl-bench leaderboard</h1>
<p>Normalized score: 0 is the random policy (or the zero predictor), 100 the exact reference.
IQM is the interquartile mean over entries and seeds with a 95% stratified-bootstrap interval
(Agarwal et al., 2021).</p>
{"".join(sections)}
</body></html>
"""
    index = out_dir / "index.html"
    index.write_text(page)
    return index
