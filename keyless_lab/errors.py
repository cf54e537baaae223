"""Azure's error answers, status and body, as the real services send them.

Sources for each text are in the project's reference notes (DESIGN §3.4); a text marked
*unconfirmed* there uses the closest confirmed shape, and says so here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AzureError(Exception):
    """An HTTP answer that a surface of the lab sends instead of a result."""

    status: int
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.body}"


# --- Azure OpenAI data plane -------------------------------------------------------------

WRONG_KEY_MESSAGE = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
    "valid key for an active subscription and use a correct regional API endpoint for your resource."
)
TOKEN_INVALID_MESSAGE = (
    "Unauthorized. Access token is missing, invalid, audience is incorrect "
    "(https://cognitiveservices.azure.com), or have expired."
)
DEPLOYMENT_NOT_FOUND_MESSAGE = (
    "The API deployment for this resource does not exist. If you created the deployment within the "
    "last 5 minutes, please wait a moment and try again."
)


def wrong_key() -> AzureError:
    return AzureError(401, {"error": {"code": "401", "message": WRONG_KEY_MESSAGE}})


def key_auth_disabled() -> AzureError:
    return AzureError(
        403,
        {
            "error": {
                "code": "AuthenticationTypeDisabled",
                "message": "Key based authentication is disabled for this resource.",
            }
        },
    )


def token_invalid() -> AzureError:
    # Azure answers this one without the usual {"error": ...} wrapper.
    return AzureError(401, {"statusCode": 401, "message": TOKEN_INVALID_MESSAGE})


def tenant_mismatch(token_tenant: str) -> AzureError:
    return AzureError(
        400,
        {
            "error": {
                "code": "Tenant provided in token does not match resource token",
                "message": f"Token tenant {token_tenant} does not match resource tenant.",
            }
        },
    )


def permission_denied(object_id: str, data_action: str, operation: str) -> AzureError:
    return AzureError(
        401,
        {
            "error": {
                "code": "PermissionDenied",
                "message": (
                    f"The principal `{object_id}` lacks the required data action `{data_action}` "
                    f"to perform `{operation}` operation."
                ),
            }
        },
    )


def deployment_not_found() -> AzureError:
    return AzureError(404, {"error": {"code": "DeploymentNotFound", "message": DEPLOYMENT_NOT_FOUND_MESSAGE}})


def resource_not_found() -> AzureError:
    """Unknown path or an api-version that does not offer the operation."""
    return AzureError(404, {"error": {"code": "404", "message": "Resource not found"}})


def rate_limited(operation: str, api_version: str, retry_after: int, kind: str = "call") -> AzureError:
    message = (
        f"Requests to the {operation} Operation under Azure OpenAI API version {api_version} have "
        f"exceeded {kind} rate limit of your current OpenAI S0 pricing tier. Please retry after "
        f"{retry_after} seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like "
        "to further increase the default rate limit."
    )
    return AzureError(
        429,
        {"error": {"code": "429", "message": message}},
        {"retry-after": str(retry_after), "retry-after-ms": str(retry_after * 1000)},
    )


def bad_request(message: str, param: str | None = None) -> AzureError:
    """The OpenAI-compatible 400 that Azure OpenAI returns for an invalid request body."""
    return AzureError(
        400, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}}
    )


def payload_too_large(limit: int) -> AzureError:
    # Unconfirmed wording; the shape is Azure OpenAI's usual error wrapper.
    return AzureError(
        413, {"error": {"code": "RequestTooLarge", "message": f"The request body exceeds {limit} bytes."}}
    )


def headers_too_large(limit: int) -> AzureError:
    # Unconfirmed wording (Azure's front door answers oversized headers with a 4xx); same shape as above.
    return AzureError(
        431,
        {"error": {"code": "RequestHeaderFieldsTooLarge", "message": f"The request headers exceed {limit} bytes."}},
    )


def server_error(status: int = 500) -> AzureError:
    return AzureError(
        status,
        {
            "error": {
                "code": "InternalServerError",
                "message": "The server had an error while processing your request. Sorry about that!",
            }
        },
    )


def service_unavailable() -> AzureError:
    return AzureError(
        503,
        {
            "error": {
                "code": "ServiceUnavailable",
                "message": "The service is temporarily unable to process your request. Please try again later.",
            }
        },
    )


# --- App Service / Container Apps identity endpoint --------------------------------------


def identity_header_rejected() -> AzureError:
    # Container Apps answers a missing or wrong X-IDENTITY-HEADER with an empty 403.
    return AzureError(403, None)


def identity_not_found() -> AzureError:
    return AzureError(
        400,
        {
            "statusCode": 400,
            "message": (
                "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId."
            ),
        },
    )


def identity_ambiguous() -> AzureError:
    return AzureError(
        400,
        {
            "statusCode": 400,
            "message": "Unable to load the proper Managed Identity.",
            "correlationId": str(uuid.uuid4()),
        },
    )


def identity_bad_request(message: str) -> AzureError:
    # Unconfirmed text; the shape is the endpoint's confirmed {"statusCode", "message"} body.
    return AzureError(400, {"statusCode": 400, "message": message})


def identity_unsupported_api_version(url: str, api_version: str) -> AzureError:
    return AzureError(
        400,
        {
            "error": {
                "code": "UnsupportedApiVersion",
                "message": (
                    f"The HTTP resource that matches the request URI '{url}' does not support the "
                    f"API version '{api_version}'"
                ),
            }
        },
    )
