"""v2 cursor pagination, interchangeable with upstream's cursors.

A cursor is the URL-safe, unpadded base64 of the JSON query
`{"offset", "order", "pageSize", "filters"}`. When a cursor is given every
other query parameter is ignored: the page size and filters come from it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from api.errors import validation

DEFAULT_PAGE_SIZE = 15
MAX_PAGE_SIZE = 100
_UINT32_MAX = 2**32 - 1


@dataclass(frozen=True, slots=True)
class PageQuery:
    offset: int
    page_size: int
    filters: Any

    def encode(self, offset: int) -> str:
        body = {"offset": offset, "order": 0, "pageSize": self.page_size, "filters": self.filters}
        raw = json.dumps(body, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_page_size(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_PAGE_SIZE
    if not value.isdigit() or int(value) > _UINT32_MAX:
        raise validation("invalid 'pageSize' query param")
    size = int(value)
    if size == 0:
        return DEFAULT_PAGE_SIZE
    return min(size, MAX_PAGE_SIZE)


def page_query(cursor: str | None, page_size: str | None, filters: Any) -> PageQuery:
    """The query of this request: from the cursor if any, else from the parameters."""
    if cursor:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            body = json.loads(base64.urlsafe_b64decode(padded.encode()))
            offset = int(body["offset"])
            size = int(body["pageSize"])
            if offset < 0 or size < 1:
                raise ValueError("negative offset or page size")
            return PageQuery(
                offset=offset, page_size=min(size, MAX_PAGE_SIZE), filters=body.get("filters")
            )
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise validation("invalid 'cursor' query param") from None
    return PageQuery(offset=0, page_size=parse_page_size(page_size), filters=filters)


def cursor_page(query: PageQuery, rows: Sequence[Any]) -> dict[str, Any]:
    """The v2 envelope; `rows` holds up to page_size + 1 items (the +1 means hasMore)."""
    has_more = len(rows) > query.page_size
    cursor: dict[str, Any] = {
        "pageSize": query.page_size,
        "hasMore": has_more,
        "data": list(rows[: query.page_size]),
    }
    if query.offset > 0:
        cursor["previous"] = query.encode(max(0, query.offset - query.page_size))
    if has_more:
        cursor["next"] = query.encode(query.offset + query.page_size)
    return {"cursor": cursor}
