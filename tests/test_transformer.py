"""The small transformer (lrsweep.transformer): shapes, causality, qk-layernorm, µP rules, z-loss, init,
the paper's AdamW, and one tiny sweep through the Problem API."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrsweep
from lrsweep import transformer as T

jax.config.update("jax_enable_x64", False)

SMALL = dict(width=16, depth=2, heads=2, context=8)


def _tokens(key, b, L, vocab=256):
    return jax.random.randint(key, (b, L), 0, vocab)


@pytest.mark.parametrize("positions", ["learned", "rope"])
def test_shapes(positions):
    cfg = T.Config(**SMALL, positions=positions)
    params = T.init_params(jax.random.key(0), cfg)
    assert params["embed"].shape == (256, 16) and params["unembed"].shape == (16, 256)
    assert params["blocks"][0]["w1"].shape == (16, 64) and params["blocks"][0]["q_norm"].shape == (8,)
    assert ("pos" in params) == (positions == "learned")
    z, attn = T.forward(params, _tokens(jax.random.key(1), 3, 8), cfg)
    assert z.shape == (3, 8, 256) and len(attn) == 2 and all(a.shape == () for a in attn)


@pytest.mark.parametrize("positions", ["learned", "rope"])
@pytest.mark.parametrize("qk", [False, True])
def test_causal_a_future_token_does_not_change_earlier_logits(positions, qk):
    cfg = T.Config(**SMALL, positions=positions)
    params = T.init_params(jax.random.key(0), cfg)
    x = _tokens(jax.random.key(2), 2, 8)
    j = 5
    y = x.at[:, j].set((x[:, j] + 17) % 256)
    zx, _ = T.forward(params, x, cfg, qk)
    zy, _ = T.forward(params, y, cfg, qk)
    np.testing.assert_array_equal(np.asarray(zx[:, :j]), np.asarray(zy[:, :j]))  # exactly: no leakage
    assert float(jnp.max(jnp.abs(zx[:, j:] - zy[:, j:]))) > 1e-3                   # the token itself matters


def _scaled_qk(params, factor):
    blocks = [dict(b, wq=b["wq"] * factor, wk=b["wk"] * factor) for b in params["blocks"]]
    return dict(params, blocks=blocks)


def test_qk_layernorm_bounds_the_attention_logits():
    """With qk-layernorm (gains 1) each head's q̃, k̃ have norm √d_h, so |s_ij| ≤ τ d_h = √d_h (SP),
    whatever the scale of W_Q, W_K; without it the logits grow as the square of that scale."""
    cfg = T.Config(**SMALL)
    params = T.init_params(jax.random.key(0), cfg)
    x = _tokens(jax.random.key(3), 4, 8)
    bound = math.sqrt(cfg.head_dim)
    for factor in (1.0, 10.0):
        _, on = T.forward(_scaled_qk(params, factor), x, cfg, True)
        assert max(float(a) for a in on) <= bound * (1 + 1e-5)
    _, on1 = T.forward(params, x, cfg, True)
    _, on10 = T.forward(_scaled_qk(params, 10.0), x, cfg, True)
    np.testing.assert_allclose([float(a) for a in on10], [float(a) for a in on1], rtol=1e-4)  # scale-invariant
    _, off1 = T.forward(params, x, cfg, False)
    _, off10 = T.forward(_scaled_qk(params, 10.0), x, cfg, False)
    np.testing.assert_allclose(float(off10[0]), 100 * float(off1[0]), rtol=1e-4)  # layer 0: exactly quadratic
    assert float(off10[0]) > 10 * bound


def test_traced_qk_layernorm_selects_the_same_model():
    cfg = T.Config(**SMALL)
    params = T.init_params(jax.random.key(0), cfg)
    x = _tokens(jax.random.key(4), 2, 8)
    f = jax.jit(lambda flag: T.forward(params, x, cfg, flag)[0])
    for flag in (False, True):
        np.testing.assert_allclose(np.asarray(f(jnp.float32(flag))), np.asarray(T.forward(params, x, cfg, flag)[0]),
                                   rtol=1e-5, atol=1e-5)


def test_z_loss_adds_c_times_mean_squared_log_partition():
    cfg = T.Config(**SMALL)
    params = T.init_params(jax.random.key(0), cfg)
    w = np.asarray(_tokens(jax.random.key(5), 4, 9))
    batch = (w, np.ones((4, 8), np.float32))
    loss = T.make_loss(cfg)
    z, _ = T.forward(params, w[:, :-1], cfg)
    z = np.asarray(z, np.float64)
    logz = np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1)) + z.max(-1)
    ce = np.mean(logz - np.take_along_axis(z, w[:, 1:, None], -1)[..., 0])
    c = 1e-2
    np.testing.assert_allclose(float(loss(params, batch, z_loss=0.0)), ce, rtol=1e-5)
    np.testing.assert_allclose(float(loss(params, batch, z_loss=c)), ce + c * np.mean(logz ** 2), rtol=1e-5)
    m = T.make_metrics(cfg)
    np.testing.assert_allclose(float(m["logz"](params, batch)), np.mean(logz), rtol=1e-5)
    np.testing.assert_allclose(float(m["ce"](params, batch)), ce, rtol=1e-5)


def test_chunked_evaluation_equals_one_pass():
    cfg = T.Config(**SMALL)
    params = T.init_params(jax.random.key(0), cfg)
    w = np.asarray(_tokens(jax.random.key(6), 37, 9))
    batch = (w, np.ones((37, 8), np.float32))
    a, b = T.sums(params, batch, cfg), T.chunked_sums(params, batch, cfg, chunk=8)
    for x, y in zip(a, b):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=2e-5)


def test_init_matches_the_stated_distribution():
    cfg = T.Config(width=128, depth=1, heads=4, context=8)
    p = T.init_params(jax.random.key(0), cfg)
    wq, w2 = np.asarray(p["blocks"][0]["wq"]), np.asarray(p["blocks"][0]["w2"])
    for w, fan_in in ((wq, 128), (w2, 512)):
        sd = fan_in ** -0.5
        assert abs(w.std() / sd - 1) < 0.02                     # 16k-65k draws: 2 % covers 5 σ
        assert np.abs(w).max() <= 2 * sd / T.TRUNC * (1 + 1e-6)  # truncated at 2σ of the base normal
    assert abs(np.asarray(p["embed"]).std() - 1) < 0.02


def test_mup_scaling_rules():
    base = T.Config(width=32, heads=4, mup=True, base_width=32)
    wide = T.Config(width=128, heads=4, mup=True, base_width=32)
    sp = T.Config(width=32, heads=4), T.Config(width=128, heads=4)
    assert wide.attn_scale / base.attn_scale == pytest.approx(1 / 4)      # τ ∝ 1/d_h under µP
    assert sp[1].attn_scale / sp[0].attn_scale == pytest.approx(1 / 2)    # τ ∝ 1/√d_h under SP
    assert base.attn_scale == pytest.approx(sp[0].attn_scale) and base.readout_mult == 1.0
    assert wide.readout_mult == pytest.approx(1 / 4) and sp[1].readout_mult == 1.0
    s = T.mup_lr_scale(T.init_params(jax.random.key(0), wide), 32)
    assert all(s["blocks"][0][k] == 0.25 for k in T.HIDDEN)
    assert s["embed"] == s["pos"] == s["unembed"] == s["ln_f"] == s["blocks"][0]["ln1"] == 1.0


def test_mup_at_base_width_is_sp_and_wider_hidden_updates_shrink():
    x = np.asarray(_tokens(jax.random.key(7), 4, 9))
    batch = (x, np.ones((4, 8), np.float32))
    sp, mup = T.Config(width=32, heads=4, context=8), T.Config(width=32, heads=4, context=8, mup=True, base_width=32)
    p = T.init_params(jax.random.key(0), sp)
    assert float(T.make_loss(sp)(p, batch)) == float(T.make_loss(mup)(p, batch))
    # Adam's direction is per-coordinate scale-free: µP's hidden update is exactly d0/d of SP's.
    wide = T.Config(width=64, heads=4, context=8)
    pw = T.init_params(jax.random.key(1), wide)
    g = jax.grad(T.make_loss(wide))(pw, batch)
    ups = []
    for base in (0, 32):
        opt = T.adamw(lambda count: 1e-3, weight_decay=0.0, clip=0.0, mup_base_width=base)
        ups.append(opt.update(g, opt.init(pw), pw)[0])
    np.testing.assert_allclose(np.asarray(ups[1]["blocks"][0]["wq"]), 0.5 * np.asarray(ups[0]["blocks"][0]["wq"]),
                               rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(ups[1]["embed"]), np.asarray(ups[0]["embed"]))


def test_paper_schedule_and_independent_weight_decay():
    lr = lambda t: float(T.paper_lr(t, 1.0, 10, 110, 1e-5))  # noqa: E731
    assert lr(0) == pytest.approx(0.1) and lr(9) == pytest.approx(1.0)
    assert lr(60) == pytest.approx(0.5 * (1 + 1e-5)) and lr(110) == pytest.approx(1e-5)
    # zero gradients: Adam's direction is 0, so θ ← θ − λ (η_t/η) θ, independent of the learning rate
    params = {"w": jnp.ones(3)}
    for peak in (1e-3, 1.0):
        opt = T.adamw(lambda count: peak, weight_decay=0.1, warmup_steps=4, total_steps=0)
        u, _ = opt.update({"w": jnp.zeros(3)}, opt.init(params), params)
        np.testing.assert_allclose(np.asarray(u["w"]), -0.1 * 0.25 * np.ones(3), rtol=1e-6)


@pytest.fixture(scope="module")
def tiny():
    """Six updates of a width-8 transformer at η = 1e-3, 0.1, 0.3 ± qk-layernorm; at η = 1e-3 and 0.3 the
    attention logit, log Z, validation cross-entropy and update RMS recorded every 3 steps (a few columns
    only: each of the problem's metrics is one more evaluation to compile)."""
    problem = T.make_problem(width=8, depth=1, heads=2, context=8, batch_size=4, n_train=16, n_valid=8)
    return lrsweep.sweep(problem, axes={"learning_rate": [1e-3, 1e-1, 3e-1], "loss.qk_layernorm": [0, 1]}, steps=6,
                         optimizer=T.adamw, optimizer_params={"total_steps": 6}, diverge_factor=1e6,
                         progress=False, boundary=None,
                         trajectories={"learning_rate": [1e-3, 3e-1], "loss.qk_layernorm": [0, 1], "every": 3,
                                       "metrics": ["attn_logit_0", "logz", "eval_ce", "update_rms"]})


def test_a_tiny_transformer_sweeps_through_the_problem_api(tiny):
    t = tiny.table
    assert len(t) == 6
    for col in ("ce", "logz", "attn_logit_0", "grad_rms", "eval_ce", "eval_attn_logit_0"):
        assert col in t and np.isfinite(t[col]).all()
    # qk-layernorm bounds the attention logits by √d_h · g_q g_k (d_h = 4); at η = 1e-3 six Adam updates
    # move each gain by at most 6e-3, so the bound is 2 · 1.006² < 2.03
    on = t[(t["loss.qk_layernorm"] == 1) & np.isclose(t["learning_rate"], 1e-3)]
    assert len(on) == 1 and (on["attn_logit_0"] <= 2.03).all()


def test_recorded_attention_logits_grow_without_qk_layernorm_and_meet_the_table(tiny):
    """``[trajectories]``: the recorded columns at steps 0, 3, 6 equal the table's end-of-run columns at step 6.
    At η = 0.3 the largest attention logit grows more than 5-fold without qk-layernorm and ends below a third
    of that with it (measured: 4.0 → 50.5 against 2.0 → 6.6); at η = 1e-3 it moves by less than 10 % either
    way; the update RMS at η = 0.3 is over 10× that at η = 1e-3 (Adam's updates scale with η)."""
    tr, table = tiny.trajectories, tiny.table
    cols = ["attn_logit_0", "logz", "eval_ce", "update_rms"]
    assert sorted(tr["step"].unique()) == [0, 3, 6] and list(tr.columns[-4:]) == cols and not table["diverged"].any()

    def curve(lr, qk):
        return tr[(tr["learning_rate"] == lr) & (tr["loss.qk_layernorm"] == qk)].sort_values("step")

    for lr in (1e-3, 0.3):
        for qk in (0, 1):
            end = table[np.isclose(table["learning_rate"], lr) & (table["loss.qk_layernorm"] == qk)].iloc[0]
            np.testing.assert_allclose(curve(lr, qk).iloc[-1][cols[:-1]].to_numpy(float),
                                       end[cols[:-1]].to_numpy(float), rtol=1e-4)
    off, on = curve(0.3, 0)["attn_logit_0"].to_numpy(), curve(0.3, 1)["attn_logit_0"].to_numpy()
    assert off[-1] > 5 * off[0] and on[-1] < off[-1] / 3
    for qk in (0, 1):
        a = curve(1e-3, qk)["attn_logit_0"].to_numpy()
        assert abs(a[-1] / a[0] - 1) < 0.1
    fast, slow = curve(0.3, 0)["update_rms"].to_numpy()[:-1], curve(1e-3, 0)["update_rms"].to_numpy()[:-1]
    assert (fast > 10 * slow).all()


def test_the_lr_sensitivity_of_eval_ce_starts_from_the_initial_validation_cross_entropy():
    """``sensitivity_loss = "eval_ce"``: L_0 per slice is the validation cross-entropy of the initial parameters
    (seed 0, init index 0), computed here by hand with and without qk-layernorm; the sensitivity is the
    paper's formula on the table's ``eval_ce`` (a diverged run counts as L_0)."""
    from lrsweep.sensitivity import lr_sensitivity

    problem = T.make_problem(width=8, depth=1, heads=2, context=8, batch_size=4, n_train=16, n_valid=8)
    lrs = [1e-3, 1e-2, 1e-1, 1.0]
    res = lrsweep.sweep(problem, axes={"learning_rate": lrs, "loss.qk_layernorm": [0, 1]}, steps=6,
                        optimizer=T.adamw, optimizer_params={"total_steps": 6}, diverge_factor=1.1, progress=False,
                        boundary=None, sensitivity_range=(1e-3, 0.5), sensitivity_loss="eval_ce")
    params = problem.init(jax.random.fold_in(jax.random.key(0), 0))
    s = res.sensitivity.set_index("loss.qk_layernorm")
    for qk in (0, 1):
        f0 = float(problem.metrics["ce"](params, problem.eval_data, qk_layernorm=bool(qk)))
        assert s.loc[qk, "sensitivity_initial"] == pytest.approx(f0, rel=1e-5)
        g = res.table[res.table["loss.qk_layernorm"] == qk].sort_values("learning_rate")
        final = np.where(g["diverged"], np.nan, g["eval_ce"])
        assert s.loc[qk, "sensitivity"] == pytest.approx(lr_sensitivity(g["learning_rate"], final, f0, (1e-3, 0.5)),
                                                         rel=1e-6)
        assert s.loc[qk, "sensitivity_points"] == 3
    assert res.boundary is None


def test_the_copy_problem_scores_only_the_repeated_half():
    p = T.make_problem("copy", width=16, depth=1, heads=2, context=9, n_train=8, n_valid=4)
    windows, mask = p.data
    assert windows.shape == (8, 10) and mask.shape == (8, 9) and mask[:, 5:].all() and not mask[:, :5].any()
    cfg = T.Config(width=16, depth=1, heads=2, context=9, vocab=16)
    params = p.init(jax.random.key(0))
    z, _ = T.forward(params, jnp.asarray(windows[:, :-1]), cfg)
    ce = jax.nn.logsumexp(z, -1) - jnp.take_along_axis(z, jnp.asarray(windows[:, 1:, None]), -1)[..., 0]
    np.testing.assert_allclose(float(p.metrics["ce"](params, p.data)), float(jnp.mean(ce[:, 5:])), rtol=1e-5)

