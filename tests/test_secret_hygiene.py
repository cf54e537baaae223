"""No secret in the repository, the lab's logs, the ``repr`` of lab objects or a notebook's outputs.

The repository is scanned with detect-secrets against ``.secrets.baseline``, whose every entry is
audited as not a secret; the notebook-output scan runs inside nbmake (see the root ``conftest.py``).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import re
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import nbformat
import pytest
from azure.identity import ManagedIdentityCredential, get_bearer_token_provider
from detect_secrets import SecretsCollection
from detect_secrets.core import baseline
from detect_secrets.settings import transient_settings
from openai import AuthenticationError, AzureOpenAI, PermissionDeniedError

from keyless_lab import Lab, connect
from keyless_lab.directory import COGNITIVE_SERVICES
from keyless_lab.tokens import IssuedToken

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / ".secrets.baseline"
JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+")
# Made-up values for the output scan's own tests; none was ever a credential.
FAKE_KEY = "0123456789abcdef0123456789abcdef"  # pragma: allowlist secret
DASHLESS_ROLE_ID = "5e0bd9bd7b934f28af8719fc36ad61bd"  # pragma: allowlist secret
SHA256_OF_NOTHING = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # pragma: allowlist secret
# Assembled here so that no whole token-shaped string stands in the repository.
FAKE_JWT = ".".join(
    base64.urlsafe_b64encode(part).rstrip(b"=").decode()
    for part in (b'{"alg":"RS256"}', b'{"oid":"x"}', b"signature-not-real")
)
HEX32 = re.compile(r"[0-9a-f]{32}")
COGNITIVE_SCOPE = "https://cognitiveservices.azure.com/.default"
AUDIT_HINT = "audit it with `detect-secrets audit .secrets.baseline` (or remove the secret)"


# --- the repository -------------------------------------------------------------------------------


def repository_files() -> list[str]:
    """Tracked files, and new ones not ignored (so a secret is caught before its first commit)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    # The baseline holds only hashes of audited findings; it is the allowlist, not a source.
    return sorted({name for name in listed if name and name != BASELINE.name and (REPO / name).is_file()})


def load_baseline() -> dict:
    return json.loads(BASELINE.read_text())


def test_baseline_allows_nothing_real() -> None:
    data = load_baseline()
    for filename, entries in data["results"].items():
        for entry in entries:
            assert entry.get("is_secret") is False, f"{filename}:{entry['line_number']} is not audited; {AUDIT_HINT}"
    # The notebooks and every source are in scope: nothing may be excluded wholesale.
    assert not data.get("exclude", {}).get("files")
    assert not data.get("exclude", {}).get("lines")


def test_repository_has_no_secret_beyond_the_audited_baseline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    data = load_baseline()
    allowed = {
        (filename, entry["type"], entry["hashed_secret"])
        for filename, entries in data["results"].items()
        for entry in entries
        if entry.get("is_secret") is False
    }
    with transient_settings({"plugins_used": data["plugins_used"], "filters_used": data["filters_used"]}):
        found = SecretsCollection()
        for name in repository_files():
            found.scan_file(name)
    new = sorted(
        f"{filename}:{secret.line_number} {secret.type}"
        for filename, secret in found
        if (filename, secret.type, secret.secret_hash) not in allowed
    )
    assert not new, f"possible secrets not in .secrets.baseline: {new}; {AUDIT_HINT}"


def test_the_baseline_is_current() -> None:
    """The baseline loads with this detect-secrets and names only files that still exist."""
    data = load_baseline()
    assert baseline.load(data, filename=str(BASELINE)) is not None
    assert all((REPO / name).is_file() for name in data["results"])


# --- the lab's logs -------------------------------------------------------------------------------


@pytest.fixture
def lab_logs(caplog: pytest.LogCaptureFixture) -> Iterator[tuple[Lab, pytest.LogCaptureFixture]]:
    with Lab(preset="fresh") as lab:
        # uvicorn set its loggers to WARNING when the lab started; listen to everything.
        for name in ("keyless_lab", "uvicorn", "uvicorn.error", "uvicorn.access", "starlette"):
            caplog.set_level(logging.DEBUG, logger=name)
        yield lab, caplog


def test_lab_logs_hold_no_token_key_or_issued_value(lab_logs: tuple[Lab, pytest.LogCaptureFixture]) -> None:
    lab, caplog = lab_logs
    sent: list[str] = []
    trust = ssl.create_default_context(cafile=str(lab.ca_bundle))
    chat = "/openai/deployments/chat/chat/completions?api-version=2024-10-21"
    hello = {"messages": [{"role": "user", "content": "Hi"}]}
    with httpx.Client(base_url=lab.url, verify=trust, timeout=10) as http:
        key = lab.state.account.keys()["key1"]
        assert http.post(chat, json=hello, headers={"api-key": key}).status_code == 200
        assert http.post(chat, json=hello, headers={"api-key": key[::-1]}).status_code == 401
        header = lab.state.host_secrets["chat-app"]
        minted = http.get(
            "/msi/token",
            params={"resource": COGNITIVE_SERVICES, "api-version": "2019-08-01"},
            headers={"X-IDENTITY-HEADER": header},
        ).json()["access_token"]
        sent.append(minted)
        assert http.post(chat, json=hello, headers={"Authorization": f"Bearer {minted}"}).status_code == 401
        assert http.post(chat, json=hello, headers={"Authorization": f"Bearer {minted[:-5]}"}).status_code == 401
        assert http.post(chat, content=b"{", headers={"api-key": key}).status_code == 400
        big = http.post(chat, json=hello, headers={"api-key": key, "x-pad": "k" * 100_000})
        assert big.status_code in (400, 431)
    lab.preset("ready")
    with lab.hosted("chat-app"):
        credential = ManagedIdentityCredential()
        token = credential.get_token(COGNITIVE_SCOPE).token
        sent.append(token)
        client = AzureOpenAI(
            azure_endpoint=lab.url,
            api_version="2024-10-21",
            azure_ad_token_provider=get_bearer_token_provider(credential, COGNITIVE_SCOPE),
            max_retries=0,
        )
        reply = client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "Hi"}])
        assert reply.choices[0].message.content
        denied = AzureOpenAI(azure_endpoint=lab.url, api_version="2024-10-21", api_key=key, max_retries=0)
        with pytest.raises(PermissionDeniedError):
            denied.chat.completions.create(model="chat", messages=[{"role": "user", "content": "Hi"}])
        forged = AzureOpenAI(azure_endpoint=lab.url, api_version="2024-10-21", azure_ad_token=token[:-3], max_retries=0)
        with pytest.raises(AuthenticationError):
            forged.chat.completions.create(model="chat", messages=[{"role": "user", "content": "Hi"}])

    lab_records = [r for r in caplog.records if r.name.startswith(("keyless_lab", "uvicorn", "starlette"))]
    assert lab_records, "the lab logged nothing at all: the capture is not listening"
    text = "\n".join(f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in lab_records)
    assert not JWT.search(text)
    secrets = [*lab.state.account.keys().values(), *lab.state.host_secrets.values(), lab.state.admin_secret]
    for value in [*secrets, *sent, key]:
        assert value not in text
    assert not [k for k in HEX32.findall(text) if k in secrets or k == key]


# --- repr and str of lab objects ------------------------------------------------------------------


def test_repr_and_str_of_lab_objects_mask_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEYLESS_TARGET", raising=False)
    target = connect(preset="fresh")
    try:
        lab = target.lab
        assert lab is not None
        issued = lab.state.issuer.issue(lab.state.directory.learner, COGNITIVE_SERVICES)
        hosted = lab.hosted("chat-aca")
        shown = [
            repr(lab),
            str(lab),
            repr(lab.state),
            str(lab.state),
            repr(lab.state.account),
            repr(hosted),
            str(hosted),
            repr(lab.environment()),
            repr(issued),
            str(issued),
            f"{issued}",
            repr(target),
            str(target),
        ]
        secrets = [
            issued.token,
            *lab.state.account.keys().values(),
            *lab.state.host_secrets.values(),
            lab.state.admin_secret,
        ]
        for text in shown:
            assert not JWT.search(text), text
            for secret in secrets:
                assert secret not in text, text
        assert "IDENTITY_HEADER" in repr(hosted)  # shown, but masked
        assert isinstance(issued, IssuedToken) and issued.token[:4] in repr(issued)
    finally:
        target.stop()


# --- notebook outputs (the hook in the root conftest.py) ------------------------------------------


def root_conftest():
    spec = importlib.util.spec_from_file_location("root_conftest", REPO / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def notebook_with_output(text: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell("print('...')")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 00 · Test"), cell])


def fake_jwt() -> str:
    with Lab() as lab:
        return lab.state.issuer.issue(lab.state.directory.learner, COGNITIVE_SERVICES).token


@pytest.mark.parametrize(
    ("output", "found"),
    [
        ("token: {jwt}", "a whole JWT"),
        (f"key1 = {FAKE_KEY}\n", "a 32-hex key"),
        ('{"oid": "ok"} masked: eyJ0…(1187 chars)…x9Qw', None),
        # Azure prints role definition ids without dashes in some errors: a public id, not a key.
        (f"The specified role definition with ID '{DASHLESS_ROLE_ID}' does not exist.", None),
        (f"sha256 of nothing: {SHA256_OF_NOTHING}", None),
    ],
    ids=["jwt", "hex-key", "masked", "dashless-role-id", "longer-hex"],
)
def test_output_scan_finds_tokens_and_keys(output: str, found: str | None) -> None:
    scan = root_conftest().scan_outputs
    findings = scan(notebook_with_output(output.replace("{jwt}", fake_jwt() if "{jwt}" in output else "")))
    if found is None:
        assert findings == []
    else:
        assert [(i, what.split(" ", 3)[:3]) for i, what in findings] == [(1, found.split(" "))]
        assert all(not JWT.search(what) for _, what in findings)


def test_nbmake_fails_a_notebook_whose_output_leaks(tmp_path: Path) -> None:
    """End to end through nbmake's own run: the clean notebook passes, the leaking one fails."""
    shutil.copy(REPO / "conftest.py", tmp_path / "conftest.py")
    leaky = f"print('{FAKE_JWT}')"
    clean = "print('eyJhbGci…(masked)')"
    for name, source in (("leaky", leaky), ("clean", clean)):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbmake",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rf",
            "leaky.ipynb",
            "clean.ipynb",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout
    assert "FAILED leaky.ipynb" in done.stdout
    assert "Notebook output shows a whole JWT eyJh…(" in done.stdout
    assert FAKE_JWT not in done.stdout  # the report masks what it found
