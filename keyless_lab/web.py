"""HTTP plumbing shared by the lab's surfaces: bounded JSON bodies, Azure-shaped error answers,
and the audit record every request leaves (who, what, status).
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import errors
from .errors import AzureError

if TYPE_CHECKING:  # state.py imports surfaces that import this module
    from .state import LabState

MAX_BODY_BYTES = 1_048_576  # a bound for every request body; larger ones get 413
MAX_HEADER_BYTES = 32_768  # a bound for the header block; larger ones get 431 (or uvicorn's own 400)

Endpoint = Callable[[Request], Awaitable[Response]]


def lab_state(request: Request) -> LabState:
    return request.app.state.lab


def error_response(err: AzureError) -> Response:
    headers = {"apim-request-id": str(uuid.uuid4()), **err.headers}
    if err.body is None:
        return Response(status_code=err.status, headers=headers)
    return JSONResponse(err.body, status_code=err.status, headers=headers)


async def read_json(request: Request, bad: Callable[[str], AzureError] = errors.bad_request) -> Any:
    """The request body as JSON, within :data:`MAX_BODY_BYTES`, or Azure's 400/413."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise errors.payload_too_large(MAX_BODY_BYTES)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise errors.payload_too_large(MAX_BODY_BYTES)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        raise bad("The request body is empty; a JSON object was expected.")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise bad(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
            "but what was sent was not valid JSON."
        ) from None


def set_caller(request: Request, name: str, object_id: str | None = None) -> None:
    request.state.caller = (name, object_id)


def audited(surface: str) -> Callable[[Endpoint], Endpoint]:
    """Record every answer of an endpoint in the lab's audit log, errors included."""

    def wrap(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def handler(request: Request) -> Response:
            set_caller(request, "anonymous")
            status = 500
            try:
                response = await endpoint(request)
                status = response.status_code
                return response
            except AzureError as err:
                status = err.status
                return error_response(err)
            finally:
                name, object_id = request.state.caller
                operation = f"{request.method} {request.url.path}"
                lab_state(request).audit.record(surface, name, object_id, operation, status)

        return handler

    return wrap
