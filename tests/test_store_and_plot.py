"""Results on disk (round trip, atomic writes) and the figures drawn from them."""

import json

import matplotlib
import numpy as np
import pandas as pd
import pytest

import lrsweep
from lrsweep import plot, store

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def momentum_result(tmp_path_factory):
    spec = lrsweep.from_dict({
        "name": "m", "steps": 200, "loss": {"name": "quadratic", "curvatures": [1.0, 10.0]},
        "init": {"points": [[1.0, 1.0]]},
        "axes": {"learning_rate": {"min": 1e-2, "max": 2.0, "num": 48, "scale": "log"},
                 "momentum": {"min": 0.0, "max": 0.9, "num": 10}}})
    out = tmp_path_factory.mktemp("res")
    return lrsweep.run(spec, out=out, progress=False), out


def test_round_trip(momentum_result):
    r, out = momentum_result
    back = store.load(out)
    assert back.spec == r.spec
    pd.testing.assert_frame_equal(back.table, r.table)
    pd.testing.assert_frame_equal(back.boundary, r.boundary, check_exact=False, rtol=1e-15)
    assert back.manifest["configurations"] == 480


def test_failed_save_leaves_previous_results(momentum_result, tmp_path):
    """A write that fails midway leaves the earlier files intact and no temporary folder behind."""
    r, _ = momentum_result
    out = tmp_path / "r"
    store.save(r, out)
    before = (out / "manifest.json").read_text()

    def boom(path):
        raise OSError("disk full")

    with pytest.raises(OSError):
        store.save(r, out, extra_files={"extra.bin": boom})
    assert (out / "manifest.json").read_text() == before
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp")]
    assert json.loads(before)["status"] == "complete"


def test_phase_diagram_draws_theory_and_boundary(momentum_result):
    """The theory line sits at ηλ_max = 2(1+β) in data coordinates; measured markers match boundary.csv."""
    r, _ = momentum_result
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    plot.plot_phase(r, ax, x="learning_rate", y="momentum")
    lines = {line.get_label(): line for line in ax.get_lines()}
    th = lines["theory (asymptotic)"]
    np.testing.assert_allclose(th.get_xdata(), 2 * (1 + th.get_ydata()) / 10.0, rtol=1e-12)
    meas = next(line for k, line in lines.items() if k.startswith("measured"))
    b = r.boundary.set_index("momentum")
    for x, y in zip(meas.get_xdata(), meas.get_ydata()):
        assert x == pytest.approx(b.loc[y, "critical"], rel=1e-12)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    # a diverged cell and a converged cell get different colours
    mesh = ax.collections[0]
    img = np.asarray(mesh.get_array()).reshape(10, 48)
    colours = mesh.cmap(mesh.norm(img))
    assert not np.allclose(colours[0, 0], colours[0, -1])
    plt.close(fig)


def test_draw_all_writes_each_format(momentum_result, tmp_path):
    r, _ = momentum_result
    paths = plot.draw_all(r, tmp_path, formats=("pdf", "svg", "png"))
    assert {p.suffix for p in paths} == {".pdf", ".svg", ".png"}
    assert all(p.stat().st_size > 1000 for p in paths)
