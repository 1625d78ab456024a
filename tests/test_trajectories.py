"""``[trajectories]``: the problem's metrics and the update RMS along training for the recorded configurations.

What is checked: at the last recorded step the metrics equal the table's end-of-run columns of the same
configuration, at step 0 the metrics called by hand on the initial parameters; the update RMS is
``η · RMS(∇f)`` for gradient descent; the loss and parameter columns and the whole main table do not change
when metrics are recorded; ``metrics`` selects columns and refuses unknown names in one line.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import lrsweep
from lrsweep.cli import main

rng = np.random.default_rng(0)
X, Y = rng.normal(size=(32, 3)).astype(np.float32), rng.normal(size=32).astype(np.float32)
XV, YV = rng.normal(size=(16, 3)).astype(np.float32), rng.normal(size=16).astype(np.float32)
W0 = {"w": jnp.asarray([0.5, -1.0, 2.0], jnp.float32), "b": jnp.asarray(0.3, jnp.float32)}


def loss(p, batch):
    x, y = batch
    return jnp.mean((x @ p["w"] + p["b"] - y) ** 2)


def grad_rms(p, batch):
    g = jax.tree.leaves(jax.grad(loss)(p, batch))
    return jnp.sqrt(sum(jnp.sum(x ** 2) for x in g) / sum(x.size for x in g))


METRICS = {"grad_rms": grad_rms, "w_norm": lambda p, batch: jnp.sqrt(jnp.sum(p["w"] ** 2))}
PROBLEM = lrsweep.Problem(loss=loss, params=W0, data=(X, Y), eval_data=(XV, YV), metrics=METRICS)
LRS = [0.05, 0.2, 1.5]  # the last one diverges


def sweep(trajectories, problem=PROBLEM, steps=12):
    return lrsweep.sweep(problem, axes={"learning_rate": LRS}, steps=steps, optimizer="sgd", boundary=None,
                         progress=False, trajectories=trajectories)


def row(table, lr):
    """The table's row of learning rate ``lr`` (the table holds it in the sweep's dtype)."""
    return table[np.isclose(table["learning_rate"], lr, rtol=1e-6)].iloc[0]


@pytest.fixture(scope="module")
def recorded():
    return sweep({"learning_rate": LRS, "every": 3})


def test_the_columns_are_the_tables_metric_columns_and_the_update_rms(recorded):
    tr = recorded.trajectories
    names = ["grad_rms", "w_norm", "eval_loss", "eval_grad_rms", "eval_w_norm", "update_rms"]
    assert list(tr.columns[-len(names):]) == names
    assert set(names[:-1]) <= set(recorded.table.columns)
    assert sorted(tr["step"].unique()) == [0, 3, 6, 9, 12]


def test_the_last_recorded_step_is_the_end_of_run_column(recorded):
    tr, table = recorded.trajectories, recorded.table
    for lr in LRS[:2]:
        last = tr[(tr["learning_rate"] == lr) & (tr["step"] == 12)].iloc[0]
        for c in ("grad_rms", "w_norm", "eval_loss", "eval_grad_rms", "eval_w_norm"):
            assert last[c] == pytest.approx(row(table, lr)[c], rel=1e-5), (lr, c)
        assert np.isnan(last["update_rms"])  # no update after the last step


def test_the_first_recorded_step_is_the_metric_at_the_initial_parameters(recorded):
    tr = recorded.trajectories
    first = tr[tr["step"] == 0]
    assert len(first) == len(LRS)
    for c, fn, data in [("grad_rms", grad_rms, (X, Y)), ("w_norm", METRICS["w_norm"], (X, Y)),
                        ("eval_loss", loss, (XV, YV)), ("eval_grad_rms", grad_rms, (XV, YV))]:
        np.testing.assert_allclose(first[c], float(fn(W0, data)), rtol=1e-6)


def test_the_update_rms_of_gradient_descent_is_lr_times_the_gradient_rms(recorded):
    """Full batch: the update of step t is −η ∇f(θ_t) on the data the metric reads."""
    tr = recorded.trajectories
    for lr in LRS[:2]:
        g = tr[(tr["learning_rate"] == lr) & (tr["step"] < 12)]
        np.testing.assert_allclose(g["update_rms"], lr * g["grad_rms"], rtol=1e-5)


def test_a_diverged_run_keeps_its_metrics_up_to_the_divergence_step(recorded):
    tr, r = recorded.trajectories, row(recorded.table, LRS[2])
    t_d = r["divergence_step"]
    assert r["diverged"] and 0 < t_d < 12 and np.isnan(r["w_norm"])
    g = tr[tr["learning_rate"] == LRS[2]]
    assert g.loc[g["step"] <= t_d, "w_norm"].notna().all() and g.loc[g["step"] > t_d, "w_norm"].isna().all()


def test_recording_metrics_changes_neither_the_loss_nor_the_table(recorded):
    plain = sweep({"learning_rate": LRS, "every": 3, "metrics": False})
    assert "grad_rms" not in plain.trajectories
    cols = list(plain.trajectories.columns)
    pd.testing.assert_frame_equal(recorded.trajectories[cols], plain.trajectories)
    none = sweep(None)
    assert none.trajectories is None
    pd.testing.assert_frame_equal(recorded.table, none.table)


def test_a_list_records_those_columns_only():
    tr = sweep({"learning_rate": LRS[:1], "metrics": ["update_rms", "eval_w_norm"]}, steps=4).trajectories
    assert list(tr.columns[-2:]) == ["update_rms", "eval_w_norm"] and "grad_rms" not in tr
    assert len(tr) == 5


def test_a_problem_without_metrics_records_the_loss_only():
    plain = lrsweep.Problem(loss=loss, params=W0, data=(X, Y))
    tr = sweep({"learning_rate": LRS[:1]}, problem=plain, steps=4).trajectories
    assert list(tr.columns) == ["trajectory", "learning_rate", "step", "loss", "param_0", "param_1", "param_2",
                                "param_3"]


def test_an_unknown_metric_name_is_one_line_naming_the_field(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text('name = "t"\nsteps = 5\n[loss]\nname = "quadratic"\ncurvatures = [1.0]\n'
                    '[axes]\nlearning_rate = [0.1, 0.5]\n[trajectories]\nlearning_rate = [0.1]\n'
                    'metrics = ["attn_logit_0"]\n')
    assert main(["run", str(path), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "trajectories.metrics" in err and "attn_logit_0" in err
    assert "update_rms" in err and not (tmp_path / "r").exists()


def test_the_figure_has_a_panel_per_recorded_metric(recorded):
    from lrsweep import figstyle, plot

    assert plot.trajectory_panels(recorded.trajectories) == ["param_0", "loss", "grad_rms", "w_norm", "update_rms"]
    with figstyle.use("paper"):
        fig = plot.figure(recorded, "trajectories")
    drawn = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_ylabel() for ax in drawn][2:] == [plot.METRIC_LABELS["grad_rms"], "w norm",
                                                    plot.METRIC_LABELS["update_rms"]]
    assert drawn[2].get_yscale() == "log"
    for ax in drawn:  # one line per recorded configuration, the recorded steps
        assert len(ax.get_lines()) >= len(LRS)
    assert [t.get_text() for t in fig.axes[len(drawn)].get_legend().get_texts()] == [
        f"$\\eta$ = {lr:g}" for lr in LRS]


def test_a_recorded_run_does_not_depend_on_the_others_recorded_beside_it():
    """The recorded configurations go through a vmap of a width fixed by the problem (``Program.trajectories``):
    a run recorded alone and the same run recorded beside two others are bit-identical. Checked where rounding
    matters — a transformer at η = 0.3, 100 AdamW updates, where the attention logits grow 400-fold — and
    where it had not held: a vmap as wide as the recorded set parted them in the last digit by step 90."""
    from lrsweep import transformer as T
    from lrsweep.engine import Program

    problem = T.make_problem(width=8, depth=1, heads=2, context=8, batch_size=4, n_train=16, n_valid=8)
    spec = lrsweep.from_dict({"name": "t", "steps": 100, "loss": problem,
                              "optimizer": {"name": "lrsweep.transformer:adamw", "total_steps": 100},
                              "axes": {"learning_rate": [0.1, 0.3, 1.0], "loss.qk_layernorm": [0]}})
    program = Program(spec)

    def record(lrs):
        v = {"learning_rate": np.asarray(lrs), "loss.qk_layernorm": np.zeros(len(lrs))}
        return program.trajectories(v, steps=100, every=10, columns=("attn_logit_0",))

    alone, beside = record([0.3]), record([0.1, 0.3, 1.0])
    np.testing.assert_array_equal(alone[0][0], beside[0][1])
    np.testing.assert_array_equal(alone[2]["attn_logit_0"][0], beside[2]["attn_logit_0"][1])
    assert np.nanmax(alone[2]["attn_logit_0"][0]) > 100 * alone[2]["attn_logit_0"][0, 0]


def test_the_last_step_has_a_row_when_every_does_not_divide_the_steps():
    """Rows at 0, every, 2·every, … and at T: with T = 12 and every = 5, steps 0, 5, 10, 12; at 12 the metrics
    equal the table's end-of-run columns."""
    r = sweep({"learning_rate": [0.05], "every": 5})
    tr = r.trajectories
    assert sorted(tr["step"].unique()) == [0, 5, 10, 12]
    end = tr[tr["step"] == 12].iloc[0]
    row = r.table[np.isclose(r.table["learning_rate"], 0.05)].iloc[0]
    np.testing.assert_allclose(end[["grad_rms", "w_norm"]].to_numpy(float), row[["grad_rms", "w_norm"]].to_numpy(float),
                               rtol=1e-5)
