r"""Learning-rate sensitivity of a loss-vs-learning-rate curve (Wortsman et al. 2023, arXiv:2309.14322).

For final losses ``L(η)`` over learning rates ``η`` in a range ``[a, b]`` (the paper: 3e-4 … 3e-1) and
the initial loss ``L_0``:

.. math:: \mathrm{LRS} = \operatorname{mean}_{\eta \in [a, b]} \min\big(L(\eta), L_0\big)
          \;-\; \min_{\eta \in [a, b]} L(\eta).

A run whose final loss is not finite (diverged to NaN/inf) counts as ``L_0``: no progress. ``LRS = 0``
when every learning rate in the range reaches the same loss; it grows as the curve's basin narrows.
The mean is over the *grid points* in the range, so the grid should be log-uniform (as the paper's).

>>> lr_sensitivity([1e-4, 1e-3, 1e-2, 1e-1, 1.0], [5.0, 3.0, 2.0, 4.0, float("nan")], 6.0)
1.0

A sweep computes it per slice when its file sets ``[boundary] sensitivity_range = [a, b]``
(:func:`slices`; the pipeline writes ``sensitivity.csv`` and, along a learning-rate boundary, the same
columns in ``boundary.csv``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

RANGE = (3e-4, 3e-1)
"""The paper's learning-rate range ``[a, b]``."""

SLACK = 1e-6
"""Relative slack of the range's bounds: a float32 grid's ``3e-4`` (``3.0000001e-4``) lies inside ``[3e-4, …]``."""


class Sensitivities(NamedTuple):
    """Per curve (the leading axes of :func:`slices`' inputs)."""

    sensitivity: np.ndarray  # LRS (module doc); NaN when no grid point lies in the range
    best_loss: np.ndarray    # min L(η) over the finite losses in the range (NaN: none finite)
    best_lr: np.ndarray      # the η reaching it (the smallest such η)
    initial: np.ndarray      # L_0 (the mean over the range where it is given per point)
    n_in_range: np.ndarray   # grid points in [a, b]


def in_range(learning_rates, lr_range: tuple[float, float]) -> np.ndarray:
    """``a ≤ η ≤ b`` with the relative slack :data:`SLACK`."""
    lr = np.asarray(learning_rates, float)
    return (lr >= lr_range[0] * (1 - SLACK)) & (lr <= lr_range[1] * (1 + SLACK))


def slices(learning_rates, final_loss, initial_loss, lr_range: tuple[float, float] = RANGE) -> Sensitivities:
    r"""The LR sensitivity of many curves at once.

    .. math:: \mathrm{LRS}_s = \frac{1}{|I|}\sum_{i \in I} \tilde L_{s,i} - \min_{i \in I} \tilde L_{s,i},
              \qquad \tilde L_{s,i} = \min(L_{s,i}, L_{0,s}) \text{ (} L_{0,s} \text{ where } L_{s,i}
              \text{ is not finite)},

    ``I`` the grid points with ``η_i ∈ [a, b]``.

    Args:
      learning_rates: ``(n,)``, the learning rate of each column.
      final_loss: ``(..., n)``, one curve per leading index; NaN/inf where a run diverged.
      initial_loss: broadcastable to ``final_loss`` (a scalar, ``(..., 1)`` per curve, or per point).
      lr_range: ``[a, b]``.

    >>> s = slices([1e-3, 1e-2, 1e-1], [[4.0, 2.0, float("nan")], [2.0, 2.0, 2.0]], [[6.0], [5.0]], (1e-3, 1e-1))
    >>> # (4 + 2 + 6)/3 − 2 = 2: the diverged point counts as L_0 = 6
    >>> s.sensitivity.tolist(), s.best_lr.tolist(), s.n_in_range.tolist()
    ([2.0, 0.0], [0.01, 0.001], [3, 3])
    """
    lr = np.asarray(learning_rates, float)
    f = np.asarray(final_loss, float)
    f0 = np.broadcast_to(np.asarray(initial_loss, float), f.shape)
    sel = np.broadcast_to(in_range(lr, lr_range), f.shape)
    k = int(sel[(0,) * (f.ndim - 1)].sum()) if f.size else 0
    capped = np.where(np.isfinite(f), np.minimum(f, f0), f0)
    with np.errstate(invalid="ignore"):
        if k == 0:
            nan = np.full(f.shape[:-1], np.nan)
            return Sensitivities(nan, nan.copy(), nan.copy(), nan.copy(), np.zeros(f.shape[:-1], int))
        inside = np.where(sel, capped, np.nan)
        lrs = np.nanmean(inside, axis=-1) - np.nanmin(inside, axis=-1)
        raw = np.where(sel & np.isfinite(f), f, np.inf)
        j = np.argmin(raw, axis=-1)
        best = np.take_along_axis(raw, j[..., None], -1)[..., 0]
        ok = np.isfinite(best)
        return Sensitivities(lrs, np.where(ok, best, np.nan), np.where(ok, lr[j], np.nan),
                             np.nanmean(np.where(sel, f0, np.nan), axis=-1), np.full(f.shape[:-1], k))


def lr_sensitivity(learning_rates, final_loss, initial_loss, lr_range: tuple[float, float] = RANGE) -> float:
    """The LR sensitivity of one curve (module doc). ``initial_loss``: a scalar or one per point.
    NaN when no grid point lies in ``lr_range`` (bounds inclusive, with a relative slack :data:`SLACK`)."""
    return float(slices(learning_rates, final_loss, initial_loss, lr_range).sensitivity)


def sensitivity_table(table, by: list[str], loss: str = "final_loss", initial: str = "initial_loss",
                      lr: str = "learning_rate", lr_range: tuple[float, float] = RANGE):
    """One row per slice of a results table (pandas): the slice's ``by`` values, ``sensitivity``, the best
    loss in the range and the learning rate reaching it."""
    import pandas as pd

    rows = []
    for key, g in (table.groupby(by, sort=True) if by else [((), table)]):
        g = g.sort_values(lr)
        key = key if isinstance(key, tuple) else (key,)
        inside = g[in_range(g[lr], lr_range)]
        finite = inside[np.isfinite(inside[loss])]
        best = finite.loc[finite[loss].idxmin()] if len(finite) else None
        rows.append({**dict(zip(by, key)),
                     "sensitivity": lr_sensitivity(g[lr], g[loss], g[initial], lr_range),
                     "best_loss": float(best[loss]) if best is not None else float("nan"),
                     "best_lr": float(best[lr]) if best is not None else float("nan"),
                     "n_lr_in_range": int(len(inside))})
    return pd.DataFrame(rows)
