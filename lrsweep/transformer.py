r"""A small decoder-only transformer as an :class:`lrsweep.Problem` (plain JAX), after Wortsman et al.,
*Small-scale proxies for large-scale Transformer training instabilities* (2023, arXiv:2309.14322).

**Model** (pre-norm, GPT-style, no biases anywhere). Tokens ``x_1 … x_L``, width ``d``, ``H`` heads of
``d_h = d / H``, depth ``N``:

.. math::
    h^0 = E[x] + P, \qquad
    h^{l+1/2} = h^l + \mathrm{Attn}(\mathrm{LN}(h^l)), \qquad
    h^{l+1} = h^{l+1/2} + W_2\,\mathrm{gelu}(W_1\,\mathrm{LN}(h^{l+1/2})),

    \mathrm{Attn}(u)_i = W_O \sum_{j \le i} \mathrm{softmax}_j(s_{ij})\, W_V u_j, \qquad
    s_{ij} = \tau\, \langle \tilde q_i, \tilde k_j \rangle,\quad \tilde q = \mathrm{LN}_{qk}(W_Q u)
    \text{ (qk-layernorm) or } W_Q u,

    z = m_{\mathrm{out}}\, W_U\, \mathrm{LN}(h^N), \qquad
    \ell = \underbrace{\log Z - z_{y}}_{\text{cross-entropy}} + c_z (\log Z)^2,\quad \log Z = \mathrm{logsumexp}(z).

``LN`` is LayerNorm with a learned gain and no bias (``ε = 1e-6``); ``P`` learned positions
(``positions="learned"``) or none with rotary embeddings applied to ``q, k`` (``"rope"``, base 10,000).
Causal: position ``i`` attends to ``j ≤ i`` only. MLP width ``4d``, gelu (tanh form).

**Initialisation** (the paper's, as we read it — the paper text was not retrievable here; OLMo's
"mitchell" init, which its authors attribute to Wortsman, is the same rule): every weight matrix
``W ∈ R^{fan_in × fan_out}`` from a normal truncated at ±2σ with standard deviation ``1/√fan_in``; the
token and position embeddings ``E, P`` with standard deviation 1; LayerNorm gains 1. So the residual
stream starts at unit scale and the initial logits ``z`` have unit variance per entry.

**Parameterisations.** Standard (SP): ``τ = 1/√d_h``, ``m_out = 1``, one learning rate for every
parameter. µP (Yang et al. 2022, *Tensor Programs V*, the Adam table; ``mup=True``, base width ``d_0``,
width multiplier ``m = d/d_0``, heads fixed so ``d_h ∝ d``):

* attention ``τ = √(d_{h,0}) / d_h`` (``∝ 1/d_h``, equal to SP's at the base width);
* readout ``m_out = 1/m`` (equal to 1 at the base width);
* Adam learning rate of the *hidden* matrices (``W_Q, W_K, W_V, W_O, W_1, W_2``: both dimensions grow
  with ``d``) ``η/m``; embeddings, readout and gains keep ``η`` (:func:`mup_lr_scale`, applied by
  :func:`adamw` with ``mup_base_width = d_0``).

At the base width µP and SP are the same model and the same optimizer (tested).

**Swept options.** ``qk_layernorm`` and ``z_loss`` are keywords of the loss: an axis
``loss.qk_layernorm = [0, 1]`` or ``loss.z_loss = [0, 1e-4]`` sweeps them in one compiled program
(traced values; with qk-layernorm traced both branches are computed and one is selected). Width,
depth, heads, context, positions and µP change shapes: one problem each (:func:`make_problem`, and
the named no-argument variants below for sweep files, ``loss = "lrsweep.transformer:lm_w64"``).

**Optimizer** :func:`adamw`: the paper's AdamW — global-norm clipping at 1, Adam (β = 0.9, 0.95,
ε = 1e-8), linear warm-up then cosine decay to ``min_lr``, *independent* weight decay
``θ ← θ − λ (η_t/η) θ`` (λ = 1e-4: the decay follows the schedule but not the learning rate).

**Metrics** (end of run, on the first ``metric_examples`` windows of the training data and on the
validation data): ``ce`` (cross-entropy without the z-loss term — the language-modelling loss),
``logz`` (mean ``log Z``: the output-logit drift; 0 for normalised logits), ``attn_logit_<l>`` (the
largest pre-softmax attention logit ``s_ij`` of layer ``l`` over causal pairs, heads and examples) and
``grad_rms`` (root-mean-square of the gradient over all parameters). The optimizer's update RMS is not
available to a metric (it sees parameters, not optimizer state); along training, ``[trajectories]``
records it as ``update_rms`` beside every metric (:func:`lrsweep.training.recorded_blocks`).

>>> cfg = Config(width=32, depth=1, heads=2, context=8)
>>> params = init_params(jax.random.key(0), cfg)
>>> logits, attn = forward(params, jnp.zeros((3, 8), jnp.int32), cfg)
>>> logits.shape, len(attn)
((3, 8, 256), 1)
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrsweep import corpus as _corpus

HIDDEN = ("wq", "wk", "wv", "wo", "w1", "w2")
"""The hidden matrices: both dimensions scale with the width (µP's ``η/m`` learning rate)."""
LN_EPS = 1e-6
TRUNC = 0.8796256610342398  # std of a standard normal truncated to [-2, 2]


@dataclasses.dataclass(frozen=True)
class Config:
    """Shapes and fixed options of the model (the swept ones are loss keywords)."""

    width: int = 64
    depth: int = 2
    heads: int = 4
    context: int = 64
    vocab: int = 256
    mlp_ratio: int = 4
    positions: str = "learned"   # "learned" | "rope"
    qk_layernorm: bool = True    # default of the loss keyword
    z_loss: float = 1e-4         # default of the loss keyword
    mup: bool = False
    base_width: int = 32         # µP's d_0

    def __post_init__(self):
        for k in ("width", "depth", "heads", "context", "vocab", "mlp_ratio", "base_width"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{k}: expected an integer >= 1, found {v!r}")
        if self.width % self.heads or self.base_width % self.heads:
            raise ValueError(f"heads: expected a divisor of width={self.width} and base_width={self.base_width}, "
                             f"found {self.heads}")
        if self.positions not in ("learned", "rope"):
            raise ValueError(f"positions: expected 'learned' or 'rope', found {self.positions!r}")
        if self.positions == "rope" and self.head_dim % 2:
            raise ValueError(f"heads: rope needs an even head dimension, found width/heads = {self.head_dim}")

    @property
    def head_dim(self) -> int:
        return self.width // self.heads

    @property
    def width_mult(self) -> float:
        """µP's ``m = d / d_0`` (1 under SP)."""
        return self.width / self.base_width if self.mup else 1.0

    @property
    def attn_scale(self) -> float:
        """``τ``: ``1/√d_h`` (SP) or ``√(d_{h,0})/d_h`` (µP)."""
        if self.mup:
            return math.sqrt(self.base_width // self.heads) / self.head_dim
        return 1.0 / math.sqrt(self.head_dim)

    @property
    def readout_mult(self) -> float:
        """``m_out``: 1 (SP) or ``d_0/d`` (µP)."""
        return 1.0 / self.width_mult


# --------------------------------------------------------------------------- parameters


def _trunc(key, shape, std):
    """Normal truncated at ±2σ, rescaled so its standard deviation is ``std``."""
    return std / TRUNC * jax.random.truncated_normal(key, -2.0, 2.0, shape)


def init_params(key: jax.Array, cfg: Config) -> dict:
    """The paper's initialisation: matrices ``N_trunc(0, 1/fan_in)``, embeddings ``N(0, 1)``, gains 1."""
    d, f, dh = cfg.width, cfg.mlp_ratio * cfg.width, cfg.head_dim
    keys = iter(jax.random.split(key, 3 + 6 * cfg.depth))
    params = {"embed": jax.random.normal(next(keys), (cfg.vocab, d))}
    pos_key = next(keys)
    if cfg.positions == "learned":
        params["pos"] = jax.random.normal(pos_key, (cfg.context, d))
    blocks = []
    for _ in range(cfg.depth):
        blocks.append({
            "ln1": jnp.ones(d), "q_norm": jnp.ones(dh), "k_norm": jnp.ones(dh), "ln2": jnp.ones(d),
            "wq": _trunc(next(keys), (d, d), d ** -0.5), "wk": _trunc(next(keys), (d, d), d ** -0.5),
            "wv": _trunc(next(keys), (d, d), d ** -0.5), "wo": _trunc(next(keys), (d, d), d ** -0.5),
            "w1": _trunc(next(keys), (d, f), d ** -0.5), "w2": _trunc(next(keys), (f, d), f ** -0.5),
        })
    params["blocks"] = blocks
    params["ln_f"] = jnp.ones(d)
    params["unembed"] = _trunc(next(keys), (d, cfg.vocab), d ** -0.5)
    return params


def mup_lr_scale(params: dict, base_width: int) -> dict:
    """Per-parameter learning-rate multipliers: ``d_0/d`` for the hidden matrices, 1 otherwise
    (``base_width = 0``: SP, all 1). ``d`` is read from the embedding's shape.

    >>> p = init_params(jax.random.key(0), Config(width=64, depth=1))
    >>> s = mup_lr_scale(p, 32)
    >>> s["blocks"][0]["wq"], s["blocks"][0]["w2"], s["embed"], s["unembed"]
    (0.5, 0.5, 1.0, 1.0)
    """
    width = params["embed"].shape[1]

    def one(path, _):
        name = getattr(path[-1], "key", None)
        return base_width / width if base_width and name in HIDDEN else 1.0

    return jax.tree_util.tree_map_with_path(one, params)


# --------------------------------------------------------------------------- forward pass


def layer_norm(x: jax.Array, gain: jax.Array) -> jax.Array:
    """``(x − mean) / √(var + ε) · gain`` over the last axis (no bias)."""
    mu = jnp.mean(x, -1, keepdims=True)
    var = jnp.mean(jnp.square(x - mu), -1, keepdims=True)
    return (x - mu) * jax.lax.rsqrt(var + LN_EPS) * gain


def rope(x: jax.Array) -> jax.Array:
    """Rotary position embedding of ``x (..., L, H, d_h)``: pairs ``(x_{2i}, x_{2i+1})`` at position
    ``p`` rotated by ``p · 10000^{−2i/d_h}``."""
    L, dh = x.shape[-3], x.shape[-1]
    freq = 10000.0 ** (-jnp.arange(0, dh, 2, dtype=x.dtype) / dh)
    ang = jnp.arange(L, dtype=x.dtype)[:, None] * freq[None, :]          # (L, dh/2)
    cos, sin = jnp.cos(ang)[:, None, :], jnp.sin(ang)[:, None, :]        # (L, 1, dh/2)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return jnp.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1).reshape(x.shape)


def _select(flag, on, off_fn):
    """``on`` where ``flag`` (a Python bool: static; a traced number: ``flag > 0.5``)."""
    if isinstance(flag, (bool, np.bool_)):
        return on() if flag else off_fn()
    return jnp.where(jnp.asarray(flag) > 0.5, on(), off_fn())


def attention(blk: dict, u: jax.Array, cfg: Config, qk_layernorm) -> tuple[jax.Array, jax.Array]:
    """Causal multi-head attention of ``u (B, L, d)``; returns the output and the largest attention
    logit over causal pairs, heads and examples."""
    B, L, _ = u.shape
    H, dh = cfg.heads, cfg.head_dim
    q = (u @ blk["wq"]).reshape(B, L, H, dh)
    k = (u @ blk["wk"]).reshape(B, L, H, dh)
    v = (u @ blk["wv"]).reshape(B, L, H, dh)
    q = _select(qk_layernorm, lambda: layer_norm(q, blk["q_norm"]), lambda: q)
    k = _select(qk_layernorm, lambda: layer_norm(k, blk["k_norm"]), lambda: k)
    if cfg.positions == "rope":
        q, k = rope(q), rope(k)
    s = jnp.einsum("bqhd,bkhd->bhqk", q, k) * cfg.attn_scale
    causal = jnp.tril(jnp.ones((L, L), bool))
    smax = jnp.max(jnp.where(causal, s, -jnp.inf))
    a = jax.nn.softmax(jnp.where(causal, s, jnp.finfo(s.dtype).min), axis=-1)
    o = jnp.einsum("bhqk,bkhd->bqhd", a, v).reshape(B, L, cfg.width)
    return o @ blk["wo"], smax


def forward(params: dict, tokens: jax.Array, cfg: Config, qk_layernorm=None) -> tuple[jax.Array, list]:
    """Logits ``z (B, L, V)`` of the next token at every position, and each layer's largest attention
    logit. ``qk_layernorm``: default ``cfg.qk_layernorm``; a traced 0/1 selects per configuration."""
    qk = cfg.qk_layernorm if qk_layernorm is None else qk_layernorm
    L = tokens.shape[-1]
    h = params["embed"][tokens]
    if cfg.positions == "learned":
        h = h + params["pos"][:L]
    maxima = []
    for blk in params["blocks"]:
        o, smax = attention(blk, layer_norm(h, blk["ln1"]), cfg, qk)
        h = h + o
        h = h + jax.nn.gelu(layer_norm(h, blk["ln2"]) @ blk["w1"]) @ blk["w2"]
        maxima.append(smax)
    z = (layer_norm(h, params["ln_f"]) @ params["unembed"]) * cfg.readout_mult
    return z, maxima


# --------------------------------------------------------------------------- losses and metrics


class Sums(NamedTuple):
    """Masked sums over the predicted positions of a batch."""

    ce: jax.Array       # Σ m·(log Z − z_y)
    logz: jax.Array     # Σ m·log Z
    logz2: jax.Array    # Σ m·(log Z)²
    count: jax.Array    # Σ m
    attn: jax.Array     # (depth,) largest attention logits


def sums(params: dict, batch, cfg: Config, qk_layernorm=None) -> Sums:
    """:class:`Sums` of ``batch = (windows (B, L+1) int, mask (B, L))``."""
    windows, mask = batch
    x, y = windows[:, :-1], windows[:, 1:]
    z, maxima = forward(params, x, cfg, qk_layernorm)
    logz = jax.nn.logsumexp(z, axis=-1)
    zy = jnp.take_along_axis(z, y[..., None], axis=-1)[..., 0]
    m = mask.astype(z.dtype)
    return Sums(jnp.sum(m * (logz - zy)), jnp.sum(m * logz), jnp.sum(m * logz ** 2), jnp.sum(m), jnp.stack(maxima))


def chunked_sums(params: dict, batch, cfg: Config, qk_layernorm=None, chunk: int = 128) -> Sums:
    """:func:`sums` of a batch of any size, ``chunk`` windows at a time (``lax.map``; zero-mask padding),
    so that a whole-data evaluation holds one chunk's activations."""
    windows, mask = batch
    n = windows.shape[0]
    if n <= chunk:
        return sums(params, batch, cfg, qk_layernorm)
    k = -(-n // chunk)
    pad = k * chunk - n
    w = jnp.concatenate([windows, jnp.repeat(windows[:1], pad, 0)]).reshape(k, chunk, -1)
    m = jnp.concatenate([mask, jnp.zeros((pad,) + mask.shape[1:], mask.dtype)]).reshape(k, chunk, -1)
    parts = jax.lax.map(lambda b: sums(params, b, cfg, qk_layernorm), (w, m))
    return Sums(*(jnp.sum(a, 0) for a in parts[:4]), jnp.max(parts.attn, 0))


def objective(s: Sums, z_loss) -> jax.Array:
    """Mean over predicted tokens of cross-entropy ``+ c_z (log Z)²``."""
    return (s.ce + z_loss * s.logz2) / s.count


def make_loss(cfg: Config):
    """``loss(params, batch, *, qk_layernorm, z_loss)``: the training objective (:func:`objective`)."""
    def loss(params, batch, *, qk_layernorm=cfg.qk_layernorm, z_loss=cfg.z_loss):
        return objective(chunked_sums(params, batch, cfg, qk_layernorm), z_loss)
    return loss


def make_metrics(cfg: Config, examples: int = 256) -> dict:
    """``ce``, ``logz``, ``attn_logit_<l>``, ``grad_rms`` on the first ``examples`` windows of a batch."""
    def head(batch):
        return jax.tree.map(lambda a: a[:examples], batch)

    def ce(params, batch, *, qk_layernorm=cfg.qk_layernorm):
        s = chunked_sums(params, head(batch), cfg, qk_layernorm)
        return s.ce / s.count

    def logz(params, batch, *, qk_layernorm=cfg.qk_layernorm):
        s = chunked_sums(params, head(batch), cfg, qk_layernorm)
        return s.logz / s.count

    def attn(layer):
        def fn(params, batch, *, qk_layernorm=cfg.qk_layernorm):
            return chunked_sums(params, head(batch), cfg, qk_layernorm).attn[layer]
        return fn

    def grad_rms(params, batch, *, qk_layernorm=cfg.qk_layernorm, z_loss=cfg.z_loss):
        g = jax.grad(lambda p: objective(chunked_sums(p, head(batch), cfg, qk_layernorm), z_loss))(params)
        leaves = jax.tree.leaves(g)
        return jnp.sqrt(sum(jnp.sum(x ** 2) for x in leaves) / sum(x.size for x in leaves))

    out = {"ce": ce, "logz": logz}
    out.update({f"attn_logit_{l}": attn(l) for l in range(cfg.depth)})
    out["grad_rms"] = grad_rms
    return out


# --------------------------------------------------------------------------- optimizer


def paper_lr(count, peak, warmup_steps, total_steps: int, min_lr):
    """Linear warm-up to ``peak`` over ``warmup_steps`` updates (update ``t`` uses ``(t+1)/warmup``),
    then cosine decay to ``min_lr`` at update ``total_steps`` (``total_steps = 0``: constant)."""
    t = jnp.asarray(count, jnp.float32)
    w = jnp.asarray(warmup_steps, jnp.float32)
    warm = jnp.where(w > 0, jnp.minimum(1.0, (t + 1.0) / jnp.maximum(w, 1.0)), 1.0)
    if not total_steps:
        return peak * warm
    progress = jnp.clip((t - w) / jnp.maximum(total_steps - w, 1.0), 0.0, 1.0)
    decayed = min_lr + (peak - min_lr) * 0.5 * (1.0 + jnp.cos(jnp.pi * progress))
    return jnp.where(t < w, peak * warm, decayed)


def adamw(learning_rate, b1=0.9, b2=0.95, eps=1e-8, weight_decay=1e-4, clip=1.0, warmup_steps=0,
          total_steps=0, min_lr=1e-5, mup_base_width=0) -> optax.GradientTransformation:
    r"""The paper's AdamW: ``g ← clip(g, 1)``; ``u = adam(g)`` (scaled by :func:`mup_lr_scale` when
    ``mup_base_width > 0``); ``θ ← θ − η_t u − λ (η_t/η) θ`` with ``η_t`` :func:`paper_lr` of the peak
    ``η = learning_rate(count)`` (lrsweep passes the learning rate as a schedule; leave lrsweep's own
    ``schedule`` unset, the warm-up and decay are here). ``clip = 0``: no clipping."""
    def init(params):
        return optax.ScaleByScheduleState(count=jnp.zeros([], jnp.int32))

    def update(updates, state, params):
        peak = learning_rate(state.count) if callable(learning_rate) else learning_rate
        lr = paper_lr(state.count, peak, warmup_steps, total_steps, min_lr)
        frac = lr / peak
        if mup_base_width:
            updates = jax.tree.map(lambda u, s: u * s, updates, mup_lr_scale(params, mup_base_width))
        updates = jax.tree.map(lambda u, p: -lr * u - weight_decay * frac * p, updates, params)
        return updates, optax.ScaleByScheduleState(count=optax.safe_int32_increment(state.count))

    parts = [optax.clip_by_global_norm(clip)] if clip else []
    parts += [optax.scale_by_adam(b1=b1, b2=b2, eps=eps), optax.GradientTransformation(init, update)]
    return optax.chain(*parts)


# --------------------------------------------------------------------------- problems


def make_problem(task: str = "lm", *, width: int = 64, depth: int = 2, heads: int = 4, context: int = 32,
                 batch_size: int = 8, n_train: int = 512, n_valid: int = 128, positions: str = "learned",
                 qk_layernorm: bool = True, z_loss: float = 1e-4, mup: bool = False, base_width: int = 32,
                 data_seed: int = 0, copy_vocab: int = 16, metric_examples: int = 128, name: str | None = None):
    """The transformer as an :class:`lrsweep.Problem`.

    ``task="lm"``: byte-level language modelling of the stdlib-docstring corpus
    (:mod:`lrsweep.corpus`): ``n_train`` training and ``n_valid`` validation windows of ``context + 1``
    bytes; every position is predicted. ``task="copy"``: :func:`lrsweep.corpus.copy_task` with
    ``k = (context − 1) // 2`` tokens of a ``copy_vocab``-token alphabet; only the copy is predicted.
    ``data`` is ``(windows, mask)``; ``init`` draws the parameters from the run's key.
    """
    from lrsweep.problem import Problem

    if task == "lm":
        cfg = Config(width=width, depth=depth, heads=heads, context=context, positions=positions,
                     qk_layernorm=qk_layernorm, z_loss=z_loss, mup=mup, base_width=base_width)
        train, valid = _corpus.load(context, n_train, n_valid, seed=data_seed)
        ones = lambda w: np.ones((w.shape[0], context), np.float32)  # noqa: E731
        data, eval_data = (train, ones(train)), (valid, ones(valid))
    elif task == "copy":
        k = (context - 1) // 2
        cfg = Config(width=width, depth=depth, heads=heads, context=2 * k + 1, vocab=copy_vocab,
                     positions=positions, qk_layernorm=qk_layernorm, z_loss=z_loss, mup=mup, base_width=base_width)
        data = _corpus.copy_task(n_train, k, copy_vocab, seed=data_seed)
        eval_data = _corpus.copy_task(n_valid, k, copy_vocab, seed=data_seed + 1)
    else:
        raise ValueError(f"task: expected 'lm' or 'copy', found {task!r}")
    label = name or (f"transformer-{task}-d{width}x{depth}-h{heads}-L{cfg.context}-{positions}"
                     f"{'-mup' + str(base_width) if mup else ''}")
    return Problem(loss=make_loss(cfg), init=functools.partial(init_params, cfg=cfg), data=data,
                   batch_size=batch_size, eval_data=eval_data, metrics=make_metrics(cfg, metric_examples),
                   name=label)


# Named variants for sweep files (``loss = "lrsweep.transformer:lm_w64"``): functions of no arguments.
def lm_w32():
    """LM, width 32, depth 2, 4 heads, context 32, batch 8, SP."""
    return make_problem(width=32)


def lm_w64():
    """LM, width 64, depth 2, 4 heads, context 32, batch 8, SP."""
    return make_problem(width=64)


def lm_w96():
    """LM, width 96, depth 2, 4 heads, context 32, batch 8, SP."""
    return make_problem(width=96)


def lm_w128():
    """LM, width 128, depth 2, 4 heads, context 32, batch 8, SP."""
    return make_problem(width=128)


def lm_mup_w32():
    """LM, width 32, µP with base width 32 (identical to :func:`lm_w32`'s model)."""
    return make_problem(width=32, mup=True, base_width=32)


def lm_mup_w64():
    """LM, width 64, µP with base width 32."""
    return make_problem(width=64, mup=True, base_width=32)


def lm_mup_w96():
    """LM, width 96, µP with base width 32."""
    return make_problem(width=96, mup=True, base_width=32)


def lm_mup_w128():
    """LM, width 128, µP with base width 32."""
    return make_problem(width=128, mup=True, base_width=32)


def copy_w32():
    """Copying task (8 tokens of a 16-token alphabet, context 17), width 32, depth 2, SP."""
    return make_problem("copy", width=32, context=17)
