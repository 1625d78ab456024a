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
* :func:`init_offset_every_step` with the optimizer :func:`sgd_offset_every_step` — the notebook's
  "initialisation offset vs learning rate" condition as the notebook runs it: the offset is added to
  the input-layer weights **before every update** (its ``train_step`` adds ``hparams[0]`` to ``W0``),
  not once at initialisation as ``fractal_mlp``'s ``init_offset`` does (``sweeps/fractal-init-offset.toml``);
* :func:`full_batch` — the 272-example dataset, full batch: the same runs as the built-in
  ``[loss] name = "fractal_mlp"`` (used to check this file against it: a 16 × 16-point, 500-step
  float64 sweep of both over the fractal-tanh window gives the same outcome in every cell and final
  losses equal to 4.4e-16 relative — the data are program arguments here, constants there).

Parameters are ``{"layer0": W0 (w, w), "layer1": W1 (w, 1)}``, fractal_mlp's groups, so the sweep
files' ``learning_rate.layer0`` / ``learning_rate.layer1`` axes set one learning rate per layer.
The initial weights are fractal_mlp's own ``init(key, scale)`` on the engine's key
(``fold_in(key(seed), 0)``), i.e. the same weights as ``sweeps/fractal-tanh.toml``.

Used by ``sweeps/fractal-minibatch.toml``, ``sweeps/fractal-single-datapoint.toml``
(``loss = "sweeps/problems/fractal.py:minibatch"``) and ``sweeps/fractal-init-offset-every-step.toml``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lrsweep
from lrsweep.losses import fractal_mlp

try:  # fractal_mlp's own N(0, 1) draw (float32, cast), so that the data here are its data
    from lrsweep.losses import normal as _normal
except ImportError:  # an engine that draws in the working dtype
    _normal = jax.random.normal

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

    fractal_mlp draws them inside the engine's float64 trace (x64 on) with ``lrsweep.losses.normal``
    where it exists (float32 draws cast: the same numbers in every dtype), else ``jax.random.normal``
    in float64; here x64 is switched on for the draw so that the values are the same float64 numbers,
    whatever the caller's x64 setting. ``tests/test_fractal.py`` holds the two to equality.
    """
    with jax.enable_x64(True):
        key_x, key_y = jax.random.split(jax.random.key(jnp.asarray(data_seed).astype(jnp.uint32)))
        x = _normal(key_x, (n_data, width), jnp.float64)
        y = _normal(key_y, (n_data, 1), jnp.float64)
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


# --------------------------------------------------------------------------- the offset added at every step


def init_offset_every_step() -> lrsweep.Problem:
    r"""The tanh network on its 272 examples, full batch, for the notebook's every-step offset (``loss.offset_every_step``).

    The notebook's ``train_step`` in ``phase_space = 'paraminit_vs_lr'`` does, at every step,

    .. math::
        u_t = W_{0,t} + c, \qquad W_{0,t+1} = u_t - \eta\, \nabla_{W_0} f(u_t, W_{1,t}),
        \qquad W_{1,t+1} = W_{1,t} - \eta\, \nabla_{W_1} f(u_t, W_{1,t}),

    and records :math:`f(u_t, W_{1,t})`. In the variable the loss is evaluated at,
    :math:`u_{t+1} = u_t - \eta \nabla f(u_t) + c`: gradient descent plus a constant drift ``c`` of every
    input-layer weight per update, from :math:`u_0 = W_{0,0} + c`. Here the parameters are
    ``{"layer0": u, "layer1": W1, "offset": c}``: ``init`` draws fractal_mlp's weights and adds ``c``
    once (so :math:`u_0` and :math:`f_0` are the notebook's), the loss reads ``layer0``/``layer1`` only,
    and :func:`sgd_offset_every_step` adds ``params["offset"]`` to ``layer0`` at every update. The
    ``offset`` leaf carries ``c`` from the ``loss.offset_every_step`` axis to the optimizer; its gradient
    is zero and the optimizer never changes it. (The axis is not called ``init_offset``: that name, and
    its figure label "initial input-weight offset", belong to the offset applied once.)
    """
    base = _make(n_params(), None, "fractal_mlp (tanh, w=16), offset added at every step")
    net_init = fractal_mlp(width=WIDTH, activation=ACTIVATION, n_data=1).init

    def loss(params, batch, offset_every_step=0.0):
        del offset_every_step  # the offset is in the parameters (and the optimizer's drift), not in the loss
        return base.loss({"layer0": params["layer0"], "layer1": params["layer1"]}, batch)

    def init(key, scale=1.0, offset_every_step=0.0):
        w = net_init(key, scale)
        c = jnp.asarray(offset_every_step, w["layer0"].dtype)
        return {"layer0": w["layer0"] + c, "layer1": w["layer1"], "offset": c}

    return lrsweep.Problem(loss=loss, init=init, data=base.data, batch_size=None, name=base.name)


def sgd_offset_every_step(learning_rate) -> optax.GradientTransformation:
    r"""Gradient descent that adds ``params["offset"]`` to every input-layer weight at every update.

    Update: :math:`\Delta W_0 = -\eta\, g_0 + c`, :math:`\Delta W_1 = -\eta\, g_1`,
    :math:`\Delta c = 0` (see :func:`init_offset_every_step`; a sweep file's ``optimizer.name``).
    """

    def init(params):
        del params
        return optax.EmptyState()

    def update(grads, state, params):
        c = params["offset"]
        return {"layer0": -learning_rate * grads["layer0"] + c, "layer1": -learning_rate * grads["layer1"],
                "offset": jnp.zeros_like(c)}, state

    return optax.GradientTransformation(init, update)


def notebook_offset_losses(offset: float, learning_rate: float, steps: int) -> np.ndarray:
    """The notebook's every-step-offset training, transcribed from its ``train_step`` as a plain loop on
    this file's network, data and initial weights (float64): the loss before each update, a reference
    for the swept problem."""
    with jax.enable_x64(True):
        x, y = (jnp.asarray(a) for a in fractal_data(n_params()))
        w = fractal_mlp(width=WIDTH, activation=ACTIVATION, n_data=1).init(
            jax.random.fold_in(jax.random.key(0), 0), jnp.float64(1.0))
        theta = [w["layer0"], w["layer1"]]
        act, root = ACTIVATIONS[ACTIVATION], math.sqrt(WIDTH)

        def f(theta):
            return jnp.mean((act(x @ theta[0] / root) @ theta[1] / root / root - y) ** 2)

        grad = jax.jit(jax.value_and_grad(f))
        out = []
        for _ in range(steps):
            theta = [theta[0] + offset, theta[1]]  # train_step: t += hparams[0] for layer 0
            value, g = grad(theta)
            out.append(float(value))
            theta = [t - learning_rate * gi for t, gi in zip(theta, g)]
        return np.asarray(out)
