"""lrsweep.bench: every baseline computes what the engine computes, and ``lrsweep bench`` writes its table."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lrsweep import bench
from lrsweep import grid as lgrid
from lrsweep.cli import main
from lrsweep.engine import Program

STEPS = 60


def _problem(key, n=48):
    (case,) = bench.make_cases(True, steps=STEPS, sizes=(n,), keys=(key,))
    spec = case.spec(n)  # small: observed after every update, so divergence flags are exact
    values = lgrid.configurations(spec)
    prog = Program(spec)
    r = prog.evaluate(values)
    assert prog.check_every == 1
    params0 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), prog.initial_point({}))
    lrs = np.stack([values[a] for a in case.rates], -1).astype(np.float32)
    prob = bench.Problem(case, prog.loss_of(prog.setup.defaults()), params0, lrs, np.asarray(r["diverged"], bool))
    return prob, np.asarray(r["final_loss"])


@pytest.mark.parametrize("key", bench.CASE_KEYS)
def test_baselines_agree_with_engine(key):
    """Per configuration, (c) NumPy, (d) the notebook loop, (e) and (e′) jit(vmap(scan)), (a) the step
    loop and (b) the config loop give lrsweep's divergence flag, and its final loss f(x_T) (2e-4)."""
    prob, eng_f = _problem(key)
    eng_d = prob.diverged
    assert 0 < eng_d.sum() < len(eng_d)  # both outcomes present, so the comparison means something
    ok = ~eng_d
    lrs = jnp.asarray(prob.lrs)

    results = []
    if prob.case.curvatures is not None:
        results.append(bench.numpy_sweep(prob.case, prob.params0, prob.lrs[:, 0], STEPS))
    _, _, run_one, _ = bench.make_update(prob)
    results.append(tuple(map(np.asarray, jax.jit(jax.vmap(run_one))(lrs))))
    history, nb_d = bench.notebook_sweep(prob, STEPS)[0]()
    results.append((history[-1], nb_d))
    for f, d in results:
        np.testing.assert_array_equal(d, eng_d)
        np.testing.assert_allclose(f[ok], eng_f[ok], rtol=2e-4, atol=1e-30)

    # (e) tests once, at the end: what it flags lrsweep flags too (lrsweep also sees overshoots that recover)
    bare_f, bare_d = bench.bare_sweep(prob)[0]()
    assert not np.any(bare_d & ~eng_d)
    np.testing.assert_allclose(bare_f[ok], eng_f[ok], rtol=2e-4, atol=1e-30)

    # (a) and (b): one configuration through the jitted step loop / the jitted scan
    init, update, _, final = bench.make_update(prob)
    step = jax.jit(update)
    for i in (0, len(lrs) // 2, len(lrs) - 1):
        carry = init(lrs[i])
        for _ in range(STEPS):
            carry = step(carry, lrs[i])
        f_a, d_a = final(carry)
        f_b, d_b = jax.jit(run_one)(lrs[i])
        assert bool(d_a) == bool(d_b) == eng_d[i]
        if not eng_d[i]:
            np.testing.assert_allclose([float(f_a), float(f_b)], eng_f[i], rtol=2e-4)


def test_flops_of_one_update():
    """x² under gradient descent: a handful of flops per update; the MLP: at least its two matmuls."""
    quad, _ = _problem("quad1d", 8)
    mlp, _ = _problem("mlp_tanh", 9)
    assert 0 < bench.flops_per_config_step(quad) < 50
    w, n = 16, 16
    assert bench.flops_per_config_step(mlp) > 2 * 2 * n * w * w  # forward and backward of x W0


def test_per_layer_case_is_a_grid():
    (case,) = bench.make_cases(True, sizes=(10_000,), keys=("mlp_tanh",))
    spec = case.spec(10_000)
    assert case.size(10_000) == spec.size == 100 * 100
    assert [a.name for a in spec.axes] == list(case.rates)


def test_cli_writes_table_and_json(tmp_path, capsys):
    out = tmp_path / "t.json"
    assert main(["bench", "--quick", "--cases", "quad1d", "--sizes", "200", "--steps", "20",
                 "--repeats", "3", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "a_step_loop" in text and "matmul float32" in text and "| case | N |" in text
    res = json.loads(out.read_text())
    methods = {r["method"] for r in res["rows"]}
    assert {"lrsweep", "e_bare_scan", "e_vmap_scan", "d_notebook", "c_numpy", "b_config_loop",
            "a_step_loop"} <= methods
    assert all(r["config_steps_per_s"] > 0 and len(r["times_s"]) == 3 for r in res["rows"])
    assert [r["ratio_lrsweep_over_method"] for r in res["rows"] if r["method"] == "lrsweep"] == [1.0]
    assert all(0 < r["fraction_of_matmul_f32_peak"] for r in res["rows"])
    assert res["machine_limits"]["matmul_f32_flop_per_s"] > 0 and res["machine_limits"]["triad_bytes_per_s"] > 0
    assert res["steps"] == 20 and res["environment"]["devices"]


def test_cli_rejects_unknown_case(capsys):
    assert main(["bench", "--cases", "nope", "--sizes", "10"]) != 0
    assert "nope" in capsys.readouterr().err
