"""One self-contained HTML page for a results directory: ``lrsweep report DIR``.

The page holds every figure that applies (inline SVG, the big images rasterised inside
them as PNG data), the boundary table, the manifest (versions, devices, timings) and
the resolved sweep file. It loads nothing from anywhere and runs no script, so it opens
offline, attaches to an e-mail, and renders the same in any browser. The bytes are
deterministic for the same results directory.
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from lrsweep import figstyle, plot
from lrsweep.store import BOUNDARY, SENSITIVITY, SWEEP, SweepResult, load

REPORT = "report.html"
MAX_ROWS = 1000
CAPTIONS = {
    "phase": "Phase diagram: every configuration coloured by its signed score (blue converged, red diverged; "
             "colour is the score's quantile within its phase). Circles: measured critical values; dashed: theory.",
    "boundary": "Critical value per slice: measured (refined bracket as error bars, grid bracket shaded), "
                "asymptotic estimate and theory.",
    "loss": "Final (solid) and best (dotted) loss against the boundary axis; vertical lines mark the critical values.",
    "trajectories": "Recorded trajectories: iterate and loss against step.",
    "schedules": "The sweep under each schedule, shared axes and one colour scale.",
}
CSS = """
body{font-family:Georgia,'DejaVu Serif',serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;
line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;
margin-top:1.6em}
figure{margin:1.2em 0}figure svg{width:min(100%,760px);height:auto;display:block}
figcaption{font-size:.9em;color:#444;margin-top:.3em}
table{border-collapse:collapse;font-size:.8em;font-family:'DejaVu Sans Mono',monospace}
th,td{border-bottom:1px solid #ddd;padding:.15em .6em;text-align:right}th{background:#f3f3f3}
.scroll{overflow-x:auto;max-height:32em;overflow-y:auto}
pre{background:#f7f7f7;padding:.8em;overflow:auto;max-height:32em;font-size:.8em}
.muted{color:#666}
"""


def figure_svgs(result: SweepResult, *, style: str = "paper", kinds=None) -> dict[str, str]:
    """Each applicable figure kind as an inline ``<svg>`` element (no XML prolog), ids unique per kind."""
    import matplotlib.pyplot as plt

    out = {}
    for kind in kinds or plot.KINDS:
        with figstyle.use(style, salt=kind):
            fig = plot.figure(result, kind)
            if fig is None:
                continue
            try:
                text = figstyle.to_bytes(fig, "svg").decode()
            finally:
                plt.close(fig)
        svg = text[text.index("<svg"):]
        out[kind] = svg.replace("<svg ", f'<svg role="img" aria-label="{kind} figure" class="figure-{kind}" ', 1)
    return out


def _table_html(df, css_class: str) -> str:
    more = ""
    if len(df) > MAX_ROWS:
        more = f'<p class="muted">first {MAX_ROWS} of {len(df)} rows</p>'
        df = df.head(MAX_ROWS)
    return df.to_html(index=False, border=0, classes=css_class, na_rep="–", float_format=lambda v: f"{v:.8g}") + more


def _manifest_rows(m: dict) -> list[tuple[str, str]]:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, (list, tuple)):
            return ", ".join(map(str, v))
        return "–" if v is None else str(v)

    rows = [(k, fmt(m[k])) for k in ("status", "started", "finished", "configurations", "steps", "dtype",
                                     "compile_seconds", "run_seconds", "config_steps_per_second", "refine_seconds",
                                     "compiles") if k in m]
    git = m.get("git") or {}
    if git:
        rows.append(("git", f"{git.get('commit') or '–'}{' (dirty)' if git.get('dirty') else ''}"))
    hostinfo = m.get("host") or {}
    for k in ("backend", "devices", "platform"):
        if k in hostinfo:
            rows.append((k, fmt(hostinfo[k])))
    for k, v in (m.get("versions") or {}).items():
        rows.append((k, fmt(v)))
    return rows


def _sweep_text(result: SweepResult) -> str:
    if result.path is not None and (Path(result.path) / SWEEP).exists():
        return (Path(result.path) / SWEEP).read_text()
    return result.spec.to_toml()


def render(result: SweepResult, *, style: str = "paper", kinds=None) -> str:
    """The report page of ``result`` as one HTML string."""
    e = html.escape
    spec, m = result.spec, result.manifest
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>lrsweep report: {e(spec.name)}</title><style>{CSS}</style></head><body>",
             f"<h1>{e(spec.name)}</h1>"]
    if spec.description:
        parts.append(f"<p>{e(spec.description)}</p>")
    axes = " × ".join(f"{a.name} ({len(a)})" for a in spec.axes)
    rate = m.get("config_steps_per_second")
    parts.append(f'<p class="muted">{spec.size:,} configurations ({e(axes)}) × {spec.steps} steps'
                 + (f"; run {m['run_seconds']:.3g} s after {m['compile_seconds']:.3g} s compilation"
                    if isinstance(m.get("run_seconds"), (int, float)) and isinstance(m.get("compile_seconds"),
                                                                                      (int, float)) else "")
                 + (f" ({rate:.3g} configuration-steps/s)" if isinstance(rate, (int, float)) else "") + "</p>")
    parts.append('<h2 id="figures">Figures</h2>')
    for kind, svg in figure_svgs(result, style=style, kinds=kinds).items():
        parts.append(f'<figure id="figure-{kind}">{svg}<figcaption><b>{kind}.</b> {e(CAPTIONS[kind])}'
                     f' Redraw: <code>lrsweep plot DIR --kind {kind}</code>.</figcaption></figure>')
    parts.append('<h2 id="boundary">Boundary</h2>')
    b = result.boundary
    if b is not None and len(b):
        parts.append(f"<p>One row per slice of <code>{e(BOUNDARY)}</code>: critical <code>"
                     f"{e(str(spec.boundary.axis))}</code>, its grid and refined brackets, the asymptotic estimate "
                     "and theory where it exists.</p>")
        parts.append(f'<div class="scroll">{_table_html(b, "boundary")}</div>')
    else:
        parts.append('<p class="muted">No boundary axis in this sweep.</p>')
    sens = result.sensitivity
    if sens is not None and len(sens) and (b is None or "sensitivity" not in b):  # else: columns of the boundary
        parts.append('<h2 id="sensitivity">LR sensitivity</h2>')
        lo, hi = spec.boundary.sensitivity_range or (float("nan"), float("nan"))
        parts.append(f"<p>One row per slice of <code>{e(SENSITIVITY)}</code>: Wortsman et al.'s LR sensitivity of "
                     f"<code>{e(spec.boundary.sensitivity_loss)}</code> over learning rates in [{lo:g}, {hi:g}].</p>")
        parts.append(f'<div class="scroll">{_table_html(sens, "sensitivity")}</div>')
    parts.append('<h2 id="manifest">Manifest</h2><table class="manifest"><tbody>')
    parts += [f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _manifest_rows(m)]
    parts.append("</tbody></table>")
    parts.append("<details><summary>manifest.json</summary><pre>"
                 f"{e(json.dumps(m, indent=2, default=str), quote=False)}</pre></details>")
    parts.append('<h2 id="sweep">Resolved sweep file</h2>'
                 f'<pre class="sweep">{e(_sweep_text(result), quote=False)}</pre>')
    parts.append('<p class="muted">Made by <code>lrsweep report</code>.</p></body></html>')
    return "\n".join(parts) + "\n"


def write(results_dir: str | Path, out: str | Path | None = None, *, style: str = "paper") -> Path:
    """Render the report of ``results_dir`` to ``out`` (default ``results_dir/report.html``), atomically."""
    result = load(results_dir)
    out = Path(out) if out is not None else Path(results_dir) / REPORT
    text = render(result, style=style)
    from lrsweep.store import atomic_write

    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(out, lambda p: p.write_text(text, encoding="utf-8"))


CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars")


def chromium() -> str | None:
    """Path of a Chromium binary (``/usr/bin/chromium`` or on ``PATH``), or ``None``."""
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(page: str | Path, png: str | Path, *, width: int = 1200, height: int = 1600,
               timeout: float = 120) -> Path:
    """A PNG screenshot of an HTML file by headless Chromium (``RuntimeError`` if none is installed)."""
    exe = chromium()
    if exe is None:
        raise RuntimeError("no Chromium found (install Debian's `chromium` package)")
    png = Path(png).resolve()
    with tempfile.TemporaryDirectory(prefix="lrsweep-chromium-") as profile:
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
               f"--screenshot={png}", Path(page).resolve().as_uri()]
        subprocess.run(cmd, check=True, capture_output=True, timeout=timeout)
    return png


