"""The package layout: no import cycles, every dependency points the way docs/architecture.md draws,
and no module grows past what a newcomer can read through.

Every import counts, also one inside a function or under ``TYPE_CHECKING``: a cycle hidden
in a function is still a cycle a reader has to untangle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("robots", "connectors", "orchestrator", "demo", "business_rules", "commandline")

# Each module belongs to the area of its longest matching prefix.
AREAS = {
    "robots.errors": "robots core",
    "robots.masking": "robots core",
    "robots.logs": "robots core",
    "robots.language": "language",
    "robots.drivers": "drivers",
    "robots.actions": "actions",
    "robots.engine": "engine",
    "robots": "robots core",
    "connectors": "connectors",
    "business_rules": "business rules",
    "orchestrator.errors": "orchestrator core",
    "orchestrator.models": "orchestrator core",
    "orchestrator.storage": "storage",
    "orchestrator.humans": "humans",
    "orchestrator.queue": "queue",
    "orchestrator.schedules": "schedules",
    "orchestrator.service": "service",
    "orchestrator.worker": "worker",
    "orchestrator.control_room": "control room",
    "orchestrator": "service",
    "demo": "demo",
    "commandline": "command line",
}
ROBOT_SIDE = {"robots core", "language", "drivers", "actions", "engine", "connectors"}
# Which areas each area may import (besides itself). Robots never import the orchestrator;
# the control room reaches storage only through the services.
MAY_IMPORT: dict[str, set[str]] = {
    "robots core": set(),
    "language": {"robots core"},
    "drivers": {"robots core", "language"},
    "actions": {"robots core", "language", "drivers", "connectors"},
    "engine": {"robots core", "language", "drivers", "connectors"},
    "connectors": {"robots core"},
    "business rules": {"robots core", "language"},
    "orchestrator core": ROBOT_SIDE,
    "storage": ROBOT_SIDE | {"orchestrator core"},
    "humans": ROBOT_SIDE | {"orchestrator core", "storage"},
    "queue": ROBOT_SIDE | {"orchestrator core", "storage", "humans"},
    "service": ROBOT_SIDE | {"orchestrator core", "storage", "humans", "queue"},
    "schedules": ROBOT_SIDE | {"orchestrator core", "storage", "service"},
    # The worker reads the database's URL from storage.db before it opens the service.
    "worker": ROBOT_SIDE | {"orchestrator core", "service", "queue", "humans", "storage"},
    "control room": ROBOT_SIDE | {"orchestrator core", "service", "queue", "humans", "schedules"},
    # The demo and the command line sit on top: each may import everything below it; the
    # command line starts the demo, never the other way round.
    "demo": ROBOT_SIDE | (set(AREAS.values()) - {"command line"}),
    "command line": ROBOT_SIDE | set(AREAS.values()),
}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the project modules it imports (``from a import b`` counts as a.b when a.b is one)."""
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [
                    f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                    for alias in node.names
                ]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            edges[name] |= {target for target in targets if target in modules and target != name}
    return edges


def _area(module: str) -> str:
    best = max((prefix for prefix in AREAS if module == prefix or module.startswith(prefix + ".")), key=len)
    return AREAS[best]


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def edges() -> dict[str, set[str]]:
    return _imports(_modules())


def test_no_import_cycles(edges: dict[str, set[str]]) -> None:
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_dependencies_point_one_way(edges: dict[str, set[str]]) -> None:
    wrong = sorted(
        f"{module} ({_area(module)}) imports {target} ({_area(target)})"
        for module, targets in edges.items()
        for target in targets
        if _area(target) != _area(module) and _area(target) not in MAY_IMPORT[_area(module)]
    )
    assert wrong == []


def test_robots_never_import_the_orchestrator(edges: dict[str, set[str]]) -> None:
    assert not [
        (module, target)
        for module, targets in edges.items()
        if module.startswith(("robots", "connectors"))
        for target in targets
        if target.startswith(("orchestrator", "demo"))
    ]


def test_every_package_says_what_it_owns_and_may_import() -> None:
    missing = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("__init__.py")
        if "migrations" not in path.parts and len(ast.get_docstring(ast.parse(path.read_text())) or "") < 80
    ]
    assert missing == []


MAX_MODULE_LINES = 600


def test_no_module_is_over_600_lines() -> None:
    """A module over 600 lines makes a newcomer's search hard: split it along what it owns.

    Every package counts, and ``run.py``; an oversized module is named with its size.
    """
    modules = [*_modules().values(), ROOT / "run.py"]
    oversized = sorted(
        f"{path.relative_to(ROOT)} ({lines} lines)"
        for path in modules
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    )
    assert not oversized, f"modules over {MAX_MODULE_LINES} lines: " + ", ".join(oversized)


# Names two packages may both use, because the modules do the same job for their package.
SHARED_NAMES = {
    "__init__": "every package has one",
    "errors": "each side's error hierarchy (robots.errors, orchestrator.errors)",
    "model": "each definition's data model (a workflow's, a schedule's); APScheduler stores "
    "jobs' triggers under orchestrator.schedules.model, so that one keeps its name",
    "service": "the orchestrator's service and the schedules' service; stored scheduler jobs "
    "name orchestrator.schedules.service:scheduled_fire",
}


def test_no_two_modules_share_a_name_for_different_jobs() -> None:
    """A search for a module's name answers one thing (there were three ``web.py``)."""
    by_name: dict[str, list[str]] = {}
    for name in [*_modules(), "run"]:
        by_name.setdefault(name.rsplit(".", 1)[-1], []).append(name)
    shared = {
        short: sorted(names)
        for short, names in by_name.items()
        if len(names) > 1 and short not in SHARED_NAMES
    }
    assert not shared, f"module names used more than once: {shared}"
