"""Messaging in a service's life: broker and outbox relay start with the app and stop with it.

The app factory creates the broker (not yet connected) on ``app.state.broker`` when
``AGORA_BROKER_URL`` is set, so a service can register its consumers before start-up. At start-up
the broker connects and, when the service has an outbox, the relay starts publishing it.
:func:`outbox_probe` is the readiness check that watches the relay: ``degraded`` while it is not
running or while the oldest pending event is older than ``AGORA_OUTBOX_MAX_AGE_SECONDS``.

Consumers' loops belong to FastStream, which restarts a subscriber's loop after an exception;
a handler's own failures never reach it (:mod:`agora_chassis.messaging.consumer` settles every
message), and on shutdown FastStream waits for running handlers (its graceful timeout) before it
closes the connection. Once connected,
:func:`~agora_chassis.messaging.supervision.supervise_consumers` paces a loop whose fetches keep
failing, and :func:`consumers_probe` (readiness check ``consumers``) names every subscriber that
is not running or keeps failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import FastAPI

from agora_chassis.health import Probe, ProbeFailedError
from agora_chassis.messaging.broker import make_broker
from agora_chassis.messaging.relay import observe_backlog, pending_backlog, start_relay
from agora_chassis.messaging.supervision import consumer_problems, supervise_consumers
from agora_chassis.outbox import OutboxMixin
from agora_chassis.settings import ServiceSettings

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5.0
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0


def attach_messaging(
    app: FastAPI, settings: ServiceSettings, outbox: type[OutboxMixin] | None
) -> None:
    """Put an unconnected broker (or ``None``) on ``app.state.broker`` and remember the outbox.

    Args:
        app: The service's app.
        settings: Its settings; ``broker_url`` selects the broker.
        outbox: The service's outbox model, if it publishes events.
    """
    app.state.broker = make_broker(settings.broker_url) if settings.broker_url else None
    app.state.outbox_model = outbox
    app.state.relay = None
    app.state.messaging_task = None


async def _observe_backlog_while_offline(app: FastAPI) -> None:
    """Keep the backlog gauges true while no relay runs (the backlog grows exactly then)."""
    if app.state.outbox_model is None:
        return
    settings: ServiceSettings = app.state.settings
    try:
        async with app.state.sessionmaker() as session:
            await observe_backlog(session, app.state.outbox_model, settings.service_name)
    except Exception as exc:  # noqa: BLE001 - metrics must never stop the reconnect loop
        logger.warning("could not read the outbox backlog: %s", exc)


async def _connect_then_relay(app: FastAPI) -> None:
    """Connect the broker (retrying with capped backoff), then start the relay."""
    broker, delay = app.state.broker, FIRST_RETRY_SECONDS
    while True:
        try:
            await asyncio.wait_for(broker.start(), CONNECT_TIMEOUT_SECONDS)
            break
        except Exception as exc:  # noqa: BLE001 - any connection failure: try again later
            logger.warning("broker not reachable (%s); retrying in %.0fs", exc, delay)
            await _observe_backlog_while_offline(app)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_SECONDS)
    logger.info("broker connected")
    supervise_consumers(broker)
    if app.state.outbox_model is not None:
        settings: ServiceSettings = app.state.settings
        app.state.relay = start_relay(
            app.state.engine,
            app.state.outbox_model,
            broker,
            source=f"/agora/{settings.service_name}",
        )


def outbox_probe(app: FastAPI) -> Probe:
    """A readiness probe that fails while events are not flowing out of the outbox.

    Args:
        app: The service's app (after :func:`attach_messaging`, with an outbox).

    Returns:
        The probe: it raises when the relay is not running (not started yet, stopped, or
        pausing after a crash) or the oldest pending event waits longer than
        ``settings.outbox_max_age_seconds``.
    """

    async def probe() -> None:
        relay = app.state.relay
        if relay is None or not relay.running:
            raise ProbeFailedError("the outbox relay is not running")
        settings: ServiceSettings = app.state.settings
        async with app.state.sessionmaker() as session:
            pending, age = await pending_backlog(session, app.state.outbox_model)
        if age > settings.outbox_max_age_seconds:
            raise ProbeFailedError(f"{pending} events pending, the oldest for {age:.0f}s")

    return probe


def consumers_probe(app: FastAPI) -> Probe:
    """A readiness probe that fails while any of the service's consumers is not consuming.

    Args:
        app: The service's app (after :func:`attach_messaging`, with a broker).

    Returns:
        The probe: it raises, naming them, when subscribers are not running (the broker is not
        connected yet, or they stopped) or their fetches keep failing (e.g. the JetStream
        consumer or stream was deleted).
    """

    async def probe() -> None:
        if problems := consumer_problems(app.state.broker):
            raise ProbeFailedError("; ".join(problems))

    return probe


async def start_messaging(app: FastAPI) -> None:
    """Connect the broker and start the relay in the background.

    Start-up never waits for the broker: while it is unreachable, events wait in the outbox and
    readiness reports the broker as degraded.

    Args:
        app: The service's app (after :func:`attach_messaging`).
    """
    if app.state.broker is None:
        if app.state.outbox_model is not None:
            logger.warning("no AGORA_BROKER_URL: events stay in the outbox until one is set")
        return
    app.state.messaging_task = asyncio.create_task(_connect_then_relay(app))


async def stop_messaging(app: FastAPI) -> None:
    """Stop the relay (it finishes its batch) and disconnect the broker.

    Args:
        app: The service's app.
    """
    task: asyncio.Task[None] | None = app.state.messaging_task
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if app.state.relay is not None:
        await app.state.relay.stop()
        app.state.relay = None
    if app.state.broker is not None:
        await app.state.broker.stop()
