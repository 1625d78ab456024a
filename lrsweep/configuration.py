"""One configuration: its loss, initial parameters, learning-rate schedule and optax optimizer.

:class:`Setup` turns a :class:`~lrsweep.config.SweepSpec` and its :class:`~lrsweep.problem.Problem`
into the pieces of one configuration's run, given that configuration's axis values ``v`` (a dict of
scalars, traced inside ``jit(vmap(...))``). Axis names route values (:mod:`lrsweep.config`):
optimizer hyperparameters to the optimizer, ``schedule.<p>`` to the schedule, ``loss.<p>`` to the
problem's functions, ``init.scale``/``init.index``/``seed`` to the initial point and the batch order.
Nothing here compiles or runs anything: :mod:`lrsweep.training` scans one configuration, and
:mod:`lrsweep.engine` compiles and dispatches the grid.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrsweep import grid as _grid
from lrsweep import optimizers as _optimizers
from lrsweep import problem as _problem
from lrsweep import schedules as _schedules
from lrsweep.config import INTEGER_AXES, SweepError, SweepSpec, route

_NEVER = 2**30  # a patience that never runs out: reduce_on_plateau switched off for other schedules


def routed(v: dict, kind: str) -> dict[str, Any]:
    """The values of ``v`` (axis name → value) that go to ``kind`` (:func:`lrsweep.config.route`), by parameter.

    >>> routed({"learning_rate": 0.1, "optimizer.b1": 0.9, "loss.scale": 2.0, "seed": 3}, "optimizer")
    {'learning_rate': 0.1, 'b1': 0.9}
    """
    return {route(k).param: x for k, x in v.items() if route(k).kind == kind}


class Setup:
    """The pieces of any configuration of ``spec`` (``problem``: its problem, built from the spec's loss
    when omitted)."""

    def __init__(self, spec: SweepSpec, problem: _problem.Problem | None = None):
        self.spec = spec
        self.problem = problem if problem is not None else problem_of(spec)
        self.dtype = jnp.dtype(spec.dtype)
        self.x64 = spec.dtype == "float64"
        self.swept = tuple(a.name for a in spec.axes)
        self.known_minimum = self.problem.minimum is not None
        self.dim = self.problem.dim

    # ---------------------------------------------------------------- values

    def cast(self, name: str, values) -> np.ndarray:
        """Axis values as the program takes them: integers for seeds, indices and schedule names."""
        if name in INTEGER_AXES or name == "schedule":
            return np.asarray(values).astype(np.int32)
        return np.asarray(values).astype(self.dtype)

    def defaults(self) -> dict[str, Any]:
        """A concrete configuration: the first value of every axis."""
        vals = _grid.configurations(self.spec, 0, 1)
        return {k: self.cast(k, v)[0] for k, v in vals.items()}

    def concrete(self, v: dict) -> dict[str, Any]:
        """``v`` (host numbers, any subset of the axes) completed with the defaults and cast."""
        return {**self.defaults(), **{k: self.cast(k, np.asarray([x]))[0] for k, x in v.items()}}

    def data(self) -> dict:
        """The problem's data as the program takes them (floating leaves in the sweep's dtype)."""
        p = self.problem
        return {"train": _problem.cast_data(p.data, self.dtype), "eval": _problem.cast_data(p.eval_data, self.dtype)}

    # ---------------------------------------------------------------- problem

    def loss_kwargs(self, v: dict) -> dict[str, Any]:
        """Swept ``loss.<p>`` values, as keywords of the problem's functions."""
        return routed(v, "loss")

    def seed(self, v: dict) -> jax.Array:
        return jnp.asarray(v.get("seed", self.spec.init.seed), jnp.int32)

    def step_key(self, v: dict, t) -> jax.Array:
        """The per-update key a loss taking ``key=`` receives (see :mod:`lrsweep.problem`)."""
        base = jax.random.fold_in(jax.random.key(self.seed(v)), _problem.STEP_STREAM)
        return jax.random.fold_in(base, t)

    def batches(self, v: dict, data: dict, steps: int | None = None):
        """``t -> `` the training batch of update ``t`` for ``t ≤ steps`` (all the data for full batch,
        ``None`` without data). The epochs' example orders are drawn once (:func:`lrsweep.problem.epoch_orders`)."""
        p = self.problem
        if p.data is None or p.batch_size is None:
            return lambda t: data["train"]
        epochs = (steps if steps is not None else self.spec.steps) // p.batches_per_epoch + 1
        orders = _problem.epoch_orders(jax.random.key(self.seed(v)), epochs, p.n_examples)
        return lambda t: _problem.take(data["train"], _problem.batch_from_orders(orders, t, p.batch_size))

    def loss_at(self, v: dict, data: dict, steps: int | None = None):
        """``f(params, t)``: the loss of update ``t``'s batch (and key), in the sweep's dtype;
        ``f(params, t, batch)``: on ``batch`` with ``key=None`` (evaluation: a loss with dropout should
        not drop when its key is ``None``, as in Equinox)."""
        kw = self.loss_kwargs(v)
        if self.problem.build is not None:  # a built-in loss: built once per configuration, as its data
            fn = self.problem.build(**kw).fn

            def built(params, t, batch=None):
                return jnp.asarray(fn(params), self.dtype)

            return built
        with_key = "key" in _problem.accepted(self.problem.loss, ["key"])
        batch_of = self.batches(v, data, steps)

        def f(params, t, batch=None):
            evaluating = batch is not None  # the whole data: no dropout (key=None)
            batch = batch if evaluating else batch_of(t)
            extra = {"key": None if evaluating else self.step_key(v, t)} if with_key else {}
            out = _problem.call(self.problem.loss, params, batch, **kw, **extra)
            if jnp.iscomplexobj(out):
                raise TypeError(f"the loss returned a complex value (dtype {jnp.result_type(out)}); it must be real")
            return jnp.asarray(out, self.dtype)

        return f

    def initial_params(self, v: dict) -> Any:
        """``init(key)`` with ``key = fold_in(key(seed), index)``, scaled by ``init.scale``; or ``params``."""
        spec, p = self.spec, self.problem
        scale = jnp.asarray(v.get("init.scale", spec.init.scale), self.dtype)
        index = jnp.asarray(v.get("init.index", spec.init.index), jnp.int32)
        if p.params is not None:
            params, takes_scale = p.params, False
        else:
            key = jax.random.fold_in(jax.random.key(self.seed(v)), index)
            kw = {**self.loss_kwargs(v), "scale": scale, "index": index}
            takes_scale = "scale" in _problem.accepted(p.init, kw)
            params = _problem.call(p.init, key, **kw)
        params = jax.tree.map(lambda a: _as_float(a, self.dtype), params)
        scaled = "init.scale" in v or spec.init.scale != 1.0
        if scaled and not takes_scale:
            params = jax.tree.map(lambda a: a * scale.astype(a.dtype) if jnp.issubdtype(a.dtype, jnp.inexact)
                                  else a, params)
        return params

    def reference(self) -> jax.Array:
        """The loss's known minimum, or 0 (the divergence rule's reference)."""
        m = self.problem.minimum
        return jnp.asarray(m if m is not None else 0.0, self.dtype)

    # ---------------------------------------------------------------- schedule

    def schedule_names(self) -> tuple:
        """The schedules of the sweep: the ``schedule`` axis's names, or the one fixed schedule."""
        return self.spec.axis("schedule").values if "schedule" in self.swept else (self.spec.schedule.name,)

    def schedule_params(self, name: str, v: dict) -> dict:
        s = self.spec.schedule
        params = dict(s.variants.get(name, {}))
        if name == s.name:
            params.update(s.params)
        accepted = _schedules.describe_schedules().get(name, {}) if isinstance(name, str) else {}
        params.update({p: x for p, x in routed(v, "schedule").items() if p in accepted})
        return params

    def _factor(self, name) -> Any:
        if callable(name):
            return _schedules.factor_from_callable(name)
        return _schedules.SCHEDULES.get(name, _schedules.constant)

    def learning_rate(self, v: dict, lr: Any = None):
        """``η_t = learning_rate · factor(t)`` as optax takes it (a constant when no schedule)."""
        spec = self.spec
        if lr is None:
            lr = routed(v, "optimizer").get("learning_rate", spec.optimizer.params.get("learning_rate"))
        lr = jnp.asarray(lr, self.dtype)
        names = self.schedule_names()
        if all(isinstance(n, str) and n in ("constant", _schedules.PLATEAU) for n in names):
            return lr  # no step counter in the optimizer state, no schedule per update
        factors = [_schedules.constant if n == _schedules.PLATEAU  # reduce_on_plateau acts through the chain
                   else functools.partial(self._factor(n), **self.schedule_params(n, v)) for n in names]
        if len(names) == 1:
            factor = factors[0]
        else:
            idx = v["schedule"]

            def factor(count):
                return jax.lax.switch(idx, [lambda c, f=f: jnp.asarray(f(c), self.dtype) for f in factors], count)

        return lambda count: lr * jnp.asarray(factor(count), self.dtype)

    # ---------------------------------------------------------------- optimizer

    def group_learning_rates(self, v: dict, params: Any) -> dict[str, Any] | None:
        """Per-group learning rates (``learning_rate.<group>`` axes or ``[optimizer] learning_rate.<group>``).

        ``None`` when the sweep has none. Groups are the top-level keys of ``params``; a group
        with no rate of its own takes the sweep's ``learning_rate``.
        """
        spec = self.spec
        common = spec.optimizer.params.get("learning_rate")
        fixed = dict(common) if isinstance(common, dict) else {}
        swept = routed(v, "group_learning_rate")
        if not fixed and not swept:
            return None
        source, field_ = spec.source, next((f"axes.learning_rate.{g}" for g in swept), "optimizer.learning_rate")
        if not isinstance(params, dict):
            raise SweepError(source, field_, "a loss whose parameters are a dict of groups (per-group learning "
                             "rates)", f"loss {spec.loss.name!r} with {type(params).__name__} parameters")
        groups = sorted(params)
        for g in list(swept) + list(fixed):
            if g not in params:
                f = f"axes.learning_rate.{g}" if g in swept else f"optimizer.learning_rate.{g}"
                raise SweepError(source, f, f"a parameter group of loss {spec.loss.name!r} ({', '.join(groups)})", g)
        base = routed(v, "optimizer").get("learning_rate", None if fixed else common)
        rates = {g: swept.get(g, fixed.get(g, base)) for g in groups}
        missing = [g for g in groups if rates[g] is None]
        if missing:
            raise SweepError(source, f"axes.learning_rate.{missing[0]}", "a learning rate for every parameter "
                             f"group ({', '.join(groups)}), or a common learning_rate", f"none for {missing[0]!r}")
        return rates

    def hyperparameters(self, v: dict) -> dict[str, Any]:
        """The optimizer's keyword arguments other than the learning rate (fixed, then swept)."""
        hp = {**self.spec.optimizer.params, **routed(v, "optimizer")}
        hp.pop("learning_rate", None)
        return hp

    def optimizer(self, v: dict, params: Any = None) -> optax.GradientTransformation:
        """This configuration's optax transformation (hyperparameters traced where swept)."""
        spec = self.spec
        hp = self.hyperparameters(v)
        rates = self.group_learning_rates(v, params)
        if rates is None:
            opt = _optimizers.build(spec.optimizer.builder, self.learning_rate(v), hp)
        else:  # one optimizer per top-level group, each with its own (traced) learning rate
            opt = optax.multi_transform(
                {g: _optimizers.build(spec.optimizer.builder, self.learning_rate(v, lr), hp) for g, lr in rates.items()},
                lambda p: {g: g for g in p})
        names = self.schedule_names()
        if _schedules.PLATEAU in names:
            params = self.schedule_params(_schedules.PLATEAU, v)
            if len(names) > 1:
                on = v["schedule"] == names.index(_schedules.PLATEAU)
                params["patience"] = jnp.where(on, params.get("patience", 10), _NEVER)
            opt = optax.chain(opt, _schedules.plateau(**params))
        return opt


def _as_float(a, dtype):
    a = jnp.asarray(a)
    return a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a


def problem_of(spec: SweepSpec) -> _problem.Problem:
    """The :class:`~lrsweep.problem.Problem` a sweep trains: the one it carries (Python API, or a
    sweep file's ``loss = "file.py:make_problem"``), else its loss factory with the ``[loss]`` and
    ``[init]`` tables."""
    if spec.loss.problem is not None:
        return spec.loss.problem
    from lrsweep import losses as _losses

    try:
        factory = _losses.resolve_loss(spec.loss.name)
        with jax.enable_x64(spec.dtype == "float64"):
            return _problem.from_factory(factory, dict(spec.loss.params), points=spec.init.points,
                                         name=spec.loss.name, minimum=spec.loss.minimum)
    except (ValueError, TypeError) as e:
        raise SweepError(spec.source, "loss", "valid loss parameters",
                         raw=f"{spec.source}: loss ({spec.loss.name}): {e}") from None
