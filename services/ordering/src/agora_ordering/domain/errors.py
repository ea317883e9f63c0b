"""Errors of the ordering domain; the chassis maps their bases to HTTP Problem Details."""

from __future__ import annotations

import uuid

from agora_chassis.errors import Conflict, ValidationFailed


class InvalidOrder(ValidationFailed):
    """An order cannot be placed as given (no lines, a product listed twice, a bad currency)."""


class TransitionNotAllowed(Conflict):
    """The order's state does not allow this step (for example cancelling a paid order).

    Attributes:
        order_id: The order.
        order_status: Its state when the step was refused.
        action: The step refused (``cancel``, ``mark_paid``...).
    """

    title = "Transition not allowed"

    def __init__(self, order_id: uuid.UUID, order_status: str, action: str) -> None:
        """Name the order, its state and the refused step in the detail."""
        super().__init__(f"order {order_id} is {order_status}: {action} is not allowed")
        self.order_id = order_id
        self.order_status = order_status
        self.action = action


class UnexpectedReply(Conflict):
    """A reply the saga never asked for (a charge before payment was requested, a refund that
    was not requested, a reply about another order). No retry can make it right: the consumer
    dead-letters it for an operator to look at.
    """

    title = "Unexpected saga reply"
