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
        smtp_starttls: ``None`` (default) upgrades with STARTTLS whenever the relay offers it;
            ``True`` requires it (the send fails without); ``False`` never upgrades. The
            production profile refuses a login unless it is ``True``: "when offered" would send
            the password in clear to anyone who strips the offer.
        smtp_ca_file: CA bundle to verify the relay's certificate with (a private CA); the
            system's trust store when unset. Certificates are always verified.
        smtp_username: Login at the relay, when it needs one.
        smtp_password: Password for ``smtp_username``.
        smtp_timeout_seconds: Longest wait for any one SMTP exchange.
        mail_from: ``From`` header and envelope sender of every message.
    """

    service_name: str = "notification"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = DEV_SMTP_PORT
    smtp_starttls: bool | None = None
    smtp_ca_file: str | None = None
    smtp_username: SecretStr | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "Agora <no-reply@agora.local>"

    def insecure_defaults(self) -> list[str]:
        """The chassis checks plus an SMTP login that could travel without TLS."""
        problems = super().insecure_defaults()
        has_login = self.smtp_username is not None or self.smtp_password is not None
        if has_login and self.smtp_starttls is not True:
            problems.append("AGORA_SMTP_STARTTLS (a login needs it true: never send it in clear)")
        return problems
