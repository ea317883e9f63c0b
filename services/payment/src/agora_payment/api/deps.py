"""Dependencies that assemble payment's services for one request (the only API module that
builds repositories)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from agora_chassis.audit import Actor, Auditor, AuditRepository
from agora_chassis.auth import CurrentPrincipal
from agora_chassis.client_address import client_ip
from agora_chassis.db import DbSession
from agora_payment.models import AuditEntry
from agora_payment.repositories.payments import PaymentRepository
from agora_payment.services.history import PaymentHistory


async def payment_history(session: DbSession) -> PaymentHistory:
    """The payment history for this request."""
    return PaymentHistory(PaymentRepository(session))


async def auditor(request: Request, session: DbSession, principal: CurrentPrincipal) -> Auditor:
    """Payment's audit log for this request, recording what the caller does."""
    return Auditor(AuditRepository(session, AuditEntry), Actor.of(principal, client_ip(request)))


History = Annotated[PaymentHistory, Depends(payment_history)]
