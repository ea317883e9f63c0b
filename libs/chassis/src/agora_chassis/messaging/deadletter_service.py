"""Dead-letter use cases for operators: inspect, replay and purge, each replay and purge audited.

Replays run the event through its handler again in the consumer's own transactions (the inbox
keeps an event that was in fact applied from being applied twice); the audit entry is written in
the request's transaction, which is committed even when the replay fails again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from agora_chassis.audit import Auditor
from agora_chassis.errors import Conflict, NotFound
from agora_chassis.messaging.consumer import EventConsumer, UndecodableMessage
from agora_chassis.messaging.deadletter_repository import DeadLetterRepository, State
from agora_chassis.messaging.deadletters import DeadLetterMixin

REPLAYED = "dead_letter_replayed"
PURGED = "dead_letter_purged"

__all__ = [
    "PURGED",
    "REPLAYED",
    "BatchReplay",
    "DeadLetterNotFound",
    "DeadLetterService",
    "ReplayRefused",
    "State",
]


class DeadLetterNotFound(NotFound):
    """No dead letter has this id (or it was purged meanwhile)."""


class ReplayRefused(Conflict):
    """The replay did not apply the event; the audit entry of the attempt is kept."""

    commit_changes = True


@dataclass
class BatchReplay:
    """What a bulk replay did.

    Attributes:
        attempted: The ids replayed in this call.
        replayed: Ids now applied.
        failed: Ids that failed again (still pending, error updated).
    """

    attempted: list[uuid.UUID]
    replayed: list[uuid.UUID] = field(default_factory=list)
    failed: list[uuid.UUID] = field(default_factory=list)


class DeadLetterService:
    """One service's dead letters, for one request."""

    def __init__(
        self,
        letters: DeadLetterRepository,
        consumer: EventConsumer,
        auditor: Auditor,
    ) -> None:
        """Read ``letters``, replay through ``consumer``, record replays and purges."""
        self.letters = letters
        self.consumer = consumer
        self.auditor = auditor

    async def page(
        self, state: State, *, offset: int, limit: int
    ) -> tuple[list[DeadLetterMixin], int]:
        """One page of dead letters in ``state``, oldest first, and their total count."""
        return await self.letters.page(state, offset=offset, limit=limit)

    async def get(self, dead_letter_id: uuid.UUID) -> DeadLetterMixin:
        """One dead letter.

        Raises:
            DeadLetterNotFound: No such dead letter.
        """
        letter = await self.letters.get(dead_letter_id)
        if letter is None:
            raise DeadLetterNotFound(f"no dead letter {dead_letter_id}")
        return letter

    async def replay(self, dead_letter_id: uuid.UUID) -> DeadLetterMixin:
        """Run one dead letter's event through its handler again.

        Returns:
            The dead letter, now applied.

        Raises:
            DeadLetterNotFound: No such dead letter.
            ReplayRefused: It cannot be decoded, or the event failed again (the error and the
                attempts are in the problem).
        """
        try:
            applied = await self.consumer.replay(dead_letter_id)
        except LookupError as exc:
            raise DeadLetterNotFound(str(exc)) from exc
        except UndecodableMessage as exc:
            await self._audit_replay(dead_letter_id, applied=False)
            raise ReplayRefused(f"cannot be replayed: {exc}") from exc
        await self._audit_replay(dead_letter_id, applied=applied)
        letter = await self.letters.get(dead_letter_id, fresh=True)
        if letter is None:  # purged concurrently
            raise DeadLetterNotFound(f"no dead letter {dead_letter_id}")
        if not applied:
            raise ReplayRefused(
                f"the event failed again: {letter.error}", extra={"attempts": letter.attempts}
            )
        return letter

    async def replay_pending(self, *, after: uuid.UUID | None, limit: int) -> BatchReplay:
        """Replay up to ``limit`` pending dead letters in id order, starting after ``after``."""
        batch = BatchReplay(attempted=await self.letters.pending_ids(after=after, limit=limit))
        for letter_id in batch.attempted:
            try:
                applied = await self.consumer.replay(letter_id)
            except (LookupError, UndecodableMessage):
                applied = False
            await self._audit_replay(letter_id, applied=applied)
            (batch.replayed if applied else batch.failed).append(letter_id)
        return batch

    async def purge(self, dead_letter_id: uuid.UUID) -> None:
        """Delete a dead letter for good (its event is not applied).

        Raises:
            DeadLetterNotFound: No such dead letter.
        """
        letter = await self.get(dead_letter_id)
        await self.letters.delete(letter)
        await self.auditor.record(
            PURGED,
            dead_letter_id=str(dead_letter_id),
            event_id=letter.event_id,
            event_type=letter.event_type,
        )

    async def _audit_replay(self, dead_letter_id: uuid.UUID, *, applied: bool) -> None:
        await self.auditor.record(REPLAYED, dead_letter_id=str(dead_letter_id), applied=applied)
