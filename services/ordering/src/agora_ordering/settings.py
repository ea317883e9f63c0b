"""Ordering's settings: the chassis base plus its gRPC targets and the saga's step timeouts."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from agora_chassis.settings import ServiceSettings
from agora_ordering.domain import SagaTimeouts

STOCK_TIMEOUT_SECONDS = 30.0
PAYMENT_TIMEOUT_SECONDS = 15 * 60.0
DEADLINE_POLL_SECONDS = 1.0
DEADLINE_BATCH = 100


class OrderingSettings(ServiceSettings):
    """Settings of the ordering service (environment variables ``AGORA_*``).

    Attributes:
        catalog_grpc_target: ``host:port`` of catalog's internal gRPC (prices at order time).
        basket_grpc_target: ``host:port`` of basket's internal gRPC (``from_basket`` orders).
        stock_timeout_seconds: How long an order waits for catalog's reservation.
        payment_timeout_seconds: How long an order waits for payment's answer.
        deadline_poll_seconds: Longest sleep of the deadline scheduler between two looks.
        deadline_batch: Deadlines one scheduler transaction fires at most.
    """

    service_name: str = "ordering"
    catalog_grpc_target: str = "127.0.0.1:9103"
    basket_grpc_target: str = "127.0.0.1:9104"
    stock_timeout_seconds: float = Field(default=STOCK_TIMEOUT_SECONDS, gt=0)
    payment_timeout_seconds: float = Field(default=PAYMENT_TIMEOUT_SECONDS, gt=0)
    deadline_poll_seconds: float = Field(default=DEADLINE_POLL_SECONDS, gt=0)
    deadline_batch: int = Field(default=DEADLINE_BATCH, ge=1)

    @property
    def saga_timeouts(self) -> SagaTimeouts:
        """The step timeouts as the domain takes them."""
        return SagaTimeouts(
            stock=dt.timedelta(seconds=self.stock_timeout_seconds),
            payment=dt.timedelta(seconds=self.payment_timeout_seconds),
        )
