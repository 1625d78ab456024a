"""Speed of a learning-rate sweep of the small transformer (lrsweep.transformer): one vmapped program over
``--lrs`` learning rates against the usual way, a Python loop over learning rates of a jitted training step.

    python benchmarks/transformer_bench.py [--width 64] [--lrs 64] [--steps 50] [--loop-lrs 4] [--out FILE.json]

Both train the same model (``make_problem(width=…)``: depth 2, 4 heads, context 32, batch 8, byte-level
stdlib corpus) with the paper's AdamW (:func:`lrsweep.transformer.adamw`, warm-up 10 % then cosine), on the
same batches (lrsweep's documented order, one per update, identical for every learning rate):

* **vmap**: ``jit(vmap(scan(step)))`` over all learning rates at once — the engine's hot path, bare
  (no divergence watching, no end-of-run evaluation);
* **lrsweep**: ``lrsweep.sweep`` itself (its ``sweep`` phase from the manifest: training, watching
  every update's loss, whole-data and validation evaluation, metrics; compilation excluded);
* **loop**: for each learning rate, a Python loop of ``steps`` calls of one jitted update
  ``(params, state, batch, lr) -> (params, state)`` (compiled once; the learning rate is an argument),
  timed over ``--loop-lrs`` learning rates and reported per configuration-step (it is linear in them).

Model FLOPs per configuration-step: ``6 · tokens · (matmul parameters) + 6 · B · depth · L² · d``
(forward + backward ≈ 3× forward, 2 FLOPs per multiply-add; attention scores and weighted sum). The
float32 matmul peak is measured with ``jnp.dot`` of two 2048×2048 matrices (best of 5).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lrsweep  # noqa: E402
from lrsweep import problem as P  # noqa: E402
from lrsweep import transformer as T  # noqa: E402


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    """float32 FLOP/s of ``jnp.dot`` of two ``n×n`` matrices (best of ``repeats``)."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    f = jax.jit(jnp.dot)
    f(a, a).block_until_ready()
    best = min(_timed(lambda: f(a, a).block_until_ready()) for _ in range(repeats))
    return 2 * n ** 3 / best


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def model_flops(cfg: T.Config, batch: int) -> float:
    """FLOPs of one training update (forward + backward) of one configuration."""
    d, L, f = cfg.width, cfg.context, cfg.mlp_ratio * cfg.width
    matmul_params = cfg.depth * (4 * d * d + 2 * d * f) + d * cfg.vocab
    return 6.0 * batch * L * matmul_params + 6.0 * batch * cfg.depth * L * L * d


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--lrs", type=int, default=64)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--loop-lrs", type=int, default=4)
    ap.add_argument("--out", default=None)
    ap.add_argument("--no-lrsweep", action="store_true", help="skip the lrsweep.sweep measurement")
    args = ap.parse_args(argv)

    problem = T.make_problem(width=args.width)
    cfg = T.Config(width=args.width, context=32)
    B, steps = problem.batch_size, args.steps
    lrs = np.geomspace(3e-4, 3e-1, args.lrs).astype(np.float32)
    data = P.cast_data(problem.data, jnp.float32)
    n = problem.n_examples
    key = jax.random.key(0)
    idx = np.stack([np.asarray(P.batch_indices(key, t, n, B)) for t in range(steps)])      # (steps, B)
    batches = jax.tree.map(lambda a: jnp.asarray(np.asarray(a)[idx]), data)               # (steps, B, …)
    params0 = problem.init(jax.random.fold_in(key, 0))
    loss = problem.loss

    def make_opt(lr):
        return T.adamw(lambda count: lr, warmup_steps=steps // 10, total_steps=steps)

    def step(carry, batch, lr):
        params, state = carry
        g = jax.grad(loss)(params, batch)
        u, state = make_opt(lr).update(g, state, params)
        return (optax.apply_updates(params, u), state)

    def run_one(lr):
        state = make_opt(lr).init(params0)
        (params, _), _ = jax.lax.scan(lambda c, b: (step(c, b, lr), None), (params0, state), batches)
        return loss(params, jax.tree.map(lambda a: a[0], batches))

    log = lambda *a: print(f"[{time.strftime('%H:%M:%S')}]", *a, file=sys.stderr, flush=True)  # noqa: E731
    vm = jax.jit(jax.vmap(run_one))
    t = time.perf_counter()
    vm(lrs).block_until_ready()
    compile_vmap = time.perf_counter() - t
    log(f"vmap compiled and ran once: {compile_vmap:.1f} s")
    t_vmap = min(_timed(lambda: vm(lrs).block_until_ready()) for _ in range(2))
    log(f"vmap: {t_vmap:.2f} s for {args.lrs} x {steps} config-steps")

    jstep = jax.jit(lambda p, s, b, lr: step((p, s), b, lr))
    state0 = make_opt(lrs[0]).init(params0)
    t = time.perf_counter()
    jax.block_until_ready(jstep(params0, state0, jax.tree.map(lambda a: a[0], batches), lrs[0]))
    compile_loop = time.perf_counter() - t
    per_batch = [jax.tree.map(lambda a: a[i], batches) for i in range(steps)]

    def loop():
        for lr in lrs[:args.loop_lrs]:
            p, s = params0, make_opt(lr).init(params0)
            for b in per_batch:
                p, s = jstep(p, s, b, lr)
            jax.block_until_ready(p)

    t_loop = _timed(loop)
    log(f"loop: {t_loop:.2f} s for {args.loop_lrs} x {steps} config-steps")

    phases = {"sweep": float("nan")}
    with tempfile.TemporaryDirectory() as out:
        if args.no_lrsweep:
            pass
        else:
            lrsweep.sweep(problem, axes={"learning_rate": lrs.tolist()}, steps=steps, optimizer=T.adamw,
                          optimizer_params={"warmup_steps": steps // 10, "total_steps": steps}, diverge_factor=1.1,
                          boundary=None, progress=False, out=out)
            phases = json.load(open(os.path.join(out, "manifest.json")))["phases"]
            log(f"lrsweep: sweep phase {phases['sweep']:.2f} s")

    peak = matmul_peak()
    flops = model_flops(cfg, B)
    cs = {"vmap": args.lrs * steps / t_vmap, "loop": args.loop_lrs * steps / t_loop,
          "lrsweep": args.lrs * steps / phases["sweep"]}
    result = {
        "width": args.width, "lrs": args.lrs, "steps": steps, "batch": B, "context": cfg.context,
        "params": int(sum(x.size for x in jax.tree.leaves(params0))), "flops_per_config_step": flops,
        "config_steps_per_s": cs, "speedup_vs_loop": {k: v / cs["loop"] for k, v in cs.items()},
        "fraction_of_f32_matmul_peak": {k: v * flops / peak for k, v in cs.items()},
        "matmul_peak_gflops": peak / 1e9, "seconds": {"vmap": t_vmap, "loop": t_loop, "compile_vmap": compile_vmap,
                                                      "compile_loop_step": compile_loop, "lrsweep_phases": phases},
        "host": {"machine": platform.machine(), "cpus": os.cpu_count(), "load_avg": os.getloadavg(),
                 "jax": jax.__version__, "devices": [str(d) for d in jax.devices()]},
    }
    print(json.dumps(result, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
