"""Orders in PostgreSQL: the aggregate in and out of its row, lists, and due deadlines.

The only module that knows how an :class:`Order` is stored. A saga step loads its order with
``FOR UPDATE`` (replies about one order wait for each other instead of racing), changes it through
the domain, and :meth:`OrderRepository.save` writes it back in the same transaction, checked by
the row's ``version_id``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agora_chassis.outbox import add_event
from agora_contracts.envelope import CloudEvent
from agora_contracts.ordering import CancellationReason, RefundReason, ShippingAddress
from agora_ordering.domain import (
    Line,
    Order,
    OrderStatus,
    Refund,
    RefundStatus,
    Step,
    TimelineEntry,
)
from agora_ordering.models import OrderRow, OutboxMessage
from agora_ordering.schemas.query import OrderFilter


class OrderRepository:
    """Orders of one transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._rows: dict[uuid.UUID, OrderRow] = {}

    def add(self, order: Order) -> None:
        """Stage a newly placed order."""
        row = OrderRow(id=order.id, buyer_id=order.buyer_id, placed_at=order.placed_at)
        _write(order, row)
        self.session.add(row)
        self._rows[order.id] = row

    async def get(self, order_id: uuid.UUID, *, lock: bool = False) -> Order | None:
        """The order, or ``None``; with ``lock``, its row stays locked until the commit."""
        query = select(OrderRow).where(OrderRow.id == order_id)
        if lock:
            query = query.with_for_update()
        row = (await self.session.scalars(query)).one_or_none()
        if row is None:
            return None
        self._rows[row.id] = row
        return _read(row)

    async def save(self, order: Order) -> None:
        """Write a loaded order's changes back (one UPDATE, checked by ``version_id``)."""
        _write(order, self._rows[order.id])
        await self.session.flush()

    async def page(self, where: OrderFilter, offset: int, limit: int) -> tuple[list[Order], int]:
        """One page of orders matching ``where``, newest first, and how many match in all."""
        query = _filtered(select(OrderRow), where)
        rows = await self.session.scalars(
            query.order_by(OrderRow.placed_at.desc(), OrderRow.id.desc())
            .offset(offset)
            .limit(limit)
        )
        total = await self.session.scalar(_filtered(select(func.count(OrderRow.id)), where))
        return [_read(row) for row in rows], total or 0

    async def due(self, now: dt.datetime, limit: int) -> list[Order]:
        """Orders whose step deadline has passed, locked; rows another replica holds are skipped.

        ``SKIP LOCKED`` is what lets several ordering replicas run the scheduler: each takes the
        due rows nobody else holds, and a row stays locked until its transaction ends, so one
        deadline is never fired by two of them at once.
        """
        query = (
            select(OrderRow)
            .where(OrderRow.deadline_at.is_not(None), OrderRow.deadline_at <= now)
            .order_by(OrderRow.deadline_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = list(await self.session.scalars(query))
        self._rows.update((row.id, row) for row in rows)
        return [_read(row) for row in rows]

    async def next_deadline(self) -> dt.datetime | None:
        """The earliest deadline any order waits on."""
        return await self.session.scalar(select(func.min(OrderRow.deadline_at)))

    def add_event(self, event: CloudEvent) -> None:
        """Stage an event in the outbox, published once this transaction commits."""
        add_event(self.session, OutboxMessage, event)


def _filtered[T: Any](query: Select[T], where: OrderFilter) -> Select[T]:
    if where.buyer_id is not None:
        query = query.where(OrderRow.buyer_id == where.buyer_id)
    if where.status is not None:
        query = query.where(OrderRow.status == where.status.value)
    if where.placed_from is not None:
        query = query.where(OrderRow.placed_at >= where.placed_from)
    if where.placed_to is not None:
        query = query.where(OrderRow.placed_at < where.placed_to)
    return query


def _write(order: Order, row: OrderRow) -> None:
    row.status = order.status.value
    row.currency = order.currency
    row.total = order.total
    row.payment_token = order.payment_token
    row.ship_to = order.ship_to.model_dump(mode="json")
    row.lines = [_line_json(line) for line in order.lines]
    row.timeline = [_entry_json(entry) for entry in order.timeline]
    row.refunds = [_refund_json(refund) for refund in order.refunds]
    row.cancel_reason = order.cancel_reason.value if order.cancel_reason else None
    row.deadline_step = order.deadline_step.value if order.deadline_step else None
    row.deadline_at = order.deadline_at
    row.payment_id = order.payment_id


def _read(row: OrderRow) -> Order:
    return Order(
        id=row.id,
        buyer_id=row.buyer_id,
        lines=[_line(item) for item in row.lines],
        currency=row.currency,
        payment_token=row.payment_token,
        placed_at=row.placed_at,
        ship_to=ShippingAddress.model_validate(row.ship_to),
        status=OrderStatus(row.status),
        cancel_reason=CancellationReason(row.cancel_reason) if row.cancel_reason else None,
        deadline_step=Step(row.deadline_step) if row.deadline_step else None,
        deadline_at=row.deadline_at,
        payment_id=row.payment_id,
        timeline=[_entry(item) for item in row.timeline],
        refunds=[_refund(item) for item in row.refunds],
    )


def _line_json(line: Line) -> dict[str, Any]:
    return {
        "product_id": str(line.product_id),
        "name": line.name,
        "quantity": line.quantity,
        "unit_price": str(line.unit_price),
    }


def _line(item: dict[str, Any]) -> Line:
    return Line(
        product_id=uuid.UUID(item["product_id"]),
        quantity=int(item["quantity"]),
        unit_price=Decimal(item["unit_price"]),
        name=str(item["name"]),
    )


def _entry_json(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "status": entry.status.value,
        "at": entry.at.isoformat(),
        "reason": entry.reason.value if entry.reason else None,
    }


def _entry(item: dict[str, Any]) -> TimelineEntry:
    reason = item.get("reason")
    return TimelineEntry(
        status=OrderStatus(item["status"]),
        at=dt.datetime.fromisoformat(item["at"]),
        reason=CancellationReason(reason) if reason else None,
    )


def _refund_json(refund: Refund) -> dict[str, Any]:
    return {
        "payment_id": str(refund.payment_id),
        "amount": str(refund.amount),
        "currency": refund.currency,
        "reason": refund.reason.value,
        "status": refund.status.value,
        "requested_at": refund.requested_at.isoformat(),
    }


def _refund(item: dict[str, Any]) -> Refund:
    return Refund(
        payment_id=uuid.UUID(item["payment_id"]),
        amount=Decimal(item["amount"]),
        currency=str(item["currency"]),
        reason=RefundReason(item["reason"]),
        status=RefundStatus(item["status"]),
        requested_at=dt.datetime.fromisoformat(item["requested_at"]),
    )
