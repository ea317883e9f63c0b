"""The storefront's app factory (``agora_storefront.main:create_app``, ``--factory``).

Server-rendered pages (Jinja2) with HTMX for the parts that change in place (search suggestions,
add to basket, basket lines, the order's live status). Every page is built from the other
services' REST APIs, called through one chassis ``ServiceClient`` per service (deadline,
retries, breaker; ADR 0017): a service that is down gives a friendly page with a retry link,
never a stack trace. The storefront keeps nothing of its own: the visitor's session is in
cookies (:mod:`agora_storefront.api.deps`). Static files (CSS, htmx from its npm package,
pinned in ``static/vendor/htmx/VERSION.json``) are served from the package itself: no CDN.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from agora_chassis.app import Hook, create_service_app
from agora_chassis.call_policy import CallPolicy
from agora_chassis.microcache import MicroCache
from agora_chassis.service_client import breaker_check
from agora_chassis.state import attach_extras
from agora_storefront.api import (
    account,
    admin_dead_letters,
    admin_products,
    basket,
    checkout,
    operations,
    orders,
    shop,
)
from agora_storefront.api.deps import StorefrontState
from agora_storefront.api.pages import build_templates, install_page_errors
from agora_storefront.services.accounts import Accounts
from agora_storefront.services.backends import Backends
from agora_storefront.settings import StorefrontSettings

STATIC_DIR = Path(__file__).resolve().parent / "static"
ROUTERS = (
    shop.router,
    account.router,
    basket.router,
    checkout.router,
    orders.router,
    operations.router,
    admin_products.router,
    admin_dead_letters.router,
)


def _backends(settings: StorefrontSettings) -> Backends:
    urls = {
        "identity": settings.identity_url,
        "catalog": settings.catalog_url,
        "basket": settings.basket_url,
        "ordering": settings.ordering_url,
        "payment": settings.payment_url,
        "notification": settings.notification_url,
    }
    return Backends.build(urls, CallPolicy.from_settings(settings))


def create_app(settings: StorefrontSettings | None = None) -> FastAPI:
    """Build the storefront.

    Args:
        settings: Settings to use; read from the environment when omitted.

    Returns:
        The application.
    """
    settings = settings or StorefrontSettings()
    backends = _backends(settings)

    async def close(_app: FastAPI) -> None:
        await backends.aclose()

    shutdown: list[Hook] = [close]
    app = create_service_app(
        settings,
        title="Agora storefront",
        routers=list(ROUTERS),
        shutdown=shutdown,
        database=False,
        checks={client.target: breaker_check(client) for client in backends.clients},
    )
    install_page_errors(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    state = StorefrontState(
        settings=settings,
        templates=build_templates(settings.locale, reload=settings.debug),
        backends=backends,
        accounts=Accounts(backends.identity),
        catalog_cache=MicroCache(settings.catalog_cache_seconds),
    )
    attach_extras(app, state)
    return app
