"""The outcome rules (lrsweep.outcomes) and the promise behind them: a configuration's outcome is a
property of the configuration alone.

Divergence rule: diverged ⇔ at any step t ≤ T the loss is non-finite or f_t − f* > F·(f₀ − f*).
Every update's loss is read (it comes with the gradient), so neither the freeze interval K
(``run.check_every``), nor the chunk length, nor the other configurations of the grid can change
what is reported for a configuration.
"""

import math

import numpy as np
import pytest

import lrsweep

COLUMNS = ["outcome", "diverged", "divergence_step", "convergence_step", "final_loss", "min_loss", "score",
           "growth_rate"]


def adam_spike(lrs, *, check_every=0, extra_axes=None):
    """Adam on f = ½x² from x₀ = 1, 300 steps, F = 10⁶. Adam's first update moves x by −lr·sign(g)
    (m̂/√v̂ = ±1), so f₁ = ½(lr − 1)² exceeds F·f₀ = ½·10⁶ exactly when lr > 1001; afterwards the
    steps shrink and the loss comes back down. Only step 1 breaks the rule."""
    axes = {"learning_rate": {"values": list(lrs)}} if not isinstance(lrs, dict) else {"learning_rate": lrs}
    axes.update(extra_axes or {})
    return lrsweep.from_dict({"name": "adam-spike", "steps": 300, "dtype": "float64",
                              "loss": {"name": "quadratic", "curvatures": [1.0]}, "init": {"points": [[1.0]]},
                              "optimizer": {"name": "adam"}, "criteria": {"diverge_factor": 1e6},
                              "axes": axes, "boundary": {"max_rounds": 0}, "run": {"check_every": check_every}})


@pytest.mark.parametrize("check_every", [0, 1, 7, 20, 100, 300])
def test_a_spike_at_step_one_is_divergence_whatever_k(check_every):
    t = lrsweep.run(adam_spike([1000.0, 1002.0], check_every=check_every), progress=False).table
    t = t.set_index("learning_rate")
    assert not t.loc[1000.0, "diverged"]
    assert t.loc[1002.0, "diverged"] and t.loc[1002.0, "divergence_step"] == 1
    step = 1002.0 / (1 + 1e-8)  # m̂/(√v̂ + ε) with g₀ = 1, ε = 1e-8
    assert t.loc[1002.0, "final_loss"] == pytest.approx(0.5 * (step - 1.0) ** 2, rel=1e-12)


def test_a_spike_at_step_one_is_divergence_in_a_60000_point_grid():
    """The same learning rate inside a 60,000-point grid (freeze interval chosen for a large sweep):
    still diverged at step 1, and the grid's first diverged learning rate is just above 1001."""
    lrs = np.concatenate([np.linspace(1.0, 5000.0, 59_999), [1002.0]])
    r = lrsweep.run(adam_spike(np.sort(lrs)), progress=False)
    assert r.manifest["check_every"] > 1  # the point: K > 1 changes nothing
    t = r.table.drop_duplicates("learning_rate").set_index("learning_rate")
    assert t.loc[1002.0, "diverged"] and t.loc[1002.0, "divergence_step"] == 1
    first = t.index[t["diverged"].to_numpy()].min()
    assert 1001.0 < first < 1001.0 + 5000.0 / 59_998 + 1e-9
    # and every learning rate between 1001 and 5000 diverged (at step 1)
    above = t[t.index > 1001.0 + 1e-9]
    assert above["diverged"].all() and (above["divergence_step"] == 1).all()


def _alone(spec_dict, config):
    d = dict(spec_dict, axes={k: {"values": [v]} for k, v in config.items()})
    return lrsweep.run(lrsweep.from_dict(d), progress=False).table.iloc[0]


@pytest.mark.parametrize("case", ["heavy_ball", "rosenbrock_adam", "mlp"])
def test_a_configuration_gives_the_same_result_alone_and_inside_a_large_grid(case):
    """Property: for random configurations of a random grid, every reported column is identical
    (bit for bit) whether the configuration runs alone (K and chunk of a 1-point sweep) or inside a
    large grid (K, chunk length and block chosen for thousands of configurations)."""
    rng = np.random.default_rng({"heavy_ball": 1, "rosenbrock_adam": 2, "mlp": 3}[case])
    base = {"name": "prop", "dtype": "float32", "boundary": {"max_rounds": 0}}
    if case == "heavy_ball":
        base |= {"steps": 400, "loss": {"name": "quadratic", "condition_number": 100.0, "dim": 4},
                 "init": {"seed": 0}, "optimizer": {"name": "sgd"}}
        axes = {"learning_rate": np.sort(rng.uniform(1e-3, 0.1, 150)), "momentum": np.sort(rng.uniform(0, 0.99, 80))}
    elif case == "rosenbrock_adam":
        base |= {"steps": 300, "loss": {"name": "rosenbrock"}, "init": {"points": [[-1.2, 1.0]]},
                 "optimizer": {"name": "adam"}}
        axes = {"learning_rate": np.sort(np.exp(rng.uniform(np.log(1e-4), np.log(1e2), 400))),
                "b1": np.sort(rng.uniform(0.5, 0.95, 20))}
    else:
        base |= {"steps": 100, "loss": {"name": "mlp"}, "init": {"seed": 0}, "optimizer": {"name": "sgd"}}
        axes = {"learning_rate": np.sort(np.exp(rng.uniform(np.log(1e-3), np.log(10.0), 300)))}
    grid = lrsweep.run(lrsweep.from_dict(base | {"axes": {k: {"values": [float(x) for x in v]}
                                                          for k, v in axes.items()}}), progress=False)
    t = grid.table
    assert len(t) >= 300 and grid.manifest["check_every"] > 1
    # configurations from every outcome present, plus random ones
    picks = []
    for o in t["outcome"].unique():
        picks.append(int(rng.choice(np.flatnonzero(t["outcome"].to_numpy() == o))))
    picks += [int(i) for i in rng.integers(len(t), size=2)]
    for i in picks:
        row = t.iloc[i]
        one = _alone(base, {k: float(row[k]) for k in axes})
        for c in COLUMNS:
            a, b = row[c], one[c]
            same = (a == b) or (isinstance(a, float) and math.isnan(a) and math.isnan(b))
            assert same, f"{case} config {i} ({row['outcome']}): {c} = {a} in the grid, {b} alone"


@pytest.mark.parametrize("loss,init", [({"name": "rosenbrock"}, {"seed": 0}),
                                       ({"name": "mlp"}, {"seed": 0}),
                                       ({"name": "fractal_mlp", "width": 4}, {"seed": 1}),
                                       ({"name": "quadratic", "condition_number": 10.0, "dim": 3}, {"seed": 2})])
def test_float32_and_float64_sweeps_are_the_same_problem(loss, init):
    """``dtype`` is a precision switch only: random data, teachers and initial points are drawn in one
    fixed precision and cast, so f₀ and the initial point agree between dtypes to float32 rounding."""
    from lrsweep.engine import Program

    def spec(dtype):
        return lrsweep.from_dict({"name": "d", "steps": 1, "dtype": dtype, "loss": loss, "init": init,
                                  "axes": {"learning_rate": {"values": [1e-3]}}})

    import jax

    def point(dtype):
        x = Program(spec(dtype)).initial_point({"learning_rate": 1e-3})
        return np.concatenate([np.ravel(a) for a in jax.tree.leaves(x)])

    np.testing.assert_allclose(point("float64"), point("float32"), rtol=1e-6, atol=1e-7)
    f32, f64 = (lrsweep.run(spec(d), progress=False).table["initial_loss"].iloc[0] for d in ("float32", "float64"))
    assert f64 == pytest.approx(f32, rel=1e-5)


def test_running_a_sweep_imports_no_plotting():
    """One-way flow: the pipeline computes and writes; drawing is the CLI's (or the user's) next step.
    A sweep run in a fresh process imports neither lrsweep.plot nor matplotlib."""
    import subprocess
    import sys

    code = ("import sys, lrsweep; lrsweep.run(lrsweep.from_dict({'name': 't', 'steps': 5, 'loss': {'name': "
            "'quadratic', 'curvatures': [1.0]}, 'axes': {'learning_rate': {'values': [0.5, 3.0]}}}), progress=False); "
            "print(sorted(m for m in sys.modules if m in ('lrsweep.plot', 'matplotlib', 'lrsweep.figstyle')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
