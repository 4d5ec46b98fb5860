"""The README's promises: its Python example runs and its commands are the ones CI uses."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_python_example_runs_an_episode():
    (example,) = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    assert namespace["done"] and namespace["terminated"]
    # Least squares is exact once the context holds d = 5 examples (noise 0): the last error is ~0.
    assert -namespace["reward"] < 1e-6


def test_ci_runs_the_readme_test_command():
    test_command = re.search(r"pip install -e \"\.\[dev\]\" && (pytest[^\n`]*)", README).group(1)
    assert test_command.strip() in (ROOT / ".ci" / "run").read_text()


def test_readme_lists_every_registered_id():
    from icl_envs import ENVIRONMENTS

    for env_id, *_ in ENVIRONMENTS:
        assert f"`{env_id}`" in README
