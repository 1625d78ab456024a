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


# --------------------------------------------------------------------------- the notebook's estimator
# Sohl-Dickstein's notebook (estimate_fractal_dimension): 2 × 2 sign-change blocks, porespy's
# boxcount (ten sizes 10 … the image, boxes holding both edge and non-edge cells), local slopes
# -d log N / d log size by np.gradient, median over every size of every image.


def _porespy_loop(im: np.ndarray, bins: int = 10):
    """porespy.metrics.boxcount's algorithm as its documentation states it, one tile at a time."""
    sizes = np.unique(np.logspace(1, np.log10(min(im.shape)), bins).astype(int))
    counts = []
    for d in sizes:
        n = 0
        for i in range(0, im.shape[0], d):
            for j in range(0, im.shape[1], d):
                tile = im[i:i + d, j:j + d]
                n += bool(tile.any()) and not bool(tile.all())
        counts.append(n)
    return sizes, np.array(counts), -np.gradient(np.log(np.array(counts, float)), np.log(sizes.astype(float)))


@pytest.mark.parametrize("shape", [(64, 64), (50, 73), (129, 40)])
def test_spanning_box_counts_match_the_tile_loop(shape):
    """The vectorised count (partial tiles padded) equals porespy's tile-by-tile loop exactly."""
    rng = np.random.default_rng(sum(shape))
    for density in (0.02, 0.5, 0.97):  # sparse, half, nearly full (all-set tiles must not count)
        im = rng.random(shape) < density
        sizes, counts, slopes = fractal.spanning_box_counts(im)
        ref_sizes, ref_counts, ref_slopes = _porespy_loop(im)
        assert sizes.tolist() == ref_sizes.tolist()
        assert counts.tolist() == ref_counts.tolist()
        ok = np.isfinite(ref_slopes)
        np.testing.assert_allclose(slopes[ok], ref_slopes[ok], rtol=0, atol=1e-12)


def test_sign_change_blocks_are_the_notebooks_edges():
    """sign(max · min) < 0 over each 2 × 2 block; zero is on neither side; NaN is diverged."""
    s = np.array([[-1.0, 0.0, 2.0],
                  [-1.0, -3.0, np.nan]])
    assert fractal.sign_change_blocks(s).tolist() == [[False, True]]
    assert fractal.sign_change_blocks(np.array([[-1.0, 0.0], [0.0, 0.0]])).tolist() == [[False]]


def test_notebook_estimator_on_a_straight_boundary_and_a_circle_is_one():
    y, x = np.mgrid[0:1024, 0:1024]
    line = fractal.notebook_dimension(np.where(0.7 * x + y < 800, -1.0, 1.0))
    disc = fractal.notebook_dimension(np.where((x - 512) ** 2 + (y - 480) ** 2 < 300**2, -2.0, 3.0))
    assert abs(line.value - 1.0) < 0.05, line
    assert abs(disc.value - 1.0) < 0.05, disc


def test_notebook_estimator_on_random_phases_is_two():
    d = fractal.notebook_dimension(np.random.default_rng(0).standard_normal((512, 512)))
    assert abs(d.value - 2.0) < 0.1, d


def test_notebook_estimator_on_the_koch_curve():
    d = fractal.notebook_dimension(fractal.koch_curve(6, 2048), is_mask=True)
    assert abs(d.value - math.log(4) / math.log(3)) < 0.05, d


def test_sierpinski_triangle_both_estimators():
    """log 3 / log 2: exact for dyadic boxes (ours); the notebook's ten non-dyadic sizes at 4096² land
    within 0.05 (at 1024²–2048² its median is 1.68–1.72: the estimator's own error on a known set)."""
    tri = fractal.sierpinski_triangle(12)
    ours = fractal.dimension(tri, is_mask=True)
    assert abs(ours.value - math.log2(3)) < 1e-9, ours
    nb = fractal.notebook_dimension(tri, is_mask=True)
    assert abs(nb.value - math.log2(3)) < 0.05, nb


def test_filled_square_is_two_for_touching_boxes_and_one_for_spanning_boxes():
    """Ours counts boxes that touch the set: a filled square is 2-D. porespy's boxcount counts boxes
    holding both set and unset cells, i.e. the square's edge: 1-D."""
    sq = np.zeros((1024, 1024), bool)
    sq[256:768, 256:768] = True  # aligned with every dyadic box up to 256
    ours = fractal.dimension(sq, is_mask=True)
    assert abs(ours.value - 2.0) < 1e-9, ours
    nb = fractal.notebook_dimension(sq, is_mask=True)
    assert abs(nb.value - 1.0) < 0.1, nb


def test_notebook_estimator_pools_the_slopes_of_every_image():
    y, x = np.mgrid[0:256, 0:256]
    a = np.where(x + 0.5 * y < 200, -1.0, 1.0)
    b = np.random.default_rng(1).standard_normal((256, 256))
    both = fractal.notebook_dimension([a, b])
    one_a, one_b = fractal.notebook_dimension(a), fractal.notebook_dimension(b)
    assert both.slopes == one_a.slopes + one_b.slopes
    assert both.value == pytest.approx(float(np.median(both.slopes)))
    assert both.per_image == (one_a.value, one_b.value)
    assert both.q25 <= both.value <= both.q75


def test_notebook_estimator_without_a_boundary_is_nan():
    assert np.isnan(fractal.notebook_dimension(np.full((64, 64), -1.0)).value)


def test_score_grid_npz_stands_in_for_a_dropped_table(tmp_path):
    """Big results keep score_grid.npz instead of table.parquet; load_grid reads it back exactly."""
    from types import SimpleNamespace

    import pandas as pd

    rng = np.random.default_rng(3)
    a0, a1 = np.geomspace(1, 10, 5), np.geomspace(2, 20, 4)
    score = rng.standard_normal(20)
    score[3], score[7] = 1e-60, -1e-50  # below float32's range: the sign must survive
    perm = rng.permutation(20)  # the table's rows in any order; 'config' is the row-major index
    table = pd.DataFrame({"config": perm, "score": score[perm], "diverged": score[perm] > 0})
    axes = [SimpleNamespace(name="learning_rate.layer0", values=a0), SimpleNamespace(name="learning_rate.layer1",
                                                                                      values=a1)]
    result = SimpleNamespace(spec=SimpleNamespace(shape=(5, 4), axes=axes), table=table)
    out = fractal.write_score_grid(result, tmp_path)
    assert out.name == fractal.SCORE_GRID
    back = fractal.load_grid(tmp_path)
    np.testing.assert_allclose(back, score.reshape(5, 4), rtol=1e-7, atol=1e-44)
    np.testing.assert_array_equal(np.sign(back), np.sign(score.reshape(5, 4)))
    with np.load(out) as z:
        np.testing.assert_array_equal(z["diverged"], score.reshape(5, 4) > 0)
        np.testing.assert_array_equal(z["axis0"], a0)
        assert z["names"].tolist() == ["learning_rate.layer0", "learning_rate.layer1"]


# --------------------------------------------------------------------------- sweeps/problems/fractal.py


def _problems():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "sweeps" / "problems" / "fractal.py"
    spec = importlib.util.spec_from_file_location("fractal_problems", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_problem_file_has_fractal_mlps_data_and_weights():
    """full_batch() is the built-in fractal_mlp: the same loss at the same initial weights (float64)."""
    import jax
    import jax.numpy as jnp

    from lrsweep.losses import fractal_mlp

    fp = _problems()
    with jax.enable_x64(True):
        key = jax.random.fold_in(jax.random.key(0), 0)
        built = fractal_mlp(width=16, activation="tanh")
        w = built.init(key, jnp.float64(1.0))
        prob = fp.full_batch()
        mine = prob.init(key, jnp.float64(1.0))
        np.testing.assert_array_equal(np.asarray(mine["layer0"]), np.asarray(w["layer0"]))
        ref, got = float(built.fn(w)), float(prob.loss(w, tuple(jnp.asarray(a) for a in prob.data)))
    assert got == pytest.approx(ref, rel=1e-14, abs=0)


def test_offset_every_step_is_the_notebooks_train_step_not_an_offset_at_init():
    """The swept every-step problem follows the notebook's train_step (offset added before every update)
    to 1e-10 relative in float64 over 10 updates (exact at 3; over 40 updates a chaotic run's rounding
    differences grow to 7e-8); the offset-at-initialisation sweep is a different dynamical system."""
    import lrsweep

    fp = _problems()
    offsets, rates, steps = [0.5, 2.0], [3.0, 20.0], 10
    spec = lrsweep.load_sweep("sweeps/fractal-init-offset-every-step.toml", [
        f"axes.loss.offset_every_step=[{offsets[0]}, {offsets[1]}]", f"axes.learning_rate=[{rates[0]}, {rates[1]}]",
        f"steps={steps}"])
    table = lrsweep.run(spec, progress=False).table.sort_values("config")
    once = lrsweep.run(lrsweep.load_sweep("sweeps/fractal-init-offset.toml", [
        f"axes.loss.init_offset=[{offsets[0]}, {offsets[1]}]", f"axes.learning_rate=[{rates[0]}, {rates[1]}]",
        f"steps={steps}"]), progress=False).table.sort_values("config")
    for i, c in enumerate(offsets):
        for j, lr in enumerate(rates):
            ref = fp.notebook_offset_losses(c, lr, steps + 1)  # losses before updates 0 … steps
            row = table.iloc[i * len(rates) + j]
            assert row["initial_loss"] == pytest.approx(ref[0], rel=1e-12)
            if not row["diverged"]:
                assert row["final_loss"] == pytest.approx(ref[-1], rel=1e-10)
                assert abs(once.iloc[i * len(rates) + j]["final_loss"] / ref[-1] - 1) > 1e-3
