"""Entra ID access tokens: RS256 JWTs with a ``kid``, the v1 issuer and the claims Azure puts there.

Claims follow Microsoft's access-token claims reference
(https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference).
"""

from __future__ import annotations

import base64
import hashlib
import random
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.algorithms import RSAAlgorithm

from .directory import AZURE_CLI_APP_ID, Directory, Principal

# Entra gives user tokens a random lifetime of 60-90 minutes; managed-identity tokens are
# cached by the platform for about 24 hours (Microsoft's managed identities FAQ).
USER_LIFETIME = (3600, 5400)
MANAGED_IDENTITY_LIFETIME = 86_400
# Tokens whose signature was checked, kept so that a cached token is not verified again on every call.
VERIFIED_TOKENS_KEPT = 1024


@dataclass(frozen=True)
class IssuedToken:
    """A token and its expiry (epoch seconds). ``str()`` never shows the token."""

    token: str
    expires_on: int

    def __repr__(self) -> str:
        return f"IssuedToken(token={mask(self.token)}, expires_on={self.expires_on})"

    __str__ = __repr__


class InvalidToken(Exception):
    """The bearer token is missing, malformed, not ours, for another audience, or expired."""


class ForeignTenant(Exception):
    """A well-formed token whose tenant is not the resource's tenant."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__(tenant_id)
        self.tenant_id = tenant_id


def mask(secret: str) -> str:
    """Show a secret the way the workbook prints them: ends only, with its size."""
    if len(secret) <= 12:
        return "…" * bool(secret)
    return f"{secret[:4]}…({len(secret)} chars)…{secret[-4:]}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def issuer_for(tenant_id: str) -> str:
    return f"https://sts.windows.net/{tenant_id}/"


class TokenIssuer:
    """Signs and checks the lab's tokens with one RSA key published in a JWKS."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory
        # Imported here, not at the top: processes that only mask secrets make no keys.
        from .signing_keys import take

        self._key = take()
        public_der_digest = hashlib.sha256(self._key.public_key().public_numbers().n.to_bytes(256, "big")).digest()
        self.kid = _b64url(public_der_digest[:20])
        self._public_jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        self._lifetime: int | None = None
        # Seconds a token is still accepted past its exp (Azure allows minutes of clock skew).
        self.clock_skew = 0
        self._lock = threading.Lock()
        self.issued = 0
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()

    # -- lifetimes ----------------------------------------------------------------------------

    def set_lifetime(self, seconds: int | None) -> None:
        """Force every new token to live ``seconds`` (``None`` restores Azure's defaults)."""
        if seconds is not None and seconds < 1:
            raise ValueError("a token lifetime must be at least 1 second")
        self._lifetime = seconds

    @property
    def lifetime(self) -> int | None:
        return self._lifetime

    def _lifetime_for(self, principal: Principal) -> int:
        if self._lifetime is not None:
            return self._lifetime
        if principal.is_managed_identity:
            return MANAGED_IDENTITY_LIFETIME
        return random.randint(*USER_LIFETIME)

    # -- issuing ------------------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(self._public_jwk, kid=self.kid, use="sig", alg="RS256", x5t=self.kid)]}

    def claims_for(
        self, principal: Principal, audience: str, *, tenant_id: str | None = None, app_id: str | None = None
    ) -> dict[str, Any]:
        """The claims Entra puts in a v1 access token for this principal and audience."""
        tid = tenant_id or principal.tenant_id or self._directory.tenant_id
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": issuer_for(tid),
            "iat": now,
            "nbf": now,
            "exp": now + self._lifetime_for(principal),
            "aio": _b64url(secrets.token_bytes(24)),
        }
        if principal.principal_type == "User":
            claims.update(
                acr="1",
                amr=["pwd"],
                appid=app_id or AZURE_CLI_APP_ID,
                appidacr="0",
                ipaddr="127.0.0.1",
                name=principal.display_name,
                oid=principal.object_id,
                scp="user_impersonation",
                sub=_b64url(hashlib.sha256(f"{principal.object_id}:{app_id}".encode()).digest()[:32]),
                tid=tid,
                unique_name=principal.upn,
                upn=principal.upn,
            )
        else:
            claims.update(
                appid=principal.client_id,
                appidacr="2",
                idp=issuer_for(tid),
                idtyp="app",
                oid=principal.object_id,
                sub=principal.object_id,
                tid=tid,
            )
            if principal.resource_id:
                claims["xms_mirid"] = principal.resource_id
        claims.update(rh=_b64url(secrets.token_bytes(16)), uti=_b64url(secrets.token_bytes(16)), ver="1.0")
        return claims

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid, "x5t": self.kid})

    def issue(
        self, principal: Principal, audience: str, *, tenant_id: str | None = None, app_id: str | None = None
    ) -> IssuedToken:
        claims = self.claims_for(principal, audience, tenant_id=tenant_id, app_id=app_id)
        with self._lock:
            self.issued += 1
        return IssuedToken(self.sign(claims), claims["exp"])

    # -- checking -----------------------------------------------------------------------------

    def validate(self, token: str, audiences: tuple[str, ...]) -> dict[str, Any]:
        """Return the claims of a token the lab issued for one of ``audiences``.

        Raises :class:`InvalidToken` for anything Azure answers with 401, and
        :class:`ForeignTenant` for a good token from another tenant (Azure's 400).
        """
        accepted = tuple({a for aud in audiences for a in (aud.rstrip("/"), aud.rstrip("/") + "/")})
        with self._lock:
            verified = self._verified.get(token)
        if verified is None:
            verified = self._verify(token, accepted)
            with self._lock:
                self._verified[token] = verified
                if len(self._verified) > VERIFIED_TOKENS_KEPT:
                    self._verified.popitem(last=False)
            return dict(verified)
        # A token seen before had its signature and fixed claims checked then (a token string's
        # signature never changes): only the audience and the time claims can fail now. Checking
        # the signature of every request made a cached bearer token cost a tenth more than a key.
        now, leeway = time.time(), self.clock_skew
        if verified["aud"] not in accepted:
            raise InvalidToken("InvalidAudienceError")
        if verified["exp"] <= now - leeway:
            raise InvalidToken("ExpiredSignatureError")
        if verified["nbf"] > now + leeway or verified["iat"] > now + leeway:
            raise InvalidToken("ImmatureSignatureError")
        return dict(verified)

    def _verify(self, token: str, accepted: tuple[str, ...]) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as err:
            raise InvalidToken("malformed token") from err
        if header.get("alg") != "RS256":
            raise InvalidToken("algorithm not allowed")
        if header.get("kid") != self.kid:
            raise InvalidToken("unknown signing key")
        try:
            # Azure tolerates a few minutes of clock skew; the lab none by default, so that a short
            # lifetime set for a lesson shows its expiry at once.
            claims = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=["RS256"],
                audience=accepted,
                leeway=self.clock_skew,
                options={"require": ["exp", "nbf", "iat", "iss", "aud", "tid", "oid"]},
            )
        except jwt.PyJWTError as err:
            raise InvalidToken(type(err).__name__) from err
        if claims["iss"] != issuer_for(claims["tid"]):
            raise InvalidToken("issuer does not match tenant")
        if claims["tid"] != self._directory.tenant_id:
            raise ForeignTenant(claims["tid"])
        return claims
