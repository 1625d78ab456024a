"""Tests for lrsweep.losses: values, minima, Hessian spectra, tracing, resolution."""

from __future__ import annotations

import math
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lrsweep import losses
from lrsweep._types import Loss
from lrsweep.losses import (
    LOSSES,
    cubic,
    describe_losses,
    mlp,
    plateau,
    quadratic,
    resolve_loss,
    rosenbrock,
    user_loss,
)

RTOL = 1e-5


# One small MLP shape shared by the tests, so eager ops compile once.
SMALL = dict(width=4, n_inputs=3, n_data=5)


def hessian_spectrum(loss: Loss, x) -> np.ndarray:
    return np.asarray(jax.jit(lambda x: jnp.linalg.eigvalsh(jax.hessian(loss.fn)(x)))(
        jnp.asarray(x)))


def plateau_argmin(activation, sharpness, target, dim):
    """x* = sigma^{-1}(t) / k, with sigma^{-1} the logit or arctanh."""
    inverse = math.log(target / (1 - target)) if activation == "sigmoid" else math.atanh(target)
    return jnp.full(dim, inverse / sharpness)


# ------------------------------------------------------------------ values and minima


def test_public_surface():
    """The registry holds the six built-ins, each with a frozenset of static params."""
    assert set(LOSSES) == {"quadratic", "rosenbrock", "cubic", "plateau", "mlp", "fractal_mlp"}
    for name, factory in LOSSES.items():
        assert isinstance(factory.static, frozenset), name
        assert factory.static <= set(describe_losses()[name]), name
    assert set(losses.__all__) >= {"LOSSES", "user_loss", "resolve_loss", "describe_losses"}


def test_quadratic_value_and_minimum():
    """f(x) = 1/2 s sum c_i x_i^2: at x = (1, 2), c = (1, 10), s = 2 that is 41; f(0) = 0."""
    loss = quadratic(curvatures=[1.0, 10.0], curvature_scale=2.0)
    assert loss.dim == 2 and loss.init is None
    np.testing.assert_allclose(loss.fn(jnp.array([1.0, 2.0])), 41.0, rtol=RTOL)
    assert float(loss.fn(jnp.zeros(2))) == loss.minimum == 0.0


def test_quadratic_matrix_value():
    """f(x) = 1/2 s x^T H x with a full H: [[2, 1], [1, 3]] at (1, -1) gives 1/2 * 3 = 1.5."""
    loss = quadratic(matrix=[[2.0, 1.0], [1.0, 3.0]])
    np.testing.assert_allclose(loss.fn(jnp.array([1.0, -1.0])), 1.5, rtol=RTOL)
    assert float(loss.fn(jnp.zeros(2))) == loss.minimum


def test_rosenbrock_value_and_minimum():
    """f(x, y) = (a - x)^2 + b (y - x^2)^2: f(0, 0) = a^2 and f(a, a^2) = 0."""
    loss = rosenbrock(a=2.0, b=10.0)
    np.testing.assert_allclose(loss.fn(jnp.array([0.0, 0.0])), 4.0, rtol=RTOL)
    np.testing.assert_allclose(loss.fn(jnp.array([1.0, 0.0])), 1.0 + 10.0, rtol=RTOL)
    assert float(loss.fn(jnp.array([2.0, 4.0]))) == loss.minimum == 0.0


def test_cubic_value_and_no_minimum():
    """f(x) = c sum x_i^3 is unbounded below: minimum is None; f(1, 2) = 9c."""
    loss = cubic(coefficient=0.5, dim=2)
    np.testing.assert_allclose(loss.fn(jnp.array([1.0, 2.0])), 4.5, rtol=RTOL)
    assert loss.minimum is None
    assert float(loss.fn(jnp.array([-10.0, 0.0]))) < -100


@pytest.mark.parametrize("activation, target", [("sigmoid", 0.3), ("tanh", -0.6)])
def test_plateau_value_and_minimum(activation, target):
    """f = 1/2 sum (sigma(k x) - t)^2 vanishes at x* = sigma^{-1}(t)/k; at x = 0 it is
    1/2 d (sigma(0) - t)^2; far away (x = -6/k) the gradient is tiny (the plateau)."""
    k, dim = 2.0, 3
    loss = plateau(activation=activation, sharpness=k, target=target, dim=dim)
    x_star = plateau_argmin(activation, k, target, dim)
    np.testing.assert_allclose(loss.fn(x_star), loss.minimum, atol=1e-12)
    sigma0 = 0.5 if activation == "sigmoid" else 0.0
    np.testing.assert_allclose(loss.fn(jnp.zeros(dim)), 0.5 * dim * (sigma0 - target) ** 2,
                               rtol=RTOL)
    if activation == "sigmoid":
        far = jnp.full(dim, -6.0 / k)
        assert float(jnp.max(jnp.abs(jax.grad(loss.fn)(far)))) < 0.01


def _mlp_structure(**kw):
    """(loss, student params as ShapeDtypeStructs), traced only: nothing is compiled."""
    found = []

    def build():
        loss = mlp(**kw)
        found.append(loss)
        return loss.init(jax.random.key(0), jnp.float32(1.0))

    shapes = jax.eval_shape(build)
    return found[0], shapes


def test_mlp_structure():
    """Student params are layer0..layer{depth}: (fan_in, fan_out) weights, (fan_out,)
    biases, in the dtype of init's `scale`; no Hessian or dim for a pytree loss."""
    loss, params = _mlp_structure(depth=2, **SMALL)
    shapes = {name: (p["w"].shape, p["b"].shape) for name, p in params.items()}
    assert shapes == {"layer0": ((3, 4), (4,)), "layer1": ((4, 4), (4,)),
                      "layer2": ((4, 1), (1,))}
    assert loss.minimum == 0.0 and loss.hessian_eigenvalues is None and loss.dim is None
    bf16 = jax.eval_shape(lambda: mlp(**SMALL).init(jax.random.key(0), jnp.bfloat16(1.0)))
    assert {leaf.dtype for leaf in jax.tree.leaves(bf16)} == {jnp.dtype(jnp.bfloat16)}


def test_mlp_realizability_sets_minimum():
    """A teacher no wider than the student is realizable (minimum 0); a wider one is not
    (minimum None, unknown), except for a linear net or depth 0, which always are."""
    def minimum(**kw):
        return _mlp_structure(n_inputs=3, n_data=5, **kw)[0].minimum

    assert minimum(width=8, teacher_width=2) == 0.0
    assert minimum(width=2, teacher_width=8) is None
    assert minimum(width=2, teacher_width=8, activation="linear") == 0.0
    assert minimum(width=2, teacher_width=8, depth=0) == 0.0


def test_mlp_values():
    """One compiled program checks: the MSE at init is > 0; the student set to the
    teacher's weights (drawn from the second half of split(key(data_seed))) is at the
    minimum 0; biases start at zero; the data depend only on data_seed (same seed, same
    loss; another seed, another loss); init is linear in `scale` with weight std
    init_scale * scale / sqrt(fan_in)."""
    @jax.jit
    def evaluate(key):
        loss = mlp(data_seed=3, init_scale=2.0, **SMALL)
        params = loss.init(key, jnp.float32(1.0))
        teacher = losses._mlp_weights(jax.random.split(jax.random.key(3))[1], [3, 4, 1],
                                      jnp.float32, 1.0)
        big = mlp(width=64, n_inputs=32, n_data=1, init_scale=2.0).init
        return dict(
            at_init=loss.fn(params),
            at_teacher=loss.fn(teacher),
            biases=jnp.stack([jnp.abs(p["b"]).max() for p in params.values()]),
            same_seed=mlp(data_seed=3, **SMALL).fn(params),
            other_seed=mlp(data_seed=4, **SMALL).fn(params),
            w1=big(key, jnp.float32(1.0))["layer0"]["w"],
            w2=big(key, jnp.float32(2.0))["layer0"]["w"],
        )

    out = evaluate(jax.random.key(0))
    assert float(out["at_init"]) > 0.0
    assert float(out["at_teacher"]) == 0.0
    assert float(out["biases"].max()) == 0.0
    assert float(out["same_seed"]) == float(out["at_init"]) != float(out["other_seed"])
    np.testing.assert_allclose(out["w2"], 2 * out["w1"], rtol=RTOL)
    assert abs(float(np.std(out["w1"])) - 2.0 / math.sqrt(32)) < 0.05


def test_mlp_activations_finite():
    """Every activation gives a finite loss and a finite gradient at init."""
    @jax.jit
    def value_and_grad(key):
        out = {}
        for activation in ("tanh", "relu", "sigmoid", "linear"):
            loss = mlp(depth=2, activation=activation, **SMALL)
            out[activation] = jax.value_and_grad(loss.fn)(loss.init(key, jnp.float32(1.0)))
        return out

    for activation, leaves in value_and_grad(jax.random.key(0)).items():
        assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(leaves)), activation

# ------------------------------------------------------------------ Hessian spectra


@pytest.mark.parametrize("loss, x_min", [
    (quadratic(curvatures=[3.0, 0.5, 2.0], curvature_scale=1.5), jnp.zeros(3)),
    (quadratic(matrix=[[2.0, 1.0, 0.0], [1.0, 3.0, 0.5], [0.0, 0.5, 1.0]],
               curvature_scale=0.7), jnp.zeros(3)),
    (quadratic(condition_number=10.0, dim=4, curvature_scale=2.0), jnp.zeros(4)),
    (rosenbrock(), jnp.array([1.0, 1.0])),
    (rosenbrock(a=-0.5, b=3.0), jnp.array([-0.5, 0.25])),
    (plateau(activation="sigmoid", sharpness=3.0, target=0.2, dim=2),
     plateau_argmin("sigmoid", 3.0, 0.2, 2)),
    (plateau(activation="tanh", sharpness=0.5, target=0.4, dim=3),
     plateau_argmin("tanh", 0.5, 0.4, 3)),
    (cubic(coefficient=2.0, dim=3), jnp.zeros(3)),
], ids=["quadratic-diag", "quadratic-matrix", "quadratic-kappa", "rosenbrock",
        "rosenbrock-ab", "plateau-sigmoid", "plateau-tanh", "cubic"])
def test_hessian_eigenvalues_match_autodiff(loss, x_min):
    """hessian_eigenvalues equal eigvalsh(jax.hessian(fn)(x_min)), ascending: the exact
    Hessian at the minimum (for the cubic: at the stationary point 0, where it is 0)."""
    expected = hessian_spectrum(loss, x_min)
    got = np.asarray(loss.hessian_eigenvalues)
    assert np.all(np.diff(got) >= 0)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * max(1, abs(got).max()))


def test_rosenbrock_closed_form_is_stable():
    """The closed form keeps lambda_min accurate at large b: lambda_min * lambda_max =
    det = 4b and lambda_min + lambda_max = trace = 2 + 8ba^2 + 2b."""
    a, b = 1.0, 1e4
    lam_min, lam_max = (float(v) for v in rosenbrock(a=a, b=b).hessian_eigenvalues)
    np.testing.assert_allclose(lam_min * lam_max, 4 * b, rtol=1e-6)
    np.testing.assert_allclose(lam_min + lam_max, 2 + 8 * b * a**2 + 2 * b, rtol=1e-6)


@pytest.mark.parametrize("kappa, dim", [(10.0, 2), (1e3, 5), (1.0, 1)])
def test_quadratic_condition_number(kappa, dim):
    """Curvatures log-spaced from 1 to kappa: lambda_min = s, lambda_max = kappa s, so
    lambda_max / lambda_min = kappa and the critical GD rate is 2 / (kappa s)."""
    s = 0.25
    eig = np.asarray(quadratic(condition_number=kappa, dim=dim,
                               curvature_scale=s).hessian_eigenvalues)
    assert eig.shape == (dim,)
    np.testing.assert_allclose([eig[0], eig[-1], eig[-1] / eig[0]], [s, kappa * s, kappa],
                               rtol=1e-5)
    np.testing.assert_allclose(np.diff(np.log(eig)), math.log(kappa) / max(dim - 1, 1),
                               rtol=1e-4, atol=1e-6)


def test_quadratic_gd_critical_rate():
    """GD on the quadratic converges just below 2/lambda_max and diverges just above."""
    loss = quadratic(curvatures=[1.0, 4.0], curvature_scale=2.0)
    eta_c = 2 / float(loss.hessian_eigenvalues[-1])

    @jax.jit
    def run(eta):
        x = jax.lax.fori_loop(0, 200, lambda _, x: x - eta * jax.grad(loss.fn)(x), jnp.ones(2))
        return loss.fn(x)

    assert float(run(0.95 * eta_c)) < 1e-3
    assert float(run(1.05 * eta_c)) > 1e3


# ------------------------------------------------------------------ tracing


def _swept(make, values):
    return jax.jit(jax.vmap(make))(jnp.asarray(values))


@pytest.mark.parametrize("name, make, values", [
    ("curvature_scale",
     lambda s: quadratic(curvatures=[1.0, 10.0], curvature_scale=s), [0.5, 2.0, 3.0]),
    ("curvature_scale-matrix",
     lambda s: quadratic(matrix=[[2.0, 1.0], [1.0, 3.0]], curvature_scale=s), [0.5, 2.0]),
    ("b", lambda b: rosenbrock(b=b), [1.0, 100.0]),
    ("a", lambda a: rosenbrock(a=a), [-1.0, 2.0]),
    ("sharpness", lambda k: plateau(sharpness=k, target=0.3, dim=2), [0.5, 4.0]),
    ("target", lambda t: plateau(activation="tanh", target=t, dim=2), [-0.5, 0.5]),
    ("coefficient", lambda c: cubic(coefficient=c, dim=2), [-1.0, 3.0]),
])
def test_vector_losses_trace_under_jit_vmap(name, make, values):
    """A swept scalar reaches the factory as a tracer inside jit(vmap(...)); the value,
    the gradient and the Hessian eigenvalues equal the concrete call's."""
    x = jnp.array([0.3, -0.7])

    def evaluate(v):
        loss = make(v)
        return loss.fn(x), jax.grad(loss.fn)(x), loss.hessian_eigenvalues

    traced = _swept(evaluate, values)
    for i, v in enumerate(values):
        concrete = evaluate(v)
        for t, c in zip(traced, concrete):
            np.testing.assert_allclose(t[i], c, rtol=1e-5, atol=1e-6)


def test_mlp_traces_under_jit_vmap():
    """A configuration vector (data_seed, input_scale, init_scale) swept as tracers under
    jit(vmap(...)) gives the concrete calls' losses: the data drawn from a traced seed
    (float-valued, acting as its integer) and scale, and init from a traced init_scale."""
    key = jax.random.key(0)
    configs = [(0.0, 1.0, 1.0), (1.0, 1.0, 1.0), (5.0, 0.5, 2.0), (5.0, 2.0, 0.5)]

    def evaluate(seed, input_scale, init_scale):
        loss = mlp(data_seed=seed, input_scale=input_scale, init_scale=init_scale, **SMALL)
        return loss.fn(loss.init(key, jnp.float32(1.0)))

    traced = jax.jit(jax.vmap(evaluate))(*jnp.asarray(configs).T)
    concrete = jax.jit(lambda: jnp.stack(
        [evaluate(int(seed), a, b) for seed, a, b in configs]))()
    np.testing.assert_allclose(traced, concrete, rtol=1e-5)
    assert len(set(np.asarray(traced).tolist())) == len(configs)


def test_strict_promotion_and_x64():
    """Under strict dtype promotion and rank-promotion errors, in float64 mode, the
    losses trace and follow the params' dtype (float32 params stay float32). Promotion
    errors surface at trace time, so tracing (eval_shape) is enough."""
    with jax.enable_x64(True), jax.numpy_dtype_promotion("strict"), \
            jax.numpy_rank_promotion("raise"):
        for dtype in (jnp.float32, jnp.float64):
            x = jnp.array([0.3, -0.7], dtype)
            s = jnp.array([1.0, 2.0], dtype)
            for make in (lambda v: quadratic(curvatures=[1.0, 2.0], curvature_scale=v),
                         lambda v: quadratic(matrix=[[1.0, 0.0], [0.0, 2.0]],
                                             curvature_scale=v),
                         lambda v: quadratic(condition_number=10.0, dim=2,
                                             curvature_scale=v),
                         lambda v: rosenbrock(b=v), lambda v: plateau(sharpness=v, dim=2),
                         lambda v: cubic(coefficient=v, dim=2)):
                grad = jax.eval_shape(jax.vmap(lambda v: jax.grad(make(v).fn)(x)), s)
                eig = jax.eval_shape(jax.vmap(lambda v: make(v).hessian_eigenvalues), s)
                assert grad.dtype == eig.dtype == dtype

            def mlp_grad(v):
                loss = mlp(input_scale=v, init_scale=v, data_seed=v, **SMALL)
                return jax.grad(loss.fn)(loss.init(jax.random.key(0), v))

            grads = jax.eval_shape(jax.vmap(mlp_grad), s)
            assert {g.dtype for g in jax.tree.leaves(grads)} == {jnp.dtype(dtype)}


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize("call, match", [
    (lambda: quadratic(curvatures=[1.0], curvature_scale=-1.0), r"curvature_scale=-1\.0"),
    (lambda: quadratic(curvatures=[1.0], curvature_scale=jnp.float32(0.0)),
     "curvature_scale=.*must be > 0"),
    (lambda: quadratic(), "exactly one of"),
    (lambda: quadratic(curvatures=[1.0], matrix=[[1.0]]), "exactly one of"),
    (lambda: quadratic(curvatures=[1.0, -2.0]), "curvatures=.*must be >= 0"),
    (lambda: quadratic(curvatures=[]), "curvatures must be a non-empty"),
    (lambda: quadratic(curvatures=[1.0, 2.0], dim=3), "dim=3 does not match"),
    (lambda: quadratic(matrix=[[1.0, 2.0], [0.0, 1.0]]), "matrix must be symmetric"),
    (lambda: quadratic(matrix=[1.0, 2.0]), "matrix must be square"),
    (lambda: quadratic(matrix=[[1.0, 2.0], [2.0, 1.0]]), "positive semi-definite"),
    (lambda: quadratic(condition_number=10.0), "needs dim"),
    (lambda: quadratic(condition_number=0.5, dim=3),
     r"condition_number=0\.5 must be a number >= 1"),
    (lambda: quadratic(matrix=[[1.0, 2.0], [3.0]]), "matrix=.* is not a numeric array"),
    (lambda: quadratic(condition_number=10.0, dim=1), "needs dim >= 2"),
    (lambda: rosenbrock(b=-1.0), r"rosenbrock: b=-1\.0 must be >= 0"),
    (lambda: cubic(dim=0), "cubic: dim=0"),
    (lambda: plateau(target=1.5), r"plateau: target=1\.5 must be in \(0, 1\)"),
    (lambda: plateau(activation="tanh", target=-1.0), r"target=-1\.0 must be in \(-1, 1\)"),
    (lambda: plateau(sharpness=0.0), r"sharpness=0\.0 must be > 0"),
    (lambda: plateau(activation="relu"), "plateau: activation='relu' must be one of"),
    (lambda: mlp(activation="swish"), "mlp: activation='swish' must be one of"),
    (lambda: mlp(width=0), "mlp: width=0"),
    (lambda: mlp(depth=-1), "mlp: depth=-1"),
    (lambda: mlp(width=2.5), r"mlp: width=2\.5"),
    (lambda: mlp(data_seed=-1), "mlp: data_seed=-1"),
    (lambda: mlp(data_seed=1.5), r"mlp: data_seed=1\.5"),
    (lambda: mlp(input_scale=0.0), r"mlp: input_scale=0\.0 must be > 0"),
    (lambda: mlp(init_scale=-1.0), r"mlp: init_scale=-1\.0 must be >= 0"),
])
def test_bad_concrete_values_raise(call, match):
    """A bad concrete argument raises ValueError naming the argument and its value."""
    with pytest.raises(ValueError, match=match):
        call()


def test_structural_values_checked_inside_jit():
    """Structural arguments are concrete even inside jit, so they are still checked
    there; a traced structural argument is refused by name."""
    with pytest.raises(ValueError, match="curvatures=.*must be >= 0"):
        jax.jit(lambda: quadratic(curvatures=[1.0, -1.0]).fn(jnp.ones(2))).lower()
    with pytest.raises(ValueError, match="matrix must be symmetric"):
        jax.jit(lambda: quadratic(matrix=[[1.0, 1.0], [0.0, 1.0]]).fn(jnp.ones(2))).lower()
    with pytest.raises(ValueError, match="curvatures is structural"):
        jax.jit(lambda c: quadratic(curvatures=c).fn(jnp.ones(2))).lower(jnp.ones(2))
    with pytest.raises(ValueError, match=r"curvature_scale=-1\.0"):
        jax.jit(lambda: quadratic(curvatures=[1.0], curvature_scale=-1.0).fn(
            jnp.ones(1))).lower()


def test_traced_bad_values_do_not_raise():
    """Inside jit a swept value is not checked: failures are values, not exceptions."""
    out = jax.jit(lambda s: quadratic(curvatures=[1.0], curvature_scale=s).fn(jnp.ones(1)))(
        -1.0)
    assert float(out) == -0.5


def test_wrong_params_shape_raises():
    """A params vector of the wrong length is a shape error at trace time."""
    with pytest.raises(ValueError, match=r"params shape \(3,\) does not match dim=2"):
        quadratic(curvatures=[1.0, 2.0]).fn(jnp.ones(3))


# ------------------------------------------------------------------ user losses


def test_user_loss_wraps_function():
    """user_loss(fn)(**kw).fn(p) == fn(p, **kw); all its parameters are sweepable."""
    factory = user_loss(lambda p, w=1.0: w * jnp.sum(p**4), minimum=0.0)
    assert factory.static == frozenset()
    loss = factory(w=2.0)
    assert float(loss.fn(jnp.array([1.0, 2.0]))) == 34.0 and loss.minimum == 0.0
    traced = jax.jit(jax.vmap(lambda w: factory(w=w).fn(jnp.ones(2))))(jnp.array([1.0, 3.0]))
    assert traced.tolist() == [2.0, 6.0]


MODULE_SOURCE = '''
import jax.numpy as jnp
from lrsweep.losses import user_loss

def quartic(params, scale=1.0):
    return scale * jnp.sum(params**4)

wrapped = user_loss(quartic, minimum=0.0)
NOT_CALLABLE = 3
'''


def test_resolve_builtin():
    """A built-in name gives the registry's factory."""
    assert resolve_loss("mlp") is mlp


def test_resolve_module_function(tmp_path, monkeypatch):
    """'module:function': a plain function is wrapped with user_loss; a factory (with a
    `static` attribute) is returned as is."""
    (tmp_path / "my_losses_mod.py").write_text(MODULE_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    factory = resolve_loss("my_losses_mod:quartic")
    assert factory.static == frozenset()
    assert float(factory(scale=2.0).fn(jnp.ones(3))) == 6.0
    wrapped = resolve_loss("my_losses_mod:wrapped")
    assert wrapped(scale=1.0).minimum == 0.0


def test_resolve_file_path(tmp_path):
    """'path/to/file.py:function' loads the file without it being on sys.path."""
    path = tmp_path / "file_losses.py"
    path.write_text(MODULE_SOURCE)
    factory = resolve_loss(f"{path}:quartic")
    assert float(factory().fn(jnp.full(2, 2.0))) == 32.0


@pytest.mark.parametrize("name, match", [
    ("nope", r"unknown loss 'nope'; built-in losses are quadratic, rosenbrock, cubic, "
             r"plateau, mlp"),
    ("no_such_module_xyz:f", r"cannot import module 'no_such_module_xyz'.*"
                             r"No module named 'no_such_module_xyz'"),
    ("my_losses_mod:missing", r"module 'my_losses_mod' has no attribute 'missing'"),
    ("my_losses_mod:NOT_CALLABLE", r"'NOT_CALLABLE' is not callable \(got int\)"),
    ("my_losses_mod:", "expected 'package.module:function'"),
    ("", "non-empty string"),
    ("FILE:quartic", "cannot import file.*SyntaxError"),
    ("/no/such/file.py:f", "file '/no/such/file.py' does not exist"),
])
def test_resolve_errors(name, match, tmp_path, monkeypatch):
    """Each failure is one ValueError line naming what went wrong."""
    (tmp_path / "my_losses_mod.py").write_text(MODULE_SOURCE)
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_losses_mod", raising=False)
    with pytest.raises(ValueError, match=match) as info:
        resolve_loss(name.replace("FILE", str(broken)))
    assert "\n" not in str(info.value)


def test_describe_losses():
    """describe_losses lists every built-in's keyword parameters and defaults."""
    described = describe_losses()
    assert set(described) == set(LOSSES)
    assert described["quadratic"]["curvature_scale"] == 1.0
    assert described["plateau"] == {"activation": "sigmoid", "sharpness": 1.0,
                                    "target": 0.5, "dim": 1}
    assert described["mlp"]["teacher_width"] is None
