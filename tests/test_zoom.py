"""lrsweep zoom (re-sweep a window, provenance, frames) and lrsweep dimension on a tiny 2-D sweep."""

import json
import math

import numpy as np
import pytest

import lrsweep
from lrsweep import cli, store, zoom
from lrsweep.config import SweepError


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    """GD on f = ½·2s·x²: diverges iff η > 1/s, a straight line in log-log; 8 × 8, 20 steps."""
    out = tmp_path_factory.mktemp("zoom") / "parent"
    spec = lrsweep.from_dict({
        "name": "q2", "steps": 20, "loss": {"name": "quadratic", "curvatures": [2.0]},
        "init": {"points": [[-1.0]]}, "boundary": {"max_rounds": 0},
        "axes": {"learning_rate": {"min": 0.1, "max": 10.0, "num": 8, "scale": "log"},
                 "loss.curvature_scale": {"min": 0.25, "max": 4.0, "num": 8, "scale": "log"}}})
    lrsweep.run(spec, out, progress=False)
    return out


def test_zoom_window_resolution_dtype_and_provenance(parent, tmp_path):
    out = tmp_path / "z1"
    r = zoom.zoom(parent, (1.0, 1.0), 0.5, 6, out)
    lr, s = r.spec.axes
    assert r.spec.dtype == "float64" and len(lr.values) == len(s.values) == 6
    # half of 2 decades around 1 in log space: 10^±0.5
    assert math.isclose(min(lr.values), 10**-0.5, rel_tol=1e-12) and math.isclose(max(lr.values), 10**0.5)
    assert math.isclose(min(s.values), 10**-0.3010299956639812, rel_tol=1e-9)
    m = json.loads((out / "manifest.json").read_text())
    assert m["zoom_depth"] == 1 and m["parent"]["path"] == str(parent) and m["parent"]["name"] == "q2"
    assert m["parent"]["window"]["learning_rate"] == [0.1, 10.0]
    # the physics survives the zoom: diverged iff η·s > 1 (away from the line itself)
    t = r.table
    prod = t["learning_rate"] * t["loss.curvature_scale"]
    far = (prod < 0.9) | (prod > 2.0)  # |1 − 2ηs|^20 > 3^20 beyond 2: diverged within 20 steps
    assert (t.loc[far, "diverged"].astype(bool) == (prod[far] > 1)).all()
    # a zoom of a zoom records its parent and depth 2
    r2 = zoom.zoom(out, None, 0.5, 4, tmp_path / "z2")
    m2 = json.loads((tmp_path / "z2" / "manifest.json").read_text())
    assert m2["zoom_depth"] == 2 and m2["parent"]["path"] == str(out) and m2["parent"]["zoom_depth"] == 1
    assert max(r2.spec.axes[0].values) / min(r2.spec.axes[0].values) < 10**0.5 + 1e-9


def test_frames_and_cli(parent, tmp_path, capsys):
    assert cli.main(["zoom", str(parent), "--center", "1,1", "--res", "4", "--frames", "1", "--factor", "2",
                     "--out", str(tmp_path / "seq"), "--quiet"]) == 0
    pngs = sorted((tmp_path / "seq" / "frames").glob("frame-*.png"))
    assert [p.name for p in pngs] == ["frame-000.png", "frame-001.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs)
    assert store.load(tmp_path / "seq" / "level-1").manifest["zoom_depth"] == 1
    assert cli.main(["dimension", str(parent), "--save"]) == 0
    assert "D = " in capsys.readouterr().out
    saved = json.loads((parent / "dimension.json").read_text())
    assert saved["grid"] == [8, 8] and saved["boundary_cells"] > 0


def test_zoom_needs_a_2d_sweep_and_a_positive_log_centre(parent, tmp_path):
    spec = store.load(parent).spec
    with pytest.raises(SweepError, match="--center"):
        zoom.zoom_spec(spec, (-1.0, 1.0), 0.5, 4)
    one = lrsweep.from_dict({"name": "q1", "steps": 5, "loss": {"name": "quadratic", "curvatures": [2.0]},
                             "init": {"points": [[-1.0]]}, "axes": {"learning_rate": {"values": [0.1, 2.0]}}})
    with pytest.raises(SweepError, match="2-D"):
        zoom.zoom_spec(one, (1.0, 1.0), 0.5, 4)
    assert cli.main(["zoom", str(tmp_path / "nothing"), "--quiet"]) == 2
    assert np.isfinite(zoom.window((1.0, 10.0), "log", 3.0, 0.1)).all()
