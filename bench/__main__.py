"""Run every measurement under bench/ in one process and print one table.

``python -m bench`` (``make bench``) measures everything and writes the table to bench/RESULTS.md;
``--quick`` runs small counts for a smoke run and ``--only`` picks sections; neither writes the file.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
from pathlib import Path

from .table import Row, markdown

SECTIONS = ("token-economy", "auth-overhead", "lab", "suite")
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def _progress(section: str) -> None:
    print(f"measuring {section} …", file=sys.stderr, flush=True)


def measure(sections: tuple[str, ...], quick: bool) -> list[Row]:
    rows: list[Row] = []
    latency = None
    if {"token-economy", "auth-overhead", "lab"} & set(sections):
        from keyless_lab import Lab

        from . import auth_overhead, lab_load, lab_start, token_economy

        with Lab(preset="ready") as lab:
            if "token-economy" in sections:
                _progress("token economy")
                rows += token_economy.rows(lab, *((10, 10, 3) if quick else (1000, 200, 50)))
            if "auth-overhead" in sections:
                _progress("auth overhead")
                overhead, latency = auth_overhead.rows(lab, rounds=2 if quick else 15)
                rows += overhead
            if "lab" in sections:
                _progress("lab cold start and load")
                rows += lab_start.rows(repeats=3 if quick else 10)
                rows += lab_load.rows(lab, calls=64 if quick else 320, request_latency=latency)
    if "suite" in sections:
        from . import suite_time

        _progress("suite time (notebooks, then make test in a fresh clone)")
        rows += suite_time.notebook_rows(parallel=not quick)
        rows += [] if quick else suite_time.fresh_clone_rows()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument("--only", help=f"comma-separated sections out of {', '.join(SECTIONS)}")
    args = parser.parse_args(argv)
    sections = tuple(s.strip() for s in args.only.split(",")) if args.only else SECTIONS
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")

    load_before = _load()
    rows = measure(sections, args.quick)
    table = markdown(rows)
    print(table)
    if args.quick or args.only:
        return
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    RESULTS.write_text(
        "# Benchmark results\n\n"
        f"Measured by `make bench` on {datetime.date.today().isoformat()} at commit {commit}: "
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, load average (1/5/15 min) "
        f"{load_before} before and {_load()} after the run. Medians over repeats; ratios where comparing.\n\n"
        f"{table}\n"
    )
    print(f"\nwritten to {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")


if __name__ == "__main__":
    main()
