r"""A learning-rate recommendation: sweep, refine the critical value, compare with curvature and the LR range test.

For a loss and an optimizer, :func:`suggest`

1. sweeps the learning rate on a log grid (one compiled program, :func:`lrsweep.run`) and
   refines the divergence boundary (:mod:`lrsweep.boundary`): :math:`\eta_c`, the largest
   learning rate that does not diverge within the horizon;
2. recommends :math:`\eta = \phi\,\eta_c` with :math:`\phi` = ``fraction`` (default 1/2): at
   :math:`\eta_c` the slowest stable mode of GD is barely contracting (on a quadratic the
   top mode's factor is :math:`|1 - \eta\lambda_{\max}| \to 1`), and half of it is the
   learning rate that damps the sharpest direction fastest (:math:`1 - \eta\lambda_{\max} = 0`
   at :math:`\eta = 1/\lambda_{\max}`) while keeping a factor-2 margin against the curvature
   growing during training;
3. measures the sharpness :math:`\lambda_{\max}` at the initial point (:mod:`lrsweep.curvature`)
   and its prediction :math:`2(1+\beta)/\lambda_{\max}` (SGD / heavy ball only: Adam and other
   adaptive methods have no curvature formula — their update is bounded by about
   :math:`\eta` per coordinate, so "divergence" there is overshoot, the iterate thrown out
   by steps of size :math:`\eta`, not an exponential instability);
4. runs the classic LR range test (Smith 2015, fastai's ``lr_find``) on the same problem:
   ONE run whose learning rate ramps exponentially,
   :math:`\eta_t = \eta_{\min}(\eta_{\max}/\eta_{\min})^{t/(N-1)}`, stopped when the loss
   exceeds 4× its best (or stops being finite). Its answers are the learning rate at the
   best loss and at the stop; :func:`suggest` reports both and ``range_lag = η_best / η_c``.
   The loss reacts to an unstable learning rate only once the unstable mode, damped while the
   rate was small, has grown back to a visible size, so the ramp *lags* behind the critical
   value and its answer overshoots it. The ramp is one ``lax.scan``.

>>> s = suggest("quadratic", {"curvatures": [1.0, 10.0]}, steps=200, num=32, range_steps=200)
>>> round(s.critical, 3), round(s.sharpness_prediction, 3)   # 2 / λ_max = 0.2
(0.2, 0.2)
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrsweep import optimizers as _optimizers
from lrsweep.config import SweepError, from_dict

FRACTION = 0.5
ADAPTIVE_DIVERGE_FACTOR = 10.0  # Adam & co.: "diverged" = the loss overshoots to 10× its initial gap
RANGE_STOP = 4.0  # the range test stops when the loss exceeds this many times its best


@dataclasses.dataclass(frozen=True)
class Suggestion:
    """What :func:`suggest` found. Learning rates are absolute; ``nan`` where not found."""

    loss: str
    optimizer: str
    critical: float  # largest stable learning rate: the asymptotic estimate where the minimum is known, else the
    #                  refined finite-horizon boundary (largest lr not diverging within `steps`)
    critical_horizon: float  # the refined finite-horizon boundary itself
    critical_bracket: tuple[float, float]
    recommended: float  # fraction × critical
    fraction: float
    sharpness: float  # λ_max at the initial point
    sharpness_prediction: float  # 2(1+β)/λ_max for sgd, nan otherwise
    range_best: float  # range test: lr at its lowest loss
    range_stop: float  # range test: lr where the loss first exceeded 4× its best (nan: never)
    range_lag: float  # range_best / critical: > 1 when the ramp's loss reacts late and overshoots
    diverge_factor: float
    status: str  # the boundary search's status ("ok", "no-divergence", …)

    def text(self) -> str:
        """The human report printed by ``lrsweep suggest``."""
        adaptive = self.optimizer != "sgd"
        lines = [f"lrsweep suggest: loss {self.loss}, optimizer {self.optimizer}"]
        if math.isnan(self.critical):
            lines.append(f"  largest stable learning rate : not found on the grid ({self.status}); widen --min/--max")
        else:
            lo, hi = self.critical_bracket
            lines.append(f"  largest stable learning rate : {self.critical:.4g}   (within the horizon: "
                         f"{self.critical_horizon:.4g}, refined bracket [{lo:.4g}, {hi:.4g}]; diverged = loss above "
                         f"{self.diverge_factor:g}× its initial gap)")
            why = ("a margin below the overshoot limit" if adaptive else
                   "the sharpest direction is damped fastest near half the limit (1 − ηλ_max = 0 at η = 1/λ_max), "
                   f"with a factor-{1 / self.fraction:g} margin against curvature growing in training")
            lines.append(f"  recommended learning rate    : {self.recommended:.4g}   "
                         f"({self.fraction:g} × critical: {why})")
        if adaptive:
            lines.append(f"  sharpness λ_max at init      : {self.sharpness:.4g}; no curvature formula for "
                         f"{self.optimizer}: its update is bounded (≈ lr per coordinate), so 'divergence' is "
                         "overshoot — steps of size lr throwing the iterate out — not an exponential instability")
        else:
            lines.append(f"  sharpness prediction 2(1+β)/λ_max : {self.sharpness_prediction:.4g}   "
                         f"(λ_max = {self.sharpness:.4g} at init; measured/predicted = "
                         f"{self.critical / self.sharpness_prediction:.3g})")
        stop = "never (loss stayed below 4× its best)" if math.isnan(self.range_stop) else f"{self.range_stop:.4g}"
        lines.append(f"  LR range test (one ramped run, stop at loss > {RANGE_STOP:g}× best): lr at best loss "
                     f"{self.range_best:.4g}, lr at stop {stop}")
        if self.range_lag > 1 and adaptive:
            lines.append(f"    its answer (lr at best loss) is {self.range_lag:.3g}× the largest constant lr "
                         "that does not overshoot")
        elif self.range_lag > 1:
            lines.append(f"    its answer (lr at best loss) is {self.range_lag:.3g}× the critical value: the loss "
                         "reacts to an unstable lr only once the unstable mode, damped while the lr was small, "
                         "has regrown — the ramp lags behind and overshoots")
        elif np.isfinite(self.range_lag):
            lines.append(f"    its answer (lr at best loss) is {self.range_lag:.3g}× the critical value: "
                         f"{1 / self.range_lag:.3g}× below the largest stable constant learning rate")
        return "\n".join(lines)


def _spec(loss: str, loss_params: dict, optimizer: str, opt_params: dict, *, steps: int, lr_min: float,
          lr_max: float, num: int, dtype: str, diverge_factor: float, init: dict | None):
    raw = {"name": "suggest", "steps": steps, "dtype": dtype,
           "loss": {"name": loss, **loss_params},
           "optimizer": {"name": optimizer, **opt_params},
           "axes": {"learning_rate": {"min": lr_min, "max": lr_max, "num": num, "scale": "log"}},
           "criteria": {"diverge_factor": diverge_factor},
           "boundary": {"axis": "learning_rate", "rtol": 1e-4}}
    if init:
        raw["init"] = dict(init)
    return from_dict(raw, source=f"lrsweep suggest {loss}")


def range_test(program, *, lr_min: float, lr_max: float, steps: int, stop: float = RANGE_STOP
               ) -> tuple[np.ndarray, np.ndarray]:
    r"""The LR range test: ONE run with :math:`\eta_t = \eta_{\min} r^{t/(N-1)}`, :math:`r = \eta_{\max}/\eta_{\min}`.

    Returns ``(lr (N,), loss (N,))``: ``loss[t]`` is the loss *after* the update with ``lr[t]``;
    once the loss exceeds ``stop`` × its best so far (or is not finite) the run is frozen and the
    remaining entries are NaN. One ``lax.scan``, compiled once, using the sweep's optimizer,
    loss, initial point and dtype.
    """
    spec = program.spec
    with jax.enable_x64(program.x64):
        dt = program.dtype
        v = program.setup.defaults()
        params = program.setup.initial_params(v)
        ratio = lr_max / lr_min
        schedule = lambda count: jnp.asarray(lr_min, dt) * jnp.asarray(ratio, dt) ** (  # noqa: E731
            jnp.asarray(count, dt) / max(steps - 1, 1))
        hp = {k: x for k, x in spec.optimizer.params.items() if k != "learning_rate"}
        opt = _optimizers.build(spec.optimizer.builder, schedule, hp)
        value = program.loss_of(v)

        def step(carry, t):
            p, s, best, done = carry
            u, s2 = opt.update(jax.grad(value)(p), s, p)
            p2 = optax.apply_updates(p, u)
            f = value(p2)
            blown = ~jnp.isfinite(f) | (f > stop * best)
            out = jnp.where(done, jnp.nan, f)
            keep = lambda a, b: jax.tree.map(lambda x, y: jnp.where(done, x, y), a, b)  # noqa: E731
            return (keep(p, p2), keep(s, s2), jnp.where(done, best, jnp.minimum(best, f)), done | blown), out

        @jax.jit
        def run(p):
            f0 = value(p)
            return jax.lax.scan(step, (p, opt.init(p), f0, jnp.asarray(False)), jnp.arange(steps))[1]

        f = np.asarray(run(params), np.float64)
        lr = np.asarray(jax.vmap(schedule)(jnp.arange(steps)), np.float64)
    return lr, f


def range_answers(lr: np.ndarray, f: np.ndarray, stop: float = RANGE_STOP) -> tuple[float, float]:
    """``(lr at the lowest loss, lr where the loss first exceeded stop × its best or was not finite)``.

    >>> range_answers(np.array([1.0, 2.0, 4.0, 8.0]), np.array([3.0, 1.0, 2.0, 9.0]))
    (2.0, 8.0)
    """
    finite = np.isfinite(f)
    best = float(lr[np.nanargmin(np.where(finite, f, np.inf))]) if finite.any() else float("nan")
    running = np.minimum.accumulate(np.where(finite, f, np.inf))
    blown = ~finite | (f > stop * np.concatenate([[np.inf], running[:-1]]))
    # the first NaN after the stop is the frozen tail; the stop itself is the first blown entry
    idx = np.flatnonzero(blown)
    return best, (float(lr[idx[0]]) if len(idx) else float("nan"))


def suggest(loss: str, loss_params: dict | None = None, optimizer: str = "sgd", opt_params: dict | None = None, *,
            steps: int = 200, lr_min: float = 1e-6, lr_max: float = 1e2, num: int = 64, dtype: str = "float32",
            fraction: float = FRACTION, diverge_factor: float | None = None, range_steps: int = 300,
            init: dict | None = None) -> Suggestion:
    """Sweep, refine, and compare (see the module docstring). Bad input raises :class:`SweepError`."""
    from lrsweep.engine import Program
    from lrsweep.pipeline import run

    if not 0 < fraction <= 1:
        raise SweepError("lrsweep suggest", "--fraction", "a number in (0, 1]", fraction)
    if not 0 < lr_min < lr_max:
        raise SweepError("lrsweep suggest", "--min/--max", "0 < min < max", f"{lr_min}, {lr_max}")
    if diverge_factor is None:  # adaptive methods overshoot (bounded update) rather than blow up
        diverge_factor = 1e4 if optimizer == "sgd" else ADAPTIVE_DIVERGE_FACTOR
    spec = _spec(loss, dict(loss_params or {}), optimizer, dict(opt_params or {}), steps=steps, lr_min=lr_min,
                 lr_max=lr_max, num=num, dtype=dtype, diverge_factor=diverge_factor, init=init)
    program = Program(spec)
    result = run(spec, progress=False)
    row = result.boundary.iloc[0]
    ok = row["status"] == "ok"
    horizon = float(row["critical"]) if ok else float("nan")
    asymptotic = float(row.get("critical_asymptotic", np.nan))
    # the asymptotic estimate extrapolates a linear (exponential) instability: SGD only
    critical = asymptotic if ok and np.isfinite(asymptotic) and optimizer == "sgd" else horizon
    lam = float(row.get("sharpness", np.nan))
    pred = float(row.get("sharpness_prediction", np.nan))
    lr, f = range_test(program, lr_min=lr_min, lr_max=lr_max, steps=range_steps)
    best, stop = range_answers(lr, f)
    return Suggestion(loss=loss, optimizer=optimizer, critical=critical, critical_horizon=horizon,
                      diverge_factor=float(diverge_factor),
                      critical_bracket=(float(row["lower"]), float(row["upper"])),
                      recommended=fraction * critical, fraction=fraction, sharpness=lam, sharpness_prediction=pred,
                      range_best=best, range_stop=stop, range_lag=best / critical, status=str(row["status"]))


def _pairs(items: list[str], option: str) -> dict[str, Any]:
    import tomllib

    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise SweepError("lrsweep suggest", option, "KEY=VALUE", item)
        try:
            out[key.strip()] = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = text  # a bare word: a string (activation = relu)
    return out


def cli(args) -> int:
    """``lrsweep suggest LOSS [--set k=v] [--optimizer NAME] [--opt k=v] …``: print the recommendation."""
    try:
        s = suggest(args.loss, _pairs(args.set, "--set"), args.optimizer, _pairs(args.opt, "--opt"),
                    steps=args.steps, lr_min=args.min, lr_max=args.max, num=args.num, dtype=args.dtype,
                    fraction=args.fraction, range_steps=args.range_steps,
                    init=_pairs(args.init, "--init") or None)
    except (SweepError, ValueError) as e:
        print(f"lrsweep: error: {e}", file=sys.stderr)
        return 2
    print(s.text())
    return 0
