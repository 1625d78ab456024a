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

import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def save(result: SweepResult, out: str | Path, extra_files: dict[str, Any] | None = None) -> Path:
    """Write ``result`` under ``out`` atomically (file by file, manifest last)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=out))
    try:
        files = {}
        (tmp / SWEEP).write_text(tomli_w.dumps(_toml_ready(result.spec.to_dict())))
        files[SWEEP] = tmp / SWEEP
        result.table.to_parquet(tmp / TABLE, index=False)
        files[TABLE] = tmp / TABLE
        if result.boundary is not None:
            result.boundary.to_csv(tmp / BOUNDARY, index=False, float_format="%.17g")
            files[BOUNDARY] = tmp / BOUNDARY
        if result.transitions is not None:
            result.transitions.to_csv(tmp / TRANSITIONS, index=False, float_format="%.17g")
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
    spec = from_dict(tomllib.loads((path / SWEEP).read_text()), source=str(path / SWEEP))
    manifest = json.loads((path / MANIFEST).read_text())
    table = pd.read_parquet(path / TABLE)
    boundary = pd.read_csv(path / BOUNDARY) if (path / BOUNDARY).exists() else None
    transitions = pd.read_csv(path / TRANSITIONS) if (path / TRANSITIONS).exists() else None
    traj = pd.read_parquet(path / TRAJECTORIES) if (path / TRAJECTORIES).exists() else None
    return SweepResult(spec=spec, table=table, boundary=boundary, transitions=transitions, trajectories=traj,
                       manifest=manifest, path=path)


def asdict(spec: SweepSpec) -> dict:
    return dataclasses.asdict(spec)
