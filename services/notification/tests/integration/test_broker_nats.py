"""End to end on a real NATS JetStream: a published user.registered becomes one welcome e-mail."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from agora_chassis.messaging import make_broker, publish_envelope
from agora_chassis.state import service_state
from agora_notification.main import create_app

pytestmark = pytest.mark.integration

WAIT_SECONDS = 15.0


async def _wait_for(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT_SECONDS):
        while not predicate():  # noqa: ASYNC110 - the sink's thread cannot set an asyncio.Event
            await asyncio.sleep(0.1)


async def test_app_on_nats_published_event_sends_one_mail(
    app: FastAPI,
    clean: None,
    nats_url: str,
    registered_event: Callable[..., bytes],
    smtp_sink: tuple[int, Any],
) -> None:
    service = create_app(service_state(app).settings.model_copy(update={"broker_url": nats_url}))
    body = registered_event(email="nats@example.com")
    publisher = make_broker(nats_url)
    async with LifespanManager(service):
        await publisher.start()
        try:
            for _ in range(2):  # a redelivery of the same event must not send twice
                await publish_envelope(
                    publisher,
                    body,
                    event_type="user.registered",
                    key=None,
                    headers={"ce-id": json.loads(body)["id"]},
                )
            await _wait_for(lambda: len(_mails_to(smtp_sink, "nats@example.com")) >= 1)
            await asyncio.sleep(1.0)
        finally:
            await publisher.stop()
    # The shared JetStream stream may also hold other tests' user.registered events (the
    # service rightly welcomes those users too): count only this test's recipient.
    assert len(_mails_to(smtp_sink, "nats@example.com")) == 1


def _mails_to(smtp_sink: tuple[int, Any], address: str) -> list[Any]:
    return [m for m in smtp_sink[1].messages if m.rcpt_tos == [address]]
