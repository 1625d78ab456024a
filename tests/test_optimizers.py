"""lrsweep.optimizers: optax optimizers by name, built inside the compiled program with traced hyperparameters.

What it must hold: a name resolves to optax's own factory (or optax.contrib's, or a user function); a wrong
name is refused with a suggestion; an optimizer built with *traced* hyperparameters is optax's optimizer with
those values, update for update — the forms the theory relies on (heavy ball m ← g + βm, x ← x − ηm; Nesterov
x ← x − η(g + βm)) — and new values of the hyperparameters never recompile.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lrsweep import optimizers


def test_names_resolve_to_optax_factories():
    assert optimizers.resolve_optimizer("sgd") is optax.sgd
    assert optimizers.resolve_optimizer("adam") is optax.adam
    name = next(n for n in ("prodigy", "schedule_free_sgd", "dadapt_adamw") if hasattr(optax.contrib, n))
    assert optimizers.resolve_optimizer(f"contrib.{name}") is getattr(optax.contrib, name)


def test_user_optimizers_by_callable_and_by_file(tmp_path):
    def clipped(learning_rate, clip):
        return optax.chain(optax.clip_by_global_norm(clip), optax.sgd(learning_rate))

    assert optimizers.resolve_optimizer(clipped) is clipped
    assert optimizers.required(clipped) == ["learning_rate", "clip"]
    f = tmp_path / "opt.py"
    f.write_text("import optax\n\ndef heavy(learning_rate, beta=0.9):\n"
                 "    return optax.sgd(learning_rate, momentum=beta)\n")
    fn = optimizers.resolve_optimizer(f"{f}:heavy")
    assert optimizers.describe_optimizer(fn) == {"learning_rate": None, "beta": 0.9}


@pytest.mark.parametrize("name, words", [
    ("rmsprob", ["unknown optax optimizer 'rmsprob'", "did you mean 'rmsprop'"]),
    ("chain", ["not an optimizer taking a learning_rate"]),
    ("", ["non-empty string"]),
])
def test_wrong_names_are_refused_with_a_reason(name, words):
    with pytest.raises(ValueError) as e:
        optimizers.resolve_optimizer(name)
    for w in words:
        assert w in str(e.value)


def test_a_callable_without_learning_rate_is_refused():
    with pytest.raises(ValueError, match="takes no learning_rate"):
        optimizers.resolve_optimizer(lambda lr: optax.sgd(lr))


def test_describe_lists_hyperparameters_with_defaults():
    d = optimizers.describe_optimizer("sgd")
    assert d["learning_rate"] is None and d["nesterov"] is False and "momentum" in d
    common = optimizers.describe_optimizers()
    assert {"sgd", "adam", "adamw"} <= set(common)
    assert all("learning_rate" in params for params in common.values())


def _run(name, lam, x0, steps, fixed=None):
    """``steps`` updates on f = ½ λ x² with hyperparameters passed as traced values (``fixed``: switches,
    Python values); one compiled program."""

    @jax.jit
    def run(lr, hp):
        opt = optimizers.build(name, lambda count: lr, {**hp, **(fixed or {})})
        x = jnp.asarray(x0)
        state = opt.init(x)
        xs = []
        for _ in range(steps):
            g = lam * x
            u, state = opt.update(g, state, x)
            x = optax.apply_updates(x, u)
            xs.append(x)
        return jnp.stack(xs)

    return run


def test_heavy_ball_with_traced_hyperparameters_is_optax_form():
    """x ← x − η m with m ← g + β m, g = λ x: the recurrence the theory module's closed forms assume."""
    lam, x0, steps = 3.0, 1.0, 6
    run = _run("sgd", lam, x0, steps)
    for eta, beta in ((0.1, 0.0), (0.2, 0.5), (0.05, 0.9)):
        got = np.asarray(run(jnp.float32(eta), {"momentum": jnp.float32(beta)}))
        x, m, want = x0, 0.0, []
        for _ in range(steps):
            m = lam * x + beta * m
            x = x - eta * m
            want.append(x)
        np.testing.assert_allclose(got, want, rtol=1e-5)
    assert run._cache_size() == 1  # three sets of values, one compilation


def test_nesterov_with_traced_momentum_is_optax_form():
    """x ← x − η (g + β m) with m ← g + β m."""
    lam, x0, steps, eta, beta = 2.0, -1.5, 5, 0.1, 0.8
    got = np.asarray(_run("sgd", lam, x0, steps, {"nesterov": True})(jnp.float32(eta), {"momentum": jnp.float32(beta)}))
    x, m, want = x0, 0.0, []
    for _ in range(steps):
        g = lam * x
        m = g + beta * m
        x = x - eta * (g + beta * m)
        want.append(x)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_adam_with_traced_b1_matches_optax_with_floats():
    lam, x0, steps = 4.0, 0.7, 8
    got = np.asarray(_run("adam", lam, x0, steps)(jnp.float32(0.05), {"b1": jnp.float32(0.8)}))
    opt, x = optax.adam(0.05, b1=0.8), jnp.float32(x0)
    state, want = opt.init(x), []
    for _ in range(steps):
        u, state = opt.update(lam * x, state, x)
        x = optax.apply_updates(x, u)
        want.append(float(x))
    np.testing.assert_allclose(got, want, rtol=1e-6)
