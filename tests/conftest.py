"""Shared test setup.

The project's scripts live beside the package, not in it (``benchmarks/harness.py``, ``scripts/gallery.py``,
``scripts/seed_figures.py``); they import one another as top-level modules, as they do when run as
``python scripts/gallery.py``, so their folders go on ``sys.path`` here and the tests ``import harness``.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for folder in ("benchmarks", "scripts"):
    if str(ROOT / folder) not in sys.path:
        sys.path.insert(0, str(ROOT / folder))
