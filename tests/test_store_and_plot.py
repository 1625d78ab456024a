"""Results on disk (round trip, atomic writes) and the figures drawn from them."""

import json

import matplotlib
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


def test_draw_all_writes_each_format(momentum_result, tmp_path):
    r, _ = momentum_result
    paths = plot.draw_all(r, tmp_path, formats=("pdf", "svg", "png"))
    assert {p.suffix for p in paths} == {".pdf", ".svg", ".png"}
    assert {p.stem for p in paths} == {"phase", "boundary", "loss"}  # picture tests: tests/test_plot.py
    assert all(p.stat().st_size > 1000 for p in paths)
