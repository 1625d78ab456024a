#!/usr/bin/env python3
"""Throughput benchmark: ``python benchmarks/throughput.py [options]`` is ``lrsweep bench [options]``.

The implementation (cases, baselines, machine limits, table, JSON) lives in ``benchmarks/harness.py``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmark the checkout this file sits in

from harness import main  # noqa: E402  (this folder is on sys.path: the script's own)

if __name__ == "__main__":
    sys.exit(main())
