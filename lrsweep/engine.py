"""The engine: compile one configuration's run for the whole grid, and dispatch the grid through it.

One configuration's training run is written once, for scalars (:func:`lrsweep.training.run`,
with its pieces from :class:`lrsweep.configuration.Setup`). The engine lifts it::

    jit(shard_map(lax.map(vmap(run_one))))      # devices × blocks × B configurations

compiled once for a fixed chunk length; the grid is fed through that one executable in chunks (the
last one padded), so memory is bounded by the chunk, not the grid. Swept hyperparameters arrive as
traced arrays, so the same executable serves every chunk and every refinement round of the boundary
search. The problem's data are further arguments of the executable, replicated on every device and
shared by all configurations (never copied per configuration nor compiled in as constants).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lrsweep import grid as _grid
from lrsweep import sizing as _sizing
from lrsweep import training as _training
from lrsweep.config import SweepError, SweepSpec
from lrsweep.configuration import Setup
from lrsweep.problem import Problem

_AXIS = "configurations"  # the mesh axis the grid is sharded over
_LANES = "lanes"  # the vmap axis of one block of B configurations
TRAJECTORY_WIDTH = 256  # at most this many recorded configurations share one vmap (see Program.trajectories)


class Program:
    """The compiled sweep program of one :class:`SweepSpec` (one executable per chunk length).

    A chunk of ``chunk_size = D · C`` configurations is split over ``D`` local devices
    (``jax.shard_map`` over a 1-D mesh); each device runs ``lax.map`` over blocks of ``B = batch``
    configurations, each block one ``vmap``-ped :func:`lrsweep.training.run`. Every configuration is
    thus computed by the same ``B``-wide program whatever ``C``, ``D`` or the number of processes, and
    its metrics are bit-identical across them.

    Attributes:
      setup: the :class:`~lrsweep.configuration.Setup` (one configuration's pieces).
      compile_seconds: time spent compiling so far.
      compiles: number of executables built (one per sweep shape).
    """

    def __init__(self, spec: SweepSpec, chunk_size: int | None = None, devices: int | None = None,
                 problem: Problem | None = None):
        self.spec = spec
        self.setup = Setup(spec, problem)
        self.problem = self.setup.problem
        self.dtype, self.x64 = self.setup.dtype, self.setup.x64
        local = jax.local_devices()
        n = devices if devices is not None else spec.run.devices
        self.devices = tuple(local[: n] if n else local)
        self.swept = self.setup.swept
        self.known_minimum = self.setup.known_minimum
        self.dim = self.setup.dim
        self.compile_seconds = 0.0
        self.compiles = 0
        self._exes: dict[int, Any] = {}  # chunk length -> executable
        self._data = None
        with jax.enable_x64(self.x64):
            self.host_data = self.setup.data()
            self.costs = _sizing.measure(self.setup, self.host_data)
        self.state_bytes = self.costs.state_bytes
        self.check_every = spec.run.check_every or _sizing.check_every(spec, self.costs)
        self.fast_check_every = self.check_every  # (the name benchmarks used when K = 1 was picked for cheap sweeps)
        self.batch = _grid.batch_size_for(spec, self.state_bytes)
        requested = chunk_size or spec.run.chunk_size or _sizing.auto_chunk(spec, self.costs, self.check_every,
                                                                               len(self.devices), self.batch)
        self.device_chunk = _grid.chunk_size_for(spec, requested, len(self.devices), self.batch)
        self.chunk_size = self.device_chunk * len(self.devices)  # configurations per dispatched chunk

    # ------------------------------------------------------------------ one configuration

    def run_one(self, v: dict, data: dict | None = None, lanes: str | None = None) -> dict[str, jax.Array]:
        """Metrics of one configuration; ``v`` maps axis names to scalars (``lanes``: the name of the
        ``vmap`` axis it is lifted over, see :func:`lrsweep.training.run`)."""
        data = self.host_data if data is None else data
        return _training.run(self.setup, v, data, check_every=self.check_every, lanes=lanes)[0]

    # ------------------------------------------------------------------ the grid

    def _block(self, values: dict[str, jax.Array], data: dict) -> dict[str, jax.Array]:
        """Metrics of ``B`` configurations: one ``vmap`` (the data shared, not mapped)."""
        one = functools.partial(self.run_one, lanes=_LANES)
        return jax.vmap(one, in_axes=(0, None), axis_name=_LANES)(values, data)

    def _local_chunk(self, values: dict[str, jax.Array], data: dict) -> dict[str, jax.Array]:
        """Metrics of one device's ``C`` configurations: ``lax.map`` over blocks of ``B``."""
        n, B = len(next(iter(values.values()))), self.batch
        blocks = {k: v.reshape(n // B, B) for k, v in values.items()}
        out = jax.lax.map(lambda b: self._block(b, data), blocks)
        return {k: v.reshape(n) for k, v in out.items()}

    def _sweep_chunk(self, values: dict[str, jax.Array], data: dict) -> dict[str, jax.Array]:
        # Always through shard_map, one device or many: the per-device program then goes through the
        # same compiler passes whatever the device count (results are bit-identical across counts).
        P = jax.sharding.PartitionSpec
        return jax.shard_map(self._local_chunk, mesh=self.mesh, in_specs=(P(_AXIS), P()), out_specs=P(_AXIS),
                             check_vma=False)(values, data)

    @functools.cached_property
    def mesh(self) -> jax.sharding.Mesh:
        """The 1-D device mesh the configuration axis is split over."""
        return jax.sharding.Mesh(np.asarray(self.devices), (_AXIS,))

    @functools.cached_property
    def sharding(self) -> jax.sharding.NamedSharding:
        return jax.sharding.NamedSharding(self.mesh, jax.sharding.PartitionSpec(_AXIS))

    @functools.cached_property
    def replicated(self) -> jax.sharding.NamedSharding:
        return jax.sharding.NamedSharding(self.mesh, jax.sharding.PartitionSpec())

    def _abstract(self, n: int, sharded: bool = True) -> dict[str, jax.ShapeDtypeStruct]:
        kw = {"sharding": self.sharding} if sharded else {}
        return {k: jax.ShapeDtypeStruct((n,), self.setup.cast(k, np.zeros(1)).dtype, **kw) for k in self.swept}

    def _abstract_data(self, sharded: bool = True):
        kw = {"sharding": self.replicated} if sharded else {}
        return jax.tree.map(lambda a: jax.ShapeDtypeStruct(np.shape(a), a.dtype, **kw), self.host_data)

    def device_data(self):
        """The data on the devices, once (replicated over the mesh)."""
        if self._data is None:
            with jax.enable_x64(self.x64):
                self._data = jax.device_put(self.host_data, self.replicated)
        return self._data

    def trace(self) -> None:
        """Trace a 2-configuration block of the whole program (no compilation); raises what tracing raises."""
        with jax.enable_x64(self.x64):
            jax.eval_shape(self._block, self._abstract(2, sharded=False), self._abstract_data(False))

    def check(self) -> None:
        """Check the problem on the host and trace the program once without running it; turn failures
        into :class:`SweepError` (before anything is compiled or written)."""
        from lrsweep import checks

        checks.check_program(self)

    def compile(self, chunk_size: int | None = None):
        """The executable for ``chunk_size`` configurations (default: the sweep's chunk), built once."""
        C = chunk_size or self.chunk_size
        if C not in self._exes:
            t0 = time.perf_counter()
            with jax.enable_x64(self.x64):
                lowered = jax.jit(self._sweep_chunk).lower(self._abstract(C), self._abstract_data())
                self.metric_names = tuple(lowered.out_info)
                self._exes[C] = lowered.compile()
            self.compile_seconds += time.perf_counter() - t0
            self.compiles += 1
        return self._exes[C]

    def fitting_chunk(self, n: int) -> int:
        """The chunk length for ``n`` arbitrary configurations (a boundary-refinement round): the smallest
        power-of-two multiple of one block per device that holds them, at most the sweep's chunk — a
        round of 2,000 configurations no longer runs padded to a million-configuration chunk. Results
        do not depend on it (every configuration runs in the same ``B``-wide block)."""
        unit = self.batch * len(self.devices)
        C = unit
        while C < n and C < self.chunk_size:
            C *= 2
        return min(C, self.chunk_size)

    def evaluate_chunks(self, values: dict[str, np.ndarray] | None = None, ranges=None
                        ) -> Iterator[tuple[int, int, dict[str, np.ndarray]]]:
        """``(lo, hi, metrics)`` of configurations ``lo … hi-1``, one dispatched chunk at a time, in order.

        ``values``: axis name → 1-D array of configurations; ``None``: the sweep's own grid, generated
        chunk by chunk (never held whole). ``ranges``: the ``(start, stop)`` spans to run (default: all).
        Chunk ``i + 1`` is dispatched before chunk ``i``'s results are copied to the host (JAX's
        asynchronous dispatch), so the devices do not wait for the host between chunks.
        """
        n = self.spec.size if values is None else len(next(iter(values.values())))
        C = self.chunk_size if values is None else self.fitting_chunk(n)
        exe = self.compile(C)
        data = self.device_data()
        pending = None
        with jax.enable_x64(self.x64):
            for start, stop in ranges if ranges is not None else [(0, n)]:
                for lo, hi in _grid.chunks(stop - start, C):
                    lo, hi = lo + start, hi + start
                    raw = (_grid.configurations(self.spec, lo, hi) if values is None
                           else {k: v[lo:hi] for k, v in values.items()})
                    chunk = _grid.pad({k: self.setup.cast(k, v) for k, v in raw.items()}, C)
                    running = (lo, hi, exe(jax.device_put(chunk, self.sharding), data))
                    if pending is not None:
                        yield _fetch(*pending)
                    pending = running
            if pending is not None:
                yield _fetch(*pending)

    def evaluate(self, values: dict[str, np.ndarray], progress: Callable[[int, int], None] | None = None
                 ) -> dict[str, np.ndarray]:
        """Metrics of arbitrary configurations (``values``: axis name → 1-D array), chunk by chunk."""
        n = len(next(iter(values.values())))
        parts = []
        for lo, hi, res in self.evaluate_chunks(values):
            parts.append(res)
            if progress is not None:
                progress(hi - lo, n)
        return {m: np.concatenate([p[m] for p in parts]) if parts else np.zeros(0) for m in self.metric_names}

    # ------------------------------------------------------------------ a few configurations, on the host

    def trajectories(self, values: dict[str, np.ndarray], max_params: int = 16, steps: int | None = None,
                     every: int = 1, columns: tuple[str, ...] = ()
                     ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Loss (n, T+1), the first ``max_params`` parameters (n, T+1, k) and the end-of-run ``columns``
        (each (n, T+1), NaN but at steps ``0, every, 2·every, …`` and ``T``) of a few configurations, in
        one compiled program (:func:`lrsweep.training.recorded_blocks`).

        Like the grid, the recorded configurations go through a ``vmap`` of a width fixed by the problem,
        ``W = min(B, 256)`` (:attr:`batch`; 256 is the most a sweep records), padded and ``lax.map``-ped
        over blocks of ``W``: XLA may round a vectorised loop differently at another width, and chaotic
        runs (high learning rates) amplify that, so a recorded run must not depend on how many others
        are recorded beside it."""
        n = len(next(iter(values.values())))
        W = min(self.batch, TRAJECTORY_WIDTH)
        m = -(-n // W) * W
        with jax.enable_x64(self.x64):
            vals = {k: self.setup.cast(k, np.concatenate([v, np.repeat(v[-1:], m - n)])).reshape(m // W, W)
                    for k, v in ((k, np.asarray(v)) for k, v in values.items())}

            def one(v, data):
                return _training.run(self.setup, v, data, check_every=1, record=max_params, steps=steps,
                                     every=every, columns=tuple(columns))[1]

            def blocks(vals, data):
                return jax.lax.map(lambda b: jax.vmap(one, in_axes=(0, None))(b, data), vals)

            out = jax.jit(blocks)(vals, self.host_data)
            f, x, cols = jax.tree.map(lambda a: np.asarray(a).reshape(m, *a.shape[2:])[:n], out)
            return f, x, {k: cols[k] for k in columns}  # in the order asked

    def column_names(self) -> tuple[str, ...]:
        """The end-of-run columns of the table that the parameters give (extras, metrics, ``eval_loss``,
        ``eval_<metric>``; :func:`lrsweep.training.end_of_run`), found by tracing, in that order."""
        setup, names = self.setup, []

        def columns(v, data):  # the dict's own order (eval_shape's output would come back sorted)
            out = _training.end_of_run(setup, v, data, setup.initial_params(v))
            names.extend(out)
            return out

        with jax.enable_x64(self.x64):
            jax.eval_shape(columns, setup.defaults(), self.host_data)
        return tuple(names)

    def trajectory_columns(self) -> tuple[str, ...]:
        """The columns ``[trajectories] metrics`` asks for: ``true`` — when the problem has metrics, every
        metric column of the table (the metrics, ``eval_loss``, ``eval_<metric>``; not the extras) and
        ``update_rms``, else none; ``false`` — none; a list — those names (checked by
        :func:`lrsweep.checks.check_trajectories`)."""
        t = self.spec.trajectories
        if t is None or t.metrics is False:
            return ()
        if t.metrics is True:
            if not self.problem.metrics:
                return ()
            names = set(self.problem.metrics)
            return (*(c for c in self.column_names() if c.removeprefix("eval_") in names or c == "eval_loss"),
                    "update_rms")
        return tuple(t.metrics)

    def initial_point(self, v: dict) -> Any:
        """The initial parameters of one configuration, on the host."""
        with jax.enable_x64(self.x64):
            return jax.tree.map(np.asarray, self.setup.initial_params(self.setup.concrete(v)))

    def schedule_factors(self, v: dict) -> np.ndarray:
        """``η_t / learning_rate`` for ``t = 0 … T`` of one configuration, as the engine computes it."""
        with jax.enable_x64(self.x64):
            c = self.setup.concrete(v)
            c["learning_rate"] = self.setup.cast("learning_rate", np.ones(1))[0]
            lr = self.setup.learning_rate(c)
            t = jnp.arange(self.spec.steps + 1, dtype=jnp.int32)
            return np.asarray(jax.vmap(lr)(t) if callable(lr) else jnp.broadcast_to(lr, t.shape), np.float64)

    def schedule_names(self) -> tuple:
        return self.setup.schedule_names()

    def loss_of(self, v: dict):
        """``params -> loss`` of one configuration on its whole training data (traceable)."""
        f = self.setup.loss_at(v, self.host_data)
        return lambda p: f(p, jnp.asarray(0, jnp.int32), self.host_data["train"])

    def hessians_at_init(self, values: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Hessian (n, d, d) at the initial point and the initial point (n, d) of flat-vector losses.

        ``values`` maps axis names to arrays of length n; missing axes take their first value.
        One compiled ``vmap`` over the configurations (used by :mod:`lrsweep.theory`).
        """
        n = len(next(iter(values.values()))) if values else 1
        with jax.enable_x64(self.x64):
            vals = self.batch_values(values, n)

            def one(v):
                x0 = self.setup.initial_params(v)
                return jax.hessian(self.loss_of(v))(x0), x0

            h, x0 = jax.jit(jax.vmap(one))(vals)
            return np.asarray(h, np.float64), np.asarray(x0, np.float64)

    def batch_values(self, values: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
        """``values`` broadcast to ``n`` configurations, every other axis at its first value, cast."""
        d = self.setup.defaults()
        return {k: self.setup.cast(k, np.broadcast_to(values[k], (n,)) if k in values else np.full(n, d[k]))
                for k in self.swept}


def _fetch(lo: int, hi: int, res: dict[str, jax.Array]) -> tuple[int, int, dict[str, np.ndarray]]:
    """Copy one chunk's metrics to the host, dropping its padding."""
    return lo, hi, {m: np.asarray(x)[: hi - lo] for m, x in res.items()}


__all__ = ["Program", "SweepError"]
