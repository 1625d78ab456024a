"""Throughput of lrsweep's engine against the ways one would write a learning-rate sweep by hand.

    lrsweep bench [--quick] [--cases quad1d,quad16d_hb] [--sizes 10000,100000] [--steps 1000]
                  [--repeats 5] [--json benchmarks/results/throughput.json]

(``python benchmarks/throughput.py …`` is the same command.)

The unit is the *configuration-step*: one optimizer update of one configuration. Every figure is
``configurations × steps / wall seconds``, the median over ``--repeats`` (default 5) timed samples made
after one warm-up call, with compilation excluded (and reported separately). The methods of one
(case, N) are timed in interleaved rounds, so a slow spell of a shared machine hits them all alike.
Outputs are always brought to the host (``np.asarray`` / ``jax.block_until_ready``) inside the timed
region.

Cases (float32, divergence rule of lrsweep: loss non-finite or ``f_t > 10⁶ f_0``, the run then frozen):

* ``quad1d``: f = x², gradient descent (``optax.sgd``), x₀ = −1, learning rates log-spaced 1e-3 … 2,
  1000 steps; N = 10⁴, 10⁵ (10⁶ unless ``--quick``).
* ``quad16d_hb``: lrsweep's ``quadratic`` loss with ``condition_number=1e4, dim=16`` (curvatures
  log-spaced 1 … 10⁴), standard-normal x₀ (seed 0, the point lrsweep draws), heavy ball
  ``optax.sgd(lr, momentum=0.9)``, learning rates log-spaced 1e-6 … 1e-2 (the boundary
  2(1+β)/λ_max = 3.8e-4 lies inside), 1000 steps; N = 10⁴ (10⁵ unless ``--quick``).

Methods (all with the same update and divergence check):

* ``lrsweep``: ``Program(spec).evaluate(grid)``, spec from ``lrsweep.from_dict`` (``boundary.max_rounds=0``),
  default chunk (16384, capped at the grid size); for ``quad1d`` also chunks 4096 and 65536.
* ``a_step_loop``: a Python loop over steps calling a jitted optax step, one configuration at a time.
* ``b_config_loop``: a Python loop over configurations, each one jitted ``lax.scan`` over all steps
  (compiled once, the learning rate a traced argument).
* ``c_numpy``: hand-vectorised NumPy, all configurations in one (N, d) array, a Python loop over steps.
* ``e_vmap_scan``: a hand-written ``jax.jit(jax.vmap(scan))`` over all N configurations at once, plain
  ``optax.sgd`` inside, per-step loss and divergence flag in the carry -- the ceiling for lrsweep.

(a), (b) and (c) time a subset (of steps and/or configurations) and report the rate; the subset is
recorded in the JSON (``configs_timed``, ``steps_timed``). Numbers are reported, never asserted;
``tests/test_bench.py`` checks at tiny sizes that (a), (b), (c) and (e) give the engine's divergence flag
and final loss f(x_T) for every configuration.

The machine's limits are measured in the same run (:func:`machine_limits`): float32 and float64 matmul
peak FLOP/s and triad memory bandwidth, written under ``machine_limits`` in the JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lrsweep
from lrsweep import grid as lgrid
from lrsweep.engine import Program

DIVERGE_FACTOR = 1e6  # lrsweep's default criteria.diverge_factor
STEPS = 1000
DEFAULT_CHUNK = 16384


# ----------------------------------------------------------------------------- cases


@dataclass
class Case:
    key: str
    title: str
    curvatures: np.ndarray   # f(x) = ½ Σ c_i x_i²
    momentum: float | None
    lr_min: float
    lr_max: float
    sizes: tuple[int, ...]
    loss: dict               # lrsweep [loss] table
    init: dict               # lrsweep [init] table
    chunk_variants: tuple[int, ...] = ()
    steps: int = STEPS

    @property
    def dim(self) -> int:
        return len(self.curvatures)

    def spec(self, n: int) -> lrsweep.SweepSpec:
        opt = {"name": "sgd"}
        if self.momentum is not None:
            opt["momentum"] = self.momentum
        return lrsweep.from_dict({
            "name": f"bench-{self.key}-{n}",
            "steps": self.steps,
            "dtype": "float32",
            "loss": dict(self.loss),
            "init": dict(self.init),
            "optimizer": opt,
            "axes": {"learning_rate": {"min": self.lr_min, "max": self.lr_max, "num": n, "scale": "log"}},
            "criteria": {"diverge_factor": DIVERGE_FACTOR},
            "boundary": {"max_rounds": 0},
        })


def make_cases(quick: bool, steps: int = STEPS, sizes: tuple[int, ...] | None = None,
               keys: tuple[str, ...] | None = None) -> list[Case]:
    """The benchmark cases; ``sizes`` replaces every case's N list, ``keys`` selects cases by key."""
    kappa, d = 1e4, 16
    cases = [
        Case("quad1d", "f=x^2, GD", np.array([2.0]), None, 1e-3, 2.0,
             (10_000, 100_000) if quick else (10_000, 100_000, 1_000_000),
             {"name": "quadratic", "curvatures": [2.0]}, {"points": [[-1.0]]},
             chunk_variants=(4096, 65536), steps=steps),
        Case("quad16d_hb", "16-D quadratic k=1e4, heavy ball 0.9", kappa ** (np.arange(d) / (d - 1)), 0.9,
             1e-6, 1e-2, (10_000,) if quick else (10_000, 100_000),
             {"name": "quadratic", "condition_number": kappa, "dim": d}, {"seed": 0}, steps=steps),
    ]
    if keys:
        unknown = set(keys) - {c.key for c in cases}
        if unknown:
            raise lrsweep.SweepError("bench", "--cases", f"some of {[c.key for c in cases]}", sorted(unknown))
        cases = [c for c in cases if c.key in keys]
    if sizes:
        for c in cases:
            c.sizes = tuple(sizes)
    return cases


# ----------------------------------------------------------------------------- timing


MIN_SAMPLE_S = 0.05  # a timed sample repeats a short call until it lasts about this long


@dataclass
class Bench:
    """One method ready to time: ``call()`` runs ``configs × steps`` configuration-steps and blocks."""

    method: str
    call: Callable[[], object]
    configs: int
    steps: int
    compile_s: float
    extra: Callable[[], dict] = dict  # numbers read after the timing (outcomes, agreement …)
    inner: int = 1
    times: list = None


def measure(benches: list[Bench], repeats: int) -> None:
    """Seconds per call of every bench: one warm-up call each, then ``repeats`` rounds.

    Rounds interleave the methods (in a rotating order), so that a slow spell of this shared machine
    falls on all of them alike and the ratios stay meaningful. A call shorter than ``MIN_SAMPLE_S`` is
    repeated ``inner`` times within its sample (sample time / inner).
    """
    for b in benches:
        t0 = time.perf_counter()
        b.call()
        warm = time.perf_counter() - t0
        b.inner = max(1, min(1000, int(np.ceil(MIN_SAMPLE_S / max(warm, 1e-6)))))
        b.times = []
    for r in range(repeats):
        for i in range(len(benches)):
            b = benches[(i + r) % len(benches)]
            t0 = time.perf_counter()
            for _ in range(b.inner):
                b.call()
            b.times.append((time.perf_counter() - t0) / b.inner)


def aot(fn, *args) -> tuple[Callable, float]:
    """jit + lower + compile ahead of time; returns the executable and the seconds it took."""
    t0 = time.perf_counter()
    exe = jax.jit(fn).lower(*args).compile()
    return exe, time.perf_counter() - t0


# ----------------------------------------------------------------------------- the shared update


def make_update(case: Case, x0: np.ndarray):
    """``(init, update, run_one, final)`` of one configuration (plain optax.sgd, heavy ball if momentum).

    ``init(lr) -> carry``, ``update(carry, lr) -> carry``, ``run_one(lr) -> (f(x_T), diverged)`` (a
    ``lax.scan`` over ``case.steps`` updates), ``final(carry) -> (f(x_T), diverged)``.
    carry = (x, opt_state, f0, f_last, diverged). A diverged run is frozen, as in lrsweep; the rule is
    ``f`` non-finite or ``f > 10⁶ f₀``, checked before every update and at the last point.
    """
    c = jnp.asarray(case.curvatures, jnp.float32)
    x0 = jnp.asarray(x0, jnp.float32)

    def loss(x):  # written as lrsweep's quadratic writes it: x**2 underflows to 0 where c*x*x goes subnormal
        return 0.5 * jnp.sum(c * x**2)

    value_and_grad = jax.value_and_grad(loss)

    def opt(lr):
        return optax.sgd(lr, momentum=case.momentum)

    def init(lr):
        f0 = loss(x0)
        return x0, opt(lr).init(x0), f0, f0, jnp.asarray(False)

    def update(carry, lr):
        x, state, f0, f_last, diverged = carry
        f, g = value_and_grad(x)
        diverged = diverged | ~jnp.isfinite(f) | (f > DIVERGE_FACTOR * f0)
        updates, new_state = opt(lr).update(g, state, x)
        new_x = optax.apply_updates(x, updates)
        x = jnp.where(diverged, x, new_x)
        state = jax.tree.map(lambda a, b: jnp.where(diverged, a, b), state, new_state)
        f_last = jnp.where(diverged, f_last, f)
        return x, state, f0, f_last, diverged

    def run_one(lr, steps=case.steps):
        carry, _ = jax.lax.scan(lambda cy, _: (update(cy, lr), None), init(lr), None, length=steps)
        return final(carry)

    def final(carry):
        """(f(x_T), diverged) as lrsweep reports them: the last point checked too; f frozen once diverged."""
        x, _, f0, f_last, diverged = carry
        f = loss(x)
        diverged = diverged | ~jnp.isfinite(f) | (f > DIVERGE_FACTOR * f0)
        return jnp.where(diverged, f_last, f), diverged

    return init, update, run_one, final


# ----------------------------------------------------------------------------- methods


def row(case: Case, n: int, b: Bench) -> dict:
    median_s = statistics.median(b.times)
    return {"case": case.key, "N": n, "method": b.method,
            "config_steps_per_s": b.configs * b.steps / median_s, "median_s": median_s, "times_s": b.times,
            "calls_per_sample": b.inner, "spread": max(b.times) / min(b.times), "compile_s": b.compile_s,
            "configs_timed": b.configs, "steps_timed": b.steps, **b.extra()}


def bench_lrsweep(case: Case, n: int) -> tuple[list[Bench], np.ndarray, np.ndarray, np.ndarray]:
    """lrsweep at the default chunk and the case's chunk variants; also its outcomes and x₀ (for the others)."""
    spec = case.spec(n)
    values = lgrid.configurations(spec)
    benches, seen = [], set()
    for chunk in (None, *case.chunk_variants):
        # Program(spec) uses run.chunk_size capped at the grid size; a variant is capped the same way.
        prog = Program(spec) if chunk is None else Program(spec, chunk_size=min(chunk, spec.size))
        if prog.chunk_size in seen:
            continue  # the same program as one already measured (chunk ≥ N)
        seen.add(prog.chunk_size)
        prog.compile()
        out = {"r": prog.evaluate(values)}

        def call(prog=prog, out=out):
            out["r"] = prog.evaluate(values)

        def extra(prog=prog, out=out):
            return {"chunk_size": prog.chunk_size, "n_chunks": lgrid.n_chunks(n, prog.chunk_size),
                    "compiles": prog.compiles, "diverged_fraction": float(np.mean(out["r"]["diverged"]))}

        name = "lrsweep" if chunk is None else f"lrsweep_chunk{chunk}"
        benches.append(Bench(name, call, n, case.steps, prog.compile_seconds, extra))
        if chunk is None:
            diverged = np.asarray(out["r"]["diverged"], bool)
            x0 = np.asarray(prog.initial_point({}), np.float32).reshape(-1)
    return benches, diverged, x0, values["learning_rate"]


def bench_step_loop(case, x0, lrs, n_configs=3, steps=200) -> Bench:
    steps = min(steps, case.steps)
    init, update, _, _ = make_update(case, x0)
    lr0 = jnp.float32(lrs[0])
    step, compile_s = aot(update, init(lr0), lr0)
    picks = np.linspace(0, len(lrs) - 1, n_configs).astype(int)
    lr_list = [jnp.float32(lrs[i]) for i in picks]

    def call():
        for lr in lr_list:
            carry = init(lr)
            for _ in range(steps):
                carry = step(carry, lr)
            jax.block_until_ready(carry)

    return Bench("a_step_loop", call, n_configs, steps, compile_s)


def bench_config_loop(case, x0, lrs, n_configs=50) -> Bench:
    n_configs = min(n_configs, len(lrs))
    _, _, run_one, _ = make_update(case, x0)
    exe, compile_s = aot(run_one, jnp.float32(lrs[0]))
    picks = np.linspace(0, len(lrs) - 1, n_configs).astype(int)
    lr_list = [np.float32(lrs[i]) for i in picks]

    def call():
        for lr in lr_list:
            f, d = exe(lr)
            np.asarray(f), np.asarray(d)

    return Bench("b_config_loop", call, n_configs, case.steps, compile_s)


def numpy_sweep(case, x0, lrs, steps):
    n, d = len(lrs), case.dim
    c = case.curvatures.astype(np.float32)
    beta = np.float32(case.momentum) if case.momentum is not None else None
    x = np.tile(np.asarray(x0, np.float32), (n, 1))
    m = np.zeros_like(x)
    lr = np.asarray(lrs, np.float32)[:, None]
    f0 = 0.5 * np.sum(c * x**2, axis=1)
    bound = np.float32(DIVERGE_FACTOR) * f0
    f_last = f0.copy()
    diverged = np.zeros(n, bool)
    with np.errstate(all="ignore"):
        for _ in range(steps):
            g = c * x
            f = 0.5 * np.sum(c * x**2, axis=1)
            diverged |= ~np.isfinite(f) | (f > bound)
            if beta is None:
                new_x = x - lr * g
            else:
                new_m = g + beta * m
                new_x = x - lr * new_m
                m = np.where(diverged[:, None], m, new_m)
            x = np.where(diverged[:, None], x, new_x)
            f_last = np.where(diverged, f_last, f)
        f = 0.5 * np.sum(c * x**2, axis=1)  # the last point is checked too, as lrsweep does
        diverged |= ~np.isfinite(f) | (f > bound)
        f_last = np.where(diverged, f_last, f)
    assert x.dtype == np.float32 and d == x.shape[1]
    return f_last, diverged


def bench_numpy(case, x0, lrs, lrsweep_diverged) -> Bench:
    n = len(lrs)
    # A subset of the steps at large N keeps the run short; the rate per step does not depend on it.
    steps = int(max(min(20, case.steps), min(case.steps, 2e7 // (n * case.dim))))
    out = {}

    def call():
        out["r"] = numpy_sweep(case, x0, lrs, steps)

    def extra():
        if steps < case.steps:
            return {}
        d = out["r"][1]  # the whole run: check it against lrsweep
        return {"diverged_fraction": float(np.mean(d)),
                "diverged_agreement_with_lrsweep": float(np.mean(d == lrsweep_diverged))}

    return Bench("c_numpy", call, n, steps, 0.0, extra)


def bench_vmap_scan(case, x0, lrs, lrsweep_diverged) -> Bench:
    _, _, run_one, _ = make_update(case, x0)
    lr = jnp.asarray(lrs, jnp.float32)
    exe, compile_s = aot(jax.vmap(run_one), lr)
    out = {}

    def call():
        f, d = exe(lr)
        out["f"], out["d"] = np.asarray(f), np.asarray(d)

    def extra():
        return {"diverged_fraction": float(np.mean(out["d"])),
                "diverged_agreement_with_lrsweep": float(np.mean(out["d"] == lrsweep_diverged))}

    return Bench("e_vmap_scan", call, len(lrs), case.steps, compile_s, extra)


# ----------------------------------------------------------------------------- report


def environment() -> dict:
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "jax": jax.__version__, "jaxlib": getattr(jax.lib, "__version__", None) or _jaxlib_version(),
        "optax": optax.__version__, "numpy": np.__version__, "lrsweep": lrsweep.__version__,
        "python": platform.python_version(), "platform": platform.platform(),
        "devices": [str(d) for d in jax.devices()], "cpu_count": os.cpu_count(), "cpus_usable": usable,
        "cpu_model": model, "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "XLA_FLAGS": os.environ.get("XLA_FLAGS"),
    }


def _jaxlib_version():
    try:
        import jaxlib
        return jaxlib.__version__
    except Exception:  # pragma: no cover
        return None


def add_ratios(rows: list[dict]) -> None:
    ref = {(r["case"], r["N"]): r["config_steps_per_s"] for r in rows if r["method"] == "lrsweep"}
    for r in rows:
        base = ref.get((r["case"], r["N"]))
        r["ratio_lrsweep_over_method"] = None if base is None else base / r["config_steps_per_s"]


def table(rows: list[dict]) -> str:
    head = (f"{'case':<11} {'N':>9} {'method':<21} {'config-steps/s':>15} {'lrsweep/method':>15} "
            f"{'compile s':>10} {'max/min':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = r["ratio_lrsweep_over_method"]
        comp = f"{r['compile_s']:.2f}" if r["compile_s"] else "-"
        lines.append(f"{r['case']:<11} {r['N']:>9,} {r['method']:<21} {r['config_steps_per_s']:>15.3e} "
                     f"{(f'{ratio:.3g}' if ratio is not None else '-'):>15} {comp:>10} {r['spread']:>8.2f}")
    return "\n".join(lines)


def machine_limits(n_matmul: int = 2048, n_triad: int = 2**24, repeats: int = 5) -> dict:
    """Peak FLOP/s of a square matmul (2n³ FLOPs) in float32 and float64, and triad bandwidth.

    Triad: ``a = b + s·c`` over float32 arrays of ``n_triad`` elements, 12 bytes moved per element
    (two reads, one write). Each figure is the median of ``repeats`` timed calls after a warm-up.
    """
    out = {}

    def timed(fn, *args):
        jax.block_until_ready(fn(*args))
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(fn(*args))
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts)

    mm = jax.jit(jnp.matmul)
    rng = np.random.default_rng(0)
    a32 = jnp.asarray(rng.standard_normal((n_matmul, n_matmul)), jnp.float32)
    out["matmul_n"] = n_matmul
    out["matmul_f32_flop_per_s"] = 2 * n_matmul**3 / timed(mm, a32, a32)
    with jax.enable_x64(True):
        a64 = jnp.asarray(rng.standard_normal((n_matmul, n_matmul)), jnp.float64)
        out["matmul_f64_flop_per_s"] = 2 * n_matmul**3 / timed(jax.jit(jnp.matmul), a64, a64)
    b = jnp.ones(n_triad, jnp.float32)
    c = jnp.ones(n_triad, jnp.float32)
    triad = jax.jit(lambda b, c: b + jnp.float32(3.0) * c)
    out["triad_n"] = n_triad
    out["triad_bytes_per_s"] = 12 * n_triad / timed(triad, b, c)
    return out


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``lrsweep bench`` (and of ``benchmarks/throughput.py``)."""
    p.add_argument("--quick", action="store_true", help="small grids, few repeats (under a minute)")
    p.add_argument("--cases", help="comma-separated case keys (default: all): quad1d, quad16d_hb")
    p.add_argument("--sizes", help="comma-separated numbers of configurations, replacing each case's list")
    p.add_argument("--steps", type=int, default=STEPS, help=f"optimizer steps per configuration ({STEPS})")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed samples per figure after a warm-up call (median; default 5, 3 with --quick)")
    p.add_argument("--json", "--out", dest="json", type=Path,
                   default=Path("benchmarks") / "results" / "throughput.json", help="where to write the JSON")
    return p


def _ints(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        values = tuple(int(float(v)) for v in text.split(",") if v.strip())
    except ValueError:
        raise lrsweep.SweepError("bench", "--sizes", "comma-separated integers", text) from None
    if not values or min(values) < 1:
        raise lrsweep.SweepError("bench", "--sizes", "positive integers", text)
    return values


def run(cases: list[Case], repeats: int) -> list[dict]:
    """Every method on every (case, N), timed side by side; rows sorted and with ratios."""
    rows: list[dict] = []
    for case in cases:
        for n in case.sizes:
            t0 = time.perf_counter()
            benches, diverged, x0, lrs = bench_lrsweep(case, n)
            benches.append(bench_vmap_scan(case, x0, lrs, diverged))
            benches.append(bench_numpy(case, x0, lrs, diverged))
            if n == case.sizes[0]:  # one configuration at a time: independent of N, measured once per case
                benches.append(bench_step_loop(case, x0, lrs))
                benches.append(bench_config_loop(case, x0, lrs))
            measure(benches, repeats)
            rows += [row(case, n, b) for b in benches]
            print(f"  {case.key} N={n:,}: {time.perf_counter() - t0:.1f} s", flush=True)

    # (a) and (b) do not depend on N: repeat their figure at every N of the case for the table.
    extra = []
    for case in cases:
        singles = [r for r in rows if r["case"] == case.key and r["method"] in ("a_step_loop", "b_config_loop")]
        for n in case.sizes[1:]:
            extra += [{**r, "N": n, "measured_at_N": case.sizes[0]} for r in singles]
    rows += extra
    order = {"lrsweep": 0, "e_vmap_scan": 2, "c_numpy": 3, "b_config_loop": 4, "a_step_loop": 5}
    keys = [c.key for c in cases]
    rows.sort(key=lambda r: (keys.index(r["case"]), r["N"], order.get(r["method"], 1), r["method"]))
    add_ratios(rows)
    return rows


def cli(args: argparse.Namespace, command: str = "lrsweep bench") -> int:
    """``lrsweep bench``: time every case and method, print the table, write the JSON."""
    repeats = max(3, args.repeats if args.repeats is not None else (3 if args.quick else 5))
    keys = tuple(k.strip() for k in args.cases.split(",")) if args.cases else None
    cases = make_cases(args.quick, steps=args.steps, sizes=_ints(args.sizes), keys=keys)

    t_start = time.perf_counter()
    env = environment()
    print(f"lrsweep throughput benchmark  {env['date']}  jax {env['jax']}  optax {env['optax']}  "
          f"numpy {env['numpy']}  devices {env['devices']}  CPUs {env['cpus_usable']}/{env['cpu_count']} "
          f"({env['cpu_model']})", flush=True)
    limits = machine_limits(n_matmul=1024 if args.quick else 2048, n_triad=2**22 if args.quick else 2**24)
    print(f"machine: matmul float32 {limits['matmul_f32_flop_per_s']:.3g} FLOP/s, float64 "
          f"{limits['matmul_f64_flop_per_s']:.3g} FLOP/s; triad {limits['triad_bytes_per_s'] / 1e9:.3g} GB/s",
          flush=True)
    rows = run(cases, repeats)

    print()
    print(table(rows))
    total = time.perf_counter() - t_start
    print(f"\ntotal {total:.0f} s")

    argv = [a for a in sys.argv[1:]] if command.startswith("python") else sys.argv[2:]
    result = {
        "benchmark": "lrsweep throughput (configuration-steps per second)",
        "command": " ".join([command, *argv]),
        "quick": args.quick, "repeats": repeats, "steps": args.steps, "dtype": "float32",
        "diverge_factor": DIVERGE_FACTOR, "default_chunk_size": DEFAULT_CHUNK,
        "environment": env, "machine_limits": limits, "total_seconds": total,
        "cases": [{"key": c.key, "title": c.title, "dim": c.dim, "momentum": c.momentum, "lr_min": c.lr_min,
                   "lr_max": c.lr_max, "sizes": list(c.sizes), "loss": c.loss, "init": c.init}
                  for c in cases],
        "rows": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python benchmarks/throughput.py …``: the same as ``lrsweep bench …``."""
    args = add_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args(argv)
    try:
        return cli(args, command="python benchmarks/throughput.py")
    except lrsweep.SweepError as e:
        print(f"lrsweep: {e}", file=sys.stderr)
        return 2
