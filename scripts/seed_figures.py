"""Figures for curvature and the seed cases, beside :mod:`lrsweep.plot` (same style, deterministic files).

================================  ==================================================================
figure                            what it shows
================================  ==================================================================
``critical_vs_sharpness``         measured critical lr against 2(1+β)/λ_max (λ_max measured at init):
                                  on quadratics on the diagonal, on networks above it
``sharpness``                     loss and λ_max during training at a few learning rates, with
                                  2/η dashed: the catapult and the edge of stability
``metric_vs_lr``                  a per-run metric (dead_fraction …) against the learning rate,
                                  median and quartiles over the other axes, critical lr marked
``critical_by``                   critical lr against a loss parameter for several sweeps (SGD vs Adam)
================================  ==================================================================

``python scripts/seed_figures.py [RESULTS]`` redraws every one of these that applies to the
committed results (``results/`` by default); only ``sharpness`` computes (a few seconds: it trains
the recorded configurations again to measure λ_max along the way, saved as ``sharpness.csv``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lrsweep import figstyle
from lrsweep.plot import as_result
from lrsweep.store import SweepResult


def plot_critical_vs_sharpness(results: list[SweepResult], ax, *, labels: list[str] | None = None,
                               columns: list[str] | None = None):
    """Measured critical lr (y; boundary.csv column ``columns[i]``, default ``critical``, the largest lr
    not diverging within the horizon) against the prediction 2(1+β)/λ_max (x), log–log, y = x dashed."""
    cols = figstyle.colours()
    markers = "osD^v<>"
    lo, hi = np.inf, 0.0
    for i, r in enumerate(results):
        b = as_result(r).boundary
        ok = b[(b["status"] == "ok") & np.isfinite(b["sharpness_prediction"])]
        x, y = ok["sharpness_prediction"].to_numpy(), ok[(columns or ["critical"] * len(results))[i]].to_numpy()
        ax.plot(x, y, markers[i % len(markers)], color=cols[i % len(cols)], ms=4, mfc="none",
                label=(labels or [as_result(r).spec.name for r in results])[i])
        if len(x):
            lo, hi = min(lo, x.min(), y.min()), max(hi, x.max(), y.max())
    if hi > 0:
        d = np.array([lo / 2, hi * 2])
        ax.plot(d, d, "--", color="0.3", lw=0.8, label=r"$\eta_c = 2(1+\beta)/\lambda_{\max}$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"prediction $2(1+\beta)/\lambda_{\max}$ from the sharpness at init")
    ax.set_ylabel(r"measured critical learning rate $\eta_c$")
    ax.legend(fontsize="small")
    return ax


def plot_sharpness_track(track: pd.DataFrame, axes):
    """Two panels: loss against step (log) and λ_max against step with 2/η dashed, one colour per lr."""
    cols = figstyle.colours()
    ax_f, ax_l = axes
    top = 0.0
    for i, (lr, g) in enumerate(track.groupby("learning_rate", sort=True)):
        c = cols[i % len(cols)]
        f = g["loss"].to_numpy(float)
        gone = ~np.isfinite(f) | (f > 1e3 * f[0])  # diverged: drawn up to the first blown-up point
        cut = int(np.argmax(gone)) + 1 if gone.any() else len(f)
        tag = " (diverges)" if gone.any() else ""
        ax_f.plot(g["step"][:cut], f[:cut], color=c, label=rf"$\eta$ = {lr:.3g} = {lr * g['sharpness'].iloc[0] / 2:.2g}"
                  rf"$\cdot 2/\lambda_0${tag}")
        ax_l.plot(g["step"][: cut - 1 if gone.any() else cut], g["sharpness"][: cut - 1 if gone.any() else cut],
                  color=c)
        ax_l.axhline(2.0 / lr, color=c, ls="--", lw=0.8)
        top = max(top, 2.0 / lr, float(g["sharpness"].iloc[0]))
    for ax in axes:
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlim(0, float(track["step"].max()))
        ax.set_xlabel("step (linear to 10, then log)")
    ax_f.set_yscale("log")
    ax_f.set_ylim(top=1e3)
    ax_f.set_ylabel("training loss (MSE)")
    ax_f.legend(fontsize="x-small")
    ax_l.set_ylim(0, 1.3 * top)
    ax_l.set_ylabel(r"sharpness $\lambda_{\max}$ (dashed: $2/\eta$)")
    return axes


def plot_metric_vs_lr(result: SweepResult, ax, *, metric: str, x: str = "learning_rate", ylabel: str | None = None):
    """Median of ``metric`` over every other axis against ``x`` (log), quartiles shaded, critical lr
    of each slice as ticks (its median dotted)."""
    r = as_result(result)
    t = r.table
    g = t.groupby(x, sort=True)[metric]
    q = g.quantile([0.25, 0.5, 0.75]).unstack()
    c = figstyle.colours()[0]
    ax.fill_between(q.index, q[0.25], q[0.75], color=c, alpha=0.25, lw=0, label="quartiles over seeds")
    ax.plot(q.index, q[0.5], color=c, label="median")
    if r.boundary is not None and "critical" in r.boundary:
        crit = r.boundary["critical"].to_numpy(float)
        crit = crit[np.isfinite(crit)]
        if len(crit):
            ax.axvline(np.median(crit), color=figstyle.colours()[1], ls=":",
                       label=r"critical $\eta$ (median over seeds)")
            ax.plot(crit, np.full_like(crit, 1.02), "|", color=figstyle.colours()[1], ms=6, clip_on=False)
        if "sharpness_prediction" in r.boundary and np.isfinite(r.boundary["sharpness_prediction"]).any():
            ax.axvline(float(np.nanmedian(r.boundary["sharpness_prediction"])), color=figstyle.colours()[2],
                       ls="--", label=r"$2/\lambda_{\max}$ at init (median)")
    ax.set_xscale("log")
    ax.set_xlabel(figstyle.label(x))
    ax.set_ylabel(ylabel or metric.replace("_", " "))
    ax.set_ylim(-0.02, 1.05)
    ax.legend(fontsize="x-small", loc="center right")
    return ax


def plot_critical_by(results: list[SweepResult], ax, *, by: str, labels: list[str] | None = None,
                     slope: float | None = None, xlabel: str | None = None):
    """Critical lr against axis ``by`` (log–log) for several sweeps; optional reference power law."""
    cols = figstyle.colours()
    for i, r in enumerate(results):
        b = as_result(r).boundary.sort_values(by)
        ok = b["status"] == "ok"
        ax.plot(b[by][ok], b["critical"][ok], "o-", color=cols[i % len(cols)], ms=3,
                label=(labels or [as_result(r).spec.name for r in results])[i])
        if "sharpness_prediction" in b and np.isfinite(b["sharpness_prediction"]).any():
            ax.plot(b[by], b["sharpness_prediction"], ":", color=cols[i % len(cols)], lw=1,
                    label=r"$2/\lambda_{\max}$ at init")
    if slope is not None:
        b = as_result(results[0]).boundary.sort_values(by)
        x0, y0 = float(b[by].iloc[-1]), float(b["critical"].iloc[-1])  # anchored at the largest value
        xs = b[by].to_numpy(float)
        ax.plot(xs, y0 * (xs / x0) ** slope, "--", color="0.4", lw=0.8,
                label=rf"$\propto$ {by.split('.')[-1].replace('_', ' ')}$^{{{slope:g}}}$ (SGD, linearised)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel or figstyle.label(by))
    ax.set_ylabel(r"critical learning rate $\eta_c$")
    ax.legend(fontsize="small")
    return ax


def plot_escape_time(result: SweepResult, ax):
    r"""Saddle of :math:`x^3`: steps to run away from :math:`x_0 < 0` against the continuous-time blow-up
    time :math:`t^* = 1/(3\eta|x_0|)` (from :math:`\dot x = -3\eta x^2`); the diagonal is the theory."""
    r = as_result(result)
    t = r.table
    x0 = t["init.scale"].to_numpy(float) * float(np.ravel(r.spec.init.points)[0])
    d = t[(x0 < 0) & t["diverged"].astype(bool)]
    x0 = d["init.scale"].to_numpy(float) * float(np.ravel(r.spec.init.points)[0])
    tstar = 1.0 / (3.0 * d["learning_rate"].to_numpy(float) * np.abs(x0))
    m = ax.scatter(tstar, d["divergence_step"], c=np.abs(x0), s=4, cmap="viridis", rasterized=True)
    ax.figure.colorbar(m, ax=ax, label=r"$|x_0|$ (start on the downhill side)")
    lim = np.array([0.3, r.spec.steps * 1.5])
    ax.plot(lim, lim, "--", color="0.3", lw=0.8, label=r"$t^* = 1/(3\eta|x_0|)$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"blow-up time of $\dot x = -3\eta x^2$: $1/(3\eta|x_0|)$ (steps)")
    ax.set_ylabel("divergence step (measured)")
    ax.legend(fontsize="small", loc="upper left")
    return ax


def plot_plateau_time(result: SweepResult, ax):
    r"""Sigmoid plateau: steps to converge × η against the start :math:`x_0`, one colour per learning rate.
    On the tail :math:`\sigma(x) \approx e^{x}`, so :math:`\dot x \approx \tfrac{\eta}{2} e^{x}` and
    leaving the plateau takes :math:`t \approx 2 e^{-x_0}/\eta` steps (dashed): the curves collapse."""
    r = as_result(result)
    t = r.table
    x0 = t["init.scale"].to_numpy(float) * float(np.ravel(r.spec.init.points)[0])
    lrs = np.asarray(r.spec.axis("learning_rate").values, float)
    pick = lrs[np.linspace(0, np.searchsorted(lrs, 32.0) - 1, 5).astype(int)]  # stable: η < 2/λ = 32
    cols = figstyle.colours()
    for i, lr in enumerate(pick):
        sel = np.isclose(t["learning_rate"].to_numpy(float), lr) & (t["convergence_step"].to_numpy() > 0)
        ax.plot(x0[sel], t["convergence_step"].to_numpy(float)[sel] * lr, "o", ms=2.5, color=cols[i % len(cols)],
                label=rf"$\eta$ = {lr:.3g}")
    xs = np.linspace(x0.min(), x0.max(), 200)
    ax.plot(xs, 2 * np.exp(-xs), "--", color="0.3", lw=0.8, label=r"$2e^{-x_0}$ (leaving the tail)")
    ax.set_yscale("log")
    ax.set_xlabel(r"initial point $x_0$ (minimum at 0)")
    ax.set_ylabel(r"steps to converge $\times\ \eta$")
    ax.legend(fontsize="x-small")
    return ax


def sharpness_track(result: SweepResult, *, every: int = 2) -> pd.DataFrame:
    """Retrain the recorded trajectories' configurations, measuring λ_max every ``every`` steps."""
    from lrsweep import curvature
    from lrsweep.engine import Program

    r = as_result(result)
    tr = r.trajectories
    first = tr[tr["step"] == 0]
    names = [a.name for a in r.spec.axes]
    values = {n: first[n].to_numpy(float) for n in names}
    steps, f, lam = curvature.sharpness_along(Program(r.spec), values, every=every)
    rows = []
    for i in range(len(first)):
        rows.append(pd.DataFrame({**{n: values[n][i] for n in names}, "step": steps, "loss": f[i],
                                  "sharpness": lam[i]}))
    return pd.concat(rows, ignore_index=True)


def _save(fig, out: Path, stem: str, formats=("pdf", "png")) -> list[Path]:
    try:
        return [figstyle.save(fig, out / f"{stem}.{fmt}", fmt) for fmt in formats]
    finally:
        plt.close(fig)


def draw(results: str | Path = "results") -> list[Path]:
    """Every figure of this module that applies to the results under ``results``."""
    root = Path(results)
    have = {p.name for p in root.iterdir() if (p / "manifest.json").exists()} if root.exists() else set()
    w = figstyle.width("one")
    paths: list[Path] = []
    if {"sharpness-quadratic", "edge-of-stability"} <= have:
        with figstyle.use("paper", salt="sharpness"):
            fig, ax = plt.subplots(figsize=(w, w * 0.9), layout="constrained")
            plot_critical_vs_sharpness([root / "sharpness-quadratic", root / "edge-of-stability"], ax,
                                       labels=["quadratic (κ = 100), 11 curvature scales",
                                               "tanh MLP, 3 init scales"],
                                       columns=["critical_asymptotic", "critical"])
            paths += _save(fig, root / "edge-of-stability", "critical_vs_sharpness")
    if "edge-of-stability" in have:
        out = root / "edge-of-stability"
        csv = out / "sharpness.csv"
        track = pd.read_csv(csv) if csv.exists() else sharpness_track(out)
        if not csv.exists():
            track.to_csv(csv, index=False, float_format="%.6g")
        with figstyle.use("paper", salt="track"):
            fig, axes = plt.subplots(1, 2, figsize=(figstyle.width("two"), 2.6), layout="constrained")
            plot_sharpness_track(track, axes)
            paths += _save(fig, out, "sharpness")
    if "saddle-cubic" in have:
        with figstyle.use("paper", salt="escape"):
            fig, ax = plt.subplots(figsize=(w, w * 0.85), layout="constrained")
            plot_escape_time(root / "saddle-cubic", ax)
            paths += _save(fig, root / "saddle-cubic", "escape_time")
    if "plateau-sigmoid" in have:
        with figstyle.use("paper", salt="plateau"):
            fig, ax = plt.subplots(figsize=(w, w * 0.85), layout="constrained")
            plot_plateau_time(root / "plateau-sigmoid", ax)
            paths += _save(fig, root / "plateau-sigmoid", "plateau_time")
    if "dying-relu" in have:
        with figstyle.use("paper", salt="dead"):
            fig, ax = plt.subplots(figsize=(w, w * 0.75), layout="constrained")
            plot_metric_vs_lr(root / "dying-relu", ax, metric="dead_fraction",
                              ylabel="fraction of dead ReLU units (final weights)")
            paths += _save(fig, root / "dying-relu", "dead_fraction")
    if "plateau-tanh-network" in have:
        with figstyle.use("paper", salt="sat"):
            fig, ax = plt.subplots(figsize=(w, w * 0.75), layout="constrained")
            r = as_result(root / "plateau-tanh-network")
            from lrsweep.plot import grid_array

            img = grid_array(r, "saturated_fraction", "learning_rate", "loss.init_scale")
            div = grid_array(r, "diverged", "learning_rate", "loss.init_scale").astype(bool)
            x = np.asarray(r.spec.axis("learning_rate").values)
            y = np.asarray(r.spec.axis("loss.init_scale").values)
            cmap = plt.get_cmap("viridis").with_extremes(bad="0.8")
            m = ax.pcolormesh(x, y, np.ma.masked_where(div, img), cmap=cmap, shading="nearest", rasterized=True,
                              vmin=0, vmax=1)
            fig.colorbar(m, ax=ax, label="saturated share of hidden activations\n"
                         r"($|$pre-activation$|$ > 3, final weights; grey: diverged)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(figstyle.label("learning_rate"))
            ax.set_ylabel("initial weight scale")
            paths += _save(fig, root / "plateau-tanh-network", "saturated_fraction")
    if {"nan-input-scale-sgd", "nan-input-scale-adam"} <= have:
        with figstyle.use("paper", salt="nan"):
            fig, ax = plt.subplots(figsize=(w, w * 0.85), layout="constrained")
            plot_critical_by([root / "nan-input-scale-sgd", root / "nan-input-scale-adam"], ax,
                             by="loss.input_scale", labels=["SGD", "Adam (overshoot: loss > 10× initial)"],
                             slope=-2.0, xlabel="input scale $s$ (standard deviation of the inputs)")
            paths += _save(fig, root / "nan-input-scale-sgd", "sgd_vs_adam")
    return paths


if __name__ == "__main__":
    matplotlib.use("Agg")  # a script that draws into files
    for p in draw(sys.argv[1] if len(sys.argv) > 1 else "results"):
        print(p)
