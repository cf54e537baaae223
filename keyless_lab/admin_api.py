"""The lab's own admin surface under ``/lab/…``, for processes that cannot hold the lab handle
(the ``az``/``azd`` stand-ins, ``python -m keyless_lab serve``); protected by the lab's admin secret.

``POST /lab/cli/login`` stands in for the browser step of ``az login``/``azd auth login``: Entra would
show a sign-in page and hand the CLI a refresh token; here the CLI names the user and gets one.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .directory import AZURE_CLI_APP_ID
from .entra import new_refresh_token
from .errors import AzureError
from .web import audited, lab_state, read_json, set_caller

ADMIN_HEADER = "x-lab-admin-secret"
SUBSCRIPTION_NAME = "Keyless Lab Subscription"


def _lab_error(status: int, code: str, message: str) -> AzureError:
    return AzureError(status, {"error": {"code": code, "message": message}})


def _bad_body(message: str) -> AzureError:
    return _lab_error(400, "BadRequest", message)


def _require_admin(request: Request) -> None:
    presented = request.headers.get(ADMIN_HEADER, "")
    if not secrets.compare_digest(presented.encode(), lab_state(request).admin_secret.encode()):
        raise _lab_error(401, "Unauthorized", f"The {ADMIN_HEADER} header is missing or does not match this lab.")
    set_caller(request, "lab admin")


@audited("lab")
async def cli_login(request: Request) -> Response:
    """Sign a user in for a CLI: a refresh token for ``{"user": "learner"|"teammate"}``."""
    _require_admin(request)
    state = lab_state(request)
    body = await read_json(request, _bad_body)
    key = body.get("user") if isinstance(body, dict) else None
    users = sorted(k for k, p in state.directory.principals.items() if p.principal_type == "User")
    if key not in users:
        raise _bad_body(f"'user' must be one of: {', '.join(users)}.")
    principal = state.directory.principals[key]
    set_caller(request, principal.display_name, principal.object_id)
    d = state.directory
    return JSONResponse(
        {
            "refresh_token": new_refresh_token(state, key),
            "client_id": AZURE_CLI_APP_ID,
            "tenant_id": d.tenant_id,
            "user": {
                "key": key,
                "id": principal.object_id,
                "displayName": principal.display_name,
                "userPrincipalName": principal.upn,
            },
            "subscriptions": [
                {"id": d.subscription_id, "name": SUBSCRIPTION_NAME, "state": "Enabled", "tenantId": d.tenant_id}
            ],
        },
        headers={"cache-control": "no-store"},
    )


@audited("lab")
async def lab_facts(request: Request) -> Response:
    """Non-secret facts about the running lab: principals, role assignments, switches."""
    _require_admin(request)
    state = lab_state(request)
    d = state.directory
    return JSONResponse(
        {
            "tenantId": d.tenant_id,
            "subscriptionId": d.subscription_id,
            "subscriptionName": SUBSCRIPTION_NAME,
            "resourceGroup": d.resource_group,
            "accountName": d.account_name,
            "accountId": d.account_scope,
            "disableLocalAuth": state.account.disable_local_auth,
            "tokenLifetime": state.issuer.lifetime,
            "principals": [
                {
                    "key": key,
                    "id": p.object_id,
                    "displayName": p.display_name,
                    "principalType": p.principal_type,
                    "userPrincipalName": p.upn,
                    "appId": p.client_id,
                    "resourceId": p.resource_id,
                }
                for key, p in d.principals.items()
            ],
            "roleAssignments": state.rbac.snapshot(),
        }
    )


routes = [
    Route("/lab/cli/login", cli_login, methods=["POST"]),
    Route("/lab/state", lab_facts, methods=["GET"]),
]
