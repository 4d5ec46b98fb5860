"""Raw-data files for the docs: the numbers a script measured, and which script, command, commit and
machine measured them.

Every measured figure on a docs page comes from such a file under ``docs/data/`` (and
``tests/test_docs_figures.py`` checks that the page quotes the file). The scripts that write them:
``docs/scripts/record_benchmarks.py`` (the CPU speed ratios of ``benchmarks/bench_*.py``),
``docs/scripts/plot_regression.py`` and ``plot_mrp.py`` (the classic baselines' errors),
``docs/scripts/icl_reproduce.py`` (the in-context transformers at CPU size), the VLM scripts
``docs/scripts/vlm_results.py``, ``vlm_misreads.py`` and ``vlm_encoder_probe.py`` (the last two per
run folder, through :func:`record_runs`) and
``python -m benchmarks.gpu_bench`` (the GPU speed and the full-size reproductions).

Only the standard library: the GPU machine has neither gymnasium nor the leaderboard.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _git_state() -> dict[str, Any]:
    """The checkout's commit and the tracked files that differ from it (their paths, so a reader
    sees whether code or only pages had changed)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None}
    if commit.returncode != 0:
        return {"git_commit": None}
    paths = [line[3:] for line in changed.stdout.splitlines() if line.strip()]
    return {"git_commit": commit.stdout.strip(), "uncommitted_changes": paths}


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in ("numpy", "torch", "gymnasium", "triton"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def provenance(script: str, command: list[str] | None = None) -> dict[str, Any]:
    """Who wrote a data file: ``script`` (its path in the repository), the command line, the time,
    the commit, the package versions and the machine (with its load, which matters for speed on a
    shared CPU)."""
    machine: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count() or 0,
    }
    if hasattr(os, "getloadavg"):
        machine["load_average_1_5_15_min"] = [round(value, 2) for value in os.getloadavg()]
    return {
        "written_by": script,
        "command": " ".join(command if command is not None else sys.argv),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **_git_state(),
        "versions": _versions(),
        "machine": machine,
    }


def write(path: str | os.PathLike, started: dict[str, Any], data: dict[str, Any]) -> Path:
    """Write ``data`` to ``path`` as JSON under ``started``, the ``provenance`` taken when the
    measurement began (so the commit and the machine's load are those of the run)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"provenance": started, **data}
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    return path


def read(path: str | os.PathLike) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def record_runs(
    path: str | os.PathLike,
    script: str,
    work: str | os.PathLike,
    names: str,
    measure: Callable[[Path], dict[str, Any]],
    needs: str = "model.safetensors",
) -> dict[str, Any]:
    """Measure each of the comma-separated run folders ``names`` under ``work`` (each must hold
    ``needs``) and write the records to ``path`` under ``runs``, keeping the runs already there."""
    started = provenance(script)
    data = read(path) if Path(path).is_file() else {"runs": {}}
    data.pop("provenance", None)
    for name in filter(None, names.split(",")):
        folder = Path(work) / name
        if not (folder / needs).is_file():
            raise SystemExit(f"--runs {name}: no {needs} in {folder} (a finished run folder)")
        data["runs"][name] = measure(folder)
        print(name, data["runs"][name], flush=True)
    write(path, started, data)
    return data


__all__ = ["ROOT", "provenance", "read", "record_runs", "write"]
