"""Provenance: what produced a result's numbers, recorded in every results file.

The harness calls these after playing, so that the versions of the frameworks an agent loaded
(torch) and the GPU it used are seen; the results file only stores what they return.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

import gymnasium as gym
import numpy as np

import icl_envs


def package_versions(reference: str) -> dict[str, str]:
    """Versions of what produced the numbers: Python, numpy, gymnasium, icl-envs, the agent's package."""
    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "gymnasium": gym.__version__,
        "icl-envs": icl_envs.__version__,
    }
    top = reference.split(":", 1)[0].split(".", 1)[0]
    if top and top not in ("run", "icl_envs"):
        for name in (top, top.replace("_", "-")):
            try:
                versions[name] = metadata.version(name)
                break
            except metadata.PackageNotFoundError:
                continue
    versions.update(framework_versions())
    return versions


def framework_versions() -> dict[str, str]:
    """The versions of the frameworks an agent may use (torch) that this process has loaded."""
    versions = {}
    for name in ("torch",):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = getattr(module, "__version__", "unknown")
    return versions


def hardware() -> dict[str, Any]:
    """The machine the episodes ran on (CPU, cores, and the GPU if the agent used torch with CUDA)."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count() or 0,
    }
    gpu = gpu_name()
    if gpu is not None:
        info["gpu"] = gpu
    return info


def gpu_name() -> str | None:
    """The GPU torch uses in this process, if the agent loaded torch with CUDA."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return None
