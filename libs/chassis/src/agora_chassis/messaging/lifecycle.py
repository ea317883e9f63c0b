"""Messaging in a service's life: broker and outbox relay start with the app and stop with it.

The app factory creates the broker (not yet connected, in ``ServiceState.messaging``) when
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
from agora_chassis.messaging.broker import Broker
from agora_chassis.messaging.relay import observe_backlog, pending_backlog, start_relay
from agora_chassis.messaging.supervision import consumer_problems, supervise_consumers
from agora_chassis.state import ServiceState, service_state

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5.0
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0


async def _observe_backlog_while_offline(state: ServiceState) -> None:
    """Keep the backlog gauges true while no relay runs (the backlog grows exactly then)."""
    if state.messaging.outbox_model is None:
        return
    try:
        async with state.sessionmaker() as session:
            await observe_backlog(
                session, state.messaging.outbox_model, state.settings.service_name
            )
    except Exception as exc:  # noqa: BLE001 - metrics must never stop the reconnect loop
        logger.warning("could not read the outbox backlog: %s", exc)


async def _connect_then_relay(state: ServiceState, broker: Broker) -> None:
    """Connect the broker (retrying with capped backoff), then start the relay."""
    delay = FIRST_RETRY_SECONDS
    while True:
        try:
            await asyncio.wait_for(broker.start(), CONNECT_TIMEOUT_SECONDS)
            break
        except Exception as exc:  # noqa: BLE001 - any connection failure: try again later
            logger.warning("broker not reachable (%s); retrying in %.0fs", exc, delay)
            await _observe_backlog_while_offline(state)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_SECONDS)
    logger.info("broker connected")
    supervise_consumers(broker)
    if state.messaging.outbox_model is not None:
        state.messaging.relay = start_relay(
            state.engine,
            state.messaging.outbox_model,
            broker,
            source=f"/agora/{state.settings.service_name}",
            max_in_flight=state.settings.relay_max_in_flight,
        )


def outbox_probe(app: FastAPI) -> Probe:
    """A readiness probe that fails while events are not flowing out of the outbox.

    Args:
        app: The service's app (built by ``create_service_app``, with an outbox).

    Returns:
        The probe: it raises when the relay is not running (not started yet, stopped, or
        pausing after a crash) or the oldest pending event waits longer than
        ``settings.outbox_max_age_seconds``.
    """

    state = service_state(app)

    async def probe() -> None:
        relay, outbox = state.messaging.relay, state.messaging.outbox_model
        if relay is None or not relay.running or outbox is None:
            raise ProbeFailedError("the outbox relay is not running")
        async with state.sessionmaker() as session:
            pending, age = await pending_backlog(session, outbox)
        if age > state.settings.outbox_max_age_seconds:
            raise ProbeFailedError(f"{pending} events pending, the oldest for {age:.0f}s")

    return probe


def consumers_probe(app: FastAPI) -> Probe:
    """A readiness probe that fails while any of the service's consumers is not consuming.

    Args:
        app: The service's app (built by ``create_service_app``, with a broker).

    Returns:
        The probe: it raises, naming them, when subscribers are not running (the broker is not
        connected yet, or they stopped) or their fetches keep failing (e.g. the JetStream
        consumer or stream was deleted).
    """

    messaging = service_state(app).messaging

    async def probe() -> None:
        if messaging.broker is not None and (problems := consumer_problems(messaging.broker)):
            raise ProbeFailedError("; ".join(problems))

    return probe


async def start_messaging(app: FastAPI) -> None:
    """Connect the broker and start the relay in the background.

    Start-up never waits for the broker: while it is unreachable, events wait in the outbox and
    readiness reports the broker as degraded.

    Args:
        app: The service's app (built by ``create_service_app``).
    """
    state = service_state(app)
    if state.messaging.broker is None:
        if state.messaging.outbox_model is not None:
            logger.warning("no AGORA_BROKER_URL: events stay in the outbox until one is set")
        return
    state.messaging.task = asyncio.create_task(_connect_then_relay(state, state.messaging.broker))


async def stop_messaging(app: FastAPI) -> None:
    """Stop the relay (it finishes its batch) and disconnect the broker.

    Args:
        app: The service's app.
    """
    messaging = service_state(app).messaging
    task = messaging.task
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if messaging.relay is not None:
        await messaging.relay.stop()
        messaging.relay = None
    if messaging.broker is not None:
        await messaging.broker.stop()
