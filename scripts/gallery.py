"""The gallery: every figure kind drawn from the committed results, as small PNGs.

``python scripts/gallery.py [--results DIR] [--out DIR] [--no-screenshot]`` (or ``lrsweep gallery``, which
imports this script from the checkout) redraws ``results/gallery/`` from the
results directories in ``results/`` (each made by ``lrsweep run sweeps/<name>.toml``):
one PNG per (results directory, figure kind) that applies, named ``<name>-<kind>.png``,
plus ``report-<main>.png``, a screenshot of the main job's HTML report, when Chromium
is installed. Nothing is rerun.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lrsweep import plot, report
from lrsweep.store import load

# (results directory, kinds, width): the figures docs/usage.md shows, in its order
ENTRIES = (
    ("quadratic-momentum", ("phase", "boundary", "loss"), None),
    ("quadratic-nesterov", ("phase", "boundary"), None),
    ("ill-conditioned", ("phase", "boundary"), None),
    ("x2-gd", ("loss", "trajectories"), None),
    ("schedules", ("schedules", "boundary", "loss"), None),
)
MAIN = "quadratic-momentum"
DPI = 150  # small PNGs (one column ≈ 510 px wide)


def build(results: str | Path = "results", out: str | Path | None = None, *, screenshot: bool = True,
          dpi: float = DPI) -> list[Path]:
    """Draw the gallery into ``out`` (default ``results/gallery``); returns the files written."""
    results = Path(results)
    out = Path(out) if out is not None else results / "gallery"
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, kinds, width in ENTRIES:
        if not (results / name).is_dir():
            print(f"gallery: skipping {results / name} (not there; `lrsweep run sweeps/{name}.toml` makes it)",
                  file=sys.stderr)
            continue
        result = load(results / name)
        for kind in kinds:
            for p in plot.draw_all(result, out, formats=("png",), kinds=(kind,), width=width, dpi=dpi):
                target = p.with_name(f"{name}-{p.name}")
                p.replace(target)
                written.append(target)
    if screenshot and (results / MAIN).is_dir():
        if report.chromium() is None:
            print("gallery: no Chromium, report screenshot not redrawn", file=sys.stderr)
        else:
            page = report.write(results / MAIN, out / f".report-{MAIN}.html")
            try:
                report.screenshot(page, out / f"report-{MAIN}.png", width=1000, height=1400)
                written.append(out / f"report-{MAIN}.png")
            finally:
                page.unlink()
    return written


def main(argv: list[str] | None = None) -> int:
    """``python scripts/gallery.py …``: ``lrsweep gallery …`` (its options, its error handling)."""
    from lrsweep.cli import main as lrsweep_main

    return lrsweep_main(["gallery", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
