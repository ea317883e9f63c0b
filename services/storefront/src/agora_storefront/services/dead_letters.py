"""Dead letters of every service that consumes events, through each one's own admin API.

Each consuming service keeps its dead letters in its own database and serves them under
``/api/v1/admin/dead-letters`` (the chassis's router). The list asks them all concurrently; one
that does not answer is named on the page rather than hiding everyone else's letters.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

from agora_chassis.errors import DependencyUnavailable
from agora_storefront.services.backends import Backend, Backends, Caller, Refused

Consumer = Literal["notification", "catalog", "basket", "ordering", "payment"]
CONSUMERS: tuple[Consumer, ...] = ("notification", "catalog", "basket", "ordering", "payment")
LetterState = Literal["pending", "replayed", "all"]
PATH = "/api/v1/admin/dead-letters"
LETTERS_PER_SERVICE = 100
REPLAY_DEADLINE_SECONDS = 10.0
"""A replay runs the event's handler (a mail sent, a row written): longer than a read."""


@dataclass(frozen=True)
class Letters:
    """Dead letters across the services, newest failure first.

    Attributes:
        rows: Each letter with its ``service``.
        totals: How many each service holds in the asked state (more than listed when above
            ``LETTERS_PER_SERVICE``).
        unreachable: Services that did not answer.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    unreachable: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Replay:
    """A replay's outcome: the letter after it, and whether its event was applied this time."""

    letter: dict[str, Any]
    applied: bool


def merged(pages: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The letters of every service's page, each tagged with its service, newest failure first."""
    rows = [{**row, "service": name} for name, page in pages.items() for row in page["data"]]
    return sorted(rows, key=lambda row: str(row["last_failed_at"]), reverse=True)


class DeadLetterDesk:
    """List, inspect, replay and purge dead letters with the operator's token."""

    def __init__(self, backends: Backends) -> None:
        self.services: dict[str, Backend] = {name: getattr(backends, name) for name in CONSUMERS}

    async def _page(self, name: str, state: LetterState, caller: Caller) -> dict[str, Any]:
        params = {"state": state, "per_page": LETTERS_PER_SERVICE}
        page: dict[str, Any] = await self.services[name].json("GET", PATH, caller, params=params)
        return page

    async def letters(self, state: LetterState, caller: Caller) -> Letters:
        """Every service's dead letters in ``state``."""
        answers = await asyncio.gather(
            *(self._page(name, state, caller) for name in CONSUMERS), return_exceptions=True
        )
        pages: dict[str, dict[str, Any]] = {}
        unreachable: list[str] = []
        for name, answer in zip(CONSUMERS, answers, strict=True):
            if isinstance(answer, DependencyUnavailable):
                unreachable.append(name)
            elif isinstance(answer, BaseException):
                raise answer  # a refusal (the token) is the page's problem, not one service's
            else:
                pages[name] = answer
        totals = {name: int(page["total"]) for name, page in pages.items()}
        return Letters(merged(pages), totals, unreachable)

    async def letter(self, service: Consumer, letter_id: uuid.UUID, caller: Caller) -> Any:
        """One dead letter, whole: envelope (or raw body), error, stack.

        Raises:
            Refused: 404: no such dead letter (purged meanwhile).
        """
        return await self.services[service].json("GET", f"{PATH}/{letter_id}", caller)

    async def replay(self, service: Consumer, letter_id: uuid.UUID, caller: Caller) -> Replay:
        """Run the letter's event through its handler again."""
        try:
            letter = await self.services[service].json(
                "POST", f"{PATH}/{letter_id}/replay", caller, deadline=REPLAY_DEADLINE_SECONDS
            )
        except Refused as refused:
            if refused.status != HTTPStatus.CONFLICT:
                raise
            # Failed again: the service kept it pending with the new error; show it as it is now.
            return Replay(await self.letter(service, letter_id, caller), applied=False)
        return Replay(letter, applied=True)

    async def purge(self, service: Consumer, letter_id: uuid.UUID, caller: Caller) -> None:
        """Delete the letter for good (its event is never applied).

        Raises:
            Refused: 404: no such dead letter.
        """
        await self.services[service].json("DELETE", f"{PATH}/{letter_id}", caller)
