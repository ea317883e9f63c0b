"""``/api/v1/admin/dead-letters``: inspect, replay and purge a service's dead letters (admin only).

Every service that consumes events includes :data:`router`; it works on the consumer the service
keeps in ``ServiceState.consumer`` (an :class:`EventConsumer`, which knows the dead-letter table and
the handlers). The routes only translate HTTP: :class:`DeadLetterService` does the work (replays
run the event through its handler again, the inbox keeps an event that was in fact applied from
being applied twice) and audits each replay and purge with the acting admin in the service's
``audit_log``. ``agora dlq`` is a client of these endpoints.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, computed_field

from agora_chassis.auth import require_roles
from agora_chassis.messaging.admin_deps import DeadLetters
from agora_chassis.messaging.deadletter_service import State
from agora_chassis.messaging.deadletters import DeadLetterMixin
from agora_chassis.openapi import problem_responses
from agora_chassis.pagination import Page, Pagination

ADMIN_ROLE = "admin"
DEFAULT_REPLAY_BATCH = 10
MAX_REPLAY_BATCH = 100

router = APIRouter(
    prefix="/api/v1/admin/dead-letters",
    tags=["dead letters"],
    dependencies=[Depends(require_roles(ADMIN_ROLE))],
    # 503 also when the service has no consumer: see get_consumer.
    responses=problem_responses(
        status.HTTP_401_UNAUTHORIZED,
        status.HTTP_403_FORBIDDEN,
        status.HTTP_503_SERVICE_UNAVAILABLE,
    ),
)


class DeadLetterSummary(BaseModel):
    """A dead letter in a list.

    Attributes:
        id: The dead letter's id.
        event_id: The event's id (``None`` when the message could not be decoded).
        event_type: The event's type (``None`` when the message could not be decoded).
        error: The last error, one line.
        attempts: How many times the handler ran (0: the message could not be decoded).
        first_failed_at: When the first try failed.
        last_failed_at: When the last try failed.
        replayed_at: When a replay applied it; ``None`` while pending.
        state: ``pending`` or ``replayed``.
    """

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_id: str | None
    event_type: str | None
    error: str
    attempts: int
    first_failed_at: dt.datetime
    last_failed_at: dt.datetime
    replayed_at: dt.datetime | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def state(self) -> Literal["pending", "replayed"]:
        """``pending`` until a replay applied the event, then ``replayed``."""
        return "pending" if self.replayed_at is None else "replayed"


class DeadLetterDetail(DeadLetterSummary):
    """One dead letter with everything kept about it.

    Attributes:
        envelope: The decoded CloudEvent, when there was one.
        raw_base64: The undecodable message body, base64-encoded, when there was no envelope.
        stack: The traceback of the last failure.
    """

    envelope: dict[str, Any] | None
    raw_base64: str | None = None
    stack: str | None


class ReplayReport(BaseModel):
    """What a bulk replay did.

    Attributes:
        attempted: Dead letters replayed in this call.
        replayed: Ids now applied.
        failed: Ids that failed again (still pending, error updated).
        next_after: Pass as ``after`` to continue with the next batch; ``None`` when done.
    """

    attempted: int
    replayed: list[uuid.UUID] = Field(default_factory=list)
    failed: list[uuid.UUID] = Field(default_factory=list)
    next_after: uuid.UUID | None = None


def _detail(letter: DeadLetterMixin) -> DeadLetterDetail:
    detail = DeadLetterDetail.model_validate(letter)
    if letter.raw is not None:
        detail.raw_base64 = base64.b64encode(letter.raw).decode()
    return detail


@router.get("", response_model=Page[DeadLetterSummary])
async def list_dead_letters(
    letters: DeadLetters,
    page: Pagination,
    state: Annotated[State, Query(description="pending, replayed or all")] = "pending",
) -> Page[DeadLetterSummary]:
    """List dead letters, oldest first (pending ones by default)."""
    rows, total = await letters.page(state, offset=page.offset, limit=page.per_page)
    items = [DeadLetterSummary.model_validate(row) for row in rows]
    return Page[DeadLetterSummary].of(items, total, page)


@router.get(
    "/{dead_letter_id}",
    response_model=DeadLetterDetail,
    responses=problem_responses(status.HTTP_404_NOT_FOUND),
)
async def show_dead_letter(dead_letter_id: uuid.UUID, letters: DeadLetters) -> DeadLetterDetail:
    """One dead letter: envelope (or raw body), error, stack, attempts and times."""
    return _detail(await letters.get(dead_letter_id))


@router.post(
    "/{dead_letter_id}/replay",
    response_model=DeadLetterDetail,
    responses=problem_responses(status.HTTP_404_NOT_FOUND, status.HTTP_409_CONFLICT),
)
async def replay_dead_letter(dead_letter_id: uuid.UUID, letters: DeadLetters) -> DeadLetterDetail:
    """Run the event through its handler again; 409 (with the error) when it fails again."""
    return _detail(await letters.replay(dead_letter_id))


@router.post("/replay", response_model=ReplayReport)
async def replay_pending(
    letters: DeadLetters,
    after: Annotated[uuid.UUID | None, Query(description="continue after this id")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_REPLAY_BATCH)] = DEFAULT_REPLAY_BATCH,
) -> ReplayReport:
    """Replay up to ``limit`` pending dead letters in id order, starting after ``after``."""
    batch = await letters.replay_pending(after=after, limit=limit)
    full = len(batch.attempted) == limit
    return ReplayReport(
        attempted=len(batch.attempted),
        replayed=batch.replayed,
        failed=batch.failed,
        next_after=batch.attempted[-1] if full else None,
    )


@router.delete(
    "/{dead_letter_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(status.HTTP_404_NOT_FOUND),
)
async def purge_dead_letter(dead_letter_id: uuid.UUID, letters: DeadLetters) -> Response:
    """Delete a dead letter for good (its event is not applied)."""
    await letters.purge(dead_letter_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
