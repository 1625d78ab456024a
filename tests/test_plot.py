"""Figures: they look at the picture (theory where the formula says, boundary from boundary.csv,
log axes, distinct phase colours), byte-identical files, every kind, styles and sizes, the CLI."""

import dataclasses
import shutil
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import lrsweep
from lrsweep import figstyle, plot, store
from lrsweep.cli import main

matplotlib.use("Agg")
RESULTS = Path(__file__).resolve().parents[1] / "results"


@pytest.fixture(scope="module")
def momentum():
    return store.load(RESULTS / "quadratic-momentum")


@pytest.fixture(scope="module")
def nesterov():
    return store.load(RESULTS / "quadratic-nesterov")


@pytest.fixture(scope="module")
def x2():
    return store.load(RESULTS / "x2-gd")


@pytest.fixture(scope="module")
def schedules():
    return store.load(RESULTS / "schedules")


def _line(ax, gid):
    (line,) = [ln for ln in ax.get_lines() if ln.get_gid() == gid]
    return line


@pytest.mark.parametrize("name, formula", [
    ("momentum", lambda b: 2 * (1 + b) / 10.0),                    # heavy ball: ηλ_max = 2(1+β), λ_max = 10
    ("nesterov", lambda b: 2 * (1 + b) / (1 + 2 * b) / 10.0),      # Nesterov: ηλ_max = 2(1+β)/(1+2β)
])
def test_phase_theory_line_and_boundary_markers(name, formula, request):
    r = request.getfixturevalue(name)
    fig, ax = plt.subplots()
    plot.plot_phase(r, ax, x="learning_rate", y="momentum")
    th = _line(ax, "theory")
    beta = th.get_ydata()
    assert beta.min() == pytest.approx(0.0) and beta.max() == pytest.approx(0.99)
    np.testing.assert_allclose(th.get_xdata(), formula(beta), rtol=1e-12)
    # the line's pixels map back to the formula through the axes' (log) transform
    px = ax.transData.transform(np.column_stack([th.get_xdata(), beta]))
    back = ax.transData.inverted().transform(px)
    np.testing.assert_allclose(back[:, 0], formula(beta), rtol=1e-9)
    # measured markers are boundary.csv's refined critical values, row for row
    csv = pd.read_csv(RESULTS / r.spec.name / "boundary.csv").set_index("momentum")
    meas = _line(ax, "measured")
    assert len(meas.get_xdata()) >= 20
    for x, y in zip(meas.get_xdata(), meas.get_ydata()):
        assert x == csv.loc[y, "critical"]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    plt.close(fig)


def test_phase_colours_diverged_differ_from_converged(momentum):
    fig, ax = plt.subplots()
    plot.plot_phase(momentum, ax, x="learning_rate", y="momentum")
    fig.canvas.draw()
    mesh = ax.collections[0]
    faces = mesh.get_facecolors().reshape(100, 256, 4)  # rows: momentum, columns: learning rate
    outcome = plot.grid_array(momentum, "outcome", "learning_rate", "momentum")
    div, conv = np.argwhere(outcome == "diverged"), np.argwhere(outcome == "converged")
    assert len(div) and len(conv)
    red, blue = faces[tuple(div.T)], faces[tuple(conv.T)]
    assert (red[:, 0] > red[:, 2]).all() and (blue[:, 2] > blue[:, 0]).all()  # red-ish vs blue-ish, every cell
    assert not np.isclose(red[:, :3].mean(0), blue[:, :3].mean(0), atol=0.1).all()
    plt.close(fig)


def test_equalised_score_spreads_both_phases_and_keeps_order(momentum):
    s = momentum.table["score"].to_numpy()
    e = figstyle.equalise(s)
    assert (np.sign(e) == np.where(s > 0, 1, -1)).all()
    # each phase fills its half of [-1, 1] although the raw scores crowd near ±1: uniform quantiles where
    # the scores are distinct (converged side); ties (runs diverging at the same step) share one colour
    q = np.quantile(np.abs(e[s <= 0]), [0.25, 0.5, 0.75])
    np.testing.assert_allclose(q, [0.25, 0.5, 0.75], atol=0.02)
    assert np.median(s[s > 0]) > 0.98 and 0.3 < np.median(e[s > 0]) < 0.7
    for v in np.unique(s[s > 0])[:5]:
        assert np.ptp(e[s == v]) == 0
    order = np.argsort(s, kind="stable")
    assert (np.diff(e[order]) >= 0).all()  # monotone: the equalisation never reorders runs
    assert np.quantile(np.abs(s[s <= 0]), 0.25) > 0.9  # …which the raw score alone would not show
    ticks, labels = figstyle.equalised_ticks(s)
    assert ticks == [-1.0, -0.5, 0.0, 0.5, 1.0] and labels[2] == "0" and labels[0].startswith("−")


def test_log_axes_follow_the_sweep():
    r = store.load(RESULTS / "ill-conditioned")
    fig = plot.figure(r, "phase")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"  # learning rate × curvature scale, both log
    th = _line(ax, "theory")
    np.testing.assert_allclose(th.get_xdata() * 1e4 * th.get_ydata(), 2.0, rtol=1e-6)  # η s κ = 2
    plt.close(fig)
    fig = plot.figure(r, "boundary")
    assert fig.axes[0].get_xscale() == "log" and fig.axes[0].get_yscale() == "log"
    plt.close(fig)


def test_boundary_curve_theory_and_brackets(momentum):
    fig, ax = plt.subplots()
    plot.plot_boundary_curve(momentum, ax, along="momentum")
    th = _line(ax, "theory")
    np.testing.assert_allclose(th.get_ydata(), 2 * (1 + th.get_xdata()) / 10.0, rtol=1e-12)
    csv = pd.read_csv(RESULTS / "quadratic-momentum" / "boundary.csv").set_index("momentum")
    meas = _line(ax, "measured")
    assert len(meas.get_xdata()) >= 20
    np.testing.assert_array_equal(meas.get_ydata(), csv.loc[meas.get_xdata(), "critical"])
    (bars,) = [c for c in ax.containers if hasattr(c, "has_yerr") and c.has_yerr]
    segs = bars.lines[2][0].get_segments()  # one vertical bar per marker: [lower, upper]
    for seg, b in zip(segs, meas.get_xdata()):
        assert seg[0][1] == pytest.approx(csv.loc[b, "lower"], rel=1e-12)
        assert seg[1][1] == pytest.approx(csv.loc[b, "upper"], rel=1e-12)
    np.testing.assert_allclose(_line(ax, "theory-finite").get_ydata(), csv["theory_finite"].sort_index())
    plt.close(fig)


def test_loss_figure_marks_each_slice_critical(momentum, x2):
    fig = plot.figure(momentum, "loss")
    ax = fig.axes[0]
    crit = sorted(ln.get_xdata()[0] for ln in ax.get_lines() if ln.get_gid() == "critical")
    b = momentum.boundary.set_index("momentum")["critical"]
    expect = sorted(b.iloc[[0, 33, 66, 99]])  # the four slices drawn: β = 0, 0.33, 0.66, 0.99
    np.testing.assert_allclose(crit, expect, rtol=1e-12)
    assert ax.get_yscale() == "log" and ax.get_xscale() == "log"
    plt.close(fig)
    fig = plot.figure(x2, "loss")
    (c,) = [ln for ln in fig.axes[0].get_lines() if ln.get_gid() == "critical"]
    assert c.get_xdata()[0] == pytest.approx(1.0116464963485778, rel=1e-12)
    plt.close(fig)


def test_trajectories_are_the_recorded_iterates(x2):
    fig = plot.figure(x2, "trajectories")
    ax = fig.axes[0]
    lines = [ln for ln in ax.get_lines() if ln.get_label().startswith("$")]
    assert len(lines) == 4
    eta12 = next(ln for ln in lines if ln.get_label().endswith("1.2"))
    np.testing.assert_allclose(eta12.get_ydata()[:4], [-1.0, 1.4, -1.96, 2.744], rtol=1e-12)  # (1 − 2η)^t x₀
    assert fig.axes[1].get_yscale() == "log"
    plt.close(fig)


def test_schedule_small_multiples_share_axes_and_one_colour_bar(schedules):
    fig = plot.figure(schedules, "schedules")
    panels = [ax for ax in fig.axes if ax.get_title().startswith("schedule")]
    assert len(panels) == 6 and len(fig.axes) == 7  # six panels, one colour bar
    assert len({ax.get_xlim() for ax in panels}) == 1 and len({ax.get_ylim() for ax in panels}) == 1
    plt.close(fig)
    fig = plot.figure(schedules, "boundary")  # categorical slices: one row per schedule
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()][0] == "constant"
    assert fig.axes[0].get_ylabel() == "schedule"  # the axis the rows belong to is named
    assert "exact (product formula)" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    plt.close(fig)


def _renamed_no_boundary(r):
    """A 2-D log × log sweep with unknown axis names and no boundary (like the fractal sweeps)."""
    names = {"learning_rate": "learning_rate.layer0", "momentum": "learning_rate.layer1"}
    axes = tuple(dataclasses.replace(a, name=names[a.name]) for a in r.spec.axes)
    spec = dataclasses.replace(r.spec, axes=axes, boundary=dataclasses.replace(r.spec.boundary, axis=None))
    return store.SweepResult(spec=spec, table=r.table.rename(columns=names), manifest=r.manifest)


def test_two_axes_without_boundary_draw_the_phase_image_only(momentum, tmp_path):
    r = _renamed_no_boundary(momentum)
    paths = plot.draw_all(r, tmp_path, formats=("png",))
    assert [p.name for p in paths] == ["phase.png"]
    fig = plot.figure(r, "phase")
    ax = fig.axes[0]
    assert ax.get_xlabel() == r"learning rate $\eta_{\mathrm{layer0}}$"
    assert ax.get_ylabel() == r"learning rate $\eta_{\mathrm{layer1}}$"
    assert not [ln for ln in ax.get_lines() if ln.get_gid() in ("theory", "measured")]
    plt.close(fig)


def test_facets_one_panel_per_value_one_colour_bar(momentum):
    fig = plot.phase_figure(_with_facet_axis(momentum), facet="seed")
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["seed = 0", "seed = 1"] and len(fig.axes) == 3
    plt.close(fig)


def _with_facet_axis(r):
    """The momentum sweep duplicated along a 'seed' axis (the same table twice)."""
    from lrsweep.config import Axis

    spec = dataclasses.replace(r.spec, axes=(Axis("seed", (0, 1), "values"),) + r.spec.axes)
    n = len(r.table)
    t = pd.concat([r.table.assign(seed=0), r.table.assign(seed=1, config=r.table["config"] + n)])
    b = pd.concat([r.boundary.assign(seed=0), r.boundary.assign(seed=1)])
    return store.SweepResult(spec=spec, table=t, boundary=b, manifest=r.manifest)


@pytest.mark.parametrize("kind", ["phase", "boundary"])
def test_same_data_same_bytes(momentum, kind):
    """PDF, SVG and PNG are byte-identical when drawn twice; no dates or software strings inside."""
    for fmt in figstyle.FORMATS:
        blobs = []
        for _ in range(2):
            with figstyle.use("paper", salt=kind):
                fig = plot.figure(momentum, kind)
                blobs.append(figstyle.to_bytes(fig, fmt))
                plt.close(fig)
        assert blobs[0] == blobs[1], fmt
        assert b"CreationDate" not in blobs[0] and b"<dc:date>" not in blobs[0] and b"Matplotlib v" not in blobs[0]


def test_vector_files_keep_text_and_rasterise_the_image(momentum, tmp_path):
    paths = plot.draw_all(momentum, tmp_path, formats=("svg", "pdf"), kinds=("phase",))
    svg = (tmp_path / "phase.svg").read_text()
    # 25,600 cells become one raster image (plus the colour bar's); axes, labels and markers stay vector
    assert svg.count("<image") == 2 and svg.count("<path") < 300 and "measured (500 steps)</text>" in svg
    assert paths[1].read_bytes().count(b"/Subtype /Image") == 2
    assert paths[1].stat().st_size < 200_000


def test_styles_and_journal_widths(momentum):
    for style, size in (("paper", 8.0), ("slides", 12.0)):
        with figstyle.use(style):
            assert plt.rcParams["font.size"] == size
            for width, inches in (("one", 3.4), ("two", 7.0)):
                fig = plot.figure(momentum, "boundary", width=width)
                assert fig.get_size_inches()[0] == pytest.approx(inches)
                plt.close(fig)
    with pytest.raises(ValueError, match="--style"):
        figstyle.style_path("poster")


def test_cli_plot_kinds_style_and_errors(tmp_path, capsys):
    d = tmp_path / "x2"
    shutil.copytree(RESULTS / "x2-gd", d)
    for f in d.glob("*.p*g"):
        f.unlink()
    assert main(["plot", str(d), "--kind", "trajectories", "--format", "svg,png", "--style", "slides"]) == 0
    assert sorted(p.name for p in d.glob("*.svg")) + sorted(p.name for p in d.glob("*.png")) == \
        ["trajectories.svg", "trajectories.png"]
    assert main(["plot", str(d), "--kind", "phase", "--format", "png"]) == 0
    assert "no phase figure" in capsys.readouterr().err and not (d / "phase.png").exists()
    for bad, field in ((["--kind", "pie"], "--kind"), (["--style", "poster"], "--style"),
                       (["--format", "jpg"], "--format"), (["--facet", "nope"], "--facet")):
        assert main(["plot", str(d), *bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and field in err


def test_gallery_redraws_from_results_dirs(tmp_path):
    import gallery  # scripts/gallery.py (on sys.path: conftest.py)

    res = tmp_path / "results"
    shutil.copytree(RESULTS / "x2-gd", res / "x2-gd", ignore=shutil.ignore_patterns("*.png", "*.pdf"))
    paths = gallery.build(res, screenshot=False)
    assert [p.name for p in paths] == ["x2-gd-loss.png", "x2-gd-trajectories.png"]  # the others are absent: skipped
    for p in paths:
        assert p.parent == res / "gallery" and 10_000 < p.stat().st_size < 300_000
    fig = plot.figure(res / "x2-gd", "loss")  # a results directory on disk works wherever a result does
    assert fig.axes[0].get_xscale() == "log"
    plt.close(fig)


def test_no_boundary_curve_when_nothing_diverges(tmp_path):
    """A sweep where no slice diverges has no boundary curve to draw: draw_all skips it, never fails."""
    spec = lrsweep.from_dict({"name": "calm", "steps": 20, "loss": {"name": "quadratic", "curvatures": [2.0]},
                              "init": {"points": [[1.0]]},
                              "axes": {"learning_rate": {"min": 0.01, "max": 0.5, "num": 8},
                                       "init.scale": {"values": [0.5, 1.0, 2.0]}},
                              "boundary": {"axis": "learning_rate"}})
    r = lrsweep.run(spec, out=tmp_path, progress=False)
    assert r.boundary["critical"].isna().all()
    names = {p.name for p in plot.draw_all(r, tmp_path, formats=("png",))}
    assert "boundary.png" not in names and "phase.png" in names


@pytest.fixture(scope="module")
def switch():
    """A sweep with a 0/1 switch axis (``loss.qk_layernorm = [0, 1]``) and a two-valued ``loss.z_loss``; read as a
    learning-rate sweep so that the loss figure is drawn too."""
    r = store.load(RESULTS / "transformer-w64")
    spec = dataclasses.replace(r.spec, boundary=dataclasses.replace(r.spec.boundary, axis="learning_rate"))
    return dataclasses.replace(r, spec=spec, boundary=None)


def test_a_switch_axis_is_drawn_as_two_labelled_rows_not_a_continuum(switch):
    fig = plot.figure(switch, "phase")
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["loss.z_loss = 0", "loss.z_loss = 0.0001"]
    ax = panels[0]
    assert ax.get_ylabel() == "qk layernorm"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["off", "on"]
    assert list(ax.get_yticks()) == [0, 1] and not len(ax.yaxis.get_minorticklocs())
    assert ax.get_ylim() == (-0.5, 1.5) and ax.get_yscale() == "linear"
    # two rows of cells, one per value (row 0: off), each the grid's scores at that value
    mesh = ax.collections[0]
    assert mesh.get_array().shape == (2, len(switch.spec.axis("learning_rate")))
    assert ax.get_xscale() == "log"  # the learning rate stays a continuous log axis
    plt.close(fig)


def test_a_switch_axis_gives_one_named_curve_per_value(switch):
    fig = plot.figure(switch, "loss")
    ax = fig.axes[0]
    curves = [ln for ln in ax.get_lines() if ln.get_gid() == "final-loss"]
    assert [ln.get_label() for ln in curves] == ["qk layernorm off", "qk layernorm on"]
    for ln in curves:  # one point per learning rate: the z-loss slices are not interleaved into one line
        x = ln.get_xdata()
        assert len(x) == len(switch.spec.axis("learning_rate")) and np.all(np.diff(x) > 0)
    assert ax.get_title() == "loss.z_loss = 0"
    plt.close(fig)
    # with a boundary table holding no theory, the legend names the measured critical value only
    b = pd.DataFrame({"loss.qk_layernorm": [0.0, 1.0], "loss.z_loss": [0.0, 0.0], "critical": [0.6, 0.6]})
    fig = plot.figure(dataclasses.replace(switch, boundary=b), "loss")
    names = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "measured critical" in names and "theory" not in names and not any(n.startswith("exact") for n in names)
    plt.close(fig)


def test_only_switches_categories_and_integer_axes_are_discrete(switch, momentum):
    assert plot.discrete(switch, "loss.qk_layernorm") and not plot.discrete(switch, "loss.z_loss")
    assert not plot.discrete(switch, "learning_rate") and not plot.discrete(momentum, "momentum")
    assert plot.discrete(_with_facet_axis(momentum), "seed")
