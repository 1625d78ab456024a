"""Where a sweep's time goes on XLA:CPU: the passes over the configuration vectors per update.

    python benchmarks/hlo_passes.py [--cases hb_lr_momentum,quad1d] [--size 65536]

On a CPU each fusion (and each copy XLA inserts between loop iterations) of a vmapped loop body is one
pass over the vectors of a block of configurations: for losses as cheap as x² the time is the number of
passes, not the flops. This script compiles, for each bench case (:mod:`harness`), lrsweep's program
(``Program(spec).compile()``, lrsweep's defaults) and the fair ceiling (e) (:func:`harness.ceiling_sweep`:
the rule read at every update, frozen at once, the divergence step recorded), walks the optimised HLO
(``as_text()``), and counts the array-valued fusions and copies of every computation, weighted by how
many times it runs: the trip counts of the ``while`` loops around it (XLA's ``known_trip_count``; a
``conditional``'s branches — lrsweep's replay, run only for blocks holding a diverged run — are counted
as if taken). It prints each loop (trip count, passes per iteration) and the total passes per
configuration-step. Nothing is timed.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import numpy as np  # noqa: E402

from lrsweep import devices  # noqa: E402
from lrsweep import grid as lgrid  # noqa: E402
from lrsweep.engine import Program  # noqa: E402

_COMP = re.compile(r"^(ENTRY )?%(\S+) .*\{$")
_PASS = re.compile(r"^\s*(?:ROOT )?%\S+ = (\w+)\[([\d,]*)\][^=]*? (fusion|copy)\(")
_WHILE = re.compile(r"while\(.*?body=%([\w.\-]+).*?known_trip_count\":\{\"n\":\"(\d+)\"")
_COND = re.compile(r"conditional\(.*?branch_computations=\{([^}]*)\}")


def computations(text: str) -> dict[str, list[str]]:
    """The HLO module's computations: name -> instruction lines (the entry is ``"ENTRY"``)."""
    comps, name = {}, None
    for line in text.splitlines():
        m = _COMP.match(line)
        if m:
            name = "ENTRY" if m.group(1) else m.group(2)
            comps[name] = []
        elif name is not None:
            comps[name].append(line)
    return comps


def passes(lines: list[str], min_elements: int) -> int:
    """Fusions and copies producing an array of at least ``min_elements`` elements: one pass each."""
    n = 0
    for line in lines:
        m = _PASS.match(line)
        if m and m.group(2) and int(np.prod([int(d) for d in m.group(2).split(",")])) >= min_elements:
            n += 1
    return n


def loops(text: str, min_elements: int) -> list[dict]:
    """Every computation that runs passes: its name, how many times it runs (the product of the trip
    counts of the loops around it), its passes per run, and its kind (entry, loop body, branch)."""
    comps = computations(text)
    out, stack = [], [("ENTRY", 1, "entry", 0)]
    while stack:
        name, times, kind, depth = stack.pop()
        lines = comps.get(name, [])
        p = passes(lines, min_elements)
        if p:
            out.append({"computation": name, "runs": times, "passes": p, "kind": kind, "depth": depth})
        for line in lines:
            for body, trips in _WHILE.findall(line):
                stack.append((body, times * int(trips), f"loop x{trips}", depth + 1))
            for branches in _COND.findall(line):
                for b in re.findall(r"%([\w.\-]+)", branches):
                    stack.append((b, times, "branch", depth + 1))
    return out


def report(label: str, text: str, n_configs: int, steps: int, min_elements: int) -> float:
    rows = loops(text, min_elements)
    total = sum(r["runs"] * r["passes"] for r in rows)
    print(f"  {label}:")
    for r in sorted(rows, key=lambda r: -r["runs"] * r["passes"]):
        print(f"    {'  ' * r['depth']}{r['kind']:<12} {r['passes']:>3} passes x {r['runs']:>7,} runs "
              f"= {r['runs'] * r['passes']:>9,}  ({r['computation'][:40]})")
    per = total * min_elements / (n_configs * steps)
    print(f"    {per:.2f} passes per configuration-step")
    return per


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", default="quad1d,hb_lr_momentum,quad16d_hb,quad16d_lr_momentum,rosenbrock_adam")
    p.add_argument("--size", type=int, default=65536)
    a = p.parse_args(argv)
    devices.host_devices()
    for case in harness.make_cases(False, sizes=(a.size,), keys=tuple(a.cases.split(","))):
        spec = case.spec(a.size)
        prog = Program(spec)
        values = lgrid.configurations(spec)
        r = prog.evaluate(values)
        prob = harness.bench_problem(case, prog, values, r)
        per_device = min(harness.CEILING_DEVICE_CHUNK, prog.device_chunk)
        n_dev = len(prog.devices)
        print(f"{case.key}: N={spec.size:,}, T={case.steps}, engine K={prog.check_every} B={prog.batch} "
              f"chunk={prog.chunk_size:,} on {n_dev} devices; ceiling chunk {per_device * n_dev:,}")
        # one pass = one vector of a vmapped block (engine: B lanes; ceiling: its per-device chunk)
        engine_text = prog.compile().as_text()
        report("lrsweep", engine_text, prog.device_chunk, case.steps, prog.batch)
        call, _ = harness.ceiling_sweep(prob, list(prog.devices), per_device * n_dev)
        ceiling_text = call.executable.as_text()
        report("(e) fair ceiling", ceiling_text, per_device, case.steps, per_device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
