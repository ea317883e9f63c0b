"""The envelope every collection endpoint returns.

``{data, total, page, per_page, total_pages}``: 20 items a page by default, 100 at most. Paging
reaches the first ``MAX_PAGE_DEPTH`` items of a collection and no further: a deep ``OFFSET`` makes
the database read and drop every row before it, so one request could cost as much as the whole
table. Beyond that depth the answer is 422; narrow the collection with its filters instead.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PAGE_DEPTH = 10_000
"""Items reachable by paging: ``page * per_page`` may not exceed it."""
MAX_PAGE = MAX_PAGE_DEPTH  # reached only with ``per_page=1``


class PageParams(BaseModel):
    """Validated ``page`` / ``per_page`` query parameters.

    Attributes:
        page: 1-based page number.
        per_page: Items per page, at most ``MAX_PER_PAGE``.
    """

    model_config = ConfigDict(frozen=True)

    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @property
    def offset(self) -> int:
        """Rows to skip before this page."""
        return (self.page - 1) * self.per_page


async def page_params(
    page: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_PAGE,
            description=f"1-based page number; page * per_page may not exceed {MAX_PAGE_DEPTH}",
        ),
    ] = 1,
    per_page: Annotated[
        int, Query(ge=1, le=MAX_PER_PAGE, description=f"Items per page (max {MAX_PER_PAGE})")
    ] = DEFAULT_PER_PAGE,
) -> PageParams:
    """FastAPI dependency reading and validating ``page`` and ``per_page``.

    Raises:
        RequestValidationError: The page starts beyond ``MAX_PAGE_DEPTH`` items (answered 422,
            naming ``query.page``).
    """
    if page * per_page > MAX_PAGE_DEPTH:
        raise RequestValidationError(
            [
                {
                    "type": "less_than_equal",
                    "loc": ("query", "page"),
                    "msg": f"page * per_page must not exceed {MAX_PAGE_DEPTH}; filter instead",
                    "input": page,
                }
            ]
        )
    return PageParams(page=page, per_page=per_page)


Pagination = Annotated[PageParams, Depends(page_params)]


class Page[T](BaseModel):
    """One page of a collection.

    Attributes:
        data: The items on this page.
        total: Items in the whole collection (after filters).
        page: This page's number.
        per_page: Page size used.
        total_pages: Number of pages (0 when the collection is empty).
    """

    data: list[T]
    total: int
    page: int
    per_page: int
    total_pages: int

    @classmethod
    def of(cls, items: list[T], total: int, params: PageParams) -> Page[T]:
        """Build a page from the items of one query and the total count.

        Args:
            items: Items on this page.
            total: Total matching items.
            params: The page request.

        Returns:
            The envelope.
        """
        return cls(
            data=items,
            total=total,
            page=params.page,
            per_page=params.per_page,
            total_pages=math.ceil(total / params.per_page),
        )
