"""The engine: chunking, compilation count, freezing of diverged runs, metrics, optimizers and losses."""

import logging
import math
from pathlib import Path

import jax
import numpy as np
import pytest

import lrsweep
from lrsweep.engine import Program

SWEEPS = Path(__file__).resolve().parents[1] / "sweeps"


def small(**over):
    d = {
        "name": "t", "steps": 60,
        "loss": {"name": "quadratic", "curvatures": [1.0, 10.0]},
        "init": {"points": [[1.0, -1.0]]},
        "axes": {"learning_rate": {"min": 1e-3, "max": 1.0, "num": 37, "scale": "log"},
                 "momentum": {"values": [0.0, 0.3, 0.6, 0.9]}},
    }
    d.update(over)
    return lrsweep.from_dict(d)


def test_chunked_and_unchunked_tables_identical():
    """The chunk length (and padding of the last chunk) does not change a single value: every configuration
    is computed by the same `run.batch`-wide program, whatever the chunk."""
    spec = small(run={"batch": 8})
    whole = lrsweep.run(spec, progress=False, chunk_size=spec.size)
    for c in (7, 64):
        part = lrsweep.run(spec, progress=False, chunk_size=c)
        assert whole.table.equals(part.table)
        assert whole.boundary.equals(part.boundary)


def test_chunk_never_longer_than_the_grid():
    """A requested chunk beyond the grid size is capped (no chunk is mostly padding) and rounded up to a
    multiple of the batch width."""
    spec = small(run={"batch": 8})
    assert Program(spec, chunk_size=10**6, devices=1).chunk_size == 152  # 148 rounded up to 19 · 8
    assert Program(spec, chunk_size=16, devices=1).chunk_size == 16
    assert Program(spec, chunk_size=10, devices=1).chunk_size == 16
    # automatic width: set by the problem alone (a power of two), the small grid padded to one block of it
    p = Program(small(), devices=1)
    assert p.batch & (p.batch - 1) == 0 and p.batch >= 4 and p.chunk_size == p.batch * -(-148 // p.batch)


def test_one_compilation_per_sweep_shape(caplog):
    """Many chunks and every refinement round reuse one executable: XLA compiles `_sweep_chunk` once."""
    spec = small(run={"batch": 8})
    with jax.log_compiles(), caplog.at_level(logging.WARNING, logger="jax"):
        r = lrsweep.run(spec, progress=False, chunk_size=16)
    compiled = [m for m in caplog.messages if "Finished XLA compilation" in m and "_sweep_chunk" in m]
    assert r.manifest["chunks"] == -(-spec.size // 16) > 5
    assert r.manifest["refine_configurations"] > 0
    assert len(compiled) == 1, compiled
    assert r.manifest["compiles"] == 1


def test_a_refinement_round_runs_in_a_chunk_of_its_own_size_with_the_same_results():
    """A few configurations are not padded to the sweep's chunk (a second executable, sized to the round),
    and every configuration's metrics are bit-identical to the grid's: the same B-wide block computes it."""
    spec = small(axes={"learning_rate": {"min": 1e-3, "max": 3.0, "num": 4096, "scale": "log"},
                       "momentum": {"values": [0.5]}}, run={"batch": 64})
    p = Program(spec)
    lr = np.asarray(spec.axis("learning_rate").values)
    whole = p.evaluate({"learning_rate": lr, "momentum": np.full(4096, 0.5)})
    few = p.evaluate({"learning_rate": lr[::700], "momentum": np.full(len(lr[::700]), 0.5)})
    assert p.fitting_chunk(len(lr[::700])) < p.chunk_size and p.compiles == 2
    for m in few:
        np.testing.assert_array_equal(few[m], whole[m][::700])


def test_swept_values_are_traced_not_baked():
    """Two different grids of the same shape run through the same executable."""
    p = Program(small())
    a = p.evaluate({"learning_rate": np.full(5, 0.01), "momentum": np.zeros(5)})
    b = p.evaluate({"learning_rate": np.full(5, 0.5), "momentum": np.full(5, 0.9)})
    assert p.compiles == 1  # one executable for rounds of this size, whatever the values
    assert not np.array_equal(a["final_loss"], b["final_loss"])


def test_diverged_runs_are_frozen_without_nan():
    """Huge learning rates overflow float32 at once: the run is frozen, metrics stay finite or ±inf, no NaN leaks."""
    spec = small(axes={"learning_rate": {"values": [1e-2, 1e3, 1e30, 3e38]}})
    t = lrsweep.run(spec, progress=False).table
    assert list(t["diverged"]) == [False, True, True, True]
    assert (t["divergence_step"][1:] >= 1).all()
    assert t.loc[0, "divergence_step"] == -1
    assert not t[["min_loss", "score", "initial_loss"]].isna().any().any()
    assert (t["score"][1:] > 0).all() and t.loc[0, "score"] < 0


def test_outcomes_and_scores():
    """converged (fast → score ≈ −1), bounded (too slow or oscillating), diverged (fast → score ≈ +1).

    The loss is observed after every update here (run.check_every = 1), so the step counts are exact."""
    spec = lrsweep.from_dict({"name": "t", "steps": 100, "dtype": "float64", "run": {"check_every": 1},
                              "loss": {"name": "quadratic", "curvatures": [2.0]},
                              "init": {"points": [[-1.0]]}, "criteria": {"converge_tol": 1e-8},
                              "axes": {"learning_rate": {"values": [1e-4, 0.5, 0.3, 1.0, 1.01, 1.2, 5.0]}},
                              "boundary": {"max_rounds": 0}})
    t = lrsweep.run(spec, progress=False).table.set_index("learning_rate")
    # η = 1.01 grows by 1.02² per step: still below F = 1e6 after 100 steps, so bounded — but growing
    assert list(t["outcome"]) == ["bounded", "converged", "converged", "bounded", "bounded", "diverged", "diverged"]
    assert t.loc[0.5, "score"] == pytest.approx(-1 + 1 / 101, abs=1e-6)  # exact in one step
    assert t.loc[0.5, "convergence_step"] == 1
    assert -1 < t.loc[0.3, "score"] < t.loc[1e-4, "score"] < 0
    assert 0 < t.loc[1.2, "score"] < t.loc[5.0, "score"] < 1
    assert t.loc[1.0, "growth_rate"] == 0 and t.loc[1.01, "growth_rate"] > 0


@pytest.mark.parametrize("every", [1, 7, 10, 100, 1000])
def test_every_update_is_read_whatever_k(every):
    """run.check_every = K sets how often runs are frozen and the summaries observed; the divergence
    rule reads every update's loss, so outcomes, divergence steps, final losses and diverged scores
    are the same for every K (issue: outcomes that belong to the configuration). The convergence
    step is a summary: the first observation (t = 0, K, 2K, …, T) at or after the exact step."""
    spec = lrsweep.from_dict({"name": "t", "steps": 100, "dtype": "float64", "run": {"check_every": every},
                              "loss": {"name": "quadratic", "curvatures": [2.0]},
                              "init": {"points": [[-1.0]]}, "criteria": {"converge_tol": 1e-8},
                              "axes": {"learning_rate": {"values": [0.3, 0.5, 1.0, 1.2]}},
                              "boundary": {"max_rounds": 0}})
    t = lrsweep.run(spec, progress=False).table.set_index("learning_rate")
    assert list(t["outcome"]) == ["converged", "converged", "bounded", "diverged"]
    # η = 1.2: f_t = 1.96^t exceeds 1e6 first at t = 21; η = 0.3: f_t = 0.16^t ≤ 1e-8 first at t = 11
    assert t.loc[1.2, "divergence_step"] == 21
    assert t.loc[1.2, "final_loss"] == pytest.approx(1.96**21, rel=1e-12)
    K = min(every, 100)
    assert t.loc[0.3, "convergence_step"] == min(-(-11 // K) * K, 100)
    assert t.loc[0.3, "final_loss"] == pytest.approx(0.16**100, rel=1e-9)
    assert t.loc[1.0, "final_loss"] == 1.0
    # the score places the crossing of F·gap_0 inside step 21, geometrically: exact for f_t = 1.96^t
    assert t.loc[1.2, "score"] == pytest.approx(1 - math.log(1e6) / math.log(1.96) / 101, rel=1e-12)


def test_an_overflowing_run_scores_above_a_finite_diverged_one():
    """At η = 1e30 the float32 loss is inf after one update; at η = 5 (f × 81 a step) it is finite and
    crossed F·gap_0 at t* = ln 10⁶ / ln 81 ≈ 3.1. The overflowing run diverged faster, so its score is
    higher (t* = 0, the limit g_d → ∞ of the geometric interpolation inside step 1)."""
    spec = lrsweep.from_dict({"name": "t", "steps": 100, "run": {"check_every": 10},
                              "loss": {"name": "quadratic", "curvatures": [2.0]}, "init": {"points": [[-1.0]]},
                              "axes": {"learning_rate": {"values": [5.0, 1e30]}}, "boundary": {"max_rounds": 0}})
    slow, fast = lrsweep.run(spec, progress=False).table.sort_values("learning_rate").iloc
    assert slow["diverged"] and fast["diverged"] and not np.isfinite(fast["final_loss"])
    assert slow["score"] == pytest.approx(1 - math.log(1e6) / math.log(81) / 101, rel=1e-5)
    assert fast["score"] == pytest.approx(1.0) and fast["score"] > slow["score"]


def test_runs_diverging_at_the_same_step_do_not_tie():
    """Observed every update the divergence step is an integer, yet the score orders runs continuously:
    η = 1.2 and η = 1.202 both cross 10⁶ at step 21 (1.96²⁰ and 1.971²⁰ < 10⁶ < 1.96²¹), and the
    faster one scores higher."""
    spec = lrsweep.from_dict({"name": "t", "steps": 100, "dtype": "float64",
                              "loss": {"name": "quadratic", "curvatures": [2.0]}, "init": {"points": [[-1.0]]},
                              "axes": {"learning_rate": {"values": [1.2, 1.201, 1.202]}}, "boundary": {"max_rounds": 0}})
    t = lrsweep.run(spec, progress=False).table.set_index("learning_rate")
    assert (t["divergence_step"] == 21).all()
    assert t.loc[1.2, "score"] < t.loc[1.201, "score"] < t.loc[1.202, "score"]


@pytest.mark.parametrize("name,params", [
    ("sgd", {}), ("sgd", {"momentum": 0.9, "nesterov": True}), ("adam", {}), ("adamw", {"weight_decay": 1e-2}),
    ("rmsprop", {}), ("adagrad", {}), ("lion", {}),
])
def test_optimizers_run_and_match_plain_optax(name, params):
    """Each optax optimizer runs vmapped with a traced learning rate, and equals a plain optax loop."""
    import jax.numpy as jnp
    import optax

    spec = lrsweep.from_dict({"name": "t", "steps": 25, "dtype": "float64",
                              "loss": {"name": "rosenbrock"}, "init": {"points": [[-1.0, 1.5]]},
                              "optimizer": {"name": name, **params},
                              "axes": {"learning_rate": {"values": [1e-4, 1e-3]}}, "boundary": {"max_rounds": 0},
                              "trajectories": {"learning_rate": [1e-3]}})
    r = lrsweep.run(spec, progress=False)
    with jax.enable_x64(True):
        opt = getattr(optax, name)(learning_rate=1e-3, **params)
        x = jnp.asarray([-1.0, 1.5])
        st = opt.init(x)
        f = lambda p: (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2  # noqa: E731
        losses = []
        for _ in range(25):
            losses.append(float(f(x)))
            u, st = opt.update(jax.grad(f)(x), st, x)
            x = optax.apply_updates(x, u)
        losses.append(float(f(x)))
    np.testing.assert_allclose(r.trajectories.sort_values("step")["loss"], losses, rtol=1e-10)
    assert r.table.set_index("learning_rate").loc[1e-3, "final_loss"] == pytest.approx(losses[-1], rel=1e-10)


@pytest.mark.parametrize("axis,values", [
    ("schedule.decay_rate", [0.9, 0.99]), ("b1", [0.5, 0.9]), ("loss.curvature_scale", [0.5, 2.0]),
    ("init.scale", [0.5, 2.0]), ("seed", [0, 1]),
])
def test_every_kind_of_axis(axis, values):
    """Optimizer, schedule, loss and init parameters and the seed can all be swept (and change the result)."""
    opt = {"name": "adam"} if axis == "b1" else {"name": "sgd"}
    d = {"name": "t", "steps": 30, "loss": {"name": "quadratic", "curvatures": [1.0, 4.0]},
         "optimizer": opt, "axes": {"learning_rate": {"values": [0.05, 0.1]}, axis: {"values": values}},
         "boundary": {"max_rounds": 0}}
    if axis == "schedule.decay_rate":
        d["schedule"] = {"name": "exponential"}
    if axis != "seed":
        d["init"] = {"points": [[1.0, 1.0]]}
    t = lrsweep.run(lrsweep.from_dict(d), progress=False).table
    a, b = (t[np.isclose(t[axis], v)][["score", "final_loss"]].to_numpy() for v in values)
    assert len(a) == len(b) == 2 and not np.allclose(a, b, rtol=1e-4, atol=0)


@pytest.mark.parametrize("axis,values", [("factor", [0.2, 0.7]), ("rtol", [0.1, 0.5]), ("atol", [0.0, 0.05])])
def test_plateau_parameters_are_axes(axis, values):
    """reduce_on_plateau's factor, rtol and atol (checked in Python by optax) sweep as traced values,
    and every swept row matches a run with that value fixed in [schedule]."""
    base = {"factor": 0.5, "patience": 2, "rtol": 0.3, "atol": 0.0}

    def sweep(schedule, axes):
        return lrsweep.run(lrsweep.from_dict({
            "name": "t", "steps": 40, "loss": {"name": "quadratic", "curvatures": [1.0, 4.0]},
            "init": {"points": [[1.0, 1.0]]}, "schedule": {"name": "reduce_on_plateau", **schedule},
            "axes": {"learning_rate": {"values": [0.05, 0.1]}, **axes}, "boundary": {"max_rounds": 0}}),
            progress=False).table

    swept = sweep({k: x for k, x in base.items() if k != axis}, {f"schedule.{axis}": {"values": values}})
    for v in values:
        fixed = sweep({**base, axis: v}, {})
        rows = swept[np.isclose(swept[f"schedule.{axis}"], v)].reset_index(drop=True)
        # equal up to float32 rounding: a fixed value enters optax's arithmetic as a Python float
        np.testing.assert_allclose(rows["final_loss"], fixed["final_loss"], rtol=1e-6)
    a, b = (swept[np.isclose(swept[f"schedule.{axis}"], v)]["final_loss"].to_numpy() for v in values)
    assert not np.allclose(a, b, rtol=1e-3, atol=0)


def test_categorical_schedule_axis_and_plateau():
    """A `schedule` axis compiles every schedule into one program; reduce_on_plateau is fed the loss."""
    spec = lrsweep.load_sweep(SWEEPS / "schedules.toml", ["axes.learning_rate.num=24", "steps=100"])
    r = lrsweep.run(spec, progress=False)
    assert r.manifest["compiles"] == 1
    b = r.boundary.set_index("schedule")
    assert set(b.index) == {"constant", "step", "exponential", "inverse_sqrt", "cosine", "reduce_on_plateau"}
    assert np.isnan(b.loc["reduce_on_plateau", "theory_finite"])
    for s in ("constant", "step", "exponential", "inverse_sqrt", "cosine"):
        assert b.loc[s, "critical"] == pytest.approx(b.loc[s, "theory_finite"], rel=1e-4)
    # decaying schedules and the plateau rule all tolerate a larger initial learning rate than constant
    assert (b.drop("constant")["critical"] > b.loc["constant", "critical"]).all()


def test_several_initial_points_become_an_axis():
    spec = lrsweep.from_dict({"name": "t", "steps": 10, "loss": {"name": "quadratic", "curvatures": [1.0]},
                              "init": {"points": [[1.0], [2.0], [-3.0]]},
                              "axes": {"learning_rate": {"values": [0.1]}}, "boundary": {"max_rounds": 0}})
    assert spec.axis_names == ("learning_rate", "init.index")
    t = lrsweep.run(spec, progress=False).table
    np.testing.assert_allclose(t["initial_loss"], [0.5, 2.0, 4.5])


def test_mlp_and_user_loss(tmp_path, monkeypatch):
    """The MLP trains at a small learning rate and diverges at a large one; a module:function loss works."""
    spec = lrsweep.from_dict({"name": "t", "steps": 100, "loss": {"name": "mlp", "width": 8, "n_data": 8},
                              "axes": {"learning_rate": {"values": [1e-2, 1e3]}}, "boundary": {"max_rounds": 0}})
    t = lrsweep.run(spec, progress=False).table
    assert t.loc[0, "final_loss"] < t.loc[0, "initial_loss"] and t.loc[1, "diverged"]
    (tmp_path / "myloss.py").write_text("import jax.numpy as jnp\ndef f(x, a=1.0):\n    return a * jnp.sum(x ** 4)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = lrsweep.from_dict({"name": "t", "steps": 50, "loss": {"name": "myloss:f", "minimum": 0.0},
                              "init": {"points": [[1.0, 0.5]]},
                              "axes": {"learning_rate": {"min": 0.01, "max": 1.0, "num": 16, "scale": "log"},
                                       "loss.a": {"values": [1.0, 2.0]}}})
    r = lrsweep.run(spec, progress=False)
    b = r.boundary.set_index("loss.a")
    assert b.loc[2.0, "critical"] < b.loc[1.0, "critical"]
