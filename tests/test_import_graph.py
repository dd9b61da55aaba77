"""No import cycles between unflat's modules.

The graph is read from the source with ``ast``: every ``import`` counts, at module level, inside
functions and under ``TYPE_CHECKING`` alike, because a cycle hidden in a function is still two
modules that cannot be understood (or moved) one without the other. An edge goes to the module
named by the import (``from a.b import c`` to ``a.b.c`` when that is a module, else to ``a.b``),
not to the packages above it, so a package's ``__init__`` re-exporting its own modules is no
cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` (a folder under ``root``) by dotted name."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _longest_module(name: str, modules: dict[str, Path]) -> str | None:
    """``name`` or its longest prefix that is one of ``modules`` (None when none is)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _targets(
    node: ast.Import | ast.ImportFrom, importer: str, modules: dict[str, Path]
) -> set[str | None]:
    """The modules of ``modules`` that one import statement in ``importer`` loads."""
    if isinstance(node, ast.Import):
        return {_longest_module(alias.name, modules) for alias in node.names}
    module = node.module or ""
    if node.level:
        # Relative: level 1 is the importer's own package.
        is_package = modules[importer].name == "__init__.py"
        base = importer.split(".") if is_package else importer.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        module = ".".join([*base, module] if module else base)
    # ``from a import b`` loads the module a.b when there is one, else takes a name from a.
    return {
        _longest_module(f"{module}.{alias.name}", modules)
        if f"{module}.{alias.name}" in modules
        else _longest_module(module, modules)
        for alias in node.names
    }


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """``{module: modules of the package it imports}`` for every module of ``package``."""
    modules = module_names(root, package)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                edges |= {t for t in _targets(node, name, modules) if t and t != name}
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module, each sorted (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in graph:
                    continue
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph[succ]))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
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
    return sorted(found)


def test_unflat_has_no_import_cycles() -> None:
    graph = import_graph(SRC, "unflat")
    assert len(graph) > 50, "the scan found too few modules: is SRC right?"
    assert cycles(graph) == []


def test_a_planted_cycle_is_found(tmp_path: Path) -> None:
    package = tmp_path / "planted"
    (package / "inner").mkdir(parents=True)
    (package / "__init__.py").write_text("from planted import a\n")
    # a -> b at module level, b -> inner.c inside a function, inner.c -> a relatively: one cycle.
    (package / "a.py").write_text("from planted.b import thing\n")
    (package / "b.py").write_text("thing = 1\n\ndef late():\n    import planted.inner.c\n")
    (package / "inner" / "__init__.py").write_text("")
    (package / "inner" / "c.py").write_text("from .. import a\n")
    # d imports into the cycle but nothing imports d; e imports itself only.
    (package / "d.py").write_text("from planted import a, b\n")
    (package / "e.py").write_text("import planted.e\n")

    graph = import_graph(tmp_path, "planted")

    assert graph["planted.b"] == {"planted.inner.c"}
    assert graph["planted.inner.c"] == {"planted.a"}
    assert graph["planted.d"] == {"planted.a", "planted.b"}
    assert cycles(graph) == [["planted.a", "planted.b", "planted.inner.c"]]


def test_two_separate_cycles_are_both_reported(tmp_path: Path) -> None:
    package = tmp_path / "twice"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("import twice.b\n")
    (package / "b.py").write_text("from twice import a\n")
    (package / "c.py").write_text("from twice.d import x\n")
    (package / "d.py").write_text("x = 1\n\ndef f():\n    from twice.c import y\n")

    assert cycles(import_graph(tmp_path, "twice")) == [
        ["twice.a", "twice.b"],
        ["twice.c", "twice.d"],
    ]
