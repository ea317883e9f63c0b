"""Basket's consumer: ``order.placed`` empties the buyer's basket once, ``product.price_changed``
marks every basket holding the product. Real Redis, PostgreSQL inbox, real catalog server."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
from redis.asyncio import Redis

from agora_basket.repositories.baskets import PRICE_BATCH, BasketRepository
from agora_basket.schemas.lines import StoredLine
from agora_chassis.messaging import EventConsumer
from agora_contracts.catalog import ProductPriceChangedV1
from agora_contracts.ordering import OrderLine, OrderPlacedV1
from agora_testing.catalog_server import CatalogServer
from agora_testing.events import structured_event
from services.basket.tests.integration.conftest import guest_headers, quantities

pytestmark = pytest.mark.integration

BASKET = "/api/v1/basket"
Headers = Callable[..., dict[str, str]]


def order_placed(buyer: uuid.UUID, product_id: str) -> OrderPlacedV1:
    line = OrderLine(product_id=uuid.UUID(product_id), quantity=1)
    return OrderPlacedV1(
        order_id=uuid.uuid4(), buyer_id=buyer, lines=[line], placed_at=dt.datetime.now(dt.UTC)
    )


def price_changed(product_id: str, old: str, new: str, minutes_ago: int = 0) -> bytes:
    payload = ProductPriceChangedV1(
        product_id=uuid.UUID(product_id),
        sku="SKU-1",
        old_price=Decimal(old),
        new_price=Decimal(new),
        currency="EUR",
        changed_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago),
    )
    return structured_event(payload)


async def test_order_placed_empties_the_buyers_basket_and_its_index(
    client: httpx.AsyncClient,
    catalog_server: CatalogServer,
    consumer: EventConsumer,
    repository: BasketRepository,
    user_headers: Headers,
) -> None:
    buyer = uuid.uuid4()
    mug, tea = catalog_server.add("Mug", "9.99"), catalog_server.add("Tea", "4.50")
    for product in (mug, tea):
        await client.put(
            f"{BASKET}/items/{product}", json={"quantity": 2}, headers=user_headers(buyer)
        )

    assert await consumer.deliver(structured_event(order_placed(buyer, mug))) is True

    body = (await client.get(BASKET, headers=user_headers(buyer))).json()
    assert body["lines"] == []
    assert await repository.baskets_holding(mug) == set()
    assert await repository.baskets_holding(tea) == set()


async def test_order_placed_delivered_again_leaves_lines_added_since(
    client: httpx.AsyncClient,
    catalog_server: CatalogServer,
    consumer: EventConsumer,
    user_headers: Headers,
) -> None:
    buyer, mug = uuid.uuid4(), catalog_server.add("Mug", "9.99")
    headers = user_headers(buyer)
    event = structured_event(order_placed(buyer, mug))
    await client.put(f"{BASKET}/items/{mug}", json={"quantity": 1}, headers=headers)
    assert await consumer.deliver(event) is True
    await client.put(f"{BASKET}/items/{mug}", json={"quantity": 3}, headers=headers)

    assert await consumer.deliver(event) is True

    assert quantities((await client.get(BASKET, headers=headers)).json()) == {mug: 3}


async def test_clear_once_same_event_twice_second_changes_nothing(
    repository: BasketRepository,
) -> None:
    """What guards a redelivery the inbox lets through (the Redis change outlived a rollback)."""
    owner, event_id = f"user:{uuid.uuid4()}", str(uuid.uuid4())
    line = StoredLine(str(uuid.uuid4()), 1, Decimal("1.00"), "EUR", "Mug", "SKU-MUG")
    await repository.put(owner, line, max_lines=10)
    assert await repository.clear_once(owner, event_id) == 1
    await repository.put(owner, line, max_lines=10)

    assert await repository.clear_once(owner, event_id) is None
    assert list(await repository.lines(owner)) == [line.product_id]


async def test_order_placed_for_a_buyer_without_basket_is_applied(
    consumer: EventConsumer,
) -> None:
    event = structured_event(order_placed(uuid.uuid4(), str(uuid.uuid4())))
    assert await consumer.deliver(event) is True


async def test_price_changed_marks_every_basket_stale_reads_show_new_price(
    client: httpx.AsyncClient,
    catalog_server: CatalogServer,
    consumer: EventConsumer,
    user_headers: Headers,
) -> None:
    mug, tea = catalog_server.add("Mug", "9.99"), catalog_server.add("Tea", "4.50")
    guest, user = await guest_headers(client), user_headers(uuid.uuid4())
    for headers in (guest, user):
        await client.put(f"{BASKET}/items/{mug}", json={"quantity": 2}, headers=headers)
        await client.put(f"{BASKET}/items/{tea}", json={"quantity": 1}, headers=headers)

    assert await consumer.deliver(price_changed(mug, "9.99", "8.49")) is True
    await catalog_server.stop()

    for headers in (guest, user):
        body = (await client.get(BASKET, headers=headers)).json()
        by_name = {line["name"]: line for line in body["lines"]}
        assert body["stale"] is True
        assert by_name["Mug"]["unit_price"] == "8.49"
        assert by_name["Mug"]["previous_unit_price"] == "9.99"
        assert by_name["Mug"]["price_changed"] is True
        assert by_name["Tea"]["price_changed"] is False
        assert body["total"] == "21.48"


async def test_price_changed_older_notice_arriving_late_is_ignored(
    client: httpx.AsyncClient,
    catalog_server: CatalogServer,
    consumer: EventConsumer,
    repository: BasketRepository,
) -> None:
    mug = catalog_server.add("Mug", "9.99")
    guest = await guest_headers(client)
    await client.put(f"{BASKET}/items/{mug}", json={"quantity": 1}, headers=guest)
    await consumer.deliver(price_changed(mug, "8.00", "7.00"))

    await consumer.deliver(price_changed(mug, "9.99", "8.00", minutes_ago=5))

    (owner,) = await repository.baskets_holding(mug)
    assert (await repository.lines(owner))[mug].known_price == Decimal("7.00")


async def test_price_changed_walks_a_large_index_and_drops_expired_baskets(
    consumer: EventConsumer, repository: BasketRepository, basket_redis_url: str
) -> None:
    product = str(uuid.uuid4())
    line = StoredLine(product, 1, Decimal("5.00"), "EUR", "Pen", "SKU-PEN")
    owners = [f"guest:{uuid.uuid4()}" for _ in range(PRICE_BATCH * 2 + 7)]
    for owner in owners:
        await repository.put(owner, line, max_lines=10)
    expired = owners[:3]
    async with Redis.from_url(basket_redis_url) as redis:  # as if their TTL ran out
        await redis.delete(*(repository.basket_key(owner) for owner in expired))

    assert await consumer.deliver(price_changed(product, "5.00", "4.00")) is True

    prices = [(await repository.lines(owner))[product].known_price for owner in owners[3:]]
    assert prices == [Decimal("4.00")] * (len(owners) - 3)
    assert await repository.baskets_holding(product) == set(owners[3:])
