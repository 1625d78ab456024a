"""The command line end to end: run → results directory → plot from disk; list; python -m lrsweep."""

import json
import subprocess
import sys

import pandas as pd

from lrsweep.cli import main

SWEEP = """
name  = "cli-small"
steps = 40
[loss]
name = "quadratic"
curvatures = [1.0, 10.0]
[init]
points = [[1.0, 1.0]]
[optimizer]
name = "sgd"
[axes]
learning_rate = { min = 1e-2, max = 1.0, num = 24, scale = "log" }
momentum      = { values = [0.0, 0.5, 0.9] }
"""


def test_run_writes_results_and_plot_redraws(tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_text(SWEEP)
    out = tmp_path / "res"
    assert main(["run", str(f), "--out", str(out), "--quiet", "--set", "steps=30"]) == 0
    printed = capsys.readouterr().out
    assert "config-steps/s" in printed and "boundary along learning_rate" in printed
    for name in ("sweep.toml", "table.parquet", "boundary.csv", "transitions.csv", "manifest.json", "phase.pdf",
                 "phase.png"):
        assert (out / name).exists(), name
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp")]
    table = pd.read_parquet(out / "table.parquet")
    assert len(table) == 72 and {"learning_rate", "momentum", "final_loss", "outcome", "score"} <= set(table)
    b = pd.read_csv(out / "boundary.csv")
    assert list(b["momentum"]) == [0.0, 0.5, 0.9]
    assert {"lower", "upper", "critical", "critical_asymptotic", "theory", "theory_finite"} <= set(b)
    m = json.loads((out / "manifest.json").read_text())
    assert m["status"] == "complete" and m["steps"] == 30 and m["compiles"] == 1
    for key in ("started", "finished", "versions", "host", "git", "compile_seconds", "run_seconds",
                "config_steps_per_second", "dtype"):
        assert key in m
    assert m["versions"]["jax"] and m["host"]["devices"]
    assert "steps = 30" in (out / "sweep.toml").read_text()

    (out / "phase.png").unlink()
    assert main(["plot", str(out), "--format", "png,svg"]) == 0
    assert (out / "phase.png").exists() and (out / "phase.svg").exists()


def test_plot_on_missing_dir(tmp_path, capsys):
    assert main(["plot", str(tmp_path / "none")]) == 2
    assert "not a results directory" in capsys.readouterr().err


def test_list_and_module_entry_point():
    r = subprocess.run([sys.executable, "-m", "lrsweep", "list"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for word in ("quadratic(", "rosenbrock(", "mlp(", "sgd(", "adam(", "exponential(", "reduce_on_plateau("):
        assert word in r.stdout


def test_the_manifest_times_every_phase_of_the_command(tmp_path):
    """What the user waits for: the whole command, phase by phase, in manifest.json."""
    import json

    from lrsweep.cli import main

    out = tmp_path / "r"
    assert main(["run", "sweeps/x2-gd.toml", "--out", str(out), "--quiet", "--set", "axes.learning_rate.num=16",
                 "--format", "png"]) == 0
    phases = json.loads((out / "manifest.json").read_text())["phases"]
    for k in ("load", "setup", "check", "compile", "sweep", "table", "refine", "theory", "sharpness", "save",
              "figures", "other", "total"):
        assert k in phases and phases[k] >= 0, k
    parts = sum(v for k, v in phases.items() if k != "total")
    assert abs(parts - phases["total"]) < 1e-6 * max(1.0, phases["total"])


def test_help_and_version_start_no_jax():
    """`lrsweep --help`/`--version` and `import lrsweep` import no JAX (public names load on first use)."""
    import subprocess
    import sys

    code = ("import sys, lrsweep, lrsweep.cli\n"
            "assert 'jax' not in sys.modules, 'jax imported'\n"
            "print(lrsweep.__version__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0.1.0"
    v = subprocess.run([sys.executable, "-m", "lrsweep", "--version"], capture_output=True, text=True)
    assert v.returncode == 0 and v.stdout.strip() == "lrsweep 0.1.0"


def test_opening_results_never_runs_the_users_code(tmp_path):
    """plot and report read a results directory whose sweep names a user loss file without importing it."""
    from lrsweep.cli import main

    marker = tmp_path / "imported"
    (tmp_path / "evil.py").write_text(f"import pathlib, jax.numpy as jnp\npathlib.Path({str(marker)!r}).write_text('x')\n"
                                      "def f(x):\n    return jnp.sum(x ** 2)\n")
    f = tmp_path / "s.toml"
    f.write_text(f'name = "e"\nsteps = 20\n[loss]\nname = "{tmp_path / "evil.py"}:f"\nminimum = 0.0\n'
                 '[init]\npoints = [[1.0]]\n[axes.learning_rate]\nmin = 0.1\nmax = 2.0\nnum = 8\n')
    out = tmp_path / "r"
    assert main(["run", str(f), "--out", str(out), "--quiet", "--no-figures"]) == 0
    marker.unlink()
    import subprocess
    import sys

    for cmd in (["plot", str(out), "--format", "png"], ["report", str(out)]):  # fresh processes: nothing cached
        assert subprocess.run([sys.executable, "-m", "lrsweep", *cmd], capture_output=True).returncode == 0
    assert not marker.exists()
    # the Python API too: loading a results directory (table, boundary, spec) and drawing its figure
    code = (f"import lrsweep; r = lrsweep.load_results({str(out)!r}); "
            f"assert len(r.table) == 8 and r.spec.loss.name.endswith(':f'); r.plot('loss')")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
    assert not marker.exists()


def test_the_command_prints_the_library_log_only_while_it_runs(capsys):
    """`main` routes the ``lrsweep`` logger to stderr for the command's duration and restores it after:
    a Python session calling it keeps its own logging."""
    import logging

    from lrsweep.cli import _log_to_stderr

    log = logging.getLogger("lrsweep")
    before = (list(log.handlers), log.level, log.propagate)
    with _log_to_stderr(quiet=False):
        log.info("shown")
        log.debug("not shown")
    with _log_to_stderr(quiet=True):
        log.info("not shown either")
        log.warning("lrsweep: warning: shown")
    assert capsys.readouterr().err == "shown\nlrsweep: warning: shown\n"
    assert main(["list"]) == 0
    assert (list(log.handlers), log.level, log.propagate) == before
