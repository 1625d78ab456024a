"""The results directory (``lrsweep.store``): atomic writes, the resume ledger of chunk files, the manifest."""

import hashlib
import json
import logging
import os
import stat

import numpy as np
import pytest

import lrsweep
from lrsweep import store
from lrsweep.config import SweepError
from lrsweep.store import Ledger

SPEC = {"name": "q", "steps": 5, "loss": {"name": "quadratic", "curvatures": [1.0, 4.0]},
        "init": {"points": [[1.0, 1.0]]}, "axes": {"learning_rate": {"min": 0.1, "max": 1.0, "num": 10}}}


def test_atomic_write_replaces_the_file_whole(tmp_path):
    path = tmp_path / "a.txt"
    store.atomic_write(path, lambda p: p.write_text("old"))
    store.atomic_write(path, lambda p: p.write_text("new"))
    assert path.read_text() == "new"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644  # not mkstemp's 0600
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")

    def half(p):
        p.write_text("par")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store.atomic_write(path, half)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_file_sha256_is_the_bytes_hash(tmp_path):
    data = os.urandom(3 << 20)  # three read blocks
    (tmp_path / "b").write_bytes(data)
    assert store.file_sha256(tmp_path / "b") == hashlib.sha256(data).hexdigest()


def _ledger(tmp_path, spec=None, **kw):
    spec = spec or lrsweep.from_dict(SPEC)
    return Ledger.open(tmp_path / "out", spec, {"name": spec.name}, **kw)


def test_the_ledger_knows_what_is_done_and_what_is_missing(tmp_path):
    ledger = _ledger(tmp_path)
    assert ledger.done() == [] and ledger.missing() == [(0, 10)]
    ledger.write(0, 3, {"x": np.arange(3.0)})
    ledger.write(6, 8, {"x": np.arange(6.0, 8.0)})
    assert ledger.done() == [(0, 3), (6, 8)]
    assert ledger.missing() == [(3, 6), (8, 10)]
    manifest = json.loads((tmp_path / "out" / store.MANIFEST).read_text())
    assert manifest["status"] == "running" and manifest["configurations_done"] == 5
    assert manifest["chunks_done"] == [[0, 3], [6, 8]]
    ledger.write(3, 6, {"x": np.arange(3.0, 6.0)})
    assert json.loads((tmp_path / "out" / store.MANIFEST).read_text())["chunks_done"] == [[0, 8]]
    rows = np.concatenate([m["x"] for _, _, m in ledger.read()])
    np.testing.assert_array_equal(rows, np.arange(8.0))


def test_a_resumed_ledger_keeps_its_chunks_and_drops_damaged_ones(tmp_path):
    """The same sweep resumes from its chunk files; a truncated file is dropped with a logged warning."""
    ledger = _ledger(tmp_path)
    ledger.write(0, 3, {"x": np.arange(3.0)})
    ledger.write(3, 6, {"x": np.arange(3.0, 6.0)})
    bad = ledger._file(3, 6)
    bad.write_bytes(bad.read_bytes()[:20])
    got = []
    handler = logging.Handler()
    handler.emit = got.append
    logging.getLogger("lrsweep").addHandler(handler)
    try:
        again = _ledger(tmp_path)
    finally:
        logging.getLogger("lrsweep").removeHandler(handler)
    assert again.done() == [(0, 3)] and again.missing() == [(3, 10)]
    assert len(got) == 1 and got[0].levelno == logging.WARNING and "recomputing" in got[0].getMessage()


def test_a_chunk_of_another_sweep_is_not_taken(tmp_path):
    ledger = _ledger(tmp_path)
    ledger.write(0, 3, {"x": np.arange(3.0)})
    other = lrsweep.from_dict({**SPEC, "steps": 6})
    stranger = Ledger(tmp_path / "elsewhere", other.size)
    stranger.dir.mkdir(parents=True)
    stranger.stamp, stranger.manifest = store.sweep_hash(other), {}
    stranger.write(3, 6, {"x": np.arange(3.0)})
    os.replace(stranger._file(3, 6), ledger._file(3, 6))
    assert _ledger(tmp_path).done() == [(0, 3)]


def test_a_directory_of_another_sweep_is_refused_unless_overwritten(tmp_path):
    _ledger(tmp_path).write(0, 3, {"x": np.arange(3.0)})
    other = lrsweep.from_dict({**SPEC, "steps": 6})
    with pytest.raises(SweepError, match="holds results of a different sweep"):
        _ledger(tmp_path, other)
    assert _ledger(tmp_path, other, overwrite=True).done() == []


def test_merge_joins_touching_spans():
    assert store._merge([(0, 3), (3, 5), (7, 9), (8, 12)]) == [(0, 5), (7, 12)]
