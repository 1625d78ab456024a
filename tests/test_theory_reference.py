"""The exact finite-horizon reference: non-monotone divergence, and all problems at once.

* Divergence need not be monotone in the learning rate: gradient descent with warmup-cosine on
  λ = (0.5, 20), x₀ = (1, 1), 150 steps, F = 10⁴ first diverges at η = 0.1367107, is stable again
  on [0.142794, 0.142915) and diverges from there on, while η = 0.2 (a coordinate set exactly to 0
  at step 5) is an isolated stable point that fooled a doubling bracket into answering 0.2.
* The reference runs every problem (slice of a sweep) in one vectorised search; it must give what
  the one-problem-at-a-time bisection gave, to ~1e-12.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lrsweep
from lrsweep import reference, schedules
from lrsweep import theory as th
from lrsweep.engine import Program

# --------------------------------------------------------------------------- case A: warmup-cosine

LAM_A, X0_A, STEPS_A, F_A = [0.5, 20.0], [1.0, 1.0], 150, 1e4
WANT_A = [(0.1367107, 1), (0.142794, -1), (0.142915, 1)]  # (learning rate, +1 diverges above / -1 stable above)


def warmup_cosine(steps=STEPS_A):
    """η_t/η of warmup_cosine (warmup 20, decay 150), as the engine computes it in float32."""
    return np.asarray(schedules.warmup_cosine_decay(np.arange(steps + 1), warmup_steps=20, decay_steps=150),
                      np.float64)


def diverges(lr, lam, x0, steps, F, every=1, **kw):
    return th.diverges_within(th.quadratic_loss_history(lr, lam, x0, steps, **kw), F, every)


def test_case_a_is_not_monotone():
    """The loss history itself: stable, diverging, stable, diverging as η grows, and η = 0.2 stable alone."""
    f = warmup_cosine()
    states = [diverges(eta, LAM_A, X0_A, STEPS_A, F_A, factors=f) for eta in (0.136, 0.1375, 0.14285, 0.1435)]
    assert states == [False, True, False, True]
    assert not diverges(0.2, LAM_A, X0_A, STEPS_A, F_A, factors=f)
    assert diverges(0.2 * (1 - 1e-6), LAM_A, X0_A, STEPS_A, F_A, factors=f)
    assert diverges(0.2 * (1 + 1e-6), LAM_A, X0_A, STEPS_A, F_A, factors=f)


def test_case_a_first_divergence():
    """The first divergence is 0.1367107, not the isolated stable point 0.2 (nor anything above it)."""
    eta = th.finite_horizon_critical(LAM_A, X0_A, STEPS_A, F_A, factors=warmup_cosine())
    assert eta == pytest.approx(0.1367107, rel=1e-6)
    f = warmup_cosine()
    assert diverges(eta, LAM_A, X0_A, STEPS_A, F_A, factors=f)
    assert not diverges(eta * (1 - 2e-12), LAM_A, X0_A, STEPS_A, F_A, factors=f)


@pytest.mark.parametrize("resolution", [1e-2, 1e-3, 1e-4])
def test_case_a_transitions(resolution):
    """All sign changes, each refined to 1e-12, whatever the scan's spacing (the factor zeros guard GD).

    The stable window [0.142794, 0.142915) is 8.5e-4 wide (narrower than a 1e-3 scan) and holds the
    zero η = 1/(f₇ λ₂) of a factor. Any further transition is a much narrower stable window around
    another such zero (η = 1/(f₆ λ₂): 4.6e-11 wide), reported as the pair it is.
    """
    f = warmup_cosine()
    t = th.finite_horizon_transitions(LAM_A, X0_A, STEPS_A, F_A, factors=f, resolution=resolution)
    assert t.shape[1] == 2 and len(t) >= 3
    np.testing.assert_allclose(t[:3, 0], [w[0] for w in WANT_A], rtol=1e-6)
    np.testing.assert_array_equal(t[:3, 1], [w[1] for w in WANT_A])
    assert np.all(np.diff(t[:, 0]) > 0) and np.all(t[:, 1] == np.where(np.arange(len(t)) % 2, -1, 1))
    assert t[0, 0] == pytest.approx(th.finite_horizon_critical(LAM_A, X0_A, STEPS_A, F_A, factors=f), rel=2e-12)
    zeros = 1 / (f[1:STEPS_A, None] * np.asarray(LAM_A)).ravel()  # f₀ = 0
    for down, up in zip(t[3::2, 0], t[4::2, 0]):  # the rest: narrow stable windows around a zero
        assert up / down - 1 < 1e-9
        assert np.min(np.abs(zeros / down - 1)) < 1e-8
    for eta, direction in t:  # each is a sign change to 1e-12: the state flips across it
        above = diverges(eta, LAM_A, X0_A, STEPS_A, F_A, factors=f)
        below = diverges(eta * (1 - 2e-12), LAM_A, X0_A, STEPS_A, F_A, factors=f)
        assert (below, above) == ((False, True) if direction > 0 else (True, False))


@pytest.mark.parametrize("resolution", [1e-2, 1e-3])
def test_momentum_window_narrower_than_the_scan_is_found(resolution):
    """Heavy ball (β = 0.3), same problem: stable on [0.162719, 0.162785), 4e-4 wide. No product formula
    here: the margin guard (the largest f_t/(F f₀) dips towards 1 between grid points) finds it."""
    f = warmup_cosine()
    t = th.finite_horizon_transitions(LAM_A, X0_A, STEPS_A, F_A, momentum=0.3, factors=f, resolution=resolution)
    fine = th.finite_horizon_transitions(LAM_A, X0_A, STEPS_A, F_A, momentum=0.3, factors=f, lo=0.15, hi=0.17,
                                         resolution=1e-5)
    np.testing.assert_allclose(fine[:, 0], [0.1549702, 0.1627188, 0.1627846], rtol=1e-6)
    np.testing.assert_allclose(t[:3], fine, rtol=1e-11)
    for eta, direction in t:
        above = diverges(eta, LAM_A, X0_A, STEPS_A, F_A, momentum=0.3, factors=f)
        below = diverges(eta * (1 - 2e-12), LAM_A, X0_A, STEPS_A, F_A, momentum=0.3, factors=f)
        assert (below, above) == ((False, True) if direction > 0 else (True, False))


def test_case_a_annotate_uses_the_engines_factors():
    """reference.theory_columns on the same problem as a sweep (the engine's factors): theory_finite = 0.1367107."""
    spec = lrsweep.from_dict({
        "name": "a", "steps": STEPS_A, "loss": {"name": "quadratic", "curvatures": LAM_A},
        "init": {"points": [X0_A]}, "schedule": {"name": "warmup_cosine", "warmup_steps": 20, "decay_steps": 150},
        "axes": {"learning_rate": {"min": 1e-2, "max": 1.0, "num": 16, "scale": "log"}},
        "criteria": {"diverge_factor": F_A}, "run": {"check_every": 1}})
    program = Program(spec)
    out = reference.theory_columns(spec, program, pd.DataFrame({"status": ["ok"]}))
    assert np.isnan(out["theory"].iloc[0])  # a schedule: no closed form
    assert out["theory_finite"].iloc[0] == pytest.approx(0.1367107, rel=1e-6)


# --------------------------------------------------------------------------- cases with closed forms


@pytest.mark.parametrize("lam", [0.5, 10.0])
@pytest.mark.parametrize("steps,factor", [(1, 10.0), (300, 1e6), (1000, 1e3)])
def test_gd_constant_has_one_transition_the_closed_form(lam, steps, factor):
    """GD, constant lr: |1 − ηλ|^{2T} > F from η_T = (1 + F^{1/2T})/λ on, and nothing else in the range."""
    t = th.finite_horizon_transitions([lam], [1.0], steps, factor)
    assert t.shape == (1, 2) and t[0, 1] == 1
    assert t[0, 0] == pytest.approx(th.gd_finite_horizon_critical(lam, steps, factor), rel=1e-11)


@pytest.mark.parametrize("beta", [0.5, 0.9])
@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_first_transition_tends_to_the_closed_form(beta, nesterov):
    """Heavy ball and Nesterov: the first transition is upward, above the closed form by a gap shrinking like 1/T."""
    eigenvalues, x0 = np.array([0.1, 0.5, 1.0]), np.ones(3)
    closed = (th.nesterov_critical if nesterov else th.heavy_ball_critical)(1.0, beta)
    gaps = []
    for T in (100, 400, 1600):
        t = th.finite_horizon_transitions(eigenvalues, x0, T, 1e6, momentum=beta, nesterov=nesterov)
        assert t[0, 1] == 1
        assert t[0, 0] == pytest.approx(
            th.finite_horizon_critical(eigenvalues, x0, T, 1e6, momentum=beta, nesterov=nesterov), rel=2e-12)
        gaps.append(t[0, 0] / closed - 1)
    assert 0 < gaps[2] < gaps[1] < gaps[0] and gaps[2] < 3e-3
    assert gaps[0] / gaps[2] > 8  # ~ 1/T: 16x from T = 100 to 1600


# --------------------------------------------------------------------------- all problems at once = one at a time


def scalar_critical(lam, x0, steps, F, *, momentum=0.0, nesterov=False, factors=None, every=1, rtol=1e-12):
    """The reference as it was, one problem at a time: doubling bracket, then 127-point bisection rounds.

    Right where divergence is monotone in η (it assumes so); divergence from the loss history.
    """
    def diverged(lrs):
        h = th.quadratic_loss_history(np.asarray(lrs), lam, x0, steps, momentum=momentum, nesterov=nesterov,
                                      factors=factors)
        return th.diverges_within(h, F, every)

    closed = (th.nesterov_critical if nesterov else th.heavy_ball_critical)(max(lam), momentum)
    lo = 0.5 * closed / (1.0 if factors is None else np.max(np.abs(factors[:steps])))
    while True:
        trial = lo * 2.0 ** np.arange(8)
        d = diverged(trial)
        if d[0]:
            lo /= 2.0**8
        elif d.any():
            lo, hi = trial[np.argmax(d) - 1], trial[np.argmax(d)]
            break
        else:
            lo = trial[-1]
    while hi - lo > rtol * hi:
        trial = np.linspace(lo, hi, 129)[1:-1]
        d = diverged(trial)
        i = int(np.argmax(d))
        lo, hi = (trial[i - 1] if i else lo, trial[i]) if d.any() else (trial[-1], hi)
    return hi


def random_problems(n, seed, steps):
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0.1, 5.0, (n, 3))
    x0 = rng.normal(size=(n, 3))
    beta = rng.uniform(0.0, 0.95, n)
    t = np.arange(steps)
    cosine = 0.5 * (1 + np.cos(np.pi * t / steps))
    factors = np.stack([[np.ones(steps), cosine, 0.99**t, np.minimum((t + 1) / 20, 1.0)][i % 4] for i in range(n)])
    return lam, x0, beta, factors


@pytest.mark.parametrize("nesterov", [False, True])
def test_vectorised_equals_one_at_a_time(nesterov):
    """Random problems (3 directions, momentum 0…0.95, constant / cosine / exponential / warmup): ≤ 2e-12 apart."""
    steps, F = 200, 1e6
    lam, x0, beta, factors = random_problems(8, seed=1 + nesterov, steps=steps)
    batch = th.finite_horizon_critical(lam, x0, steps, F, momentum=beta, nesterov=nesterov, factors=factors)
    assert batch.shape == (8,)
    for i in range(8):
        one = scalar_critical(lam[i], x0[i], steps, F, momentum=beta[i], nesterov=nesterov, factors=factors[i])
        assert batch[i] == pytest.approx(one, rel=2e-12), i
        alone = th.finite_horizon_critical(lam[i], x0[i], steps, F, momentum=beta[i], nesterov=nesterov,
                                           factors=factors[i])
        assert batch[i] == pytest.approx(alone, rel=2e-12), i


def test_divergence_flags_are_the_history_rule_exactly():
    """The vectorised recurrence flags exactly what diverges_within(quadratic_loss_history) flags, any ``every``."""
    steps = 120
    lam, x0, beta, factors = random_problems(6, seed=7, steps=steps)
    rng = np.random.default_rng(8)
    for nesterov in (False, True):
        for every in (1, 7, 500):
            crit = th.finite_horizon_critical(lam, x0, steps, 1e3, momentum=beta, nesterov=nesterov,
                                              factors=factors, every=every, rtol=1e-6)
            rows = np.repeat(np.arange(6), 40)
            lrs = crit[rows] * rng.uniform(0.9, 1.1, rows.size)
            p = th._problems(lam, x0, beta, factors, np.arange(6), 1e3, nesterov, every)
            got = th._diverged(p, rows, lrs)
            want = np.concatenate([diverges(lrs[rows == r], lam[r], x0[r], steps, 1e3, momentum=beta[r],
                                            nesterov=nesterov, factors=factors[r], every=every) for r in range(6)])
            np.testing.assert_array_equal(got, want)
            assert 0 < got.sum() < got.size


def test_every_keeps_its_meaning():
    """Observing every K updates (and at T): a loss that peaks between observations is not seen."""
    steps, f = 60, 0.9 ** np.arange(60)  # decaying lr: the loss grows, peaks, then shrinks
    lam, x0 = [1.0, 4.0], [1.0, 1.0]
    each = th.finite_horizon_critical(lam, x0, steps, 1e3, factors=f)
    tenth = th.finite_horizon_critical(lam, x0, steps, 1e3, factors=f, every=10)
    assert tenth > each
    assert each == pytest.approx(scalar_critical(lam, x0, steps, 1e3, factors=f), rel=2e-12)
    assert tenth == pytest.approx(scalar_critical(lam, x0, steps, 1e3, factors=f, every=10), rel=2e-12)


def test_batched_arguments_and_errors():
    one = th.finite_horizon_critical([1.0, 2.0], [1.0, 1.0], 100, 1e6, momentum=0.5)
    both = th.finite_horizon_critical([[1.0, 2.0], [2.0, 4.0]], [[1.0, 1.0], [1.0, 1.0]], 100, 1e6, momentum=0.5)
    assert isinstance(one, float) and both.shape == (2,)
    assert both[0] == pytest.approx(one, rel=2e-12) and both[1] == pytest.approx(one / 2, rel=2e-12)
    with pytest.raises(ValueError, match=r"problem 1: x0=\[0.0\]: the initial loss is 0"):
        th.finite_horizon_critical([[1.0], [1.0]], [[1.0], [0.0]], 100, 1e6)
    with pytest.raises(ValueError, match=r"problem 0: lo=1.5: expected a learning rate that does not diverge"):
        th.finite_horizon_critical([[2.0]], [[1.0]], 50, 1e6, lo=1.5)
    with pytest.raises(ValueError, match=r"every=0: expected an integer >= 1"):
        th.finite_horizon_critical([1.0], [1.0], 10, 1e6, every=0)
    with pytest.raises(ValueError, match=r"resolution=0: expected a number in \(0, 1\)"):
        th.finite_horizon_transitions([1.0], [1.0], 10, 1e6, resolution=0)
    with pytest.raises(ValueError, match=r"expected one problem"):
        th.finite_horizon_transitions([[1.0]], [[1.0]], 10, 1e6)


def test_transitions_in_a_given_range():
    """lo and hi bound the range; both may be on either side."""
    f = warmup_cosine()
    t = th.finite_horizon_transitions(LAM_A, X0_A, STEPS_A, F_A, factors=f, lo=0.14, hi=0.15)
    np.testing.assert_allclose(t[:, 0], [0.142794, 0.142915], rtol=1e-5)
    np.testing.assert_array_equal(t[:, 1], [-1, 1])
    assert th.finite_horizon_transitions(LAM_A, X0_A, STEPS_A, F_A, factors=f, lo=0.01, hi=0.13).shape == (0, 2)


def test_annotate_searches_all_slices_together(monkeypatch):
    """A 40-slice Nesterov sweep: as many passes of the recurrence as one slice needs, and the same values
    (every update's loss read, as the engine does, whatever run.check_every says)."""
    spec = lrsweep.from_dict({
        "name": "hb", "steps": 200, "loss": {"name": "quadratic", "curvatures": [1.0, 3.0]},
        "init": {"points": [[1.0, 0.5]]}, "optimizer": {"name": "sgd", "nesterov": True},
        "axes": {"learning_rate": {"min": 1e-2, "max": 10, "num": 8, "scale": "log"},
                 "momentum": {"min": 0.0, "max": 0.95, "num": 40}}, "run": {"check_every": 5}})
    program = Program(spec)
    boundary = pd.DataFrame({"momentum": np.asarray(spec.axis("momentum").values, float)})
    passes = []
    real = th._diverged_pass
    monkeypatch.setattr(th, "_diverged_pass", lambda *a: passes.append(1) or real(*a))
    out = reference.theory_columns(spec, program, boundary)
    assert len(passes) < 20  # one slice alone takes 7, these 40 take 9; one at a time they took 280
    for i in (0, 17, 39):
        one = scalar_critical([1.0, 3.0], [1.0, 0.5], 200, 1e6, momentum=boundary["momentum"][i], nesterov=True)
        assert out["theory_finite"][i] == pytest.approx(one, rel=2e-12)
    np.testing.assert_allclose(out["theory"], th.nesterov_critical(3.0, boundary["momentum"].to_numpy()))
    np.testing.assert_allclose(out["theory_lambda_max"], 3.0, rtol=1e-6)  # float32 Hessian, float64 eigh


def test_theory_columns_are_empty_not_an_error_where_no_closed_form_applies(tmp_path):
    """A momentum axis reaching 1 or going negative: the sweep completes; theory, theory_finite and
    sharpness_prediction are NaN on those slices and theory_status says why."""
    import lrsweep

    spec = lrsweep.from_dict({"name": "m", "steps": 50, "loss": {"name": "quadratic", "curvatures": [1.0]},
                              "init": {"points": [[1.0]]},
                              "axes": {"learning_rate": {"min": 0.1, "max": 10.0, "num": 8, "scale": "log"},
                                       "momentum": {"values": [-0.5, 0.5, 1.0]}}})
    b = lrsweep.run(spec, out=tmp_path / "r", progress=False).boundary.set_index("momentum")
    assert np.isnan(b.loc[-0.5, "theory"]) and np.isnan(b.loc[1.0, "theory_finite"])
    assert np.isnan(b.loc[1.0, "sharpness_prediction"]) and b.loc[0.5, "theory"] == pytest.approx(3.0)
    assert "momentum outside [0, 1)" in b.loc[-0.5, "theory_status"]


# --------------------------------------------------------------------------- the engine held to the reference


def _case_a_sweep(tmp_path, lr_axis, rtol):
    spec = lrsweep.from_dict({
        "name": "case-a", "steps": STEPS_A, "dtype": "float64", "loss": {"name": "quadratic", "curvatures": LAM_A},
        "init": {"points": [X0_A]}, "schedule": {"name": "warmup_cosine", "warmup_steps": 20, "decay_steps": 150},
        "axes": {"learning_rate": lr_axis}, "criteria": {"diverge_factor": F_A},
        "boundary": {"rtol": rtol, "max_rounds": 200}})
    lrsweep.run(spec, out=tmp_path / "case-a", progress=False)
    factors = Program(spec).schedule_factors({})[:STEPS_A]  # the engine's own η_t/η, float64
    return (pd.read_csv(tmp_path / "case-a" / "transitions.csv"), pd.read_csv(tmp_path / "case-a" / "boundary.csv"),
            factors)


def test_engine_transitions_are_the_references_sign_changes(tmp_path):
    """Issue 11.2: a float64 sweep of case A through the pipeline, 401 learning rates on [0.13, 0.15] (spacing 5e-5,
    finer than the 1.2e-4-wide stable window), refined to rtol 1e-10: transitions.csv lists exactly the
    reference's sign changes on that range (0.1367107 ↑, 0.142794 ↓, 0.142915 ↑), each within 1e-9 relative,
    in the same directions; boundary.csv's critical is the first and theory_finite equals it."""
    tr, b, f = _case_a_sweep(tmp_path, {"min": 0.13, "max": 0.15, "num": 401}, 1e-10)
    ref = th.finite_horizon_transitions(LAM_A, X0_A, STEPS_A, F_A, factors=f, lo=0.13, hi=0.15)
    np.testing.assert_allclose(ref[:, 0], [w[0] for w in WANT_A], rtol=1e-6)
    assert len(tr) == len(ref) == 3
    np.testing.assert_allclose(tr["critical"], ref[:, 0], rtol=1e-9)
    assert list(tr["direction"]) == ["diverges" if d > 0 else "restabilises" for d in ref[:, 1]]
    assert (tr["lower"] <= ref[:, 0] * (1 + 1e-9)).all() and (tr["upper"] >= ref[:, 0] * (1 - 1e-9)).all()
    row = b.iloc[0]
    assert row["critical"] == pytest.approx(ref[0, 0], rel=1e-9)
    assert row["theory_finite"] == pytest.approx(ref[0, 0], rel=1e-9)
    assert row["n_transitions"] == row["n_transitions_refined"] == 3


def test_a_coarse_grid_sees_a_subset_of_the_references_sign_changes(tmp_path):
    """48 log-spaced learning rates on [0.05, 0.5] (4.9% apart) step over the 0.085%-wide window: the engine's
    transitions are a subset of the reference's (each within 1e-9), its first is still the first divergence,
    and n_transitions_refined ≥ n_transitions."""
    tr, b, f = _case_a_sweep(tmp_path, {"min": 0.05, "max": 0.5, "num": 48, "scale": "log"}, 1e-10)
    ref = th.finite_horizon_transitions(LAM_A, X0_A, STEPS_A, F_A, factors=f, lo=0.05, hi=0.5)
    assert len(tr) >= 1 and len(tr) <= len(ref)
    for eta, direction in zip(tr["critical"], tr["direction"]):
        k = int(np.argmin(np.abs(ref[:, 0] / eta - 1)))
        assert abs(ref[k, 0] / eta - 1) < 1e-9
        assert ref[k, 1] == (1 if direction == "diverges" else -1)
    assert tr["critical"].iloc[0] == pytest.approx(0.1367107, rel=1e-6)
    assert b.iloc[0]["n_transitions_refined"] >= b.iloc[0]["n_transitions"]
