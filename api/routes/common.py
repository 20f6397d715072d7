"""Helpers shared by the v1 and v2 routers."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from fastapi import Response

from api.pagination import PageQuery, cursor_page
from streams import codec


class Version(StrEnum):
    V1 = "v1"
    V2 = "v2"


def json_response(body: Any, status_code: int = 200) -> Response:
    # Stored documents keep integers beyond 64 bits exactly (event payloads
    # are kept as received): the codec writes them as digits.
    return Response(codec.dumps(body), status_code=status_code, media_type="application/json")


def data(body: Any, status_code: int = 200) -> Response:
    return json_response({"data": body}, status_code)


def no_content() -> Response:
    # Upstream sends Content-Type: application/json even on 204s.
    return Response(status_code=204, media_type="application/json")


def list_response(version: Version, query: PageQuery | None, items: Sequence[Any]) -> Response:
    if version is Version.V1 or query is None:
        return data(list(items))
    return json_response(cursor_page(query, items))


def truthy(value: str | None) -> bool:
    """Upstream's boolean query parameters: `true` or `1`, case-insensitive."""
    return (value or "").lower() in ("true", "1")
