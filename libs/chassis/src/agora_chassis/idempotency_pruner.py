"""Expired ``Idempotency-Key`` records are deleted now and then, by every service that keeps them.

Ordering requires a key on every order, so its ``idempotency_records`` table gains a row per
order; a record is useless once its ``expires_at`` passed (ADR 0021: it is ignored and
overwritten), so each replica deletes the expired ones every ``AGORA_IDEMPOTENCY_PRUNE_SECONDS``
(an hour). Replicas may prune at the same moment: a DELETE of rows another one deletes waits for
it and then finds them gone, so nothing is deleted twice or in error. A failed prune (the database
restarting) is logged and tried again at the next tick: the table only grows a little meanwhile.

Wired by :func:`agora_chassis.app.create_service_app` when a service passes its model
(``idempotency=IdempotencyRecord``); services never start it themselves.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora_chassis.idempotency import IdempotencyRecordMixin, prune_expired

logger = logging.getLogger(__name__)


class IdempotencyPruner:
    """Deletes a service's expired idempotency records every ``every`` seconds.

    Args:
        sessionmaker: Opens the prune's transaction.
        model: The service's idempotency model.
        every: Seconds between two prunes (the first runs one interval after the start).
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        model: type[IdempotencyRecordMixin],
        every: float,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.model = model
        self.every = every
        self._task: asyncio.Task[None] | None = None

    async def prune_once(self) -> int:
        """Delete the expired records now; returns how many went."""
        async with self.sessionmaker.begin() as session:
            return await prune_expired(session, self.model)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                deleted = await self.prune_once()
            except Exception:  # the database may be restarting: try again at the next tick
                logger.exception("idempotency records: the prune failed; trying again later")
                continue
            if deleted:
                logger.info("idempotency records: %d expired ones deleted", deleted)

    def start(self) -> None:
        """Prune in the background until :meth:`stop`."""
        self._task = asyncio.create_task(self._loop(), name="idempotency-pruner")

    async def stop(self) -> None:
        """Stop pruning (a prune in progress is cancelled; its transaction rolls back)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
