"""Operator pages (admin role): dead letters of every consuming service; replay or purge them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from agora_storefront.api.deps import Csrf, Operator, storefront
from agora_storefront.api.pages import redirect, render
from agora_storefront.services.dead_letters import (
    LETTERS_PER_SERVICE,
    Consumer,
    DeadLetterDesk,
    LetterState,
)

router = APIRouter(prefix="/admin/dead-letters", include_in_schema=False)

OUTCOMES = {
    "applied": ("ok", "Replayed: the event was applied this time."),
    "failed": ("error", "The replay failed again; the letter stays pending with the new error."),
}
CONFIRM = "yes"


def desk(request: Request) -> DeadLetterDesk:
    """The consuming services' dead-letter admin calls."""
    return DeadLetterDesk(storefront(request).backends)


@router.get("")
async def dead_letters(
    request: Request,
    visitor: Operator,
    state: LetterState = "pending",
    purged: Annotated[str, Query(max_length=36)] = "",
) -> Response:
    """Dead letters across the services, newest failure first."""
    letters = await desk(request).letters(state, visitor.caller)
    context = {
        "title": "Dead letters — Operations — Agora",
        "section": "dead-letters",
        "state": state,
        "letters": letters,
        "purged": purged,
        "per_service": LETTERS_PER_SERVICE,
    }
    return await render(request, "admin/dead_letters.html", context)


@router.get("/{service}/{letter_id}")
async def dead_letter(
    request: Request,
    service: Consumer,
    letter_id: uuid.UUID,
    visitor: Operator,
    outcome: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    """One dead letter: its event (payload), the error and its traceback; replay or purge it."""
    letter = await desk(request).letter(service, letter_id, visitor.caller)
    context = {
        "title": "Dead letter — Operations — Agora",
        "section": "dead-letters",
        "service": service,
        "letter": letter,
        "outcome": OUTCOMES.get(outcome),
    }
    return await render(request, "admin/dead_letter.html", context)


@router.post("/{service}/{letter_id}/replay", dependencies=[Csrf])
async def replay(
    request: Request, service: Consumer, letter_id: uuid.UUID, visitor: Operator
) -> Response:
    """Run the event through its handler again; the letter's page says how it went."""
    done = await desk(request).replay(service, letter_id, visitor.caller)
    outcome = "applied" if done.applied else "failed"
    return redirect(request, f"/admin/dead-letters/{service}/{letter_id}?outcome={outcome}")


@router.get("/{service}/{letter_id}/purge")
async def purge_page(
    request: Request, service: Consumer, letter_id: uuid.UUID, visitor: Operator
) -> Response:
    """The confirmation step before a purge: what will be lost."""
    letter = await desk(request).letter(service, letter_id, visitor.caller)
    context = {
        "title": "Purge a dead letter — Operations — Agora",
        "section": "dead-letters",
        "service": service,
        "letter": letter,
        "error": "",
    }
    return await render(request, "admin/purge.html", context)


@router.post("/{service}/{letter_id}/purge", dependencies=[Csrf])
async def purge(
    request: Request,
    service: Consumer,
    letter_id: uuid.UUID,
    visitor: Operator,
    confirm: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """Delete the letter for good, once the operator ticked the confirmation."""
    if confirm != CONFIRM:
        letter = await desk(request).letter(service, letter_id, visitor.caller)
        context = {
            "title": "Purge a dead letter — Operations — Agora",
            "section": "dead-letters",
            "service": service,
            "letter": letter,
            "error": "Tick the box to confirm: a purged event is never applied.",
        }
        return await render(request, "admin/purge.html", context, status=400)
    await desk(request).purge(service, letter_id, visitor.caller)
    return redirect(request, f"/admin/dead-letters?purged={letter_id}")
