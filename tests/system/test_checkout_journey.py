"""System test: checkout through the booted stack, from a card token to PAID or CANCELLED.

A customer tokenizes a card at the payment simulator, orders from their basket and directly, and
each order runs the whole saga over NATS: catalog reserves, ordering asks payment, payment
charges the simulator, ordering marks the order paid and catalog sells the units (or, for a
declined card or too little stock, the order is cancelled and the units released). Only the
whole stack shows this: every service's consumer, the relays, the service tokens for gRPC, the
gateway's routes and the simulator's ledger.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.system.checkout import (
    DECLINED_CARD,
    admin_headers,
    card_token,
    ledger,
    mail_per_recipient,
    new_products,
    order_body,
    place,
    register,
    stock,
)
from tests.system.stack import AgoraRun

pytestmark = pytest.mark.system

SAGA_SECONDS = 60.0
POLL_SECONDS = 0.25
CENTS = 100


def _final(api: httpx.Client, headers: dict[str, str], order_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + SAGA_SECONDS
    order: dict[str, Any] = {}
    while time.monotonic() < deadline:
        order = api.get(f"/api/v1/orders/{order_id}", headers=headers).json()
        if order["status"] in ("paid", "cancelled"):
            return order
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"order {order_id} never finished: {order}")


def _mail_arrived(agora: AgoraRun, email: str, count: int) -> dict[str, int]:
    deadline = time.monotonic() + SAGA_SECONDS
    subjects: dict[str, int] = {}
    while time.monotonic() < deadline:
        subjects = {s: n for (to, s), n in mail_per_recipient(agora, {email}).items()}
        if sum(subjects.values()) >= count:
            return subjects
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"{email} got {subjects}, expected {count} mails")


def test_checkout_paid_declined_and_out_of_stock(agora: AgoraRun) -> None:
    up = agora("up", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr

    with httpx.Client(base_url=agora.gateway_url, timeout=30) as api:
        admin = admin_headers(api)
        boots, scarce = new_products(api, admin, [5, 1], price="24.99")
        ada = register(api, "journey")
        basket = api.put(f"/api/v1/basket/items/{boots}", json={"quantity": 2}, headers=ada.headers)
        assert basket.status_code == 200, basket.text
        from_basket = {"from_basket": True} | {
            k: v for k, v in order_body(boots, 1, card_token(api)).items() if k != "lines"
        }
        declined_body = order_body(boots, 1, card_token(api, DECLINED_CARD))
        too_many_body = order_body(scarce, 2, card_token(api))

        async def place_all() -> list[str]:
            async with httpx.AsyncClient(base_url=agora.gateway_url, timeout=30) as client:
                return [
                    await place(client, ada, body)
                    for body in (from_basket, declined_body, too_many_body)
                ]

        paid_id, declined_id, short_id = asyncio.run(place_all())
        paid = _final(api, ada.headers, paid_id)
        declined = _final(api, ada.headers, declined_id)
        short = _final(api, ada.headers, short_id)
        emptied = api.get("/api/v1/basket", headers=ada.headers).json()
        boots_stock, scarce_stock = stock(api, admin, boots), stock(api, admin, scarce)
        mails = _mail_arrived(agora, ada.email, 4)  # welcome, confirmation, 2 cancellations

    assert (paid["status"], paid["total"]) == ("paid", "49.98")
    assert [e["status"] for e in paid["timeline"]] == [
        "pending",
        "stock_reserved",
        "awaiting_payment",
        "paid",
    ]
    assert (declined["status"], declined["cancel_reason"]) == ("cancelled", "payment_declined")
    assert (short["status"], short["cancel_reason"]) == ("cancelled", "out_of_stock")
    assert emptied["lines"] == [], "order.placed empties the buyer's basket"
    assert boots_stock == {"on_hand": 3, "reserved": 0, "available": 3}
    assert scarce_stock == {"on_hand": 1, "reserved": 0, "available": 1}
    charges = {c["idempotency_key"]: c for c in ledger(agora)["charges"]}
    assert charges[paid_id]["amount"] == 4998
    assert charges[paid_id]["status"] == "succeeded"
    assert short_id not in charges, "an order without stock is never charged"
    assert sum(mails.values()) == 4, mails
