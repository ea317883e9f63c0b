"""The operator pages (admin role) against the real services of a private stack: who may see
them, the services' health, the order search, and a product's price and stock."""

from __future__ import annotations

import datetime as dt
import html as html_text
import re
import uuid

import httpx
import pytest
from asgi_lifespan import LifespanManager

from agora_cli.infra.ports import free_port
from agora_storefront.main import create_app
from services.storefront.tests.integration.arrange import ADDRESS
from services.storefront.tests.integration.arrange import admin_headers as admin
from services.storefront.tests.integration.arrange_operator import (
    customer,
    new_product,
    place_order,
)
from services.storefront.tests.integration.conftest import SHOP_URL, MakeSettings
from services.storefront.tests.integration.shop import ADMIN_EMAIL, ADMIN_PASSWORD, Shopper
from tests.system.stack import AgoraRun

pytestmark = pytest.mark.integration

SERVICES = ("identity", "catalog", "basket", "ordering", "payment", "notification")
ETAG_FIELD = re.compile(r'name="etag" value="([^"]+)"')
STALE = "changed by someone else since you opened it; nothing was saved"


@pytest.fixture
async def operator(shopper: Shopper) -> Shopper:
    """A browser session signed in as the seeded admin."""
    await shopper.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD)
    return shopper


def service_row(html: str, name: str) -> str:
    """The health table's row of one service (fails when the page has none)."""
    found = re.search(rf'<tr id="service-{name}">(.*?)</tr>', html, re.DOTALL)
    assert found, f"no health row for {name}"
    return found.group(1)


def etag_on(html: str) -> str:
    """The product's ETag the price form carries."""
    found = ETAG_FIELD.search(html)
    assert found, "the price form carries no ETag"
    return html_text.unescape(found.group(1))  # as a browser decodes the attribute


async def test_a_guest_is_sent_to_sign_in_and_a_customer_gets_the_403_page(
    shopper: Shopper,
) -> None:
    for path in ("/admin", "/admin/orders", "/admin/products", "/admin/dead-letters"):
        answer = await shopper.client.get(path)
        assert answer.status_code == 303, f"{path} answered {answer.status_code} to a guest"
        assert answer.headers["location"] == f"/login?next={path}"
    await shopper.register(f"customer-{uuid.uuid4().hex[:10]}@example.com")
    refused = await shopper.get("/admin/orders")
    assert refused.status_code == 403
    assert "The operator pages are for administrators." in refused.text
    assert 'href="/admin"' not in refused.text, "no Operations link for a customer"
    post = await shopper.post("/admin/products/00000000-0000-0000-0000-000000000001/stock")
    assert post.status_code == 403, "a customer cannot change stock either"


async def test_the_admin_sees_every_service_ready_and_the_mail_sink(
    operator: Shopper, stack: AgoraRun
) -> None:
    page = await operator.get("/admin")
    assert page.status_code == 200
    assert '<a href="/admin">Operations</a>' in page.text
    assert '<a href="/admin" aria-current="page">Health</a>' in page.text
    for name in SERVICES:
        row = service_row(page.text, name)
        assert 'class="health-status ok">ok<' in row, f"{name} is not shown ready: {row}"
        assert 'class="breaker closed">closed<' in row, f"{name}'s breaker is not closed: {row}"
        assert '<span class="check-name">database</span>' in row, f"{name} shows no checks"
    assert f'href="{stack.operator_url}/mail"' in page.text
    assert "loopback operator entrypoint only" in page.text


async def test_a_service_that_does_not_answer_is_shown_down_and_named(
    make_settings: MakeSettings,
) -> None:
    app = create_app(make_settings(catalog_url=f"http://127.0.0.1:{free_port()}"))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=SHOP_URL) as client:
            browser = Shopper(client)
            # Straight to /admin: the home page would call catalog (and count towards its breaker).
            login = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "next": "/admin"}
            assert "Sign out" in (await browser.post("/login", login)).text, "admin sign-in"
            for _ in range(BREAKER_THRESHOLD + 1):
                page = await browser.get("/admin")
            letters = await browser.get("/admin/dead-letters")
    assert page.status_code == 200, "the health page loads while a service is down"
    catalog = service_row(page.text, "catalog")
    assert 'class="health-status down">down<' in catalog
    assert "not answering" in catalog
    assert 'class="breaker closed"' in catalog, "health probes never open the shoppers' breaker"
    assert 'class="health-status ok">ok<' in service_row(page.text, "ordering")
    assert letters.status_code == 200, "the other services' dead letters are still listed"
    assert "catalog did not answer: its dead letters are not listed." in letters.text


BREAKER_THRESHOLD = 5  # the chassis's default: failed calls in a row that open a breaker


@pytest.fixture
async def placed(api: httpx.AsyncClient) -> tuple[str, str, str]:
    """An order placed through the API: (order id, customer e-mail, customer id)."""
    product = await new_product(api, on_hand=10, price="10.00")
    buyer = await customer(api, "ops-order")
    return await place_order(api, buyer, product), buyer.email, buyer.user_id


async def test_order_search_finds_an_order_placed_through_the_api(
    operator: Shopper, placed: tuple[str, str, str]
) -> None:
    order_id, email, user_id = placed
    today = dt.datetime.now(dt.UTC).date().isoformat()
    by_email = await operator.get("/admin/orders", params={"customer": email})
    by_id = await operator.get(
        "/admin/orders", params={"customer": user_id, "placed_from": today, "placed_to": today}
    )
    cancelled = await operator.get(
        "/admin/orders", params={"customer": email, "status": "cancelled"}
    )
    assert by_email.status_code == 200
    assert f'href="/admin/orders/{order_id}"' in by_email.text, "found by e-mail"
    assert "1 order<" in by_email.text
    assert f'href="/admin/orders/{order_id}"' in by_id.text, "found by user id and day"
    assert f'href="/admin/orders/{order_id}"' not in cancelled.text, "the status filters"
    assert "0 orders" in cancelled.text


async def test_the_order_page_shows_lines_totals_address_and_timeline(
    operator: Shopper, placed: tuple[str, str, str]
) -> None:
    order_id, _email, user_id = placed
    page = await operator.get(f"/admin/orders/{order_id}")
    assert page.status_code == 200
    assert f"Order {order_id}" in page.text
    assert "Operator test lamp" in page.text
    assert "€10.00" in page.text, "the unit price"
    assert "€20.00" in page.text, "the total of two units"
    assert ADDRESS["street"] in page.text
    assert user_id in page.text
    assert re.search(
        r"<time datetime=\"[^\"]+\">[^<]+</time> — <strong>pending</strong>", page.text
    )


async def test_bad_order_filters_say_what_is_wrong(operator: Shopper) -> None:
    unknown = await operator.get("/admin/orders", params={"customer": "nobody@example.com"})
    backwards = await operator.get(
        "/admin/orders", params={"placed_from": "2024-02-02", "placed_to": "2024-02-01"}
    )
    assert "No customer has the e-mail address “nobody@example.com”." in unknown.text
    assert "placed_to is before placed_from" in backwards.text


async def test_a_price_change_succeeds_and_a_stale_etag_is_refused(
    operator: Shopper, api: httpx.AsyncClient
) -> None:
    product_id = await new_product(api, on_hand=5, price="10.00")
    found = await operator.get("/admin/products", params={"q": "Operator test lamp"})
    assert f'href="/admin/products/{product_id}"' in found.text, "the search lists the product"
    form = await operator.get(f"/admin/products/{product_id}")
    seen = etag_on(form.text)

    changed = await operator.post(
        f"/admin/products/{product_id}/price", {"price": "12.50", "etag": seen}
    )
    assert changed.status_code == 200
    assert "The price is changed." in changed.text
    assert "€12.50" in changed.text
    stale = await operator.post(
        f"/admin/products/{product_id}/price", {"price": "9.99", "etag": seen}
    )
    assert stale.status_code == 409
    assert STALE in stale.text
    assert "Here is the current value" in stale.text
    assert 'class="current-price">€12.50<' in stale.text
    assert etag_on(stale.text) != seen, "the form now carries the current ETag"
    stored = (await api.get(f"/api/v1/products/{product_id}")).json()
    assert stored["price"] == "12.50", "the stale change was not saved"


async def test_a_price_that_is_not_a_number_is_refused(
    operator: Shopper, api: httpx.AsyncClient
) -> None:
    product_id = await new_product(api, on_hand=1)
    form = await operator.get(f"/admin/products/{product_id}")
    typed = await operator.post(
        f"/admin/products/{product_id}/price", {"price": "ten", "etag": etag_on(form.text)}
    )
    assert typed.status_code == 400
    assert "Enter a price" in typed.text


async def test_a_stock_adjustment_changes_availability(
    operator: Shopper, api: httpx.AsyncClient
) -> None:
    product_id = await new_product(api, on_hand=5)
    before = await operator.get(f"/admin/products/{product_id}")
    assert '<td class="num" id="available">5</td>' in before.text

    added = await operator.post(
        f"/admin/products/{product_id}/stock", {"delta": "7", "reason": "delivery"}
    )
    too_many = await operator.post(f"/admin/products/{product_id}/stock", {"delta": "-100"})

    assert added.status_code == 200
    assert "The stock is adjusted." in added.text
    assert '<td class="num" id="on-hand">12</td>' in added.text
    assert '<td class="num" id="available">12</td>' in added.text
    stock = (await api.get(f"/api/v1/products/{product_id}/stock", headers=await admin(api))).json()
    assert stock["available"] == 12, f"catalog's stock after the adjustment: {stock}"
    assert too_many.status_code == 400
    assert "cannot remove 100" in too_many.text


async def test_an_operator_form_without_the_csrf_token_is_refused(
    operator: Shopper, api: httpx.AsyncClient
) -> None:
    product_id = await new_product(api, on_hand=5)
    forged = await operator.client.post(f"/admin/products/{product_id}/stock", data={"delta": "1"})
    assert forged.status_code == 403
    stock = (await api.get(f"/api/v1/products/{product_id}/stock", headers=await admin(api))).json()
    assert stock["on_hand"] == 5, "nothing changed"
