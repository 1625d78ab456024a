"""The seed case on real data: scikit-learn's 8×8 handwritten digits (``lrsweep.datasets.load("digits")``).

Seed question 002: "a learning rate of .001 … would actually exponentially raise the loss … to infinity
('nan'). When I lowered the learning rate to .0001, everything worked fine. Why does a single order of
magnitude have such an effect?" These problems reproduce it on real images and let lrsweep measure the
critical learning rate of each variant (docs/seed-digits.md).

Every function of no arguments here returns an :class:`lrsweep.Problem`; a sweep file names one as
``loss = "sweeps/problems/digits.py:mlp_raw"`` (run from the repository root).

Models (plain JAX, parameters a dict pytree):

* MLP 64-32-10, ``tanh`` hidden layer, linear output.
* CNN: one 3×3 convolution 1→8 channels, stride 2, 'SAME' (on the 8×8 image, giving 4×4×8) → tanh →
  dense 128-32 → tanh → dense 32-10.

Initialisation: LeCun normal (weights ~ N(0, 1/fan_in), zero biases), drawn from the run's key
(``init=``), so a ``seed`` axis changes it. It is the usual default and is calibrated for inputs of unit
scale — which the raw 0–16 pixels are not: that mismatch is the seed's situation.

Loss: mean squared error on one-hot targets, averaged over examples *and* the 10 classes (Keras'
``mean_squared_error``). Why not softmax cross-entropy: with cross-entropy, SGD above the critical rate
does not go to NaN here. Checked with a plain JAX loop (300 minibatch updates, learning rates 1e-5 … 1e2,
raw pixels): with tanh the loss grows only linearly in the logits (at most ~800× its initial value, even
at η = 100); with relu it spikes and then every hidden unit dies and the loss sits at ln 10 = 2.303.
Neither reaches 10⁶× the initial loss (the default divergence rule) or a non-finite value. With the
square loss the output error feeds back linearly into the weights, so above the critical rate the loss
grows geometrically to inf/NaN within tens of updates — the seed's symptom.

Why tanh, not relu: with the square loss, a relu network just above its critical rate spikes by many
orders of magnitude and then its hidden units die: the loss falls back to ≈ 0.09 (the network predicts
the class frequencies) and stays finite over a further one to two decades of learning rate, so "NaN above
a critical rate" is not what one sees there; lrsweep still calls those runs diverged because it observes
the loss at every update (``check_every = 1`` in the sweep files) and the spike passes 10⁶×. The tanh
network has no such escape: loss → inf → NaN. (The relu variant, :func:`mlp_relu_raw`, is kept for the
input-scale comparison, where its positive homogeneity makes the first layer's curvature exactly ∝ s².)

Every loss, metric and initialiser accepts ``input_scale`` (default 1): the batch's inputs are multiplied
by it, so an axis ``loss.input_scale`` sweeps the scale of the data in one compiled program.

Variants: ``*_raw`` (pixels 0..16 as scikit-learn ships them) vs ``*_std`` (each pixel standardised with
the training split's mean and std, ``standardize=True``); minibatches of 64 (22 per epoch of the 1,438
training images) vs ``*_fullbatch`` (all 1,438 every update). ``eval_data`` is the 359-image test split.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

import lrsweep
from lrsweep import datasets

N_CLASSES = 10
HIDDEN = 32
CHANNELS = 8
BATCH = 64


# --------------------------------------------------------------------------- models


def _dense(key, n_in, n_out):
    return {"w": jax.random.normal(key, (n_in, n_out)) / jnp.sqrt(n_in), "b": jnp.zeros(n_out)}


def mlp_init(key):
    """MLP 64-32-10, LeCun normal weights, zero biases."""
    k1, k2 = jax.random.split(key)
    return {"hidden": _dense(k1, 64, HIDDEN), "out": _dense(k2, HIDDEN, N_CLASSES)}


def mlp_apply(params, x, activation=jnp.tanh, input_scale=1.0):
    h = activation((x * input_scale) @ params["hidden"]["w"] + params["hidden"]["b"])
    return h @ params["out"]["w"] + params["out"]["b"]


def cnn_init(key):
    """conv 3×3 1→8 channels (LeCun normal, fan_in 9) → dense 128-32 → dense 32-10."""
    k1, k2, k3 = jax.random.split(key, 3)
    return {"conv": {"w": jax.random.normal(k1, (3, 3, 1, CHANNELS)) / 3.0, "b": jnp.zeros(CHANNELS)},
            "hidden": _dense(k2, 16 * CHANNELS, HIDDEN), "out": _dense(k3, HIDDEN, N_CLASSES)}


def cnn_apply(params, x, activation=jnp.tanh, input_scale=1.0):
    """8×8 image → conv 3×3, stride 2, 'SAME' (``jax.lax.conv_general_dilated``) → 4×4×8 → tanh → dense
    128-32 → tanh → dense 32-10. (Stride 2 instead of a stride-1 convolution and 2×2 pooling: vmapped
    over configurations on CPU the latter ran 3–4× slower per update.)"""
    n = x.shape[0]
    img = (x * input_scale).reshape(n, 8, 8, 1)                         # NHWC
    z = jax.lax.conv_general_dilated(img, params["conv"]["w"], window_strides=(2, 2), padding="SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC")) + params["conv"]["b"]
    h = activation(activation(z).reshape(n, 16 * CHANNELS) @ params["hidden"]["w"] + params["hidden"]["b"])
    return h @ params["out"]["w"] + params["out"]["b"]


# --------------------------------------------------------------------------- losses and metrics


def _mse(apply):
    def loss(params, batch, input_scale=1.0):
        x, y = batch
        out = apply(params, x, input_scale)
        return jnp.mean((out - jax.nn.one_hot(y, N_CLASSES, dtype=out.dtype)) ** 2)
    return loss


def _accuracy(apply):
    def accuracy(params, batch, input_scale=1.0):
        x, y = batch
        return jnp.mean(jnp.argmax(apply(params, x, input_scale), axis=-1) == y)
    return accuracy


def _problem(model: str, *, standardize: bool, batch_size: int | None, activation=jnp.tanh, name: str):
    if model == "mlp":
        init, apply = mlp_init, (lambda p, x, s: mlp_apply(p, x, activation, s))
    else:
        init, apply = cnn_init, (lambda p, x, s: cnn_apply(p, x, activation, s))
    return lrsweep.Problem(
        loss=_mse(apply), init=init,
        data=datasets.load("digits", split="train", standardize=standardize),
        eval_data=datasets.load("digits", split="test", standardize=standardize),
        batch_size=batch_size, metrics={"accuracy": _accuracy(apply)}, minimum=None, name=name)


# --------------------------------------------------------------------------- the variants


def mlp_raw():
    """tanh MLP, raw pixels 0..16, minibatches of 64."""
    return _problem("mlp", standardize=False, batch_size=BATCH, name="digits mlp raw")


def mlp_std():
    """tanh MLP, standardised pixels, minibatches of 64."""
    return _problem("mlp", standardize=True, batch_size=BATCH, name="digits mlp std")


def mlp_raw_fullbatch():
    """tanh MLP, raw pixels, full batch (1,438 images per update)."""
    return _problem("mlp", standardize=False, batch_size=None, name="digits mlp raw full-batch")


def mlp_std_fullbatch():
    """tanh MLP, standardised pixels, full batch."""
    return _problem("mlp", standardize=True, batch_size=None, name="digits mlp std full-batch")


def mlp_relu_raw():
    """relu MLP, raw pixels, minibatches of 64 (input-scale contrast: relu is positively homogeneous)."""
    return _problem("mlp", standardize=False, batch_size=BATCH, activation=jax.nn.relu, name="digits relu mlp raw")


def cnn_raw():
    """tanh CNN, raw pixels, minibatches of 64."""
    return _problem("cnn", standardize=False, batch_size=BATCH, name="digits cnn raw")


def cnn_std():
    """tanh CNN, standardised pixels, minibatches of 64."""
    return _problem("cnn", standardize=True, batch_size=BATCH, name="digits cnn std")


# --------------------------------------------------------------------------- optimizers


def adam_clipped(learning_rate, clip=1.0):
    """Adam after clipping the gradient to global norm ``clip`` (a sweep file's ``optimizer.name``)."""
    return optax.chain(optax.clip_by_global_norm(clip), optax.adam(learning_rate))
