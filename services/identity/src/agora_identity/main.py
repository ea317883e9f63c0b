"""The identity service's app factory (``uvicorn agora_identity.main:create_app --factory``)."""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI

from agora_chassis.app import create_service_app
from agora_chassis.state import attach_extras, service_state
from agora_identity.api import auth, jwks, service_tokens, users
from agora_identity.api.deps import IdentityState, identity_settings
from agora_identity.api.refusals import audit_refusal
from agora_identity.models import OutboxMessage
from agora_identity.repositories.users import UserRepository
from agora_identity.services.bootstrap import ensure_admin
from agora_identity.services.keys import KeyStore, LocalKeySource
from agora_identity.services.service_tokens import ServiceTokenSigner
from agora_identity.services.tokens import TokenIssuer, TokenPolicy
from agora_identity.settings import IdentitySettings


async def _ensure_admin(app: FastAPI) -> None:
    settings = identity_settings(app)
    if settings.admin_password is None:
        return
    async with service_state(app).sessionmaker.begin() as session:
        await ensure_admin(
            UserRepository(session),
            settings.admin_email,
            settings.admin_password.get_secret_value(),
        )


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    """Build the identity service.

    Args:
        settings: Settings to use; read from the environment when omitted.

    Returns:
        The application.
    """
    settings = settings or IdentitySettings()
    keys = KeyStore.load(
        settings.jwt_keys_dir, create_if_empty=settings.environment != "production"
    )
    app = create_service_app(
        settings,
        title="Agora identity",
        routers=[auth.router, service_tokens.router, users.router, jwks.router],
        startup=[_ensure_admin],
        keys=LocalKeySource(keys),
        outbox=OutboxMessage,
    )
    service_state(app).on_auth_refusal = audit_refusal
    attach_extras(
        app,
        IdentityState(
            keys=keys,
            token_issuer=TokenIssuer(
                keys,
                TokenPolicy(
                    issuer=settings.jwt_issuer,
                    audience=settings.jwt_audience,
                    access_ttl=dt.timedelta(minutes=settings.access_token_minutes),
                    refresh_ttl=dt.timedelta(days=settings.refresh_token_days),
                ),
            ),
            service_token_signer=ServiceTokenSigner(
                keys,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                ttl=dt.timedelta(minutes=settings.service_token_minutes),
            ),
        ),
    )
    return app
