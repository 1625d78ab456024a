"""The results directory: tables, resolved sweep, manifest — written atomically, read back for plots.

``results/<name>/`` holds:

================  =====================================================================
``sweep.toml``    the resolved sweep definition (defaults filled, overrides applied)
``table.parquet`` one row per configuration: every axis value and every metric
``boundary.csv``  one row per slice: grid bracket, refined ``lower/upper/critical``,
                  ``critical_asymptotic``, theory where it exists
``transitions.csv`` every sign change of the diverged flag along the boundary axis
``sensitivity.csv`` (with ``[boundary] sensitivity_range``) one row per slice of the axes other than the
                  learning rate: Wortsman et al.'s LR sensitivity (:mod:`lrsweep.sensitivity`)
``trajectories.parquet`` (optional) loss and parameters per step of chosen configurations
``manifest.json`` status, times, versions, devices, git commit, compile/run time, throughput
================  =====================================================================

Files are first written into a hidden temporary folder beside them and moved into
place one by one (``os.replace``), the manifest last; a run that fails midway leaves
the previous results untouched and no partial file.
"""

from __future__ import annotations

import errno
import json
import logging
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

from lrsweep.config import SweepSpec, from_dict

log = logging.getLogger("lrsweep")  # warnings and the size estimate; the CLI prints them on stderr

TABLE = "table.parquet"
BOUNDARY = "boundary.csv"
TRANSITIONS = "transitions.csv"
SENSITIVITY = "sensitivity.csv"
TRAJECTORIES = "trajectories.parquet"
MANIFEST = "manifest.json"
SWEEP = "sweep.toml"


@dataclass
class SweepResult:
    """Everything a sweep produced. ``table`` has one row per configuration, ``boundary`` one per slice of
    the axes other than the boundary axis, ``sensitivity`` (with ``[boundary] sensitivity_range``) one per
    slice of the axes other than the learning rate: ``sensitivity``, ``sensitivity_best_loss``,
    ``sensitivity_best_lr``, ``sensitivity_initial``, ``sensitivity_points``."""

    spec: SweepSpec
    table: pd.DataFrame
    boundary: pd.DataFrame | None = None
    transitions: pd.DataFrame | None = None
    trajectories: pd.DataFrame | None = None
    manifest: dict = field(default_factory=dict)
    sensitivity: pd.DataFrame | None = None
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
    writers = {SWEEP: lambda p: p.write_text(result.spec.to_toml())}
    if table_file is None:
        writers[TABLE] = lambda p: result.table.to_parquet(p, index=False)
    if result.boundary is not None:
        writers[BOUNDARY] = lambda p: result.boundary.to_csv(p, index=False, float_format=_float_text)
    if result.transitions is not None:
        writers[TRANSITIONS] = lambda p: result.transitions.to_csv(p, index=False, float_format=_float_text)
    if result.sensitivity is not None:
        writers[SENSITIVITY] = lambda p: result.sensitivity.to_csv(p, index=False, float_format=_float_text)
    if result.trajectories is not None:
        writers[TRAJECTORIES] = lambda p: result.trajectories.to_parquet(p, index=False)
    writers |= dict(extra_files or {})
    for name, writer in writers.items():
        atomic_write(out / name, writer)
    if table_file is not None:
        _fsync(table_file)
        os.replace(table_file, out / TABLE)
        _fsync(out)
    for stale in (BOUNDARY, TRANSITIONS, SENSITIVITY, TRAJECTORIES):
        if stale not in writers and (out / stale).exists():
            (out / stale).unlink()
    # the manifest last, naming what belongs together: a hash of the sweep file and of every file written
    result.manifest["sweep_hash"] = file_sha256(out / SWEEP)
    result.manifest["files"] = {name: file_sha256(out / name) for name in [*writers, TABLE] if name != SWEEP}
    write_json(out / MANIFEST, result.manifest)
    result.path = out
    return out


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sweep_hash(spec: SweepSpec) -> str:
    """SHA-256 of what decides a sweep's numbers (its resolved definition without the chunk length,
    device count and description): stamped into every chunk file, so a foreign chunk is recognised."""
    import hashlib

    return hashlib.sha256(json.dumps(_comparable(spec.to_dict()), sort_keys=True, default=str).encode()).hexdigest()


def _fsync(path: str | Path) -> None:
    """Flush a file's (or directory's) data to the disk: a host crash cannot leave it empty."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a directory
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write) -> Path:
    """Write ``path`` atomically and durably: ``write(tmp)`` fills a temporary file beside it, which is
    fsync-ed, renamed over ``path`` (``os.replace``), and the directory fsync-ed. Readers see the old
    file or the new one, never a part; a host crash cannot leave an empty file in its place. The
    temporary file is removed if ``write`` fails."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would follow the file into place
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync(path.parent)
    return path


def load(path: str | Path) -> SweepResult:
    """Read a results directory back (no recomputation)."""
    import tomllib

    from lrsweep.config import SweepError

    path = Path(path)
    if not (path / MANIFEST).exists() or not (path / TABLE).exists():
        raise FileNotFoundError(f"{path}: not a results directory (no {MANIFEST} / {TABLE}); run `lrsweep run` first")

    def read(name, reader, what):
        try:
            return reader(path / name)
        except SweepError:
            raise
        except Exception as e:  # noqa: BLE001  (truncated, foreign, unreadable, not UTF-8 …)
            msg = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise SweepError(str(path / name), name, what,
                             raw=f"{path / name}: expected {what}, found an unreadable file ({msg})") from None

    manifest = read(MANIFEST, lambda p: json.loads(p.read_text()), "the JSON manifest of a run")
    if not isinstance(manifest, dict):
        raise SweepError(str(path / MANIFEST), "manifest", "a JSON object", type(manifest).__name__)
    if manifest.get("status") != "complete":
        raise SweepError(str(path / MANIFEST), "status", "complete", raw=f"{path / MANIFEST}: status: expected "
                         f"'complete', found {manifest.get('status')!r} (an unfinished run: run the same command "
                         "again to finish it)")
    check_belongs(path, manifest)
    spec = read(SWEEP, lambda p: from_dict(tomllib.loads(p.read_text()), source=str(p), resolve=False),
                "the resolved sweep file (TOML)")
    table = read(TABLE, pd.read_parquet, "a Parquet table")
    boundary = read(BOUNDARY, pd.read_csv, "a CSV table") if (path / BOUNDARY).exists() else None
    transitions = read(TRANSITIONS, pd.read_csv, "a CSV table") if (path / TRANSITIONS).exists() else None
    traj = read(TRAJECTORIES, pd.read_parquet, "a Parquet table") if (path / TRAJECTORIES).exists() else None
    sens = read(SENSITIVITY, pd.read_csv, "a CSV table") if (path / SENSITIVITY).exists() else None
    return SweepResult(spec=spec, table=table, boundary=boundary, transitions=transitions, trajectories=traj,
                       manifest=manifest, path=path, sensitivity=sens)


def check_belongs(path: Path, manifest: dict) -> None:
    """The sweep file and every table of a results directory are the ones its manifest was written with
    (their SHA-256 recorded at the end of the run); results written before the hashes existed pass."""
    from lrsweep.config import SweepError

    recorded = {SWEEP: manifest.get("sweep_hash"), **(manifest.get("files") or {})}
    for name, digest in recorded.items():
        if digest is None:
            continue
        if not (path / name).exists():
            raise SweepError(str(path / name), name, "a file", raw=f"{path / name}: expected the file the manifest "
                             "records, found none (the directory was changed after the run)")
        if file_sha256(path / name) != digest:
            raise SweepError(str(path / name), name, "the file of this run", raw=f"{path / name}: does not belong to "
                             f"{path / MANIFEST} (its SHA-256 differs from the one recorded at the end of the run: "
                             "another run's file, or changed since); rerun the sweep")


# --------------------------------------------------------------------------- size, before anything runs

ROW_METRICS = 16  # metric columns per configuration, an upper bound (outcome, losses, score, steps, …)


@dataclass(frozen=True)
class Size:
    """What a sweep will need, estimated from its grid alone (nothing is materialised)."""

    configurations: int
    disk: int     # bytes: chunk files and the table they become (both exist while the table is assembled)
    memory: int   # bytes of host memory: the boundary search's whole-grid columns, the in-memory table

    def text(self) -> str:
        return (f"{self.configurations:,} configurations: up to {_bytes(self.disk)} on disk, "
                f"{_bytes(self.memory)} of memory")


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def estimate(spec: SweepSpec, in_memory: int = 1 << 22) -> Size:
    """Disk and host memory of ``spec``, an upper bound: 8 bytes per axis value and metric per configuration,
    twice on disk (chunks, then the table); in memory the boundary search's two whole-grid columns, and
    the table itself when the grid has at most ``in_memory`` configurations (the size is a product of the
    axis lengths, never an array). Measured on a 90,000-configuration quadratic sweep: 61 bytes per
    configuration in chunk files and 30 in ``table.parquet``, against 304 estimated.

    >>> from lrsweep.config import from_dict
    >>> s = from_dict({"name": "x", "steps": 5, "loss": {"name": "quadratic", "curvatures": [1.0]},
    ...                "init": {"points": [[1.0]]}, "axes": {"learning_rate": {"min": 0.1, "max": 1, "num": 1000}}})
    >>> estimate(s).disk
    288000
    """
    n = spec.size
    row = 8 * (len(spec.axes) + ROW_METRICS + 1)
    memory = n * 16 * (spec.boundary.axis is not None) + (n * row if n <= in_memory else 0)
    return Size(n, 2 * n * row, memory)


def free_disk(out: Path) -> int | None:
    """Free bytes on the file system ``out`` would be created on (``None`` if unknown)."""
    p = Path(out)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except (OSError, ValueError):
        return None


def free_memory() -> int | None:
    """Available host memory in bytes (``MemAvailable`` of /proc/meminfo; ``None`` if unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_size(spec: SweepSpec, out: Path | None, *, force: bool = False, say: bool = False,
               in_memory: int = 1 << 22) -> Size:
    """Refuse (one line, with the numbers) a sweep whose estimated disk or memory exceeds what is free,
    unless ``force``; log the estimate (INFO, logger ``lrsweep``) when ``say``."""
    from lrsweep.config import SweepError

    size = estimate(spec, in_memory)
    disk = free_disk(out) if out is not None else None
    mem = free_memory()
    if say:
        free = [f"{_bytes(disk)} free on disk"] * (disk is not None) + [f"{_bytes(mem)} free memory"] * (mem is not None)
        log.info(f"{spec.name}: {size.text()}" + (f" ({', '.join(free)})" if free else ""))
    if force:
        return size
    if out is not None and disk is not None and size.disk > disk:
        raise SweepError(spec.source, "axes", "a grid that fits on disk", raw=f"{spec.source}: axes: {size.text()}, "
                         f"but {_bytes(disk)} are free under {out}; use fewer points, or --force to start anyway")
    if mem is not None and size.memory > mem:
        raise SweepError(spec.source, "axes", "a grid that fits in memory", raw=f"{spec.source}: axes: {size.text()}, "
                         f"but {_bytes(mem)} of memory are available; use fewer points, or --force to start anyway")
    return size


# --------------------------------------------------------------------------- chunks on disk: resume, lock

CHUNKS = "chunks"
LOCK = ".lock"
_VOLATILE = {("run", "chunk_size"), ("run", "devices"), ("description",)}  # do not change a single result


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically and durably (:func:`atomic_write`)."""
    text = json.dumps(obj, indent=2, default=str) + "\n"
    atomic_write(path, lambda p: p.write_text(text))


EXCLUSIVE = ".lock.exclusive"
_NO_FLOCK = {getattr(errno, n) for n in ("ENOSYS", "ENOLCK", "EOPNOTSUPP", "ENOTSUP") if hasattr(errno, n)}


def make_dir(out: Path) -> list[Path]:
    """Create ``out`` (and missing parents); returns the directories created, deepest first. Every failure
    (read-only, under a regular file, a file of that name, a NUL byte) is one line naming ``--out``."""
    from lrsweep.config import SweepError

    created, p = [], Path(out)
    try:
        while not p.exists() and p != p.parent:
            created.append(p)
            p = p.parent
        if Path(out).exists() and not Path(out).is_dir():
            raise FileExistsError(errno.EEXIST, "exists and is not a directory")
        Path(out).mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(prefix=".tmp-", dir=out)  # writable?
        probe.close()
    except (OSError, ValueError) as e:
        for d in created:
            try:
                d.rmdir()
            except (OSError, ValueError):
                pass
        why = (e.strerror or str(e)) if isinstance(e, OSError) else str(e)
        raise SweepError(str(out), "--out", "a directory that can be created and written",
                         raw=f"--out {str(out)!r}: expected a writable results directory, found: {why}") from None
    return created


class Lock:
    """An exclusive ``flock`` on ``DIR/.lock`` for the duration of a run, taken before anything is traced.

    A second process running into the same directory is refused at once (not queued), with the
    holder's pid and host in the message. The kernel drops the lock when its holder dies, even by
    ``SIGKILL``, so an interrupted run never leaves a stale lock behind. Where the file system has no
    ``flock`` (``ENOSYS``/``ENOLCK``: Lustre without flock, some NFS) the lock is an exclusively created
    ``DIR/.lock.exclusive`` instead, with a warning: that one outlives a killed run and must be deleted
    by hand. A run that fails before writing anything removes the directories it created.
    """

    def __init__(self, out: str | Path):
        self.path = Path(out) / LOCK
        self._fd = None
        self._exclusive = None
        self._created: list[Path] = []

    def __enter__(self) -> Lock:
        import fcntl

        self._created = make_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            os.close(fd)
            self._busy(holder)
        except OSError as e:
            if e.errno not in _NO_FLOCK:
                raise
            os.close(fd)
            self.path.unlink(missing_ok=True)
            return self._enter_exclusive(e)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {platform.node()}".encode())
        self._fd = fd
        return self

    def _busy(self, holder: str, hint: str = ""):
        from lrsweep.config import BusyError

        self._forget()
        raise BusyError(str(self.path.parent), "out", "a results directory no other run is writing",
                         raw=f"{self.path.parent}: another lrsweep run is writing here ({holder}); wait for it "
                             f"to finish, or choose another --out{hint}") from None

    def _enter_exclusive(self, why: OSError) -> Lock:
        path = self.path.parent / EXCLUSIVE
        log.warning(f"lrsweep: warning: {self.path.parent}: no file locks here "
                    f"({errno.errorcode.get(why.errno, why.errno)}); locking with {EXCLUSIVE} instead (delete it by "
                    "hand if a run was killed)")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = path.read_text(errors="replace").strip() or "another process"
            self._busy(holder, f" (or delete {path} if no run is alive)")
        os.write(fd, f"pid {os.getpid()} on {platform.node()}".encode())
        os.close(fd)
        self._exclusive = path
        return self

    def _forget(self) -> None:
        for d in self._created:  # refused or failed: leave no directory that was not there
            try:
                d.rmdir()  # only if empty
            except OSError:
                break

    def __exit__(self, *exc) -> None:
        import fcntl

        if self._fd is not None:
            self.path.unlink(missing_ok=True)  # while still held: no results directory keeps a stray .lock
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._exclusive is not None:
            self._exclusive.unlink(missing_ok=True)
            self._exclusive = None
        if exc and exc[0] is not None:
            self._forget()


def flock(fd: int, op: int) -> None:
    """``fcntl.flock`` (one name to patch in tests of file systems without it)."""
    import fcntl

    fcntl.flock(fd, op)


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
        out = Path(out)
        make_dir(out)
        ledger = cls(out, spec.size)
        resume, diff, old_manifest = cls.compare(out, spec, manifest, overwrite=overwrite)
        if not resume:
            shutil.rmtree(ledger.dir, ignore_errors=True)
        _clean(out)
        ledger.dir.mkdir(exist_ok=True)
        ledger.stamp = sweep_hash(spec)
        if resume:
            ledger._validate()
        atomic_write(out / SWEEP, lambda p: p.write_text(spec.to_toml()))
        # a rerun of the same sweep keeps what the manifest knew (versions, host, times) until it is replaced
        kept = {k: v for k, v in old_manifest.items() if k not in ("status", "chunks_done", "configurations_done",
                                                                   "sweep_hash", "files")} \
            if isinstance(old_manifest, dict) and not diff else {}
        ledger.manifest = {**kept, **manifest, "status": "running"}
        ledger._save_manifest()
        return ledger

    @staticmethod
    def compare(out: str | Path, spec: SweepSpec, manifest: dict, *, overwrite: bool = False
                ) -> tuple[bool, str | None, dict]:
        """What ``out`` holds, read only: ``(resume, difference, old manifest)``; a directory holding a
        different sweep (or the same sweep started by other code) is refused unless ``overwrite``. Cheap:
        run before anything is traced."""
        import tomllib

        from lrsweep.config import SweepError

        out = Path(out)
        resume, diff = False, None
        old_manifest = {}
        if (out / SWEEP).exists() and (out / MANIFEST).exists():
            try:
                where = out / SWEEP
                old = from_dict(tomllib.loads(where.read_text()), source=str(where), resolve=False).to_dict()
                where = out / MANIFEST
                old_manifest = json.loads(where.read_text())
                status = old_manifest.get("status")
            except (ValueError, OSError, AttributeError) as e:
                msg = (str(e).strip().splitlines() or [type(e).__name__])[0]
                old, status, old_manifest = None, "unreadable", {}
                unreadable = f"{where} is unreadable: {msg}"
            diff = _first_difference(_comparable(old), _comparable(spec.to_dict())) if old is not None else unreadable
            if not diff and status == "running" and old_manifest.get("fingerprint") is not None:
                # the same sweep: but was it run by the same code?
                diff = _first_difference(old_manifest.get("fingerprint"), manifest.get("fingerprint"), "code")
            if diff and not overwrite:
                raise SweepError(str(out), "out", "a results directory of the same sweep",
                                 raw=f"{out}: holds results of a different sweep ({diff}); choose another --out, "
                                     "or pass --overwrite to replace them")
            resume = not diff and status == "running"
        return resume, diff, old_manifest if isinstance(old_manifest, dict) else {}

    def _validate(self) -> None:
        """Drop chunk files that cannot be this sweep's: unreadable or truncated, stamped by another sweep,
        rows outside the grid or overlapping another file, columns of another length. Each is recomputed
        (a warning names it)."""
        seen, at = None, 0
        for lo, hi in self.done():
            f = self._file(lo, hi)
            why = None
            if lo >= hi or hi > self.n or lo < at:
                why = f"rows {lo}..{hi} do not fit a grid of {self.n} or overlap another chunk"
            else:
                try:
                    with open(f, "rb") as fh, np.load(fh) as z:  # np.load leaks its own handle on a bad zip
                        cols = {k: z[k] for k in z.files}
                    stamp = cols.pop(_STAMP, None)
                    if stamp is not None and str(stamp) != self.stamp:
                        why = "written by another sweep"
                    elif not cols or any(np.shape(v) != (hi - lo,) for v in cols.values()):
                        why = f"expected {hi - lo} values per column"
                    elif seen is not None and set(cols) != seen:
                        why = f"columns {sorted(cols)} differ from the other chunks' {sorted(seen)}"
                    else:
                        seen = set(cols)
                except Exception as e:  # noqa: BLE001  (truncated zip, not a zip, …)
                    why = f"unreadable ({type(e).__name__})"
            if why is None:
                at = hi
                continue
            log.warning(f"lrsweep: warning: {f}: {why}; recomputing those configurations")
            f.unlink(missing_ok=True)

    def _file(self, lo: int, hi: int) -> Path:
        return self.dir / f"rows-{lo:012d}-{hi:012d}.npz"

    def done(self) -> list[tuple[int, int]]:
        """Finished ``(lo, hi)`` ranges, sorted (files not named ``rows-<lo>-<hi>.npz`` are ignored)."""
        spans = []
        for f in self.dir.glob("rows-*-*.npz"):
            parts = f.stem.split("-")
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                spans.append((int(parts[1]), int(parts[2])))
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
        stamp = getattr(self, "stamp", None)
        extra = {_STAMP: np.asarray(stamp)} if stamp is not None else {}

        def write(p):
            with open(p, "wb") as f:
                np.savez(f, **metrics, **extra)

        atomic_write(self._file(lo, hi), write)
        self._save_manifest()

    def read(self, columns: tuple[str, ...] | None = None) -> Iterator[tuple[int, int, dict[str, np.ndarray]]]:
        """``(lo, hi, metrics)`` of every finished chunk in grid order (one chunk in memory at a time)."""
        for lo, hi in self.done():
            with np.load(self._file(lo, hi)) as z:
                yield lo, hi, {k: z[k] for k in (columns or z.files) if k != _STAMP}

    def finish(self) -> None:
        """Drop the chunk files once the table holds them."""
        shutil.rmtree(self.dir, ignore_errors=True)

    def _save_manifest(self) -> None:
        done = self.done()
        self.manifest["chunks_done"] = [list(s) for s in _merge(done)]
        self.manifest["configurations_done"] = sum(hi - lo for lo, hi in done)
        write_json(self.out / MANIFEST, self.manifest)


_STAMP = "__sweep__"  # the sweep hash inside every chunk file
FIGURE_NAMES = tuple(f"{k}.{f}" for k in ("phase", "boundary", "loss", "trajectories", "schedules")
                     for f in ("pdf", "png", "svg")) + ("report.html",)


def _clean(out: Path) -> None:
    """Before a run writes: temporaries a killed run left (``.tmp-*``) and figures drawn from other data
    (a run that draws none must not leave old ones beside new tables)."""
    for d in (out, out / CHUNKS):
        for f in d.glob(".tmp-*") if d.is_dir() else ():
            shutil.rmtree(f, ignore_errors=True) if f.is_dir() else f.unlink(missing_ok=True)
    for name in FIGURE_NAMES:
        (out / name).unlink(missing_ok=True)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for lo, hi in spans:
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [tuple(s) for s in out]
