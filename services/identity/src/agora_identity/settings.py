"""Identity's settings: the chassis base plus token lifetimes, signing keys and the admin."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from agora_chassis.ratelimit import validate_limit
from agora_chassis.settings import ServiceSettings

ACCESS_TOKEN_MINUTES = 30
REFRESH_TOKEN_DAYS = 7
SERVICE_TOKEN_MINUTES = 5
SECRET_SHA256 = Annotated[str, Field(pattern="^[0-9a-f]{64}$")]
# Per client address. Development: a demo or a test registers a few dozen accounts in a minute.
# Production: a household or office behind one address rarely opens more than a few an hour.
DEVELOPMENT_REGISTRATION_LIMIT = "60/minute"
PRODUCTION_REGISTRATION_LIMIT = "20/hour"
DEV_ADMIN_PASSWORD = "Admin123!"  # noqa: S105 - documented development login, refused in production


class ServiceClient(BaseModel):
    """A service allowed the client-credentials grant (one entry of ``AGORA_SERVICE_CLIENTS``).

    Attributes:
        secret_sha256: SHA-256 hex digests of the accepted secrets; two during a rotation.
        scopes: The scopes its tokens may carry (``catalog:read``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    secret_sha256: list[SECRET_SHA256] = Field(min_length=1)
    scopes: list[str] = Field(min_length=1)


class IdentitySettings(ServiceSettings):
    """Settings of the identity service (environment variables ``AGORA_*``).

    Attributes:
        jwt_keys_dir: Directory of Ed25519 private keys (PEM, one per ``kid``); the newest signs,
            all are published in the JWKS so tokens signed before a rotation stay valid.
        access_token_minutes: Lifetime of access tokens.
        refresh_token_days: Lifetime of refresh tokens.
        admin_email: Admin account ensured at start-up (skipped when no password is set).
        admin_password: Password for a newly created admin account.
        login_limit_per_ip: Login attempts allowed per client address (every account).
        login_limit_per_account_address: Login attempts allowed per account and client address
            (reset when that address logs in); an attacker elsewhere never spends the owner's.
        login_limit_per_account: Login attempts per account from all addresses together; past
            it the account is under attack and each address gets ``login_limit_under_attack``.
        login_limit_under_attack: Attempts per account and address while it is under attack.
        registration_rate_limit: Registrations allowed per client address; unset, 60/minute
            (a demo or a test registers a few dozen accounts), 20/hour in production.
        service_clients: Services allowed the client-credentials grant, by client id (JSON:
            ``{"basket": {"secret_sha256": ["<hex>"], "scopes": ["catalog:read"]}}``). Only
            digests are configured: the secrets stay with the calling services.
        service_token_minutes: Lifetime of service tokens (callers fetch a new one before).
    """

    service_name: str = "identity"
    jwt_keys_dir: Path = Path(".agora/keys/identity")
    access_token_minutes: int = ACCESS_TOKEN_MINUTES
    refresh_token_days: int = REFRESH_TOKEN_DAYS
    admin_email: str = "admin@agora.local"
    admin_password: SecretStr | None = None
    login_limit_per_ip: str = "30/minute"
    login_limit_per_account_address: str = "5/minute"
    login_limit_per_account: str = "100/hour"
    login_limit_under_attack: str = "3/hour"
    registration_rate_limit: str | None = None
    service_clients: dict[str, ServiceClient] = Field(default_factory=dict)
    service_token_minutes: int = Field(default=SERVICE_TOKEN_MINUTES, ge=1)

    @field_validator(
        "login_limit_per_ip",
        "login_limit_per_account_address",
        "login_limit_per_account",
        "login_limit_under_attack",
        "registration_rate_limit",
    )
    @classmethod
    def _valid_limit(cls, limit: str | None) -> str | None:
        return None if limit is None else validate_limit(limit)

    @property
    def registration_limit(self) -> str:
        """The registration budget per address: the setting, or the profile's default."""
        if self.registration_rate_limit is not None:
            return self.registration_rate_limit
        if self.environment == "production":
            return PRODUCTION_REGISTRATION_LIMIT
        return DEVELOPMENT_REGISTRATION_LIMIT

    def insecure_defaults(self) -> list[str]:
        """Add identity's own development-only values to the chassis list."""
        problems = super().insecure_defaults()
        password = self.admin_password.get_secret_value() if self.admin_password else None
        if password == DEV_ADMIN_PASSWORD:
            problems.append("AGORA_ADMIN_PASSWORD (development default)")
        return problems
