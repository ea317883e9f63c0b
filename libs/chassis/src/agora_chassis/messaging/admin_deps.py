"""Dependency wiring of the dead-letter admin API: the one chassis module that builds its
repositories (the router only calls :class:`DeadLetterService`).

Replays and purges are audited in the service's own ``audit_log``: the table declared with
:class:`AuditMixin` on the same declarative base as the service's dead letters.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from agora_chassis.audit import Actor, AuditMixin, Auditor, AuditRepository
from agora_chassis.auth import CurrentPrincipal
from agora_chassis.client_address import client_ip
from agora_chassis.db import DbSession
from agora_chassis.errors import ServiceUnavailable
from agora_chassis.messaging.consumer import EventConsumer
from agora_chassis.messaging.deadletter_repository import DeadLetterRepository
from agora_chassis.messaging.deadletter_service import DeadLetterService
from agora_chassis.messaging.deadletters import DeadLetterMixin
from agora_chassis.state import service_state


async def get_consumer(request: Request) -> EventConsumer:
    """The service's consumer, which owns the dead-letter table and the handlers."""
    consumer = service_state(request).consumer
    if consumer is None:
        raise ServiceUnavailable("this service has no event consumer configured")
    return consumer


def audit_model_beside(dead_letter_model: type[DeadLetterMixin]) -> type[AuditMixin]:
    """The audit table declared on the same base (so in the same database) as the dead letters.

    Raises:
        ServiceUnavailable: The service declares no audit table; replays could not be audited.
    """
    registry = getattr(dead_letter_model, "registry", None)
    mappers = registry.mappers if registry is not None else ()
    for mapper in mappers:
        if issubclass(mapper.class_, AuditMixin):
            audit_model: type[AuditMixin] = mapper.class_
            return audit_model
    raise ServiceUnavailable("this service declares no audit table (AuditMixin)")


async def dead_letter_service(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    consumer: Annotated[EventConsumer, Depends(get_consumer)],
) -> DeadLetterService:
    """The dead-letter use cases for this request, audited as done by the caller."""
    model = consumer.dead_letter_model
    return DeadLetterService(
        DeadLetterRepository(session, model),
        consumer,
        Auditor(
            AuditRepository(session, audit_model_beside(model)),
            Actor.of(principal, client_ip(request)),
        ),
    )


DeadLetters = Annotated[DeadLetterService, Depends(dead_letter_service)]
"""Inject this into the dead-letter endpoints."""
