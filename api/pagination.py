"""v2 cursor pagination, interchangeable with upstream's cursors.

A cursor is the URL-safe, unpadded base64 of the JSON query
`{"offset", "order", "pageSize", "filters"}` (Go's field order, no spaces),
e.g. `{"offset":15,"order":0,"pageSize":15,"filters":{"WorkflowID":"","Running":false}}`.
When a cursor is given every other query parameter is ignored: the page
size and the filters come from it.

Strategy: offset, as upstream (a keyset position cannot travel in a cursor
upstream would read). Every list is served by an index in list order, so a
page costs the rows skipped plus the page; benchmarks/api.py measures a deep
page of 100,000 instances.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from api.errors import validation
from streams import codec

DEFAULT_PAGE_SIZE = 15
MAX_PAGE_SIZE = 100
_UINT32_MAX = 2**32 - 1
# Postgres OFFSET is a bigint; a forged cursor beyond it must be a 400, not a 500.
_MAX_OFFSET = 2**62
_GO_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


@dataclass(frozen=True, slots=True)
class PageQuery:
    offset: int
    page_size: int
    filters: Any

    def encode(self, offset: int) -> str:
        body = {"offset": offset, "order": 0, "pageSize": self.page_size, "filters": self.filters}
        text = codec.dumps(body).decode()
        # Go's encoder escapes these HTML characters; a name filter may hold them.
        for char, escaped in _GO_ESCAPES:
            text = text.replace(char, escaped)
        raw = text.encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @property
    def limit(self) -> int:
        """Rows to fetch: one more than the page tells whether there is a next page."""
        return self.page_size + 1

    def filter(self, key: str, kind: type[Any], default: Any) -> Any:
        value = self.filters.get(key, default) if isinstance(self.filters, dict) else default
        return value if isinstance(value, kind) else default


def parse_page_size(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_PAGE_SIZE
    if not value.isascii() or not value.isdigit() or int(value) > _UINT32_MAX:
        raise validation("invalid 'pageSize' query param")
    size = int(value)
    if size == 0:
        return DEFAULT_PAGE_SIZE
    return min(size, MAX_PAGE_SIZE)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def decode_cursor(cursor: str) -> PageQuery:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        body = codec.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise validation("invalid 'cursor' query param") from None
    if not isinstance(body, dict):
        raise validation("invalid 'cursor' query param")
    offset, size = body.get("offset", 0), body.get("pageSize", 0)
    if not (_is_int(offset) and _is_int(size)) or not 0 <= offset <= _MAX_OFFSET or size < 0:
        raise validation("invalid 'cursor' query param")
    filters = body.get("filters")
    if filters is not None and not isinstance(filters, dict):
        raise validation("invalid 'cursor' query param")
    size = min(size, MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE
    return PageQuery(offset=offset, page_size=size, filters=filters)


def page_query(cursor: str | None, page_size: str | None, filters: Any) -> PageQuery:
    """The query of this request: from the cursor if any, else from the parameters."""
    if cursor:
        return decode_cursor(cursor)
    return PageQuery(offset=0, page_size=parse_page_size(page_size), filters=filters)


def cursor_page(query: PageQuery, rows: Sequence[Any]) -> dict[str, Any]:
    """The v2 envelope; `rows` holds up to page_size + 1 items (the +1 means hasMore)."""
    has_more = len(rows) > query.page_size
    cursor: dict[str, Any] = {"pageSize": query.page_size, "hasMore": has_more}
    if query.offset > 0:
        cursor["previous"] = query.encode(max(0, query.offset - query.page_size))
    if has_more:
        cursor["next"] = query.encode(query.offset + query.page_size)
    cursor["data"] = list(rows[: query.page_size])
    return {"cursor": cursor}
