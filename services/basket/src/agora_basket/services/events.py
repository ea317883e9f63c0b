"""What basket does with other services' events: empty a buyer's basket, note new prices.

Called by the event consumer's handlers (:mod:`agora_basket.events.subscriber`), inside the
consumer's inbox transaction. The Redis changes are not part of that PostgreSQL transaction, so
each is safe to apply twice on its own: clearing records the event id in the same Lua script,
and a price notice keeps only the latest price per line.
"""

from __future__ import annotations

import logging

from agora_basket.repositories.baskets import BasketRepository
from agora_basket.schemas.lines import PriceNotice
from agora_basket.services.baskets import user_owner

logger = logging.getLogger(__name__)


class BasketEvents:
    """Applies ``order.placed`` and ``product.price_changed`` to the baskets.

    Args:
        baskets: Where baskets are kept.
    """

    def __init__(self, baskets: BasketRepository) -> None:
        self._baskets = baskets

    async def order_placed(self, event_id: str, buyer_id: str) -> int | None:
        """Empty the buyer's basket: the order now holds what they chose.

        Args:
            event_id: The ``order.placed`` event's id (a second delivery changes nothing).
            buyer_id: The user who placed the order.

        Returns:
            How many lines were removed, or ``None`` when this event was applied before.
        """
        cleared = await self._baskets.clear_once(user_owner(buyer_id), event_id)
        if cleared is None:
            logger.info("order.placed %s already cleared the basket", event_id)
        return cleared

    async def price_changed(self, notice: PriceNotice) -> int:
        """Mark every basket line of the product with its new price.

        A read while catalog answers shows catalog's price anyway; the mark is what a stale
        read (catalog down) shows, flagged as a changed price.

        Args:
            notice: The product, its new price and when it changed.

        Returns:
            How many lines were marked.
        """
        marked = await self._baskets.note_price(notice)
        logger.info("price of %s changed: %d basket lines marked", notice.product_id, marked)
        return marked
