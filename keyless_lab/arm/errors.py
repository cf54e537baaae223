"""ARM's error answers, ``{"error": {"code", "message"}}`` with Azure's own texts, each with its source in the
reference notes (DESIGN §3.4); those marked *unconfirmed* use the closest confirmed ARM shape.
"""

from __future__ import annotations

import datetime as dt
import uuid

from ..errors import AzureError


def _arm_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> AzureError:
    return AzureError(status, {"error": {"code": code, "message": message}}, headers or {})


def authorization_failed(client: str, object_id: str, action: str, scope: str) -> AzureError:
    # Verbatim template: Azure/azure-powershell#10917 (user: the UPN) and pulumi-azure#595 (an app:
    # its object id twice).
    return _arm_error(
        403,
        "AuthorizationFailed",
        f"The client '{client}' with object id '{object_id}' does not have authorization to perform action "
        f"'{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please "
        "refresh your credentials.",
    )


def authentication_missing() -> AzureError:
    # An autorest capture of ARM's answer to a request without a token (find_string hit).
    return _arm_error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")


def token_invalid() -> AzureError:
    # ARM's answer to a malformed or wrongly signed token (several find_string hits).
    return _arm_error(401, "InvalidAuthenticationToken", "The access token is invalid.")


def token_expired(expired_at: int) -> AzureError:
    # Wording and the .NET date format: "The access token expiry UTC time '8/17/2017 10:54:41 PM' is
    # earlier than current UTC time '8/17/2017 10:55:43 PM'." (find_string hits).
    now = int(dt.datetime.now(dt.timezone.utc).timestamp())
    return _arm_error(
        401,
        "ExpiredAuthenticationToken",
        f"The access token expiry UTC time '{_dotnet_time(expired_at)}' is earlier than current UTC time "
        f"'{_dotnet_time(now)}'.",
    )


def token_wrong_audience(audience: str) -> AzureError:
    # Verbatim: JetBrains/azure-tools-for-intellij#16.
    return _arm_error(
        401,
        "InvalidAuthenticationTokenAudience",
        f"The access token has been obtained for wrong audience or resource '{audience}'. It should exactly match "
        "with one of the allowed audiences 'https://management.core.windows.net/','https://management.core."
        "windows.net','https://management.azure.com/','https://management.azure.com'.",
    )


def token_wrong_tenant(token_tenant: str, tenant: str) -> AzureError:
    # Verbatim: Azure/azure-sdk-for-python#38382 and Azure/LogicAppsUX#9068.
    return _arm_error(
        401,
        "InvalidAuthenticationTokenTenant",
        f"The access token is from the wrong issuer 'https://sts.windows.net/{token_tenant}/'. It must match the "
        f"tenant 'https://sts.windows.net/{tenant}/' associated with this subscription. Please use the authority "
        f"(URL) 'https://login.windows.net/{tenant}' to get the token. Note, if the subscription is transferred to "
        "another tenant there is no impact to the services, but information about new tenant could take time to "
        "propagate (up to an hour). If you just transferred your subscription and see this error message, please "
        "try back later.",
    )


def throttled(kind: str, subscription_id: str, object_id: str, retry_after: int) -> AzureError:
    # A recorded ARM 429 body (find_string hit); the Retry-After header is what the SDKs honour.
    return _arm_error(
        429,
        "SubscriptionRequestsThrottled",
        f"Number of '{kind}' requests for subscription '{subscription_id}' actor '{object_id}' exceeded. "
        f"Please try again after '{retry_after}' seconds.",
        {"Retry-After": str(retry_after)},
    )


def internal_error(status: int, subscription_id: str, correlation_id: str) -> AzureError:
    # ARM's 500 text (several find_string hits); other 5xx reuse it (unconfirmed for 502/503/504).
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return _arm_error(
        status,
        "InternalServerError",
        f"Encountered internal server error. Diagnostic information: timestamp '{stamp}', subscription id "
        f"'{subscription_id}', tracking id '{uuid.uuid4()}', request correlation id '{correlation_id}'.",
    )


def invalid_request_content(detail: str) -> AzureError:
    # Shape from MicrosoftDocs (template validation): "The request content was invalid and could not be
    # deserialized: '<parser message>'."; the parser message here is Python's, not .NET's.
    return _arm_error(
        400, "InvalidRequestContent", f"The request content was invalid and could not be deserialized: '{detail}'."
    )


def missing_api_version() -> AzureError:
    # The Azure REST API guidelines' wording (find_string hits of recorded answers).
    message = "The api-version query parameter (?api-version=) is required for all requests."
    return _arm_error(400, "MissingApiVersionParameter", message)


def invalid_resource_type(namespace: str | None, api_version: str) -> AzureError:
    # Verbatim shape from an Azure SDK troubleshooting page (find_string hit).
    if namespace is None:
        return _arm_error(404, "InvalidResourceType", "The resource type could not be found.")
    return _arm_error(
        404,
        "InvalidResourceType",
        f"The resource type could not be found in the namespace '{namespace}' for api version '{api_version}'.",
    )


def resource_not_found(resource_type: str, name: str, resource_group: str) -> AzureError:
    return _arm_error(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' was not found. For more "
        "details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def resource_group_not_found(name: str) -> AzureError:
    # Unconfirmed in the reference notes; ARM's usual wording.
    return _arm_error(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")


def subscription_not_found(subscription_id: str) -> AzureError:
    # Unconfirmed in the reference notes; ARM's usual wording.
    return _arm_error(404, "SubscriptionNotFound", f"The subscription '{subscription_id}' could not be found.")


def role_assignment_exists() -> AzureError:
    # Verbatim: hashicorp/terraform-provider-azurerm#28557, Azure/bicep#11367.
    return _arm_error(409, "RoleAssignmentExists", "The role assignment already exists.")


def role_assignment_update_not_permitted() -> AzureError:
    # Verbatim text from MicrosoftDocs troubleshooting.md, which files it under BadRequest.
    return _arm_error(
        400,
        "RoleAssignmentUpdateNotPermitted",
        "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
    )


def role_assignment_not_found(name: str) -> AzureError:
    # Unconfirmed: no capture of ARM's text for an unknown assignment name was found.
    return _arm_error(404, "RoleAssignmentNotFound", f"The role assignment '{name}' is not found.")


def invalid_role_assignment_id(name: str) -> AzureError:
    # Verbatim: Azure/Azure-Landing-Zones#3419.
    return _arm_error(
        400,
        "InvalidRoleAssignmentId",
        f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.",
    )


def invalid_role_definition_id(value: str) -> AzureError:
    # Verbatim: hashicorp/terraform-provider-azurerm#8547.
    return _arm_error(400, "InvalidRoleDefinitionId", f"The role definition ID '{value}' is not valid.")


def role_definition_does_not_exist(guid: str, status: int) -> AzureError:
    # Text verbatim (Azure/azure-cli#21961, the ID without dashes); 404 on GET is confirmed, the 400 used
    # when a role assignment PUT names an unknown definition is unconfirmed.
    return _arm_error(
        status,
        "RoleDefinitionDoesNotExist",
        f"The specified role definition with ID '{guid.replace('-', '')}' does not exist.",
    )


def invalid_principal_id(value: str) -> AzureError:
    # Verbatim: Azure/azure-powershell#16627.
    return _arm_error(
        400, "InvalidPrincipalId", f"The Principal ID '{value}' is not valid. Principal ID must be a GUID."
    )


def principal_not_found(principal_id: str, tenant_id: str) -> AzureError:
    # Verbatim: Azure/HubAndSpokeResearchEnclave#50 (two spaces before "See"); the principal without
    # dashes and the tenant with them as in Azure/bicep#11025.
    return _arm_error(
        400,
        "PrincipalNotFound",
        f"Principal {principal_id.replace('-', '')} does not exist in the directory {tenant_id}. Check that you have "
        "the correct principal ID. If you are creating this principal and then immediately assigning a role, this "
        "error might be related to a replication delay. In this case, set the role assignment principalType "
        "property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype",
    )


def list_keys_disabled() -> AzureError:
    # "(BadRequest) Failed to list key. disableLocalAuth is set to be true" as az prints it (find_string hits).
    return _arm_error(400, "BadRequest", "Failed to list key. disableLocalAuth is set to be true")


def bad_request(message: str) -> AzureError:
    return _arm_error(400, "BadRequest", message)


FIC_FIELDS_REQUIRED = (
    # Verbatim: zioproto/istio-aks-example#6 (status 400, code BadRequest).
    "The request format was unexpected. Federated Identity Credential must specify 'issuer', 'subject' and 'audience'."
)
# Verbatim text: Azure/bicep-types-az#2054; its status and code are unconfirmed (400 BadRequest used).
FIC_DUPLICATE = "Issuer and subject combination already exists for this Managed Identity."


def method_not_allowed(method: str) -> AzureError:
    # Unconfirmed text; ARM's shape for a verb a resource type does not offer.
    return _arm_error(405, "MethodNotAllowed", f"The requested resource does not support http method '{method}'.")


def listing_not_offered(api_version: str) -> AzureError:
    return invalid_resource_type(None, api_version)


def _dotnet_time(epoch: int) -> str:
    t = dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
    hour = t.hour % 12 or 12
    return f"{t.month}/{t.day}/{t.year} {hour}:{t.minute:02d}:{t.second:02d} {'AM' if t.hour < 12 else 'PM'}"
