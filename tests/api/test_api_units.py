"""Pure pieces of the API: cursors and trigger testing."""

from __future__ import annotations

import pytest

from api.errors import ApiError
from api.pagination import PageQuery, cursor_page, decode_cursor, parse_page_size
from api.trigger_test import evaluate_test

pytestmark = pytest.mark.unit

UPSTREAM_EXAMPLE = (
    "eyJvZmZzZXQiOjE1LCJvcmRlciI6MCwicGFnZVNpemUiOjE1LCJmaWx0ZXJzIjp7"
    "IldvcmtmbG93SUQiOiIiLCJSdW5uaW5nIjpmYWxzZX19"
)


def test_cursor_matches_upstream_encoding() -> None:
    query = PageQuery(offset=0, page_size=15, filters={"WorkflowID": "", "Running": False})
    assert query.encode(15) == UPSTREAM_EXAMPLE
    assert decode_cursor(UPSTREAM_EXAMPLE) == PageQuery(
        offset=15, page_size=15, filters={"WorkflowID": "", "Running": False}
    )


def test_cursor_escapes_like_go() -> None:
    encoded = PageQuery(0, 15, {"Name": "<a&b>"}).encode(0)
    import base64

    raw = base64.urlsafe_b64decode(encoded + "==")
    assert (
        raw == b'{"offset":0,"order":0,"pageSize":15,"filters":{"Name":"\\u003ca\\u0026b\\u003e"}}'
    )


def test_page_envelope() -> None:
    query = PageQuery(offset=15, page_size=15, filters=None)
    page = cursor_page(query, list(range(16)))["cursor"]
    assert page["hasMore"] is True
    assert decode_cursor(page["next"]).offset == 30
    assert decode_cursor(page["previous"]).offset == 0
    assert page["data"] == list(range(15))
    last = cursor_page(PageQuery(0, 15, None), [1])["cursor"]
    assert last == {"pageSize": 15, "hasMore": False, "data": [1]}


@pytest.mark.parametrize(("raw", "size"), [(None, 15), ("", 15), ("0", 15), ("7", 7), ("101", 100)])
def test_page_size(raw: str | None, size: int) -> None:
    assert parse_page_size(raw) == size


def test_bad_page_size() -> None:
    with pytest.raises(ApiError):
        parse_page_size("-3")


def test_trigger_test_empty_filter_is_evaluated() -> None:
    # Upstream's test endpoint compiles even an empty filter (and reports it).
    result = evaluate_test("", {}, {})
    assert result["filter"]["match"] is False
    assert result["filter"]["error"]


def test_trigger_test_non_boolean_filter() -> None:
    assert evaluate_test('"yes"', {"v": "1"}, {}) == {"filter": {"match": False}}
