"""Checkout: the basket, where it goes and the card, then the order is placed from the basket.

The card never reaches Agora: its fields have no ``name``, so the form cannot send them. The
browser (``static/js/checkout.js``) gives them to the payment provider's tokeniser and puts the
token it answers into the form. Without JavaScript the page says so.

The form carries an idempotency key made when the page was rendered: ordering answers a second
placement with the same key and body (a double click, a re-sent form) with the first order.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from agora_storefront.api.deps import Csrf, SignedIn, Visitor, storefront
from agora_storefront.api.pages import redirect, render
from agora_storefront.services.backends import Refused
from agora_storefront.services.baskets import Baskets
from agora_storefront.services.countries import countries, home_country
from agora_storefront.services.orders import Orders, ShipTo

router = APIRouter(include_in_schema=False)

TITLE = "Checkout — Agora"
CARD_FIELD = "card_number"
KEY_REUSED = "Idempotency-Key reused"


async def orders(request: Request) -> Orders:
    """The ordering calls of this app."""
    return Orders(storefront(request).backends.ordering)


OrderCalls = Annotated[Orders, Depends(orders)]
Text = Annotated[str, Form(max_length=200)]


async def ship_to_form(
    name: Text = "",
    street: Text = "",
    postal_code: Annotated[str, Form(max_length=20)] = "",
    city: Text = "",
    country: Annotated[str, Form(max_length=2)] = "",
) -> ShipTo:
    """The address fields of the checkout form (ordering checks them)."""
    return ShipTo(name.strip(), street.strip(), postal_code.strip(), city.strip(), country)


@dataclass
class Attempt:
    """What the checkout page shows again after a refused placement.

    Attributes:
        errors: Messages by form field (``form`` for the whole form).
        payment_token: The card token, kept when the card was not at fault (still unused).
        key: The idempotency key for the next try; a new one unless the same order may still
            be placed under the old (it is being placed right now).
    """

    errors: dict[str, str]
    payment_token: str = ""
    key: str = field(default_factory=lambda: str(uuid.uuid4()))


def refused_attempt(refused: Refused, payment_token: str, key: str) -> Attempt:
    """What to show after ordering refused a placement (pure: a unit test covers it)."""
    if refused.status == HTTPStatus.CONFLICT:  # the same key is in flight: let a retry replay
        return Attempt({"form": refused.detail}, payment_token, key)
    if refused.problem.get("title") == KEY_REUSED:
        message = "This checkout was sent already. See My orders before ordering again."
        return Attempt({"form": message})
    errors = refused.field_errors() or {"form": refused.detail}
    if "payment_token" in errors:
        errors[CARD_FIELD] = errors.pop("payment_token")
        return Attempt(errors)
    return Attempt(errors, payment_token)


def is_key(value: str) -> bool:
    """Whether ``value`` is a key the checkout page made (a UUID)."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def _page(
    request: Request, visitor: Visitor, form: ShipTo | None, attempt: Attempt, status: int = 200
) -> Response:
    """The checkout page, or the basket page when there is nothing to check out."""
    state = storefront(request)
    view = await Baskets(state.backends.basket).show(visitor.caller)
    visitor.basket_holds(view.lines)
    if not view.lines:
        return redirect(request, "/basket")
    locale = state.settings.locale
    context: dict[str, Any] = {
        "title": TITLE,
        "basket": view.basket,
        "form": form or ShipTo("", "", "", "", home_country(locale)),
        "errors": attempt.errors,
        "payment_token": attempt.payment_token,
        "idempotency_key": attempt.key,
        "countries": countries(locale),
        "token_url": state.settings.card_token_url,
    }
    return await render(request, "checkout/page.html", context, status=status)


@router.get("/checkout")
async def checkout_page(request: Request, visitor: SignedIn) -> Response:
    """The checkout form (signed-in shoppers only: an order belongs to an account)."""
    return await _page(request, visitor, None, Attempt({}))


@router.post("/checkout", dependencies=[Csrf])
async def place_order(
    request: Request,
    visitor: SignedIn,
    calls: OrderCalls,
    ship_to: Annotated[ShipTo, Depends(ship_to_form)],
    payment_token: Annotated[str, Form(max_length=200)] = "",
    idempotency_key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Place the order from the basket, then follow it on its page."""
    if not is_key(idempotency_key):
        message = "The form expired. Check the details and send it again."
        return await _page(request, visitor, ship_to, Attempt({"form": message}), 400)
    if not payment_token:
        message = "Enter your card details (sending them needs JavaScript)."
        return await _page(request, visitor, ship_to, Attempt({CARD_FIELD: message}), 400)
    try:
        order = await calls.place(ship_to, payment_token, idempotency_key, visitor.caller)
    except Refused as refused:
        if refused.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise
        attempt = refused_attempt(refused, payment_token, idempotency_key)
        return await _page(request, visitor, ship_to, attempt, 400)
    visitor.basket_holds(0)  # basket empties itself once it hears of the order
    return redirect(request, f"/account/orders/{order['id']}?placed=1")
