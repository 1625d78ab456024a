"""How a sweep is cut up: memory and cost of one configuration, freeze interval, chunk length.

Everything here reads XLA's own analyses of one configuration's update (``cost_analysis`` for flops
and bytes, ``memory_analysis`` for temporaries); nothing here changes what a configuration computes,
only how fast (the freeze interval ``K`` of :func:`check_every`, the chunk length).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from lrsweep import outcomes as _outcomes
from lrsweep import training as _training
from lrsweep.configuration import Setup

CHUNK_COST = 2e10  # cost units of one device's chunk when run.chunk_size = 0
MAX_CHUNKS = 1024  # ... and at most this many chunks in a sweep


@dataclass(frozen=True)
class Costs:
    """XLA's cost (flops + bytes accessed / 4) of one update and one block's end, and the bytes one
    configuration needs (parameters, optimizer state, summaries, the update's temporaries)."""

    update: float
    look: float
    state_bytes: int
    data_bytes: int


def _sds(tree):
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(np.shape(a), a.dtype), tree)


def measure(setup: Setup, data: dict) -> Costs:
    """The :class:`Costs` of one configuration of ``setup`` (failures give neutral numbers; tracing
    errors are reported by the engine's check)."""
    crit, spec = setup.spec.criteria, setup.spec
    d = setup.defaults()
    abstract = _sds(data)

    def state(v, data):
        params, _, st = _training.start(setup, v)
        return params, st

    def base(v, data):
        return state(v, data), watch0(v, data)

    def watch0(v, data):
        params, _, _ = _training.start(setup, v)
        f = setup.loss_at(v, data, 0)(params, jnp.asarray(0, jnp.int32))
        return _outcomes.start(f, setup.reference())

    def step(v, data):  # one update: gradient and loss, update, apply, the divergence rule
        params, opt, st = _training.start(setup, v)
        w = watch0(v, data)
        count = functools.partial(_outcomes.count, ref=setup.reference(), limit=crit.diverge_factor * w.gap0)
        upd = _training.counted_update_fn(setup.loss_at(v, data, 0), opt, count)  # one epoch's order
        zero = jnp.asarray(0, jnp.int32)
        return upd((params, st, zero), zero)[0]

    def look(v, data):  # a block's observation (of a loss already computed), restart saved and freeze
        params, opt, st = _training.start(setup, v)
        w = watch0(v, data)
        f = w.f0 * 0.5
        w = _outcomes.observe(w, f, jnp.asarray(1, jnp.int32), ref=setup.reference(),
                              known_minimum=setup.known_minimum, converge_tol=crit.converge_tol, steps=spec.steps)
        frozen = f > w.gap0
        keep = jax.tree.map(lambda a: _training.freeze(frozen, a, a + 1), (params, st))
        restart = jax.tree.map(lambda a: jnp.where(frozen, a - 1, a), (params, st))
        return keep, restart, w

    def cost(fn):
        c = jax.jit(fn).lower(d, abstract).cost_analysis() or {}
        return float(c.get("flops", 0.0)) + float(c.get("bytes accessed", 0.0)) / 4

    data_bytes = int(sum(np.size(x) * np.dtype(x.dtype).itemsize for x in jax.tree.leaves(data)))
    try:
        with jax.enable_x64(setup.x64):
            b = cost(base)
            per_update, per_look = max(cost(step) - b, 1.0), max(cost(look) - b, 1.0)
            shapes = jax.eval_shape(state, d, abstract)
            memory = jax.jit(step).lower(d, abstract).compile().memory_analysis()
            temp = int(getattr(memory, "temp_size_in_bytes", 0) or 0)
    except Exception:  # noqa: BLE001  (a program that fails to trace is reported by the engine's check)
        return Costs(1.0, 10.0, 0, data_bytes)
    watch = (len(_outcomes.Watch._fields) + 4) * setup.dtype.itemsize  # summaries, the rule's count, the restart's t, f
    state = int(sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(shapes)))
    state_bytes = 2 * state + watch + temp  # parameters and optimizer state, and their restart copy
    return Costs(per_update, per_look, state_bytes, data_bytes)


K_CHOICES = (5, 10, 20, 50, 100, 200)


def check_every(spec, costs: Costs) -> int:
    """The block length ``K`` when ``run.check_every = 0``: how often runs are frozen and the
    summaries observed.

    Divergence is read at every update whatever ``K`` (:mod:`lrsweep.outcomes`). A block's end costs
    ``look`` (summaries, restart, freeze; XLA's cost analysis, flops + bytes/4) once per ``K``
    updates, and the one block holding a run's crossing is replayed once, ``K`` more updates: of the
    :data:`K_CHOICES` the engine takes the ``K`` minimising the overhead
    ``look / (K · update) + K / T``, at most ``T/10`` — from the problem and ``steps`` alone, never
    from the grid, so a configuration's every column is the same alone or inside any grid. A cheap
    update (x²: a few flops against a dozen summaries) gets ``K = 50``; a network's, ``K = 10`` or less.
    """
    T = spec.steps
    K = min(K_CHOICES, key=lambda k: costs.look / (k * costs.update) + k / T)
    return max(1, min(K, T // 10))


def auto_chunk(spec, costs: Costs, K: int, devices: int, batch: int) -> int:
    """Configurations per device and chunk when ``run.chunk_size = 0``: about :data:`CHUNK_COST`
    of work (a second or so of one CPU core — large enough that dispatch costs nothing, small
    enough that progress and resume stay fine-grained), between one block and 2²⁰, and long
    enough that a sweep has at most :data:`MAX_CHUNKS` chunks (the 512² fractal grid, 8
    configurations a chunk by cost alone, made 16,384 chunk files).

    The chunks are then made equal: every chunk has one compiled length and the last one is padded
    to it, so with ``n = ⌈share / c⌉`` chunks of the device's ``share`` the length is ``⌈share / n⌉``
    (rounded up to the block width by :func:`lrsweep.grid.chunk_size_for`), not ``c``. A 10⁵ grid
    on two devices at ``c = 45,568`` had been two chunks of 2 × 45,568, the second 90 % padding
    (1.8× the work); balanced, it is two chunks of 2 × 25,088 (0.4 % padding). Only speed changes: a configuration's
    every column is the same in any chunk (:mod:`lrsweep.engine`)."""
    per_config = spec.steps * (costs.update + costs.look / K)
    share = -(-spec.size // max(1, devices))
    fewest = -(-spec.size // (MAX_CHUNKS * max(1, devices)))
    c = int(np.clip(max(CHUNK_COST / per_config, fewest), batch, 1 << 20))
    n = -(-share // c)
    return max(batch, min(c, -(-share // n)))


def available_memory(device: jax.Device) -> int | None:
    """Bytes a device can give a sweep: the accelerator's limit, or the host's available memory."""
    try:
        stats = device.memory_stats() or {}
    except Exception:  # noqa: BLE001  (CPU devices may not implement it)
        stats = {}
    if "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def fits(costs: Costs, devices) -> tuple[bool, int | None]:
    """Whether one configuration (its state, its update's temporaries and the shared data) fits in the
    memory of the first device; ``(ok, available bytes)``."""
    free = available_memory(devices[0])
    if free is None:
        return True, None
    return costs.state_bytes + costs.data_bytes <= free, free
