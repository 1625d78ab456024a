"""Chunks on disk: an interrupted sweep resumes without recomputing, bounded memory, a lock, refusals."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lrsweep
from lrsweep import pipeline as sweep  # noqa: I001
from lrsweep import store
from lrsweep.config import SweepError

SWEEP = """
name = "resumable"
steps = {steps}
[loss]
name = "quadratic"
curvatures = [1.0, 10.0]
[init]
points = [[1.0, 1.0]]
[optimizer]
name = "sgd"
[axes]
learning_rate = {{ min = 1e-3, max = 1.0, num = {num}, scale = "log" }}
momentum = {{ values = [0.0, 0.5, 0.9] }}
[boundary]
axis = "learning_rate"
[run]
chunk_size = {chunk}
batch = 64
"""


def sweep_file(tmp_path: Path, steps=200, num=64, chunk=64) -> Path:
    f = tmp_path / "s.toml"
    f.write_text(SWEEP.format(steps=steps, num=num, chunk=chunk))
    return f


def test_kill_mid_run_then_resume_gives_the_uninterrupted_table(tmp_path):
    """SIGKILL a sweep after a few chunks are on disk; running it again recomputes only what is missing
    and ends with the table and boundary of an uninterrupted run, bit for bit."""
    f = sweep_file(tmp_path, steps=20000, num=256, chunk=64)  # 12 chunks of 64 configurations
    out = tmp_path / "out"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    log = tmp_path / "log.txt"
    with open(log, "w") as err, subprocess.Popen(
            [sys.executable, "-m", "lrsweep", "run", str(f), "--out", str(out), "--quiet", "--no-figures",
             "--devices", "1"], env=env, stdout=subprocess.DEVNULL, stderr=err) as proc:
        deadline = time.time() + 120
        while time.time() < deadline and len(list((out / "chunks").glob("rows-*.npz"))) < 2:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done = sorted((out / "chunks").glob("rows-*.npz"))
    assert 2 <= len(done) < 12, "the sweep must be interrupted mid-run"
    manifest = json.loads((out / "manifest.json").read_text())
    # the chunk files define what is done; the manifest's count may lag the last chunk written (it is
    # updated after the chunk's atomic write), never lead it
    assert manifest["status"] == "running" and manifest["configurations_done"] <= 64 * len(done)

    spec = lrsweep.load_sweep(f)
    resumed = lrsweep.run(spec, out=out, progress=False, devices=1)
    assert resumed.manifest["configurations_computed"] == spec.size - 64 * len(done)
    assert not (out / "chunks").exists()
    whole = lrsweep.run(spec, out=tmp_path / "whole", progress=False, devices=1)
    assert whole.manifest["configurations_computed"] == spec.size
    a, b = pd.read_parquet(out / "table.parquet"), pd.read_parquet(tmp_path / "whole" / "table.parquet")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert (out / "boundary.csv").read_text() == (tmp_path / "whole" / "boundary.csv").read_text()


def test_resume_with_another_chunk_length_recomputes_nothing_finished(tmp_path):
    """What is done is defined by the chunk files' row ranges, not by the chunk length."""
    f = sweep_file(tmp_path, steps=50, num=64, chunk=64)
    spec = lrsweep.load_sweep(f)
    out = tmp_path / "out"
    ledger = store.Ledger.open(out, spec, {"name": spec.name})
    program = lrsweep.engine.Program(spec, chunk_size=64, devices=1)
    first = next(program.evaluate_chunks(ranges=[(0, 64)]))
    ledger.write(*first)  # one chunk of 64 done, then "killed"
    r = lrsweep.run(spec, out=out, progress=False, chunk_size=128, devices=1)
    assert r.manifest["configurations_computed"] == spec.size - 64
    whole = lrsweep.run(spec, progress=False, devices=1)
    pd.testing.assert_frame_equal(r.table.reset_index(drop=True), whole.table, check_exact=True,
                                  check_categorical=False)


def test_a_different_sweep_is_refused_and_overwrite_replaces(tmp_path):
    f = sweep_file(tmp_path, steps=30, num=16)
    out = tmp_path / "out"
    lrsweep.run(lrsweep.load_sweep(f), out=out, progress=False)
    other = lrsweep.load_sweep(f, ["steps=31"])
    with pytest.raises(SweepError, match=r"holds results of a different sweep \(steps: 30 there, 31 here\)"):
        lrsweep.run(other, out=out, progress=False)
    assert json.loads((out / "manifest.json").read_text())["steps"] == 30  # untouched
    lrsweep.run(other, out=out, progress=False, overwrite=True)
    assert json.loads((out / "manifest.json").read_text())["steps"] == 31
    # the chunk length and device count do not change results: not "a different sweep"
    lrsweep.run(lrsweep.load_sweep(f, ["steps=31", "run.chunk_size=128"]), out=out, progress=False)


def test_cli_refusal_is_one_line(tmp_path, capsys):
    from lrsweep.cli import main

    f = sweep_file(tmp_path, steps=30, num=16)
    out = tmp_path / "out"
    assert main(["run", str(f), "--out", str(out), "--quiet", "--no-figures"]) == 0
    capsys.readouterr()
    assert main(["run", str(f), "--out", str(out), "--quiet", "--no-figures", "--set", "steps=40"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"lrsweep: error: {out}: holds results of a different sweep (steps: 30 there, 40 here); " \
                  "choose another --out, or pass --overwrite to replace them"


def test_two_runs_into_one_directory_the_second_is_refused(tmp_path):
    """A lock (flock, dropped by the kernel when its holder dies) keeps two runs from mixing chunks."""
    f = sweep_file(tmp_path, steps=30, num=16)
    out = tmp_path / "out"
    with store.Lock(out):
        with pytest.raises(lrsweep.BusyError, match=r"another lrsweep run is writing here \(pid \d+ on "):
            lrsweep.run(lrsweep.load_sweep(f), out=out, progress=False)
    assert issubclass(lrsweep.BusyError, SweepError)  # commands still exit 2 with one line
    lrsweep.run(lrsweep.load_sweep(f), out=out, progress=False)  # released: fine


def test_table_streams_to_disk_beyond_the_in_memory_limit(tmp_path, monkeypatch):
    """Above TABLE_IN_MEMORY the table is written chunk by chunk and not held; chunks are gathered into
    row groups of at least ROW_GROUP rows (here 100: chunks of 64 give groups of 128 and 64)."""
    monkeypatch.setattr(sweep, "TABLE_IN_MEMORY", 100)
    monkeypatch.setattr(sweep, "ROW_GROUP", 100)
    f = sweep_file(tmp_path, steps=30, num=64, chunk=64)
    spec = lrsweep.load_sweep(f)
    r = lrsweep.run(spec, out=tmp_path / "out", progress=False, devices=1)
    assert r.table is None and r.boundary is not None
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(tmp_path / "out" / "table.parquet")
    assert pf.metadata.num_rows == spec.size and pf.metadata.num_row_groups == 2
    assert [pf.metadata.row_group(i).num_rows for i in range(2)] == [128, 64]
    monkeypatch.setattr(sweep, "TABLE_IN_MEMORY", 1 << 22)
    whole = lrsweep.run(spec, progress=False, devices=1)
    disk = pd.read_parquet(tmp_path / "out" / "table.parquet")
    pd.testing.assert_frame_equal(disk, whole.table, check_exact=True, check_categorical=False)
    np.testing.assert_array_equal(r.boundary["critical"], whole.boundary["critical"])


def test_progress_lines_when_not_a_terminal(tmp_path, capsys):
    """Not on a terminal: a line per chunk at most every few seconds (here: the last one), logged at INFO on
    the ``lrsweep`` logger, never printed by the library; progress=False: none."""
    import logging

    got = []
    handler = logging.Handler()
    handler.emit = got.append
    log = logging.getLogger("lrsweep")
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        f = sweep_file(tmp_path, steps=30, num=64, chunk=64)
        lrsweep.run(lrsweep.load_sweep(f), progress=True, devices=1)
        lines = [r.getMessage() for r in got]
        assert len(lines) == 1 and lines[0].startswith("resumable: 192/192 configurations, ") and "ETA 0 s" in lines[0]
        got.clear()
        lrsweep.run(lrsweep.load_sweep(f), progress=False, devices=1)
        assert got == []
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    assert capsys.readouterr().err == ""
