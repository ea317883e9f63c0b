"""Builds ordering's services for the event consumer and the deadline scheduler.

With ``api.deps`` (the REST requests') and ``main``, the only modules that build repositories:
``events/`` and the scheduler call services and never see SQL.
"""

from __future__ import annotations

from collections.abc import Callable

from agora_chassis.db import Session
from agora_ordering.domain import SagaTimeouts
from agora_ordering.repositories.orders import OrderRepository
from agora_ordering.services.saga import SagaService


def saga_services(timeouts: SagaTimeouts) -> Callable[[Session], SagaService]:
    """A factory of the saga service of one transaction (a message's, or a scheduler look's)."""

    def saga(session: Session) -> SagaService:
        return SagaService(OrderRepository(session), timeouts)

    return saga
