"""Notification's settings: the chassis base plus the SMTP relay it sends through."""

from __future__ import annotations

from pydantic import SecretStr

from agora_chassis.settings import ServiceSettings

DEV_SMTP_PORT = 11025


class NotificationSettings(ServiceSettings):
    """Settings of the notification service (environment variables ``AGORA_*``).

    Attributes:
        smtp_host: SMTP relay host (the local mail sink in development).
        smtp_port: SMTP relay port.
        smtp_starttls: Upgrade the connection with STARTTLS before sending.
        smtp_username: Login at the relay, when it needs one.
        smtp_password: Password for ``smtp_username``.
        smtp_timeout_seconds: Longest wait for any one SMTP exchange.
        mail_from: ``From`` header and envelope sender of every message.
    """

    service_name: str = "notification"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = DEV_SMTP_PORT
    smtp_starttls: bool = False
    smtp_username: SecretStr | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "Agora <no-reply@agora.local>"
