"""Your model, your data: lrsweep.Problem and lrsweep.sweep.

What is checked:
* the documented batch order: a plain optax loop (the user's own training loop, written from the
  README's recipe) reproduces swept configurations to 1e-6 in float64;
* four model styles (a plain dict pytree, Flax Linen ``model.apply``, Flax NNX ``nnx.split``/``nnx.merge``,
  Equinox ``eqx.partition``/``eqx.combine``) sweep end to end;
* theory through the API: gradient descent on ½λx² diverges above η = 2/λ;
* ``optimizer`` as a callable with a swept traced argument compiles once;
* data are arguments of the program (not constants), ``seed`` changes the batch order;
* every bad input is one SweepError before anything runs;
* a switch axis of booleans reaches the loss as 0 / 1.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest

import lrsweep
from lrsweep.config import SweepError
from lrsweep.problem import batch_indices


def _regression(n=40, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    return X, X @ w + 0.1 * rng.normal(size=n)


def _mse(p, batch):
    x, y = batch
    return jnp.mean((x @ p["w"] + p["b"] - y) ** 2)


def test_gd_on_a_quadratic_diverges_above_two_over_lambda():
    """f = ½λx², λ = 4: gradient descent's iterate is multiplied by (1 − ηλ) each step, so it diverges for
    η > 2/λ = 0.5; the refined boundary of a 1-D sweep through the Python API matches to 1e-4."""
    problem = lrsweep.Problem(loss=lambda x, batch: 2.0 * jnp.sum(x ** 2), params=jnp.ones(1), minimum=0.0)
    r = lrsweep.sweep(problem, axes={"learning_rate": lrsweep.linspace(0.05, 1.0, 20)}, steps=200,
                      dtype="float64", progress=False)
    assert r.boundary["critical_asymptotic"][0] == pytest.approx(0.5, rel=1e-4)
    assert set(r.table.columns) >= {"learning_rate", "initial_loss", "final_loss", "diverged", "outcome", "score"}


def _plain_loop(problem, lr, momentum, steps, seed):
    """The user's own training loop, written from the documented batch order."""
    opt = optax.sgd(lr, momentum=momentum)
    params = problem.params
    state = opt.init(params)
    key = jax.random.key(seed)
    n, B = problem.n_examples, problem.batch_size
    for t in range(steps):
        order = jax.random.permutation(jax.random.fold_in(key, t // (n // B)), n)
        j = t % (n // B)
        idx = order[j * B:(j + 1) * B]
        batch = jax.tree.map(lambda a: a[idx], problem.data)
        g = jax.grad(problem.loss)(params, batch)
        updates, state = opt.update(g, state, params)
        params = optax.apply_updates(params, updates)
    return float(problem.loss(params, problem.data))


def test_a_plain_optax_loop_reproduces_swept_configurations():
    """Minibatches of 8 of 40 examples (5 per epoch, 3+ epochs), two seeds: the swept final loss on the
    whole data equals the plain loop's to 1e-6 (float64)."""
    X, y = _regression()
    with jax.enable_x64(True):
        params = {"w": jnp.zeros(3, jnp.float64), "b": jnp.zeros((), jnp.float64)}
        problem = lrsweep.Problem(loss=_mse, params=params, data=(X, y), batch_size=8)
        r = lrsweep.sweep(problem, axes={"learning_rate": [0.01, 0.05], "momentum": [0.0, 0.9], "seed": [0, 3]},
                          steps=17, dtype="float64", progress=False, boundary=None)
        for row in r.table.itertuples():
            expect = _plain_loop(problem, row.learning_rate, row.momentum, 17, int(row.seed))
            assert row.final_loss == pytest.approx(expect, rel=1e-6, abs=1e-12)
    by_seed = r.table.set_index(["learning_rate", "momentum", "seed"]).final_loss
    assert by_seed[(0.05, 0.9, 0)] != by_seed[(0.05, 0.9, 3)]  # the seed changes the batch order


def test_batch_indices_cover_each_epoch_once_and_drop_the_partial_batch():
    key = jax.random.key(7)
    n, B = 10, 3  # 3 batches per epoch; example left over each epoch
    epoch = np.concatenate([np.asarray(batch_indices(key, t, n, B)) for t in range(3)])
    assert len(set(epoch.tolist())) == 9
    expect = np.asarray(jax.random.permutation(jax.random.fold_in(key, 1), n))[3:6]
    np.testing.assert_array_equal(batch_indices(key, 4, n, B), expect)


def _classification(n=64, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int32) + (X[:, 1] > 0).astype(np.int32) % k


def _sweep_model(loss, params, metrics=None):
    X, y = _classification()
    problem = lrsweep.Problem(loss=loss, params=params, data=(X, y), batch_size=16, eval_data=(X[:20], y[:20]),
                              metrics=metrics)
    return lrsweep.sweep(problem, axes={"learning_rate": lrsweep.logspace(1e-3, 1e4, 8)}, steps=40, progress=False)


def _ce(logits, y):
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))


def _check_model_sweep(r):
    assert len(r.table) == 8 and r.table.final_loss.min() < 0.9 * r.table.initial_loss.iloc[0]  # it trains
    assert {"eval_loss", "eval_accuracy", "accuracy"} <= set(r.table.columns)
    assert (r.table.accuracy.between(0, 1)).all() and r.table.accuracy.max() > 0.5
    assert r.manifest["compiles"] == 1


def test_model_style_plain_dict_pytree():
    def logits(p, x):
        return jnp.tanh(x @ p["w1"]) @ p["w2"]

    def init(key):
        k1, k2 = jax.random.split(key)
        return {"w1": jax.random.normal(k1, (4, 8)) / 2, "w2": jax.random.normal(k2, (8, 3)) / 3}

    X, y = _classification()
    problem = lrsweep.Problem(loss=lambda p, b: _ce(logits(p, b[0]), b[1]), init=init, data=(X, y), batch_size=16,
                              eval_data=(X[:20], y[:20]),
                              metrics={"accuracy": lambda p, b: jnp.mean(jnp.argmax(logits(p, b[0]), -1) == b[1])})
    r = lrsweep.sweep(problem, axes={"learning_rate": lrsweep.logspace(1e-3, 1e4, 8)}, steps=40, progress=False)
    _check_model_sweep(r)


def test_model_style_flax_linen():
    nn = pytest.importorskip("flax.linen")

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(3)(nn.tanh(nn.Dense(8)(x)))

    model = MLP()
    X, _ = _classification()
    variables = model.init(jax.random.key(0), X[:1])
    r = _sweep_model(lambda p, b: _ce(model.apply(p, b[0]), b[1]), variables,
                     {"accuracy": lambda p, b: jnp.mean(jnp.argmax(model.apply(p, b[0]), -1) == b[1])})
    _check_model_sweep(r)


def test_model_style_flax_nnx():
    nnx = pytest.importorskip("flax.nnx")

    class MLP(nnx.Module):
        def __init__(self, rngs):
            self.l1, self.l2 = nnx.Linear(4, 8, rngs=rngs), nnx.Linear(8, 3, rngs=rngs)

        def __call__(self, x):
            return self.l2(nnx.tanh(self.l1(x)))

    graphdef, state = nnx.split(MLP(nnx.Rngs(0)))

    def apply(state, x):
        return nnx.merge(graphdef, state)(x)

    r = _sweep_model(lambda s, b: _ce(apply(s, b[0]), b[1]), state,
                     {"accuracy": lambda s, b: jnp.mean(jnp.argmax(apply(s, b[0]), -1) == b[1])})
    _check_model_sweep(r)


def test_model_style_equinox():
    eqx = pytest.importorskip("equinox")
    model = eqx.nn.MLP(4, 3, 8, 1, activation=jnp.tanh, key=jax.random.key(0))
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def apply(p, x):
        return jax.vmap(eqx.combine(p, static))(x)

    r = _sweep_model(lambda p, b: _ce(apply(p, b[0]), b[1]), params,
                     {"accuracy": lambda p, b: jnp.mean(jnp.argmax(apply(p, b[0]), -1) == b[1])})
    _check_model_sweep(r)


def test_callable_optimizer_with_a_swept_argument_compiles_once():
    """optax.chain(clip_by_global_norm(clip), adamw(lr)): clip is an axis, traced; one executable."""
    X, y = _regression()
    problem = lrsweep.Problem(loss=_mse, params={"w": jnp.zeros(3), "b": jnp.zeros(())}, data=(X, y))

    def clipped_adamw(learning_rate, clip):
        return optax.chain(optax.clip_by_global_norm(clip), optax.adamw(learning_rate))

    r = lrsweep.sweep(problem, axes={"learning_rate": [0.01, 0.1], "clip": [0.01, 1.0, 100.0]}, steps=30,
                      optimizer=clipped_adamw, progress=False, boundary=None)
    assert r.manifest["compiles"] == 1
    losses = r.table.round(6).set_index(["learning_rate", "clip"]).final_loss
    assert losses[(0.1, 0.01)] != losses[(0.1, 1.0)]  # clipping at 0.01 changes the run: the argument arrives


def test_loss_parameters_are_sweepable_keywords():
    """An axis loss.<p> reaches the loss as a keyword (traced)."""
    problem = lrsweep.Problem(loss=lambda x, batch, curvature=1.0: 0.5 * curvature * jnp.sum(x ** 2),
                              params=jnp.ones(1), minimum=0.0)
    r = lrsweep.sweep(problem, axes={"learning_rate": lrsweep.linspace(0.1, 3.0, 30),
                                     "loss.curvature": [1.0, 4.0]}, steps=200, dtype="float64", progress=False)
    crit = r.boundary.set_index("loss.curvature").critical_asymptotic
    assert crit[1.0] == pytest.approx(2.0, rel=1e-4) and crit[4.0] == pytest.approx(0.5, rel=1e-4)


def test_dropout_key_and_data_as_arguments():
    """A loss taking key= gets a per-update key; the data are not compiled in as constants (the
    program's text is far smaller than the data)."""
    X = np.random.default_rng(0).normal(size=(32768, 16)).astype(np.float32)  # 2 MiB

    def loss(p, batch, key):
        keep = jax.random.bernoulli(key, 0.5, p.shape) if key is not None else 1.0
        return jnp.mean((batch @ (p * keep)) ** 2)

    problem = lrsweep.Problem(loss=loss, params=jnp.ones(16), data=X, batch_size=32)
    spec = lrsweep.from_dict({"name": "k", "steps": 5, "loss": problem,
                              "axes": {"learning_rate": {"values": [0.001, 0.01]}}})
    program = lrsweep.Program(spec)
    text = jax.jit(program._sweep_chunk).lower(program._abstract(program.chunk_size),
                                               program._abstract_data()).as_text()
    assert len(text) < X.nbytes / 4
    r = lrsweep.run(spec, progress=False)
    assert np.isfinite(r.table.final_loss).all()


BAD = [
    (dict(loss=lambda p, b: p * 2, params=jnp.ones(2)), "loss", "scalar"),
    (dict(loss=lambda p, b: jnp.sum(p) / 0.0 * 0.0, params=jnp.ones(2)), "loss", "finite"),
    (dict(loss=lambda p, b: jnp.sum(p * 1j).real * 0 + jnp.sum(p) * (1 + 1j), params=jnp.ones(2)), "loss",
     "complex"),
    (dict(loss=lambda p, b: jnp.sum(p), init=lambda key: 1 / 0), "init", "ZeroDivisionError"),
    (dict(loss=lambda p, b: jnp.sum(p), init=lambda key: {"w": jnp.ones(2, jnp.int32)}), "params", "floating"),
]


@pytest.mark.parametrize("kwargs, field, words", BAD)
def test_bad_problems_are_one_line_errors_before_anything_runs(kwargs, field, words, tmp_path):
    problem = lrsweep.Problem(**kwargs)
    with pytest.raises(SweepError) as e:
        lrsweep.sweep(problem, axes={"learning_rate": [0.1, 0.2]}, steps=5, progress=False, out=tmp_path / "r")
    msg = str(e.value)
    assert field in msg and words in msg and "\n" not in msg
    assert not (tmp_path / "r").exists()  # nothing written


@pytest.mark.parametrize("kwargs, argument", [
    (dict(loss=lambda p, b: 0.0, params=jnp.ones(1), data=(np.ones((5, 2)), np.ones(4))), "data"),
    (dict(loss=lambda p, b: 0.0, params=jnp.ones(1), data=np.ones((5, 2)), batch_size=6), "batch_size"),
    (dict(loss=lambda p, b: 0.0, params=jnp.ones(1), data=np.ones((5, 2)), batch_size=0), "batch_size"),
    (dict(loss=lambda p, b: 0.0), "params"),
    (dict(loss=lambda p, b: 0.0, params=jnp.ones(1), init=lambda k: jnp.ones(1)), "params"),
    (dict(loss="mse", params=jnp.ones(1)), "loss"),
    (dict(loss=lambda p, b: 0.0, params=jnp.ones(1), data=np.ones((5, 2)), eval_data=(np.ones((5, 2)),)),
     "eval_data"),
])
def test_malformed_problems_are_refused_when_built(kwargs, argument):
    with pytest.raises(lrsweep.ProblemError) as e:
        lrsweep.Problem(**kwargs)
    assert str(e.value).startswith(f"{argument}: expected")


def test_bad_sweep_arguments():
    problem = lrsweep.Problem(loss=lambda p, b: jnp.sum(p ** 2), params=jnp.ones(1), minimum=0.0)
    cases = [
        (dict(optimizer=lambda learning_rate, clip: optax.sgd(learning_rate)), "optimizer.clip"),
        (dict(optimizer="adamm"), "did you mean 'adam'"),
        (dict(schedule="cosine_decay_schedul"), "schedule.name"),
        (dict(axes={"learning_rate": [0.1], "loss.curvature": [1.0]}), "axes.loss.curvature"),
        (dict(axes={"learning_rate": [0.1], "momentm": [0.9]}), "did you mean 'momentum'"),
    ]
    for kw, words in cases:
        kw.setdefault("axes", {"learning_rate": [0.1, 0.2]})
        with pytest.raises(SweepError, match=words.replace("(", r"\(")):
            lrsweep.sweep(problem, steps=5, progress=False, **kw)


def test_sweep_file_naming_a_problem(tmp_path):
    """loss = "file.py:make_problem" in a sweep file: the module is imported once per process; resume
    refuses when the user's source changed."""
    mod = tmp_path / "myproblem.py"
    mod.write_text(
        "import jax.numpy as jnp, lrsweep\n"
        "CALLS = []\n"
        "def make_problem():\n"
        "    CALLS.append(1)\n"
        "    return lrsweep.Problem(loss=lambda x, b: 0.5 * jnp.sum(x ** 2), params=jnp.ones(1), minimum=0.0)\n")
    f = tmp_path / "s.toml"
    f.write_text(f'name = "p"\nsteps = 50\nloss = "{mod}:make_problem"\n'
                 '[axes.learning_rate]\nmin = 0.5\nmax = 3.0\nnum = 11\n')
    spec = lrsweep.load_sweep(f)
    again = lrsweep.load_sweep(f)
    import sys

    module = next(m for k, m in sys.modules.items() if k.startswith("_lrsweep_user_myproblem"))
    r = lrsweep.run(again, out=tmp_path / "r", progress=False)
    assert r.boundary["critical_asymptotic"][0] == pytest.approx(2.0, rel=1e-3)
    loaded = lrsweep.load_results(tmp_path / "r")  # reading results imports nothing
    assert loaded.spec.loss.name == f"{mod}:make_problem"
    assert len(module.CALLS) == 2  # one import, two calls of make_problem


def test_the_readme_example_runs_as_shown(tmp_path, monkeypatch):
    """The README's bring-your-own-model example (Flax NNX on the digits), executed as it stands."""
    pytest.importorskip("flax.nnx")
    pytest.importorskip("sklearn")
    from pathlib import Path

    text = (Path(__file__).parents[1] / "README.md").read_text()
    section = text.split("## Your model, your data", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102
    result = scope["result"]
    assert len(result.boundary) == 2 and (tmp_path / "digits-loss.png").stat().st_size > 0
    assert result.table.final_loss.min() < 0.5 * result.table.initial_loss.min()  # it trains the digits


def test_a_model_whose_one_configuration_does_not_fit_is_refused_before_it_runs(tmp_path):
    """2³⁶ float32 parameters (256 GiB, and as much again for the copy a run keeps of its block's start to
    replay its crossing): XLA's memory analysis of one update says it cannot fit; one line, nothing
    allocated, nothing written."""
    problem = lrsweep.Problem(loss=lambda p, b: jnp.sum(p ** 2), init=lambda key: jnp.zeros((2 ** 36,)))
    with pytest.raises(SweepError, match=r"one configuration needs 5\d\d\.\d\d GiB") as e:
        lrsweep.sweep(problem, axes={"learning_rate": [0.1, 0.2]}, steps=5, progress=False, out=tmp_path / "r")
    assert "\n" not in str(e.value) and not (tmp_path / "r").exists()


def test_the_vmap_width_follows_one_configurations_memory():
    """A bigger model gets a narrower vmap block (the automatic width keeps ~1 MiB of working set per block)."""
    def width(d):
        problem = lrsweep.Problem(loss=lambda p, b: jnp.sum(jnp.tanh(p) ** 2), params=jnp.ones(d))
        spec = lrsweep.from_dict({"name": "m", "steps": 10, "loss": problem,
                                  "axes": {"learning_rate": {"min": 0.1, "max": 1.0, "num": 4096}}})
        program = lrsweep.Program(spec)
        return program.batch, program.state_bytes

    (b_small, s_small), (b_big, s_big) = width(16), width(65536)
    assert s_big > 1000 * s_small / 4 and b_big < b_small


def test_resume_refuses_when_the_users_source_changed(tmp_path):
    import json

    mod = tmp_path / "changing.py"
    mod.write_text("import jax.numpy as jnp, lrsweep\n"
                   "def make_problem():\n"
                   "    return lrsweep.Problem(loss=lambda x, b: jnp.sum(x ** 2), params=jnp.ones(1), minimum=0.0)\n")
    f = tmp_path / "s.toml"
    f.write_text(f'name = "c"\nsteps = 20\nloss = "{mod}:make_problem"\n[axes.learning_rate]\nvalues = [0.1, 0.2]\n')
    out = tmp_path / "r"
    lrsweep.run(lrsweep.load_sweep(f), out=out, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["fingerprint"]["source"]
    (out / "manifest.json").write_text(json.dumps({**manifest, "status": "running"}))  # as if killed
    mod.write_text(mod.read_text() + "# edited\n")
    with pytest.raises(SweepError, match="different sweep .*code.source"):
        lrsweep.run(lrsweep.load_sweep(f), out=out, progress=False)


def test_batch_size_is_not_an_axis():
    problem = lrsweep.Problem(loss=lambda p, b: jnp.sum(p ** 2), params=jnp.ones(1))
    with pytest.raises(SweepError, match="axes.batch_size: expected an axis other than batch_size"):
        lrsweep.sweep(problem, axes={"learning_rate": [0.1], "batch_size": [8, 16]}, steps=5, progress=False)


def test_a_callable_schedule_multiplies_the_learning_rate():
    """schedule = step -> 0.5: η_t = η/2 on ½x², so gradient descent diverges above η = 4 (2/λ / 0.5)."""
    problem = lrsweep.Problem(loss=lambda x, b: 0.5 * jnp.sum(x ** 2), params=jnp.ones(1), minimum=0.0)
    r = lrsweep.sweep(problem, axes={"learning_rate": lrsweep.linspace(0.5, 6.0, 12)}, steps=200, dtype="float64",
                      schedule=lambda step: 0.5, progress=False)
    assert r.boundary["critical_asymptotic"][0] == pytest.approx(4.0, rel=1e-4)


def test_an_optax_schedule_by_name_through_the_api():
    """optax's exponential_decay by its own name and parameters (values relative to the learning rate)."""
    problem = lrsweep.Problem(loss=lambda x, b: 0.5 * jnp.sum(x ** 2), params=jnp.ones(1), minimum=0.0)
    r = lrsweep.sweep(problem, axes={"learning_rate": [0.5, 1.0]}, steps=20, dtype="float64", boundary=None,
                      schedule="exponential_decay", schedule_params={"transition_steps": 1, "decay_rate": 0.5},
                      progress=False)
    x = 1.0
    for t in range(20):  # x ← x (1 − η 0.5ᵗ)
        x *= 1 - 0.5 * 0.5 ** t
    assert r.table.final_loss[0] == pytest.approx(0.5 * x * x, rel=1e-10)


@pytest.mark.parametrize("body, words", [
    ("def make_problem():\n    raise RuntimeError('no data here')\n", "RuntimeError: no data here"),
    ("import sys\nsys.exit(3)\n", "SystemExit"),
    ("def make_problem():\n    return 42\n", "expected an lrsweep.Problem"),
    ("import jax.numpy as jnp, lrsweep\ndef make_problem():\n"
     "    return lrsweep.Problem(loss=lambda p, b: p, params=jnp.ones(3))\n", "scalar"),
])
def test_cli_a_bad_problem_file_is_exit_2_with_one_line(tmp_path, capsys, body, words):
    from lrsweep.cli import main

    (tmp_path / "p.py").write_text(body)
    f = tmp_path / "s.toml"
    f.write_text(f'name = "p"\nsteps = 5\nloss = "{tmp_path / "p.py"}:make_problem"\n'
                 '[axes.learning_rate]\nvalues = [0.1]\n')
    assert main(["run", str(f), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1 and str(f) in err
    assert not (tmp_path / "r").exists()


def test_a_sweep_file_optimizer_by_file_keeps_its_name_in_the_results(tmp_path):
    """[optimizer] name = "file.py:fn": sweep.toml records the file and function (not the module Python gave
    the file), so the results directory's sweep file reruns in a fresh process."""
    (tmp_path / "opt.py").write_text("import optax\n"
                                     "def clipped(learning_rate, clip=1.0):\n"
                                     "    return optax.chain(optax.clip_by_global_norm(clip), optax.sgd(learning_rate))\n")
    name = f"{tmp_path / 'opt.py'}:clipped"
    f = tmp_path / "s.toml"
    f.write_text(f'name = "o"\nsteps = 10\n[loss]\nname = "quadratic"\ncurvatures = [1.0]\n[init]\npoints = [[1.0]]\n'
                 f'[optimizer]\nname = "{name}"\nclip = 0.5\n[axes.learning_rate]\nvalues = [0.1, 0.5]\n')
    lrsweep.run(lrsweep.load_sweep(f), out=tmp_path / "r", progress=False)
    import tomllib

    written = tomllib.loads((tmp_path / "r" / "sweep.toml").read_text())
    assert written["optimizer"]["name"] == name
    assert lrsweep.load_sweep(tmp_path / "r" / "sweep.toml").optimizer.factory is not None


def test_a_switch_axis_of_booleans_reaches_the_loss_as_0_and_1():
    """``loss.p = [False, True]`` is swept as 0.0 / 1.0 (one program): the same table as ``[0, 1]``, and the
    switch acts (f = ½(1 + 3·on)x²: the boundary moves from lr = 2 to lr = 0.5)."""
    problem = lrsweep.Problem(loss=lambda x, batch, on=0.0: 0.5 * (1.0 + 3.0 * on) * jnp.sum(x ** 2),
                              params=jnp.ones(1), minimum=0.0)
    kw = dict(steps=100, dtype="float64", progress=False)
    lrs = lrsweep.linspace(0.1, 3.0, 30)
    r = lrsweep.sweep(problem, axes={"learning_rate": lrs, "loss.on": [False, True]}, **kw)
    numeric = lrsweep.sweep(problem, axes={"learning_rate": lrs, "loss.on": [0, 1]}, **kw)
    assert r.manifest["compiles"] == 1 and r.spec.axis("loss.on").scale == "switch"
    pd.testing.assert_frame_equal(r.table, numeric.table)
    crit = r.boundary.set_index("loss.on").critical_asymptotic
    assert crit[0.0] == pytest.approx(2.0, rel=1e-4) and crit[1.0] == pytest.approx(0.5, rel=1e-4)
