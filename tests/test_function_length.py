"""Every function in rin/ reads at once: at most 60 lines from `def` to its last line."""

from __future__ import annotations

import ast
from pathlib import Path

RIN = Path(__file__).resolve().parents[1] / "rin"
MAX_LINES = 60  # issue 15: "no function in rin/ longer than 60 lines"


def _long_functions(source: str, max_lines: int) -> list[tuple[str, int]]:
    """(name, lines) of each function or method in `source`, nested ones too, longer than `max_lines`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            lines = node.end_lineno - node.lineno + 1  # the def line to the last line; decorators not counted
            if lines > max_lines:
                found.append((node.name, lines))
    return found


def test_the_counter_flags_a_long_method_and_spares_a_short_function():
    """The AST count sees a 62-line method inside a class and passes a 3-line function."""
    body = "\n".join(f"        x{i} = {i}" for i in range(61))
    source = f"class A:\n    def long(self):\n{body}\n\ndef short():\n    y = 1\n    return y\n"
    assert _long_functions(source, MAX_LINES) == [("long", 62)]


def test_no_function_in_rin_is_longer_than_60_lines():
    """No function or method under rin/ spans more than 60 lines."""
    offenders = [
        f"{path.relative_to(RIN.parent)}:{name} ({lines} lines)"
        for path in sorted(RIN.rglob("*.py"))
        for name, lines in _long_functions(path.read_text(), MAX_LINES)
    ]
    assert not offenders, "split these functions: " + ", ".join(offenders)
