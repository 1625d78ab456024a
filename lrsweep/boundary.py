"""The divergence boundary: brackets from the grid, refined by vectorised bisection.

For every *slice* (a fixed value of each axis other than the boundary axis ``a``):

1. **Grid bracket.** With ``d_i`` = "diverged at the ``i``-th value of ``a``", the
   primary bracket is ``[a_{j−1}, a_j]`` where ``j`` is the smallest diverging index:
   the largest non-diverging value below the smallest diverging one. Every other sign
   change ``d_i ≠ d_{i+1}`` is a *transition* too (boundaries need not be monotone).
2. **Refinement.** All brackets of all slices are refined together: each round places
   ``k`` points inside every open bracket (``k·brackets`` ≈ :data:`ROUND_SIZE`, run
   through the same compiled program), evaluates them in one batch, and keeps the
   sub-interval holding the first sign change. Width shrinks by ``k+1`` per round —
   bisection when ``k = 1`` — until ``(upper − lower)/|upper| < rtol``. On a log axis
   points are spaced geometrically.
3. **Asymptotic boundary.** The same search on the sign of the loss's growth rate
   (:mod:`lrsweep.outcomes`): where the minimum is known, ``growth_rate > 0`` marks
   runs whose loss grows geometrically, however slowly. Its edge — the last
   non-growing grid value below the first diverging one, refined — estimates the
   infinite-horizon critical value (``critical_asymptotic``), whereas ``critical`` is
   the finite-horizon value of the ``diverge_factor`` rule the grid shows. (Under a schedule
   that decays to zero it means nothing: :func:`lrsweep.reference.asymptotic_where_defined`
   empties it and says so in ``status``.)
4. **Counting transitions.** ``n_transitions`` counts the sign changes between neighbouring
   grid values: what the grid sees. A grid cell can hold more (a window narrower than the
   spacing), and so can a bracket: refinement places points inside it and keeps the *first*
   sign change, and when those points change state more than once the others are dropped.
   ``n_transitions_refined`` adds those seen during refinement — still a lower bound (a cell
   whose ends agree is never looked inside), e.g. Rosenbrock from (−1.2, 1): 1 on a 512-point
   grid, 17 on a 40,001-point grid.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd

from lrsweep.config import SweepSpec
from lrsweep.grid import axis_arrays

Evaluate = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
# Configurations per refinement round to aim for. Fixed (not the chunk length) so that the
# refined boundary is the same whatever the chunk size or device count.
ROUND_SIZE = 2048
CRITERIA = ("diverged", "growing")


def predicate(metrics: dict[str, np.ndarray], criterion: str) -> np.ndarray:
    """The boolean a boundary separates: ``diverged``, or ``growing`` (growth rate > 0)."""
    if criterion == "diverged":
        return np.asarray(metrics["diverged"], bool)
    return np.asarray(metrics["growth_rate"] > 0, bool) | np.asarray(metrics["diverged"], bool)


def along_axis(spec: SweepSpec, flat: np.ndarray, axis: str) -> np.ndarray:
    """Reshape a flat per-configuration array to ``(slices, len(axis))``."""
    k = spec.axis_names.index(axis)
    return np.moveaxis(np.asarray(flat).reshape(spec.shape), k, -1).reshape(-1, spec.shape[k])


def slice_values(spec: SweepSpec, axis: str) -> dict[str, np.ndarray]:
    """Numeric values (categorical: indices) of the other axes for each slice, in :func:`along_axis` order."""
    others = [a for a in spec.axes if a.name != axis]
    shape = tuple(len(a) for a in others)
    idx = np.unravel_index(np.arange(math.prod(shape)), shape) if others else ()
    arrays = axis_arrays(spec.axes)
    return {a.name: arrays[a.name][i] for a, i in zip(others, idx)}


def _midpoint(lo, hi, log: bool):
    return np.sqrt(lo * hi) if log else 0.5 * (lo + hi)


def _rel_width(lo, hi):
    scale = np.maximum(np.abs(lo), np.abs(hi))
    return np.where(scale > 0, (hi - lo) / np.where(scale > 0, scale, 1), 0.0)


def refine(lo: np.ndarray, hi: np.ndarray, criteria: np.ndarray, fixed: dict[str, np.ndarray], axis: str,
           evaluate: Evaluate, *, rtol: float, max_rounds: int, batch: int, log: bool, resolution: float
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shrink brackets ``[lo, hi]`` (the predicate differs at the two ends) around the first sign change.

    Args:
      criteria: per bracket, an index into :data:`CRITERIA`.
      fixed: per bracket, the values of the other axes.
      batch: configurations per round to aim for (:data:`ROUND_SIZE`).
      resolution: the axis dtype's relative resolution; brackets stop there.

    Returns:
      ``(lower, upper, rounds, extra)``: refined brackets, the rounds each took, and ``extra``, the
      sign changes seen inside the bracket besides the one kept: a round whose points change state
      ``c`` times between ``lo`` and ``hi`` (``c`` odd) discards ``c − 1`` of them with the
      sub-intervals it drops (each dropped sub-interval holds at least the changes seen in it).
    """
    lo, hi = lo.astype(np.float64).copy(), hi.astype(np.float64).copy()
    rounds, extra = np.zeros(len(lo), np.int64), np.zeros(len(lo), np.int64)
    tol = max(rtol, 4 * resolution)
    for _ in range(max_rounds):
        open_ = np.nonzero(_rel_width(lo, hi) > tol)[0]
        if not len(open_):
            break
        k = int(np.clip(batch // len(open_), 1, 255))
        frac = np.arange(1, k + 1) / (k + 1)
        a, b = lo[open_, None], hi[open_, None]
        pts = np.exp(np.log(a) + (np.log(b) - np.log(a)) * frac) if log else a + (b - a) * frac  # (m, k)
        values = {name: np.repeat(v[open_], k) for name, v in fixed.items()}
        values[axis] = pts.ravel()
        metrics = evaluate(values)
        crit = np.repeat(criteria[open_], k)
        pred = np.where(crit == 0, predicate(metrics, "diverged"), predicate(metrics, "growing")).reshape(-1, k)
        # predicate False at lo, True at hi: keep the sub-interval of the first change
        seq = np.concatenate([np.zeros((len(open_), 1), bool), pred, np.ones((len(open_), 1), bool)], axis=1)
        first = np.argmax(seq[:, 1:], axis=1)
        extra[open_] += np.count_nonzero(seq[:, 1:] != seq[:, :-1], axis=1) - 1
        X = np.concatenate([a, pts, b], axis=1)
        rows = np.arange(len(open_))
        lo[open_], hi[open_] = X[rows, first], X[rows, first + 1]
        rounds[open_] += 1
    return lo, hi, rounds, extra


def locate(spec: SweepSpec, metrics: dict[str, np.ndarray], evaluate: Evaluate, *, batch: int,
           asymptotic: bool, resolution: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Boundary per slice (``boundary.csv``) and every sign change (``transitions.csv``).

    ``metrics`` are the grid's, in flat order. ``evaluate`` runs configurations.
    """
    axis = spec.boundary.axis
    ax = spec.axis(axis)
    vals = np.asarray(ax.values, np.float64)
    div = along_axis(spec, metrics["diverged"], axis)
    grow = along_axis(spec, predicate(metrics, "growing"), axis)
    fixed = slice_values(spec, axis)

    # Transitions of the diverged flag, oriented so that the predicate is False at the lower end.
    s_idx, i_idx = np.nonzero(div[:, 1:] != div[:, :-1])
    direction = np.where(div[s_idx, i_idx], "restabilises", "diverges")
    first_div, first_grow = _first_divergence(div, grow)

    # Brackets to refine: every transition on the diverged flag, then the primary asymptotic one
    # (growth rate > 0). `refine` wants the predicate False at the lower end, so a transition
    # that restabilises (diverged below, stable above) is refined on the negated flag.
    asym_slices = np.nonzero(first_grow > 0)[0] if asymptotic else np.zeros(0, np.int64)
    b_lo = np.concatenate([vals[i_idx], vals[first_grow[asym_slices] - 1]])
    b_hi = np.concatenate([vals[i_idx + 1], vals[first_grow[asym_slices]]])
    b_crit = np.concatenate([np.zeros(len(s_idx), np.int64), np.ones(len(asym_slices), np.int64)])
    b_slice = np.concatenate([s_idx, asym_slices])
    flip = np.concatenate([direction == "restabilises", np.zeros(len(asym_slices), bool)])
    lo, hi, rounds, extra = _refine_brackets(spec, evaluate, b_lo, b_hi, b_crit, {k: v[b_slice] for k, v in
                                             fixed.items()}, flip, batch=batch, log=ax.is_log, resolution=resolution)
    r = _Refined(b_lo, b_hi, lo, hi, _midpoint(lo, hi, ax.is_log), rounds, extra)

    n_tr = len(s_idx)
    transitions = pd.DataFrame(slice_columns(spec, axis, fixed, s_idx))
    transitions["transition"] = _ordinal(s_idx)
    transitions["direction"] = direction
    transitions["grid_lower"], transitions["grid_upper"] = r.grid_lower[:n_tr], r.grid_upper[:n_tr]
    transitions["lower"], transitions["upper"] = r.lower[:n_tr], r.upper[:n_tr]
    transitions["critical"] = r.critical[:n_tr]
    return _boundary_table(spec, fixed, first_div, s_idx, i_idx, asym_slices, r), transitions


class _Refined(NamedTuple):
    """The refined brackets of :func:`locate`: the transitions' first, then the asymptotic ones."""

    grid_lower: np.ndarray  # (B,) the grid's bracket
    grid_upper: np.ndarray
    lower: np.ndarray       # (B,) the refined bracket, and its midpoint
    upper: np.ndarray
    critical: np.ndarray
    rounds: np.ndarray      # (B,) refinement rounds
    extra: np.ndarray       # (B,) further sign changes found inside the bracket


def _first_divergence(div: np.ndarray, grow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per slice, the index of the first diverged value (−1: none) and of the first value of the asymptotic
    bracket's upper end (−1: none): the last non-growing value below the first diverging one (or below the
    top of the axis when nothing diverges but the top grows), plus one — spurious early "growth" of slowly
    oscillating runs far below the boundary is ignored."""
    n = div.shape[1]
    first_div = np.where(div.any(axis=1), np.argmax(div, axis=1), -1)
    top = np.where(first_div >= 0, first_div, np.where(grow[:, -1], n - 1, -1))
    below = ~grow & (np.arange(n)[None, :] < top[:, None])
    last_flat = np.where(below.any(axis=1), n - 1 - np.argmax(below[:, ::-1], axis=1), -1)
    return first_div, np.where((top >= 0) & (last_flat >= 0), last_flat + 1, -1)


def _refine_brackets(spec, evaluate: Evaluate, b_lo, b_hi, b_crit, fixed: dict, flip, *, batch: int, log: bool,
                     resolution: float) -> tuple[np.ndarray, ...]:
    """:func:`refine` every bracket (those in ``flip`` on the negated flag); ``fixed``: each bracket's slice values.
    ``(lower, upper, rounds, extra)``; the grid's brackets as they are when ``boundary.max_rounds = 0``."""
    lo, hi, rounds, extra = b_lo.copy(), b_hi.copy(), np.zeros(len(b_lo), np.int64), np.zeros(len(b_lo), np.int64)
    if spec.boundary.max_rounds > 0:
        for mask, ev in ((~flip, evaluate), (flip, lambda values: _negate(evaluate(values)))):
            if mask.any():
                fx = {k: v[mask] for k, v in fixed.items()}
                lo[mask], hi[mask], rounds[mask], extra[mask] = refine(
                    b_lo[mask], b_hi[mask], b_crit[mask], fx, spec.boundary.axis, ev, rtol=spec.boundary.rtol,
                    max_rounds=spec.boundary.max_rounds, batch=batch, log=log, resolution=resolution)
    return lo, hi, rounds, extra


def _boundary_table(spec, fixed: dict, first_div, s_idx, i_idx, asym_slices, r: _Refined) -> pd.DataFrame:
    """One row per slice: its status, the primary transition's brackets (the one at ``first_div − 1``, the
    first when the slice starts stable), the asymptotic bracket and the count of sign changes."""
    S, n_tr = len(first_div), len(s_idx)
    boundary = pd.DataFrame(slice_columns(spec, spec.boundary.axis, fixed, np.arange(S)))
    boundary["status"] = np.where(first_div < 0, "stable_throughout", np.where(first_div == 0, "diverges_at_min",
                                                                               "ok"))
    nan = np.full(S, np.nan)
    g_lo, g_hi, r_lo, r_hi, r_c, r_rounds = nan.copy(), nan.copy(), nan.copy(), nan.copy(), nan.copy(), np.zeros(S, int)
    for t in range(n_tr):
        s = s_idx[t]
        if first_div[s] > 0 and i_idx[t] == first_div[s] - 1:
            g_lo[s], g_hi[s], r_lo[s], r_hi[s] = r.grid_lower[t], r.grid_upper[t], r.lower[t], r.upper[t]
            r_c[s], r_rounds[s] = r.critical[t], r.rounds[t]
    boundary["grid_lower"], boundary["grid_upper"] = g_lo, g_hi
    boundary["lower"], boundary["upper"], boundary["critical"] = r_lo, r_hi, r_c
    a_c, a_lo, a_hi = nan.copy(), nan.copy(), nan.copy()
    a_lo[asym_slices], a_hi[asym_slices] = r.lower[n_tr:], r.upper[n_tr:]
    a_c[asym_slices] = r.critical[n_tr:]
    boundary["critical_asymptotic"] = a_c
    boundary["asymptotic_lower"], boundary["asymptotic_upper"] = a_lo, a_hi
    boundary["n_transitions"] = np.bincount(s_idx, minlength=S)
    boundary["n_transitions_refined"] = boundary["n_transitions"] + np.bincount(s_idx, weights=r.extra[:n_tr],
                                                                                minlength=S).astype(np.int64)
    boundary["refine_rounds"] = r_rounds
    return boundary


def _negate(m: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = dict(m)
    out["diverged"] = ~np.asarray(m["diverged"], bool)
    return out


def _ordinal(s_idx: np.ndarray) -> np.ndarray:
    out = np.zeros(len(s_idx), np.int64)
    for i in range(1, len(s_idx)):
        out[i] = out[i - 1] + 1 if s_idx[i] == s_idx[i - 1] else 0
    return out


def slice_columns(spec: SweepSpec, axis: str, fixed: dict[str, np.ndarray], rows: np.ndarray) -> dict:
    """The table columns of the slices ``rows`` of :func:`slice_values` (categorical axes: their values)."""
    cols = {}
    for a in spec.axes:
        if a.name == axis:
            continue
        v = fixed[a.name][rows]
        cols[a.name] = np.asarray(a.values, dtype=object)[v.astype(int)] if a.categorical else v
    return cols
