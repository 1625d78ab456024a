"""The Python entry point: sweep your own :class:`~lrsweep.problem.Problem` over a grid of configurations.

>>> import jax.numpy as jnp, lrsweep
>>> problem = lrsweep.Problem(loss=lambda x, batch: 0.5 * jnp.sum(x**2), params=jnp.ones(1), minimum=0.0)
>>> result = lrsweep.sweep(problem, axes={"learning_rate": lrsweep.linspace(0.5, 3.0, 26)}, steps=100,
...                        progress=False)
>>> round(float(result.boundary["critical"][0]), 4)     # gradient descent on x²/2 diverges above 2
2.0
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from lrsweep.config import SweepError, from_dict
from lrsweep.problem import Problem, ProblemError


class Span(NamedTuple):
    """An evenly spaced axis (``scale = "linear"`` or ``"log"``): the sweep file's ``{min, max, num, scale}``."""

    min: float
    max: float
    num: int
    scale: str = "linear"

    def __array__(self, dtype=None, copy=None):
        f = np.geomspace if self.scale == "log" else np.linspace
        return np.asarray(f(self.min, self.max, self.num), dtype=dtype)

    def __len__(self) -> int:
        return self.num


def logspace(lo: float, hi: float, num: int) -> Span:
    """``num`` log-spaced values from ``lo`` to ``hi`` (both included); plotted on a log axis."""
    return Span(float(lo), float(hi), int(num), "log")


def linspace(lo: float, hi: float, num: int) -> Span:
    """``num`` evenly spaced values from ``lo`` to ``hi`` (both included)."""
    return Span(float(lo), float(hi), int(num), "linear")


def _definition(problem, axes, *, steps, optimizer, optimizer_params, schedule, schedule_params, dtype, seed,
                diverge_factor, converge_tol, boundary, name, check_every, trajectories) -> dict:
    """:func:`sweep`'s arguments as a sweep file's raw definition (checked by :func:`lrsweep.config.from_dict`);
    what only the Python API can get wrong is refused here."""
    if not isinstance(problem, Problem):
        raise SweepError("lrsweep.sweep", "problem", "an lrsweep.Problem", type(problem).__name__)
    if not isinstance(axes, Mapping) or not axes:
        raise SweepError("lrsweep.sweep", "axes", "a dict {axis name: values}", repr(axes))
    raw: dict[str, Any] = {
        "name": name, "steps": steps, "dtype": dtype, "loss": problem,
        "optimizer": {"name": optimizer, **dict(optimizer_params or {})},
        "init": {} if "seed" in axes else {"seed": seed},
        "axes": {k: _axis(k, v) for k, v in axes.items()},
        "criteria": {"diverge_factor": diverge_factor, "converge_tol": converge_tol},
        "run": {"check_every": check_every},
    }
    if schedule is not None:
        raw["schedule"] = {"name": schedule, **dict(schedule_params or {})}
    elif schedule_params:
        raise SweepError("lrsweep.sweep", "schedule_params", "a schedule to go with them", dict(schedule_params))
    if boundary is not None and boundary not in raw["axes"] and boundary != "learning_rate":
        raise SweepError("lrsweep.sweep", "boundary", f"one of the axes {sorted(raw['axes'])} or None", boundary)
    # None, or learning_rate without a learning-rate axis: no search (a missing axis would mean learning_rate)
    raw["boundary"] = {"axis": boundary if boundary in raw["axes"] else "none"}
    if trajectories:
        raw["trajectories"] = dict(trajectories)
    return raw


def _axis(name: str, values) -> dict:
    if isinstance(values, Span):
        return dict(values._asdict())
    if isinstance(values, Mapping):
        return dict(values)
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise SweepError("lrsweep.sweep", f"axes[{name!r}]", "a list or array of values, or lrsweep.logspace(...)",
                         repr(values))
    if name == "schedule":
        return {"values": list(values)}
    return {"values": [x.item() if isinstance(x, np.generic) else x for x in np.asarray(values).ravel().tolist()]}


def sweep(problem: Problem, axes: Mapping[str, Any], *, steps: int, optimizer: str | Callable = "sgd",
          optimizer_params: Mapping[str, Any] | None = None, schedule: str | Callable | None = None,
          schedule_params: Mapping[str, Any] | None = None, dtype: str = "float32", seed: int = 0,
          diverge_factor: float = 1e6, converge_tol: float = 1e-6, boundary: str | None = "learning_rate",
          name: str = "sweep", out: str | Path | None = None, progress: bool = True, check_every: int = 0,
          trajectories: Mapping[str, Any] | None = None, overwrite: bool = False,
          sensitivity_range: tuple[float, float] | None = None, sensitivity_loss: str = "final_loss",
          sharpness: bool = True):
    """Train ``problem`` once per configuration of the grid ``axes``, all in one compiled program.

    Args:
      problem: the :class:`~lrsweep.problem.Problem` (loss, initial point, data).
      axes: ``{axis name: values}``; values a list/array, :func:`logspace`/:func:`linspace`, or a
        sweep-file axis table. Names as in sweep files: ``learning_rate``, any optimizer
        hyperparameter (``momentum``, ``b1``, …, or an argument of a callable ``optimizer``),
        ``schedule.<p>``, ``loss.<p>`` (a keyword of the problem's loss), ``init.scale``, ``seed``.
      steps: optimizer updates per run.
      optimizer: an optax name (``"sgd"``, ``"adam"`` …) or a callable
        ``(learning_rate, **hyperparameters) -> optax.GradientTransformation``; its swept arguments
        arrive as traced values (one compilation).
      optimizer_params: fixed hyperparameters (e.g. ``{"momentum": 0.9}``, or ``{"learning_rate": 0.1}``
        when the learning rate is not swept).
      schedule: a schedule name (lrsweep's or optax's, e.g. ``"cosine_decay_schedule"``) with
        ``schedule_params``, or a callable ``step -> factor`` multiplying the learning rate.
      dtype: ``"float32"`` or ``"float64"``.
      seed: the runs' seed when ``seed`` is not an axis (initial parameters, batch order, dropout keys).
      diverge_factor, converge_tol: the outcome rules (:mod:`lrsweep.outcomes`).
      boundary: the axis along which the divergence boundary is located and refined (``None``: none).
      sensitivity_range: ``(a, b)``: Wortsman et al.'s LR sensitivity of every slice of the other axes over
        the learning rates in ``[a, b]`` (the paper: ``(3e-4, 3e-1)``), in ``.sensitivity`` (and, along a
        learning-rate boundary, ``.boundary``); ``sensitivity_loss`` the column read as the final loss
        (``final_loss``, ``eval_loss``, a metric, ``eval_<metric>``).
      sharpness: compute the boundary table's Lanczos ``sharpness`` at each slice's initial point.
      out: a results directory to write (table, boundary, manifest, sweep.toml); resumable.
      check_every: the observation interval ``K`` (0: automatic).
      trajectories: ``{axis: values, "every": k, "metrics": …}``: ``[trajectories]``, recorded along training.

    Returns:
      a :class:`~lrsweep.store.SweepResult`: ``.table`` (one row per configuration), ``.boundary``
      (one row per slice), ``.sensitivity`` (with ``sensitivity_range``), ``.plot(kind)``.

    Raises:
      SweepError: bad input (one line naming the argument, what was expected and what was found),
        before anything is compiled or written.
    """
    from lrsweep.pipeline import run

    raw = _definition(problem, axes, steps=steps, optimizer=optimizer, optimizer_params=optimizer_params,
                      schedule=schedule, schedule_params=schedule_params, dtype=dtype, seed=seed,
                      diverge_factor=diverge_factor, converge_tol=converge_tol, boundary=boundary, name=name,
                      check_every=check_every, trajectories=trajectories)
    raw["boundary"].update(sharpness=sharpness)
    if sensitivity_range is not None:
        r = list(sensitivity_range) if isinstance(sensitivity_range, (tuple, list, np.ndarray)) else sensitivity_range
        raw["boundary"].update(sensitivity_range=r, sensitivity_loss=sensitivity_loss)
    try:
        spec = from_dict(raw, source="lrsweep.sweep")
    except ProblemError as e:
        raise SweepError("lrsweep.sweep", e.argument, e.expected, e.found) from None
    return run(spec, out, progress=progress, overwrite=overwrite)
