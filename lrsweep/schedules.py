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

**optax's own schedules.** optax's schedule names are registered too
(:data:`OPTAX_ALIASES`), with optax's parameter names: ``exponential_decay``,
``cosine_decay_schedule``, ``warmup_cosine_decay_schedule``, ``piecewise_constant_schedule``,
``linear_schedule``, ``polynomial_schedule``, ``warmup_constant_schedule``,
``warmup_exponential_decay_schedule``, ``sgdr_schedule``, ``linear_onecycle_schedule``,
``cosine_onecycle_schedule`` and ``constant_schedule`` (``join_schedules`` takes schedules,
not numbers: not registered). The swept ``learning_rate`` stays the scale. optax's
schedules return absolute values and are linear in their value parameters
(``init_value``, ``peak_value``, ``end_value``, ``value``), so the factor is

.. math:: \mathrm{factor}(t) = \texttt{optax.<name>(**params)}(t)

with the value parameters given *relative to the learning rate*. Their defaults:

* the schedule's main value is 1.0: ``init_value`` of the decays (``exponential_decay``,
  ``cosine_decay_schedule``) and of ``piecewise_constant_schedule``, ``linear_schedule``,
  ``polynomial_schedule``; ``peak_value`` of the warm-ups, of sgdr's cycles and of the
  one-cycles; ``value`` of ``constant_schedule``;
* values optax requires are 0.0: ``init_value`` of the warm-ups (and of sgdr's cycles),
  ``end_value`` of ``linear_schedule`` and ``polynomial_schedule``;
* the others are optax's: ``alpha`` 0.0, ``exponent`` 1.0, ``end_value`` 0.0 of the
  cosine warm-up, ``end_value`` ``None`` (no bound) of the two exponential ones,
  ``transition_begin`` 0, ``staircase`` false, ``pct_start`` 0.3, ``pct_final`` 0.85,
  ``div_factor`` 25, ``final_div_factor`` 1e4.

Step counts, ``decay_rate``, ``power``, ``boundaries_and_scales`` and ``cosine_kwargs``
are required (``None`` in :func:`describe_schedules`; :func:`required_params` tells
them apart from ``end_value=None``). Where no parameter that optax compares in Python
(``if transition_steps <= 0``) is a tracer, optax builds the schedule itself, with the
concrete values (traced value parameters are plain arithmetic to it); otherwise a
pure-``jnp`` twin written here computes the same values (equal to float32 rounding,
tested at every numeric parameter). :data:`STATIC` lists what cannot be traced at all:
``staircase``, ``boundaries_and_scales`` (a dict, keys may be strings of integers as TOML
gives them, or a list of ``[step, scale]`` pairs), ``cosine_kwargs`` (a list of tables of
``warmup_cosine_decay_schedule`` parameters) and the one-cycles' ``transition_steps``,
``pct_start``, ``pct_final`` (optax turns them into dict keys with Python ``int()``).

A user's Python function ``step -> factor`` becomes a factor with :func:`factor_from_callable`.

>>> import jax.numpy as jnp
>>> step_decay(jnp.arange(4), step_size=2, gamma=0.5).tolist()
[1.0, 1.0, 0.5, 0.5]
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = [
    "OPTAX_ALIASES",
    "PLATEAU",
    "SCHEDULES",
    "STATIC",
    "constant",
    "cosine_decay",
    "describe_schedules",
    "exponential_decay",
    "factor_from_callable",
    "inverse_sqrt",
    "optax_constant_schedule",
    "optax_cosine_decay_schedule",
    "optax_cosine_onecycle_schedule",
    "optax_exponential_decay",
    "optax_linear_onecycle_schedule",
    "optax_linear_schedule",
    "optax_piecewise_constant_schedule",
    "optax_polynomial_schedule",
    "optax_sgdr_schedule",
    "optax_warmup_constant_schedule",
    "optax_warmup_cosine_decay_schedule",
    "optax_warmup_exponential_decay_schedule",
    "piecewise_constant",
    "plateau",
    "required_params",
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


# --------------------------------------------------------------------------- optax's own schedules


def _traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def _host_number(name: str, param: str, value):
    """A parameter that sets optax's structure (a dict key, a Python ``int()``) as a plain number."""
    if _traced(value):
        raise ValueError(f"schedule {name!r}: {param} is traced, expected a number fixed on the host "
                         "(it sets the schedule's boundaries, so it cannot be swept)")
    return value.item() if isinstance(value, (np.ndarray, np.generic, jax.Array)) else value


def _cast(value: jax.Array, dtype, host: bool):
    """A jax array parameter in the factor's dtype; a concrete one that optax compares in Python
    (``host``) as a Python number, since inside ``jit`` even a comparison of constants is traced."""
    if host and not _traced(value):
        return value.item()
    return jnp.asarray(value, dtype)


def _optax_factor(name: str, step: jax.typing.ArrayLike, params: dict) -> jax.Array:
    r"""``optax.<name>(**params)`` at ``step``, or its ``jnp`` twin where optax cannot take a tracer.

    optax checks some arguments with Python comparisons when a schedule is built (``if
    transition_steps <= 0``), which a tracer cannot answer: where one of those
    (:data:`_OPTAX_CHECKS`) is traced, the twin of :data:`_TWINS` computes the same values.
    Otherwise optax builds the schedule itself (traced value parameters such as
    ``init_value`` or ``alpha`` are plain arithmetic to it), under standard dtype
    promotion: its internals mix ints and Python floats. It is given the count in the
    factor's float dtype (an int32 count would give float32 quotients under x64, and for
    integer counts below :math:`2^{24}` float32 changes nothing). The schedule is evaluated
    per count (``jnp.vectorize``: some of optax's, e.g. the one-cycles, take scalar counts
    only), and the result has the float dtype of the parameters (:func:`_floats`) and the
    shape of ``step``. Array parameters (tracers included) are cast to that dtype first, so
    an int32 tracer never meets optax's float arithmetic; concrete arrays that optax compares
    in Python become Python numbers (:func:`_cast`).
    """
    numeric = [v for k, v in params.items() if k not in _STRUCTURAL and v is not None]
    dtype = jnp.result_type(float, *(v for v in numeric if _is_float(v)))
    checked = _OPTAX_CHECKS[name]
    params = {k: (_cast(v, dtype, host=k in checked) if isinstance(v, jax.Array) and k not in _STRUCTURAL else v)
              for k, v in params.items()}
    step = jnp.asarray(step)
    if any(_traced(params.get(k)) for k in checked):
        out = jnp.vectorize(functools.partial(_TWINS[name], **params))(step.astype(dtype))
    else:
        with jax.numpy_dtype_promotion("standard"):
            out = jnp.vectorize(getattr(optax, name)(**params))(step.astype(dtype))
    return jnp.broadcast_to(jnp.asarray(out, dtype), step.shape)


# ---- the jnp twins: optax's formulas, written so that every numeric argument may be a tracer.
# Each takes optax's arguments and a float ``step``; ``_optax_factor`` checks that they equal optax.


def _polynomial_twin(step, *, init_value, end_value, power, transition_steps, transition_begin=0):
    """optax.polynomial_schedule; a traced ``transition_steps <= 0`` holds ``init_value`` as optax does."""
    safe_steps = jnp.where(transition_steps > 0, transition_steps, 1)
    count = jnp.clip(step - transition_begin, 0, safe_steps)
    frac = 1 - count / safe_steps
    return jnp.where(transition_steps > 0, (init_value - end_value) * frac**power + end_value, init_value)


def _linear_twin(step, *, init_value, end_value, transition_steps, transition_begin=0):
    """optax.linear_schedule: the polynomial of power 1 (an int: ``frac**1`` is exact)."""
    return _polynomial_twin(step, init_value=init_value, end_value=end_value, power=1,
                            transition_steps=transition_steps, transition_begin=transition_begin)


def _exponential_twin(step, *, init_value, transition_steps, decay_rate, transition_begin=0,
                      staircase=False, end_value=None):
    """optax.exponential_decay: ``init_value`` × lrsweep's :func:`exponential_decay`, then the bound."""
    decayed = init_value * exponential_decay(step, decay_rate=decay_rate, transition_steps=transition_steps,
                                             transition_begin=transition_begin, staircase=staircase)
    if end_value is None:
        return decayed
    return jnp.where(decay_rate < 1, jnp.maximum(decayed, end_value), jnp.minimum(decayed, end_value))


def _cosine_twin(step, *, init_value, decay_steps, alpha=0.0, exponent=1.0):
    """optax.cosine_decay_schedule (lrsweep's :func:`cosine_decay` with an ``exponent``)."""
    count = jnp.minimum(step, decay_steps)
    cosine = 0.5 * (1 + jnp.cos(jnp.pi * count / decay_steps))
    return init_value * ((1 - alpha) * cosine**exponent + alpha)


def _join(step, first, second, boundary):
    """optax.join_schedules of two schedules: ``second`` counts from ``boundary``."""
    return jnp.where(step < boundary, first(step), second(step - boundary))


def _warmup_cosine_twin(step, *, init_value, peak_value, warmup_steps, decay_steps, end_value=0.0,
                        exponent=1.0):
    """optax.warmup_cosine_decay_schedule: linear warmup joined to a cosine decay of ``T - w`` updates."""
    zero_peak = peak_value == 0
    alpha = jnp.where(zero_peak, 0, end_value / jnp.where(zero_peak, 1, peak_value))
    length = decay_steps - warmup_steps
    warm = functools.partial(_linear_twin, init_value=init_value, end_value=peak_value,
                             transition_steps=warmup_steps)
    decay = functools.partial(_cosine_twin, init_value=peak_value, decay_steps=jnp.where(length > 0, length, 1),
                              alpha=alpha, exponent=exponent)
    return _join(step, warm, decay, warmup_steps)


def _warmup_exponential_twin(step, *, init_value, peak_value, warmup_steps, transition_steps, decay_rate,
                             transition_begin=0, staircase=False, end_value=None):
    """optax.warmup_exponential_decay_schedule: linear warmup joined to an exponential decay."""
    warm = functools.partial(_linear_twin, init_value=init_value, end_value=peak_value,
                             transition_steps=warmup_steps)
    decay = functools.partial(_exponential_twin, init_value=peak_value, transition_steps=transition_steps,
                              decay_rate=decay_rate, transition_begin=transition_begin, staircase=staircase,
                              end_value=end_value)
    return _join(step, warm, decay, warmup_steps)


def _linear_interpolate(start, end, pct):
    return (end - start) * pct + start


def _cosine_interpolate(start, end, pct):
    return end + (start - end) / 2.0 * (jnp.cos(jnp.pi * pct) + 1)


def _interpolate_twin(step, *, interpolate, init_value, boundaries_and_scales):
    """optax.piecewise_interpolate_schedule at a scalar ``step``, without optax's Python check of
    the scales (which may be tracers here); the boundaries are host numbers (dict keys)."""
    boundaries, scales = zip(*sorted(boundaries_and_scales.items(), key=lambda bs: bs[0]))
    bounds = jnp.asarray((0, *boundaries), step.dtype)
    values = jnp.cumprod(jnp.stack([jnp.asarray(v, step.dtype) for v in (init_value, *scales)]))
    sizes = jnp.maximum(bounds[1:] - bounds[:-1], 1)
    inside = (bounds[:-1] <= step) & (step < bounds[1:])
    interp = interpolate(values[:-1], values[1:], (step - bounds[:-1]) / sizes)
    return jnp.sum(jnp.where(inside, interp, 0)) + jnp.where(bounds[-1] <= step, values[-1], 0)


def _linear_onecycle_twin(step, *, transition_steps, peak_value, pct_start=0.3, pct_final=0.85,
                          div_factor=25.0, final_div_factor=1e4):
    """optax.linear_onecycle_schedule: the same boundary dict, interpolated by :func:`_interpolate_twin`."""
    return _interpolate_twin(step, interpolate=_linear_interpolate, init_value=peak_value / div_factor,
                             boundaries_and_scales={int(pct_start * transition_steps): div_factor,
                                                    int(pct_final * transition_steps): 1.0 / div_factor,
                                                    transition_steps: 1.0 / final_div_factor})


def _cosine_onecycle_twin(step, *, transition_steps, peak_value, pct_start=0.3, div_factor=25.0,
                          final_div_factor=1e4):
    """optax.cosine_onecycle_schedule: the same boundary dict, interpolated by :func:`_interpolate_twin`."""
    return _interpolate_twin(step, interpolate=_cosine_interpolate, init_value=peak_value / div_factor,
                             boundaries_and_scales={int(pct_start * transition_steps): div_factor,
                                                    int(transition_steps): 1.0 / (div_factor * final_div_factor)})


_TWINS: dict[str, Callable[..., jax.Array]] = {
    "exponential_decay": _exponential_twin,
    "cosine_decay_schedule": _cosine_twin,
    "warmup_cosine_decay_schedule": _warmup_cosine_twin,
    "linear_schedule": _linear_twin,
    "polynomial_schedule": _polynomial_twin,
    "warmup_constant_schedule": lambda step, *, init_value, peak_value, warmup_steps: _linear_twin(
        step, init_value=init_value, end_value=peak_value, transition_steps=warmup_steps),
    "warmup_exponential_decay_schedule": _warmup_exponential_twin,
    "linear_onecycle_schedule": _linear_onecycle_twin,
    "cosine_onecycle_schedule": _cosine_onecycle_twin,
}
"""Alias → pure-``jnp`` twin of the optax schedule, used where a parameter of :data:`_OPTAX_CHECKS` is traced."""

_OPTAX_CHECKS: dict[str, frozenset[str]] = {
    "exponential_decay": frozenset({"transition_steps", "decay_rate", "transition_begin"}),
    "cosine_decay_schedule": frozenset({"decay_steps"}),
    "warmup_cosine_decay_schedule": frozenset({"peak_value", "warmup_steps", "decay_steps"}),
    "piecewise_constant_schedule": frozenset(),
    "linear_schedule": frozenset({"transition_steps", "transition_begin"}),
    "polynomial_schedule": frozenset({"transition_steps", "transition_begin"}),
    "warmup_constant_schedule": frozenset({"warmup_steps"}),
    "warmup_exponential_decay_schedule": frozenset({"warmup_steps", "transition_steps", "decay_rate",
                                                    "transition_begin"}),
    "sgdr_schedule": frozenset(),
    "linear_onecycle_schedule": frozenset({"div_factor", "final_div_factor"}),
    "cosine_onecycle_schedule": frozenset({"div_factor", "final_div_factor"}),
    "constant_schedule": frozenset(),
}
"""Alias → the parameters optax compares in Python when it builds the schedule (a tracer there fails)."""

_STRUCTURAL = frozenset({"staircase", "boundaries_and_scales", "cosine_kwargs"})
"""Parameters of the aliases that are not numbers (a bool, a dict, a list of dicts)."""


# ---- the aliases: optax's names and parameters, value parameters relative to the learning rate


def optax_exponential_decay(
    step: jax.typing.ArrayLike,
    *,
    init_value: jax.typing.ArrayLike = 1.0,
    transition_steps: jax.typing.ArrayLike,
    decay_rate: jax.typing.ArrayLike,
    transition_begin: jax.typing.ArrayLike = 0,
    staircase: bool = False,
    end_value: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    r"""``optax.exponential_decay`` (registered as ``"exponential_decay"``).

    .. math::
       \mathrm{factor}(t) = \mathrm{bound}\big(I\, r^{p}\big), \qquad
       p = \frac{\max(t - t_0, 0)}{k} \quad (\lfloor p \rfloor \text{ if staircase})

    with :math:`I` = ``init_value``, :math:`r` = ``decay_rate``, :math:`k` =
    ``transition_steps``, :math:`t_0` = ``transition_begin``; ``end_value`` :math:`E` bounds
    the values (:math:`\max(\cdot, E)` when :math:`r < 1`, :math:`\min(\cdot, E)` otherwise;
    ``None``, optax's default, bounds nothing). ``staircase`` is static.

    >>> optax_exponential_decay(jnp.arange(4), transition_steps=2, decay_rate=0.25, end_value=0.4).tolist()
    [1.0, 0.5, 0.4, 0.4]
    """
    return _optax_factor("exponential_decay", step, dict(
        init_value=init_value, transition_steps=transition_steps, decay_rate=decay_rate,
        transition_begin=transition_begin, staircase=staircase, end_value=end_value))


def optax_cosine_decay_schedule(
    step: jax.typing.ArrayLike,
    *,
    init_value: jax.typing.ArrayLike = 1.0,
    decay_steps: jax.typing.ArrayLike,
    alpha: jax.typing.ArrayLike = 0.0,
    exponent: jax.typing.ArrayLike = 1.0,
) -> jax.Array:
    r"""``optax.cosine_decay_schedule`` (registered as ``"cosine_decay_schedule"``).

    .. math::
       \mathrm{factor}(t) = I\Big((1 - \alpha)\big[\tfrac12\big(1 + \cos(\pi \min(t, T)/T)\big)\big]^{p}
       + \alpha\Big)

    with :math:`I` = ``init_value``, :math:`T` = ``decay_steps``, :math:`p` = ``exponent``.

    >>> optax_cosine_decay_schedule(jnp.asarray([0, 5, 10, 20]), decay_steps=10, alpha=0.1).tolist()
    [1.0, 0.55, 0.1, 0.1]
    """
    return _optax_factor("cosine_decay_schedule", step, dict(
        init_value=init_value, decay_steps=decay_steps, alpha=alpha, exponent=exponent))


def optax_warmup_cosine_decay_schedule(
    step: jax.typing.ArrayLike,
    *,
    init_value: jax.typing.ArrayLike = 0.0,
    peak_value: jax.typing.ArrayLike = 1.0,
    warmup_steps: jax.typing.ArrayLike,
    decay_steps: jax.typing.ArrayLike,
    end_value: jax.typing.ArrayLike = 0.0,
    exponent: jax.typing.ArrayLike = 1.0,
) -> jax.Array:
    r"""``optax.warmup_cosine_decay_schedule`` (registered as ``"warmup_cosine_decay_schedule"``).

    .. math::
       \mathrm{factor}(t) = \begin{cases}
         I + (P - I)\, t / w & t < w, \\
         P\Big((1 - \alpha)\big[\tfrac12\big(1 + \cos(\pi \min(t - w, L)/L)\big)\big]^{p} + \alpha\Big)
           & t \ge w,
       \end{cases}

    with :math:`I` = ``init_value`` (default 0.0: optax requires it), :math:`P` =
    ``peak_value``, :math:`w` = ``warmup_steps``, :math:`L = T - w` (:math:`T` =
    ``decay_steps`` counts the warmup), :math:`\alpha = E/P` (:math:`E` = ``end_value``;
    0 when :math:`P = 0`) and :math:`p` = ``exponent``.

    >>> optax_warmup_cosine_decay_schedule(jnp.asarray([0, 1, 2, 4, 6]), warmup_steps=2, decay_steps=6).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    return _optax_factor("warmup_cosine_decay_schedule", step, dict(
        init_value=init_value, peak_value=peak_value, warmup_steps=warmup_steps, decay_steps=decay_steps,
        end_value=end_value, exponent=exponent))


def optax_piecewise_constant_schedule(
    step: jax.typing.ArrayLike,
    *,
    init_value: jax.typing.ArrayLike = 1.0,
    boundaries_and_scales,
) -> jax.Array:
    r"""``optax.piecewise_constant_schedule`` (registered as ``"piecewise_constant_schedule"``).

    .. math:: \mathrm{factor}(t) = I \prod_{i:\, b_i \le t} s_i

    with :math:`I` = ``init_value`` and ``boundaries_and_scales`` :math:`\{b_i: s_i\}`, a
    static dict (keys may be strings of integers, as TOML tables give them) or a list of
    ``[b_i, s_i]`` pairs. Required here (optax's default ``None`` is a constant schedule).

    >>> optax_piecewise_constant_schedule(jnp.asarray([0, 5, 10]), boundaries_and_scales={"5": 0.5, "10": 0.2}).tolist()
    [1.0, 0.5, 0.1]
    """
    return _optax_factor("piecewise_constant_schedule", step, dict(
        init_value=init_value, boundaries_and_scales=_boundaries_and_scales(boundaries_and_scales)))


def optax_linear_schedule(
    step: jax.typing.ArrayLike,
    *,
    init_value: jax.typing.ArrayLike = 1.0,
    end_value: jax.typing.ArrayLike = 0.0,
    transition_steps: jax.typing.ArrayLike,
    transition_begin: jax.typing.ArrayLike = 0,
) -> jax.Array:
    r"""``optax.linear_schedule`` (registered as ``"linear_schedule"``).

    .. math:: \mathrm{factor}(t) = I + (E - I)\,\frac{\min(\max(t - B, 0), T)}{T}

    with :math:`I` = ``init_value``, :math:`E` = ``end_value`` (default 0.0: optax requires
    it), :math:`T` = ``transition_steps``, :math:`B` = ``transition_begin``.

    >>> optax_linear_schedule(jnp.asarray([0, 1, 2, 4, 9]), transition_steps=4, transition_begin=1).tolist()
    [1.0, 1.0, 0.75, 0.25, 0.0]
    """
    return _optax_factor("linear_schedule", step, dict(
        init_value=init_value, end_value=end_value, transition_steps=transition_steps,
        transition_begin=transition_begin))


def optax_polynomial_schedule(
    step: jax.typing.ArrayLike,
    *,
    init_value: jax.typing.ArrayLike = 1.0,
    end_value: jax.typing.ArrayLike = 0.0,
    power: jax.typing.ArrayLike,
    transition_steps: jax.typing.ArrayLike,
    transition_begin: jax.typing.ArrayLike = 0,
) -> jax.Array:
    r"""``optax.polynomial_schedule`` (registered as ``"polynomial_schedule"``).

    .. math:: \mathrm{factor}(t) = (I - E)\Big(1 - \frac{\min(\max(t - B, 0), T)}{T}\Big)^{P} + E

    with :math:`I` = ``init_value``, :math:`E` = ``end_value`` (default 0.0: optax requires
    it), :math:`P` = ``power``, :math:`T` = ``transition_steps``, :math:`B` = ``transition_begin``.

    From :math:`t = B + T` on the factor is :math:`E` exactly, as optax documents: optax's
    :math:`1 - T/T` can round to :math:`-10^{-7}` (XLA divides by a reciprocal) and a fractional
    power of that is NaN.

    >>> optax_polynomial_schedule(jnp.asarray([0, 1, 2, 4]), power=2, transition_steps=4).tolist()
    [1.0, 0.5625, 0.25, 0.0]
    """
    factor = _optax_factor("polynomial_schedule", step, dict(
        init_value=init_value, end_value=end_value, power=power, transition_steps=transition_steps,
        transition_begin=transition_begin))
    dtype = factor.dtype
    done = jnp.asarray(step, dtype) >= jnp.asarray(transition_begin, dtype) + jnp.asarray(transition_steps, dtype)
    return jnp.where(done, jnp.asarray(end_value, dtype), factor)


def optax_warmup_constant_schedule(
    step: jax.typing.ArrayLike,
    *,
    init_value: jax.typing.ArrayLike = 0.0,
    peak_value: jax.typing.ArrayLike = 1.0,
    warmup_steps: jax.typing.ArrayLike,
) -> jax.Array:
    r"""``optax.warmup_constant_schedule`` (registered as ``"warmup_constant_schedule"``).

    .. math:: \mathrm{factor}(t) = I + (P - I)\,\min(t, w)/w

    with :math:`I` = ``init_value`` (default 0.0: optax requires it), :math:`P` =
    ``peak_value``, :math:`w` = ``warmup_steps`` (> 0: with 0 optax holds :math:`I` for ever).

    >>> optax_warmup_constant_schedule(jnp.asarray([0, 1, 2, 3, 9]), warmup_steps=4).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    return _optax_factor("warmup_constant_schedule", step, dict(
        init_value=init_value, peak_value=peak_value, warmup_steps=warmup_steps))


def optax_warmup_exponential_decay_schedule(
    step: jax.typing.ArrayLike,
    *,
    init_value: jax.typing.ArrayLike = 0.0,
    peak_value: jax.typing.ArrayLike = 1.0,
    warmup_steps: jax.typing.ArrayLike,
    transition_steps: jax.typing.ArrayLike,
    decay_rate: jax.typing.ArrayLike,
    transition_begin: jax.typing.ArrayLike = 0,
    staircase: bool = False,
    end_value: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    r"""``optax.warmup_exponential_decay_schedule`` (registered as ``"warmup_exponential_decay_schedule"``).

    .. math::
       \mathrm{factor}(t) = \begin{cases}
         I + (P - I)\, t / w & t < w, \\
         P \cdot \text{optax\_exponential\_decay}(t - w) & t \ge w
       \end{cases}

    with :math:`I` = ``init_value`` (default 0.0: optax requires it), :math:`P` =
    ``peak_value``, :math:`w` = ``warmup_steps``; the decay's parameters as in
    :func:`optax_exponential_decay` (``end_value`` an absolute bound, ``None`` none).

    >>> optax_warmup_exponential_decay_schedule(jnp.arange(5), warmup_steps=2, transition_steps=1,
    ...                                         decay_rate=0.5).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.25]
    """
    return _optax_factor("warmup_exponential_decay_schedule", step, dict(
        init_value=init_value, peak_value=peak_value, warmup_steps=warmup_steps,
        transition_steps=transition_steps, decay_rate=decay_rate, transition_begin=transition_begin,
        staircase=staircase, end_value=end_value))


def optax_sgdr_schedule(step: jax.typing.ArrayLike, *, cosine_kwargs) -> jax.Array:
    r"""``optax.sgdr_schedule`` (registered as ``"sgdr_schedule"``): warm restarts.

    .. math:: \mathrm{factor}(t) = c_k\big(t - (T_1 + \dots + T_{k-1})\big) \quad
              \text{for } T_1 + \dots + T_{k-1} \le t < T_1 + \dots + T_k

    where cycle :math:`c_k` is :func:`optax_warmup_cosine_decay_schedule` with the
    parameters of ``cosine_kwargs[k]`` (static: a list of dicts; its defaults, so
    ``init_value`` 0.0 and ``peak_value`` 1.0; ``warmup_steps`` and ``decay_steps``
    :math:`T_k` required) and the last cycle holds its end value.

    >>> optax_sgdr_schedule(jnp.arange(6), cosine_kwargs=[{"warmup_steps": 0, "decay_steps": 2}] * 2).tolist()
    [1.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """
    return _optax_factor("sgdr_schedule", step, dict(cosine_kwargs=_cycles(cosine_kwargs)))


def optax_linear_onecycle_schedule(
    step: jax.typing.ArrayLike,
    *,
    transition_steps: int,
    peak_value: jax.typing.ArrayLike = 1.0,
    pct_start: float = 0.3,
    pct_final: float = 0.85,
    div_factor: jax.typing.ArrayLike = 25.0,
    final_div_factor: jax.typing.ArrayLike = 1e4,
) -> jax.Array:
    r"""``optax.linear_onecycle_schedule`` (registered as ``"linear_onecycle_schedule"``).

    Linear from :math:`P/d` to :math:`P` on :math:`[0, b_1)`, back to :math:`P/d` on
    :math:`[b_1, b_2)`, to :math:`P/(d f)` on :math:`[b_2, T)`, then constant:

    .. math:: b_1 = \lfloor s T \rfloor, \quad b_2 = \lfloor e T \rfloor

    with :math:`P` = ``peak_value``, :math:`d` = ``div_factor``, :math:`f` =
    ``final_div_factor``, :math:`T` = ``transition_steps``, :math:`s` = ``pct_start``,
    :math:`e` = ``pct_final``. :math:`T, s, e` are static (Python ``int()`` of them makes
    optax's boundaries).

    >>> optax_linear_onecycle_schedule(jnp.asarray([0, 3, 6, 10]), transition_steps=10, div_factor=4.0,
    ...                                final_div_factor=2.0, pct_final=0.6).tolist()
    [0.25, 1.0, 0.25, 0.125]
    """
    return _optax_factor("linear_onecycle_schedule", step, dict(
        transition_steps=_host_number("linear_onecycle_schedule", "transition_steps", transition_steps),
        peak_value=peak_value,
        pct_start=_host_number("linear_onecycle_schedule", "pct_start", pct_start),
        pct_final=_host_number("linear_onecycle_schedule", "pct_final", pct_final),
        div_factor=div_factor, final_div_factor=final_div_factor))


def optax_cosine_onecycle_schedule(
    step: jax.typing.ArrayLike,
    *,
    transition_steps: int,
    peak_value: jax.typing.ArrayLike = 1.0,
    pct_start: float = 0.3,
    div_factor: jax.typing.ArrayLike = 25.0,
    final_div_factor: jax.typing.ArrayLike = 1e4,
) -> jax.Array:
    r"""``optax.cosine_onecycle_schedule`` (registered as ``"cosine_onecycle_schedule"``).

    Cosine-interpolated from :math:`P/d` up to :math:`P` on :math:`[0, b_1)`, down to
    :math:`P/(d f)` on :math:`[b_1, T)`, then constant: with :math:`b_1 = \lfloor s T \rfloor`,

    .. math:: \mathrm{factor}(t) = v_1 + \tfrac{v_0 - v_1}{2}\big(1 + \cos(\pi\,\tfrac{t - a}{b - a})\big)

    on each piece :math:`[a, b)` from :math:`v_0` to :math:`v_1`. :math:`P` =
    ``peak_value``, :math:`d` = ``div_factor``, :math:`f` = ``final_div_factor``;
    :math:`T` = ``transition_steps`` and :math:`s` = ``pct_start`` are static.

    >>> optax_cosine_onecycle_schedule(jnp.asarray([0, 1, 2, 4, 9]), transition_steps=4, pct_start=0.5,
    ...                                div_factor=4.0, final_div_factor=1.0).tolist()
    [0.25, 0.625, 1.0, 0.25, 0.25]
    """
    return _optax_factor("cosine_onecycle_schedule", step, dict(
        transition_steps=_host_number("cosine_onecycle_schedule", "transition_steps", transition_steps),
        peak_value=peak_value,
        pct_start=_host_number("cosine_onecycle_schedule", "pct_start", pct_start),
        div_factor=div_factor, final_div_factor=final_div_factor))


def optax_constant_schedule(step: jax.typing.ArrayLike, *, value: jax.typing.ArrayLike = 1.0) -> jax.Array:
    r"""``optax.constant_schedule`` (registered as ``"constant_schedule"``): :math:`\mathrm{factor}(t) = v`.

    >>> optax_constant_schedule(jnp.arange(3), value=0.5).tolist()
    [0.5, 0.5, 0.5]
    """
    return _optax_factor("constant_schedule", step, dict(value=value))


# ---- host-side conversions of the structural parameters


def _step_key(b) -> int | None:
    """A boundary as an int: an int, an integral float, or a string of an int (TOML keys); else None."""
    if isinstance(b, str):
        try:
            return int(b.strip())
        except ValueError:
            return None
    if isinstance(b, (bool, np.bool_)) or not isinstance(b, numbers.Real):
        return None
    return int(b) if math.isfinite(b) and float(b).is_integer() else None


def _boundaries_and_scales(value) -> dict[int, float]:
    """``boundaries_and_scales`` (a dict, keys possibly strings, or ``[step, scale]`` pairs) as optax's dict."""
    name, param = "piecewise_constant_schedule", "boundaries_and_scales"
    pairs = list(value.items()) if isinstance(value, dict) else value
    if not isinstance(pairs, (list, tuple)) or not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in pairs):
        _fail(name, param, value, "a {step: scale} table or a list of [step, scale] pairs")
    out: dict[int, float] = {}
    for b, s in pairs:
        k = _step_key(b)
        if k is None or k < 0 or k in out:
            _fail(name, param, value, f"distinct integer steps >= 0 as boundaries (found {b!r})")
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, numbers.Real) or not math.isfinite(s) or s < 0:
            _fail(name, param, value, f"finite scales >= 0 (found {s!r})")
        out[k] = float(s)
    return out


def _cycles(value) -> list[dict]:
    """``cosine_kwargs`` as optax wants it: each cycle's dict with this module's defaults filled in."""
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(c, dict) for c in value):
        _fail("sgdr_schedule", "cosine_kwargs", value,
              "a non-empty list of tables of warmup_cosine_decay_schedule parameters")
    defaults = {k: p.default for k, p in _parameters("warmup_cosine_decay_schedule").items()
                if p.default is not inspect.Parameter.empty}
    return [{**defaults, **c} for c in value]


OPTAX_ALIASES: dict[str, Callable[..., jax.Array]] = {
    "exponential_decay": optax_exponential_decay,
    "cosine_decay_schedule": optax_cosine_decay_schedule,
    "warmup_cosine_decay_schedule": optax_warmup_cosine_decay_schedule,
    "piecewise_constant_schedule": optax_piecewise_constant_schedule,
    "linear_schedule": optax_linear_schedule,
    "polynomial_schedule": optax_polynomial_schedule,
    "warmup_constant_schedule": optax_warmup_constant_schedule,
    "warmup_exponential_decay_schedule": optax_warmup_exponential_decay_schedule,
    "sgdr_schedule": optax_sgdr_schedule,
    "linear_onecycle_schedule": optax_linear_onecycle_schedule,
    "cosine_onecycle_schedule": optax_cosine_onecycle_schedule,
    "constant_schedule": optax_constant_schedule,
}
"""optax's schedule name → its factor here (also entries of :data:`SCHEDULES`)."""

_ALIAS_STATIC: dict[str, frozenset[str]] = {
    "exponential_decay": frozenset({"staircase"}),
    "cosine_decay_schedule": frozenset(),
    "warmup_cosine_decay_schedule": frozenset(),
    "piecewise_constant_schedule": frozenset({"boundaries_and_scales"}),
    "linear_schedule": frozenset(),
    "polynomial_schedule": frozenset(),
    "warmup_constant_schedule": frozenset(),
    "warmup_exponential_decay_schedule": frozenset({"staircase"}),
    "sgdr_schedule": frozenset({"cosine_kwargs"}),
    "linear_onecycle_schedule": frozenset({"transition_steps", "pct_start", "pct_final"}),
    "cosine_onecycle_schedule": frozenset({"transition_steps", "pct_start"}),
    "constant_schedule": frozenset(),
}


# --------------------------------------------------------------------------- a user's callable


def factor_from_callable(
    fn: Callable[[jax.Array], jax.typing.ArrayLike],
) -> Callable[[jax.typing.ArrayLike], jax.Array]:
    r"""A user's Python callable ``step -> factor`` as a schedule factor ``count -> factor``.

    .. math:: \mathrm{factor}(t) = \mathrm{fn}(t)

    The engine calls the factor with optax's update count, a traced int32 scalar inside
    ``jit(vmap(...))``, so ``fn`` must be traceable: ``jnp`` arithmetic on the count, no
    Python ``if`` on it (an optax schedule such as ``optax.cosine_decay_schedule(1.0, 100)``
    is such a function). ``fn`` is called once per count (``jnp.vectorize``: a function of
    a scalar count also takes arrays of counts), and must return one number per count.
    It is traced once here at an abstract int32 count, so a function that cannot be
    traced fails now, with a one-line ``ValueError``.

    Args:
      fn: the callable, :math:`t \mapsto \mathrm{factor}(t)`.

    Returns:
      ``factor(step)``: ``fn`` at each count of ``step``, in the default float dtype
      (float32; float64 under x64), shaped like ``step``.

    >>> factor = factor_from_callable(lambda t: 0.5 ** (t // 2))
    >>> factor(jnp.arange(5)).tolist()
    [1.0, 1.0, 0.5, 0.5, 0.25]
    >>> factor_from_callable(optax.linear_schedule(1.0, 0.0, 4))(jnp.arange(6)).tolist()
    [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """
    if not callable(fn):
        raise ValueError(f"schedule 'callable': {fn!r} is not callable, expected a function step -> factor")

    def one(count):
        out = jnp.asarray(fn(count))
        if out.shape != ():
            raise ValueError(f"schedule 'callable': {_name(fn)}(step) has shape {out.shape}, "
                             "expected one number per step")
        if not jnp.issubdtype(out.dtype, jnp.number):
            raise ValueError(f"schedule 'callable': {_name(fn)}(step) has dtype {out.dtype}, expected a number")
        return out

    def factor(step: jax.typing.ArrayLike) -> jax.Array:
        return jnp.asarray(jnp.vectorize(one)(jnp.asarray(step)), jnp.result_type(float))

    try:
        jax.eval_shape(factor, jax.ShapeDtypeStruct((), jnp.int32))
    except ValueError as e:
        if str(e).startswith("schedule 'callable'"):
            raise
        raise ValueError(_trace_failure(fn, e)) from None
    except Exception as e:  # noqa: BLE001  (a tracer in a Python `if`, a TypeError …)
        raise ValueError(_trace_failure(fn, e)) from None
    factor.__name__ = factor.__qualname__ = f"factor_from_callable({_name(fn)})"
    factor.__wrapped__ = fn
    return factor


def _name(fn) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def _trace_failure(fn, e: Exception) -> str:
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return (f"schedule 'callable': {_name(fn)}(step) failed at a traced int32 count ({type(e).__name__}: {first}), "
            "expected a function of the traced count (jnp operations, no Python `if` on it)")


SCHEDULES: dict[str, Callable[..., jax.Array]] = {
    "constant": constant,
    "step": step_decay,
    "piecewise": piecewise_constant,
    "exponential": exponential_decay,
    "inverse_sqrt": inverse_sqrt,
    "cosine": cosine_decay,
    "warmup_cosine": warmup_cosine_decay,
    **OPTAX_ALIASES,
}
"""Schedule name → factor function ``factor(step, **params)`` (lrsweep's own, then optax's names)."""

STATIC: dict[str, frozenset[str]] = {
    "constant": frozenset(),
    "step": frozenset(),
    "piecewise": frozenset({"boundaries", "scales"}),
    "exponential": frozenset({"staircase"}),
    "inverse_sqrt": frozenset(),
    "cosine": frozenset(),
    "warmup_cosine": frozenset(),
    **_ALIAS_STATIC,
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
    """Every schedule's parameters and their defaults (``None`` marks a required one, but for
    ``end_value`` of ``exponential_decay`` and ``warmup_exponential_decay_schedule``: optax's
    default, no bound; see :func:`required_params`).

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

    if name in OPTAX_ALIASES:
        _validate_alias(name, values)
        return
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


_POSITIVE = (lambda x: x > 0, "> 0")
_NON_NEGATIVE = (lambda x: x >= 0, ">= 0")
_FRACTION = (lambda x: (x >= 0) & (x <= 1), "in [0, 1]")

# (predicate, what was expected) per alias and parameter; value parameters need only be finite.
_ALIAS_RULES: dict[str, dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]]] = {
    "exponential_decay": {"transition_steps": _POSITIVE, "decay_rate": _POSITIVE,
                          "transition_begin": _NON_NEGATIVE},
    "cosine_decay_schedule": {"decay_steps": _POSITIVE, "exponent": _POSITIVE},
    "warmup_cosine_decay_schedule": {"warmup_steps": _NON_NEGATIVE, "decay_steps": _POSITIVE,
                                     "exponent": _POSITIVE},
    "linear_schedule": {"transition_steps": _POSITIVE, "transition_begin": _NON_NEGATIVE},
    "polynomial_schedule": {"power": _POSITIVE, "transition_steps": _POSITIVE, "transition_begin": _NON_NEGATIVE},
    "warmup_constant_schedule": {
        "warmup_steps": (lambda x: x > 0, "> 0 (with 0, optax holds init_value for ever)")},
    "warmup_exponential_decay_schedule": {"warmup_steps": _NON_NEGATIVE, "transition_steps": _POSITIVE,
                                          "decay_rate": _POSITIVE, "transition_begin": _NON_NEGATIVE},
    "linear_onecycle_schedule": {"transition_steps": _POSITIVE, "pct_start": _FRACTION, "pct_final": _FRACTION,
                                 "div_factor": _POSITIVE, "final_div_factor": _POSITIVE},
    "cosine_onecycle_schedule": {"transition_steps": _POSITIVE, "pct_start": _FRACTION,
                                 "div_factor": _POSITIVE, "final_div_factor": _POSITIVE},
}


def _validate_alias(name: str, values: dict) -> None:
    """:func:`validate_schedule` for an optax alias (``values``: every parameter, defaults filled)."""
    if "staircase" in values and not isinstance(values["staircase"], (bool, np.bool_)):
        _fail(name, "staircase", values["staircase"], "true or false")
    if name == "piecewise_constant_schedule":
        _boundaries_and_scales(values["boundaries_and_scales"])
    if name == "sgdr_schedule":
        _validate_cycles(values["cosine_kwargs"])
        return
    arrays = {k: _numbers(name, k, v) for k, v in values.items() if k not in _STRUCTURAL and v is not None}
    for k, (ok, expected) in _ALIAS_RULES.get(name, {}).items():
        _require(name, k, values[k], arrays[k], ok(arrays[k]), expected)
    if name == "warmup_cosine_decay_schedule":
        _require_above(name, arrays, "decay_steps", "warmup_steps", "(decay_steps counts the warmup too)")
    if name == "linear_onecycle_schedule":
        _require_above(name, arrays, "pct_final", "pct_start", "", strict=False)


def _require_above(name: str, arrays: dict, param: str, other: str, note: str, strict: bool = True) -> None:
    """``param`` above ``other`` for every combination of their (swept) values."""
    lo, hi = np.min(arrays[param], initial=np.inf), np.max(arrays[other], initial=-np.inf)
    if not (lo > hi if strict else lo >= hi):
        relation = f"{'>' if strict else '>='} {other}={_scalar(hi)}"
        _fail(name, param, _scalar(lo), f"{relation} {note}" if note else relation)


def _validate_cycles(value) -> None:
    """Each of sgdr's cycles as a ``warmup_cosine_decay_schedule``, its errors naming the cycle."""
    _cycles(value)
    inner = "schedule 'warmup_cosine_decay_schedule'"
    for i, cycle in enumerate(value):
        try:
            validate_schedule("warmup_cosine_decay_schedule", cycle)
        except ValueError as e:
            raise ValueError(str(e).replace(inner, f"schedule 'sgdr_schedule': cosine_kwargs[{i}]", 1)) from None


def required_params(name: str) -> frozenset[str]:
    """Parameters of schedule ``name`` without a default.

    ``describe_schedules`` marks them ``None``; so does it ``end_value`` of the two exponential
    aliases, whose default is optax's ``None`` (no bound), which this tells apart.

    >>> sorted(required_params("exponential_decay"))
    ['decay_rate', 'transition_steps']
    """
    if name not in _known():
        raise ValueError(f"unknown schedule {name!r}; expected one of: {', '.join(_known())}")
    return frozenset(k for k, p in _parameters(name).items() if p.default is inspect.Parameter.empty)
