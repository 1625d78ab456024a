"""scripts/seed_figures.py: the curvature and seed-case figures draw from small in-memory results (shape checks,
no pixels)."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import seed_figures as pc  # scripts/seed_figures.py (on sys.path: conftest.py)

import lrsweep


def test_critical_vs_sharpness_and_metric_vs_lr():
    spec = lrsweep.from_dict({"name": "q", "steps": 100, "dtype": "float64",
                              "loss": {"name": "quadratic", "curvatures": [1.0, 4.0]},
                              "init": {"points": [[1.0, 1.0]]},
                              "axes": {"learning_rate": {"min": 0.05, "max": 2.0, "num": 16, "scale": "log"},
                                       "loss.curvature_scale": {"values": [0.5, 1.0]}}})
    r = lrsweep.run(spec, progress=False)
    fig, ax = plt.subplots()
    pc.plot_critical_vs_sharpness([r], ax, columns=["critical_asymptotic"])
    x, y = ax.lines[0].get_data()
    np.testing.assert_allclose(y, x, rtol=1e-3)  # quadratic: on the diagonal
    ax.clear()
    r.table["dead_fraction"] = (r.table["learning_rate"] > 0.5).astype(float)
    pc.plot_metric_vs_lr(r, ax, metric="dead_fraction")
    assert ax.get_xscale() == "log" and len(ax.lines) >= 2
    plt.close(fig)


def test_sharpness_track_marks_two_over_eta():
    steps = np.arange(0, 30, 10)
    track = pd.DataFrame({"learning_rate": np.repeat([0.1, 0.5], 3), "step": np.tile(steps, 2),
                          "loss": [1.0, 0.5, 0.2, 1.0, 2e4, np.nan], "sharpness": [3.0, 3.0, 3.0, 5.0, 9.0, np.nan]})
    fig, axes = plt.subplots(1, 2)
    pc.plot_sharpness_track(track, axes)
    dashed = sorted(line.get_ydata()[0] for line in axes[1].lines if line.get_linestyle() == "--")
    assert dashed == [4.0, 20.0]
    assert len(axes[0].lines[1].get_xdata()) == 2  # the diverging run is drawn up to its blow-up
    plt.close(fig)
