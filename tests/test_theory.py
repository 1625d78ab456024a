"""The core contract: the engine against theory on quadratics.

Closed forms (optax's update rules, λ the largest excited curvature, β the momentum):

* gradient descent diverges above η = 2/λ;
* heavy ball (m ← g + βm, x ← x − ηm) above ηλ = 2(1+β);
* Nesterov (x ← x − η(g + βm)) above ηλ = 2(1+β)/(1+2β);
* a schedule η_t multiplies each eigen-coordinate by ∏_t (1 − η_t λ).

With a finite horizon T and the rule "diverged when f_t > F·f_0", the measured
critical value is the *finite-horizon* one, computed exactly by iterating the linear
recurrence in float64 (:func:`lrsweep.theory.finite_horizon_critical`). The engine's
refined boundary must match it to 1e-4 (float32) / 1e-7 (float64), and approach the
closed form as T grows.
"""

import math
from pathlib import Path

import numpy as np
import pytest

import lrsweep
from lrsweep import theory

SWEEPS = Path(__file__).resolve().parents[1] / "sweeps"


def quadratic_sweep(curvatures, *, steps=300, dtype="float32", momentum=None, nesterov=False, lr=(1e-2, 10.0),
                    num=96, rtol=None, schedule=None, point=None, extra_axes=None, factor=1e6):
    opt = {"name": "sgd"}
    if nesterov:
        opt["nesterov"] = True
    axes = {"learning_rate": {"min": lr[0], "max": lr[1], "num": num, "scale": "log"}}
    if momentum is not None:
        axes["momentum"] = {"values": list(momentum)}
    axes.update(extra_axes or {})
    d = {
        "name": "t", "steps": steps, "dtype": dtype,
        "loss": {"name": "quadratic", "curvatures": list(curvatures)},
        "init": {"points": [point or [1.0] * len(curvatures)]},
        "optimizer": opt,
        "axes": axes,
        "criteria": {"diverge_factor": factor},
        "boundary": {"rtol": rtol or (2e-5 if dtype == "float32" else 2e-9)},
    }
    if schedule:
        d["schedule"] = schedule
    return lrsweep.from_dict(d)


@pytest.mark.parametrize("dtype,tol", [("float32", 1e-4), ("float64", 1e-7)])
@pytest.mark.parametrize("lam", [0.5, 2.0, 10.0])
def test_gd_boundary_matches_exact_finite_horizon(dtype, tol, lam):
    """GD on ½λx²: refined critical η equals the exact finite-horizon value (1 + F^{1/2T})/λ."""
    r = lrsweep.run(quadratic_sweep([lam], dtype=dtype, lr=(0.1 / lam, 10 / lam)), progress=False)
    b = r.boundary.iloc[0]
    exact = theory.gd_finite_horizon_critical(lam, 300, 1e6)
    assert b["status"] == "ok"
    assert abs(b["critical"] / exact - 1) <= tol
    assert abs(b["theory_finite"] / exact - 1) <= 1e-9
    assert b["lower"] <= exact * (1 + tol) and b["upper"] >= exact * (1 - tol)
    assert abs(b["theory"] - 2 / lam) < 1e-12
    # the finite-horizon value sits ~1% above 2/λ for T = 300, F = 1e6 (|1−ηλ|^{2T} = F)
    assert 1.005 < b["critical"] * lam / 2 < 1.02


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_boundaries_match_exact_finite_horizon(nesterov):
    """Heavy ball and Nesterov, β ∈ {0, 0.5, 0.9}, λ = (1, 10): critical η vs exact recurrence ≤ 1e-4 (float32)."""
    betas = [0.0, 0.5, 0.9]
    r = lrsweep.run(quadratic_sweep([1.0, 10.0], momentum=betas, nesterov=nesterov, lr=(1e-3, 2.0)), progress=False)
    b = r.boundary.sort_values("momentum")
    for beta, crit, fin in zip(b["momentum"], b["critical"], b["theory_finite"]):
        exact = theory.finite_horizon_critical([1.0, 10.0], [1.0, 1.0], 300, 1e6, momentum=beta, nesterov=nesterov)
        assert abs(fin / exact - 1) < 1e-9
        assert abs(crit / exact - 1) <= 1e-4, (beta, crit, exact)
    closed = (theory.nesterov_critical if nesterov else theory.heavy_ball_critical)(10.0, np.asarray(betas))
    np.testing.assert_allclose(b["theory"], closed, rtol=1e-12)


@pytest.mark.parametrize("curvatures", [[1.0, 10.0], [3.0]])
@pytest.mark.parametrize("nesterov", [False, True])
def test_boundary_approaches_closed_form_as_horizon_grows(nesterov, curvatures):
    """|critical − closed form| shrinks as T grows (≈ ln F / 2T); the asymptotic estimate hits it at any T."""
    betas = [0.0, 0.5, 0.9]
    lam = max(curvatures)
    closed = (theory.nesterov_critical if nesterov else theory.heavy_ball_critical)(lam, np.asarray(betas))
    errors = []
    for steps in (100, 400, 1600):
        r = lrsweep.run(quadratic_sweep(curvatures, steps=steps, momentum=betas, nesterov=nesterov,
                                        lr=(1e-2 / lam, 20.0 / lam), num=48), progress=False)
        b = r.boundary.sort_values("momentum")
        err = np.abs(b["critical"].to_numpy() / closed - 1)
        errors.append(err)
        assert np.all(b["critical"].to_numpy() > closed)  # a finite horizon needs growth: always above
        np.testing.assert_allclose(b["critical_asymptotic"], closed, rtol=2e-4)
    assert np.all(errors[1] < errors[0]) and np.all(errors[2] < errors[1])
    assert np.all(errors[2] < 0.01)


@pytest.mark.parametrize("schedule", [
    {"name": "exponential", "decay_rate": 0.99},
    {"name": "step", "step_size": 50, "gamma": 0.5},
    {"name": "cosine", "decay_steps": 300},
])
def test_schedule_boundary_matches_product_formula(schedule):
    """With η_t = η·s_t, x_T = ∏(1 − η s_t λ) x_0: the refined critical η matches the exact product recurrence."""
    r = lrsweep.run(quadratic_sweep([1.0, 10.0], schedule=schedule, lr=(1e-2, 5.0)), progress=False)
    b = r.boundary.iloc[0]
    from lrsweep import schedules

    fn = schedules.SCHEDULES[schedule["name"]]
    params = {k: v for k, v in schedule.items() if k != "name"}
    factors = np.asarray([float(fn(np.int32(t), **params)) for t in range(301)])
    exact = theory.finite_horizon_critical([1.0, 10.0], [1.0, 1.0], 300, 1e6, factors=factors)  # every update read
    assert abs(b["critical"] / exact - 1) <= 1e-4
    assert abs(b["theory_finite"] / exact - 1) <= 1e-6
    assert b["critical"] > 2 / 10  # a decaying schedule tolerates a larger initial η


def test_schedule_iterate_is_the_product_formula():
    """In float64 the engine's iterate after T steps is ∏_t (1 − η s_t λ) x_0 to round-off."""
    spec = lrsweep.from_dict({
        "name": "t", "steps": 40, "dtype": "float64",
        "loss": {"name": "quadratic", "curvatures": [3.0]}, "init": {"points": [[0.7]]},
        "schedule": {"name": "exponential", "decay_rate": 0.9},
        "axes": {"learning_rate": {"values": [0.3, 0.6, 0.9]}},
        "trajectories": {"learning_rate": [0.3, 0.6, 0.9]}, "boundary": {"max_rounds": 0}})
    r = lrsweep.run(spec, progress=False)
    factors = 0.9 ** np.arange(40)
    for lr, g in r.trajectories.groupby("learning_rate"):
        x = g.sort_values("step")["param_0"].to_numpy()
        expected = 0.7 * np.concatenate([[1.0], np.cumprod(1 - lr * factors * 3.0)])
        np.testing.assert_allclose(x, expected, rtol=1e-12, atol=1e-300)
        assert abs(x[-1] / (0.7 * theory.schedule_gain(lr, 3.0, factors)) - 1) < 1e-12


def test_seed_trajectories_exact():
    """shared/seeds/000: x² from −1, x' = (1 − 2η)x.

    η=0.8: −1 → 0.6 → −0.36 → 0.216 (as the seed says); η=1: ±1 forever. The seed's
    "η = 1.2" sequence −1 → 1.2 → −1.44 → 1.728 multiplies by −1.2 = 1 − 2η, i.e. η = 1.1:
    at η = 1.2 the factor is −1.4 (−1 → 1.4 → −1.96 → 2.744). Both are checked.
    """
    spec = lrsweep.load_sweep(SWEEPS / "x2-gd.toml")
    r = lrsweep.run(spec, progress=False)
    tr = r.trajectories
    x = {lr: g.sort_values("step")["param_0"].to_numpy() for lr, g in tr.groupby("learning_rate")}
    np.testing.assert_allclose(x[0.8][:4], [-1.0, 0.6, -0.36, 0.216], rtol=1e-14)
    np.testing.assert_allclose(x[1.1][:4], [-1.0, 1.2, -1.44, 1.728], rtol=1e-14)
    np.testing.assert_allclose(x[1.2][:4], [-1.0, 1.4, -1.96, 2.744], rtol=1e-14)
    np.testing.assert_array_equal(x[1.0], [(-1.0) ** (t + 1) for t in range(len(x[1.0]))])
    # the sweep itself: lr = 1 stays bounded (loss 1 forever), the boundary is at 2/λ = 1
    b = r.boundary.iloc[0]
    assert abs(b["critical_asymptotic"] - 1.0) < 1e-8
    assert abs(b["critical"] / theory.gd_finite_horizon_critical(2.0, spec.steps, 1e6) - 1) < 1e-7
    one = lrsweep.run(lrsweep.from_dict({**spec.to_dict(), "axes": {"learning_rate": {"values": [1.0, 1.2]}},
                                         "trajectories": None, "boundary": {"max_rounds": 0}}), progress=False)
    t = one.table.set_index("learning_rate")
    assert t.loc[1.0, "outcome"] == "bounded" and t.loc[1.0, "final_loss"] == 1.0
    assert t.loc[1.2, "outcome"] == "diverged"
    # f_t = 1.4^{2t} = 1.96^t > 1e6 first at t = ceil(ln 1e6 / ln 1.96) = 21: every update's loss is read
    assert t.loc[1.2, "divergence_step"] == math.ceil(math.log(1e6) / math.log(1.96)) == 21


def test_ill_conditioned_boundary_is_set_by_lambda_max():
    """Curvatures log-spaced 1 … 10⁴: the boundary is 2/λ_max whatever the 15 flat directions do."""
    spec = lrsweep.from_dict({
        "name": "t", "steps": 400, "loss": {"name": "quadratic", "condition_number": 1e4, "dim": 16},
        "init": {"seed": 0}, "axes": {"learning_rate": {"min": 1e-6, "max": 1e-2, "num": 64, "scale": "log"},
                                      "loss.curvature_scale": {"values": [0.1, 1.0, 10.0]}}})
    b = lrsweep.run(spec, progress=False).boundary
    np.testing.assert_allclose(b["theory"], 2 / (1e4 * b["loss.curvature_scale"]), rtol=1e-5)
    np.testing.assert_allclose(b["critical_asymptotic"], b["theory"], rtol=1e-3)
    np.testing.assert_allclose(b["critical"], b["theory_finite"], rtol=1e-4)
