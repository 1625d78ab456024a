r"""Your model and your data: the :class:`Problem` every sweep trains.

A problem is a loss, an initial point (fixed parameters, or an initialiser called with a
per-run key), and optionally data that the loss reads in minibatches:

.. math:: \theta_{t+1} = \theta_t + \mathrm{optax\_update}\big(\nabla_\theta\,
          \ell(\theta_t, B_t)\big), \qquad B_t \subset \mathcal D,\ |B_t| = \text{batch\_size}.

The built-in losses (:mod:`lrsweep.losses`) are problems too (:func:`from_factory`), so a sweep
file and the Python API go through the same engine.

**Batch order** (common to every configuration of the same seed — hyperparameters are compared on
the same batches, as in the fractal notebook). With ``n`` examples, ``B = batch_size`` and
``m = n // B`` batches per epoch (the last partial batch of an epoch is dropped), update ``t``
(``t = 0, 1, …``) uses::

    key   = jax.random.key(seed)
    order = jax.random.permutation(jax.random.fold_in(key, t // m), n)   # epoch t // m
    j     = t % m
    batch = jax.tree.map(lambda a: a[order[j * B:(j + 1) * B]], data)

(:func:`batch_indices`). ``batch_size=None`` trains on the whole data every update.

**Keys.** ``init(key)`` gets ``jax.random.fold_in(jax.random.key(seed), index)`` (``index``: the
``init.index`` axis, else 0). A loss that accepts a keyword ``key`` (for dropout) gets, at update
``t``, ``jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), STEP_STREAM), t)``. ``seed`` is
the sweep's seed, or the value of a ``seed`` axis: it changes the batch order, the initial
parameters and the dropout keys together.

**Swept problem parameters.** An axis named ``loss.<p>`` passes ``p=<value>`` (a traced scalar) to
``loss``, and to ``init`` and the metrics where their signatures accept it: ``loss(params, batch,
p=…)``. An initialiser that accepts ``scale`` receives the ``init.scale`` axis; otherwise every
floating leaf of its result is multiplied by it.

>>> import jax.numpy as jnp
>>> problem = Problem(loss=lambda p, batch: jnp.mean((batch[0] @ p - batch[1]) ** 2),
...                   params=jnp.zeros(3), data=(jnp.ones((8, 3)), jnp.ones(8)), batch_size=4)
>>> problem.n_examples, problem.batches_per_epoch
(8, 2)
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

PyTree = Any
STEP_STREAM = 0x7FFFFFFF
"""``fold_in`` constant that separates the per-update dropout keys from the ``init`` keys (which fold in
the initial-point index, a small integer)."""


class ProblemError(ValueError):
    """A problem is invalid. ``argument`` names what was wrong; the message is one line."""

    def __init__(self, argument: str, expected: str, found: Any = None, *, raw: str | None = None):
        self.argument, self.expected, self.found = argument, expected, found
        super().__init__(raw if raw is not None else f"{argument}: expected {expected}, found {found}")


@dataclasses.dataclass(frozen=True, eq=False)
class Problem:
    """A training problem: loss, initial point, data.

    Attributes:
      loss: ``loss(params, batch, **kw) -> scalar``; ``batch`` is a minibatch of ``data`` (a pytree of
        the same structure, leading axis ``batch_size``), all of it when ``batch_size`` is ``None``, or
        ``None`` when ``data`` is ``None``. Keywords it may accept: ``key`` (a per-update PRNG key, for
        dropout) and the names of swept ``loss.<p>`` axes.
      params: the initial parameters (any pytree of arrays) — or
      init: ``init(key, **kw) -> params``, called with a key derived from the run's seed.
      data: a pytree of arrays with a common leading example axis, or ``None``. The data are
        arguments of the compiled program, shared by every configuration (not copied per run).
      batch_size: examples per update; ``None``: full batch.
      eval_data: optional held-out data of the same structure: ``eval_loss`` and ``eval_<metric>``
        are reported on it at the end of every run.
      metrics: optional ``{name: fn(params, batch) -> scalar}`` evaluated at the end of every run on
        ``data`` (column ``name``) and on ``eval_data`` (``eval_<name>``).
      minimum: the loss's known minimum, if any (enables "converged" = reached it).
      name: a label for tables and figures.
      extras: ``extras(params, **kw) -> {name: scalar}``, further end-of-run columns that need no
        data (the built-in networks' dead/saturated fractions).
      hessian_eigenvalues, dim: known Hessian spectrum and flat dimension (built-in losses).
      build: built-in losses only: ``build(**loss_params) -> lrsweep._types.Loss``, called once per
        configuration (a built-in network draws its data there) and its ``fn`` used as the loss.
    """

    loss: Callable[..., Any]
    params: PyTree = None
    init: Callable[..., PyTree] | None = None
    data: PyTree = None
    batch_size: int | None = None
    eval_data: PyTree = None
    metrics: Mapping[str, Callable[..., Any]] | None = None
    minimum: float | None = None
    name: str | None = None
    extras: Callable[..., Mapping[str, Any]] | None = None
    hessian_eigenvalues: Any = None
    dim: int | None = None
    build: Callable[..., Any] | None = None

    def __post_init__(self):
        check_structure(self)

    @property
    def n_examples(self) -> int | None:
        """Examples in ``data`` (``None`` without data)."""
        leaves = jax.tree.leaves(self.data)
        return int(np.shape(leaves[0])[0]) if leaves else None

    @property
    def batches_per_epoch(self) -> int | None:
        """``n // batch_size`` (``None`` for full-batch or data-free problems)."""
        if self.batch_size is None or self.n_examples is None:
            return None
        return self.n_examples // self.batch_size

    @property
    def label(self) -> str:
        """What the problem is called in tables and sweep files."""
        if self.name:
            return self.name
        fn = self.loss
        return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', type(fn).__name__)}"


# --------------------------------------------------------------------------- host-side checks


def _leading(argument: str, tree: PyTree) -> int | None:
    leaves = jax.tree.leaves(tree)
    if not leaves:
        return None
    sizes = []
    for leaf in leaves:
        shape = np.shape(leaf)
        if not shape:
            raise ProblemError(argument, "arrays with a leading example axis", f"a scalar leaf ({leaf!r})")
        sizes.append(shape[0])
    if len(set(sizes)) != 1:
        raise ProblemError(argument, "arrays with the same leading (example) axis", f"leading sizes {sizes}")
    if sizes[0] == 0:
        raise ProblemError(argument, "at least one example", "0 examples")
    return sizes[0]


def check_structure(p: Problem) -> None:
    """Checks that need no tracing: callables, data shapes, batch size (raise :class:`ProblemError`)."""
    if not callable(p.loss):
        raise ProblemError("loss", "a function loss(params, batch) -> scalar", type(p.loss).__name__)
    if (p.params is None) == (p.init is None):
        raise ProblemError("params", "exactly one of params= (initial parameters) or init= (init(key) -> params)",
                           "both" if p.params is not None else "neither")
    if p.init is not None and not callable(p.init):
        raise ProblemError("init", "a function init(key) -> params", type(p.init).__name__)
    n = _leading("data", p.data)
    n_eval = _leading("eval_data", p.eval_data)
    if n_eval is not None and n is not None:
        same = jax.tree.structure(p.data) == jax.tree.structure(p.eval_data)
        if not same:
            raise ProblemError("eval_data", "the same structure as data", str(jax.tree.structure(p.eval_data)))
    if p.batch_size is not None:
        if isinstance(p.batch_size, bool) or not isinstance(p.batch_size, (int, np.integer)) or p.batch_size < 1:
            raise ProblemError("batch_size", "an integer >= 1 or None (full batch)", repr(p.batch_size))
        if n is None:
            raise ProblemError("batch_size", "no batch size without data", p.batch_size)
        if p.batch_size > n:
            raise ProblemError("batch_size", f"at most the number of examples ({n})", p.batch_size)
    if p.metrics is not None:
        if not isinstance(p.metrics, Mapping):
            raise ProblemError("metrics", "a dict {name: fn(params, batch) -> scalar}", type(p.metrics).__name__)
        for k, fn in p.metrics.items():
            if not isinstance(k, str) or not k.isidentifier() or not callable(fn):
                raise ProblemError("metrics", "identifier names mapped to functions", repr(k))
            if n is None and p.eval_data is None:
                raise ProblemError(f"metrics[{k!r}]", "data or eval_data to evaluate the metric on", None)
    if p.minimum is not None:
        try:
            ok = np.isfinite(float(p.minimum))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ProblemError("minimum", "a finite number or None", repr(p.minimum))


# --------------------------------------------------------------------------- calling user functions


def accepted(fn: Callable, names) -> set[str]:
    """The keyword names among ``names`` that ``fn`` accepts (all of them if it takes ``**kwargs``)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return set()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return set(names)
    ok = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return set(names) & ok


def call(fn: Callable, *args, **kw):
    """``fn(*args, **kw)`` with only the keywords ``fn`` accepts."""
    take = accepted(fn, kw)
    return fn(*args, **{k: v for k, v in kw.items() if k in take})


# --------------------------------------------------------------------------- batches


def batch_indices(key: jax.Array, step: jax.Array, n: int, batch_size: int) -> jax.Array:
    """Indices of the examples update ``step`` trains on (the documented order; see the module doc).

    >>> import jax
    >>> key = jax.random.key(0)
    >>> first = batch_indices(key, 0, 10, 5); second = batch_indices(key, 1, 10, 5)
    >>> sorted(first.tolist() + second.tolist())       # one epoch: every example once
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """
    per_epoch = n // batch_size
    step = jnp.asarray(step, jnp.int32)
    order = jax.random.permutation(jax.random.fold_in(key, step // per_epoch), n)
    return jax.lax.dynamic_slice(order, ((step % per_epoch) * batch_size,), (batch_size,))


def epoch_orders(key: jax.Array, epochs: int, n: int) -> jax.Array:
    """The example order of epochs ``0 … epochs−1`` at once, shape ``(epochs, n)``: row ``e`` is
    ``jax.random.permutation(jax.random.fold_in(key, e), n)``, so :func:`batch_from_orders` gives exactly
    :func:`batch_indices` — one sort per epoch instead of one per update (XLA's sort is slow on CPU)."""
    return jax.vmap(lambda e: jax.random.permutation(jax.random.fold_in(key, e), n))(jnp.arange(epochs))


def batch_from_orders(orders: jax.Array, step: jax.Array, batch_size: int) -> jax.Array:
    """:func:`batch_indices` of update ``step`` read from :func:`epoch_orders`.

    >>> import jax
    >>> key = jax.random.key(3)
    >>> orders = epoch_orders(key, 3, 10)
    >>> bool((batch_from_orders(orders, 7, 3) == batch_indices(key, 7, 10, 3)).all())
    True
    """
    per_epoch = orders.shape[1] // batch_size
    step = jnp.asarray(step, jnp.int32)
    row = jax.lax.dynamic_index_in_dim(orders, step // per_epoch, keepdims=False)
    return jax.lax.dynamic_slice(row, ((step % per_epoch) * batch_size,), (batch_size,))


def take(data: PyTree, idx: jax.Array) -> PyTree:
    """The examples ``idx`` of every array of ``data``."""
    return jax.tree.map(lambda a: jnp.take(a, idx, axis=0), data)


def cast_data(data: PyTree, dtype) -> PyTree:
    """Floating leaves of ``data`` in the sweep's dtype; integer leaves (labels) as they are."""
    def one(a):
        a = np.asarray(a) if not isinstance(a, jax.Array) else a
        return a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a

    return jax.tree.map(one, data)


# --------------------------------------------------------------------------- built-in losses as problems


def from_factory(factory: Callable, params: dict, *, points=None, dim: int | None = None,
                 name: str | None = None, minimum: float | None = None) -> Problem:
    """A built-in (or ``fn(params, **kw)`` user) loss factory as a data-free :class:`Problem`.

    Fixed ``params`` go to the factory; swept ``loss.<p>`` values arrive as keywords of ``loss`` and
    ``init``. The initial point is ``points[index] · scale`` with explicit ``points``, else the
    factory's own initialiser ``init(key, scale)``, else ``N(0, I_dim) · scale``.
    """
    host = factory(**params)
    minimum = host.minimum if minimum is None else minimum
    d = host.dim if dim is None else dim

    def built(**kw):  # inside the trace: a float64 sweep builds the loss's own data in float64
        return factory(**params, **kw)

    def loss(p, batch, *, key=None, **kw):  # a built-in loss has no data and no randomness
        del batch, key
        return built(**kw).fn(p)

    def init(key, *, scale=1.0, index=0, **kw):
        if points is not None:
            return jnp.asarray(points)[index] * scale
        own = built(**kw).init
        if own is not None:
            return own(key, scale)
        from lrsweep.losses import normal  # (losses is imported lazily: a user's problem needs none of it)

        return normal(key, (d,), jnp.result_type(scale)) * scale  # the same point in every dtype

    extras = None
    if host.extras is not None:
        def extras(p, **kw):
            return built(**kw).extras(p)

    return Problem(loss=loss, init=init, minimum=minimum, name=name, extras=extras,
                   hessian_eigenvalues=host.hessian_eigenvalues, dim=d, build=built)


# --------------------------------------------------------------------------- user modules, once per process

_MODULES: dict[str, Any] = {}


def import_target(target: str, what: str = "loss") -> Any:
    """The object ``"package.module:attr"`` or ``"path/file.py:attr"`` names; a file is executed once
    per process (later calls reuse the module). Failures are one-line ``ValueError``."""
    module_part, _, attribute = target.rpartition(":")
    if not module_part or not attribute:
        raise ValueError(f"{what} {target!r}: expected 'package.module:function' or 'path/to/file.py:function'")
    module = _module(target, module_part, what)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"{what} {target!r}: module {module_part!r} has no attribute {attribute!r}") from None


def _module(target: str, module_part: str, what: str):
    is_file = module_part.endswith(".py") or "/" in module_part or os.sep in module_part
    if not is_file:
        try:
            return importlib.import_module(module_part)
        except BaseException as e:  # noqa: BLE001  (SystemExit from a user's module is an error too)
            raise ValueError(f"{what} {target!r}: cannot import module {module_part!r}: "
                             f"{type(e).__name__}: {e}") from None
    path = os.path.abspath(os.path.expanduser(module_part))
    if path in _MODULES:
        return _MODULES[path]
    if not os.path.isfile(path):
        raise ValueError(f"{what} {target!r}: file {module_part!r} does not exist")
    stem = os.path.splitext(os.path.basename(path))[0]
    module_name = f"_lrsweep_user_{stem}_{hashlib.sha1(path.encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{what} {target!r}: cannot load {module_part!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as e:  # noqa: BLE001
        del sys.modules[module_name]
        raise ValueError(f"{what} {target!r}: cannot import file {module_part!r}: {type(e).__name__}: {e}") from None
    _MODULES[path] = module
    return module


def source_hash(target: str) -> str | None:
    """SHA-256 of the source file a ``"file.py:attr"`` or ``"module:attr"`` target lives in (``None`` for
    built-ins): resume refuses a results directory started with other user code."""
    module_part = target.rpartition(":")[0]
    if not module_part:
        return None
    if module_part.endswith(".py") or "/" in module_part:
        path = os.path.abspath(os.path.expanduser(module_part))
    else:
        mod = sys.modules.get(module_part)
        path = getattr(mod, "__file__", None)
    return file_hash(path)


def file_hash(path) -> str | None:
    """SHA-256 of a file's bytes (``None`` if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except (OSError, TypeError):
        return None


def load_problem(target: str) -> Problem:
    """``loss = "file.py:make_problem"`` of a sweep file: the :class:`Problem` it names (a ``Problem`` or
    a function of no arguments returning one)."""
    obj = import_target(target, "problem")
    if callable(obj) and not isinstance(obj, Problem):
        try:
            obj = obj()
        except ProblemError as e:
            raise ValueError(f"problem {target!r}: {e}") from None
        except BaseException as e:  # noqa: BLE001
            raise ValueError(f"problem {target!r}: calling it raised {type(e).__name__}: {e}") from None
    if not isinstance(obj, Problem):
        raise ValueError(f"problem {target!r}: expected an lrsweep.Problem (or a function returning one), "
                         f"found {type(obj).__name__}")
    return obj
