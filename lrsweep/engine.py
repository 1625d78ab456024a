"""The engine: one configuration's training run, lifted to the whole grid.

The run of one configuration is written once, for scalars (:meth:`Program.run_one`):
build the loss and the optax optimizer from this configuration's hyperparameters,
then ``lax.scan`` over the ``T`` steps, watching the loss (:mod:`lrsweep.outcomes`).
It is lifted with ``jax.vmap`` over a flat configuration axis and compiled once with
``jax.jit`` for a fixed chunk length; the grid is fed through that one executable in
chunks (the last one padded), so memory is bounded by the chunk, not the grid.

Swept hyperparameters arrive as traced arrays, so the same executable serves every
chunk and every refinement round of the boundary search. A run that diverges is
frozen: its parameters and optimizer state stop changing, so no NaN or overflow
spreads, and its divergence step is recorded.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrsweep import grid as _grid
from lrsweep import losses as _losses
from lrsweep import optimizers as _optimizers
from lrsweep import outcomes as _outcomes
from lrsweep import schedules as _schedules
from lrsweep.config import INTEGER_AXES, SweepError, SweepSpec

METRICS = ("initial_loss", "final_loss", "min_loss", "diverged", "divergence_step", "convergence_step", "outcome",
           "score", "growth_rate")
_NEVER = 2**30  # a patience that never runs out: reduce_on_plateau switched off for other schedules


class Program:
    """The compiled sweep program of one :class:`SweepSpec` (one executable per chunk length).

    Attributes:
      compile_seconds: time spent compiling so far.
      compiles: number of executables built (one per sweep shape).
    """

    def __init__(self, spec: SweepSpec, chunk_size: int | None = None):
        self.spec = spec
        self.dtype = jnp.dtype(spec.dtype)
        self.x64 = spec.dtype == "float64"
        self.chunk_size = _grid.chunk_size_for(spec, chunk_size)
        self.loss_factory = _with_minimum(_losses.resolve_loss(spec.loss.name), spec.loss.minimum)
        self.swept = tuple(a.name for a in spec.axes)
        self.compile_seconds = 0.0
        self.compiles = 0
        self._exe = None
        self._check_values()
        with jax.enable_x64(self.x64):
            host_loss = self._loss(self._defaults())
            self.known_minimum = host_loss.minimum is not None
            self.dim = host_loss.dim

    # ------------------------------------------------------------------ one configuration

    def _defaults(self) -> dict[str, Any]:
        """A concrete configuration: the first value of every axis."""
        vals = _grid.configurations(self.spec, 0, 1)
        return {k: self._cast(k, v)[0] for k, v in vals.items()}

    def _cast(self, name: str, values: np.ndarray) -> np.ndarray:
        if name in INTEGER_AXES or name == "schedule":
            return np.asarray(values).astype(np.int32)
        return np.asarray(values).astype(self.dtype)

    def _loss(self, v: dict):
        params = dict(self.spec.loss.params)
        params.update({k[5:]: v[k] for k in v if k.startswith("loss.")})
        return self.loss_factory(**params)

    def _initial_params(self, loss, v: dict):
        spec, dt = self.spec, self.dtype
        scale = jnp.asarray(v.get("init.scale", spec.init.scale), dt)
        index = jnp.asarray(v.get("init.index", spec.init.index), jnp.int32)
        seed = jnp.asarray(v.get("seed", spec.init.seed), jnp.int32)
        key = jax.random.fold_in(jax.random.key(seed), index)
        if spec.init.points is not None:
            return jnp.asarray(spec.init.points, dt)[index] * scale
        if loss.init is not None:
            return loss.init(key, scale)
        return jax.random.normal(key, (self.dim,), dt) * scale

    def _learning_rate(self, v: dict) -> Callable:
        spec = self.spec
        lr = v["learning_rate"] if "learning_rate" in v else v.get("optimizer.learning_rate",
                                                                     spec.optimizer.params.get("learning_rate"))
        lr = jnp.asarray(lr, self.dtype)
        names = self._schedule_names()
        factors = [functools.partial(_schedules.SCHEDULES.get(n, _schedules.constant), **self._schedule_params(n, v))
                   if n != _schedules.PLATEAU else _schedules.constant for n in names]
        if len(names) == 1:
            factor = factors[0]
        else:
            idx = v["schedule"]

            def factor(count):
                return jax.lax.switch(idx, [lambda c, f=f: jnp.asarray(f(c), self.dtype) for f in factors], count)

        return lambda count: lr * jnp.asarray(factor(count), self.dtype)

    def _schedule_names(self) -> tuple[str, ...]:
        return self.spec.axis("schedule").values if "schedule" in self.swept else (self.spec.schedule.name,)

    def _schedule_params(self, name: str, v: dict) -> dict:
        s = self.spec.schedule
        params = dict(s.variants.get(name, {}))
        if name == s.name:
            params.update(s.params)
        accepted = _schedules.describe_schedules()[name]
        params.update({k[9:]: v[k] for k in v if k.startswith("schedule.") and k[9:] in accepted})
        return params

    def _optimizer(self, v: dict) -> optax.GradientTransformation:
        spec = self.spec
        hp = {k: p for k, p in spec.optimizer.params.items() if k != "learning_rate"}
        for k, val in v.items():
            if k.startswith("optimizer."):
                name = k[len("optimizer."):]
            elif "." in k or k in ("seed", "schedule"):
                continue  # routed to the loss, the schedule or the initial point
            else:
                name = k
            if name != "learning_rate":
                hp[name] = val
        opt = _optimizers.build(spec.optimizer.name, self._learning_rate(v), hp)
        names = self._schedule_names()
        if _schedules.PLATEAU in names:
            params = self._schedule_params(_schedules.PLATEAU, v)
            if len(names) > 1:
                on = v["schedule"] == names.index(_schedules.PLATEAU)
                params["patience"] = jnp.where(on, params.get("patience", 10), _NEVER)
            opt = optax.chain(opt, _schedules.plateau(**params))
        return opt

    def _setup(self, v: dict):
        loss = self._loss(v)
        params = self._initial_params(loss, v)
        opt = self._optimizer(v)
        ref = jnp.asarray(loss.minimum if loss.minimum is not None else 0.0, self.dtype)
        return loss, params, opt, ref

    def _scan(self, v: dict, record: int | None = None, steps: int | None = None):
        """Run ``T`` updates of one configuration. ``record``: also emit (loss, first ``record`` params) each step."""
        spec, crit = self.spec, self.spec.criteria
        T = steps or spec.steps
        loss, params, opt, ref = self._setup(v)
        state = opt.init(params)
        value_and_grad = jax.value_and_grad(lambda p: jnp.asarray(loss.fn(p), self.dtype))
        extra = isinstance(opt, optax.GradientTransformationExtraArgs)
        f0 = jnp.asarray(loss.fn(params), self.dtype)
        watch = _outcomes.start(f0, ref)
        observe = functools.partial(_outcomes.observe, ref=ref, known_minimum=self.known_minimum,
                                    diverge_factor=crit.diverge_factor, converge_tol=crit.converge_tol, steps=T)

        def body(carry, t):
            params, state, watch = carry
            f, g = value_and_grad(params)
            out = None
            if record is not None:  # loss and parameters *before* update t
                flat = jnp.concatenate([jnp.ravel(x) for x in jax.tree.leaves(params)])[:record]
                out = (jnp.where(watch.diverged, watch.f_div, f), flat)
            watch = observe(watch, f, t)
            updates, new_state = opt.update(g, state, params, value=f) if extra else opt.update(g, state, params)
            new_params = optax.apply_updates(params, updates)
            frozen = watch.diverged
            params = jax.tree.map(lambda a, b: jnp.where(frozen, a, b), params, new_params)
            state = jax.tree.map(lambda a, b: jnp.where(frozen, a, b), state, new_state)
            return (params, state, watch), out

        # t = 0 … T: the last pass observes f_T (its update is never used).
        (_, _, watch), ys = jax.lax.scan(body, (params, state, watch), jnp.arange(T + 1, dtype=jnp.int32))
        metrics = _outcomes.finish(watch, ref=ref, known_minimum=self.known_minimum, converge_tol=crit.converge_tol,
                                   steps=T)
        return metrics, ys

    def run_one(self, v: dict) -> dict[str, jax.Array]:
        """Metrics of one configuration; ``v`` maps axis names to scalars."""
        return self._scan(v)[0]

    # ------------------------------------------------------------------ the grid

    def _sweep_chunk(self, values: dict[str, jax.Array]) -> dict[str, jax.Array]:
        return jax.vmap(self.run_one)(values)

    def _abstract(self, n: int) -> dict[str, jax.ShapeDtypeStruct]:
        return {k: jax.ShapeDtypeStruct((n,), self._cast(k, np.zeros(1)).dtype) for k in self.swept}

    def check(self) -> None:
        """Trace the program once without running it; turn failures into :class:`SweepError`."""
        spec = self.spec
        with jax.enable_x64(self.x64):
            d = self._defaults()
            loss = self._loss(d)
            points = spec.init.points
            if points is not None and loss.init is not None:
                raise SweepError(spec.source, "init.points", f"no explicit points (loss {spec.loss.name!r} "
                                 "initialises its own parameters; use init.scale and seed)", "points")
            if points is not None and loss.dim is not None and len(points[0]) != loss.dim:
                raise SweepError(spec.source, "init.points", f"points of dimension {loss.dim} "
                                 f"(loss {spec.loss.name!r})", f"dimension {len(points[0])}")
            if points is None and loss.init is None and loss.dim is None:
                raise SweepError(spec.source, "init.points", f"initial points (loss {spec.loss.name!r} has no "
                                 "initialiser of its own and no fixed dimension)", None)
            loss, params, _, _ = self._setup(d)
            out = jax.eval_shape(loss.fn, params)
            if getattr(out, "shape", None) != ():
                raise SweepError(spec.source, "loss.name", "a loss returning a scalar",
                                 f"{spec.loss.name} returned shape {getattr(out, 'shape', type(out).__name__)}")
            try:
                jax.eval_shape(self._sweep_chunk, self._abstract(2))
            except SweepError:
                raise
            except Exception as e:  # a hyperparameter optax checks in Python, a user loss that fails to trace …
                msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                raise SweepError(spec.source, "axes", "hyperparameters that can be traced (swept)",
                                 raw=f"{spec.source}: the sweep program failed to trace: {type(e).__name__}: {msg}") \
                    from None

    def _check_values(self) -> None:
        """Concrete checks of the loss and schedule parameters, at every axis's extremes."""
        spec = self.spec
        extremes = {a.name: (min(a.values), max(a.values)) for a in spec.axes if not a.categorical}
        loss_axes = {k: v for k, v in extremes.items() if k.startswith("loss.")}
        for pick in (0, 1):
            v = {k: self._cast(k, np.asarray([x[pick]]))[0] for k, x in loss_axes.items()}
            try:
                with jax.enable_x64(self.x64):
                    self._loss(v)
            except (ValueError, TypeError) as e:
                raise SweepError(spec.source, "loss", "valid loss parameters",
                                 raw=f"{spec.source}: loss ({spec.loss.name}): {e}") from None
        for name in self._schedule_names():
            params = dict(spec.schedule.variants.get(name, {}))
            if name == spec.schedule.name:
                params.update(spec.schedule.params)
            accepted = _schedules.describe_schedules()[name]
            for k, (lo, hi) in extremes.items():
                if k.startswith("schedule.") and k[9:] in accepted:
                    params[k[9:]] = np.asarray([lo, hi])
            try:
                _schedules.validate_schedule(name, params)
            except ValueError as e:
                bad = re.match(r"schedule '\w+': (\w+)=", str(e))
                field_ = f"axes.schedule.{bad[1]}" if bad and f"schedule.{bad[1]}" in extremes else "schedule"
                raise SweepError(spec.source, field_, "valid schedule parameters",
                                 raw=f"{spec.source}: {field_}: {e}") from None

    def compile(self) -> None:
        """Build the executable for the chunk length (once)."""
        if self._exe is not None:
            return
        t0 = time.perf_counter()
        with jax.enable_x64(self.x64):
            self._exe = jax.jit(self._sweep_chunk).lower(self._abstract(self.chunk_size)).compile()
        self.compile_seconds += time.perf_counter() - t0
        self.compiles += 1

    def evaluate(self, values: dict[str, np.ndarray], progress: Callable[[int, int], None] | None = None
                 ) -> dict[str, np.ndarray]:
        """Metrics of arbitrary configurations (``values``: axis name → 1-D array), chunk by chunk."""
        self.compile()
        n = len(next(iter(values.values())))
        out: dict[str, list] = {m: [] for m in METRICS}
        C = self.chunk_size
        with jax.enable_x64(self.x64):
            for start, stop in _grid.chunks(n, C):
                chunk = _grid.pad({k: self._cast(k, v[start:stop]) for k, v in values.items()}, C)
                res = self._exe(chunk)
                for m in METRICS:
                    out[m].append(np.asarray(res[m])[: stop - start])
                if progress is not None:
                    progress(stop - start, n)
        return {m: np.concatenate(v) if v else np.zeros(0) for m, v in out.items()}

    def trajectories(self, values: dict[str, np.ndarray], max_params: int = 16, steps: int | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Loss (n, T+1) and the first ``max_params`` parameters (n, T+1, k) of a few configurations."""
        with jax.enable_x64(self.x64):
            vals = {k: self._cast(k, v) for k, v in values.items()}
            fn = jax.jit(jax.vmap(lambda v: self._scan(v, record=max_params, steps=steps)[1]))
            f, x = fn(vals)
            return np.asarray(f), np.asarray(x)

    def initial_point(self, v: dict) -> Any:
        """The initial parameters of one configuration, on the host."""
        with jax.enable_x64(self.x64):
            c = {k: self._cast(k, np.asarray([x]))[0] for k, x in v.items()}
            loss = self._loss(c)
            return jax.tree.map(np.asarray, self._initial_params(loss, c))

    def schedule_factors(self, v: dict) -> np.ndarray:
        """``η_t / learning_rate`` for ``t = 0 … T`` of one configuration, as the engine computes it."""
        with jax.enable_x64(self.x64):
            c = {**self._defaults(), **{k: self._cast(k, np.asarray([x]))[0] for k, x in v.items()}}
            c["learning_rate"] = self._cast("learning_rate", np.ones(1))[0]
            lr = self._learning_rate(c)
            return np.asarray(jax.vmap(lr)(jnp.arange(self.spec.steps + 1, dtype=jnp.int32)), np.float64)

    def hessians_at_init(self, values: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Hessian (n, d, d) at the initial point and the initial point (n, d) of flat-vector losses.

        ``values`` maps axis names to arrays of length n; missing axes take their first value.
        One compiled ``vmap`` over the configurations (used by :mod:`lrsweep.theory`).
        """
        n = len(next(iter(values.values()))) if values else 1
        with jax.enable_x64(self.x64):
            d = self._defaults()
            vals = {k: self._cast(k, np.broadcast_to(values[k], (n,)) if k in values else np.full(n, d[k]))
                    for k in self.swept}

            def one(v):
                loss = self._loss(v)
                x0 = self._initial_params(loss, v)
                return jax.hessian(loss.fn)(x0), x0

            h, x0 = jax.jit(jax.vmap(one))(vals)
            return np.asarray(h, np.float64), np.asarray(x0, np.float64)

    def host_loss(self, v: dict):
        """The :class:`~lrsweep._types.Loss` of one configuration, built on the host."""
        with jax.enable_x64(self.x64):
            return self._loss({k: self._cast(k, np.asarray([x]))[0] for k, x in v.items()})


def _with_minimum(factory, minimum):
    """A user loss's factory with its declared minimum (``[loss] minimum``)."""
    if minimum is None:
        return factory
    return lambda **params: factory(**params)._replace(minimum=minimum)
