"""Sharding over local devices and multi-process runs: the table is the same, bit for bit.

Both run in subprocesses: the number of CPU devices is fixed when JAX starts (as in optax's tests,
several host devices stand in for accelerators), and two processes joined by JAX's distributed runtime
(gloo collectives on 127.0.0.1) stand in for two hosts.
"""

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd

import lrsweep

ENV = {**os.environ, "JAX_PLATFORMS": "cpu"}
ENV.pop("XLA_FLAGS", None)

SWEEPS = {
    "momentum": {"name": "hb", "steps": 120, "loss": {"name": "quadratic", "curvatures": [1.0, 10.0]},
                 "init": {"points": [[1.0, 1.0]]}, "optimizer": {"name": "sgd"},
                 "axes": {"learning_rate": {"min": 1e-3, "max": 1.0, "num": 50, "scale": "log"},
                          "momentum": {"values": [0.0, 0.5, 0.9]}},
                 "boundary": {"axis": "learning_rate"}, "run": {"batch": 16, "chunk_size": 32}},
    "mlp_sgd": {"name": "mlp", "steps": 60, "dtype": "float64",
                "loss": {"name": "mlp", "width": 8, "n_inputs": 4, "n_data": 8},
                "optimizer": {"name": "sgd", "momentum": 0.9},
                 "axes": {"learning_rate": {"min": 1e-3, "max": 3.0, "num": 40, "scale": "log"},
                          "seed": {"values": [0, 1]}},
                 "boundary": {"max_rounds": 0}, "run": {"batch": 16, "chunk_size": 16}},
}


def _python(code: str, timeout=240) -> str:
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=ENV, capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def test_sharded_over_two_devices_equals_one_device(tmp_path):
    """`shard_map` over two CPU devices gives the single-device table bit for bit (each device runs the
    same `run.batch`-wide program on its half of every chunk).

    Adam is the exception noted in the README: with two partitions XLA's SPMD pipeline keeps a division
    in Adam's bias correction that the one-partition program turns into a multiplication by a
    reciprocal, so runs differ from the last bit on (amplified by 60 steps of the dynamics: checked here to
    1e-6 relative in float64, outcomes equal)."""
    adam = {**SWEEPS["mlp_sgd"], "optimizer": {"name": "adam"}}
    out = _python(f"""
        import jax, numpy as np
        jax.config.update("jax_num_cpu_devices", 2)
        import lrsweep, pandas as pd
        assert len(jax.devices()) == 2
        for name, d in {SWEEPS!r}.items():
            spec = lrsweep.from_dict(d)
            one = lrsweep.run(spec, progress=False, devices=1)
            two = lrsweep.run(spec, progress=False, devices=2)
            assert two.manifest["devices"] == 2 and two.manifest["compiles"] == 1
            pd.testing.assert_frame_equal(one.table, two.table, check_exact=True)
            if one.boundary is not None:
                pd.testing.assert_frame_equal(one.boundary, two.boundary, check_exact=True)
            print(name, "identical", len(one.table))
        spec = lrsweep.from_dict({adam!r})
        one = lrsweep.run(spec, progress=False, devices=1).table
        two = lrsweep.run(spec, progress=False, devices=2).table
        assert (one["outcome"] == two["outcome"]).all()
        np.testing.assert_allclose(two["final_loss"], one["final_loss"], rtol=1e-6)
        print("adam", "close", len(one))
    """)
    assert out.split() == ["momentum", "identical", "150", "mlp_sgd", "identical", "80", "adam", "close", "80"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_assemble_the_single_process_table(tmp_path):
    """`lrsweep run --distributed`: two processes (jax.distributed on 127.0.0.1, gloo) each run half of
    the chunks; process 0 gathers them and writes the table a single process writes."""
    spec = lrsweep.from_dict(SWEEPS["momentum"])
    f = tmp_path / "s.toml"
    f.write_text(spec.to_toml())
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, "-m", "lrsweep", "run", str(f), "--out", str(tmp_path / "dist"),
                               "--quiet", "--no-figures", "--devices", "1", "--distributed",
                               "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(i)],
                              env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err[-3000:]
    single = lrsweep.run(lrsweep.load_sweep(f), out=tmp_path / "single", progress=False, devices=1)
    dist = pd.read_parquet(tmp_path / "dist" / "table.parquet")
    pd.testing.assert_frame_equal(dist, pd.read_parquet(tmp_path / "single" / "table.parquet"), check_exact=True)
    assert (tmp_path / "dist" / "boundary.csv").read_text() == (tmp_path / "single" / "boundary.csv").read_text()
    import json

    manifest = json.loads((tmp_path / "dist" / "manifest.json").read_text())
    assert manifest["processes"] == 2 and manifest["status"] == "complete"
    assert single.manifest["configurations"] == len(dist)


def test_host_devices_before_and_after_jax_starts():
    """`devices.host_devices(n)` sets n CPU devices before JAX's backends start (public config only, no
    `jax._src`); once they run it leaves them as they are instead of raising."""
    out = _python("""
        from lrsweep import devices
        devices.host_devices(3)
        import jax
        print(len(jax.devices()))
        devices.host_devices(2)  # too late: the backends run with 3
        print(len(jax.devices()))
    """)
    assert out.split() == ["3", "3"]
    source = (Path(__file__).parents[1] / "lrsweep" / "devices.py").read_text()
    assert "jax._src" not in source
