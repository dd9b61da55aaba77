"""Functions stay short enough to read: CLI commands are shells, the rest fits on a screen.

A CLI command (a function decorated with ``@<app>.command``) parses options, builds a pipeline,
runs it and prints a summary: at most 40 lines, decorators included. Any other function in
``src/`` is at most 80 lines, unless the line before its ``def`` (or its first decorator) is a
comment starting ``# long:`` that says why it must be.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "unflat"
COMMAND_LINES = 40
FUNCTION_LINES = 80


def functions(source: str) -> list[tuple[str, int, int, bool]]:
    """(name, first line, line count, is a CLI command) for every function in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([d.lineno for d in node.decorator_list] + [node.lineno])
            command = any(
                isinstance(d, ast.Call)
                and isinstance(d.func, ast.Attribute)
                and d.func.attr == "command"
                for d in node.decorator_list
            )
            found.append((node.name, first, node.end_lineno - first + 1, command))
    return found


def too_long(source: str) -> list[str]:
    """Functions of ``source`` over their limit, as ``name:line (n lines)``."""
    lines = source.splitlines()
    problems = []
    for name, first, count, command in functions(source):
        excused = first >= 2 and lines[first - 2].strip().startswith("# long:")
        limit = COMMAND_LINES if command else FUNCTION_LINES
        if count > limit and (command or not excused):
            problems.append(f"{name}:{first} ({count} lines, limit {limit})")
    return problems


def test_the_checker_finds_long_functions() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(FUNCTION_LINES))
    long = f"def long():\n{body}\n"
    assert too_long(long) == [f"long:1 ({FUNCTION_LINES + 1} lines, limit {FUNCTION_LINES})"]
    assert too_long("# long: one table of constants\n" + long) == []
    command = "@app.command()\ndef cmd():\n" + "\n".join(f"    y{i} = 1" for i in range(39))
    assert too_long(command) == [f"cmd:1 (41 lines, limit {COMMAND_LINES})"]


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_no_function_is_too_long(path: Path) -> None:
    assert too_long(path.read_text()) == []
