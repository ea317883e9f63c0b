"""Fault test through ``agora``: every order ends PAID or CANCELLED, stock is exact, money is
charged once, and each customer gets one e-mail per order, while the shop is broken on purpose.

500 orders of one unit from 20 customers, for 10 products whose stock covers half of them; 1 in
20 cards is declined; the payment simulator fails 20% of its calls with a 500 before recording
anything and holds back 10% of its answers after recording them (a charge whose answer is lost).
While the orders are being placed, ordering, payment and catalog are each killed with SIGKILL
once (and started again, as a supervisor would), and NATS is stopped and started once. Clients
retry a failed placement under the same Idempotency-Key, as a careful client does.

Afterwards, once every order is final: per product, on hand = initial - units of PAID orders and
nothing stays reserved; the simulator's ledger holds exactly one net charge per PAID order (its
total) and no kept money for a CANCELLED one; no service has a dead letter; each customer has
exactly one confirmation per PAID order and one cancellation per CANCELLED order.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agora_cli.infra.process import read_process
from agora_cli.services import SERVICES
from tests.system.checkout import (
    DECLINED_CARD,
    GOOD_CARD,
    Customer,
    admin_headers,
    all_orders,
    card_token,
    ledger,
    mail_per_recipient,
    new_products,
    order_body,
    place,
    register,
    set_faults,
    stock,
    wait_until_final,
)
from tests.system.delivery import query
from tests.system.stack import AgoraRun, private_stack

pytestmark = pytest.mark.system

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

ORDERS = 500
CUSTOMERS = 20
PRODUCTS = 10
STOCK_EACH = ORDERS // PRODUCTS // 2
DECLINE_EVERY = 20
IN_FLIGHT = 16
FINAL_SECONDS = 600.0
MAIL_SECONDS = 180.0
CONFIRMED = "Your Agora order is confirmed"
CANCELLED = "Your Agora order was cancelled"
FAULTS_AT = {100: ("kill", "ordering"), 200: ("kill", "payment"), 300: ("kill", "catalog")}
NATS_AT = 400
NATS_DOWN_SECONDS = 5.0
STACK_ENV = {
    "AGORA_RATE_LIMIT": "1000000/minute",
    "AGORA_REGISTRATION_RATE_LIMIT": "1000000/minute",
    # A postponed charge (the simulator's 500s) comes back after about this many seconds.
    "AGORA_CONSUMER_RETRY_BASE_SECONDS": "1",
    "AGORA_PAYSIM_SEED": "15",
}
# Switched on once the cards are tokenized (the faults hit every /v1 call, tokens included).
PROVIDER_FAULTS = {
    "failure_rate": 0.2,
    "timeout_rate": 0.1,
    "timeout_seconds": 8.0,  # beyond payment's 5 s budget for one call: the answer is lost
}


@pytest.fixture(scope="module")
def agora() -> Iterator[AgoraRun]:
    with private_stack(STACK_ENV) as run:
        up = run("up", "--detach")
        assert up.returncode == 0, up.stdout + up.stderr
        yield run


def _run(agora: AgoraRun, *args: str) -> None:
    result = agora(*args)
    logger.info("$ agora %s -> %d", " ".join(args), result.returncode)
    assert result.returncode == 0, result.stdout + result.stderr


def _kill(agora: AgoraRun, service: str) -> None:
    """SIGKILL the service's process group, then start it again (a supervisor's restart)."""
    process = read_process(agora.data_dir / "run" / f"{service}.pid")
    assert process is not None, f"{service} is not running"
    os.killpg(process.pid, signal.SIGKILL)
    time.sleep(0.5)
    _run(agora, "start", service)


def _bounce_nats(agora: AgoraRun) -> None:
    _run(agora, "stop", "nats")
    time.sleep(NATS_DOWN_SECONDS)
    _run(agora, "start", "nats")


async def _place_all(agora: AgoraRun, bodies: list[tuple[Customer, dict[str, Any]]]) -> list[str]:
    """Place every order, ``IN_FLIGHT`` at a time, breaking the shop at set counts."""
    gate, placed, faults = asyncio.Semaphore(IN_FLIGHT), 0, []

    async def one(api: httpx.AsyncClient, customer: Customer, body: dict[str, Any]) -> str:
        nonlocal placed
        async with gate:
            order_id = await place(api, customer, body)
        placed += 1
        if placed in FAULTS_AT:
            faults.append(
                asyncio.create_task(asyncio.to_thread(_kill, agora, FAULTS_AT[placed][1]))
            )
        if placed == NATS_AT:
            faults.append(asyncio.create_task(asyncio.to_thread(_bounce_nats, agora)))
        return order_id

    async with httpx.AsyncClient(base_url=agora.gateway_url, timeout=60) as api:
        ids = await asyncio.gather(*(one(api, c, b) for c, b in bodies))
    await asyncio.gather(*faults)
    assert len(faults) == len(FAULTS_AT) + 1, "every fault was injected"
    return list(ids)


def _prepare(api: httpx.Client) -> tuple[list[str], list[tuple[Customer, dict[str, Any]]]]:
    admin = admin_headers(api)
    products = new_products(api, admin, [STOCK_EACH] * PRODUCTS, price="12.50")
    customers = [register(api, f"faults{index:02d}") for index in range(CUSTOMERS)]
    bodies = []
    for index in range(ORDERS):
        card = DECLINED_CARD if index % DECLINE_EVERY == 0 else GOOD_CARD
        body = order_body(products[index % PRODUCTS], 1, card_token(api, card))
        bodies.append((customers[index % CUSTOMERS], body))
    return products, bodies


async def _dead_letters(agora: AgoraRun) -> dict[str, int]:
    counts = {}
    for spec in SERVICES:
        if spec.consumes_events and spec.database:
            rows = await query(agora, spec.database, "SELECT count(*) FROM dead_letters")
            counts[spec.name] = int(rows[0][0])
    return counts


def _wait_for_mail(agora: AgoraRun, wanted: Counter[tuple[str, str]]) -> Counter[tuple[str, str]]:
    emails = {email for email, _ in wanted}
    start, got = time.monotonic(), Counter[tuple[str, str]]()
    while time.monotonic() - start < MAIL_SECONDS:
        got = mail_per_recipient(agora, emails)
        got = Counter({key: n for key, n in got.items() if key[1] != "Welcome to Agora"})
        if got == wanted:
            break
        time.sleep(2.0)
    return got


def _assert_stock(
    orders: dict[str, dict[str, Any]], product_of: dict[str, str], stocks: dict[str, dict[str, int]]
) -> None:
    sold = Counter(product_of[oid] for oid, order in orders.items() if order["status"] == "paid")
    for product_id, levels in stocks.items():
        expected = STOCK_EACH - sold[product_id]
        assert levels == {"on_hand": expected, "reserved": 0, "available": expected}, (
            product_id,
            levels,
            sold[product_id],
        )


def _assert_money(agora: AgoraRun, orders: dict[str, dict[str, Any]]) -> None:
    """One net charge of its total per PAID order; nothing kept for a CANCELLED one."""
    book = ledger(agora)
    kept: defaultdict[str, int] = defaultdict(int)
    for charge in book["charges"]:
        if charge["status"] == "succeeded":
            kept[charge["idempotency_key"]] += charge["amount"] - charge["amount_refunded"]
    assert set(kept) <= set(orders), "every charge belongs to an order of this run"
    for order_id, order in orders.items():
        cents = round(float(order["total"]) * 100) if order["status"] == "paid" else 0
        assert kept.get(order_id, 0) == cents, (order_id, order["status"], kept.get(order_id))
    per_key = Counter(charge["idempotency_key"] for charge in book["charges"])
    assert max(per_key.values()) == 1, "the provider never charged one order twice"


def _expected_mail(
    orders: dict[str, dict[str, Any]], email_of: dict[str, str]
) -> Counter[tuple[str, str]]:
    return Counter(
        (email_of[order["buyer_id"]], CONFIRMED if order["status"] == "paid" else CANCELLED)
        for order in orders.values()
    )


def test_checkout_under_kills_broker_restart_and_a_failing_provider(agora: AgoraRun) -> None:
    with httpx.Client(base_url=agora.gateway_url, timeout=60) as api:
        products, bodies = _prepare(api)
        set_faults(agora, **PROVIDER_FAULTS)
        started = time.monotonic()
        ids = asyncio.run(_place_all(agora, bodies))
        placing = time.monotonic() - started
        admin = admin_headers(api)
        settling = wait_until_final(api, admin, FINAL_SECONDS)
        orders = {o["id"]: o for o in all_orders(api, admin) if o["id"] in set(ids)}
        stocks = {pid: stock(api, admin, pid) for pid in products}
    statuses = Counter(o["status"] for o in orders.values())
    reasons = Counter(o["cancel_reason"] for o in orders.values())
    logger.info("placed in %.0fs, final %.0fs later: %s %s", placing, settling, statuses, reasons)

    assert len(set(ids)) == ORDERS == len(orders), "one order per placement, none twice"
    assert set(statuses) <= {"paid", "cancelled"}, statuses
    product_of = {
        oid: body["lines"][0]["product_id"] for oid, (_, body) in zip(ids, bodies, strict=True)
    }
    _assert_stock(orders, product_of, stocks)
    _assert_money(agora, orders)
    assert asyncio.run(_dead_letters(agora)) == {
        spec.name: 0 for spec in SERVICES if spec.consumes_events and spec.database
    }
    email_of = {customer.user_id: customer.email for customer, _ in bodies}
    wanted = _expected_mail(orders, email_of)
    assert _wait_for_mail(agora, wanted) == wanted
    assert statuses["paid"] > 0, "some orders were paid"
    assert reasons["payment_declined"] > 0, "the declined cards cancelled their orders"
