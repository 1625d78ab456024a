"""The MLP's extras: fraction of dead (relu) or saturated (tanh/sigmoid) hidden units."""

import jax
import jax.numpy as jnp
import pytest

from lrsweep.losses import mlp


def test_dead_fraction_counts_units_negative_on_every_example():
    loss = mlp(width=4, depth=1, activation="relu", n_inputs=3, n_data=10)
    params = loss.init(jax.random.key(0), jnp.float32(1.0))
    assert float(loss.extras(params)["dead_fraction"]) < 1.0
    b = params["layer0"]["b"].at[:2].set(-1e3)  # two of four units can never fire
    params = {**params, "layer0": {**params["layer0"], "b": b}}
    assert float(loss.extras(params)["dead_fraction"]) == pytest.approx(0.5)


def test_saturated_fraction_and_no_extras_for_linear():
    loss = mlp(width=2, depth=1, activation="tanh", n_inputs=2, n_data=5)
    params = loss.init(jax.random.key(1), jnp.float32(1.0))
    params = {**params, "layer0": {"w": params["layer0"]["w"] * 0.0, "b": jnp.array([10.0, 0.0])}}
    assert float(loss.extras(params)["saturated_fraction"]) == pytest.approx(0.5)  # unit 0 on all 5 examples
    assert mlp(activation="linear").extras is None and mlp(depth=0).extras is None
