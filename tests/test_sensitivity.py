"""LR sensitivity (lrsweep.sensitivity), the paper's definition, on curves whose value is known by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lrsweep.sensitivity import lr_sensitivity, sensitivity_table


def test_a_flat_curve_has_zero_sensitivity():
    assert lr_sensitivity(np.geomspace(3e-4, 3e-1, 10), np.full(10, 2.5), 5.0) == 0.0


def test_by_hand_with_a_diverged_point_counted_as_the_initial_loss():
    lr = [1e-4, 1e-3, 1e-2, 1e-1, 0.3, 1.0]
    final = [9.0, 3.0, 2.0, 4.0, float("inf"), 1.0]           # 1e-4 and 1.0 lie outside [3e-4, 3e-1]
    # in range: 3, 2, 4, min(inf, 6) = 6 -> mean 3.75, best 2
    assert lr_sensitivity(lr, final, 6.0) == pytest.approx(1.75)


def test_final_losses_above_the_initial_loss_are_capped():
    assert lr_sensitivity([1e-3, 1e-2], [2.0, 50.0], 6.0) == pytest.approx((2 + 6) / 2 - 2)


def test_no_point_in_range_is_nan_and_the_range_is_inclusive():
    assert math.isnan(lr_sensitivity([1.0, 2.0], [1.0, 2.0], 3.0))
    assert lr_sensitivity([3e-4, 3e-1], [1.0, 2.0], 3.0) == pytest.approx(0.5)


def test_the_table_has_one_row_per_slice():
    t = pd.DataFrame({"learning_rate": [1e-3, 1e-2] * 2, "qk": [0, 0, 1, 1], "final_loss": [2.0, 3.0, 2.0, 2.0],
                      "initial_loss": 6.0})
    s = sensitivity_table(t, ["qk"])
    assert s["sensitivity"].tolist() == [0.5, 0.0] and s["best_lr"].tolist() == [1e-3, 1e-3]


# ----------------------------------------------------------------------------- in a sweep

import lrsweep  # noqa: E402
from lrsweep import store  # noqa: E402

QUAD = {"name": "sens", "steps": 30, "loss": {"name": "quadratic", "curvatures": [1.0, 4.0]},
        "init": {"points": [[1.0, 1.0]]},
        "axes": {"learning_rate": {"min": 0.01, "max": 1.0, "num": 9, "scale": "log"},
                 "momentum": {"values": [0.0, 0.5, 0.9]}},
        "boundary": {"sensitivity_range": [0.02, 0.8]}}


def _by_hand(table: pd.DataFrame, by: str, loss: str, initial, lo: float, hi: float) -> dict:
    """The paper's definition, written out: in each slice, over lo ≤ η ≤ hi, L = the loss, or L_0 where the run
    diverged; mean of min(L, L_0) minus its minimum."""
    out = {}
    for key, g in table.groupby(by):
        g = g[(g["learning_rate"] >= lo * (1 - 1e-6)) & (g["learning_rate"] <= hi * (1 + 1e-6))]
        f0 = initial(g) if callable(initial) else g[initial].to_numpy()
        f = np.where(g["diverged"], f0, np.minimum(g[loss].to_numpy(), f0))
        out[round(float(key), 6)] = (f.mean() - f.min(), len(g))  # the table holds float32 axis values
    return out


def test_a_sweeps_sensitivity_column_is_the_papers_definition_of_its_table(tmp_path):
    r = lrsweep.run(lrsweep.from_dict(QUAD), out=tmp_path / "r", progress=False)
    t = r.table
    assert t["diverged"].any() and (~t["diverged"]).any()  # both kinds of run lie in the range
    hand = _by_hand(t, "momentum", "final_loss", "initial_loss", 0.02, 0.8)
    s = r.sensitivity.set_index("momentum")
    assert len(s) == 3 and set(s.index) == set(hand)
    for m, (lrs, k) in hand.items():
        assert s.loc[m, "sensitivity"] == pytest.approx(lrs, rel=1e-6)
        assert s.loc[m, "sensitivity_points"] == k == 6  # 0.01·10^(i/4), i = 1 … 6
        assert s.loc[m, "sensitivity_initial"] == pytest.approx(2.5)  # ½(1·1² + 4·1²)
    assert len(set(np.round(s["sensitivity"], 6))) == 3  # the slices differ: the test can fail
    # the boundary table (along the learning rate, the same slices) carries the same columns
    b = r.boundary.set_index("momentum")
    for c in ("sensitivity", "sensitivity_best_loss", "sensitivity_best_lr", "sensitivity_initial"):
        np.testing.assert_allclose(b.loc[s.index, c], s[c])
    # and they are read back from disk
    back = store.load(tmp_path / "r")
    np.testing.assert_allclose(back.sensitivity["sensitivity"], r.sensitivity["sensitivity"], rtol=1e-9)
    np.testing.assert_allclose(back.boundary["sensitivity"], r.boundary["sensitivity"], rtol=1e-9)
    assert back.spec.boundary.sensitivity_range == (0.02, 0.8)


def test_without_a_boundary_search_the_sensitivity_table_is_written_alone(tmp_path):
    raw = {**QUAD, "boundary": {"axis": "none", "sensitivity_range": [0.02, 0.8]}}
    r = lrsweep.run(lrsweep.from_dict(raw), out=tmp_path / "r", progress=False)
    assert r.boundary is None and not (tmp_path / "r" / "boundary.csv").exists()
    s = pd.read_csv(tmp_path / "r" / "sensitivity.csv").set_index("momentum")
    for m, (lrs, _) in _by_hand(r.table, "momentum", "final_loss", "initial_loss", 0.02, 0.8).items():
        assert s.loc[m, "sensitivity"] == pytest.approx(lrs, rel=1e-6)
    back = store.load(tmp_path / "r")
    assert back.spec.boundary.axis is None  # "none" survives sweep.toml (it used to read back as learning_rate)


def test_without_a_range_there_is_no_sensitivity():
    raw = {**QUAD, "boundary": {}}
    r = lrsweep.run(lrsweep.from_dict(raw), progress=False)
    assert r.sensitivity is None and "sensitivity" not in r.boundary


def _eval_problem():
    """½‖w‖²-type regression with held-out data and a metric: an end-of-run column whose initial value the
    table does not hold."""
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    X, Xe = rng.normal(size=(32, 3)), rng.normal(size=(16, 3))
    w = np.array([1.0, -2.0, 0.5])

    def mse(p, batch):
        x, y = batch
        return 0.5 * jnp.mean((x @ p - y) ** 2)

    return lrsweep.Problem(loss=mse, params=jnp.zeros(3), data=(X, X @ w), eval_data=(Xe, Xe @ w + 0.1),
                           metrics={"abs": lambda p, b: jnp.mean(jnp.abs(b[0] @ p - b[1]))}), Xe, Xe @ w + 0.1


def test_sensitivity_of_a_held_out_column_starts_from_its_value_at_the_initial_parameters():
    problem, Xe, ye = _eval_problem()
    r = lrsweep.sweep(problem, axes={"learning_rate": lrsweep.logspace(1e-2, 10, 10), "momentum": [0.0, 0.9]},
                      steps=20, dtype="float64", boundary=None, progress=False, sensitivity_range=(1e-2, 3.0),
                      sensitivity_loss="eval_abs")
    assert r.boundary is None  # boundary=None: no search (it used to fall back to learning_rate)
    f0 = float(np.mean(np.abs(ye)))  # the parameters start at 0
    assert r.sensitivity["sensitivity_initial"].to_numpy() == pytest.approx([f0, f0], rel=1e-12)
    hand = _by_hand(r.table, "momentum", "eval_abs", lambda g: np.full(len(g), f0), 1e-2, 3.0)
    assert r.table["diverged"].any()
    for m, (lrs, _) in hand.items():
        row = r.sensitivity[r.sensitivity["momentum"] == m]
        assert float(row["sensitivity"].iloc[0]) == pytest.approx(lrs, rel=1e-9)
