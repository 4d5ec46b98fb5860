"""The import graph of the project: no cycle, and every arrow points down.

Every module of ``icl_envs``, ``leaderboard`` and ``baselines`` in the checkout that holds this test
is read with ``ast`` (not imported), and every import counts, including those inside functions: a
lazy import that points up hides a cycle instead of removing it.

A string reference such as ``"baselines.classic.random_agent:RandomAgent"`` is data, not an import:
the leaderboard loads baselines that way without depending on them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The project's packages, lowest first: a package imports only itself and the packages below it.
PACKAGES = ("icl_envs", "leaderboard", "baselines")

#: The modules of ``leaderboard``, lowest first: a module imports only modules below it.
LEADERBOARD_LAYERS = (
    "untrusted",  # control characters refused in results files; untrusted strings shown as plain text
    "protocol",  # suites, entries, seeds, content hashes
    "seed_sets",  # the public dev seeds and held-out test seeds from a secret
    "scoring",  # normalized scores and bootstrap aggregates (pure functions of arrays)
    "references",  # the frozen normalization references and their lookup
    "agent",  # the agent interface
    "loading",  # agents, configs and objects loaded by reference
    "provenance",  # package versions and hardware recorded with a result
    "results",  # the results file: building and validating it
    "migrations",  # Alembic revisions of the database schema (a subpackage; revisions are frozen)
    "store",  # the results database
    "isolation",  # an agent in a process of its own, behind the agent interface
    "distributed",  # tasks on a Dask cluster, outcomes merged in task order (harness shards, collection)
    "harness",  # playing a suite's episodes and evaluating an agent
    "compute_references",  # recomputing the references by solvers and by episodes through the harness
    "report",  # tables, plots and the HTML report
    "run_all",  # the main job: every baseline evaluated, stored and reported
    "verification",  # a stored submission re-scored on the held-out test seeds (icl-bench verify)
    "server",  # the leaderboard web server (a subpackage, layered by SUBPACKAGE_LAYERS)
    "cli",  # the icl-bench command line
)

#: The modules of a leaderboard subpackage, lowest first: the same rule holds inside it. A subpackage
#: without an entry (migrations) has no imports between its modules.
SUBPACKAGE_LAYERS = {
    "server": (
        "client",  # icl-bench submit: HTTP with safe retries (standard library only)
        "settings",  # the server's configuration, shared with its workers through the environment
        "tokens",  # submission tokens and their rate limit
        "templating",  # the Jinja2 environment (autoescaped)
        "errors",  # errors as JSON naming the field, or as a page
        "cache",  # responses kept until the store changes
        "tables",  # a suite's leaderboard as columns and sorted rows
        "charts",  # inline SVG drawn on the server
        "api",  # the JSON API v1
        "pages",  # the HTML pages
        "app",  # the application factory
    ),
}

#: Known upward imports, each with the change that removes it. An entry that no longer matches an
#: import fails the test below, so that it is deleted rather than left to excuse a new one.
ALLOWED_UPWARD_IMPORTS: set[tuple[str, str]] = set()

#: Imports that ``icl_envs`` must never make: the envs run without any deep-learning framework.
FORBIDDEN_IN_ENVS = ("torch",)


@cache
def _modules() -> dict[str, tuple[Path, bool]]:
    """Every project module by dotted name: (its file, whether it is a package's ``__init__``)."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            is_package = parts[-1] == "__init__"
            modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


def _imported_names(module: str, path: Path, is_package: bool) -> Iterator[tuple[str, int]]:
    """(dotted name, line) of everything a module imports, anywhere in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: climb from the module's own package
                package = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{node.module}" if node.module else package
            else:
                base = node.module
            for alias in node.names:
                # `from package import module` imports the submodule; `from module import name` the module.
                submodule = f"{base}.{alias.name}"
                yield (submodule if submodule in _modules() else base), node.lineno


def _project_module(name: str) -> str | None:
    """The project module that importing ``name`` loads (its longest known prefix), if any."""
    modules = _modules()
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


@cache
def _graph() -> dict[str, dict[str, int]]:
    """module -> {project module it imports: first line of that import}."""
    graph: dict[str, dict[str, int]] = {}
    for module, (path, is_package) in _modules().items():
        edges = graph.setdefault(module, {})
        for name, line in _imported_names(module, path, is_package):
            target = _project_module(name)
            if target is not None and target != module:
                edges.setdefault(target, line)
    return graph


def _where(module: str, target: str) -> str:
    path = _modules()[module][0]
    return f"{module} imports {target} ({path.name}:{_graph()[module][target]})"


def _find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One cycle of the graph as [a, b, ..., a], or None."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once fully explored
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph.get(node, {})):
            if state.get(target) == "open":
                return path[path.index(target) :] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _package(module: str) -> str:
    return module.split(".", 1)[0]


def test_the_packages_are_found_and_read():
    modules = _modules()
    for package in PACKAGES:
        assert package in modules
    assert "leaderboard.harness" in _graph()


def test_the_import_graph_has_no_cycle():
    cycle = _find_cycle(_graph())
    assert cycle is None, (
        "import cycle: "
        + " -> ".join(cycle)
        + "; "
        + "; ".join(_where(a, b) for a, b in zip(cycle, cycle[1:]))
    )


def test_packages_import_only_packages_below_them():
    upward = []
    for module, edges in _graph().items():
        rank = PACKAGES.index(_package(module))
        for target in edges:
            if PACKAGES.index(_package(target)) > rank and (module, target) not in ALLOWED_UPWARD_IMPORTS:
                upward.append(_where(module, target))
    assert not upward, "imports that point up (icl_envs < leaderboard < baselines): " + "; ".join(upward)


def test_allowed_upward_imports_still_exist():
    stale = [f"{a} -> {b}" for a, b in ALLOWED_UPWARD_IMPORTS if b not in _graph().get(a, {})]
    assert not stale, f"delete these entries of ALLOWED_UPWARD_IMPORTS, the imports are gone: {stale}"


def test_envs_import_no_deep_learning_framework():
    found = []
    for module, (path, is_package) in _modules().items():
        if _package(module) != "icl_envs":
            continue
        for name, line in _imported_names(module, path, is_package):
            if name.split(".", 1)[0] in FORBIDDEN_IN_ENVS:
                found.append(f"{module} imports {name} ({path.name}:{line})")
    assert not found, "; ".join(sorted(set(found)))


def _leaderboard_layer(module: str) -> tuple[int, int]:
    """(rank of the module's layer in LEADERBOARD_LAYERS, rank inside its subpackage or -1)."""
    parts = module.split(".")[1:]
    inner = SUBPACKAGE_LAYERS.get(parts[0])
    return LEADERBOARD_LAYERS.index(parts[0]), -1 if inner is None or len(parts) == 1 else inner.index(
        parts[1]
    )


def _leaderboard_modules() -> list[str]:
    return sorted(m for m in _modules() if _package(m) == "leaderboard" and "." in m)


def test_every_leaderboard_module_has_a_layer():
    modules = {m.split(".")[1] for m in _leaderboard_modules()}
    assert modules == set(LEADERBOARD_LAYERS), (
        f"not in LEADERBOARD_LAYERS: {sorted(modules - set(LEADERBOARD_LAYERS))}; "
        f"no such module: {sorted(set(LEADERBOARD_LAYERS) - modules)}"
    )
    for subpackage, layers in SUBPACKAGE_LAYERS.items():
        inside = {
            m.split(".")[2]
            for m in _leaderboard_modules()
            if m.split(".")[1] == subpackage and m.count(".") > 1
        }
        assert inside == set(layers), (
            f"leaderboard/{subpackage}: not in SUBPACKAGE_LAYERS: {sorted(inside - set(layers))}; "
            f"no such module: {sorted(set(layers) - inside)}"
        )


@pytest.mark.parametrize("module", _leaderboard_modules())
def test_leaderboard_modules_import_only_layers_below_them(module):
    rank = _leaderboard_layer(module)
    upward = [
        _where(module, target)
        for target in _graph()[module]
        if _package(target) == "leaderboard"
        and target != "leaderboard"
        and _leaderboard_layer(target) >= rank
    ]
    assert not upward, f"{module} may import only layers below it: " + "; ".join(upward)


def test_the_layer_rule_sees_an_upward_import_inside_the_server():
    """The rule can fail: pages above api, api below pages."""
    assert _leaderboard_layer("leaderboard.server.api") < _leaderboard_layer("leaderboard.server.pages")
    assert _leaderboard_layer("leaderboard.store") < _leaderboard_layer("leaderboard.server.client")
    assert _leaderboard_layer("leaderboard.server.app") < _leaderboard_layer("leaderboard.cli")
