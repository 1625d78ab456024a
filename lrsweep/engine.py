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
from collections.abc import Callable, Iterator
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
CHUNK_COST = 2e10  # cost units of one device's chunk when run.chunk_size = 0
MAX_CHUNKS = 1024  # ... and at most this many chunks in a sweep
EXACT_BUDGET = 5e9  # cost units (flops + bytes/4) below which a sweep is observed after every update
_AXIS = "configurations"  # the mesh axis the grid is sharded over
_UNROLL = int(__import__("os").environ.get("LRSWEEP_UNROLL", "1"))
_NEVER = 2**30  # a patience that never runs out: reduce_on_plateau switched off for other schedules


class Program:
    """The compiled sweep program of one :class:`SweepSpec` (one executable per chunk length).

    A chunk of ``chunk_size = D · C`` configurations is split over ``D`` local devices
    (``jax.shard_map`` over a 1-D mesh); each device runs ``lax.map`` over blocks of ``B = batch``
    configurations, each block one ``vmap``-ped :meth:`run_one`. Every configuration is thus
    computed by the same ``B``-wide program whatever ``C``, ``D`` or the number of processes, and
    its metrics are bit-identical across them.

    Attributes:
      compile_seconds: time spent compiling so far.
      compiles: number of executables built (one per sweep shape).
    """

    def __init__(self, spec: SweepSpec, chunk_size: int | None = None, devices: int | None = None):
        self.spec = spec
        self.dtype = jnp.dtype(spec.dtype)
        self.x64 = spec.dtype == "float64"
        local = jax.local_devices()
        n = devices if devices is not None else spec.run.devices
        self.devices = tuple(local[: n] if n else local)
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
            self.state_bytes = self._state_bytes()
            self.costs = self._costs()
            self.fast_check_every = self._auto_check_every(exact_if_cheap=False)
            self.check_every = spec.run.check_every or self._auto_check_every()
        self.batch = _grid.batch_size_for(spec, self.state_bytes)
        self.device_chunk = _grid.chunk_size_for(spec, chunk_size or spec.run.chunk_size or self._auto_chunk(),
                                                 len(self.devices), self.batch)
        self.chunk_size = self.device_chunk * len(self.devices)  # configurations per dispatched chunk

    def _state_bytes(self) -> int:
        """Working set of one configuration's update, in bytes (sizes the vmap width): its parameters,
        optimizer state and summaries, plus the temporaries XLA allocates for one update (a network's
        activations and their gradients), from the compiled update's memory analysis."""
        def state(v):
            _, params, opt, _ = self._setup(v)
            return params, opt.init(params)

        def update(v):
            loss, params, opt, _ = self._setup(v)
            return self._dynamics(loss, opt)[1]((params, opt.init(params)), None)[0]

        try:
            shapes = jax.eval_shape(state, self._defaults())
            memory = jax.jit(update).lower(self._defaults()).compile().memory_analysis()
            temp = int(getattr(memory, "temp_size_in_bytes", 0) or 0)
        except Exception:  # noqa: BLE001  (reported with file and field by check())
            return 0
        watch = len(_outcomes.Watch._fields) * self.dtype.itemsize  # the per-run summaries in the carry
        return int(sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(shapes))) + watch + temp

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

    def _learning_rate(self, v: dict, lr: Any = None) -> Callable:
        spec = self.spec
        if lr is None:
            lr = v["learning_rate"] if "learning_rate" in v else v.get("optimizer.learning_rate",
                                                                         spec.optimizer.params.get("learning_rate"))
        lr = jnp.asarray(lr, self.dtype)
        names = self._schedule_names()
        if all(n in ("constant", _schedules.PLATEAU) for n in names):
            return lr  # a constant learning rate: no step counter in the optimizer state, no schedule per update
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

    def _group_learning_rates(self, v: dict, params: Any) -> dict[str, Any] | None:
        """Per-group learning rates (``learning_rate.<group>`` axes or ``[optimizer] learning_rate.<group>``).

        ``None`` when the sweep has none. Groups are the top-level keys of ``params``; a group
        with no rate of its own takes the sweep's ``learning_rate``.
        """
        common = self.spec.optimizer.params.get("learning_rate")
        fixed = dict(common) if isinstance(common, dict) else {}
        swept = {k[len("learning_rate."):]: v[k] for k in v if k.startswith("learning_rate.")}
        if not fixed and not swept:
            return None
        source, field_ = self.spec.source, next(
            (f"axes.learning_rate.{g}" for g in swept), "optimizer.learning_rate")
        if not isinstance(params, dict):
            raise SweepError(source, field_, "a loss whose parameters are a dict of groups (per-group learning "
                             "rates)", f"loss {self.spec.loss.name!r} with {type(params).__name__} parameters")
        groups = sorted(params)
        for g in list(swept) + list(fixed):
            if g not in params:
                f = f"axes.learning_rate.{g}" if g in swept else f"optimizer.learning_rate.{g}"
                raise SweepError(source, f, f"a parameter group of loss {self.spec.loss.name!r} "
                                 f"({', '.join(groups)})", g)
        base = v.get("learning_rate", v.get("optimizer.learning_rate", None if fixed else common))
        rates = {g: swept.get(g, fixed.get(g, base)) for g in groups}
        missing = [g for g in groups if rates[g] is None]
        if missing:
            raise SweepError(source, f"axes.learning_rate.{missing[0]}", "a learning rate for every parameter "
                             f"group ({', '.join(groups)}), or a common learning_rate", f"none for {missing[0]!r}")
        return rates

    def _optimizer(self, v: dict, params: Any = None) -> optax.GradientTransformation:
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
        rates = self._group_learning_rates(v, params)
        if rates is None:
            opt = _optimizers.build(spec.optimizer.name, self._learning_rate(v), hp)
        else:  # one optimizer per top-level group, each with its own (traced) learning rate
            opt = optax.multi_transform(
                {g: _optimizers.build(spec.optimizer.name, self._learning_rate(v, lr), hp) for g, lr in rates.items()},
                lambda p: {g: g for g in p})
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
        opt = self._optimizer(v, params)
        ref = jnp.asarray(loss.minimum if loss.minimum is not None else 0.0, self.dtype)
        return loss, params, opt, ref

    def _scan(self, v: dict, record: int | None = None, steps: int | None = None):
        """Run ``T`` updates of one configuration, observing the loss every ``K = run.check_every`` updates.

        The loss is observed at ``t = 0, K, 2K, …`` and at ``T`` (:mod:`lrsweep.outcomes`): an outer
        ``lax.scan`` over blocks, each an inner ``lax.scan`` of ``K`` bare optimizer updates (gradient,
        update, apply: nothing else) followed by one observation. A run found diverged at an observation
        is frozen from there on: every later block's updates are discarded (``jnp.where`` once per block),
        so its divergence step is known to within ``K``. ``record``: observe every update (``K = 1``) and
        also emit (loss, first ``record`` parameters) before each update.
        """
        spec, crit = self.spec, self.spec.criteria
        T = steps or spec.steps
        K = 1 if record is not None else max(1, min(self.check_every, T))
        loss, params, opt, ref = self._setup(v)
        state = opt.init(params)
        value, update = self._dynamics(loss, opt)
        observe = functools.partial(_outcomes.observe, ref=ref, known_minimum=self.known_minimum,
                                    diverge_factor=crit.diverge_factor, converge_tol=crit.converge_tol, steps=T)

        def block(carry, t, n):
            """``n`` updates from observation to observation; the loss after them is ``f_t``."""
            params, state, watch = carry
            new_params, new_state = jax.lax.scan(update, (params, state), None, length=n, unroll=_UNROLL)[0]
            frozen = watch.diverged
            params = jax.tree.map(lambda a, b: jnp.where(frozen, a, b), params, new_params)
            state = jax.tree.map(functools.partial(_freeze, frozen), state, new_state)
            return params, state, observe(watch, value(params), t)

        f0 = value(params)
        watch = observe(_outcomes.start(f0, ref), f0, jnp.asarray(0, jnp.int32))
        carry = (params, state, watch)
        ys = None
        if record is not None:
            def emit(params, watch):  # loss and parameters *before* the next update
                flat = jnp.concatenate([jnp.ravel(x) for x in jax.tree.leaves(params)])[:record]
                return jnp.where(watch.diverged, watch.f_div, value(params)), flat

            def recorded(carry, t):
                return block(carry, t + 1, 1), emit(carry[0], carry[2])

            carry, ys = jax.lax.scan(recorded, carry, jnp.arange(T, dtype=jnp.int32))
            ys = jax.tree.map(lambda h, last: jnp.concatenate([h, last[None]]), ys, emit(carry[0], carry[2]))
        else:
            m, r = divmod(T, K)
            carry = jax.lax.scan(lambda c, t: (block(c, t, K), None), carry,
                                 K * jnp.arange(1, m + 1, dtype=jnp.int32))[0]
            if r:
                carry = block(carry, jnp.asarray(T, jnp.int32), r)
        params, _, watch = carry
        metrics = _outcomes.finish(watch, ref=ref, known_minimum=self.known_minimum, converge_tol=crit.converge_tol,
                                   steps=T, every=K, diverge_factor=crit.diverge_factor)
        if loss.extras is not None:
            metrics.update({k: jnp.asarray(x) for k, x in loss.extras(params).items()})
        return metrics, ys

    def _dynamics(self, loss, opt):
        """``value(params)`` and one bare optimizer ``update((params, state), _)`` (a scan body)."""
        value = lambda p: jnp.asarray(loss.fn(p), self.dtype)  # noqa: E731
        value_and_grad = jax.value_and_grad(value)
        extra = isinstance(opt, optax.GradientTransformationExtraArgs)

        def update(carry, _):
            params, state = carry
            if extra:  # reduce_on_plateau reads the loss of every update
                f, g = value_and_grad(params)
                updates, state = opt.update(g, state, params, value=f)
            else:
                updates, state = opt.update(jax.grad(value)(params), state, params)
            return (optax.apply_updates(params, updates), state), None

        return value, update

    def _costs(self) -> tuple[float, float]:
        """XLA's cost (flops + bytes accessed / 4) of one configuration's update and of one observation."""
        crit = self.spec.criteria

        def setup(v):
            loss, params, opt, ref = self._setup(v)
            return loss, params, opt, ref, opt.init(params)

        def base(v):
            return setup(v)[1:2] + setup(v)[4:]

        def step(v):
            loss, params, opt, _, state = setup(v)
            return self._dynamics(loss, opt)[1]((params, state), None)[0]

        def look(v):
            loss, params, opt, ref, state = setup(v)
            value = self._dynamics(loss, opt)[0]
            f = value(params)
            w = _outcomes.observe(_outcomes.start(f, ref), f, jnp.asarray(1, jnp.int32), ref=ref,
                                  known_minimum=self.known_minimum, diverge_factor=crit.diverge_factor,
                                  converge_tol=crit.converge_tol, steps=self.spec.steps)
            keep = jax.tree.map(lambda a: _freeze(w.diverged, a, a + 1), (params, state))
            return keep, w

        def cost(fn):
            c = jax.jit(fn).lower(self._defaults()).cost_analysis() or {}
            return float(c.get("flops", 0.0)) + float(c.get("bytes accessed", 0.0)) / 4

        try:
            with jax.enable_x64(self.x64):
                b = cost(base)
                return max(cost(step) - b, 1.0), max(cost(look) - b, 1.0)
        except Exception:  # noqa: BLE001  (a program that fails to trace is reported by check())
            return 1.0, 10.0

    def _auto_chunk(self) -> int:
        """Configurations per device and chunk when ``run.chunk_size = 0``: about :data:`CHUNK_COST`
        of work (a second or so of one CPU core — large enough that dispatch costs nothing, small
        enough that progress and resume stay fine-grained), between one block and 2²⁰, and long
        enough that a sweep has at most :data:`MAX_CHUNKS` chunks (the 512² fractal grid, 8
        configurations a chunk by cost alone, made 16,384 chunk files)."""
        per_update, per_look = self.costs
        per_config = self.spec.steps * (per_update + per_look / self.check_every)
        fewest = -(-self.spec.size // (MAX_CHUNKS * max(1, len(self.devices))))
        return int(np.clip(max(CHUNK_COST / per_config, fewest), self.batch, 1 << 20))

    def _auto_check_every(self, exact_if_cheap: bool = True) -> int:
        """The observation interval ``K`` when ``run.check_every = 0``.

        From XLA's cost analysis of one configuration (flops + bytes/4 of one update, and of one
        observation: loss, :func:`~lrsweep.outcomes.observe`, the freeze):

        * a sweep whose every-update observation costs under :data:`EXACT_BUDGET` in all (about a
          second of one CPU core) is observed after every update, ``K = 1``: exact step counts and
          the finest signed score, for free;
        * otherwise ``K`` is the smallest of 10, 20, 50, 100 for which one observation costs at most
          10% of ``K`` updates, and at most ``T/10`` (every run is observed at least ten times). A
          cheap update (x²: three flops) gets ``K = 100``; a network's, ``K = 10``.
        """
        per_update, per_look = self.costs
        if exact_if_cheap and self.spec.size * self.spec.steps * (per_update + per_look) <= EXACT_BUDGET:
            return 1
        K = next((k for k in (10, 20, 50, 100) if per_look <= 0.1 * k * per_update), 100)
        return max(1, min(K, self.spec.steps // 10))

    def run_one(self, v: dict) -> dict[str, jax.Array]:
        """Metrics of one configuration; ``v`` maps axis names to scalars."""
        return self._scan(v)[0]

    # ------------------------------------------------------------------ the grid

    def _block(self, values: dict[str, jax.Array]) -> dict[str, jax.Array]:
        """Metrics of ``B`` configurations: one ``vmap``."""
        return jax.vmap(self.run_one)(values)

    def _local_chunk(self, values: dict[str, jax.Array]) -> dict[str, jax.Array]:
        """Metrics of one device's ``C`` configurations: ``lax.map`` over blocks of ``B``."""
        n, B = len(next(iter(values.values()))), self.batch
        blocks = {k: v.reshape(n // B, B) for k, v in values.items()}
        return {k: v.reshape(n) for k, v in jax.lax.map(self._block, blocks).items()}

    def _sweep_chunk(self, values: dict[str, jax.Array]) -> dict[str, jax.Array]:
        # Always through shard_map, one device or many: the per-device program then goes through the
        # same compiler passes whatever the device count (results are bit-identical across counts).
        spec = jax.sharding.PartitionSpec(_AXIS)
        return jax.shard_map(self._local_chunk, mesh=self.mesh, in_specs=spec, out_specs=spec,
                             check_vma=False)(values)

    @functools.cached_property
    def mesh(self) -> jax.sharding.Mesh:
        """The 1-D device mesh the configuration axis is split over."""
        return jax.sharding.Mesh(np.asarray(self.devices), (_AXIS,))

    @functools.cached_property
    def sharding(self) -> jax.sharding.NamedSharding:
        return jax.sharding.NamedSharding(self.mesh, jax.sharding.PartitionSpec(_AXIS))

    def _abstract(self, n: int, sharded: bool = True) -> dict[str, jax.ShapeDtypeStruct]:
        kw = {"sharding": self.sharding} if sharded else {}
        return {k: jax.ShapeDtypeStruct((n,), self._cast(k, np.zeros(1)).dtype, **kw) for k in self.swept}

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
                jax.eval_shape(self._block, self._abstract(2, sharded=False))
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
            lowered = jax.jit(self._sweep_chunk).lower(self._abstract(self.chunk_size))
            self.metric_names = tuple(lowered.out_info)
            self._exe = lowered.compile()
        self.compile_seconds += time.perf_counter() - t0
        self.compiles += 1

    def evaluate_chunks(self, values: dict[str, np.ndarray] | None = None, ranges=None
                        ) -> Iterator[tuple[int, int, dict[str, np.ndarray]]]:
        """``(lo, hi, metrics)`` of configurations ``lo … hi-1``, one dispatched chunk at a time, in order.

        ``values``: axis name → 1-D array of configurations; ``None``: the sweep's own grid, generated
        chunk by chunk (never held whole). ``ranges``: the ``(start, stop)`` spans to run (default: all).
        Chunk ``i + 1`` is dispatched before chunk ``i``'s results are copied to the host (JAX's
        asynchronous dispatch), so the devices do not wait for the host between chunks.
        """
        self.compile()
        n = self.spec.size if values is None else len(next(iter(values.values())))
        C = self.chunk_size
        pending = None
        with jax.enable_x64(self.x64):
            for start, stop in ranges if ranges is not None else [(0, n)]:
                for lo, hi in _grid.chunks(stop - start, C):
                    lo, hi = lo + start, hi + start
                    raw = (_grid.configurations(self.spec, lo, hi) if values is None
                           else {k: v[lo:hi] for k, v in values.items()})
                    chunk = _grid.pad({k: self._cast(k, v) for k, v in raw.items()}, C)
                    running = (lo, hi, self._exe(jax.device_put(chunk, self.sharding)))
                    if pending is not None:
                        yield _fetch(*pending)
                    pending = running
            if pending is not None:
                yield _fetch(*pending)

    def evaluate(self, values: dict[str, np.ndarray], progress: Callable[[int, int], None] | None = None
                 ) -> dict[str, np.ndarray]:
        """Metrics of arbitrary configurations (``values``: axis name → 1-D array), chunk by chunk."""
        n = len(next(iter(values.values())))
        parts = []
        for lo, hi, res in self.evaluate_chunks(values):
            parts.append(res)
            if progress is not None:
                progress(hi - lo, n)
        return {m: np.concatenate([p[m] for p in parts]) if parts else np.zeros(0) for m in self.metric_names}

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
            t = jnp.arange(self.spec.steps + 1, dtype=jnp.int32)
            return np.asarray(jax.vmap(lr)(t) if callable(lr) else jnp.broadcast_to(lr, t.shape), np.float64)

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


def _freeze(frozen: jax.Array, old: jax.Array, new: jax.Array) -> jax.Array:
    """One optimizer-state leaf of a block's end: kept as it was where the run is frozen.

    Integer leaves (step counters such as Adam's ``count``) are not frozen: they are the same for
    every configuration, so under ``vmap`` they stay one unbatched scalar — freezing them per run
    would batch them, and Adam's bias correction ``1 − βᵗ`` would then be two ``pow`` per
    configuration and update (4–9× slower on a 2-D problem). A frozen run's counter only feeds
    updates that are discarded.
    """
    return jnp.where(frozen, old, new) if jnp.issubdtype(old.dtype, jnp.inexact) else new


def _fetch(lo: int, hi: int, res: dict[str, jax.Array]) -> tuple[int, int, dict[str, np.ndarray]]:
    """Copy one chunk's metrics to the host, dropping its padding."""
    return lo, hi, {m: np.asarray(x)[: hi - lo] for m, x in res.items()}


def _with_minimum(factory, minimum):
    """A user loss's factory with its declared minimum (``[loss] minimum``)."""
    if minimum is None:
        return factory
    return lambda **params: factory(**params)._replace(minimum=minimum)
