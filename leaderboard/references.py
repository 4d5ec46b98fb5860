"""Normalization references: the returns that define 0 and 100 of each entry's normalized score.

``R_random`` is the uniform-random policy (games) or the zero predictor (in-context envs);
``R_reference`` is the exact optimum where one exists (the Blackjack DP value, the NumberLine and
Points optima from their exact solvers, the Bayes-optimal predictor of in-context linear regression),
otherwise the oracle that knows the task (squared error 0). Both are frozen per env version in
``leaderboard/data/references-v0.json``; this module reads them and looks an entry's up.

How each value is computed, and the command that recomputes the file, are in
:mod:`leaderboard.compute_references` (it plays episodes through the harness, which looks references
up here, so the computation sits above the harness and this lookup below it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from leaderboard.protocol import SuiteEntry

REFERENCES_VERSION = 0
REFERENCES_FILE = f"references-v{REFERENCES_VERSION}.json"


@dataclass(frozen=True)
class Reference:
    """The two anchors of one entry's normalized score, and how each was obtained."""

    r_random: float
    r_reference: float
    random_method: str = ""
    reference_method: str = ""
    random_stderr: float = 0.0
    reference_stderr: float = 0.0


_REGISTERED: dict[str, Reference] = {}


@cache
def published_references() -> dict[str, Reference]:
    """The frozen references of every published suite entry, by entry key."""
    text = resources.files("leaderboard").joinpath("data", REFERENCES_FILE).read_text()
    data = json.loads(text)
    if data.get("version") != REFERENCES_VERSION:
        raise ValueError(f"{REFERENCES_FILE}: version {data.get('version')!r}, expected {REFERENCES_VERSION}")
    return {key: Reference(**value) for key, value in data["references"].items()}


def register_reference(key: str, reference: Reference) -> None:
    """Give an unpublished entry (a test or private suite) its references in this process."""
    if key in published_references():
        raise ValueError(f"entry {key} has published references; they cannot be replaced")
    _REGISTERED[key] = reference


def reference_for(entry: SuiteEntry | str) -> Reference:
    key = entry if isinstance(entry, str) else entry.key
    found = _REGISTERED.get(key) or published_references().get(key)
    if found is None:
        raise KeyError(f"no normalization reference for entry {key}")
    return found


def reference_dict(references: Mapping[str, Reference]) -> dict[str, Any]:
    """The references file's content (what :func:`published_references` reads)."""
    return {
        "version": REFERENCES_VERSION,
        "description": "R_random and R_reference per suite entry (env id + canonical kwargs); see leaderboard/references.py",
        "references": {key: asdict(value) for key, value in sorted(references.items())},
    }


# ----------------------------------------------------------------------------------------------
# The zero predictor: the R_random of the in-context envs, an agent anyone can evaluate by the
# reference "leaderboard.references:ZeroPredictor" (score 0 by definition).


class ZeroPredictor:
    """Predicts 0 for every query: the R_random of the in-context envs."""

    suites = None

    def reset(self, env_id=None, env_kwargs=None) -> None:
        pass

    def act_batch(self, obs_batch: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.zeros((len(obs_batch["query"]), 1))
