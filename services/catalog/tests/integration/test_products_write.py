"""Admin product writes: create, update and delete, and what each refuses."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from agora_catalog.schemas.product import MAX_SAFE_INTEGER, MAX_VERSION

pytestmark = pytest.mark.integration

PRODUCTS = "/api/v1/products"
UNKNOWN_ID = str(uuid.UUID(int=42))


def _at(product: dict[str, Any]) -> str:
    return f"{PRODUCTS}/{product['id']}"


@pytest.fixture
async def kitchen(make_category: Callable[..., Any]) -> Any:
    return await make_category("kitchen")


@pytest.fixture
def new_product(kitchen: dict[str, Any]) -> dict[str, Any]:
    """The body of a valid create request."""
    return {
        "sku": "KNIFE-1",
        "name": "  Chef Knife ",
        "description": "Forged steel.",
        "brand": "Acme",
        "price": "49.90",
        "currency": "EUR",
        "image_url": "https://img.example.com/knife.png",
        "attributes": {"length_cm": 20, "colour": "black", "dishwasher": False},
        "category_id": kitchen["id"],
        "on_hand": 12,
    }


async def test_create_product_admin_answers_201_with_location_and_stock(
    client: httpx.AsyncClient, admin: dict[str, str], new_product: dict[str, Any]
) -> None:
    response = await client.post(PRODUCTS, json=new_product, headers=admin)

    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["Location"] == f"{PRODUCTS}/{created['id']}"
    assert created["name"] == "Chef Knife"
    assert created["available"] == 12
    assert created["version"] == 1


async def test_create_product_then_read_returns_same_product(
    client: httpx.AsyncClient, admin: dict[str, str], new_product: dict[str, Any]
) -> None:
    created = (await client.post(PRODUCTS, json=new_product, headers=admin)).json()

    response = await client.get(_at(created))

    assert response.json() == created


async def test_create_product_duplicate_sku_answers_409(
    client: httpx.AsyncClient, admin: dict[str, str], new_product: dict[str, Any]
) -> None:
    await client.post(PRODUCTS, json=new_product, headers=admin)

    response = await client.post(PRODUCTS, json=new_product | {"name": "Other"}, headers=admin)

    assert response.status_code == 409
    assert response.json()["title"] == "SKU already in use"


async def test_create_product_unknown_category_answers_422(
    client: httpx.AsyncClient, admin: dict[str, str], new_product: dict[str, Any]
) -> None:
    response = await client.post(
        PRODUCTS, json=new_product | {"category_id": UNKNOWN_ID}, headers=admin
    )

    assert response.status_code == 422
    assert response.json()["title"] == "Unknown category"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sku", "has space"),
        ("price", "-0.01"),
        ("price", "1.001"),
        ("currency", "eur"),
        ("image_url", "javascript:alert(1)"),
        ("name", "   "),
        ("on_hand", -1),
        ("roles", ["admin"]),
    ],
)
async def test_create_product_invalid_field_answers_422_naming_it(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    new_product: dict[str, Any],
    field: str,
    value: Any,
) -> None:
    response = await client.post(PRODUCTS, json=new_product | {field: value}, headers=admin)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].startswith(field)


async def test_update_product_with_version_answers_200_with_changes(
    client: httpx.AsyncClient, admin: dict[str, str], make_product: Callable[..., Any], kitchen: Any
) -> None:
    product = await make_product(kitchen, name="Mug")

    response = await client.patch(
        _at(product), json={"name": "Tall Mug", "version": 1}, headers=admin
    )

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Tall Mug"
    assert response.json()["version"] == 2


async def test_update_product_to_other_category_answers_200(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    make_category: Callable[..., Any],
    make_product: Callable[..., Any],
    kitchen: Any,
) -> None:
    garden = await make_category("garden")
    product = await make_product(kitchen)

    response = await client.patch(
        _at(product), json={"category_id": garden["id"], "version": 1}, headers=admin
    )

    assert response.json()["category_id"] == garden["id"]


async def test_update_product_unknown_category_answers_422(
    client: httpx.AsyncClient, admin: dict[str, str], make_product: Callable[..., Any], kitchen: Any
) -> None:
    product = await make_product(kitchen)

    response = await client.patch(
        _at(product), json={"category_id": UNKNOWN_ID, "version": 1}, headers=admin
    )

    assert response.status_code == 422


@pytest.mark.parametrize("field", ["name", "brand", "price", "active", "category_id", "currency"])
async def test_update_product_null_for_required_field_answers_422(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    make_product: Callable[..., Any],
    kitchen: Any,
    field: str,
) -> None:
    product = await make_product(kitchen)

    response = await client.patch(_at(product), json={field: None, "version": 1}, headers=admin)

    assert response.status_code == 422, response.text


async def test_update_product_null_image_url_removes_it(
    client: httpx.AsyncClient, admin: dict[str, str], make_product: Callable[..., Any], kitchen: Any
) -> None:
    product = await make_product(kitchen, image_url="/img/mug.png")

    response = await client.patch(
        _at(product), json={"image_url": None, "version": 1}, headers=admin
    )

    assert response.json()["image_url"] is None


async def test_update_product_unknown_answers_404(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.patch(
        f"{PRODUCTS}/{UNKNOWN_ID}", json={"name": "X", "version": 1}, headers=admin
    )

    assert response.status_code == 404


async def test_update_product_deactivated_is_no_longer_readable(
    client: httpx.AsyncClient, admin: dict[str, str], make_product: Callable[..., Any], kitchen: Any
) -> None:
    product = await make_product(kitchen)
    await client.get(_at(product))  # cached

    await client.patch(_at(product), json={"active": False, "version": 1}, headers=admin)

    assert (await client.get(_at(product))).status_code == 404


async def test_delete_product_with_current_etag_answers_204_and_removes_it(
    client: httpx.AsyncClient, admin: dict[str, str], make_product: Callable[..., Any], kitchen: Any
) -> None:
    product = await make_product(kitchen)
    etag = (await client.get(_at(product))).headers["ETag"]

    response = await client.delete(_at(product), headers=admin | {"If-Match": etag})

    assert response.status_code == 204
    assert (await client.get(_at(product))).status_code == 404


async def test_delete_product_with_wildcard_if_match_answers_204(
    client: httpx.AsyncClient, admin: dict[str, str], make_product: Callable[..., Any], kitchen: Any
) -> None:
    product = await make_product(kitchen)

    response = await client.delete(_at(product), headers=admin | {"If-Match": "*"})

    assert response.status_code == 204


async def test_delete_product_without_if_match_answers_428(
    client: httpx.AsyncClient, admin: dict[str, str], make_product: Callable[..., Any], kitchen: Any
) -> None:
    product = await make_product(kitchen)

    response = await client.delete(_at(product), headers=admin)

    assert response.status_code == 428
    assert (await client.get(_at(product))).status_code == 200


async def test_delete_product_with_stale_etag_answers_412(
    client: httpx.AsyncClient, admin: dict[str, str], make_product: Callable[..., Any], kitchen: Any
) -> None:
    product = await make_product(kitchen)
    stale = (await client.get(_at(product))).headers["ETag"]
    await client.patch(_at(product), json={"name": "Renamed", "version": 1}, headers=admin)

    response = await client.delete(_at(product), headers=admin | {"If-Match": stale})

    assert response.status_code == 412
    assert (await client.get(_at(product))).status_code == 200


async def test_delete_product_unknown_answers_404(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.delete(f"{PRODUCTS}/{UNKNOWN_ID}", headers=admin | {"If-Match": "*"})

    assert response.status_code == 404


async def test_delete_product_with_reserved_units_answers_409_and_keeps_it(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    make_product: Callable[..., Any],
    kitchen: Any,
    sql: Callable[..., Any],
) -> None:
    product = await make_product(kitchen)
    await sql("UPDATE stock SET reserved = 2 WHERE product_id = :id", id=product["id"])

    response = await client.delete(_at(product), headers=admin | {"If-Match": "*"})

    assert response.status_code == 409
    assert "reserved" in response.json()["detail"]
    assert (await client.get(_at(product))).status_code == 200


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"version": MAX_VERSION + 1}, "version"),
        ({"version": 1, "attributes": {"weight": MAX_SAFE_INTEGER + 1}}, "attributes.weight"),
    ],
)
async def test_update_product_out_of_range_number_answers_422_naming_it(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    make_product: Callable[..., Any],
    kitchen: Any,
    changes: dict[str, Any],
    field: str,
) -> None:
    product = await make_product(kitchen)

    response = await client.patch(_at(product), json=changes, headers=admin)

    assert response.status_code == 422, response.text
    fields = [error["field"] for error in response.json()["errors"]]
    # A union names each alternative it tried (attributes.weight.constrained-int, ...bool).
    assert fields
    assert all(name == field or name.startswith(f"{field}.") for name in fields)


async def test_delete_product_overlong_if_match_answers_422_naming_it(
    client: httpx.AsyncClient, admin: dict[str, str], make_product: Callable[..., Any], kitchen: Any
) -> None:
    product = await make_product(kitchen)

    response = await client.delete(_at(product), headers=admin | {"If-Match": "x" * 1000})

    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["header.if-match"]
