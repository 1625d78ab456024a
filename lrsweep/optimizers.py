"""Optimizers by name: any optax optimizer, with swept hyperparameters as traced values.

An optimizer is looked up on ``optax`` (``"sgd"``, ``"adam"``, ``"lion"`` …) or on
``optax.contrib`` (``"contrib.prodigy"``). It is *constructed inside* the vmapped
program with the swept hyperparameters as scalar tracers, so changing their values
never recompiles — the same effect as ``optax.inject_hyperparams``, without keeping the
hyperparameters in the optimizer state. The learning rate is always passed as a
schedule ``count -> learning_rate · factor(count)`` (see :mod:`lrsweep.schedules`).

Update rules the theory module relies on (optax's own forms):

* ``sgd``: x ← x − η g.
* ``sgd`` with ``momentum=β``: m ← g + β m;  x ← x − η m   (heavy ball).
* ``sgd`` with ``nesterov=true``: m ← g + β m;  x ← x − η (g + β m).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import optax


def resolve_optimizer(name) -> Callable[..., optax.GradientTransformation]:
    """The optimizer factory ``name`` names: an optax name (``"adam"``, ``"contrib.schedule_free_sgd"`` …),
    ``"module:function"`` / ``"path/file.py:function"``, or a callable
    ``(learning_rate, **hyperparameters) -> optax.GradientTransformation`` returned as it is.

    >>> resolve_optimizer("sgd") is optax.sgd
    True
    >>> clipped = lambda learning_rate, clip: optax.chain(optax.clip_by_global_norm(clip), optax.adamw(learning_rate))
    >>> resolve_optimizer(clipped) is clipped
    True
    """
    if callable(name):
        if "learning_rate" not in _signature(name):
            raise ValueError(f"optimizer {getattr(name, '__qualname__', name)!r} takes no learning_rate argument")
        return name
    if not isinstance(name, str) or not name:
        raise ValueError(f"optimizer name must be a non-empty string or a callable, got {name!r}")
    if ":" in name:
        from lrsweep.problem import import_target

        return resolve_optimizer(import_target(name, "optimizer"))
    obj = optax
    for part in name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            import difflib

            close = difflib.get_close_matches(name, COMMON, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "try one of: sgd, adam, adamw, rmsprop, adagrad, lion"
            raise ValueError(f"unknown optax optimizer {name!r} ({hint})")
    if not callable(obj) or "learning_rate" not in _signature(obj):
        raise ValueError(f"optax.{name} is not an optimizer taking a learning_rate")
    return obj


def _signature(fn) -> dict:
    try:
        return dict(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return {}


def required(name) -> list[str]:
    """Arguments of optimizer ``name`` that have no default.

    >>> required(lambda learning_rate, clip, b1=0.9: None)
    ['learning_rate', 'clip']
    """
    params = _signature(resolve_optimizer(name))
    return [k for k, p in params.items() if p.default is inspect.Parameter.empty
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def describe_optimizer(name) -> dict:
    """Hyperparameters of optax optimizer ``name`` with their defaults.

    >>> describe_optimizer("sgd")
    {'learning_rate': None, 'momentum': None, 'nesterov': False, 'accumulator_dtype': None}
    """
    params = _signature(resolve_optimizer(name))
    return {k: (None if p.default is inspect.Parameter.empty else p.default) for k, p in params.items()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


COMMON = ("sgd", "adam", "adamw", "rmsprop", "adagrad", "lion", "nadam", "adamax", "adabelief", "lamb", "lars",
          "sm3", "yogi", "novograd", "fromage", "noisy_sgd", "radam", "sign_sgd", "adadelta", "adafactor", "amsgrad")


def describe_optimizers() -> dict[str, dict]:
    """The commonly used optax optimizers and their hyperparameters (for ``lrsweep list``)."""
    out = {}
    for n in COMMON:
        try:
            out[n] = describe_optimizer(n)
        except ValueError:
            pass
    return out


def build(name, learning_rate: Callable, hyperparams: dict) -> optax.GradientTransformation:
    """``optax.<name>(learning_rate=learning_rate, **hyperparams)`` (or the callable's); values may be tracers."""
    return resolve_optimizer(name)(learning_rate=learning_rate, **hyperparams)
