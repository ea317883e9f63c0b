"""Consumer loops: a pause between failing fetches, and their state for readiness.

FastStream (0.7) runs a NATS JetStream pull subscriber as an endless loop around its
subscription's ``fetch`` (nats-py's public method). It swallows ``TimeoutError``,
``ConnectionClosedError`` and ``ServiceUnavailableError`` and fetches again at once, and its task
supervisor restarts the loop at once when anything else escapes. nats-py also answers
``TimeoutError`` *immediately* when nobody serves the pull request (the durable consumer or its
stream was deleted: "no responders"), so a deleted consumer turned into over a thousand fetches
a second, forever, with nothing in the logs or in readiness.

FastStream has no public hook around the fetch, so :func:`supervise_consumers` (called once the
broker started) wraps each pull subscription's ``fetch`` -- the one place that knows it. A fetch
that raises anything but an idle timeout, or that "times out" well before its timeout, is a
failure: the next fetch waits :data:`FIRST_PAUSE_SECONDS`, doubling up to
:data:`MAX_PAUSE_SECONDS`; a fetch that answers (or idles out) resets the count. The guard tests
in ``libs/chassis/tests/test_framework_internals.py`` and the behavioural ones in
``messaging/test_supervision_consumers.py`` fail if FastStream stops calling
``subscription.fetch`` every turn; the faststream dependency is capped below 0.8.

:func:`consumer_problems` is what readiness reports (check ``consumers``, non-critical): every
subscriber that is not running, and every loop with :data:`FAILING_AFTER` failed fetches in a row,
by name. RabbitMQ subscribers have no such loop: aio-pika pushes messages and its robust connection
restores channel and consumers after a reconnect, pacing itself.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from faststream.nats import NatsBroker

from agora_chassis.messaging.broker import Broker

logger = logging.getLogger(__name__)

FIRST_PAUSE_SECONDS = 0.5
MAX_PAUSE_SECONDS = 30.0
FAILING_AFTER = 3
"""Failed fetches in a row after which readiness names the consumer (one is a blip)."""
EARLY_TIMEOUT_FRACTION = 0.5
"""An idle fetch waits its whole timeout; one that "times out" before half of it was refused."""
DEFAULT_FETCH_TIMEOUT_SECONDS = 5.0


@dataclass
class LoopState:
    """How a consumer loop's fetches are going.

    Attributes:
        failures: Failed fetches in a row (0: the last one worked or was idle).
        last_error: What the last failed fetch raised.
    """

    failures: int = 0
    last_error: str | None = None

    @property
    def pause(self) -> float:
        """Seconds to wait before the next fetch."""
        if not self.failures:
            return 0.0
        return float(min(FIRST_PAUSE_SECONDS * 2 ** (self.failures - 1), MAX_PAUSE_SECONDS))


# Per live subscriber (weak keys: a stopped broker's subscribers go with it).
_states: weakref.WeakKeyDictionary[Any, LoopState] = weakref.WeakKeyDictionary()


def _failed(state: LoopState, name: str, error: BaseException) -> None:
    state.failures += 1
    state.last_error = f"{type(error).__name__}: {error}".rstrip(": ")
    if state.failures == FAILING_AFTER:
        logger.error("consumer %s: %d fetches failed in a row (%s)", name, FAILING_AFTER, error)


def _recovered(state: LoopState, name: str) -> None:
    if state.failures >= FAILING_AFTER:
        logger.info("consumer %s fetches again", name)
    state.failures, state.last_error = 0, None


def _paced(
    fetch: Callable[..., Awaitable[Any]], state: LoopState, name: str
) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(fetch)
    async def paced_fetch(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(state.pause)
        timeout = kwargs.get("timeout") or DEFAULT_FETCH_TIMEOUT_SECONDS
        started = time.monotonic()
        try:
            messages = await fetch(*args, **kwargs)
        except TimeoutError as exc:  # nats-py's own and asyncio's (the same builtin base)
            if time.monotonic() - started < timeout * EARLY_TIMEOUT_FRACTION:
                _failed(state, name, exc)  # nobody served the request: consumer or stream gone
            else:
                _recovered(state, name)  # idle: nothing to fetch
            raise
        except Exception as exc:
            _failed(state, name, exc)
            raise
        _recovered(state, name)
        return messages

    return paced_fetch


def subscriber_name(subscriber: Any) -> str:
    """The name readiness and the logs give a subscriber (its AsyncAPI channel name)."""
    return str(subscriber.specification.name)


def supervise_consumers(broker: Broker) -> None:
    """Pace the fetch loop of every started NATS pull subscriber (see the module doc).

    Call after ``broker.start()``; calling again is harmless. A started pull subscriber without
    ``subscription.fetch`` (FastStream changed) is logged as an error and left unpaced.

    Args:
        broker: A started broker; only NATS brokers have loops to pace.
    """
    if not isinstance(broker, NatsBroker):
        return
    for subscriber in broker.subscribers:
        if not hasattr(subscriber, "pull_sub") or not subscriber.running:
            continue  # not a pull subscriber, or not started (nothing to wrap yet)
        name, subscription = subscriber_name(subscriber), getattr(subscriber, "subscription", None)
        fetch = getattr(subscription, "fetch", None)
        if fetch is None:  # never stop the relay's start-up for this; the guard test fails first
            logger.error("cannot pace %s: FastStream's pull subscriber changed", name)
            continue
        if not hasattr(fetch, "__wrapped__"):  # a restarted subscriber has a new subscription
            state = _states.setdefault(subscriber, LoopState())
            subscription.fetch = _paced(fetch, state, name)  # type: ignore[union-attr]


def consumer_problems(broker: Broker) -> list[str]:
    """What is wrong with the broker's consumers, one line per consumer (empty: all well).

    Args:
        broker: The service's broker.

    Returns:
        Subscribers that are not running, and loops whose fetches keep failing.
    """
    problems = []
    for subscriber in broker.subscribers:
        name = subscriber_name(subscriber)
        state = _states.get(subscriber)
        if not subscriber.running:
            problems.append(f"{name} is not running")
        elif state is not None and state.failures >= FAILING_AFTER:
            problems.append(
                f"{name}: {state.failures} fetches failed in a row ({state.last_error})"
            )
    return problems
