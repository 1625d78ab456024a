"""The reliability contract (docs/contract.md), as a table of hostile inputs.

Every command on any input ends in exactly one of two ways:

* ``exit 0 complete``: exit status 0 and ``manifest.json`` status ``complete``;
* ``exit 2 clean``: exit status 2, one to three lines on stderr naming the file or argument and the
  field, and nothing written (no results directory, no figure).

One table per class of issue 12; every case is a tiny sweep (a 2-D quadratic, 10 steps, 4 learning
rates) run in-process through ``lrsweep.cli.main``.
"""

from __future__ import annotations

import errno
import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest

from lrsweep import pipeline, store
from lrsweep.cli import main

BASE = """
name = "tiny"
steps = 10
[loss]
name = "quadratic"
curvatures = [1.0, 4.0]
[init]
points = [[1.0, 1.0]]
[optimizer]
name = "sgd"
[axes]
learning_rate = { min = 0.1, max = 1.0, num = 4, scale = "log" }
"""

USER = {  # user loss files: name -> source
    "raises.py": "def loss(x):\n    raise RuntimeError('boom in the user loss')\n",
    "keyword.py": "import jax.numpy as jnp\ndef loss(x, *, width):\n    return width * jnp.sum(x ** 2)\n",
    "floaty.py": "import jax.numpy as jnp\ndef loss(x):\n    return float(jnp.sum(x ** 2))\n",
    "exit_import.py": "import sys\nsys.exit(3)\n",
    "exit_call.py": "import sys\ndef loss(x):\n    sys.exit(0)\n",
    "complex.py": "import jax.numpy as jnp\ndef loss(x):\n    return jnp.sum(x ** 2) * (1 + 1j)\n",
    "nan_start.py": "import jax.numpy as jnp\ndef loss(x):\n    return jnp.sum(x ** 2) * jnp.nan\n",
    "nan_later.py": "import jax.numpy as jnp\ndef loss(x):\n"
                    "    f = jnp.sum(x ** 2)\n    return jnp.where(f < 1.9, jnp.nan, f)\n",
}


def _user(tmp_path, file: str) -> str:
    (tmp_path / file).write_text(USER[file])
    return BASE.replace('name = "quadratic"\ncurvatures = [1.0, 4.0]', f'name = "{tmp_path / file}:loss"')


def cli(argv, capsys):
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.err


def run(tmp_path, capsys, text=BASE, sets=(), extra=(), out="out", figures=False):
    f = tmp_path / "s.toml"
    f.write_text(text)
    sets = [x for s in sets for x in ("--set", s)]
    argv = ["run", f, "--out", tmp_path / out, "--quiet", *sets, *extra] + ([] if figures else ["--no-figures"])
    return cli(argv, capsys)


def complete(rc, err, out) -> dict:
    """exit 0 complete."""
    assert rc == 0, err
    m = json.loads((out / "manifest.json").read_text())
    assert m["status"] == "complete"
    assert not [p for p in out.rglob(".tmp-*")], "temporaries left behind"
    return m


def refused(rc, err, *needles, nothing_at=None):
    """exit 2 clean: 1-3 lines, naming what was asked for; nothing written at ``nothing_at``."""
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert rc == 2, err
    assert 1 <= len(lines) <= 3, err
    assert lines[-1].startswith("lrsweep: error: "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, (n, err)
    if nothing_at is not None:
        assert not nothing_at.exists(), f"{nothing_at} was written"


# ----------------------------------------------------------------------------- 1. wrong types

TYPES = [
    ("string-for-bool", ["optimizer.momentum=0.5", 'optimizer.nesterov="yes"'], "optimizer.nesterov", "true or false"),
    ("eps-true", ['optimizer.name="adam"', "optimizer.eps=true"], "optimizer.eps", "a number"),
    ("float32-overflow", ["axes.learning_rate={values=[0.1, 1e39]}"], "axes.learning_rate", "float32"),
    ("string-for-number", ['optimizer.momentum="0.9"'], "optimizer.momentum", "a number"),
    ("bool-axis", ["axes.nesterov={values=[0, 1]}"], "axes.nesterov", "switch"),
    ("schedule-string", ['schedule.name="exponential_decay"', 'schedule.transition_steps="5"',
                         "schedule.decay_rate=0.5"], "schedule.transition_steps", "a number"),
    ("schedule-string-for-bool", ['schedule.name="exponential_decay"', "schedule.transition_steps=5",
                                  "schedule.decay_rate=0.5", 'schedule.staircase="no"'], "schedule.staircase",
     "true or false"),
    ("loss-bool-for-number", ["loss.curvature_scale=true"], "loss.curvature_scale", "a number"),
    ("loss-float32-overflow", ["loss.curvatures=[1.0, 1e39]"], "loss.curvatures", "float32"),
]


@pytest.mark.parametrize("sets, field, expected", [c[1:] for c in TYPES], ids=[c[0] for c in TYPES])
def test_1_wrong_types_are_refused(tmp_path, capsys, sets, field, expected):
    rc, err = run(tmp_path, capsys, sets=sets)
    refused(rc, err, "s.toml", field, expected, nothing_at=tmp_path / "out")


def test_1_complex_user_loss_is_refused(tmp_path, capsys):
    rc, err = run(tmp_path, capsys, _user(tmp_path, "complex.py"))
    refused(rc, err, "complex.py:loss", "a real scalar", nothing_at=tmp_path / "out")


BOUNDARY_KEYS = [  # [boundary]'s sensitivity and sharpness keys: refused before anything is written
    ("range-reversed", ["boundary.sensitivity_range=[0.3, 3e-4]"], "boundary.sensitivity_range", "0 < a < b"),
    ("range-zero", ["boundary.sensitivity_range=[0.0, 0.3]"], "boundary.sensitivity_range", "0 < a < b"),
    ("range-one-number", ["boundary.sensitivity_range=[0.3]"], "boundary.sensitivity_range", "two learning rates"),
    ("range-a-word", ['boundary.sensitivity_range="paper"'], "boundary.sensitivity_range", "[a, b]"),
    ("range-no-lr-axis", ["boundary.sensitivity_range=[0.1, 0.5]", "optimizer.learning_rate=0.1",
                          "axes={momentum={values=[0.0, 0.5]}}"], "boundary.sensitivity_range", "learning_rate axis"),
    ("loss-not-a-column", ["boundary.sensitivity_range=[0.1, 0.5]", 'boundary.sensitivity_loss="eval_ce"'],
     "boundary.sensitivity_loss", "final_loss"),
    ("loss-not-a-string", ["boundary.sensitivity_range=[0.1, 0.5]", "boundary.sensitivity_loss=3"],
     "boundary.sensitivity_loss", "a string"),
    ("sharpness-a-word", ['boundary.sharpness="no"'], "boundary.sharpness", "true or false"),
]


@pytest.mark.parametrize("sets, field, expected", [c[1:] for c in BOUNDARY_KEYS], ids=[c[0] for c in BOUNDARY_KEYS])
def test_1_bad_sensitivity_and_sharpness_keys_are_refused(tmp_path, capsys, sets, field, expected):
    rc, err = run(tmp_path, capsys, sets=sets)
    refused(rc, err, "s.toml", field, expected, nothing_at=tmp_path / "out")


# ----------------------------------------------------------------------------- 2. two names for one

NAMES = [
    ("axis-and-long-form", ["axes.optimizer.learning_rate={values=[0.1, 0.2]}"], "axes.optimizer.learning_rate"),
    ("fixed-and-axis", ["optimizer.learning_rate=0.1"], "optimizer.learning_rate"),
    ("fixed-momentum-and-axis", ["optimizer.momentum=0.5", "axes.momentum={values=[0.0, 0.5]}"],
     "optimizer.momentum"),
    ("fixed-and-long-axis", ["optimizer.momentum=0.5", "axes.optimizer.momentum={values=[0.0, 0.5]}"],
     "optimizer.momentum"),
    ("schedule-fixed-and-axis", ['schedule.name="exponential_decay"', "schedule.transition_steps=5",
                                 "schedule.decay_rate=0.5", "axes.schedule.decay_rate={values=[0.5, 0.9]}"],
     "schedule.decay_rate"),
    ("loss-fixed-and-axis", ["loss.curvature_scale=2.0", "axes.loss.curvature_scale={values=[1.0, 2.0]}"],
     "loss.curvature_scale"),
    ("init-scale-and-axis", ["init.scale=2.0", "axes.init.scale={values=[1.0, 2.0]}"], "init.scale"),
]


@pytest.mark.parametrize("sets, field", [c[1:] for c in NAMES], ids=[c[0] for c in NAMES])
def test_2_one_name_per_hyperparameter(tmp_path, capsys, sets, field):
    rc, err = run(tmp_path, capsys, sets=sets)
    refused(rc, err, "s.toml", field, nothing_at=tmp_path / "out")


# ----------------------------------------------------------------------------- 3. legal inputs, then a crash

REFERENCES = [  # legal: the run completes; the reference columns say why they are empty
    ("momentum-reaching-1", ["axes.momentum={values=[0.0, 1.0]}"]),
    ("momentum-negative", ["axes.momentum={values=[-0.5, 0.0]}"]),
    ("init-at-minimum", ["init.points=[[0.0, 0.0]]"]),
]


@pytest.mark.parametrize("sets", [c[1] for c in REFERENCES], ids=[c[0] for c in REFERENCES])
def test_3_reference_columns_never_kill_a_run(tmp_path, capsys, sets):
    rc, err = run(tmp_path, capsys, sets=sets)
    complete(rc, err, tmp_path / "out")
    b = pd.read_csv(tmp_path / "out" / "boundary.csv")
    assert b["theory_status"].notna().all()


def test_3_a_failing_annotation_leaves_columns_empty(tmp_path, capsys, monkeypatch):
    def broken(*a, **k):
        raise ZeroDivisionError("a closed form that does not apply")

    monkeypatch.setattr(pipeline._reference, "annotate", broken)
    rc, err = run(tmp_path, capsys)
    complete(rc, err, tmp_path / "out")
    b = pd.read_csv(tmp_path / "out" / "boundary.csv")
    assert b["theory"].isna().all() and b["theory_status"].str.contains("ZeroDivisionError").all()
    assert b["critical"].notna().all()  # the measurement itself is kept


INVALID = [  # refused before anything runs
    ("nan-fixed-hyperparameter", BASE, ["optimizer.momentum=nan"], "optimizer.momentum"),
    ("inf-fixed-hyperparameter", BASE, ["optimizer.momentum=inf"], "optimizer.momentum"),
    ("loss-nan-at-start", "nan_start.py", [], "finite loss"),
]


@pytest.mark.parametrize("text, sets, needle", [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_3_invalid_values_refused_before_running(tmp_path, capsys, text, sets, needle):
    text = _user(tmp_path, text) if text.endswith(".py") else text
    rc, err = run(tmp_path, capsys, text, sets=sets)
    refused(rc, err, "s.toml", needle, nothing_at=tmp_path / "out")


# ----------------------------------------------------------------------------- 4. results that cannot be drawn

DRAW = [
    ("every-run-diverged-1d", BASE, ["axes.learning_rate={min=5.0, max=10.0, num=3}"]),
    ("every-run-diverged-2d", BASE, ["axes.learning_rate={min=5.0, max=10.0, num=3}",
                                     "axes.momentum={values=[0.0, 0.5]}"]),
    ("every-loss-nan", BASE, ["axes.learning_rate={min=1e30, max=1e35, num=3, scale='log'}",
                              "axes.momentum={values=[0.0, 0.5]}"]),
    ("nan-after-the-start", "nan_later.py", ["axes.momentum={values=[0.0, 0.5]}"]),
]


@pytest.mark.parametrize("text, sets", [c[1:] for c in DRAW], ids=[c[0] for c in DRAW])
def test_4_every_results_directory_draws_and_reports(tmp_path, capsys, text, sets):
    text = _user(tmp_path, text) if text.endswith(".py") else text
    out = tmp_path / "out"
    rc, err = run(tmp_path, capsys, text, sets=sets, extra=["--format", "png"], figures=True)
    complete(rc, err, out)
    assert (out / "loss.png").exists() and "warning" not in err
    (out / "loss.png").unlink()
    rc, err = cli(["plot", out, "--format", "png"], capsys)
    assert rc == 0 and (out / "loss.png").exists(), err
    rc, err = cli(["report", out], capsys)
    assert rc == 0 and (out / "report.html").exists(), err


# ----------------------------------------------------------------------------- 5. size

def test_5_an_axis_of_1e12_points_is_refused_before_numpy(tmp_path, capsys):
    rc, err = run(tmp_path, capsys, sets=["axes.learning_rate.num=1e12"])
    refused(rc, err, "axes.learning_rate.num", "at most 10,000,000", nothing_at=tmp_path / "out")


def test_5_two_axes_of_1e5_points_are_refused_with_the_numbers(tmp_path, capsys):
    rc, err = run(tmp_path, capsys, sets=["axes.learning_rate.num=100000",
                                          "axes.momentum={min=0.0, max=0.9, num=100000}"])
    refused(rc, err, "10,000,000,000 configurations", "--force", nothing_at=tmp_path / "out")


def test_5_refused_when_the_disk_is_full_unless_forced(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(store, "free_disk", lambda out: 1000)
    rc, err = run(tmp_path, capsys)
    refused(rc, err, "1000 B are free", "--force", nothing_at=tmp_path / "out")
    rc, err = run(tmp_path, capsys, extra=["--force"])
    complete(rc, err, tmp_path / "out")


def test_5_refused_when_memory_is_short_and_the_estimate_is_printed(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(store, "free_memory", lambda: 100)
    f = tmp_path / "s.toml"
    f.write_text(BASE)
    rc, err = cli(["run", f, "--out", tmp_path / "out", "--no-figures"], capsys)  # not --quiet: the estimate
    assert "tiny: 4 configurations: up to" in err and "100 B free memory" in err
    refused(rc, err, "of memory are available", nothing_at=tmp_path / "out")


# ----------------------------------------------------------------------------- 6. user code

USER_CASES = [
    ("raises", "raises.py", "RuntimeError: boom in the user loss at raises.py:2"),  # the user's own frame
    ("unexpected-keyword", "keyword.py", "width"),
    ("float-on-a-tracer", "floaty.py", "not a JAX function"),
    ("exit-at-import", "exit_import.py", "SystemExit: 3"),
    ("exit-at-call", "exit_call.py", "sys.exit(0)"),
]


@pytest.mark.parametrize("file, needle", [c[1:] for c in USER_CASES], ids=[c[0] for c in USER_CASES])
def test_6_user_code_failures_are_one_line(tmp_path, capsys, file, needle):
    rc, err = run(tmp_path, capsys, _user(tmp_path, file))
    refused(rc, err, f"{file}:loss", needle, nothing_at=tmp_path / "out")


def test_6_a_function_that_is_not_jax(tmp_path, capsys):
    rc, err = run(tmp_path, capsys, BASE.replace('name = "quadratic"\ncurvatures = [1.0, 4.0]', 'name = "math:hypot"'))
    refused(rc, err, "math:hypot", "not a JAX function", nothing_at=tmp_path / "out")


# ----------------------------------------------------------------------------- 7. the file system

def test_7_out_under_a_regular_file(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    rc, err = run(tmp_path, capsys, out="file/sub")
    refused(rc, err, "--out", "file/sub", "Not a directory")


def test_7_out_equal_to_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    rc, err = run(tmp_path, capsys, out="file")
    refused(rc, err, "--out", "not a directory")
    assert (tmp_path / "file").read_text() == "x"


def test_7_out_with_a_nul_byte(tmp_path, capsys):
    rc, err = run(tmp_path, capsys, out="a\0b")
    refused(rc, err, "--out", "null byte")
    assert [p.name for p in tmp_path.iterdir()] == ["s.toml"]


def test_7_out_in_a_read_only_directory(tmp_path, capsys, monkeypatch):
    """As root a chmod does not stop writing: the failure is injected where the directory is created."""
    real = os.mkdir

    def read_only(path, *a, **k):
        if str(path).startswith(str(tmp_path / "ro")):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(os, "mkdir", read_only)
    rc, err = run(tmp_path, capsys, out="ro/x")
    refused(rc, err, "--out", "Permission denied", nothing_at=tmp_path / "ro")


def test_7_a_full_disk_mid_run_is_one_line_and_the_directory_resumes(tmp_path, capsys, monkeypatch):
    ref = _reference_table(tmp_path, capsys)
    real, calls = store.Ledger.write, {"n": 0}

    def full(self, lo, hi, metrics):
        if calls["n"] == 1:
            raise OSError(errno.ENOSPC, "No space left on device", str(self._file(lo, hi)))
        calls["n"] += 1
        real(self, lo, hi, metrics)

    monkeypatch.setattr(store.Ledger, "write", full)
    sets, extra = ["run.chunk_size=2", "run.batch=1"], ["--devices", "1"]
    rc, err = run(tmp_path, capsys, sets=sets, extra=extra)
    refused(rc, err, "No space left on device", "rows-000000000002-000000000004.npz", "resumable")
    monkeypatch.setattr(store.Ledger, "write", real)
    rc, err = run(tmp_path, capsys, sets=sets, extra=extra)
    m = complete(rc, err, tmp_path / "out")
    assert m["configurations_computed"] == 2  # the chunk written before the disk filled is kept
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out" / "table.parquet"), ref)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished results directory (copied by the cases that change it)."""
    d = tmp_path_factory.mktemp("finished")
    (d / "s.toml").write_text(BASE)
    assert main(["run", str(d / "s.toml"), "--out", str(d / "out"), "--quiet", "--no-figures"]) == 0
    return d / "out"


@pytest.fixture(scope="module")
def other(tmp_path_factory):
    """The finished results of another sweep (12 steps instead of 10)."""
    d = tmp_path_factory.mktemp("other")
    (d / "o.toml").write_text(BASE.replace("steps = 10", "steps = 12"))
    assert main(["run", str(d / "o.toml"), "--out", str(d / "out"), "--quiet", "--no-figures"]) == 0
    return d / "out"


def _copy(finished, tmp_path):
    return shutil.copytree(finished, tmp_path / "res")


def test_7_figures_into_an_unwritable_place(finished, tmp_path, capsys):
    res = _copy(finished, tmp_path)
    (res / "loss.png").mkdir()  # in the figure's way (root writes through chmod, not through this)
    rc, err = cli(["plot", res, "--format", "png"], capsys)
    refused(rc, err, "loss.png", "cannot write the figure")


def test_7_report_into_an_unwritable_place(finished, tmp_path, capsys):
    res = _copy(finished, tmp_path)
    (res / "report.html").mkdir()
    rc, err = cli(["report", res], capsys)
    refused(rc, err, "report.html", "cannot write the report")


# ----------------------------------------------------------------------------- 8. corrupted or foreign results

def _interrupted(tmp_path, capsys, monkeypatch, after: int, sets=("run.chunk_size=2", "run.batch=1")):
    """A run killed after ``after`` chunks (status running, chunk files on disk)."""
    calls = {"n": 0}
    real = store.Ledger.write

    def write(self, lo, hi, metrics):
        if calls["n"] == after:
            raise KeyboardInterrupt
        calls["n"] += 1
        real(self, lo, hi, metrics)

    monkeypatch.setattr(store.Ledger, "write", write)
    rc, _ = run(tmp_path, capsys, sets=sets, extra=["--devices", "1"])
    monkeypatch.setattr(store.Ledger, "write", real)
    assert rc == 130
    return tmp_path / "out"


_REFERENCE = {}


def _reference_table(tmp_path, capsys):
    """The uninterrupted run's table (computed once per test session)."""
    if "table" not in _REFERENCE:
        rc, err = run(tmp_path, capsys, out="ref")
        assert rc == 0, err
        _REFERENCE["table"] = pd.read_parquet(tmp_path / "ref" / "table.parquet")
    return _REFERENCE["table"]


def _savez(f, **arrays):
    with open(f, "wb") as fh:
        np.savez(fh, **arrays)


CHUNKS = [
    ("truncated", lambda f: f.write_bytes(f.read_bytes()[:40])),
    ("not-a-zip", lambda f: f.write_text("garbage")),
    ("wrong-length", lambda f: _savez(f, final_loss=np.zeros(7))),
    ("another-sweep", lambda f: _savez(f, final_loss=np.zeros(2), __sweep__=np.asarray("0" * 64))),
]


@pytest.mark.parametrize("damage", [c[1] for c in CHUNKS], ids=[c[0] for c in CHUNKS])
def test_8_a_damaged_chunk_is_recomputed(tmp_path, capsys, monkeypatch, damage):
    ref = _reference_table(tmp_path, capsys)
    out = _interrupted(tmp_path, capsys, monkeypatch, after=1)
    chunk = next((out / "chunks").glob("rows-*.npz"))
    damage(chunk)
    rc, err = run(tmp_path, capsys, sets=["run.chunk_size=2", "run.batch=1"], extra=["--devices", "1"])
    complete(rc, err, out)
    assert "recomputing" in err
    pd.testing.assert_frame_equal(pd.read_parquet(out / "table.parquet"), ref)


FOREIGN = [  # plot/report refuse a results directory whose files do not belong together
    ("table-of-another", "table.parquet", lambda res, other: shutil.copy(other / "table.parquet", res)),
    ("sweep-of-another", "sweep.toml", lambda res, other: shutil.copy(other / "sweep.toml", res)),
    ("boundary-changed", "boundary.csv",
     lambda res, other: (res / "boundary.csv").write_text((res / "boundary.csv").read_text() + "\n")),
    ("manifest-unreadable", "manifest.json", lambda res, other: (res / "manifest.json").write_text("{ not json")),
    ("table-truncated", "table.parquet",
     lambda res, other: (res / "table.parquet").write_bytes((res / "table.parquet").read_bytes()[:100])),
    ("unfinished-overwrite", "status",
     lambda res, other: store.write_json(res / "manifest.json",
                                         {**json.loads((res / "manifest.json").read_text()), "status": "running"})),
]


@pytest.mark.parametrize("command", ["plot", "report"])
@pytest.mark.parametrize("name, damage", [c[1:] for c in FOREIGN], ids=[c[0] for c in FOREIGN])
def test_8_foreign_or_unreadable_results_are_refused(finished, other, tmp_path, capsys, name, damage, command):
    res = _copy(finished, tmp_path)
    damage(res, other)
    before = sorted(p.name for p in res.iterdir())
    rc, err = cli([command, res], capsys)
    refused(rc, err, name)
    assert sorted(p.name for p in res.iterdir()) == before  # nothing written


# ----------------------------------------------------------------------------- 10. interrupted at the very end

END = [("saving", "save"), ("table-assembly", "_write_table"), ("annotation", "_annotated")]


@pytest.mark.parametrize("where", [c[1] for c in END], ids=[c[0] for c in END])
def test_10_killed_after_the_last_chunk_the_rerun_completes(tmp_path, capsys, monkeypatch, where):
    ref = _reference_table(tmp_path, capsys)
    out = tmp_path / "out"
    real = getattr(pipeline, where)

    def killed(*a, **k):
        if where == "_write_table":  # the table's temporary file exists when the kill comes
            real(*a, **k)
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, where, killed)
    rc, _ = run(tmp_path, capsys)
    assert rc == 130
    monkeypatch.setattr(pipeline, where, real)
    rc, err = run(tmp_path, capsys)
    m = complete(rc, err, out)
    assert m["configurations_computed"] == 0  # every chunk was kept
    for key in ("versions", "fingerprint", "sweep_hash", "files", "host", "phases"):
        assert key in m
    pd.testing.assert_frame_equal(pd.read_parquet(out / "table.parquet"), ref)


def test_10_a_rerun_killed_over_a_finished_directory_keeps_the_manifest_fields(finished, tmp_path, capsys,
                                                                               monkeypatch):
    res = _copy(finished, tmp_path)
    monkeypatch.setattr(pipeline, "save", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    assert main(["run", str(_sweep(tmp_path)), "--out", str(res), "--quiet", "--no-figures"]) == 130
    m = json.loads((res / "manifest.json").read_text())
    assert m["status"] == "running" and {"versions", "host", "git"} <= set(m)
    rc, err = cli(["plot", res], capsys)  # not finished: refused, not drawn from the old table
    refused(rc, err, "status", "running")


def _sweep(tmp_path):
    f = tmp_path / "again.toml"
    f.write_text(BASE)
    return f


# ----------------------------------------------------------------------------- 11. smaller

def test_11_unsorted_boundary_axis_is_sorted(tmp_path, capsys):
    rc, err = run(tmp_path, capsys, sets=["axes.learning_rate={values=[1.0, 0.1, 0.5, 0.3]}"])
    complete(rc, err, tmp_path / "out")
    b = pd.read_csv(tmp_path / "out" / "boundary.csv")
    assert np.isfinite(b["critical"]).all() and abs(b["critical"][0] - 0.7544) < 1e-3  # η* of λ = 4, 10 steps


def test_11_repeated_boundary_values_are_refused(tmp_path, capsys):
    rc, err = run(tmp_path, capsys, sets=["axes.learning_rate={values=[0.1, 0.5, 0.5]}"])
    refused(rc, err, "axes.learning_rate.values", "distinct", nothing_at=tmp_path / "out")


def test_11_the_lock_is_taken_before_tracing(tmp_path, capsys, monkeypatch):
    def never(*a, **k):
        raise AssertionError("traced while another run holds the lock")

    monkeypatch.setattr(pipeline, "Program", never)
    with store.Lock(tmp_path / "out"):
        rc, err = run(tmp_path, capsys)
    refused(rc, err, "another lrsweep run is writing here")


def test_11_a_directory_of_another_sweep_is_refused_before_tracing(finished, tmp_path, capsys, monkeypatch):
    res = _copy(finished, tmp_path)
    monkeypatch.setattr(pipeline, "Program", lambda *a, **k: pytest.fail("traced before the directory was checked"))
    before = {p.name: p.read_bytes() for p in res.iterdir()}
    rc, err = run(tmp_path, capsys, sets=["steps=12"], out="res")
    refused(rc, err, "holds results of a different sweep", "steps: 10 there, 12 here", "--overwrite")
    assert {p.name: p.read_bytes() for p in res.iterdir()} == before  # nothing written


def test_11_overwrite_without_figures_removes_old_figures(tmp_path, capsys):
    rc, err = run(tmp_path, capsys, extra=["--format", "png"], figures=True)
    assert rc == 0 and (tmp_path / "out" / "loss.png").exists(), err
    rc, err = run(tmp_path, capsys, sets=["steps=12"], extra=["--overwrite"])
    complete(rc, err, tmp_path / "out")
    assert not (tmp_path / "out" / "loss.png").exists()


def test_11_non_utf8_sweep_file_names_line_and_key(tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_bytes(BASE.replace('name = "tiny"', 'name = "tiny"\ndescription = "caf\xe9"').encode("latin-1"))
    rc, err = cli(["run", f, "--out", tmp_path / "out", "--quiet"], capsys)
    refused(rc, err, "s.toml", "line 3 (description)", "UTF-8", nothing_at=tmp_path / "out")


# ----------------------------------------------------------------------------- also: locks, fsync, resume

def test_no_flock_falls_back_to_an_exclusive_lock_file(tmp_path, capsys, monkeypatch):
    def no_flock(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(store, "flock", no_flock)
    rc, err = run(tmp_path, capsys)
    complete(rc, err, tmp_path / "out")
    assert "warning" in err and "ENOLCK" in err and not (tmp_path / "out" / store.EXCLUSIVE).exists()
    (tmp_path / "out" / store.EXCLUSIVE).write_text("pid 1 on elsewhere")  # a live (or killed) holder
    rc, err = run(tmp_path, capsys)
    refused(rc, err, "another lrsweep run", "pid 1 on elsewhere", store.EXCLUSIVE)


def test_atomic_writes_fsync_the_file_and_its_directory(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    store.write_json(tmp_path / "m.json", {"status": "complete"})
    assert json.loads((tmp_path / "m.json").read_text()) == {"status": "complete"}
    assert any(".tmp-" in s for s in synced) and str(tmp_path) in synced
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_atomic_write_leaves_the_old_file_when_the_writer_fails(tmp_path):
    (tmp_path / "t.csv").write_text("old")

    def fails(p):
        p.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        store.atomic_write(tmp_path / "t.csv", fails)
    assert (tmp_path / "t.csv").read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_resume_refuses_other_versions(tmp_path, capsys, monkeypatch):
    out = _interrupted(tmp_path, capsys, monkeypatch, after=1)
    m = json.loads((out / "manifest.json").read_text())
    m["fingerprint"]["jax"] = "0.0.1"
    store.write_json(out / "manifest.json", m)
    rc, err = run(tmp_path, capsys, sets=["run.chunk_size=2", "run.batch=1"], extra=["--devices", "1"])
    refused(rc, err, "code.jax", "0.0.1", "--overwrite")
