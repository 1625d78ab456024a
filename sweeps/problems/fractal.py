"""The fractal-boundary network (Sohl-Dickstein 2024) as ``lrsweep.Problem``s with explicit data.

The network, its data and its initialisation are those of :func:`lrsweep.losses.fractal_mlp`
(one hidden layer of width 16, no biases, mean-field scaling ``g(x) = φ(x W0 / √w) W1 / w``,
``φ(z) = tanh(√2 z)``, targets and inputs i.i.d. N(0, 1) drawn from ``data_seed``, weights
N(0, 1)), but the data are passed to the engine as ``data=(X, y)`` so that it can train on
minibatches of them:

* :func:`minibatch` — the 272-example dataset (as many examples as parameters), ``batch_size=16``
  (the notebook's ``minibatch_size = 16`` condition);
* :func:`single_datapoint` — a one-example dataset, full batch (the notebook's
  ``dataset_param_multiple = 'single_datapoint'`` condition);
* :func:`full_batch` — the 272-example dataset, full batch: the same runs as the built-in
  ``[loss] name = "fractal_mlp"`` (used to check this file against it: a 16 × 16-point, 500-step
  float64 sweep of both over the fractal-tanh window gives the same outcome in every cell and final
  losses equal to 4.4e-16 relative — the data are program arguments here, constants there).

Parameters are ``{"layer0": W0 (w, w), "layer1": W1 (w, 1)}``, fractal_mlp's groups, so the sweep
files' ``learning_rate.layer0`` / ``learning_rate.layer1`` axes set one learning rate per layer.
The initial weights are fractal_mlp's own ``init(key, scale)`` on the engine's key
(``fold_in(key(seed), 0)``), i.e. the same weights as ``sweeps/fractal-tanh.toml``.

Used by ``sweeps/fractal-minibatch.toml`` and ``sweeps/fractal-single-datapoint.toml``
(``loss = "sweeps/problems/fractal.py:minibatch"``).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

import lrsweep
from lrsweep.losses import fractal_mlp

WIDTH = 16
ACTIVATION = "tanh"
DATA_SEED = 0
MINIBATCH_SIZE = 16  # the notebook's minibatch_size

# fractal_mlp's activations (the notebook's): tanh(√2 z), √2 relu(z), z
ACTIVATIONS = {
    "tanh": lambda z: jnp.tanh(z * math.sqrt(2.0)),
    "relu": lambda z: jax.nn.relu(z) * math.sqrt(2.0),
    "identity": lambda z: z,
}


def fractal_data(n_data: int, *, width: int = WIDTH, data_seed: int = DATA_SEED) -> tuple[np.ndarray, np.ndarray]:
    """``(X (n, w), y (n, 1))`` exactly as :func:`lrsweep.losses.fractal_mlp` draws them, in float64.

    fractal_mlp draws them inside the engine's float64 trace (x64 on); here x64 is switched on for
    the draw so that the values are the same float64 numbers, whatever the caller's x64 setting.
    """
    with jax.enable_x64(True):
        key_x, key_y = jax.random.split(jax.random.key(jnp.asarray(data_seed).astype(jnp.uint32)))
        x = jax.random.normal(key_x, (n_data, width), jnp.float64)
        y = jax.random.normal(key_y, (n_data, 1), jnp.float64)
        return np.asarray(x), np.asarray(y)


def _make(n_data: int, batch_size: int | None, name: str, *, width: int = WIDTH,
          activation: str = ACTIVATION) -> lrsweep.Problem:
    act = ACTIVATIONS[activation]
    root = math.sqrt(width)
    # fractal_mlp's initialiser (N(0, 1) · scale; init_offset 0); its data are not used here
    net_init = fractal_mlp(width=width, activation=activation, n_data=1).init

    def loss(params, batch):
        """fractal_mlp's ``fn`` with the data as an argument: mean over the batch of (g(x) − y)²."""
        x, y = batch
        dtype = jnp.result_type(params["layer0"])
        hidden = act(x.astype(dtype) @ params["layer0"] / root)
        out = hidden @ params["layer1"] / root / root
        return jnp.mean((out - y.astype(dtype)) ** 2)

    def init(key, scale=1.0):
        return net_init(key, scale)

    return lrsweep.Problem(loss=loss, init=init, data=fractal_data(n_data, width=width),
                           batch_size=batch_size, name=name)


def n_params(width: int = WIDTH) -> int:
    """``w² + w``: the notebook's dataset size for tanh (``dataset_param_multiple = 1``)."""
    return width * width + width


def minibatch() -> lrsweep.Problem:
    """272 examples, minibatches of 16 (17 per epoch, lrsweep's documented reshuffled order)."""
    return _make(n_params(), MINIBATCH_SIZE, "fractal_mlp (tanh, w=16), minibatch 16 of 272")


def single_datapoint() -> lrsweep.Problem:
    """One example (fractal_mlp's ``n_data=1`` draw), full batch."""
    return _make(1, None, "fractal_mlp (tanh, w=16), single datapoint")


def full_batch() -> lrsweep.Problem:
    """272 examples, full batch: the built-in fractal_mlp's runs (a reference for the two above)."""
    return _make(n_params(), None, "fractal_mlp (tanh, w=16), full batch")
