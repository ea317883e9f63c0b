"""Optimistic concurrency of product updates: preconditions, stale reads and racing writers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from agora_catalog.repositories.products import ProductRepository

pytestmark = pytest.mark.integration

PRODUCTS = "/api/v1/products"
LOSER_STATUSES = {409, 412}


def _at(product: dict[str, Any]) -> str:
    return f"{PRODUCTS}/{product['id']}"


@pytest.fixture
async def mug(make_category: Callable[..., Any], make_product: Callable[..., Any]) -> Any:
    kitchen = await make_category("kitchen")
    return await make_product(kitchen, sku="MUG-1", name="Mug", price="9.99")


async def _etag(client: httpx.AsyncClient, product: dict[str, Any]) -> str:
    return (await client.get(_at(product))).headers["ETag"]


async def test_update_product_without_precondition_answers_428(
    client: httpx.AsyncClient, admin: dict[str, str], mug: dict[str, Any]
) -> None:
    response = await client.patch(_at(mug), json={"name": "Cup"}, headers=admin)

    assert response.status_code == 428
    assert response.json()["title"] == "Precondition required"
    assert (await client.get(_at(mug))).json()["name"] == "Mug"


async def test_update_product_current_etag_answers_200_with_new_etag(
    client: httpx.AsyncClient, admin: dict[str, str], mug: dict[str, Any]
) -> None:
    etag = await _etag(client, mug)

    response = await client.patch(
        _at(mug), json={"name": "Cup"}, headers=admin | {"If-Match": etag}
    )

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Cup"
    assert response.headers["ETag"] not in {etag, None}
    assert response.headers["ETag"] == await _etag(client, mug)


async def test_update_product_etag_of_previous_update_answers_200(
    client: httpx.AsyncClient, admin: dict[str, str], mug: dict[str, Any]
) -> None:
    first = await client.patch(
        _at(mug),
        json={"price": "12.5", "attributes": {"size": 3, "colour": "red"}, "version": 1},
        headers=admin,
    )

    response = await client.patch(
        _at(mug), json={"name": "Cup"}, headers=admin | {"If-Match": first.headers["ETag"]}
    )

    assert response.status_code == 200, response.text


async def test_update_product_stale_etag_answers_412_and_keeps_product(
    client: httpx.AsyncClient, admin: dict[str, str], mug: dict[str, Any]
) -> None:
    stale = await _etag(client, mug)
    await client.patch(_at(mug), json={"name": "Cup"}, headers=admin | {"If-Match": stale})

    response = await client.patch(
        _at(mug), json={"name": "Bowl"}, headers=admin | {"If-Match": stale}
    )

    assert response.status_code == 412
    assert (await client.get(_at(mug))).json()["name"] == "Cup"


async def test_update_product_stale_version_answers_409_and_keeps_product(
    client: httpx.AsyncClient, admin: dict[str, str], mug: dict[str, Any]
) -> None:
    await client.patch(_at(mug), json={"name": "Cup", "version": 1}, headers=admin)

    response = await client.patch(_at(mug), json={"name": "Bowl", "version": 1}, headers=admin)

    assert response.status_code == 409
    assert response.json()["title"] == "Stale version"
    assert (await client.get(_at(mug))).json()["name"] == "Cup"


async def test_update_product_wildcard_if_match_answers_200(
    client: httpx.AsyncClient, admin: dict[str, str], mug: dict[str, Any]
) -> None:
    response = await client.patch(_at(mug), json={"name": "Cup"}, headers=admin | {"If-Match": "*"})

    assert response.status_code == 200


async def _race(
    client: httpx.AsyncClient, mug: dict[str, Any], headers: dict[str, str], base: dict[str, Any]
) -> tuple[list[httpx.Response], dict[str, Any]]:
    """Send two updates based on the same version at once; the responses and the final product."""
    responses = await asyncio.gather(
        *(
            client.patch(_at(mug), json=base | {"name": name}, headers=headers)
            for name in ("Cup", "Bowl")
        )
    )
    return list(responses), (await client.get(_at(mug))).json()


def _assert_one_winner(responses: list[httpx.Response], final: dict[str, Any]) -> None:
    statuses = sorted(response.status_code for response in responses)
    assert statuses[0] == 200, [response.text for response in responses]
    assert statuses[1] in LOSER_STATUSES, [response.text for response in responses]
    [winner] = [response.json() for response in responses if response.status_code == 200]
    assert final["name"] == winner["name"]
    assert final["version"] == 2


@pytest.mark.parametrize("precondition", ["if_match", "version"])
async def test_update_product_concurrent_updates_one_wins_without_lost_update(
    client: httpx.AsyncClient, admin: dict[str, str], mug: dict[str, Any], precondition: str
) -> None:
    headers, base = admin, {"version": 1}
    if precondition == "if_match":
        headers, base = admin | {"If-Match": await _etag(client, mug)}, {}

    responses, final = await _race(client, mug, headers, base)

    _assert_one_winner(responses, final)


async def test_update_product_racing_past_the_check_loser_answers_409(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    mug: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Both writers pass the version check before either writes: only the row's version_id
    # (the UPDATE's WHERE clause) can tell them apart.
    both_checked = asyncio.Barrier(2)
    flush = ProductRepository.flush

    async def flush_together(repository: ProductRepository) -> None:
        await both_checked.wait()
        await flush(repository)

    monkeypatch.setattr(ProductRepository, "flush", flush_together)

    responses, final = await _race(client, mug, admin, {"version": 1})

    _assert_one_winner(responses, final)
    assert sorted(response.status_code for response in responses) == [200, 409]
