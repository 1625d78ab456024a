"""The stdlib-docstring corpus and the copying task (lrsweep.corpus): offline, deterministic, documented."""

from __future__ import annotations

import socket
import sys
import zlib

import numpy as np
import pytest

from lrsweep import corpus


def test_the_corpus_is_read_offline_and_deterministically(monkeypatch):
    def no_network(*a, **k):
        raise AssertionError("the corpus loader opened a socket")

    corpus.text.cache_clear()
    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    first = corpus.text("train"), corpus.text("valid")
    corpus.text.cache_clear()
    again = corpus.text("train"), corpus.text("valid")
    assert first == again                                   # byte-identical on a fresh read
    train, valid = first
    # sizes: the documented ones are CPython 3.11.7's (526,530 / 58,638 bytes); other versions edit
    # docstrings, so the test asks only for the order of magnitude and the ~10 % validation share.
    assert 300_000 < len(train) < 1_500_000
    assert 0.05 < len(valid) / (len(train) + len(valid)) < 0.2
    assert train.decode("utf-8") and valid.decode("utf-8")  # whole UTF-8 documents
    if sys.version_info[:3] == (3, 11, 7):
        assert (len(train), len(valid)) == (526_530, 58_638)


def test_every_listed_module_ships_with_this_python():
    info = corpus.describe()
    assert info["missing"] == [] and info["modules"] == len(corpus.MODULES) and info["licence"] == "PSF-2.0"
    assert list(corpus.MODULES) == sorted(corpus.MODULES)


def test_documents_split_by_a_hash_of_their_name():
    docs = corpus.documents("m", "'M.'\nclass A:\n    'An A.'\n    def f(self):\n        'Do f.'\ndef g():\n    pass\n")
    assert docs == [("m", "M."), ("m:A", "An A."), ("m:A.f", "Do f.")]
    names = [f"mod:f{i}" for i in range(2000)]
    share = np.mean([corpus.is_validation(n) for n in names])
    assert 0.08 < share < 0.12
    assert corpus.is_validation("mod:f0") == (zlib.crc32(b"mod:f0") % 10 == 0)


def test_windows_are_consecutive_tokens_at_seeded_offsets():
    stream = np.arange(1000) % 251
    w = corpus.windows(stream.astype(np.uint8), 50, 16, seed=3)
    assert w.shape == (50, 17) and w.dtype == np.int32
    assert np.all((np.diff(w, axis=1) % 251) == 1)          # consecutive bytes of the stream
    np.testing.assert_array_equal(w, corpus.windows(stream.astype(np.uint8), 50, 16, seed=3))
    assert not np.array_equal(w, corpus.windows(stream.astype(np.uint8), 50, 16, seed=4))
    with pytest.raises(ValueError, match="context"):
        corpus.windows(stream[:10].astype(np.uint8), 1, 16)


def test_load_gives_training_and_validation_windows_of_the_two_splits():
    train, valid = corpus.load(32, 64, 16, seed=0)
    assert train.shape == (64, 33) and valid.shape == (16, 33)
    assert train.max() < 256 and train.min() >= 0


def test_copy_task_repeats_the_first_half_and_masks_the_rest():
    x, mask = corpus.copy_task(10, 6, vocab=16, seed=1)
    assert x.shape == (10, 14) and mask.shape == (10, 13)
    np.testing.assert_array_equal(x[:, 1:7], x[:, 8:14])
    assert (x[:, 0] == 0).all() and (x[:, 7] == 0).all() and (x[:, 1:7] > 0).all()
    # targets are x[:, 1:]; the predictable ones (second copy, x[:, 8:]) are targets 7 … 12
    np.testing.assert_array_equal(mask[0], [0] * 7 + [1] * 6)
