"""The Azure OpenAI data plane: chat completions (plain and streamed) and embeddings, on the
deployments path with ``api-version`` and on ``/openai/v1/``; key or Entra ID token, then RBAC.

REST reference: https://learn.microsoft.com/azure/ai-services/openai/reference ; data actions from
the *Cognitive Services OpenAI User* role definition.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import json
import random
import re
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import errors
from .directory import COGNITIVE_SERVICES
from .errors import AzureError
from .state import LabState
from .tokens import ForeignTenant, InvalidToken
from .web import audited, lab_state, read_json, set_caller

DATA_ACTIONS = {
    "chat": "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action",
    "embeddings": "Microsoft.CognitiveServices/accounts/OpenAI/deployments/embeddings/action",
}
OPERATION_NAMES = {"chat": "ChatCompletions_Create", "embeddings": "Embeddings_Create"}
# The oldest GA api-version for chat completions; older or malformed versions get Azure's 404.
OLDEST_API_VERSION = "2023-05-15"
_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
_DEPLOYMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _check_api_version(request: Request) -> str:
    version = request.query_params.get("api-version", "")
    if not _API_VERSION.match(version) or version[:10] < OLDEST_API_VERSION:
        raise errors.resource_not_found()
    # A version is a release date: one that is no calendar date, or lies ahead, names nothing.
    try:
        released = datetime.date.fromisoformat(version[:10])
    except ValueError:
        raise errors.resource_not_found() from None
    if released > datetime.datetime.now(datetime.timezone.utc).date():
        raise errors.resource_not_found()
    return version


def authenticate(request: Request, state: LabState) -> tuple[str, str | None]:
    """Who is calling: ``(display name, object id)`` for a token, ``(key name, None)`` for a key."""
    key = request.headers.get("api-key")
    authorization = request.headers.get("authorization")
    if key is not None:
        key_name = state.account.key_name_for(key)
        set_caller(request, key_name or "unknown key")
        # Once local auth is off, Azure refuses every key, right or wrong.
        if state.account.disable_local_auth:
            raise errors.key_auth_disabled()
        if key_name is None:
            raise errors.wrong_key()
        return key_name, None
    if not authorization:
        raise errors.token_invalid()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.token_invalid()
    try:
        claims = state.issuer.validate(token.strip(), (COGNITIVE_SERVICES,))
    except InvalidToken:
        raise errors.token_invalid() from None
    except ForeignTenant as err:
        raise errors.tenant_mismatch(err.tenant_id) from None
    principal = state.directory.by_object_id(claims["oid"])
    name = principal.display_name if principal else claims.get("name") or claims["oid"]
    return name, claims["oid"]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def count_tokens(text: str) -> int:
    """A stable stand-in for a tokenizer: words and punctuation marks."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def reply_for(messages: list[dict[str, Any]]) -> str:
    """The lab's deterministic answer: the same conversation always gets the same words."""
    last = next((_text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    return f'Hello from the Go Keyless lab! You said: "{last.strip()}"'


def _validate_chat(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        raise errors.bad_request("The request body must be a JSON object.")
    messages = body.get("messages")
    if messages is None:
        raise errors.bad_request("'messages' is a required property", "messages")
    if not isinstance(messages, list) or not messages:
        raise errors.bad_request("'messages' must be a non-empty array.", "messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise errors.bad_request(f"'messages[{i}].role' is a required property", f"messages[{i}].role")
        if not isinstance(message.get("content", ""), str | list | type(None)):
            raise errors.bad_request(f"Invalid type for 'messages[{i}].content'.", f"messages[{i}].content")
    if "stream" in body and not isinstance(body["stream"], bool):
        raise errors.bad_request("Invalid type for 'stream': expected a boolean.", "stream")
    return messages


def _embedding_inputs(body: Any) -> list[str]:
    if not isinstance(body, dict):
        raise errors.bad_request("The request body must be a JSON object.")
    raw = body.get("input")
    if raw is None:
        raise errors.bad_request("'input' is a required property", "input")
    items = raw if isinstance(raw, list) else [raw]
    if not items or len(items) > 2048:
        raise errors.bad_request("'input' must hold between 1 and 2048 items.", "input")
    texts = []
    for item in items:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, list) and all(isinstance(t, int) for t in item):
            texts.append(" ".join(map(str, item)))  # token arrays are accepted as-is
        else:
            raise errors.bad_request("Invalid type for 'input'.", "input")
    return texts


def embedding_for(text: str, dimensions: int) -> list[float]:
    """A unit vector derived from the text alone, so equal texts embed equally."""
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    vector = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = sum(v * v for v in vector) ** 0.5 or 1.0
    return [v / norm for v in vector]


def _completion_id(text: str) -> str:
    return "chatcmpl-" + hashlib.sha256(f"{text}{time.time_ns()}".encode()).hexdigest()[:29]


class _Call:
    """One data-plane call, resolved: who, which deployment, which operation."""

    def __init__(self, request: Request, kind: str, deployment: str | None, v1: bool) -> None:
        self.request = request
        self.kind = kind
        self.deployment_name = deployment
        self.v1 = v1
        self.state = lab_state(request)
        self.api_version = "v1" if v1 else _check_api_version(request)

    def operation(self) -> str:
        suffix = "chat/completions" if self.kind == "chat" else "embeddings"
        if self.v1:
            return f"POST /openai/v1/{suffix}"
        return f"POST /openai/deployments/{{deployment-id}}/{suffix}"

    def authorize(self) -> None:
        name, object_id = authenticate(self.request, self.state)
        set_caller(self.request, name, object_id)
        if object_id is None:
            return  # a key opens every deployment of the account
        scope = self.state.directory.account_scope
        if not self.state.rbac.permits(object_id, DATA_ACTIONS[self.kind], scope, data=True):
            raise errors.permission_denied(object_id, DATA_ACTIONS[self.kind], self.operation())

    def deployment(self, body: dict[str, Any]) -> str:
        name = body.get("model") if self.v1 else self.deployment_name
        if not isinstance(name, str) or not _DEPLOYMENT_NAME.match(name):
            raise errors.deployment_not_found()
        deployment = self.state.account.deployments.get(name)
        if deployment is None or deployment.kind != self.kind:
            raise errors.deployment_not_found()
        return name

    async def begin(self) -> tuple[dict[str, Any], str]:
        """Azure's order: who is calling and may they, then the body, then which deployment."""
        self.authorize()
        body = await read_json(self.request)
        if not isinstance(body, dict):
            raise errors.bad_request("The request body must be a JSON object.")
        return body, self.deployment(body)

    async def apply_faults(self) -> None:
        fault = self.state.faults.take("openai")
        if fault is None:
            return
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.status == 429:
            raise errors.rate_limited(OPERATION_NAMES[self.kind], self.api_version, fault.retry_after)
        if fault.status == 503:
            raise errors.service_unavailable()
        if fault.status >= 500:
            raise errors.server_error(fault.status)

    def admit(self, deployment: str, tokens: int) -> dict[str, str]:
        return self.state.limits.admit(deployment, tokens, OPERATION_NAMES[self.kind], self.api_version)


def _base_headers(state: LabState) -> dict[str, str]:
    return {"x-ms-region": "Lab Local", "x-ms-account": state.account.name}


async def _chat(request: Request, deployment: str | None, v1: bool) -> Response:
    call = _Call(request, "chat", deployment, v1)
    body, name = await call.begin()
    messages = _validate_chat(body)
    await call.apply_faults()
    prompt_tokens = sum(count_tokens(_text_of(m.get("content"))) for m in messages)
    text = reply_for(messages)
    completion_tokens = count_tokens(text)
    headers = {**_base_headers(call.state), **call.admit(name, prompt_tokens + completion_tokens)}
    model = call.state.account.deployments[name].model
    created = int(time.time())
    cid = _completion_id(text)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if body.get("stream"):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        stream = _stream_chunks(cid, created, model, text, usage if include_usage else None)
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
    return JSONResponse(
        {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "logprobs": None,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "content_filter_results": {},
                }
            ],
            "usage": usage,
            "system_fingerprint": "fp_keyless_lab",
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
        },
        headers=headers,
    )


async def _stream_chunks(
    cid: str, created: int, model: str, text: str, usage: dict[str, int] | None
) -> AsyncIterator[bytes]:
    def event(payload: dict[str, Any]) -> bytes:
        return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"

    def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
        return event(
            {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_keyless_lab",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            }
        )

    # Azure sends the prompt's content-filter results first, in a chunk with no choices.
    yield event(
        {
            "id": "",
            "object": "",
            "created": 0,
            "model": "",
            "choices": [],
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
        }
    )
    yield chunk({"role": "assistant", "content": ""}, None)
    for piece in re.findall(r"\S+\s*", text):
        yield chunk({"content": piece}, None)
    yield chunk({}, "stop")
    if usage is not None:
        yield event(
            {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": usage,
            }
        )
    yield b"data: [DONE]\n\n"


async def _embeddings(request: Request, deployment: str | None, v1: bool) -> Response:
    call = _Call(request, "embeddings", deployment, v1)
    body, name = await call.begin()
    texts = _embedding_inputs(body)
    dimensions = body.get("dimensions", call.state.account.deployments[name].dimensions)
    if not isinstance(dimensions, int) or isinstance(dimensions, bool) or not 1 <= dimensions <= 3072:
        raise errors.bad_request("'dimensions' must be an integer between 1 and 3072.", "dimensions")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise errors.bad_request("'encoding_format' must be 'float' or 'base64'.", "encoding_format")
    await call.apply_faults()
    tokens = sum(count_tokens(t) for t in texts)
    headers = {**_base_headers(call.state), **call.admit(name, tokens)}
    data = []
    for index, text in enumerate(texts):
        vector = embedding_for(text, dimensions)
        value: Any = vector
        if encoding == "base64":
            value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": value})
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "model": call.state.account.deployments[name].model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        },
        headers=headers,
    )


@audited("openai")
async def chat_on_deployment(request: Request) -> Response:
    return await _chat(request, request.path_params["deployment"], v1=False)


@audited("openai")
async def chat_v1(request: Request) -> Response:
    return await _chat(request, None, v1=True)


@audited("openai")
async def embeddings_on_deployment(request: Request) -> Response:
    return await _embeddings(request, request.path_params["deployment"], v1=False)


@audited("openai")
async def embeddings_v1(request: Request) -> Response:
    return await _embeddings(request, None, v1=True)


routes = [
    Route("/openai/deployments/{deployment}/chat/completions", chat_on_deployment, methods=["POST"]),
    Route("/openai/deployments/{deployment}/embeddings", embeddings_on_deployment, methods=["POST"]),
    Route("/openai/v1/chat/completions", chat_v1, methods=["POST"]),
    Route("/openai/v1/embeddings", embeddings_v1, methods=["POST"]),
]

__all__ = ["routes", "authenticate", "reply_for", "embedding_for", "AzureError"]
