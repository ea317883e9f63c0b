"""``/api/v1/payments``: the payments the service made (admin only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from agora_chassis.auth import require_roles
from agora_chassis.openapi import problem_responses
from agora_chassis.pagination import Page, Pagination
from agora_payment.api.deps import History
from agora_payment.models import PaymentStatus
from agora_payment.schemas.payment import PaymentRead

ADMIN_ROLE = "admin"

# Every route needs an admin's token and reads the database.
router = APIRouter(
    prefix="/api/v1/payments",
    tags=["payments"],
    responses=problem_responses(status.HTTP_401_UNAUTHORIZED, status.HTTP_503_SERVICE_UNAVAILABLE),
)
admin_only = [Depends(require_roles(ADMIN_ROLE))]


@router.get(
    "",
    response_model=Page[PaymentRead],
    dependencies=admin_only,
    responses=problem_responses(status.HTTP_403_FORBIDDEN, status.HTTP_422_UNPROCESSABLE_CONTENT),
)
async def list_payments(
    history: History,
    page: Pagination,
    payment_status: Annotated[
        PaymentStatus | None, Query(alias="status", description="Payments in this status")
    ] = None,
    order_id: Annotated[uuid.UUID | None, Query(description="The payment of this order")] = None,
) -> Page[PaymentRead]:
    """List payments (admin only), newest first, with their refunds."""
    items, total = await history.page(
        status=payment_status, order_id=order_id, offset=page.offset, limit=page.per_page
    )
    return Page[PaymentRead].of([PaymentRead.model_validate(item) for item in items], total, page)
