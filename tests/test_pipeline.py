"""The pipeline (``lrsweep.pipeline``): one sweep end to end; what the library says goes through logging."""

import ast
import logging
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import lrsweep
from lrsweep import pipeline

TINY = {"name": "tiny", "steps": 10, "loss": {"name": "quadratic", "curvatures": [1.0, 4.0]},
        "init": {"points": [[1.0, 1.0]]}, "optimizer": {"name": "sgd"},
        "axes": {"learning_rate": {"min": 0.1, "max": 1.0, "num": 4, "scale": "log"}}}


@pytest.fixture
def records():
    """The records of the ``lrsweep`` logger (whatever handlers the CLI left on it)."""
    got = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = got.append
    log = logging.getLogger("lrsweep")
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield got
    log.removeHandler(handler)
    log.setLevel(level)


def test_library_code_does_not_print():
    """Only the command line prints; the package logs through ``logging.getLogger("lrsweep")``."""
    pkg = Path(lrsweep.__file__).parent
    printing = sorted({p.name for p in pkg.glob("*.py") if p.name != "cli.py"
                       for node in ast.walk(ast.parse(p.read_text()))
                       if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"})
    assert printing == []


def test_a_failing_annotation_is_a_logged_warning(monkeypatch, records, capsys):
    """The reference columns failing leaves them empty and logs one WARNING on ``lrsweep``; nothing is
    printed by the library itself."""
    def broken(*a, **k):
        raise ZeroDivisionError("a closed form that does not apply")

    monkeypatch.setattr(pipeline._reference, "annotate", broken)
    result = pipeline.run(lrsweep.from_dict(TINY), progress=False)
    assert result.boundary["theory"].isna().all()
    warnings = [r for r in records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "reference columns left empty: ZeroDivisionError" in warnings[0].getMessage()
    assert capsys.readouterr().err == ""


def test_progress_lines_are_logged_off_a_terminal(records):
    """Off a terminal and outside a notebook, progress is an INFO line per chunk (the last one always)."""
    progress = pipeline._Progress(lrsweep.from_dict(TINY), total=4, skipped=2, enabled=True, every=1e9)
    progress.update(2)
    progress.update(2)
    progress.close()
    lines = [r.getMessage() for r in records if r.levelno == logging.INFO]
    assert lines[0] == "tiny: resuming: 2 of 4 configurations already done"
    assert len(lines) == 2 and lines[1].startswith("tiny: 4/4 configurations")


@pytest.mark.parametrize("shell, notebook", [("ZMQInteractiveShell", True), ("TerminalInteractiveShell", False),
                                             (None, False)])
def test_notebook_is_a_jupyter_kernel(monkeypatch, shell, notebook):
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: None if shell is None else type(shell, (), {})()
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert pipeline._notebook() is notebook


def test_run_classifies_every_configuration():
    """x ↦ ½xᵀdiag(1, 4)x under gradient descent diverges iff η > 2/4: the table says so for every row."""
    result = pipeline.run(lrsweep.from_dict(TINY), progress=False)
    lr = result.table["learning_rate"].to_numpy()
    np.testing.assert_array_equal(result.table["diverged"].to_numpy(), lr > 0.5)
    assert result.manifest["configurations"] == 4
