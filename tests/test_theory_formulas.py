"""Theory: closed forms against the exact recurrence, and the recurrence against optax (float64)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lrsweep import theory as th

F = 1e6  # the engine's default diverge_factor


# --------------------------------------------------------------------------- closed forms


def test_closed_forms_values_and_vectorisation():
    assert th.gd_critical(4.0) == 0.5
    assert th.heavy_ball_critical(1.0, 0.9) == pytest.approx(3.8)
    assert th.nesterov_critical(1.0, 0.9) == pytest.approx(3.8 / 2.8)
    lam = np.array([0.5, 1.0, 10.0])
    beta = np.array([[0.0], [0.5], [0.9]])
    hb, nag = th.heavy_ball_critical(lam, beta), th.nesterov_critical(lam, beta)
    assert hb.shape == nag.shape == (3, 3)
    np.testing.assert_allclose(hb[0], th.gd_critical(lam), rtol=1e-15)
    np.testing.assert_allclose(nag[0], th.gd_critical(lam), rtol=1e-15)
    np.testing.assert_allclose(nag * (1 + 2 * beta), hb, rtol=1e-15)


def _spectral_radius(eta, lam, beta, nesterov):
    a = 1 - eta * lam * (1 + beta) if nesterov else 1 - eta * lam
    b = -eta * beta**2 if nesterov else -eta * beta
    return max(abs(np.linalg.eigvals(np.array([[a, b], [lam, beta]]))))


@pytest.mark.parametrize("beta", [0.0, 0.3, 0.9, 0.99])
@pytest.mark.parametrize("nesterov", [False, True])
def test_closed_form_is_where_the_companion_matrix_leaves_the_unit_disc(beta, nesterov):
    lam = 3.0
    eta_c = th.nesterov_critical(lam, beta) if nesterov else th.heavy_ball_critical(lam, beta)
    assert _spectral_radius(eta_c * (1 - 1e-6), lam, beta, nesterov) < 1
    assert _spectral_radius(eta_c * (1 + 1e-6), lam, beta, nesterov) > 1
    assert _spectral_radius(eta_c, lam, beta, nesterov) == pytest.approx(1.0, abs=1e-6)


def test_closed_form_argument_errors():
    with pytest.raises(ValueError, match=r"beta=1.0: expected momentum in \[0, 1\)"):
        th.heavy_ball_critical(1.0, 1.0)
    with pytest.raises(ValueError, match=r"lam_max=0.0: expected a finite number > 0"):
        th.gd_critical(np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"steps=0: expected an integer >= 1"):
        th.gd_finite_horizon_critical(1.0, steps=0, diverge_factor=F)
    with pytest.raises(ValueError, match=r"diverge_factor=0.5: expected a finite number >= 1"):
        th.finite_horizon_critical([1.0], [1.0], steps=10, diverge_factor=0.5)
    with pytest.raises(ValueError, match=r"factors \(shape \(5,\)\): expected a 1-D array of at least steps=10"):
        th.quadratic_loss_history(0.1, [1.0], [1.0], steps=10, factors=np.ones(5))


# --------------------------------------------------------------------------- the recurrence is optax


def _optax_run(lr, lam, x0, steps, momentum, nesterov, factors):
    """optax.sgd with schedule ``lr·factors[t]`` on ½Σλx², in float64: the iterates x_0..x_T."""
    with jax.enable_x64(True):
        lam_j, f_j = jnp.asarray(lam, jnp.float64), jnp.asarray(factors, jnp.float64)
        opt = optax.sgd(lambda t: lr * f_j[t], momentum=momentum, nesterov=nesterov)

        @jax.jit
        def run(x0):
            def step(carry, _):
                x, state = carry
                updates, state = opt.update(lam_j * x, state, x)  # the gradient of ½Σλx²
                x = optax.apply_updates(x, updates)
                return (x, state), x

            return jax.lax.scan(step, (x0, opt.init(x0)), length=steps)[1]

        xs = np.asarray(run(jnp.asarray(x0, jnp.float64)))
    assert xs.dtype == np.float64
    return np.vstack([np.asarray(x0, np.float64), xs])


LAM = np.array([0.05, 0.4, 1.0, 2.5])
X0 = np.array([1.0, -0.7, 0.3, 0.2])
STEPS = 60
COSINE = 0.5 * (1 + np.cos(np.pi * np.arange(STEPS) / STEPS))
WARMUP = np.minimum((np.arange(STEPS) + 1) / 10, 1.0)

RECURRENCES = [  # (lr, optax momentum, nesterov, factors)
    (0.5, None, False, None),  # plain gradient descent (optax: no trace at all)
    (0.79, None, False, None),  # 0.79 > 2/2.5: diverging, the top direction grows
    (0.5, 0.0, False, None),  # trace with decay 0 is gradient descent too
    (0.3, 0.9, False, None),
    (1.6, 0.9, False, None),  # heavy ball above 2(1+β)/λ = 1.52: diverging
    (0.3, 0.5, True, None),
    (0.5, 0.9, True, COSINE),
    (1.2, 0.5, False, WARMUP),
]


@pytest.mark.parametrize("lr,momentum,nesterov,factors", RECURRENCES)
def test_recurrence_equals_optax_in_float64(lr, momentum, nesterov, factors):
    f = np.ones(STEPS) if factors is None else factors
    xs = _optax_run(lr, LAM, X0, STEPS, momentum, nesterov, f)
    want = 0.5 * np.sum(LAM * xs * xs, axis=-1)
    got = th.quadratic_loss_history(lr, LAM, X0, STEPS, momentum=momentum or 0.0, nesterov=nesterov,
                                    factors=factors)
    assert got.shape == (STEPS + 1,) and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    assert not jax.config.jax_enable_x64  # the context restored it


def test_history_batches_learning_rates():
    lrs = np.array([[0.1, 0.5], [0.79, 1.0]])
    batch = th.quadratic_loss_history(lrs, LAM, X0, 20, momentum=0.5)
    assert batch.shape == (2, 2, 21)
    for idx in np.ndindex(2, 2):
        np.testing.assert_array_equal(batch[idx], th.quadratic_loss_history(lrs[idx], LAM, X0, 20, momentum=0.5))


def test_history_overflow_is_quiet_and_counts_as_divergence():
    h = th.quadratic_loss_history(100.0, [1.0], [1.0], steps=400)  # |1 - 100|^800 overflows
    assert not np.all(np.isfinite(h))
    assert th.diverges_within(h, F)


def test_diverges_within_rule():
    assert th.diverges_within([2.0, 1.0, 2e6 + 1], F)
    assert not th.diverges_within([2.0, 1.0, 2e6], F)  # strictly above F·f0
    assert th.diverges_within([2.0, np.inf, 0.0], F)
    assert th.diverges_within([2.0, 1.0, np.nan], F)
    assert not th.diverges_within([2.0], F)  # no updates, nothing diverged
    np.testing.assert_array_equal(th.diverges_within(np.array([[1.0, 2.0], [1.0, 0.5]]), 1.5), [True, False])


# --------------------------------------------------------------------------- finite horizon → closed forms

HORIZONS = (100, 400, 4000)
CASES = [(lam, beta, nesterov) for lam in (0.5, 1.0, 10.0) for beta in (0.0, 0.5, 0.9)
         for nesterov in ((False,) if beta == 0.0 else (False, True))]


@pytest.mark.parametrize("lam,beta,nesterov", CASES)
def test_finite_horizon_threshold_approaches_closed_form(lam, beta, nesterov):
    """The measured threshold sits above the closed form by a gap ∝ ln F / T.

    Achieved (F = 1e6, eigenvalues λ·[0.1, 0.5, 1], x0 = 1): relative gap at
    T = 100 / 400 / 4000 of 3.7e-2 / 9.0e-3 / 8.9e-4 for gradient descent, 1.1e-2 /
    2.6e-3 / 2.5e-4 (β = 0.5) and 1.9e-3 / 3.2e-4 / 2.8e-5 (β = 0.9) for heavy ball,
    3.0e-2 / 7.3e-3 / 7.3e-4 (β = 0.5) and 2.5e-2 / 6.0e-3 / 5.9e-4 (β = 0.9) for
    Nesterov — the same for every λ (only ηλ matters). We assert < 1e-3 at T = 4000.
    """
    eigenvalues, x0 = lam * np.array([0.1, 0.5, 1.0]), np.ones(3)
    closed = th.nesterov_critical(lam, beta) if nesterov else th.heavy_ball_critical(lam, beta)
    gaps = [
        th.finite_horizon_critical(eigenvalues, x0, T, F, momentum=beta, nesterov=nesterov, rtol=1e-9) / closed - 1
        for T in HORIZONS
    ]
    assert 0 < gaps[2] < gaps[1] < gaps[0]
    assert gaps[2] < 1e-3


@pytest.mark.parametrize("lam", [0.5, 1.0, 10.0])
@pytest.mark.parametrize("steps,factor", [(1, 10.0), (30, 1e6), (300, 1e6), (1000, 1e3), (300, 1.0)])
def test_gd_finite_horizon_closed_form_equals_bisection(lam, steps, factor):
    bisected = th.finite_horizon_critical([lam], [1.0], steps, factor)
    assert bisected == pytest.approx(th.gd_finite_horizon_critical(lam, steps, factor), rel=1e-10)


def test_gd_finite_horizon_effect_is_about_one_percent_at_300_steps():
    ratio = th.gd_finite_horizon_critical(1.0, 300, 1e6) / th.gd_critical(1.0)
    assert 1.01 < ratio < 1.013


def test_explicit_bracket_and_bracket_errors():
    want = th.gd_finite_horizon_critical(2.0, 50, F)
    assert th.finite_horizon_critical([2.0], [1.0], 50, F, lo=0.9, hi=1.5) == pytest.approx(want, rel=1e-10)
    with pytest.raises(ValueError, match=r"lo=1.2: expected a learning rate that does not diverge"):
        th.finite_horizon_critical([2.0], [1.0], 50, F, lo=1.2, hi=1.5)
    with pytest.raises(ValueError, match=r"hi=1.01: expected a learning rate that diverges"):
        th.finite_horizon_critical([2.0], [1.0], 50, F, lo=0.9, hi=1.01)


def test_constant_factor_rescales_the_threshold():
    eigenvalues, x0 = np.array([0.2, 1.0, 4.0]), np.array([1.0, 1.0, 0.5])
    plain = th.finite_horizon_critical(eigenvalues, x0, 200, F, momentum=0.5)
    halved = th.finite_horizon_critical(eigenvalues, x0, 200, F, momentum=0.5, factors=np.full(200, 0.5))
    assert halved == pytest.approx(2 * plain, rel=1e-10)


# --------------------------------------------------------------------------- schedule gain


def test_schedule_gain_is_the_recurrence_multiplier():
    steps = 80
    factors = 0.5 * (1 + np.cos(np.pi * np.arange(steps) / steps))  # cosine decay
    lam = np.array([0.3, 1.0, 3.0])
    for lr in (0.2, 0.6, 0.9):
        gain = th.schedule_gain(lr, lam, factors)
        xs = _optax_run(lr, lam, np.ones(3), steps, None, False, factors)
        np.testing.assert_allclose(gain, xs[-1] / xs[0], rtol=1e-10)
        # one direction at a time: the loss is multiplied by the gain squared
        for lam_i, g_i in zip(lam, gain):
            h = th.quadratic_loss_history(lr, [lam_i], [1.0], steps, factors=factors)
            assert h[-1] / h[0] == pytest.approx(g_i**2, rel=1e-10)
    np.testing.assert_allclose(th.schedule_gain(np.array([0.2, 0.6]), 3.0, factors),
                               [th.schedule_gain(0.2, 3.0, factors), th.schedule_gain(0.6, 3.0, factors)])
