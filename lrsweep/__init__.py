"""lrsweep: JAX-accelerated learning-rate sweeps, divergence boundaries and stability phase diagrams.

>>> import lrsweep
>>> spec = lrsweep.load_sweep("sweeps/x2-gd.toml")          # doctest: +SKIP
>>> result = lrsweep.run(spec)                               # doctest: +SKIP
>>> result.table, result.boundary                            # doctest: +SKIP
"""

from lrsweep.config import Axis as Axis
from lrsweep.config import SweepError as SweepError
from lrsweep.config import SweepSpec as SweepSpec
from lrsweep.config import from_dict as from_dict
from lrsweep.config import load_sweep as load_sweep
from lrsweep.engine import Program as Program
from lrsweep.outcomes import Outcome as Outcome
from lrsweep.store import SweepResult as SweepResult
from lrsweep.store import load as load_results  # noqa: F401  (public name)
from lrsweep.sweep import run as run

__version__ = "0.1.0"
