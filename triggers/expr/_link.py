"""``link(object, name)``: follow a hypermedia link of an event payload.

The evaluator never does I/O itself; it calls the ``fetch(uri)`` it is
handed (``engine.stack.http_fetcher`` builds the default one).  Unlike upstream, which
follows any URI with the stack's credentials (an SSRF and token-leak hole,
BEHAVIOUR.md 9.5), it only reads URIs under one allow-listed base URL.
"""

from __future__ import annotations

from typing import Any

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
