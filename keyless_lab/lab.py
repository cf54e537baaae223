"""A running lab: the handle lessons use for what only a stand-in can do (DESIGN §3.6) —
play a host (``hosted``), read the request log (``audit``), shorten token lifetimes, inject faults.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# signing_keys first: the token signing key is made while the rest imports.
from . import signing_keys, tls  # noqa: F401
from .audit import AuditEntry
from .oidc_issuers import GitHubJob
from .server import ServerThread, bind, build_app
from .state import OPENAI_USER, LabState, new_state
from .tokens import mask

API_VERSION = "2024-10-21"

# Settings that would point a credential at something outside the lab; hidden while it runs.
CREDENTIAL_VARIABLES = (
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_KEY",
    "AZURE_OPENAI_AD_TOKEN",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "AZURE_TOKEN_CREDENTIALS",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "AZURE_AUTHORITY_HOST",
)
SECRET_VARIABLES = (
    "IDENTITY_HEADER",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_KEY",
    "AZURE_CLIENT_SECRET",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
)


class Environment(dict[str, str]):
    """Environment variables for a process; also a context manager that applies them to this one.

    Inside ``with``, ``os.environ`` holds exactly what the variables say (``removed`` names are
    unset), and everything is put back on exit. ``repr`` masks secrets.
    """

    def __init__(self, values: Mapping[str, str], removed: tuple[str, ...] = ()) -> None:
        super().__init__(values)
        self.removed = removed
        self._saved: list[dict[str, str | None]] = []

    @classmethod
    def isolated(cls, values: Mapping[str, str]) -> Environment:
        """``values``, with every credential setting they do not name removed (a host, a job, a pod)."""
        return cls(values, tuple(v for v in CREDENTIAL_VARIABLES if v not in values))

    def __repr__(self) -> str:
        shown = {k: (mask(v) if k in SECRET_VARIABLES else v) for k, v in sorted(self.items())}
        return f"Environment({shown})"

    __str__ = __repr__

    def __enter__(self) -> Environment:
        names = set(self) | set(self.removed)
        self._saved.append({name: os.environ.get(name) for name in names})
        for name in self.removed:
            os.environ.pop(name, None)
        os.environ.update(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for name, value in self._saved.pop().items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _write_cli_shims(bin_dir: Path) -> None:
    """``az`` and ``azd`` on PATH, run by this interpreter (DESIGN §3.5)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in ("az", "azd"):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m keyless_lab.cli.{name} "$@"\n')
        shim.chmod(0o755)


class Lab:
    """A private lab on 127.0.0.1: start one with ``Lab()``, end it with ``stop()``."""

    def __init__(self, preset: str = "fresh", port: int = 0) -> None:
        started = time.perf_counter()
        self.state: LabState = new_state(preset)
        self._sock = bind(port)  # first: a taken port must not leave anything behind
        self.port: int = self._sock.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self.home = Path(tempfile.mkdtemp(prefix="keyless-lab-"))
        try:
            self._tls = tls.create(self.home / "tls")
            self._server = ServerThread(build_app(self.state), self._sock, self._tls)
            self._server.start()
            self._write_connection_file()
            _write_cli_shims(self.home / "bin")
        except BaseException:
            self._sock.close()
            shutil.rmtree(self.home, ignore_errors=True)
            raise
        self.started_in = time.perf_counter() - started
        self._stopped = False

    def __repr__(self) -> str:
        return f"<Lab {self.url} tenant={self.state.directory.tenant_id}>"

    # -- what a process on the learner's machine sees ------------------------------------------

    @property
    def ca_bundle(self) -> Path:
        return self._tls.bundle

    @property
    def cli_config_dir(self) -> Path:
        return self.home / "azure"

    def settings(self) -> dict[str, str]:
        """The resource's settings, as ``azd provision`` writes them into ``.env`` on Azure."""
        d = self.state.directory
        return {
            "AZURE_OPENAI_ENDPOINT": self.url,
            "AZURE_OPENAI_API_VERSION": API_VERSION,
            "AZURE_OPENAI_CHAT_DEPLOYMENT": d.chat_deployment,
            "AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT": d.embeddings_deployment,
            "AZURE_OPENAI_ACCOUNT_NAME": d.account_name,
            "AZURE_TENANT_ID": d.tenant_id,
            "AZURE_SUBSCRIPTION_ID": d.subscription_id,
            "AZURE_RESOURCE_GROUP": d.resource_group,
            "AZURE_RESOURCE_MANAGER_ENDPOINT": f"{self.url}/arm",
        }

    def _trust(self) -> dict[str, str]:
        return {
            "REQUESTS_CA_BUNDLE": str(self._tls.bundle),
            "SSL_CERT_FILE": str(self._tls.bundle),
            # Keeps the SDKs' managed-identity probe on loopback instead of 169.254.169.254.
            "AZURE_POD_IDENTITY_AUTHORITY_HOST": self.url,
        }

    def environment(self) -> Environment:
        """The learner's machine: settings, trust in the lab's CA, and the ``az``/``azd`` stand-ins."""
        path = os.pathsep.join([str(self.home / "bin"), _path_without(self.home / "bin")])
        values = {
            **self.settings(),
            **self._trust(),
            "AZURE_CONFIG_DIR": str(self.cli_config_dir),
            "AZD_CONFIG_DIR": str(self.home / "azd"),
            "PATH": path,
            "KEYLESS_TARGET": "lab",
        }
        return Environment.isolated(values)

    def hosted(self, name: str) -> Environment:
        """What a process running on host ``name`` sees: its identity endpoint and app settings.

        No developer sign-in is there (the CLI stand-ins are off ``PATH``, their profile empty),
        exactly as on App Service or Container Apps.
        """
        hosts = self.state.directory.hosts
        if name not in hosts:
            raise KeyError(f"Unknown host {name!r}; the lab has {', '.join(sorted(hosts))}")
        empty_profile = self.home / "hosts" / name
        empty_profile.mkdir(parents=True, exist_ok=True)
        values = {
            **{k: v for k, v in self.settings().items() if k.startswith("AZURE_OPENAI_")},
            "AZURE_TENANT_ID": self.state.directory.tenant_id,
            **self._trust(),
            **hosts[name].settings,
            "IDENTITY_ENDPOINT": f"{self.url}/msi/token",
            "IDENTITY_HEADER": self.state.host_secrets[name],
            "AZURE_CONFIG_DIR": str(empty_profile),
            "AZD_CONFIG_DIR": str(empty_profile),
            "PATH": _path_without(self.home / "bin"),
            # A host's own home: no developer token cache (~/.IdentityService, ~/.azure) is there.
            "HOME": str(empty_profile),
            "KEYLESS_TARGET": "lab",
        }
        return Environment.isolated(values)

    def github_job(
        self,
        repository: str,
        ref: str = "refs/heads/main",
        environment: str | None = None,
        event_name: str = "push",
    ) -> Environment:
        """What a GitHub Actions job with ``permissions: id-token: write`` sees on its runner.

        ``ACTIONS_ID_TOKEN_REQUEST_URL`` and ``_TOKEN`` let the job ask the lab's GitHub-style issuer
        for an OIDC token about itself (repository, ref, environment, event); ``RUNNER_TEMP`` is a
        private scratch folder. The lab stands in for Entra (``AZURE_AUTHORITY_HOST``); no developer
        sign-in is there, and no identity variable: the workflow's ``env:`` names the identity.
        """
        job = GitHubJob(repository, ref, environment, event_name)
        runner_temp = Path(tempfile.mkdtemp(prefix="runner-", dir=self.home))
        values = {
            **{k: v for k, v in self.settings().items() if k.startswith("AZURE_OPENAI_")},
            **self._trust(),
            # A runner's default authority is login.microsoftonline.com; here the lab answers for it.
            "AZURE_AUTHORITY_HOST": self.url,
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": repository,
            "GITHUB_REPOSITORY_OWNER": repository.split("/")[0],
            "GITHUB_REF": ref,
            "GITHUB_EVENT_NAME": event_name,
            # GitHub's URL already carries a query; clients append "&audience=…" (actions/toolkit core).
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"{self.url}/issuers/github/token?api-version=2.0",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.state.issuers.start_job(job),
            "RUNNER_TEMP": str(runner_temp),
            "AZURE_CONFIG_DIR": str(runner_temp / ".azure"),
            "AZD_CONFIG_DIR": str(runner_temp / ".azd"),
            "PATH": _path_without(self.home / "bin"),
            "KEYLESS_TARGET": "lab",
        }
        if environment:
            values["GITHUB_ENVIRONMENT"] = environment
        return Environment.isolated(values)

    def kubernetes_pod(self, namespace: str, service_account: str, client_id: str) -> Environment:
        """What the AKS workload identity webhook injects into a pod whose service account is
        annotated with ``azure.workload.identity/client-id``: the identity, the tenant, the authority
        (here the lab) and a projected service-account token file, written by the lab as kubelet would.
        """
        token = self.state.issuers.kubernetes_token(self.url, namespace, service_account)
        tokens = self.home / "pods" / f"{namespace}.{service_account}" / "var/run/secrets/azure/tokens"
        tokens.mkdir(parents=True, exist_ok=True)
        token_file = tokens / "azure-identity-token"
        token_file.touch(mode=0o600)
        token_file.write_text(token)
        values = {
            **{k: v for k, v in self.settings().items() if k.startswith("AZURE_OPENAI_")},
            **self._trust(),
            "AZURE_CLIENT_ID": client_id,
            "AZURE_TENANT_ID": self.state.directory.tenant_id,
            "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
            "AZURE_AUTHORITY_HOST": self.url,
            "AZURE_CONFIG_DIR": str(tokens.parent / ".azure"),
            "AZD_CONFIG_DIR": str(tokens.parent / ".azd"),
            "PATH": _path_without(self.home / "bin"),
            "KEYLESS_TARGET": "lab",
        }
        return Environment.isolated(values)

    # -- lab-only controls ---------------------------------------------------------------------

    def audit(self, surface: str | None = None, since: float = 0.0) -> list[AuditEntry]:
        """The request log (who, what, status), oldest first; nothing secret is in it."""
        return self.state.audit.entries(surface, since)

    def token_lifetime(self, seconds: int | None) -> None:
        """Make every new token live ``seconds`` (``None``: Azure's usual lifetimes).

        Token times are whole seconds (``iat``, ``exp``), so a new token has between ``seconds - 1``
        and ``seconds`` left; lessons use 2 or more.
        """
        self.state.issuer.set_lifetime(seconds)

    def faults(self, surface: str, status: int, count: int = 1, *, retry_after: int = 1, delay: float = 0.0) -> None:
        """Answer the next ``count`` requests to ``surface`` with ``status`` (after ``delay`` s)."""
        self.state.faults.inject(surface, status, count, retry_after=retry_after, delay=delay)

    def clear_faults(self) -> None:
        self.state.faults.clear()

    def rate_limit(self, deployment: str, requests_per_minute: int, tokens_per_minute: int = 1_000_000) -> None:
        """Set a deployment's quota, as its TPM/RPM setting does on Azure."""
        if deployment not in self.state.account.deployments:
            raise KeyError(f"Unknown deployment {deployment!r}")
        self.state.limits.set_limit(deployment, requests_per_minute, tokens_per_minute)

    def preset(self, name: str) -> None:
        """Reset roles, keys switch, limits and faults to a preset (``fresh`` or ``ready``)."""
        self.state.apply_preset(name)

    def grant_openai_user(self, principal: str, scope: str | None = None) -> None:
        """Lab-internal shortcut for tests: give a principal (by key, e.g. ``"learner"``) the role."""
        p = self.state.directory.principals[principal]
        self.state.grant(p.object_id, OPENAI_USER, scope or self.state.directory.account_scope, p.principal_type)

    def principal(self, key: str) -> dict[str, Any]:
        """Public facts about a principal (ids and names, nothing secret)."""
        p = self.state.directory.principals[key]
        return {
            "object_id": p.object_id,
            "display_name": p.display_name,
            "principal_type": p.principal_type,
            "client_id": p.client_id,
            "upn": p.upn,
            "resource_id": p.resource_id,
        }

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals -----------------------------------------------------------------------------

    def _write_connection_file(self) -> None:
        """Where the CLI stand-ins find this lab (readable by this user only)."""
        self.cli_config_dir.mkdir(parents=True, exist_ok=True)
        info = self.cli_config_dir / "keyless-lab.json"
        info.touch(mode=0o600)
        info.write_text(
            json.dumps(
                {
                    "url": self.url,
                    "admin_secret": self.state.admin_secret,
                    "ca_bundle": str(self._tls.bundle),
                    "ca_cert": str(self._tls.ca_cert),
                }
            )
        )


def _path_without(directory: Path) -> str:
    parts = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p) != directory]
    # The interpreter's own folder first, so `python` in a hosted subprocess is this venv's.
    here = str(Path(sys.executable).parent)
    return os.pathsep.join([here, *(p for p in parts if p != here)])
