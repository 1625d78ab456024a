r"""One configuration's training run: ``T`` optax updates in a ``lax.scan``, watched for its outcome.

Written for one configuration's scalars (``v``); :mod:`lrsweep.engine` lifts it with ``vmap``.
Update ``t`` (``t = 0 … T−1``) is

.. math:: g_t = \nabla_\theta \ell(\theta_t, B_t), \quad (u_t, s_{t+1}) = \mathrm{opt.update}(g_t, s_t, \theta_t),
          \quad \theta_{t+1} = \theta_t + u_t,

with ``B_t`` the batch of update ``t`` (:mod:`lrsweep.problem`). The divergence rule reads the loss of
every update, ``ℓ(θ_t, B_t)`` — the value that update's ``value_and_grad`` computes, on the batch it
trains on (the whole data for full-batch problems) — and the loss after the last
(:mod:`lrsweep.outcomes`) through one int32 per run, the count of the leading readings within the
rule (:func:`lrsweep.outcomes.count`): no select per update.

The updates run in an outer ``lax.scan`` over blocks of ``K = check_every`` (:func:`block_fn`). The
summaries observe the loss at each block's start (the first update computes it, so observing costs no
evaluation). At a block's end the runs found diverged in it save the block's start (their *restart*),
and a run that had diverged before the block is frozen (``jnp.where`` over parameters and optimizer
state once per block, the costly part on a network; no NaN or overflow spreads). After the last block
the one block holding each run's crossing is replayed from its restart (:func:`locate`) for the loss
at the crossing and one step before it (the final loss and the score's interpolation): exact, read for
``K`` updates once instead of selected at every update; a vmapped block none of whose runs diverged
skips it (:func:`crossing_losses`). A run that diverged inside a block keeps updating to the block's
end, so its final parameters depend on ``K``: the columns evaluated on them (:func:`end_of_run`) are
NaN for diverged runs.

``initial_loss`` and (for problems trained in minibatches) ``final_loss`` are on the whole training
data; ``eval_loss`` and ``eval_<metric>`` on ``eval_data``. The outcome, divergence step and final loss
are the same for every ``K``; the summaries are observed every ``K``, which
:func:`lrsweep.sizing.check_every` chooses from the problem and ``steps`` alone, never from the grid.
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import optax

from lrsweep import outcomes as _outcomes
from lrsweep import problem as _problem
from lrsweep.configuration import Setup

UNROLL = int(os.environ.get("LRSWEEP_UNROLL", "1"))  # inner-scan unroll (a tuning knob for benchmarks)


def freeze(frozen: jax.Array, old: jax.Array, new: jax.Array) -> jax.Array:
    """One optimizer-state leaf of a block's end: kept as it was where the run is frozen.

    Integer leaves (step counters such as Adam's ``count``) are not frozen: they are the same for
    every configuration, so under ``vmap`` they stay one unbatched scalar — freezing them per run
    would batch them, and Adam's bias correction ``1 − βᵗ`` would then be two ``pow`` per
    configuration and update (4–9× slower on a 2-D problem). A frozen run's counter only feeds
    updates that are discarded.
    """
    return jnp.where(frozen, old, new) if jnp.issubdtype(old.dtype, jnp.inexact) else new


def update_fn(loss_at, opt: optax.GradientTransformation):
    """One bare optimizer update ``((params, state), t) -> ((params', state'), f_t)`` (a scan body);
    ``f_t = ℓ(θ_t, B_t)``, the loss the update's ``value_and_grad`` computes on the way."""
    extra = isinstance(opt, optax.GradientTransformationExtraArgs)

    def update(carry, t):
        params, state = carry
        f, g = jax.value_and_grad(loss_at)(params, t)
        if extra:  # reduce_on_plateau reads the loss of every update
            updates, state = opt.update(g, state, params, value=f)
        else:
            updates, state = opt.update(g, state, params)
        return (optax.apply_updates(params, updates), state), f

    return update


def counted_update_fn(loss_at, opt: optax.GradientTransformation, count):
    """:func:`update_fn` that also folds its loss ``f_t`` into the divergence rule's count
    (:func:`lrsweep.outcomes.count`): ``((params, state, n), t) -> ((params', state', n'), f_t)``.
    The rule reads every update's loss this way, at the cost of a compare, an and and an add."""
    update = update_fn(loss_at, opt)

    def counted(carry, t):
        params, state, n = carry
        (params, state), f = update((params, state), t)
        return (params, state, count(n, f, t)), f

    return counted


def locate(update, restart, t_d: jax.Array, k: int) -> tuple[jax.Array, jax.Array]:
    """``(f_{t_d}, f_{t_d − 1})`` of a run whose first crossing ``t_d`` lies in the block of ``k``
    updates that starts at ``restart = (params, state, t₀, f_{t₀−1})`` (saved at that block's end):
    the block is run again from its start, reading the loss of every update. The updates are the same
    computation as the first time, so the losses are too. ``f_{t₀−1}`` covers ``t_d = t₀`` (for
    ``t₀ = 0`` it is the initial loss)."""
    params, state, t0, f_before = restart

    def again(carry, j):
        params, state, f_d, f_b = carry
        t = t0 + j
        (params, state), f = update((params, state), t)
        return (params, state, jnp.where(t == t_d, f, f_d), jnp.where(t == t_d - 1, f, f_b)), None

    init = (params, state, jnp.full_like(f_before, jnp.nan), f_before)
    _, _, f_d, f_b = jax.lax.scan(again, init, jnp.arange(k, dtype=jnp.int32))[0]
    return f_d, f_b


def start(setup: Setup, v: dict):
    """``(params₀, opt, opt_state₀)`` of one configuration."""
    params = setup.initial_params(v)
    opt = setup.optimizer(v, params)
    return params, opt, opt.init(params)


def block_fn(counted, observe, freeze_state):
    """``block(carry, t, k)``: updates ``t−k … t−1``, each read by the divergence rule, the first one's
    loss observed for the summaries (it is ``f`` at the block's start); then the block's end (restart
    saved for the runs that diverged in it, freeze of those that had diverged before it).
    ``carry = (params, state, watch, n, f_before, restart)``, ``f_before`` the loss of the previous
    block's last update."""

    def block(carry, t, k):
        params, state, watch, n, f_before, restart = carry
        t0 = t - k
        inner, f_start = counted((params, state, n), t0)
        watch = observe(watch, f_start, t0)
        if k > 2:
            inner = jax.lax.scan(lambda c, s: (counted(c, s)[0], None), inner,
                                 t0 + 1 + jnp.arange(k - 2, dtype=jnp.int32), unroll=UNROLL)[0]
        (new_params, new_state, n), f_end = counted(inner, t - 1) if k > 1 else (inner, f_start)  # its loss kept
        frozen = watch.diverged  # diverged before this block
        newly = (n < t) & ~frozen
        restart = jax.tree.map(lambda a, b: jnp.where(newly, a, b), (params, state, t0, f_before), restart)
        params = jax.tree.map(lambda a, b: jnp.where(frozen, a, b), params, new_params)
        state = jax.tree.map(functools.partial(freeze_state, frozen), state, new_state)
        watch = watch._replace(diverged=frozen | newly, div_step=jnp.where(newly, n, watch.div_step))
        return params, state, watch, n, f_end, restart

    return block


def crossing_losses(update, restart, n, k: int, diverged, lanes: str | None):
    """``(f_{t_d}, f_{t_d − 1})`` of a run that diverged inside a block (:func:`locate`). Lifted over a
    ``vmap`` axis named ``lanes``, the replay runs only when some run of the vmapped block diverged
    (``lax.cond`` on a ``psum`` over the lanes): diverged runs sit together in a grid (large learning
    rates), so most blocks skip it; what each run computes is the same either way."""
    def replay(_):
        return locate(update, restart, n, k)

    if lanes is None:
        return replay(None)
    nan = jnp.full_like(restart[3], jnp.nan)
    any_div = jax.lax.psum(diverged.astype(jnp.int32), lanes) > 0
    return jax.lax.cond(any_div, replay, lambda _: (nan, nan), None)


def recorded_blocks(block, loss_at, carry, T: int, record: int, every: int = 1, snapshot=None):
    """Blocks of one update each, with the loss and first ``record`` parameters before every update
    and after the last: ``(carry, (losses (T+1,), parameters (T+1, record), columns))``.

    ``snapshot(θ_t, θ_{t+1})`` (optional): a dict of scalar columns of step ``t`` (:func:`snapshot_fn`),
    evaluated at the recorded steps ``t ≡ 0 (mod every)`` and after the last update (``θ_{T+1} =
    None``); ``columns`` maps each name to ``(T+1,)`` values, NaN between recorded steps. The choice:
    a ``lax.cond`` inside the one scan over updates rather than a scan over recorded points of inner
    scans — the update already runs one step per block here (``K = 1``, for the per-step loss), the
    update RMS needs ``θ_t`` and ``θ_{t+1}`` side by side, which one step's carry holds, and the
    predicate depends on the step only, never on the configuration, so under ``vmap`` it stays a
    branch (the metrics cost nothing at the other steps) instead of becoming a select. Only scalars
    are kept per step, never parameter pytrees."""
    def emit(params, t):
        flat = jnp.concatenate([jnp.ravel(x) for x in jax.tree.leaves(params)])[:record]
        return loss_at(params, t), flat

    def columns(old, new, t):
        if snapshot is None:
            return {}
        shape = jax.eval_shape(snapshot, old, new)
        skip = lambda o, n: jax.tree.map(lambda s: jnp.full(s.shape, jnp.nan, s.dtype), shape)  # noqa: E731
        return jax.lax.cond(t % every == 0, snapshot, skip, old, new)

    def recorded(carry, t):
        new = block(carry, t + 1, 1)
        return new, (*emit(carry[0], t), columns(carry[0], new[0], t))

    carry, ys = jax.lax.scan(recorded, carry, jnp.arange(T, dtype=jnp.int32))
    tT = jnp.asarray(T, jnp.int32)
    last = (*emit(carry[0], tT), snapshot(carry[0], None) if snapshot is not None else {})
    return carry, jax.tree.map(lambda h, x: jnp.concatenate([h, x[None]]), ys, last)


def update_rms(old, new) -> jax.Array:
    """``√(Σ u² / n)`` of the update ``u = θ_{t+1} − θ_t`` over all ``n`` parameters."""
    diffs = [jnp.ravel(b - a) for a, b in zip(jax.tree.leaves(old), jax.tree.leaves(new))]
    return jnp.sqrt(sum(jnp.sum(d * d) for d in diffs) / sum(d.size for d in diffs))


def snapshot_fn(setup: Setup, v: dict, data: dict, names: tuple[str, ...]):
    """``(θ_t, θ_{t+1}) -> {name: scalar}``: the end-of-run columns ``names`` (:func:`end_of_run`) at
    ``θ_t``, and ``update_rms`` (:func:`update_rms` of ``θ_{t+1} − θ_t``; NaN when ``θ_{t+1}`` is
    ``None``, after the last update) if named. The columns not named are traced but unused, and XLA
    drops them from the compiled branch."""
    wanted = tuple(n for n in names if n != "update_rms")

    def snapshot(params, new):
        every_column = end_of_run(setup, v, data, params)
        out = {n: jnp.asarray(every_column[n], setup.dtype) for n in wanted}
        if "update_rms" in names:
            out["update_rms"] = (jnp.asarray(jnp.nan, setup.dtype) if new is None
                                 else update_rms(params, new).astype(setup.dtype))
        return out

    return snapshot


def _mask_recorded(ys, watch, T: int):
    """A diverged run's recorded loss stays the one that broke the rule after the divergence step; its
    recorded columns are NaN after it (its parameters are frozen there, as the table's columns are NaN)."""
    after = watch.diverged & (jnp.arange(T + 1) >= watch.div_step)
    beyond = watch.diverged & (jnp.arange(T + 1) > watch.div_step)
    cols = {k: jnp.where(beyond, jnp.asarray(jnp.nan, x.dtype), x) for k, x in ys[2].items()}
    return jnp.where(after, watch.f_div, ys[0]), ys[1], cols


def run(setup: Setup, v: dict, data: dict, *, check_every: int, record: int | None = None,
        steps: int | None = None, lanes: str | None = None, every: int = 1, columns: tuple[str, ...] = ()):
    """Metrics of one configuration (see the module docstring); with ``record`` (``K = 1``), also its
    loss and first ``record`` parameters before every update and after the last, and the ``columns``
    at every ``every``-th step (:func:`recorded_blocks`). ``lanes``: the name of the ``vmap`` axis the
    run is lifted over, if any (:func:`crossing_losses`)."""
    spec, crit, problem = setup.spec, setup.spec.criteria, setup.problem
    T = steps or spec.steps
    K = 1 if record is not None else max(1, min(check_every, T))
    params, opt, state = start(setup, v)
    ref = setup.reference()
    loss_at = setup.loss_at(v, data, T)
    observe = functools.partial(_outcomes.observe, ref=ref, known_minimum=setup.known_minimum,
                                converge_tol=crit.converge_tol, steps=T)
    minibatches = problem.data is not None and problem.batch_size is not None
    zero, tT = jnp.asarray(0, jnp.int32), jnp.asarray(T, jnp.int32)
    f0 = loss_at(params, zero, data["train"]) if minibatches else loss_at(params, zero)  # whole data
    watch = _outcomes.start(f0, ref)
    count = functools.partial(_outcomes.count, ref=ref, limit=crit.diverge_factor * watch.gap0)
    block = block_fn(counted_update_fn(loss_at, opt, count), observe, freeze)
    carry, ys = (params, state, watch, zero, f0, (params, state, zero, f0)), None
    if record is not None:
        snapshot = snapshot_fn(setup, v, data, columns) if columns else None
        carry, ys = recorded_blocks(block, loss_at, carry, T, record, every, snapshot)
    else:
        m, r = divmod(T, K)
        carry = jax.lax.scan(lambda c, t: (block(c, t, K), None), carry, K * jnp.arange(1, m + 1, dtype=jnp.int32))[0]
        carry = block(carry, tT, r) if r else carry
    params, _, watch, n, f_before, restart = carry
    fT = loss_at(params, tT)  # f_T: the rule's last reading and the summaries' last observation
    watch = observe(watch, fT, tT)
    at_T = (count(n, fT, tT) == T) & ~watch.diverged  # crossed at the last reading
    f_d, f_b = crossing_losses(update_fn(loss_at, opt), restart, n, K, watch.diverged, lanes)
    watch = watch._replace(
        diverged=watch.diverged | at_T, div_step=jnp.where(at_T, tT, watch.div_step),
        f_div=jnp.where(at_T, fT, jnp.where(watch.diverged, f_d, watch.f_div)),
        f_last=jnp.where(at_T, f_before, jnp.where(watch.diverged, f_b, watch.f_last)))
    if minibatches:  # final (and convergence) on the whole data: the run's last minibatch is one sample of it
        watch = watch._replace(f_last=jnp.where(watch.diverged, watch.f_last, loss_at(params, zero, data["train"])))
    ys = _mask_recorded(ys, watch, T) if ys is not None else None
    metrics = _outcomes.finish(watch, ref=ref, known_minimum=setup.known_minimum, converge_tol=crit.converge_tol,
                               steps=T, diverge_factor=crit.diverge_factor)
    at_end = end_of_run(setup, v, data, params)
    metrics.update({k: jnp.where(watch.diverged, jnp.asarray(jnp.nan, x.dtype), x)
                    if jnp.issubdtype(x.dtype, jnp.inexact) else x for k, x in at_end.items()})
    return metrics, ys


def end_of_run(setup: Setup, v: dict, data: dict, params) -> dict[str, jax.Array]:
    """Columns evaluated on the final parameters (a diverged run's frozen ones): the problem's
    ``extras``, its ``metrics`` on the training data, and loss and metrics on ``eval_data``."""
    problem, kw, dt = setup.problem, setup.loss_kwargs(v), setup.dtype
    out = {}
    if problem.extras is not None:
        out.update({k: jnp.asarray(x) for k, x in _problem.call(problem.extras, params, **kw).items()})
    key = {"key": None}  # evaluation: no dropout
    for name, fn in (problem.metrics or {}).items():
        if problem.data is not None:
            out[name] = jnp.asarray(_problem.call(fn, params, data["train"], **kw, **key), dt)
    if problem.eval_data is not None:
        out["eval_loss"] = jnp.asarray(_problem.call(problem.loss, params, data["eval"], **kw, **key), dt)
        for name, fn in (problem.metrics or {}).items():
            out[f"eval_{name}"] = jnp.asarray(_problem.call(fn, params, data["eval"], **kw, **key), dt)
    return out
