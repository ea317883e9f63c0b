"""Identity's settings: the chassis base plus token lifetimes, signing keys and the admin."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from agora_chassis.settings import ServiceSettings

ACCESS_TOKEN_MINUTES = 30
REFRESH_TOKEN_DAYS = 7
DEV_ADMIN_PASSWORD = "Admin123!"  # noqa: S105 - documented development login, refused in production


class IdentitySettings(ServiceSettings):
    """Settings of the identity service (environment variables ``AGORA_*``).

    Attributes:
        jwt_keys_dir: Directory of Ed25519 private keys (PEM, one per ``kid``); the newest signs,
            all are published in the JWKS so tokens signed before a rotation stay valid.
        access_token_minutes: Lifetime of access tokens.
        refresh_token_days: Lifetime of refresh tokens.
        admin_email: Admin account ensured at start-up (skipped when no password is set).
        admin_password: Password for a newly created admin account.
        login_limit_per_ip: Login attempts allowed per client address.
        login_limit_per_account: Login attempts allowed per account (reset on success).
    """

    service_name: str = "identity"
    jwt_keys_dir: Path = Path(".agora/keys/identity")
    access_token_minutes: int = ACCESS_TOKEN_MINUTES
    refresh_token_days: int = REFRESH_TOKEN_DAYS
    admin_email: str = "admin@agora.local"
    admin_password: SecretStr | None = None
    login_limit_per_ip: str = "30/minute"
    login_limit_per_account: str = "5/minute"

    def insecure_defaults(self) -> list[str]:
        """Add identity's own development-only values to the chassis list."""
        problems = super().insecure_defaults()
        password = self.admin_password.get_secret_value() if self.admin_password else None
        if password == DEV_ADMIN_PASSWORD:
            problems.append("AGORA_ADMIN_PASSWORD (development default)")
        return problems
