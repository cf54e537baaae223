"""Microsoft Graph at ``{lab}/graph``: the one read the Azure CLI makes, ``GET /v1.0/me`` (az ad signed-in-user
show). Documented at https://learn.microsoft.com/graph/api/user-get ; errors: https://learn.microsoft.com/graph/errors
"""

from __future__ import annotations

import datetime as dt
import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import AzureError
from .tokens import ForeignTenant, InvalidToken
from .web import audited, lab_state, set_caller

GRAPH = "https://graph.microsoft.com"


def _graph_error(status: int, code: str, message: str) -> AzureError:
    # Graph's error wrapper; the exact texts for each token fault are unconfirmed.
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    inner = {"date": now, "request-id": str(uuid.uuid4()), "client-request-id": str(uuid.uuid4())}
    return AzureError(status, {"error": {"code": code, "message": message, "innerError": inner}})


@audited("entra")
async def graph_me(request: Request) -> Response:
    """``GET https://graph.microsoft.com/v1.0/me`` — what ``az ad signed-in-user show`` prints."""
    state = lab_state(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
    try:
        claims = state.issuer.validate(token, (GRAPH,))
    except (InvalidToken, ForeignTenant):
        raise _graph_error(401, "InvalidAuthenticationToken", "Access token validation failure.") from None
    principal = state.directory.by_object_id(claims["oid"])
    if principal is None or principal.principal_type != "User":
        raise _graph_error(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
    set_caller(request, principal.display_name, principal.object_id)
    given, _, surname = principal.display_name.partition(" ")
    return JSONResponse(
        {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
            "businessPhones": [],
            "displayName": principal.display_name,
            "givenName": given,
            "id": principal.object_id,
            "jobTitle": None,
            "mail": principal.upn,
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": None,
            "surname": surname or None,
            "userPrincipalName": principal.upn,
        }
    )


routes = [Route("/graph/v1.0/me", graph_me, methods=["GET"])]
