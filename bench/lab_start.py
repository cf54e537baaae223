"""Cold start of the lab: from ``Lab()`` to serving HTTPS, each start in a new Python process.

A new process per start includes what a notebook pays on its first cell: imports, the process's
lab CA, the signing key, the server certificate and uvicorn's start.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

PROBE = r"""
import json, time
t0 = time.perf_counter()
from keyless_lab import Lab
t1 = time.perf_counter()
lab = Lab()
t2 = time.perf_counter()
import requests
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
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> None:
    result = measure()
    print("| lab cold start (median of 10 new processes) | seconds |")
    print("|---|---|")
    for key, value in result.items():
        print(f"| {key} | {value:.3f} |")
    print(f"| **Lab() to serving** (target < 1 s) | **{result['start']:.3f}** |")


if __name__ == "__main__":
    main()
