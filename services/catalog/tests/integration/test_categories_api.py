"""``/api/v1/categories``: the tree for shoppers; admin create, change and delete."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

CATEGORIES = "/api/v1/categories"
UNKNOWN_ID = str(uuid.UUID(int=42))


def _at(category: dict[str, Any]) -> str:
    return f"{CATEGORIES}/{category['id']}"


def _shape(nodes: list[dict[str, Any]]) -> list[Any]:
    """The tree as ``[slug, [children...]]`` pairs (ids and names left out)."""
    return [[node["slug"], _shape(node["children"])] for node in nodes]


async def test_category_tree_nests_sub_categories_by_name(
    client: httpx.AsyncClient, make_category: Callable[..., Any]
) -> None:
    home = await make_category("home")
    kitchen = await make_category("kitchen", parent=home)
    await make_category("knives", parent=kitchen)
    await make_category("bathroom", parent=home)
    await make_category("garden")

    response = await client.get(CATEGORIES)

    assert response.status_code == 200
    assert _shape(response.json()) == [
        ["garden", []],
        ["home", [["bathroom", []], ["kitchen", [["knives", []]]]]],
    ]


async def test_category_tree_node_has_id_and_name(
    client: httpx.AsyncClient, make_category: Callable[..., Any]
) -> None:
    kitchen = await make_category("kitchen-tools")

    [node] = (await client.get(CATEGORIES)).json()

    assert node == {
        "id": kitchen["id"],
        "name": "Kitchen Tools",
        "slug": "kitchen-tools",
        "children": [],
    }


async def test_create_category_admin_answers_201_with_category(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post(CATEGORIES, json={"name": "Toys", "slug": "toys"}, headers=admin)

    assert response.status_code == 201, response.text
    assert response.json()["slug"] == "toys"
    assert response.json()["parent_id"] is None


async def test_create_category_duplicate_slug_answers_409(
    client: httpx.AsyncClient, admin: dict[str, str], make_category: Callable[..., Any]
) -> None:
    await make_category("toys")

    response = await client.post(CATEGORIES, json={"name": "Other", "slug": "toys"}, headers=admin)

    assert response.status_code == 409
    assert response.json()["title"] == "Slug already in use"


async def test_create_category_unknown_parent_answers_422(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {"name": "Toys", "slug": "toys", "parent_id": UNKNOWN_ID}

    response = await client.post(CATEGORIES, json=body, headers=admin)

    assert response.status_code == 422
    assert response.json()["title"] == "Unknown category"


@pytest.mark.parametrize("slug", ["Toys", "toys_and_games", "-toys", "toys--games", ""])
async def test_create_category_malformed_slug_answers_422(
    client: httpx.AsyncClient, admin: dict[str, str], slug: str
) -> None:
    response = await client.post(CATEGORIES, json={"name": "Toys", "slug": slug}, headers=admin)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "slug"


async def test_update_category_rename_and_move_answers_200(
    client: httpx.AsyncClient, admin: dict[str, str], make_category: Callable[..., Any]
) -> None:
    home = await make_category("home")
    tools = await make_category("tools")

    response = await client.patch(
        _at(tools),
        json={"name": "Hand Tools", "slug": "hand-tools", "parent_id": home["id"]},
        headers=admin,
    )

    assert response.status_code == 200, response.text
    assert {key: response.json()[key] for key in ("name", "slug", "parent_id")} == {
        "name": "Hand Tools",
        "slug": "hand-tools",
        "parent_id": home["id"],
    }


async def test_update_category_same_slug_answers_200(
    client: httpx.AsyncClient, admin: dict[str, str], make_category: Callable[..., Any]
) -> None:
    tools = await make_category("tools")

    response = await client.patch(_at(tools), json={"slug": "tools"}, headers=admin)

    assert response.status_code == 200


async def test_update_category_to_top_level_clears_parent(
    client: httpx.AsyncClient, admin: dict[str, str], make_category: Callable[..., Any]
) -> None:
    home = await make_category("home")
    tools = await make_category("tools", parent=home)

    response = await client.patch(_at(tools), json={"parent_id": None}, headers=admin)

    assert response.json()["parent_id"] is None


async def test_update_category_taken_slug_answers_409(
    client: httpx.AsyncClient, admin: dict[str, str], make_category: Callable[..., Any]
) -> None:
    await make_category("home")
    tools = await make_category("tools")

    response = await client.patch(_at(tools), json={"slug": "home"}, headers=admin)

    assert response.status_code == 409


@pytest.mark.parametrize("field", ["name", "slug"])
async def test_update_category_null_for_required_field_answers_422(
    client: httpx.AsyncClient, admin: dict[str, str], make_category: Callable[..., Any], field: str
) -> None:
    tools = await make_category("tools")

    response = await client.patch(_at(tools), json={field: None}, headers=admin)

    assert response.status_code == 422, response.text


async def test_update_category_unknown_parent_answers_422(
    client: httpx.AsyncClient, admin: dict[str, str], make_category: Callable[..., Any]
) -> None:
    tools = await make_category("tools")

    response = await client.patch(_at(tools), json={"parent_id": UNKNOWN_ID}, headers=admin)

    assert response.status_code == 422


@pytest.mark.parametrize("new_parent", ["home", "kitchen", "knives"])
async def test_update_category_under_itself_or_descendant_answers_409(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    make_category: Callable[..., Any],
    new_parent: str,
) -> None:
    home = await make_category("home")
    kitchen = await make_category("kitchen", parent=home)
    knives = await make_category("knives", parent=kitchen)
    parent_id = {"home": home, "kitchen": kitchen, "knives": knives}[new_parent]["id"]

    response = await client.patch(_at(home), json={"parent_id": parent_id}, headers=admin)

    assert response.status_code == 409
    assert response.json()["title"] == "Category cycle"


async def test_update_category_unknown_answers_404(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.patch(f"{CATEGORIES}/{UNKNOWN_ID}", json={"name": "X"}, headers=admin)

    assert response.status_code == 404
    assert response.json()["title"] == "Category not found"


async def test_delete_category_empty_answers_204_and_leaves_tree(
    client: httpx.AsyncClient, admin: dict[str, str], make_category: Callable[..., Any]
) -> None:
    toys = await make_category("toys")

    response = await client.delete(_at(toys), headers=admin)

    assert response.status_code == 204
    assert (await client.get(CATEGORIES)).json() == []


async def test_delete_category_with_product_answers_409(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    make_category: Callable[..., Any],
    make_product: Callable[..., Any],
) -> None:
    toys = await make_category("toys")
    await make_product(toys)

    response = await client.delete(_at(toys), headers=admin)

    assert response.status_code == 409
    assert response.json()["title"] == "Category in use"


async def test_delete_category_with_sub_category_answers_409(
    client: httpx.AsyncClient, admin: dict[str, str], make_category: Callable[..., Any]
) -> None:
    home = await make_category("home")
    await make_category("kitchen", parent=home)

    response = await client.delete(_at(home), headers=admin)

    assert response.status_code == 409


async def test_delete_category_unknown_answers_404(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.delete(f"{CATEGORIES}/{UNKNOWN_ID}", headers=admin)

    assert response.status_code == 404
