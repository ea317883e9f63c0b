"""The durable deadline scheduler: cancels orders whose saga step timed out.

Deadlines live in the ``orders`` table (``deadline_at``), written with each transition, so they
survive restarts and need no timer state in the process. Every replica runs this loop: each look
takes the due rows with ``FOR UPDATE SKIP LOCKED`` in one transaction, so two replicas never fire
the same order, and a replica killed mid-way releases its rows with its transaction for the next
look of any replica. A fired deadline that the order has left behind in the meantime (a reply
won the race) is a no-op in the domain (``on_deadline``).

Between looks the loop sleeps until the earliest deadline, but at most ``poll`` seconds, so a new
order's 30-second deadline placed by another replica is seen within ``poll`` of falling due.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable

from agora_chassis.db import Session, SessionFactory, utcnow
from agora_ordering.services.saga import SagaService

logger = logging.getLogger(__name__)

ERROR_BACKOFF_SECONDS = 5.0
STOP_GRACE_SECONDS = 5.0
MIN_SLEEP_SECONDS = 0.05
"""A due deadline another replica holds is still due after a look: wait a little, do not spin."""


class DeadlineScheduler:
    """Fires due deadlines, forever, until stopped.

    Args:
        sessionmaker: Opens one transaction per look.
        saga: Builds the saga service of a transaction (from the wiring).
        poll: Longest sleep between two looks, in seconds.
        batch: Most deadlines one transaction fires.
    """

    def __init__(
        self,
        sessionmaker: SessionFactory,
        saga: Callable[[Session], SagaService],
        *,
        poll: float,
        batch: int,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.saga = saga
        self.poll = poll
        self.batch = batch
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False

    async def run_once(self) -> int:
        """Fire what is due now, in batches; returns how many orders were looked at."""
        fired, _earliest = await self._look()
        return fired

    async def _look(self) -> tuple[int, dt.datetime | None]:
        """Fire what is due, then read the earliest deadline left in the last batch's
        transaction (one transaction a look, not a second one to plan the sleep)."""
        fired = 0
        while True:
            async with self.sessionmaker() as session, session.begin():
                saga = self.saga(session)
                looked = await saga.fire_due(self.batch)
                earliest = await saga.next_deadline() if looked < self.batch else None
            fired += looked
            if looked < self.batch:
                return fired, earliest

    def _sleep_seconds(self, earliest: dt.datetime | None) -> float:
        if earliest is None:
            return self.poll
        return min(self.poll, max((earliest - utcnow()).total_seconds(), MIN_SLEEP_SECONDS))

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()  # a wake during the look below ends the wait after it at once
            try:
                _fired, earliest = await self._look()
                delay = self._sleep_seconds(earliest)
            except Exception:  # the database may be restarting: log, wait, look again
                logger.exception("deadline scheduler: a look failed; trying again")
                delay = ERROR_BACKOFF_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    def start(self) -> None:
        """Start the loop in the background."""
        self._task = asyncio.create_task(self._loop(), name="deadline-scheduler")

    def wake(self) -> None:
        """Look now instead of at the end of the current sleep (tests, shutdown)."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop the loop: a look in progress may finish (a few seconds at most), then it ends.

        Cancelling a look in the middle of connecting to PostgreSQL leaves the driver's future
        unretrieved (an ERROR in the log at every shutdown right after a start); a look that
        overruns the grace is cancelled all the same, and its transaction rolls back.
        """
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=STOP_GRACE_SECONDS)
        except TimeoutError:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
