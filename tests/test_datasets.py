"""Tests for lrsweep.datasets: shapes, dtypes, splits, standardisation, caching, errors, no network."""

from __future__ import annotations

import random
import socket
import sys

import numpy as np
import pytest

from lrsweep import datasets

SKLEARN_SETS = ("digits", "breast_cancer", "wine")
EXPECTED = {  # name: (n, features, classes)
    "digits": (1797, 64, 10),
    "breast_cancer": (569, 30, 2),
    "wine": (178, 13, 3),
    "mnist1d": (5000, 40, 10),
}


@pytest.fixture(scope="module")
def sklearn_ok():
    pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def mnist1d_offline(tmp_path_factory):
    """Generate MNIST-1D once for the module, from an empty working directory with every
    socket connection refused; record what it touched."""
    pytest.importorskip("mnist1d")
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted while loading a dataset")

    cwd = tmp_path_factory.mktemp("mnist1d_cwd")
    np.random.seed(123)
    random.seed(123)
    np_before, py_before = np.random.get_state(), random.getstate()
    datasets._raw.cache_clear()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket.socket, "connect_ex", refuse)
        mp.setattr(socket, "create_connection", refuse)
        mp.setattr(socket, "getaddrinfo", refuse)
        mp.chdir(cwd)
        X, y = datasets.load("mnist1d")
    np_after, py_after = np.random.get_state(), random.getstate()
    return {
        "X": X, "y": y, "attempts": attempts, "files": sorted(p.name for p in cwd.iterdir()),
        "np_state_kept": all(np.array_equal(a, b) for a, b in zip(np_before, np_after, strict=True)),
        "py_state_kept": py_before == py_after,
    }


# ---------------------------------------------------------------- metadata (no extras needed)

def test_names_and_describe():
    assert datasets.names() == ("digits", "breast_cancer", "wine", "mnist1d")
    for name, (n, f, k) in EXPECTED.items():
        d = datasets.describe(name)
        assert (d["n_examples"], d["n_features"], d["n_classes"]) == (n, f, k)
        for key in ("source", "licence", "citation"):
            assert isinstance(d[key], str) and d[key] and "\n" not in d[key]
    assert datasets.describe("mnist1d")["licence"] == "Apache-2.0"
    assert {datasets.describe(n)["licence"] for n in SKLEARN_SETS} == {"CC BY 4.0"}
    datasets.describe("wine")["n_examples"] = 0          # a copy: the table is not changed
    assert datasets.describe("wine")["n_examples"] == 178


# ---------------------------------------------------------------- scikit-learn datasets

@pytest.mark.parametrize("name", SKLEARN_SETS)
def test_shapes_dtypes_classes(sklearn_ok, name):
    n, f, k = EXPECTED[name]
    X, y = datasets.load(name)
    assert X.shape == (n, f) and X.dtype == np.float32
    assert y.shape == (n,) and y.dtype == np.int32
    assert sorted(np.unique(y).tolist()) == list(range(k))
    assert np.isfinite(X).all()
    X64, _ = datasets.load(name, dtype="float64")
    assert X64.dtype == np.float64
    np.testing.assert_array_equal(X64.astype(np.float32), X)


def test_digits_raw_values(sklearn_ok):
    X, y = datasets.load("digits", dtype=np.float64)
    assert X.min() == 0 and X.max() == 16
    np.testing.assert_array_equal(X, np.round(X))            # integer pixel counts
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_other_dtypes(sklearn_ok):
    assert datasets.load("wine", dtype="float16")[0].dtype == np.float16
    assert datasets.load("wine", dtype=np.dtype("float32"))[0].dtype == np.float32
    pytest.importorskip("ml_dtypes")
    assert datasets.load("wine", dtype="bfloat16")[0].dtype.name == "bfloat16"


@pytest.mark.parametrize("name", SKLEARN_SETS)
def test_split_partition_and_stratification(sklearn_ok, name):
    X, y = datasets.load(name, dtype="float64")
    Xtr, ytr = datasets.load(name, split="train", dtype="float64")
    Xte, yte = datasets.load(name, split="test", dtype="float64")
    assert len(ytr) + len(yte) == len(y)
    # Reproduce the documented definition and compare row for row.
    perm = np.random.default_rng(0).permutation(len(y))
    is_test = np.zeros(len(y), bool)
    for c in np.unique(y):
        members = perm[y[perm] == c]
        k = min(max(int(np.floor(0.2 * len(members) + 0.5)), 1), len(members) - 1)
        is_test[members[:k]] = True
    train, test = perm[~is_test[perm]], perm[is_test[perm]]
    assert set(train).isdisjoint(test) and len(set(train) | set(test)) == len(y)
    np.testing.assert_array_equal(Xtr, X[train])
    np.testing.assert_array_equal(Xte, X[test])
    np.testing.assert_array_equal(ytr, y[train])
    np.testing.assert_array_equal(yte, y[test])
    # Stratified: each class's test share is 0.2 up to rounding.
    for c in np.unique(y):
        n_c = int((y == c).sum())
        assert abs(int((yte == c).sum()) - 0.2 * n_c) <= 0.5


def test_split_determinism_and_seed(sklearn_ok):
    a = datasets.load("digits", split="train", seed=3)
    b = datasets.load("digits", split="train", seed=3)
    c = datasets.load("digits", split="train", seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    _, yte = datasets.load("digits", split="test", test_fraction=0.5)
    assert len(yte) == sum(int(np.floor(0.5 * n + 0.5)) for n in [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    # A tiny or huge fraction still leaves every class in both splits.
    for tf in (1e-6, 1 - 1e-6):
        _, ytr = datasets.load("wine", split="train", test_fraction=tf)
        _, yte = datasets.load("wine", split="test", test_fraction=tf)
        assert set(ytr) == set(yte) == {0, 1, 2}


@pytest.mark.parametrize("name", SKLEARN_SETS)
def test_standardize_uses_training_statistics(sklearn_ok, name):
    X, _ = datasets.load(name, dtype="float64")
    Xtr_raw, _ = datasets.load(name, split="train", dtype="float64")
    Xtr, _ = datasets.load(name, split="train", standardize=True, dtype="float64")
    Xte, _ = datasets.load(name, split="test", standardize=True, dtype="float64")
    Xall, _ = datasets.load(name, standardize=True, dtype="float64")
    Xte_raw, _ = datasets.load(name, split="test", dtype="float64")
    mean, std = Xtr_raw.mean(0), Xtr_raw.std(0)
    varying = Xtr_raw.max(0) != Xtr_raw.min(0)
    np.testing.assert_allclose(Xtr.mean(0), 0, atol=1e-10)
    np.testing.assert_allclose(Xtr.std(0)[varying], 1, rtol=1e-10)
    np.testing.assert_array_equal(Xtr[:, ~varying], 0)
    expected_te = (Xte_raw - mean) / np.where(varying, std, 1.0)
    np.testing.assert_allclose(Xte, expected_te, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(Xall, (X - mean) / np.where(varying, std, 1.0), rtol=1e-12, atol=1e-12)
    assert np.isfinite(Xall).all()
    # float32 is the float64 result, cast.
    X32, _ = datasets.load(name, split="test", standardize=True)
    np.testing.assert_array_equal(X32, Xte.astype(np.float32))


def test_digits_constant_pixels_stay_zero(sklearn_ok):
    Xtr_raw, _ = datasets.load("digits", split="train")
    Xtr, _ = datasets.load("digits", split="train", standardize=True)
    constant = Xtr_raw.max(0) == Xtr_raw.min(0)
    assert constant.sum() >= 3                      # pixels 0, 32 and 39 are blank in every image
    assert (Xtr[:, constant] == 0).all()


def test_returns_copies_not_the_cache(sklearn_ok):
    X1, y1 = datasets.load("wine", dtype="float64")
    X1[:] = -1.0
    y1[:] = -1
    X2, y2 = datasets.load("wine", dtype="float64")
    assert X2.min() > 0 and y2.min() == 0
    assert not np.shares_memory(X1, X2) and not np.shares_memory(y1, y2)
    assert X2.flags.writeable and y2.flags.writeable
    raw_x, raw_y = datasets._raw("wine")
    assert not raw_x.flags.writeable and not raw_y.flags.writeable
    assert not np.shares_memory(X2, raw_x) and not np.shares_memory(y2, raw_y)


def test_load_emits_no_warnings(sklearn_ok, recwarn):
    datasets._raw.cache_clear()
    for name in SKLEARN_SETS:
        datasets.load(name, split="test", standardize=True)
    assert not recwarn.list


# ---------------------------------------------------------------- bad arguments

@pytest.mark.parametrize("kwargs, argument", [
    ({"name": "digit"}, "name"),
    ({"name": "mnist"}, "name"),
    ({"name": 3}, "name"),
    ({"split": "validation"}, "split"),
    ({"split": "Train"}, "split"),
    ({"test_fraction": 0.0}, "test_fraction"),
    ({"test_fraction": 1.0}, "test_fraction"),
    ({"test_fraction": -0.1}, "test_fraction"),
    ({"test_fraction": float("nan")}, "test_fraction"),
    ({"test_fraction": "0.2"}, "test_fraction"),
    ({"test_fraction": True}, "test_fraction"),
    ({"dtype": "int32"}, "dtype"),
    ({"dtype": "float128x"}, "dtype"),
    ({"dtype": None}, "dtype"),
    ({"dtype": "complex64"}, "dtype"),
    ({"seed": -1}, "seed"),
    ({"seed": 1.5}, "seed"),
    ({"standardize": "yes"}, "standardize"),
])
def test_bad_arguments(kwargs, argument):
    # Validation happens before any optional package is imported: no extras needed here.
    kwargs = {"name": "wine", **kwargs}
    with pytest.raises(ValueError) as info:
        datasets.load(**kwargs)
    message = str(info.value)
    assert message.startswith(f"{argument}: expected ") and "found" in message and "\n" not in message


def test_unknown_name_suggests():
    with pytest.raises(ValueError, match=r"found 'digit' \(did you mean 'digits'\?\)"):
        datasets.load("digit")
    with pytest.raises(ValueError, match=r"did you mean 'breast_cancer'"):
        datasets.describe("breast-cancer")
    with pytest.raises(ValueError, match=r"did you mean 'mnist1d'"):
        datasets.load("mnist")


def test_mnist1d_refuses_other_test_fraction():
    with pytest.raises(ValueError, match=r"^test_fraction: expected 0.2 for 'mnist1d'"):
        datasets.load("mnist1d", test_fraction=0.3)


# ---------------------------------------------------------------- missing optional packages

@pytest.mark.parametrize("module, name, package", [
    ("sklearn", "digits", "scikit-learn"),
    ("sklearn", "wine", "scikit-learn"),
    ("mnist1d", "mnist1d", "mnist1d"),
])
def test_missing_extra_gives_one_line_import_error(monkeypatch, module, name, package):
    monkeypatch.setitem(sys.modules, module, None)
    datasets._raw.cache_clear()
    try:
        with pytest.raises(ImportError) as info:
            datasets.load(name)
    finally:
        datasets._raw.cache_clear()
    message = str(info.value)
    assert message == (f"lrsweep.datasets.load({name!r}) needs {package}: "
                       f"pip install 'lrsweep[data]' (or: pip install {package})")
    assert datasets.describe(name)["package"] == package     # metadata still works without it


# ---------------------------------------------------------------- mnist1d

def test_mnist1d_generated_offline(mnist1d_offline):
    assert mnist1d_offline["attempts"] == []                 # no socket was even opened
    assert mnist1d_offline["files"] == []                    # no pickle written to the working directory
    assert mnist1d_offline["np_state_kept"] and mnist1d_offline["py_state_kept"]


def test_mnist1d_shapes_and_split(mnist1d_offline):
    X, y = mnist1d_offline["X"], mnist1d_offline["y"]
    assert X.shape == (5000, 40) and X.dtype == np.float32
    assert y.shape == (5000,) and y.dtype == np.int32
    assert np.bincount(y).tolist() == [500] * 10            # 500 per class before the split
    Xtr, ytr = datasets.load("mnist1d", split="train", seed=7)   # seed has no effect on its split
    Xte, yte = datasets.load("mnist1d", split="test")
    assert Xtr.shape == (4000, 40) and Xte.shape == (1000, 40)
    np.testing.assert_array_equal(np.concatenate([Xtr, Xte]), X)
    np.testing.assert_array_equal(np.concatenate([ytr, yte]), y)
    # The generator's defaults (seed 42) give this class balance; a change means a different dataset.
    assert np.bincount(ytr).tolist() == [398, 396, 411, 394, 394, 402, 401, 404, 402, 398]
    # The generator standardises the whole array with one scalar mean and std.
    X64, _ = datasets.load("mnist1d", dtype="float64")
    assert abs(X64.mean()) < 1e-9 and abs(X64.std() - 1) < 1e-9


def test_mnist1d_standardize(mnist1d_offline):
    Xtr, _ = datasets.load("mnist1d", split="train", standardize=True, dtype="float64")
    Xte, _ = datasets.load("mnist1d", split="test", standardize=True, dtype="float64")
    raw_tr, _ = datasets.load("mnist1d", split="train", dtype="float64")
    raw_te, _ = datasets.load("mnist1d", split="test", dtype="float64")
    np.testing.assert_allclose(Xtr.mean(0), 0, atol=1e-10)
    np.testing.assert_allclose(Xtr.std(0), 1, rtol=1e-10)
    np.testing.assert_allclose(Xte, (raw_te - raw_tr.mean(0)) / raw_tr.std(0), rtol=1e-12, atol=1e-12)
