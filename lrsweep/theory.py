r"""Closed forms and exact finite-horizon references for quadratic losses.

Everything here is float64 NumPy on the host: it is what the engine is held to.

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

The engine calls a run *diverged* when, for some :math:`1 \le t \le T`, the loss is
non-finite or :math:`f_t - f^* > F\,(f_0 - f^*)` (:math:`F` = ``diverge_factor``,
:math:`f^* = 0` here). :func:`finite_horizon_critical` finds the smallest learning
rate that diverges under that rule, by bisection on the exact recurrence; the closed
forms (:func:`gd_critical`, :func:`heavy_ball_critical`, :func:`nesterov_critical`)
are its :math:`T \to \infty` limits.

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

import numpy as np

__all__ = [
    "diverges_within",
    "finite_horizon_critical",
    "gd_critical",
    "gd_finite_horizon_critical",
    "heavy_ball_critical",
    "nesterov_critical",
    "quadratic_loss_history",
    "schedule_gain",
]

_POINTS = 127  # learning rates tried per bisection round (the bracket shrinks 128x a round)
_MAX_DOUBLINGS = 400  # bracket search: at most this many halvings/doublings of lo


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


def _run(lr, lam, x0, steps, beta, nesterov, factors, diverge_factor=None, every=1):
    """Iterate optax.sgd on the diagonal quadratic for a batch of learning rates.

    ``lr``: (k,). Returns the loss history (k, steps+1), or, given
    ``diverge_factor``, the (k,) divergence flags (stopping once all diverged), the loss
    being observed after every ``every``-th update and after the last one.
    """
    k = lr.shape[0]
    eta = (factors[:, None] * lr[None, :])[:, :, None]  # (steps, k, 1): η_t = lr · factor(t)
    x = np.broadcast_to(x0, (k, x0.size)).copy()
    m = np.zeros_like(x)
    f0 = 0.5 * np.sum(lam * x0 * x0)
    record = diverge_factor is None
    if record:
        out = np.empty((k, steps + 1))
        out[:, 0] = f0
    else:
        out = np.zeros(k, dtype=bool)
        limit = diverge_factor * f0
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            g = lam * x
            if beta != 0.0:
                m = g + beta * m  # optax.trace: new_trace = g + decay * trace
                d = g + beta * m if nesterov else m
            else:
                d = g
            x = x - eta[t] * d
            f = 0.5 * np.einsum("ij,j->i", x * x, lam)  # row by row: the same for any batch
            if record:
                out[:, t + 1] = f
            elif (t + 1) % every == 0 or t + 1 == steps:
                out |= ~(f <= limit)  # f > F·f0, or nan (inf > limit already)
                if t % 16 == 15 and out.all():
                    break
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
    out = _run(lr.reshape(-1), lam, x, steps, beta, bool(nesterov), f)
    return out.reshape(lr.shape + (steps + 1,))


def diverges_within(history, diverge_factor: float, every: int = 1):
    r"""The engine's divergence rule applied to a loss history (minimum 0).

    Diverged iff for some observed :math:`t` (:math:`t = K, 2K, \ldots` and :math:`T`,
    :math:`K` = ``every``): :math:`f_t` is not finite, or :math:`f_t > F f_0`.

    Args:
      history: :math:`f_0 \ldots f_T` along the last axis.
      diverge_factor: :math:`F`.
      every: :math:`K`, the engine's ``run.check_every``.

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


# --------------------------------------------------------------------------- finite-horizon threshold


def finite_horizon_critical(
    eigenvalues,
    x0,
    steps: int,
    diverge_factor: float,
    *,
    momentum: float = 0.0,
    nesterov: bool = False,
    factors=None,
    lo: float | None = None,
    hi: float | None = None,
    rtol: float = 1e-12,
    every: int = 1,
) -> float:
    r"""Smallest learning rate that diverges within ``steps`` updates, on the exact recurrence.

    Divergence is the engine's rule (:func:`diverges_within`) applied to
    :func:`quadratic_loss_history`. The threshold is bracketed and then refined by
    vectorised bisection: each round runs 127 learning rates spread evenly over the
    bracket at once and keeps the gap between the last one that stayed bounded and
    the first that diverged, so a round shrinks the bracket 128-fold (about 6 rounds
    reach ``rtol = 1e-12``); taking the *first* diverging one finds the smallest
    threshold even if divergence is not monotone in the learning rate (down to the
    grid spacing). The default bracket: ``lo`` = ½ the closed form
    (:func:`gd_critical` / :func:`heavy_ball_critical` / :func:`nesterov_critical`
    at :math:`\lambda_\max`, divided by the largest factor of a schedule), halved
    until it does not diverge; ``hi`` = the first of its doublings that diverges
    (``lo`` and 7 doublings go in one run).

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

    Args:
      eigenvalues: Hessian eigenvalues (1-D; the largest must be > 0).
      x0: initial coordinates along the eigen-directions.
      steps: the horizon :math:`T \ge 1`.
      diverge_factor: :math:`F \ge 1`.
      momentum: :math:`\beta \in [0, 1)`.
      nesterov: optax's Nesterov form.
      factors: schedule factors for :math:`t = 0 \ldots T-1` (default: constant 1).
      lo: a learning rate that does not diverge (default: found as above).
      hi: a learning rate that diverges (default: found as above).
      rtol: stop when the bracket is narrower than ``rtol · hi``.
      every: the loss is observed after every ``every``-th update and after the last
        (the engine's ``run.check_every``).

    Returns:
      The threshold: the smallest diverging learning rate found, within ``rtol``.

    >>> lam = np.array([0.1, 1.0])
    >>> eta = finite_horizon_critical(lam, [1.0, 1.0], steps=2000, diverge_factor=1e6, momentum=0.9)
    >>> round(eta / heavy_ball_critical(1.0, 0.9), 4)
    1.0001
    """
    lam, x = _problem(eigenvalues, x0)
    steps = _steps(steps, 1)
    F = float(diverge_factor)
    if not (math.isfinite(F) and F >= 1):
        raise ValueError(f"{diverge_factor=}: expected a finite number >= 1")
    beta = float(_momentum(momentum))
    if not (0 < rtol < 1):
        raise ValueError(f"{rtol=}: expected a number in (0, 1)")
    lam_max = float(np.max(lam))
    if lam_max <= 0:
        raise ValueError(f"eigenvalues={lam.tolist()}: expected a positive largest eigenvalue")
    if 0.5 * np.sum(lam * x * x) <= 0:
        raise ValueError(f"x0={x.tolist()}: the initial loss is 0, so nothing can diverge")
    f = _factors(factors, steps)
    nesterov = bool(nesterov)

    def diverged(lrs) -> np.ndarray:
        return _run(np.asarray(lrs, np.float64), lam, x, steps, beta, nesterov, f, diverge_factor=F, every=every)

    closed = nesterov_critical(lam_max, beta) if nesterov else heavy_ball_critical(lam_max, beta)
    top = float(np.max(np.abs(f)))
    if top > 0:
        closed /= top

    lo_given, hi_given = lo is not None, hi is not None
    if lo_given and not (math.isfinite(lo) and lo > 0):
        raise ValueError(f"{lo=}: expected a positive learning rate")
    if hi_given and not (math.isfinite(hi) and (lo is None or hi > lo)):
        raise ValueError(f"{hi=}: expected a finite learning rate above lo={lo}")
    lo = 0.5 * closed if lo is None else float(lo)
    for _ in range(_MAX_DOUBLINGS // 8):
        # One run checks lo and, when hi is not given, the next 7 doublings of it.
        trial = np.array([lo, hi]) if hi_given else lo * 2.0 ** np.arange(8)
        d = diverged(trial)
        if d[0]:
            if lo_given:
                raise ValueError(f"{lo=}: expected a learning rate that does not diverge within {steps=}")
            lo = lo / 2.0**8  # the next batch reaches back up to lo / 2
            continue
        if hi_given:
            if not d[1]:
                raise ValueError(f"{hi=}: expected a learning rate that diverges within {steps=}")
            break
        if d.any():
            j = int(np.argmax(d))
            lo, hi = float(trial[j - 1]), float(trial[j])
            break
        lo = float(trial[-1])
    else:
        raise ValueError(f"found no bracket [non-diverging, diverging] of learning rates near {lo=} within {steps=}")

    lo, hi = float(lo), float(hi)
    while hi - lo > rtol * hi:
        trial = np.linspace(lo, hi, _POINTS + 2)[1:-1]
        d = diverged(trial)
        if d.any():
            i = int(np.argmax(d))
            lo, hi = (float(trial[i - 1]) if i > 0 else lo), float(trial[i])
        else:
            lo = float(trial[-1])
        if not lo < hi:  # the spacing fell below float64 resolution
            break
    return hi


# --------------------------------------------------------------------------- applied to a sweep
#
# Which closed form (if any) governs a sweep's boundary, and the exact finite-horizon
# reference for each slice. Theory applies when the loss is the quadratic, the optimizer
# optax's sgd (plain, heavy-ball or Nesterov) and the boundary axis the learning rate.


def _applies(spec) -> bool:
    return (spec.loss.name == "quadratic" and spec.optimizer.name == "sgd"
            and spec.boundary.axis == "learning_rate")


def _hyper(spec, values: dict, name: str, default):
    if name in values:
        return np.asarray(values[name], np.float64)
    if f"optimizer.{name}" in values:
        return np.asarray(values[f"optimizer.{name}"], np.float64)
    v = spec.optimizer.params.get(name, default)
    return np.asarray(default if v is None else v, np.float64)


def _eigenproblems(program, values: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Hessian eigenvalues (n, d) of each configuration's quadratic and its initial point in that eigenbasis."""
    h, x0 = program.hessians_at_init(values)
    lam, q = np.linalg.eigh(0.5 * (h + np.swapaxes(h, -1, -2)))
    return lam, np.einsum("nij,ni->nj", q, x0)


def _lam_max(lam: np.ndarray, x0: np.ndarray) -> np.ndarray:
    """Largest curvature among the eigen-directions the initial point excites (NaN if none)."""
    excited = np.abs(x0) > 0
    return np.where(excited.any(axis=-1), np.where(excited, lam, -np.inf).max(axis=-1), np.nan)


def closed_form(spec, values: dict[str, np.ndarray], program=None) -> np.ndarray | None:
    """Asymptotic critical learning rate for each configuration in ``values`` (``None`` if no theory applies).

    ``values`` maps axis names to equal-length arrays (the other axes take their first
    value). Uses ``λ_max`` among the eigen-directions the initial point excites, the
    momentum ``β`` (0 without), and optax's heavy-ball or Nesterov form.
    """
    sched_swept = any(a.name == "schedule" or a.name.startswith("schedule.") for a in spec.axes)
    if not _applies(spec) or spec.schedule.name != "constant" or sched_swept:
        return None
    from lrsweep.engine import Program

    program = program or Program(spec)
    lam, x0 = _eigenproblems(program, values)
    lam_max = _lam_max(lam, x0)
    beta = np.broadcast_to(_hyper(spec, values, "momentum", 0.0), lam_max.shape)
    if spec.optimizer.params.get("nesterov", False):
        return np.asarray(nesterov_critical(lam_max, beta), float)
    return np.asarray(heavy_ball_critical(lam_max, beta), float)


def annotate(spec, program, boundary):
    """Add ``theory`` (asymptotic closed form) and ``theory_finite`` (exact for this horizon and
    ``diverge_factor``) columns to a boundary table, where theory applies."""
    if not _applies(spec) or boundary is None or not len(boundary):
        return boundary
    slice_axes = [a for a in spec.axes if a.name != spec.boundary.axis]
    values = {a.name: (np.asarray([a.values.index(x) for x in boundary[a.name]], float) if a.categorical
                       else boundary[a.name].to_numpy(float)) for a in slice_axes}
    if not values:
        values = {spec.boundary.axis: np.asarray([spec.axis(spec.boundary.axis).values[0]])}
    boundary = boundary.copy()
    th = closed_form(spec, values, program)
    boundary["theory"] = th if th is not None else np.nan
    lam, x0 = _eigenproblems(program, values)
    names = program._schedule_names()
    nesterov = bool(spec.optimizer.params.get("nesterov", False))
    finite = np.full(len(boundary), np.nan)
    factor_cache: dict = {}
    for i in range(len(boundary)):
        v = {k: float(x[i]) for k, x in values.items()}
        if names[int(v.get("schedule", 0))] == "reduce_on_plateau":
            continue  # adaptive: no closed form
        skey = tuple(sorted((k, x) for k, x in v.items() if k.startswith("schedule")))
        if skey not in factor_cache:
            factor_cache[skey] = program.schedule_factors(v)
        beta = float(_hyper(spec, v, "momentum", 0.0))
        finite[i] = finite_horizon_critical(lam[i], x0[i], spec.steps, spec.criteria.diverge_factor, momentum=beta,
                                            nesterov=nesterov, factors=factor_cache[skey], rtol=1e-12,
                                            every=program.check_every)
    boundary["theory_finite"] = finite
    return boundary
