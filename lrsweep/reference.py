r"""The references of one sweep: theory and sharpness beside each slice's measured boundary, computed once.

The pipeline calls :func:`annotate` once, after the boundary search, with the compiled
:class:`~lrsweep.engine.Program`; everything that needs the program (the Hessian at each slice's
initial point, the schedule's factors as the engine computes them, Lanczos on the loss) happens
here and is *stored* in the boundary table, so that figures are drawn from stored columns and the
pure formulas of :mod:`lrsweep.theory` only (drawing compiles nothing):

=========================  =====================================================================
column                     meaning
=========================  =====================================================================
``theory_lambda_max``      :math:`\lambda_\max` of the Hessian at the initial point among the
                           directions it excites (float64 ``eigh``); quadratic + sgd only
``theory``                 the closed form :math:`2(1+\beta)/\lambda_\max` (heavy ball) or
                           :math:`2(1+\beta)/((1+2\beta)\lambda_\max)` (Nesterov); constant
                           schedule only
``theory_finite``          the exact finite-horizon threshold (:func:`lrsweep.theory.
                           finite_horizon_thresholds`, every update's loss read, ``rtol = 1e-12``)
``theory_status``          ``ok``, or why the theory columns are empty
``sharpness``              Lanczos :math:`\lambda_\max` at the initial point, any loss
``sharpness_prediction``   the closed form at that sharpness (sgd only)
=========================  =====================================================================

(the sharpness columns only where ``[boundary] sharpness`` is true, the default: on a network Lanczos
at every slice can cost more than the sweep), and :func:`initial_values` gives the LR sensitivity's
initial loss of a column the table holds only at the end of the run (``eval_loss``, a metric).

and :func:`asymptotic_where_defined` empties ``critical_asymptotic`` where the schedule decays to
zero (see there). A figure's theory line along an axis is the closed form at ``theory_lambda_max``
interpolated linearly between the slices (:func:`lrsweep.plot`): exact along the momentum (which
does not change the Hessian) and along ``loss.curvature_scale`` (which scales it linearly).
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd

from lrsweep import theory as _theory

__all__ = ["annotate", "asymptotic_where_defined", "initial_values", "sharpness_columns", "theory_columns"]

DECAYED = 1e-3
"""A schedule *decays to zero* when its factor at update :data:`FAR` is at most this fraction of its peak."""
FAR = 1 << 30
"""The update at which a schedule's limit is read (``2^30``: within int32, beyond any horizon)."""


def annotate(spec, program, boundary: pd.DataFrame | None, phases=None) -> pd.DataFrame | None:
    """All per-slice references of a finished sweep's boundary table (theory, sharpness, asymptotic).

    ``phases``: a ``name -> context manager`` timer (:class:`lrsweep.pipeline.Phases`), entered
    as ``theory`` and ``sharpness``.
    """
    if boundary is None or not len(boundary):
        return boundary
    timed = phases or (lambda name: contextlib.nullcontext())
    with timed("theory"):
        boundary = asymptotic_where_defined(spec, program, theory_columns(spec, program, boundary))
    if not spec.boundary.sharpness:
        return boundary
    with timed("sharpness"):
        return sharpness_columns(spec, program, boundary)


# ----------------------------------------------------------------------------------- slices


def _slice_values(spec, boundary: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each slice's value of every other axis (categorical: its index), one entry per boundary row."""
    n = len(boundary)
    values = {a.name: (np.asarray([a.values.index(x) for x in boundary[a.name]], float) if a.categorical
                       else boundary[a.name].to_numpy(float)) for a in spec.axes if a.name != spec.boundary.axis}
    return values or {spec.boundary.axis: np.full(n, float(spec.axis(spec.boundary.axis).values[0]))}


def _hyper(spec, values: dict, name: str, default, n: int) -> np.ndarray:
    """An optimizer hyperparameter per slice: its axis if swept, else the sweep's value (or ``default``)."""
    for key in (name, f"optimizer.{name}"):
        if key in values:
            return np.asarray(values[key], np.float64)
    v = spec.optimizer.params.get(name, default)
    return np.full(n, float(default if v is None else v))


def _schedule_swept(spec) -> bool:
    return any(a.route.kind in ("schedule", "schedule_name") for a in spec.axes)


def _slice_factors(spec, program, values: dict[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Schedule factors of the slices: a table (U, T+1), one row per distinct schedule, and each slice's row.

    The row is -1 for a slice under ``reduce_on_plateau`` (adaptive: no factors known in advance).
    """
    rows: dict = {}
    table, which = [], np.full(n, -1, np.intp)
    for i, key, v in _scheduled_slices(program, values, n):
        if key not in rows:
            rows[key] = len(table)
            table.append(program.schedule_factors(v))
        which[i] = rows[key]
    return (np.stack(table) if table else np.ones((1, spec.steps + 1))), which


def _scheduled_slices(program, values: dict[str, np.ndarray], n: int):
    """``(i, key, v)`` for every slice ``i`` whose schedule is known in advance (not ``reduce_on_plateau``):
    its axis values ``v`` and ``key``, the schedule part of them (equal keys, equal schedules)."""
    names = program.schedule_names()
    for i in range(n):
        v = {k: float(x[i]) for k, x in values.items()}
        if names[int(v.get("schedule", 0))] != "reduce_on_plateau":
            yield i, tuple(sorted((k, x) for k, x in v.items() if k.startswith("schedule"))), v


# ----------------------------------------------------------------------------------- theory


def _applies(spec) -> bool:
    """Theory covers the quadratic under optax's sgd (plain, heavy ball, Nesterov) along the learning rate."""
    return (spec.loss.name == "quadratic" and spec.optimizer.name == "sgd"
            and spec.boundary.axis == "learning_rate")


def _eigenproblems(program, values: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Hessian eigenvalues (n, d) of each slice's quadratic and its initial point in that eigenbasis."""
    h, x0 = program.hessians_at_init(values)
    lam, q = np.linalg.eigh(0.5 * (h + np.swapaxes(h, -1, -2)))
    return lam, np.einsum("nij,ni->nj", q, x0)


def _why_not(names: tuple, values: dict, lam_max: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Per slice, why the theory columns are empty (``ok`` where they are not)."""
    n = lam_max.shape[0]
    s = values.get("schedule")
    plateau = np.asarray([names[int(s[i]) if s is not None else 0] == "reduce_on_plateau" for i in range(n)])
    with np.errstate(invalid="ignore"):
        return np.select([~(np.isfinite(lam_max) & (lam_max > 0)), ~((beta >= 0) & (beta < 1)), plateau],
                         ["no excited positive curvature at the initial point (at the minimum?)",
                          "momentum outside [0, 1): no closed form", "reduce_on_plateau is adaptive: no closed form"],
                         "ok")


def theory_columns(spec, program, boundary: pd.DataFrame) -> pd.DataFrame:
    """``theory_lambda_max``, ``theory``, ``theory_finite`` and ``theory_status`` (see the module table).

    Nothing is added where no theory applies (not a quadratic under sgd along the learning rate).
    All slices' finite-horizon thresholds are one vectorised search.
    """
    if not _applies(spec) or boundary is None or not len(boundary):
        return boundary
    n = len(boundary)
    values = _slice_values(spec, boundary)
    lam, x0 = _eigenproblems(program, values)
    lam_max = _theory.lambda_max_excited(lam, x0)
    beta = _hyper(spec, values, "momentum", 0.0, n)
    nesterov = bool(spec.optimizer.params.get("nesterov", False))
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(lam_max) & (lam_max > 0) & np.isfinite(beta) & (beta >= 0) & (beta < 1)
    closed = np.full(n, np.nan)
    if ok.any() and spec.schedule.name == "constant" and not _schedule_swept(spec):
        closed[ok] = (_theory.nesterov_critical if nesterov else _theory.heavy_ball_critical)(lam_max[ok], beta[ok])
    table, which = _slice_factors(spec, program, values, n)
    run = np.flatnonzero(ok & (which >= 0))
    finite = np.full(n, np.nan)
    if run.size:  # the engine reads every update's loss: every = 1
        finite[run] = _theory.finite_horizon_thresholds(
            lam[run], x0[run], spec.steps, float(spec.criteria.diverge_factor), momentum=beta[run],
            nesterov=nesterov, factors=table[:, :spec.steps], which=which[run])
    out = boundary.copy()
    out["theory_lambda_max"] = lam_max
    out["theory"] = closed
    out["theory_finite"] = finite
    out["theory_status"] = _why_not(program.schedule_names(), values, lam_max, beta)
    return out


# ----------------------------------------------------------------------------------- asymptotic


def _schedule_limit(program, v: dict) -> float:
    """The schedule's factor at update :data:`FAR` over its largest factor within the horizon."""
    import jax
    import jax.numpy as jnp

    within = np.abs(program.schedule_factors(v))
    with jax.enable_x64(program.x64):
        c = program.setup.concrete(v)
        c["learning_rate"] = program.setup.cast("learning_rate", np.ones(1))[0]
        lr = program.setup.learning_rate(c)
        far = float(lr(jnp.asarray(FAR, jnp.int32))) if callable(lr) else float(lr)
    peak = float(within.max())
    return abs(far) / peak if peak > 0 else 1.0


def asymptotic_where_defined(spec, program, boundary: pd.DataFrame) -> pd.DataFrame:
    r"""Empty ``critical_asymptotic`` (and its bracket) where the schedule decays to zero, and say why in ``status``.

    ``critical_asymptotic`` estimates :math:`\lim_{T\to\infty}` of the critical value from the sign of
    the loss's growth rate at the end of the run. Under a schedule whose factor tends to 0 (cosine or
    warmup-cosine to 0, exponential or step decay, inverse square root, linear to 0, …) the
    learning rate at the end of the run vanishes, so no learning rate is unstable asymptotically:
    every non-diverged run stops growing and the estimate merely repeats ``critical``. Such a
    schedule is recognised by its factor at update :data:`FAR` being at most :data:`DECAYED` of
    its peak within the horizon. ``reduce_on_plateau`` (adaptive) is left alone.
    """
    if (boundary is None or not len(boundary) or "critical_asymptotic" not in boundary
            or spec.axis(spec.boundary.axis).route.kind in ("schedule", "schedule_name")):
        return boundary
    n = len(boundary)
    values = _slice_values(spec, boundary)
    limit, seen = np.full(n, np.nan), {}
    for i, key, v in _scheduled_slices(program, values, n):
        if key not in seen:
            try:
                seen[key] = _schedule_limit(program, v)
            except Exception:  # noqa: BLE001  (a schedule that cannot be read that far: keep the estimate)
                seen[key] = 1.0
        limit[i] = seen[key]
    decays = limit <= DECAYED
    if not decays.any():
        return boundary
    out = boundary.copy()
    for c in ("critical_asymptotic", "asymptotic_lower", "asymptotic_upper"):
        if c in out:
            out.loc[decays, c] = np.nan
    note = ("; no critical_asymptotic: the schedule decays to 0 (factor {:.2g} of its peak at update 2^30), so no "
            "learning rate is unstable asymptotically and the end-of-run growth rate only repeats critical")
    out["status"] = [s + note.format(lim) if d else s for s, d, lim in zip(out["status"].astype(str), decays, limit)]
    return out


# ----------------------------------------------------------------------------------- sharpness


def sharpness_columns(spec, program, boundary: pd.DataFrame) -> pd.DataFrame:
    """``sharpness`` (Lanczos λ_max at the initial point) and ``sharpness_prediction`` (sgd: the closed form at
    it; NaN for other optimizers, which have no curvature formula), along a learning-rate boundary only.
    A loss whose Hessian cannot be traced is left as is."""
    from lrsweep import curvature as _curvature

    if boundary is None or not len(boundary) or spec.boundary.axis != "learning_rate":
        return boundary
    n = len(boundary)
    values = _slice_values(spec, boundary)
    try:
        lam = _curvature.sharpness_at_init(program, values)
    except Exception:  # noqa: BLE001  (a user loss jax cannot differentiate twice: no column)
        return boundary
    out = boundary.copy()
    out["sharpness"] = lam
    if spec.optimizer.name == "sgd":
        nesterov = bool(spec.optimizer.params.get("nesterov", False))
        out["sharpness_prediction"] = _curvature.prediction(lam, _hyper(spec, values, "momentum", 0.0, n), nesterov)
    else:
        out["sharpness_prediction"] = np.nan
    return out


# ----------------------------------------------------------------------------------- initial values

INITIAL_BLOCK = 64
"""Slices evaluated together by :func:`initial_values` (one compiled program, the last block padded)."""


def initial_values(program, values: dict[str, np.ndarray], column: str) -> np.ndarray:
    """``column`` (an end-of-run column: ``eval_loss``, a metric, ``eval_<metric>``, an extra) evaluated at
    each configuration's *initial* parameters, as :func:`lrsweep.training.end_of_run` evaluates it at the
    final ones: the ``L_0`` of an LR sensitivity read on that column.

    ``values``: axis name → array of length n (missing axes take their first value). Raises ``KeyError``
    when the problem has no such column.
    """
    import jax

    from lrsweep import training as _training

    n = len(next(iter(values.values()))) if values else 1
    setup = program.setup

    def one(v, data):
        return _training.end_of_run(setup, v, data, setup.initial_params(v))[column]

    out = []
    with jax.enable_x64(program.x64):
        f = jax.jit(jax.vmap(one, in_axes=(0, None)))
        size = min(INITIAL_BLOCK, n)
        for lo in range(0, n, size):
            k = min(size, n - lo)
            block = {name: np.resize(np.asarray(x)[lo:lo + k], size) for name, x in values.items()}
            out.append(np.asarray(f(program.batch_values(block, size), program.host_data), np.float64)[:k])
    return np.concatenate(out) if out else np.zeros(0)
