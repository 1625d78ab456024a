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

Beside it, :func:`notebook_dimension` is the estimator of Sohl-Dickstein's notebook
(``estimate_fractal_dimension`` in ``the_boundary_of_neural_network_trainability_is_fractal.ipynb``,
github.com/Sohl-Dickstein/fractal): edges are the 2 × 2 blocks whose scores change sign
(:func:`sign_change_blocks`), boxes are porespy's ``metrics.boxcount`` tiles of ten sizes from 10 cells
to the image (:func:`spanning_box_counts`: a box counts when it holds both edge and non-edge cells),
the *local* slope at each size is the central difference
:math:`D(\\varepsilon_k) = -\\,\\mathrm d \\log N / \\mathrm d \\log \\varepsilon` (``np.gradient``), and the
estimate is the **median of the local slopes of every size of every image** of a zoom sequence.
The two differ in what they fit (one least-squares slope over 2 cells … 1/8 of one grid, against
the median of ten local slopes over 10 cells … the whole grid, pooled over frames), so they are
reported side by side and never mixed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Dimension", "LocalSlopes", "box_counts", "boundary_cells", "dimension", "koch_curve",
           "load_grid", "notebook_dimension", "score_grid", "sierpinski_triangle", "sign_change_blocks",
           "spanning_box_counts", "write_score_grid"]


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


@dataclass(frozen=True)
class LocalSlopes:
    """The notebook's estimate: the median of local box-count slopes, pooled over images.

    ``value`` is the median; ``q25``/``q75`` the quartiles of the pooled slopes (their spread);
    ``per_image`` the median of each image's slopes (one per frame of a zoom sequence).
    """

    value: float
    q25: float
    q75: float
    slopes: tuple[float, ...]  # every image's local slopes, concatenated
    sizes: tuple[tuple[int, ...], ...]  # box sides per image (cells)
    counts: tuple[tuple[int, ...], ...]  # spanning boxes per size, per image
    per_image: tuple[float, ...]
    cells: tuple[int, ...]  # edge cells per image

    @property
    def spread(self) -> float:
        """Half the interquartile range of the pooled local slopes."""
        return (self.q75 - self.q25) / 2

    def __str__(self) -> str:
        return (f"D = {self.value:.3f} (median of {len(self.slopes)} local slopes, quartiles "
                f"{self.q25:.3f}–{self.q75:.3f}); {len(self.per_image)} image(s), "
                f"boxes of {min(min(s) for s in self.sizes)}–{max(max(s) for s in self.sizes)} cells")


def sign_change_blocks(score: np.ndarray) -> np.ndarray:
    """The notebook's edges: the ``2 × 2`` blocks whose largest and smallest score have opposite signs.

    ``edge[i, j] = sign(max(B) · min(B)) < 0`` for ``B = score[i:i+2, j:j+2]`` (``extract_edges`` in
    the notebook), shape ``(n − 1, m − 1)``. A zero score is on neither side. NaN counts as diverged
    (positive), as in :func:`boundary_cells`; the notebook's scores are always finite.

    >>> sign_change_blocks(np.array([[-1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]])).astype(int).tolist()
    [[1, 1]]
    """
    s = np.asarray(score, dtype=float)
    if s.ndim != 2:
        raise ValueError(f"sign_change_blocks: a 2-D grid, found shape {s.shape}")
    s = np.where(np.isnan(s), 1.0, s)
    blocks = np.stack((s[1:, 1:], s[:-1, 1:], s[1:, :-1], s[:-1, :-1]), axis=-1)
    return np.sign(blocks.max(axis=-1) * blocks.min(axis=-1)) < 0


def _tiles(m: np.ndarray, d: int, fill: bool) -> np.ndarray:
    """``m`` cut into ``d × d`` tiles from the corner (partial tiles padded with ``fill``): ``(h, d, w, d)``."""
    h, w = -(-m.shape[0] // d), -(-m.shape[1] // d)
    padded = np.full((h * d, w * d), fill)
    padded[: m.shape[0], : m.shape[1]] = m
    return padded.reshape(h, d, w, d)


def spanning_box_counts(mask: np.ndarray, bins: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(sizes, N, slopes)``: porespy's ``metrics.boxcount`` as the notebook calls it (``bins = 10``).

    Sizes: ``unique(int(logspace(1, log10(min(shape)), bins)))`` — ten sides from 10 cells to the
    shorter side. ``N(d)``: the ``d × d`` tiles from the corner (partial tiles at the far edges
    included) that hold **both** set and unset cells ("boxes spanning phases": a tile that is all set
    does not count). Local slopes: ``−np.gradient(log N, log d)`` (second-order central differences
    inside, one-sided at the ends). A size with ``N = 0`` gives NaN slopes.

    >>> m = np.zeros((1000, 1000), bool); m[500, :] = True      # a line: N ∝ 1/d
    >>> sizes, n, slopes = spanning_box_counts(m)
    >>> sizes.tolist(), n.tolist()
    ([10, 16, 27, 46, 77, 129, 215, 359, 599, 1000], [100, 63, 38, 22, 13, 8, 5, 3, 2, 1])
    >>> round(float(np.median(slopes)), 2)
    0.98
    """
    m = np.asarray(mask, bool)
    if m.ndim != 2:
        raise ValueError(f"spanning_box_counts: a 2-D image, found shape {m.shape}")
    if min(m.shape) < 10:
        raise ValueError(f"spanning_box_counts: an image of at least 10 × 10 cells, found {m.shape}")
    sizes = np.unique(np.logspace(1, np.log10(min(m.shape)), bins).astype(int))
    counts = np.array([int((_tiles(m, d, False).any(axis=(1, 3)) & ~_tiles(m, d, True).all(axis=(1, 3))).sum())
                       for d in sizes])
    if len(sizes) < 2:
        return sizes, counts, np.full(len(sizes), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = -np.gradient(np.log(counts.astype(float)), np.log(sizes.astype(float)))
    slopes[~np.isfinite(slopes)] = np.nan
    return sizes, counts, slopes


def notebook_dimension(grids, *, is_mask: bool = False, bins: int = 10) -> LocalSlopes:
    """The notebook's ``estimate_fractal_dimension``: the median local box-count slope over all images.

    .. math::
        \\hat D = \\operatorname{median}_{\\text{images } i,\\ \\text{sizes } k}
        \\Big(-\\frac{\\mathrm d \\log N_i}{\\mathrm d \\log \\varepsilon}\\Big|_{\\varepsilon_k}\\Big)

    Args:
      grids: one signed-score grid (negative = trained) or a sequence of them (the frames of a zoom
        sequence); with ``is_mask=True``, boolean sets whose spanning boxes are counted directly.
      bins: box sizes per image (porespy's default, the notebook's, is 10).

    Returns:
      :class:`LocalSlopes`; NaN when no image has a boundary. Sizes where ``N = 0`` (NaN slopes) are
      left out of the median (the notebook's ``np.median`` would return NaN).
    """
    if isinstance(grids, np.ndarray) and grids.ndim == 2:
        grids = [grids]
    slopes, sizes, counts, per_image, cells = [], [], [], [], []
    for g in grids:
        edges = np.asarray(g, bool) if is_mask else sign_change_blocks(g)
        s, n, k = spanning_box_counts(edges, bins)
        sizes.append(tuple(s.tolist()))
        counts.append(tuple(n.tolist()))
        cells.append(int(edges.sum()))
        k = k[np.isfinite(k)]
        slopes.extend(k.tolist())
        per_image.append(float(np.median(k)) if len(k) else float("nan"))
    pooled = np.asarray(slopes, float)
    if not len(pooled):
        nan = float("nan")
        return LocalSlopes(nan, nan, nan, (), tuple(sizes), tuple(counts), tuple(per_image), tuple(cells))
    q25, med, q75 = np.percentile(pooled, [25, 50, 75])
    return LocalSlopes(float(med), float(q25), float(q75), tuple(pooled.tolist()), tuple(sizes), tuple(counts),
                       tuple(per_image), tuple(cells))


def sierpinski_triangle(k: int) -> np.ndarray:
    """The cells ``(i, j)`` of a ``2^k × 2^k`` grid with ``i & j == 0``: Pascal's triangle mod 2, a Sierpinski
    triangle of dimension ``log 3 / log 2`` (an aligned dyadic box of side ``2^s`` holds a set cell for
    exactly ``3^(k−s)`` boxes).

    >>> sierpinski_triangle(2).astype(int).tolist()
    [[1, 1, 1, 1], [1, 0, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0]]
    """
    i = np.arange(2**k)
    return (i[:, None] & i[None, :]) == 0


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


SCORE_GRID = "score_grid.npz"
"""A compact stand-in for ``table.parquet`` in big 2-D results: the signed score as an ``(n0, n1)`` grid."""


def write_score_grid(result, path) -> Path:
    """Write ``path/score_grid.npz`` (compressed): ``score`` in float32 with its sign kept exactly (a
    nonzero score below float32's range is stored as ±its smallest subnormal: the dimensions read only the
    sign), ``diverged``, the two axes' names and values. A 512² grid takes about 1 MB."""
    grid = score_grid(result, path)
    tiny = np.float32(np.finfo(np.float32).smallest_subnormal)
    grid32 = grid.astype(np.float32)
    grid32 = np.where((grid != 0) & (grid32 == 0), np.copysign(tiny, grid), grid32).astype(np.float32)
    order = np.argsort(np.asarray(result.table["config"]))
    diverged = np.asarray(result.table["diverged"], bool)[order].reshape(grid.shape)
    names = [a.name for a in result.spec.axes]
    out = Path(path) / SCORE_GRID
    np.savez_compressed(out, score=grid32, diverged=diverged, axis0=np.asarray(result.spec.axes[0].values, float),
                        axis1=np.asarray(result.spec.axes[1].values, float), names=np.asarray(names))
    return out


def load_grid(path) -> np.ndarray:
    """The signed-score grid of a 2-D results directory: from its table, or from ``score_grid.npz``
    where the table was dropped to keep the directory small."""
    from lrsweep import store
    from lrsweep.config import SweepError

    path = Path(path)
    if not (path / store.TABLE).exists() and (path / SCORE_GRID).exists():
        with np.load(path / SCORE_GRID) as z:
            return np.asarray(z["score"], float)
    try:
        result = store.load(path)
    except (OSError, ValueError) as e:
        raise SweepError(str(path), "results", "a results directory", raw=f"{path}: {e}") from None
    return score_grid(result, path)


def dimension_record(d, nb, why: str, shape) -> dict:
    """``dimension.json``: both estimates of one grid, with their methods (``nb`` None: not applicable, ``why``)."""
    return {
        "dimension": d.value, "stderr": d.stderr, "spread": d.spread, "fit_sizes": list(d.fit),
        "sizes": list(d.sizes), "counts": list(d.counts), "boundary_cells": d.cells,
        "grid": list(shape), "method": "box counting of the cells with a 4-neighbour in the other "
        "phase (score sign), dyadic boxes, least-squares slope of log N on log(1/size)",
        "notebook": {"not_applicable": why} if nb is None else {
            "dimension": nb.value, "q25": nb.q25, "q75": nb.q75, "slopes": list(nb.slopes),
            "sizes": list(nb.sizes[0]), "counts": list(nb.counts[0]), "edge_cells": nb.cells[0],
            "method": "the notebook's estimate_fractal_dimension on this one image: 2 x 2 "
            "sign-change blocks, porespy boxcount (10 sizes from 10 cells to the grid, boxes "
            "holding edge and non-edge cells), median of -np.gradient(log N, log size)"}}


def score_grid(result, path="results") -> np.ndarray:
    """The signed score of a 2-D sweep as an ``(n_axis0, n_axis1)`` array (configurations are row-major)."""
    from lrsweep.config import SweepError

    shape = result.spec.shape
    if len(shape) != 2:
        raise SweepError(str(path), "axes", "a 2-D sweep (two axes)", f"{len(shape)} axes")
    score = np.asarray(result.table["score"], float)
    order = np.argsort(np.asarray(result.table["config"]))
    return score[order].reshape(shape)
