"""Sends e-mail over SMTP with aiosmtplib: STARTTLS whenever offered, login when configured."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from agora_notification.services.templates import RenderedMail
from agora_notification.settings import NotificationSettings


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to deliver mail.

    Attributes:
        host: SMTP relay host.
        port: SMTP relay port.
        starttls: STARTTLS: None when the relay offers it, True required, False never.
        username: Login, when the relay needs one.
        password: Password for ``username``.
        timeout: Longest wait for one SMTP exchange, in seconds.
        sender: ``From`` address.
        ca_file: CA bundle verifying the relay's certificate; the system's when None.
    """

    host: str
    port: int
    starttls: bool | None
    username: str | None
    password: str | None
    timeout: float
    sender: str
    ca_file: str | None = None

    @classmethod
    def from_settings(cls, settings: NotificationSettings) -> SmtpConfig:
        """Read the SMTP part of the service's settings."""
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username.get_secret_value() if settings.smtp_username else None,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            timeout=settings.smtp_timeout_seconds,
            sender=settings.mail_from,
            ca_file=settings.smtp_ca_file,
        )


def build_message(sender: str, recipient: str, subject: str, body: RenderedMail) -> EmailMessage:
    """Build a ``multipart/alternative`` message: plain text first, HTML preferred.

    Args:
        sender: ``From`` header.
        recipient: ``To`` address.
        subject: ``Subject`` header.
        body: The rendered text and HTML bodies.

    Returns:
        The message, ready to send.
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message.set_content(body.text)
    message.add_alternative(body.html, subtype="html")
    return message


class Mailer:
    """Delivers messages to the configured relay, one connection per message."""

    def __init__(self, config: SmtpConfig) -> None:
        """Send through ``config``'s relay."""
        self.config = config

    async def send(self, recipient: str, subject: str, body: RenderedMail) -> None:
        """Send one e-mail.

        Args:
            recipient: The address to deliver to.
            subject: The subject line.
            body: The rendered bodies.

        Raises:
            aiosmtplib.SMTPException: The relay is unreachable, timed out or refused the mail
                (``SMTPRecipientsRefused`` for a 5xx on the address).
        """
        message = build_message(self.config.sender, recipient, subject, body)
        await aiosmtplib.send(
            message,
            hostname=self.config.host,
            port=self.config.port,
            # None: aiosmtplib upgrades whenever the relay offers STARTTLS (EHLO), and verifies
            # the certificate; the development mail sink offers none, so it stays plain there.
            start_tls=self.config.starttls,
            cert_bundle=self.config.ca_file,
            username=self.config.username,
            password=self.config.password,
            timeout=self.config.timeout,
        )
