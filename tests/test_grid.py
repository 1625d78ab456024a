"""lrsweep.grid: the flat configuration axis, chunks and the vmap width.

What it must hold: configuration ``i`` is the C-order multi-index ``unravel_index(i, shape)`` (the last axis
fastest), whatever slice of the grid is asked for; chunks cover ``range(N)`` exactly once; padding repeats
the last configuration; the vmap width ``B`` is a property of the sweep definition alone (never of the
device count or the chunk length), and chunk lengths are whole multiples of it.
"""

import itertools
import math

import numpy as np
import pytest

from lrsweep import grid
from lrsweep.config import from_dict


def _spec(axes, **extra):
    return from_dict({"name": "g", "steps": 1, "loss": {"name": "quadratic", "curvatures": [1.0]}, "axes": axes,
                      **extra})


AXES = {"learning_rate": {"min": 1e-3, "max": 1.0, "num": 5, "scale": "log"},
        "momentum": {"values": [0.0, 0.5, 0.9]},
        "schedule": {"values": ["constant", "cosine"]}}


def test_flat_order_is_c_order_last_axis_fastest():
    spec = _spec(AXES)
    assert spec.shape == (5, 3, 2) and spec.size == 30
    got = grid.configurations(spec)
    lrs = np.geomspace(1e-3, 1.0, 5)
    expected = list(itertools.product(lrs, [0.0, 0.5, 0.9], [0.0, 1.0]))  # categorical: value indices
    np.testing.assert_allclose(np.stack([got["learning_rate"], got["momentum"], got["schedule"]], 1),
                               np.array(expected), rtol=1e-12)
    assert all(v.dtype == np.float64 for v in got.values())


def test_any_slice_equals_the_slice_of_the_whole():
    spec = _spec(AXES)
    whole = grid.configurations(spec)
    for start, stop in ((0, 1), (7, 19), (29, 30), (0, 30)):
        part = grid.configurations(spec, start, stop)
        for k in whole:
            np.testing.assert_array_equal(part[k], whole[k][start:stop])


def test_axis_arrays_are_values_or_category_indices():
    spec = _spec(AXES)
    arrays = grid.axis_arrays(spec.axes)
    np.testing.assert_array_equal(arrays["schedule"], [0.0, 1.0])
    np.testing.assert_allclose(arrays["learning_rate"], np.geomspace(1e-3, 1.0, 5), rtol=1e-12)


@pytest.mark.parametrize("n, size", [(1, 1), (10, 4), (12, 4), (1000, 333)])
def test_chunks_cover_the_grid_once(n, size):
    spans = list(grid.chunks(n, size))
    covered = np.concatenate([np.arange(a, b) for a, b in spans])
    np.testing.assert_array_equal(covered, np.arange(n))
    assert all(b - a == size for a, b in spans[:-1]) and 0 < spans[-1][1] - spans[-1][0] <= size
    assert grid.n_chunks(n, size) == len(spans) == math.ceil(n / size)


def test_pad_repeats_the_last_configuration():
    values = {"learning_rate": np.array([0.1, 0.2, 0.3]), "momentum": np.array([0.0, 0.5, 0.9])}
    padded = grid.pad(values, 5)
    np.testing.assert_array_equal(padded["learning_rate"], [0.1, 0.2, 0.3, 0.3, 0.3])
    np.testing.assert_array_equal(padded["momentum"], [0.0, 0.5, 0.9, 0.9, 0.9])
    assert grid.pad(values, 3)["learning_rate"] is values["learning_rate"]  # full chunks are not copied


@pytest.mark.parametrize("n", [1, 7, 100, 10_000, 10**6])
@pytest.mark.parametrize("state_bytes", [0, 56, 4096, 10**6])
def test_automatic_vmap_width(n, state_bytes):
    """A power of two in [4, 2¹⁸] near 1 MiB / state_bytes, the same for every grid size (a small grid
    is padded to it: a configuration is computed by the same program whatever the grid around it)."""
    spec = _spec({"learning_rate": {"min": 0.1, "max": 1.0, "num": n}})
    b = grid.batch_size_for(spec, state_bytes)
    assert b == grid.batch_size_for(_spec({"learning_rate": {"values": [0.5]}}), state_bytes)
    assert b & (b - 1) == 0 and 4 <= b <= 2**18
    assert b * max(1, state_bytes) <= 2 * grid.BATCH_BYTES or b == 4


def test_fixed_vmap_width_and_chunks_that_are_its_multiples():
    spec = _spec({"learning_rate": {"min": 0.1, "max": 1.0, "num": 1000}}, run={"batch": 16, "chunk_size": 100})
    assert grid.batch_size_for(spec, 10**9) == 16  # run.batch wins over the memory rule
    for devices in (1, 2, 3, 8):
        c = grid.chunk_size_for(spec, devices=devices)
        assert c % 16 == 0 and c >= 16
        assert c <= math.ceil(math.ceil(1000 / devices) / 16) * 16  # no longer than the device's share
    assert grid.chunk_size_for(spec, requested=40) == 48
    assert grid.chunk_size_for(spec, requested=5000) == 1008  # the whole grid, rounded up to the width


def test_vmap_width_ignores_chunking_and_devices():
    """B depends only on the sweep definition: chunk_size and devices (which must not change a result)
    leave it alone."""
    base = {"learning_rate": {"min": 0.1, "max": 1.0, "num": 5000}}
    widths = {grid.batch_size_for(_spec(base, run={"chunk_size": c, "devices": d}), 56)
              for c in (0, 64, 4096) for d in (0, 1, 2)}
    assert len(widths) == 1
