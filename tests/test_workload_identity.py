"""Workload identity federation over the wire: a CI job's or a pod's OIDC token exchanged at the lab's
Entra token service for a user-assigned identity's token, Entra's refusals with their AADSTS texts,
and the federated credentials that decide it, written through ARM and ``az``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jwt
import openai
import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import DefaultAzureCredential, WorkloadIdentityCredential, get_bearer_token_provider
from azure.mgmt.msi import ManagedServiceIdentityClient
from cryptography.hazmat.primitives.asymmetric import rsa

from keyless_lab import Lab
from keyless_lab.lab import CREDENTIAL_VARIABLES, Environment

COGNITIVE_SCOPE = "https://cognitiveservices.azure.com/.default"
EXCHANGE = "api://AzureADTokenExchange"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
REPO = "contoso/go-keyless"
MAIN = f"repo:{REPO}:ref:refs/heads/main"
IDENTITY = "id-chat-aca-jobs"
DOCS_2024 = "https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation"
DOCS_2025 = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
TRAILER = re.compile(
    r" Trace ID: [0-9a-f-]{36} Correlation ID: [0-9a-f-]{36} Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$"
)
ENTRA_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z"
HTTP = requests.Session()  # one TLS connection for the module's calls


# --- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """One ready lab for the module (the identities hold OpenAI User); each test starts with no trust."""
    with Lab("ready") as running, running.environment():
        yield running


@pytest.fixture(autouse=True)
def no_federated_credentials(lab: Lab) -> Iterator[None]:
    lab.state.federated_credentials.clear()
    yield
    lab.state.federated_credentials.clear()
    lab.preset("ready")


class LearnerSignIn:
    """The learner's ARM token, straight from the lab's issuer (what ``az login`` would hold)."""

    def __init__(self, lab: Lab) -> None:
        self._lab = lab

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        issued = self._lab.state.issuer.issue(self._lab.state.directory.learner, scopes[0].removesuffix(".default"))
        return AccessToken(issued.token, issued.expires_on)


def identity(lab: Lab, key: str = IDENTITY) -> Any:
    return lab.state.directory.principals[key]


def github_issuer(lab: Lab) -> str:
    return f"{lab.url}/issuers/github"


def trust(lab: Lab, subject: str, issuer: str | None = None, name: str = "github", key: str = IDENTITY) -> Any:
    """Create a federated credential as the learner, through ARM with the management SDK."""
    client = ManagedServiceIdentityClient(
        LearnerSignIn(lab), lab.state.directory.subscription_id, base_url=f"{lab.url}/arm"
    )
    fic = {"issuer": issuer or github_issuer(lab), "subject": subject, "audiences": [EXCHANGE]}
    return client.federated_identity_credentials.create_or_update(lab.state.directory.resource_group, key, name, fic)


def job_token(job: Environment, audience: str = EXCHANGE) -> str:
    """What azure/login does: GET the request URL with the request token and ``&audience=``."""
    url = f"{job['ACTIONS_ID_TOKEN_REQUEST_URL']}&audience={quote(audience, safe='')}"
    answer = HTTP.get(url, headers={"Authorization": f"Bearer {job['ACTIONS_ID_TOKEN_REQUEST_TOKEN']}"})
    assert answer.status_code == 200
    return answer.json()["value"]


def exchange(lab: Lab, assertion: str, client_id: str | None = None, **extra: str) -> requests.Response:
    """The client-credentials grant with a federated assertion, as MSAL sends it."""
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id or identity(lab).client_id,
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
        "scope": COGNITIVE_SCOPE,
        **extra,
    }
    return HTTP.post(f"{lab.url}/{lab.state.directory.tenant_id}/oauth2/v2.0/token", data=form)


def refusal(answer: requests.Response) -> tuple[int, str, list[int], str]:
    """Status, error, codes and the description without its trace/correlation/time trailer."""
    body = answer.json()
    assert TRAILER.search(body["error_description"]), body["error_description"]
    return answer.status_code, body["error"], body["error_codes"], TRAILER.sub("", body["error_description"])


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def workload_environment(lab: Lab, token_file: Path, key: str = IDENTITY) -> Environment:
    """Only the four workload-identity variables, and trust in the lab's CA."""
    values = {
        "AZURE_CLIENT_ID": identity(lab, key).client_id,
        "AZURE_TENANT_ID": lab.state.directory.tenant_id,
        "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
        "AZURE_AUTHORITY_HOST": lab.url,
        "REQUESTS_CA_BUNDLE": str(lab.ca_bundle),
        "SSL_CERT_FILE": str(lab.ca_bundle),
    }
    removed = (*CREDENTIAL_VARIABLES, "AZURE_CONFIG_DIR", "AZD_CONFIG_DIR")
    return Environment(values, tuple(v for v in removed if v not in values))


def chat(lab: Lab, credential: Any) -> Any:
    client = openai.AzureOpenAI(
        azure_endpoint=lab.url,
        api_version="2024-10-21",
        azure_ad_token_provider=get_bearer_token_provider(credential, COGNITIVE_SCOPE),
        max_retries=0,
    )
    return client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "Hi from CI"}])


@functools.cache
def forger_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def resigned(lab: Lab, token: str, key: Any = None, kid: str | None = None, **changes: Any) -> str:
    """The token's claims (with changes), signed again: by the issuer's own key unless another is given."""
    github = lab.state.issuers.github
    claims = {**claims_of(token), **changes}
    return jwt.encode(claims, key or github.key, algorithm="RS256", headers={"kid": kid or github.kid})


# --- the exchange works ------------------------------------------------------------------------


def test_a_ci_job_gets_the_identitys_token_with_no_secret(lab: Lab, tmp_path: Path) -> None:
    created = trust(lab, MAIN, name="github-main")
    assert (created.name, created.issuer, created.subject, created.audiences) == (
        "github-main",
        github_issuer(lab),
        MAIN,
        [EXCHANGE],
    )
    job = lab.github_job(REPO)
    oidc = job_token(job)
    assert {k: claims_of(oidc)[k] for k in ("iss", "sub", "aud", "repository", "ref")} == {
        "iss": github_issuer(lab),
        "sub": MAIN,
        "aud": EXCHANGE,
        "repository": REPO,
        "ref": "refs/heads/main",
    }
    token_file = tmp_path / "oidc-token"
    token_file.write_text(oidc)
    me = identity(lab)

    since = time.time()
    with workload_environment(lab, token_file):
        assert not any(os.environ.get(v) for v in ("AZURE_CLIENT_SECRET", "AZURE_OPENAI_API_KEY", "IDENTITY_ENDPOINT"))
        direct = WorkloadIdentityCredential().get_token(COGNITIVE_SCOPE)
        chained = DefaultAzureCredential().get_token(COGNITIVE_SCOPE)
    for token in (direct, chained):
        claims = claims_of(token.token)
        assert (claims["oid"], claims["appid"], claims["idtyp"], claims["xms_mirid"], claims["aud"]) == (
            me.object_id,
            me.client_id,
            "app",
            me.resource_id,
            "https://cognitiveservices.azure.com",
        )
    entra = lab.audit("entra", since)
    assert [(e.caller, e.caller_id, e.status) for e in entra if "/oauth2/" in e.operation] == [
        (IDENTITY, me.object_id, 200)
    ] * 2


def test_the_token_works_on_the_data_plane_once_the_identity_holds_a_role(lab: Lab, tmp_path: Path) -> None:
    trust(lab, MAIN)
    token_file = tmp_path / "oidc-token"
    token_file.write_text(job_token(lab.github_job(REPO)))
    lab.preset("fresh")  # no data-plane role for anyone
    with workload_environment(lab, token_file):
        credential = WorkloadIdentityCredential()
        with pytest.raises(openai.AuthenticationError) as denied:
            chat(lab, credential)
        assert (denied.value.status_code, denied.value.body["code"]) == (401, "PermissionDenied")
        lab.grant_openai_user(IDENTITY)
        reply = chat(lab, credential)
    assert reply.choices[0].message.content
    calls = lab.audit("openai")[-2:]
    assert [(e.caller, e.status) for e in calls] == [(IDENTITY, 401), (IDENTITY, 200)]


# --- which jobs are trusted --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job", "subject"),
    [
        ({"ref": "refs/heads/feature/faster"}, f"repo:{REPO}:ref:refs/heads/feature/faster"),
        ({"ref": "refs/pull/7/merge", "event_name": "pull_request"}, f"repo:{REPO}:pull_request"),
        ({"environment": "azure"}, f"repo:{REPO}:environment:azure"),
        ({"ref": "refs/tags/v1.0"}, f"repo:{REPO}:ref:refs/tags/v1.0"),
    ],
    ids=["another-branch", "pull-request", "environment", "tag"],
)
def test_an_untrusted_subject_is_refused_until_a_credential_matches_it(
    lab: Lab, job: dict[str, str], subject: str
) -> None:
    trust(lab, MAIN, name="github-main")
    assertion = job_token(lab.github_job(REPO, **job))
    assert claims_of(assertion)["sub"] == subject
    assert refusal(exchange(lab, assertion)) == (
        401,
        "invalid_client",
        [700213],
        f"AADSTS700213: No matching federated identity record found for presented assertion subject '{subject}'. "
        f"Check your federated identity credential Subject, Audience and Issuer against the presented assertion. "
        f"{DOCS_2025}",
    )
    trust(lab, subject, name="github-other")
    answer = exchange(lab, assertion)
    assert answer.status_code == 200
    assert claims_of(answer.json()["access_token"])["oid"] == identity(lab).object_id


def test_subjects_match_case_sensitively(lab: Lab) -> None:
    trust(lab, f"repo:{REPO}:environment:Azure")
    assertion = job_token(lab.github_job(REPO, environment="azure"))
    assert refusal(exchange(lab, assertion)) == (
        401,
        "invalid_client",
        [7002138],
        f"AADSTS7002138: No matching federated identity record found for presented assertion subject "
        f"'repo:{REPO}:environment:azure'. The subject matches with case-insensitive comparison, but not with "
        "case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against "
        f"the presented assertion. See documentation at: {DOCS_2025}. See breaking change notification and "
        "remediation at: https://learn.microsoft.com/en-us/entra/identity-platform/reference-breaking-changes#august-2024.",
    )


# --- what Entra refuses ------------------------------------------------------------------------

Case = Callable[[Lab], tuple[requests.Response, tuple[int, str, list[int], str]]]


def _forged_with_its_own_key(lab: Lab) -> Any:
    assertion = resigned(lab, job_token(lab.github_job(REPO)), key=forger_key(), kid="forger-key-1")
    expected = (
        "AADSTS7000272: The certificate with identifier forger-key-1 used to sign the federated credential could not "
        f"be found in the metadata of identity provider {github_issuer(lab)}. Please validate that your Identity "
        "Provider's metadata exposes the key used to sign the incoming token."
    )
    return exchange(lab, assertion), (401, "invalid_client", [7000272], expected)


def _forged_under_the_issuers_key_id(lab: Lab) -> Any:
    assertion = resigned(lab, job_token(lab.github_job(REPO)), key=forger_key())
    expected = "AADSTS7000274: Client assertion contains an invalid signature."
    return exchange(lab, assertion), (401, "invalid_client", [7000274], expected)


def _signed_by_another_issuers_key(lab: Lab) -> Any:
    kubernetes = lab.state.issuers.kubernetes
    assertion = resigned(lab, job_token(lab.github_job(REPO)), key=kubernetes.key, kid=kubernetes.kid)
    expected = (
        f"AADSTS7000272: The certificate with identifier {kubernetes.kid} used to sign the federated credential "
        f"could not be found in the metadata of identity provider {github_issuer(lab)}. Please validate that your "
        "Identity Provider's metadata exposes the key used to sign the incoming token."
    )
    return exchange(lab, assertion), (401, "invalid_client", [7000272], expected)


def _wrong_audience(lab: Lab) -> Any:
    assertion = job_token(lab.github_job(REPO), audience="api://SomethingElse")
    expected = (
        "AADSTS700212: No matching federated identity record found for presented assertion audience "
        "'api://SomethingElse'. Please check your federated identity credential Subject, Audience and Issuer "
        f"against the presented assertion. {DOCS_2024}"
    )
    return exchange(lab, assertion), (401, "invalid_client", [700212], expected)


def _issuer_with_no_credential(lab: Lab) -> Any:
    assertion = lab.state.issuers.kubernetes_token(lab.url, "ci", "runner")
    expected = (
        f"AADSTS700211: No matching federated identity record found for presented assertion issuer "
        f"'{lab.url}/issuers/kubernetes'. Please check your federated identity credential Subject, Audience and "
        f"Issuer against the presented assertion. {DOCS_2024}"
    )
    return exchange(lab, assertion), (401, "invalid_client", [700211], expected)


def _issuer_the_token_service_cannot_reach(lab: Lab) -> Any:
    real_github = "https://token.actions.githubusercontent.com"
    trust(lab, MAIN, issuer=real_github, name="real-github")
    assertion = resigned(lab, job_token(lab.github_job(REPO)), iss=real_github)
    expected = "AADSTS50166: Request to External OIDC endpoint failed."
    return exchange(lab, assertion), (400, "invalid_request", [50166], expected)


def _unknown_client_id(lab: Lab) -> Any:
    stranger = "60198040-e87c-4cb9-9e52-ce651d859704"
    expected = (
        f"AADSTS700016: Application with identifier '{stranger}' was not found in the directory "
        f"'{lab.state.directory.tenant_id}'. This can happen if the application has not been installed by the "
        "administrator of the tenant or consented to by any user in the tenant. You may have sent your "
        "authentication request to the wrong tenant."
    )
    return exchange(lab, job_token(lab.github_job(REPO)), stranger), (400, "unauthorized_client", [700016], expected)


def _malformed(lab: Lab) -> Any:
    expected = "AADSTS50027: JWT token is invalid or malformed."
    return exchange(lab, "not-a-token"), (400, "invalid_request", [50027], expected)


def _no_assertion(lab: Lab) -> Any:
    expected = (
        "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'."
    )
    return exchange(lab, ""), (401, "invalid_client", [7000218], expected)


@pytest.mark.parametrize(
    "case",
    [
        _forged_with_its_own_key,
        _forged_under_the_issuers_key_id,
        _signed_by_another_issuers_key,
        _wrong_audience,
        _issuer_with_no_credential,
        _issuer_the_token_service_cannot_reach,
        _unknown_client_id,
        _malformed,
        _no_assertion,
    ],
    ids=lambda case: case.__name__.strip("_"),
)
def test_entra_refuses(lab: Lab, case: Case) -> None:
    trust(lab, MAIN)
    answer, expected = case(lab)
    assert refusal(answer) == expected
    assert "access_token" not in answer.json()
    assert lab.audit("entra")[-1].caller == "anonymous"


@pytest.mark.parametrize(
    ("change", "expired"),
    [({"exp": -60, "nbf": -360}, True), ({"nbf": 120, "exp": 420}, False)],
    ids=["expired", "not-yet-valid"],
)
def test_an_assertion_outside_its_time_range(lab: Lab, change: dict[str, int], expired: bool) -> None:
    trust(lab, MAIN)
    now = int(time.time())
    times = {name: now + offset for name, offset in change.items()}
    answer = exchange(lab, resigned(lab, job_token(lab.github_job(REPO)), **times))
    status, error, codes, description = refusal(answer)
    assert (status, error, codes) == (401, "invalid_client", [700024])

    def entra_time(epoch: int) -> str:
        return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")

    assert re.fullmatch(
        rf"AADSTS700024: Client assertion is not within its valid time range\. Current time: ({ENTRA_TIME}), "
        rf"assertion valid from {re.escape(entra_time(times['nbf']))}, expiry time of assertion "
        rf"{re.escape(entra_time(times['exp']))}\. Review the documentation at "
        r"https://learn\.microsoft\.com/entra/identity-platform/certificate-credentials \.",
        description,
    ), description
    current = dt.datetime.fromisoformat(re.search(ENTRA_TIME, description)[0].replace("0Z", "+00:00"))
    assert (current.timestamp() > times["exp"]) is expired and abs(current.timestamp() - time.time()) < 30


def test_a_replayed_assertion_works_for_its_identity_only_while_it_is_valid(lab: Lab) -> None:
    """The lab's decision (see the grant's docstring): reuse within the lifetime is accepted, as Entra
    accepts the token file azure-identity presents again and again; it buys nothing elsewhere."""
    trust(lab, MAIN)
    assertion = job_token(lab.github_job(REPO))
    first, again = exchange(lab, assertion), exchange(lab, assertion)
    assert (first.status_code, again.status_code) == (200, 200)
    assert claims_of(first.json()["access_token"])["uti"] != claims_of(again.json()["access_token"])["uti"]
    other = exchange(lab, assertion, identity(lab, "id-chat-aca").client_id)
    assert refusal(other)[:3] == (401, "invalid_client", [700211])
    stale = resigned(lab, assertion, exp=int(time.time()) - 1)
    assert refusal(exchange(lab, stale))[2] == [700024]


# --- Kubernetes ----------------------------------------------------------------------------------


def test_a_pod_with_the_webhooks_environment_gets_a_token(lab: Lab) -> None:
    me = identity(lab)
    pod = lab.kubernetes_pod("chat", "chat-worker", me.client_id)
    token_file = Path(pod["AZURE_FEDERATED_TOKEN_FILE"])
    assert {k: pod[k] for k in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_AUTHORITY_HOST")} == {
        "AZURE_CLIENT_ID": me.client_id,
        "AZURE_TENANT_ID": lab.state.directory.tenant_id,
        "AZURE_AUTHORITY_HOST": lab.url,
    }
    assert token_file.name == "azure-identity-token" and token_file.stat().st_mode & 0o777 == 0o600
    projected = claims_of(token_file.read_text())
    assert (projected["iss"], projected["sub"], projected["aud"]) == (
        f"{lab.url}/issuers/kubernetes",
        "system:serviceaccount:chat:chat-worker",
        [EXCHANGE],
    )
    with pod:
        with pytest.raises(ClientAuthenticationError) as untrusted:
            WorkloadIdentityCredential().get_token(COGNITIVE_SCOPE)
        assert (
            f"AADSTS700211: No matching federated identity record found for presented assertion issuer "
            f"'{lab.url}/issuers/kubernetes'." in untrusted.value.message
        )
        trust(lab, "system:serviceaccount:chat:chat-worker", issuer=f"{lab.url}/issuers/kubernetes", name="aks")
        token = DefaultAzureCredential().get_token(COGNITIVE_SCOPE)
        assert chat(lab, DefaultAzureCredential()).choices[0].message.content
    assert claims_of(token.token)["oid"] == me.object_id


# --- the runner's environment ------------------------------------------------------------------


def test_a_github_job_sees_the_runners_variables_and_no_sign_in(lab: Lab) -> None:
    job = lab.github_job(REPO, ref="refs/pull/7/merge", event_name="pull_request")
    assert {k: job[k] for k in ("GITHUB_ACTIONS", "GITHUB_REPOSITORY", "GITHUB_REF", "GITHUB_EVENT_NAME")} == {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_REF": "refs/pull/7/merge",
        "GITHUB_EVENT_NAME": "pull_request",
    }
    assert job["ACTIONS_ID_TOKEN_REQUEST_URL"].startswith(f"{lab.url}/issuers/github/token?")
    assert Path(job["RUNNER_TEMP"]).is_dir() and job["AZURE_AUTHORITY_HOST"] == lab.url
    assert str(lab.home / "bin") not in job["PATH"].split(os.pathsep)
    assert "AZURE_CLIENT_ID" in job.removed and "AZURE_CLIENT_ID" not in job
    assert job["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] not in repr(job)
    refused = requests.get(job["ACTIONS_ID_TOKEN_REQUEST_URL"], headers={"Authorization": "Bearer guessed"})
    assert refused.status_code == 401


# --- the trust through az --------------------------------------------------------------------------


def az(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["az", *args], capture_output=True, text=True, timeout=60)


def test_az_identity_federated_credential_create_list_delete(lab: Lab) -> None:
    assert az("login").returncode == 0
    group = lab.state.directory.resource_group
    where = ["--identity-name", IDENTITY, "--resource-group", group]
    subject = f"repo:{REPO}:environment:azure"
    created = az(
        "identity", "federated-credential", "create", "--name", "github-azure", *where,
        "--issuer", github_issuer(lab), "--subject", subject, "--audiences", EXCHANGE,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    fic_id = f"{identity(lab).resource_id}/federatedIdentityCredentials/github-azure"
    shown = {
        "audiences": [EXCHANGE],
        "id": fic_id,
        "issuer": github_issuer(lab),
        "name": "github-azure",
        "resourceGroup": group,
        "subject": subject,
        "systemData": None,
        "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
    }
    assert json.loads(created.stdout) == shown
    listed = az("identity", "federated-credential", "list", *where, "--query", "[].subject", "-o", "tsv")
    assert listed.stdout == f"{subject}\n"
    assert exchange(lab, job_token(lab.github_job(REPO, environment="azure"))).status_code == 200

    unconfirmed = az("identity", "federated-credential", "delete", "--name", "github-azure", *where)
    assert (unconfirmed.returncode, unconfirmed.stderr) == (
        1,
        "ERROR: Unable to prompt for confirmation as no tty available. Use --yes.\n",
    )
    deleted = az("identity", "federated-credential", "delete", "--name", "github-azure", *where, "--yes")
    assert (deleted.returncode, deleted.stdout) == (0, "")
    assert lab.state.federated_credentials == {}
