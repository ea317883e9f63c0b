"""The pagination envelope and its query parameters."""

import httpx
import pytest
from fastapi import FastAPI

from agora_chassis.errors import install_error_handlers
from agora_chassis.pagination import MAX_PER_PAGE, Page, PageParams, Pagination


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
