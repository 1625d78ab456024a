"""Figures from results: every kind of stability plot, one style, deterministic files.

Each ``plot_*`` function takes a :class:`~lrsweep.store.SweepResult` (fresh from
:func:`lrsweep.run`) or a results directory on disk, and a matplotlib ``Axes``
and returns the ``Axes``. :func:`figure` composes them into one figure per *kind*, and
:func:`draw_all` writes the figures to files (PDF/SVG vector with the big images
rasterised, PNG), byte-identical for the same data.

=================  ===========================================================================
kind               figure
=================  ===========================================================================
``phase``          2-D sweep as an image of the histogram-equalised signed score, measured and
                   theoretical boundary overlaid; further axes become facets
``boundary``       critical value against a third axis: theory line, measured markers with
                   their bracket as error bars, the grid bracket shaded (categorical: one row each)
``loss``           final (and best) loss against the boundary axis, one curve per slice,
                   critical values marked — an exact LR range test
``trajectories``   iterate and loss against step for the recorded configurations
``schedules``      the same sweep under each schedule as small multiples, shared axes, one colour bar
=================  ===========================================================================

An axis of a few discrete values — categorical, ``seed``/``init.index``, or a *switch* whose values are 0
and 1 (``loss.qk_layernorm = [0, 1]``) — is drawn as one tick per value labelled with it (a switch:
``off``/``on``), never as a continuous scale (:func:`discrete`).

Colours are colour-blind safe (blue ↔ red diverging map; Okabe–Ito lines); the theory is
drawn wherever the boundary table holds it (:mod:`lrsweep.reference` stores it when the sweep
runs): figures come from stored columns and :mod:`lrsweep.theory`'s pure formulas, and drawing
never builds or compiles a program.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from lrsweep import figstyle, store
from lrsweep.config import INTEGER_AXES
from lrsweep import theory as _theory
from lrsweep.figstyle import LABELS, OUTCOME_COLOURS, STYLE, label  # noqa: F401  (public names)
from lrsweep.store import SweepResult

METRIC_LABELS = {  # known metric columns (lrsweep.transformer's and the update RMS): label with unit
    "ce": "cross-entropy (nats/token)", "logz": r"mean $\log Z$ (nats)", "grad_rms": r"gradient RMS $\|g_t\|_{\mathrm{rms}}$",
    "update_rms": r"update RMS $\|\theta_{t+1}-\theta_t\|_{\mathrm{rms}}$", "loss": "loss"}

KINDS = ("phase", "boundary", "loss", "trajectories", "schedules")
MAX_PANELS = 12


# ----------------------------------------------------------------------------------- axes-level kinds

def plot_phase(result: SweepResult, ax, *, x: str, y: str, where: dict | None = None, colorbar: bool = True,
               reference=None):
    """Signed-score image over axes ``x`` × ``y`` (other axes fixed by ``where``), boundary and theory overlaid.

    Colour is :func:`lrsweep.figstyle.equalise` of the score (quantile within each
    phase, sign kept; ``reference``: the scores that define the quantiles, default
    this panel's). Markers: the refined critical value of each slice; dashed: the
    closed-form boundary. Returns ``ax``; the image is ``ax.collections[0]``.
    """
    result = as_result(result)
    ys = np.asarray(result.spec.axis(y).values, float)
    raw = grid_array(result, "score", x, y, where)
    ref = raw if reference is None else reference
    xlog, ylog = _is_log(result, x), _is_log(result, y)
    xe, ye = _cell_edges(result, x, xlog), _cell_edges(result, y, ylog)
    mesh = ax.pcolormesh(xe, ye, figstyle.equalise(raw, ref), cmap=figstyle.SCORE_CMAP, vmin=-1, vmax=1,
                         shading="flat", rasterized=True)
    mesh.set_gid("phase")
    if colorbar:
        _score_colorbar(ax.figure, mesh, ax, ref)
    ax.set_xscale("log" if xlog else "linear")
    ax.set_yscale("log" if ylog else "linear")
    ax.set_xlabel(label(x))
    ax.set_ylabel(label(y))
    _value_ticks(result, ax, "x", x)
    _value_ticks(result, ax, "y", y)
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    b = result.boundary
    if b is not None and result.spec.boundary.axis == x and len(b) and y in b:
        bb = _select(b, where).sort_values(y)
        bb = bb[bb["critical"].notna()]
        step = max(1, math.ceil(len(bb) / 24))  # at most ~24 markers: the theory line must stay visible
        (m,) = ax.plot(bb["critical"].iloc[::step], _position(result, y, bb[y].iloc[::step]), "o", ms=_ms(2.6),
                       mfc="white", mec="black", mew=0.6, label=f"measured ({result.spec.steps} steps)", zorder=3)
        m.set_gid("measured")
        line = None if discrete(result, y) else _closed_form(result, _dense(ys, ylog), y, where, exclude=(x, y))
        if line is not None:
            dense, th = line
            (t,) = ax.plot(th, dense, "k--", lw=_lw(0.9), label=f"theory: {_theory_label(result)}", zorder=4)
            t.set_gid("theory")
        ax.set_xlim(xe[0], xe[-1])
        ax.set_ylim(ye[0], ye[-1])
        ax.legend(loc="lower left", fontsize="x-small", frameon=True, framealpha=0.85, edgecolor="none")
    return ax


def plot_boundary_curve(result: SweepResult, ax, *, along: str, where: dict | None = None):
    """Critical value of the boundary axis against ``along``: theory line, measurements with brackets.

    Circles: refined critical value after ``steps`` steps, error bars its refined bracket
    ``[lower, upper]``; grey band: the grid bracket ``[grid_lower, grid_upper]``;
    triangles: the asymptotic estimate; solid line: the closed form on a dense grid;
    dotted: the exact finite-horizon value. Returns ``ax``.
    """
    result = as_result(result)
    spec = result.spec
    b = _select(result.boundary, where).sort_values(along)
    b = b[b["critical"].notna()]
    xs = np.asarray(spec.axis(along).values, float)
    xlog = _is_log(result, along)
    ax.fill_between(b[along], b["grid_lower"], b["grid_upper"], color="0.85", lw=0, label="grid bracket", zorder=1)
    step = max(1, math.ceil(len(b) / 30))
    s = b.iloc[::step]
    c = s["critical"].to_numpy()
    eb = ax.errorbar(s[along], c, yerr=[c - s["lower"].to_numpy(), s["upper"].to_numpy() - c], fmt="o", ms=_ms(3),
                     mfc="white", mec=figstyle.colours()[0], mew=0.8, ecolor=figstyle.colours()[0], elinewidth=0.8,
                     capsize=1.5, label=f"measured ({spec.steps} steps)", zorder=3)
    eb.lines[0].set_gid("measured")
    if "critical_asymptotic" in s and s["critical_asymptotic"].notna().any():
        (a,) = ax.plot(s[along], s["critical_asymptotic"], "^", ms=_ms(2.8), color=figstyle.colours()[1],
                       label="measured (asymptotic)", zorder=3)
        a.set_gid("measured-asymptotic")
    line = _closed_form(result, _dense(xs, xlog), along, where, exclude=(spec.boundary.axis, along))
    if line is not None:
        dense, th = line
        (t,) = ax.plot(dense, th, "k-", lw=_lw(0.9), label=f"theory: {_theory_label(result)}", zorder=2)
        t.set_gid("theory")
    if "theory_finite" in b and b["theory_finite"].notna().any():
        (f,) = ax.plot(b[along], b["theory_finite"], ":", color="0.25", lw=_lw(0.9), label=f"exact, {spec.steps} steps",
                       zorder=2)
        f.set_gid("theory-finite")
    ax.set_xscale("log" if xlog else "linear")
    if len(b):
        lo, hi = np.nanmin(b["critical"]), np.nanmax(b["critical"])
        ax.set_yscale("log" if _is_log(result, spec.boundary.axis) and hi / lo > 10 else "linear")
    else:
        _note(ax, "no slice has a critical value (every run diverged, or none did)")
    ax.set_xlabel(label(along))
    ax.set_ylabel("critical " + label(spec.boundary.axis))
    ax.legend(fontsize="x-small", loc="best")
    return ax


def plot_critical_by(result: SweepResult, ax, *, by: str):
    """Refined critical value per category of ``by`` (e.g. schedule), exact finite-horizon theory beside it."""
    result = as_result(result)
    b = result.boundary.reset_index(drop=True)
    ypos = np.arange(len(b))
    colours = figstyle.colours()
    for i, row in b.iterrows():
        c = colours[i % len(colours)]
        if np.isfinite(row["critical"]):
            ax.errorbar(row["critical"], i, xerr=[[row["critical"] - row["lower"]], [row["upper"] - row["critical"]]],
                        fmt="o", color=c, ms=_ms(3.5))
            ax.plot([row["grid_lower"], row["grid_upper"]], [i, i], "-", color="0.75", lw=_lw(3), zorder=1,
                    solid_capstyle="butt")
        if "theory_finite" in row and np.isfinite(row["theory_finite"]):
            ax.plot(row["theory_finite"], i, "x", color="k", ms=_ms(5), mew=0.8)
    exact = "theory_finite" in b and b["theory_finite"].notna().any()
    handles = [Line2D([], [], marker="o", ls="none", color="0.3"), Line2D([], [], color="0.75", lw=_lw(3))]
    names = ["measured", "grid bracket"]
    if exact:
        handles.insert(1, Line2D([], [], marker="x", ls="none", color="k"))
        names.insert(1, "exact (product formula)")
    ax.legend(handles, names, fontsize="x-small", loc="best")
    ax.set_yticks(ypos, [_value_text(result, by, v) for v in b[by]])
    ax.set_ylabel(label(by))
    for i, tick in enumerate(ax.get_yticklabels()):
        tick.set_color(colours[i % len(colours)])
    ax.set_ylim(-0.6, len(b) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel("critical " + label(result.spec.boundary.axis))
    return ax


def plot_loss_vs_lr(result: SweepResult, ax, *, x: str, by: str | None = None, where: dict | None = None,
                    slices=None, legend: bool = True):
    """Final (solid) and best (dotted) loss against ``x``, one curve per value of ``by`` (or of ``slices``).

    Vertical lines: the measured critical value (solid), the closed form (dashed) and
    the exact finite-horizon value (dotted). Losses below ``converge_tol·10⁻³`` sit on
    that floor; diverged runs end the curve (and, without ``by``, are drawn at the top).
    """
    result = as_result(result)
    t = _select(result.table, where)
    if by is not None and slices is not None:
        t = _select_any(t, by, slices)
    groups = [(None, t)] if by is None else list(t.groupby(by, observed=True, sort=False))
    colours = figstyle.colours()
    b = result.boundary
    floor = result.spec.criteria.converge_tol * 1e-3
    drawn = []  # every y value put on the log axis
    for i, (key, g) in enumerate(groups):
        g = g.sort_values(x)
        c = colours[i % len(colours)] if by is not None else "0.3"
        final = np.where(g["diverged"], np.nan, np.clip(g["final_loss"].to_numpy(float), floor, None))
        best = np.where(g["diverged"], np.nan, np.clip(g["min_loss"].to_numpy(float), floor, None))
        drawn += [final, best]
        name = None if key is None else _value_name(result, by, key)
        (ln,) = ax.plot(g[x], final, "-", color=c, lw=_lw(0.9), label=name)
        ln.set_gid("final-loss")
        ax.plot(g[x], best, ":", color=c, lw=_lw(0.8))
        if by is None:
            top = g["initial_loss"].max() * 10
            for oname, col in OUTCOME_COLOURS.items():
                m = (g["outcome"] == oname).to_numpy()
                yy = np.where(g["diverged"], top, np.clip(g["final_loss"].to_numpy(float), floor, None))
                ax.plot(g[x][m], yy[m], "o", ms=_ms(1.6), color=col, label=oname, ls="none")
                drawn.append(yy[m])
        if b is not None and len(b):
            bb = b if by is None else _select(b, {by: key})
            for _, row in _select(bb, where).iterrows():
                if np.isfinite(row["critical"]):
                    ax.axvline(row["critical"], color=c, lw=_lw(0.8), ls="-", alpha=0.8, gid="critical")
                for col, ls in (("theory", "--"), ("theory_finite", ":")):
                    if np.isfinite(row.get(col, np.nan)):
                        ax.axvline(row[col], color="k" if by is None else c, lw=_lw(0.7), ls=ls)
    ax.set_xscale("log" if _is_log(result, x) else "linear")
    if not _log_scale(ax, "y", drawn):  # nothing on the panel but reference lines: show the swept range
        ax.set_xlim(t[x].min(), t[x].max())
    ax.set_xlabel(label(x))
    ax.set_ylabel("loss (final —, best ···)")
    if legend:
        handles, labels_ = ax.get_legend_handles_labels()
        if b is not None and len(b):  # the reference lines drawn, and only those
            for col, ls, name in (("critical", "-", "measured critical"), ("theory", "--", "theory"),
                                  ("theory_finite", ":", f"exact, {result.spec.steps} steps")):
                if col in b and np.isfinite(b[col].to_numpy(float)).any():
                    handles.append(Line2D([], [], color="0.3" if col == "critical" else "k",
                                          lw=_lw(0.8 if col == "critical" else 0.7), ls=ls))
                    labels_.append(name)
        ax.legend(handles, labels_, fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0),
                  borderaxespad=0)
    return ax


def plot_loss_scored(result: SweepResult, ax, *, x: str, where: dict | None = None, reference=None):
    """Final loss against ``x`` with each run coloured by its equalised signed score; returns the scatter."""
    result = as_result(result)
    t = _select(result.table, where).sort_values(x)
    floor = result.spec.criteria.converge_tol * 1e-3
    top = float(result.table["initial_loss"].max()) * 10
    y = np.where(t["diverged"], top, np.clip(t["final_loss"].to_numpy(float), floor, None))
    ref = t["score"].to_numpy(float) if reference is None else reference
    ax.plot(t[x], np.where(t["diverged"], np.nan, y), "-", color="0.6", lw=_lw(0.6), zorder=1)
    sc = ax.scatter(t[x], y, c=figstyle.equalise(t["score"], ref), cmap=figstyle.SCORE_CMAP, vmin=-1, vmax=1, s=3,
                    linewidths=0, zorder=2, rasterized=True)
    b = result.boundary
    if b is not None and len(b):
        for _, row in _select(b, where).iterrows():
            if np.isfinite(row["critical"]):
                ax.axvline(row["critical"], color="k", lw=_lw(0.8), gid="critical")
            if np.isfinite(row.get("theory_finite", np.nan)):
                ax.axvline(row["theory_finite"], color="k", lw=_lw(0.8), ls=":")
    ax.set_xscale("log" if _is_log(result, x) else "linear")
    if not _log_scale(ax, "y", [y]):
        ax.set_xlim(t[x].min(), t[x].max())
    return sc


def plot_trajectories(result: SweepResult, ax, *, quantity: str = "param_0", legend: bool = True):
    """``quantity`` (an iterate coordinate ``param_k``, ``loss`` or a recorded metric column) against step
    for the recorded configurations; a log scale where the quantity is a positive magnitude."""
    result = as_result(result)
    tr = result.trajectories
    sel = list(result.spec.trajectories.select) if result.spec.trajectories else []
    colours = figstyle.colours()
    for i, (_, g) in enumerate(tr.groupby("trajectory", sort=True)):
        name = ", ".join(_run_label(result, s, g[s].iloc[0]) for s in sel if s in g)
        ax.plot(g["step"], g[quantity], "o-", ms=_ms(2.2), lw=_lw(0.9), color=colours[i % len(colours)], label=name)
    ax.set_xlabel("step $t$")
    if quantity == "loss":
        _log_scale(ax, "y", [tr["loss"].to_numpy(float)])
        ax.set_ylabel(r"loss $f(x_t)$")
    elif quantity.startswith("param_"):
        ax.axhline(0, color="0.6", lw=_lw(0.5))
        k = quantity.removeprefix("param_")
        ax.set_ylabel(r"iterate $x_t$" if k == "0" else rf"iterate $x_{{t,{k}}}$")
    else:
        v = tr[quantity].to_numpy(float)
        v = v[np.isfinite(v)]
        if len(v) and (v > 0).all() and v.max() > 3 * v.min():
            ax.set_yscale("log")
            _plain_ticks_within_a_decade(ax.yaxis, v)
        ax.set_ylabel(_metric_label(quantity))
    if legend:
        ax.legend(fontsize="x-small")
    return ax


# ----------------------------------------------------------------------------------- data helpers

def grid_array(result: SweepResult, metric: str, x: str, y: str, where: dict | None = None) -> np.ndarray:
    """``metric`` on the ``y`` × ``x`` grid (rows: y), other axes at the values in ``where`` (default: first)."""
    result = as_result(result)
    spec = result.spec
    arr = result.table.sort_values("config")[metric].to_numpy().reshape(spec.shape)
    index = []
    for a in spec.axes:
        if a.name in (x, y):
            index.append(slice(None))
        elif where and a.name in where:
            vals = list(a.values)
            index.append(vals.index(where[a.name]) if a.categorical
                         else int(np.argmin(np.abs(np.asarray(vals, float) - float(where[a.name])))))
        else:
            index.append(0)
    sub = arr[tuple(index)]
    kept = [a.name for a in spec.axes if a.name in (x, y)]
    return sub if kept == [y, x] else sub.T


def as_result(result: SweepResult | str | Path) -> SweepResult:
    """``result`` itself, or the results directory it names read back from disk (tables, no rerun)."""
    return result if isinstance(result, SweepResult) else store.load(result)


def _note(ax, text: str) -> None:
    """A short grey note in the middle of an empty (or partly empty) panel."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize="x-small", color="0.35",
            gid="note")


def _log_scale(ax, which: str, drawn) -> bool:
    """A log ``which`` axis where the drawn values hold a finite positive one (returns ``True``); otherwise
    a linear axis without ticks and a note (a sweep where every run diverged, or every loss is NaN, still
    draws; returns ``False``)."""
    v = np.concatenate([np.asarray(d, float).ravel() for d in drawn]) if len(drawn) else np.zeros(0)
    if np.any(np.isfinite(v) & (v > 0)):
        getattr(ax, f"set_{which}scale")("log")
        _plain_ticks_within_a_decade(getattr(ax, f"{which}axis"), v)
        return True
    getattr(ax, f"set_{which}scale")("linear")
    getattr(ax, f"set_{which}ticks")([])
    _note(ax, "no finite loss to draw\n(every run diverged,\nor its loss is not finite)")
    return False


def _run_label(result: SweepResult, name: str, v) -> str:
    """One axis of a recorded run in a legend: ``qk layernorm on``, ``η = 0.754``, or a category's name."""
    if isinstance(v, str):
        return v
    if _switch(result.spec.axis(name)):
        return f"{label(name)} {_value_text(result, name, v)}"
    return f"{figstyle.short(name)} = {_value_text(result, name, v)}"


def _plain_ticks_within_a_decade(axis, v) -> None:
    """On a log axis whose positive values span less than a factor 10, tick labels as plain numbers
    (``2.6``, ``3``), not matplotlib's ``2.6×10⁰``."""
    v = np.asarray(v, float)
    v = v[np.isfinite(v) & (v > 0)]
    if len(v) and v.max() < 10 * v.min():
        fmt = FuncFormatter(lambda x, _: f"{x:g}")
        axis.set_major_formatter(fmt)
        axis.set_minor_formatter(fmt)


def _is_log(result: SweepResult, name: str) -> bool:
    return result.spec.axis(name).is_log


def discrete(result: SweepResult, name: str) -> bool:
    """An axis drawn as one tick per value: categorical, ``seed``/``init.index``, or a switch (every value 0 or 1;
    not the boundary axis, which is searched as a continuum)."""
    a = result.spec.axis(name)
    if a.categorical or name in INTEGER_AXES:
        return True
    return name != result.spec.boundary.axis and _switch(a)


def _switch(a) -> bool:
    return not a.categorical and a.name not in INTEGER_AXES and {float(v) for v in a.values} <= {0.0, 1.0}


def _value_text(result: SweepResult, name: str, v) -> str:
    """A value of axis ``name`` as a tick label: ``off``/``on`` for a switch, the name of a category, the number."""
    a = result.spec.axis(name)
    if _switch(a):
        return "on" if float(v) else "off"
    if isinstance(v, str):
        return v.replace("_", " ")
    return str(int(v)) if float(v).is_integer() and (name in INTEGER_AXES or abs(float(v)) < 1e6) else f"{v:.3g}"


def _value_name(result: SweepResult, name: str, v) -> str:
    """A slice's title or legend entry: ``qk layernorm on``, ``momentum = 0.9``."""
    if _switch(result.spec.axis(name)):
        return f"{label(name)} {_value_text(result, name, v)}"
    return f"{figstyle.short(name)} = {_fmt(v)}"


def _index(result: SweepResult, name: str, values) -> np.ndarray:
    """Where each of ``values`` stands on axis ``name`` (0 … n−1; numbers: the nearest grid value)."""
    a = result.spec.axis(name)
    if a.categorical:
        return np.asarray([list(a.values).index(v) for v in values], float)
    grid = np.asarray(a.values, float)
    return np.argmin(np.abs(grid[None, :] - np.asarray(values, float)[:, None]), axis=1).astype(float)


def _position(result: SweepResult, name: str, values) -> np.ndarray:
    """Plot coordinates of ``values`` on axis ``name``: the values, or their indices on a discrete axis."""
    return _index(result, name, values) if discrete(result, name) else np.asarray(values, float)


def _cell_edges(result: SweepResult, name: str, log: bool) -> np.ndarray:
    """Edges of the image's cells along ``name``: around each value, or around 0 … n−1 on a discrete axis."""
    n = len(result.spec.axis(name))
    if discrete(result, name):
        return np.arange(n + 1) - 0.5
    return _edges(np.asarray(result.spec.axis(name).values, float), log)


def _value_ticks(result: SweepResult, ax, which: str, name: str) -> None:
    """One tick per value, labelled with it, on a discrete axis (no minor ticks); nothing otherwise."""
    if not discrete(result, name):
        return
    a = result.spec.axis(name)
    getattr(ax, f"set_{which}ticks")(np.arange(len(a)), [_value_text(result, name, v) for v in a.values])
    getattr(ax, f"set_{which}ticks")([], minor=True)


def _dense(v: np.ndarray, log: bool, n: int = 400) -> np.ndarray:
    return np.geomspace(v.min(), v.max(), n) if log else np.linspace(v.min(), v.max(), n)


def _closed_form(result: SweepResult, dense: np.ndarray, along: str, where: dict | None, exclude
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    r"""The closed-form boundary along ``along``, from the stored boundary table and pure formulas only.

    The slices in view (other axes at ``where``, else their first value) give, per value of
    ``along``, :math:`\lambda_\max` (``theory_lambda_max``; for an older table, the ``theory``
    column inverted) and :math:`\beta`; both are interpolated linearly onto ``dense`` (exact along
    the momentum and along a curvature scale) and the closed form (:mod:`lrsweep.theory`) applied.
    Returns ``(dense, theory)`` over the range of the slices where theory applies, or ``None``.
    Nothing here builds or compiles a program.
    """
    spec, b = result.spec, result.boundary
    if b is None or "theory" not in b or along not in b:
        return None
    fixed = {a.name: a.values[0] for a in spec.axes if a.name not in exclude}
    fixed.update({k: v for k, v in (where or {}).items() if k not in exclude})
    rows = _select(b, fixed)
    rows = rows[np.isfinite(rows["theory"].to_numpy(float))]
    if not len(rows) or rows[along].duplicated().any() or isinstance(rows[along].iloc[0], str):
        return None
    rows = rows.sort_values(along)
    xs = rows[along].to_numpy(float)
    nesterov = bool(spec.optimizer.params.get("nesterov", False))
    beta_rows = _momentum_of(spec, rows)
    ratio = 2 * (1 + beta_rows) / ((1 + 2 * beta_rows) if nesterov else 1.0)  # ηλ_max at the boundary
    lam_rows = (rows["theory_lambda_max"].to_numpy(float) if "theory_lambda_max" in rows
                else ratio / rows["theory"].to_numpy(float))
    dense = dense[(dense >= xs[0]) & (dense <= xs[-1])] if len(xs) > 1 else dense
    lam = np.interp(dense, xs, lam_rows)
    beta = dense if along in ("momentum", "optimizer.momentum") else np.interp(dense, xs, beta_rows)
    ok = (lam > 0) & (beta >= 0) & (beta < 1)
    if not ok.any():
        return None
    f = _theory.nesterov_critical if nesterov else _theory.heavy_ball_critical
    return dense[ok], np.asarray(f(lam[ok], beta[ok]), float)


def _momentum_of(spec, rows: pd.DataFrame) -> np.ndarray:
    """Each row's heavy-ball momentum: its column if swept, else the sweep's value (0 without)."""
    for k in ("momentum", "optimizer.momentum"):
        if k in rows:
            return rows[k].to_numpy(float)
    return np.full(len(rows), float(spec.optimizer.params.get("momentum") or 0.0))


def _theory_label(result: SweepResult) -> str:
    spec = result.spec
    has_momentum = "momentum" in spec.axis_names or spec.optimizer.params.get("momentum")
    if spec.optimizer.params.get("nesterov", False):
        return r"$\eta\lambda_{\max} = 2(1+\beta)/(1+2\beta)$"
    if has_momentum:
        return r"$\eta\lambda_{\max} = 2(1+\beta)$"
    return r"$\eta\lambda_{\max} = 2$"


def _match(col: pd.Series, v) -> np.ndarray:
    """Rows of ``col`` equal to ``v`` (strings exactly, numbers to float32 precision)."""
    if isinstance(v, str):
        return (col.astype(str) == v).to_numpy()
    return np.isclose(col.astype(float), float(v), rtol=1e-6, atol=0)


def _select(df: pd.DataFrame, where: dict | None) -> pd.DataFrame:
    if not where:
        return df
    m = np.ones(len(df), bool)
    for k, v in where.items():
        if k in df:
            m &= _match(df[k], v)
    return df[m]


def _select_any(df: pd.DataFrame, k: str, values) -> pd.DataFrame:
    m = np.zeros(len(df), bool)
    for v in values:
        m |= _match(df[k], v)
    return df[m]


def _pick(values, k: int) -> list:
    """At most ``k`` values, evenly spread, first and last included."""
    values = list(values)
    if len(values) <= k:
        return values
    return [values[i] for i in sorted({round(j) for j in np.linspace(0, len(values) - 1, k)})]


def _edges(v: np.ndarray, log: bool) -> np.ndarray:
    if len(v) == 1:
        return np.array([v[0] * 0.9, v[0] * 1.1]) if log else np.array([v[0] - 0.5, v[0] + 0.5])
    w = np.log(v) if log else v
    mid = 0.5 * (w[1:] + w[:-1])
    e = np.concatenate([[w[0] - (mid[0] - w[0])], mid, [w[-1] + (w[-1] - mid[-1])]])
    return np.exp(e) if log else e


def _score_colorbar(fig, mappable, ax, reference):
    cb = fig.colorbar(mappable, ax=ax, pad=0.02, fraction=0.05, aspect=25)
    ticks, labels_ = figstyle.equalised_ticks(reference)
    cb.set_ticks(ticks, labels=labels_)
    cb.set_label(figstyle.EQUALISED_LABEL, fontsize="x-small")
    cb.ax.tick_params(labelsize="x-small")
    return cb


def _fmt(v) -> str:
    return str(v).replace("_", " ") if isinstance(v, str) else f"{v:.3g}"


# ----------------------------------------------------------------------------------- figures

def _lw(w: float) -> float:
    """A line width given for the paper style (lines.linewidth = 1), scaled to the current style."""
    return w * plt.rcParams["lines.linewidth"]


def _ms(m: float) -> float:
    """A marker size given for the paper style (lines.markersize = 3), scaled to the current style."""
    return m * plt.rcParams["lines.markersize"] / 3.0


def _default_width() -> float:
    """A single-panel figure's width: the style's own (paper: one column, slides: 7 in)."""
    return float(plt.rcParams["figure.figsize"][0])


def _plane(result: SweepResult) -> tuple[str, str] | None:
    """The two numeric axes a phase image spans (boundary axis first), or ``None``."""
    spec = result.spec
    numeric = [a.name for a in spec.axes if not a.categorical and len(a) > 1]
    if len(numeric) < 2:
        return None
    x = spec.boundary.axis if spec.boundary.axis in numeric else numeric[0]
    return x, next(n for n in numeric if n != x)


def _facet_axis(result: SweepResult, used, facet: str | None) -> str | None:
    if facet is not None:
        if facet not in result.spec.axis_names:
            raise ValueError(f"--facet: expected an axis of this sweep ({', '.join(result.spec.axis_names)}), "
                             f"found {facet!r}")
        return facet
    rest = [a for a in result.spec.axes if a.name not in used and len(a) > 1]
    cat = [a.name for a in rest if a.categorical]
    return (cat or [a.name for a in rest] or [None])[0]


def facet_grid(result: SweepResult, by: str, draw, *, width="two", aspect: float = 0.8, ncols: int | None = None,
               sharey: bool = True):
    """A grid of panels, one per value of axis ``by`` (at most 12, evenly chosen), shared axes.

    ``draw(ax, where)`` draws one panel; returns ``(fig, axes_used, values)``.
    """
    values = _pick(result.spec.axis(by).values, MAX_PANELS)
    n = len(values)
    cols = ncols or min(n, 3)
    rows = math.ceil(n / cols)
    w = figstyle.width(width)
    fig, axes = plt.subplots(rows, cols, figsize=(w, w / cols * aspect * rows + 0.3), sharex=True, sharey=sharey,
                             squeeze=False, layout="constrained")
    used = list(axes.flat)[:n]
    for ax, v in zip(used, values):
        draw(ax, {by: v})
        ax.set_title(_value_name(result, by, v), fontsize="small")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    for ax in used:
        if not ax.get_subplotspec().is_first_col():
            ax.set_ylabel("")
        if not ax.get_subplotspec().is_last_row() and any(a.get_visible() for a in _below(axes, ax)):
            ax.set_xlabel("")
    return fig, used, values


def _below(axes, ax):
    spec = ax.get_subplotspec()
    return list(axes[spec.rowspan.stop:, spec.colspan.start])


def phase_figure(result: SweepResult, *, width=None, facet: str | None = None):
    """Phase image(s): one panel, or facets over a further axis with one shared colour bar."""
    plane = _plane(result)
    if plane is None:
        return None
    x, y = plane
    by = _facet_axis(result, plane, facet)
    if by is None:
        w = figstyle.width(width or _default_width())
        fig, ax = plt.subplots(figsize=(w, w * 0.72), layout="constrained")
        plot_phase(result, ax, x=x, y=y)
        return fig
    ref = result.table["score"].to_numpy(float)
    fig, used, _ = facet_grid(result, by, lambda ax, where: plot_phase(result, ax, x=x, y=y, where=where,
                                                                     colorbar=False, reference=ref),
                              width=width or "two")
    for ax in used[1:]:
        if ax.get_legend():
            ax.get_legend().remove()
    _score_colorbar(fig, used[0].collections[0], used, ref)
    return fig


def boundary_figure(result: SweepResult, *, width=None, facet: str | None = None):
    """Critical value against the slice axis (categorical: one row per value)."""
    spec, b = result.spec, result.boundary
    if b is None or b["critical"].notna().sum() < 2 or spec.boundary.axis is None:
        return None  # fewer than two slices with a boundary (e.g. nothing diverges): no curve to draw
    slices = [a for a in spec.axes if a.name != spec.boundary.axis and len(a) > 1]
    if not slices:
        return None
    w = figstyle.width(width or _default_width())
    along = next((a for a in slices if not discrete(result, a.name)), None)
    if along is None:
        fig, ax = plt.subplots(figsize=(w, max(1.6, 0.28 * len(b) + 0.6)), layout="constrained")
        plot_critical_by(result, ax, by=slices[0].name)
        return fig
    by = _facet_axis(result, (spec.boundary.axis, along.name), facet)
    if by is None:
        fig, ax = plt.subplots(figsize=(w, w * 0.72), layout="constrained")
        plot_boundary_curve(result, ax, along=along.name)
        return fig
    fig, used, _ = facet_grid(result, by, lambda ax, where: plot_boundary_curve(result, ax, along=along.name,
                                                                              where=where), width=width or "two")
    for ax in used[1:]:
        ax.get_legend().remove()
    return fig


def loss_figure(result: SweepResult, *, width=None, facet: str | None = None):
    """Final and best loss against the boundary axis, a few slices of the next axis as curves."""
    spec = result.spec
    x = spec.boundary.axis
    if x is None:
        return None
    others = [a for a in spec.axes if a.name != x and len(a) > 1]
    by = others[0].name if others else None
    slices = None if by is None else _pick(spec.axis(by).values, 6 if discrete(result, by) else 4)
    fixed = {a.name: a.values[0] for a in others[1:]}  # one curve per slice: further axes at their first value
    w = figstyle.width(width or _default_width())
    fig, ax = plt.subplots(figsize=(w, w * 0.66), layout="constrained")
    plot_loss_vs_lr(result, ax, x=x, by=by, slices=slices, where=fixed or None)
    if fixed:
        ax.set_title(", ".join(_value_name(result, k, v) for k, v in fixed.items()), fontsize="small")
    return fig


def trajectories_figure(result: SweepResult, *, width=None, facet: str | None = None):
    """Iterate (first coordinate) and loss against step, side by side; with recorded metrics
    (``[trajectories] metrics``), a grid of panels instead: the loss, the iterate, one panel per metric
    (its training-data column, else its validation one) and the update RMS, the configurations' legend in
    the last cell (:func:`trajectory_panels`)."""
    tr = result.trajectories
    if tr is None or not len(tr):
        return None
    w = figstyle.width(width or "two")
    panels = trajectory_panels(tr)
    if len(panels) <= 2:
        fig, axs = plt.subplots(1, len(panels), figsize=(w, w * (0.33 if len(panels) == 2 else 0.66)),
                                layout="constrained", squeeze=False)
        for ax, q in zip(axs[0], panels):
            plot_trajectories(result, ax, quantity=q)
        return fig
    ncols = 4
    nrows = -(-(len(panels) + 1) // ncols)  # one cell for the legend
    fig, axs = plt.subplots(nrows, ncols, figsize=(w, w * 0.27 * nrows), layout="constrained", squeeze=False)
    cells = list(axs.ravel())
    for ax, q in zip(cells, panels):
        plot_trajectories(result, ax, quantity=q, legend=False)
    for ax in cells[len(panels):]:
        ax.axis("off")
    handles, labels = cells[0].get_legend_handles_labels()
    cells[len(panels)].legend(handles, labels, loc="center", fontsize="x-small", frameon=False,
                              title="recorded runs", title_fontsize="x-small")
    return fig


def trajectory_panels(tr) -> list[str]:
    """The columns of a trajectories table drawn as panels: ``param_0`` (if recorded), ``loss``, each metric
    once (``m``, else ``eval_m``; ``eval_loss`` only beside no other), ``update_rms`` last."""
    fixed = {"trajectory", "step", "loss"} | {c for c in tr.columns if c.startswith("param_")}
    start = tr.columns.get_loc("step")
    recorded = [c for c in tr.columns[start + 1:] if c not in fixed]
    metrics = []
    for c in recorded:
        base = c.removeprefix("eval_")
        if c not in ("update_rms", "eval_loss") and not (c != base and base in recorded):
            metrics.append(c)
    if "eval_loss" in recorded and not metrics:
        metrics.append("eval_loss")
    return ((["param_0"] if "param_0" in tr else []) + ["loss"] + metrics
            + (["update_rms"] if "update_rms" in recorded else []))


def _metric_label(name: str) -> str:
    """A metric column's axis label with its unit, for the known ones (else the name)."""
    held_out = name.startswith("eval_")
    base = name.removeprefix("eval_")
    m = re.fullmatch(r"attn_logit_(\d+)", base)
    text = (rf"max attention logit, layer {m[1]}" if m else METRIC_LABELS.get(base, base.replace("_", " ")))
    return text + (" (validation)" if held_out else "")


def schedules_figure(result: SweepResult, *, width=None, facet: str | None = None):
    """The sweep under each schedule as small multiples (shared axes, one colour bar)."""
    spec = result.spec
    if "schedule" not in spec.axis_names or len(spec.axis("schedule")) < 2:
        return None
    if _plane(result) is not None:
        return phase_figure(result, width=width, facet="schedule")
    x = spec.boundary.axis or next(a.name for a in spec.axes if not a.categorical)
    ref = result.table["score"].to_numpy(float)
    scatters = []
    fig, used, _ = facet_grid(result, "schedule", lambda ax, where: scatters.append(
        plot_loss_scored(result, ax, x=x, where=where, reference=ref)), width=width or "two", aspect=0.62)
    for ax in used:
        ax.set_xlabel(label(x) if ax.get_subplotspec().is_last_row() or ax is used[-1] else "")
        ax.set_ylabel("final loss" if ax.get_subplotspec().is_first_col() else "")
    _score_colorbar(fig, scatters[0], used, ref)
    fig.legend([Line2D([], [], color="k", lw=_lw(0.8)), Line2D([], [], color="k", lw=_lw(0.8), ls=":")],
               ["measured critical", f"exact, {spec.steps} steps"], loc="outside lower center", ncols=2,
               title="diverged runs drawn at 10× the initial loss", title_fontsize="x-small",
               fontsize="x-small")
    return fig


FIGURES = {"phase": phase_figure, "boundary": boundary_figure, "loss": loss_figure,
           "trajectories": trajectories_figure, "schedules": schedules_figure}


def figure(result: SweepResult, kind: str, *, width=None, facet: str | None = None):
    """The figure of ``kind`` for ``result`` (call inside :func:`lrsweep.figstyle.use`), or ``None``
    when that kind does not apply (e.g. ``boundary`` without a boundary axis)."""
    result = as_result(result)
    if kind not in FIGURES:
        raise ValueError(f"--kind: expected some of {', '.join(KINDS)}, found {kind!r}")
    return FIGURES[kind](result, width=width, facet=facet)


def draw_all(result: SweepResult, out: str | Path, formats=("pdf", "png"), *, kinds=None, style: str = "paper",
             width=None, facet: str | None = None, dpi: float | None = None) -> list[Path]:
    """Write the figures of ``kinds`` (default: every kind that applies) to ``out/<kind>.<fmt>``; returns the paths.

    A 2-D sweep without a boundary axis gets its phase image only; a 1-D sweep its loss
    curve (and trajectories when recorded). Files are byte-identical for the same data.
    """
    result = as_result(result)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for kind in kinds or KINDS:
        with figstyle.use(style, salt=kind), plt.rc_context({"savefig.dpi": dpi} if dpi else {}):
            fig = figure(result, kind, width=width, facet=facet)
            if fig is None:
                continue
            try:
                paths += [figstyle.save(fig, out / f"{kind}.{fmt}", fmt) for fmt in formats]
            finally:
                plt.close(fig)
    return paths


NEEDS = {  # what each figure kind needs (the CLI's note when one is not drawn)
    "phase": "two numeric axes", "boundary": "a boundary axis, a further axis and two slices that diverge",
    "loss": "a boundary axis", "trajectories": "[trajectories] in the sweep", "schedules": "a schedule axis"}


def _split(text: str, allowed, option: str) -> tuple[str, ...]:
    """Comma-separated choices, checked.

    >>> _split("pdf, png", ("pdf", "png", "svg"), "--format")
    ('pdf', 'png')
    """
    items = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in items if f not in allowed]
    if bad or not items:
        raise ValueError(f"{option}: expected a comma-separated list of {', '.join(allowed)}, found {text!r}")
    return items
