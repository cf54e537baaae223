"""Microsoft Entra ID's token service at the lab's authority host: ``/{tenant}/oauth2/v2.0/token``,
OpenID Connect discovery and the signing keys (JWKS).
"""

from __future__ import annotations

routes: list = []
