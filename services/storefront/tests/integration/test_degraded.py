"""Basket or ordering down: the pages that need them say so with a retry, the rest still work."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from agora_cli.infra.ports import free_port
from agora_storefront.main import create_app
from services.storefront.tests.integration.conftest import SHOP_URL, MakeSettings
from services.storefront.tests.integration.shop import PASSWORD, Shopper

pytestmark = pytest.mark.integration


async def shopper_without(make_settings: MakeSettings, service: str) -> AsyncIterator[Shopper]:
    """A shopper on a storefront whose ``service`` answers nowhere (a closed port)."""
    app = create_app(make_settings(**{f"{service}_url": f"http://127.0.0.1:{free_port()}"}))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=SHOP_URL) as client:
            yield Shopper(client)


@pytest.fixture
async def no_basket(make_settings: MakeSettings) -> AsyncIterator[Shopper]:
    """A shopper while basket is down."""
    async for shopper in shopper_without(make_settings, "basket"):
        yield shopper


@pytest.fixture
async def no_ordering(make_settings: MakeSettings) -> AsyncIterator[Shopper]:
    """A shopper while ordering is down."""
    async for shopper in shopper_without(make_settings, "ordering"):
        yield shopper


def assert_friendly(page: httpx.Response, service: str) -> None:
    """A 503 page naming ``service``, with a retry link and no trace of the failure."""
    assert page.status_code == 503, f"expected the friendly 503 page, got {page.status_code}"
    assert "text/html" in page.headers["content-type"]
    assert f"{service.capitalize()} is not answering" in page.text, page.text[:400]
    assert "Try again" in page.text
    assert "Traceback" not in page.text


async def test_basket_down_the_basket_page_and_adding_say_so_and_the_shop_still_browses(
    no_basket: Shopper, api: httpx.AsyncClient
) -> None:
    home = await no_basket.get("/")
    assert home.status_code == 200, "browsing needs no basket"
    assert_friendly(await no_basket.get("/basket"), "basket")
    product = (await api.get("/api/v1/products", params={"in_stock": "true"})).json()["data"][0]
    added = await no_basket.htmx("POST", f"/basket/items/{product['id']}", {"quantity": "1"})
    assert added.headers.get("hx-retarget") == "#flash", "the message goes to the flash area"
    assert "Basket is not answering" in added.text


async def test_basket_down_a_customer_still_signs_in(
    no_basket: Shopper, api: httpx.AsyncClient
) -> None:
    email = f"nobasket-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": PASSWORD, "full_name": "Basket Outage"}
    assert (await api.post("/api/v1/auth/register", json=body)).status_code == 201
    page = await no_basket.sign_in(email, PASSWORD)
    assert page.status_code == 200, f"sign-in failed while basket is down: {page.status_code}"
    assert page.url.path == "/", "signed in and sent on, not shown an error page"


async def test_ordering_down_my_orders_say_so(no_ordering: Shopper) -> None:
    await no_ordering.register(f"noorders-{uuid.uuid4().hex[:8]}@example.com")
    assert_friendly(await no_ordering.get("/account/orders"), "ordering")
