"""Sharpness by Lanczos on Hessian-vector products, held to quadratics of known spectrum."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lrsweep
from lrsweep import curvature
from lrsweep.engine import Program


def _spd(d: int, lam: np.ndarray, seed: int = 0) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return (q * lam) @ q.T


@pytest.mark.parametrize("d", [1, 7, 60])
def test_top_eigenvalue_full_matrix(d):
    """A dense SPD Hessian with a known spectrum (λ_max = 25 separated from the rest in [0.1, 10]):
    Lanczos with 24 iterations gets λ_max to 1e-6 relative (exact once 24 >= d)."""
    lam = np.sort(np.random.default_rng(d).uniform(0.1, 10.0, d))
    lam[-1] = 25.0
    h = _spd(d, lam)
    with jax.enable_x64(True):
        f = lambda x: 0.5 * x @ (jnp.asarray(h) @ x)  # noqa: E731
        got = float(curvature.top_eigenvalue(f, jnp.ones(d)))
    assert got == pytest.approx(25.0, rel=1e-6)


def test_top_eigenvalue_pytree_and_negative_curvature():
    """Pytree params are flattened; the *largest* eigenvalue is returned even when a negative one is
    larger in magnitude (power iteration would return −50)."""
    c = {"a": jnp.array([1.0, -50.0]), "b": {"w": jnp.array([[3.0, 7.0]])}}

    def f(p):
        return 0.5 * sum(jnp.sum(ci * pi**2) for ci, pi in zip(jax.tree.leaves(c), jax.tree.leaves(p)))

    params = jax.tree.map(jnp.ones_like, c)
    assert float(curvature.top_eigenvalue(f, params)) == pytest.approx(7.0, rel=1e-5)
    assert float(curvature.top_eigenvalue(lambda p: jnp.sum(p["w"]) * 0.0, {"w": jnp.ones(3)})) == 0.0


def _quadratic_spec(**over):
    raw = {"name": "q", "steps": 300, "dtype": "float64",
           "loss": {"name": "quadratic", "matrix": _spd(6, np.array([0.5, 1, 2, 3, 4, 8.0]), seed=3).tolist()},
           "init": {"points": [[1.0] * 6]},
           "axes": {"learning_rate": {"min": 1e-3, "max": 10.0, "num": 48, "scale": "log"},
                    "loss.curvature_scale": {"values": [0.1, 1.0, 30.0]}},
           "boundary": {"rtol": 1e-6}}
    raw.update(over)
    return lrsweep.from_dict(raw)


def test_sharpness_at_init_vmapped_over_configurations():
    spec = _quadratic_spec()
    program = Program(spec)
    s = np.array([0.1, 1.0, 30.0, 2.5])
    lam = curvature.sharpness_at_init(program, {"loss.curvature_scale": s})
    np.testing.assert_allclose(lam, 8.0 * s, rtol=1e-9)


def test_critical_learning_rate_matches_sharpness_prediction_on_quadratics():
    """On a quadratic the measured (asymptotic) critical learning rate is 2/λ_max, and the boundary
    table carries that prediction from the measured sharpness (relative tolerance 1e-4)."""
    result = lrsweep.run(_quadratic_spec(), progress=False)
    b = result.boundary
    np.testing.assert_allclose(b["sharpness"], 8.0 * b["loss.curvature_scale"], rtol=1e-9)
    np.testing.assert_allclose(b["sharpness_prediction"], 2.0 / (8.0 * b["loss.curvature_scale"]), rtol=1e-9)
    np.testing.assert_allclose(b["critical_asymptotic"], b["sharpness_prediction"], rtol=1e-4)


def test_momentum_prediction_and_non_sgd():
    assert curvature.prediction(10.0, 0.5) == pytest.approx(0.3)
    assert curvature.prediction(10.0, 0.5, nesterov=True) == pytest.approx(0.15)
    assert np.isnan(curvature.prediction(0.0))


def test_sharpness_along_training_is_constant_on_a_quadratic():
    spec = _quadratic_spec(steps=40)
    program = Program(spec)
    steps, f, lam = curvature.sharpness_along(program, {"learning_rate": np.array([0.05, 0.3])}, every=10)
    assert steps.tolist() == [0, 10, 20, 30, 40]
    np.testing.assert_allclose(lam, 0.8, rtol=1e-8)  # curvature_scale 0.1 × λ_max 8
    assert np.all(np.diff(f[0]) < 0)  # stable: η = 0.05 < 2/0.8


def test_sharpness_along_trains_as_the_engine_does():
    """The training under the sharpness measurement is the engine's own update (``training.update_fn``):
    under ``reduce_on_plateau`` (an optimizer that reads each update's loss) its loss after the last
    update is the table's ``final_loss``."""
    spec = _quadratic_spec(steps=40, schedule={"name": "reduce_on_plateau", "factor": 0.5, "patience": 2},
                           axes={"learning_rate": {"values": [0.05, 0.24]}}, boundary={"axis": "none"})
    table = lrsweep.run(spec, progress=False).table
    assert not table["diverged"].any()  # λ_max = 8: both below 2/8
    _, f, _ = curvature.sharpness_along(Program(spec), {"learning_rate": table["learning_rate"].to_numpy()},
                                        every=10, iterations=4)
    np.testing.assert_allclose(f[:, -1], table["final_loss"], rtol=1e-9)
