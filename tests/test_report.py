"""The HTML report: self-contained, deterministic, and rendered by a real browser without errors."""

import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from lrsweep import report, store
from lrsweep.cli import main

RESULTS = Path(__file__).resolve().parents[1] / "results"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    d = tmp_path_factory.mktemp("report") / "quadratic-momentum"
    shutil.copytree(RESULTS / "quadratic-momentum", d, ignore=shutil.ignore_patterns("*.png", "*.pdf", "*.svg"))
    assert main(["report", str(d)]) == 0
    return d / "report.html"


def test_report_holds_figures_table_manifest_and_sweep(page):
    text = page.read_text()
    d = page.parent
    assert text.count("<svg ") == 3 and 'id="figure-phase"' in text and 'id="figure-boundary"' in text
    boundary = pd.read_csv(d / "boundary.csv")
    rows = re.search(r'<table[^>]*class="dataframe boundary"[^>]*>.*?<tbody>(.*?)</tbody>', text, re.S).group(1)
    assert rows.count("<tr>") == len(boundary) == 100
    assert f"<td>{boundary['critical'][0]:.8g}</td>" in rows
    m = store.load(d).manifest
    assert f"<td>{m['versions']['jax']}</td>" in text and m["git"]["commit"] in text
    assert "nesterov = false" in text and 'name = "quadratic-momentum"' in text  # the resolved sweep file
    # self-contained: nothing is fetched (the only URLs are the SVG namespaces), no script
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:|//)""", text) and "<script" not in text
    assert "@import" not in text and "url(http" not in text


def test_report_is_deterministic(page, tmp_path):
    again = report.write(page.parent, tmp_path / "again.html")
    assert again.read_bytes() == page.read_bytes()


def test_report_on_missing_dir(tmp_path, capsys):
    assert main(["report", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "not a results directory" in err and err.count("\n") == 1


BROWSER = "/usr/bin/chromium"


def test_report_renders_in_headless_chromium(page, tmp_path):
    """Chromium opens the page with no console error, shows the figures and the table; screenshot saved."""
    if not Path(BROWSER).exists():
        if os.environ.get("LRSWEEP_REQUIRE_BROWSER"):
            pytest.fail(f"{BROWSER} is missing but LRSWEEP_REQUIRE_BROWSER is set (apt-get install chromium)")
        pytest.skip(f"{BROWSER} not installed")
    if os.environ.get("LRSWEEP_REQUIRE_BROWSER"):
        from playwright import sync_api
    else:
        sync_api = pytest.importorskip("playwright.sync_api")
    problems = []
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=BROWSER, headless=True,
            args=[*report.CHROMIUM_FLAGS[1:]], viewport={"width": 1100, "height": 1400})
        try:
            tab = ctx.new_page()
            tab.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
                   if msg.type in ("error", "warning") else None)
            tab.on("pageerror", lambda err: problems.append(f"page error: {err}"))
            tab.on("requestfailed", lambda req: problems.append(f"request failed: {req.url}"))
            tab.goto(page.resolve().as_uri(), wait_until="load")
            assert tab.title() == "lrsweep report: quadratic-momentum"
            figures = tab.locator("figure svg")
            assert figures.count() == 3
            for i in range(3):  # each figure is laid out at a real size and its raster image decoded
                box = figures.nth(i).bounding_box()
                assert box["width"] > 300 and box["height"] > 150
            images = tab.evaluate("Array.from(document.querySelectorAll('svg image'))"
                                  ".map(im => im.getBBox().width)")
            assert len(images) >= 2 and min(images) > 3  # the phase image and the colour bar
            assert tab.locator("table.boundary tbody tr").count() == 100
            assert tab.locator("table.boundary").is_visible()
            assert "jax" in tab.locator("table.manifest").inner_text()
            shot = tab.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            ctx.close()
    assert not problems, problems
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "report.png").stat().st_size > 50_000



def test_report_shows_the_sensitivity_table_of_a_sweep_without_boundary(tmp_path):
    import lrsweep

    spec = lrsweep.from_dict({
        "name": "sens", "steps": 20, "loss": {"name": "quadratic", "curvatures": [1.0, 4.0]},
        "init": {"points": [[1.0, 1.0]]},
        "axes": {"learning_rate": {"min": 0.01, "max": 1.0, "num": 5, "scale": "log"}, "momentum": [0.0, 0.9]},
        "boundary": {"axis": "none", "sensitivity_range": [0.01, 0.5]}})
    lrsweep.run(spec, out=tmp_path / "r", progress=False)
    text = report.render(store.load(tmp_path / "r"))
    s = pd.read_csv(tmp_path / "r" / "sensitivity.csv")
    rows = re.search(r'<table[^>]*class="dataframe sensitivity"[^>]*>.*?<tbody>(.*?)</tbody>', text, re.S).group(1)
    assert rows.count("<tr>") == len(s) == 2 and f"<td>{s['sensitivity'][1]:.8g}</td>" in rows
