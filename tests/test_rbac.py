"""Role definitions, wildcard matching, scope inheritance and Bicep's guid()."""

from __future__ import annotations

import pytest

from keyless_lab.rbac import Rbac, RoleAssignment, RoleAssignmentExists, bicep_guid, scope_contains

SUB = "/subscriptions/11111111-1111-1111-1111-111111111111"
RG = f"{SUB}/resourceGroups/rg-keyless-lab"
ACCOUNT = f"{RG}/providers/Microsoft.CognitiveServices/accounts/oai"
CHAT = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
EMBED = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/embeddings/action"
WRITE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments/write"
LIST_KEYS = "Microsoft.CognitiveServices/accounts/listKeys/action"

# Which built-in role carries which permission (DESIGN §3.3; Owner and Contributor hold no data actions).
PERMISSIONS = [
    ("Owner", CHAT, True, False),
    ("Contributor", CHAT, True, False),
    ("Reader", CHAT, True, False),
    ("Cognitive Services Contributor", CHAT, True, False),
    ("Cognitive Services User", CHAT, True, True),
    ("Cognitive Services OpenAI User", CHAT, True, True),
    ("Cognitive Services OpenAI User", EMBED, True, True),
    ("Cognitive Services OpenAI Contributor", CHAT, True, True),
    ("Owner", WRITE_ASSIGNMENT, False, True),
    ("User Access Administrator", WRITE_ASSIGNMENT, False, True),
    ("Contributor", WRITE_ASSIGNMENT, False, False),
    ("Cognitive Services OpenAI User", WRITE_ASSIGNMENT, False, False),
    ("Cognitive Services User", LIST_KEYS, False, True),
    ("Cognitive Services OpenAI User", LIST_KEYS, False, False),
    ("Contributor", LIST_KEYS, False, True),
]


@pytest.mark.parametrize(("role", "action", "data", "allowed"), PERMISSIONS)
def test_builtin_roles(role: str, action: str, data: bool, allowed: bool) -> None:
    assert Rbac().role_by_name(role).permits(action, data=data) is allowed


def test_assignment_applies_to_its_scope_and_below() -> None:
    rbac = Rbac()
    role = rbac.role_by_name("Cognitive Services OpenAI User").id
    rbac.assign(RoleAssignment("a", RG, role, "p", "User"))
    assert rbac.permits("p", CHAT, ACCOUNT, data=True)
    assert rbac.permits("p", CHAT, ACCOUNT.upper(), data=True)
    assert not rbac.permits("p", CHAT, SUB, data=True)
    assert not rbac.permits("q", CHAT, ACCOUNT, data=True)
    assert not scope_contains(RG, RG + "2/providers/x")
    with pytest.raises(RoleAssignmentExists):
        rbac.assign(RoleAssignment("b", RG.lower(), role, "p", "User"))


def test_bicep_guid_is_uuid5_over_hyphen_joined_arguments() -> None:
    # Bicep documents guid() as a v5 UUID in namespace 11fb06fb-712d-4ddd-98c7-e71bbd588830
    # over the arguments joined with '-'.
    import uuid

    name = bicep_guid(SUB, RG, "principal", "role")
    assert name == str(uuid.uuid5(uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830"), f"{SUB}-{RG}-principal-role"))
    assert uuid.UUID(name).version == 5
    assert bicep_guid(SUB, RG, "principal", "role") == name != bicep_guid(SUB, RG, "other", "role")
