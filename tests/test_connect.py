"""connect(): the lab target sets the environment as Azure tooling would and gives it back."""

from __future__ import annotations

import os
import subprocess
import sys

from keyless_lab import connect


def test_lab_target_sets_and_restores_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "not-a-real-secret")
    monkeypatch.delenv("KEYLESS_TARGET", raising=False)
    first = connect(preset="fresh")
    second = connect(preset="ready")  # running the first cell again replaces the lab
    try:
        assert first.lab is not None and first.lab._stopped
        assert second.lab is not None
        assert os.environ["AZURE_OPENAI_ENDPOINT"] == second.lab.url
        assert "AZURE_CLIENT_SECRET" not in os.environ  # a real credential must not leak into the lab
        assert os.environ["SSL_CERT_FILE"] == str(second.lab.ca_bundle)
        assert os.environ["PATH"].split(os.pathsep)[0] == str(second.lab.home / "bin")
        assert second.lab.url.startswith("https://127.0.0.1:")
        assert repr(second).startswith("Target(lab: https://127.0.0.1:")
    finally:
        second.stop()
    assert os.environ["AZURE_CLIENT_SECRET"] == "not-a-real-secret"
    assert os.environ.get("AZURE_OPENAI_ENDPOINT") != second.lab.url


def test_serve_prints_the_environment_to_export(tmp_path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "keyless_lab", "serve", "--host", "chat-app"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        header = proc.stdout.readline()
        lines = [proc.stdout.readline() for _ in range(14)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert header.startswith("# Go Keyless lab on https://127.0.0.1:")
    exported = dict(line.removeprefix("export ").strip().split("=", 1) for line in lines if line.startswith("export "))
    assert exported["IDENTITY_ENDPOINT"].endswith("/msi/token")
    assert exported["AZURE_OPENAI_ENDPOINT"].startswith("https://127.0.0.1:")
    assert proc.returncode == 0
