"""The sample app (app/) over the wire: started as App Service and Container Apps start it, with the
host's environment and no code change, chatting with the lab as the host's managed identity.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from keyless_lab import Lab

REPO = Path(__file__).resolve().parent.parent
JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+")
CHAT_ACTION = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
CHAT_OPERATION = "POST /openai/deployments/{deployment-id}/chat/completions"
STARTUP_SECONDS = 30  # importing openai is most of it; generous for a loaded CI machine


def lab_reply(text: str) -> str:
    return f'Hello from the Go Keyless lab! You said: "{text}"'


@dataclass
class RunningApp:
    """The app in its own process, as a host runs it; its log goes to a file."""

    process: subprocess.Popen[bytes]
    url: str
    log_file: Path

    def logs(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: signal.Signals) -> int:
        """Ask the app to shut down as a host does when it stops or replaces an instance."""
        self.process.send_signal(sig)
        return self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(env: Mapping[str, str], log_file: Path) -> subprocess.Popen[bytes]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)]
    with log_file.open("wb") as log:
        return subprocess.Popen(command, env=dict(env), cwd=REPO, stdout=log, stderr=subprocess.STDOUT)


@contextmanager
def run_app(env: Mapping[str, str], tmp_path: Path) -> Iterator[RunningApp]:
    """Start the app with ``env`` and wait until ``/healthz`` answers."""
    log_file = tmp_path / "app.log"
    process = start_app(env, log_file)
    url = f"http://127.0.0.1:{process.args[-1]}"
    app = RunningApp(process, url, log_file)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"The app exited with {process.returncode}:\n{app.logs()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"The app did not answer /healthz in {STARTUP_SECONDS} s:\n{app.logs()}")
            time.sleep(0.05)
        yield app
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def chat(url: str, text: str) -> tuple[int, list[dict[str, object]]]:
    """POST one user message; the status and the NDJSON events as they streamed in."""
    body = {"messages": [{"role": "user", "content": text}]}
    with httpx.stream("POST", f"{url}/chat", json=body, timeout=10) as response:
        if response.headers["content-type"] != "application/x-ndjson":
            return response.status_code, [json.loads(response.read())]
        return response.status_code, [json.loads(line) for line in response.iter_lines() if line]


def assert_no_secrets(logs: str, env: Mapping[str, str]) -> None:
    assert JWT.search(logs) is None, "a token reached the app's log"
    assert env["IDENTITY_HEADER"] not in logs, "the host's identity header reached the app's log"


HOSTS = [
    # host, the identity the app must use there, how it is stopped and the exit status that follows:
    # Ctrl+C ends uvicorn with 0; after a graceful shutdown on SIGTERM (what a platform sends when it
    # stops an instance) uvicorn re-raises the signal, so the parent sees -SIGTERM (143 in a shell).
    pytest.param("chat-app", "chat-app", signal.SIGINT, 0, id="app-service-system-assigned"),
    pytest.param("chat-aca", "id-chat-aca", signal.SIGTERM, -signal.SIGTERM, id="container-apps-user-assigned"),
]


@pytest.mark.parametrize(("host", "identity", "stop_signal", "exit_status"), HOSTS)
def test_app_chats_as_its_hosts_identity(
    lab: Lab, tmp_path: Path, host: str, identity: str, stop_signal: signal.Signals, exit_status: int
) -> None:
    object_id = lab.principal(identity)["object_id"]
    env = lab.hosted(host)
    with run_app(env, tmp_path) as app:
        # Before the role is granted Azure refuses the identity; the page gets Azure's words, not a trace.
        status, events = chat(app.url, "Hi")
        assert status == 502
        assert events == [
            {
                "error": {
                    "status": 401,
                    "code": "PermissionDenied",
                    "message": f"The principal `{object_id}` lacks the required data action `{CHAT_ACTION}` "
                    f"to perform `{CHAT_OPERATION}` operation.",
                }
            }
        ]

        # Granting the role is enough: same process, same cached token.
        lab.grant_openai_user(identity)
        since = time.time()
        status, events = chat(app.url, "Hello, keyless world")
        assert status == 200
        deltas = [e["delta"] for e in events[:-1]]
        assert len(deltas) > 1, "the reply should arrive in pieces"
        assert "".join(deltas) == lab_reply("Hello, keyless world")
        assert events[-1] == {"done": True}

        calls = [(e.caller_id, e.operation, e.status) for e in lab.audit("openai", since)]
        assert calls == [(object_id, "POST /openai/deployments/chat/chat/completions", 200)]
        tokens = [(e.caller_id, e.status) for e in lab.audit("identity")]
        assert tokens == [(object_id, 200)], "one token for both calls: the provider caches it"

        started = time.monotonic()
        assert app.stop(stop_signal) == exit_status
        assert time.monotonic() - started < 5
    logs = app.logs()
    assert "Closed the Azure OpenAI client and the credential" in logs
    assert "Application shutdown complete." in logs
    assert "Unclosed" not in logs and "Traceback" not in logs
    assert_no_secrets(logs, env)


@pytest.mark.parametrize(
    ("missing", "line"),
    [
        (
            "AZURE_OPENAI_ENDPOINT",
            "ERROR:     chat - Missing required environment variable: AZURE_OPENAI_ENDPOINT — set it to the "
            "account's endpoint, e.g. https://<account>.openai.azure.com/ (azd writes it to .env).",
        ),
        (
            "AZURE_OPENAI_CHAT_DEPLOYMENT",
            "ERROR:     chat - Missing required environment variable: AZURE_OPENAI_CHAT_DEPLOYMENT — set it to the "
            "name of the chat model's deployment, e.g. chat.",
        ),
    ],
)
def test_missing_setting_stops_the_app_with_one_line(lab: Lab, tmp_path: Path, missing: str, line: str) -> None:
    env = {k: v for k, v in lab.hosted("chat-app").items() if k != missing}
    process = start_app(env, tmp_path / "app.log")
    assert process.wait(timeout=STARTUP_SECONDS) == 1
    assert (tmp_path / "app.log").read_text(encoding="utf-8").splitlines() == [line]


@pytest.fixture(scope="module")
def ready_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """One app on a ready lab for the checks that do not change the lab."""
    with Lab(preset="ready") as lab, run_app(lab.hosted("chat-app"), tmp_path_factory.mktemp("app")) as app:
        yield app


LIST = "'messages' must be a list of 1 to 50 messages."
ROLE = "Each message needs a role of 'user' or 'assistant'."
CONTENT = "Each message needs a content of 1 to 4000 characters."


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, LIST),
        ({"messages": []}, LIST),
        ({"messages": [{"role": "user", "content": "x"}] * 51}, LIST),
        ({"messages": [{"role": "system", "content": "x"}]}, ROLE),
        ({"messages": [{"role": "user", "content": ""}]}, CONTENT),
        ({"messages": [{"role": "user", "content": "x" * 4001}]}, CONTENT),
        ({"messages": [{"role": "user", "content": 42}]}, CONTENT),
        ({"messages": [{"role": "assistant", "content": "x"}]}, "The last message must be the user's."),
    ],
)
def test_chat_rejects_a_malformed_conversation(ready_app: RunningApp, body: object, message: str) -> None:
    response = httpx.post(f"{ready_app.url}/chat", json=body, timeout=10)
    assert response.status_code == 400
    assert response.json() == {"error": {"status": 400, "code": "BadRequest", "message": message}}


def test_chat_keeps_the_conversation(ready_app: RunningApp) -> None:
    conversation = [
        {"role": "user", "content": "First"},
        {"role": "assistant", "content": lab_reply("First")},
        {"role": "user", "content": "Second"},
    ]
    with httpx.stream("POST", f"{ready_app.url}/chat", json={"messages": conversation}, timeout=10) as response:
        events = [json.loads(line) for line in response.iter_lines() if line]
    assert response.status_code == 200
    assert "".join(e.get("delta", "") for e in events) == lab_reply("Second")


@pytest.mark.parametrize(
    ("path", "status", "content_type", "fragment"),
    [
        ("/", 200, "text/html; charset=utf-8", '<form id="form">'),
        ("/healthz", 200, "application/json", '{"status":"ok"}'),
    ],
)
def test_page_and_health(ready_app: RunningApp, path: str, status: int, content_type: str, fragment: str) -> None:
    response = httpx.get(f"{ready_app.url}{path}", timeout=10)
    assert (response.status_code, response.headers["content-type"]) == (status, content_type)
    assert fragment in response.text


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text(encoding="utf-8"))
    pairs = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def pins(requirements: Path) -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", requirements.read_text(encoding="utf-8"), re.MULTILINE)
    return {name.lower(): version for name, version in found}


def test_dockerfile_is_pinned_non_root_and_keyless() -> None:
    steps = instructions(REPO / "app" / "Dockerfile")
    keywords = [k for k, _ in steps]
    assert steps[0] == ("FROM", "python:3.11-slim"), "the base image is pinned by its tag"
    assert ("COPY", "requirements.txt .") in steps
    assert ("RUN", "pip install --no-cache-dir -r requirements.txt") in steps
    # Everything after the last RUN runs as an unprivileged user.
    user_at = keywords.index("USER")
    assert user_at > max(i for i, k in enumerate(keywords) if k == "RUN")
    assert steps[user_at][1] not in ("root", "0") and not steps[user_at][1].startswith(("root:", "0:"))
    assert steps[-1] == ("CMD", '["python", "-m", "uvicorn", "main:app", "--host", "0.0.0.0", "--port", "8000"]')
    assert ("EXPOSE", "8000") in steps
    baked = [args for k, args in steps if k in ("ENV", "ARG")]
    assert not re.search(r"KEY|SECRET|TOKEN|PASSWORD|IDENTITY_HEADER", " ".join(baked), re.IGNORECASE), baked
    ignored = (REPO / "app" / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert [line for line in ignored if line and not line.startswith("#")][0] == "*", "nothing but the app is sent"


def test_app_requirements_match_the_workbooks_pins() -> None:
    app_pins = pins(REPO / "app" / "requirements.txt")
    assert sorted(app_pins) == ["aiohttp", "azure-identity", "openai", "starlette", "uvicorn"]
    repo_pins = pins(REPO / "requirements.txt")
    assert app_pins == {name: repo_pins[name] for name in app_pins}
