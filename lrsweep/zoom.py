"""Zoom into a 2-D sweep: re-sweep a window at a higher resolution, in float64, recursively.

A window is given by its centre (in axis units) and its width as a fraction ``w`` of the parent's
window, the same fraction on both axes; on a log axis the window is taken in ``log10`` space, so
a centre ``c`` and a parent span of ``Δ`` decades give ``10^(log10 c ± wΔ/2)``:

.. math::
    [\\ell_{\\min}, \\ell_{\\max}] = \\log_{10} c \\pm \\tfrac{w}{2} (\\log_{10} x_{\\max} - \\log_{10} x_{\\min}).

The new results directory is an ordinary sweep (``sweep.toml``, ``table.parquet``, ``manifest.json``)
whose manifest gains ``parent``: the parent's path, name, window and the zoom's centre and width,
and ``zoom_depth``, so a chain of zooms can be traced back to the first sweep. ``frames`` zooms
``K`` times by a factor ``F`` around the same centre and renders every level's phase image as a
numbered PNG (``frames/frame-000.png`` is the parent).

>>> window((1.0, 100.0), "log", 10.0, 0.5)
(3.1622776601683795, 31.622776601683793)
>>> window((0.0, 4.0), "linear", 1.0, 0.25)
(0.5, 1.5)
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np

from lrsweep import store
from lrsweep.config import SweepError, SweepSpec, from_dict

__all__ = ["nearest_boundary_point", "window", "zoom", "zoom_spec"]


def window(bounds: tuple[float, float], scale: str, center: float, width: float) -> tuple[float, float]:
    """The ``(min, max)`` of a window of relative ``width`` centred on ``center`` (log10 space on a log axis)."""
    lo, hi = bounds
    if scale == "log":
        if center <= 0:
            raise ValueError(f"zoom: center {center} must be > 0 on a log axis")
        half = width * (math.log10(hi) - math.log10(lo)) / 2
        return 10 ** (math.log10(center) - half), 10 ** (math.log10(center) + half)
    half = width * (hi - lo) / 2
    return center - half, center + half


def _axes2(spec: SweepSpec, source: str):
    if len(spec.axes) != 2 or any(a.categorical for a in spec.axes):
        raise SweepError(source, "axes", "a 2-D sweep over two continuous axes", [a.name for a in spec.axes])
    return spec.axes


def zoom_spec(spec: SweepSpec, center: tuple[float, float], width: float, res: int, *,
              name: str | None = None, steps: int | None = None, source: str = "<zoom>") -> SweepSpec:
    """``spec`` with both axes replaced by the zoom window at ``res`` points each, in float64, no boundary search."""
    axes = _axes2(spec, source)
    if not 0 < width:
        raise SweepError(source, "--width", "a fraction > 0 of the parent window", width)
    if res < 2:
        raise SweepError(source, "--res", "at least 2 points per axis", res)
    raw = spec.to_dict()
    raw["name"] = name or f"{spec.name}-zoom"
    raw["dtype"] = "float64"
    if steps is not None:
        raw["steps"] = steps
    raw["boundary"] = {"max_rounds": 0}
    raw.pop("trajectories", None)
    for a, c in zip(axes, center, strict=True):
        scale = "log" if a.is_log else "linear"
        try:
            lo, hi = window((min(a.values), max(a.values)), scale, c, width)
        except ValueError as e:
            raise SweepError(source, "--center", f"a centre > 0 on the log axis {a.name}", c) from e
        raw["axes"][a.name] = {"min": lo, "max": hi, "num": res, "scale": scale}
    raw["run"] = {k: v for k, v in raw["run"].items() if k not in ("chunk_size",)}
    return from_dict(raw, source=source)


def nearest_boundary_point(result) -> tuple[float, float]:
    """The boundary cell (sign change of the score) nearest the middle of the grid, in axis units."""
    from lrsweep import fractal

    grid = fractal.score_grid(result)
    edge = np.argwhere(fractal.boundary_cells(grid))
    a0, a1 = result.spec.axes
    if len(edge) == 0:
        i, j = len(a0.values) // 2, len(a1.values) // 2
    else:
        mid = (np.asarray(grid.shape) - 1) / 2
        i, j = edge[np.argmin(((edge - mid) ** 2).sum(axis=1))]
    return float(a0.values[i]), float(a1.values[j])


def zoom(parent: str | Path, center: tuple[float, float] | None, width: float, res: int, out: str | Path, *,
         steps: int | None = None, progress: bool = False, overwrite: bool = False):
    """Re-sweep a window of the 2-D results directory ``parent`` into ``out``; returns the new result."""
    from lrsweep.pipeline import run

    parent = Path(parent)
    try:
        p = store.load(parent)
    except FileNotFoundError as e:
        raise SweepError(str(parent), "results", "a results directory", raw=str(e)) from None
    _axes2(p.spec, str(parent))
    if center is None:
        center = nearest_boundary_point(p)
    spec = zoom_spec(p.spec, center, width, res, name=f"{p.spec.name}-zoom", steps=steps, source=str(parent))
    result = run(spec, out, progress=progress, overwrite=overwrite)
    a0, a1 = spec.axes
    result.manifest["parent"] = {
        "path": str(parent), "name": p.spec.name, "center": list(center), "width": width,
        "window": {a.name: [min(a.values), max(a.values)] for a in p.spec.axes},
        "zoom_depth": p.manifest.get("zoom_depth", 0),
    }
    result.manifest["zoom_depth"] = p.manifest.get("zoom_depth", 0) + 1
    result.manifest["window"] = {a.name: [min(a.values), max(a.values)] for a in (a0, a1)}
    store.write_json(Path(out) / store.MANIFEST, result.manifest)
    return result


def _render(result, png: Path) -> None:
    from lrsweep import plot

    tmp = png.parent / f".{png.stem}"
    plot.draw_all(result, tmp, formats=("png",), kinds=["phase"])
    shutil.move(str(tmp / "phase.png"), png)
    shutil.rmtree(tmp, ignore_errors=True)


def frames(parent: str | Path, center: tuple[float, float] | None, factor: float, count: int, res: int,
           out: str | Path, *, steps: int | None = None, progress: bool = False, overwrite: bool = False) -> list[Path]:
    """Zoom ``count`` times by ``factor`` around one centre; level ``k`` in ``out/level-k``, PNGs in ``out/frames``."""
    out = Path(out)
    (out / "frames").mkdir(parents=True, exist_ok=True)
    current = Path(parent)
    p = store.load(current)
    center = center if center is not None else nearest_boundary_point(p)
    pngs = [out / "frames" / "frame-000.png"]
    _render(p, pngs[0])
    for k in range(1, count + 1):
        level = out / f"level-{k}"
        r = zoom(current, center, 1.0 / factor, res, level, steps=steps, progress=progress, overwrite=overwrite)
        pngs.append(out / "frames" / f"frame-{k:03d}.png")
        _render(r, pngs[-1])
        current = level
    return pngs


def _pair(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    parts = text.split(",")
    try:
        x, y = (float(s) for s in parts)
    except ValueError:
        raise SweepError("--center", "--center", "two numbers x,y in axis units", text) from None
    return x, y


def precision(parent: Path) -> str:
    """Which dtype a zoom runs in, beside its parent's: the problem is the same (random data and initial
    points are drawn in float32 and cast, :func:`lrsweep.losses.normal`), only the arithmetic is finer."""
    import tomllib

    try:
        was = tomllib.loads((parent / "sweep.toml").read_text()).get("dtype", "float32")
    except (OSError, ValueError):  # the message is informative only
        was = "an unknown dtype"
    return f"runs in float64; the parent ran in {was}, the same problem"


