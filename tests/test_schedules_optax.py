"""optax's own schedule names as lrsweep schedules: equal to optax, traced (swept), validated, run end to end."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrsweep
from lrsweep import schedules as S
from lrsweep.cli import main
from lrsweep.config import SweepError
from lrsweep.engine import Program

T = jnp.arange(301, dtype=jnp.int32)  # optax's update count t = 0..300
RTOL = 1e-6
TRACED_RTOL = 1e-5  # traced vs concrete: the same formula compiled differently (see tests/test_schedules.py)
VALUES = ("init_value", "peak_value", "end_value", "value")  # optax's value parameters (linear in them)


def defaults(name):
    return {k: p.default for k, p in S._parameters(name).items() if p.default is not inspect.Parameter.empty}


def optax_kwargs(name, params):
    """Arguments of ``optax.<name>``: this module's defaults filled in, the static structures as optax takes them."""
    kw = {**defaults(name), **params}
    if name == "piecewise_constant_schedule":
        bas = kw["boundaries_and_scales"]
        kw["boundaries_and_scales"] = {int(b): s for b, s in (bas.items() if isinstance(bas, dict) else bas)}
    if name == "sgdr_schedule":  # the documented defaults of every cycle
        kw["cosine_kwargs"] = [{"init_value": 0.0, "peak_value": 1.0, "end_value": 0.0, "exponent": 1.0, **c}
                               for c in kw["cosine_kwargs"]]
    return kw


def reference(name, params):
    """``optax.<name>(**params)`` at t = 0..300 (per count: the one-cycles take scalar counts only).

    optax's polynomial_schedule is NaN or off (by the power of a rounding error) from t = B + T on at
    fractional powers on XLA's CPU (``1 - T/T`` rounds to ±1e-8); there the reference is the value optax
    documents, ``end_value``."""
    kw = optax_kwargs(name, params)
    want = np.asarray(jax.jit(jax.vmap(getattr(optax, name)(**kw)))(T))
    if name == "polynomial_schedule":
        want = np.where(np.arange(301) >= kw["transition_begin"] + kw["transition_steps"], kw["end_value"], want)
    assert np.isfinite(want).all()
    return want


def ours(name, params):
    return np.asarray(jax.jit(lambda t: S.SCHEDULES[name](t, **params))(T))


# --------------------------------------------------------------------------- concrete: optax itself

CASES = [
    ("exponential_decay", dict(transition_steps=30, decay_rate=0.5)),
    ("exponential_decay", dict(transition_steps=40, decay_rate=0.3, transition_begin=25, staircase=True)),
    ("exponential_decay", dict(init_value=0.5, transition_steps=10, decay_rate=0.8, end_value=0.02)),
    ("exponential_decay", dict(transition_steps=3, decay_rate=1.01, end_value=2.0)),  # growth, bounded above
    ("cosine_decay_schedule", dict(decay_steps=200)),
    ("cosine_decay_schedule", dict(init_value=2.0, decay_steps=100, alpha=0.1, exponent=2.0)),
    ("warmup_cosine_decay_schedule", dict(warmup_steps=20, decay_steps=250)),
    ("warmup_cosine_decay_schedule", dict(init_value=0.1, peak_value=2.0, warmup_steps=50, decay_steps=300,
                                          end_value=0.05, exponent=1.5)),
    ("warmup_cosine_decay_schedule", dict(warmup_steps=0, decay_steps=120, end_value=0.2)),
    ("piecewise_constant_schedule", dict(boundaries_and_scales={"50": 0.5, "100": 0.2, "200": 3.0})),
    ("piecewise_constant_schedule", dict(init_value=2.0, boundaries_and_scales=[[200, 0.1], [0, 0.5]])),
    ("piecewise_constant_schedule", dict(boundaries_and_scales={})),
    ("linear_schedule", dict(transition_steps=100)),
    ("linear_schedule", dict(init_value=0.1, end_value=1.0, transition_steps=50, transition_begin=20)),
    ("polynomial_schedule", dict(power=2, transition_steps=200)),
    ("polynomial_schedule", dict(end_value=0.01, power=0.5, transition_steps=100, transition_begin=5)),
    ("warmup_constant_schedule", dict(warmup_steps=40)),
    ("warmup_constant_schedule", dict(init_value=0.2, peak_value=0.5, warmup_steps=1)),
    ("warmup_exponential_decay_schedule", dict(warmup_steps=20, transition_steps=10, decay_rate=0.9)),
    ("warmup_exponential_decay_schedule", dict(init_value=0.1, warmup_steps=0, transition_steps=30, decay_rate=0.5,
                                               transition_begin=10, staircase=True, end_value=0.05)),
    ("sgdr_schedule", dict(cosine_kwargs=[
        {"warmup_steps": 0, "decay_steps": 100},
        {"warmup_steps": 10, "decay_steps": 80, "peak_value": 0.5, "end_value": 0.01},
        {"init_value": 0.1, "warmup_steps": 5, "decay_steps": 60, "exponent": 2.0}])),
    ("linear_onecycle_schedule", dict(transition_steps=200)),
    ("linear_onecycle_schedule", dict(transition_steps=150, peak_value=2.0, pct_start=0.1, pct_final=0.5,
                                      div_factor=10.0, final_div_factor=100.0)),
    ("linear_onecycle_schedule", dict(transition_steps=100, pct_final=1.0)),  # optax's dict merges two boundaries
    ("cosine_onecycle_schedule", dict(transition_steps=250)),
    ("cosine_onecycle_schedule", dict(transition_steps=77, pct_start=0.5, div_factor=5.0, final_div_factor=3.0)),
    ("cosine_onecycle_schedule", dict(transition_steps=100, pct_start=0.0)),
    ("constant_schedule", {}),
    ("constant_schedule", dict(value=0.3)),
]
IDS = [f"{n}{i}" for i, (n, _) in enumerate(CASES)]


def test_every_alias_is_registered_and_tested():
    assert set(S.OPTAX_ALIASES) == {n for n, _ in CASES}
    assert all(S.SCHEDULES[n] is f for n, f in S.OPTAX_ALIASES.items())
    assert all(hasattr(optax, n) for n in S.OPTAX_ALIASES)  # warmup_constant_schedule included


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_factor_equals_optax(name, params):
    got = ours(name, params)
    assert got.dtype == np.float32 and got.shape == T.shape and np.isfinite(got).all()
    np.testing.assert_allclose(got, reference(name, params), rtol=RTOL, atol=0)


def _scaled(name, params, lr):
    """``params`` with every value parameter multiplied by the learning rate ``lr``."""
    out = {k: (v * lr if k in VALUES and v is not None else v) for k, v in optax_kwargs(name, params).items()}
    if name == "sgdr_schedule":
        out["cosine_kwargs"] = [{k: (v * lr if k in VALUES else v) for k, v in c.items()} for c in out["cosine_kwargs"]]
    return out


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_learning_rate_is_the_scale(name, params):
    """η·factor(t) is optax's schedule with its value parameters in absolute terms (η = 0.03)."""
    lr = 0.03
    absolute = np.asarray(jax.jit(jax.vmap(getattr(optax, name)(**_scaled(name, params, lr))))(T))
    if name == "polynomial_schedule":  # optax's 1 - T/T rounding at t >= B + T (see reference)
        kw = optax_kwargs(name, params)
        done = np.arange(301) >= kw["transition_begin"] + kw["transition_steps"]
        absolute = np.where(done, kw["end_value"] * lr, absolute)
    np.testing.assert_allclose(ours(name, params), absolute / lr, rtol=1e-5, atol=1e-9)


# --------------------------------------------------------------------------- traced: swept parameters

BASE = {  # a valid parameter set per alias, around which one parameter at a time is swept
    "exponential_decay": dict(transition_steps=20.0, decay_rate=0.8, transition_begin=10.0, end_value=0.05),
    "cosine_decay_schedule": dict(decay_steps=200.0, alpha=0.1),
    "warmup_cosine_decay_schedule": dict(init_value=0.1, warmup_steps=20.0, decay_steps=250.0, end_value=0.05),
    "piecewise_constant_schedule": dict(boundaries_and_scales={"50": 0.5, "150": 0.2}),
    "linear_schedule": dict(transition_steps=100.0, transition_begin=10.0),
    "polynomial_schedule": dict(power=2.0, transition_steps=150.0),
    "warmup_constant_schedule": dict(init_value=0.1, warmup_steps=40.0),
    "warmup_exponential_decay_schedule": dict(init_value=0.1, warmup_steps=20.0, transition_steps=15.0,
                                              decay_rate=0.7, end_value=0.02),
    "sgdr_schedule": dict(cosine_kwargs=[{"warmup_steps": 0, "decay_steps": 100}] * 3),
    "linear_onecycle_schedule": dict(transition_steps=200),
    "cosine_onecycle_schedule": dict(transition_steps=200),
    "constant_schedule": {},
}

SWEPT = {  # every numeric parameter that may be traced, three values each (0 warmup included)
    "exponential_decay": dict(init_value=[0.5, 1.0, 2.0], transition_steps=[1.0, 7.0, 30.0],
                              decay_rate=[0.5, 0.9, 1.05], transition_begin=[0.0, 3.0, 50.0],
                              end_value=[0.0, 0.1, 0.3]),
    "cosine_decay_schedule": dict(init_value=[0.5, 1.0, 3.0], decay_steps=[10.0, 77.0, 300.0],
                                  alpha=[0.0, 0.2, 0.5], exponent=[0.5, 1.0, 3.0]),
    "warmup_cosine_decay_schedule": dict(init_value=[0.0, 0.3, 1.0], peak_value=[0.0, 0.5, 2.0],
                                         warmup_steps=[0.0, 1.0, 40.0], decay_steps=[100.0, 250.0, 300.0],
                                         end_value=[0.0, 0.1, 0.4], exponent=[0.5, 1.0, 2.0]),
    "piecewise_constant_schedule": dict(init_value=[0.5, 1.0, 4.0]),
    "linear_schedule": dict(init_value=[0.0, 1.0, 2.0], end_value=[0.0, 0.5, 3.0],
                            transition_steps=[1.0, 50.0, 200.0], transition_begin=[0.0, 5.0, 100.0]),
    "polynomial_schedule": dict(init_value=[0.5, 1.0, 2.0], end_value=[0.0, 0.01, 0.5], power=[0.5, 1.0, 3.0],
                                transition_steps=[1.0, 60.0, 200.0], transition_begin=[0.0, 9.0, 100.0]),
    "warmup_constant_schedule": dict(init_value=[0.0, 0.2, 1.0], peak_value=[0.5, 1.0, 2.0],
                                     warmup_steps=[1.0, 13.0, 100.0]),
    "warmup_exponential_decay_schedule": dict(
        init_value=[0.0, 0.5, 1.0], peak_value=[0.5, 1.0, 2.0], warmup_steps=[0.0, 1.0, 40.0],
        transition_steps=[1.0, 10.0, 30.0], decay_rate=[0.5, 0.9, 0.99], transition_begin=[0.0, 5.0, 60.0],
        end_value=[0.0, 0.05, 0.2]),
    "sgdr_schedule": {},
    "linear_onecycle_schedule": dict(peak_value=[0.5, 1.0, 2.0], div_factor=[2.0, 25.0, 100.0],
                                     final_div_factor=[1.0, 10.0, 1e4]),
    "cosine_onecycle_schedule": dict(peak_value=[0.5, 1.0, 2.0], div_factor=[2.0, 25.0, 100.0],
                                     final_div_factor=[1.0, 10.0, 1e4]),
    "constant_schedule": dict(value=[0.0, 0.5, 2.0]),
}
SWEPT_CASES = [(n, p, v) for n, ps in SWEPT.items() for p, v in ps.items()]


def test_swept_covers_every_traceable_parameter():
    assert set(SWEPT) == set(BASE) == set(S.OPTAX_ALIASES)
    for name in S.OPTAX_ALIASES:
        structural = {"staircase", "boundaries_and_scales", "cosine_kwargs"}
        numeric = set(S.describe_schedules()[name]) - S.STATIC[name] - structural
        assert set(SWEPT[name]) == numeric, name
        S.validate_schedule(name, BASE[name])
        for p, values in SWEPT[name].items():
            S.validate_schedule(name, {**BASE[name], p: values})


@pytest.mark.parametrize("name,param,values", SWEPT_CASES, ids=[f"{n}.{p}" for n, p, _ in SWEPT_CASES])
def test_traced_parameter_equals_optax(name, param, values):
    fn = S.SCHEDULES[name]
    base = {k: v for k, v in BASE[name].items() if k != param}
    traced = jax.jit(jax.vmap(lambda v: fn(T, **base, **{param: v})))(jnp.asarray(values, jnp.float32))
    assert traced.dtype == jnp.float32
    for v, row in zip(values, np.asarray(traced)):
        np.testing.assert_allclose(row, reference(name, {**base, param: v}), rtol=TRACED_RTOL, atol=1e-6,
                                   err_msg=f"{name}.{param}={v}")


@pytest.mark.parametrize("name,param,values", SWEPT_CASES, ids=[f"{n}.{p}" for n, p, _ in SWEPT_CASES])
def test_twin_exactly_where_optax_checks_in_python(name, param, values):
    """The routing: optax itself builds the schedule with a traced ``param`` iff it never compares ``param``
    in Python; the parameters it does compare are exactly those sent to the jnp twin."""
    kw = optax_kwargs(name, BASE[name])

    def build(v):
        return jax.vmap(getattr(optax, name)(**{**kw, param: v}))(T)

    try:
        jax.eval_shape(jax.vmap(build), jnp.asarray(values, jnp.float32))
        optax_traces = True
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerBoolConversionError):
        optax_traces = False
    assert optax_traces == (param not in S._OPTAX_CHECKS[name])


def test_dtype_follows_the_parameters():
    def dtype(name, **params):
        return jax.eval_shape(lambda: S.SCHEDULES[name](T, **params)).dtype

    assert dtype("cosine_decay_schedule", decay_steps=100) == jnp.float32
    assert dtype("cosine_decay_schedule", decay_steps=jnp.bfloat16(100)) == jnp.bfloat16
    assert dtype("constant_schedule") == jnp.float32
    with jax.enable_x64(True):
        assert dtype("cosine_decay_schedule", decay_steps=100) == jnp.float64
        assert dtype("linear_onecycle_schedule", transition_steps=100) == jnp.float64
        got = jax.jit(lambda t: S.SCHEDULES["exponential_decay"](t, transition_steps=3, decay_rate=0.9))(T)
        want = optax.exponential_decay(1.0, 3, 0.9)(np.arange(301.0))
        np.testing.assert_allclose(got, want, rtol=1e-13)
    assert not jax.config.jax_enable_x64


def test_static_parameters():
    assert S.static_params("exponential_decay") == {"staircase"}
    assert S.static_params("warmup_exponential_decay_schedule") == {"staircase"}
    assert S.static_params("piecewise_constant_schedule") == {"boundaries_and_scales"}
    assert S.static_params("sgdr_schedule") == {"cosine_kwargs"}
    assert S.static_params("linear_onecycle_schedule") == {"transition_steps", "pct_start", "pct_final"}
    assert S.static_params("cosine_onecycle_schedule") == {"transition_steps", "pct_start"}
    assert S.static_params("cosine_decay_schedule") == frozenset()
    with pytest.raises(ValueError, match=r"schedule 'linear_onecycle_schedule': transition_steps is traced"):
        jax.vmap(lambda n: S.optax_linear_onecycle_schedule(T, transition_steps=n))(jnp.asarray([10.0, 20.0]))


# --------------------------------------------------------------------------- description, validation


def test_describe_schedules_lists_the_aliases():
    d = S.describe_schedules()
    assert list(d) == [*S.SCHEDULES, S.PLATEAU]
    assert d["exponential_decay"] == {"init_value": 1.0, "transition_steps": None, "decay_rate": None,
                                      "transition_begin": 0, "staircase": False, "end_value": None}
    assert d["cosine_decay_schedule"] == {"init_value": 1.0, "decay_steps": None, "alpha": 0.0, "exponent": 1.0}
    assert d["warmup_cosine_decay_schedule"] == {"init_value": 0.0, "peak_value": 1.0, "warmup_steps": None,
                                                 "decay_steps": None, "end_value": 0.0, "exponent": 1.0}
    assert d["piecewise_constant_schedule"] == {"init_value": 1.0, "boundaries_and_scales": None}
    assert d["linear_schedule"] == {"init_value": 1.0, "end_value": 0.0, "transition_steps": None,
                                    "transition_begin": 0}
    assert d["polynomial_schedule"] == {"init_value": 1.0, "end_value": 0.0, "power": None,
                                        "transition_steps": None, "transition_begin": 0}
    assert d["warmup_constant_schedule"] == {"init_value": 0.0, "peak_value": 1.0, "warmup_steps": None}
    assert d["sgdr_schedule"] == {"cosine_kwargs": None}
    assert d["linear_onecycle_schedule"] == {"transition_steps": None, "peak_value": 1.0, "pct_start": 0.3,
                                             "pct_final": 0.85, "div_factor": 25.0, "final_div_factor": 1e4}
    assert d["constant_schedule"] == {"value": 1.0}
    # the names are optax's parameter names
    for name in S.OPTAX_ALIASES:
        assert set(d[name]) <= set(inspect.signature(getattr(optax, name)).parameters), name
    assert S.required_params("exponential_decay") == {"transition_steps", "decay_rate"}
    assert S.required_params("sgdr_schedule") == {"cosine_kwargs"}


def test_list_prints_the_aliases(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "cosine_decay_schedule(init_value=1.0, decay_steps, alpha=0.0, exponent=1.0)" in out
    assert "warmup_constant_schedule(" in out and "sgdr_schedule(cosine_kwargs)" in out


BAD = [
    ("cosine_decay_schedule", {"decay_steps": 0}, r"^schedule 'cosine_decay_schedule': decay_steps=0, expected > 0$"),
    ("cosine_decay_schedule", {"decay_steps": 10, "alph": 0.1},
     r"schedule 'cosine_decay_schedule' has no parameter 'alph'; accepted: init_value, decay_steps, alpha, exponent"),
    ("cosine_decay_schedule", {}, r"schedule 'cosine_decay_schedule' requires parameter 'decay_steps'"),
    ("cosine_decay_schedule", {"decay_steps": 10, "exponent": -1}, r"exponent=-1, expected > 0"),
    ("cosine_decay_schedule", {"decay_steps": 10, "alpha": "x"}, r"alpha='x', expected a number"),
    ("exponential_decay", {"transition_steps": 10, "decay_rate": 0},
     r"'exponential_decay': decay_rate=0, expected > 0"),
    ("exponential_decay", {"transition_steps": [10, 0], "decay_rate": 0.5}, r"transition_steps=0, expected > 0"),
    ("exponential_decay", {"transition_steps": 10, "decay_rate": 0.5, "staircase": "yes"},
     r"staircase='yes', expected true or false"),
    ("exponential_decay", {"transition_steps": 10, "decay_rate": 0.5, "end_value": float("inf")},
     r"end_value=inf, expected a finite number"),
    ("warmup_cosine_decay_schedule", {"warmup_steps": 100, "decay_steps": 100},
     r"decay_steps=100.0, expected > warmup_steps=100.0 \(decay_steps counts the warmup too\)"),
    ("warmup_cosine_decay_schedule", {"warmup_steps": -1, "decay_steps": 100}, r"warmup_steps=-1, expected >= 0"),
    ("piecewise_constant_schedule", {"boundaries_and_scales": {"ten": 0.5}},
     r"boundaries_and_scales=\{'ten': 0.5\}, expected distinct integer steps >= 0 as boundaries \(found 'ten'\)"),
    ("piecewise_constant_schedule", {"boundaries_and_scales": {"10": -0.5}}, r"finite scales >= 0 \(found -0.5\)"),
    ("piecewise_constant_schedule", {"boundaries_and_scales": 5},
     r"boundaries_and_scales=5, expected a \{step: scale\} table or a list of \[step, scale\] pairs"),
    ("piecewise_constant_schedule", {"boundaries_and_scales": [[10, 0.5], [10.0, 0.1]]},
     r"distinct integer steps >= 0 as boundaries \(found 10.0\)"),
    ("piecewise_constant_schedule", {}, r"requires parameter 'boundaries_and_scales'"),
    ("linear_schedule", {"transition_steps": 0}, r"'linear_schedule': transition_steps=0, expected > 0"),
    ("polynomial_schedule", {"transition_steps": 10, "power": 0}, r"power=0, expected > 0"),
    ("warmup_constant_schedule", {"warmup_steps": 0},
     r"warmup_steps=0, expected > 0 \(with 0, optax holds init_value for ever\)"),
    ("warmup_exponential_decay_schedule",
     {"warmup_steps": 5, "transition_steps": 10, "decay_rate": 0.5, "transition_begin": -2},
     r"transition_begin=-2, expected >= 0"),
    ("sgdr_schedule", {"cosine_kwargs": []}, r"cosine_kwargs=\[\], expected a non-empty list of tables"),
    ("sgdr_schedule",
     {"cosine_kwargs": [{"warmup_steps": 0, "decay_steps": 10}, {"warmup_steps": 0, "decay_steps": 0}]},
     r"^schedule 'sgdr_schedule': cosine_kwargs\[1\]: decay_steps=0, expected > 0$"),
    ("sgdr_schedule", {"cosine_kwargs": [{"warmup_steps": 0, "decay_steps": 10, "alpha": 0.1}]},
     r"schedule 'sgdr_schedule': cosine_kwargs\[0\] has no parameter 'alpha'"),
    ("linear_onecycle_schedule", {"transition_steps": 100, "pct_start": 0.9, "pct_final": 0.5},
     r"pct_final=0.5, expected >= pct_start=0.9"),
    ("linear_onecycle_schedule", {"transition_steps": 100, "div_factor": 0}, r"div_factor=0, expected > 0"),
    ("cosine_onecycle_schedule", {"transition_steps": 100, "pct_start": 1.5}, r"pct_start=1.5, expected in \[0, 1\]"),
    ("cosine_onecycle_schedule", {"transition_steps": 0}, r"transition_steps=0, expected > 0"),
    ("constant_schedule", {"value": float("nan")}, r"value=nan, expected a finite number"),
]


@pytest.mark.parametrize("name,params,message", BAD)
def test_validate_alias_messages(name, params, message):
    with pytest.raises(ValueError, match=message) as info:
        S.validate_schedule(name, params)
    assert "\n" not in str(info.value)


def test_validate_accepts_swept_arrays_and_every_form_of_boundaries():
    S.validate_schedule("warmup_cosine_decay_schedule", {"warmup_steps": [0, 10], "decay_steps": [20, 300]})
    S.validate_schedule("exponential_decay", {"transition_steps": 5, "decay_rate": np.geomspace(0.5, 1.5, 5)})
    for bas in ({"10": 0.5}, {10: 0.5}, [[10, 0.5]], [(10.0, 0.5)], {}):
        S.validate_schedule("piecewise_constant_schedule", {"boundaries_and_scales": bas})


# --------------------------------------------------------------------------- a user's callable


def test_factor_from_callable():
    factor = S.factor_from_callable(optax.cosine_decay_schedule(1.0, 100, alpha=0.1))
    np.testing.assert_allclose(jax.jit(factor)(T), optax.cosine_decay_schedule(1.0, 100, alpha=0.1)(T), rtol=RTOL)
    # a function of a scalar count (optax's one-cycle) takes arrays of counts too, and traces under vmap
    one_cycle = optax.linear_onecycle_schedule(100, 1.0)
    np.testing.assert_array_equal(S.factor_from_callable(one_cycle)(T), jax.vmap(one_cycle)(T))
    got = jax.jit(jax.vmap(S.factor_from_callable(lambda t: 0.5 ** (t // 10))))(T)
    assert got.dtype == jnp.float32 and got[25] == 0.25
    assert S.factor_from_callable(lambda t: 1)(T).dtype == jnp.float32  # an int constant becomes float
    with jax.enable_x64(True):
        assert S.factor_from_callable(lambda t: t / 2)(T).dtype == jnp.float64


def test_factor_from_callable_in_an_optimizer():
    factor = S.factor_from_callable(lambda t: 0.5**t)

    def final(lr):
        opt = optax.sgd(lambda c: lr * factor(c))
        x, state = jnp.ones(()), opt.init(jnp.ones(()))
        for _ in range(3):
            u, state = opt.update(x, state)  # gradient of x²/2
            x = optax.apply_updates(x, u)
        return x

    np.testing.assert_allclose(jax.jit(jax.vmap(final))(jnp.asarray([0.5, 1.0])),
                               [0.5 * 0.75 * 0.875, 0.0 * 0.5 * 0.75], rtol=RTOL, atol=1e-7)


@pytest.mark.parametrize("fn,message", [
    (3.0, r"schedule 'callable': 3.0 is not callable, expected a function step -> factor"),
    (lambda t: 1.0 if t < 10 else 0.1, r"schedule 'callable': <lambda>\(step\) failed at a traced int32 count "
                                       r"\(TracerBoolConversionError: .*\), expected .*no Python `if` on it\)"),
    (lambda t: jnp.ones(3) * t, r"<lambda>\(step\) has shape \(3,\), expected one number per step"),
    (lambda t: t > 3, r"<lambda>\(step\) has dtype bool, expected a number"),
])
def test_factor_from_callable_errors(fn, message):
    with pytest.raises(ValueError, match=message) as info:
        S.factor_from_callable(fn)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- end to end through the engine


def sweep(schedule, axes=None, steps=100, **over):
    return lrsweep.from_dict({
        "name": "t", "steps": steps, "loss": {"name": "quadratic", "curvatures": [1.0, 10.0]},
        "init": {"points": [[1.0, 1.0]]}, "schedule": schedule,
        "axes": {"learning_rate": {"min": 0.05, "max": 2.0, "num": 24, "scale": "log"}, **(axes or {})}, **over})


def test_cosine_decay_schedule_sweep_alpha():
    """[schedule] name = "cosine_decay_schedule", decay_steps = 50, swept alpha: the boundary is the exact
    finite-horizon one, and the more the schedule decays the larger the learning rate it tolerates."""
    r = lrsweep.run(sweep({"name": "cosine_decay_schedule", "decay_steps": 50},
                          {"schedule.alpha": {"values": [0.0, 0.5, 1.0]}}), progress=False)
    assert len(r.table) == 24 * 3 and np.isfinite(r.table["initial_loss"]).all()
    assert r.table["diverged"].any() and not r.table["diverged"].all()
    b = r.boundary.set_index("schedule.alpha").sort_index()
    np.testing.assert_allclose(b["critical"], b["theory_finite"], rtol=1e-4)
    assert b.loc[0.0, "critical"] > b.loc[0.5, "critical"] > b.loc[1.0, "critical"]
    # alpha = 1: a constant schedule, critical just above 2/λ_max = 0.2 (a finite horizon, a finite divergence factor)
    assert 0.2 < b.loc[1.0, "critical"] < 0.21
    # the engine's factors are optax's own schedule
    program = Program(sweep({"name": "cosine_decay_schedule", "decay_steps": 50, "alpha": 0.5}))
    np.testing.assert_allclose(program.schedule_factors({}), optax.cosine_decay_schedule(1.0, 50, 0.5)(np.arange(101)),
                               rtol=RTOL)


def test_swept_parameter_optax_checks_runs_through_the_twin():
    """A swept warmup_steps (optax compares it in Python: the jnp twin runs) gives the rows of runs with
    that value fixed in [schedule] (optax itself runs)."""
    base = {"name": "warmup_cosine_decay_schedule", "decay_steps": 40, "end_value": 0.1}

    def table(schedule, axes):
        return lrsweep.run(sweep(schedule, axes, steps=40, boundary={"max_rounds": 0}), progress=False).table

    swept = table(base, {"schedule.warmup_steps": {"values": [0, 10]}})
    for w in (0, 10):
        rows = swept[swept["schedule.warmup_steps"] == w].reset_index(drop=True)
        fixed = table({**base, "warmup_steps": w}, {})
        np.testing.assert_array_equal(rows["diverged"], fixed["diverged"])
        np.testing.assert_allclose(rows["final_loss"], fixed["final_loss"], rtol=1e-4)


def test_aliases_in_a_categorical_axis_equal_lrsweeps_own():
    """A `schedule` axis over lrsweep's own names and optax's: the same schedules give the same rows; the
    static structures (boundary pairs, sgdr's cycles) pass through the sweep definition."""
    spec = sweep({"name": "cosine",
                  "cosine": {"decay_steps": 40, "alpha": 0.2},
                  "cosine_decay_schedule": {"decay_steps": 40, "alpha": 0.2},
                  "piecewise": {"boundaries": [10, 30], "scales": [0.5, 0.2]},
                  "piecewise_constant_schedule": {"boundaries_and_scales": [[10, 0.5], [30, 0.2]]},
                  "sgdr_schedule": {"cosine_kwargs": [{"warmup_steps": 0, "decay_steps": 20}] * 3}},
                 {"schedule": {"values": ["cosine", "cosine_decay_schedule", "piecewise",
                                          "piecewise_constant_schedule", "sgdr_schedule"]}},
                 steps=60, boundary={"max_rounds": 0})
    t = lrsweep.run(spec, progress=False).table
    rows = {s: t[t["schedule"] == s].reset_index(drop=True) for s in spec.axis("schedule").values}
    for a, b in (("cosine", "cosine_decay_schedule"), ("piecewise", "piecewise_constant_schedule")):
        np.testing.assert_array_equal(rows[a]["diverged"], rows[b]["diverged"])
        np.testing.assert_allclose(rows[a]["final_loss"], rows[b]["final_loss"], rtol=1e-4)
    assert not rows["sgdr_schedule"]["final_loss"].equals(rows["cosine"]["final_loss"])


@pytest.mark.parametrize("schedule,axes,field,message", [
    ({"name": "cosine_decay_schedule", "decay_steps": 0}, {}, "schedule.decay_steps", "decay_steps=0, expected > 0"),
    ({"name": "cosine_decay_schedule", "decay_steps": 50, "alpah": 0.1}, {}, "schedule",
     "schedule 'cosine_decay_schedule' has no parameter 'alpah'; accepted: init_value, decay_steps, alpha, exponent"),
    ({"name": "cosine_decay_schedule"}, {"schedule.decay_steps": {"values": [0, 50]}}, "axes.schedule.decay_steps",
     "decay_steps=0.0, expected > 0"),
    ({"name": "sgdr_schedule", "cosine_kwargs": [{"decay_steps": 10}]}, {}, "schedule",
     "cosine_kwargs[0] requires parameter 'warmup_steps'"),
])
def test_bad_alias_parameters_are_one_line_sweep_errors(schedule, axes, field, message):
    with pytest.raises(SweepError) as info:
        lrsweep.run(sweep(schedule, axes, steps=10), progress=False)
    msg = str(info.value)
    assert "\n" not in msg and f": {field}: " in msg and message in msg


def test_static_alias_parameter_is_not_an_axis():
    with pytest.raises(SweepError, match=r"axes.schedule.transition_steps: .*fixed on the host") as info:
        sweep({"name": "linear_onecycle_schedule"}, {"schedule.transition_steps": {"values": [50, 100]}})
    assert "\n" not in str(info.value)
