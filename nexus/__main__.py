"""Command line: ``python -m nexus doctor | execute [NOTEBOOK ...] | bench | normalise NOTEBOOK ...``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nexus", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check every service: mode, reachability, version, latency")
    ex = sub.add_parser("execute", help="re-run notebooks on the embedded services and store their outputs")
    ex.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter")
    sub.add_parser("bench", help="measure the performance budgets and print the table")
    norm = sub.add_parser("normalise", help="drop run- and machine-specific notebook metadata (pre-commit)")
    norm.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)

    if args.command == "doctor":
        from nexus.services import doctor

        return doctor()
    from nexus import notebooks

    if args.command == "normalise":
        import nbformat

        for path in args.notebooks:
            nb = nbformat.read(path, as_version=4)
            notebooks.normalise(nb)
            nbformat.write(nb, path)
        return 0
    if args.command == "execute":
        for path in args.notebooks or notebooks.chapters():
            seconds = notebooks.execute(path)
            print(f"{seconds:6.1f} s  {path}")
        return 0
    return notebooks.bench()


if __name__ == "__main__":
    sys.exit(main())
