"""Identity logs its business events at INFO, naming users by id and never by e-mail."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import httpx
import pytest

pytestmark = pytest.mark.integration

LOGGER = "agora_identity.services.auth"
EMAIL = "grace.hopper@example.com"
PASSWORD = "Correct-Horse-9"  # the conftest's ``register`` default
Register = Callable[..., Awaitable[httpx.Response]]


def lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.INFO]


def everything_in(record: logging.LogRecord) -> str:
    return record.getMessage() + " " + " ".join(str(value) for value in vars(record).values())


async def test_business_events_logged_at_info_without_email(
    client: httpx.AsyncClient, register: Register, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER):
        user_id = (await register(EMAIL)).json()["id"]
        form = {"username": EMAIL, "password": PASSWORD}
        tokens = (await client.post("/api/v1/auth/token", data=form)).json()
        await client.post("/api/v1/auth/token", data=form | {"password": "Wrong-Horse-1"})
        unknown = {"username": "nobody@example.com", "password": "Wrong-Horse-1"}
        await client.post("/api/v1/auth/token", data=unknown)
        refresh = {"refresh_token": tokens["refresh_token"]}
        await client.post("/api/v1/auth/refresh", json=refresh)
        await client.post("/api/v1/auth/refresh", json=refresh)  # reuse

    records = lines(caplog)
    by_message = {record.getMessage(): record for record in records}
    assert by_message["user registered"].user_id == user_id  # type: ignore[attr-defined]
    assert by_message["login succeeded"].user_id == user_id  # type: ignore[attr-defined]
    assert by_message["login failed (bad_password)"].user_id == user_id  # type: ignore[attr-defined]
    marker = by_message["login failed (unknown_email)"].email_marker  # type: ignore[attr-defined]
    assert "@" not in marker
    reuse = by_message["refresh token reuse detected; session revoked"]
    assert reuse.user_id == user_id  # type: ignore[attr-defined]
    for record in records:
        text = everything_in(record)
        assert "@" not in text, text
        assert "grace" not in text, text
        assert "nobody" not in text, text
