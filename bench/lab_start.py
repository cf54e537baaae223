"""Cold start of the lab: from ``Lab()`` to serving HTTPS, each start in a new Python process.

A new process per start includes what a notebook pays on its first cell: importing the lab, the
process's lab CA, the signing key, the server certificate and uvicorn's start.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from .table import Row, verdict

# The client's own imports (requests) come before the clock starts: they are not the lab's.
PROBE = r"""
import json, time
import requests
t0 = time.perf_counter()
from keyless_lab import Lab
import keyless_lab.lab
t1 = time.perf_counter()
lab = Lab()
t2 = time.perf_counter()
requests.get(lab.url + "/openai/v1/models", verify=str(lab.ca_bundle), timeout=5)
t3 = time.perf_counter()
lab.stop()
print(json.dumps({"import": t1 - t0, "start": t2 - t1, "first_answer": t3 - t2}))
"""


def measure(repeats: int = 10) -> dict[str, float]:
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    result = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    result["cold"] = statistics.median(run["import"] + run["start"] for run in runs)
    return result


def rows(repeats: int = 10) -> list[Row]:
    section = "3 · lab"
    r = measure(repeats)
    how = f"median of {repeats} new processes"
    return [
        Row(section, f"`import keyless_lab.lab` ({how})", f"{r['import']:.3f} s"),
        Row(section, f"`Lab()` to serving HTTPS ({how})", f"{r['start']:.3f} s"),
        Row(section, "first answer after start (client's TLS handshake included)", f"{r['first_answer']:.3f} s"),
        Row(
            section,
            "**cold start**: import + `Lab()` to serving",
            f"{r['cold']:.3f} s",
            "< 1 s",
            verdict(r["cold"] < 1),
        ),
    ]


def main() -> None:
    from .table import markdown

    print(markdown(rows()))


if __name__ == "__main__":
    main()
