r"""Learning-rate schedules as multiplicative factors on the base learning rate.

The engine runs optax with the schedule ``count -> learning_rate · factor(count)``:

.. math:: \eta_t = \eta \cdot \mathrm{factor}(t), \qquad t = 0, 1, 2, \dots

where :math:`t` is optax's update count (0 for the first update, an int32 array).
Every factor is 1 at :math:`t = 0` unless the schedule warms up.

Every numeric parameter may be a scalar *tracer*: the engine sweeps them inside
``jit(vmap(...))``. So the factors are pure ``jnp`` with no Python branching on
numeric values; the few structural parameters (``staircase``, ``boundaries``,
``scales``) are plain Python values, listed in :data:`STATIC`. The factor has the
floating dtype of the parameters (``jnp.result_type(float, ...)``: float32 by default,
float64 under x64, the parameters' own dtype when they are float arrays).

``reduce_on_plateau`` is different: it reacts to the loss, so it is not a factor of
``t`` but an optax transformation (:func:`plateau`) that the engine chains after the
optimizer and feeds the loss through ``value=``.

Check parameters on the host with :func:`validate_schedule` before tracing.

>>> import jax.numpy as jnp
>>> step_decay(jnp.arange(4), step_size=2, gamma=0.5).tolist()
[1.0, 1.0, 0.5, 0.5]
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = [
    "PLATEAU",
    "SCHEDULES",
    "STATIC",
    "constant",
    "cosine_decay",
    "describe_schedules",
    "exponential_decay",
    "inverse_sqrt",
    "piecewise_constant",
    "plateau",
    "static_params",
    "step_decay",
    "validate_schedule",
    "warmup_cosine_decay",
]


# --------------------------------------------------------------------------- dtype helpers


def _is_float(x) -> bool:
    if isinstance(x, bool):
        return False
    if isinstance(x, float):
        return True
    dtype = getattr(x, "dtype", None)
    return dtype is not None and jnp.issubdtype(dtype, jnp.floating)


def _floats(step, *params):
    """``step`` and ``params`` cast to the floating dtype the parameters promote to.

    Integer parameters do not take part in the promotion (so strict dtype promotion
    never sees an int/float mix); with no float array among them the dtype is the
    default float (``jnp.result_type(float)``).
    """
    dtype = jnp.result_type(float, *(p for p in params if _is_float(p)))
    return tuple(jnp.asarray(x, dtype) for x in (step, *params))


# --------------------------------------------------------------------------- factors


def constant(step: jax.typing.ArrayLike) -> jax.Array:
    r"""The constant schedule: :math:`\mathrm{factor}(t) = 1`.

    Args:
      step: optax's update count :math:`t` (any shape).

    Returns:
      Ones with the shape of ``step``, in the default float dtype.

    >>> import jax.numpy as jnp
    >>> constant(jnp.arange(3))
    Array([1., 1., 1.], dtype=float32)
    """
    (step,) = _floats(step)
    return jnp.ones_like(step)


def step_decay(
    step: jax.typing.ArrayLike,
    *,
    step_size: jax.typing.ArrayLike,
    gamma: jax.typing.ArrayLike = 0.1,
) -> jax.Array:
    r"""Multiply by ``gamma`` every ``step_size`` updates ("halve every k epochs").

    .. math:: \mathrm{factor}(t) = \gamma^{\lfloor t / k \rfloor}, \qquad k = \text{step\_size}.

    Args:
      step: optax's update count :math:`t`.
      step_size: :math:`k > 0`, updates between decays (may be a tracer).
      gamma: :math:`\gamma > 0`, the factor applied at each decay (may be a tracer).

    Returns:
      The factor, shaped like ``step``.

    >>> step_decay(jnp.asarray([0, 9, 10, 25]), step_size=10, gamma=0.5).tolist()
    [1.0, 1.0, 0.5, 0.25]
    """
    step, step_size, gamma = _floats(step, step_size, gamma)
    return jnp.power(gamma, jnp.floor(step / step_size))


def piecewise_constant(
    step: jax.typing.ArrayLike,
    *,
    boundaries: list[float],
    scales: list[float],
) -> jax.Array:
    r"""Multiply by ``scales[i]`` from update ``boundaries[i]`` on.

    .. math:: \mathrm{factor}(t) = \prod_{i:\, b_i \le t} s_i

    the factor of ``optax.piecewise_constant_schedule(1.0, dict(zip(boundaries,
    scales)))``. ``boundaries`` and ``scales`` are static Python lists (they set the
    program's structure), applied in ascending boundary order.

    Args:
      step: optax's update count :math:`t`.
      boundaries: update counts :math:`b_i` at which a scale starts to apply.
      scales: the scales :math:`s_i \ge 0`, one per boundary.

    Returns:
      The factor, shaped like ``step``.

    >>> piecewise_constant(jnp.asarray([0, 4, 5, 10]), boundaries=[5, 10], scales=[0.5, 0.1]).tolist()
    [1.0, 1.0, 0.5, 0.05]
    """
    if len(boundaries) != len(scales):
        raise ValueError(
            f"piecewise_constant: len(boundaries)={len(boundaries)} != len(scales)={len(scales)}; "
            "expected one scale per boundary"
        )
    step = _floats(step, *scales)[0]
    factor = jnp.ones_like(step)
    for b, s in sorted(zip(boundaries, scales), key=lambda bs: bs[0]):
        factor = jnp.where(step >= b, factor * jnp.asarray(s, step.dtype), factor)
    return factor


def exponential_decay(
    step: jax.typing.ArrayLike,
    *,
    decay_rate: jax.typing.ArrayLike,
    transition_steps: jax.typing.ArrayLike = 1.0,
    transition_begin: jax.typing.ArrayLike = 0.0,
    staircase: bool = False,
) -> jax.Array:
    r"""Exponential decay after ``transition_begin`` updates.

    .. math::
       \mathrm{factor}(t) = r^{p}, \qquad
       p = \frac{\max(t - t_0, 0)}{k} \quad (\lfloor p \rfloor \text{ if staircase})

    with :math:`r` = ``decay_rate``, :math:`k` = ``transition_steps``, :math:`t_0` =
    ``transition_begin``: the factor of ``optax.exponential_decay(init_value=1, ...)``.

    Args:
      step: optax's update count :math:`t`.
      decay_rate: :math:`r > 0` (may be a tracer).
      transition_steps: :math:`k > 0` (may be a tracer).
      transition_begin: :math:`t_0 \ge 0` (may be a tracer).
      staircase: static bool; decay in discrete jumps every ``transition_steps``.

    Returns:
      The factor, shaped like ``step``.

    >>> t = jnp.asarray([0, 1, 2, 3])
    >>> exponential_decay(t, decay_rate=0.5, transition_steps=2).tolist()
    [1.0, 0.70711, 0.5, 0.35355]
    >>> exponential_decay(t, decay_rate=0.5, transition_steps=2, staircase=True).tolist()
    [1.0, 1.0, 0.5, 0.5]
    """
    step, decay_rate, transition_steps, transition_begin = _floats(
        step, decay_rate, transition_steps, transition_begin
    )
    p = jnp.maximum(step - transition_begin, 0) / transition_steps
    if staircase:
        p = jnp.floor(p)
    return jnp.power(decay_rate, p)


def inverse_sqrt(
    step: jax.typing.ArrayLike,
    *,
    timescale: jax.typing.ArrayLike = 1.0,
    warmup_steps: jax.typing.ArrayLike = 0.0,
) -> jax.Array:
    r"""Inverse square-root decay, with optional linear warmup.

    .. math::
       \mathrm{factor}(t) = \begin{cases}
         \min\!\big(\frac{t + 1}{w}, 1\big) & t < w, \\
         \big(1 + \max(t - w, 0)/\tau\big)^{-1/2} & \text{otherwise,}
       \end{cases}

    with :math:`\tau` = ``timescale`` and :math:`w` = ``warmup_steps`` (no warmup
    when :math:`w = 0`). The factor reaches 1 at the last warmup update and starts
    to decay at :math:`t = w`. The case split is a ``jnp.where``, so ``warmup_steps``
    may be a tracer (including 0).

    Args:
      step: optax's update count :math:`t`.
      timescale: :math:`\tau > 0` (may be a tracer).
      warmup_steps: :math:`w \ge 0` (may be a tracer).

    Returns:
      The factor, shaped like ``step``.

    >>> inverse_sqrt(jnp.asarray([0, 3, 8]), timescale=1.0).tolist()
    [1.0, 0.5, 0.33333]
    >>> inverse_sqrt(jnp.asarray([0, 1, 2, 4]), timescale=1.0, warmup_steps=2).tolist()
    [0.5, 1.0, 1.0, 0.57735]
    """
    step, timescale, warmup_steps = _floats(step, timescale, warmup_steps)
    decay = jax.lax.rsqrt(1 + jnp.maximum(step - warmup_steps, 0) / timescale)
    safe_warmup = jnp.where(warmup_steps > 0, warmup_steps, 1)
    warm = jnp.minimum((step + 1) / safe_warmup, 1)
    return jnp.where(step < warmup_steps, warm, decay)


def cosine_decay(
    step: jax.typing.ArrayLike,
    *,
    decay_steps: jax.typing.ArrayLike,
    alpha: jax.typing.ArrayLike = 0.0,
) -> jax.Array:
    r"""Cosine decay from 1 to ``alpha`` over ``decay_steps`` updates, then constant.

    .. math::
       \mathrm{factor}(t) = (1 - \alpha)\,\tfrac12\big(1 + \cos(\pi \min(t, T)/T)\big) + \alpha

    with :math:`T` = ``decay_steps``: the factor of ``optax.cosine_decay_schedule(1.0,
    decay_steps, alpha)``.

    Args:
      step: optax's update count :math:`t`.
      decay_steps: :math:`T > 0` (may be a tracer).
      alpha: the final factor :math:`\alpha` (may be a tracer).

    Returns:
      The factor, shaped like ``step``.

    >>> cosine_decay(jnp.asarray([0, 5, 10, 20]), decay_steps=10, alpha=0.1).tolist()
    [1.0, 0.55, 0.1, 0.1]
    """
    step, decay_steps, alpha = _floats(step, decay_steps, alpha)
    count = jnp.minimum(step, decay_steps)
    cosine = 0.5 * (1 + jnp.cos(jnp.pi * count / decay_steps))
    return (1 - alpha) * cosine + alpha


def warmup_cosine_decay(
    step: jax.typing.ArrayLike,
    *,
    warmup_steps: jax.typing.ArrayLike,
    decay_steps: jax.typing.ArrayLike,
    init_factor: jax.typing.ArrayLike = 0.0,
    end_factor: jax.typing.ArrayLike = 0.0,
) -> jax.Array:
    r"""Linear warmup from ``init_factor`` to 1, then cosine decay to ``end_factor``.

    .. math::
       \mathrm{factor}(t) = \begin{cases}
         a + (1 - a)\, t / w & t < w, \\
         (1 - e)\,\tfrac12\big(1 + \cos(\pi \min(t - w, T - w)/(T - w))\big) + e
           & t \ge w,
       \end{cases}

    with :math:`a` = ``init_factor``, :math:`e` = ``end_factor``, :math:`w` =
    ``warmup_steps`` and :math:`T` = ``decay_steps`` the *total* length (warmup
    included): the factor of ``optax.warmup_cosine_decay_schedule(init_factor, 1.0,
    warmup_steps, decay_steps, end_factor)``. ``warmup_steps = 0`` (no warmup) may be
    a tracer; if a traced combination has :math:`T \le w` the factor after warmup is
    :math:`e` (``validate_schedule`` rejects such values on the host).

    Args:
      step: optax's update count :math:`t`.
      warmup_steps: :math:`w \ge 0` (may be a tracer).
      decay_steps: :math:`T > w`, total length of warmup and decay (may be a tracer).
      init_factor: factor :math:`a` at :math:`t = 0` (may be a tracer).
      end_factor: factor :math:`e` from :math:`t = T` on (may be a tracer).

    Returns:
      The factor, shaped like ``step``.

    >>> warmup_cosine_decay(jnp.asarray([0, 1, 2, 4, 6, 9]), warmup_steps=2, decay_steps=6).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """
    step, warmup_steps, decay_steps, init_factor, end_factor = _floats(
        step, warmup_steps, decay_steps, init_factor, end_factor
    )
    # Warmup, written as optax.linear_schedule writes it.
    safe_warmup = jnp.where(warmup_steps > 0, warmup_steps, 1)
    frac = 1 - jnp.clip(step, 0, warmup_steps) / safe_warmup
    warm = (init_factor - 1) * frac + 1
    # Cosine over the remaining T - w updates, as optax.cosine_decay_schedule writes it.
    length = decay_steps - warmup_steps
    safe_length = jnp.where(length > 0, length, 1)
    count = jnp.where(length > 0, jnp.minimum(step - warmup_steps, length), 1)
    cosine = 0.5 * (1 + jnp.cos(jnp.pi * count / safe_length))
    decay = (1 - end_factor) * cosine + end_factor
    return jnp.where(step < warmup_steps, warm, decay)


SCHEDULES: dict[str, Callable[..., jax.Array]] = {
    "constant": constant,
    "step": step_decay,
    "piecewise": piecewise_constant,
    "exponential": exponential_decay,
    "inverse_sqrt": inverse_sqrt,
    "cosine": cosine_decay,
    "warmup_cosine": warmup_cosine_decay,
}
"""Schedule name → factor function ``factor(step, **params)``."""

STATIC: dict[str, frozenset[str]] = {
    "constant": frozenset(),
    "step": frozenset(),
    "piecewise": frozenset({"boundaries", "scales"}),
    "exponential": frozenset({"staircase"}),
    "inverse_sqrt": frozenset(),
    "cosine": frozenset(),
    "warmup_cosine": frozenset(),
}
"""Schedule name → parameters that must be plain Python values (never tracers)."""


# --------------------------------------------------------------------------- reduce on plateau

PLATEAU = "reduce_on_plateau"
"""Name of the loss-driven schedule built by :func:`plateau`."""


class _Checked:
    """A traced number that passes optax's Python-level argument checks.

    ``optax.contrib.reduce_on_plateau`` validates ``factor``, ``rtol`` and ``atol``
    with Python comparisons (``if factor <= 0.0 or factor >= 1.0: raise``), which a
    tracer cannot answer. The values a sweep takes are checked on the host first
    (:func:`validate_schedule`, every value of every axis), so this stand-in answers
    every comparison as a valid value does (``False``: no guard fires) and behaves
    as the traced array in arithmetic (``__jax_array__`` and the reflected operators),
    which is all optax's update does with these three numbers.
    """

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def _valid(self, other) -> bool:
        return False

    __lt__ = __le__ = __gt__ = __ge__ = __eq__ = _valid
    __hash__ = None

    def __ne__(self, other) -> bool:
        return True

    def __jax_array__(self):
        return self.value

    def __add__(self, other):
        return self.value + other

    def __radd__(self, other):
        return other + self.value

    def __sub__(self, other):
        return self.value - other

    def __rsub__(self, other):
        return other - self.value

    def __mul__(self, other):
        return self.value * other

    def __rmul__(self, other):
        return other * self.value


def plateau(
    *,
    factor: float = 0.1,
    patience: jax.typing.ArrayLike = 10,
    rtol: float = 1e-4,
    atol: float = 0.0,
    cooldown: jax.typing.ArrayLike = 0,
    accumulation_size: jax.typing.ArrayLike = 1,
    min_scale: jax.typing.ArrayLike = 0.0,
) -> optax.GradientTransformationExtraArgs:
    r"""``optax.contrib.reduce_on_plateau``: scale updates by ``factor`` when the loss stalls.

    The engine chains it after the optimizer and passes the loss as ``value=``. With
    :math:`v` the loss averaged over ``accumulation_size`` updates, an update
    *improves* when :math:`v < (1 - \text{rtol})\,v_\text{best} - \text{atol}`;
    after ``patience`` consecutive non-improving evaluations the scale becomes
    :math:`\max(\text{scale} \cdot \text{factor}, \text{min\_scale})` and the next
    ``cooldown`` evaluations are ignored. The effective learning rate is
    :math:`\eta \cdot \text{scale}`.

    Every parameter may be a tracer, so each can be swept. optax checks ``factor``,
    ``rtol`` and ``atol`` with Python comparisons when the transformation is built;
    traced values of those are passed through :class:`_Checked`, so the caller must
    have validated their concrete values (:func:`validate_schedule`) beforehand.
    Pass ``min_scale`` in the parameters' dtype so the scale in the state keeps its
    dtype.

    Args:
      factor: multiplier of the scale at each reduction, in (0, 1).
      patience: non-improving evaluations before a reduction (≥ 1).
      rtol: relative improvement threshold, in [0, 1].
      atol: absolute improvement threshold, ≥ 0 (``rtol`` and ``atol`` not both 0).
      cooldown: evaluations ignored after a reduction (≥ 0).
      accumulation_size: losses averaged per evaluation (≥ 1).
      min_scale: the scale never drops below this (≥ 0).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose ``update`` takes ``value=``.

    >>> import jax.numpy as jnp
    >>> tx = plateau(factor=0.5, patience=2)
    >>> state, update = tx.init(jnp.zeros(())), jax.jit(tx.update)
    >>> scales = []
    >>> for _ in range(4):  # a constant loss: the first improves on +inf, then none do
    ...     u, state = update(jnp.ones(()), state, value=1.0)
    ...     scales.append(float(u))
    >>> scales
    [1.0, 1.0, 0.5, 0.5]
    """
    traced = {k: _Checked(v) for k, v in (("factor", factor), ("rtol", rtol), ("atol", atol))
              if isinstance(v, jax.Array)}
    return optax.contrib.reduce_on_plateau(
        factor=traced.get("factor", factor),
        patience=patience,
        rtol=traced.get("rtol", rtol),
        atol=traced.get("atol", atol),
        cooldown=cooldown,
        accumulation_size=accumulation_size,
        min_scale=min_scale,
    )


def static_params(name: str) -> frozenset[str]:
    """Parameters of schedule ``name`` that are fixed on the host (cannot be swept).

    >>> sorted(static_params("piecewise"))
    ['boundaries', 'scales']
    >>> sorted(static_params("reduce_on_plateau"))
    []
    """
    if name == PLATEAU:
        return frozenset()
    if name not in STATIC:
        raise ValueError(f"unknown schedule {name!r}; expected one of: {', '.join(_known())}")
    return STATIC[name]


# --------------------------------------------------------------------------- description, validation


def _known() -> list[str]:
    return [*SCHEDULES, PLATEAU]


def _function(name: str) -> Callable:
    return plateau if name == PLATEAU else SCHEDULES[name]


def _parameters(name: str) -> dict[str, inspect.Parameter]:
    params = inspect.signature(_function(name)).parameters
    return {k: p for k, p in params.items() if k != "step"}


def describe_schedules() -> dict[str, dict[str, object]]:
    """Every schedule's parameters and their defaults (``None`` marks a required one).

    >>> d = describe_schedules()
    >>> d["step"]
    {'step_size': None, 'gamma': 0.1}
    >>> d["reduce_on_plateau"]["patience"]
    10
    """
    return {
        name: {k: (None if p.default is inspect.Parameter.empty else p.default) for k, p in _parameters(name).items()}
        for name in _known()
    }


def _fail(name: str, param: str, value, expected: str):
    raise ValueError(f"schedule {name!r}: {param}={value!r}, expected {expected}")


def _numbers(name: str, param: str, value) -> np.ndarray:
    """``value`` (a number or an array of swept values) as a float64 array, or fail."""
    if isinstance(value, (bool, np.bool_)) or isinstance(value, str):
        _fail(name, param, value, "a number")
    try:
        arr = np.asarray(value)
    except ValueError:  # ragged lists
        arr = np.asarray(None)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        _fail(name, param, value, "a number")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        _fail(name, param, _scalar(arr[~np.isfinite(arr)].flat[0]), "a finite number")
    return arr


def _scalar(x):
    return x.item() if isinstance(x, np.generic) else x


def _require(name: str, param: str, value, arr: np.ndarray, ok: np.ndarray, expected: str):
    ok = np.broadcast_to(ok, arr.shape)
    if not np.all(ok):
        bad = value if np.ndim(value) == 0 else np.asarray(value)[~ok].flat[0]
        _fail(name, param, _scalar(bad), expected)


# (predicate on a float64 array, what was expected) per schedule and parameter.
_RULES: dict[str, dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]]] = {
    "step": {"step_size": (lambda x: x > 0, "> 0"), "gamma": (lambda x: x > 0, "> 0")},
    "exponential": {
        "decay_rate": (lambda x: x > 0, "> 0"),
        "transition_steps": (lambda x: x > 0, "> 0"),
        "transition_begin": (lambda x: x >= 0, ">= 0"),
    },
    "inverse_sqrt": {"timescale": (lambda x: x > 0, "> 0"), "warmup_steps": (lambda x: x >= 0, ">= 0")},
    "cosine": {"decay_steps": (lambda x: x > 0, "> 0")},
    "warmup_cosine": {"warmup_steps": (lambda x: x >= 0, ">= 0"), "decay_steps": (lambda x: x > 0, "> 0")},
    PLATEAU: {
        "factor": (lambda x: (x > 0) & (x < 1), "in the open interval (0, 1)"),
        "patience": (lambda x: (x >= 1) & (x == np.round(x)), "an integer >= 1"),
        "rtol": (lambda x: (x >= 0) & (x <= 1), "in [0, 1]"),
        "atol": (lambda x: x >= 0, ">= 0"),
        "cooldown": (lambda x: (x >= 0) & (x == np.round(x)), "an integer >= 0"),
        "accumulation_size": (lambda x: (x >= 1) & (x == np.round(x)), "an integer >= 1"),
        "min_scale": (lambda x: x >= 0, ">= 0"),
    },
}


def validate_schedule(name: str, params: dict) -> None:
    """Check a schedule's name and concrete parameter values on the host.

    Each value may be a number or an array of the values a sweep will take (every
    element is checked; ``warmup_cosine``'s ``decay_steps > warmup_steps`` is checked
    for every combination, as in a grid). Raises ``ValueError`` with one line naming
    the schedule, the parameter, its value and what was expected.

    Args:
      name: a key of :data:`SCHEDULES` or :data:`PLATEAU`.
      params: parameter name → value (defaults fill what is missing).

    >>> validate_schedule("step", {"step_size": 30, "gamma": 0.5})
    >>> validate_schedule("step", {"step_size": 0})
    Traceback (most recent call last):
    ...
    ValueError: schedule 'step': step_size=0, expected > 0
    """
    if not isinstance(name, str) or name not in _known():
        raise ValueError(f"unknown schedule {name!r}; expected one of: {', '.join(_known())}")
    accepted = _parameters(name)
    listing = ", ".join(accepted) or "none"
    for k in params:
        if k not in accepted:
            raise ValueError(f"schedule {name!r} has no parameter {k!r}; accepted: {listing}")
    for k, p in accepted.items():
        if p.default is inspect.Parameter.empty and k not in params:
            raise ValueError(f"schedule {name!r} requires parameter {k!r} (accepted: {listing})")
    values = {k: p.default for k, p in accepted.items()} | dict(params)

    if name == "piecewise":
        _validate_piecewise(values["boundaries"], values["scales"])
        return
    if name == "exponential" and not isinstance(values["staircase"], (bool, np.bool_)):
        _fail(name, "staircase", values["staircase"], "true or false")
    arrays = {k: _numbers(name, k, v) for k, v in values.items() if k not in ("staircase",)}
    for k, (ok, expected) in _RULES.get(name, {}).items():
        _require(name, k, values[k], arrays[k], ok(arrays[k]), expected)
    if name == "warmup_cosine":
        decay, warmup = arrays["decay_steps"], arrays["warmup_steps"]
        if not np.min(decay, initial=np.inf) > np.max(warmup, initial=-np.inf):
            _fail(name, "decay_steps", _scalar(np.min(decay)),
                  f"> warmup_steps={_scalar(np.max(warmup))} (decay_steps counts the warmup too)")
    if name == PLATEAU:
        if np.any(arrays["rtol"] == 0) and np.any(arrays["atol"] == 0):
            _fail(name, "rtol", 0.0, "> 0 when atol=0 (at least one of rtol, atol must be positive)")


def _validate_piecewise(boundaries, scales) -> None:
    name = "piecewise"
    for k, v in (("boundaries", boundaries), ("scales", scales)):
        if not isinstance(v, (list, tuple)) or not all(
            isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x) for x in v
        ):
            _fail(name, k, v, "a list of finite numbers")
    if len(boundaries) != len(scales):
        raise ValueError(
            f"schedule {name!r}: len(boundaries)={len(boundaries)} but len(scales)={len(scales)}; "
            "expected one scale per boundary"
        )
    for b in boundaries:
        if b < 0:
            _fail(name, "boundaries", list(boundaries), f"update counts >= 0 (found {b!r})")
    for s in scales:
        if s < 0:
            _fail(name, "scales", list(scales), f"non-negative factors (found {s!r})")
