"""``python -m lrsweep`` — the same as the ``lrsweep`` command."""

from lrsweep.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
