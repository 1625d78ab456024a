"""What the any-step divergence rule costs: the engine's grid throughput on every bench case, run
side by side with another checkout of lrsweep (``--old PATH``: a directory holding the previous
``lrsweep/`` package) in alternating repeats, so a loaded machine slows both alike.

    python benchmarks/any_step_cost.py --old /tmp/old --out benchmarks/results/any_step_cost.json

Each case is the bench case's sweep (same loss, optimizer, axes, 1000 steps; digits 500) at the
observation interval lrsweep picks for large sweeps (``Program.fast_check_every``), timed as the
median of ``--repeats`` calls of ``Program.evaluate`` over the whole grid after compilation.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CASES = {  # key -> (N, spec dict builder source)
    "quad1d": 100_000,
    "quad16d_hb": 100_000,
    "rosenbrock_adam": 100_000,
    "mlp_tanh": 10_000,
    "digits_mlp": 1_000,
}

CHILD = r'''
import json, statistics, sys, time
import numpy as np
import jax, jax.numpy as jnp, optax
import lrsweep
from lrsweep import grid
from lrsweep.engine import Program
key, n, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def digits():
    from lrsweep import datasets
    X, y = datasets.load("digits", split="train", standardize=True)
    rng = np.random.default_rng(0)
    sizes = (64, 32, 10)
    params = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f"w{i}"] = (rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32)
        params[f"b{i}"] = np.zeros(b, np.float32)
    def loss(p, batch):
        x, y = batch
        x = jnp.tanh(x @ p["w0"] + p["b0"])
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(x @ p["w1"] + p["b1"], y))
    return lrsweep.Problem(loss=loss, params=params, data=(X, y), batch_size=64, name="digits_mlp")

cases = {
  "quad1d": ({"name": "quadratic", "curvatures": [2.0]}, {"points": [[-1.0]]}, {"name": "sgd"},
             {"learning_rate": (1e-3, 2.0)}, 1000),
  "quad16d_hb": ({"name": "quadratic", "condition_number": 1e4, "dim": 16}, {"seed": 0},
                 {"name": "sgd", "momentum": 0.9}, {"learning_rate": (1e-6, 1e-2)}, 1000),
  "rosenbrock_adam": ({"name": "rosenbrock"}, {"points": [[-1.2, 1.0]]}, {"name": "adam"},
                      {"learning_rate": (1e-4, 1e2)}, 1000),
  "mlp_tanh": ({"name": "fractal_mlp", "width": 16, "activation": "tanh", "n_data": 16}, {}, {"name": "sgd"},
               {"learning_rate.layer0": (1e-1, 1e6), "learning_rate.layer1": (1e1, 1e4)}, 1000),
  "digits_mlp": (None, {"seed": 0}, {"name": "sgd"}, {"learning_rate": (1e-3, 1e2)}, 500),
}
loss, init, opt, rates, steps = cases[key]
m = n if len(rates) == 1 else int(np.ceil(n ** (1 / len(rates)) - 1e-9))
def spec(K):
    return lrsweep.from_dict({"name": f"cost-{key}", "steps": steps, "dtype": "float32",
        "loss": digits() if loss is None else loss, "init": init, "optimizer": opt,
        "axes": {a: {"min": lo, "max": hi, "num": m, "scale": "log"} for a, (lo, hi) in rates.items()},
        "criteria": {"diverge_factor": 1e6}, "boundary": {"max_rounds": 0}, "run": {"check_every": K}})
K = Program(spec(0)).fast_check_every
s = spec(K)
values = grid.configurations(s)
prog = Program(s)
prog.compile()
r = prog.evaluate(values)
times = []
for _ in range(repeats):
    t = time.perf_counter(); r = prog.evaluate(values); times.append(time.perf_counter() - t)
med = statistics.median(times)
print(json.dumps({"case": key, "N": s.size, "steps": steps, "K": K, "chunk": prog.chunk_size,
                  "median_s": med, "times_s": times, "config_steps_per_s": s.size * steps / med,
                  "diverged": int(np.sum(r["diverged"]))}))
'''


def child(path: str, key: str, n: int, repeats: int) -> dict:
    env = dict(os.environ, PYTHONPATH=path)
    out = subprocess.run([sys.executable, "-c", CHILD, key, str(n), "1"], env=env, capture_output=True, text=True,
                         check=True, cwd=path)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", required=True, help="directory holding the previous lrsweep/ package")
    ap.add_argument("--new", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--repeats", type=int, default=3, help="alternating old/new process pairs per case")
    ap.add_argument("--cases", nargs="*", default=list(CASES))
    ap.add_argument("--out")
    a = ap.parse_args()
    rows = []
    for key in a.cases:
        runs = {"old": [], "new": []}
        for _ in range(a.repeats):
            for which in ("old", "new"):
                runs[which].append(child(getattr(a, which), key, CASES[key], 1))
        row = {"case": key, "N": runs["new"][0]["N"], "steps": runs["new"][0]["steps"],
               "K_old": runs["old"][0]["K"], "K_new": runs["new"][0]["K"]}
        for which in ("old", "new"):
            ts = sorted(r["median_s"] for r in runs[which])
            row[f"{which}_s"] = ts[len(ts) // 2]
            row[f"{which}_config_steps_per_s"] = row["N"] * row["steps"] / row[f"{which}_s"]
            row[f"{which}_diverged"] = runs[which][0]["diverged"]
        row["new_over_old"] = row["new_config_steps_per_s"] / row["old_config_steps_per_s"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"when": time.strftime("%Y-%m-%d %H:%M"), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
