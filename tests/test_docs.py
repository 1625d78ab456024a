"""The README and docs/: every relative link and image points at a file of the repository (and at a heading
of it, for ``#anchors``), and the README stays a front page (at most 150 lines)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "README.md"]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped (letters, digits, ``-``, ``_`` and spaces
    kept), spaces as ``-``."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"(?ms)^```.*?^```", "", page.read_text())  # headings, not comments in code blocks
    return {slug(m.group(1)) for m in re.finditer(r"(?m)^#{1,6} +(.+?) *$", text)}


def test_slug_is_githubs():
    assert slug("Curvature, the catapult, and `lrsweep suggest`") == "curvature-the-catapult-and-lrsweep-suggest"
    assert slug("A note on seed 000's arithmetic") == "a-note-on-seed-000s-arithmetic"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    bad = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):  # http(s), mailto: not checked offline
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{target}: no heading #{anchor} in {dest.relative_to(ROOT)}")
    assert not bad, bad


def test_readme_is_a_front_page():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 150, len(lines)
    text = "\n".join(lines)
    for heading in ("## Your model, your data", "## The two commands"):  # the tested example, the CI command
        assert heading in text
    assert "shared/seeds" not in text  # not part of the repository: docs/results.md quotes the seeds
