"""CONTRIBUTING.md's layout section matches the tree: every path it names exists, and every package
folder and every top-level module of the three packages is named there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _layout_block() -> str:
    text = (ROOT / "CONTRIBUTING.md").read_text()
    section = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return section.split("```", 2)[1]


def _named_paths(block: str) -> set[str]:
    """The paths in the first column of the layout block (up to two spaces), e.g.
    ``icl_envs/cards/points/``; a bare file name after a path lies in that path's folder."""
    paths = set()
    for line in block.splitlines():
        folder = ""
        for entry in re.split(r",\s*", line.split("  ", 1)[0].strip()):
            if "/" in entry:
                paths.add(entry)
                folder = entry.rsplit("/", 1)[0] + "/"
            elif entry.endswith(".py"):
                paths.add(folder + entry)
    return paths


def test_every_named_path_exists():
    named = _named_paths(_layout_block())
    assert len(named) > 20, f"too few paths found in CONTRIBUTING.md's layout block: {sorted(named)}"
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert not missing, f"CONTRIBUTING.md names paths that do not exist: {missing}"


def test_every_package_folder_and_top_module_is_named():
    block = _layout_block()
    missing = []
    for package in ("icl_envs", "baselines", "leaderboard"):
        for item in sorted((ROOT / package).rglob("__init__.py")):
            folder = item.parent.relative_to(ROOT).as_posix() + "/"
            if folder.count("/") > 1 and folder not in block:
                missing.append(folder)
    for module in sorted((ROOT / "icl_envs").glob("*.py")):
        if module.name != "__init__.py" and module.name not in block:
            missing.append(module.relative_to(ROOT).as_posix())
    for module in sorted((ROOT / "leaderboard").glob("*.py")):
        if module.name != "__init__.py" and module.stem not in block:
            missing.append(module.relative_to(ROOT).as_posix())
    assert not missing, f"CONTRIBUTING.md's layout section does not name: {missing}"
