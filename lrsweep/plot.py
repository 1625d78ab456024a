"""Figures from results: phase diagrams, loss against learning rate, trajectories.

Each ``plot_*`` function takes a :class:`~lrsweep.store.SweepResult` (or its tables)
and a matplotlib ``Axes`` and returns the ``Axes``; :func:`draw_all` composes them
into files (PDF/SVG vector with the big image rasterised, and PNG). Colours are
colour-blind safe: the signed score uses a blue (trained) ↔ red (diverged) diverging
map; lines use the Okabe–Ito palette. The theoretical boundary is drawn wherever
:mod:`lrsweep.theory` knows one.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lrsweep import theory as _theory  # noqa: E402
from lrsweep.store import SweepResult  # noqa: E402

STYLE = str(Path(__file__).with_name("styles") / "paper.mplstyle")
OUTCOME_COLOURS = {"converged": "#0072B2", "bounded": "#E69F00", "diverged": "#D55E00"}
LABELS = {
    "learning_rate": r"learning rate $\eta$",
    "momentum": r"momentum $\beta$",
    "b1": r"$\beta_1$",
    "b2": r"$\beta_2$",
    "loss.curvature_scale": r"curvature scale $s$",
    "init.scale": r"initial scale $|x_0|$",
    "schedule.decay_rate": r"decay rate $\gamma$",
}
_METADATA = {"pdf": {"CreationDate": None, "Producer": None, "Creator": None},
             "svg": {"Date": None, "Creator": None}, "png": {"Software": None}}


def label(name: str) -> str:
    return LABELS.get(name, name.replace("_", " "))


def _is_log(result: SweepResult, name: str) -> bool:
    a = result.spec.axis(name)
    vals = np.asarray(a.values, float) if not a.categorical else np.zeros(1)
    if a.scale == "log":
        return True
    return a.scale == "values" and len(vals) > 2 and vals.min() > 0 and vals.max() / vals.min() > 50


def plot_phase(result: SweepResult, ax, *, x: str, y: str, where: dict | None = None, colorbar: bool = True):
    """Signed-score image over axes ``x`` × ``y`` (other axes fixed by ``where``), boundary and theory overlaid."""
    xs = np.asarray(result.spec.axis(x).values, float)
    ys = np.asarray(result.spec.axis(y).values, float)
    img = grid_array(result, "score", x, y, where)
    xe, ye = _edges(xs, _is_log(result, x)), _edges(ys, _is_log(result, y))
    mesh = ax.pcolormesh(xe, ye, img, cmap="RdBu_r", vmin=-1, vmax=1, shading="flat", rasterized=True)
    if colorbar:
        cb = ax.figure.colorbar(mesh, ax=ax, pad=0.02, fraction=0.05)
        cb.set_label("signed score\n(−: converged, +: diverged)", fontsize=6.5)
        cb.ax.tick_params(labelsize=6)
    ax.set_xscale("log" if _is_log(result, x) else "linear")
    ax.set_yscale("log" if _is_log(result, y) else "linear")
    ax.set_xlabel(label(x))
    ax.set_ylabel(label(y))
    b = result.boundary
    if b is not None and result.spec.boundary.axis == x and len(b):
        bb = _select(b, where).sort_values(y)
        bb = bb[bb["critical"].notna()]
        step = max(1, len(bb) // 24)  # at most ~24 markers: the theory line must stay visible
        ax.plot(bb["critical"].iloc[::step], bb[y].iloc[::step], "o", ms=2.6, mfc="white", mec="black", mew=0.6,
                label=f"measured ({result.spec.steps} steps)", zorder=3)
        dense = np.geomspace(ys.min(), ys.max(), 400) if _is_log(result, y) else np.linspace(ys.min(), ys.max(), 400)
        fixed = {**_first_values(result, exclude=(x, y)), **(where or {})}
        th = _theory.closed_form(result.spec, {y: dense, **{k: np.full(len(dense), v) for k, v in fixed.items()}})
        if th is not None and np.isfinite(th).any():
            ax.plot(th, dense, "k--", lw=0.9, label="theory (asymptotic)", zorder=4)
        ax.set_xlim(xe[0], xe[-1])
        ax.set_ylim(ye[0], ye[-1])
        ax.legend(loc="lower left", fontsize=6, frameon=True, framealpha=0.85)
    return ax


def grid_array(result: SweepResult, metric: str, x: str, y: str, where: dict | None = None) -> np.ndarray:
    """``metric`` on the ``y`` × ``x`` grid (rows: y), other axes at the values in ``where`` (default: first)."""
    spec = result.spec
    arr = result.table.sort_values("config")[metric].to_numpy().reshape(spec.shape)
    index = []
    for a in spec.axes:
        if a.name in (x, y):
            index.append(slice(None))
        elif where and a.name in where:
            vals = list(a.values)
            index.append(vals.index(where[a.name]) if a.categorical else int(np.argmin(np.abs(np.asarray(vals) -
                                                                                             where[a.name]))))
        else:
            index.append(0)
    sub = arr[tuple(index)]
    kept = [a.name for a in spec.axes if a.name in (x, y)]
    return sub if kept == [y, x] else sub.T


def plot_loss_vs_lr(result: SweepResult, ax, *, x: str, by: str | None = None, where: dict | None = None):
    """Final loss against the boundary axis, one curve per value of ``by``; critical values marked."""
    t = _select(result.table, where)
    groups = [(None, t)] if by is None else list(t.groupby(by, observed=True, sort=False))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    b = result.boundary
    floor = result.spec.criteria.converge_tol * 1e-3  # losses below are drawn on the floor
    for i, (key, g) in enumerate(groups):
        g = g.sort_values(x)
        c = colours[i % len(colours)] if by is not None else "0.3"
        gap = g["final_loss"].to_numpy()
        y = np.where(g["diverged"], np.nan, np.clip(gap, floor, None))
        ax.plot(g[x], y, "-", color=c, lw=0.9, label=None if key is None else f"{key}")
        if by is None:
            for name, col in OUTCOME_COLOURS.items():
                m = (g["outcome"] == name).to_numpy()
                yy = np.where(g["diverged"], g["initial_loss"].max() * 10, np.clip(gap, floor, None))
                ax.plot(g[x][m], yy[m], "o", ms=2, color=col, label=name, ls="none")
        if b is not None and len(b):
            bb = b if by is None else b[b[by].astype(str) == str(key)]
            bb = _select(bb, where)
            for _, row in bb.iterrows():
                if np.isfinite(row["critical"]):
                    ax.axvline(row["critical"], color=c, lw=0.8, ls="-", alpha=0.8)
                for col, ls in (("theory", "--"), ("theory_finite", ":")):
                    if col in row and np.isfinite(row.get(col, np.nan)):
                        ax.axvline(row[col], color="k" if by is None else c, lw=0.8, ls=ls)
    ax.set_xscale("log" if _is_log(result, x) else "linear")
    ax.set_yscale("log")
    ax.set_xlabel(label(x))
    ax.set_ylabel("final loss")
    handles, labels_ = ax.get_legend_handles_labels()
    if b is not None and len(b):
        from matplotlib.lines import Line2D

        handles += [Line2D([], [], color="0.3", lw=0.8), Line2D([], [], color="k", lw=0.8, ls="--"),
                    Line2D([], [], color="k", lw=0.8, ls=":")]
        labels_ += ["measured critical", "theory (asymptotic)", "theory (finite horizon)"]
    ax.legend(handles, labels_, fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    ax.set_ylabel(f"final loss (floor {floor:.0e}; diverged drawn at top)" if by is None else "final loss")
    return ax


def plot_critical_by(result: SweepResult, ax, *, by: str):
    """Refined critical value per category of ``by`` (e.g. schedule), exact finite-horizon theory beside it."""
    b = result.boundary.reset_index(drop=True)
    ypos = np.arange(len(b))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, row in b.iterrows():
        c = colours[i % len(colours)]
        if np.isfinite(row["critical"]):
            ax.errorbar(row["critical"], i, xerr=[[row["critical"] - row["lower"]], [row["upper"] - row["critical"]]],
                        fmt="o", color=c, ms=3.5)
        if "theory_finite" in row and np.isfinite(row["theory_finite"]):
            ax.plot(row["theory_finite"], i, "x", color="k", ms=5, mew=0.8)
    from matplotlib.lines import Line2D

    ax.legend([Line2D([], [], marker="o", ls="none", color="0.3"), Line2D([], [], marker="x", ls="none", color="k")],
              ["measured", "exact (product formula)"], fontsize=6, loc="upper right")
    ax.set_yticks(ypos, [str(v) for v in b[by]])
    for i, tick in enumerate(ax.get_yticklabels()):
        tick.set_color(colours[i % len(colours)])
    ax.set_ylim(-0.6, len(b) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel("critical " + label(result.spec.boundary.axis))
    return ax


def plot_trajectories(result: SweepResult, ax, *, quantity: str = "param_0"):
    """``quantity`` (an iterate coordinate or ``loss``) against step for the recorded configurations."""
    tr = result.trajectories
    sel = list(result.spec.trajectories.select) if result.spec.trajectories else []
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (k, g) in enumerate(tr.groupby("trajectory", sort=True)):
        name = ", ".join(f"{_short(s)}={g[s].iloc[0]:g}" if not isinstance(g[s].iloc[0], str) else f"{g[s].iloc[0]}"
                         for s in sel)
        ax.plot(g["step"], g[quantity], "o-", ms=2.5, lw=0.9, color=colours[i % len(colours)], label=name)
    ax.axhline(0, color="0.6", lw=0.5)
    ax.set_xlabel("step $t$")
    ax.set_ylabel(r"iterate $x_t$" if quantity.startswith("param") else "loss")
    if quantity == "loss":
        ax.set_yscale("log")
    ax.legend(fontsize=6)
    return ax


def _short(name: str) -> str:
    return {"learning_rate": r"$\eta$", "momentum": r"$\beta$"}.get(name, name)


def _select(df: pd.DataFrame, where: dict | None) -> pd.DataFrame:
    if not where:
        return df
    m = np.ones(len(df), bool)
    for k, v in where.items():
        col = df[k]
        m &= (col.astype(str) == str(v)).to_numpy() if isinstance(v, str) else np.isclose(col.astype(float), v)
    return df[m]


def _first_values(result: SweepResult, exclude=()) -> dict:
    return {a.name: a.values[0] for a in result.spec.axes if a.name not in exclude and not a.categorical}


def _edges(v: np.ndarray, log: bool) -> np.ndarray:
    if len(v) == 1:
        return np.array([v[0] * 0.9, v[0] * 1.1]) if log else np.array([v[0] - 0.5, v[0] + 0.5])
    w = np.log(v) if log else v
    mid = 0.5 * (w[1:] + w[:-1])
    e = np.concatenate([[w[0] - (mid[0] - w[0])], mid, [w[-1] + (w[-1] - mid[-1])]])
    return np.exp(e) if log else e


def _save(fig, out: Path, stem: str, formats) -> list[Path]:
    paths = []
    for fmt in formats:
        p = out / f"{stem}.{fmt}"
        fig.savefig(p, format=fmt, metadata=_METADATA[fmt])
        paths.append(p)
    plt.close(fig)
    return paths


def draw_all(result: SweepResult, out: str | Path, formats=("pdf", "png")) -> list[Path]:
    """The default figures of a result, written to ``out``; returns the paths."""
    out = Path(out)
    spec = result.spec
    x = spec.boundary.axis or spec.axes[0].name
    others = [a for a in spec.axes if a.name != x and len(a) > 1]
    paths: list[Path] = []
    with plt.style.context(STYLE):
        numeric = [a for a in others if not a.categorical]
        categorical = [a for a in others if a.categorical]
        if numeric:
            y = numeric[0].name
            facets = _facets(result, exclude=(x, y))
            n = len(facets)
            cols = min(n, 3)
            rows = math.ceil(n / cols)
            fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.6 * rows), squeeze=False)
            for ax, where in zip(axes.flat, facets):
                plot_phase(result, ax, x=x, y=y, where=where)
                if where:
                    ax.set_title(", ".join(f"{label(k)} = {v}" for k, v in where.items()), fontsize=7)
            for ax in list(axes.flat)[n:]:
                ax.set_visible(False)
            paths += _save(fig, out, "phase", formats)
        elif categorical and result.boundary is not None:
            fig, (a0, a1) = plt.subplots(1, 2, figsize=(7.0, 2.6), width_ratios=(1.5, 1))
            plot_loss_vs_lr(result, a0, x=x, by=categorical[0].name)
            a0.get_legend().remove()
            plot_critical_by(result, a1, by=categorical[0].name)
            fig.tight_layout()
            paths += _save(fig, out, "compare", formats)
        else:
            fig, ax = plt.subplots(figsize=(3.4, 2.6))
            plot_loss_vs_lr(result, ax, x=x, by=categorical[0].name if categorical else None)
            paths += _save(fig, out, "phase" if not categorical else "compare", formats)
        if result.trajectories is not None:
            fig, axs = plt.subplots(1, 2, figsize=(6.8, 2.4))
            if "param_0" in result.trajectories:
                plot_trajectories(result, axs[0], quantity="param_0")
            plot_trajectories(result, axs[1], quantity="loss")
            paths += _save(fig, out, "trajectories", formats)
    return paths


def _facets(result: SweepResult, exclude) -> list[dict]:
    rest = [a for a in result.spec.axes if a.name not in exclude and len(a) > 1]
    if not rest:
        return [{}]
    combos = [{}]
    for a in rest:
        combos = [{**c, a.name: v} for c in combos for v in a.values]
    return combos[:9]
