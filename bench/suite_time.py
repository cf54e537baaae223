"""Suite time: each notebook under nbmake, all of them sequentially and with ``pytest -n 2``, and
``make test`` from a fresh clone with a warm package cache.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from .table import Row, verdict

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_LIMIT = 20.0
SUITE_LIMIT = 120.0
# "12.34s call     notebooks/01_x.ipynb::" as printed by --durations=0
DURATION = re.compile(r"^(\d+(?:\.\d+)?)s (?:setup|call|teardown)\s+(\S+?\.ipynb)")
ANY_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s (setup|call|teardown)\s+(.+)$")
SUMMARY = re.compile(r"((?:\d+ [a-z]+(?:, )?)+) in (\d+(?:\.\d+)?)s")


def _pytest(args: list[str], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", *args], capture_output=True, text=True, cwd=cwd)
    return time.perf_counter() - started, done.stdout + done.stderr


def _outcome(output: str) -> str:
    found = SUMMARY.findall(output)
    return found[-1][0] if found else "no summary"


def notebook_rows(parallel: bool = True) -> list[Row]:
    section = "4 · suite time"
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not notebooks:
        return [Row(section, "notebooks under nbmake", "no notebooks in notebooks/ yet")]
    base = ["--nbmake", "--nbmake-timeout=120", "-q", "--durations=0", "-p", "no:cacheprovider", "notebooks/"]
    wall, output = _pytest(base, ROOT)
    times: dict[str, float] = defaultdict(float)
    for line in output.splitlines():
        match = DURATION.match(line.strip())
        if match:
            times[Path(match.group(2)).name] += float(match.group(1))
    out = []
    for notebook in notebooks:
        seconds = times.get(notebook.name)
        if seconds is None:
            out.append(Row(section, f"`{notebook.name}`", "no timing (did it run?)", "< 20 s", verdict(False)))
        else:
            out.append(
                Row(section, f"`{notebook.name}`", f"{seconds:.1f} s", "< 20 s", verdict(seconds < NOTEBOOK_LIMIT))
            )
    out.append(Row(section, f"all {len(notebooks)} notebooks, sequential", f"{wall:.1f} s ({_outcome(output)})"))
    if parallel:
        wall2, output2 = _pytest(["-n", "2", *base], ROOT)
        out.append(Row(section, "all notebooks, `pytest -n 2`", f"{wall2:.1f} s ({_outcome(output2)})"))
    return out


def fresh_clone_rows() -> list[Row]:
    """``git clone`` of this repository's HEAD, then ``make test`` there (pip reuses its wheel cache)."""
    section = "4 · suite time"
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout
    workdir = Path(tempfile.mkdtemp(prefix="keyless-bench-"))
    try:
        clone = workdir / "go-keyless"
        name = f"`make test` from a fresh clone (HEAD {head.strip()})"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        started = time.perf_counter()
        subprocess.run(["make", "install", ".venv-checkov/.installed"], cwd=clone, capture_output=True, check=True)
        installed = time.perf_counter()
        # The ten slowest test phases, to show where the suite's time goes.
        env = {**os.environ, "PYTEST_ADDOPTS": "--durations=10"}
        done = subprocess.run(["make", "test"], cwd=clone, capture_output=True, text=True, env=env)
        finished = time.perf_counter()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    output = done.stdout + done.stderr
    summary = SUMMARY.findall(output)
    if summary:
        suite, outcome = float(summary[-1][1]), summary[-1][0]
        ran = Row(
            section,
            f"{name}: the suite (`pytest -n 2`, tests and notebooks)",
            f"{suite:.1f} s ({outcome})",
            "< 2 min",
            verdict(suite < SUITE_LIMIT),
        )
    else:
        # No pytest summary: make stopped before or during the run; show why instead of a time.
        print(f"make test in a fresh clone exited {done.returncode}:\n{output[-3000:]}", file=sys.stderr)
        ran = Row(
            section, f"{name}: the suite", f"did not complete (make exit {done.returncode})", "< 2 min", verdict(False)
        )
    slowest = [m for m in (ANY_DURATION.match(line.strip()) for line in output.splitlines()) if m][:5]
    return [
        Row(section, f"{name}: install with a warm pip cache", f"{installed - started:.1f} s"),
        ran,
        Row(section, f"{name}: total", f"{finished - started:.1f} s"),
        *(
            Row(section, f"slowest in the suite: `{m.group(3).replace('|', '/')}` ({m.group(2)})", f"{m.group(1)} s")
            for m in slowest
        ),
    ]
