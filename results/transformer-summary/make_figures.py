"""Figures and the LR-sensitivity / critical-learning-rate table of the small-transformer sweeps, from the
committed results only (results/transformer-*/table.parquet; nothing is retrained).

    python results/transformer-summary/make_figures.py      # from the repository root

Writes, next to this file: summary.csv (one row per curve), warmup.csv (one row per warm-up length and
qk-layernorm setting of transformer-warmup-w32) and loss-vs-lr, attention-logits, logit-drift, mup-vs-sp
and warmup figures as PDF, SVG and PNG.

* final loss = ``eval_ce``: the validation cross-entropy (without the z-loss term) of the final
  parameters, NaN for a diverged run (lrsweep reports no columns on a diverged run's parameters);
* initial loss = the validation cross-entropy of the initial parameters (every configuration of a sweep
  starts from the same parameters: seed 0), computed here with the same model;
* LR sensitivity = ``lrsweep.sensitivity.lr_sensitivity`` over [3e-4, 3e-1] (a diverged run counts as
  the initial loss);
* critical learning rate = the geometric midpoint of the grid bracket [largest η below the first
  diverged one, first diverged η] (divergence: some update's loss > 1.1 × the initial training loss, or
  not finite); ``n_transitions`` counts changes of the diverged flag along η.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from lrsweep import figstyle  # noqa: E402
from lrsweep import transformer as T  # noqa: E402
from lrsweep.sensitivity import RANGE, lr_sensitivity  # noqa: E402

HERE = Path(__file__).resolve().parent
RUNS = {  # results dir -> (width, parameterisation, named problem)
    "transformer-w32": (32, "SP", T.lm_w32), "transformer-w64": (64, "SP", T.lm_w64),
    "transformer-w96": (96, "SP", T.lm_w96),
    "transformer-mup-w64": (64, "µP", T.lm_mup_w64), "transformer-mup-w96": (96, "µP", T.lm_mup_w96),
}
OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
LR_LABEL = r"peak learning rate $\eta$ (AdamW)"
CE_LABEL = "final validation loss\n(cross-entropy, nats/byte)"


def initial_valid_ce(problem, qk_layernorm) -> float:
    """Validation cross-entropy of the initial parameters (seed 0, init index 0: lrsweep's key)."""
    params = problem.init(jax.random.fold_in(jax.random.key(0), 0))
    return float(problem.metrics["ce"](params, problem.eval_data, qk_layernorm=bool(qk_layernorm)))


def critical(lr: np.ndarray, diverged: np.ndarray) -> tuple[float, float, float, int]:
    """``(lower, upper, critical, n_transitions)`` of one curve (lr increasing)."""
    d = diverged.astype(bool)
    n_tr = int(np.sum(d[1:] != d[:-1]))
    if not d.any():
        return lr[-1], np.nan, np.nan, n_tr
    i = int(np.argmax(d))
    if i == 0:
        return np.nan, lr[0], np.nan, n_tr
    return lr[i - 1], lr[i], float(np.sqrt(lr[i - 1] * lr[i])), n_tr


def load() -> tuple[pd.DataFrame, pd.DataFrame]:
    """All runs in one table, and one summary row per curve."""
    frames, rows = [], []
    for name, (width, param, make) in RUNS.items():
        path = ROOT / "results" / name / "table.parquet"
        if not path.exists():
            print(f"skipping {name}: no {path}")
            continue
        t = pd.read_parquet(path)
        for col, default in (("loss.qk_layernorm", 1), ("loss.z_loss", 1e-4)):
            if col not in t:
                t[col] = default
        problem = make()
        f0s = {qk: initial_valid_ce(problem, qk) for qk in sorted(t["loss.qk_layernorm"].unique())}
        t = t.assign(run=name, width=width, param=param, initial_valid_ce=t["loss.qk_layernorm"].map(f0s))
        frames.append(t)
        for (qk, z), g in t.groupby(["loss.qk_layernorm", "loss.z_loss"]):
            f0 = f0s[qk]
            g = g.sort_values("learning_rate")
            lr = g["learning_rate"].to_numpy()
            lo, hi, crit, ntr = critical(lr, g["diverged"].to_numpy())
            ok = g[~g["diverged"]]
            best = ok.loc[ok["eval_ce"].idxmin()] if len(ok) else None
            rows.append({"run": name, "width": width, "param": param, "qk_layernorm": int(qk), "z_loss": float(z),
                         "lr_sensitivity": lr_sensitivity(lr, g["eval_ce"], f0, RANGE),
                         "best_valid_ce": float(best["eval_ce"]) if best is not None else np.nan,
                         "best_lr": float(best["learning_rate"]) if best is not None else np.nan,
                         "critical_lr": crit, "bracket_lower": lo, "bracket_upper": hi, "n_transitions": ntr,
                         "initial_valid_ce": f0, "max_attn_logit_at_best_lr": float(
                             best[["attn_logit_0", "attn_logit_1"]].max()) if best is not None else np.nan})
    return pd.concat(frames, ignore_index=True), pd.DataFrame(rows)


def check_against_sweeps(summary: pd.DataFrame) -> None:
    """The LR sensitivity computed here equals the one each sweep wrote (``sensitivity.csv``, from
    ``[boundary] sensitivity_range``): two computations, one from the table here, one in the engine's
    pipeline, must agree to float precision."""
    for name, g in summary.groupby("run"):
        path = ROOT / "results" / name / "sensitivity.csv"
        if not path.exists():
            continue
        s = pd.read_csv(path)
        for col, key in (("loss.qk_layernorm", "qk_layernorm"), ("loss.z_loss", "z_loss")):
            if col not in s:
                s[col] = g[key].iloc[0]
        for _, row in g.iterrows():
            m = s[(s["loss.qk_layernorm"] == row["qk_layernorm"]) & np.isclose(s["loss.z_loss"], row["z_loss"])]
            if len(m) != 1 or not np.isclose(m["sensitivity"].iloc[0], row["lr_sensitivity"], rtol=1e-5):
                raise SystemExit(f"{name}: LR sensitivity {row['lr_sensitivity']} here, "
                                 f"{m['sensitivity'].tolist()} in {path}")


def _save(fig, stem: str):
    for fmt in figstyle.FORMATS:
        figstyle.save(fig, HERE / f"{stem}.{fmt}")
    plt.close(fig)


def _curve(ax, g, y, **kw):
    g = g.sort_values("learning_rate")
    ax.plot(g["learning_rate"], g[y], marker="o", ms=2.5, **kw)
    d = g[g["diverged"]]
    if len(d):  # diverged runs: a cross at the initial loss level (their final loss counts as that)
        ax.plot(d["learning_rate"], d["initial_valid_ce"] if y == "eval_ce" else np.full(len(d), np.nan),
                ls="none", marker="x", ms=4, color=kw.get("color"))


def fig_loss(all_runs: pd.DataFrame):
    sp = all_runs[all_runs["param"] == "SP"]
    widths = sorted(sp["width"].unique())
    with figstyle.use("paper", salt="transformer-loss"):
        fig, axes = plt.subplots(1, len(widths), figsize=(figstyle.width("two"), 2.4), sharey=True, squeeze=False)
        for ax, w in zip(axes[0], widths):
            g = sp[sp["width"] == w]
            for i, ((qk, z), c) in enumerate(g.groupby(["loss.qk_layernorm", "loss.z_loss"])):
                ls = "-" if z > 0 else "--"
                _curve(ax, c, "eval_ce", color=OKABE_ITO[int(qk)], ls=ls,
                       label=f"qk-LN {'on' if qk else 'off'}, z-loss {'1e-4' if z else 'off'}")
            ax.axhline(g["initial_valid_ce"].iloc[0], color="0.6", lw=0.8, ls=":")
            ax.axvspan(*RANGE, color="0.93", zorder=0)
            ax.set_xscale("log")
            ax.set_title(f"width {w}")
            ax.set_xlabel(LR_LABEL)
        axes[0, 0].set_ylabel(CE_LABEL)
        richest = max(axes[0], key=lambda a: len(a.get_legend_handles_labels()[0]))
        richest.legend(fontsize=5.5, loc="upper center", bbox_to_anchor=(0.45, 0.9), title="shaded: LR-sensitivity range; ×: diverged",
                       title_fontsize=5.5)
        fig.tight_layout()
        _save(fig, "loss-vs-lr")


def fig_attn(all_runs: pd.DataFrame):
    sp = all_runs[(all_runs["param"] == "SP") & (all_runs["loss.z_loss"] > 0)]
    with figstyle.use("paper", salt="transformer-attn"):
        fig, ax = plt.subplots(figsize=(figstyle.width("one"), 2.6))
        for j, w in enumerate(sorted(sp["width"].unique())):
            for qk in (0, 1):
                g = sp[(sp["width"] == w) & (sp["loss.qk_layernorm"] == qk)].sort_values("learning_rate")
                y = g[["attn_logit_0", "attn_logit_1"]].max(axis=1)
                ax.plot(g["learning_rate"], y, marker="os"[qk], ms=2.5, color=OKABE_ITO[j], ls=["--", "-"][qk],
                        label=f"width {w}, qk-LN {'on' if qk else 'off'}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(LR_LABEL)
        ax.set_ylabel("max attention logit after training\n(pre-softmax, over layers; dimensionless)")
        ax.legend(fontsize=5.5)
        fig.tight_layout()
        _save(fig, "attention-logits")


def fig_drift(all_runs: pd.DataFrame):
    g64 = all_runs[(all_runs["run"] == "transformer-w64")]
    with figstyle.use("paper", salt="transformer-drift"):
        fig, ax = plt.subplots(figsize=(figstyle.width("one"), 2.4))
        for i, ((qk, z), g) in enumerate(g64.groupby(["loss.qk_layernorm", "loss.z_loss"])):
            g = g.sort_values("learning_rate")
            ax.plot(g["learning_rate"], g["eval_logz"], marker="o", ms=2.5, color=OKABE_ITO[i],
                    ls="-" if z > 0 else "--", label=f"qk-LN {'on' if qk else 'off'}, z-loss {'1e-4' if z else 'off'}")
        ax.set_xscale("log")
        ax.set_xlabel(LR_LABEL)
        ax.set_ylabel(r"output-logit drift: mean $\log Z$ (nats)")
        ax.set_title("width 64", fontsize=7)
        ax.legend(fontsize=5.5)
        fig.tight_layout()
        _save(fig, "logit-drift")


def fig_mup(all_runs: pd.DataFrame):
    base = all_runs[(all_runs["loss.qk_layernorm"] == 1) & (all_runs["loss.z_loss"] > 0)]
    with figstyle.use("paper", salt="transformer-mup"):
        fig, axes = plt.subplots(1, 2, figsize=(figstyle.width("two"), 2.4), sharey=True)
        for ax, param in zip(axes, ("SP", "µP")):
            for j, w in enumerate(sorted(base["width"].unique())):
                g = base[(base["width"] == w) & ((base["param"] == param) | ((base["width"] == 32) & (base["param"] == "SP")))]
                if len(g):
                    _curve(ax, g, "eval_ce", color=OKABE_ITO[j], label=f"width {w}")
            ax.set_xscale("log")
            ax.set_title("standard parameterisation" if param == "SP" else "µP (base width 32)")
            ax.set_xlabel(LR_LABEL)
        axes[0].set_ylabel(CE_LABEL)
        axes[1].legend(fontsize=6)
        fig.tight_layout()
        _save(fig, "mup-vs-sp")


WARMUP_RUN = "transformer-warmup-w32"


def warmup_summary() -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The warm-up × learning-rate sweep: its table (with the initial validation loss) and one row per
    (warm-up length, qk-layernorm) curve — LR sensitivity (checked against the sweep's sensitivity.csv),
    best and critical learning rates."""
    path = ROOT / "results" / WARMUP_RUN / "table.parquet"
    if not path.exists():
        print(f"skipping {WARMUP_RUN}: no {path}")
        return None
    t = pd.read_parquet(path)
    problem = T.lm_w32()
    f0s = {qk: initial_valid_ce(problem, qk) for qk in sorted(t["loss.qk_layernorm"].unique())}
    t = t.assign(initial_valid_ce=t["loss.qk_layernorm"].map(f0s))
    written = pd.read_csv(ROOT / "results" / WARMUP_RUN / "sensitivity.csv")
    rows = []
    for (w, qk), g in t.groupby(["optimizer.warmup_steps", "loss.qk_layernorm"]):
        g = g.sort_values("learning_rate")
        lr = g["learning_rate"].to_numpy()
        lo, hi, crit, ntr = critical(lr, g["diverged"].to_numpy())
        sens = lr_sensitivity(lr, g["eval_ce"], f0s[qk], RANGE)
        mine = written[(written["optimizer.warmup_steps"] == w) & (written["loss.qk_layernorm"] == qk)]
        if len(mine) != 1 or not np.isclose(mine["sensitivity"].iloc[0], sens, rtol=1e-5):
            raise SystemExit(f"{WARMUP_RUN}: LR sensitivity {sens} here, {mine['sensitivity'].tolist()} written")
        ok = g[~g["diverged"]]
        best = ok.loc[ok["eval_ce"].idxmin()]
        rows.append({"warmup_steps": int(w), "qk_layernorm": int(qk), "lr_sensitivity": sens,
                     "best_valid_ce": float(best["eval_ce"]), "best_lr": float(best["learning_rate"]),
                     "critical_lr": crit, "bracket_lower": lo, "bracket_upper": hi, "n_transitions": ntr})
    return t, pd.DataFrame(rows)


def fig_warmup(t: pd.DataFrame, summary: pd.DataFrame):
    """Left: final validation loss against η for each warm-up length (qk-layernorm off); right: the LR
    sensitivity against the warm-up length, with and without qk-layernorm."""
    with figstyle.use("paper", salt="transformer-warmup"):
        fig, (a, b) = plt.subplots(1, 2, figsize=(figstyle.width("two"), 2.4))
        for i, (w, g) in enumerate(t[t["loss.qk_layernorm"] == 0].groupby("optimizer.warmup_steps")):
            _curve(a, g, "eval_ce", color=OKABE_ITO[i], label=f"warm-up {int(w)}")
        a.axhline(t["initial_valid_ce"].iloc[0], color="0.6", lw=0.8, ls=":")
        a.axvspan(*RANGE, color="0.93", zorder=0)
        a.set_xscale("log")
        a.set_xlabel(LR_LABEL)
        a.set_ylabel(CE_LABEL)
        a.set_title("width 32, qk-layernorm off")
        a.legend(fontsize=5.5, title="updates; ×: diverged", title_fontsize=5.5)
        for qk in (0, 1):
            g = summary[summary["qk_layernorm"] == qk].sort_values("warmup_steps")
            b.plot(g["warmup_steps"], g["lr_sensitivity"], marker="os"[qk], ms=3, color=OKABE_ITO[qk],
                   ls=["--", "-"][qk], label=f"qk-layernorm {'on' if qk else 'off'}")
        b.set_xlabel("warm-up length (updates of 200)")
        b.set_ylabel("LR sensitivity (nats/byte)\nover [3e-4, 3e-1]")
        b.legend(fontsize=6)
        fig.tight_layout()
        _save(fig, "warmup")


def main():
    all_runs, summary = load()
    check_against_sweeps(summary)
    summary.to_csv(HERE / "summary.csv", index=False, float_format="%.6g")
    print(summary.to_string())
    fig_loss(all_runs)
    fig_attn(all_runs)
    if "transformer-w64" in set(all_runs["run"]):
        fig_drift(all_runs)
    fig_mup(all_runs)
    warm = warmup_summary()
    if warm is not None:
        warm[1].to_csv(HERE / "warmup.csv", index=False, float_format="%.6g")
        print(warm[1].to_string())
        fig_warmup(*warm)


if __name__ == "__main__":
    main()
