"""One ARM request: the caller's token checked as ARM's gateway checks it, injected faults, ARM's
response headers and JSON bodies. Documented at https://learn.microsoft.com/rest/api/azure/ .
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..directory import MANAGEMENT_AUDIENCES, Principal
from ..errors import AzureError
from ..state import LabState
from ..tokens import ForeignTenant, InvalidToken
from ..web import MAX_BODY_BYTES, set_caller
from .errors import (
    authentication_missing,
    authorization_failed,
    internal_error,
    invalid_request_content,
    resource_group_not_found,
    subscription_not_found,
    throttled,
    token_expired,
    token_invalid,
    token_wrong_audience,
    token_wrong_tenant,
)

LOCATION = "eastus"


@dataclass
class Caller:
    object_id: str
    display_name: str
    client: str  # how AuthorizationFailed names the caller: a user's UPN, else the object id


class Call:
    """One ARM request: who asks, for what, and the helpers every operation needs."""

    def __init__(self, request: Request, state: LabState, path: str) -> None:
        self.request = request
        self.state = state
        self.path = path
        self.method = request.method
        self.api_version = request.query_params.get("api-version", "")
        self.caller: Caller | None = None

    @property
    def subscription_id(self) -> str:
        return self.state.directory.subscription_id

    def authenticate(self) -> Caller:
        header = self.request.headers.get("authorization")
        if not header:
            raise authentication_missing()
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise token_invalid()
        try:
            claims = self.state.issuer.validate(token, MANAGEMENT_AUDIENCES)
        except ForeignTenant as err:
            raise token_wrong_tenant(err.tenant_id, self.state.directory.tenant_id) from None
        except InvalidToken as err:
            raise _token_problem(token, str(err)) from None
        principal: Principal | None = self.state.directory.by_object_id(claims["oid"])
        if principal is None:
            name = claims.get("name") or claims["oid"]
            client = claims.get("upn") or claims["oid"]
        else:
            name = principal.display_name
            client = principal.upn or principal.object_id
        self.caller = Caller(claims["oid"], name, client)
        set_caller(self.request, name, claims["oid"])
        return self.caller

    async def apply_faults(self) -> None:
        fault = self.state.faults.take("arm")
        if fault is None:
            return
        if fault.delay:
            await asyncio.sleep(fault.delay)
        assert self.caller is not None
        if fault.status == 429:
            kind = "read" if self.method == "GET" else "write"
            raise throttled(kind, self.subscription_id, self.caller.object_id, fault.retry_after)
        if fault.status >= 500 or fault.status == 0:
            raise internal_error(fault.status or 503, self.subscription_id, correlation_id(self.request))

    def require(self, action: str, scope: str, shown_scope: str | None = None) -> None:
        """ARM's gateway check: the caller holds ``action`` on ``scope`` (or above), else 403."""
        assert self.caller is not None
        if not self.state.rbac.permits(self.caller.object_id, action, scope, data=False):
            raise authorization_failed(self.caller.client, self.caller.object_id, action, shown_scope or scope)

    async def body(self) -> dict[str, Any]:
        declared = self.request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise invalid_request_content("The request body is too large.")
        raw = await self.request.body()
        if len(raw) > MAX_BODY_BYTES:
            raise invalid_request_content("The request body is too large.")
        try:
            value = json.loads(raw) if raw.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise invalid_request_content(f"{type(err).__name__}: {err}") from None
        if not isinstance(value, dict):
            raise invalid_request_content("The request body must be a JSON object.")
        return value

    def check_resource_group(self, subscription: str, resource_group: str) -> None:
        d = self.state.directory
        if subscription.lower() != d.subscription_id:
            raise subscription_not_found(subscription)
        if resource_group.lower() != d.resource_group.lower():
            raise resource_group_not_found(resource_group)


def _token_problem(token: str, reason: str) -> AzureError:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return token_invalid()
    if reason == "ExpiredSignatureError" and isinstance(claims.get("exp"), int):
        return token_expired(claims["exp"])
    if reason == "InvalidAudienceError" and isinstance(claims.get("aud"), str):
        return token_wrong_audience(claims["aud"])
    return token_invalid()


def correlation_id(request: Request) -> str:
    cached = getattr(request.state, "arm_correlation_id", None)
    if cached is None:
        cached = request.headers.get("x-ms-correlation-request-id") or str(uuid.uuid4())
        request.state.arm_correlation_id = cached
    return cached


def _headers(request: Request) -> dict[str, str]:
    request_id = str(uuid.uuid4())
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    headers = {
        "Cache-Control": "no-cache",
        "Pragma": "no-cache",
        "x-ms-request-id": request_id,
        "x-ms-correlation-request-id": correlation_id(request),
        "x-ms-routing-request-id": f"LABLOCAL:{stamp}:{request_id}",
    }
    if request.method == "GET":
        headers["x-ms-ratelimit-remaining-subscription-reads"] = "11999"
    else:
        headers["x-ms-ratelimit-remaining-subscription-writes"] = "1199"
    return headers


def json_response(request: Request, body: Any, status: int = 200) -> Response:
    return JSONResponse(body, status_code=status, headers=_headers(request))


def empty_response(request: Request, status: int) -> Response:
    return Response(status_code=status, headers=_headers(request))


def error_response(request: Request, err: AzureError) -> Response:
    headers = {**_headers(request), **err.headers}
    if err.status in (401, 403):
        headers["x-ms-failure-cause"] = "gateway"
    return JSONResponse(err.body, status_code=err.status, headers=headers)
