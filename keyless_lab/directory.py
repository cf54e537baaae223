"""The lab's tenant: its principals (users, apps, managed identities) and the hosts that carry them.

Mirrors what Entra ID and Azure Resource Manager know about a small keyless deployment
(DESIGN §3.2): one tenant, one subscription, one resource group, one Azure OpenAI account.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

_NAMESPACE = uuid.UUID("0b1c5e55-6b5c-4a7e-9e2b-6b6579c3e55a")

AZURE_CLI_APP_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
AZURE_DEVELOPER_CLI_APP_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
COGNITIVE_SERVICES = "https://cognitiveservices.azure.com"
MANAGEMENT = "https://management.azure.com/"
MANAGEMENT_AUDIENCES = ("https://management.azure.com", "https://management.core.windows.net")


def stable_id(name: str) -> str:
    """A GUID that is the same in every lab, so that lesson text and outputs stay readable."""
    return str(uuid.uuid5(_NAMESPACE, name))


PrincipalType = Literal["User", "ServicePrincipal"]


@dataclass(frozen=True)
class Principal:
    """Someone a token can be issued to."""

    object_id: str
    display_name: str
    principal_type: PrincipalType
    upn: str | None = None
    client_id: str | None = None  # the app id of a service principal or managed identity
    resource_id: str | None = None  # the ARM id of a managed identity (xms_mirid)
    tenant_id: str = ""

    @property
    def is_managed_identity(self) -> bool:
        return self.resource_id is not None


@dataclass(frozen=True)
class Host:
    """A compute resource with a managed-identity endpoint (App Service, Container Apps)."""

    name: str
    resource_id: str
    system_identity: Principal | None
    user_identities: tuple[Principal, ...] = ()
    settings: dict[str, str] = field(default_factory=dict)  # app settings the template sets


@dataclass
class Directory:
    """Everything the lab knows about its tenant, built by :func:`default_directory`."""

    tenant_id: str
    subscription_id: str
    resource_group: str
    account_name: str
    chat_deployment: str
    embeddings_deployment: str
    principals: dict[str, Principal]
    hosts: dict[str, Host]
    foreign_tenant_id: str

    @property
    def resource_group_scope(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"

    @property
    def account_scope(self) -> str:
        return f"{self.resource_group_scope}/providers/Microsoft.CognitiveServices/accounts/{self.account_name}"

    @property
    def learner(self) -> Principal:
        return self.principals["learner"]

    @property
    def teammate(self) -> Principal:
        return self.principals["teammate"]

    def by_object_id(self, object_id: str) -> Principal | None:
        wanted = object_id.lower()
        return next((p for p in self.principals.values() if p.object_id == wanted), None)

    def by_client_id(self, client_id: str) -> Principal | None:
        wanted = client_id.lower()
        return next((p for p in self.principals.values() if p.client_id == wanted), None)


def default_directory() -> Directory:
    """The topology every new lab starts from."""
    tenant = stable_id("tenant")
    subscription = stable_id("subscription")
    resource_group = "rg-keyless-lab"
    rg_scope = f"/subscriptions/{subscription}/resourceGroups/{resource_group}"

    def user(key: str, name: str, upn: str) -> Principal:
        return Principal(stable_id(key), name, "User", upn=upn, tenant_id=tenant)

    def identity(key: str, name: str, resource_id: str) -> Principal:
        return Principal(
            stable_id(key),
            name,
            "ServicePrincipal",
            client_id=stable_id(key + "-client"),
            resource_id=resource_id,
            tenant_id=tenant,
        )

    site_id = f"{rg_scope}/providers/Microsoft.Web/sites/chat-app"
    aca_id = f"{rg_scope}/providers/Microsoft.App/containerApps/chat-aca"
    uami = f"{rg_scope}/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
    principals = {
        "learner": user("learner", "Ada Learner", "ada@keyless-lab.example"),
        "teammate": user("teammate", "Tom Teammate", "tom@keyless-lab.example"),
        "chat-app": identity("chat-app", "chat-app", site_id),
        "id-chat-aca": identity("id-chat-aca", "id-chat-aca", f"{uami}/id-chat-aca"),
        "id-chat-aca-jobs": identity("id-chat-aca-jobs", "id-chat-aca-jobs", f"{uami}/id-chat-aca-jobs"),
    }
    hosts = {
        "chat-app": Host("chat-app", site_id, principals["chat-app"]),
        "chat-aca": Host(
            "chat-aca",
            aca_id,
            None,
            (principals["id-chat-aca"], principals["id-chat-aca-jobs"]),
            # The template tells the app which of its identities to use (DESIGN §5).
            {"AZURE_CLIENT_ID": principals["id-chat-aca"].client_id or ""},
        ),
    }
    return Directory(
        tenant_id=tenant,
        subscription_id=subscription,
        resource_group=resource_group,
        account_name="oai-keyless-lab",
        chat_deployment="chat",
        embeddings_deployment="embeddings",
        principals=principals,
        hosts=hosts,
        foreign_tenant_id=stable_id("another-tenant"),
    )
