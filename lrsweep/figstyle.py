"""The look of every figure: packaged styles, journal sizes, axis labels, colours, the
histogram-equalised score, and byte-deterministic files.

Styles are matplotlib style files shipped in ``lrsweep/styles/`` and loaded by name
(``"paper"``, ``"slides"``). Widths follow journal columns: ``"one"`` ≈ 3.4 in,
``"two"`` ≈ 7.0 in. Files are deterministic: no dates, no software string, a fixed
SVG hash salt, so the same data give the same bytes.
"""

from __future__ import annotations

import io
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from lrsweep.config import route

STYLES_DIR = Path(__file__).with_name("styles")
STYLE_NAMES = ("paper", "slides")
WIDTHS = {"one": 3.4, "two": 7.0}  # inches: one journal column, the full page width
FORMATS = ("pdf", "svg", "png")
OUTCOME_COLOURS = {"converged": "#0072B2", "bounded": "#E69F00", "diverged": "#D55E00"}  # Okabe–Ito
SCORE_CMAP = "RdBu_r"  # blue (converged) ↔ red (diverged); safe for the common colour-vision deficiencies
LABELS = {
    "learning_rate": r"learning rate $\eta$",
    "momentum": r"momentum $\beta$",
    "b1": r"$\beta_1$",
    "b2": r"$\beta_2$",
    "eps": r"$\epsilon$",
    "weight_decay": r"weight decay $\lambda_{\mathrm{wd}}$",
    "loss.curvature_scale": r"curvature scale $\lambda$",
    "loss.init_offset": r"initial input-weight offset",
    "init.scale": r"initial scale $|x_0|$",
    "schedule.decay_rate": r"decay rate $\gamma$",
    "schedule": "schedule",
    "seed": "seed",
}
SHORT = {"learning_rate": r"$\eta$", "momentum": r"$\beta$", "loss.curvature_scale": r"$\lambda$",
         "schedule.decay_rate": r"$\gamma$"}
METADATA = {"pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
            "svg": {"Date": None, "Creator": None, "Format": None, "Type": None},
            "png": {"Software": None}}


def style_path(name: str = "paper") -> str:
    """Path of the packaged style ``name``; ``ValueError`` names the choices.

    >>> Path(style_path("slides")).name
    'slides.mplstyle'
    """
    if name not in STYLE_NAMES:
        raise ValueError(f"--style: expected one of {', '.join(STYLE_NAMES)}, found {name!r}")
    return str(STYLES_DIR / f"{name}.mplstyle")


STYLE = style_path("paper")


@contextmanager
def use(style: str = "paper", salt: str | None = None):
    """Apply the packaged style (and an SVG id salt) inside the block."""
    extra = {"svg.hashsalt": f"lrsweep-{salt}"} if salt else {}
    with plt.style.context(style_path(style)), plt.rc_context(extra):
        yield


def width(name: str | float) -> float:
    """Figure width in inches for ``"one"``/``"two"`` columns (or a number of inches).

    >>> width("one"), width("two"), width(5)
    (3.4, 7.0, 5.0)
    """
    if isinstance(name, str):
        if name not in WIDTHS:
            raise ValueError(f"--width: expected one of {', '.join(WIDTHS)}, found {name!r}")
        return WIDTHS[name]
    return float(name)


def label(name: str) -> str:
    r"""Axis label with its symbol; a per-group learning rate is η with the group as subscript; an
    unknown axis falls back to its own name (a ``loss.``/``schedule.``/``optimizer.`` prefix dropped).

    >>> print(label("momentum"), "|", label("learning_rate.layer0"), "|", label("loss.data_seed"))
    momentum $\beta$ | learning rate $\eta_{\mathrm{layer0}}$ | data seed
    """
    if name in LABELS:
        return LABELS[name]
    r = route(name)
    if r.kind == "group_learning_rate":
        return rf"learning rate $\eta_{{\mathrm{{{r.param}}}}}$"
    return (r.param if r.kind in ("loss", "schedule", "optimizer") else name).replace("_", " ")


def short(name: str) -> str:
    return SHORT.get(name, name)


def colours() -> list[str]:
    return plt.rcParams["axes.prop_cycle"].by_key()["color"]


def equalise(score, reference=None) -> np.ndarray:
    """Histogram-equalise a signed score within each sign, keeping the sign.

    With ``F₋`` the empirical CDF of ``|s|`` over the ``reference`` cells with ``s ≤ 0``
    (did not diverge) and ``F₊`` over those with ``s > 0`` (diverged), ``e = −F₋(|s|)``
    or ``+F₊(s)``, at mid-rank (``F(v) = (#{r < v} + ½#{r = v}) / n``) so tied scores
    share one colour. Each phase then spans its half of [−1, 1] uniformly: a phase that
    is nearly uniform in raw score still shows its structure, while the order within
    each phase and the sign are kept. ``reference`` defaults to ``score`` itself (pass
    the union of several panels to share one colour bar). NaN stays NaN.

    >>> equalise([-0.9, -0.1, 0.0, 0.2, 0.2, 0.9]).round(3).tolist()
    [-0.833, -0.5, -0.167, 0.333, 0.333, 0.833]
    """
    s = np.asarray(score, float)
    ref = s if reference is None else np.asarray(reference, float)
    ref = ref[np.isfinite(ref)]
    out = np.full(s.shape, np.nan)
    for in_s, in_ref, sign in ((np.isfinite(s) & (s <= 0), ref <= 0, -1.0), (np.isfinite(s) & (s > 0), ref > 0, 1.0)):
        r = np.sort(np.abs(ref[in_ref]))
        if not r.size:
            out[in_s] = sign * 0.5
            continue
        v = np.abs(s[in_s])
        out[in_s] = sign * (np.searchsorted(r, v, "left") + np.searchsorted(r, v, "right")) / (2 * r.size)
    return out


def equalised_ticks(score, at=(-1.0, -0.5, 0.0, 0.5, 1.0)) -> tuple[list[float], list[str]]:
    """Colour-bar ticks at equalised positions ``at``, labelled with the raw score there.

    Labels carry 3 decimals, more (up to 6) where two ticks of one phase would read alike; a tick whose
    raw score still equals its neighbour's (a phase of tied scores) is dropped.

    >>> equalised_ticks([-0.8, -0.4, -0.2, 0.5, 0.9])
    ([-1.0, -0.5, 0.0, 0.5, 1.0], ['−0.800', '−0.400', '0', '+0.700', '+0.900'])
    >>> equalised_ticks([-0.9, -0.1, 0.98001, 0.98004, 0.98009])[1]
    ['−0.900', '−0.500', '0', '+0.9800', '+0.9801']
    >>> equalised_ticks([-0.5, 0.98, 0.98])
    ([-1.0, 0.0, 1.0], ['−0.500', '0', '+0.980'])
    """
    s = np.asarray(score, float)
    s = s[np.isfinite(s)]
    mags = {-1.0: np.abs(s[s <= 0]), 1.0: s[s > 0]}
    raws = {}
    for e in at:
        part = mags[-1.0 if e < 0 else 1.0]
        if e != 0 and not part.size:
            continue
        raws[float(e)] = 0.0 if e == 0 else float(np.copysign(np.quantile(part, min(abs(e), 1.0)), e))
    labels = {0.0: "0"} if 0.0 in raws else {}
    for sign in (-1.0, 1.0):
        side = sorted((e for e in raws if e * sign > 0), key=abs)
        def text_at(digits):
            return {e: f"{raws[e]:+.{digits}f}".replace("-", "−") for e in side}

        text = text_at(3)
        for digits in range(3, 7):
            if len(set(text_at(digits).values())) == len(side):
                text = text_at(digits)
                break
        for e in side:  # still alike: keep the outermost of equal neighbours
            if any(text[o] == text[e] for o in side if abs(o) > abs(e)):
                continue
            labels[e] = text[e]
    ticks = sorted(labels)
    return ticks, [labels[e] for e in ticks]


EQUALISED_LABEL = "signed score: colour = its quantile within its phase\n(− converged, + diverged; ticks: raw score)"


def save(fig, path: str | Path, fmt: str | None = None) -> Path:
    """Write ``fig`` with deterministic metadata (format from the suffix unless ``fmt``)."""
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"{path}: expected a format among {', '.join(FORMATS)}, found {fmt!r}")
    fig.savefig(path, format=fmt, metadata=METADATA[fmt])
    return path


def to_bytes(fig, fmt: str) -> bytes:
    """The file ``save`` would write, in memory."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, metadata=METADATA[fmt])
    return buf.getvalue()
