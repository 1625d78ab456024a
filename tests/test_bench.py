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


@pytest.mark.parametrize("key", ["quad1d", "quad16d_hb"])
def test_baselines_agree_with_engine(key):
    """Final losses and divergence flags of (c) NumPy and (e) jit(vmap(scan)) match lrsweep's, per config."""
    (case,) = bench.make_cases(True, steps=STEPS, sizes=(48,), keys=(key,))
    spec = case.spec(48)
    values = lgrid.configurations(spec)
    prog = Program(spec)
    r = prog.evaluate(values)
    x0 = np.asarray(prog.initial_point({}), np.float32).reshape(-1)
    lrs = values["learning_rate"]
    eng_f, eng_d = np.asarray(r["final_loss"]), np.asarray(r["diverged"], bool)
    assert 0 < eng_d.sum() < len(eng_d)  # both outcomes present, so the comparison means something

    np_f, np_d = bench.numpy_sweep(case, x0, lrs, STEPS)
    _, _, run_one, _ = bench.make_update(case, x0)
    e_f, e_d = map(np.asarray, jax.jit(jax.vmap(run_one))(jnp.asarray(lrs, jnp.float32)))
    for f, d in ((np_f, np_d), (e_f, e_d)):
        np.testing.assert_array_equal(d, eng_d)
        ok = ~eng_d
        np.testing.assert_allclose(f[ok], eng_f[ok], rtol=2e-4, atol=1e-30)

    # (a) and (b): one configuration through the jitted step loop / the jitted scan
    init, update, _, final = bench.make_update(case, x0)
    step = jax.jit(update)
    for i in (0, len(lrs) // 2, len(lrs) - 1):
        lr = jnp.float32(lrs[i])
        carry = init(lr)
        for _ in range(STEPS):
            carry = step(carry, lr)
        f_a, d_a = final(carry)
        f_b, d_b = jax.jit(run_one)(lr)
        assert bool(d_a) == bool(d_b) == eng_d[i]
        if not eng_d[i]:
            np.testing.assert_allclose([float(f_a), float(f_b)], eng_f[i], rtol=2e-4)


def test_cli_writes_table_and_json(tmp_path, capsys):
    out = tmp_path / "t.json"
    assert main(["bench", "--quick", "--cases", "quad1d", "--sizes", "200", "--steps", "20",
                 "--repeats", "3", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "a_step_loop" in text and "matmul float32" in text
    res = json.loads(out.read_text())
    methods = {r["method"] for r in res["rows"]}
    assert {"lrsweep", "e_vmap_scan", "c_numpy", "b_config_loop", "a_step_loop"} <= methods
    assert all(r["config_steps_per_s"] > 0 and len(r["times_s"]) == 3 for r in res["rows"])
    assert [r["ratio_lrsweep_over_method"] for r in res["rows"] if r["method"] == "lrsweep"] == [1.0]
    assert res["machine_limits"]["matmul_f32_flop_per_s"] > 0 and res["machine_limits"]["triad_bytes_per_s"] > 0
    assert res["steps"] == 20 and res["environment"]["devices"]


def test_cli_rejects_unknown_case(capsys):
    assert main(["bench", "--cases", "nope", "--sizes", "10"]) != 0
    assert "nope" in capsys.readouterr().err
