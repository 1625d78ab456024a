"""Shared test setup.

The project's scripts live beside the package, not in it (``benchmarks/harness.py``, ``scripts/gallery.py``,
``scripts/seed_figures.py``); they import one another as top-level modules, as they do when run as
``python scripts/gallery.py``, so their folders go on ``sys.path`` here and the tests ``import harness``.

Strict dtype promotion (``jax_numpy_dtype_promotion = "strict"``) is *not* turned on: lrsweep hands optax its
hyperparameters as traced float32 scalars, and optax's own code then mixes them with its int32 step counter
(Adam's bias correction ``b1 ** count``) and with Python floats; tried on six test files, 12 tests failed
inside optax and in the schedules' factors, none of them a wrong number.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for folder in ("benchmarks", "scripts"):
    if str(ROOT / folder) not in sys.path:
        sys.path.insert(0, str(ROOT / folder))
