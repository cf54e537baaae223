"""Security policies for infra/, checked by checkov from its own virtual environment.

`make test` installs checkov into .venv-checkov from requirements-checkov.txt (its pins clash with
the notebook stack). Every failed check fails the suite; every skipped check must be listed below
with the resource it belongs to, and carry its reason in a `checkov:skip=` comment in the Bicep.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
# No --quiet: with it, the JSON report leaves out the passed checks asserted below.
# --skip-download: no calls to Prisma Cloud for guidelines; the scan runs offline.
COMMAND = [str(CHECKOV), "-d", "infra", "--framework", "bicep", "--compact", "--skip-download", "-o", "json"]

# Checks that must run and pass: the keyless and transport guarantees the lessons rely on.
MUST_PASS = [
    ("CKV_AZURE_236", "Microsoft.CognitiveServices/accounts.account"),  # local (key) auth disabled
    ("CKV_AZURE_238", "Microsoft.CognitiveServices/accounts.account"),  # managed identity configured
    ("CKV_AZURE_137", "Microsoft.ContainerRegistry/registries.registry"),  # ACR admin user disabled
    ("CKV_AZURE_138", "Microsoft.ContainerRegistry/registries.registry"),  # ACR anonymous pull disabled
    ("CKV_AZURE_71", "Microsoft.Web/sites.appService"),  # App Service managed identity
    ("CKV_AZURE_16", "Microsoft.Web/sites.appService"),  # App Service registered with Entra ID
    ("CKV_AZURE_14", "Microsoft.Web/sites.appService"),  # HTTPS only
    ("CKV_AZURE_15", "Microsoft.Web/sites.appService"),  # TLS 1.2
    ("CKV_AZURE_78", "Microsoft.Web/sites.appService"),  # FTP(S) disabled
    ("CKV_AZURE_72", "Microsoft.Web/sites.appService"),  # remote debugging off
]

# Checks skipped on purpose; the reason is in the comment next to the resource.
EXPECTED_SKIPS = [
    ("CKV_AZURE_134", "Microsoft.CognitiveServices/accounts.account"),  # public network: learners' laptops
    ("CKV_AZURE_17", "Microsoft.Web/sites.appService"),  # client certificates
    ("CKV_AZURE_212", "Microsoft.Web/sites.appService"),  # failover instances
    ("CKV_AZURE_222", "Microsoft.Web/sites.appService"),  # public web page
    ("CKV_AZURE_225", "Microsoft.Web/serverfarms.plan"),  # zone redundancy: Premium plans
    ("CKV_AZURE_139", "Microsoft.ContainerRegistry/registries.registry"),  # private registry: Premium
    ("CKV_AZURE_163", "Microsoft.ContainerRegistry/registries.registry"),  # Defender image scanning
    ("CKV_AZURE_166", "Microsoft.ContainerRegistry/registries.registry"),  # quarantine: Premium
    ("CKV_AZURE_233", "Microsoft.ContainerRegistry/registries.registry"),  # zone redundancy: Premium
]


def scan() -> str:
    """checkov's JSON report, run once per content of infra/ even across pytest-xdist workers."""
    digest = hashlib.sha256(" ".join(COMMAND).encode())
    digest.update(str(CHECKOV.stat().st_mtime_ns).encode())
    for path in sorted((ROOT / "infra").rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    cached = CHECKOV.parent.parent / f"report-{digest.hexdigest()[:16]}.json"
    with open(CHECKOV.parent.parent / "report.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker waits here, then reads the cached report
        if not cached.is_file():
            env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}
            done = subprocess.run(COMMAND, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
            assert done.returncode in (0, 1), f"checkov crashed ({done.returncode}):\n{done.stderr[-3000:]}"
            json.loads(done.stdout)  # only a complete report is cached
            for old in cached.parent.glob("report-*.json"):
                old.unlink()
            cached.write_text(done.stdout)
        return cached.read_text()


@functools.cache
def report() -> dict[str, Any]:
    if not CHECKOV.is_file():
        pytest.fail(f"{CHECKOV.relative_to(ROOT)} is missing: run `make test`, which installs checkov there")
    parsed = json.loads(scan())
    # One framework gives one report; several would give a list.
    reports = parsed if isinstance(parsed, list) else [parsed]
    (bicep,) = [r for r in reports if r.get("check_type") == "bicep"]
    return bicep


def results(kind: str) -> list[dict[str, Any]]:
    return report()["results"].get(kind, [])


def pinned_version() -> str:
    text = (ROOT / "requirements-checkov.txt").read_text()
    match = re.search(r"^checkov==(\S+)$", text, re.MULTILINE)
    assert match, "requirements-checkov.txt must pin checkov"
    return match.group(1)


def test_checkov_is_the_pinned_version() -> None:
    assert report()["summary"]["checkov_version"] == pinned_version()


def test_every_bicep_file_is_scanned() -> None:
    assert report()["summary"]["parsing_errors"] == 0, results("parsing_errors")
    scanned = {r["file_path"].lstrip("/") for kind in ("passed_checks", "skipped_checks") for r in results(kind)}
    for expected in ("core/ai/openai.bicep", "core/host/appservice.bicep", "core/host/container-registry.bicep"):
        assert expected in scanned, f"checkov found no checks to run in infra/{expected}"


def test_no_failed_checks() -> None:
    failed = [(r["check_id"], r["resource"], r["file_path"], r["check_name"]) for r in results("failed_checks")]
    assert failed == [], "checkov failed checks:\n" + "\n".join(map(str, failed))


@pytest.mark.parametrize(("check_id", "resource"), MUST_PASS)
def test_check_passes(check_id: str, resource: str) -> None:
    passed = {(r["check_id"], r["resource"]) for r in results("passed_checks")}
    assert (check_id, resource) in passed


def test_skips_are_exactly_the_reviewed_ones() -> None:
    skipped = {(r["check_id"], r["resource"]) for r in results("skipped_checks")}
    assert skipped == set(EXPECTED_SKIPS)


@pytest.mark.parametrize(("check_id", "resource"), EXPECTED_SKIPS)
def test_skip_has_a_reason(check_id: str, resource: str) -> None:
    (skip,) = [r for r in results("skipped_checks") if (r["check_id"], r["resource"]) == (check_id, resource)]
    reason = skip["check_result"].get("suppress_comment", "").strip()
    assert len(reason) > 15, f"{check_id} on {resource} is skipped without a reason"
