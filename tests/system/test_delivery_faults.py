"""Fault tests through ``agora``: every registered user gets exactly one welcome e-mail.

The path under test: identity writes ``user.registered`` to its outbox in the registration
transaction, its relay publishes it to NATS JetStream, notification consumes it (the inbox drops
duplicates) and sends the welcome mail to the stack's SMTP sink. Each scenario breaks one link
while 100 users register, mends it, and then asserts 100 mails to 100 distinct addresses, none
twice, once the system is quiet (outbox empty, every stream message acknowledged).

One private stack serves the three scenarios (a boot costs tens of seconds); each uses its own
addresses, and starts with ``agora up`` so a failed scenario does not break the next.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import nats
import pytest
from nats.aio.msg import Msg

from agora_cli.infra.process import read_process
from tests.system.delivery import (
    addresses,
    assert_each_welcomed_once,
    outbox_pending,
    published_by_identity,
    register_all,
    stream_last_seq,
    welcome_counts,
)
from tests.system.stack import AGORA, AgoraRun, private_stack

pytestmark = pytest.mark.system

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)  # what each scenario measured: see it with --log-cli-level=INFO

USERS = 100
BROKER_DOWN_AFTER = 30
KILL_ATTEMPTS = 3
KILL_WATCH_SECONDS = 120.0
KILL_AFTER = 10
KILL_WINDOW = 4
"""Identity's relay window while it is killed: with the default 64 in flight the first 64 events
leave at once and the batch of 100 events often ends before the kill lands; 4 keeps it going long
enough to be killed in the middle (what is checked, nothing of a killed batch committed, holds for
any window)."""
STREAM_SUBJECTS = "agora.user.>"
SETTLE_SECONDS = 0.5


def ok(agora: AgoraRun, *args: str) -> bool:
    """Run ``agora ARGS`` and tell whether it succeeded; what it said goes to the test log."""
    start = time.monotonic()
    result = agora(*args)
    logger.info(
        "$ agora %s -> %d in %.1fs\n%s",
        *(" ".join(args), result.returncode, time.monotonic() - start, result.stdout),
    )
    return result.returncode == 0


@pytest.fixture(scope="module")
def stack() -> Iterator[AgoraRun]:
    """One private stack for the module; 300+ registrations in minutes: lift the API rate limit
    and the per-address registration limit (every registration comes from this one address)."""
    limits = {"AGORA_RATE_LIMIT": "100000/minute", "AGORA_REGISTRATION_RATE_LIMIT": "100000/minute"}
    with private_stack(limits) as run:
        yield run


@pytest.fixture
def agora(stack: AgoraRun) -> AgoraRun:
    """The module's stack with every component running (``up`` starts what a scenario left off)."""
    up = stack("up", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    return stack


async def test_notification_down_while_users_register(agora: AgoraRun) -> None:
    emails = addresses("consumer-down", USERS)
    assert ok(agora, "stop", "notification")

    registering = await register_all(agora, emails)
    relayed = await _wait_for(lambda: _outbox_empty(agora), "the relay to empty the outbox")
    held_back = welcome_counts(agora, emails)
    assert ok(agora, "start", "notification")
    delivery = await assert_each_welcomed_once(agora, emails)

    logger.info(
        "registered in %.1fs, outbox empty %.1fs later; all welcomed %.1fs after the restart",
        *(registering, relayed, delivery.seconds),
    )
    assert not held_back, "mail was sent while the notification service was stopped"


async def test_broker_down_while_users_register(agora: AgoraRun) -> None:
    emails = addresses("broker-down", USERS)
    state: dict[str, bool] = {}

    async def stop_broker() -> None:
        state["stopped"] = await asyncio.to_thread(ok, agora, "stop", "nats")

    registering = await register_all(agora, emails, after=BROKER_DOWN_AFTER, action=stop_broker)
    waiting = await outbox_pending(agora)
    assert ok(agora, "start", "nats")
    delivery = await assert_each_welcomed_once(agora, emails)

    logger.info(
        "registered in %.1fs, %d events waited in the outbox; all welcomed %.1fs after the start",
        *(registering, waiting, delivery.seconds),
    )
    assert state["stopped"]
    # Stopped after 30 of 100: the rest registered without the broker, their events waited.
    assert waiting > 0


async def test_identity_killed_mid_batch(agora: AgoraRun) -> None:
    for attempt in range(1, KILL_ATTEMPTS + 1):
        emails = addresses(f"relay-kill{attempt}", USERS)
        kill = await _kill_relay_during_its_batch(agora, emails)
        await assert_each_welcomed_once(agora, emails)
        stored_after = stream_last_seq(agora) - kill.base - kill.published
        republished = published_by_identity(agora)
        logger.info(
            "attempt %d: identity killed after publishing %d of %d; after its restart the relay "
            "published %d, of which JetStream stored %d (the rest dropped by Nats-Msg-Id)",
            *(attempt, kill.published, USERS, republished, stored_after),
        )
        if 0 < kill.published < USERS:
            # Nothing of the killed batch was committed: the new relay (a fresh process, so its
            # counter starts at 0) published all of it again. JetStream dropped the copies it
            # already had by message id; the consumers' inboxes would have dropped the rest.
            assert republished == USERS
            assert stored_after == USERS - kill.published
            return
        assert _up_again(agora)
    pytest.fail(f"the kill never landed mid-batch in {KILL_ATTEMPTS} attempts")


def _up_again(agora: AgoraRun) -> bool:
    """Bring every component back before the next attempt."""
    return ok(agora, "up", "--detach")


@dataclass(frozen=True)
class Kill:
    """Where a relay kill landed: the stream's sequence before, and what the relay got out."""

    base: int
    published: int


async def _kill_relay_during_its_batch(agora: AgoraRun, emails: list[str]) -> Kill:
    """Pile ``emails``' events up in the outbox, start identity, SIGKILL it mid-publication.

    The broker is stopped while the users register, so all 100 events wait in the outbox. Identity
    is stopped too (dropping its client's buffered publishes), the broker started, and identity
    started again: its relay takes the 100 rows in one batch, a single transaction committed after
    the last confirmation. The process is killed a few messages into that batch, then started
    again.
    """
    assert ok(agora, "stop", "nats")
    await register_all(agora, emails)
    assert await outbox_pending(agora) >= len(emails)
    assert ok(agora, "stop", "identity")
    assert ok(agora, "start", "nats")
    base = stream_last_seq(agora)
    await _start_identity_and_kill_it(agora)
    published = _settled_last_seq(agora) - base
    assert ok(agora, "start", "identity")
    return Kill(base, published)


async def _start_identity_and_kill_it(agora: AgoraRun) -> None:
    """Run ``agora start identity``; SIGKILL identity at its relay's ``KILL_AFTER``-th event.

    A plain NATS subscription on the events' subjects sees each message as the server takes it,
    so the kill lands a few publishes later, well inside the 100-row batch.
    """
    client = await nats.connect(f"nats://127.0.0.1:{agora.port('AGORA_NATS_PORT')}")
    seen, killed = 0, asyncio.Event()

    async def on_event(_message: Msg) -> None:
        nonlocal seen
        seen += 1
        if seen == KILL_AFTER:
            process = read_process(agora.data_dir / "run" / "identity.pid")
            if process is not None:
                os.kill(process.pid, signal.SIGKILL)
            killed.set()

    await client.subscribe(STREAM_SUBJECTS, cb=on_event)
    starting = await asyncio.create_subprocess_exec(
        *(*AGORA, "start", "identity", "--data-dir", str(agora.data_dir)),
        env=agora.env | {"AGORA_RELAY_MAX_IN_FLIGHT": str(KILL_WINDOW)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(KILL_WATCH_SECONDS):
            await killed.wait()
    except TimeoutError:
        pytest.fail(f"the relay published under {KILL_AFTER} events in {KILL_WATCH_SECONDS:.0f}s")
    finally:
        output, _ = await starting.communicate()
        await client.close()
        logger.info(
            "$ agora start identity (killed) -> %s\n%s", starting.returncode, output.decode()
        )


def _settled_last_seq(agora: AgoraRun) -> int:
    """The stream's last sequence once it stopped moving (publishes in flight have landed)."""
    last = stream_last_seq(agora)
    stable_since = time.monotonic()
    while time.monotonic() - stable_since < SETTLE_SECONDS:
        time.sleep(0.05)
        current = stream_last_seq(agora)
        if current != last:
            last, stable_since = current, time.monotonic()
    return last


async def _outbox_empty(agora: AgoraRun) -> bool:
    return await outbox_pending(agora) == 0


async def _wait_for(
    condition: Callable[[], Awaitable[bool]], what: str, deadline: float = 60.0
) -> float:
    """Poll ``condition`` until true; fail naming ``what`` after ``deadline`` seconds."""
    start = time.monotonic()
    while not await condition():
        assert time.monotonic() - start < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.25)
    return time.monotonic() - start
