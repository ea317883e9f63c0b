"""SQL for reservations. Returns models; never commits."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agora_catalog.models import Reservation


class ReservationRepository:
    """Reservations of one transaction."""

    def __init__(self, session: AsyncSession) -> None:
        """Work in ``session``'s transaction."""
        self.session = session

    async def for_order(
        self, order_id: uuid.UUID, *, for_update: bool = False
    ) -> Reservation | None:
        """The reservation of ``order_id``, locked when ``for_update``, or ``None``."""
        statement = select(Reservation).where(Reservation.order_id == order_id)
        if for_update:
            statement = statement.with_for_update()
        return await self.session.scalar(statement)

    def add(self, reservation: Reservation) -> None:
        """Stage a new reservation."""
        self.session.add(reservation)
