"""System test: the broker-scheduled retries bridge a mail outage far longer than the old 1.5 s.

The notification consumer's retries wait ``AGORA_CONSUMER_RETRY_BASE_SECONDS`` (jittered ±20 %),
then four times as long. This stack uses 10 s, so a message's third try comes 40 to 60 s after its
first: the 20 s outage below (plus the time to register and to start the sink again) ends well
inside that window. The production default, 30 s, gives the same shape over 2 to 3 minutes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest

from tests.system.delivery import (
    addresses,
    assert_each_welcomed_once,
    dead_letters,
    register_all,
    welcome_counts,
)
from tests.system.stack import AgoraRun, private_stack

pytestmark = pytest.mark.system

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

USERS = 5
OUTAGE_SECONDS = 20.0
RETRY_BASE_SECONDS = 10


@pytest.fixture
def agora() -> Iterator[AgoraRun]:
    """A private stack whose consumers retry after 10 s, then 40 s."""
    with private_stack({"AGORA_CONSUMER_RETRY_BASE_SECONDS": str(RETRY_BASE_SECONDS)}) as run:
        up = run("up", "--detach")
        assert up.returncode == 0, up.stdout + up.stderr
        yield run


async def test_mail_sink_down_for_twenty_seconds_every_welcome_arrives_once(
    agora: AgoraRun,
) -> None:
    emails = addresses("mail-outage", USERS)
    stop = agora("stop", "mail")
    assert stop.returncode == 0, stop.stdout + stop.stderr
    started = time.monotonic()

    await register_all(agora, emails)
    await asyncio.sleep(OUTAGE_SECONDS)
    start = agora("start", "mail")
    assert start.returncode == 0, start.stdout + start.stderr
    outage = time.monotonic() - started
    held_back = welcome_counts(agora, emails)  # a restarted sink keeps its mailbox
    delivery = await assert_each_welcomed_once(agora, emails)

    logger.info("mail down %.1fs; every welcome arrived %.1fs later", outage, delivery.seconds)
    assert outage >= OUTAGE_SECONDS
    assert not held_back
    assert await dead_letters(agora) == []
