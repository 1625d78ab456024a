"""Schedules: factors equal optax's own schedules, trace under jit(vmap), validate on the host."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lrsweep import schedules as S

T = jnp.arange(301, dtype=jnp.int32)  # optax's update count t = 0..300
RTOL = 1e-6  # float32: a few ulps
# Traced vs concrete: the same formula compiled differently (XLA folds constants in
# the concrete case). pow(r, p) = exp(p·log r) rounds at about |p·log r|·eps relative,
# so for factors decayed to ~1e-5 (|p·log r| ≈ 11) a few float32 ulps become ~1.5e-6.
TRACED_RTOL = 1e-5


# --------------------------------------------------------------------------- against optax

OPTAX_CASES = [
    # (name, our params, optax schedule with init/peak 1)
    ("step", dict(step_size=30, gamma=0.5),
     optax.exponential_decay(1.0, transition_steps=30, decay_rate=0.5, staircase=True)),
    ("step", dict(step_size=7.0, gamma=0.9),
     optax.exponential_decay(1.0, transition_steps=7, decay_rate=0.9, staircase=True)),
    ("exponential", dict(decay_rate=0.99),
     optax.exponential_decay(1.0, transition_steps=1, decay_rate=0.99)),
    ("exponential", dict(decay_rate=0.5, transition_steps=40, transition_begin=25),
     optax.exponential_decay(1.0, transition_steps=40, decay_rate=0.5, transition_begin=25)),
    ("exponential", dict(decay_rate=0.3, transition_steps=40, transition_begin=25, staircase=True),
     optax.exponential_decay(1.0, transition_steps=40, decay_rate=0.3, transition_begin=25, staircase=True)),
    ("exponential", dict(decay_rate=1.01, transition_steps=3),
     optax.exponential_decay(1.0, transition_steps=3, decay_rate=1.01)),
    ("cosine", dict(decay_steps=200), optax.cosine_decay_schedule(1.0, decay_steps=200)),
    ("cosine", dict(decay_steps=300, alpha=0.1), optax.cosine_decay_schedule(1.0, decay_steps=300, alpha=0.1)),
    ("warmup_cosine", dict(warmup_steps=20, decay_steps=250),
     optax.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=20, decay_steps=250)),
    ("warmup_cosine", dict(warmup_steps=50, decay_steps=300, init_factor=0.1, end_factor=0.05),
     optax.warmup_cosine_decay_schedule(0.1, 1.0, warmup_steps=50, decay_steps=300, end_value=0.05)),
    ("warmup_cosine", dict(warmup_steps=0, decay_steps=120, end_factor=0.2),
     optax.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=0, decay_steps=120, end_value=0.2)),
    ("piecewise", dict(boundaries=[50, 100, 200], scales=[0.5, 0.2, 3.0]),
     optax.piecewise_constant_schedule(1.0, {50: 0.5, 100: 0.2, 200: 3.0})),
    ("piecewise", dict(boundaries=[200, 0], scales=[0.1, 0.5]),  # unsorted: applied in boundary order
     optax.piecewise_constant_schedule(1.0, {0: 0.5, 200: 0.1})),
    ("constant", {}, optax.constant_schedule(1.0)),
]


@pytest.mark.parametrize("name,params,reference", OPTAX_CASES, ids=[f"{c[0]}{i}" for i, c in enumerate(OPTAX_CASES)])
def test_factor_equals_optax_schedule(name, params, reference):
    ours = np.asarray(jax.jit(lambda t: S.SCHEDULES[name](t, **params))(T))
    theirs = np.broadcast_to(np.asarray(jax.jit(reference)(T)), ours.shape)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=0)


def test_inverse_sqrt_formula():
    t = np.arange(301.0)
    for timescale, warmup in [(1.0, 0.0), (25.0, 0.0), (10.0, 40.0)]:
        want = 1 / np.sqrt(1 + np.maximum(t - warmup, 0) / timescale)
        if warmup:
            want = np.where(t < warmup, (t + 1) / warmup, want)
        got = jax.jit(lambda t: S.inverse_sqrt(t, timescale=timescale, warmup_steps=warmup))(T)
        np.testing.assert_allclose(np.asarray(got), want, rtol=RTOL)


EXAMPLES = {  # one valid parameter set per schedule
    "constant": {},
    "step": dict(step_size=30.0, gamma=0.5),
    "piecewise": dict(boundaries=[10, 100], scales=[0.5, 0.1]),
    "exponential": dict(decay_rate=0.97, transition_steps=5.0, transition_begin=10.0),
    "inverse_sqrt": dict(timescale=20.0, warmup_steps=0.0),
    "cosine": dict(decay_steps=200.0, alpha=0.1),
    "warmup_cosine": dict(warmup_steps=0.0, decay_steps=200.0, init_factor=0.0, end_factor=0.1),
    # optax's own names (tests/test_schedules_optax.py checks them against optax)
    "exponential_decay": dict(init_value=1.0, transition_steps=5.0, decay_rate=0.97, transition_begin=10.0,
                              end_value=0.5),
    "cosine_decay_schedule": dict(init_value=1.0, decay_steps=200.0, alpha=0.1, exponent=2.0),
    "warmup_cosine_decay_schedule": dict(init_value=0.0, peak_value=1.0, warmup_steps=10.0, decay_steps=200.0,
                                         end_value=0.1, exponent=1.0),
    "piecewise_constant_schedule": dict(init_value=1.0, boundaries_and_scales={"10": 0.5, "100": 0.1}),
    "linear_schedule": dict(init_value=1.0, end_value=0.0, transition_steps=100.0, transition_begin=10.0),
    "polynomial_schedule": dict(init_value=1.0, end_value=0.0, power=2.0, transition_steps=100.0),
    "warmup_constant_schedule": dict(init_value=0.0, peak_value=1.0, warmup_steps=20.0),
    "warmup_exponential_decay_schedule": dict(init_value=0.0, peak_value=1.0, warmup_steps=10.0,
                                              transition_steps=20.0, decay_rate=0.5, staircase=True),
    "sgdr_schedule": dict(cosine_kwargs=[{"warmup_steps": 0, "decay_steps": 100},
                                         {"warmup_steps": 10, "decay_steps": 100}]),
    "linear_onecycle_schedule": dict(transition_steps=200, peak_value=1.0, div_factor=25.0, final_div_factor=1e4),
    "cosine_onecycle_schedule": dict(transition_steps=200, peak_value=1.0, div_factor=25.0, final_div_factor=1e4),
    "constant_schedule": dict(value=1.0),
}
# schedules whose factor at t = 0 is not 1 at their EXAMPLES (warm-ups, one-cycles)
WARMING = ("warmup_cosine", "warmup_cosine_decay_schedule", "warmup_constant_schedule",
           "warmup_exponential_decay_schedule", "linear_onecycle_schedule", "cosine_onecycle_schedule")


def test_examples_cover_every_schedule_and_validate():
    assert set(EXAMPLES) == set(S.SCHEDULES)
    for name, params in EXAMPLES.items():
        S.validate_schedule(name, params)


@pytest.mark.parametrize("name", [n for n in S.SCHEDULES if n not in WARMING])
def test_factor_is_one_at_first_update(name):
    assert float(S.SCHEDULES[name](jnp.int32(0), **EXAMPLES[name])) == 1.0


# --------------------------------------------------------------------------- traced parameters


def test_traced_decay_rate_equals_concrete():
    rates = jnp.asarray([0.5, 0.9, 0.99, 1.0])
    traced = jax.jit(jax.vmap(lambda r: S.exponential_decay(T, decay_rate=r, transition_steps=10.0)))(rates)
    for r, row in zip(rates.tolist(), np.asarray(traced)):
        np.testing.assert_allclose(row, S.exponential_decay(T, decay_rate=r, transition_steps=10.0), rtol=TRACED_RTOL)


SWEPT = [  # (schedule, parameter, values to sweep) — 0 warmup included: it must trace
    ("step", "step_size", [1.0, 7.0, 30.0]),
    ("step", "gamma", [0.1, 0.5, 1.0]),
    ("exponential", "decay_rate", [0.5, 0.99]),
    ("exponential", "transition_steps", [1.0, 3.0]),
    ("exponential", "transition_begin", [0.0, 50.0]),
    ("inverse_sqrt", "timescale", [1.0, 100.0]),
    ("inverse_sqrt", "warmup_steps", [0.0, 1.0, 30.0]),
    ("cosine", "decay_steps", [10.0, 300.0]),
    ("cosine", "alpha", [0.0, 0.3]),
    ("warmup_cosine", "warmup_steps", [0.0, 1.0, 40.0]),
    ("warmup_cosine", "decay_steps", [100.0, 250.0]),
    ("warmup_cosine", "init_factor", [0.0, 0.5]),
    ("warmup_cosine", "end_factor", [0.0, 0.1]),
]


@pytest.mark.parametrize("name,param,values", SWEPT)
def test_every_numeric_parameter_traces(name, param, values):
    fn = S.SCHEDULES[name]
    base = {k: v for k, v in EXAMPLES[name].items() if k != param}
    traced = jax.jit(jax.vmap(lambda v: fn(T, **base, **{param: v})))(jnp.asarray(values))
    for v, row in zip(values, np.asarray(traced)):
        np.testing.assert_allclose(row, fn(T, **base, **{param: v}), rtol=TRACED_RTOL, atol=1e-7)


def test_dtype_follows_the_parameters():
    def dtype(fn, **params):
        return jax.eval_shape(lambda: fn(T, **params)).dtype

    assert dtype(S.cosine_decay, decay_steps=100) == jnp.float32
    assert dtype(S.cosine_decay, decay_steps=jnp.bfloat16(100)) == jnp.bfloat16
    with jax.enable_x64(True):
        assert dtype(S.cosine_decay, decay_steps=100) == jnp.float64
        assert dtype(S.constant) == jnp.float64
        assert dtype(S.piecewise_constant, boundaries=[1], scales=[0.5]) == jnp.float64
        assert dtype(S.cosine_decay, decay_steps=jnp.float32(100)) == jnp.float32
    assert not jax.config.jax_enable_x64


def test_strict_dtype_promotion_and_integer_parameters():
    """No implicit int/float mixing: every schedule traces under strict promotion, also
    with int32 tracers for its step-count parameters (which then give the same factors)."""
    for name, params in EXAMPLES.items():
        fn = S.SCHEDULES[name]
        ints = {k: jnp.asarray([v, v], jnp.int32) for k, v in params.items()
                if k not in S.STATIC[name] and float(v).is_integer()}
        rest = {k: v for k, v in params.items() if k not in ints}
        swept = jax.jit(jax.vmap(lambda d: fn(T, **rest, **d)))
        with jax.numpy_dtype_promotion("strict"):  # promotion is checked while tracing
            assert jax.eval_shape(lambda: fn(T, **params)).dtype == jnp.float32
            if ints:
                assert jax.eval_shape(swept, ints).dtype == jnp.float32
        if ints:
            np.testing.assert_allclose(swept(ints)[0], jax.jit(lambda t: fn(t, **params))(T),
                                       rtol=TRACED_RTOL, atol=1e-7)


def test_engine_style_optax_schedule():
    """The engine's use: ``learning_rate · factor(count)`` as an optax schedule, swept."""

    def final(lr, decay_rate):
        opt = optax.sgd(lambda c: lr * S.exponential_decay(c, decay_rate=decay_rate))
        x, state = jnp.ones(()), opt.init(jnp.ones(()))
        for _ in range(3):
            u, state = opt.update(x, state)  # gradient of x²/2
            x = optax.apply_updates(x, u)
        return x

    got = jax.jit(jax.vmap(final))(jnp.asarray([0.5, 0.5]), jnp.asarray([1.0, 0.5]))
    np.testing.assert_allclose(got, [0.5**3, 0.5 * 0.75 * 0.875], rtol=RTOL)


# --------------------------------------------------------------------------- reduce on plateau


def _plateau_scales(n, **params):
    """The update scale of reduce_on_plateau over ``n`` updates fed a constant loss of 1."""

    @jax.jit
    def run():
        tx = S.plateau(**params)

        def body(state, _):
            u, state = tx.update(jnp.ones(()), state, value=1.0)
            return state, u

        return jax.lax.scan(body, tx.init(jnp.zeros(())), length=n)[1]

    return run().tolist()


def test_plateau_reduces_by_factor_after_patience_constant_losses():
    # The first loss improves on +inf; then every constant loss is a non-improving one,
    # and the scale drops by `factor` once `patience` of them have been seen.
    scales = _plateau_scales(8, factor=0.5, patience=3)
    assert scales == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_plateau_cooldown_and_min_scale():
    assert _plateau_scales(6, factor=0.5, patience=1, cooldown=2) == [1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert _plateau_scales(5, factor=0.1, patience=1, min_scale=0.05) == pytest.approx([1.0, 0.1, 0.05, 0.05, 0.05])


def test_plateau_traced_patience():
    def scale_after(patience, n=6):
        tx = S.plateau(factor=0.5, patience=patience)

        def body(state, _):
            u, state = tx.update(jnp.ones(()), state, value=1.0)
            return state, u

        return jax.lax.scan(body, tx.init(jnp.zeros(())), length=n)[1]

    got = jax.jit(jax.vmap(scale_after))(jnp.asarray([1, 2, 5]))
    np.testing.assert_array_equal(
        got, [[1, 0.5, 0.25, 0.125, 0.0625, 0.03125], [1, 1, 0.5, 0.5, 0.25, 0.25], [1, 1, 1, 1, 1, 0.5]]
    )


def test_plateau_factor_rtol_atol_traced_match_concrete():
    """optax checks factor/rtol/atol in Python; traced values still give the concrete values' scales."""

    def scales(factor, rtol, atol, losses):
        tx = S.plateau(factor=factor, patience=2, rtol=rtol, atol=atol)

        def body(state, value):
            u, state = tx.update(jnp.ones(()), state, value=value)
            return state, u

        return jax.lax.scan(body, tx.init(jnp.zeros(())), losses)[1]

    # slowly improving losses: whether 1 % steps count as improvements depends on rtol and atol
    losses = jnp.asarray(0.99 ** np.arange(12), jnp.float32)
    cases = [(0.5, 1e-4, 0.0), (0.25, 0.05, 0.0), (0.5, 0.0, 0.02), (0.1, 1e-3, 1e-3)]
    traced = jax.jit(jax.vmap(scales, in_axes=(0, 0, 0, None)))(*map(jnp.asarray, zip(*cases)), losses)
    for row, case in zip(traced, cases):
        np.testing.assert_array_equal(row, scales(*case, losses))
    assert traced[0, -1] == 1.0 and traced[1, -1] < 1.0 and traced[2, -1] < 1.0  # the rules differ


# --------------------------------------------------------------------------- description, validation


def test_describe_schedules():
    d = S.describe_schedules()
    assert list(d) == [*S.SCHEDULES, S.PLATEAU]
    assert d["step"] == {"step_size": None, "gamma": 0.1}
    assert d["warmup_cosine"] == {"warmup_steps": None, "decay_steps": None, "init_factor": 0.0, "end_factor": 0.0}
    assert d["reduce_on_plateau"] == {
        "factor": 0.1, "patience": 10, "rtol": 1e-4, "atol": 0.0,
        "cooldown": 0, "accumulation_size": 1, "min_scale": 0.0,
    }
    assert "step" not in d["constant"]


def test_static_params():
    assert set(S.STATIC) == set(S.SCHEDULES)
    assert S.static_params("exponential") == {"staircase"}
    assert S.static_params(S.PLATEAU) == frozenset()
    assert S.static_params("cosine") == frozenset()
    with pytest.raises(ValueError, match="unknown schedule 'nope'"):
        S.static_params("nope")


BAD = [
    ("linear", {}, r"unknown schedule 'linear'; expected one of: constant, step, piecewise, .*reduce_on_plateau"),
    ("step", {"step_size": 10, "gama": 0.5}, r"schedule 'step' has no parameter 'gama'; accepted: step_size, gamma"),
    ("step", {"gamma": 0.5}, r"schedule 'step' requires parameter 'step_size' \(accepted: step_size, gamma\)"),
    ("step", {"step_size": 0}, r"schedule 'step': step_size=0, expected > 0"),
    ("step", {"step_size": [10, -5]}, r"schedule 'step': step_size=-5, expected > 0"),
    ("step", {"step_size": 10, "gamma": -0.5}, r"gamma=-0.5, expected > 0"),
    ("step", {"step_size": "ten"}, r"step_size='ten', expected a number"),
    ("step", {"step_size": True}, r"step_size=True, expected a number"),
    ("step", {"step_size": float("nan")}, r"step_size=nan, expected a finite number"),
    ("exponential", {"decay_rate": 0.0}, r"schedule 'exponential': decay_rate=0.0, expected > 0"),
    ("exponential", {"decay_rate": 0.9, "transition_steps": 0}, r"transition_steps=0, expected > 0"),
    ("exponential", {"decay_rate": 0.9, "transition_begin": -1}, r"transition_begin=-1, expected >= 0"),
    ("exponential", {"decay_rate": 0.9, "staircase": 1}, r"staircase=1, expected true or false"),
    ("inverse_sqrt", {"timescale": -2.0}, r"schedule 'inverse_sqrt': timescale=-2.0, expected > 0"),
    ("inverse_sqrt", {"warmup_steps": -1}, r"warmup_steps=-1, expected >= 0"),
    ("cosine", {"decay_steps": 0}, r"schedule 'cosine': decay_steps=0, expected > 0"),
    ("warmup_cosine", {"warmup_steps": 10}, r"requires parameter 'decay_steps'"),
    ("warmup_cosine", {"warmup_steps": 100, "decay_steps": 100},
     r"decay_steps=100.0, expected > warmup_steps=100.0 \(decay_steps counts the warmup too\)"),
    ("warmup_cosine", {"warmup_steps": -1, "decay_steps": 100}, r"warmup_steps=-1, expected >= 0"),
    ("piecewise", {"boundaries": [10, 20], "scales": [0.5]},
     r"schedule 'piecewise': len\(boundaries\)=2 but len\(scales\)=1; expected one scale per boundary"),
    ("piecewise", {"boundaries": 10, "scales": [0.5]}, r"boundaries=10, expected a list of finite numbers"),
    ("piecewise", {"boundaries": [10], "scales": [-0.5]}, r"scales=\[-0.5\], expected non-negative factors"),
    ("piecewise", {"boundaries": [-1], "scales": [0.5]}, r"boundaries=\[-1\], expected update counts >= 0"),
    ("reduce_on_plateau", {"factor": 1.0}, r"schedule 'reduce_on_plateau': factor=1.0, expected in the open interval"),
    ("reduce_on_plateau", {"patience": 0}, r"patience=0, expected an integer >= 1"),
    ("reduce_on_plateau", {"patience": 2.5}, r"patience=2.5, expected an integer >= 1"),
    ("reduce_on_plateau", {"rtol": 0.0}, r"rtol=0.0, expected > 0 when atol=0"),
    ("reduce_on_plateau", {"rtol": 2.0}, r"rtol=2.0, expected in \[0, 1\]"),
    ("reduce_on_plateau", {"factor": [0.1, 1.5]}, r"factor=1.5, expected in the open interval \(0, 1\)"),
    ("reduce_on_plateau", {"accumulation_size": 0}, r"accumulation_size=0, expected an integer >= 1"),
    ("reduce_on_plateau", {"min_scale": -1.0}, r"min_scale=-1.0, expected >= 0"),
]


@pytest.mark.parametrize("name,params,message", BAD)
def test_validate_schedule_messages(name, params, message):
    with pytest.raises(ValueError, match=message) as info:
        S.validate_schedule(name, params)
    assert "\n" not in str(info.value)


def test_validate_schedule_accepts_swept_arrays_and_plateau():
    S.validate_schedule("exponential", {"decay_rate": np.geomspace(0.5, 0.999, 7), "staircase": True})
    S.validate_schedule("warmup_cosine", {"warmup_steps": [0, 10], "decay_steps": [20, 300]})
    S.validate_schedule("reduce_on_plateau", {"factor": 0.5, "patience": [1, 5, 20], "atol": 1e-6, "rtol": 0.0})
    S.validate_schedule("constant", {})
