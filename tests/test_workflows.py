"""GitHub Actions workflows: they parse, run the README's test command, compile the Bicep, and
sign in to Azure with OIDC (a federated credential) rather than with a stored secret."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"
FILES = ["ci.yml", "infra.yml", "azure-e2e.yml"]


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as the boolean True.
    return workflow.get("on", workflow.get(True))


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def runs(workflow: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in steps(workflow))


@pytest.mark.parametrize("name", FILES)
def test_workflow_parses(name: str) -> None:
    workflow = load(name)
    assert workflow["name"] and triggers(workflow) and workflow["jobs"]


@pytest.mark.parametrize("name", FILES)
def test_actions_are_pinned_to_a_release(name: str) -> None:
    for step in steps(load(name)):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})", step["uses"]), step["uses"]


@pytest.mark.parametrize("name", FILES)
def test_least_token_permissions(name: str) -> None:
    permissions = load(name)["permissions"]
    assert permissions["contents"] == "read"
    assert set(permissions.values()) <= {"read", "write"} and "write-all" not in str(permissions)


def test_ci_runs_make_test_on_push_and_pull_request() -> None:
    workflow = load("ci.yml")
    assert {"push", "pull_request"} <= set(triggers(workflow))
    assert re.search(r"^make test$", runs(workflow), re.MULTILINE)
    assert any(step.get("with", {}).get("python-version") == "3.11" for step in steps(workflow))


def test_infra_compiles_main_bicep() -> None:
    assert "az bicep build --file infra/main.bicep" in runs(load("infra.yml"))


def test_e2e_is_started_by_hand() -> None:
    assert set(triggers(load("azure-e2e.yml"))) == {"workflow_dispatch"}


def test_e2e_uses_oidc() -> None:
    workflow = load("azure-e2e.yml")
    assert workflow["permissions"]["id-token"] == "write"
    (login,) = [s for s in steps(workflow) if s.get("uses", "").lower().startswith("azure/login@")]
    for key in ("client-id", "tenant-id", "subscription-id"):
        assert login["with"][key].replace(" ", "").startswith("${{vars."), f"{key} must come from a variable"
    assert "client-secret" not in login["with"] and "creds" not in login["with"]
    assert "--federated-credential-provider github" in " ".join(runs(workflow).split())


@pytest.mark.parametrize("name", FILES)
def test_no_stored_secrets(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    assert "secrets." not in text
    assert not re.search(r"client[-_]secret|AZURE_CREDENTIALS|--password", text, re.IGNORECASE)


def test_e2e_provisions_writes_env_and_runs_notebooks_against_azure() -> None:
    workflow = load("azure-e2e.yml")
    commands = runs(workflow)
    for command in ("azd provision --no-prompt", "azd env get-values > .env", "make test"):
        assert command in commands
    (notebooks,) = [s for s in steps(workflow) if s.get("run") == "make test"]
    assert notebooks["env"]["KEYLESS_TARGET"] == "azure"
    assert workflow["jobs"]["e2e"]["env"]["AZURE_PRINCIPAL_TYPE"] == "ServicePrincipal"


def test_e2e_cleans_up() -> None:
    (cleanup,) = [s for s in steps(load("azure-e2e.yml")) if "azd down" in s.get("run", "")]
    assert "--purge" in cleanup["run"] and "always()" in cleanup["if"]
