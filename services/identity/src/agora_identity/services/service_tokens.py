"""Service tokens: the OAuth2 client-credentials grant for calls between services.

A registered client (``AGORA_SERVICE_CLIENTS``) presents its id and secret and gets a short-lived
JWT signed with the same keys as user tokens, so every service verifies it through the same JWKS.
Its ``sub`` is ``service:<client id>`` and its ``token_use`` is ``"service"``: user-facing routes
refuse it, and internal gRPC servers refuse user tokens. Issuance and every refusal are audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from agora_chassis.auth import SERVICE_TOKEN_USE, TOKEN_USE_CLAIM
from agora_chassis.db import utcnow
from agora_chassis.ids import new_id
from agora_identity.models import AuditEvent
from agora_identity.schemas.service_tokens import ServiceToken
from agora_identity.services.audit import Auditor
from agora_identity.services.errors import InvalidClient, InvalidScope
from agora_identity.services.keys import KeyStore
from agora_identity.settings import ServiceClient

logger = logging.getLogger(__name__)

SERVICE_SUBJECT_PREFIX = "service:"
SERVICE_ROLE = "service"
MIN_SECRET_CHARS = 32
"""Shorter secrets are refused unchecked: only long random secrets make a fast digest safe."""


def secret_digest(secret: str) -> str:
    """The configured form of a client secret (SHA-256 hex; secrets are long random strings)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _secret_matches(client: ServiceClient, secret: str) -> bool:
    presented = secret_digest(secret)
    # Every digest is compared, so the answer's timing does not tell which one matched.
    matches = [hmac.compare_digest(presented, digest) for digest in client.secret_sha256]
    return any(matches)


@dataclass(frozen=True)
class ServiceTokenSigner:
    """Signs service tokens with identity's current key.

    Attributes:
        keys: Identity's signing keys.
        issuer: The ``iss`` claim.
        audience: The ``aud`` claim.
        ttl: Lifetime of a token.
    """

    keys: KeyStore
    issuer: str
    audience: str
    ttl: dt.timedelta

    def sign(self, client_id: str, scopes: list[str]) -> str:
        """A service token for ``client_id`` carrying ``scopes``."""
        now = utcnow()
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": SERVICE_SUBJECT_PREFIX + client_id,
            "client_id": client_id,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl,
            "jti": str(new_id()),
            "roles": [SERVICE_ROLE],
            "scope": " ".join(scopes),
            TOKEN_USE_CLAIM: SERVICE_TOKEN_USE,
        }
        return self.keys.sign(claims)


@dataclass
class ServiceTokenService:
    """The client-credentials grant."""

    clients: Mapping[str, ServiceClient]
    signer: ServiceTokenSigner
    auditor: Auditor

    async def issue(self, client_id: str, secret: str, requested: list[str]) -> ServiceToken:
        """Exchange a client's credentials for a service token.

        Args:
            client_id: The registered client.
            secret: Its secret.
            requested: Scopes asked for; empty means all the client is registered for.

        Returns:
            The token response.

        Raises:
            InvalidClient: Unknown client or wrong secret (401).
            InvalidScope: A requested scope is not registered for the client (400).
        """
        client = self.clients.get(client_id)
        if client is None or len(secret) < MIN_SECRET_CHARS or not _secret_matches(client, secret):
            await self._refused(client_id, "invalid client credentials")
            raise InvalidClient("The client id or secret is not valid.")
        if unknown := sorted(set(requested) - set(client.scopes)):
            await self._refused(client_id, f"scope not registered: {' '.join(unknown)}")
            raise InvalidScope("The client is not registered for a requested scope.")
        scopes = sorted(set(requested) if requested else set(client.scopes))
        token = self.signer.sign(client_id, scopes)
        logger.info("service token issued to %s (%s)", client_id, " ".join(scopes))
        await self.auditor.record(
            AuditEvent.SERVICE_TOKEN_ISSUED, client_id=client_id, scope=" ".join(scopes)
        )
        return ServiceToken(
            access_token=token,
            expires_in=int(self.signer.ttl.total_seconds()),
            scope=" ".join(scopes),
        )

    async def _refused(self, client_id: str, reason: str) -> None:
        logger.warning("service token refused to %r: %s", client_id, reason)
        await self.auditor.record(
            AuditEvent.SERVICE_TOKEN_REFUSED, client_id=client_id, reason=reason
        )
