"""The gateway's two ways to page a list: ``limit``/``offset`` (page) and an opaque cursor.

Routes take them as dependencies so every list answers the same way::

    @router.get("/photos")
    async def list_photos(page: PageDep) -> ...:
        rows, total = await repo.page(owner, page.limit, page.offset)

* :class:`PageParams` -- ``?limit=50&offset=0`` (``limit`` 1..``MAX_LIMIT``, ``offset``
  0..``MAX_OFFSET``); out-of-range values are a 400 ``{error, details, timestamp}`` (the
  bounds are published in the OpenAPI document as ``minimum``/``maximum``).
* :class:`CursorParams` -- ``?limit=50&cursor=<opaque>``: the cursor is the URL-safe base64 of
  the last row's sort key (e.g. ``created_at|id``) and is answered as ``next_cursor``; a
  cursor that does not decode is a 400. For feeds that grow while they are read.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

from services.gateway.shared.errors import ApiError

__all__ = [
    "MAX_LIMIT",
    "MAX_OFFSET",
    "CursorDep",
    "CursorPage",
    "CursorParams",
    "Page",
    "PageDep",
    "PageParams",
    "decode_cursor",
    "encode_cursor",
]

MAX_LIMIT = 500
"""Largest page a list route returns."""

MAX_OFFSET = 10**9
"""Largest ``offset`` (a database offset must fit a 64-bit integer)."""

T = TypeVar("T")


class PageParams(BaseModel):
    """A validated ``limit``/``offset`` page request."""

    limit: int = Field(50, description="Items per page, 1..500.")
    offset: int = Field(0, description="Items to skip, 0..1000000000.")


async def page_params(
    limit: Annotated[
        int,
        Query(description="Items per page, 1..500.", json_schema_extra={"minimum": 1, "maximum": MAX_LIMIT}),
    ] = 50,
    offset: Annotated[
        int,
        Query(description="Items to skip.", json_schema_extra={"minimum": 0, "maximum": MAX_OFFSET}),
    ] = 0,
) -> PageParams:
    """Dependency: the ``limit``/``offset`` query parameters.

    Raises:
        ApiError: 400 when ``limit`` is outside 1..``MAX_LIMIT`` or ``offset`` outside
            0..``MAX_OFFSET``.
    """
    if not 1 <= limit <= MAX_LIMIT or not 0 <= offset <= MAX_OFFSET:
        raise ApiError(400, "Invalid parameter", f"limit must be 1..{MAX_LIMIT} and offset 0..{MAX_OFFSET}")
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]
"""A route's ``limit``/``offset`` page request."""


class Page(BaseModel, Generic[T]):
    """One page of a list: the items, the total matching count, and the request."""

    items: list[T]
    total: int
    limit: int
    offset: int


def encode_cursor(*parts: str) -> str:
    """An opaque cursor from the last row's sort key parts."""
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[str]:
    """The sort key parts of a cursor from :func:`encode_cursor`.

    Raises:
        ApiError: 400 when the cursor is not one of ours.
    """
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError(400, "Invalid parameter", "cursor is not a cursor this API returned") from None


class CursorParams(BaseModel):
    """A validated cursor page request (``cursor`` None: the first page)."""

    limit: int = 50
    cursor: list[str] | None = None


async def cursor_params(
    limit: Annotated[int, Query(description="Items per page, 1..500.")] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
) -> CursorParams:
    """Dependency: the ``limit``/``cursor`` query parameters.

    Raises:
        ApiError: 400 for a ``limit`` outside 1..``MAX_LIMIT`` or a foreign cursor.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, "Invalid parameter", f"limit must be 1..{MAX_LIMIT}")
    return CursorParams(limit=limit, cursor=decode_cursor(cursor) if cursor else None)


CursorDep = Annotated[CursorParams, Depends(cursor_params)]
"""A route's cursor page request."""


class CursorPage(BaseModel, Generic[T]):
    """One cursor page: the items and the cursor of the next page (None at the end)."""

    items: list[T]
    next_cursor: str | None = None
