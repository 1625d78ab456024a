"""The public surface: ``lrsweep.__all__`` names what the package offers, each name imports, and importing
the package or asking the command for ``--help`` / ``--version`` starts no JAX (they answer in well under a
second; the test allows 2 s of wall time for a loaded machine)."""

import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

import lrsweep

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "JAX_PLATFORMS": "cpu"}


def test_all_is_the_documented_surface():
    assert lrsweep.__all__ == sorted(set(lrsweep.__all__) - {"__version__"}) + ["__version__"]
    for name in ("Problem", "sweep", "logspace", "linspace", "load_sweep", "from_dict", "run", "load_results",
                 "SweepSpec", "SweepError", "BusyError", "SweepResult", "Outcome", "Axis"):
        assert name in lrsweep.__all__


@pytest.mark.parametrize("name", lrsweep.__all__)
def test_every_public_name_imports(name):
    value = getattr(lrsweep, name)
    assert value is not None
    assert name in dir(lrsweep)


def test_version_is_the_package_version():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert lrsweep.__version__ == meta["version"]


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        lrsweep.nope  # noqa: B018


def _python(*args: str) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, *args], env=ENV, capture_output=True, text=True, timeout=120, cwd=ROOT)
    return r, time.perf_counter() - t0


def _imported(importtime_stderr: str) -> set[str]:
    """Module names from ``python -X importtime``'s report (``import time: self | cumulative | name``)."""
    return {line.rsplit("|", 1)[1].strip() for line in importtime_stderr.splitlines()
            if line.startswith("import time:") and line.count("|") == 2}


def test_import_lrsweep_starts_no_jax():
    r, _ = _python("-X", "importtime", "-c", "import lrsweep")
    assert r.returncode == 0, r.stderr[-2000:]
    mods = _imported(r.stderr)
    assert "lrsweep" in mods
    assert not {m for m in mods if m == "jax" or m.startswith(("jax.", "jaxlib", "matplotlib", "optax"))}


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_cli_help_and_version_are_fast(flag):
    """No JAX, optax or matplotlib behind ``--help`` / ``--version`` (what made them take seconds)."""
    r, seconds = _python("-X", "importtime", "-m", "lrsweep", flag)
    assert r.returncode == 0, r.stderr[-2000:]
    assert ("usage: lrsweep" in r.stdout) if flag == "--help" else r.stdout.strip() == f"lrsweep {lrsweep.__version__}"
    mods = _imported(r.stderr)
    assert not {m for m in mods if m == "jax" or m.startswith(("jax.", "jaxlib", "matplotlib", "optax"))}
    r, seconds = _python("-m", "lrsweep", flag)  # timed without -X importtime's own overhead
    assert r.returncode == 0 and seconds < 2.0, seconds
