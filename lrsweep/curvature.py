r"""Curvature: the top Hessian eigenvalue (sharpness) of any loss, vmapped over configurations.

Gradient descent on a quadratic with Hessian :math:`H` multiplies the component along
eigenvector :math:`i` by :math:`1 - \eta\lambda_i` each step, so it is stable iff

.. math::
    \eta < \frac{2}{\lambda_{\max}} \quad\text{(GD)}, \qquad
    \eta < \frac{2(1+\beta)}{\lambda_{\max}} \quad\text{(heavy ball, optax's form)},

and for any smooth loss the same numbers, with :math:`\lambda_{\max}` the *sharpness*
at the current point, are the local (linearised) stability limits. This module
measures :math:`\lambda_{\max}` without forming the Hessian: Lanczos iteration on
Hessian-vector products :math:`v \mapsto Hv` computed as ``jax.jvp`` of ``jax.grad``
(forward-over-reverse), with full re-orthogonalisation, on the flattened parameter
pytree (:func:`jax.flatten_util.ravel_pytree`). ``k`` iterations cost ``k`` HVPs
(each about two gradient evaluations); the largest Ritz value of the ``k × k``
tridiagonal matrix converges to :math:`\lambda_{\max}` from below, exactly when
``k`` reaches the dimension.

On a network the linearised limit is not the trainability boundary: above
:math:`2/\lambda_{\max}` the loss can rise, the sharpness fall (the "catapult"), and
training go on at the *edge of stability* (:math:`\lambda_{\max} \approx 2/\eta`).
:func:`sharpness_along` tracks :math:`\lambda_{\max}` during training to show it. The
``sharpness`` columns of a sweep's boundary table are :func:`lrsweep.reference.sharpness_columns`.

>>> import jax.numpy as jnp
>>> f = lambda x: 0.5 * (x @ jnp.array([[2.0, 1.0], [1.0, 2.0]]) @ x)   # eigenvalues 1, 3
>>> round(float(top_eigenvalue(f, jnp.array([1.0, 0.0]))), 4)
3.0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from lrsweep import theory as _theory
from lrsweep.training import update_fn

__all__ = ["hvp", "prediction", "sharpness_along", "sharpness_at_init", "top_eigenvalue"]

ITERATIONS = 24
"""Lanczos iterations by default (capped at the dimension, where the answer is exact)."""


def hvp(fn: Callable, params: Any, v: Any) -> Any:
    r"""Hessian-vector product :math:`\nabla^2 f(\theta)\, v` by forward-over-reverse differentiation.

    >>> import jax.numpy as jnp
    >>> hvp(lambda x: jnp.sum(x**3), jnp.array([1.0, 2.0]), jnp.array([1.0, 1.0])).tolist()
    [6.0, 12.0]
    """
    return jax.jvp(jax.grad(fn), (params,), (v,))[1]


def top_eigenvalue(fn: Callable, params: Any, *, iterations: int = ITERATIONS, key: jax.Array | None = None
                   ) -> jax.Array:
    r"""Largest eigenvalue of the Hessian of ``fn`` at ``params`` (a pytree) by Lanczos.

    Starts from a random unit vector (``key``, default ``PRNGKey(0)``), runs
    :math:`k = \min(\text{iterations}, d)` Lanczos steps with full
    re-orthogonalisation (so the Krylov basis stays orthonormal in floating point)
    and returns the largest eigenvalue of the tridiagonal matrix :math:`T_k`. It is
    exact (to rounding) when :math:`k = d`, and otherwise a lower bound converging
    fast when :math:`\lambda_{\max}` is separated from the rest of the spectrum.
    Pure JAX: it traces under ``jit`` and ``vmap``; a zero Hessian gives 0.

    >>> import jax.numpy as jnp
    >>> float(top_eigenvalue(lambda p: 0.5 * jnp.sum(jnp.array([1.0, 4.0]) * p["w"]**2),
    ...                      {"w": jnp.ones(2)}))
    4.0
    """
    flat, unravel = ravel_pytree(params)
    d = flat.shape[0]
    k = max(1, min(int(iterations), d))
    dtype = flat.dtype
    key = jax.random.PRNGKey(0) if key is None else key
    f_flat = lambda x: fn(unravel(x))  # noqa: E731
    grad_flat = jax.grad(f_flat)

    def matvec(v):
        return jax.jvp(grad_flat, (flat,), (v,))[1]

    v0 = jax.random.normal(key, (d,), dtype)
    v0 = v0 / jnp.linalg.norm(v0)
    tiny = jnp.finfo(dtype).tiny

    def step(i, carry):
        basis, alpha, beta = carry
        v = basis[i]
        w = matvec(v)
        a = jnp.vdot(v, w)
        # full re-orthogonalisation against every vector so far (rows > i are still zero)
        w = w - basis.T @ (basis @ w)
        w = w - basis.T @ (basis @ w)
        b = jnp.linalg.norm(w)
        nxt = jnp.where(b > tiny * 1e3, w / jnp.maximum(b, tiny), jnp.zeros_like(w))
        basis = basis.at[i + 1].set(jnp.where(i + 1 < k, nxt, basis[i + 1]))
        return basis, alpha.at[i].set(a), beta.at[i].set(b)

    basis = jnp.zeros((k + 1, d), dtype).at[0].set(v0)
    _, alpha, beta = jax.lax.fori_loop(0, k, step, (basis, jnp.zeros(k, dtype), jnp.zeros(k, dtype)))
    t = jnp.diag(alpha) + jnp.diag(beta[:-1], 1) + jnp.diag(beta[:-1], -1)
    return jnp.linalg.eigvalsh(t)[-1]


def prediction(lam_max, momentum=0.0, nesterov: bool = False):
    r"""The linearised critical learning rate from the sharpness: :math:`2(1+\beta)/\lambda_{\max}`
    (heavy ball; :math:`\beta = 0`: GD's :math:`2/\lambda_{\max}`), or Nesterov's
    :math:`2(1+\beta)/((1+2\beta)\lambda_{\max})`. NaN where :math:`\lambda_{\max} \le 0` or
    :math:`\beta \notin [0, 1)`.

    >>> prediction(4.0), prediction(4.0, 0.5)
    (0.5, 0.75)
    """
    lam = np.asarray(lam_max, np.float64)
    beta = np.broadcast_to(np.asarray(momentum, np.float64), lam.shape)
    with np.errstate(invalid="ignore"):
        ok = (lam > 0) & (beta >= 0) & (beta < 1)  # elsewhere no formula: NaN, never an error
    safe_lam, safe_beta = np.where(ok, lam, 1.0), np.where(ok, beta, 0.0)
    out = (_theory.nesterov_critical(safe_lam, safe_beta) if nesterov
           else _theory.heavy_ball_critical(safe_lam, safe_beta))
    out = np.where(ok, out, np.nan)
    return float(out) if out.ndim == 0 else out


def _values(program, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every swept axis as a length-n array cast for the engine (missing axes: their first value)."""
    n = len(next(iter(values.values()))) if values else 1
    return program.batch_values(values, n)


def sharpness_at_init(program, values: dict[str, np.ndarray], *, iterations: int = ITERATIONS) -> np.ndarray:
    """``λ_max`` of the Hessian at each configuration's initial point, shape (n,).

    ``program`` is an :class:`lrsweep.engine.Program`; ``values`` maps axis names to
    equal-length arrays (missing axes take their first value). One compiled ``vmap``
    of :func:`top_eigenvalue` over the configurations, in the sweep's dtype.
    """
    with jax.enable_x64(program.x64):
        vals = _values(program, values)

        def one(v):
            params = program.setup.initial_params(v)
            return top_eigenvalue(program.loss_of(v), params, iterations=iterations)

        return np.asarray(jax.jit(jax.vmap(one))(vals), np.float64)


def sharpness_along(program, values: dict[str, np.ndarray], *, steps: int | None = None, every: int = 10,
                    iterations: int = ITERATIONS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Loss and sharpness during training of a few configurations: ``(step (S,), loss (n, S), λ_max (n, S))``.

    Runs the sweep's own optimizer (plain updates, no divergence freezing: a diverged run's
    values become inf/NaN) for ``steps`` (default the sweep's) and measures both every
    ``every`` updates: one ``lax.scan`` of ``lax.scan``, vmapped over the configurations.
    """
    T = int(steps or program.spec.steps)
    every = max(1, int(every))
    m = T // every
    with jax.enable_x64(program.x64):
        vals = _values(program, values)

        def one(v):
            params = program.setup.initial_params(v)
            opt = program.setup.optimizer(v, params)
            value = program.loss_of(v)

            update = update_fn(lambda p, _: value(p), opt)

            def measure(p):
                return value(p), top_eigenvalue(value, p, iterations=iterations)

            def block(carry, _):
                carry = jax.lax.scan(update, carry, None, length=every)[0]
                return carry, measure(carry[0])

            _, (f, lam) = jax.lax.scan(block, (params, opt.init(params)), None, length=m)
            f0, l0 = measure(params)
            return jnp.concatenate([f0[None], f]), jnp.concatenate([l0[None], lam])

        f, lam = jax.jit(jax.vmap(one))(vals)
        return np.arange(m + 1) * every, np.asarray(f, np.float64), np.asarray(lam, np.float64)
