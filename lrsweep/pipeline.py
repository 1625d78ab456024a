"""Run a sweep end to end: grid → compiled program → outcomes → boundary → theory → results.

>>> import lrsweep
>>> spec = lrsweep.from_dict({
...     "name": "x2", "steps": 50,
...     "loss": {"name": "quadratic", "curvatures": [2.0]},      # f = x², f'' = 2
...     "init": {"points": [[-1.0]]},
...     "axes": {"learning_rate": {"min": 0.1, "max": 2.0, "num": 20}},
...     "boundary": {"rtol": 1e-5}})
>>> result = lrsweep.run(spec, progress=False)
>>> float(result.boundary["critical_asymptotic"][0])    # 2/λ = 1
1.0000...
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lrsweep import boundary as _boundary
from lrsweep import devices as _devices
from lrsweep import grid as _grid
from lrsweep import reference as _reference
from lrsweep import sensitivity as _sensitivity
from lrsweep import store as _store
from lrsweep.config import SENSITIVITY_LOSSES, SweepError, SweepSpec
from lrsweep.engine import Program
from lrsweep.outcomes import OUTCOME_NAMES
from lrsweep.store import SweepResult, git_state, host, save, versions

log = logging.getLogger("lrsweep")  # warnings and progress lines; the CLI prints them on stderr


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


TABLE_IN_MEMORY = 1 << 22
"""Grids up to this many configurations also return their table in memory; larger ones stream it to
``table.parquet`` chunk by chunk (read it back with ``pandas.read_parquet(..., columns=[...])``)."""


def run(spec: SweepSpec, out: str | Path | None = None, *, progress: bool = True,
        chunk_size: int | None = None, devices: int | None = None,
        overwrite: bool = False, distributed: bool = False, force: bool = False) -> SweepResult | None:
    """Run ``spec``: one compiled program over the grid, then boundary refinement and theory.

    With ``out``, every finished chunk is written to ``out/chunks/`` atomically before the next one
    is collected, and a run interrupted in any way resumes where it stopped when started again on the
    same directory (nothing finished is recomputed; the final table is identical). Memory stays
    bounded by the chunk: the table is assembled on disk, and only the boundary search holds two
    columns of the whole grid.

    Args:
      spec: the sweep (see :func:`lrsweep.load_sweep`).
      out: results directory to write (``None``: keep in memory only).
      progress: show a progress bar over chunks (``tqdm.auto``: on a terminal or in a notebook); elsewhere a
        line every few seconds, logged at INFO on the ``lrsweep`` logger (``logging.basicConfig(level="INFO")``
        shows it; the command line always does).
      chunk_size: override ``run.chunk_size`` (configurations per device and chunk).
      devices: local devices to shard over (default ``run.devices``; 0 = all).
      overwrite: replace a results directory holding a *different* sweep instead of refusing.
      distributed: this process is one of several joined by ``jax.distributed.initialize``
        (:func:`lrsweep.devices.initialize`): each runs every ``P``-th chunk on its local devices,
        process 0 gathers the metrics (JAX collectives), writes and returns the result; the others
        return ``None``. The table is identical to a single-process run's.
      force: start even when the estimated disk or memory (:func:`lrsweep.store.estimate`; the CLI
        prints it) exceeds what is free.
    """
    started = _now()
    phases = Phases()
    lead = not distributed or _devices.process_index() == 0
    _store.check_size(spec, Path(out) if out is not None and lead else None, force=force,
                      in_memory=TABLE_IN_MEMORY)  # from the axis lengths alone, before anything is built

    def checked() -> Program:
        import warnings

        try:
            with warnings.catch_warnings():  # a complex loss is refused by the checks, not cast with a warning
                warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
                with phases("setup"):  # the problem, XLA's cost and memory analyses, the chunking
                    program = Program(spec, chunk_size=chunk_size, devices=devices)
                with phases("check"):
                    program.check()  # every failure here is a SweepError, before anything is written
        except SystemExit as e:  # user code that calls sys.exit() is an error of that code, not an exit
            raise SweepError(spec.source, "loss", "a loss that returns", raw=f"{spec.source}: loss "
                             f"({spec.loss.name}) failed: it called sys.exit({e.code!r})") from None
        return program

    if out is None or not lead:
        return _complete_run(spec, checked(), out if lead else None, None, progress and lead, started,
                             distributed, phases)
    out = Path(out)
    meta = {"name": spec.name, "source": spec.source, "started": started, "configurations": spec.size,
            "steps": spec.steps, "fingerprint": fingerprint(spec)}
    with _store.Lock(out):  # before tracing: a second writer is refused at once
        _store.Ledger.compare(out, spec, meta, overwrite=overwrite)  # and a directory of another sweep
        program = checked()
        ledger = _store.Ledger.open(out, spec, meta, overwrite=overwrite)
        return _complete_run(spec, program, out, ledger, progress, started, distributed, phases)


def _annotated(spec, program, boundary, phases):
    """The reference columns (theory, sharpness), which never kill a finished run: where they fail, they
    stay empty and ``theory_status`` says why."""
    try:
        return _reference.annotate(spec, program, boundary, phases)
    except Exception as e:  # noqa: BLE001
        if boundary is None:
            return boundary
        out = boundary.copy()
        for c in ("theory_lambda_max", "theory", "theory_finite", "sharpness", "sharpness_prediction"):
            out[c] = np.nan
        msg = (str(e).strip().splitlines() or [""])[0]
        out["theory_status"] = f"not computed: {type(e).__name__}: {msg}"[:200]
        log.warning(f"lrsweep: warning: reference columns left empty: {type(e).__name__}: {msg}")
        return out


SENSITIVITY_COLUMNS = ("sensitivity", "sensitivity_best_loss", "sensitivity_best_lr", "sensitivity_initial",
                       "sensitivity_points")
"""The LR-sensitivity columns of ``sensitivity.csv`` (and of ``boundary.csv`` along the learning rate)."""


def _sensitivities(spec, program, chunks) -> pd.DataFrame:
    r"""Wortsman et al.'s LR sensitivity of every slice of the axes other than ``learning_rate``
    (:func:`lrsweep.sensitivity.slices` over ``[boundary] sensitivity_range``): one row per slice, in the order
    of the boundary table's rows along the learning rate.

    ``L(η)`` is the column ``sensitivity_loss``, NaN for a diverged run (so it counts as ``L_0``);
    ``L_0`` (``sensitivity_initial``) is ``initial_loss`` for ``final_loss``/``min_loss``, else that column at
    the slice's initial parameters (:func:`lrsweep.reference.initial_values`; NaN, with a warning, if that
    fails: a finished run is never lost to it). ``sensitivity_points``: grid points in the range.
    """
    col, lr = spec.boundary.sensitivity_loss, "learning_rate"
    own = col in SENSITIVITY_LOSSES
    names = ("diverged", col, *(("initial_loss",) if own else ()))
    m = {c: np.concatenate([np.asarray(p[c]) for _, _, p in chunks(names)]) for c in names}
    loss = _boundary.along_axis(spec, np.where(m["diverged"], np.nan, m[col].astype(np.float64)), lr)
    fixed = _boundary.slice_values(spec, lr)
    if own:
        initial = _boundary.along_axis(spec, m["initial_loss"].astype(np.float64), lr)
    else:
        try:
            initial = _reference.initial_values(program, fixed, col)[:, None]
        except Exception as e:  # noqa: BLE001
            msg = (str(e).strip().splitlines() or [""])[0]
            log.warning(f"lrsweep: warning: sensitivity left empty: the initial {col} failed: "
                        f"{type(e).__name__}: {msg}")
            initial = np.full((loss.shape[0], 1), np.nan)
    s = _sensitivity.slices(np.asarray(spec.axis(lr).values, np.float64), loss, initial,
                            spec.boundary.sensitivity_range)
    out = pd.DataFrame(_boundary.slice_columns(spec, lr, fixed, np.arange(loss.shape[0])), index=range(loss.shape[0]))
    return out.assign(sensitivity=s.sensitivity, sensitivity_best_loss=s.best_loss, sensitivity_best_lr=s.best_lr,
                      sensitivity_initial=s.initial, sensitivity_points=s.n_in_range)


def _with_sensitivity(spec, program, chunks, boundary, phases):
    """``(sensitivity table or None, boundary)``: with ``[boundary] sensitivity_range``, the LR sensitivity of
    every slice (:func:`_sensitivities`), its columns also joined to a boundary table along the learning rate
    (the same slices, in the same order)."""
    if spec.boundary.sensitivity_range is None:
        return None, boundary
    with phases("sensitivity"):
        sensitivity = _sensitivities(spec, program, chunks)
    if boundary is not None and spec.boundary.axis == "learning_rate":
        boundary = boundary.assign(**{c: sensitivity[c].to_numpy() for c in SENSITIVITY_COLUMNS})
    return sensitivity, boundary


def fingerprint(spec: SweepSpec) -> dict:
    """What besides the sweep file decides its numbers: the versions of lrsweep, jax and optax, and a hash
    of the user's source (a results directory is resumed only by the same code)."""
    import inspect

    from lrsweep import problem as _problem

    v = versions()
    names = [spec.loss.name, spec.optimizer.name]
    hashes = {n: _problem.source_hash(n) for n in names if ":" in n and not n.startswith("lrsweep")}
    p = spec.loss.problem
    if isinstance(p, _problem.Problem):  # the file the loss function is defined in
        try:
            hashes[f"{spec.loss.name} (loss source)"] = _problem.file_hash(inspect.getsourcefile(p.loss))
        except TypeError:
            pass
    return {"lrsweep": v.get("lrsweep"), "jax": v.get("jax"), "optax": v.get("optax"),
            "source": {k: h for k, h in hashes.items() if h is not None}}


class Phases:
    """Wall seconds per phase of a command (``with phases("refine"): …``), in the order first entered."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str):
        import contextlib

        @contextlib.contextmanager
        def timed():
            t0 = time.perf_counter()
            try:
                yield
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0

        return timed()


def _complete_run(spec, program, out, ledger, progress, started, distributed=False, phases=None
         ) -> SweepResult | None:
    phases = phases or Phases()
    git = git_state(Path(spec.source).resolve() if spec.source != "<dict>" else Path.cwd())  # the code that runs
    with phases("compile"):
        program.compile()
    n = spec.size
    todo = ledger.missing() if ledger is not None else [(0, n)]
    if distributed:
        todo = _broadcast_ranges(todo)
    parts, run_seconds = _sweep(spec, program, ledger, todo, progress, distributed)
    phases.seconds["sweep"] = run_seconds
    computed = sum(hi - lo for lo, hi in todo)
    if distributed and _devices.process_index() != 0:
        _devices.barrier("lrsweep: results written")  # process 0 assembles, refines and writes
        return None

    chunks = ledger.read if ledger is not None else (lambda columns=None: iter(parts))
    table_file = None
    if ledger is not None:
        with phases("table"):
            table_file = _write_table(spec, chunks(), out)
    table = (pd.read_parquet(table_file) if table_file is not None else
             _table(spec, _grid.configurations(spec), {m: np.concatenate([p[m] for _, _, p in parts])
                                                         for m in program.metric_names})) if n <= TABLE_IN_MEMORY \
        else None

    boundary = transitions = None
    refine_seconds, refine_configs = 0.0, 0
    if spec.boundary.axis is not None:
        counted = {"n": 0}

        def evaluate(v):
            counted["n"] += len(next(iter(v.values())))
            return program.evaluate(v)

        needed = ("diverged", "growth_rate")
        metrics = {c: np.concatenate([p[c] for _, _, p in chunks(needed)]) for c in needed}
        t1 = time.perf_counter()
        boundary, transitions = _boundary.locate(
            spec, metrics, evaluate, batch=_boundary.ROUND_SIZE,
            asymptotic=spec.boundary.asymptotic and program.known_minimum,
            resolution=float(np.finfo(program.dtype).eps))
        refine_seconds = time.perf_counter() - t1
        phases.seconds["refine"] = refine_seconds
        refine_configs = counted["n"]
        boundary = _annotated(spec, program, boundary, phases)  # theory, sharpness: stored for the figures

    sensitivity, boundary = _with_sensitivity(spec, program, chunks, boundary, phases)

    with phases("trajectories"):
        trajectories = _trajectories(spec, program) if spec.trajectories is not None else None

    manifest = _manifest(spec, program, started=started, computed=computed, run_seconds=run_seconds,
                         refine_seconds=refine_seconds, refine_configs=refine_configs, phases=phases, git=git)
    result = SweepResult(spec=spec, table=table, boundary=boundary, transitions=transitions,
                         trajectories=trajectories, manifest=manifest, sensitivity=sensitivity)
    _save(result, out, ledger, table_file, phases, distributed)
    return result


def _save(result: SweepResult, out, ledger, table_file, phases, distributed: bool) -> None:
    """Write a finished run to ``out`` (if any) and drop its chunk files; the manifest records the save's own
    time and, for a distributed run, the process count (the other processes wait for it)."""
    if out is not None:
        with phases("save"):
            save(result, out, table_file=table_file)
            ledger.finish()
        _store.write_json(out / _store.MANIFEST, result.manifest)  # with the save's own time
    if distributed:
        result.manifest["processes"] = _devices.process_count()
        if out is not None:
            _store.write_json(out / _store.MANIFEST, result.manifest)
        _devices.barrier("lrsweep: results written")


def _sweep(spec, program, ledger, todo, progress, distributed) -> tuple[list, float]:
    """Run the ranges ``todo`` chunk by chunk, each written to the ledger (kept in memory when there is
    none): ``(parts in memory, seconds)``."""
    left = sum(hi - lo for lo, hi in todo)
    bar = _Progress(spec, left, spec.size - left, progress)
    t0 = time.perf_counter()
    parts = []
    source = _gathered_chunks(program, todo) if distributed else program.evaluate_chunks(ranges=todo)
    for lo, hi, metrics in source:
        if ledger is not None:
            ledger.write(lo, hi, metrics)
        else:
            parts.append((lo, hi, metrics))
        bar.update(hi - lo)
    seconds = time.perf_counter() - t0
    bar.close()
    return parts, seconds


def _manifest(spec, program, *, started, computed, run_seconds, refine_seconds, refine_configs, phases, git) -> dict:
    """A finished run's ``manifest.json``: what ran, how (chunks, devices, compiles), how fast, on what;
    ``git``: the checkout's state when the run started (commits landing while it runs are not its code)."""
    return {
        "status": "complete",
        "name": spec.name,
        "source": spec.source,
        "started": started,
        "finished": _now(),
        "configurations": spec.size,
        "configurations_computed": computed,  # fewer than `configurations` when resumed
        "steps": spec.steps,
        "dtype": spec.dtype,
        "check_every": program.check_every,
        "batch": program.batch,
        "chunk_size": program.chunk_size,
        "devices": len(program.devices),
        "chunks": _grid.n_chunks(computed, program.chunk_size),
        "compiles": program.compiles,
        "compile_seconds": program.compile_seconds,
        "run_seconds": run_seconds,
        "config_steps_per_second": computed * spec.steps / run_seconds if run_seconds > 0 and computed else None,
        "refine_seconds": refine_seconds,
        "refine_configurations": refine_configs,
        "phases": phases.seconds,  # wall seconds per phase of the command (the CLI adds figures and total)
        "versions": versions(),
        "fingerprint": fingerprint(spec),
        "host": host(),
        "git": git,
    }


def _broadcast_ranges(todo: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Process 0's list of ranges still to compute, on every process."""
    from jax.experimental import multihost_utils as mh

    k = int(mh.broadcast_one_to_all(np.asarray(len(todo), np.int64)))
    arr = np.asarray(todo if _devices.process_index() == 0 else np.zeros((k, 2)), np.int64).reshape(k, 2)
    return [tuple(map(int, r)) for r in mh.broadcast_one_to_all(arr)]


def _gathered_chunks(program: Program, todo: list[tuple[int, int]]):
    """Chunks of ``todo`` shared round-robin over the processes; process 0 receives every chunk's
    metrics (``process_allgather``) and yields them in grid order, the others yield nothing."""
    from jax.experimental import multihost_utils as mh

    P, me = _devices.process_count(), _devices.process_index()
    C = program.chunk_size
    spans = [(a + lo, a + hi) for a, b in todo for lo, hi in _grid.chunks(b - a, C)]
    for r in range(0, len(spans), P):
        mine = spans[min(r + me, len(spans) - 1)]  # past the end: repeat the last chunk, discarded
        _, _, metrics = next(program.evaluate_chunks(ranges=[mine]))
        padded = {m: np.resize(v, C) for m, v in metrics.items()}
        gathered = mh.process_allgather(padded)
        for q in range(P):
            if me == 0 and r + q < len(spans):
                lo, hi = spans[r + q]
                yield lo, hi, {m: np.asarray(v[q][: hi - lo]) for m, v in gathered.items()}


ROW_GROUP = 1 << 17  # rows of table.parquet held in memory before they are written as one row group


def _write_table(spec: SweepSpec, chunks, out: Path) -> Path:
    """Stream the finished chunks into one Parquet file, bounded memory: chunks are gathered into row
    groups of about :data:`ROW_GROUP` rows (a row group per small chunk made the file 5× larger)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=out)
    os.fchmod(fd, 0o644)  # mkstemp's 0600 would follow the file into place
    os.close(fd)
    writer, pending = None, []

    def flush():
        nonlocal writer
        if pending:
            t = pa.concat_tables(pending)
            if writer is None:
                writer = pq.ParquetWriter(tmp, t.schema)
            writer.write_table(t, row_group_size=len(t))
            pending.clear()

    try:
        for lo, hi, metrics in chunks:
            df = _table(spec, _grid.configurations(spec, lo, hi), metrics, start=lo)
            pending.append(pa.Table.from_pandas(df, preserve_index=False))
            if sum(len(t) for t in pending) >= ROW_GROUP:
                flush()
        flush()
    finally:
        if writer is not None:
            writer.close()
    return Path(tmp)


def _notebook() -> bool:
    """Whether this runs in a Jupyter kernel (where ``tqdm.auto`` draws its widget; stderr is no terminal there)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return type(shell).__name__ == "ZMQInteractiveShell"


class _Progress:
    """Progress over chunks: a ``tqdm.auto`` bar on a terminal or in a notebook (its widget); otherwise a
    line per chunk at most every 5 s, logged (INFO, logger ``lrsweep``)."""

    def __init__(self, spec: SweepSpec, total: int, skipped: int, enabled: bool, every: float = 5.0):
        self.spec, self.total, self.every, self.done = spec, total, every, 0
        self.t0 = self.last = time.perf_counter()
        self.bar = None
        self.enabled = enabled and total > 0
        if not self.enabled:
            return
        if skipped:
            log.info(f"{spec.name}: resuming: {skipped} of {spec.size} configurations already done")
        if sys.stderr.isatty() or _notebook():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="cfg", desc=spec.name, unit_scale=True, leave=True)

    def update(self, k: int) -> None:
        if not self.enabled:
            return
        self.done += k
        now = time.perf_counter()
        rate = self.done / max(now - self.t0, 1e-9)
        if self.bar is not None:
            self.bar.update(k)
            self.bar.set_postfix_str(f"{rate * self.spec.steps:.3g} config-steps/s")
        elif now - self.last >= self.every or self.done == self.total:
            self.last = now
            eta = (self.total - self.done) / rate if rate > 0 else float("nan")
            log.info(f"{self.spec.name}: {self.done}/{self.total} configurations, {rate:.3g} configs/s, "
                     f"ETA {eta:.0f} s")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _table(spec: SweepSpec, values: dict[str, np.ndarray], metrics: dict[str, np.ndarray], start: int = 0
           ) -> pd.DataFrame:
    n = len(next(iter(metrics.values())))
    cols = {"config": np.arange(start, start + n)}
    for a in spec.axes:
        v = values[a.name]
        if a.categorical:
            cols[a.name] = pd.Categorical.from_codes(v.astype(int), categories=list(a.values))
        elif a.name in ("seed", "init.index"):
            cols[a.name] = v.astype(np.int64)
        else:
            cols[a.name] = v.astype(np.dtype(spec.dtype)).astype(np.float64)
    for m, v in metrics.items():
        if m == "outcome":
            cols[m] = pd.Categorical.from_codes(v.astype(int), categories=list(OUTCOME_NAMES))
        else:
            cols[m] = v
    return pd.DataFrame(cols)


def _trajectories(spec: SweepSpec, program: Program) -> pd.DataFrame:
    t = spec.trajectories
    names = [a.name for a in spec.axes]
    chosen = []
    for a in spec.axes:
        if a.name in t.select:
            vals = t.select[a.name]
            chosen.append([a.values.index(x) for x in vals] if a.categorical else list(vals))
        else:
            chosen.append([0] if a.categorical else [a.values[0]])
    mesh = np.meshgrid(*[np.asarray(c, np.float64) for c in chosen], indexing="ij")
    values = {n: m.ravel() for n, m in zip(names, mesh)}
    T = t.steps or spec.steps
    f, x, recorded = program.trajectories(values, max_params=t.max_params, steps=T, every=t.every,
                                          columns=program.trajectory_columns())
    steps = np.union1d(np.arange(0, T + 1, t.every), [T])  # every `every` steps, and the last one
    f, x = f[:, steps], x[:, steps]
    k, S = len(next(iter(values.values()))), len(steps)
    cols = {"trajectory": np.repeat(np.arange(k), S)}
    for a in spec.axes:
        v = np.repeat(values[a.name], S)
        cols[a.name] = np.asarray(a.values, dtype=object)[v.astype(int)] if a.categorical else v
    cols["step"] = np.tile(steps, k)
    cols["loss"] = f.reshape(-1)
    for j in range(x.shape[-1]):
        cols[f"param_{j}"] = x[..., j].reshape(-1)
    for name, c in recorded.items():
        cols[name] = c[:, steps].reshape(-1)
    return pd.DataFrame(cols)

