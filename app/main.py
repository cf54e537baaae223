"""A keyless chat web app: Azure OpenAI through a managed identity on App Service and Container Apps,
or a developer sign-in locally (https://learn.microsoft.com/azure/ai-services/openai/how-to/managed-identity).

Run it with ``python -m uvicorn main:app`` from this folder; it reads its settings from the environment.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import ClientAuthenticationError
from azure.identity.aio import (
    AzureCliCredential,
    AzureDeveloperCliCredential,
    ChainedTokenCredential,
    ManagedIdentityCredential,
    get_bearer_token_provider,
)
from openai import AsyncAzureOpenAI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
SYSTEM_PROMPT = "You are a helpful assistant. Answer briefly."
MAX_MESSAGES = 50
MAX_CHARS = 4000
PAGE = (Path(__file__).parent / "static" / "index.html").read_text(encoding="utf-8")

logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s - %(message)s")
# Every header of every Azure call is too much for an app log; a failure is still logged below.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
log = logging.getLogger("chat")

REQUIRED = {
    "AZURE_OPENAI_ENDPOINT": "the account's endpoint, e.g. https://<account>.openai.azure.com/ (azd writes it to .env)",
    "AZURE_OPENAI_CHAT_DEPLOYMENT": "the name of the chat model's deployment, e.g. chat",
}


@dataclass(frozen=True)
class Settings:
    endpoint: str
    deployment: str
    api_version: str
    client_id: str | None  # set on hosts with user-assigned identities, to say which one is the app's


def read_settings() -> Settings:
    """The app's settings from the environment; a missing one stops the app with one log line."""
    for name, meaning in REQUIRED.items():
        if not os.environ.get(name, "").strip():
            log.error("Missing required environment variable: %s — set it to %s.", name, meaning)
            sys.exit(1)
    return Settings(
        endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],
        deployment=os.environ["AZURE_OPENAI_CHAT_DEPLOYMENT"],
        api_version=os.environ.get("AZURE_OPENAI_API_VERSION", "2024-10-21"),
        client_id=os.environ.get("AZURE_CLIENT_ID") or None,
    )


# Checked when the app is loaded, so a misconfigured deployment fails at once rather than on the first chat.
SETTINGS = read_settings()


def make_credential(settings: Settings) -> AsyncTokenCredential:
    """The app's identity: the user-assigned one named by AZURE_CLIENT_ID, else whatever this machine has."""
    if settings.client_id:
        return ManagedIdentityCredential(client_id=settings.client_id)
    # App Service's system-assigned identity first, then a developer's `azd auth login` or `az login`.
    return ChainedTokenCredential(ManagedIdentityCredential(), AzureDeveloperCliCredential(), AzureCliCredential())


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    # One credential and one client for the app's lifetime: tokens are cached and refreshed before expiry.
    credential = make_credential(SETTINGS)
    client = AsyncAzureOpenAI(
        azure_endpoint=SETTINGS.endpoint,
        api_version=SETTINGS.api_version,
        azure_ad_token_provider=get_bearer_token_provider(credential, COGNITIVE_SERVICES_SCOPE),
    )
    identity = f"managed identity {SETTINGS.client_id}" if SETTINGS.client_id else "chained credential"
    log.info("Chatting with deployment %r at %s as %s", SETTINGS.deployment, SETTINGS.endpoint, identity)
    try:
        yield {"client": client}
    finally:
        await client.close()
        await credential.close()
        log.info("Closed the Azure OpenAI client and the credential")


def error_body(status: int | None, code: str, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "code": code, "message": message}}


def summary(failure: dict[str, Any]) -> str:
    error = failure["error"]
    return " ".join(str(part) for part in (error["status"], f"{error['code']}:", error["message"]) if part)


def describe(err: Exception) -> dict[str, Any]:
    """A short, readable account of a failed call, for the page and the log; no stack trace, no token."""
    if isinstance(err, openai.APIStatusError):
        body = err.body if isinstance(err.body, dict) else {}
        code = str(body.get("code") or type(err).__name__)
        message = str(body.get("message") or err.message)
        return error_body(err.status_code, code, message)
    if isinstance(err, ClientAuthenticationError):
        # The chained credential's message says what each credential lacked; the trailing link is noise here.
        lines = [line.strip() for line in (err.message or str(err)).strip().splitlines()]
        attempts = "\n".join(line for line in lines if line and not line.startswith("To mitigate"))
        return error_body(None, "CredentialUnavailable", f"No token for Azure OpenAI. {attempts}")
    if isinstance(err, openai.APIConnectionError):
        return error_body(None, "ConnectionError", f"Could not reach Azure OpenAI at {SETTINGS.endpoint}.")
    return error_body(None, type(err).__name__, "The chat failed; see the app's log.")


def parse_messages(body: Any) -> list[dict[str, str]]:
    """The conversation the page sent: user and assistant turns only (the system prompt is the app's)."""
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        raise ValueError(f"'messages' must be a list of 1 to {MAX_MESSAGES} messages.")
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            raise ValueError("Each message needs a role of 'user' or 'assistant'.")
        if not isinstance(m.get("content"), str) or not 0 < len(m["content"]) <= MAX_CHARS:
            raise ValueError(f"Each message needs a content of 1 to {MAX_CHARS} characters.")
    if messages[-1]["role"] != "user":
        raise ValueError("The last message must be the user's.")
    return [{"role": m["role"], "content": m["content"]} for m in messages]


async def chat(request: Request) -> Response:
    """Stream the assistant's reply as NDJSON lines: ``{"delta": "..."}`` … then ``{"done": true}``."""
    try:
        messages = parse_messages(await request.json())
    except (ValueError, json.JSONDecodeError) as err:
        return JSONResponse(error_body(400, "BadRequest", str(err)), status_code=400)
    client: AsyncAzureOpenAI = request.state.client
    try:
        stream = await client.chat.completions.create(
            model=SETTINGS.deployment,
            messages=[{"role": "system", "content": SYSTEM_PROMPT}, *messages],
            stream=True,
        )
    except (openai.APIError, ClientAuthenticationError) as err:
        failure = describe(err)
        log.warning("Chat failed: %s", summary(failure))
        # Azure's own status travels in the body; to the page this app is a gateway that got an error.
        return JSONResponse(failure, status_code=502)

    async def lines() -> AsyncIterator[bytes]:
        async with stream:
            try:
                async for chunk in stream:
                    # Azure's first chunk carries only the prompt's content-filter results.
                    for choice in chunk.choices:
                        if choice.delta.content:
                            yield json.dumps({"delta": choice.delta.content}).encode() + b"\n"
            except (openai.APIError, ClientAuthenticationError) as err:
                failure = describe(err)
                log.warning("Chat stream broke: %s", summary(failure))
                yield json.dumps(failure).encode() + b"\n"
                return
        yield b'{"done": true}\n'

    return StreamingResponse(lines(), media_type="application/x-ndjson", headers={"cache-control": "no-store"})


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def healthz(request: Request) -> Response:
    # Liveness only: calling Azure here would spend tokens and quota on every probe.
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/", page, methods=["GET"]),
        Route("/chat", chat, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ],
    lifespan=lifespan,
)
