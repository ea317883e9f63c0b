"""The pagination envelope and its query parameters."""

import httpx
import pytest
from fastapi import FastAPI

from agora_chassis.errors import install_error_handlers
from agora_chassis.pagination import (
    MAX_PAGE,
    MAX_PAGE_DEPTH,
    MAX_PER_PAGE,
    Page,
    PageParams,
    Pagination,
)


@pytest.mark.parametrize(
    ("total", "per_page", "pages"), [(0, 20, 0), (1, 20, 1), (20, 20, 1), (21, 20, 2)]
)
def test_page_of_counts_total_pages(total: int, per_page: int, pages: int) -> None:
    page = Page[int].of([], total, PageParams(page=1, per_page=per_page))
    assert page.total_pages == pages


def test_page_params_offset_skips_previous_pages() -> None:
    assert PageParams(page=3, per_page=20).offset == 40


@pytest.fixture
def app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/things")
    async def things(page: Pagination) -> Page[int]:
        items = list(range(page.offset, min(page.offset + page.per_page, 45)))
        return Page[int].of(items, 45, page)

    return app


async def test_pagination_defaults_to_twenty_per_page(app: FastAPI) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        body = (await c.get("/things")).json()
    assert (body["page"], body["per_page"], body["total_pages"], len(body["data"])) == (
        1,
        20,
        3,
        20,
    )


@pytest.mark.parametrize("params", [{"per_page": MAX_PER_PAGE + 1}, {"page": 0}, {"per_page": 0}])
async def test_pagination_out_of_range_is_422(app: FastAPI, params: dict[str, int]) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        assert (await c.get("/things", params=params)).status_code == 422


@pytest.mark.parametrize(
    "params",
    [
        {"page": MAX_PAGE + 1, "per_page": 1},
        {"page": MAX_PAGE_DEPTH // MAX_PER_PAGE + 1, "per_page": MAX_PER_PAGE},
        {"page": 2**63},  # once an OFFSET the database refused with an error
    ],
)
async def test_pagination_beyond_max_depth_is_422_naming_page(
    app: FastAPI, params: dict[str, int]
) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        response = await c.get("/things", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == ["query.page"]


async def test_pagination_last_page_within_max_depth_is_served(app: FastAPI) -> None:
    params = {"page": MAX_PAGE_DEPTH // MAX_PER_PAGE, "per_page": MAX_PER_PAGE}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        response = await c.get("/things", params=params)
    assert response.status_code == 200
    assert response.json()["page"] == MAX_PAGE_DEPTH // MAX_PER_PAGE
