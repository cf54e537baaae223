"""Offline checks of the azd template in infra/ and azure.yaml.

Every Bicep file is parsed with pycep-parser and the parsed model is asserted: keys are off on the
Azure OpenAI account, each host signs in with the intended kind of managed identity, roles are
the least built-in ones and are named by guid(), and azd gets every setting the notebooks read.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
MAIN = INFRA / "main.bicep"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))

# Built-in role definitions have the same GUID in every tenant. These are the only roles the
# template may assign; the forbidden ones are control-plane roles a learner or app never needs.
ALLOWED_ROLES = {
    "Cognitive Services OpenAI User": "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd",
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
}
FORBIDDEN_ROLES = {
    "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    "Cognitive Services Contributor": "25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68",
    "Cognitive Services OpenAI Contributor": "a001fd3d-188f-4b5d-821b-7da978bf7442",
}
# The `roles` variable of main.bicep, key by key.
ROLE_VARIABLE_KEYS = {
    "cognitiveServicesOpenAiUser": "Cognitive Services OpenAI User",
    "acrPull": "AcrPull",
}

# Which principal holds which role: (module in main.bicep, role, principalType, principalId source).
ROLE_ASSIGNMENTS = [
    ("learnerOpenAiUser", "Cognitive Services OpenAI User", "principalType", "principalId"),
    ("webOpenAiUser", "Cognitive Services OpenAI User", "ServicePrincipal", "web.outputs.identityPrincipalId"),
    ("acaAcrPull", "AcrPull", "ServicePrincipal", "acaIdentity.outputs.principalId"),
    ("acaOpenAiUser", "Cognitive Services OpenAI User", "ServicePrincipal", "acaIdentity.outputs.principalId"),
    ("ciOpenAiUser", "Cognitive Services OpenAI User", "ServicePrincipal", "ciIdentity.outputs.principalId"),
]

MODULE_FILES = [
    "main.bicep",
    "core/ai/openai.bicep",
    "core/security/role.bicep",
    "core/security/managed-identity.bicep",
    "core/security/federated-credential.bicep",
    "core/host/appservice-plan.bicep",
    "core/host/appservice.bicep",
    "core/host/container-registry.bicep",
    "core/host/container-apps-environment.bicep",
    "core/host/container-app.bicep",
]

# What azd writes into .env after `azd provision` (the notebooks' azure target reads these).
REQUIRED_OUTPUTS = [
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_CHAT_DEPLOYMENT",
    "AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT",
    "AZURE_OPENAI_API_VERSION",
    "AZURE_OPENAI_ACCOUNT_NAME",
    "AZURE_TENANT_ID",
    "AZURE_SUBSCRIPTION_ID",
    "AZURE_RESOURCE_GROUP",
    "AZURE_LOCATION",
    "AZURE_APP_SERVICE_NAME",
    "AZURE_CONTAINER_APP_NAME",
    "AZURE_CONTAINER_REGISTRY_ENDPOINT",
    "KEYLESS_TARGET",
]

# Settings both hosts receive; none of them is a secret.
APP_SETTINGS = [
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_CHAT_DEPLOYMENT",
    "AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT",
    "AZURE_OPENAI_API_VERSION",
]

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@functools.cache
def parse(path: Path) -> dict[str, Any]:
    return BicepParser().parse(file_path=path)


def model(relative: str) -> dict[str, Any]:
    return parse(INFRA / relative)


def resource(relative: str, symbol: str, type_: str) -> dict[str, Any]:
    """The `config` (body) of resource `symbol`, after checking its type."""
    found = model(relative)["resources"][symbol]
    assert found["type"] == type_, f"{relative}: {symbol} is {found['type']}, expected {type_}"
    return found["config"]


def module_config(symbol: str) -> dict[str, Any]:
    """Body of a module in main.bicep; conditional modules nest it one level down."""
    config = model("main.bicep")["modules"][symbol]["config"]
    return config["config"] if "condition" in config else config


def resolve(relative: str, value: Any) -> Any:
    """Follow a bare identifier to its variable value or parameter default, once."""
    parsed = model(relative)
    if isinstance(value, str):
        if value in parsed.get("variables", {}):
            return parsed["variables"][value]["value"]
        if value in parsed.get("parameters", {}):
            return parsed["parameters"][value]["default"]
    return value


def accessor(value: Any) -> str:
    """Render a parsed property access (a.b.c) back to text, to compare with the source."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and value.get("operator", {}).get("type") == "property_accessor":
        operands = value["operator"]["operands"]
        return f"{accessor(operands['operand_1'])}.{accessor(operands['operand_2'])}"
    raise AssertionError(f"not a property access: {value!r}")


def decorator(parameter: dict[str, Any], kind: str) -> Any:
    return next((d["argument"] for d in parameter["decorators"] if d["type"] == kind), None)


# ------------------------------------------------------------------------------------------------
# Every file parses; every module main.bicep references exists, and is used


@pytest.mark.parametrize("relative", MODULE_FILES)
def test_expected_bicep_file_exists(relative: str) -> None:
    assert (INFRA / relative).is_file(), f"infra/{relative} is missing"


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: str(p.relative_to(INFRA)))
def test_bicep_file_parses(path: Path) -> None:
    parsed = parse(path)
    assert parsed.get("resources") or parsed.get("modules"), f"{path} declares nothing"


def test_main_targets_subscription_and_creates_resource_group() -> None:
    assert model("main.bicep")["globals"]["scope"]["value"] == "subscription"
    rg = resource("main.bicep", "rg", "Microsoft.Resources/resourceGroups")
    assert rg["name"] == "rg-${environmentName}"


@pytest.mark.parametrize("symbol", sorted(model("main.bicep")["modules"]))
def test_module_path_exists(symbol: str) -> None:
    module = model("main.bicep")["modules"][symbol]
    assert module["type"] == "local", f"{symbol}: only local modules, so the template works offline"
    assert (INFRA / module["detail"]["path"]).is_file(), f"{symbol}: {module['detail']['path']} is missing"


def test_every_module_file_is_used_by_main() -> None:
    used = {INFRA / m["detail"]["path"] for m in model("main.bicep")["modules"].values()}
    unused = [str(p.relative_to(INFRA)) for p in BICEP_FILES if p != MAIN and p not in used]
    assert not unused, f"modules not referenced by main.bicep: {unused}"


@pytest.mark.parametrize("symbol", sorted(model("main.bicep")["modules"]))
def test_module_is_deployed_into_the_resource_group(symbol: str) -> None:
    assert module_config(symbol)["scope"] == "rg"


# ------------------------------------------------------------------------------------------------
# Azure OpenAI: keys off, custom subdomain, system identity, the two deployments


def test_openai_account_is_keyless() -> None:
    account = resource("core/ai/openai.bicep", "account", "Microsoft.CognitiveServices/accounts")
    assert account["kind"] == "OpenAI"
    assert account["properties"]["disableLocalAuth"] is True
    assert account["identity"]["type"] == "SystemAssigned"
    subdomain = account["properties"]["customSubDomainName"]
    assert subdomain, "Entra ID authentication needs a custom subdomain"
    # main.bicep passes a non-empty, environment-unique label.
    assert module_config("openAi")["params"]["customSubDomainName"] == "oai-${resourceToken}"


@pytest.mark.parametrize(
    ("symbol", "name_param", "deployment", "model_param", "model_name"),
    [
        ("chat", "chatDeploymentName", "chat", "chatModelName", "gpt-4o-mini"),
        ("embeddings", "embeddingsDeploymentName", "embeddings", "embeddingsModelName", "text-embedding-3-small"),
    ],
)
def test_openai_deployment(symbol: str, name_param: str, deployment: str, model_param: str, model_name: str) -> None:
    config = resource("core/ai/openai.bicep", symbol, "Microsoft.CognitiveServices/accounts/deployments")
    assert config["parent"] == "account"
    assert config["name"] == name_param
    assert resolve("core/ai/openai.bicep", config["properties"]["model"]["name"]) == model_name
    # main.bicep names the deployment through a variable; the notebooks expect this exact name.
    passed = module_config("openAi")["params"][name_param]
    assert resolve("main.bicep", passed) == deployment


def test_openai_api_version() -> None:
    assert resolve("main.bicep", "openAiApiVersion") == "2024-10-21"


# ------------------------------------------------------------------------------------------------
# App Service: system-assigned identity, HTTPS only, no FTP, no publishing passwords


def test_app_service_has_system_assigned_identity() -> None:
    site = resource("core/host/appservice.bicep", "appService", "Microsoft.Web/sites")
    assert site["identity"] == {"type": "SystemAssigned"}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("httpsOnly", True),
        ("siteConfig.ftpsState", "Disabled"),
        ("siteConfig.minTlsVersion", "1.2"),
        ("siteConfig.scmMinTlsVersion", "1.2"),
        ("siteConfig.remoteDebuggingEnabled", False),
        ("siteConfig.linuxFxVersion", "PYTHON|${pythonVersion}"),
    ],
)
def test_app_service_setting(path: str, expected: Any) -> None:
    value: Any = resource("core/host/appservice.bicep", "appService", "Microsoft.Web/sites")["properties"]
    for key in path.split("."):
        value = value[key]
    assert value == expected


def test_app_service_starts_the_asgi_app() -> None:
    command = resolve("core/host/appservice.bicep", "appCommandLine")
    assert "main:app" in command and ("uvicorn" in command or "gunicorn" in command)


def test_app_service_health_check_is_a_route_of_the_app() -> None:
    path = resolve("core/host/appservice.bicep", "healthCheckPath")
    assert f'"{path}"' in (ROOT / "app" / "main.py").read_text(), f"app/main.py has no route {path}"


@pytest.mark.parametrize("symbol", ["ftpPublishing", "scmPublishing"])
def test_app_service_basic_publishing_credentials_disabled(symbol: str) -> None:
    policy = resource("core/host/appservice.bicep", symbol, "Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    assert policy["parent"] == "appService"
    assert policy["properties"]["allow"] is False


# ------------------------------------------------------------------------------------------------
# Container App: user-assigned identity, AZURE_CLIENT_ID, pulls from ACR with that identity


def test_container_app_has_user_assigned_identity() -> None:
    app = resource("core/host/container-app.bicep", "app", "Microsoft.App/containerApps")
    assert app["identity"]["type"] == "UserAssigned"
    assert list(app["identity"]["userAssignedIdentities"]) == ["'${userIdentity.id}'"]
    identity = resource(
        "core/host/container-app.bicep", "userIdentity", "Microsoft.ManagedIdentity/userAssignedIdentities"
    )
    assert identity["name"] == "identityName"


def test_container_app_sets_azure_client_id() -> None:
    app = resource("core/host/container-app.bicep", "app", "Microsoft.App/containerApps")
    (container,) = app["properties"]["template"]["containers"]
    fixed_env = container["env"]["function"]["parameters"]["arg_1"]
    values = {item["name"]: accessor(item["value"]) for item in fixed_env}
    assert values.get("AZURE_CLIENT_ID") == "userIdentity.properties.clientId"


def test_container_app_pulls_with_its_identity() -> None:
    configuration = resource("core/host/container-app.bicep", "app", "Microsoft.App/containerApps")["properties"][
        "configuration"
    ]
    (registry,) = configuration["registries"]
    assert accessor(registry["identity"]) == "userIdentity.id"
    assert "passwordSecretRef" not in registry and "username" not in registry
    assert "secrets" not in configuration


def test_container_app_gets_acr_pull_before_it_exists() -> None:
    assert "acaAcrPull" in module_config("aca")["dependsOn"]


def test_container_registry_has_no_admin_user() -> None:
    registry = resource("core/host/container-registry.bicep", "registry", "Microsoft.ContainerRegistry/registries")
    assert registry["properties"]["adminUserEnabled"] is False
    assert registry["properties"]["anonymousPullEnabled"] is False


@pytest.mark.parametrize(("module", "setting"), [(m, s) for m in ("web", "aca") for s in APP_SETTINGS])
def test_host_receives_openai_setting(module: str, setting: str) -> None:
    settings = resolve("main.bicep", module_config(module)["params"]["appSettings"])
    assert setting in settings


@pytest.mark.parametrize(("module", "service"), [("web", "web"), ("aca", "aca")])
def test_host_is_tagged_for_azd(module: str, service: str) -> None:
    tags = module_config(module)["params"]["tags"]["function"]["parameters"]["arg_2"]
    assert tags == {"'azd-service-name'": service}


# ------------------------------------------------------------------------------------------------
# Role assignments: least privilege, names by guid(), the right principal type


def test_role_module_matches_the_seed() -> None:
    role = resource("core/security/role.bicep", "role", "Microsoft.Authorization/roleAssignments")
    assert model("core/security/role.bicep")["resources"]["role"]["api_version"] == "2022-04-01"
    name = role["name"]["function"]
    assert name["type"] == "guid"
    arguments = list(name["parameters"].values())
    scopes = [
        (a["operator"]["operands"]["operand_1"]["function"]["type"], a["operator"]["operands"]["operand_2"])
        for a in arguments[:2]
    ]
    assert scopes == [("subscription", "id"), ("resource_group", "id")]
    assert arguments[2:] == ["principalId", "roleDefinitionId"]
    assert role["properties"]["principalId"] == "principalId"
    assert role["properties"]["principalType"] == "principalType"
    definition = role["properties"]["roleDefinitionId"]["function"]
    assert definition["type"] == "resource_id"
    assert definition["parameters"]["resource_type"] == "Microsoft.Authorization/roleDefinitions"
    assert definition["parameters"]["resource_name_1"] == "roleDefinitionId"


def test_role_module_principal_type_choices() -> None:
    allowed = decorator(model("core/security/role.bicep")["parameters"]["principalType"], "allowed")
    assert {"User", "ServicePrincipal"} <= set(allowed)


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: str(p.relative_to(INFRA)))
def test_role_assignment_names_use_guid(path: Path) -> None:
    for symbol, found in parse(path).get("resources", {}).items():
        if found["type"] == "Microsoft.Authorization/roleAssignments":
            assert found["config"]["name"]["function"]["type"] == "guid", f"{symbol} is not named by guid()"


@pytest.mark.parametrize(("key", "role"), sorted(ROLE_VARIABLE_KEYS.items()))
def test_role_guid_is_the_named_built_in_role(key: str, role: str) -> None:
    roles = resolve("main.bicep", "roles")
    assert roles[key] == ALLOWED_ROLES[role]
    assert GUID.match(roles[key])


def test_no_other_roles_are_defined() -> None:
    roles = resolve("main.bicep", "roles")
    assert set(roles) == set(ROLE_VARIABLE_KEYS)
    assert not set(roles.values()) & set(FORBIDDEN_ROLES.values())
    text = "\n".join(p.read_text() for p in BICEP_FILES).lower()
    for name, guid in FORBIDDEN_ROLES.items():
        assert guid not in text, f"{name} appears in infra/"


@pytest.mark.parametrize(("symbol", "role", "principal_type", "principal_id"), ROLE_ASSIGNMENTS)
def test_role_assignment(symbol: str, role: str, principal_type: str, principal_id: str) -> None:
    module = model("main.bicep")["modules"][symbol]
    assert module["detail"]["path"] == "core/security/role.bicep"
    params = module_config(symbol)["params"]
    definition = params["roleDefinitionId"]["operator"]["operands"]
    assert ROLE_VARIABLE_KEYS[definition["operand_2"]] == role
    assert params["principalType"] == principal_type
    assert accessor(params["principalId"]) == principal_id


def test_every_role_module_is_in_the_table() -> None:
    used = {s for s, m in model("main.bicep")["modules"].items() if m["detail"]["path"] == "core/security/role.bicep"}
    assert used == {row[0] for row in ROLE_ASSIGNMENTS}


def test_learner_principal_type_defaults_to_user() -> None:
    parameter = model("main.bicep")["parameters"]["principalType"]
    assert parameter["default"] == "User"
    assert set(decorator(parameter, "allowed")) == {"User", "ServicePrincipal"}


def _lab_role_table(data: Any) -> dict[str, str]:
    """Role name -> GUID from the lab's built-in role data, in Azure's JSON shapes."""
    found: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "roleName" in node:
                for key in ("name", "id"):
                    tail = str(node.get(key, "")).rsplit("/", 1)[-1]
                    if GUID.match(tail):
                        found[node["roleName"]] = tail
                        break
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(data)
    return found


LAB_ROLES = _lab_role_table(json.loads((ROOT / "keyless_lab" / "data" / "builtin_roles.json").read_text()))
TEMPLATE_ROLES = {**ALLOWED_ROLES, **FORBIDDEN_ROLES}


def test_every_role_but_acr_pull_is_cross_checked_with_the_lab() -> None:
    # The lab has no container registry, so AcrPull alone is checked only against the table above.
    assert set(TEMPLATE_ROLES) - set(LAB_ROLES) == {"AcrPull"}


@pytest.mark.parametrize("role", sorted(set(TEMPLATE_ROLES) & set(LAB_ROLES)))
def test_role_table_agrees_with_the_lab(role: str) -> None:
    assert LAB_ROLES[role] == TEMPLATE_ROLES[role]


# ------------------------------------------------------------------------------------------------
# Workload identity for GitHub Actions (optional)


def test_federated_credential() -> None:
    relative = "core/security/federated-credential.bicep"
    credential = resource(
        relative, "federatedCredential", "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
    )
    assert model(relative)["resources"]["federatedCredential"]["api_version"] == "2023-01-31"
    assert credential["parent"] == "identity"
    assert resolve(relative, credential["properties"]["issuer"]) == "https://token.actions.githubusercontent.com"
    assert credential["properties"]["audiences"] == ["api://AzureADTokenExchange"]
    assert credential["properties"]["subject"] == "subject"


@pytest.mark.parametrize("symbol", ["ciIdentity", "ciFederatedCredential", "ciOpenAiUser"])
def test_ci_identity_only_with_a_repository(symbol: str) -> None:
    condition = model("main.bicep")["modules"][symbol]["config"].get("condition")
    assert condition is not None, f"{symbol} must be conditional"
    tested = condition["operator"]["operands"]["bool_value"]["function"]
    assert condition["operator"]["type"] == "not" and tested["type"] == "empty"
    assert tested["parameters"]["item_to_test"] == "githubRepository"


def test_ci_subject_names_a_github_environment() -> None:
    subject = module_config("ciFederatedCredential")["params"]["subject"]
    assert subject == "repo:${githubRepository}:environment:${githubEnvironment}"
    assert model("main.bicep")["parameters"]["githubRepository"]["default"] == ""


# ------------------------------------------------------------------------------------------------
# Outputs and parameters azd uses


@pytest.mark.parametrize("name", REQUIRED_OUTPUTS)
def test_output_is_produced(name: str) -> None:
    outputs = model("main.bicep")["outputs"]
    assert name in outputs, f"main.bicep does not output {name}"
    assert outputs[name]["type"] == "string"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("KEYLESS_TARGET", "azure"),
        ("AZURE_OPENAI_API_VERSION", "2024-10-21"),
        ("AZURE_OPENAI_ENDPOINT", "openAi.outputs.endpoint"),
        ("AZURE_RESOURCE_GROUP", "rg.name"),
        ("AZURE_CONTAINER_REGISTRY_ENDPOINT", "containerRegistry.outputs.loginServer"),
    ],
)
def test_output_value(name: str, expected: str) -> None:
    value = model("main.bicep")["outputs"][name]["value"]
    assert (resolve("main.bicep", value) if isinstance(value, str) else accessor(value)) == expected


def test_no_output_is_named_azure_client_id() -> None:
    # azd copies outputs into .env; AZURE_CLIENT_ID there would steer DefaultAzureCredential on the
    # learner's machine towards an identity that only exists inside Azure.
    assert "AZURE_CLIENT_ID" not in model("main.bicep")["outputs"]


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: str(p.relative_to(INFRA)))
def test_no_keys_or_passwords(path: Path) -> None:
    text = path.read_text()
    for needle in ("listKeys", "listCredentials", "passwordSecretRef", "adminPassword", "@secure()"):
        assert needle not in text, f"{path.name} contains {needle}"


PARAMETERS = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("environmentName", "${AZURE_ENV_NAME}"),
        ("location", "${AZURE_LOCATION}"),
        ("principalId", "${AZURE_PRINCIPAL_ID}"),
        ("principalType", "${AZURE_PRINCIPAL_TYPE=User}"),
    ],
)
def test_parameters_file_maps_azd_variables(name: str, value: str) -> None:
    assert PARAMETERS[name]["value"] == value


def test_parameters_file_matches_main() -> None:
    declared = model("main.bicep")["parameters"]
    assert set(PARAMETERS) <= set(declared), f"unknown parameters: {set(PARAMETERS) - set(declared)}"
    required = {name for name, p in declared.items() if p["default"] is None}
    assert required <= set(PARAMETERS), f"required but not mapped: {required - set(PARAMETERS)}"


# ------------------------------------------------------------------------------------------------
# azure.yaml

AZURE_YAML = yaml.safe_load((ROOT / "azure.yaml").read_text())


def test_azure_yaml_project_and_infra() -> None:
    assert AZURE_YAML["name"] == "go-keyless"
    assert AZURE_YAML["infra"]["path"] == "infra"
    assert (ROOT / AZURE_YAML["infra"]["path"] / "main.bicep").is_file()


@pytest.mark.parametrize(
    ("service", "host", "project"),
    [("web", "appservice", "./app"), ("aca", "containerapp", "./app")],
)
def test_azure_yaml_service(service: str, host: str, project: str) -> None:
    entry = AZURE_YAML["services"][service]
    assert entry["host"] == host
    assert entry["project"] == project
    assert entry["language"] == "python"
    assert (ROOT / project / "main.py").is_file(), f"{project}/main.py (the ASGI app) is missing"


def test_azure_yaml_container_build() -> None:
    entry = AZURE_YAML["services"]["aca"]
    dockerfile = ROOT / entry["project"] / entry["docker"]["path"]
    assert dockerfile.is_file(), f"{dockerfile.relative_to(ROOT)} is missing"


def test_azure_yaml_lists_exactly_the_tagged_hosts() -> None:
    assert set(AZURE_YAML["services"]) == {"web", "aca"}
