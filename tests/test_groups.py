"""One learning rate per parameter group (``learning_rate.<group>`` axes), through optax.multi_transform."""

import numpy as np
import pytest

import lrsweep
from lrsweep.config import SweepError
from lrsweep.engine import Program

TWO_GROUPS = '''
import jax.numpy as jnp
from lrsweep._types import Loss


def two_groups(*, la=1.0, lb=100.0):
    """f = ½(λa x² + λb y²) with params {"a": x, "b": y}: each group has its own curvature."""
    def fn(p):
        return 0.5 * (la * jnp.sum(p["a"] ** 2) + lb * jnp.sum(p["b"] ** 2))

    def init(key, scale):
        one = jnp.ones((1,), jnp.asarray(scale).dtype) * scale
        return {"a": one, "b": -one}

    return Loss(fn=fn, init=init, minimum=0.0, hessian_eigenvalues=None, dim=None)


two_groups.static = frozenset()
'''


@pytest.fixture
def two_groups(tmp_path, monkeypatch):
    (tmp_path / "twogroups.py").write_text(TWO_GROUPS)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "twogroups:two_groups"


def _spec(loss, axes, **extra):
    d = {"name": "groups", "steps": 200, "dtype": "float64", "loss": {"name": loss}, "axes": axes}
    d.update(extra)
    return lrsweep.from_dict(d)


def test_each_group_diverges_at_its_own_two_over_lambda(two_groups):
    """λa = 1, λb = 100: GD diverges iff η_a > 2/λa = 2 or η_b > 2/λb = 0.02, in one compiled program."""
    spec = _spec(two_groups, {"learning_rate.a": {"min": 0.5, "max": 8.0, "num": 12, "scale": "log"},
                              "learning_rate.b": {"min": 0.005, "max": 0.08, "num": 12, "scale": "log"}},
                 boundary={"axis": "learning_rate.a", "rtol": 1e-6})
    r = lrsweep.run(spec, progress=False, chunk_size=16)  # 144 configurations: several chunks
    assert r.manifest["compiles"] == 1
    t = r.table
    a, b = t["learning_rate.a"].to_numpy(), t["learning_rate.b"].to_numpy()
    expected = (a > 2.0) | (b > 0.02)
    assert (t["diverged"].to_numpy().astype(bool) == expected).all()
    # the refined boundary along η_a, in every slice where η_b alone is stable: 2/λa to 1e-3 once the
    # finite horizon is extrapolated away (asymptotic), within 5 % after 200 steps
    slices = r.boundary[r.boundary["learning_rate.b"] < 0.02]
    assert len(slices) > 0
    np.testing.assert_allclose(slices["critical_asymptotic"].to_numpy(), 2.0, rtol=1e-3)
    assert ((slices["critical"] > 2.0) & (slices["critical"] < 2.1)).all()
    # and along η_b, with η_a stable: 2/λb
    spec_b = _spec(two_groups, {"learning_rate.b": {"min": 0.005, "max": 0.08, "num": 12, "scale": "log"}},
                   optimizer={"name": "sgd", "learning_rate": 0.5}, boundary={"axis": "learning_rate.b", "rtol": 1e-6})
    rb = lrsweep.run(spec_b, progress=False)
    np.testing.assert_allclose(rb.boundary["critical_asymptotic"].to_numpy(), 0.02, rtol=1e-3)


def test_fixed_group_rates_and_a_common_rate(two_groups):
    """[optimizer] learning_rate.<group> fixes a group's rate; the others take the swept learning_rate."""
    spec = _spec(two_groups, {"learning_rate": {"values": [0.01, 0.03]}},
                 optimizer={"name": "sgd", "learning_rate": {"a": 3.0}}, boundary={"max_rounds": 0})
    t = lrsweep.run(spec, progress=False).table
    assert t["diverged"].to_numpy().astype(bool).all()
    spec = _spec(two_groups, {"learning_rate": {"values": [0.01, 0.03]}},
                 optimizer={"name": "sgd", "learning_rate": {"a": 1.0}}, boundary={"max_rounds": 0})
    t = lrsweep.run(spec, progress=False).table
    assert t["diverged"].tolist() == [False, True]  # b diverges at 0.03 > 0.02 only


@pytest.mark.parametrize(("axes", "field"), [
    ({"learning_rate.c": {"values": [0.1]}, "learning_rate.a": {"values": [0.1]}}, "axes.learning_rate.c"),
    ({"learning_rate.a": {"values": [0.1]}}, "axes.learning_rate.b"),  # no rate for group b
])
def test_unknown_or_missing_group_is_a_sweep_error(two_groups, axes, field):
    spec = _spec(two_groups, axes)
    with pytest.raises(SweepError, match=field.replace(".", r"\.")):
        Program(spec).check()


def test_group_rates_need_grouped_parameters():
    spec = lrsweep.from_dict({"name": "t", "steps": 5, "loss": {"name": "quadratic", "curvatures": [1.0]},
                              "init": {"points": [[1.0]]}, "axes": {"learning_rate.a": {"values": [0.1]}}})
    with pytest.raises(SweepError, match="axes.learning_rate.a"):
        Program(spec).check()
