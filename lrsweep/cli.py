"""The ``lrsweep`` command: ``run``, ``plot``, ``report``, ``gallery``, ``list``.

Exit status: 0 on success, 2 on bad input (a one-line message naming the file and
field), 1 on an unexpected failure.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from pathlib import Path

_STARTED = time.perf_counter()  # the command's launch (the manifest's `phases.total` counts from here)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lrsweep", description="JAX-accelerated learning-rate sweeps.")
    sub = p.add_subparsers(dest="command", required=True)
    _run_arguments(sub)
    _plot_arguments(sub)
    _report_arguments(sub)
    _gallery_arguments(sub)
    sub.add_parser("list", help="built-in losses, optimizers, schedules and their parameters")
    _suggest_arguments(sub)
    _zoom_arguments(sub)
    _dimension_arguments(sub)
    sub.add_parser("bench", help="throughput of the engine beside hand-written baselines (lrsweep bench --help)",
                   add_help=False)  # its options live with the harness, imported only when it runs
    p.add_argument("--version", action="version", version=f"lrsweep {_version()}")
    return p


def _run_arguments(sub) -> None:
    """The options of `lrsweep run`."""
    r = sub.add_parser("run", help="run a sweep file → results/<name>/")
    r.add_argument("file", help="sweep definition (.toml)")
    r.add_argument("--out", help="results directory (default: results/<name>)")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field, e.g. --set steps=100 --set axes.learning_rate.num=64 (repeatable)")
    r.add_argument("--chunk-size", type=int, help="configurations per compiled chunk (default: run.chunk_size)")
    r.add_argument("--no-figures", action="store_true", help="write tables only")
    r.add_argument("--format", default="pdf,png", help="figure formats (default: pdf,png)")
    r.add_argument("--quiet", action="store_true", help="no progress output")
    r.add_argument("--overwrite", action="store_true",
                   help="replace a results directory that holds a different sweep (default: refuse)")
    r.add_argument("--force", action="store_true",
                   help="start even when the estimated disk or memory exceeds what is free (default: refuse)")
    r.add_argument("--devices", type=int, metavar="N",
                   help="local devices to shard the grid over (default: run.devices, 0 = all; on a CPU host, "
                        "N host devices are created, one per core by default)")
    d = r.add_argument_group("multi-host (JAX's distributed runtime; see docs/scaling.md)")
    d.add_argument("--distributed", action="store_true",
                   help="join a multi-process run: jax.distributed.initialize; each process runs its share of "
                        "the chunks, process 0 assembles the results")
    d.add_argument("--coordinator", metavar="HOST:PORT",
                   help="address of process 0 (default: $JAX_COORDINATOR_ADDRESS, or detected on Slurm / Open MPI)")
    d.add_argument("--num-processes", type=int, metavar="P", help="default: $JAX_NUM_PROCESSES or detected")
    d.add_argument("--process-id", type=int, metavar="I", help="default: $JAX_PROCESS_ID or detected")


def _plot_arguments(sub) -> None:
    """The options of `lrsweep plot`."""
    pl = sub.add_parser("plot", help="redraw the figures of a results directory (no rerun)")
    pl.add_argument("dir", help="results directory")
    pl.add_argument("--format", default="pdf,png", help="figure formats (default: pdf,png)")
    pl.add_argument("--kind", help="phase,boundary,loss,trajectories,schedules (default: all that apply)")
    pl.add_argument("--style", default="paper", help="paper (default) or slides")
    pl.add_argument("--width", help="one (3.4 in column) or two (7 in page width); default per kind")
    pl.add_argument("--facet", help="split the figure over this axis, one panel per value")


def _report_arguments(sub) -> None:
    """The options of `lrsweep report`."""
    rp = sub.add_parser("report", help="one self-contained HTML page for a results directory")
    rp.add_argument("dir", help="results directory")
    rp.add_argument("--out", help="HTML file (default: DIR/report.html)")
    rp.add_argument("--style", default="paper", help="paper (default) or slides")
    rp.add_argument("--screenshot", metavar="PNG", help="also save a headless-Chromium screenshot of the page")


def _gallery_arguments(sub) -> None:
    """The options of `lrsweep gallery`."""
    g = sub.add_parser("gallery", help="redraw results/gallery/ (every figure kind) from the committed results")
    g.add_argument("--results", default="results", help="folder of results directories (default: results)")
    g.add_argument("--out", help="gallery folder (default: RESULTS/gallery)")
    g.add_argument("--no-screenshot", action="store_true", help="skip the report screenshot (needs Chromium)")


def _suggest_arguments(sub) -> None:
    """The options of `lrsweep suggest`."""
    sg = sub.add_parser("suggest", help="recommend a learning rate: sweep + refine, sharpness, LR range test")
    sg.add_argument("loss", help="built-in loss name or module:function / path.py:function")
    sg.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a loss parameter (TOML value), e.g. --set width=32 --set activation='\"relu\"'")
    sg.add_argument("--optimizer", default="sgd", help="optax optimizer name (default sgd)")
    sg.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE",
                    help="an optimizer hyperparameter, e.g. --opt momentum=0.9")
    sg.add_argument("--init", action="append", default=[], metavar="KEY=VALUE",
                    help="[init] field, e.g. --init 'points=[[1.0, 1.0]]' or --init scale=2")
    sg.add_argument("--steps", type=int, default=200, help="updates per run (default 200)")
    sg.add_argument("--min", type=float, default=1e-6, help="smallest learning rate (default 1e-6)")
    sg.add_argument("--max", type=float, default=1e2, help="largest learning rate (default 1e2)")
    sg.add_argument("--num", type=int, default=64, help="grid points (log-spaced, default 64)")
    sg.add_argument("--dtype", default="float32", help="float32 (default) or float64")
    sg.add_argument("--fraction", type=float, default=0.5, help="recommended = fraction × critical (default 0.5)")
    sg.add_argument("--range-steps", type=int, default=300, help="length of the LR range test's ramp (300)")


def _zoom_arguments(sub) -> None:
    """The options of `lrsweep zoom`."""
    z = sub.add_parser("zoom", help="re-sweep a window of a 2-D results directory at higher resolution (float64)")
    z.add_argument("results", help="a 2-D results directory (a zoom's output zooms again)")
    z.add_argument("--center", help="x,y in axis units (default: the boundary cell nearest the middle)")
    z.add_argument("--width", type=float, default=0.25, help="window width as a fraction of the parent's, "
                   "in log10 space on log axes (default 0.25)")
    z.add_argument("--res", type=int, default=64, help="points per axis (default 64)")
    z.add_argument("--out", help="results directory (default: RESULTS-zoom)")
    z.add_argument("--steps", type=int, help="updates per run (default: the parent's)")
    z.add_argument("--frames", type=int, default=0, metavar="K", help="zoom K times around one centre, "
                   "rendering OUT/frames/frame-000.png … (level k in OUT/level-k)")
    z.add_argument("--factor", type=float, default=2.0, metavar="F", help="zoom factor per frame (default 2)")
    z.add_argument("--quiet", action="store_true", help="no progress output")
    z.add_argument("--overwrite", action="store_true", help="replace results directories holding other sweeps")


def _dimension_arguments(sub) -> None:
    """The options of `lrsweep dimension`."""
    dm = sub.add_parser("dimension", help="box-counting dimension of the trained/diverged boundary of 2-D sweeps")
    dm.add_argument("results", nargs="+", help="2-D results directories")
    dm.add_argument("--min-size", type=int, default=2, help="smallest box side fitted, in cells (default 2)")
    dm.add_argument("--max-fraction", type=float, default=0.125,
                    help="largest box side fitted, as a fraction of the grid (default 1/8)")
    dm.add_argument("--verbose", action="store_true", help="print the box counts")
    dm.add_argument("--save", action="store_true", help="also write RESULTS/dimension.json")


def _version() -> str:
    from lrsweep import __version__

    return __version__


class _NotInCheckout(Exception):
    """A project script (benchmarks/, scripts/) that this installation of lrsweep cannot see."""


def _checkout_module(folder: str, name: str):
    """Import ``<folder>/<name>.py`` of the source checkout: the project's scripts live beside the package,
    not in it. Looked for beside the package (an editable install, or the source tree) and then in the
    working directory; the folder goes on ``sys.path``, as when the script runs as ``python folder/name.py``."""
    import importlib

    package_root = Path(__file__).resolve().parents[1]
    for root in dict.fromkeys((package_root, Path.cwd())):
        if (root / folder / f"{name}.py").is_file():
            if str(root / folder) not in sys.path:
                sys.path.insert(0, str(root / folder))
            return importlib.import_module(name)
    raise _NotInCheckout(f"{folder}/{name}.py: this command runs a project script of the source checkout, found "
                         f"neither beside the package ({package_root}) nor in the working directory; run it "
                         "from a clone of the repository")


def _bench_args(argv):
    """``lrsweep bench …``: the harness's own parser (it imports JAX, so only when asked for)."""
    import argparse as _argparse

    harness = _checkout_module("benchmarks", "harness")
    return harness.add_arguments(_argparse.ArgumentParser(prog="lrsweep bench")).parse_args(argv)


class _Stderr(logging.Handler):
    """The library's log records (logger ``lrsweep``: warnings, the size estimate, progress lines), one line
    each on the current ``sys.stderr`` as the command's own messages are."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr, flush=True)


@contextlib.contextmanager
def _log_to_stderr(quiet: bool):
    """For the command's duration, the ``lrsweep`` logger prints on stderr: INFO and above, warnings only
    when quiet (restored afterwards: a Python session that calls :func:`main` keeps its own logging)."""
    log = logging.getLogger("lrsweep")
    handler, was = _Stderr(), (log.level, log.propagate)
    log.addHandler(handler)
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    log.propagate = False
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(was[0])
        log.propagate = was[1]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        from lrsweep import devices

        devices.host_devices()  # before JAX starts: one device per CPU core
        try:
            args = _bench_args(argv[1:])
        except _NotInCheckout as e:
            return _fail(str(e))
        args.command = "bench"
    else:
        args = _parser().parse_args(argv)
    with _log_to_stderr(getattr(args, "quiet", False)):
        return _command(args)


def _command(args) -> int:
    """Run ``args.command`` with the exit status of an interrupt or a closed pipe."""
    if args.command not in ("list", "bench"):  # the command draws into files: a non-interactive backend
        import matplotlib                      # (chosen here, not on import of the library: a notebook keeps its own)

        matplotlib.use("Agg")
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print("lrsweep: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `lrsweep run … | head`: the reader left; results are already written
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _dispatch(args) -> int:
    """Run the command ``args.command``; its exit status."""
    if args.command in ("suggest", "bench", "zoom"):
        from lrsweep import devices

        devices.host_devices()  # as `lrsweep run`: one JAX device per CPU core
    commands = {"run": _run, "plot": _plot, "list": lambda args: _list(), "report": _report, "suggest": _suggest,
                "bench": _bench, "gallery": _gallery, "zoom": _zoom, "dimension": _dimension}
    if args.command in ("bench", "zoom", "dimension"):
        from lrsweep.config import SweepError

        try:
            return commands[args.command](args)
        except SweepError as e:
            return _fail(str(e))
    return commands[args.command](args)


def _bench(args) -> int:
    """``lrsweep bench``: the harness of the checkout's ``benchmarks/``."""
    return _checkout_module("benchmarks", "harness").cli(args)


def _gallery(args) -> int:
    """``lrsweep gallery``: every figure kind, redrawn from the committed results."""
    from lrsweep.config import SweepError

    try:
        paths = _checkout_module("scripts", "gallery").build(args.results, args.out,
                                                             screenshot=not args.no_screenshot)
    except (_NotInCheckout, FileNotFoundError, ValueError, SweepError) as e:
        return _fail(str(e))
    for path in paths:
        print(f"gallery: {path}")
    return 0


def _fail(msg: str) -> int:
    print(f"lrsweep: error: {msg}", file=sys.stderr)
    return 2


def _formats(text: str) -> tuple[str, ...]:
    fmts = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in fmts if f not in ("pdf", "png", "svg")]
    if bad or not fmts:
        raise ValueError(f"--format: expected a comma-separated list of pdf, png, svg, found {text!r}")
    return fmts


def _run(args) -> int:
    from lrsweep import devices as _devices

    try:
        formats = _formats(args.format)
        if args.chunk_size is not None and args.chunk_size < 1:
            raise ValueError(f"--chunk-size: expected an integer ≥ 1, found {args.chunk_size}")
        if args.devices is not None and args.devices < 0:
            raise ValueError(f"--devices: expected an integer ≥ 0, found {args.devices}")
        _devices.host_devices(args.devices)  # before JAX starts: CPU cores as devices
        if args.distributed:
            _devices.initialize(args.coordinator, args.num_processes, args.process_id)
    except (ValueError, RuntimeError) as e:
        return _fail(str(e))

    from lrsweep.config import SweepError, load_sweep

    try:
        with_load = time.perf_counter()
        spec = load_sweep(args.file, args.overrides)
        load_seconds = time.perf_counter() - with_load
    except (SweepError, ValueError) as e:
        return _fail(str(e))

    from lrsweep import store as _store
    from lrsweep.pipeline import TABLE_IN_MEMORY, run

    out = Path(args.out) if args.out else Path("results") / spec.name
    if not args.quiet:  # what the sweep will need, before anything is built (run() refuses what does not fit)
        _store.check_size(spec, out, force=True, say=True, in_memory=TABLE_IN_MEMORY)
    try:
        result = run(spec, out=out, progress=not args.quiet, chunk_size=args.chunk_size, devices=args.devices,
                     overwrite=args.overwrite, distributed=args.distributed, force=args.force)
    except SweepError as e:
        return _fail(str(e))
    except OSError as e:  # a full disk, a directory removed under the run …: every finished chunk is kept
        return _fail(f"{e.filename or out}: {e.strerror or e} while writing the results; {out} is resumable: "
                     "fix this and run the same command again")
    if result is None:  # a worker process of a distributed run: process 0 wrote the results
        return 0
    figures = _figures(result, out, formats, args.no_figures)
    _finish(result, out, load_seconds)
    for f in figures:
        print(f"  figure: {f}")
    return 0


def _figures(result, out: Path, formats: tuple[str, ...], no_figures: bool) -> list:
    """Draw a finished run's figures into ``out`` (their time in the manifest's phases); never fails the run."""
    spec = result.spec
    if result.table is None:
        print(f"{spec.name}: {spec.size} configurations: too many to draw from memory; table in {out}",
              file=sys.stderr)
        return []
    if no_figures:
        return []
    from lrsweep import plot

    figures = []
    t0 = time.perf_counter()
    try:
        figures = plot.draw_all(result, out, formats=formats)
    except Exception as e:  # noqa: BLE001  (the results are complete; a figure must not hide them)
        print(f"lrsweep: warning: figures not drawn ({type(e).__name__}: {e}); the results in {out} are "
              f"complete: redraw with `lrsweep plot {out}`", file=sys.stderr)
    result.manifest["phases"]["figures"] = time.perf_counter() - t0
    return figures


def _finish(result, out: Path, load_seconds: float) -> None:
    """The whole command's time into the manifest, from launch to the last figure; the run's summary lines."""
    from lrsweep import store as _store

    spec, m = result.spec, result.manifest
    total = time.perf_counter() - _STARTED
    m["phases"] = {"load": load_seconds, **m["phases"]}
    m["phases"] |= {"other": max(total - sum(m["phases"].values()), 0.0), "total": total}  # imports, JAX start-up
    _store.write_json(out / _store.MANIFEST, m)
    rate = m.get("config_steps_per_second")  # None when nothing was left to compute (a resumed, finished run)
    print(f"{spec.name}: {m['configurations']} configurations × {m['steps']} steps in {m['run_seconds']:.2f} s "
          f"(compile {m['compile_seconds']:.2f} s, {f'{rate:.3g}' if rate else 'no'} config-steps/s) → {out}")
    if result.boundary is not None and len(result.boundary):
        print(_boundary_summary(result))


def _boundary_summary(result, limit: int = 8) -> str:
    b = result.boundary
    axis = result.spec.boundary.axis
    cols = [c for c in b.columns if c in result.spec.axis_names]
    show = cols + [c for c in ("critical", "critical_asymptotic", "theory", "theory_finite") if c in b.columns]
    text = b[show].head(limit).to_string(index=False, float_format=lambda x: f"{x:.6g}")
    more = f"\n  … {len(b) - limit} more slices in boundary.csv" if len(b) > limit else ""
    return f"boundary along {axis}:\n" + "\n".join("  " + line for line in text.splitlines()) + more


def _plot(args) -> int:
    """``lrsweep plot DIR [--kind K,…] [--format pdf,svg,png] [--style paper|slides] [--width one|two]
    [--facet AXIS]``: redraw from disk."""
    from lrsweep import figstyle, plot
    from lrsweep.config import SweepError
    from lrsweep.store import load

    try:
        formats = plot._split(args.format, figstyle.FORMATS, "--format")
        kinds = plot._split(args.kind, plot.KINDS, "--kind") if args.kind else None
        figstyle.style_path(args.style)
        if args.width:
            figstyle.width(args.width)
        result = load(args.dir)
        if args.facet and args.facet not in result.spec.axis_names:
            raise ValueError(f"--facet: expected an axis of {args.dir} ({', '.join(result.spec.axis_names)}), "
                             f"found {args.facet!r}")
    except (FileNotFoundError, ValueError, SweepError) as err:
        return _fail(str(err))
    try:
        paths = plot.draw_all(result, Path(args.dir), formats=formats, kinds=kinds, style=args.style,
                              width=args.width, facet=args.facet)
    except OSError as err:  # a read-only results directory, a full disk …
        return _fail(f"{err.filename or args.dir}: cannot write the figure: {err.strerror or err}")
    for f in paths:
        print(f"figure: {f}")
    drawn = {p.stem for p in paths}
    for k in kinds or ():
        if k not in drawn:
            print(f"lrsweep: note: no {k} figure for this sweep (it needs {plot.NEEDS[k]})", file=sys.stderr)
    return 0


def _report(args) -> int:
    """``lrsweep report DIR [--out FILE] [--style paper|slides] [--screenshot PNG]``."""
    import subprocess

    from lrsweep import figstyle, report
    from lrsweep.config import SweepError

    try:
        figstyle.style_path(args.style)
        path = report.write(args.dir, args.out, style=args.style)
    except (FileNotFoundError, ValueError, SweepError) as err:
        return _fail(str(err))
    except OSError as err:  # a read-only results directory, --out under a file, a full disk …
        return _fail(f"{args.out or Path(args.dir) / report.REPORT}: cannot write the report: {err.strerror or err}")
    print(f"report: {path}")
    if args.screenshot:
        try:
            print(f"screenshot: {report.screenshot(path, args.screenshot)}")
        except (RuntimeError, subprocess.SubprocessError) as err:
            print(f"lrsweep: error: --screenshot: {err}", file=sys.stderr)
            return 1
    return 0


def _suggest(args) -> int:
    """``lrsweep suggest LOSS [--set k=v] [--optimizer NAME] [--opt k=v] …``: print the recommendation."""
    from lrsweep import suggest
    from lrsweep.config import SweepError, assignments

    try:
        s = suggest.suggest(args.loss, assignments(args.set, "--set"), args.optimizer,
                            assignments(args.opt, "--opt"), steps=args.steps, lr_min=args.min, lr_max=args.max,
                            num=args.num, dtype=args.dtype, fraction=args.fraction, range_steps=args.range_steps,
                            init=assignments(args.init, "--init") or None)
    except (SweepError, ValueError) as e:
        return _fail(str(e))
    print(s.text())
    return 0


def _zoom(args) -> int:
    """``lrsweep zoom RESULTS --center x,y --width w --res N [--out DIR] [--frames K --factor F]``."""
    from lrsweep import plot, zoom

    parent = Path(args.results)
    center = zoom._pair(args.center)
    out = Path(args.out or f"{parent}-zoom")
    if args.frames:
        pngs = zoom.frames(parent, center, args.factor, args.frames, args.res, out, steps=args.steps,
                           progress=not args.quiet, overwrite=args.overwrite)
        print(f"{len(pngs)} frames → {out / 'frames'} ({zoom.precision(parent)})")
        return 0
    r = zoom.zoom(parent, center, args.width, args.res, out, steps=args.steps, progress=not args.quiet,
                  overwrite=args.overwrite)
    paths = plot.draw_all(r, out, kinds=["phase"])
    win = ", ".join(f"{k} ∈ [{lo:.6g}, {hi:.6g}]" for k, (lo, hi) in r.manifest["window"].items())
    print(f"zoom depth {r.manifest['zoom_depth']} ({zoom.precision(parent)}): {win} → {out}")
    for p in paths:
        print(f"  figure: {p}")
    return 0


def _dimension(args) -> int:
    """``lrsweep dimension RESULTS…``: the boundary's box-counting dimension of a 2-D sweep, two ways —
    ours (:func:`lrsweep.fractal.dimension`: one least-squares slope) and the notebook's
    (:func:`lrsweep.fractal.notebook_dimension`: the median local slope, here of one image), printed and,
    with ``--save``, written side by side into ``dimension.json``."""
    from lrsweep import fractal, store

    for path in args.results:
        grid = fractal.load_grid(path)
        d = fractal.dimension(grid, min_size=args.min_size, max_fraction=args.max_fraction)
        try:
            nb, why = fractal.notebook_dimension(grid), ""
        except ValueError as e:  # too small an image for porespy's 10 box sizes: ours still applies
            nb, why = None, str(e)
        print(f"{Path(path).name}: {d}")
        print(f"{' ' * len(Path(path).name)}  notebook's estimator: {nb if nb is not None else 'n/a (' + why + ')'}")
        if args.save:
            store.write_json(Path(path) / "dimension.json", fractal.dimension_record(d, nb, why, grid.shape))
        if args.verbose:
            print("  box side (cells):  " + " ".join(f"{s:6d}" for s in d.sizes))
            print("  boxes on boundary: " + " ".join(f"{c:6d}" for c in d.counts))
        if args.verbose and nb is not None:
            print("  notebook sizes:    " + " ".join(f"{s:6d}" for s in nb.sizes[0]))
            print("  spanning boxes:    " + " ".join(f"{c:6d}" for c in nb.counts[0]))
            print("  local slopes:      " + " ".join(f"{v:6.3f}" for v in nb.slopes))
    return 0


def _list() -> int:
    from lrsweep import losses, optimizers, schedules

    def show(title, table):
        print(f"{title}:")
        for name, params in table.items():
            ps = ", ".join(f"{k}={v!r}" if v is not None else k for k, v in params.items())
            print(f"  {name}({ps})")
        print()

    show("losses ([loss] name = …; numeric parameters can be swept as loss.<param>)", losses.describe_losses())
    show("optimizers ([optimizer] name = …; any optax optimizer works, these are common)",
         optimizers.describe_optimizers())
    show("schedules ([schedule] name = …; parameters can be swept as schedule.<param>)",
         schedules.describe_schedules())
    print("axes: any optimizer hyperparameter (learning_rate, momentum, b1, …), schedule.<param>, schedule (names),")
    print("      loss.<param>, init.scale, init.index, seed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
