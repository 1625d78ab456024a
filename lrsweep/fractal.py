"""The box-counting dimension of the boundary between trained and diverged runs in a 2-D sweep.

The boundary is where the signed score changes sign between 4-neighbours (Sohl-Dickstein 2024):
a cell is on it when one of its 4-neighbours lies in the other phase. Covering the boundary
with boxes of side :math:`\\varepsilon` (dyadic, in cells) takes :math:`N(\\varepsilon)` boxes, and

.. math::
    N(\\varepsilon) \\propto \\varepsilon^{-D}, \\qquad
    D = \\text{slope of } \\log N \\text{ against } \\log(1/\\varepsilon),

fitted by least squares over the scales between a few cells and a fraction of the grid. The
uncertainty is the slope's standard error and, beside it, the spread of the slope over the fit
ranges obtained by dropping one scale at either end (the systematic part: a smooth curve looks
like a line at small scales and like a point at large ones).

>>> import numpy as np
>>> y, x = np.mgrid[0:256, 0:256]
>>> d = dimension(np.where(x + 0.3 * y < 150, -1.0, 1.0))   # a straight boundary
>>> round(d.value, 2)
1.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Dimension", "box_counts", "boundary_cells", "cli", "dimension", "koch_curve"]


@dataclass(frozen=True)
class Dimension:
    """A box-counting estimate: ``value ± stderr`` (fit) and ``spread`` (over fit ranges)."""

    value: float
    stderr: float
    spread: float
    sizes: tuple[int, ...]  # box sides in cells, every scale counted
    counts: tuple[int, ...]  # boxes that touch the boundary, per size
    fit: tuple[int, int]  # the smallest and largest box side in the fit
    cells: int  # boundary cells

    def __str__(self) -> str:
        return (f"D = {self.value:.3f} ± {self.stderr:.3f} (fit), ± {self.spread:.3f} (fit ranges); "
                f"boxes of {self.fit[0]}–{self.fit[1]} cells, {self.cells} boundary cells")


def boundary_cells(score: np.ndarray) -> np.ndarray:
    """Cells with a 4-neighbour in the other phase (``score > 0`` = diverged), on both sides of the change.

    NaN counts as diverged. Returns a boolean array of ``score``'s shape. Marking both sides makes
    the boundary 4-connected, so that a tilted straight boundary covers as many unit boxes as its
    length in cells along both axes (box counts then scale as ``1/s`` from the first scale).

    >>> boundary_cells(np.array([[-1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]])).astype(int).tolist()
    [[1, 1, 1], [0, 1, 1]]
    """
    s = np.asarray(score, dtype=float)
    if s.ndim != 2:
        raise ValueError(f"boundary_cells: a 2-D grid, found shape {s.shape}")
    up = ~(s <= 0)  # NaN → diverged
    edge = np.zeros(up.shape, bool)
    rows, cols = up[:-1, :] != up[1:, :], up[:, :-1] != up[:, 1:]
    edge[:-1, :] |= rows
    edge[1:, :] |= rows
    edge[:, :-1] |= cols
    edge[:, 1:] |= cols
    return edge


def box_counts(mask: np.ndarray, sizes: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(sizes, N)``: the number of ``s × s`` boxes (a grid of them from the corner) holding a set cell.

    Default sizes: 1, 2, 4, … up to the grid's shorter side. Partial boxes at the far edges count.

    >>> m = np.zeros((8, 8), bool); m[3, :] = True
    >>> box_counts(m)[1].tolist()
    [8, 4, 2, 1]
    """
    m = np.asarray(mask, bool)
    if sizes is None:
        sizes = [2**k for k in range(int(math.log2(max(1, min(m.shape)))) + 1)]
    counts = []
    for s in sizes:
        h, w = -(-m.shape[0] // s) * s, -(-m.shape[1] // s) * s
        padded = np.zeros((h, w), bool)
        padded[: m.shape[0], : m.shape[1]] = m
        counts.append(int(padded.reshape(h // s, s, w // s, s).any(axis=(1, 3)).sum()))
    return np.asarray(sizes), np.asarray(counts)


def _slope(sizes: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of ``log N`` on ``log(1/s)`` and its standard error."""
    x, y = -np.log(sizes), np.log(counts)
    if len(x) < 3:
        slope = float(np.polyfit(x, y, 1)[0]) if len(x) == 2 else float("nan")
        return slope, float("nan")
    (slope, intercept), res = np.polyfit(x, y, 1, full=True)[:2]
    sigma2 = (float(res[0]) if len(res) else 0.0) / (len(x) - 2)
    return float(slope), math.sqrt(sigma2 / float(((x - x.mean()) ** 2).sum()))


def dimension(grid: np.ndarray, *, min_size: int = 2, max_fraction: float = 0.125,
              is_mask: bool = False) -> Dimension:
    """The box-counting dimension of the phase boundary of a 2-D signed-score grid.

    Args:
      grid: the signed score (negative = trained, positive = diverged), shape ``(n, m)``;
        or, with ``is_mask=True``, a boolean set of cells whose dimension is wanted.
      min_size: the smallest box side fitted (cells).
      max_fraction: the largest box side fitted, as a fraction of the grid's shorter side.

    Returns:
      :class:`Dimension`; ``value`` is NaN when the grid has no boundary or too few scales.
    """
    mask = np.asarray(grid, bool) if is_mask else boundary_cells(grid)
    sizes, counts = box_counts(mask)
    top = max(min_size, int(max_fraction * min(mask.shape)))
    keep = (sizes >= min_size) & (sizes <= top) & (counts > 0)
    fs, fc = sizes[keep], counts[keep]
    if len(fs) < 2:
        return Dimension(float("nan"), float("nan"), float("nan"), tuple(sizes.tolist()), tuple(counts.tolist()),
                         (int(min_size), int(top)), int(mask.sum()))
    value, stderr = _slope(fs, fc)
    variants = [_slope(fs[i:len(fs) - j], fc[i:len(fc) - j])[0]
                for i in (0, 1) for j in (0, 1) if len(fs) - i - j >= 3]
    spread = float(np.ptp(variants)) / 2 if len(variants) > 1 else float("nan")
    return Dimension(value, stderr, spread, tuple(sizes.tolist()), tuple(counts.tolist()),
                     (int(fs[0]), int(fs[-1])), int(mask.sum()))


def koch_curve(level: int, n: int) -> np.ndarray:
    """A Koch curve of ``level`` iterations rasterised on an ``n × n`` boolean grid (dimension log 4 / log 3).

    >>> int(koch_curve(0, 16)[:, 0].sum()) > 0
    True
    """
    pts = np.array([[0.0, 0.0], [1.0, 0.0]])
    rot = np.array([[0.5, -math.sqrt(3) / 2], [math.sqrt(3) / 2, 0.5]])
    for _ in range(level):
        a, b = pts[:-1], pts[1:]
        d = (b - a) / 3
        p1, p2 = a + d, a + 2 * d
        peak = p1 + d @ rot.T
        new = np.stack([a, p1, peak, p2], axis=1).reshape(-1, 2)
        pts = np.vstack([new, pts[-1:]])
    # sample every segment densely (half a cell), then mark cells; the curve fills y ∈ [0, √3/6]
    t = np.linspace(0, 1, max(2, int(np.ceil(2 * n / 3**level)) + 1))[:, None, None]
    samples = (pts[:-1][None] * (1 - t) + pts[1:][None] * t).reshape(-1, 2)
    ij = np.clip((samples * (n - 1)).round().astype(int), 0, n - 1)
    img = np.zeros((n, n), bool)
    img[ij[:, 1], ij[:, 0]] = True
    return img


def cli(args) -> int:
    """``lrsweep dimension RESULTS``: the boundary's box-counting dimension of a 2-D sweep."""
    from lrsweep import store
    from lrsweep.config import SweepError

    for path in args.results:
        try:
            result = store.load(path)
        except (OSError, ValueError) as e:
            raise SweepError(str(path), "results", "a results directory", raw=f"{path}: {e}") from None
        grid = score_grid(result, path)
        d = dimension(grid, min_size=args.min_size, max_fraction=args.max_fraction)
        print(f"{Path(path).name}: {d}")
        if args.save:
            store.write_json(Path(path) / "dimension.json", {
                "dimension": d.value, "stderr": d.stderr, "spread": d.spread, "fit_sizes": list(d.fit),
                "sizes": list(d.sizes), "counts": list(d.counts), "boundary_cells": d.cells,
                "grid": list(grid.shape), "method": "box counting of the cells with a 4-neighbour in the other "
                "phase (score sign), dyadic boxes, least-squares slope of log N on log(1/size)"})
        if args.verbose:
            print("  box side (cells):  " + " ".join(f"{s:6d}" for s in d.sizes))
            print("  boxes on boundary: " + " ".join(f"{c:6d}" for c in d.counts))
    return 0


def score_grid(result, path="results") -> np.ndarray:
    """The signed score of a 2-D sweep as an ``(n_axis0, n_axis1)`` array (configurations are row-major)."""
    from lrsweep.config import SweepError

    shape = result.spec.shape
    if len(shape) != 2:
        raise SweepError(str(path), "axes", "a 2-D sweep (two axes)", f"{len(shape)} axes")
    score = np.asarray(result.table["score"], float)
    order = np.argsort(np.asarray(result.table["config"]))
    return score[order].reshape(shape)
