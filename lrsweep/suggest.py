r"""A learning-rate recommendation: sweep, refine the critical value, compare with curvature and the LR finders.

For a loss and an optimizer, :func:`suggest`

1. sweeps the learning rate on a log grid (one compiled program, :func:`lrsweep.run`) and
   refines the divergence boundary (:mod:`lrsweep.boundary`): :math:`\eta_c`. Where the loss's
   minimum is known and the optimizer is sgd, the asymptotic estimate (the edge of geometric
   growth of the loss, ``critical_asymptotic``) is the largest *stable* learning rate. Otherwise
   what is measured is finite-horizon — the largest learning rate whose loss does not exceed
   ``diverge_factor`` × its initial gap within ``steps`` updates — and it is labelled so: on a
   network it can lie above the linear-stability limit :math:`2(1+\beta)/\lambda_{\max}` (the
   loss rises, the sharpness falls, training goes on: the catapult), so it is not called stable;
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
4. runs the LR range test (Smith 2015) on the same problem — ONE run whose learning rate ramps
   exponentially, :math:`\eta_t = \eta_{\min}(\eta_{\max}/\eta_{\min})^{t/(N-1)}`, recording the
   loss *before* each update as the finders do — and applies the rules of the two common LR
   finders to it, each with its own smoothing, stop and trimming (:func:`finder_suggestions`):

   ========================  =======================================================================
   rule                      where (source)
   ========================  =======================================================================
   fastai ``valley``         ``fastai/callback/schedule.py``: ``valley`` — the default of
                             ``Learner.lr_find`` (``suggest_funcs=(SuggestionMethod.Valley)``):
                             the longest decreasing run of the smoothed loss, taken about
                             :math:`\tfrac{1}{3}+\tfrac{1}{6}` of the way along it
   fastai ``minimum``        same file, ``minimum``: the learning rate at the lowest smoothed loss
                             over 10 (fastai v1's "min/10" advice, kept as a suggestion method)
   fastai ``steep``          same file, ``steep``: the steepest descent of the smoothed loss in
                             :math:`\log\eta` (fastai v1's ``min_grad_lr``)
   torch-lr-finder           ``torch_lr_finder/lr_finder.py``: ``LRFinder.plot(suggest_lr=True)`` —
   ``steepest``              ``np.gradient(losses).argmin()`` on the smoothed record
   ========================  =======================================================================

   Smoothing and stop: fastai records ``AvgSmoothLoss`` (``fastai/learner.py``): an exponential
   moving average, :math:`\beta = 0.98`, divided by :math:`1-\beta^{t}` (bias correction); its
   ``LRFinder.after_batch`` stops once the smoothed loss exceeds 4× its best; ``lr_find`` drops
   the first ``num_it // 10`` and the last 5 points and everything from the first NaN.
   torch-lr-finder (``LRFinder.range_test``) smooths with ``smooth_f = 0.05`` (no bias correction,
   the first loss taken as is), stops once the smoothed loss exceeds ``diverge_th = 5`` × its best,
   and ``plot`` drops the first 10 and the last 5 points. Each answer is reported as a multiple of
   the measured :math:`\eta_c`, above or below it as measured (docs/suggest.md has a table:
   with heavy ball 0.9 the ramp's loss turns up well *below* :math:`\eta_c`, so it is not true
   that the ramp always overshoots it). The ramp is one ``lax.scan``.

>>> s = suggest("quadratic", {"curvatures": [1.0, 10.0]}, steps=200, num=32, range_steps=200)
>>> round(s.critical, 3), round(s.sharpness_prediction, 3)   # 2 / λ_max = 0.2
(0.2, 0.2)
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from lrsweep import optimizers as _optimizers
from lrsweep.config import SweepError, from_dict
from lrsweep.training import update_fn

FRACTION = 0.5
ADAPTIVE_DIVERGE_FACTOR = 10.0  # Adam & co.: "diverged" = the loss overshoots to 10× its initial gap
RANGE_STOP = 4.0  # lrsweep's own reading of the raw ramp: it stops where the loss exceeds this many times its best
FASTAI_BETA, FASTAI_STOP = 0.98, 4.0  # fastai/learner.py AvgSmoothLoss(beta=0.98); LRFinder: 4 × best
TORCH_SMOOTH, TORCH_STOP, TORCH_SKIP = 0.05, 5.0, (10, 5)  # torch-lr-finder: smooth_f, diverge_th, plot's skips
FINDERS = ("fastai_valley", "fastai_minimum", "fastai_steep", "torch_steepest")


@dataclasses.dataclass(frozen=True)
class Suggestion:
    """What :func:`suggest` found. Learning rates are absolute; ``nan`` where not found."""

    loss: str
    optimizer: str
    critical: float  # η_c: the asymptotic estimate where it exists (sgd, known minimum), else the refined
    #                  finite-horizon boundary (largest lr not diverging within `steps`)
    critical_horizon: float  # the refined finite-horizon boundary itself
    critical_bracket: tuple[float, float]
    recommended: float  # fraction × critical
    fraction: float
    sharpness: float  # λ_max at the initial point
    sharpness_prediction: float  # 2(1+β)/λ_max for sgd, nan otherwise
    range_best: float  # range test: lr at its lowest raw loss before the stop
    range_stop: float  # range test: lr where the raw loss first exceeded 4× its best (nan: never)
    range_lag: float  # range_best / critical
    diverge_factor: float
    status: str  # the boundary search's status ("ok", "no-divergence", …)
    steps: int = 0
    asymptotic: bool = False  # critical is the asymptotic estimate (a stable learning rate)
    finders: dict = dataclasses.field(default_factory=dict)  # FINDERS -> learning rate

    def critical_label(self) -> str:
        """What ``critical`` is: a stable learning rate, or a finite-horizon one (and how it sits beside 2(1+β)/λ_max)."""
        if self.asymptotic:
            return "largest stable learning rate"
        return f"largest learning rate not diverging within {self.steps} steps (finite horizon)"

    def text(self) -> str:
        """The human report printed by ``lrsweep suggest``."""
        adaptive = self.optimizer != "sgd"
        lines = [f"lrsweep suggest: loss {self.loss}, optimizer {self.optimizer}"]
        if math.isnan(self.critical):
            lines.append(f"  critical learning rate : not found on the grid ({self.status}); widen --min/--max")
        else:
            lo, hi = self.critical_bracket
            lines.append(f"  {self.critical_label()} η_c : {self.critical:.4g}   (within the horizon: "
                         f"{self.critical_horizon:.4g}, refined bracket [{lo:.4g}, {hi:.4g}]; diverged = loss above "
                         f"{self.diverge_factor:g}× its initial gap)")
            if not adaptive and self.critical > self.sharpness_prediction * (1 + 1e-3):
                lines.append(("    stable only because the sharpness falls in training: it is above" if self.asymptotic
                              else "    not a stable learning rate: it is above") +
                             f" the linear-stability limit 2(1+β)/λ_max = {self.sharpness_prediction:.4g} at the "
                             "initial point — the loss can rise before the sharpness falls (catapult) and training "
                             "goes on at the edge of stability")
            why = ("a margin below the overshoot limit" if adaptive else
                   "the sharpest direction is damped fastest near half the limit (1 − ηλ_max = 0 at η = 1/λ_max), "
                   f"with a factor-{1 / self.fraction:g} margin against curvature growing in training")
            lines.append(f"  recommended learning rate    : {self.recommended:.4g}   "
                         f"({self.fraction:g} × η_c: {why})")
        if adaptive:
            lines.append(f"  sharpness λ_max at init      : {self.sharpness:.4g}; no curvature formula for "
                         f"{self.optimizer}: its update is bounded (≈ lr per coordinate), so 'divergence' is "
                         "overshoot — steps of size lr throwing the iterate out — not an exponential instability")
        else:
            lines.append(f"  sharpness prediction 2(1+β)/λ_max : {self.sharpness_prediction:.4g}   "
                         f"(λ_max = {self.sharpness:.4g} at init; η_c/predicted = "
                         f"{self.critical / self.sharpness_prediction:.3g})")
        lines.append("  LR range test (one run, lr ramped exponentially), each finder's rule on its loss:")
        names = {"fastai_valley": "fastai valley (lr_find's default)", "fastai_minimum": "fastai minimum (lowest/10)",
                 "fastai_steep": "fastai steep", "torch_steepest": "torch-lr-finder steepest gradient"}
        for key in FINDERS:
            lines.append(f"    {names[key]:<36}: {_versus(self.finders.get(key, math.nan), self.critical)}")
        lines.append(f"    {'lowest raw loss before a 4× rise':<36}: {_versus(self.range_best, self.critical)}")
        return "\n".join(lines)


def _versus(lr: float, critical: float) -> str:
    """``lr`` and where it sits beside η_c, as measured."""
    if not np.isfinite(lr):
        return "none (too few points before the stop)"
    if not np.isfinite(critical):
        return f"{lr:.4g}"
    r = lr / critical
    return f"{lr:.4g} = {r:.3g} × η_c ({'above' if r > 1 else 'below'} it)"


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


def range_test(program, *, lr_min: float, lr_max: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
    r"""The LR range test: ONE run with :math:`\eta_t = \eta_{\min} r^{t/(N-1)}`, :math:`r = \eta_{\max}/\eta_{\min}`.

    Returns ``(lr (N,), loss (N,))``: ``loss[t]`` is the loss at the parameters the update with
    ``lr[t]`` starts from (what fastai and torch-lr-finder record: the minibatch loss computed
    before the optimizer's step). The run goes all ``N`` updates (a non-finite loss stays so):
    each finder's stop rule only truncates the record, so it is applied afterwards
    (:func:`finder_suggestions`). One ``lax.scan``, compiled once, using the sweep's optimizer,
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

        step = update_fn(lambda p, _: value(p), opt)

        @jax.jit
        def run(p):
            return jax.lax.scan(step, (p, opt.init(p)), None, length=steps)[1]

        f = np.asarray(run(params), np.float64)
        lr = np.asarray(jax.vmap(schedule)(jnp.arange(steps)), np.float64)
    return lr, f


def range_answers(lr: np.ndarray, f: np.ndarray, stop: float = RANGE_STOP) -> tuple[float, float]:
    """lrsweep's own reading of the raw ramp: ``(lr at the lowest loss before the stop, lr of the stop)``, the stop
    being the first loss above ``stop`` × the best before it, or not finite (NaN: never).

    >>> range_answers(np.array([1.0, 2.0, 4.0, 8.0, 16.0]), np.array([3.0, 1.0, 2.0, 9.0, 0.5]))
    (2.0, 8.0)
    """
    finite = np.isfinite(f)
    running = np.minimum.accumulate(np.where(finite, f, np.inf))
    blown = ~finite | (f > stop * np.concatenate([[np.inf], running[:-1]]))
    idx = np.flatnonzero(blown)
    n = int(idx[0]) if len(idx) else len(f)
    seen = np.where(finite[:n], f[:n], np.inf)
    best = float(lr[int(np.argmin(seen))]) if np.isfinite(seen).any() else float("nan")
    return best, (float(lr[idx[0]]) if len(idx) else float("nan"))


# ----------------------------------------------------------------------------------- the LR finders' rules


def smooth_debiased(losses: np.ndarray, beta: float = FASTAI_BETA) -> np.ndarray:
    r"""fastai's ``AvgSmoothLoss``: :math:`v_t = \beta v_{t-1} + (1-\beta)\ell_t` (:math:`v_0 = 0`), reported as
    :math:`v_t / (1 - \beta^t)` (bias correction), :math:`t = 1, 2, \ldots`.

    >>> smooth_debiased(np.array([2.0, 2.0, 2.0])).tolist()   # a constant loss stays itself
    [2.0, 2.0, 2.0]
    """
    out, v = np.empty(len(losses)), 0.0
    for t, x in enumerate(np.asarray(losses, np.float64), start=1):
        v = beta * v + (1 - beta) * x
        out[t - 1] = v / (1 - beta**t)
    return out


def smooth_plain(losses: np.ndarray, smooth_f: float = TORCH_SMOOTH) -> np.ndarray:
    r"""torch-lr-finder's smoothing: :math:`s_0 = \ell_0`, :math:`s_t = f\,\ell_t + (1-f)\,s_{t-1}` (:math:`f` =
    ``smooth_f``; no bias correction).

    >>> smooth_plain(np.array([1.0, 3.0]), 0.5).tolist()
    [1.0, 2.0]
    """
    out = np.asarray(losses, np.float64).copy()
    for t in range(1, len(out)):
        out[t] = smooth_f * out[t] + (1 - smooth_f) * out[t - 1]
    return out


def stopped(smoothed: np.ndarray, factor: float) -> int:
    """How many points a finder records: up to and including the first whose smoothed loss exceeds ``factor``
    × the best so far (both tools record the point, then stop), or all of them. A NaN never compares greater,
    so it does not stop the run (as in both tools); the NaN is dropped afterwards.

    >>> stopped(np.array([3.0, 1.0, 2.0, 5.0, 1.0]), 4.0)
    4
    """
    best = np.minimum.accumulate(np.where(np.isnan(smoothed), np.inf, smoothed))
    over = np.flatnonzero(smoothed > factor * best)
    return int(over[0]) + 1 if len(over) else len(smoothed)


def _before_nan(lr: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bad = np.flatnonzero(np.isnan(f))
    k = int(bad[0]) if len(bad) else len(f)
    return lr[:k], f[:k]


def fastai_record(lr: np.ndarray, losses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What fastai's suggestion functions see: smoothed (:func:`smooth_debiased`), stopped at 4 × best, then
    ``lrs[num_it//10:-5]`` with ``num_it`` the ramp's length, cut at the first NaN (``Learner.lr_find``)."""
    s = smooth_debiased(losses)
    n = stopped(s, FASTAI_STOP)
    num_it = len(losses)
    return _before_nan(lr[:n][num_it // 10:-5], s[:n][num_it // 10:-5])


def torch_record(lr: np.ndarray, losses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What torch-lr-finder's ``plot`` suggests from: smoothed (:func:`smooth_plain`), stopped at 5 × best,
    then ``[skip_start:-skip_end]`` = ``[10:-5]``. (Non-finite losses stay in its record; we cut at the first NaN
    so that the gradient is defined.)"""
    s = smooth_plain(losses)
    n = stopped(s, TORCH_STOP)
    a, b = TORCH_SKIP
    return _before_nan(lr[:n][a:-b], s[:n][a:-b])


def fastai_valley(lrs: np.ndarray, losses: np.ndarray) -> float:
    """fastai's ``valley``: the longest decreasing subsequence of the loss (as fastai tracks its start and end),
    and the learning rate :math:`\\lfloor k/3 \\rfloor + \\lfloor k/6 \\rfloor` points into it (:math:`k` its span).

    fastai's bookkeeping starts the valley one point early (``max_start = max_end - lds[max_end]``, one
    less than the run's first index); it is kept, so the answers are fastai's own:

    >>> fastai_valley(np.arange(1.0, 11.0), np.array([5, 4, 3, 2, 1, 0.5, 0.4, 0.3, 2, 9.0]))
    3.0
    """
    n = len(losses)
    if n == 0:
        return math.nan
    lds, max_start, max_end = [1] * n, 0, 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end, max_start = i, i - lds[i]
    sections = (max_end - max_start) / 3
    return float(lrs[max_start + int(sections) + int(sections / 2)])


def fastai_minimum(lrs: np.ndarray, losses: np.ndarray) -> float:
    """fastai's ``minimum``: the learning rate at the lowest (smoothed) loss, divided by 10."""
    return float(lrs[int(np.argmin(losses))]) / 10 if len(losses) else math.nan


def fastai_steep(lrs: np.ndarray, losses: np.ndarray) -> float:
    r"""fastai's ``steep``: where :math:`(\ell_{i+1} - \ell_i)/(\ln\eta_{i+1} - \ln\eta_i)` is most negative
    (the learning rate at the start of that step)."""
    if len(losses) < 2:
        return math.nan
    grads = np.diff(losses) / np.diff(np.log(lrs))
    return float(lrs[int(np.argmin(grads))])


def torch_steepest(lrs: np.ndarray, losses: np.ndarray) -> float:
    """torch-lr-finder's suggestion: ``lrs[np.gradient(losses).argmin()]`` (central differences in the index)."""
    if len(losses) < 2:
        return math.nan
    return float(lrs[int(np.argmin(np.gradient(np.asarray(losses))))])


def finder_suggestions(lr: np.ndarray, losses: np.ndarray) -> dict[str, float]:
    """Each finder's suggestion (:data:`FINDERS`) from one ramp's raw record (:func:`range_test`)."""
    fl, fs = fastai_record(lr, losses)
    tl, ts = torch_record(lr, losses)
    return {"fastai_valley": fastai_valley(fl, fs), "fastai_minimum": fastai_minimum(fl, fs),
            "fastai_steep": fastai_steep(fl, fs), "torch_steepest": torch_steepest(tl, ts)}


# ----------------------------------------------------------------------------------- the command


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
    ok = str(row["status"]).startswith("ok")
    horizon = float(row["critical"]) if ok else float("nan")
    asymptotic = float(row.get("critical_asymptotic", np.nan))
    # the asymptotic estimate extrapolates a linear (exponential) instability: SGD with a known minimum only
    use_asymptotic = ok and np.isfinite(asymptotic) and optimizer == "sgd"
    critical = asymptotic if use_asymptotic else horizon
    lam = float(row.get("sharpness", np.nan))
    pred = float(row.get("sharpness_prediction", np.nan))
    lr, f = range_test(program, lr_min=lr_min, lr_max=lr_max, steps=range_steps)
    best, stop = range_answers(lr, f)
    return Suggestion(loss=loss, optimizer=optimizer, critical=critical, critical_horizon=horizon,
                      diverge_factor=float(diverge_factor),
                      critical_bracket=(float(row["lower"]), float(row["upper"])),
                      recommended=fraction * critical, fraction=fraction, sharpness=lam, sharpness_prediction=pred,
                      range_best=best, range_stop=stop, range_lag=best / critical, status=str(row["status"]),
                      steps=steps, asymptotic=bool(use_asymptotic), finders=finder_suggestions(lr, f))
