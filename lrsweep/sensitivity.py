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
"""

from __future__ import annotations

import numpy as np

RANGE = (3e-4, 3e-1)
"""The paper's learning-rate range ``[a, b]``."""


def lr_sensitivity(learning_rates, final_loss, initial_loss, lr_range: tuple[float, float] = RANGE) -> float:
    """The LR sensitivity of one curve (module doc). ``initial_loss``: a scalar or one per point.
    NaN when no grid point lies in ``lr_range`` (bounds inclusive, with a relative slack of 1e-9)."""
    lr = np.asarray(learning_rates, float)
    f = np.asarray(final_loss, float)
    f0 = np.broadcast_to(np.asarray(initial_loss, float), f.shape)
    a, b = lr_range
    sel = (lr >= a * (1 - 1e-9)) & (lr <= b * (1 + 1e-9))
    if not sel.any():
        return float("nan")
    capped = np.where(np.isfinite(f), np.minimum(f, f0), f0)[sel]
    return float(np.mean(capped) - np.min(capped))


def sensitivity_table(table, by: list[str], loss: str = "final_loss", initial: str = "initial_loss",
                      lr: str = "learning_rate", lr_range: tuple[float, float] = RANGE):
    """One row per slice of a results table (pandas): the slice's ``by`` values, ``sensitivity``, the best
    loss in the range and the learning rate reaching it."""
    import pandas as pd

    rows = []
    for key, g in (table.groupby(by, sort=True) if by else [((), table)]):
        g = g.sort_values(lr)
        key = key if isinstance(key, tuple) else (key,)
        inside = g[(g[lr] >= lr_range[0] * (1 - 1e-9)) & (g[lr] <= lr_range[1] * (1 + 1e-9))]
        finite = inside[np.isfinite(inside[loss])]
        best = finite.loc[finite[loss].idxmin()] if len(finite) else None
        rows.append({**dict(zip(by, key)),
                     "sensitivity": lr_sensitivity(g[lr], g[loss], g[initial], lr_range),
                     "best_loss": float(best[loss]) if best is not None else float("nan"),
                     "best_lr": float(best[lr]) if best is not None else float("nan"),
                     "n_lr_in_range": int(len(inside))})
    return pd.DataFrame(rows)
