"""lrsweep: JAX-accelerated learning-rate sweeps, divergence boundaries and stability phase diagrams.

>>> import lrsweep
>>> problem = lrsweep.Problem(loss=loss_fn, init=init_fn, data=(X, y), batch_size=64)   # doctest: +SKIP
>>> result = lrsweep.sweep(problem, axes={"learning_rate": lrsweep.logspace(1e-4, 10, 64)},
...                        steps=500)                                                   # doctest: +SKIP

>>> spec = lrsweep.load_sweep("sweeps/x2-gd.toml")          # doctest: +SKIP
>>> result = lrsweep.run(spec)                               # doctest: +SKIP
>>> result.table, result.boundary                            # doctest: +SKIP
"""

import importlib

__version__ = "0.1.0"

# The public names, imported on first use (PEP 562): `import lrsweep` and `lrsweep --help` start no JAX.
_EXPORTS = {
    "Problem": "lrsweep.problem",
    "ProblemError": "lrsweep.problem",
    "sweep": "lrsweep.api",
    "logspace": "lrsweep.api",
    "linspace": "lrsweep.api",
    "Axis": "lrsweep.config",
    "SweepError": "lrsweep.config",
    "BusyError": "lrsweep.config",
    "SweepSpec": "lrsweep.config",
    "from_dict": "lrsweep.config",
    "load_sweep": "lrsweep.config",
    "run": "lrsweep.pipeline",
    "Program": "lrsweep.engine",
    "Outcome": "lrsweep.outcomes",
    "SweepResult": "lrsweep.store",
    "load_results": ("lrsweep.store", "load"),
}
__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    target = _EXPORTS.get(name)
    if target is None:  # a submodule (lrsweep.engine, lrsweep.plot, ...)
        try:
            return importlib.import_module(f"lrsweep.{name}")
        except ModuleNotFoundError:
            raise AttributeError(f"module 'lrsweep' has no attribute {name!r}") from None
    module, attribute = target if isinstance(target, tuple) else (target, name)
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
