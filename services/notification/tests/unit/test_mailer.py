"""Messages are multipart text + HTML with the configured sender; settings map to SMTP options."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from agora_notification.services.mailer import SmtpConfig, build_message
from agora_notification.services.templates import RenderedMail
from agora_notification.settings import NotificationSettings


def test_build_message_text_and_html_is_multipart_alternative() -> None:
    body = RenderedMail(text="Hello Ada", html="<p>Hello Ada</p>")

    message = build_message("Agora <no-reply@agora.local>", "ada@example.com", "Welcome", body)

    assert message.get_content_type() == "multipart/alternative"
    assert message["From"] == "Agora <no-reply@agora.local>"
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Welcome"
    parts = {part.get_content_type(): part.get_content() for part in message.iter_parts()}
    assert parts["text/plain"].strip() == "Hello Ada"
    assert parts["text/html"].strip() == "<p>Hello Ada</p>"


def test_smtp_config_from_settings_reads_credentials() -> None:
    settings = NotificationSettings(
        smtp_host="relay.example.com",
        smtp_port=587,
        smtp_starttls=True,
        smtp_username=SecretStr("agora"),
        smtp_password=SecretStr("s3cret"),
    )

    config = SmtpConfig.from_settings(settings)

    assert (config.host, config.port, config.starttls) == ("relay.example.com", 587, True)
    assert (config.username, config.password) == ("agora", "s3cret")
    assert config.sender == "Agora <no-reply@agora.local>"


def test_smtp_config_defaults_point_at_local_sink_without_login() -> None:
    config = SmtpConfig.from_settings(NotificationSettings())

    # STARTTLS whenever the relay offers it (the development sink offers none).
    assert (config.port, config.starttls, config.username, config.password) == (
        11025,
        None,
        None,
        None,
    )


@pytest.mark.parametrize("starttls", [None, False])
def test_production_settings_refuse_a_login_without_required_starttls(
    starttls: bool | None,
) -> None:
    with pytest.raises(ValidationError, match="AGORA_SMTP_STARTTLS"):
        NotificationSettings(
            environment="production",
            database_url="postgresql+asyncpg://n:strong@db/n",
            smtp_username=SecretStr("agora"),
            smtp_password=SecretStr("s3cret"),
            smtp_starttls=starttls,
        )


def test_production_settings_accept_a_login_with_required_starttls() -> None:
    settings = NotificationSettings(
        environment="production",
        database_url="postgresql+asyncpg://n:strong@db/n",
        smtp_username=SecretStr("agora"),
        smtp_password=SecretStr("s3cret"),
        smtp_starttls=True,
    )
    assert settings.insecure_defaults() == []


def test_production_settings_without_login_accept_opportunistic_starttls() -> None:
    settings = NotificationSettings(
        environment="production", database_url="postgresql+asyncpg://n:strong@db/n"
    )
    assert settings.smtp_starttls is None
