"""What happened to one run: the outcome enumeration, its rules, and the signed score.

Divergence is read at **every** update: the loss ``f_t`` comes with the gradient
(``jax.value_and_grad``), so the rule (:func:`count`) costs a compare, an and and an add per update
and no extra evaluation. With ``f_t`` the loss after ``t`` updates (``t = 0 … T``), ``f*`` the loss's
known minimum (``0`` for the divergence reference when unknown) and ``F = diverge_factor``:

* **diverged** ⇔ at **any** step ``t ≤ T`` the loss is non-finite or ``|f_t − f*| > F · |f_0 − f*|``;
  ``divergence_step`` is the first such ``t``, ``final_loss`` the loss there. This is a property of
  the configuration alone: neither the freeze interval ``K`` (``run.check_every``) nor the grid
  around it can change it.
* **converged** when it did not diverge and ``f_T − f* ≤ converge_tol``. Where the
  minimum is unknown: the loss settled, i.e. ``f_T`` is within ``converge_tol`` of
  the best loss and the last improvement larger than ``converge_tol`` happened before
  the final tenth of the run.
* **bounded** otherwise (stayed bounded without converging: oscillating, stuck on a
  plateau, or still descending).

The other summaries — best loss, convergence step, the score's mean and the growth envelopes — are
folded in (:func:`observe`) at the observations ``t = 0, K, 2K, …, T`` of a run still alive, where
``K`` is ``run.check_every`` or, when 0, chosen from the problem's costs and ``steps`` alone
(:func:`lrsweep.sizing.check_every`), never from the grid: a configuration's every column is the
same alone or inside any grid. ``f_T`` is always observed, so ``converged`` with a known minimum
does not depend on ``K`` either.

Signed score (Sohl-Dickstein-style: negative = trained, positive = diverged, the
magnitude is the speed):

* diverged: ``s = 1 − t* / (T + 1)  ∈ (0, 1]``, with ``t*`` the (fractional) step where the gap
  crossed ``F·gap_0``. The run is found diverged at the first step ``t_d`` whose loss breaks the
  rule; between ``t_d − 1`` (gap ``g_p``, below the threshold) and ``t_d`` (gap ``g_d``) the gap is
  taken to grow geometrically, ``t* = t_d − 1 + ln(F·gap_0 / g_p) / ln(g_d / g_p)``: exact for a
  quadratic's dominant mode, and a score that orders runs continuously across the diverged phase
  instead of in integer steps (runs diverging at the same step no longer tie). When ``g_d`` is not
  finite (the loss overflowed) ``t* = t_d − 1``, the formula's limit ``g_d → ∞``; a run whose
  initial loss is already non-finite has ``t* = 0``;
* otherwise ``s = −(1 − p)  ∈ [−1, 0]`` with ``p = clip((mean_t min(f_t, f_0) − f_ref) / (f_0 − f_ref), 0, 1)``
  the mean remaining fraction of the initial gap (``f_ref`` = known minimum, else the
  best loss seen). Fast convergence gives ``s ≈ −1``, no progress ``s ≈ 0``.

Growth rate (for the asymptotic boundary): with ``gap_t = |f_t − f*|`` and the envelopes
``M₁ = max gap_t`` over ``T/2 ≤ t < 3T/4`` and ``M₂ = max gap_t`` over ``3T/4 ≤ t ≤ T``,
``g = ln(M₂/M₁) / (T/4)``; for a diverged run ``g = ln(gap_{t_d}/gap_0) / t_d > 0``. On a
quadratic ``gap_t`` is a sum of modes ``c ρ^{2t}`` (oscillating when ``ρ`` is complex), the
envelope ratio tends to ``|ρ_max|^{T/2}``, so ``g → 2 ln|ρ_max|``: positive exactly above
the asymptotic (infinite-horizon) critical learning rate.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

import jax
import jax.numpy as jnp


class Outcome(enum.IntEnum):
    CONVERGED = 0
    BOUNDED = 1
    DIVERGED = 2

    @property
    def message(self) -> str:
        return MESSAGES[self]


MESSAGES = {
    Outcome.CONVERGED: "converged: the final loss is within converge_tol of the minimum",
    Outcome.BOUNDED: "bounded: stayed finite but did not converge (oscillating, on a plateau, or still descending; "
                     "try more steps or a larger converge_tol)",
    Outcome.DIVERGED: "diverged: the loss left diverge_factor × its initial gap or became non-finite "
                      "(lower the learning rate)",
}
OUTCOME_NAMES = tuple(o.name.lower() for o in Outcome)


class Watch(NamedTuple):
    """Per-run summaries carried through the scan (all scalars)."""

    f0: jax.Array           # initial loss
    gap0: jax.Array         # |f_0 − f*|, floored at tiny
    diverged: jax.Array     # bool
    div_step: jax.Array     # int32, −1 if never
    f_div: jax.Array        # loss that tripped the rule
    f_min: jax.Array        # best loss while alive
    f_last: jax.Array       # last loss while alive
    conv_step: jax.Array    # int32, −1 if never
    anchor: jax.Array       # loss at the last improvement > tol (unknown-minimum rule)
    sum_f: jax.Array        # Σ min(f_t, f_0) while alive
    n_alive: jax.Array      # number of steps summed
    env1: jax.Array         # max |f_t − f*| over T/2 ≤ t < 3T/4
    env2: jax.Array         # max |f_t − f*| over 3T/4 ≤ t ≤ T


def start(f0: jax.Array, ref: jax.Array) -> Watch:
    """The watch before step 0. ``ref`` is the known minimum, or 0 when unknown."""
    dt = f0.dtype
    tiny = jnp.finfo(dt).tiny
    i = jnp.asarray(-1, jnp.int32)
    return Watch(f0=f0, gap0=jnp.maximum(jnp.abs(f0 - ref), tiny), diverged=jnp.asarray(False), div_step=i,
                 f_div=jnp.asarray(jnp.nan, dt), f_min=f0, f_last=f0, conv_step=i, anchor=f0,
                 sum_f=jnp.zeros((), dt), n_alive=jnp.zeros((), dt), env1=jnp.asarray(tiny, dt),
                 env2=jnp.asarray(tiny, dt))


def within(f: jax.Array, *, ref, limit) -> jax.Array:
    """Whether the loss ``f`` keeps the divergence rule: finite and ``|f − f*| ≤ limit``
    (``limit = F·gap_0``). NaN compares false, so a non-finite loss breaks it."""
    return jnp.abs(f - ref) <= limit


def count(n: jax.Array, f: jax.Array, t: jax.Array, *, ref, limit) -> jax.Array:
    """Fold the loss ``f = f_t`` of reading ``t`` into the divergence rule's one per-update number.

    ``n`` (int32) is the number of *leading* readings ``0, 1, …`` that kept the rule: reading ``t``
    adds one exactly when all before it did (``n = t``) and it does too. After the readings
    ``0 … T`` a run is diverged ⇔ ``n ≤ T``, and then ``n`` is its divergence step ``t_d``. A
    compare, an and and an add, no select: the cheapest exact form of the rule.
    """
    return n + ((n == t) & within(f, ref=ref, limit=limit)).astype(jnp.int32)


def observe(w: Watch, f: jax.Array, t: jax.Array, *, ref, known_minimum: bool, converge_tol: float,
            steps: int) -> Watch:
    """Fold ``f = f_t`` (the loss after ``t`` updates) into the summaries of a run still alive
    (divergence is decided by :func:`count`, at every update)."""
    dt = w.f0.dtype
    gap = jnp.abs(f - ref)
    alive = ~w.diverged
    t32 = t.astype(jnp.int32)
    if known_minimum:
        hit = alive & (w.conv_step < 0) & (f - ref <= converge_tol)
        conv_step = jnp.where(hit, t32, w.conv_step)
        anchor = w.anchor
    else:
        improved = alive & (f < w.anchor - converge_tol)
        anchor = jnp.where(improved, f, w.anchor)
        conv_step = jnp.where(improved | (w.conv_step < 0), t32, w.conv_step)
    return w._replace(
        f_min=jnp.where(alive, jnp.minimum(w.f_min, f), w.f_min),
        f_last=jnp.where(alive, f, w.f_last),
        conv_step=conv_step, anchor=anchor,
        sum_f=w.sum_f + jnp.where(alive, jnp.minimum(f, w.f0), 0),
        n_alive=w.n_alive + alive.astype(dt),
        env1=jnp.where(alive & (t >= steps // 2) & (t < (3 * steps) // 4), jnp.maximum(w.env1, gap), w.env1),
        env2=jnp.where(alive & (t >= (3 * steps) // 4), jnp.maximum(w.env2, gap), w.env2),
    )


def finish(w: Watch, *, ref, known_minimum: bool, converge_tol: float, steps: int,
           diverge_factor: float = 1e6) -> dict[str, jax.Array]:
    """Metrics of one run from its final watch (every update's loss folded in by :func:`observe`)."""
    dt = w.f0.dtype
    tiny = jnp.finfo(dt).tiny
    T = steps
    if known_minimum:
        converged = ~w.diverged & (w.f_last - ref <= converge_tol)
        f_ref = ref
    else:
        window = max(1, T // 10)
        converged = ~w.diverged & (w.f_last - w.f_min <= converge_tol) & (w.conv_step <= T - window)
        f_ref = w.f_min
    outcome = jnp.where(w.diverged, Outcome.DIVERGED, jnp.where(converged, Outcome.CONVERGED, Outcome.BOUNDED))
    # signed score
    span = w.f0 - f_ref
    mean_f = w.sum_f / jnp.maximum(w.n_alive, 1)
    p = jnp.where(span > 0, jnp.clip((mean_f - f_ref) / jnp.where(span > 0, span, 1), 0, 1), 0)
    t_div = w.div_step.astype(dt)
    g_prev = jnp.maximum(jnp.abs(w.f_last - ref), tiny)  # f_last: the loss at t_d − 1 (the run was alive)
    g_d = jnp.abs(w.f_div - ref)
    frac = jnp.log(diverge_factor * w.gap0 / g_prev) / jnp.log(jnp.where(g_d > g_prev, g_d / g_prev, 2.0))
    overflowed = ~jnp.isfinite(g_d)  # inf or NaN: the limit g_d → ∞ of the interpolation
    frac = jnp.where(overflowed, 0.0, jnp.where(g_d > g_prev, jnp.clip(frac, 0, 1), 1.0))
    cross = jnp.where(w.div_step >= 1, t_div - 1 + frac, 0.0)
    score = jnp.where(w.diverged, 1 - cross / (T + 1), -(1 - p))
    # growth rate of the gap to the minimum
    g_alive = (jnp.log(w.env2) - jnp.log(w.env1)) / max(T - T // 2, 1) * 2
    gap_div = jnp.abs(w.f_div - ref)
    g_div = jnp.where(jnp.isfinite(gap_div), jnp.log(jnp.maximum(gap_div, tiny) / w.gap0) / jnp.maximum(t_div, 1),
                      jnp.inf)
    growth = jnp.where(w.diverged, g_div, g_alive)
    final = jnp.where(w.diverged, w.f_div, w.f_last)
    return {
        "initial_loss": w.f0,
        "final_loss": final,
        "min_loss": w.f_min,
        "diverged": w.diverged,
        "divergence_step": w.div_step,
        "convergence_step": jnp.where(converged | (known_minimum & (w.conv_step >= 0)), w.conv_step, -1),
        "outcome": outcome.astype(jnp.int8),
        "score": score,
        "growth_rate": growth,
    }
