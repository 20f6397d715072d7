"""``link(object, name)``: follow a hypermedia link of an event payload.

The evaluator never does I/O itself; it calls the ``fetch(uri)`` it is
handed.  ``http_fetcher`` builds the default one.  Unlike upstream, which
follows any URI with the stack's credentials (an SSRF and token-leak hole,
BEHAVIOUR.md 9.5), it only reads URIs under one allow-listed base URL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from ._decode import decode_json
from ._errors import Fail
from ._types import Fetch, LinkedMap


def call_link(fetch: Fetch | None, args: list[Any]) -> Any:
    if len(args) != 2:
        raise Fail(f"expect two arguments, got {len(args)}")
    obj, name = args
    links = _links_of(obj)
    if type(name) is not str:
        raise Fail("second parameter must be a string")
    found = [ln for ln in links if isinstance(ln, dict) and ln.get("name") == name]
    if not found:
        raise Fail(f"link '{name}' not defined for object")
    if len(found) > 1:
        raise Fail(f"multiple link '{name}' found for object")
    uri = found[0].get("uri")
    if type(uri) is not str:
        uri = "" if uri is None else str(uri)
    if fetch is None:
        raise Fail("link() is unavailable: no resource fetcher configured")
    try:
        data = fetch(uri)
    except Fail:
        raise
    except Exception as exc:
        raise Fail(getattr(exc, "message", None) or str(exc)) from None
    # Upstream returns a pointer to the decoded map: a var printing it whole
    # shows `&map[...]`.
    return LinkedMap(data) if isinstance(data, dict) else data


def _links_of(obj: Any) -> list[Any]:
    if obj is None:
        return []
    if not isinstance(obj, dict):
        kind = "array" if type(obj) is list else "value"
        raise Fail(f"json: cannot unmarshal {kind} into Go value of type struct")
    links = obj.get("links")
    if links is None:
        return []
    if type(links) is not list:
        raise Fail("json: cannot unmarshal value into Go struct field .links")
    return links


def http_fetcher(
    base_url: str,
    token: str | Callable[[], str] | None = None,
    timeout: float = 2.0,
    client: httpx.Client | None = None,
) -> Fetch:
    """A ``fetch`` that GETs URIs under ``base_url`` and returns their ``data``.

    ``token`` (or a callable returning a fresh one, for OAuth2 expiry) is sent
    as a bearer token, only ever to the allow-listed origin.  The 2 s default
    timeout bounds how long one slow resource can stall event matching.
    """
    base = httpx.URL(base_url)
    if base.scheme not in ("http", "https") or not base.host:
        raise ValueError(f"base_url must be an absolute http(s) URL: {base_url!r}")
    base_path = base.path if base.path.endswith("/") else base.path + "/"
    http = client or httpx.Client(timeout=timeout, follow_redirects=False)

    def origin(url: httpx.URL) -> tuple[str, str, int]:
        return url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80)

    def allowed(url: httpx.URL) -> bool:
        if origin(url) != origin(base):
            return False
        path = url.path if url.path.endswith("/") else url.path + "/"
        return path.startswith(base_path) and "/../" not in path

    def fetch(uri: str) -> Any:
        try:
            url = httpx.URL(uri)
        except httpx.InvalidURL as exc:
            raise Fail(f"reading resource: {uri}: {exc}") from None
        if not allowed(url):
            raise Fail(f"reading resource: {uri}: target not allowed (only {base} is)")
        headers = {"Accept": "application/json"}
        bearer = token() if callable(token) else token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        try:
            resp = http.get(url, headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:
            raise Fail(f"reading resource: {uri}: {exc}") from None
        if resp.status_code >= 400:
            raise Fail(f"unexpected status code when reading resource: {resp.status_code}")
        try:
            body = decode_json(resp.content)
        except ValueError as exc:
            raise Fail(f"decoding resource: {uri}: {exc}") from None
        return body.get("data") if isinstance(body, dict) else None

    return fetch
