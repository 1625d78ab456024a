"""Shared small types. Kept tiny so every module can import it without cycles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax

PyTree = Any


class Loss(NamedTuple):
    """A loss built for one configuration.

    Factories in :mod:`lrsweep.losses` return this. They are called inside
    ``jit(vmap(...))`` with swept parameters as tracers, so they must not branch in
    Python on numeric parameters; structural parameters (shapes, activation names)
    are plain Python values.

    Attributes:
      fn: ``params -> scalar`` loss.
      init: ``(key, scale) -> params``, the loss's own initialiser (e.g. an MLP's
        weights), or ``None`` when the initial point comes from ``[init]``.
      minimum: the known minimum value of ``fn``, or ``None`` when unknown.
      hessian_eigenvalues: ascending eigenvalues of the Hessian at the minimum (for
        a quadratic: everywhere), or ``None``.
      dim: number of parameters of a flat-vector loss, or ``None``.
      extras: ``params -> {name: scalar}``, further per-run metrics evaluated on each
        run's final parameters (the frozen ones for a diverged run) and added to the
        table as columns (e.g. the fraction of dead ReLU units), or ``None``.
    """

    fn: Callable[[PyTree], jax.Array]
    init: Callable[[jax.Array, jax.Array], PyTree] | None = None
    minimum: Any = None
    hessian_eigenvalues: Any = None
    dim: int | None = None
    extras: Callable[[PyTree], dict[str, jax.Array]] | None = None
