"""Every route's endpoint and dependencies are ``async``: none runs in a worker thread.

FastAPI runs a plain ``def`` endpoint or dependency (a class used as a dependency too) in
Starlette's thread pool: a thread hop and a wake-up of the event loop for each, on every request.
In basket, one such dependency (``basket_service``, which only returned an object) cost each
3-line basket read 270-560 µs of basket's CPU (2,680 against 2,120-2,420 µs a request; ``wrk
-c32``, the process's CPU time from ``/proc``). Nothing in Agora's request path blocks, so
nothing needs a thread: this test lists every synchronous callable reachable from any service's
routes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from agora_basket.main import create_app as basket_app
from agora_basket.settings import BasketSettings
from agora_catalog.main import create_app as catalog_app
from agora_catalog.settings import CatalogSettings
from agora_identity.main import create_app as identity_app
from agora_identity.settings import IdentitySettings
from agora_notification.main import create_app as notification_app
from agora_notification.settings import NotificationSettings
from agora_payment.main import create_app as payment_app
from agora_payment.settings import PaymentSettings
from agora_storefront.main import create_app as storefront_app
from agora_storefront.settings import StorefrontSettings
from agora_testing.grpc_tokens import FixedToken


def _runs_on_the_loop(call: Callable[..., Any]) -> bool:
    """Whether FastAPI awaits ``call`` instead of sending it to the thread pool."""
    target = call.func if isinstance(call, functools.partial) else call
    if inspect.isclass(target):
        return False
    dunder = getattr(target, "__call__", None)  # noqa: B004 - instances with an async __call__
    return any(
        inspect.iscoroutinefunction(each) or inspect.isasyncgenfunction(each)
        for each in (target, dunder)
    )


def _routes(items: Iterable[Any]) -> Iterator[tuple[APIRoute, list[Any]]]:
    """Every ``APIRoute`` of ``items`` (included routers opened), with its include-time deps."""
    for item in items:
        if isinstance(item, APIRoute):
            yield item, []
        elif hasattr(item, "original_router"):
            included = list(item.include_context.dependencies)
            for route, outer in _routes(item.original_router.routes):
                yield route, [*included, *outer]


def _sync_in(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None and not _runs_on_the_loop(dependency.call):
            yield dependency.call
        yield from _sync_in(dependency)


def threaded_callables(app: FastAPI) -> list[str]:
    """``METHOD path: name`` of every endpoint and dependency of ``app`` run in a thread."""
    found = set()
    for route, included in _routes(app.routes):
        where = f"{','.join(sorted(route.methods))} {route.path}"
        calls = [route.endpoint, *_sync_in(route.dependant)]
        calls += [depends.dependency for depends in included]
        for call in calls:
            if not _runs_on_the_loop(call):
                found.add(f"{where}: {getattr(call, '__qualname__', repr(call))}")
    return sorted(found)


def test_no_service_route_runs_code_in_a_worker_thread() -> None:
    apps = {
        "identity": identity_app(IdentitySettings(environment="test")),
        "notification": notification_app(NotificationSettings(environment="test")),
        "catalog": catalog_app(CatalogSettings(environment="test")),
        "basket": basket_app(BasketSettings(environment="test"), tokens=FixedToken("t")),
        "payment": payment_app(PaymentSettings(environment="test")),
        "storefront": storefront_app(StorefrontSettings(environment="test")),
    }

    threaded = {name: threaded_callables(app) for name, app in apps.items()}

    assert threaded == {name: [] for name in apps}, "make these async def: " + repr(threaded)


def _plain() -> int:
    return 1


class _Params:
    pass


async def _nested(value: Annotated[int, Depends(_plain)]) -> int:
    return value


def test_the_guard_reports_sync_endpoints_and_dependencies() -> None:
    app = FastAPI()

    @app.get("/a")
    async def a(
        value: Annotated[int, Depends(_nested)], _params: Annotated[_Params, Depends()]
    ) -> int:
        return value

    @app.get("/b")
    def b() -> int:
        return 2

    assert threaded_callables(app) == [
        "GET /a: _Params",
        "GET /a: _plain",
        "GET /b: test_the_guard_reports_sync_endpoints_and_dependencies.<locals>.b",
    ]
