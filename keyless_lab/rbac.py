"""Azure role-based access control: built-in role definitions, assignments, and the access check.

Follows "Understand Azure role definitions" (actions / notActions / dataActions with wildcards)
and "Understand scope" (an assignment applies to its scope and everything below it):
https://learn.microsoft.com/azure/role-based-access-control/role-definitions
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import threading
import uuid
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

# Bicep's guid() is a name-based UUID (v5) in this namespace over its arguments joined by "-".
BICEP_GUID_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")


def bicep_guid(*values: str) -> str:
    """What Bicep's ``guid(a, b, c)`` returns for the same arguments."""
    return str(uuid.uuid5(BICEP_GUID_NAMESPACE, "-".join(values)))


@dataclass(frozen=True)
class RoleDefinition:
    id: str
    role_name: str
    description: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    data_actions: tuple[str, ...]
    not_data_actions: tuple[str, ...]

    def permits(self, action: str, *, data: bool) -> bool:
        allowed, denied = (self.data_actions, self.not_data_actions) if data else (self.actions, self.not_actions)
        return _matches_any(action, allowed) and not _matches_any(action, denied)


def _matches_any(action: str, patterns: tuple[str, ...]) -> bool:
    # Operation names are case-insensitive, and "*" may stand anywhere in a pattern.
    action = action.lower()
    return any(fnmatch.fnmatchcase(action, pattern.lower()) for pattern in patterns)


def load_builtin_roles() -> dict[str, RoleDefinition]:
    data = json.loads(resources.files("keyless_lab").joinpath("data/builtin_roles.json").read_text())
    return {
        role["id"]: RoleDefinition(
            id=role["id"],
            role_name=role["roleName"],
            description=role["description"],
            actions=tuple(role["actions"]),
            not_actions=tuple(role["notActions"]),
            data_actions=tuple(role["dataActions"]),
            not_data_actions=tuple(role["notDataActions"]),
        )
        for role in data["roles"]
    }


def scope_contains(outer: str, inner: str) -> bool:
    """True when ``inner`` is ``outer`` or below it (scopes compare case-insensitively)."""
    outer_parts = [p for p in outer.lower().split("/") if p]
    inner_parts = [p for p in inner.lower().split("/") if p]
    return inner_parts[: len(outer_parts)] == outer_parts


@dataclass(frozen=True)
class RoleAssignment:
    name: str
    scope: str
    role_definition_id: str  # the bare GUID
    principal_id: str
    principal_type: str
    created_by: str | None = None
    created_on: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat())
    description: str | None = None


class RoleAssignmentExists(Exception):
    """The same principal already holds the same role at the same scope."""


class Rbac:
    """The role assignments of one lab, and the check every request goes through."""

    def __init__(self) -> None:
        self.definitions = load_builtin_roles()
        self._assignments: dict[str, RoleAssignment] = {}
        self._lock = threading.Lock()

    def role_by_name(self, role_name: str) -> RoleDefinition:
        for role in self.definitions.values():
            if role.role_name.lower() == role_name.lower():
                return role
        raise KeyError(role_name)

    def assign(self, assignment: RoleAssignment) -> RoleAssignment:
        with self._lock:
            for existing in self._assignments.values():
                if (
                    existing.principal_id == assignment.principal_id
                    and existing.role_definition_id == assignment.role_definition_id
                    and existing.scope.lower() == assignment.scope.lower()
                ):
                    raise RoleAssignmentExists(existing.name)
            self._assignments[assignment.name] = assignment
        return assignment

    def remove(self, name: str) -> RoleAssignment | None:
        with self._lock:
            return self._assignments.pop(name, None)

    def get(self, name: str) -> RoleAssignment | None:
        return self._assignments.get(name)

    def assignments(self) -> list[RoleAssignment]:
        with self._lock:
            return list(self._assignments.values())

    def clear_data_roles(self) -> None:
        """Drop every assignment of a role that carries data actions (used by presets)."""
        with self._lock:
            self._assignments = {
                name: a
                for name, a in self._assignments.items()
                if not self.definitions[a.role_definition_id].data_actions
            }

    def roles_of(self, principal_id: str, scope: str) -> list[RoleDefinition]:
        """Role definitions the principal holds at ``scope``, directly or inherited."""
        return [
            self.definitions[a.role_definition_id]
            for a in self.assignments()
            if a.principal_id == principal_id and scope_contains(a.scope, scope)
        ]

    def permits(self, principal_id: str, action: str, scope: str, *, data: bool) -> bool:
        return any(role.permits(action, data=data) for role in self.roles_of(principal_id, scope))

    def snapshot(self) -> list[dict[str, Any]]:
        return [
            {
                "name": a.name,
                "scope": a.scope,
                "role": self.definitions[a.role_definition_id].role_name,
                "principalId": a.principal_id,
                "principalType": a.principal_type,
            }
            for a in self.assignments()
        ]
