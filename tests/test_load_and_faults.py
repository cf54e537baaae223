"""Load and faults: many concurrent clients of the real async SDKs, tokens expiring mid-run, injected
429s, 5xx bursts and a brief identity-endpoint outage — every call succeeds, nothing is lost (DESIGN §3.7).

The SDKs' own retries do the recovering (openai's ``max_retries``, azure-core's retry policy); the lab's
audit log must then count exactly the calls made plus the retries the faults caused.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from azure.identity.aio import ManagedIdentityCredential, get_bearer_token_provider
from openai import AsyncAzureOpenAI, DefaultAsyncHttpxClient

from keyless_lab import Lab
from keyless_lab.server import bind

CLIENTS = 50
CALLS_PER_CLIENT = 40
CALLS = CLIENTS * CALLS_PER_CLIENT
TOKEN_LIFETIME = 2  # seconds: every token issued in the run expires before the run ends
TIME_LIMIT = 60  # seconds; a bound, not the target (about 10 s on 2 cores)
COGNITIVE_SCOPE = "https://cognitiveservices.azure.com/.default"

# (after this many requests have reached the lab, surface, status, count, retry_after)
FAULT_PLAN = [
    (200, "openai", 429, 40, 1),
    (700, "openai", 503, 25, 0),
    (1000, "identity", 503, 2, 0),
    (1100, "openai", 500, 15, 0),
    (1400, "openai", 502, 10, 0),
]


def expected_reply(text: str) -> str:
    return f'Hello from the Go Keyless lab! You said: "{text}"'


async def run_load() -> dict[str, float]:
    """CLIENTS app instances on one host, sharing the host's managed-identity credential.

    Runs in its own process (see ``__main__`` below) with the host's environment, as the app would.
    """
    # Each client keeps its own connection pool; loading the CA bundle once spares 50 x 60 ms of parsing.
    trust = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    done = 0
    async with ManagedIdentityCredential() as credential:
        provider = get_bearer_token_provider(credential, COGNITIVE_SCOPE)
        clients = [
            AsyncAzureOpenAI(
                azure_endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],
                api_version=os.environ["AZURE_OPENAI_API_VERSION"],
                azure_ad_token_provider=provider,
                max_retries=12,
                http_client=DefaultAsyncHttpxClient(verify=trust),
            )
            for _ in range(CLIENTS)
        ]
        deployment = os.environ["AZURE_OPENAI_CHAT_DEPLOYMENT"]

        async def one_client(index: int, client: AsyncAzureOpenAI) -> None:
            nonlocal done
            for n in range(CALLS_PER_CLIENT):
                text = f"client {index} call {n}"
                reply = await client.chat.completions.create(
                    model=deployment, messages=[{"role": "user", "content": text}]
                )
                assert reply.choices[0].message.content == expected_reply(text)
                done += 1

        started = time.perf_counter()
        try:
            await asyncio.wait_for(
                asyncio.gather(*(one_client(i, c) for i, c in enumerate(clients))), timeout=TIME_LIMIT
            )
        finally:
            for client in clients:
                await client.close()
        return {"seconds": time.perf_counter() - started, "cpu": time.process_time(), "done": done}


class FaultInjector(threading.Thread):
    """Injects each planned fault once that many requests have reached the lab, mid-run."""

    def __init__(self, lab: Lab) -> None:
        super().__init__(daemon=True)
        self.lab = lab
        self.start_count = len(lab.state.audit)
        self.plan = sorted(FAULT_PLAN)
        self.finished = threading.Event()

    def run(self) -> None:
        while self.plan and not self.finished.wait(0.005):
            while self.plan and len(self.lab.state.audit) - self.start_count >= self.plan[0][0]:
                _, surface, status, count, retry_after = self.plan.pop(0)
                self.lab.faults(surface, status, count, retry_after=retry_after)


@pytest.fixture(scope="module")
def ready_lab() -> Iterator[Lab]:
    with Lab(preset="ready") as running:
        yield running


def test_many_clients_through_expiry_429s_and_5xx_lose_nothing(ready_lab: Lab) -> None:
    lab = ready_lab
    lab.token_lifetime(TOKEN_LIFETIME)
    # Azure accepts a token for minutes past its exp (clock skew); the lab by default for none, so that
    # lessons see an expiry at once. A token the SDK took from its cache just before exp is still in
    # flight at exp: give it the few seconds of tolerance Azure's minutes would, or the test measures
    # the lab's strictness rather than the SDKs' recovery.
    lab.state.issuer.clock_skew = 5
    issued_before = lab.state.issuer.issued
    since = time.time()
    hosted = lab.hosted("chat-app")
    env = {k: v for k, v in os.environ.items() if k not in hosted.removed}
    env.update(hosted)
    injector = FaultInjector(lab)
    lab_cpu = time.process_time()
    injector.start()
    # The clients run in a process of their own, as the app would: the SDKs' work and the lab's then
    # use a core each instead of sharing one interpreter.
    try:
        child = subprocess.run(
            [sys.executable, __file__],
            env=env,
            capture_output=True,
            text=True,
            timeout=TIME_LIMIT + 30,
        )
    finally:
        injector.finished.set()
        injector.join()
        lab_cpu = time.process_time() - lab_cpu
        lab.state.issuer.clock_skew = 0
        lab.token_lifetime(None)
    assert child.returncode == 0, child.stderr[-3000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        f"\n{CALLS} calls by {CLIENTS} clients in {result['seconds']:.1f} s wall; "
        f"CPU: clients {result['cpu']:.1f} s, lab {lab_cpu:.1f} s"
    )

    assert result["done"] == CALLS
    assert not injector.plan, "the run ended before every fault was injected"
    assert lab.state.faults.pending() == 0, "every injected fault was met by a call"
    openai = collections.Counter(e.status for e in lab.audit("openai", since))
    injected: collections.Counter[int] = collections.Counter()
    for _, surface, status, count, _ in FAULT_PLAN:
        if surface == "openai":
            injected[status] += count
    assert openai == {200: CALLS, **injected}, "exactly the calls made plus one retry per injected fault"
    identity = collections.Counter(e.status for e in lab.audit("identity", since))
    # The identity endpoint's two 503s were retried by azure-core, and each fetch then got its token.
    assert identity[503] == 2
    assert set(identity) == {200, 503}
    tokens = lab.state.issuer.issued - issued_before
    assert tokens == identity[200]
    # Tokens expired during the run and were replaced: about one per lifetime elapsed.
    assert result["seconds"] > 2 * TOKEN_LIFETIME
    assert tokens >= int(result["seconds"] // TOKEN_LIFETIME) - 1
    assert result["seconds"] < TIME_LIMIT


def test_identity_endpoint_down_longer_than_the_retries_is_reported_clearly(ready_lab: Lab) -> None:
    """An outage longer than azure-core's retries ends in one clear error, not a hang or a wrong token."""
    from azure.core.exceptions import ClientAuthenticationError

    lab = ready_lab
    lab.token_lifetime(None)
    lab.faults("identity", 503, count=10, retry_after=0)

    async def fetch() -> Exception | None:
        async with ManagedIdentityCredential(retry_total=1, retry_backoff_factor=0) as credential:
            try:
                await credential.get_token(COGNITIVE_SCOPE)
            except ClientAuthenticationError as err:
                return err
        return None

    try:
        with lab.hosted("chat-app"):
            error = asyncio.run(fetch())
        left = lab.state.faults.pending()
    finally:
        lab.clear_faults()
    assert isinstance(error, ClientAuthenticationError)
    assert error.status_code == 503
    assert str(error) == "(None) Service unavailable.\nCode: None\nMessage: Service unavailable."
    assert left == 10 - 2, "one try and one retry, then a clear error"


def test_accepted_connections_answer_without_a_delayed_ack() -> None:
    """Without TCP_NODELAY each response body waited ~40 ms behind its headers (Nagle + delayed ACK)."""
    sock = bind(0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
    with Lab() as lab:
        context = ssl.create_default_context(cafile=str(lab.ca_bundle))
        with (
            socket.create_connection(("127.0.0.1", lab.port)) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            timings = []
            for _ in range(5):
                started = time.perf_counter()
                tls.sendall(b"GET /nowhere HTTP/1.1\r\nHost: lab\r\n\r\n")
                received = b""
                while not received.endswith(b'"Resource not found"}}'):
                    received += tls.recv(65_536)
                timings.append(time.perf_counter() - started)
    assert min(timings) < 0.030, timings


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run_load())))
