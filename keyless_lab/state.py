"""Everything one lab holds while it runs, and the presets lessons start from (DESIGN §3.2).

``fresh``: no data-plane role anywhere and keys enabled; ``ready``: the learner and both app
identities hold *Cognitive Services OpenAI User* on the account and keys are disabled.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from .account import Account, Deployment
from .audit import AuditLog
from .directory import Directory, default_directory
from .faults import Faults, RateLimiter
from .oidc_issuers import Issuers
from .rbac import Rbac, RoleAssignment, bicep_guid
from .tokens import TokenIssuer

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
OPENAI_USER = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
PRESETS = ("fresh", "ready")


@dataclass
class LabState:
    directory: Directory
    issuer: TokenIssuer
    rbac: Rbac
    account: Account
    audit: AuditLog = field(default_factory=AuditLog)
    limits: RateLimiter = field(default_factory=RateLimiter)
    faults: Faults = field(default_factory=Faults)
    host_secrets: dict[str, str] = field(default_factory=dict)
    admin_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # Refresh tokens handed out at developer sign-in (opaque value -> principal key); never logged.
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    # Federated identity credentials of user-assigned identities, by the identity's object id
    # (each {name, issuer, subject, audiences}); written through ARM, matched by the token service.
    federated_credentials: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # The external OIDC issuers (GitHub Actions, Kubernetes) whose tokens federation accepts.
    issuers: Issuers = field(default_factory=Issuers)

    def __repr__(self) -> str:
        return f"LabState(tenant={self.directory.tenant_id}, secrets=<hidden>)"

    def host_for_secret(self, presented: str) -> str | None:
        return next(
            (name for name, value in self.host_secrets.items() if secrets.compare_digest(presented, value)),
            None,
        )

    def grant(self, principal_id: str, role_id: str, scope: str, principal_type: str) -> RoleAssignment:
        """Assign a role the way the seed's Bicep names it: ``guid(sub, rg, principal, role)``."""
        d = self.directory
        name = bicep_guid(f"/subscriptions/{d.subscription_id}", d.resource_group_scope, principal_id, role_id)
        return self.rbac.assign(RoleAssignment(name, scope, role_id, principal_id, principal_type))

    def apply_preset(self, preset: str) -> None:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        d = self.directory
        self.rbac.clear_data_roles()
        self.limits.reset()
        self.faults.clear()
        if preset == "fresh":
            self.account.disable_local_auth = False
            return
        self.account.disable_local_auth = True
        for key in ("learner", "chat-app", "id-chat-aca", "id-chat-aca-jobs"):
            p = d.principals[key]
            self.grant(p.object_id, OPENAI_USER, d.account_scope, p.principal_type)


def new_state(preset: str = "fresh") -> LabState:
    directory = default_directory()
    state = LabState(
        directory=directory,
        issuer=TokenIssuer(directory),
        rbac=Rbac(),
        account=Account(
            directory.account_name,
            [
                Deployment(directory.chat_deployment, "gpt-4o-mini", "chat"),
                Deployment(directory.embeddings_deployment, "text-embedding-3-small", "embeddings", 1536),
            ],
        ),
    )
    state.host_secrets = {name: secrets.token_hex(16) for name in directory.hosts}
    # The learner created the resource group, so they are its Owner (a control-plane role only).
    learner = directory.learner
    state.rbac.assign(
        RoleAssignment(
            bicep_guid(directory.resource_group_scope, learner.object_id, OWNER),
            directory.resource_group_scope,
            OWNER,
            learner.object_id,
            "User",
        )
    )
    state.apply_preset(preset)
    return state
