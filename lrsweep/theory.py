r"""Closed forms and exact finite-horizon references for quadratic losses.

Everything here is float64 NumPy on the host, pure formulas and references that know nothing of
the engine: it is what the engine is held to. (Applying them to a sweep — the Hessian at each
slice's initial point, the schedule's factors — is :mod:`lrsweep.reference`'s job.)

On the diagonal quadratic :math:`f(x) = \tfrac12 \sum_i \lambda_i x_i^2` (coordinates
in the Hessian's eigenbasis) every optimizer below is a linear recurrence per
eigen-direction, with optax's update rules (``optax.sgd``):

* gradient descent: :math:`x \leftarrow x - \eta_t g`;
* heavy ball (``momentum=β``): :math:`m \leftarrow g + \beta m;\; x \leftarrow x - \eta_t m`;
* Nesterov (``nesterov=True``): :math:`m \leftarrow g + \beta m;\;
  x \leftarrow x - \eta_t (g + \beta m)`,

with :math:`g = \lambda x`, :math:`m_0 = 0` and :math:`\eta_t = \eta \cdot
\mathrm{factor}(t)` for a schedule's factors (pass them as a NumPy array, e.g.
``np.asarray(lrsweep.schedules.cosine_decay(np.arange(T), decay_steps=T))``).

The engine calls a run *diverged* when, at any step :math:`t \le T`, the loss is non-finite
or :math:`f_t - f^* > F\,(f_0 - f^*)` (:math:`F` = ``diverge_factor``, :math:`f^* = 0` here):
every update's loss is read. The searches keep an ``every`` argument (:math:`K`: only every
:math:`K`-th update and the last are looked at), the rule engines used before; ``every = 1``
is the engine's. That need not be monotone in the learning
rate (under a schedule a stable learning rate can lie above a diverging one).
:func:`finite_horizon_critical` finds the smallest learning rate that diverges under that
rule, :func:`finite_horizon_transitions` every learning rate where divergence switches on
or off: a fine scan of the exact recurrence, then bisection of each sign change, both
vectorised (over learning rates and over problems, e.g. every slice of a sweep at once).
The closed forms (:func:`gd_critical`, :func:`heavy_ball_critical`,
:func:`nesterov_critical`) are the threshold's :math:`T \to \infty` limits.

**The finite-horizon effect.** Above the closed-form threshold the loss grows
geometrically, but it must grow by :math:`F` within :math:`T` steps to count.
For gradient descent the top direction grows by :math:`(1-\eta\lambda)^2` per
step, so the measured threshold solves :math:`|1-\eta\lambda|^{2T}\,w = F`, with
:math:`w = \lambda_\max x_{\max,0}^2 / \sum_i \lambda_i x_{i,0}^2` the share of
the initial loss along the top direction:

.. math:: \eta_T = \frac{1 + (F/w)^{1/(2T)}}{\lambda_\max}
   \approx \frac{2}{\lambda_\max}\Big(1 + \frac{\ln(F/w)}{4T}\Big),

e.g. :math:`T = 300`, :math:`F = 10^6`, :math:`w = 1`: 1.16% above
:math:`2/\lambda` (:func:`gd_finite_horizon_critical`). With momentum, the root of
the characteristic polynomial that leaves through :math:`z = -1` moves at
:math:`dz/d(\eta\lambda) = -1/(1-\beta)` (heavy ball) or
:math:`-(1+2\beta)^2/(1+3\beta)` (Nesterov), so at relative excess
:math:`\epsilon` over :math:`\eta_c` the loss grows by :math:`|z|^{2T}` and the
relative gap is about

.. math:: \epsilon_T \approx \frac{\ln F}{4T}\cdot\frac{1-\beta}{1+\beta}
   \;\text{(heavy ball)}, \qquad
   \frac{\ln F}{4T}\cdot\frac{1+3\beta}{(1+\beta)(1+2\beta)} \;\text{(Nesterov)};

every gap vanishes like :math:`1/T`.

>>> gd_critical(4.0)
0.5
>>> round(finite_horizon_critical([4.0], [1.0], steps=300, diverge_factor=1e6), 6)
0.505823
>>> round(gd_finite_horizon_critical(4.0, steps=300, diverge_factor=1e6), 6)
0.505823
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import numpy as np

__all__ = [
    "diverges_within",
    "finite_horizon_critical",
    "finite_horizon_transitions",
    "gd_critical",
    "gd_finite_horizon_critical",
    "finite_horizon_thresholds",
    "heavy_ball_critical",
    "lambda_max_excited",
    "nesterov_critical",
    "quadratic_loss_history",
    "schedule_gain",
]

_RESOLUTION = 1e-3  # default relative spacing of the finite-horizon scans


# --------------------------------------------------------------------------- argument helpers


def _out(a: np.ndarray):
    """A Python float for a scalar result, the array otherwise."""
    return float(a) if np.ndim(a) == 0 else a


def _positive(name: str, value) -> np.ndarray:
    a = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(a) & (a > 0)):
        bad = a if a.ndim == 0 else a[~(np.isfinite(a) & (a > 0))].flat[0]
        raise ValueError(f"{name}={float(bad)!r}: expected a finite number > 0")
    return a


def _momentum(beta) -> np.ndarray:
    b = np.asarray(beta, dtype=np.float64)
    ok = (b >= 0) & (b < 1)
    if not np.all(ok):
        bad = b if b.ndim == 0 else b[~ok].flat[0]
        raise ValueError(f"beta={float(bad)!r}: expected momentum in [0, 1) (the closed forms assume it)")
    return b


def _steps(steps, minimum: int = 0) -> int:
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < minimum:
        raise ValueError(f"{steps=}: expected an integer >= {minimum}")
    return int(steps)


def _problem(eigenvalues, x0) -> tuple[np.ndarray, np.ndarray]:
    lam = np.atleast_1d(np.asarray(eigenvalues, dtype=np.float64))
    x = np.atleast_1d(np.asarray(x0, dtype=np.float64))
    if lam.ndim != 1 or lam.shape != x.shape:
        raise ValueError(
            f"eigenvalues (shape {lam.shape}) and x0 (shape {x.shape}) must be 1-D of the same length: "
            "x0 holds the coordinates along each eigen-direction"
        )
    if not (np.all(np.isfinite(lam)) and np.all(np.isfinite(x))):
        raise ValueError(f"eigenvalues={lam.tolist()} and x0={x.tolist()} must be finite")
    return lam, x


def _factors(factors, steps: int) -> np.ndarray:
    if factors is None:
        return np.ones(steps)
    f = np.asarray(factors, dtype=np.float64)
    if f.ndim != 1 or f.shape[0] < steps:
        raise ValueError(f"factors (shape {f.shape}): expected a 1-D array of at least steps={steps} factors")
    if not np.all(np.isfinite(f)):
        raise ValueError("factors: expected finite schedule factors")
    return f[:steps]


# --------------------------------------------------------------------------- closed forms


def gd_critical(lam_max):
    r"""Critical learning rate of gradient descent on a quadratic: :math:`2/\lambda_\max`.

    Per eigen-direction :math:`x_{t+1} = (1 - \eta\lambda)\,x_t`, stable iff
    :math:`|1 - \eta\lambda| < 1`, i.e. :math:`\eta < 2/\lambda`; the largest
    eigenvalue decides.

    Args:
      lam_max: the largest Hessian eigenvalue(s), > 0 (scalar or array).

    Returns:
      :math:`2/\lambda_\max` (a float, or an array for array input).

    >>> gd_critical(10.0)
    0.2
    >>> gd_critical(np.array([1.0, 4.0]))
    array([2. , 0.5])
    """
    return _out(2.0 / _positive("lam_max", lam_max))


def heavy_ball_critical(lam_max, beta):
    r"""Critical learning rate of heavy-ball momentum (optax's form) on a quadratic.

    .. math:: \eta_c = \frac{2(1+\beta)}{\lambda_\max}

    optax: :math:`m_{t+1} = g_t + \beta m_t`, :math:`x_{t+1} = x_t - \eta m_{t+1}`.
    With :math:`g_t = \lambda x_t` the state :math:`(x_t, m_t)` evolves by

    .. math::
       \begin{pmatrix} x_{t+1} \\ m_{t+1} \end{pmatrix} =
       \begin{pmatrix} 1 - \eta\lambda & -\eta\beta \\ \lambda & \beta \end{pmatrix}
       \begin{pmatrix} x_t \\ m_t \end{pmatrix},

    trace :math:`1 + \beta - \eta\lambda`, determinant :math:`\beta`, so the
    characteristic polynomial is :math:`p(z) = z^2 - (1 + \beta - \eta\lambda)z + \beta`.
    For :math:`0 \le \beta < 1`: complex roots have :math:`|z|^2 = \beta < 1`, and
    :math:`p(1) = \eta\lambda > 0`, so a root leaves the unit disc only through
    :math:`z = -1`: :math:`p(-1) = 2(1 + \beta) - \eta\lambda = 0`, i.e.
    :math:`\eta\lambda = 2(1+\beta)`. With :math:`\beta = 0` this is :func:`gd_critical`.

    Args:
      lam_max: the largest Hessian eigenvalue(s), > 0.
      beta: momentum :math:`\beta \in [0, 1)`. Both broadcast.

    Returns:
      :math:`2(1+\beta)/\lambda_\max`.

    >>> heavy_ball_critical(1.0, 0.9)
    3.8
    >>> heavy_ball_critical(2.0, np.array([0.0, 0.5]))
    array([1. , 1.5])
    """
    lam, b = _positive("lam_max", lam_max), _momentum(beta)
    return _out(2.0 * (1.0 + b) / lam)


def nesterov_critical(lam_max, beta):
    r"""Critical learning rate of Nesterov momentum (optax's form) on a quadratic.

    .. math:: \eta_c = \frac{2(1+\beta)}{(1+2\beta)\,\lambda_\max}

    optax: :math:`m_{t+1} = g_t + \beta m_t`, :math:`x_{t+1} = x_t - \eta(g_t + \beta
    m_{t+1})`. With :math:`g_t = \lambda x_t`,
    :math:`x_{t+1} = (1 - \eta\lambda(1+\beta))\,x_t - \eta\beta^2 m_t`, so

    .. math::
       \begin{pmatrix} x_{t+1} \\ m_{t+1} \end{pmatrix} =
       \begin{pmatrix} 1 - \eta\lambda(1+\beta) & -\eta\beta^2 \\ \lambda & \beta \end{pmatrix}
       \begin{pmatrix} x_t \\ m_t \end{pmatrix},

    trace :math:`(1+\beta)(1-\eta\lambda)`, determinant
    :math:`\beta(1 - \eta\lambda(1+\beta)) + \eta\lambda\beta^2 = \beta(1-\eta\lambda)`:

    .. math:: p(z) = z^2 - (1+\beta)(1-\eta\lambda)\,z + \beta(1-\eta\lambda).

    For :math:`0 \le \beta < 1` and :math:`\eta\lambda > 0`: complex roots have
    :math:`|z|^2 = \beta(1-\eta\lambda) < 1` and :math:`p(1) = \eta\lambda > 0`, so
    instability enters through :math:`z = -1`:
    :math:`p(-1) = 1 + (1+2\beta)(1-\eta\lambda) = 0`, i.e.
    :math:`\eta\lambda = 1 + 1/(1+2\beta) = 2(1+\beta)/(1+2\beta)`.
    With :math:`\beta = 0` this is :func:`gd_critical`; as :math:`\beta \to 1` it
    tends to :math:`4/(3\lambda)`.

    Args:
      lam_max: the largest Hessian eigenvalue(s), > 0.
      beta: momentum :math:`\beta \in [0, 1)`. Both broadcast.

    Returns:
      :math:`2(1+\beta)/((1+2\beta)\lambda_\max)`.

    >>> nesterov_critical(1.0, 0.5)
    1.5
    >>> nesterov_critical(1.0, 0.0) == gd_critical(1.0)
    True
    """
    lam, b = _positive("lam_max", lam_max), _momentum(beta)
    return _out(2.0 * (1.0 + b) / ((1.0 + 2.0 * b) * lam))


def gd_finite_horizon_critical(lam, steps: int, diverge_factor: float) -> float:
    r"""Smallest gradient-descent learning rate that diverges within ``steps`` (one direction).

    Started on a single eigen-direction, :math:`f_t = f_0 (1 - \eta\lambda)^{2t}`. The
    run diverges when :math:`f_t > F f_0` for some :math:`t \le T`; the largest
    :math:`f_t` is at :math:`t = T`, so it diverges iff
    :math:`|1 - \eta\lambda|^{2T} > F`, i.e. (for :math:`F \ge 1`)

    .. math:: \eta > \eta_T = \frac{1 + F^{1/(2T)}}{\lambda}
       \;\approx\; \frac{2}{\lambda}\Big(1 + \frac{\ln F}{4T}\Big).

    The finite horizon puts the measured threshold above :math:`2/\lambda`: e.g.
    :math:`T = 300`, :math:`F = 10^6` gives :math:`1.0116 \times 2/\lambda`.

    Args:
      lam: the eigenvalue :math:`\lambda > 0` (scalar or array).
      steps: the horizon :math:`T \ge 1`.
      diverge_factor: :math:`F \ge 1`.

    Returns:
      :math:`\eta_T` (the infimum of the diverging learning rates).

    >>> round(gd_finite_horizon_critical(1.0, steps=300, diverge_factor=1e6) / gd_critical(1.0), 4)
    1.0116
    """
    lam = _positive("lam", lam)
    steps = _steps(steps, 1)
    F = float(diverge_factor)
    if not (math.isfinite(F) and F >= 1):
        raise ValueError(f"{diverge_factor=}: expected a finite number >= 1")
    return _out((1.0 + F ** (1.0 / (2 * steps))) / lam)


def schedule_gain(lr, lam, factors):
    r"""Multiplier of an eigen-coordinate after gradient descent with a schedule.

    .. math:: \frac{x_T}{x_0} = \prod_{t=0}^{T-1} \big(1 - \eta\, \mathrm{factor}(t)\, \lambda\big),
       \qquad T = \text{len(factors)}.

    :math:`|{\rm gain}| > 1` means the direction grew; the loss along it is
    multiplied by the gain squared.

    Args:
      lr: base learning rate :math:`\eta` (scalar or array).
      lam: eigenvalue :math:`\lambda` (scalar or array; broadcasts with ``lr``).
      factors: 1-D array of the schedule's factors for :math:`t = 0 \ldots T-1`.

    Returns:
      The gain, shaped like ``lr`` and ``lam`` broadcast together.

    >>> schedule_gain(1.0, 1.5, np.array([1.0, 1.0]))
    0.25
    >>> schedule_gain(np.array([0.5, 3.0]), 1.0, np.ones(3))
    array([ 0.125, -8.   ])
    """
    lr, lam = np.broadcast_arrays(np.asarray(lr, np.float64), np.asarray(lam, np.float64))
    f = np.asarray(factors, dtype=np.float64)
    if f.ndim != 1:
        raise ValueError(f"factors (shape {f.shape}): expected a 1-D array of schedule factors")
    return _out(np.prod(1.0 - lr[..., None] * f * lam[..., None], axis=-1))


# --------------------------------------------------------------------------- the exact recurrence


def _iterate(lr, lam, x0, steps, beta, nesterov, factors) -> np.ndarray:
    """Iterate optax.sgd on the diagonal quadratic for a batch ``lr`` (k,) of learning rates: losses (k, steps+1)."""
    k = lr.shape[0]
    eta = (factors[:, None] * lr[None, :])[:, :, None]  # (steps, k, 1): η_t = lr · factor(t)
    x = np.broadcast_to(x0, (k, x0.size)).copy()
    m = np.zeros_like(x)
    out = np.empty((k, steps + 1))
    out[:, 0] = 0.5 * np.sum(lam * x0 * x0)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            g = lam * x
            if beta != 0.0:
                m = g + beta * m  # optax.trace: new_trace = g + decay * trace
                d = g + beta * m if nesterov else m
            else:
                d = g
            x = x - eta[t] * d
            out[:, t + 1] = 0.5 * np.einsum("ij,j->i", x * x, lam)  # row by row: the same for any batch
    return out


def quadratic_loss_history(
    lr,
    eigenvalues,
    x0,
    steps: int,
    *,
    momentum: float = 0.0,
    nesterov: bool = False,
    factors=None,
) -> np.ndarray:
    r"""Exact loss history of ``optax.sgd`` on a diagonal quadratic, in float64.

    Iterates, per eigen-direction :math:`i` and :math:`t = 0 \ldots T-1`,

    .. math::
       g_t = \lambda_i x_t, \quad m_{t+1} = g_t + \beta m_t, \quad
       x_{t+1} = x_t - \eta_t \,\big(m_{t+1} \text{ or } g_t + \beta m_{t+1}\ \text{(Nesterov)}\big)

    (:math:`m_0 = 0`; :math:`\beta = 0` is plain gradient descent :math:`x_{t+1} = x_t
    - \eta_t \lambda_i x_t`) with :math:`\eta_t = \text{lr} \cdot \text{factors}[t]`,
    exactly as ``optax.sgd(learning_rate=lambda t: lr * factors[t], momentum,
    nesterov)`` updates, and returns :math:`f_t = \tfrac12 \sum_i \lambda_i x_{i,t}^2`.
    Overflow is allowed (the history then holds ``inf``/``nan``).

    Args:
      lr: base learning rate (a scalar, or an array: one history per value).
      eigenvalues: Hessian eigenvalues :math:`\lambda_i` (1-D).
      x0: initial coordinates along each eigen-direction (same length).
      steps: number of updates :math:`T \ge 0`.
      momentum: :math:`\beta` (0: gradient descent).
      nesterov: use optax's Nesterov form.
      factors: schedule factors for :math:`t = 0 \ldots T-1` (default: all 1).

    Returns:
      :math:`f_0 \ldots f_T`, shape ``(steps + 1,)`` (``lr.shape + (steps + 1,)``
      for array ``lr``).

    >>> quadratic_loss_history(0.5, [1.0], [2.0], steps=3).tolist()
    [2.0, 0.5, 0.125, 0.03125]
    >>> quadratic_loss_history(0.5, [1.0], [2.0], steps=2, momentum=0.5).tolist()
    [2.0, 0.5, 0.0]
    """
    lam, x = _problem(eigenvalues, x0)
    steps = _steps(steps)
    f = _factors(factors, steps)
    beta = float(momentum)
    if not math.isfinite(beta):
        raise ValueError(f"{momentum=}: expected a finite number")
    lr = np.asarray(lr, dtype=np.float64)
    out = _iterate(lr.reshape(-1), lam, x, steps, beta, bool(nesterov), f)
    return out.reshape(lr.shape + (steps + 1,))


def diverges_within(history, diverge_factor: float, every: int = 1):
    r"""The engine's divergence rule applied to a loss history (minimum 0).

    Diverged iff for some observed :math:`t` (:math:`t = K, 2K, \ldots` and :math:`T`,
    :math:`K` = ``every``): :math:`f_t` is not finite, or :math:`f_t > F f_0`.

    Args:
      history: :math:`f_0 \ldots f_T` along the last axis.
      diverge_factor: :math:`F`.
      every: :math:`K` (1, the default, is the engine's rule: every update's loss is read).

    Returns:
      ``bool`` for one history; a boolean array for a batch of them.

    >>> diverges_within(np.array([1.0, 5.0, 20.0]), 10.0)
    True
    >>> diverges_within(np.array([1.0, 5.0, 10.0]), 10.0)
    False
    >>> diverges_within(np.array([1.0, np.nan]), 10.0)
    True
    """
    h = np.asarray(history, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        T = h.shape[-1] - 1
        seen = sorted({*range(every, T + 1, every), T} - {0})
        later = h[..., seen]
        bad = ~np.isfinite(later) | (later > diverge_factor * h[..., :1])
    out = np.any(bad, axis=-1)
    return bool(out) if out.ndim == 0 else out



# --------------------------------------------------------------------------- many runs at once
#
# The searches below run the recurrence for many (problem, learning rate) pairs at once, one row
# per pair: the problems' data are gathered into the rows, and a pass over the T updates is a few
# NumPy calls per update on arrays of at most _BATCH elements (small enough to stay in cache, about
# 3.5 ns per element and update). Rows found diverged are dropped as they go.

_BATCH = 1 << 16  # rows × directions per pass of the recurrence
_SCAN_ROWS = 1 << 18  # grid points (all problems together) per chunk of the scan
_ROUND = 4096  # rows × directions per bisection round: sets the points per round
_POINTS = 127  # at most this many learning rates per bracket and bisection round
_ZOOM = 32  # learning rates per dip and round of the margin guard (finite_horizon_transitions)
_MAX_DOUBLINGS = 400  # bracket search: at most this many halvings/doublings of lo

# status codes of a search, per problem
_OK, _LO_DIVERGES, _HI_STABLE, _NO_BRACKET = 0, 1, 2, 3


class _Problems(NamedTuple):
    """``S`` diagonal quadratics with their optimizer, schedule and divergence rule.

    ``lam``, ``x0``: (S, d) eigenvalues and initial coordinates; ``beta``: (S,) momenta;
    ``limit``: (S,) :math:`F f_0`, the loss an observation must not exceed; ``factors``: (T, U)
    schedule factors, column ``which[s]`` being problem ``s``'s; ``nesterov`` and ``every`` (the
    observation interval :math:`K`) are shared.
    """

    lam: np.ndarray
    x0: np.ndarray
    beta: np.ndarray
    limit: np.ndarray
    factors: np.ndarray
    which: np.ndarray
    nesterov: bool
    every: int


def _problems(lam, x0, beta, factors, which, diverge_factor, nesterov, every) -> _Problems:
    """Assemble :class:`_Problems`; ``factors`` (U, T), one row per distinct schedule."""
    f0 = 0.5 * np.sum(lam * x0 * x0, axis=-1)
    return _Problems(lam, x0, beta, diverge_factor * f0, np.ascontiguousarray(np.asarray(factors).T),
                     np.asarray(which, np.intp), bool(nesterov), int(every))


def _diverged(p: _Problems, rows, lr, margin: bool = False):
    """The engine's divergence flag of problem ``rows[k]`` run at learning rate ``lr[k]``, for every ``k``.

    With ``margin``: ``(flags, margins)``, the margin of a run being its largest observed
    :math:`f_t / (F f_0)` (inf once non-finite); every run then goes the full ``T`` updates.
    """
    rows, lr = np.asarray(rows, np.intp).ravel(), np.asarray(lr, np.float64).ravel()
    out, worst = np.empty(rows.size, bool), np.empty(rows.size)
    n = max(1, _BATCH // p.lam.shape[1])
    for s in range(0, rows.size, n):
        out[s:s + n], worst[s:s + n] = _diverged_pass(p, rows[s:s + n], lr[s:s + n], margin)
    return (out, worst) if margin else out


def _diverged_pass(p: _Problems, rows: np.ndarray, lr: np.ndarray, margin: bool = False):
    r"""One pass of the recurrence over a batch of rows: :func:`quadratic_loss_history`'s arithmetic, op for op.

    Per update, all rows at once: :math:`g = \lambda x`; :math:`m \leftarrow g + \beta m`;
    :math:`d = m` (heavy ball), :math:`g + \beta m` (Nesterov) or :math:`g` (no row has momentum;
    a row with :math:`\beta = 0` among others gets :math:`m = g + 0 \cdot m = g` exactly);
    :math:`x \leftarrow x - (\text{lr}\cdot\text{factor}_t)\,d`. After every ``every``-th update and
    the last, a row is diverged once :math:`f = \tfrac12\sum_i \lambda_i x_i^2 \le F f_0` fails (so NaN
    counts). Diverged rows are dropped whenever they are more than an eighth of those left, unless
    ``margin`` asks for each row's largest observed :math:`f / (F f_0)`. Returns ``(flags, margins)``
    (margins NaN without ``margin``).
    """
    T = p.factors.shape[0]
    lam, x, limit, which = p.lam[rows], p.x0[rows].copy(), p.limit[rows], p.which[rows]
    beta, lr = p.beta[rows][:, None], lr[:, None]
    momentum, shared, one = bool(np.any(beta != 0)), p.factors.shape[1] == 1, p.lam.shape[1] == 1
    m = np.zeros_like(x) if momentum else None
    alive, ok = np.arange(rows.size), np.ones(rows.size, bool)
    worst = np.zeros(rows.size) if margin else np.full(rows.size, np.nan)
    g, step, eta = np.empty_like(x), np.empty_like(x), None
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(T):
            np.multiply(lam, x, out=g)
            d = g
            if momentum:
                np.multiply(beta, m, out=m)
                d = np.add(g, m, out=m)  # optax.trace: new_trace = g + decay * trace
                if p.nesterov:
                    np.multiply(beta, m, out=step)
                    d = np.add(g, step, out=step)
            if not shared:
                eta = np.multiply(lr, p.factors[t][which][:, None])
            elif t == 0 or p.factors[t, 0] != p.factors[t - 1, 0]:  # a constant schedule: η_t once
                eta = np.multiply(lr, p.factors[t, 0])
            np.subtract(x, np.multiply(eta, d, out=step), out=x)
            if (t + 1) % p.every and t + 1 < T:
                continue
            np.multiply(x, x, out=step)
            np.multiply(step, lam, out=step)
            f = 0.5 * (step[:, 0] if one else step.sum(axis=1))
            ok &= f <= limit
            if margin:
                np.fmax(worst, np.where(np.isfinite(f), f / limit, np.inf), out=worst)
                continue
            left = np.count_nonzero(ok)
            if left == 0:
                return np.ones(rows.size, bool), worst
            if ok.size - left > ok.size // 8:  # drop the diverged rows
                alive, x, lam, limit, which, beta, lr = (a[ok] for a in (alive, x, lam, limit, which, beta, lr))
                m = m[ok] if momentum else None
                eta = eta[ok] if shared else None
                ok = np.ones(left, bool)
                g, step = np.empty_like(x), np.empty_like(x)
    out = np.ones(rows.size, bool)
    out[alive] = ~ok
    return out, worst


# --------------------------------------------------------------------------- the searches, vectorised


def _default_lo(p: _Problems) -> np.ndarray:
    """½ the closed form at the largest excited eigenvalue, over the largest |factor| of the schedule."""
    lam_max = lambda_max_excited(p.lam, p.x0)
    closed = (nesterov_critical if p.nesterov else heavy_ball_critical)(lam_max, p.beta)
    top = np.max(np.abs(p.factors), axis=0)[p.which]
    return 0.5 * np.where(top > 0, closed / np.where(top > 0, top, 1.0), closed)


def _bracket(p: _Problems, lo: np.ndarray, hi: np.ndarray, lo_fixed: np.ndarray):
    """A learning rate ``lo`` that does not diverge and one ``hi`` above it that does, per problem.

    Each round runs ``probe · 2^k``, ``k = 0 … 7`` (``probe`` starts at ``lo``) for every problem
    still searching: if ``lo`` itself diverges it is divided by :math:`2^8` (an error if it was
    given); otherwise ``hi`` is the first diverging doubling, or the search goes on from the last
    doubling. A given ``hi`` is only checked. ``lo`` stays where the search started: the doublings
    below ``hi`` say nothing about the learning rates between them (divergence need not be
    monotone), so the scan (:func:`_first_crossing`) starts from ``lo``.

    Returns ``(lo, hi, status)``: status :data:`_OK`, :data:`_LO_DIVERGES`, :data:`_HI_STABLE` or
    :data:`_NO_BRACKET` (then ``hi`` is NaN).
    """
    lo, hi, probe = lo.copy(), hi.copy(), lo.copy()
    status = np.full(lo.size, _NO_BRACKET, np.int8)
    todo = np.arange(lo.size)
    for _ in range(_MAX_DOUBLINGS // 8):
        if not todo.size:
            break
        given = np.isfinite(hi[todo])
        trial = probe[todo, None] * 2.0 ** np.arange(8)
        trial[given, 1:] = hi[todo[given], None]
        d = _diverged(p, np.repeat(todo, 8), trial).reshape(-1, 8)
        first = d[:, 0]
        status[todo[first & lo_fixed[todo]]] = _LO_DIVERGES
        lower = todo[first & ~lo_fixed[todo]]
        lo[lower] /= 2.0**8
        probe[lower] = lo[lower]
        status[todo[~first & given]] = np.where(d[~first & given, 1], _OK, _HI_STABLE)
        found = ~first & ~given & d.any(axis=1)
        hi[todo[found]] = trial[found, np.argmax(d[found], axis=1)]
        status[todo[found]] = _OK
        on = ~first & ~given & ~found
        probe[todo[on]] = trial[on, -1]
        todo = todo[(first & ~lo_fixed[todo]) | on]
    hi[status != _OK] = np.nan
    return lo, hi, status


def _first_crossing(p: _Problems, rows, lo, hi, resolution: float):
    r"""The first divergence on the grid :math:`\text{lo}\,(1+\delta)^j` up to ``hi`` (:math:`\delta` = ``resolution``).

    ``lo`` must not diverge and ``hi`` must. Chunks of grid points for all problems go through
    :func:`_diverged` together; a problem stops at the first chunk holding a diverging point.
    Returns ``(a, b)``: the last grid point before the first diverging one, and that one.
    """
    step = math.log1p(resolution)
    J = np.maximum(1, np.ceil(np.log(hi / lo) / step)).astype(np.int64)  # the J-th point is hi
    a, b = lo.copy(), hi.copy()
    todo, j0 = np.arange(lo.size), 1
    while todo.size:
        C = int(min(J[todo].max() - j0 + 1, max(1, _SCAN_ROWS // todo.size)))
        j = np.arange(j0, j0 + C)
        top = hi[todo, None]
        grid = np.where(j >= J[todo, None], top, np.minimum(lo[todo, None] * np.exp(j * step), top))
        run = j <= J[todo, None]
        d = np.zeros(grid.shape, bool)
        d[run] = _diverged(p, np.broadcast_to(rows[todo, None], grid.shape)[run], grid[run])
        found = d.any(axis=1)
        i = np.argmax(d, axis=1)
        k = np.arange(todo.size)
        b[todo[found]] = grid[k[found], i[found]]
        before = np.where(i > 0, grid[k, i - 1], a[todo])
        a[todo[found]] = before[found]
        a[todo[~found]] = grid[k[~found], -1]
        todo, j0 = todo[~found], j0 + C
    return a, b


def _points_per_round(brackets: int, directions: int) -> int:
    """Learning rates per bracket and round: :math:`2^k - 1`, about :data:`_ROUND` rows × directions in all.

    A round costs one pass of :math:`T` updates; fewer points a round means less arithmetic but
    more rounds (each shrinks a bracket by points + 1), so many brackets take few points each.
    """
    per = max(1, _ROUND // max(1, brackets * directions))
    return int(min(_POINTS, 2 ** int(math.log2(per + 1)) - 1))


def _refine(p: _Problems, rows, a, b, left, rtol: float) -> np.ndarray:
    r"""Bisect every bracket ``[a, b]`` (state ``left`` at ``a``, the other at ``b``) down to ``b − a ≤ rtol·b``.

    A round runs ``P`` evenly spaced learning rates inside every open bracket at once and keeps
    the gap before the first one whose state differs from ``left`` (or after the last one if
    none does), so each bracket shrinks ``P + 1``-fold and keeps the *first* sign change above
    ``a`` at that round's spacing; rounds go on until every bracket is narrower than ``rtol·b``
    (or than float64 can split). Returns ``b``: the first learning rate found past the sign change.
    """
    a, b = np.array(a, np.float64), np.array(b, np.float64)
    todo = np.flatnonzero(b - a > rtol * b)
    while todo.size:
        P = _points_per_round(todo.size, p.lam.shape[1])
        lo, hi = a[todo], b[todo]
        trial = lo[:, None] + (hi - lo)[:, None] * (np.arange(1, P + 1) / (P + 1))
        d = _diverged(p, np.repeat(rows[todo], P), trial).reshape(-1, P)
        flip = d != left[todo, None]
        found, i, k = flip.any(axis=1), np.argmax(flip, axis=1), np.arange(todo.size)
        b[todo] = np.where(found, trial[k, i], hi)
        a[todo] = np.where(found, np.where(i > 0, trial[k, i - 1], lo), trial[:, -1])
        width = b[todo] - a[todo]
        todo = todo[(width > rtol * b[todo]) & (width < hi - lo)]  # stop where float64 cannot split further
    return b


def _critical(p: _Problems, lo, hi, lo_fixed, rtol: float, resolution: float):
    """:func:`finite_horizon_critical` for all problems at once: ``(critical, status)`` (NaN unless status is OK)."""
    lo, hi, status = _bracket(p, lo, hi, lo_fixed)
    out = np.full(lo.size, np.nan)
    ok = np.flatnonzero(status == _OK)
    if ok.size:
        a, b = _first_crossing(p, ok, lo[ok], hi[ok], resolution)
        out[ok] = _refine(p, ok, a, b, np.zeros(ok.size, bool), rtol)
    return out, status


# --------------------------------------------------------------------------- finite-horizon thresholds


def _parse(eigenvalues, x0, steps, diverge_factor, momentum, nesterov, factors, every):
    """Check the arguments of the finite-horizon searches: ``(problems, steps, single)``."""
    single = np.ndim(eigenvalues) <= 1
    if single:
        lam, x = _problem(eigenvalues, x0)
        lam, x = lam[None], x[None]
    else:
        lam, x = np.asarray(eigenvalues, np.float64), np.asarray(x0, np.float64)
        if lam.ndim != 2 or lam.shape != x.shape or not (np.all(np.isfinite(lam)) and np.all(np.isfinite(x))):
            raise ValueError(f"eigenvalues (shape {lam.shape}) and x0 (shape {x.shape}): expected finite arrays "
                             "of the same shape, (problems, directions)")
    steps = _steps(steps, 1)
    F = float(diverge_factor)
    if not (math.isfinite(F) and F >= 1):
        raise ValueError(f"{diverge_factor=}: expected a finite number >= 1")
    if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
        raise ValueError(f"{every=}: expected an integer >= 1")
    beta = _momentum(np.broadcast_to(np.asarray(momentum, np.float64), lam.shape[:1]))
    for s in range(lam.shape[0]):
        where = "" if single else f"problem {s}: "
        if np.max(lam[s]) <= 0:
            raise ValueError(f"{where}eigenvalues={lam[s].tolist()}: expected a positive largest eigenvalue")
        if 0.5 * np.sum(lam[s] * x[s] * x[s]) <= 0:
            raise ValueError(f"{where}x0={x[s].tolist()}: the initial loss is 0, so nothing can diverge")
    if np.ndim(factors) == 2:
        table, which = np.stack([_factors(f, steps) for f in np.asarray(factors, np.float64)]), np.arange(lam.shape[0])
        if table.shape[0] != lam.shape[0]:
            raise ValueError(f"factors (shape {np.shape(factors)}): expected one row per problem ({lam.shape[0]})")
    else:
        table, which = _factors(factors, steps)[None], np.zeros(lam.shape[0], np.intp)
    return _problems(lam, x, beta, table, which, F, nesterov, every), steps, single


def _rates(name: str, value, n: int, default: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A ``lo``/``hi`` argument per problem (``default`` where not given) and where it was given."""
    if value is None:
        return default.copy(), np.zeros(n, bool)
    v = np.broadcast_to(np.asarray(value, np.float64), (n,)).copy()
    if not np.all(np.isfinite(v) & (v > 0)):
        shown = value if np.ndim(value) == 0 else v.tolist()
        raise ValueError(f"{name}={shown}: expected a positive learning rate")
    return v, np.ones(n, bool)


def _check_search(rtol, resolution):
    if not (0 < rtol < 1):
        raise ValueError(f"{rtol=}: expected a number in (0, 1)")
    if not (0 < resolution < 1):
        raise ValueError(f"{resolution=}: expected a number in (0, 1)")


def finite_horizon_critical(eigenvalues, x0, steps: int, diverge_factor: float, *, momentum=0.0,
                            nesterov: bool = False, factors=None, lo=None, hi=None, rtol: float = 1e-12,
                            every: int = 1, resolution: float = _RESOLUTION):
    r"""Smallest learning rate that diverges within ``steps`` updates, on the exact recurrence.

    Divergence is the engine's rule (:func:`diverges_within` applied to :func:`quadratic_loss_history`;
    with ``every`` = K > 1 only every K-th step and the last are looked at: the rule engines used before).
    It need not be monotone in the learning rate — under a schedule a diverging learning rate can have
    stable ones above it (:func:`finite_horizon_transitions`) — so the threshold is found in three stages,
    all vectorised (over the learning rates tried, and over problems, 2-D ``eigenvalues``):

    1. **bracket**: ``lo`` (default ½ the closed form, :func:`heavy_ball_critical` /
       :func:`nesterov_critical` at the largest excited eigenvalue, over the largest
       :math:`|\mathrm{factor}|`), divided by :math:`2^8` until it does not diverge; ``hi`` the first
       of its doublings that diverges. Learning rates below ``lo`` are assumed not to diverge.
    2. **scan**: the grid :math:`\mathrm{lo}\,(1+\delta)^j` from ``lo`` to ``hi`` (:math:`\delta` =
       ``resolution``, 0.1% by default); the first diverging point and the one before it bracket the first
       sign change. A diverging window wider than :math:`\delta` relative holds a grid point, so it cannot
       be missed; a narrower one below the first diverging point can.
    3. **bisection** of that bracket (evenly spaced learning rates each round, the gap before the first
       diverging one kept) until it is narrower than ``rtol · hi``.

    The threshold lies above the closed form by a gap that vanishes like :math:`\ln F / T` (the module's
    *finite-horizon effect*).

    Args:
      eigenvalues: Hessian eigenvalues (1-D; the largest must be > 0), or (problems, d).
      x0: initial coordinates along the eigen-directions (shaped like ``eigenvalues``).
      steps, diverge_factor: the horizon :math:`T \ge 1`; :math:`F \ge 1`.
      momentum, nesterov: :math:`\beta \in [0, 1)` (one per problem, or shared); optax's Nesterov form.
      factors: schedule factors for :math:`t = 0 \ldots T-1` (default 1); (problems, ≥ T): one per problem.
      lo, hi: a learning rate that does not diverge and one that does, the scan's ends (default: as above).
      rtol, resolution: the bracket's final width, ``rtol · hi``; the scan's relative spacing :math:`\delta`.
      every: the loss is observed every ``every``-th update and after the last (default 1: the engine's rule).

    Returns:
      The smallest diverging learning rate found, within ``rtol`` above the first sign change (an
      array, one per problem, for 2-D ``eigenvalues``).

    >>> lam = np.array([0.1, 1.0])
    >>> eta = finite_horizon_critical(lam, [1.0, 1.0], steps=2000, diverge_factor=1e6, momentum=0.9)
    >>> round(eta / heavy_ball_critical(1.0, 0.9), 4)
    1.0001
    >>> finite_horizon_critical([[1.0], [2.0]], [[1.0], [1.0]], 300, 1e6, momentum=[0.0, 0.5]).round(6)
    array([2.023293, 1.505021])
    >>> round(gd_finite_horizon_critical(1.0, 300, 1e6), 6)
    2.023293
    """
    _check_search(rtol, resolution)
    p, steps, single = _parse(eigenvalues, x0, steps, diverge_factor, momentum, nesterov, factors, every)
    n = p.lam.shape[0]
    lo_v, lo_fixed = _rates("lo", lo, n, _default_lo(p))
    hi_v, hi_fixed = _rates("hi", hi, n, np.full(n, np.nan))
    if np.any(hi_fixed & ~(hi_v > lo_v)):
        raise ValueError(f"{hi=}: expected a finite learning rate above lo={lo}")
    out, status = _critical(p, lo_v, hi_v, lo_fixed, rtol, resolution)
    _raise_status(status, lo_v, hi_v, steps, single)
    return float(out[0]) if single else out


def _raise_status(status: np.ndarray, lo_v: np.ndarray, hi_v: np.ndarray, steps: int, single: bool) -> None:
    """The first problem whose search failed (``status`` not OK) as a ``ValueError`` naming ``lo`` or ``hi``."""
    for s in np.flatnonzero(status != _OK)[:1]:
        where = "" if single else f"problem {s}: "
        raise ValueError(where + {
            _LO_DIVERGES: f"lo={_out(lo_v[s])!r}: expected a learning rate that does not diverge within {steps=}",
            _HI_STABLE: f"hi={_out(hi_v[s])!r}: expected a learning rate that diverges within {steps=}",
            _NO_BRACKET: f"found no bracket [non-diverging, diverging] of learning rates above lo={_out(lo_v[s])!r} "
                         f"within {steps=}",
        }[int(status[s])])


def _factor_zeros(p: _Problems, lo: float, hi: float) -> np.ndarray:
    r"""The learning rates in ``(lo, hi)`` that zero a factor :math:`1 - \eta f_s \lambda_i` of an excited direction.

    Guard 2 of :func:`finite_horizon_transitions` (gradient descent). Without momentum the coordinates are
    the product formula :math:`x_{i,t} = x_{i,0}\prod_{s<t}(1 - \eta f_s \lambda_i)`. Between consecutive
    zeros :math:`\eta = 1/(f_s\lambda_i)` of its factors, :math:`\ln|x_{i,t}|` is a sum of functions
    :math:`\ln|1 - \eta a|` each concave on either side of its zero, hence concave; where it stays below a
    level is then the interval minus one open sub-interval, so a stable window bounded by diverging
    learning rates on both sides reaches such a zero. With these zeros on the grid, for one direction
    observed once (``every ≥ steps``) every stable window is found whatever its width; with several
    directions or observations it is the same mechanism without the proof.
    """
    lam = p.lam[0][(p.x0[0] != 0) & (p.lam[0] != 0)]
    with np.errstate(divide="ignore"):
        zeros = 1.0 / np.outer(p.factors[:, p.which[0]], lam).ravel()
    return np.unique(zeros[(zeros > lo) & (zeros < hi)])


def _approaches(lr: np.ndarray, d: np.ndarray, gap: np.ndarray) -> tuple[np.ndarray, ...]:
    r"""Along the last axis: each strict local minimum of ``gap`` among three neighbours in one state.

    Returns the outer neighbours' learning rates and gaps, and the state: ``(lo, hi, gap_lo, gap_hi, state)``.
    """
    same = (d[..., :-2] == d[..., 1:-1]) & (d[..., 1:-1] == d[..., 2:])
    low = same & (gap[..., 1:-1] < gap[..., :-2]) & (gap[..., 1:-1] < gap[..., 2:])
    *at, j = np.nonzero(low)
    return lr[(*at, j)], lr[(*at, j + 2)], gap[(*at, j)], gap[(*at, j + 2)], d[(*at, j + 1)]


def _gap(margin: np.ndarray) -> np.ndarray:
    r"""How far a run's margin is from the threshold 1, in log: :math:`|\ln \text{margin}|`."""
    with np.errstate(divide="ignore"):
        return np.abs(np.log(margin))


def _zoom(p: _Problems, grid, d, margin, rtol: float) -> tuple[np.ndarray, np.ndarray]:
    r"""The margin guard: scan finer wherever the margin approaches 1 between grid points of one state.

    A window of one state inside a range of the other is where the margin (largest observed
    :math:`f_t / (F f_0)`) crosses 1: a dip to 1 or below amid divergence, a peak above 1 amid
    stability, and the dip or peak is wider than the window. So each strict local minimum of
    :math:`|\ln \text{margin}|` on the grid, between neighbours in its own state, has the gap
    between those neighbours scanned again (:data:`_ZOOM` points, all such gaps at once), and
    again around any new minimum there, until a point of the other state turns up or the gap is
    narrower than ``rtol``. Returns the grid with every point run, sorted, and the states.
    """
    lo, hi, g_lo, g_hi, state = _approaches(grid, d, _gap(margin))
    grids, states = [grid], [d]
    frac = np.arange(1, _ZOOM + 1) / (_ZOOM + 1)
    for _ in range(64):
        keep = hi - lo > rtol * hi
        if not keep.any():
            break
        lo, hi, g_lo, g_hi, state = lo[keep], hi[keep], g_lo[keep], g_hi[keep], state[keep]
        pts = lo[:, None] + (hi - lo)[:, None] * frac
        dd, mm = _diverged(p, np.zeros(pts.size, np.intp), pts, margin=True)
        grids.append(pts.ravel())
        states.append(dd)
        dd, gg = dd.reshape(pts.shape), _gap(mm).reshape(pts.shape)
        on = np.all(dd == state[:, None], axis=1)  # else the other state turned up: that window is bracketed
        ends = state[on, None]
        lo, hi, g_lo, g_hi, state = _approaches(np.column_stack([lo[on], pts[on], hi[on]]),
                                                np.hstack([ends, dd[on], ends]),
                                                np.column_stack([g_lo[on], gg[on], g_hi[on]]))
    grid, order = np.unique(np.concatenate(grids), return_index=True)
    return grid, np.concatenate(states)[order]


def _drop_points(found: np.ndarray, rtol: float) -> np.ndarray:
    """Drop pairs of opposite sign changes within ``2·rtol`` of each other (a window too narrow to resolve)."""
    keep = []
    for row in found:
        if keep and keep[-1][1] != row[1] and row[0] - keep[-1][0] <= 2 * rtol * row[0]:
            keep.pop()
        else:
            keep.append(row)
    return np.asarray(keep, np.float64).reshape(-1, 2)


def finite_horizon_transitions(eigenvalues, x0, steps: int, diverge_factor: float, *, momentum: float = 0.0,
                               nesterov: bool = False, factors=None, lo: float | None = None, hi: float | None = None,
                               rtol: float = 1e-12, every: int = 1, resolution: float = _RESOLUTION) -> np.ndarray:
    r"""Every learning rate in ``[lo, hi]`` where divergence within ``steps`` updates switches on or off.

    Same divergence rule and recurrence as :func:`finite_horizon_critical` (whose result is the
    first transition here, when it goes up). Under a schedule divergence is not monotone in the
    learning rate: e.g. gradient descent with warmup-cosine (warmup 20, decay 150) on
    :math:`\lambda = (0.5, 20)`, :math:`x_0 = (1, 1)`, :math:`T = 150`, :math:`F = 10^4` first
    diverges at :math:`\eta = 0.13671`, is stable again from 0.14279 (near
    :math:`\eta = 1/(f_7 \lambda_2)` the factor :math:`1 - \eta f_7 \lambda_2` almost cancels the
    growth) and diverges again from 0.14292 on.

    **Scan.** Every point of the grid :math:`\mathrm{lo}\,(1+\delta)^j` up to ``hi`` (:math:`\delta` =
    ``resolution``, 0.1% by default) is run for the :math:`T` steps at once; neighbours in different states
    bracket a sign change, all bisected together to ``rtol`` (:func:`_refine`). A window of either state
    wider than :math:`\delta` relative holds a grid point; a narrower one can lie between two, and two
    guards look there (lower ``resolution`` to be surer; the cost is
    :math:`\propto \ln(\mathrm{hi}/\mathrm{lo})/\delta`).
    **Guard 1, the margin** (any optimizer; :func:`_zoom`) scans again where the largest observed
    :math:`f_t/(F f_0)` approaches 1 between points of one state: heavy ball (:math:`\beta = 0.3`) on the
    problem above is stable on [0.162719, 0.162785), 4e-4 wide, found at :math:`\delta = 10^{-3}` and
    :math:`10^{-2}`. **Guard 2, the factors' zeros** (gradient descent; :func:`_factor_zeros`) puts every
    :math:`\eta = 1/(f_s\lambda_i)` in ``(lo, hi)`` on the grid: above, the window [0.142794, 0.142915)
    (8.5e-4 wide) holds :math:`1/(f_7\lambda_2)`, and one 4.6e-11 wide holds :math:`1/(f_6\lambda_2) =
    0.1666667`: both are found at any :math:`\delta`. A zero can be an isolated stable point
    (:math:`\eta = 0.2 = 1/(f_5\lambda_2)` sets a coordinate exactly to 0 amid divergence): pairs of
    opposite transitions within ``2·rtol`` of each other, a window too narrow to resolve, are dropped.

    Args:
      eigenvalues, x0, steps, diverge_factor, momentum, nesterov, factors, rtol, every,
        resolution: as for :func:`finite_horizon_critical` (one problem: 1-D ``eigenvalues``).
      lo: the start of the range (default: as for :func:`finite_horizon_critical`).
      hi: its end (default: twice the first diverging doubling of ``lo``).

    Returns:
      Shape (n, 2), one row per sign change in increasing order: the learning rate (the first one
      found past the change, within ``rtol`` above it) and the direction, ``+1`` where divergence
      starts (stable below, diverging above) and ``-1`` where it stops.

    >>> finite_horizon_transitions([4.0], [1.0], steps=300, diverge_factor=1e6).round(6)
    array([[0.505823, 1.      ]])
    """
    _check_search(rtol, resolution)
    if np.ndim(eigenvalues) > 1:
        raise ValueError("finite_horizon_transitions: expected one problem (1-D eigenvalues)")
    p, steps, _ = _parse(eigenvalues, x0, steps, diverge_factor, momentum, nesterov, factors, every)
    grid = _transition_grid(p, *_transition_range(p, lo, hi, steps), resolution)
    grid, d = _zoom(p, grid, *_diverged(p, np.zeros(grid.size, np.intp), grid, margin=True), rtol)
    j = np.flatnonzero(d[1:] != d[:-1])
    b = _refine(p, np.zeros(j.size, np.intp), grid[j], grid[j + 1], d[j], rtol)
    return _drop_points(np.column_stack([b, np.where(d[j], -1.0, 1.0)]), rtol)


def _transition_range(p: _Problems, lo, hi, steps: int) -> tuple[float, float]:
    """``lo`` (default: as for the threshold) and ``hi`` (default: twice the first diverging doubling of ``lo``)."""
    start, fixed = _rates("lo", lo, 1, _default_lo(p))
    if hi is None:
        start, top, status = _bracket(p, start, np.full(1, np.nan), fixed)
        if status[0] == _NO_BRACKET:
            raise ValueError(f"found no diverging learning rate above lo={float(start[0])!r} within {steps=}; give hi")
        return float(start[0]), 2.0 * float(start[0] if status[0] == _LO_DIVERGES else top[0])
    end = float(_rates("hi", hi, 1, start)[0][0])
    if not end > start[0]:
        raise ValueError(f"{hi=}: expected a finite learning rate above lo={float(start[0])!r}")
    return float(start[0]), end


def _transition_grid(p: _Problems, lo: float, hi: float, resolution: float) -> np.ndarray:
    r""":math:`\text{lo}\,(1+\delta)^j` below ``hi``, then ``hi``; for gradient descent also the factors' zeros."""
    step = math.log1p(resolution)
    grid = lo * np.exp(np.arange(int(math.ceil(math.log(hi / lo) / step))) * step)
    grid = np.append(grid[grid < hi], hi)
    return np.union1d(grid, _factor_zeros(p, lo, hi)) if p.beta[0] == 0 else grid


# --------------------------------------------------------------------------- many problems, never raising


def lambda_max_excited(eigenvalues, x0) -> np.ndarray:
    r"""The largest eigenvalue among the directions the initial point excites (:math:`x_{0,i} \ne 0`), per row.

    Directions the initial point does not excite stay at zero under every optimizer here, so they
    cannot make a run diverge: the closed forms use this :math:`\lambda_\max`. NaN for a row that
    excites nothing (the initial point is the minimum).

    >>> lambda_max_excited([[1.0, 4.0], [1.0, 4.0]], [[1.0, 1.0], [1.0, 0.0]]).tolist()
    [4.0, 1.0]
    """
    lam, x0 = np.asarray(eigenvalues, np.float64), np.asarray(x0, np.float64)
    excited = np.abs(x0) > 0
    return np.where(excited.any(axis=-1), np.where(excited, lam, -np.inf).max(axis=-1), np.nan)



def finite_horizon_thresholds(eigenvalues, x0, steps: int, diverge_factor: float, *, momentum, nesterov: bool = False,
                              factors=None, which=None, rtol: float = 1e-12, every: int = 1,
                              resolution: float = _RESOLUTION) -> np.ndarray:
    r""":func:`finite_horizon_critical` of many problems at once, NaN (never an error) where none is found.

    For the slices of a sweep: ``factors`` is a table (U, ≥ T) of distinct schedules and
    ``which`` (S,) each problem's row, so S slices sharing a schedule hold it once. A problem
    whose bracket search finds no diverging learning rate, or that has no excited positive
    curvature, gets NaN.

    Args:
      eigenvalues, x0: (S, d).
      momentum: (S,) or a scalar, in [0, 1).
      factors: (U, ≥ T) schedule factors (default: constant 1).
      which: (S,) row of ``factors`` per problem (default: row 0).
      steps, diverge_factor, nesterov, rtol, every, resolution: as for :func:`finite_horizon_critical`.

    >>> finite_horizon_thresholds([[1.0], [2.0]], [[1.0], [1.0]], 300, 1e6, momentum=0.0).round(6)
    array([2.023293, 1.011646])
    """
    _check_search(rtol, resolution)
    lam, x = np.asarray(eigenvalues, np.float64), np.asarray(x0, np.float64)
    if lam.ndim != 2 or lam.shape != x.shape:
        raise ValueError(f"eigenvalues (shape {lam.shape}) and x0 (shape {x.shape}): expected (problems, directions)")
    steps = _steps(steps, 1)
    S = lam.shape[0]
    table = np.ones((1, steps)) if factors is None else np.stack([_factors(f, steps) for f in np.atleast_2d(factors)])
    which = np.zeros(S, np.intp) if which is None else np.asarray(which, np.intp)
    beta = _momentum(np.broadcast_to(np.asarray(momentum, np.float64), (S,)))
    f0 = 0.5 * np.sum(lam * x * x, axis=-1)
    lm = lambda_max_excited(lam, x)
    with np.errstate(invalid="ignore"):
        ok = np.flatnonzero(np.isfinite(lm) & (lm > 0) & (f0 > 0) & np.all(np.isfinite(lam) & np.isfinite(x), axis=-1))
    out = np.full(S, np.nan)
    if ok.size:
        p = _problems(lam[ok], x[ok], beta[ok], table, which[ok], float(diverge_factor), bool(nesterov), int(every))
        out[ok] = _critical(p, _default_lo(p), np.full(ok.size, np.nan), np.zeros(ok.size, bool), rtol, resolution)[0]
    return out
