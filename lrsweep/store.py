"""The results directory: tables, resolved sweep, manifest — written atomically, read back for plots.

``results/<name>/`` holds:

================  =====================================================================
``sweep.toml``    the resolved sweep definition (defaults filled, overrides applied)
``table.parquet`` one row per configuration: every axis value and every metric
``boundary.csv``  one row per slice: grid bracket, refined ``lower/upper/critical``,
                  ``critical_asymptotic``, theory where it exists
``transitions.csv`` every sign change of the diverged flag along the boundary axis
``trajectories.parquet`` (optional) loss and parameters per step of chosen configurations
``manifest.json`` status, times, versions, devices, git commit, compile/run time, throughput
================  =====================================================================

Files are first written into a hidden temporary folder beside them and moved into
place one by one (``os.replace``), the manifest last; a run that fails midway leaves
the previous results untouched and no partial file.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w

from lrsweep.config import SweepSpec, from_dict

TABLE = "table.parquet"
BOUNDARY = "boundary.csv"
TRANSITIONS = "transitions.csv"
TRAJECTORIES = "trajectories.parquet"
MANIFEST = "manifest.json"
SWEEP = "sweep.toml"


@dataclass
class SweepResult:
    """Everything a sweep produced. ``table`` has one row per configuration, ``boundary`` one per slice."""

    spec: SweepSpec
    table: pd.DataFrame
    boundary: pd.DataFrame | None = None
    transitions: pd.DataFrame | None = None
    trajectories: pd.DataFrame | None = None
    manifest: dict = field(default_factory=dict)
    path: Path | None = None

    def plot(self, kind: str = "phase", *, style: str = "paper", width=None, facet: str | None = None):
        """The figure of ``kind`` (``phase``, ``boundary``, ``loss``, ``trajectories``, ``schedules``) as a
        matplotlib ``Figure`` (for notebooks; ``None`` when the kind does not apply to this sweep)."""
        from lrsweep import figstyle, plot

        with figstyle.use(style, salt=kind):
            return plot.figure(self, kind, width=width, facet=facet)


def _float_text(x: float) -> str:
    """Shortest text that reads back to the same float, with a decimal point (``10.0``, not ``10``,
    so an integer-valued float column reads back as float64)."""
    return repr(float(x))


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("lrsweep", "jax", "jaxlib", "optax", "numpy", "pandas", "matplotlib", "pyarrow"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    if out["lrsweep"] is None:
        from lrsweep import __version__

        out["lrsweep"] = __version__
    return out


def git_state(where: Path) -> dict[str, Any]:
    """Commit and dirty flag of the git checkout holding ``where`` (``None`` outside one)."""
    try:
        cwd = where if where.is_dir() else where.parent
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return {"commit": None, "dirty": None}
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=10)
        return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def host() -> dict[str, Any]:
    import jax

    return {"hostname": platform.node(), "platform": platform.platform(), "backend": jax.default_backend(),
            "devices": [str(d) for d in jax.devices()], "argv": sys.argv}


def save(result: SweepResult, out: str | Path, extra_files: dict[str, Any] | None = None,
         table_file: Path | None = None) -> Path:
    """Write ``result`` under ``out`` atomically (file by file, manifest last).

    ``table_file``: a finished ``table.parquet`` written elsewhere in ``out`` (streamed chunk by chunk
    for grids too large to hold), moved into place instead of writing ``result.table``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=out))
    try:
        files = {}
        (tmp / SWEEP).write_text(tomli_w.dumps(_toml_ready(result.spec.to_dict())))
        files[SWEEP] = tmp / SWEEP
        if table_file is not None:
            files[TABLE] = Path(table_file)
        else:
            result.table.to_parquet(tmp / TABLE, index=False)
            files[TABLE] = tmp / TABLE
        if result.boundary is not None:
            result.boundary.to_csv(tmp / BOUNDARY, index=False, float_format=_float_text)
            files[BOUNDARY] = tmp / BOUNDARY
        if result.transitions is not None:
            result.transitions.to_csv(tmp / TRANSITIONS, index=False, float_format=_float_text)
            files[TRANSITIONS] = tmp / TRANSITIONS
        if result.trajectories is not None:
            result.trajectories.to_parquet(tmp / TRAJECTORIES, index=False)
            files[TRAJECTORIES] = tmp / TRAJECTORIES
        for name, writer in (extra_files or {}).items():
            writer(tmp / name)
            files[name] = tmp / name
        (tmp / MANIFEST).write_text(json.dumps(result.manifest, indent=2, default=str) + "\n")
        for name, path in files.items():
            os.replace(path, out / name)
        for stale in (BOUNDARY, TRANSITIONS, TRAJECTORIES):
            if stale not in files and (out / stale).exists():
                (out / stale).unlink()
        os.replace(tmp / MANIFEST, out / MANIFEST)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result.path = out
    return out


def _toml_ready(d):
    if isinstance(d, dict):
        return {k: _toml_ready(v) for k, v in d.items() if v is not None}
    if isinstance(d, (list, tuple)):
        return [_toml_ready(v) for v in d]
    return d


def load(path: str | Path) -> SweepResult:
    """Read a results directory back (no recomputation)."""
    import tomllib

    path = Path(path)
    if not (path / MANIFEST).exists() or not (path / TABLE).exists():
        raise FileNotFoundError(f"{path}: not a results directory (no {MANIFEST} / {TABLE}); run `lrsweep run` first")
    spec = from_dict(tomllib.loads((path / SWEEP).read_text()), source=str(path / SWEEP), resolve=False)
    manifest = json.loads((path / MANIFEST).read_text())
    table = pd.read_parquet(path / TABLE)
    boundary = pd.read_csv(path / BOUNDARY) if (path / BOUNDARY).exists() else None
    transitions = pd.read_csv(path / TRANSITIONS) if (path / TRANSITIONS).exists() else None
    traj = pd.read_parquet(path / TRAJECTORIES) if (path / TRAJECTORIES).exists() else None
    return SweepResult(spec=spec, table=table, boundary=boundary, transitions=transitions, trajectories=traj,
                       manifest=manifest, path=path)


# --------------------------------------------------------------------------- chunks on disk: resume, lock

CHUNKS = "chunks"
LOCK = ".lock"
_VOLATILE = {("run", "chunk_size"), ("run", "devices"), ("description",)}  # do not change a single result


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically: a temporary file beside ``path``, then ``os.replace``."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
    os.fchmod(fd, 0o644)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(obj, indent=2, default=str) + "\n")
    os.replace(tmp, path)


class Lock:
    """An exclusive ``flock`` on ``DIR/.lock`` for the duration of a run.

    A second process running into the same directory is refused at once (not queued), with the
    holder's pid and host in the message. The kernel drops the lock when its holder dies, even by
    ``SIGKILL``, so an interrupted run never leaves a stale lock behind.
    """

    def __init__(self, out: str | Path):
        self.path = Path(out) / LOCK
        self._fd = None

    def __enter__(self) -> Lock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            os.close(fd)
            from lrsweep.config import SweepError

            raise SweepError(str(self.path.parent), "out", "a results directory no other run is writing",
                             raw=f"{self.path.parent}: another lrsweep run is writing here ({holder}); wait for it "
                                 "to finish, or choose another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {platform.node()}".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        import fcntl

        if self._fd is not None:
            self.path.unlink(missing_ok=True)  # while still held: no results directory keeps a stray .lock
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _comparable(d: dict, prefix: tuple = ()) -> dict:
    return {k: (_comparable(v, prefix + (k,)) if isinstance(v, dict) else v)
            for k, v in d.items() if prefix + (k,) not in _VOLATILE}


def _first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """The first field where two resolved sweeps differ, as ``"field: X there, Y here"`` (``None`` if none).

    Numbers equal to 1e-12 relative count as equal: an axis's values are written out expanded, and a
    value read back from text may differ from the one computed in the last bit.

    >>> _first_difference({"steps": 30, "axes": {"lr": {"values": [0.1, 0.2]}}},
    ...                   {"steps": 30, "axes": {"lr": {"values": [0.1, 0.25]}}})
    'axes.lr.values[1]: 0.2 there, 0.25 here'
    """
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            d = _first_difference(a.get(k), b.get(k), f"{path}.{k}" if path else k)
            if d:
                return d
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return f"{path}: {len(a)} values there, {len(b)} here"
        for i, (x, y) in enumerate(zip(a, b)):
            d = _first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
            and not isinstance(b, bool) and abs(a - b) <= 1e-12 * max(abs(a), abs(b)):
        return None
    return None if a == b else f"{path}: {a!r} there, {b!r} here"


class Ledger:
    """The chunks of a sweep in progress under ``DIR/chunks/``: what is done, what is left.

    Chunk files are named by the configurations they hold (``rows-<lo>-<hi>.npz``, configurations
    ``lo … hi-1`` in flat grid order) and written atomically (temporary file, then ``os.replace``),
    so a file that exists is complete; the manifest (``status: running``) lists the done ranges.
    The files, not the chunk length, define what is done: a resumed run may use another chunk length
    or device count and still recomputes nothing finished.
    """

    def __init__(self, out: Path, n: int):
        self.out, self.n = out, n
        self.dir = out / CHUNKS

    @classmethod
    def open(cls, out: str | Path, spec: SweepSpec, manifest: dict, *, overwrite: bool = False) -> Ledger:
        """Start or resume ``spec`` in ``out``; refuse a directory holding a different sweep."""
        import tomllib

        from lrsweep.config import SweepError

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        ledger = cls(out, spec.size)
        resume = False
        if (out / SWEEP).exists() and (out / MANIFEST).exists():
            try:
                old = from_dict(tomllib.loads((out / SWEEP).read_text()), source=str(out / SWEEP),
                                resolve=False).to_dict()
                old_manifest = json.loads((out / MANIFEST).read_text())
                status = old_manifest.get("status")
            except (ValueError, OSError) as e:
                old, status, old_manifest = None, f"unreadable ({e})", {}
            diff = _first_difference(_comparable(old), _comparable(spec.to_dict())) if old is not None else "unreadable"
            if not diff and status == "running" and old_manifest.get("fingerprint") is not None:
                # the same sweep: but was it run by the same code?
                diff = _first_difference(old_manifest.get("fingerprint"), manifest.get("fingerprint"), "code")
            if diff and not overwrite:
                raise SweepError(str(out), "out", "a results directory of the same sweep",
                                 raw=f"{out}: holds results of a different sweep ({diff}); choose another --out, "
                                     "or pass --overwrite to replace them")
            resume = not diff and status == "running"
        if not resume:
            shutil.rmtree(ledger.dir, ignore_errors=True)
        ledger.dir.mkdir(exist_ok=True)
        (out / SWEEP).write_text(tomli_w.dumps(_toml_ready(spec.to_dict())))
        ledger.manifest = {**manifest, "status": "running"}
        ledger._save_manifest()
        return ledger

    def done(self) -> list[tuple[int, int]]:
        """Finished ``(lo, hi)`` ranges, sorted."""
        spans = []
        for f in self.dir.glob("rows-*-*.npz"):
            _, lo, hi = f.stem.split("-")
            spans.append((int(lo), int(hi)))
        return sorted(spans)

    def missing(self) -> list[tuple[int, int]]:
        """The ``(lo, hi)`` ranges still to compute."""
        gaps, at = [], 0
        for lo, hi in self.done():
            if lo > at:
                gaps.append((at, lo))
            at = max(at, hi)
        if at < self.n:
            gaps.append((at, self.n))
        return gaps

    def write(self, lo: int, hi: int, metrics: dict[str, np.ndarray]) -> None:
        """Store one finished chunk atomically, then record it in the manifest."""
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=self.dir)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **metrics)
        os.replace(tmp, self.dir / f"rows-{lo:012d}-{hi:012d}.npz")
        self._save_manifest()

    def read(self, columns: tuple[str, ...] | None = None) -> Iterator[tuple[int, int, dict[str, np.ndarray]]]:
        """``(lo, hi, metrics)`` of every finished chunk in grid order (one chunk in memory at a time)."""
        for lo, hi in self.done():
            with np.load(self.dir / f"rows-{lo:012d}-{hi:012d}.npz") as z:
                yield lo, hi, {k: z[k] for k in (columns or z.files)}

    def finish(self) -> None:
        """Drop the chunk files once the table holds them."""
        shutil.rmtree(self.dir, ignore_errors=True)

    def _save_manifest(self) -> None:
        done = self.done()
        self.manifest["chunks_done"] = [list(s) for s in _merge(done)]
        self.manifest["configurations_done"] = sum(hi - lo for lo, hi in done)
        write_json(self.out / MANIFEST, self.manifest)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for lo, hi in spans:
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [tuple(s) for s in out]
