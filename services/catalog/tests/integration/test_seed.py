"""Seeding against the real database: idempotent, never overwriting, search-ready, cache-aware."""

from __future__ import annotations

import asyncio
import runpy
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from agora_catalog.repositories.seeding import SeedRepository
from agora_catalog.seed import cli
from agora_catalog.seed.generate import generate
from agora_catalog.seed.load import LoadReport, load_catalogue
from agora_chassis.state import service_state

pytestmark = pytest.mark.integration


async def _load(app: FastAPI, count: int) -> LoadReport:
    async with service_state(app).sessionmaker.begin() as session:
        return await load_catalogue(session, generate(count))


async def _scalar(app: FastAPI, sql: str) -> Any:
    async with service_state(app).sessionmaker() as session:
        return await session.scalar(text(sql))


async def _counts(app: FastAPI) -> dict[str, int]:
    async with service_state(app).sessionmaker() as session:
        return await SeedRepository(session).counts()


@pytest.fixture
def seed_env(
    monkeypatch: pytest.MonkeyPatch, catalog_database_url: str, catalog_redis_url: str
) -> None:
    """The environment ``python -m agora_catalog.seed`` reads, as ``agora seed`` would give it."""
    monkeypatch.setenv("AGORA_DATABASE_URL", catalog_database_url)
    monkeypatch.setenv("AGORA_REDIS_URL", catalog_redis_url)
    monkeypatch.setenv("AGORA_ENVIRONMENT", "test")


async def test_load_catalogue_twice_adds_nothing_the_second_time(app: FastAPI, clean: None) -> None:
    started = time.monotonic()
    first = await _load(app, 1200)
    elapsed = time.monotonic() - started
    after_first = await _counts(app)

    second = await _load(app, 1200)

    assert (first.products_added, first.stock_added, first.categories_added) == (1200, 1200, 61)
    assert (second.products_added, second.stock_added, second.categories_added) == (0, 0, 0)
    assert not second.changed
    assert await _counts(app) == after_first == {"categories": 61, "products": 1200, "stock": 1200}
    assert await _scalar(app, "SELECT count(DISTINCT sku) FROM products") == 1200
    assert elapsed < 30, f"seeding 1,200 products took {elapsed:.1f}s"


async def test_load_catalogue_with_a_larger_count_only_adds_the_new_products(
    app: FastAPI, clean: None
) -> None:
    await _load(app, 100)

    report = await _load(app, 150)

    assert (report.products_added, report.categories_added) == (50, 0)
    assert (await _counts(app))["products"] == 150


async def test_load_catalogue_leaves_what_an_admin_changed(
    app: FastAPI, clean: None, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await _load(app, 20)
    sku = generate(1).products[0].sku
    product = (await client.get(f"/api/v1/products/by-sku/{sku}")).json()
    changes = {"name": "Renamed By Admin", "price": "1.00", "version": product["version"]}
    patched = await client.patch(f"/api/v1/products/{product['id']}", json=changes, headers=admin)
    assert patched.status_code == 200, patched.text
    await client.post(
        f"/api/v1/products/{product['id']}/stock/adjustments", json={"delta": 7}, headers=admin
    )

    await _load(app, 20)

    again = (await client.get(f"/api/v1/products/by-sku/{sku}")).json()
    assert (again["name"], again["price"]) == ("Renamed By Admin", "1.00")
    assert again["available"] == product["available"] + 7


async def test_load_catalogue_builds_a_three_level_tree_shoppers_can_browse(
    app: FastAPI, clean: None, client: httpx.AsyncClient
) -> None:
    await _load(app, 300)

    tree = (await client.get("/api/v1/categories")).json()
    kitchen = next(node for node in tree if node["slug"] == "kitchen")
    in_kitchen = await client.get("/api/v1/products", params={"category": "kitchen"})
    searched = await client.get("/api/v1/products", params={"q": "cast iron"})

    assert len(tree) == 8
    assert {child["slug"] for child in kitchen["children"]} >= {"cookware", "knives-tools"}
    assert any(child["children"] for child in kitchen["children"])
    assert in_kitchen.json()["total"] > 0
    assert searched.json()["total"] > 0
    assert all(
        p["image_url"] == f"/images/products/{p['sku']}.svg" for p in searched.json()["data"]
    )


async def test_seed_repository_empty_inserts_do_nothing(app: FastAPI, clean: None) -> None:
    async with service_state(app).sessionmaker.begin() as session:
        seeds = SeedRepository(session)
        added = (
            await seeds.add_categories([]),
            await seeds.add_products([]),
            await seeds.add_stock({}),
        )

    assert added == (0, 0, 0)


async def test_seed_command_loads_and_retires_cached_lists(
    seed_env: None, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = await client.get("/api/v1/products")  # cached as an empty page
    assert empty.json()["total"] == 0

    code = await asyncio.to_thread(cli.main, ["--count", "25"])  # it runs its own event loop

    assert code == 0
    listed = await client.get("/api/v1/products")
    assert listed.json()["total"] == sum(p.active for p in generate(25).products)
    out = capsys.readouterr().out
    assert "catalog seed: products: 25/25" in out
    assert "25 products and 61 categories added" in out


def _run_module(argv: list[str]) -> object:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.argv", ["python -m agora_catalog.seed", *argv])
        try:
            runpy.run_module("agora_catalog.seed", run_name="__main__")
        except SystemExit as exited:
            return exited.code
    return None


async def test_seed_command_as_a_module_is_idempotent(
    seed_env: None, clean: None, capsys: pytest.CaptureFixture[str]
) -> None:
    first = await asyncio.to_thread(_run_module, ["--count", "5"])
    second = await asyncio.to_thread(_run_module, ["--count", "5"])

    assert (first, second) == (0, 0)
    out = capsys.readouterr().out
    assert "5 products and 61 categories added" in out
    assert "0 products and 0 categories added, 5 products already there" in out


def test_seed_command_refuses_production(
    seed_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGORA_ENVIRONMENT", "production")
    monkeypatch.setenv("AGORA_DATABASE_URL", "postgresql+asyncpg://u:secret@127.0.0.1:1/x")

    assert cli.main([]) == 1
    assert "refusing to load demo data in production" in capsys.readouterr().err


def test_seed_command_reports_invalid_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGORA_ENVIRONMENT", "production")  # with the default database password

    assert cli.main([]) == 1
    assert "invalid settings" in capsys.readouterr().err


def test_seed_command_reports_an_unreachable_database(
    seed_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGORA_DATABASE_URL", "postgresql+asyncpg://u:p@127.0.0.1:9/nowhere")

    assert cli.main(["--count", "1"]) == 1
    assert "catalog seed: failed:" in capsys.readouterr().err


def test_seed_command_refuses_a_negative_count(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--count", "-1"])
    assert "must not be negative" in capsys.readouterr().err


async def test_product_image_of_a_seeded_product(
    app: FastAPI, clean: None, client: httpx.AsyncClient
) -> None:
    await _load(app, 3)
    product = next(p for p in generate(3).products if p.active)

    response = await client.get(product.image_url)

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg ')
    assert f"<title>{product.name}</title>" in response.text
    assert response.headers["cache-control"] == "public, max-age=86400"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_product_image_answers_304_to_its_etag(
    client: httpx.AsyncClient, make_category: Callable[..., Any], make_product: Callable[..., Any]
) -> None:
    product = await make_product(await make_category("mugs"), sku="MUG-1")
    first = await client.get("/images/products/MUG-1.svg")

    again = await client.get(
        "/images/products/MUG-1.svg", headers={"If-None-Match": first.headers["ETag"]}
    )

    assert product["sku"] == "MUG-1"
    assert again.status_code == 304
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.content == b""


async def test_product_image_escapes_markup_in_the_name(
    client: httpx.AsyncClient, make_category: Callable[..., Any], make_product: Callable[..., Any]
) -> None:
    await make_product(await make_category("spices"), sku="SP.1", name="Salt & <b>Pepper</b>")

    response = await client.get("/images/products/SP.1.svg")

    assert response.status_code == 200
    assert "<b>" not in response.text
    assert "Salt &amp; &lt;b&gt;Pepper&lt;/b&gt;" in response.text


@pytest.mark.parametrize("path", ["/images/products/NOPE-1.svg", "/images/products/HIDDEN.svg"])
async def test_product_image_of_an_unknown_or_inactive_product_is_404(
    path: str,
    client: httpx.AsyncClient,
    make_category: Callable[..., Any],
    make_product: Callable[..., Any],
) -> None:
    await make_product(await make_category("misc"), sku="HIDDEN", active=False)

    response = await client.get(path)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
