"""The payment service's app factory (``agora_payment.main:create_app``, ``--factory``).

Wires the admin list of payments (``/api/v1/payments``), the dead-letter admin API and the audit
log, the outbox (``payment.succeeded``, ``payment.failed``, ``payment.refunded``) and, with
``AGORA_BROKER_URL`` set, the consumer of ``order.awaiting_payment`` and
``order.refund_requested``. The payment provider (``AGORA_PAYSIM_URL``) is called through one
chassis ``ServiceClient`` (target ``paysim``), whose breaker shows in ``/health/ready``
(degraded while open: messages wait, nothing fails) and ``/metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from starlette.applications import Starlette

from agora_chassis.app import create_service_app
from agora_chassis.audit_api import audit_router
from agora_chassis.call_policy import CallPolicy
from agora_chassis.messaging import RetryPolicy
from agora_chassis.messaging import admin as dead_letters
from agora_chassis.service_client import ServiceClient, breaker_check
from agora_chassis.state import attach_extras, service_extras, service_state
from agora_payment.api import deps, payments
from agora_payment.events.subscriber import build_consumer
from agora_payment.models import OutboxMessage
from agora_payment.services.provider import PaymentProvider
from agora_payment.settings import PaymentSettings
from agora_payment.wiring import PaymentUseCases, payment_use_cases

PROVIDER = "paysim"


@dataclass(slots=True)
class PaymentState:
    """What payment keeps beside the chassis state.

    Attributes:
        http: The HTTP client of the provider (closed at shutdown).
        provider: The provider's charges and refunds.
        use_cases: What the consumer's handlers call.
    """

    http: httpx.AsyncClient
    provider: PaymentProvider
    use_cases: PaymentUseCases


def payment_state(app: Starlette) -> PaymentState:
    """Payment's own resources of the app."""
    return service_extras(app, PaymentState)


async def _close_http(app: FastAPI) -> None:
    await payment_state(app).http.aclose()


def create_app(settings: PaymentSettings | None = None) -> FastAPI:
    """Build the payment service.

    Args:
        settings: Settings to use; read from the environment when omitted.

    Returns:
        The application.
    """
    settings = settings or PaymentSettings()
    client = ServiceClient(PROVIDER, policy=CallPolicy.from_settings(settings))
    app = create_service_app(
        settings,
        title="Agora payment",
        routers=[payments.router, dead_letters.router, audit_router(deps.auditor)],
        shutdown=[_close_http],
        outbox=OutboxMessage,
        checks={PROVIDER: breaker_check(client)},
    )
    state = service_state(app)
    http = httpx.AsyncClient(base_url=settings.paysim_url)
    provider = PaymentProvider(client, http, settings.provider_deadline_seconds)
    use_cases = payment_use_cases(state.sessionmaker, provider)
    attach_extras(app, PaymentState(http=http, provider=provider, use_cases=use_cases))
    state.consumer = build_consumer(
        state.messaging.broker,
        state.sessionmaker,
        use_cases,
        retry=RetryPolicy.from_settings(settings),
    )
    return app
