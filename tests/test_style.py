"""The package's shape: small functions (STYLE.md: "functions are 10–40 lines")."""

import ast
from pathlib import Path

import lrsweep

MAX_LINES = 60
LONGER: set[str] = set()  # known exceptions (none)


def test_no_function_is_over_sixty_lines():
    """Every function of ``lrsweep/`` (docstring included) fits in 60 lines."""
    pkg = Path(lrsweep.__file__).parent
    long = {f"{p.name}:{node.name}": node.end_lineno - node.lineno + 1
            for p in sorted(pkg.glob("*.py")) for node in ast.walk(ast.parse(p.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_LINES}
    assert set(long) <= LONGER, {k: v for k, v in long.items() if k not in LONGER}
