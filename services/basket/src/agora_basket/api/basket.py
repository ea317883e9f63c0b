"""``/api/v1/basket``: the shopper's basket. Every answer is the whole basket, priced.

A signed-in shopper (bearer token) has one basket; anyone else has a guest basket named by a
signed id (``X-Basket-Id`` header or ``basket_id`` cookie), issued with the first answer.
"""

from __future__ import annotations

import uuid
from http import HTTPStatus

from fastapi import APIRouter, Request, Response

from agora_basket.api.deps import GUEST_COOKIE, Baskets, Owner, verified_guest
from agora_basket.schemas.basket import BasketRead, ItemQuantity
from agora_basket.services.baskets import user_owner
from agora_basket.services.errors import GuestIdRequired
from agora_chassis.auth import CurrentPrincipal
from agora_chassis.openapi import problem_responses

# Every route: a bearer token or guest id that does not verify (401), Redis down (503).
router = APIRouter(
    prefix="/api/v1/basket",
    tags=["basket"],
    responses=problem_responses(HTTPStatus.UNAUTHORIZED, HTTPStatus.SERVICE_UNAVAILABLE),
)


@router.get("", response_model=BasketRead)
async def get_basket(baskets: Baskets, owner: Owner) -> BasketRead:
    """The basket with current prices and stock (last known prices, marked stale, if catalog
    cannot be asked)."""
    return await baskets.view(owner)


@router.put(
    "/items/{product_id}",
    response_model=BasketRead,
    responses=problem_responses(HTTPStatus.NOT_FOUND, HTTPStatus.UNPROCESSABLE_ENTITY),
)
async def put_item(
    product_id: uuid.UUID, body: ItemQuantity, baskets: Baskets, owner: Owner
) -> BasketRead:
    """Set how many units of a product the basket holds (0 removes the line)."""
    return await baskets.set_quantity(owner, str(product_id), body.quantity)


@router.delete("/items/{product_id}", response_model=BasketRead)
async def delete_item(product_id: uuid.UUID, baskets: Baskets, owner: Owner) -> BasketRead:
    """Remove a product's line (nothing happens when there is none)."""
    return await baskets.remove(owner, str(product_id))


@router.delete("", response_model=BasketRead)
async def clear_basket(baskets: Baskets, owner: Owner) -> BasketRead:
    """Empty the basket."""
    return await baskets.clear(owner)


@router.post(
    "/merge",
    response_model=BasketRead,
    responses=problem_responses(HTTPStatus.UNPROCESSABLE_ENTITY),
)
async def merge_guest_basket(
    request: Request, response: Response, baskets: Baskets, principal: CurrentPrincipal
) -> BasketRead:
    """After login: move the guest basket's lines into the user's (quantities added, capped),
    then delete the guest basket and its cookie. Merging the same guest again changes nothing."""
    guest = verified_guest(request)
    if guest is None:
        raise GuestIdRequired
    merged = await baskets.merge(guest, user_owner(principal.subject))
    response.delete_cookie(GUEST_COOKIE)
    return merged
