"""Box-counting dimension on shapes of known dimension, before it is trusted on sweeps."""

import math

import numpy as np
import pytest

from lrsweep import fractal


def test_straight_boundary_is_one():
    y, x = np.mgrid[0:1024, 0:1024]
    d = fractal.dimension(np.where(0.7 * x + y < 800, -1.0, 1.0))
    assert abs(d.value - 1.0) < 0.03, d
    assert d.stderr < 0.03


def test_disc_edge_is_one():
    y, x = np.mgrid[0:1024, 0:1024]
    d = fractal.dimension(np.where((x - 512) ** 2 + (y - 480) ** 2 < 300**2, -2.0, 3.0))
    assert abs(d.value - 1.0) < 0.05, d


def test_koch_curve_is_log4_over_log3():
    d = fractal.dimension(fractal.koch_curve(6, 2048), is_mask=True)
    assert abs(d.value - math.log(4) / math.log(3)) < 0.04, d
    assert abs(d.value - 1.0) > 0.15  # clearly not a smooth curve


def test_random_phases_fill_the_plane():
    rng = np.random.default_rng(0)
    d = fractal.dimension(rng.standard_normal((256, 256)))
    assert abs(d.value - 2.0) < 0.05, d


def test_nan_counts_as_diverged_and_no_boundary_is_nan():
    s = np.full((32, 32), -1.0)
    assert np.isnan(fractal.dimension(s).value)
    s[:, 16:] = np.nan
    edge = fractal.boundary_cells(s)
    assert edge[:, 15].all() and edge[:, 16].all() and edge.sum() == 64


@pytest.mark.parametrize("shape", [(8,), (2, 2, 2)])
def test_boundary_needs_a_2d_grid(shape):
    with pytest.raises(ValueError, match="2-D"):
        fractal.boundary_cells(np.zeros(shape))
