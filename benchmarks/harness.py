"""Throughput of lrsweep's engine against the ways one would write a learning-rate sweep by hand.

    lrsweep bench [--quick] [--cases quad1d,rosenbrock_adam] [--sizes 10000,100000] [--steps 1000]
                  [--repeats 5] [--memory] [--json benchmarks/results/throughput.json]

(``python benchmarks/throughput.py …`` is the same command.) This file is a project script, not part of
the installed package: ``lrsweep bench`` imports it from the checkout's ``benchmarks/`` folder.

The unit is the *configuration-step*: one optimizer update of one configuration. Every figure is
``configurations × steps / wall seconds``, the median over ``--repeats`` (default 5) timed samples made
after one warm-up call, with compilation excluded (and reported separately). The methods of one
(case, N) are timed in interleaved rounds, so a slow spell of a shared machine hits them all alike.
Outputs are always brought to the host (``np.asarray`` / ``jax.block_until_ready``) inside the timed
region.

Cases (float32, divergence rule of lrsweep: loss non-finite or ``f_t > 10⁶ f_0``, the run then frozen):

* ``quad1d``: f = x², gradient descent (``optax.sgd``), x₀ = −1, learning rates log-spaced 1e-3 … 2,
  1000 steps; N = 10⁴, 10⁵ (10⁶ unless ``--quick``).
* ``hb_lr_momentum``: f = ½x², heavy ball ``optax.sgd(lr, momentum=β)`` from x₀ = 1, learning rates
  log-spaced 1e-3 … 10 × momenta 0 … 0.99 (linear), a ⌈√N⌉² grid (1000 × 1000 at 10⁶; the boundary
  lr = 2(1+β) crosses it); N = 10⁴ (10⁵, 10⁶ unless ``--quick``).
* ``quad16d_hb``: lrsweep's ``quadratic`` loss with ``condition_number=1e4, dim=16`` (curvatures
  log-spaced 1 … 10⁴), standard-normal x₀ (seed 0, the point lrsweep draws), heavy ball
  ``optax.sgd(lr, momentum=0.9)``, learning rates log-spaced 1e-6 … 1e-2 (the boundary
  2(1+β)/λ_max = 3.8e-4 lies inside); N = 10⁴ (10⁵, 10⁶ unless ``--quick``).
* ``quad16d_lr_momentum``: the same 16-D quadratic, learning rates log-spaced 1e-6 … 1e-2 × momenta
  0 … 0.99, a ⌈√N⌉² grid; N = 10⁴ (10⁵, 10⁶ unless ``--quick``).
* ``rosenbrock_adam``: the Rosenbrock function (a = 1, b = 100) from (−1.2, 1), ``optax.adam(lr)``,
  learning rates log-spaced 1e-4 … 1e2; N = 10⁴ (10⁵, 10⁶ unless ``--quick``).
* ``mlp_tanh``: the fractal paper's network (``fractal_mlp``: width 16, tanh, no biases) on 16 random
  data points of 16 inputs, gradient descent with one learning rate per layer (``learning_rate.layer0``
  1e-1 … 1e6 × ``learning_rate.layer1`` 1e1 … 1e4, a ⌈√N⌉² grid; ``optax.multi_transform`` in every
  method); N = 10⁴ (and 4·10⁴ = 200² unless ``--quick``).
* ``digits_mlp`` (your model, your data): an :class:`lrsweep.Problem` — a tanh MLP 64-32-10 (a plain
  dict of arrays, LeCun-normal weights of NumPy seed 0, zero biases; :func:`mlp_loss`: softmax
  cross-entropy) on the standardised digits training split (1,438 × 64 float32,
  ``lrsweep.datasets.load("digits", split="train", standardize=True)``), **minibatches of 64** in
  lrsweep's documented order (update ``t`` trains on ``batch_indices(jax.random.key(0), t, 1438, 64)``;
  every method uses exactly these batches), ``optax.sgd(lr)``, learning rates log-spaced 1e-3 … 1e2,
  500 steps; N = 10³ (and 10⁴ unless ``--quick``). The baselines call the problem's own loss on its own
  data (host arrays passed to each compiled program, shared by all configurations, never vmapped).
  With cross-entropy no run reaches 10⁶ × its initial loss (all "diverged" flags are false).
* ``transformer`` (issue 14: the learning rates of one model size in one program): the small byte-level
  language model of :mod:`lrsweep.transformer` as the ``sweeps/transformer-*.toml`` files train it,
  ``make_problem(width=32, depth=2, heads=4, context=32, batch_size=8)`` (``lm_w32``: 42,176 parameters,
  512 training windows of 33 bytes, minibatches of 8 in lrsweep's order, parameters from ``init(key(0))``)
  without its end-of-run metrics and validation data (no baseline computes them;
  :func:`transformer_problem`), the paper's AdamW ``lrsweep.transformer:adamw`` (a ``module:function``
  optimizer: every method builds it through :func:`lrsweep.optimizers.resolve_optimizer`, as the engine
  does) with ``warmup_steps`` = 10 % of the steps and ``total_steps`` = the steps, learning rates
  log-spaced 3e-4 … 3, :data:`TRANSFORMER_STEPS` = 50 steps; N = 64 (and 256 unless ``--quick``).
  **Divergence at 1.1 × the initial loss**, the rule of the transformer sweeps (docs/transformers.md), not
  10⁶: no run reaches 10⁶ × a cross-entropy of 5.6, and the sweep as it is run has both outcomes (12 of
  64 diverge, at η ≥ 0.60, within 2–5 updates). 50 steps, the fewest the issue allows, because one
  configuration-step costs ~5 ms here: N = 64 with every method took 9 minutes on the shared 2-core CPU,
  and 256 adds about four times the vmapped methods' share of that. FLOPs per configuration-step are the
  model's matmuls (:func:`transformer_flops`), so ``fraction_of_limit`` is the share of the float32
  matmul peak.

Methods (all on the same loss function — lrsweep's own, or the :class:`lrsweep.Problem`'s — on the same
batches, from the same initial parameters, with the same optax optimizer):

* ``lrsweep``: ``Program(spec).evaluate(grid)``, spec from ``lrsweep.from_dict`` (``boundary.max_rounds=0``),
  lrsweep's defaults (chunk, freeze interval and vmap width chosen by the engine, all devices); for
  ``quad1d`` also chunks 4096 and 65536.
* ``a_step_loop``: a Python loop over steps calling a jitted optax step ``(carry, lr, batch)``, one
  configuration at a time (the minibatch sliced on the host from the epoch's documented permutation);
  the initial whole-data loss once per call, the final one per configuration (jitted). For the
  transformer this is "a loop over learning rates of a jitted training step", the way such sweeps are
  usually run.
* ``b_config_loop``: a Python loop over configurations, each one jitted ``lax.scan`` over all steps
  (compiled once, the learning rate a traced argument; the batch indices computed inside the scan); 50
  configurations, fewer (at least 3) where the case's ``loop_budget`` says so.
* ``c_numpy`` (quadratics only): hand-vectorised NumPy, all configurations in one (N, d) array, a
  Python loop over steps.
* ``d_notebook``: the fractal notebook's pattern: one jitted ``vmap`` of a training step over all
  configurations, called from a Python loop over steps, every step's loss kept (stacked at the end).
* ``e_ceiling`` (e), the fair ceiling: what a careful hand-written sweep does, with lrsweep's rule —
  ``jax.jit(jax.shard_map(jax.vmap(scan)))`` over the same devices as the engine, fed in chunks of
  at most :data:`CEILING_DEVICE_CHUNK` configurations per device (and at most the engine's own chunk;
  equal chunks, so the last one's padding is small, as the engine's are), the loss
  read at every update, diverged runs frozen at once and the divergence step recorded
  (:func:`make_update`, :func:`ceiling_sweep`). It computes what lrsweep computes except the
  summaries (best loss, convergence step, score, growth rate).
* ``e_single`` (e₁): the same program on one device (the figure earlier versions called the ceiling).
* ``e_bare_scan`` (e₀): ``jax.jit(jax.vmap(scan))`` of the optax update alone on one device (no
  divergence test, no freeze), the final loss checked once at the end: the arithmetic's own cost.

(a), (b), (c) and (d) time a subset (of steps and/or configurations) and report the rate; the subset is
recorded in the JSON (``configs_timed``, ``steps_timed``). Every row also has XLA's flop count of one bare
update (``flop_per_config_step``) and the achieved FLOP/s as a fraction of the machine's limit that
applies (``fraction_of_limit``): the float32 matmul peak for the networks, the elementwise throughput
for the others (both fractions are in the JSON). For the transformer the FLOPs are its matmuls
(:func:`transformer_flops`; XLA's count, 9 % higher, is ``xla_flop_per_config_step``). Numbers are reported, never asserted;
``tests/test_bench.py`` checks at tiny sizes that every baseline gives the engine's divergence flag and
final loss for every configuration, and (e) and (c) its divergence step too.

The machine's limits are measured in the same run (:func:`machine_limits`): float32 and float64 matmul
peak FLOP/s, triad memory bandwidth and elementwise throughput, written under ``machine_limits`` in the
JSON.

``--memory`` reports the engine's memory envelope (:func:`memory_envelope`): ``Program(spec).state_bytes``
(parameters, optimizer state, summaries and one update's temporaries per configuration) and
``Program(spec).costs`` for tanh MLPs 64-h-10 of ~10⁴, 10⁵ and 10⁶ parameters on the digits data
(minibatch 64, SGD and Adam), and hence configurations per GB. Alone it times nothing (JSON default
``benchmarks/results/memory.json``); with ``--cases`` it is added to that run's JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lrsweep
from lrsweep import grid as lgrid
from lrsweep.engine import Program
from lrsweep.optimizers import resolve_optimizer
from lrsweep.problem import batch_indices

DIVERGE_FACTOR = 1e6  # lrsweep's default criteria.diverge_factor
STEPS = 1000
DEFAULT_CHUNK = 16384


# ----------------------------------------------------------------------------- cases


@dataclass
class Case:
    """One benchmark problem: an lrsweep sweep over learning rates, and what the baselines need of it.

    ``rates`` maps each learning-rate axis (``learning_rate`` or ``learning_rate.<group>``) to its
    log-spaced (min, max); ``hyper`` maps further optimizer hyperparameters (``momentum``) to linearly
    spaced (min, max). With k axes in all, N configurations are a grid of ⌈N^(1/k)⌉ values per axis,
    the learning rates varying slowest (lrsweep's C order).
    ``curvatures``: the loss is f = ½ Σ cᵢ xᵢ², and the NumPy baseline (c) exists.
    ``problem``: a function of no arguments returning the :class:`lrsweep.Problem` the sweep trains
    (your model, your data: the spec's ``loss`` is that problem and ``loss`` here only describes it for
    the JSON); ``None``: the built-in loss of the ``loss`` table. ``loop_budget``: at most this many
    configuration-steps per call of the per-step loop (d) (a subset of the steps at large N) and of the
    loop over configurations (b) (fewer configurations, at least 3, at most 50).
    ``optimizer["name"]`` is an optax name or ``"module:function"`` (:func:`lrsweep.optimizers.resolve_optimizer`:
    the factory the engine builds, ``(learning_rate, **rest)``). ``flops``: the FLOPs of one configuration-step
    counted from the model (the matmuls), where XLA's cost analysis would count more than the limit applies to;
    ``None``: XLA's count.
    """

    key: str
    title: str
    loss: dict               # lrsweep [loss] table
    init: dict               # lrsweep [init] table
    optimizer: dict          # lrsweep [optimizer] table: <name>(lr, **rest), name an optax name or "module:function"
    rates: dict[str, tuple[float, float]]
    sizes: tuple[int, ...]
    hyper: dict[str, tuple[float, float]] = field(default_factory=dict)
    curvatures: np.ndarray | None = None
    chunk_variants: tuple[int, ...] = ()
    steps: int = STEPS
    problem: Callable[[], lrsweep.Problem] | None = None
    diverge_factor: float = DIVERGE_FACTOR
    loop_budget: float = 5e7
    limit: str = "elementwise"  # the machine limit that applies: "elementwise" throughput or "matmul" peak
    flops: Callable[[], float] | None = None

    @property
    def dim(self) -> int | None:
        return None if self.curvatures is None else len(self.curvatures)

    @property
    def momentum(self) -> float | None:
        return self.optimizer.get("momentum")

    @property
    def axes(self) -> list[str]:
        """The swept axes in grid order: the learning rates, then ``hyper``."""
        return [*self.rates, *self.hyper]

    def per_axis(self, n: int) -> int:
        k = len(self.axes)
        return n if k == 1 else int(np.ceil(n ** (1 / k) - 1e-9))

    def size(self, n: int) -> int:
        """The number of configurations actually swept for a requested ``n``."""
        return self.per_axis(n) ** len(self.axes)

    def spec(self, n: int, check_every: int = 0) -> lrsweep.SweepSpec:
        m = self.per_axis(n)
        return lrsweep.from_dict({
            "name": f"bench-{self.key}-{n}",
            "steps": self.steps,
            "dtype": "float32",
            "loss": self.problem() if self.problem is not None else dict(self.loss),
            "init": dict(self.init),
            "optimizer": dict(self.optimizer),
            "axes": {**{a: {"min": lo, "max": hi, "num": m, "scale": "log"} for a, (lo, hi) in self.rates.items()},
                     **{h: {"min": lo, "max": hi, "num": m} for h, (lo, hi) in self.hyper.items()}},
            "criteria": {"diverge_factor": self.diverge_factor},
            "boundary": {"max_rounds": 0},
            "run": {"check_every": check_every},
        })


CASE_KEYS = ("quad1d", "hb_lr_momentum", "quad16d_hb", "quad16d_lr_momentum", "rosenbrock_adam", "mlp_tanh",
             "digits_mlp", "transformer")

DIGITS_BATCH = 64


def mlp_params(sizes: tuple[int, ...], seed: int = 0) -> dict[str, np.ndarray]:
    """A plain dict of float32 arrays ``w0, b0, w1, b1, …``: weights N(0, 1/fan_in) (LeCun normal, NumPy
    generator ``seed``), zero biases. ``sizes``: layer widths, inputs first (64-32-10: ``(64, 32, 10)``)."""
    rng = np.random.default_rng(seed)
    params = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f"w{i}"] = (rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32)
        params[f"b{i}"] = np.zeros(b, np.float32)
    return params


def mlp_loss(params: dict, batch) -> jax.Array:
    """Softmax cross-entropy of the tanh MLP ``params`` (:func:`mlp_params`) on ``batch = (X, y)``, the mean
    over the batch; ``y``: integer class labels."""
    x, y = batch
    n = len(params) // 2
    for i in range(n - 1):
        x = jnp.tanh(x @ params[f"w{i}"] + params[f"b{i}"])
    logits = x @ params[f"w{n - 1}"] + params[f"b{n - 1}"]
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))


def digits_mlp_problem(hidden: tuple[int, ...] = (32,), batch_size: int | None = DIGITS_BATCH) -> lrsweep.Problem:
    """The ``digits_mlp`` case's :class:`lrsweep.Problem`: :func:`mlp_loss` of a 64-``hidden``-10 tanh MLP
    on the standardised digits training split (1,438 × 64 float32, int32 labels; needs scikit-learn),
    minibatches of ``batch_size`` in lrsweep's documented order, initial parameters :func:`mlp_params`
    (seed 0)."""
    from lrsweep import datasets

    X, y = datasets.load("digits", split="train", standardize=True)
    return lrsweep.Problem(loss=mlp_loss, params=mlp_params((X.shape[1], *hidden, 10)), data=(X, y),
                           batch_size=batch_size, name="digits_mlp")


TRANSFORMER_STEPS = 50
TRANSFORMER_SHAPE = {"depth": 2, "heads": 4, "context": 32, "batch_size": 8}  # lm_w32's, at any width


def transformer_problem(width: int = 32, **shape) -> lrsweep.Problem:
    """The ``transformer`` case's :class:`lrsweep.Problem`:
    ``lrsweep.transformer.make_problem(width=width, depth=2, heads=4, context=32, batch_size=8)`` (at width
    32 the model of ``lm_w32`` and of ``sweeps/transformer-w32.toml``; ``shape`` replaces any of
    :data:`TRANSFORMER_SHAPE` or ``n_train``) without its end-of-run ``metrics`` and ``eval_data``: the
    baselines compute none of them, so lrsweep is timed on the same work (the training, and the whole-data
    loss at the start and at the end)."""
    from lrsweep import transformer

    p = transformer.make_problem(width=width, **{**TRANSFORMER_SHAPE, **shape})
    return dataclasses.replace(p, metrics=None, eval_data=None, name=f"{p.name}-bench")


def transformer_flops(width: int = 32, **shape) -> float:
    """Matmul FLOPs of one training update (forward and backward) of one configuration of
    :func:`transformer_problem` (same arguments): ``6 · tokens · P + 12 · B · depth · L² · d``, with
    ``tokens = B·L`` and ``P = depth · (4d² + 2·d·4d) + d · vocab`` the parameters that multiply (the
    embedding is a lookup); the attention scores ``qkᵀ`` and the weighted sum ``a v`` are ``2 · L² · d``
    FLOPs each per layer and sequence forward, computed over the full L×L square (the causal mask is
    applied to it), ×3 with the backward pass. This is exactly the count of ``dot_general`` FLOPs in the
    update's jaxpr (``tests/test_bench.py``); XLA's cost analysis adds the elementwise work (layer norms,
    gelu, softmax, AdamW: 9 % more at width 32), which the matmul peak does not bound.
    (The retired ``benchmarks/transformer_bench.py`` counted the attention at half of this.)"""
    from lrsweep import transformer

    s = {**TRANSFORMER_SHAPE, **shape}
    cfg = transformer.Config(width=width, depth=s["depth"], heads=s["heads"], context=s["context"])
    d, L, B = cfg.width, cfg.context, s["batch_size"]
    matmul_params = cfg.depth * (4 * d * d + 2 * d * cfg.mlp_ratio * d) + d * cfg.vocab
    return 6.0 * B * L * matmul_params + 12.0 * B * cfg.depth * L * L * d


def transformer_case(sizes: tuple[int, ...], steps: int = TRANSFORMER_STEPS, width: int = 32, **shape) -> Case:
    """The ``transformer`` case at ``width`` (``shape``: as :func:`transformer_problem`): learning rates
    log-spaced 3e-4 … 3 of the paper's AdamW (``lrsweep.transformer:adamw``, warm-up over 10 % of the
    ``steps``, cosine decay to update ``steps``), as the ``sweeps/transformer-*.toml`` files run it;
    divergence at 1.1 × the initial loss (those sweeps' rule; see the module docstring)."""
    s = {**TRANSFORMER_SHAPE, **shape}
    text = ", ".join(f"{k} {v}" for k, v in s.items())
    args = "".join(f", {k}={v}" for k, v in shape.items())
    return Case("transformer", f"transformer width {width}, {text}, AdamW",
                {"problem": f"benchmarks/harness.py:transformer_problem(width={width}{args})",
                 "model": f"lrsweep.transformer.make_problem(width={width}, {text}), no metrics or eval_data",
                 "loss": "cross-entropy + 1e-4 z-loss, qk-layernorm",
                 "data": f"lrsweep.corpus, {s.get('n_train', 512)} windows of {s['context'] + 1} bytes",
                 "batch_size": s["batch_size"]}, {"seed": 0},
                {"name": "lrsweep.transformer:adamw", "warmup_steps": steps // 10, "total_steps": steps},
                {"learning_rate": (3e-4, 3.0)}, sizes, steps=steps,
                problem=functools.cache(functools.partial(transformer_problem, width, **shape)), diverge_factor=1.1,
                loop_budget=20 * 64, limit="matmul", flops=functools.partial(transformer_flops, width, **shape))


def make_cases(quick: bool, steps: int | None = None, sizes: tuple[int, ...] | None = None,
               keys: tuple[str, ...] | None = None) -> list[Case]:
    """The benchmark cases; ``steps`` replaces every case's own (1000; ``digits_mlp`` 500, ``transformer``
    :data:`TRANSFORMER_STEPS`), ``sizes``
    every case's N list, ``keys`` selects cases by key."""
    kappa, d = 1e4, 16
    cases = [
        Case("quad1d", "f=x^2, GD", {"name": "quadratic", "curvatures": [2.0]}, {"points": [[-1.0]]},
             {"name": "sgd"}, {"learning_rate": (1e-3, 2.0)},
             (10_000, 100_000) if quick else (10_000, 100_000, 1_000_000),
             curvatures=np.array([2.0]), chunk_variants=(4096, 65536), steps=steps or STEPS),
        Case("hb_lr_momentum", "f=x^2/2, heavy ball, lr x momentum", {"name": "quadratic", "curvatures": [1.0]},
             {"points": [[1.0]]}, {"name": "sgd"}, {"learning_rate": (1e-3, 10.0)},
             (10_000,) if quick else (10_000, 100_000, 1_000_000), hyper={"momentum": (0.0, 0.99)},
             curvatures=np.array([1.0]), steps=steps or STEPS),
        Case("quad16d_hb", "16-D quadratic k=1e4, heavy ball 0.9",
             {"name": "quadratic", "condition_number": kappa, "dim": d}, {"seed": 0},
             {"name": "sgd", "momentum": 0.9}, {"learning_rate": (1e-6, 1e-2)},
             (10_000,) if quick else (10_000, 100_000, 1_000_000),
             curvatures=kappa ** (np.arange(d) / (d - 1)), steps=steps or STEPS),
        Case("quad16d_lr_momentum", "16-D quadratic k=1e4, heavy ball, lr x momentum",
             {"name": "quadratic", "condition_number": kappa, "dim": d}, {"seed": 0},
             {"name": "sgd"}, {"learning_rate": (1e-6, 1e-2)},
             (10_000,) if quick else (10_000, 100_000, 1_000_000), hyper={"momentum": (0.0, 0.99)},
             curvatures=kappa ** (np.arange(d) / (d - 1)), steps=steps or STEPS),
        Case("rosenbrock_adam", "Rosenbrock (a=1, b=100) from (-1.2, 1), Adam",
             {"name": "rosenbrock"}, {"points": [[-1.2, 1.0]]}, {"name": "adam"}, {"learning_rate": (1e-4, 1e2)},
             (10_000,) if quick else (10_000, 100_000, 1_000_000), steps=steps or STEPS),
        Case("mlp_tanh", "tanh MLP width 16, 16 points, GD, one lr per layer",
             {"name": "fractal_mlp", "width": 16, "activation": "tanh", "n_data": 16}, {},
             {"name": "sgd"}, {"learning_rate.layer0": (1e-1, 1e6), "learning_rate.layer1": (1e1, 1e4)},
             # 10⁵: ~30 min of this CPU for all methods
             (10_000,) if quick else (10_000, 40_000), steps=steps or STEPS, limit="matmul"),
        Case("digits_mlp", "digits, tanh MLP 64-32-10, softmax CE, minibatch 64, SGD",
             {"problem": "benchmarks/harness.py:digits_mlp_problem",
              "model": "MLP 64-32-10, tanh, LeCun normal, seed 0",
              "loss": "softmax cross-entropy", "data": "digits train split, standardised (1438 x 64 float32)",
              "batch_size": DIGITS_BATCH}, {"seed": 0},
             {"name": "sgd"}, {"learning_rate": (1e-3, 1e2)},
             (1_000,) if quick else (1_000, 10_000), steps=steps or 500,
             problem=functools.cache(digits_mlp_problem), loop_budget=1e6, limit="matmul"),
        transformer_case((64,) if quick else (64, 256), steps or TRANSFORMER_STEPS),
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


# ----------------------------------------------------------------------------- the shared problem


@dataclass
class BenchProblem:
    """What every baseline shares with lrsweep on one (case, N): the loss, the data and the batch order,
    the initial parameters lrsweep starts from, every configuration's learning rates and the same optax
    optimizer — so that all methods compute the same runs. (Not :class:`lrsweep.Problem`: this is the
    harness's bundle of a problem *and* a grid.)

    ``loss(params, batch)``: ``batch`` is update ``t``'s minibatch of ``data`` in lrsweep's documented
    order (:func:`lrsweep.problem.batch_indices` with ``jax.random.key(seed)``), all of ``data`` when
    ``batch_size`` is ``None``, ``None`` for a loss without data (the built-in cases: lrsweep's own loss
    of the parameters alone). ``data`` (host arrays) is an argument of every compiled baseline, shared by
    all configurations (never vmapped). ``loss(params, data)`` is the whole-data loss (lrsweep's
    ``initial_loss`` and, with minibatches, ``final_loss``).
    """

    case: Case
    loss: Callable[[Any, Any], jax.Array]
    params0: Any             # pytree of float32 arrays
    configs: np.ndarray      # (N, k) float32: one column per swept axis, in case.axes order
    diverged: np.ndarray     # (N,) lrsweep's divergence flag
    div_step: np.ndarray     # (N,) lrsweep's divergence step (−1: none)
    final: np.ndarray        # (N,) lrsweep's final loss (the loss where the rule broke, for a diverged run)
    data: Any = None         # pytree of host arrays with a leading example axis, or None
    batch_size: int | None = None
    seed: int = 0

    @property
    def n_examples(self) -> int | None:
        leaves = jax.tree.leaves(self.data)
        return int(np.shape(leaves[0])[0]) if leaves else None

    @property
    def minibatches(self) -> bool:
        return self.data is not None and self.batch_size is not None

    def device_data(self):
        """The data on the default device, once per method (``None`` without data)."""
        return jax.tree.map(jnp.asarray, self.data)

    def batch(self, data, t):
        """Update ``t``'s batch (traceable; ``t`` may be traced): ``batch_indices`` inside the program."""
        if not self.minibatches:
            return data
        idx = batch_indices(jax.random.key(self.seed), t, self.n_examples, self.batch_size)
        return jax.tree.map(lambda a: a[idx], data)

    def host_batches(self, steps: int):
        """The batches of updates ``0 … steps−1`` as a user's Python loop makes them: the documented
        permutation once per epoch (``jax.random.permutation(fold_in(key, epoch), n)``), each minibatch
        sliced from the host arrays. A generator."""
        if not self.minibatches:
            for _ in range(steps):
                yield self.data
            return
        n, B = self.n_examples, self.batch_size
        per_epoch, key, order = n // B, jax.random.key(self.seed), None
        for t in range(steps):
            epoch, j = divmod(t, per_epoch)
            if j == 0 or order is None:
                order = np.asarray(jax.random.permutation(jax.random.fold_in(key, epoch), n))
            idx = order[j * B:(j + 1) * B]
            yield jax.tree.map(lambda a: a[idx], self.data)

    def optimizer(self, c: jax.Array) -> optax.GradientTransformation:
        """``<name>(lr, **hyperparameters)``, the factory the engine resolves the name to (``optax.<name>``,
        or ``module:function`` such as ``lrsweep.transformer:adamw``); one per parameter group
        (``optax.multi_transform``) when the case sweeps per-group learning rates. ``c``: one
        configuration's k values (its learning rates, then its swept hyperparameters such as ``momentum``)."""
        axes = list(self.case.rates)
        hp = {k: v for k, v in self.case.optimizer.items() if k != "name"}
        hp.update({h: c[len(axes) + i] for i, h in enumerate(self.case.hyper)})
        make = resolve_optimizer(self.case.optimizer["name"])
        lr = c
        if len(axes) == 1:
            return make(lr[0], **hp)
        groups = [a.split(".", 1)[1] for a in axes]
        return optax.multi_transform({g: make(lr[i], **hp) for i, g in enumerate(groups)},
                                     lambda p: {g: g for g in p})


def bench_problem(case: Case, prog: Program, values: dict[str, np.ndarray], result: dict) -> BenchProblem:
    """The :class:`BenchProblem` of ``prog``'s sweep over ``values`` with lrsweep's ``result``: for a
    case with a :class:`lrsweep.Problem`, that problem's own loss, parameters, data and batch size (the
    user's code, not the engine's) and the initial parameters the engine draws (``init(key)`` with the
    sweep's seed, or the problem's ``params``); for a built-in loss, lrsweep's loss function of the parameters."""
    lrs = np.stack([values[a] for a in case.axes], -1).astype(np.float32)
    diverged = np.asarray(result["diverged"], bool)
    outcome = (diverged, np.asarray(result["divergence_step"]), np.asarray(result["final_loss"]))
    f32 = functools.partial(jax.tree.map, lambda a: jnp.asarray(a, jnp.float32))
    if case.problem is not None:
        p = prog.problem
        return BenchProblem(case, p.loss, f32(prog.initial_point({})), lrs, *outcome, p.data, p.batch_size,
                            prog.spec.init.seed)
    f = prog.loss_of(prog.setup.defaults())
    return BenchProblem(case, lambda params, batch: f(params), f32(prog.initial_point({})), lrs, *outcome)


def _where(cond, a, b):
    return jax.tree.map(lambda u, v: jnp.where(cond, u, v), a, b)


def make_update(prob: BenchProblem):
    """``(init, update, run_one, final)`` of one configuration with the per-step divergence test — what a
    careful hand-written sweep does, and the rule lrsweep applies.

    ``init(c, data, f0=None) -> carry`` (``f0``: the whole-data initial loss, computed when not given),
    ``update(carry, c, batch, t) -> carry`` (update ``t`` on ``batch``),
    ``run_one(c, data) -> (final loss, diverged, divergence step)`` (a ``lax.scan`` over ``case.steps``
    updates, update ``t``'s batch from ``batch_indices`` inside the scan), ``final(carry, data) -> (final
    loss, diverged, divergence step)``; ``c`` is the configuration's (k,) swept values.
    carry = (params, opt_state, f0, f_last, diverged, step). The rule is ``f`` non-finite or ``f > F f₀``
    (``F`` the case's ``diverge_factor``), with ``f₀`` the whole-data loss at the start and ``f`` the loss
    of the batch the update trains on, read at every update and at the last point (on update ``T``'s
    batch); a diverged run is frozen at once (parameters and optimizer state: a select per float leaf
    and update; integer leaves such as Adam's step counter are left to count, as lrsweep does — they are
    one scalar shared by all configurations under ``vmap``, and a select would batch them and make
    Adam's bias correction two ``pow`` per configuration and update), ``step`` is the first update whose
    loss broke the rule (``−1`` if none) and the final loss
    is the loss there — as lrsweep reports them. Otherwise the final loss is the whole-data loss of the
    final parameters.
    """
    loss, x0, F = prob.loss, prob.params0, prob.case.diverge_factor
    value_and_grad = jax.value_and_grad(loss)

    def init(c, data, f0=None):
        f0 = loss(x0, data) if f0 is None else f0
        return x0, prob.optimizer(c).init(x0), f0, f0, jnp.asarray(False), jnp.asarray(-1, jnp.int32)

    def update(carry, c, batch, t):
        x, state, f0, f_last, diverged, step = carry
        f, g = value_and_grad(x, batch)
        bad = ~(f <= F * f0)  # NaN compares false
        step = jnp.where(bad & ~diverged, t, step)
        f_last = jnp.where(diverged, f_last, f)
        diverged = diverged | bad
        updates, new_state = prob.optimizer(c).update(g, state, x)
        x = _where(diverged, x, optax.apply_updates(x, updates))
        state = jax.tree.map(lambda old, new: jnp.where(diverged, old, new) if jnp.issubdtype(old.dtype, jnp.inexact)
                             else new, state, new_state)
        return x, state, f0, f_last, diverged, step

    def run_one(c, data, steps=prob.case.steps):
        carry, _ = jax.lax.scan(lambda cy, t: (update(cy, c, prob.batch(data, t), t), None), init(c, data),
                                jnp.arange(steps, dtype=jnp.int32))
        return final(carry, data, steps)

    def final(carry, data, steps=prob.case.steps):
        """(final loss, diverged, divergence step) as lrsweep reports them: the last point read too (on the
        batch of update ``T``); the loss where the rule broke, else the whole-data loss of ``x_T``."""
        x, _, f0, f_last, diverged, step = carry
        T = jnp.asarray(steps, jnp.int32)
        f = loss(x, prob.batch(data, T))
        bad = ~(f <= F * f0)
        step = jnp.where(bad & ~diverged, T, step)
        f_last = jnp.where(diverged, f_last, f)
        diverged = diverged | bad
        return jnp.where(diverged, f_last, loss(x, data) if prob.minibatches else f), diverged, step

    return init, update, run_one, final


def bare_step(prob: BenchProblem):
    """One optimizer update and nothing else: ``step((params, state), lr, batch) -> (params, state)``."""
    grad = jax.grad(prob.loss)

    def step(carry, lr, batch):
        x, state = carry
        updates, state = prob.optimizer(lr).update(grad(x, batch), state, x)
        return optax.apply_updates(x, updates), state

    return step


def flops_per_config_step(prob: BenchProblem) -> float:
    """The FLOPs of one configuration-step: the case's own count (``Case.flops``: the transformer's
    matmuls) where it has one, else :func:`xla_flops_per_config_step`."""
    return float(prob.case.flops()) if prob.case.flops is not None else xla_flops_per_config_step(prob)


def xla_flops_per_config_step(prob: BenchProblem) -> float:
    """XLA's flop count of one configuration's bare update (gradient on one batch, optimizer, apply); the
    batch's indices (one permutation per step, shared by all configurations) are not counted."""
    lr = jnp.asarray(prob.configs[0])
    carry = (prob.params0, prob.optimizer(lr).init(prob.params0))
    batch = next(prob.host_batches(1))
    cost = jax.jit(bare_step(prob)).lower(carry, lr, batch).cost_analysis() or {}
    if isinstance(cost, list | tuple):  # older jax: one dict per computation
        cost = cost[0] if cost else {}
    return float(cost.get("flops", 0.0))


# ----------------------------------------------------------------------------- methods


def row(case: Case, n: int, b: Bench) -> dict:
    median_s = statistics.median(b.times)
    return {"case": case.key, "N": n, "method": b.method,
            "config_steps_per_s": b.configs * b.steps / median_s, "median_s": median_s, "times_s": b.times,
            "calls_per_sample": b.inner, "spread": max(b.times) / min(b.times), "compile_s": b.compile_s,
            "configs_timed": b.configs, "steps_timed": b.steps, **b.extra()}


def bench_lrsweep(case: Case, n: int) -> tuple[list[Bench], BenchProblem, Program]:
    """lrsweep at the default chunk and the case's chunk variants; the :class:`BenchProblem` for the
    others; and the default :class:`Program` (its devices and chunk set the ceiling's)."""
    spec = case.spec(n)  # lrsweep's defaults: K and the chunk chosen by the engine
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
            return {"chunk_size": prog.chunk_size, "n_chunks": lgrid.n_chunks(spec.size, prog.chunk_size),
                    "check_every": prog.check_every, "batch": prog.batch, "devices": len(prog.devices),
                    "compiles": prog.compiles, "state_bytes": prog.state_bytes,
                    "diverged_fraction": float(np.mean(out["r"]["diverged"]))}

        name = "lrsweep" if chunk is None else f"lrsweep_chunk{chunk}"
        benches.append(Bench(name, call, spec.size, case.steps, prog.compile_seconds, extra))
        if chunk is None:
            prob, default = bench_problem(case, prog, values, out["r"]), prog
    return benches, prob, default


def _agreement(diverged: np.ndarray, prob: BenchProblem, step: np.ndarray | None = None) -> dict:
    out = {"diverged_fraction": float(np.mean(diverged)),
           "diverged_agreement_with_lrsweep": float(np.mean(diverged == prob.diverged))}
    if step is not None:
        out["divergence_step_agreement_with_lrsweep"] = float(np.mean(step == prob.div_step))
    return out


def bench_step_loop(prob: BenchProblem, n_configs=3, steps=200) -> Bench:
    """(a) the training loop one writes: a Python loop over learning rates, and for each a Python loop over
    steps calling a jitted optax step ``(carry, lr, batch)`` (the minibatch sliced on the host in the
    documented order), one configuration at a time; the initial whole-data loss once per call (it does not
    depend on the learning rate), the final one (:func:`make_update`'s ``final``, jitted) per configuration
    when all the steps are timed — what every other method computes."""
    steps = min(steps, prob.case.steps)
    init, update, _, final = make_update(prob)
    data = prob.device_data()
    lr0 = jnp.asarray(prob.configs[0])
    t0 = time.perf_counter()
    whole = jax.jit(prob.loss).lower(prob.params0, data).compile()
    start = jax.jit(init).lower(lr0, data, whole(prob.params0, data)).compile()
    end = jax.jit(functools.partial(final, steps=steps)).lower(start(lr0, data, whole(prob.params0, data)),
                                                               data).compile()
    compile_s = time.perf_counter() - t0
    step, step_s = aot(update, start(lr0, data, whole(prob.params0, data)), lr0, next(prob.host_batches(1)),
                       jnp.asarray(0, jnp.int32))
    picks = np.linspace(0, len(prob.configs) - 1, n_configs).astype(int)
    lr_list = [jnp.asarray(prob.configs[i]) for i in picks]

    def call():
        f0 = whole(prob.params0, data)
        for lr in lr_list:
            carry = start(lr, data, f0)
            for t, batch in enumerate(prob.host_batches(steps)):
                carry = step(carry, lr, batch, np.int32(t))
            jax.block_until_ready(end(carry, data) if steps == prob.case.steps else carry)

    return Bench("a_step_loop", call, n_configs, steps, compile_s + step_s)


def bench_config_loop(prob: BenchProblem, n_configs=50) -> Bench:
    """(b) a Python loop over configurations, each one jitted ``lax.scan`` of all the steps (the batch
    indices computed inside the scan); at most ``n_configs`` of them, fewer (at least 3) where the case's
    ``loop_budget`` of configuration-steps per call asks for it."""
    budget = int(prob.case.loop_budget // prob.case.steps)
    n_configs = min(n_configs, max(3, budget), len(prob.configs))
    _, _, run_one, _ = make_update(prob)
    data = prob.device_data()
    exe, compile_s = aot(run_one, jnp.asarray(prob.configs[0]), data)
    picks = np.linspace(0, len(prob.configs) - 1, n_configs).astype(int)
    lr_list = [prob.configs[i] for i in picks]

    def call():
        for lr in lr_list:
            jax.block_until_ready(exe(lr, data))

    return Bench("b_config_loop", call, n_configs, prob.case.steps, compile_s)


def numpy_sweep(case: Case, x0, configs, steps):
    """(c) f = ½ Σ cᵢ xᵢ² by hand in NumPy: one (N, d) float32 array, a Python loop over steps.
    ``configs``: (N, k) swept values (learning rate, then momentum where it is swept); returns (final
    loss, diverged, divergence step) as lrsweep reports them."""
    configs = np.asarray(configs, np.float32)
    n, d = len(configs), case.dim
    c = case.curvatures.astype(np.float32)
    if "momentum" in case.hyper:
        beta = configs[:, 1 + list(case.hyper).index("momentum")].reshape(n, 1)
    else:
        beta = np.float32(case.momentum) if case.momentum is not None else None
    x = np.tile(np.asarray(x0, np.float32).reshape(-1), (n, 1))
    m = np.zeros_like(x)
    lr = configs[:, :1]
    f0 = 0.5 * np.sum(c * x**2, axis=1)
    bound = np.float32(case.diverge_factor) * f0
    f_last = f0.copy()
    diverged = np.zeros(n, bool)
    step = np.full(n, -1, np.int32)

    def read(f, t):
        nonlocal f_last, diverged
        bad = ~(f <= bound)
        step[bad & ~diverged] = t
        f_last = np.where(diverged, f_last, f)
        diverged = diverged | bad

    with np.errstate(all="ignore"):
        for t in range(steps):
            g = c * x
            read(0.5 * np.sum(c * x**2, axis=1), t)
            if beta is None:
                new_x = x - lr * g
            else:
                new_m = g + beta * m
                new_x = x - lr * new_m
                m = np.where(diverged[:, None], m, new_m)
            x = np.where(diverged[:, None], x, new_x)
        read(0.5 * np.sum(c * x**2, axis=1), steps)  # the last point is read too, as lrsweep does
    assert x.dtype == np.float32 and d == x.shape[1]
    return f_last, diverged, step


def _steps_timed(prob: BenchProblem, budget: float) -> int:
    """A subset of the steps at large N keeps a per-step-loop baseline short (its rate per step does
    not depend on it): at most ``budget`` element-steps, at least 20 steps."""
    n, T = len(prob.configs), prob.case.steps
    return int(max(min(20, T), min(T, budget // n)))


def bench_numpy(prob: BenchProblem) -> Bench:
    case, n = prob.case, len(prob.configs)
    steps = _steps_timed(prob, 2e7 / case.dim)
    out = {}

    def call():
        out["r"] = numpy_sweep(case, prob.params0, prob.configs, steps)

    def extra():
        return _agreement(out["r"][1], prob, out["r"][2]) if steps == case.steps else {}

    return Bench("c_numpy", call, n, steps, 0.0, extra)


def notebook_sweep(prob: BenchProblem, steps: int):
    """(d) the fractal notebook's pattern, returning ``(call, compile_s)``: one jitted ``vmap`` of a
    training step over all configurations (parameters and state donated; the batch, sliced on the host,
    shared), called from a Python loop over the steps, every step's loss kept and stacked; ``call() ->
    (loss history (steps+1, N), diverged (N,), f(x_T) (N,))``: the losses of the batches of updates
    ``0 … steps`` (the last one after the last update), the divergence rule applied to the history
    afterwards, and the whole-data loss of the final parameters."""
    lr = jnp.asarray(prob.configs)
    data = prob.device_data()
    F = np.float32(prob.case.diverge_factor)

    def train_step(params, state, lr, batch):
        f, g = jax.value_and_grad(prob.loss)(params, batch)
        updates, state = prob.optimizer(lr).update(g, state, params)
        return optax.apply_updates(params, updates), state, f

    def start(lr):
        return prob.params0, prob.optimizer(lr).init(prob.params0)

    t0 = time.perf_counter()
    init = jax.jit(jax.vmap(start)).lower(lr).compile()
    params, state = init(lr)
    batch0 = next(prob.host_batches(1))
    step = jax.jit(jax.vmap(train_step, in_axes=(0, 0, 0, None)), donate_argnums=(0, 1)).lower(
        params, state, lr, batch0).compile()
    loss_all = jax.vmap(prob.loss, in_axes=(0, None))
    last = jax.jit(loss_all).lower(params, batch0).compile()
    whole = jax.jit(loss_all).lower(params, data).compile()
    compile_s = time.perf_counter() - t0

    def call():
        params, state = init(lr)
        f0 = whole(params, data)
        history = []
        batches = prob.host_batches(steps + 1)
        for _ in range(steps):
            params, state, f = step(params, state, lr, next(batches))
            history.append(f)
        history.append(last(params, next(batches)))
        h, f0 = np.asarray(jnp.stack(history)), np.asarray(f0)
        with np.errstate(all="ignore"):
            diverged = np.any(~np.isfinite(h) | (h > F * f0), axis=0)
        return h, diverged, np.asarray(whole(params, data)) if prob.minibatches else h[-1]

    return call, compile_s


def bench_notebook(prob: BenchProblem) -> Bench:
    steps = _steps_timed(prob, prob.case.loop_budget)
    run, compile_s = notebook_sweep(prob, steps)
    out = {}

    def call():
        out["r"] = run()

    def extra():
        return _agreement(out["r"][1], prob) if steps == prob.case.steps else {}

    return Bench("d_notebook", call, len(prob.configs), steps, compile_s, extra)


def bare_sweep(prob: BenchProblem):
    """(e₀) the update alone, returning ``(call, compile_s)``: ``jit(vmap(scan))`` of the optax update on
    one device — no divergence test, no freeze; update ``t``'s batch from ``batch_indices`` inside the
    scan, the data an argument shared by all configurations (``in_axes=None``); ``call() -> (f(x_T),
    diverged)`` with the divergence rule applied once, at the end, to the whole-data loss (a run that
    overshoots and comes back is not flagged). What the hardware does with the bare update: not a sweep
    anyone could use (no divergence step, overflow left to spread), but the cost of the arithmetic."""
    step, F = bare_step(prob), prob.case.diverge_factor

    def run_one(c, data):
        x0 = prob.params0
        (x, _), _ = jax.lax.scan(lambda cy, t: (step(cy, c, prob.batch(data, t)), None),
                                 (x0, prob.optimizer(c).init(x0)), jnp.arange(prob.case.steps, dtype=jnp.int32))
        f = prob.loss(x, data)
        return f, ~jnp.isfinite(f) | (f > F * prob.loss(x0, data))

    cs, data = jnp.asarray(prob.configs), prob.device_data()
    exe, compile_s = aot(jax.vmap(run_one, in_axes=(0, None)), cs, data)
    return (lambda: tuple(np.asarray(a) for a in exe(cs, data))), compile_s


def bench_bare_scan(prob: BenchProblem) -> Bench:
    run, compile_s = bare_sweep(prob)
    out = {}

    def call():
        out["r"] = run()

    return Bench("e_bare_scan", call, len(prob.configs), prob.case.steps, compile_s,
                 lambda: _agreement(out["r"][1], prob))


def ceiling_sweep(prob: BenchProblem, devices=None, chunk: int | None = None):
    """(e) the fair ceiling, returning ``(call, compile_s)``: a hand-written
    ``jit(shard_map(vmap(scan)))`` of :func:`make_update` — the divergence rule read at every update,
    diverged runs frozen at once, the divergence step recorded — sharded over ``devices`` (default: all,
    the ones the engine uses) with ``jax.shard_map``, the grid fed in chunks of ``chunk`` configurations
    (default: all at once) as the engine does: at most ``chunk`` each, all of one length (one compiled
    program), the length chosen so the last chunk's padding is small. With one device it is the
    single-device ceiling (e₁). ``call() -> (final loss, diverged, divergence step)``, each (N,)."""
    devices = list(devices or jax.devices())
    _, _, run_one, _ = make_update(prob)
    n = len(prob.configs)
    d = len(devices)
    k = -(-n // min(chunk or n, n))  # chunks needed at the requested length, then made equal,
    chunk = -(-(-(-n // k)) // d) * d  # as the engine does (a multiple of the device count)
    mesh = jax.sharding.Mesh(np.asarray(devices), ("configurations",))
    P = jax.sharding.PartitionSpec
    sharded = jax.sharding.NamedSharding(mesh, P("configurations"))
    data = jax.device_put(prob.device_data(), jax.sharding.NamedSharding(mesh, P()))
    fn = jax.shard_map(jax.vmap(run_one, in_axes=(0, None)), mesh=mesh, in_specs=(P("configurations"), P()),
                       out_specs=P("configurations"), check_vma=False)
    spec = jax.ShapeDtypeStruct((chunk, prob.configs.shape[1]), jnp.float32, sharding=sharded)
    exe, compile_s = aot(fn, spec, data)
    padded = np.concatenate([prob.configs, np.repeat(prob.configs[-1:], -n % chunk, 0)])

    def call():
        outs = [exe(jax.device_put(padded[lo:lo + chunk], sharded), data) for lo in range(0, n, chunk)]
        return tuple(np.concatenate([np.asarray(o[i]) for o in outs])[:n] for i in range(3))

    call.executable = exe  # for benchmarks/hlo_passes.py
    return call, compile_s


def bench_ceiling(prob: BenchProblem, chunk: int, devices=None, name: str = "e_ceiling") -> Bench:
    run, compile_s = ceiling_sweep(prob, devices, chunk)
    out = {}

    def call():
        out["r"] = run()

    def extra():
        return {**_agreement(out["r"][1], prob, out["r"][2]), "chunk_size": chunk,
                "devices": len(devices or jax.devices())}

    return Bench(name, call, len(prob.configs), prob.case.steps, compile_s, extra)


# ----------------------------------------------------------------------------- memory envelope

MEMORY_WIDTHS = (133, 1333, 13333)  # 64-h-10 tanh MLPs: 9,985 / 99,985 / 999,985 parameters


def memory_envelope(widths: tuple[int, ...] = MEMORY_WIDTHS, optimizers: tuple[str, ...] = ("sgd", "adam"),
                    batch_size: int = DIGITS_BATCH, steps: int = 500, n: int = 10_000) -> list[dict]:
    """The engine's bytes per configuration for tanh MLPs 64-``h``-10 on the digits training split
    (minibatches of ``batch_size``), from :class:`lrsweep.Program` (nothing is compiled but one update).

    ``state_bytes`` (:attr:`Program.state_bytes`): parameters, optimizer state, the per-run summaries and
    one update's temporaries (XLA's memory analysis of one configuration's compiled update) — what each
    configuration of a vmapped block holds; the data (``data_bytes``) are held once per device, shared.
    ``configs_per_GB = 10⁹ / state_bytes``. Also the engine's choices for an ``n``-configuration grid
    (vmap width, observation interval, chunk) and its cost units (flops + bytes/4) of one update and one
    observation (:attr:`Program.costs`).
    """
    rows = []
    for h in widths:
        problem = digits_mlp_problem((h,), batch_size)
        n_params = int(sum(np.size(a) for a in jax.tree.leaves(problem.params)))
        for opt in optimizers:
            spec = lrsweep.from_dict({
                "name": f"memory-mlp-{h}-{opt}", "steps": steps, "dtype": "float32", "loss": problem,
                "init": {"seed": 0}, "optimizer": {"name": opt},
                "axes": {"learning_rate": {"min": 1e-3, "max": 1e2, "num": n, "scale": "log"}},
                "boundary": {"max_rounds": 0}})
            prog = Program(spec)
            c = prog.costs
            rows.append({"hidden": h, "params": n_params, "optimizer": opt, "param_bytes": 4 * n_params,
                         "state_bytes": int(prog.state_bytes), "configs_per_GB": 1e9 / max(1, prog.state_bytes),
                         "data_bytes": int(c.data_bytes), "update_cost": c.update, "look_cost": c.look,
                         "grid": n, "batch": prog.batch, "check_every": prog.check_every,
                         "chunk_size": prog.chunk_size})
    return rows


def memory_table(rows: list[dict]) -> str:
    head = (f"{'MLP':<12} {'params':>10} {'optimizer':<9} {'state bytes':>12} {'x params':>8} {'configs/GB':>11} "
            f"{'vmap B':>7} {'K':>4} {'update cost':>12}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{'64-' + str(r['hidden']) + '-10':<12} {r['params']:>10,} {r['optimizer']:<9} "
                     f"{r['state_bytes']:>12,} {r['state_bytes'] / r['param_bytes']:>8.2f} "
                     f"{r['configs_per_GB']:>11,.0f} {r['batch']:>7} {r['check_every']:>4} {r['update_cost']:>12.3g}")
    lines.append(f"(data held once per device: {rows[0]['data_bytes']:,} bytes; GB = 10⁹ bytes)" if rows else "")
    return "\n".join(lines)


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
    head = (f"{'case':<15} {'N':>9} {'method':<21} {'config-steps/s':>15} {'lrsweep/method':>15} "
            f"{'compile s':>10} {'max/min':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = r["ratio_lrsweep_over_method"]
        comp = f"{r['compile_s']:.2f}" if r["compile_s"] else "-"
        lines.append(f"{r['case']:<15} {r['N']:>9,} {r['method']:<21} {r['config_steps_per_s']:>15.3e} "
                     f"{(f'{ratio:.3g}' if ratio is not None else '-'):>15} {comp:>10} {r['spread']:>8.2f}")
    return "\n".join(lines)


def machine_limits(n_matmul: int = 2048, n_triad: int = 2**24, repeats: int = 5, n_elementwise: int = 16384,
                   iterations: int = 1000) -> dict:
    """Peak FLOP/s of a square matmul (2n³ FLOPs) in float32 and float64, triad bandwidth, and the
    elementwise throughput of a compiled loop.

    Triad: ``a = b + s·c`` over float32 arrays of ``n_triad`` elements, 12 bytes moved per element
    (two reads, one write). Elementwise: ``x ← a·x + b`` (2 FLOPs per element) for ``iterations``
    iterations of a ``lax.fori_loop`` over a float32 vector of ``n_elementwise`` elements per device,
    sharded over all devices — the roof of an update that is one multiply-add per configuration, run
    the way a vmapped scan runs it (one fused loop over the vector per iteration, the vector in
    cache). Each figure is the median of ``repeats`` timed calls after a warm-up.
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
    devices = jax.devices()
    mesh = jax.sharding.Mesh(np.asarray(devices), ("d",))
    P = jax.sharding.PartitionSpec
    n = n_elementwise * len(devices)
    x = jax.device_put(jnp.ones(n, jnp.float32), jax.sharding.NamedSharding(mesh, P("d")))
    a, b0 = jnp.float32(0.999), jnp.float32(1e-3)
    loop = jax.jit(jax.shard_map(lambda x: jax.lax.fori_loop(0, iterations, lambda i, x: a * x + b0, x),
                                 mesh=mesh, in_specs=P("d"), out_specs=P("d")))
    out["elementwise_n_per_device"] = n_elementwise
    out["elementwise_flop_per_s"] = 2 * n * iterations / timed(loop, x)
    return out


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``lrsweep bench`` (and of ``benchmarks/throughput.py``)."""
    p.add_argument("--quick", action="store_true", help="small grids, 3 repeats (about two minutes on 2 cores)")
    p.add_argument("--cases", help=f"comma-separated case keys (default: all): {', '.join(CASE_KEYS)}")
    p.add_argument("--sizes", help="comma-separated numbers of configurations, replacing each case's list")
    p.add_argument("--methods", help=f"comma-separated methods to time beside lrsweep (default: all): "
                                     f"{', '.join(METHOD_ORDER[1:])}")
    p.add_argument("--steps", type=int, default=None,
                   help=f"optimizer steps per configuration (default: each case's own, {STEPS}; digits_mlp 500)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed samples per figure after a warm-up call (median; default 5, 3 with --quick)")
    p.add_argument("--memory", action="store_true",
                   help="report the engine's memory envelope (bytes per configuration and configurations per GB of "
                        "tanh MLPs of ~1e4, 1e5, 1e6 parameters on digits, minibatch 64); alone, nothing is timed, "
                        "with --cases both")
    p.add_argument("--json", "--out", dest="json", type=Path, default=None,
                   help="where to write the JSON (default benchmarks/results/throughput.json; memory.json for "
                        "--memory alone)")
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


METHOD_ORDER = ("lrsweep", "e_ceiling", "e_single", "e_bare_scan", "d_notebook", "c_numpy", "b_config_loop",
                "a_step_loop")
CEILING_DEVICE_CHUNK = 16384  # configurations per device and chunk of the hand-written ceiling (at most the engine's)


def run(cases: list[Case], repeats: int, limits: dict | None = None, methods: tuple[str, ...] | None = None
        ) -> list[dict]:
    """Every method (or those named in ``methods``; lrsweep always) on every (case, N), timed side by
    side; rows sorted, with ratios and, given the machine's ``limits``, achieved FLOP/s as a fraction
    of the limit that applies."""
    rows: list[dict] = []
    for case in cases:
        for i, n in enumerate(case.sizes):
            t0 = time.perf_counter()
            benches, prob, prog = bench_lrsweep(case, n)
            size = len(prob.configs)
            per_device = min(CEILING_DEVICE_CHUNK, prog.device_chunk)
            others = {
                "e_ceiling": lambda: bench_ceiling(prob, per_device * len(prog.devices), list(prog.devices)),
                "e_single": lambda: bench_ceiling(prob, per_device, [prog.devices[0]], name="e_single"),
                "e_bare_scan": lambda: bench_bare_scan(prob), "d_notebook": lambda: bench_notebook(prob),
                "c_numpy": (lambda: bench_numpy(prob)) if case.curvatures is not None else None,
                # one configuration at a time: independent of N, measured once per case
                "a_step_loop": (lambda: bench_step_loop(prob)) if i == 0 else None,
                "b_config_loop": (lambda: bench_config_loop(prob)) if i == 0 else None,
            }
            benches += [make() for m, make in others.items() if make is not None and (not methods or m in methods)]
            measure(benches, repeats)
            flops, xla_flops = flops_per_config_step(prob), xla_flops_per_config_step(prob)
            for b in benches:
                r = row(case, size, b)
                r["flop_per_config_step"], r["xla_flop_per_config_step"] = flops, xla_flops
                if limits:
                    achieved = flops * r["config_steps_per_s"]
                    r["fraction_of_matmul_f32_peak"] = achieved / limits["matmul_f32_flop_per_s"]
                    r["fraction_of_elementwise"] = achieved / limits["elementwise_flop_per_s"]
                    r["limit"] = case.limit
                    limit = "matmul_f32_peak" if case.limit == "matmul" else "elementwise"
                    r["fraction_of_limit"] = r[f"fraction_of_{limit}"]
                rows.append(r)
            print(f"  {case.key} N={size:,}: {time.perf_counter() - t0:.1f} s", flush=True)

    # (a) and (b) do not depend on N: repeat their figure at every N of the case for the table.
    extra = []
    for case in cases:
        singles = [r for r in rows if r["case"] == case.key and r["method"] in ("a_step_loop", "b_config_loop")]
        first = singles[0]["N"] if singles else None
        for n in sorted({r["N"] for r in rows if r["case"] == case.key} - {first}):
            extra += [{**r, "N": n, "measured_at_N": first} for r in singles]
    rows += extra
    order = {m: i for i, m in enumerate(METHOD_ORDER)}
    keys = [c.key for c in cases]
    rows.sort(key=lambda r: (keys.index(r["case"]), r["N"], order.get(r["method"], 0.5), r["method"]))
    add_ratios(rows)
    return rows


def _sci(x: float | None) -> str:
    if x is None or not np.isfinite(x) or x <= 0:
        return "–"
    e = int(np.floor(np.log10(x)))
    m = x / 10**e
    if round(m, 1) >= 10:
        m, e = m / 10, e + 1
    sup = str(e).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{m:.1f}·10{sup}"


NAMES = {"lrsweep": "lrsweep", "e_ceiling": "(e) fair ceiling, sharded", "e_single": "(e₁) ceiling, one device",
         "e_bare_scan": "(e₀) bare update, one device", "d_notebook": "(d) notebook loop", "c_numpy": "(c) NumPy",
         "b_config_loop": "(b) loop over configs", "a_step_loop": "(a) loop over steps"}


def markdown(rows: list[dict], cases: list[Case]) -> str:
    """The README's tables: lrsweep beside the fair ceiling (sharded), the single-device ceiling and
    their ratios, with the share of the machine's limit that applies (the float32 matmul peak for
    networks, the elementwise throughput for the others); then every method's configuration-steps/s
    and lrsweep ÷ each baseline."""
    cols = [m for m in METHOD_ORDER if any(r["method"] == m for r in rows)]
    title = {c.key: c.title for c in cases}
    by = {}
    for r in rows:
        by.setdefault((r["case"], r["N"]), {})[r["method"]] = r

    def rate(ms, m):
        return _sci(ms[m]["config_steps_per_s"]) if m in ms else "–"

    def ratio(ms, m):
        value = ms.get(m, {}).get("ratio_lrsweep_over_method")
        return f"{value:.2f}" if value else "–"

    out = ["| case | N | lrsweep | (e) fair ceiling, sharded | (e₁) ceiling, one device | lrsweep ÷ (e) | "
           "lrsweep ÷ (e₁) | lrsweep's share of the limit |", "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for (case, n), ms in by.items():
        lr = ms.get("lrsweep", {})
        frac = lr.get("fraction_of_limit")
        limit = {"matmul": "f32 matmul peak", "elementwise": "elementwise"}.get(lr.get("limit"), "")
        out.append(f"| {title.get(case, case)} | {_sci(n)} | {rate(ms, 'lrsweep')} | {rate(ms, 'e_ceiling')} | "
                   f"{rate(ms, 'e_single')} | {ratio(ms, 'e_ceiling')} | {ratio(ms, 'e_single')} | "
                   + ("–" if frac is None else f"{100 * frac:.2g} % of {limit}") + " |")
    out += ["", "| case | N | " + " | ".join(NAMES[m] for m in cols) + " |", "|---|--:|" + "--:|" * len(cols)]
    ratio_lines = []
    for (case, n), ms in by.items():
        out.append(f"| {title.get(case, case)} | {_sci(n)} | " + " | ".join(rate(ms, m) for m in cols) + " |")
        ratios = [f"{NAMES[m].split(' ')[0]} {ms[m]['ratio_lrsweep_over_method']:.3g}×" for m in cols[1:] if m in ms]
        ratio_lines.append(f"| {title.get(case, case)} | {_sci(n)} | " + ", ".join(ratios) + " |")
    out += ["", "| case | N | lrsweep ÷ baseline |", "|---|--:|---|", *ratio_lines]
    return "\n".join(out)


def cli(args: argparse.Namespace, command: str = "lrsweep bench") -> int:
    """``lrsweep bench``: time every case and method, print the table, write the JSON (``--memory``: the
    memory envelope too, or alone when no ``--cases`` are named)."""
    repeats = max(3, args.repeats if args.repeats is not None else (3 if args.quick else 5))
    keys = tuple(k.strip() for k in args.cases.split(",")) if args.cases else None
    cases = make_cases(args.quick, steps=args.steps, sizes=_ints(args.sizes), keys=keys)
    memory_only = bool(getattr(args, "memory", False)) and not keys
    out = args.json or Path("benchmarks") / "results" / ("memory.json" if memory_only else "throughput.json")
    argv = [a for a in sys.argv[1:]] if command.startswith("python") else sys.argv[2:]

    t_start = time.perf_counter()
    env = environment()
    if memory_only:
        mem = memory_envelope()
        print(memory_table(mem))
        result = {"benchmark": "lrsweep memory envelope (bytes per configuration)",
                  "command": " ".join([command, *argv]), "environment": env, "memory_envelope": mem,
                  "total_seconds": time.perf_counter() - t_start}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {out}")
        return 0
    print(f"lrsweep throughput benchmark  {env['date']}  jax {env['jax']}  optax {env['optax']}  "
          f"numpy {env['numpy']}  devices {env['devices']}  CPUs {env['cpus_usable']}/{env['cpu_count']} "
          f"({env['cpu_model']})", flush=True)
    limits = machine_limits(n_matmul=1024 if args.quick else 2048, n_triad=2**22 if args.quick else 2**24)
    print(f"machine: matmul float32 {limits['matmul_f32_flop_per_s']:.3g} FLOP/s, float64 "
          f"{limits['matmul_f64_flop_per_s']:.3g} FLOP/s; triad {limits['triad_bytes_per_s'] / 1e9:.3g} GB/s; "
          f"elementwise {limits['elementwise_flop_per_s']:.3g} FLOP/s", flush=True)
    methods = tuple(m.strip() for m in args.methods.split(",")) if getattr(args, "methods", None) else None
    unknown = set(methods or ()) - set(METHOD_ORDER)
    if unknown:
        raise lrsweep.SweepError("bench", "--methods", f"some of {list(METHOD_ORDER)}", sorted(unknown))
    rows = run(cases, repeats, limits, methods)

    print()
    print(table(rows))
    print()
    print(markdown(rows, cases))
    mem = None
    if getattr(args, "memory", False):
        mem = memory_envelope()
        print()
        print(memory_table(mem))
    total = time.perf_counter() - t_start
    print(f"\ntotal {total:.0f} s")

    result = {
        "benchmark": "lrsweep throughput (configuration-steps per second)",
        "command": " ".join([command, *argv]),
        "quick": args.quick, "repeats": repeats, "steps": args.steps, "dtype": "float32",
        "diverge_factor": DIVERGE_FACTOR, "default_chunk_size": DEFAULT_CHUNK,
        "environment": env, "machine_limits": limits, "total_seconds": total,
        "cases": [{"key": c.key, "title": c.title, "loss": c.loss, "init": c.init, "optimizer": c.optimizer,
                   "learning_rate_axes": {a: list(r) for a, r in c.rates.items()}, "steps": c.steps,
                   "diverge_factor": c.diverge_factor, "sizes": [c.size(n) for n in c.sizes]} for c in cases],
        "rows": rows,
    }
    if mem is not None:
        result["memory_envelope"] = mem
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python benchmarks/throughput.py …``: the same as ``lrsweep bench …``."""
    args = add_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args(argv)
    try:
        return cli(args, command="python benchmarks/throughput.py")
    except lrsweep.SweepError as e:
        print(f"lrsweep: {e}", file=sys.stderr)
        return 2
