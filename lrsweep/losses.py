"""Loss factories: value function, initialiser, known minimum, Hessian spectrum.

A *factory* is a keyword-only function returning a :class:`~lrsweep._types.Loss`.
The engine calls it inside ``jit(vmap(...))`` with every swept numeric parameter
as a scalar tracer, so factories build everything with ``jnp`` and never branch
in Python on numeric values. Structural parameters (shapes, lists of curvatures,
activation names, widths, sizes) are plain Python; each factory lists them in
``factory.static`` so the configuration layer can refuse them as sweep axes.

Concrete arguments are checked eagerly and errors name the argument and its
value; traced arguments are not checked (nothing raises inside the vmapped code).

>>> import jax, jax.numpy as jnp
>>> loss = quadratic(curvatures=[1.0, 10.0], curvature_scale=2.0)
>>> float(loss.fn(jnp.array([1.0, 1.0])))
11.0
>>> batched = jax.jit(jax.vmap(
...     lambda s: quadratic(curvatures=[1.0, 10.0], curvature_scale=s).fn(jnp.ones(2))))
>>> batched(jnp.array([1.0, 2.0])).tolist()
[5.5, 11.0]
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lrsweep._types import Loss, PyTree

__all__ = [
    "LOSSES",
    "cubic",
    "describe_losses",
    "fractal_mlp",
    "mlp",
    "plateau",
    "quadratic",
    "resolve_loss",
    "rosenbrock",
    "user_loss",
]

LossFactory = Callable[..., Loss]


# --------------------------------------------------------------------------- helpers


def _check(ok: Any, message: str | Callable[[], str]) -> None:
    """Raise ``ValueError(message)`` when ``ok`` is concrete and false.

    A traced ``ok`` (the argument is swept inside ``jit``/``vmap``) is not
    checked: failures inside the compiled program are values, not exceptions.
    ``message`` may be a zero-argument callable, formatted only on failure.
    """
    if isinstance(ok, jax.core.Tracer):
        return
    if not bool(ok):
        raise ValueError(message() if callable(message) else message)


def _float_dtype(*values: Any) -> Any:
    """The floating dtype of ``values`` (Python scalars are weak: the default float)."""
    return jnp.result_type(float, *values)


def _like(value: Any, x: jax.Array) -> jax.Array:
    """``value`` as an array of ``x``'s dtype (the params set the run's dtype)."""
    return jnp.asarray(value, dtype=jnp.result_type(x))


def _check_vector(name: str, x: jax.Array, dim: int) -> None:
    """Shapes are static, so a wrong one is an error at trace time."""
    if jnp.shape(x) != (dim,):
        raise ValueError(f"{name}: params shape {jnp.shape(x)} does not match {dim=}")


def _host_array(name: str, arg: str, value: Any) -> np.ndarray:
    """A structural array argument as a float64 NumPy array; it cannot be traced."""
    if any(isinstance(v, jax.core.Tracer) for v in jax.tree.leaves(value)):
        raise ValueError(f"{name}: {arg} is structural (static) and cannot be traced")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}: {arg}={value!r} is not a numeric array: {e}") from None


def _check_positive_int(name: str, arg: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}: {arg}={value!r} must be an integer >= {minimum}")


# --------------------------------------------------------------------------- quadratic


def quadratic(*, curvatures: Any = None, matrix: Any = None, condition_number: float | None = None,
              dim: int | None = None, curvature_scale: Any = 1.0) -> Loss:
    r"""A convex quadratic, the loss whose learning-rate boundary is known exactly.

    .. math::
        f(x) = \tfrac12\, s\, x^\top H x, \qquad x \in \mathbb{R}^d,

    with :math:`s` = ``curvature_scale`` (> 0, sweepable) and :math:`H` given by exactly one of

    - ``curvatures``: :math:`H = \mathrm{diag}(c)`, a non-empty sequence of values >= 0;
    - ``matrix``: a full symmetric positive semi-definite :math:`d \times d` matrix;
    - ``condition_number`` :math:`\kappa \ge 1` with ``dim`` :math:`d` (>= 2 unless :math:`\kappa = 1`):
      curvatures log-spaced from 1 to :math:`\kappa`, :math:`c_i = \kappa^{i/(d-1)}`, :math:`i = 0..d-1`,
      so :math:`\lambda_{\min} = s` and :math:`\lambda_{\max} = \kappa s`.

    ``dim`` is otherwise checked against the size of ``curvatures`` / ``matrix`` when given. Gradient
    descent with learning rate :math:`\eta` multiplies the component along eigenvector :math:`i` by
    :math:`1 - \eta \lambda_i` each step, so it converges iff :math:`\eta < 2/\lambda_{\max}`: the
    critical learning rate is :math:`\eta_c = 2/\lambda_{\max}`. Returns ``Loss(fn, init=None, minimum=0.0,
    hessian_eigenvalues=s * eig(H) ascending, dim=d)``.

    >>> loss = quadratic(condition_number=100.0, dim=3, curvature_scale=0.5)
    >>> loss.hessian_eigenvalues.tolist()
    [0.5, 5.0, 50.0]
    >>> 2 / float(loss.hessian_eigenvalues[-1])  # critical GD learning rate
    0.04
    >>> float(quadratic(matrix=[[2.0, 1.0], [1.0, 2.0]]).fn(jnp.array([1.0, 1.0])))
    3.0
    """
    given = [n for n, v in [("curvatures", curvatures), ("matrix", matrix),
                            ("condition_number", condition_number)] if v is not None]
    if len(given) != 1:
        raise ValueError(f"quadratic: give exactly one of curvatures, matrix, condition_number; got {given or 'none'}")
    _check(curvature_scale > 0, lambda: f"quadratic: {curvature_scale=} must be > 0")
    if dim is not None:
        _check_positive_int("quadratic", "dim", dim)

    # H is structural: checked and diagonalised on the host, in float64, even when called inside jit.
    if matrix is not None:
        h, c = _psd_matrix(matrix), None
        eigenvalues = np.linalg.eigvalsh(h)
    else:
        h, c = None, _diagonal(curvatures, condition_number, dim)
        eigenvalues = np.sort(c)
    d = eigenvalues.shape[0]
    if dim is not None and dim != d:
        raise ValueError(f"quadratic: {dim=} does not match the size {d} of the "
                         f"{'matrix' if h is not None else 'curvatures'} given")

    dtype = _float_dtype(curvature_scale)
    hessian_eigenvalues = jnp.asarray(curvature_scale, dtype) * jnp.asarray(eigenvalues, dtype)

    def fn(x: jax.Array) -> jax.Array:
        _check_vector("quadratic", x, d)
        s = _like(curvature_scale, x)
        if c is not None:
            return 0.5 * s * jnp.sum(_like(c, x) * x**2)
        return 0.5 * s * (x @ (_like(h, x) @ x))

    return Loss(fn=fn, init=None, minimum=0.0, hessian_eigenvalues=hessian_eigenvalues, dim=d)


def _psd_matrix(matrix: Any) -> np.ndarray:
    """``quadratic``'s ``matrix`` on the host, checked square, non-empty, symmetric and positive semi-definite."""
    h = _host_array("quadratic", "matrix", matrix)
    if h.ndim != 2 or h.shape[0] != h.shape[1] or h.shape[0] == 0:
        raise ValueError(f"quadratic: matrix must be square and non-empty, "
                         f"got shape {h.shape}")
    if not np.allclose(h, h.T):
        raise ValueError("quadratic: matrix must be symmetric, got max "
                         f"|matrix - matrix.T| = {np.max(np.abs(h - h.T)):g}")
    eigenvalues = np.linalg.eigvalsh(h)
    if eigenvalues[0] < -1e-9 * np.max(np.abs(eigenvalues)):
        raise ValueError("quadratic: matrix must be positive semi-definite, got "
                         f"smallest eigenvalue {eigenvalues[0]:g}")
    return h


def _diagonal(curvatures: Any, condition_number: Any, dim: int | None) -> np.ndarray:
    """``quadratic``'s diagonal on the host: ``curvatures`` checked, or log-spaced from 1 to ``condition_number``."""
    if condition_number is not None:
        if dim is None:
            raise ValueError(f"quadratic: {condition_number=} needs dim, got {dim=}")
        kappa = _host_array("quadratic", "condition_number", condition_number)
        if kappa.ndim != 0 or not kappa >= 1:
            raise ValueError(f"quadratic: {condition_number=} must be a number >= 1")
        if dim == 1 and kappa != 1:
            raise ValueError(f"quadratic: {condition_number=} needs dim >= 2, got {dim=}")
        return kappa ** (np.arange(dim) / max(dim - 1, 1))  # c[0] = 1, c[-1] = kappa
    c = _host_array("quadratic", "curvatures", curvatures)
    if c.ndim != 1 or c.shape[0] == 0:
        raise ValueError(f"quadratic: curvatures must be a non-empty 1-D "
                         f"sequence, got shape {c.shape}")
    if not np.all(c >= 0):
        raise ValueError(f"quadratic: {curvatures=} must be >= 0")
    return c


quadratic.static = frozenset({"curvatures", "matrix", "condition_number", "dim"})


# --------------------------------------------------------------------------- rosenbrock


def rosenbrock(*, a: Any = 1.0, b: Any = 100.0) -> Loss:
    r"""The Rosenbrock valley: a curved, ill-conditioned 2-D loss.

    .. math::
        f(x, y) = (a - x)^2 + b\,(y - x^2)^2,

    minimum 0 at :math:`(a, a^2)`, where the Hessian is

    .. math::
        \nabla^2 f = \begin{pmatrix} 2 + 8 b a^2 & -4 b a \\ -4 b a & 2 b
        \end{pmatrix},

    with :math:`\det = 4b`. Its eigenvalues are computed in closed form
    (:math:`\lambda_{\max} = m + \sqrt{((p-r)/2)^2 + q^2}` with :math:`m` the
    mean of the diagonal, :math:`\lambda_{\min} = 4b/\lambda_{\max}`, free of
    cancellation), so they trace when ``a`` or ``b`` is swept. Near the
    minimum, gradient descent is stable for :math:`\eta < 2/\lambda_{\max}`.

    Args:
      a: position of the minimum, sweepable.
      b: valley steepness :math:`b \ge 0`, sweepable.

    Returns:
      ``Loss(fn, init=None, minimum=0.0, hessian_eigenvalues (2,), dim=2)``;
      ``fn`` takes a vector ``[x, y]``.

    >>> loss = rosenbrock()
    >>> float(loss.fn(jnp.array([1.0, 1.0]))), float(loss.fn(jnp.array([0.0, 0.0])))
    (0.0, 1.0)
    >>> [round(v, 4) for v in loss.hessian_eigenvalues.tolist()]
    [0.3994, 1001.6006]
    """
    _check(b >= 0, lambda: f"rosenbrock: {b=} must be >= 0")
    dtype = _float_dtype(a, b)
    a_, b_ = jnp.asarray(a, dtype), jnp.asarray(b, dtype)
    p, q, r = 2 + 8 * b_ * a_**2, -4 * b_ * a_, 2 * b_
    lam_max = 0.5 * (p + r) + jnp.sqrt((0.5 * (p - r)) ** 2 + q**2)
    lam_min = 4 * b_ / lam_max  # det / lam_max; lam_max >= 2 > 0
    hessian_eigenvalues = jnp.stack([lam_min, lam_max])

    def fn(x: jax.Array) -> jax.Array:
        _check_vector("rosenbrock", x, 2)
        a_x, b_x = _like(a, x), _like(b, x)
        return (a_x - x[0]) ** 2 + b_x * (x[1] - x[0] ** 2) ** 2

    return Loss(fn=fn, init=None, minimum=0.0,
                hessian_eigenvalues=hessian_eigenvalues, dim=2)


rosenbrock.static = frozenset()


# --------------------------------------------------------------------------- cubic


def cubic(*, coefficient: Any = 1.0, dim: int = 1) -> Loss:
    r"""A cubic with an inflection (saddle) point at 0, unbounded below.

    .. math::
        f(x) = c \sum_{i=1}^{d} x_i^3, \qquad
        \nabla f = 3c\,x^2, \qquad \nabla^2 f = \mathrm{diag}(6c\,x).

    At the stationary point :math:`x = 0` both the gradient and the curvature
    vanish, so ``hessian_eigenvalues`` (evaluated there) are all zero. There is
    no minimum: gradient descent started on the downhill side runs away at any
    learning rate, so this loss tests divergence detection.

    Args:
      coefficient: :math:`c`, sweepable.
      dim: :math:`d \ge 1`.

    Returns:
      ``Loss(fn, init=None, minimum=None, hessian_eigenvalues=zeros(d), dim=d)``.

    >>> loss = cubic(coefficient=2.0, dim=2)
    >>> float(loss.fn(jnp.array([1.0, -0.5])))
    1.75
    >>> loss.minimum is None, loss.hessian_eigenvalues.tolist()
    (True, [0.0, 0.0])
    """
    _check_positive_int("cubic", "dim", dim)
    hessian_eigenvalues = jnp.zeros(dim, _float_dtype(coefficient))

    def fn(x: jax.Array) -> jax.Array:
        _check_vector("cubic", x, dim)
        return _like(coefficient, x) * jnp.sum(x**3)

    return Loss(fn=fn, init=None, minimum=None,
                hessian_eigenvalues=hessian_eigenvalues, dim=dim)


cubic.static = frozenset({"dim"})


# --------------------------------------------------------------------------- plateau

_PLATEAU_ACTIVATIONS = ("sigmoid", "tanh")


def plateau(
    *,
    activation: str = "sigmoid",
    sharpness: Any = 1.0,
    target: Any = 0.5,
    dim: int = 1,
) -> Loss:
    r"""A saturating unit fitted to a target: flat plateaus far from the minimum.

    .. math::
        f(x) = \tfrac12 \sum_{i=1}^{d} \big(\sigma(k x_i) - t\big)^2,

    with :math:`\sigma` the sigmoid or tanh, :math:`k` = ``sharpness`` and
    :math:`t` = ``target`` (in :math:`(0, 1)` for sigmoid, :math:`(-1, 1)` for
    tanh). The minimum 0 is at :math:`x^* = \sigma^{-1}(t)/k`. A start far from
    :math:`x^*` (e.g. :math:`x = -6` for the sigmoid) sits on a plateau where
    :math:`\sigma' \approx 0` and progress is slow at small learning rates.
    At the minimum the Hessian is :math:`(k\,\sigma'(k x^*))^2 I`, with
    :math:`\sigma'(k x^*) = t(1-t)` (sigmoid) or :math:`1 - t^2` (tanh).

    Args:
      activation: ``"sigmoid"`` or ``"tanh"``.
      sharpness: :math:`k > 0`, sweepable.
      target: :math:`t`, sweepable.
      dim: :math:`d \ge 1`.

    Returns:
      ``Loss(fn, init=None, minimum=0.0, hessian_eigenvalues (d,), dim=d)``.

    >>> loss = plateau(activation="tanh", target=0.0, dim=2)
    >>> float(loss.fn(jnp.zeros(2))), loss.hessian_eigenvalues.tolist()
    (0.0, [1.0, 1.0])
    >>> float(plateau().hessian_eigenvalues[0])  # (1 * 0.5 * 0.5)**2
    0.0625
    """
    if activation not in _PLATEAU_ACTIVATIONS:
        raise ValueError(f"plateau: {activation=} must be one of {_PLATEAU_ACTIVATIONS}")
    _check_positive_int("plateau", "dim", dim)
    _check(sharpness > 0, lambda: f"plateau: {sharpness=} must be > 0")
    if activation == "sigmoid":
        sigma = jax.nn.sigmoid
        _check((target > 0) & (target < 1),
               lambda: f"plateau: {target=} must be in (0, 1) for activation='sigmoid'")
    else:
        sigma = jnp.tanh
        _check((target > -1) & (target < 1),
               lambda: f"plateau: {target=} must be in (-1, 1) for activation='tanh'")

    dtype = _float_dtype(sharpness, target)
    k, t = jnp.asarray(sharpness, dtype), jnp.asarray(target, dtype)
    slope = t * (1 - t) if activation == "sigmoid" else 1 - t**2  # sigma'(k x*)
    hessian_eigenvalues = jnp.full(dim, (k * slope) ** 2, dtype)

    def fn(x: jax.Array) -> jax.Array:
        _check_vector("plateau", x, dim)
        return 0.5 * jnp.sum((sigma(_like(sharpness, x) * x) - _like(target, x)) ** 2)

    return Loss(fn=fn, init=None, minimum=0.0,
                hessian_eigenvalues=hessian_eigenvalues, dim=dim)


plateau.static = frozenset({"activation", "dim"})


# --------------------------------------------------------------------------- mlp

_MLP_ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "sigmoid": jax.nn.sigmoid,
    "linear": lambda h: h,
}


def _valid_seed(seed: Any) -> Any:
    """Whether ``seed`` is an integer value in ``[0, 2**31)`` (a tracer passes through)."""
    if isinstance(seed, jax.core.Tracer):
        return seed
    value = float(seed)
    return value.is_integer() and 0 <= value < 2**31


def _mlp_apply(params: PyTree, x: jax.Array, depth: int, act: Callable) -> jax.Array:
    """``depth`` hidden layers ``act(h @ w + b)`` then a linear readout."""
    h = x
    for i in range(depth + 1):
        layer = params[f"layer{i}"]
        h = h @ layer["w"] + layer["b"][None, :]
        if i < depth:
            h = act(h)
    return h


def normal(key: jax.Array, shape: tuple[int, ...], dtype: Any) -> jax.Array:
    """``N(0, 1)`` draws that are the same numbers in every precision: drawn in float32, then cast.

    ``jax.random.normal(key, shape, float64)`` draws *different* numbers from its float32 call (it
    turns 64 random bits into each value), so a sweep's data, teacher and initial point would change
    with ``dtype``. Drawing in one fixed precision makes ``dtype`` a precision switch only: the
    float64 problem is the float32 one, to float32 rounding.
    """
    return jax.random.normal(key, shape, jnp.float32).astype(dtype)


def _mlp_weights(key: jax.Array, sizes: list[int], dtype: Any, scale: Any) -> PyTree:
    """Weights ``N(0, 1) / sqrt(fan_in) * scale``, biases zero, named ``layer{i}``.

    All weights come from one ``jax.random.normal`` draw, cut in layer order: one
    random-bits kernel instead of one per layer keeps compilation short.
    """
    layers = list(zip(sizes[:-1], sizes[1:]))
    draw = normal(key, (sum(i * o for i, o in layers),), dtype)
    params, start = {}, 0
    for i, (fan_in, fan_out) in enumerate(layers):
        w = draw[start:start + fan_in * fan_out].reshape(fan_in, fan_out)
        start += fan_in * fan_out
        params[f"layer{i}"] = {"w": w * (scale / math.sqrt(fan_in)),
                               "b": jnp.zeros((fan_out,), dtype)}
    return params


def mlp(*, width: int = 16, depth: int = 1, activation: str = "tanh", n_inputs: int = 16, n_data: int = 16,
        data_seed: Any = 0, input_scale: Any = 1.0, teacher_width: int | None = None, init_scale: Any = 1.0) -> Loss:
    r"""A small full-batch teacher-student MLP with mean-squared error.

    .. math::
        f(\theta) = \frac1n \sum_{j=1}^{n} \big(g_\theta(x_j) - y_j\big)^2, \qquad y_j = g_{\theta^\star}(x_j),

    where :math:`g` has ``depth`` (>= 0; 0 is linear regression) hidden layers :math:`h \mapsto \phi(h W + b)`
    of ``width`` units, :math:`\phi` = ``activation`` (tanh, relu, sigmoid or linear), and a linear readout to
    one output. The data are drawn from ``data_seed`` (an integer in ``[0, 2**31)``, sweepable; a traced
    scalar is converted to ``uint32``) with ``jax.random``: inputs :math:`x_j \sim \mathcal N(0, I)\cdot`
    ``input_scale`` (> 0, sweepable; shape ``(n_data, n_inputs)``), and a teacher of the same depth and
    activation with ``teacher_width`` (default ``width``) hidden units, weights
    :math:`\mathcal N(0, 1/\text{fan\_in})` and zero biases gives the targets (shape ``(n_data, 1)``).

    Student params are ``{"layer0": {"w": (n_inputs, width), "b": (width,)}, ..., f"layer{depth}": {"w":
    (width, 1), "b": (1,)}}``; the layer names are public (one learning rate per layer is swept by them).
    ``init(key, scale)`` draws :math:`W \sim \mathcal N(0,1)/\sqrt{\text{fan\_in}}\cdot` ``init_scale``
    (>= 0, sweepable) :math:`\cdot` ``scale`` with zero biases, in ``scale``'s floating dtype; ``fn`` casts
    the data to the params' dtype. The minimum is 0 when the teacher is realizable by the student
    (``teacher_width <= width``, or ``depth == 0``, or a linear activation), and ``None`` (unknown)
    otherwise. ``extras`` (hidden layers with a nonlinear activation) gives ``dead_fraction`` for relu or
    ``saturated_fraction`` for tanh/sigmoid (:func:`_mlp_extras`).

    >>> loss = mlp(width=4, depth=2, n_inputs=3, n_data=5)
    >>> params = loss.init(jax.random.key(0), jnp.float32(1.0))
    >>> sorted(params), params["layer0"]["w"].shape, params["layer2"]["w"].shape
    (['layer0', 'layer1', 'layer2'], (3, 4), (4, 1))
    >>> float(loss.fn(params)) >= 0.0, loss.minimum
    (True, 0.0)
    """
    teacher_width = width if teacher_width is None else teacher_width
    _check_mlp(width, depth, activation, n_inputs, n_data, data_seed, input_scale, teacher_width, init_scale)
    act = _MLP_ACTIVATIONS[activation]
    x_data, y_data = _teacher_data(depth, act, n_inputs, n_data, data_seed, input_scale, teacher_width)
    student_sizes = [n_inputs] + [width] * depth + [1]

    def init(key: jax.Array, scale: Any) -> PyTree:
        scale = jnp.asarray(scale)
        dtype = scale.dtype if jnp.issubdtype(scale.dtype, jnp.floating) else _float_dtype()
        total = jnp.asarray(init_scale, dtype) * scale.astype(dtype)
        return _mlp_weights(key, student_sizes, dtype, total)

    def fn(params: PyTree) -> jax.Array:
        dtype = jnp.result_type(params["layer0"]["w"])
        out = _mlp_apply(params, x_data.astype(dtype), depth, act)
        return jnp.mean((out - y_data.astype(dtype)) ** 2)

    realizable = teacher_width <= width or depth == 0 or activation == "linear"
    return Loss(fn=fn, init=init, minimum=0.0 if realizable else None, hessian_eigenvalues=None, dim=None,
                extras=_mlp_extras(x_data, depth, activation) if depth > 0 and activation != "linear" else None)


def _check_mlp(width, depth, activation, n_inputs, n_data, data_seed, input_scale, teacher_width, init_scale):
    """:func:`mlp`'s arguments, each checked with a message naming it."""
    if activation not in _MLP_ACTIVATIONS:
        raise ValueError(f"mlp: {activation=} must be one of {tuple(_MLP_ACTIVATIONS)}")
    _check_positive_int("mlp", "width", width)
    _check_positive_int("mlp", "depth", depth, minimum=0)
    _check_positive_int("mlp", "n_inputs", n_inputs)
    _check_positive_int("mlp", "n_data", n_data)
    _check_positive_int("mlp", "teacher_width", teacher_width)
    _check(_valid_seed(data_seed),
           lambda: f"mlp: {data_seed=} must be an integer in [0, 2**31)")
    _check(input_scale > 0, lambda: f"mlp: {input_scale=} must be > 0")
    _check(init_scale >= 0, lambda: f"mlp: {init_scale=} must be >= 0")


def _teacher_data(depth, act, n_inputs, n_data, data_seed, input_scale, teacher_width):
    """:func:`mlp`'s inputs ``(n_data, n_inputs)`` and the teacher's targets ``(n_data, 1)``, from ``data_seed``."""
    key = jax.random.key(jnp.asarray(data_seed).astype(jnp.uint32))
    key_x, key_teacher = jax.random.split(key)
    data_dtype = _float_dtype(input_scale)
    x_data = normal(key_x, (n_data, n_inputs), data_dtype) * jnp.asarray(
        input_scale, data_dtype)
    teacher = _mlp_weights(key_teacher, [n_inputs] + [teacher_width] * depth + [1],
                           data_dtype, 1.0)
    return x_data, _mlp_apply(teacher, x_data, depth, act)


def _mlp_extras(x_data, depth: int, activation: str):
    """:func:`mlp`'s ``extras(params)``: the fraction of hidden units that are dead (relu: pre-activation
    <= 0 on every example, so no gradient reaches their weights), or of hidden activations (units ×
    examples) that are saturated (tanh/sigmoid: |pre-activation| > 3, derivative below 0.01 / 0.05)."""
    act = _MLP_ACTIVATIONS[activation]

    def extras(params: PyTree) -> dict[str, jax.Array]:
        dtype = jnp.result_type(params["layer0"]["w"])
        h, stuck = x_data.astype(dtype), []
        for i in range(depth):
            pre = h @ params[f"layer{i}"]["w"] + params[f"layer{i}"]["b"][None, :]
            stuck.append(jnp.all(pre <= 0, axis=0) if activation == "relu" else jnp.ravel(jnp.abs(pre) > 3))
            h = act(pre)
        name = "dead_fraction" if activation == "relu" else "saturated_fraction"
        return {name: jnp.mean(jnp.concatenate(stuck).astype(dtype))}

    return extras


mlp.static = frozenset(
    {"width", "depth", "activation", "n_inputs", "n_data", "teacher_width"})


# --------------------------------------------------------------------------- the fractal-boundary network

_FRACTAL_ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": lambda z: jnp.tanh(z * math.sqrt(2.0)),
    "relu": lambda z: jax.nn.relu(z) * math.sqrt(2.0),
    "identity": lambda z: z,
}


def fractal_mlp(*, width: int = 16, activation: str = "tanh", n_data: int | None = None, data_seed: Any = 0,
                init_offset: Any = 0.0) -> Loss:
    r"""Sohl-Dickstein's (2024) network: one hidden layer, no biases, mean-field scaling, random targets.

    .. math::
        g_\theta(x) = \frac{1}{\sqrt{w}}\, \phi\!\Big(\frac{x W_0}{\sqrt{w}}\Big) \frac{W_1}{\sqrt{w}},
        \qquad f(\theta) = \frac1n \sum_{j=1}^{n} \big(g_\theta(x_j) - y_j\big)^2,

    with :math:`x_j \in \mathbb R^{w}`, :math:`y_j \in \mathbb R` all i.i.d. :math:`\mathcal N(0, 1)`
    (drawn from ``data_seed``), :math:`\phi(z) = \tanh(\sqrt2 z)`, :math:`\sqrt2\,\mathrm{relu}(z)` or
    :math:`z` (``"identity"``: a deep linear network), as in the paper's notebook. Params are
    ``{"layer0": W0 (w, w), "layer1": W1 (w, 1)}`` (the groups one learning rate per layer is swept by);
    ``init(key, scale)`` draws every weight :math:`\mathcal N(0, 1)\cdot` ``scale`` and adds
    ``init_offset`` to every entry of ``W0`` (the paper's "initialisation offset vs learning rate"
    phase space; the offset is applied once, at initialisation).

    Args:
      width: the width ``w`` of the input and the hidden layer, ``>= 1``.
      activation: ``"tanh"``, ``"relu"`` or ``"identity"``.
      n_data: number of data points; default: as many as parameters, ``w² + w`` (``w`` for
        ``"identity"``, as in the notebook).
      data_seed: integer-valued seed in ``[0, 2**31)``, sweepable.
      init_offset: added to the initial input-layer weights, sweepable.

    Returns ``Loss(fn, init, minimum=None, hessian_eigenvalues=None, dim=None)``.

    >>> loss = fractal_mlp(width=4)
    >>> params = loss.init(jax.random.key(0), jnp.float32(1.0))
    >>> sorted(params), params["layer0"].shape, params["layer1"].shape
    (['layer0', 'layer1'], (4, 4), (4, 1))
    >>> float(loss.fn(params)) > 0.0
    True
    """
    if activation not in _FRACTAL_ACTIVATIONS:
        raise ValueError(f"fractal_mlp: {activation=} must be one of {tuple(_FRACTAL_ACTIVATIONS)}")
    _check_positive_int("fractal_mlp", "width", width)
    n_data = (width if activation == "identity" else width * width + width) if n_data is None else n_data
    _check_positive_int("fractal_mlp", "n_data", n_data)
    _check(_valid_seed(data_seed), lambda: f"fractal_mlp: {data_seed=} must be an integer in [0, 2**31)")
    act = _FRACTAL_ACTIVATIONS[activation]
    key_x, key_y = jax.random.split(jax.random.key(jnp.asarray(data_seed).astype(jnp.uint32)))
    data_dtype = _float_dtype(init_offset)
    x_data = normal(key_x, (n_data, width), data_dtype)
    y_data = normal(key_y, (n_data, 1), data_dtype)
    root = math.sqrt(width)

    def init(key: jax.Array, scale: Any) -> PyTree:
        scale = jnp.asarray(scale)
        dtype = scale.dtype if jnp.issubdtype(scale.dtype, jnp.floating) else _float_dtype()
        draw = normal(key, (width * width + width,), dtype) * scale.astype(dtype)
        return {"layer0": draw[: width * width].reshape(width, width) + jnp.asarray(init_offset, dtype),
                "layer1": draw[width * width:].reshape(width, 1)}

    def fn(params: PyTree) -> jax.Array:
        dtype = jnp.result_type(params["layer0"])
        hidden = act(x_data.astype(dtype) @ params["layer0"] / root)
        out = hidden @ params["layer1"] / root / root
        return jnp.mean((out - y_data.astype(dtype)) ** 2)

    return Loss(fn=fn, init=init, minimum=None, hessian_eigenvalues=None, dim=None)


fractal_mlp.static = frozenset({"width", "activation", "n_data"})


# --------------------------------------------------------------------------- registry

LOSSES: dict[str, LossFactory] = {
    "quadratic": quadratic,
    "rosenbrock": rosenbrock,
    "cubic": cubic,
    "plateau": plateau,
    "mlp": mlp,
    "fractal_mlp": fractal_mlp,
}


def user_loss(fn: Callable[..., jax.Array], *, minimum: Any = None) -> LossFactory:
    """Wrap ``fn(params, **loss_params) -> scalar`` into a loss factory.

    Every keyword given to the factory is sweepable (``factory.static`` is
    empty) and reaches ``fn`` unchanged, traced when swept.

    >>> factory = user_loss(lambda p, scale=1.0: scale * jnp.sum(p**2), minimum=0.0)
    >>> loss = factory(scale=3.0)
    >>> float(loss.fn(jnp.ones(2))), loss.minimum
    (6.0, 0.0)
    """
    if not callable(fn):
        raise ValueError(f"user_loss: {fn=} is not callable")

    def factory(**loss_params: Any) -> Loss:
        return Loss(fn=lambda params: fn(params, **loss_params), minimum=minimum)

    factory.__name__ = getattr(fn, "__name__", "user_loss")
    factory.__qualname__ = factory.__name__
    factory.__doc__ = getattr(fn, "__doc__", None)
    factory.static = frozenset()
    return factory


def _import_target(name: str, module_part: str) -> Any:
    """Import ``module_part``: a dotted module name or a path to a ``.py`` file (a file once per process)."""
    from lrsweep.problem import _module

    return _module(name, module_part, "loss")


def resolve_loss(name: str) -> LossFactory:
    """The loss factory called ``name``.

    ``name`` is a built-in (a key of :data:`LOSSES`), ``"package.module:function"``
    or ``"path/to/file.py:function"``. An imported callable with a ``static``
    attribute (a built-in style factory, or the result of :func:`user_loss`) is
    returned as is; any other callable is taken to be
    ``fn(params, **loss_params) -> scalar`` and wrapped with :func:`user_loss`.
    Every failure is a one-line ``ValueError``.

    >>> resolve_loss("quadratic") is quadratic
    True
    >>> resolve_loss("math:hypot").static
    frozenset()
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"resolve_loss: {name=} must be a non-empty string")
    if name in LOSSES:
        return LOSSES[name]
    if ":" not in name:
        raise ValueError(
            f"unknown loss {name!r}; built-in losses are {', '.join(LOSSES)}, or give "
            "'package.module:function' or 'path/to/file.py:function'")
    module_part, _, attribute = name.rpartition(":")
    if not module_part or not attribute:
        raise ValueError(f"loss {name!r}: expected 'package.module:function' or "
                         "'path/to/file.py:function'")
    module = _import_target(name, module_part)
    try:
        target = getattr(module, attribute)
    except AttributeError:
        raise ValueError(
            f"loss {name!r}: module {module_part!r} has no attribute {attribute!r}"
        ) from None
    if not callable(target):
        raise ValueError(f"loss {name!r}: {attribute!r} is not callable "
                         f"(got {type(target).__name__})")
    if hasattr(target, "static"):
        return target
    return user_loss(target)


def describe_losses() -> dict[str, dict[str, Any]]:
    """Each built-in loss's parameters and their defaults, for ``lrsweep list``.

    >>> describe_losses()["rosenbrock"]
    {'a': 1.0, 'b': 100.0}
    """
    return {
        name: {
            param.name: None if param.default is inspect.Parameter.empty else param.default
            for param in inspect.signature(factory).parameters.values()
        }
        for name, factory in LOSSES.items()
    }
