"""benchmarks/harness.py: every baseline computes what the engine computes, and ``lrsweep bench`` writes its table."""

import json

import harness as bench  # benchmarks/harness.py (on sys.path: conftest.py)
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lrsweep import grid as lgrid
from lrsweep.cli import main
from lrsweep.engine import Program

STEPS = 60
TINY = {"width": 8, "depth": 1, "heads": 2, "context": 8, "n_train": 64}  # a transformer that compiles fast


def _problem(key, n=48, steps=STEPS, diverge_factor=None):
    (case,) = bench.make_cases(True, steps=steps, sizes=(n,), keys=(key,))
    if diverge_factor is not None:
        case.diverge_factor = diverge_factor
    return _engine(case, n)


def _engine(case, n):
    """lrsweep's sweep of ``case`` over ``n`` configurations: the :class:`BenchProblem` and the final losses."""
    spec = case.spec(n)  # every update's loss is read: divergence flags are exact whatever the freeze interval
    values = lgrid.configurations(spec)
    prog = Program(spec)
    r = prog.evaluate(values)
    return bench.bench_problem(case, prog, values, r), np.asarray(r["final_loss"])


def _baselines(prob, steps):
    """``{method: (final loss, diverged, divergence step or None, picks or None)}`` of every baseline on
    every configuration ((a) and (b): on three)."""
    cs, data = jnp.asarray(prob.configs), prob.device_data()
    out = {}
    if prob.case.curvatures is not None:
        out["c"] = (*bench.numpy_sweep(prob.case, prob.params0, prob.configs, steps), None)
    _, nb_d, nb_f = bench.notebook_sweep(prob, steps)[0]()
    out["d"] = (nb_f, nb_d, None, None)
    devices = jax.devices()
    out["e"] = (*bench.ceiling_sweep(prob, devices, chunk=2 * len(devices) * 8)[0](), None)  # several chunks, padded
    out["e1"] = (*bench.ceiling_sweep(prob, devices[:1])[0](), None)
    out["e0"] = (*bench.bare_sweep(prob)[0](), None, None)
    # (a) and (b): one configuration through the jitted step loop (host batches) / the jitted scan
    init, update, run_one, final = (jax.jit(f) for f in bench.make_update(prob))
    picks = (0, len(cs) // 2, len(cs) - 1)
    a, b = [], []
    for i in picks:
        carry = init(cs[i], data)
        for t, batch in enumerate(prob.host_batches(steps)):
            carry = update(carry, cs[i], batch, jnp.asarray(t, jnp.int32))
        a.append(final(carry, data))
        b.append(run_one(cs[i], data))
    for key, res in (("a", a), ("b", b)):
        out[key] = tuple(np.array([np.asarray(r[j]) for r in res]) for j in range(3)) + (picks,)
    return out


def _check(prob, eng_f, results, ok, rtol=2e-4):
    """Every method's divergence flags are the engine's ((e₀), tested once at the end, flags a subset of
    them) and so are its divergence steps where it records them; its final losses are the engine's
    (``rtol``) where ``ok`` — for a diverged run the loss where the rule broke, where the method
    records it (not (d): it does not freeze; not (e₀))."""
    eng_d = prob.diverged
    for name, (f, d, step, picks) in results.items():
        sel = np.asarray(picks) if picks is not None else np.arange(len(eng_d))
        if name == "e0":  # (e₀) tests once, at the end: what it flags lrsweep flags too
            assert not np.any(d & ~eng_d[sel]), name
        else:
            np.testing.assert_array_equal(d, eng_d[sel], err_msg=name)
        if step is not None:
            np.testing.assert_array_equal(step, prob.div_step[sel], err_msg=name)
        good = ok[sel] & (~eng_d[sel] if name in ("d", "e0") else True)
        np.testing.assert_allclose(f[good], eng_f[sel][good], rtol=rtol, atol=1e-30, err_msg=name)


@pytest.mark.parametrize("key", [k for k in bench.CASE_KEYS if k not in ("digits_mlp", "transformer")])
def test_baselines_agree_with_engine(key):
    """Per configuration, (c) NumPy, (d) the notebook loop, (e) the sharded chunked ceiling, (e₁) the
    single-device one, (e₀) the bare update, (a) the step loop and (b) the config loop give lrsweep's
    divergence flag and its final loss (2e-4); (a), (b), (c), (e), (e₁) its divergence step too."""
    prob, eng_f = _problem(key)
    assert 0 < prob.diverged.sum() < len(prob.diverged)  # both outcomes present, so the comparison means something
    _check(prob, eng_f, _baselines(prob, STEPS), np.ones(len(eng_f), bool))


def test_digits_baselines_agree_with_engine():
    """digits_mlp (your model, your data): every baseline trains on lrsweep's batches (documented order,
    30 updates: across the epoch boundary at 22) and reproduces its divergence flags and final
    whole-data losses.

    With cross-entropy no run reaches 10⁶ × its initial loss, so the test counts "diverged" at 5× (the
    same factor for the engine and every baseline) to have both outcomes. Final losses are compared to
    2e-4 below η = 5: above it the float32 runs are chaotic — (b) unbatched and (e′) vmapped, both plain
    JAX, already differ by 3–78 % at η = 8.6–23 after 30 updates (rounding differences of 1e-7 grow
    ~1.7× per update), so no program computes "the" value there.
    """
    pytest.importorskip("sklearn")
    steps = 30
    prob, eng_f = _problem("digits_mlp", steps=steps, diverge_factor=5.0)
    assert prob.batch_size == 64 and prob.n_examples == 1438 and prob.minibatches
    assert 0 < prob.diverged.sum() < len(prob.diverged)
    lr = prob.configs[:, 0]
    _check(prob, eng_f, _baselines(prob, steps), lr < 5.0)
    # the batches a user's loop slices on the host are the ones batch_indices computes inside the program
    data = prob.device_data()
    for t, host in enumerate(prob.host_batches(25)):
        if t in (0, 21, 22, 24):
            inside = jax.jit(prob.batch)(data, jnp.asarray(t, jnp.int32))
            for u, v in zip(host, inside):
                np.testing.assert_array_equal(u, np.asarray(v))


def test_transformer_baselines_agree_with_engine():
    """transformer (the small LM of ``lrsweep.transformer`` at width 16, the paper's AdamW named
    ``module:function``, parameters from ``init(key)``, minibatches of 8 windows): every baseline builds
    the engine's optimizer, starts from the engine's parameters, trains on its batches and gives its
    divergence flags (1.1 × the initial loss, as the case counts them), divergence steps and final
    whole-data losses (2e-4) — at 6 learning rates 3e-4 … 3 over 10 updates, stable and diverged ones.
    The model is the smallest that keeps every part (width 8, one layer, 2 heads, context 8, 64 training
    windows): each baseline is a program of its own and XLA compiles a transformer update in seconds."""
    steps, n = 10, 6
    case = bench.transformer_case((n,), steps=steps, **TINY)
    prob, eng_f = _engine(case, n)
    assert case.optimizer == {"name": "lrsweep.transformer:adamw", "warmup_steps": 1, "total_steps": steps}
    assert prob.minibatches and prob.batch_size == 8 and prob.n_examples == 64
    assert 0 < prob.diverged.sum() < n and prob.diverged[-1] and not prob.diverged[0]
    _check(prob, eng_f, _baselines(prob, steps), np.ones(n, bool))


def _dot_flops(jaxpr) -> int:
    """FLOPs of every ``dot_general`` in ``jaxpr`` and its sub-jaxprs (2 per multiply-add)."""
    total = 0
    for e in jaxpr.eqns:
        if e.primitive.name == "dot_general":
            (contract, _), _ = e.params["dimension_numbers"]
            lhs = e.invars[0].aval.shape
            total += 2 * int(np.prod(e.outvars[0].aval.shape)) * int(np.prod([lhs[i] for i in contract]))
        for v in e.params.values():
            sub = getattr(v, "jaxpr", v)
            if hasattr(sub, "eqns"):
                total += _dot_flops(sub)
    return total


@pytest.mark.parametrize("shape", [{}, TINY], ids=["case", "tiny"])
def test_transformer_flops_are_its_matmuls(shape):
    """The transformer case's FLOPs per configuration-step (the fraction of the float32 matmul peak is taken
    of them) are exactly the matmul FLOPs of one update as traced: every ``dot_general`` of the gradient on one
    batch and of AdamW — for the case itself (width 32) and for another shape."""
    case = bench.transformer_case((4,), steps=10, **shape)
    problem = case.problem()
    params = problem.init(jax.random.key(0))
    prob = bench.BenchProblem(case, problem.loss, params, np.full((4, 1), 0.01, np.float32), np.zeros(4, bool),
                              np.full(4, -1), np.zeros(4), data=problem.data, batch_size=problem.batch_size)
    lr = jnp.asarray(prob.configs[0])
    carry = (params, prob.optimizer(lr).init(params))
    traced = jax.make_jaxpr(bench.bare_step(prob))(carry, lr, next(prob.host_batches(1)))
    flops = bench.transformer_flops(**shape)
    assert bench.flops_per_config_step(prob) == flops == _dot_flops(traced.jaxpr)
    assert bench.xla_flops_per_config_step(prob) > flops  # XLA adds the elementwise work


def test_flops_of_one_update():
    """x² under gradient descent: a handful of flops per update; the MLP: at least its two matmuls."""
    quad, _ = _problem("quad1d", 8)
    mlp, _ = _problem("mlp_tanh", 9)
    assert 0 < bench.flops_per_config_step(quad) < 50
    w, n = 16, 16
    assert bench.flops_per_config_step(mlp) > 2 * 2 * n * w * w  # forward and backward of x W0


def test_flops_of_digits_update():
    """One minibatch update of the 64-32-10 MLP: the products 64×64 @ 64×32 and 64×32 @ 32×10 forward, and
    backward the weight gradients and the hidden layer's (none for the input): ~2.2× the forward matmuls.
    A full-data pass would be 22× more: the batch, not the data, is what one update costs."""
    pytest.importorskip("sklearn")
    (case,) = bench.make_cases(True, steps=5, sizes=(8,), keys=("digits_mlp",))
    problem = case.problem()
    prob = bench.BenchProblem(case, problem.loss, problem.params, np.full((8, 1), 0.1, np.float32),
                              np.zeros(8, bool), np.full(8, -1), np.zeros(8), data=problem.data,
                              batch_size=problem.batch_size)
    matmuls = 2 * 64 * (64 * 32 + 32 * 10)
    assert 2 * matmuls < bench.flops_per_config_step(prob) < 3 * matmuls


def test_memory_envelope_grows_with_the_model():
    pytest.importorskip("sklearn")
    rows = bench.memory_envelope(widths=(8, 80), optimizers=("sgd", "adam"), n=100)
    assert [r["params"] for r in rows] == [610, 610, 6010, 6010]  # 64·h + h + 10·h + 10
    for r in rows:
        assert r["state_bytes"] >= r["param_bytes"] * (3 if r["optimizer"] == "adam" else 1)
        assert r["configs_per_GB"] == pytest.approx(1e9 / r["state_bytes"])
    assert rows[2]["state_bytes"] > rows[0]["state_bytes"]
    assert "configs/GB" in bench.memory_table(rows)


def test_per_layer_case_is_a_grid():
    (case,) = bench.make_cases(True, sizes=(10_000,), keys=("mlp_tanh",))
    spec = case.spec(10_000)
    assert case.size(10_000) == spec.size == 100 * 100
    assert [a.name for a in spec.axes] == list(case.rates)


@pytest.mark.parametrize("key", ["hb_lr_momentum", "quad16d_lr_momentum"])
def test_momentum_cases_are_lr_by_momentum_grids(key):
    """10⁶ configurations = 1000 learning rates (log) × 1000 momenta (linear, 0 … 0.99), the learning
    rate varying slowest; every baseline builds ``optax.sgd(lr, momentum=β)`` from a configuration's row."""
    (case,) = bench.make_cases(False, keys=(key,))
    assert max(case.sizes) == 1_000_000
    spec = case.spec(1_000_000)
    assert spec.size == 1_000_000
    assert [(a.name, len(a)) for a in spec.axes] == [("learning_rate", 1000), ("momentum", 1000)]
    values = lgrid.configurations(spec, 0, 1001)
    assert values["learning_rate"][999] == values["learning_rate"][0] < values["learning_rate"][1000]
    assert values["momentum"][0] == 0 and values["momentum"][999] == pytest.approx(0.99)
    prob = bench.BenchProblem(case, lambda p, b: 0.5 * jnp.sum(p**2), jnp.ones(case.dim),
                              np.array([[0.5, 0.9]], np.float32), np.zeros(1, bool), np.full(1, -1), np.zeros(1))
    opt = prob.optimizer(jnp.asarray(prob.configs[0]))
    x = jnp.ones(case.dim)
    u, st = opt.update(x, opt.init(x))
    u, _ = opt.update(x, st)
    np.testing.assert_allclose(u, -0.5 * (1 + 0.9) * x, rtol=1e-6)  # optax's heavy ball: m = g + β m, u = −η m


def test_cli_writes_table_and_json(tmp_path, capsys):
    out = tmp_path / "t.json"
    assert main(["bench", "--quick", "--cases", "quad1d", "--sizes", "200", "--steps", "20",
                 "--repeats", "3", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "a_step_loop" in text and "matmul float32" in text and "| case | N |" in text
    res = json.loads(out.read_text())
    methods = {r["method"] for r in res["rows"]}
    assert {"lrsweep", "e_ceiling", "e_single", "e_bare_scan", "d_notebook", "c_numpy", "b_config_loop",
            "a_step_loop"} <= methods
    assert all(r["config_steps_per_s"] > 0 and len(r["times_s"]) == 3 for r in res["rows"])
    assert [r["ratio_lrsweep_over_method"] for r in res["rows"] if r["method"] == "lrsweep"] == [1.0]
    assert all(0 < r["fraction_of_matmul_f32_peak"] and 0 < r["fraction_of_limit"] for r in res["rows"])
    ceiling = next(r for r in res["rows"] if r["method"] == "e_ceiling")
    assert ceiling["divergence_step_agreement_with_lrsweep"] == 1.0 and ceiling["devices"] == len(jax.devices())
    limits = res["machine_limits"]
    assert min(limits["matmul_f32_flop_per_s"], limits["triad_bytes_per_s"], limits["elementwise_flop_per_s"]) > 0
    assert res["steps"] == 20 and res["environment"]["devices"]


def test_cli_rejects_unknown_case(capsys):
    assert main(["bench", "--cases", "nope", "--sizes", "10"]) != 0
    assert "nope" in capsys.readouterr().err


def test_bench_and_gallery_outside_a_checkout_fail_in_one_line(tmp_path, monkeypatch, capsys):
    """An installed package without the repository around it: ``lrsweep bench`` / ``gallery`` say in one
    line which project script they need (exit 2) instead of a traceback."""
    from lrsweep import cli

    monkeypatch.setattr(cli, "__file__", str(tmp_path / "site-packages" / "lrsweep" / "cli.py"))
    monkeypatch.chdir(tmp_path)
    for argv, script in ((["bench", "--quick"], "benchmarks/harness.py"), (["gallery"], "scripts/gallery.py")):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and script in err and "clone of the repository" in err
