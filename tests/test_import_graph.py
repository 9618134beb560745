"""The project's modules import one another without a circle, and the apps'
arrows hold: ``lists`` ← ``contacts`` ← ``emails`` ← ``conductor`` ← ``broadcasts`` ←
``integrations``/``api``, and ``conductor`` ← ``signups``, all on the ground
floor, ``core``; ``ops`` (health and metrics) on top, imported by ``config`` only.

The graph is read from the source with ``ast``, so an import hidden in a
function counts as much as one at the top; only ``if TYPE_CHECKING:`` blocks
(never run) are left out. Migrations are left out too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "core",
    "lists",
    "contacts",
    "emails",
    "conductor",
    "broadcasts",
    "integrations",
    "api",
    "signups",
    "ops",
    "config",
)

#: What each app must not import: the arrows point one way only.
FORBIDDEN = {
    "core": {
        "lists",
        "contacts",
        "emails",
        "conductor",
        "broadcasts",
        "integrations",
        "api",
        "signups",
        "ops",
        "config",
    },
    "lists": {
        "contacts",
        "emails",
        "conductor",
        "broadcasts",
        "integrations",
        "api",
        "signups",
        "ops",
    },
    "contacts": {"emails", "conductor", "broadcasts", "integrations", "api", "signups", "ops"},
    "emails": {"conductor", "broadcasts", "integrations", "api", "signups", "ops"},
    "conductor": {"broadcasts", "integrations", "api", "signups", "ops"},
    "broadcasts": {"integrations", "api", "signups", "ops"},
    "signups": {"broadcasts", "integrations", "api", "ops"},
    "integrations": {"ops"},
    "api": {"ops"},
}

Graph = dict[str, set[str]]


def project_modules() -> dict[str, Path]:
    """Every module of the project's packages by dotted name (a package by
    its ``__init__``), migrations left out."""
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, but those under ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and is_type_checking(node.test):
            stack.extend(node.orelse)
        else:
            stack.extend(ast.iter_child_nodes(node))


def imported_names(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The dotted names a statement may import: for ``from a import b``,
    ``a.b`` (a submodule, if it is one) and ``a``."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = ".".join(package[: len(package) - node.level + 1])
        base = f"{anchor}.{base}" if base else anchor
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module ``name`` is, or is in (its longest known prefix)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_graph() -> Graph:
    """Module → the project modules it imports."""
    modules = project_modules()
    graph: Graph = {name: set() for name in modules}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in import_nodes(tree):
            names = imported_names(node, module, is_package)
            if isinstance(node, ast.ImportFrom):
                # ``from a import b``: the submodule ``a.b`` where there is
                # one, otherwise a name defined in ``a``.
                base, *members = names
                targets = [m if m in modules else base for m in members]
            else:
                targets = names
            for target in targets:
                found = resolve(target, modules)
                if found is not None and found != module:
                    graph[module].add(found)
    return graph


def circular_groups(graph: Graph) -> list[set[str]]:
    """The groups of modules that reach one another through imports
    (strongly connected components of more than one module, by Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def circle_in(graph: Graph, group: set[str]) -> list[str]:
    """A path from the group's first module back to itself, inside the group
    (breadth first: the shortest)."""
    start = min(group)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & group):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if target not in came_from:
                    came_from[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"no circle in {sorted(group)}")  # Tarjan said there is one


def test_the_graph_sees_function_level_imports_and_skips_type_checking_blocks():
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from contacts.models import Contact\n"
        "def later():\n    from lists import models\n"
    )
    modules = {"lists.models": ROOT, "contacts.models": ROOT}
    names = [
        resolve(name, modules)
        for node in import_nodes(ast.parse(source))
        for name in imported_names(node, "x.y", is_package=False)
    ]
    assert "lists.models" in names
    assert "contacts.models" not in names


def test_the_cycle_finder_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c", "a"}, "c": {"a"}, "d": {"a"}}
    (group,) = circular_groups(graph)
    assert group == {"a", "b", "c"}
    assert circle_in(graph, group) == ["a", "b", "a"]


def test_no_module_imports_itself_in_a_circle():
    graph = import_graph()
    report = "\n".join(
        " -> ".join(circle_in(graph, group)) + f"  (all of: {', '.join(sorted(group))})"
        for group in circular_groups(graph)
    )
    print(report)
    assert not report, f"import circles:\n{report}"


def test_the_apps_import_one_way():
    wrong = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        for target in targets
        if target.split(".")[0] in FORBIDDEN.get(module.split(".")[0], set())
    )
    assert not wrong, "imports against the arrows:\n" + "\n".join(wrong)
