"""Dependencies that assemble the services for one request, and identity's typed app state."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.applications import Starlette

from agora_chassis.auth import CurrentPrincipal, Principal
from agora_chassis.client_address import client_ip
from agora_chassis.db import DbSession, Session
from agora_chassis.reader import DbReader
from agora_chassis.state import service_extras, service_settings, service_state
from agora_identity.repositories.audit import AuditRepository
from agora_identity.repositories.tokens import RefreshTokenRepository
from agora_identity.repositories.users import UserProfiles, UserRepository
from agora_identity.services.audit import Auditor, RequestContext
from agora_identity.services.auth import AuthService
from agora_identity.services.keys import KeyStore
from agora_identity.services.service_tokens import ServiceTokenService, ServiceTokenSigner
from agora_identity.services.throttle import AuthLimits, Throttle
from agora_identity.services.tokens import TokenIssuer
from agora_identity.services.users import UserQueries, UserService
from agora_identity.settings import IdentitySettings


@dataclass(slots=True)
class IdentityState:
    """What identity keeps beside the chassis state (attached by ``main.create_app``).

    Attributes:
        keys: The signing keys (their public halves are the JWKS).
        token_issuer: Issues users' access and refresh tokens.
        service_token_signer: Signs client-credentials tokens for other services.
    """

    keys: KeyStore
    token_issuer: TokenIssuer
    service_token_signer: ServiceTokenSigner


def identity_state(owner: Starlette | Request) -> IdentityState:
    """Identity's own resources of the app (or of the app serving ``owner``)."""
    return service_extras(owner, IdentityState)


def identity_settings(owner: Starlette | Request) -> IdentitySettings:
    """The app's settings, as identity's settings class."""
    return service_settings(owner, IdentitySettings)


def _auditor(request: Request, session: DbSession, actor: Principal | None = None) -> Auditor:
    actor_id = uuid.UUID(actor.subject) if actor else None
    return Auditor(AuditRepository(session), RequestContext(client_ip(request), actor_id))


def refusal_auditor(request: Request, session: Session) -> Auditor:
    """An auditor for a refused request (no caller), writing in the refusal hook's ``session``."""
    return _auditor(request, session)


async def auth_service(request: Request, session: DbSession) -> AuthService:
    """The authentication use cases for this request."""
    settings = identity_settings(request)
    return AuthService(
        users=UserRepository(session),
        tokens=RefreshTokenRepository(session),
        auditor=_auditor(request, session),
        issuer=identity_state(request).token_issuer,
        throttle=Throttle(service_state(request).rate_limiter, _limits(settings)),
    )


def _limits(settings: IdentitySettings) -> AuthLimits:
    return AuthLimits(
        login_per_address=settings.login_limit_per_ip,
        login_per_account_address=settings.login_limit_per_account_address,
        login_per_account=settings.login_limit_per_account,
        login_under_attack=settings.login_limit_under_attack,
        registration_per_address=settings.registration_limit,
    )


async def user_service(
    request: Request, session: DbSession, principal: CurrentPrincipal
) -> UserService:
    """The user use cases for this request, audited as done by the caller."""
    return UserService(UserRepository(session), _auditor(request, session, principal))


async def user_reads(reader: DbReader) -> UserQueries:
    """The user use cases that only read, on the chassis reader (no session, ADR 0018).

    Only the reader: a read audits nothing, and the route takes the principal itself.
    """
    return UserQueries(UserProfiles(reader))


async def service_token_service(request: Request, session: DbSession) -> ServiceTokenService:
    """The client-credentials grant for this request."""
    return ServiceTokenService(
        clients=identity_settings(request).service_clients,
        signer=identity_state(request).service_token_signer,
        auditor=_auditor(request, session),
    )


Auth = Annotated[AuthService, Depends(auth_service)]
ServiceTokens = Annotated[ServiceTokenService, Depends(service_token_service)]
Users = Annotated[UserService, Depends(user_service)]
UserReads = Annotated[UserQueries, Depends(user_reads)]
