"""lrsweep.reference: the per-sweep references are computed once and stored, so drawing compiles nothing.

* One-way flow: a results directory written by the pipeline holds every column the figures need
  (``theory_lambda_max``, ``theory``, ``theory_finite``); loading and drawing every figure of it in a
  fresh process imports no engine and triggers zero XLA compilations (a positive control shows the
  listener does hear a compilation).
* The theory line drawn from the stored columns is the closed form 2(1+β)/λ_max to 1e-12.
* ``critical_asymptotic`` is empty where the schedule decays to zero, and ``status`` says why.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

import lrsweep
from lrsweep import plot, reference, store

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def momentum_dir(tmp_path_factory):
    """A small heavy-ball sweep on f = ½(x² + 10 y²), written as a results directory."""
    spec = lrsweep.from_dict({
        "name": "hb", "steps": 60, "loss": {"name": "quadratic", "curvatures": [1.0, 10.0]},
        "init": {"points": [[1.0, 1.0]]}, "optimizer": {"name": "sgd"},
        "axes": {"learning_rate": {"min": 0.05, "max": 2.0, "num": 24, "scale": "log"},
                 "momentum": {"min": 0.0, "max": 0.9, "num": 6}},
        "boundary": {"rtol": 1e-4}})
    out = tmp_path_factory.mktemp("r") / "hb"
    lrsweep.run(spec, out=out, progress=False)
    return out


def test_stored_columns_and_phases(momentum_dir):
    r = store.load(momentum_dir)
    b = r.boundary
    np.testing.assert_allclose(b["theory_lambda_max"], 10.0, rtol=1e-6)
    np.testing.assert_allclose(b["theory"], 2 * (1 + b["momentum"]) / b["theory_lambda_max"], rtol=1e-12)
    assert (b["theory_status"] == "ok").all() and np.isfinite(b["theory_finite"]).all()
    phases = json.loads((momentum_dir / "manifest.json").read_text())["phases"]
    assert {"theory", "sharpness"} <= set(phases)


def test_theory_line_is_the_closed_form_at_the_stored_lambda_max(momentum_dir):
    r = store.load(momentum_dir)
    fig, ax = plt.subplots()
    plot.plot_boundary_curve(r, ax, along="momentum")
    (th,) = [ln for ln in ax.get_lines() if ln.get_gid() == "theory"]
    beta = th.get_xdata()
    assert beta.min() == pytest.approx(0.0) and beta.max() == pytest.approx(0.9) and len(beta) > 100
    np.testing.assert_allclose(th.get_ydata(), 2 * (1 + beta) / 10.0, rtol=1e-6)
    plt.close(fig)
    # without the column (an older table) the theory column is inverted: the same line
    r = dataclasses.replace(r, boundary=r.boundary.drop(columns="theory_lambda_max"))
    fig, ax = plt.subplots()
    plot.plot_boundary_curve(r, ax, along="momentum")
    (old,) = [ln for ln in ax.get_lines() if ln.get_gid() == "theory"]
    np.testing.assert_allclose(old.get_ydata(), th.get_ydata(), rtol=1e-9)
    plt.close(fig)


DRAW = r"""
import sys, json
import jax, jax.monitoring
events = []
jax.monitoring.register_event_duration_secs_listener(lambda name, secs, **kw: events.append(name))
import matplotlib; matplotlib.use("Agg")
from lrsweep import plot, store
r = store.load(sys.argv[1])
written = plot.draw_all(r, sys.argv[2])
drawing = [e for e in events if "compile" in e]
engine = "lrsweep.engine" in sys.modules
jax.jit(lambda x: x * 2.0)(jax.numpy.ones(3)).block_until_ready()   # the positive control
control = [e for e in events if "compile" in e][len(drawing):]
print(json.dumps({"drawing": drawing, "engine": engine, "control": len(control), "files": len(written or [])}))
"""


def test_drawing_every_figure_compiles_nothing(momentum_dir, tmp_path):
    """A fresh process loads the results and draws every figure: no engine import, no XLA compilation."""
    res = subprocess.run([sys.executable, "-c", DRAW, str(momentum_dir), str(tmp_path)], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["control"] > 0  # the listener hears a compilation when there is one
    assert got["drawing"] == [] and not got["engine"]
    assert list(tmp_path.glob("*.png"))


def test_importing_plot_imports_no_engine():
    code = "import sys, lrsweep.plot; print('lrsweep.engine' in sys.modules, 'lrsweep.reference' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["False", "False"]


def test_theory_does_not_know_the_engine():
    """theory.py is pure formulas: no import of the engine, the pipeline or jax in its source."""
    import inspect

    from lrsweep import theory

    src = inspect.getsource(theory)
    for word in ("lrsweep.engine", "Program", "import jax", "hessians_at_init", "schedule_factors"):
        assert word not in src, word


def test_asymptotic_is_empty_where_the_schedule_decays_to_zero():
    """GD on λ = (1, 10): under constant and cosine-to-0.1 schedules the asymptotic critical rate is defined
    (2/λ_max = 0.2 and 2/(0.1 λ_max) is out of reach: its estimate stays); under exponential, step and
    warmup-cosine-to-0 it is empty and status says why; critical itself is untouched."""
    spec = lrsweep.from_dict({
        "name": "s", "steps": 120, "loss": {"name": "quadratic", "curvatures": [1.0, 10.0]},
        "init": {"points": [[1.0, 1.0]]},
        "schedule": {"name": "constant", "cosine": {"decay_steps": 120, "alpha": 0.1},
                     "exponential": {"decay_rate": 0.97}, "step": {"step_size": 30, "gamma": 0.5},
                     "warmup_cosine": {"warmup_steps": 10, "decay_steps": 120}},
        "axes": {"learning_rate": {"min": 0.05, "max": 2.0, "num": 48, "scale": "log"},
                 "schedule": {"values": ["constant", "cosine", "exponential", "step", "warmup_cosine"]}},
        "boundary": {"rtol": 1e-5}})
    b = lrsweep.run(spec, progress=False).boundary.set_index("schedule")
    assert b.loc["constant", "critical_asymptotic"] == pytest.approx(0.2, rel=1e-3)
    assert b.loc["constant", "status"] == "ok" and b.loc["cosine", "status"] == "ok"
    assert np.isfinite(b.loc["cosine", "critical_asymptotic"])
    for name in ("exponential", "step", "warmup_cosine"):
        assert np.isnan(b.loc[name, "critical_asymptotic"]), name
        assert np.isnan(b.loc[name, "asymptotic_lower"]) and np.isnan(b.loc[name, "asymptotic_upper"])
        assert b.loc[name, "status"].startswith("ok; no critical_asymptotic: the schedule decays to 0"), name
        assert np.isfinite(b.loc[name, "critical"])


def test_annotate_without_a_boundary_is_a_no_op():
    assert reference.annotate(None, None, None) is None


def test_sharpness_false_skips_lanczos_and_keeps_the_rest(monkeypatch):
    """``[boundary] sharpness = false``: no sharpness columns and Lanczos never called; theory and the
    boundary itself are unchanged. The default computes them (a positive control)."""
    from lrsweep import curvature

    calls = []
    real = curvature.sharpness_at_init
    monkeypatch.setattr(curvature, "sharpness_at_init", lambda *a, **k: calls.append(1) or real(*a, **k))
    raw = {"name": "s", "steps": 30, "loss": {"name": "quadratic", "curvatures": [1.0, 4.0]},
           "init": {"points": [[1.0, 1.0]]}, "axes": {"learning_rate": {"min": 0.1, "max": 1.0, "num": 8}}}
    on = lrsweep.run(lrsweep.from_dict(raw), progress=False)
    assert calls and on.boundary["sharpness"].to_numpy() == pytest.approx([4.0], rel=1e-4)
    calls.clear()
    spec = lrsweep.from_dict({**raw, "boundary": {"sharpness": False}})
    off = lrsweep.run(spec, progress=False)
    assert not calls and "sharpness" not in off.boundary and "sharpness_prediction" not in off.boundary
    assert "sharpness" not in off.manifest["phases"]
    assert off.boundary["critical"].to_numpy() == pytest.approx(on.boundary["critical"].to_numpy(), rel=0)
    assert off.boundary["theory_finite"].to_numpy() == pytest.approx(on.boundary["theory_finite"].to_numpy())
    assert "sharpness = false" in spec.to_toml()  # recorded in sweep.toml
