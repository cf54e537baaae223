"""External OpenID Connect issuers whose tokens Entra accepts through workload identity federation:
a GitHub Actions-style issuer and a Kubernetes service-account issuer, each with discovery and JWKS.

Claims follow GitHub's "About security hardening with OpenID Connect" and Kubernetes' projected
service-account tokens (https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .web import audited, lab_state, set_caller

EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
# GitHub's OIDC tokens are valid for a few minutes; a projected service-account token for an hour.
GITHUB_LIFETIME = 300
KUBERNETES_LIFETIME = 3600


class Issuer:
    """One OIDC issuer: a path under the lab and its own signing key (made on first use, so that
    labs which never federate do not pay for it at start)."""

    def __init__(self, name: str) -> None:
        self.name = name  # "github" or "kubernetes"

    def __repr__(self) -> str:
        return f"Issuer({self.name!r})"

    @functools.cached_property
    def key(self) -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def kid(self) -> str:
        digest = hashlib.sha256(self.key.public_key().public_numbers().n.to_bytes(256, "big")).digest()
        return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()

    def url(self, lab_url: str) -> str:
        return f"{lab_url}/issuers/{self.name}"

    def jwks(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [dict(jwk, kid=self.kid, use="sig", alg="RS256")]}

    def discovery(self, lab_url: str) -> dict[str, Any]:
        base = self.url(lab_url)
        return {
            "issuer": base,
            "jwks_uri": f"{base}/.well-known/jwks",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf"],
        }

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


@dataclass(frozen=True)
class GitHubJob:
    """The context GitHub puts in a job's OIDC token."""

    repository: str  # OWNER/REPO
    ref: str = "refs/heads/main"
    environment: str | None = None
    event_name: str = "push"

    @property
    def subject(self) -> str:
        # GitHub's default subject: environment wins, then pull_request, then the ref.
        if self.environment:
            return f"repo:{self.repository}:environment:{self.environment}"
        if self.event_name == "pull_request":
            return f"repo:{self.repository}:pull_request"
        return f"repo:{self.repository}:ref:{self.ref}"


class Issuers:
    """The lab's external issuers and the job request tokens that let a "CI job" ask for a token."""

    def __init__(self) -> None:
        self.github = Issuer("github")
        self.kubernetes = Issuer("kubernetes")
        self._jobs: dict[str, GitHubJob] = {}
        self._lock = threading.Lock()

    def by_url(self, lab_url: str, iss: str) -> Issuer | None:
        return next((i for i in (self.github, self.kubernetes) if i.url(lab_url) == iss.rstrip("/")), None)

    def start_job(self, job: GitHubJob) -> str:
        """Register a running job; returns its request token (``ACTIONS_ID_TOKEN_REQUEST_TOKEN``)."""
        request_token = secrets.token_urlsafe(24)
        with self._lock:
            self._jobs[request_token] = job
        return request_token

    def job_for(self, request_token: str) -> GitHubJob | None:
        with self._lock:
            return next((j for t, j in self._jobs.items() if secrets.compare_digest(t, request_token)), None)

    def github_token(self, lab_url: str, job: GitHubJob, audience: str = EXCHANGE_AUDIENCE) -> str:
        now = int(time.time())
        owner = job.repository.split("/")[0]
        claims = {
            "jti": str(uuid.uuid4()),
            "sub": job.subject,
            "aud": audience,
            "ref": job.ref,
            "sha": hashlib.sha1(job.ref.encode()).hexdigest(),
            "repository": job.repository,
            "repository_owner": owner,
            "run_id": str(now),
            "run_attempt": "1",
            "actor": owner,
            "workflow": "azure-e2e",
            "event_name": job.event_name,
            "ref_type": "branch",
            "job_workflow_ref": f"{job.repository}/.github/workflows/azure-e2e.yml@{job.ref}",
            "iss": self.github.url(lab_url),
            "nbf": now,
            "iat": now,
            "exp": now + GITHUB_LIFETIME,
        }
        if job.environment:
            claims["environment"] = job.environment
        return self.github.sign(claims)

    def kubernetes_token(
        self, lab_url: str, namespace: str, service_account: str, audience: str = EXCHANGE_AUDIENCE
    ) -> str:
        now = int(time.time())
        return self.kubernetes.sign(
            {
                "aud": [audience],
                "exp": now + KUBERNETES_LIFETIME,
                "iat": now,
                "iss": self.kubernetes.url(lab_url),
                "kubernetes.io": {
                    "namespace": namespace,
                    "pod": {"name": f"{service_account}-7d9f8b6c5-x2k4p", "uid": str(uuid.uuid4())},
                    "serviceaccount": {"name": service_account, "uid": str(uuid.uuid4())},
                },
                "nbf": now,
                "sub": f"system:serviceaccount:{namespace}:{service_account}",
            }
        )


def _lab_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _issuer(request: Request) -> Issuer | None:
    issuers = lab_state(request).issuers
    return {"github": issuers.github, "kubernetes": issuers.kubernetes}.get(request.path_params["name"])


async def discovery(request: Request) -> Response:
    issuer = _issuer(request)
    if issuer is None:
        return JSONResponse({"error": "not_found"}, status_code=404)
    return JSONResponse(issuer.discovery(_lab_url(request)))


async def jwks(request: Request) -> Response:
    issuer = _issuer(request)
    if issuer is None:
        return JSONResponse({"error": "not_found"}, status_code=404)
    return JSONResponse(issuer.jwks())


@audited("issuer")
async def github_job_token(request: Request) -> Response:
    """GitHub's ``ACTIONS_ID_TOKEN_REQUEST_URL``: a job trades its request token for an OIDC token."""
    state = lab_state(request)
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    job = state.issuers.job_for(presented.strip()) if scheme.lower() == "bearer" else None
    if job is None:
        return JSONResponse({"message": "Unable to get ACTIONS_ID_TOKEN_REQUEST_URL env variable"}, status_code=401)
    set_caller(request, f"github job ({job.subject})")
    audience = request.query_params.get("audience", EXCHANGE_AUDIENCE)
    return JSONResponse({"count": 1, "value": state.issuers.github_token(_lab_url(request), job, audience)})


routes = [
    Route("/issuers/{name}/.well-known/openid-configuration", discovery, methods=["GET"]),
    Route("/issuers/{name}/.well-known/jwks", jwks, methods=["GET"]),
    Route("/issuers/github/token", github_job_token, methods=["GET"]),
]
