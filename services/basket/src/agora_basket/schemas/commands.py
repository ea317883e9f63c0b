"""What internal callers send over gRPC, validated before it reaches the basket service."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from agora_basket.settings import MAX_QUANTITY


class UserBasket(BaseModel):
    """Names a signed-in user's basket (``GetBasket``, ``Clear``)."""

    user_id: uuid.UUID


class ItemUpdate(UserBasket):
    """Sets one line of a user's basket (``UpdateItem``): 0 removes it."""

    product_id: uuid.UUID
    quantity: int = Field(ge=0, le=MAX_QUANTITY)
