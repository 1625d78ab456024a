#!/usr/bin/env python3
"""The fractal experiment timed two ways on the same grid: lrsweep, and the original notebook's loop.

    python benchmarks/fractal_notebook.py [--res 32] [--steps 500] [--activation tanh]
                                          [--rows R] [--lrsweep RESULTS_DIR]
                                          [--out benchmarks/results/fractal_notebook.json]

Both train Sohl-Dickstein's network (``lrsweep.losses.fractal_mlp``: width 16, one hidden layer, no
biases, mean-field scaling, 272 random data points, MSE, float64) with full-batch gradient descent and
one learning rate per layer on a ``res × res`` log grid (input layer 1e-1 … 1e6, output layer 1e1 … 1e4,
the committed sweeps/fractal-tanh.toml window).

* ``notebook``: as in "The boundary of neural network trainability is fractal" (2024): one jitted
  ``vmap`` of a training step over the grid (parameters donated), called from a Python loop over the
  steps, every step's loss kept and stacked, then the notebook's convergence measure over the stack.
* ``lrsweep``: ``lrsweep.run`` of the same sweep (one compiled program; loss observed inside the scan).

Reported: configuration-steps per second for each (compilation excluded for lrsweep, where the
manifest records it; the notebook's first step includes its compilation and is excluded by timing a
warm-up call first), the agreement of the two on which runs diverged, XLA's flop count of one
configuration's training step and the achieved FLOP/s as a fraction of the float64 matmul peak
measured in the same run.

``--rows R`` runs the notebook on R of the ``res`` input-layer rows only (evenly spaced; its rate does
not depend on how many rows it is given, and a 512 × 512 grid its way takes hours here), and its time
for the whole grid is extrapolated (``notebook_seconds_whole_grid``). ``--lrsweep DIR`` takes lrsweep's
figures from a finished ``lrsweep run`` of the same grid (its manifest and table) instead of running it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from lrsweep import devices  # noqa: I001  (before jax starts: one JAX device per core, as `lrsweep run`)

devices.host_devices()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

jax.config.update("jax_enable_x64", True)

import lrsweep  # noqa: E402
from lrsweep import losses  # noqa: E402
from harness import machine_limits  # noqa: E402  (benchmarks/harness.py, beside this file)


def notebook(res: int, steps: int, activation: str, rows: np.ndarray | None = None
             ) -> tuple[float, np.ndarray, float]:
    """Seconds, the notebook's convergence measure (one per configuration of the chosen ``rows`` of
    the grid, all rows by default) and XLA's flops of one configuration's step, the notebook's way
    (Python loop over steps)."""
    loss = losses.fractal_mlp(width=16, activation=activation)
    theta = loss.init(jax.random.fold_in(jax.random.key(0), 0), jnp.float64(1.0))  # lrsweep's seed 0, index 0
    g0, g1 = np.geomspace(1e-1, 1e6, res), np.geomspace(1e1, 1e4, res)
    if rows is not None:
        g0 = g0[rows]
    lr = np.stack(np.meshgrid(g0, g1, indexing="ij"), -1).reshape(-1, 2)

    def train_step(theta, hparams):
        value, grad = jax.value_and_grad(loss.fn)(theta)
        rates = {"layer0": hparams[0], "layer1": hparams[1]}
        return jax.tree.map(lambda t, g, r: t - r * g, theta, grad, rates), value

    step = jax.jit(jax.vmap(train_step), donate_argnums=(0,))
    cost = jax.jit(train_step).lower(theta, jnp.asarray(lr[0])).cost_analysis() or {}
    flops = float((cost[0] if isinstance(cost, list | tuple) else cost).get("flops", 0.0))

    def measure(v, max_val=1e6):  # the notebook's convergence_measure (readout = loss)
        fin = jnp.isfinite(v)
        v = v * fin + max_val * (1 - fin)
        v = v / v[0]
        exceeds = v > max_val
        v = v * (1 - exceeds) + max_val * exceeds
        converged = jnp.mean(v[-20:]) < 1
        return jnp.where(converged, -jnp.sum(v), jnp.sum(1 / v))

    tile = lambda: jax.tree.map(lambda u: jnp.tile(u, (len(lr),) + (1,) * u.ndim), theta)  # noqa: E731
    hp = jnp.asarray(lr)
    jax.block_until_ready(step(tile(), hp))  # compile
    t0 = time.perf_counter()
    params, history = tile(), []
    for _ in range(steps):
        params, value = step(params, hp)
        history.append(value)
    score = jax.jit(jax.vmap(measure))(jnp.stack(history, axis=-1))
    score = np.asarray(score)
    return time.perf_counter() - t0, score, flops


def with_lrsweep(res: int, steps: int, activation: str):
    spec = lrsweep.from_dict({
        "name": "fractal-bench", "steps": steps, "dtype": "float64",
        "loss": {"name": "fractal_mlp", "width": 16, "activation": activation},
        "axes": {"learning_rate.layer0": {"min": 1e-1, "max": 1e6, "num": res, "scale": "log"},
                 "learning_rate.layer1": {"min": 1e1, "max": 1e4, "num": res, "scale": "log"}}})
    r = lrsweep.run(spec, progress=False)
    return r.manifest["run_seconds"], r.manifest["compile_seconds"], r.table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--res", type=int, default=32)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--activation", default="tanh")
    ap.add_argument("--rows", type=int, help="run the notebook on this many evenly spaced rows only")
    ap.add_argument("--lrsweep", type=Path, help="a finished `lrsweep run` of the same grid to read")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    n = a.res * a.res
    rows = None if not a.rows or a.rows >= a.res else np.unique(np.linspace(0, a.res - 1, a.rows).round().astype(int))
    if a.lrsweep:  # read (and check) the finished run first, before hours of the notebook's loop
        manifest = json.loads((a.lrsweep / "manifest.json").read_text())
        t_ls, t_compile = manifest["run_seconds"], manifest["compile_seconds"]
        table = pd.read_parquet(a.lrsweep / "table.parquet", columns=["config", "diverged"])
        if len(table) != n or manifest["steps"] != a.steps:
            raise SystemExit(f"fractal_notebook.py: --lrsweep {a.lrsweep}: expected a run of {a.res}² configurations "
                             f"× {a.steps} steps, found {len(table)} × {manifest['steps']}")
    limits = machine_limits()
    t_nb, score_nb, flops = notebook(a.res, a.steps, a.activation, rows)
    n_nb = score_nb.size
    if not a.lrsweep:
        t_ls, t_compile, table = with_lrsweep(a.res, a.steps, a.activation)
    diverged_ls = table.sort_values("config")["diverged"].to_numpy().astype(bool).reshape(a.res, a.res)
    if rows is not None:
        diverged_ls = diverged_ls[rows]
    nb_rate, ls_rate = n_nb * a.steps / t_nb, n * a.steps / t_ls
    out = {"res": a.res, "steps": a.steps, "activation": a.activation, "configurations": n,
           "notebook_configurations": n_nb, "notebook_rows": None if rows is None else rows.tolist(),
           "notebook_seconds": t_nb, "notebook_seconds_whole_grid": t_nb * n / n_nb,
           "notebook_config_steps_per_second": nb_rate,
           "lrsweep_seconds": t_ls, "lrsweep_compile_seconds": t_compile, "lrsweep_results": str(a.lrsweep or ""),
           "lrsweep_config_steps_per_second": ls_rate,
           "speedup": ls_rate / nb_rate,
           "diverged_agreement": float(np.mean((score_nb > 0) == diverged_ls.reshape(-1))),
           "flop_per_config_step": flops, "machine_limits": limits,
           "lrsweep_fraction_of_matmul_f64_peak": flops * ls_rate / limits["matmul_f64_flop_per_s"],
           "notebook_fraction_of_matmul_f64_peak": flops * nb_rate / limits["matmul_f64_flop_per_s"],
           "host": lrsweep.store.host() if hasattr(lrsweep, "store") else None}
    print(json.dumps(out, indent=2, default=str))
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(out, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
