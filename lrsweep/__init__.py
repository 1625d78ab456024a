"""lrsweep: JAX-accelerated learning-rate sweeps, divergence boundaries and stability phase diagrams.

>>> import lrsweep
>>> problem = lrsweep.Problem(loss=loss_fn, init=init_fn, data=(X, y), batch_size=64)   # doctest: +SKIP
>>> result = lrsweep.sweep(problem, axes={"learning_rate": lrsweep.logspace(1e-4, 10, 64)},
...                        steps=500)                                                   # doctest: +SKIP

>>> spec = lrsweep.load_sweep("sweeps/x2-gd.toml")          # doctest: +SKIP
>>> result = lrsweep.run(spec)                               # doctest: +SKIP
>>> result.table, result.boundary                            # doctest: +SKIP
"""

from lrsweep.api import linspace as linspace
from lrsweep.api import logspace as logspace
from lrsweep.api import sweep as sweep
from lrsweep.config import Axis as Axis
from lrsweep.config import SweepError as SweepError
from lrsweep.config import SweepSpec as SweepSpec
from lrsweep.config import from_dict as from_dict
from lrsweep.config import load_sweep as load_sweep
from lrsweep.engine import Program as Program
from lrsweep.outcomes import Outcome as Outcome
from lrsweep.problem import Problem as Problem
from lrsweep.problem import ProblemError as ProblemError
from lrsweep.store import SweepResult as SweepResult
from lrsweep.store import load as load_results  # noqa: F401  (public name)
from lrsweep.pipeline import run as run

__version__ = "0.1.0"
