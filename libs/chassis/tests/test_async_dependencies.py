"""The thread-pool guard's walker: what FastAPI awaits passes, what goes to a thread is named."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.security import HTTPBearer
from pydantic import BaseModel

from libs.chassis.tests.async_dependencies import dependency_names, sync_dependencies

HERE = __name__


class Filters(BaseModel):
    q: str = ""


class AsyncCallable:
    async def __call__(self, factor: int = 1) -> int:
        return factor


def sync_dependency() -> int:
    return 1


async def async_dependency(factor: int = 1) -> int:
    return factor


async def async_generator_dependency() -> AsyncIterator[int]:
    yield 1


async def async_outer(inner: Annotated[int, Depends(sync_dependency)]) -> int:
    return inner


def async_app() -> FastAPI:
    app = FastAPI()
    router = APIRouter(dependencies=[Depends(async_dependency)])

    @router.get("/items")
    async def items(
        _gen: Annotated[int, Depends(async_generator_dependency)],
        _bearer: Annotated[object, Depends(HTTPBearer(auto_error=False))],
        _callable: Annotated[int, Depends(AsyncCallable())],
        _partial: Annotated[int, Depends(functools.partial(async_dependency, factor=2))],
        _filters: Annotated[Filters, Query()],  # query parameters, not a dependency
    ) -> list[int]:
        return []

    app.include_router(router, prefix="/api")
    return app


def test_sync_dependencies_all_async_app_reports_nothing() -> None:
    app = async_app()

    assert sync_dependencies(app) == []
    assert {f"{HERE}.async_dependency", f"{HERE}.async_generator_dependency"} <= (
        dependency_names(app)
    )


def test_sync_dependencies_names_each_sync_call_with_its_route() -> None:
    app = FastAPI()
    router = APIRouter(dependencies=[Depends(sync_dependency)])

    @router.get("/nested")
    async def nested(_outer: Annotated[int, Depends(async_outer)]) -> None:
        return None

    @router.post("/plain")
    def plain(_filters: Annotated[Filters, Depends()]) -> None:
        return None

    app.include_router(router, prefix="/api")

    assert sync_dependencies(app) == [
        f"GET /api/nested: {HERE}.sync_dependency",
        f"POST /api/plain: {HERE}.test_sync_dependencies_names_each_sync_call_with_its_route"
        ".<locals>.plain",
        f"POST /api/plain: {HERE}.sync_dependency",
        f"POST /api/plain: {HERE}.Filters",  # a model under Depends() is built in a thread too
    ]
