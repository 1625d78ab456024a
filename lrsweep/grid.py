"""The grid: axes ↔ a flat configuration axis, and fixed-size chunks of it.

Configuration ``i`` of a grid with axes of lengths ``(n_0, …, n_k)`` sits at the
C-order multi-index ``np.unravel_index(i, shape)``: the last axis varies fastest.
Chunks all have the same length (the last one padded by repeating its final
configuration), so the compiled program sees one shape.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from lrsweep.config import Axis, SweepSpec


def axis_arrays(axes: tuple[Axis, ...]) -> dict[str, np.ndarray]:
    """Numeric value arrays of each axis; a categorical axis gives its value *indices*."""
    return {a.name: (np.arange(len(a), dtype=np.float64) if a.categorical else np.asarray(a.values, np.float64))
            for a in axes}


_CACHE: list = [None, None]  # (axes, arrays) of the last grid asked for


def _axis_arrays_cached(axes: tuple[Axis, ...]) -> dict[str, np.ndarray]:
    """:func:`axis_arrays`, converted once per grid: chunks ask for slices of it again and again, and
    the cache is keyed by the axes' identity (hashing a million-value axis would cost more)."""
    if _CACHE[0] is not axes:
        arrays = axis_arrays(axes)
        for v in arrays.values():
            v.flags.writeable = False
        _CACHE[:] = [axes, arrays]
    return _CACHE[1]


def configurations(spec: SweepSpec, start: int = 0, stop: int | None = None) -> dict[str, np.ndarray]:
    """Axis values of configurations ``start … stop-1`` in flat order, one float64 array per axis.

    >>> from lrsweep.config import from_dict
    >>> spec = from_dict({"name": "t", "steps": 1, "loss": {"name": "quadratic", "curvatures": [1.0]},
    ...                   "axes": {"learning_rate": {"values": [0.1, 0.2]}, "momentum": {"values": [0.0, 0.9]}}})
    >>> configurations(spec)["momentum"]
    array([0. , 0.9, 0. , 0.9])
    """
    stop = spec.size if stop is None else stop
    idx = np.unravel_index(np.arange(start, stop), spec.shape)
    arrays = _axis_arrays_cached(spec.axes)
    return {a.name: arrays[a.name][i] for a, i in zip(spec.axes, idx)}


def chunks(n: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of consecutive chunks covering ``range(n)``.

    >>> list(chunks(10, 4))
    [(0, 4), (4, 8), (8, 10)]
    """
    for start in range(0, n, chunk_size):
        yield start, min(start + chunk_size, n)


def pad(values: dict[str, np.ndarray], size: int) -> dict[str, np.ndarray]:
    """Pad every array to ``size`` by repeating its last element (padded rows are dropped later)."""
    out = {}
    for k, v in values.items():
        n = len(v)
        out[k] = v if n == size else np.concatenate([v, np.repeat(v[-1:], size - n)])
    return out


BATCH_BYTES = 1 << 20  # the automatic vmap width keeps ~1 MiB of working set per block


def batch_size_for(spec: SweepSpec, state_bytes: int = 0) -> int:
    """The vmap width ``B``: ``run.batch``, or when that is 0 the power of two (4 … 2¹⁸) whose block
    of parameters, optimizer state, summaries and update temporaries (``state_bytes`` per
    configuration) fills about :data:`BATCH_BYTES` — a cache-sized working set.

    Every configuration is computed by the same ``B``-wide program (chunks are ``lax.map``-ped over
    blocks of ``B``; a grid smaller than ``B`` is padded to it), so a configuration's result does not
    depend on the grid around it, the chunk length, the number of devices or of processes: XLA's
    code for a vectorised loop may round differently for different widths (a batched matmul is
    blocked by its batch size), and a width fixed by the problem alone rules that out. ``B`` depends
    only on the problem and ``run.batch``, never on the grid's size.

    >>> from lrsweep.config import from_dict
    >>> spec = from_dict({"name": "t", "steps": 1, "loss": {"name": "quadratic", "curvatures": [1.0]},
    ...                   "axes": {"learning_rate": {"min": 0.1, "max": 1.0, "num": 10**6}}})
    >>> batch_size_for(spec, state_bytes=56)   # x²: 4 B of parameter, 52 B of summaries
    16384
    >>> batch_size_for(spec, state_bytes=124_000)   # the 272-point tanh network's update temporaries
    8
    >>> batch_size_for(from_dict({**spec.to_dict(), "axes": {"learning_rate": {"values": [0.5]}}}), 56)
    16384
    """
    b = spec.run.batch
    if b == 0:
        per = max(1, state_bytes)
        b = 1 << int(np.clip(np.round(np.log2(BATCH_BYTES / per)), 2, 18))
    return max(1, b)


def chunk_size_for(spec: SweepSpec, requested: int | None = None, devices: int = 1, batch: int | None = None) -> int:
    """Configurations per device in one dispatched chunk: ``requested`` (default ``run.chunk_size``)
    rounded up to a multiple of the batch width, and no longer than the device's share of the grid
    (a padded chunk costs as much as a full one)."""
    b = batch or batch_size_for(spec)
    share = math.ceil(spec.size / max(1, devices))
    c = min(requested or spec.run.chunk_size, share)
    return max(1, math.ceil(c / b)) * b


def n_chunks(n: int, chunk_size: int) -> int:
    return math.ceil(n / chunk_size)
