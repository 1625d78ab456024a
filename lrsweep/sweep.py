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
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from lrsweep import boundary as _boundary
from lrsweep import curvature as _curvature
from lrsweep import grid as _grid
from lrsweep import theory as _theory
from lrsweep.config import SweepSpec
from lrsweep.engine import Program
from lrsweep.outcomes import OUTCOME_NAMES
from lrsweep.store import SweepResult, git_state, host, save, versions


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def run(spec: SweepSpec, out: str | Path | None = None, *, progress: bool = True,
        chunk_size: int | None = None, figures: bool = False) -> SweepResult:
    """Run ``spec``: one compiled program over the grid, then boundary refinement and theory.

    Args:
      spec: the sweep (see :func:`lrsweep.load_sweep`).
      out: results directory to write (``None``: keep in memory only).
      progress: show a progress bar over chunks.
      chunk_size: override ``run.chunk_size``.
      figures: also draw the default figures into ``out``.
    """
    started = _now()
    program = Program(spec, chunk_size=chunk_size)
    program.check()  # every failure here is a SweepError, before anything is written
    program.compile()

    bar = _progress_bar(spec, program, progress)
    t0 = time.perf_counter()
    values = _grid.configurations(spec)
    metrics = program.evaluate(values, progress=bar.update if bar else None)
    run_seconds = time.perf_counter() - t0
    if bar:
        bar.close()

    table = _table(spec, values, metrics)

    boundary = transitions = None
    refine_seconds, refine_configs = 0.0, 0
    if spec.boundary.axis is not None:
        counted = {"n": 0}

        def evaluate(v):
            counted["n"] += len(next(iter(v.values())))
            return program.evaluate(v)

        t1 = time.perf_counter()
        boundary, transitions = _boundary.locate(
            spec, metrics, evaluate, batch=_boundary.ROUND_SIZE,
            asymptotic=spec.boundary.asymptotic and program.known_minimum,
            resolution=float(np.finfo(program.dtype).eps))
        refine_seconds = time.perf_counter() - t1
        refine_configs = counted["n"]
        boundary = _theory.annotate(spec, program, boundary)
        boundary = _curvature.annotate(spec, program, boundary)  # sharpness and 2(1+β)/λ_max beside it

    trajectories = _trajectories(spec, program) if spec.trajectories is not None else None

    n = spec.size
    manifest = {
        "status": "complete",
        "name": spec.name,
        "source": spec.source,
        "started": started,
        "finished": _now(),
        "configurations": n,
        "steps": spec.steps,
        "dtype": spec.dtype,
        "chunk_size": program.chunk_size,
        "chunks": _grid.n_chunks(n, program.chunk_size),
        "compiles": program.compiles,
        "compile_seconds": program.compile_seconds,
        "run_seconds": run_seconds,
        "config_steps_per_second": n * spec.steps / run_seconds if run_seconds > 0 else None,
        "refine_seconds": refine_seconds,
        "refine_configurations": refine_configs,
        "versions": versions(),
        "host": host(),
        "git": git_state(Path(spec.source).resolve() if spec.source != "<dict>" else Path.cwd()),
    }
    result = SweepResult(spec=spec, table=table, boundary=boundary, transitions=transitions,
                         trajectories=trajectories, manifest=manifest)
    if out is not None:
        save(result, out)
        if figures:
            from lrsweep import plot

            plot.draw_all(result, out)
    return result


def _progress_bar(spec: SweepSpec, program: Program, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    steps = spec.steps

    class Bar:
        def __init__(self):
            self.bar = tqdm(total=spec.size, unit="cfg", desc=spec.name, unit_scale=True, leave=True)
            self.t0 = time.perf_counter()
            self.done = 0

        def update(self, k: int, n: int):
            self.done += k
            self.bar.update(k)
            dt = time.perf_counter() - self.t0
            if dt > 0:
                self.bar.set_postfix_str(f"{self.done * steps / dt:.3g} config-steps/s")

        def close(self):
            self.bar.close()

    return Bar()


def _table(spec: SweepSpec, values: dict[str, np.ndarray], metrics: dict[str, np.ndarray]) -> pd.DataFrame:
    cols = {"config": np.arange(spec.size)}
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
    f, x = program.trajectories(values, max_params=t.max_params, steps=T)
    steps = np.arange(T + 1)[:: t.every]
    f, x = f[:, :: t.every], x[:, :: t.every]
    k, S = len(next(iter(values.values()))), len(steps)
    cols = {"trajectory": np.repeat(np.arange(k), S)}
    for a in spec.axes:
        v = np.repeat(values[a.name], S)
        cols[a.name] = np.asarray(a.values, dtype=object)[v.astype(int)] if a.categorical else v
    cols["step"] = np.tile(steps, k)
    cols["loss"] = f.reshape(-1)
    for j in range(x.shape[-1]):
        cols[f"param_{j}"] = x[..., j].reshape(-1)
    return pd.DataFrame(cols)


Runner = Callable[..., SweepResult]
