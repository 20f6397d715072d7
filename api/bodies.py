"""Request bodies: decoded strictly, every malformation a 400 `VALIDATION`.

Upstream answers 500 for several malformed bodies (BEHAVIOUR.md 15, row 3);
here the message names what was wrong.
"""

from __future__ import annotations

import math
from typing import Any

import yaml
from fastapi import Request

from api.errors import validation
from streams import codec

YAML_CONTENT_TYPE = "text/vnd.yaml"
# A YAML document may alias one node many times (a "billion laughs" body
# expands exponentially once converted to JSON); the conversion stops here.
_MAX_YAML_NODES = 100_000
# ... and so does the text it holds: a 1 KB string aliased 1,000 times is 1 MB
# of JSON from a 10 KB body. The request bound (1 MiB) is the natural limit.
_MAX_YAML_CHARS = 1_048_576


class _YamlLoader(yaml.SafeLoader):
    """Safe YAML whose timestamps stay strings, as YAML-to-JSON conversion upstream."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def decode_json(body: bytes) -> Any:
    """JSON; an empty body reads as null (as Go decodes nothing into a zero value)."""
    if not body.strip():
        return None
    try:
        value = codec.loads(body)
    except codec.DecodeError as exc:
        raise validation(f"unmarshalling json body: {exc}") from None
    if b"\\u0000" in body:
        _reject_nul(value)
    return value


def _reject_nul(value: Any) -> None:
    """PostgreSQL text and jsonb cannot hold U+0000: refuse it up front (a 400,
    not a database error)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise validation("validating data: strings must not contain NUL (\\u0000)")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


async def json_body(request: Request) -> Any:
    return decode_json(await request.body())


async def workflow_body(request: Request) -> Any:
    """JSON, or YAML when Content-Type is exactly `text/vnd.yaml` (as upstream)."""
    body = await request.body()
    if request.headers.get("content-type") == YAML_CONTENT_TYPE:
        _check_yaml_depth(body)
        try:
            document = yaml.load(body, Loader=_YamlLoader)  # noqa: S506 - a SafeLoader
        except yaml.YAMLError as exc:
            raise validation(f"unmarshalling yaml: {exc}") from None
        except ValueError as exc:  # an integer of more than 4,300 digits
            raise validation(f"unmarshalling yaml: {exc}") from None
        value = _yaml_to_json(document, [0, 0])
        _reject_nul(value)
        return value
    return decode_json(body)


def _check_yaml_depth(body: bytes) -> None:
    """PyYAML composes recursively: ~1,000 levels raise RecursionError (a 500).
    Its parser streams events without recursing, so count the nesting first,
    with the same bound as every JSON decoder."""
    depth = 0
    try:
        for event in yaml.parse(body, Loader=_YamlLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > codec.MAX_DEPTH:
                    raise validation(
                        f"unmarshalling yaml: document nested deeper than {codec.MAX_DEPTH} levels"
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:
        raise validation(f"unmarshalling yaml: {exc}") from None


def _yaml_to_json(value: Any, budget: list[int]) -> Any:
    # budget = [nodes, string characters] so far, aliases counted each time.
    budget[0] += 1
    if isinstance(value, str):
        budget[1] += len(value)
    if budget[0] > _MAX_YAML_NODES or budget[1] > _MAX_YAML_CHARS:
        raise validation("unmarshalling yaml: document too large once aliases are expanded")
    if isinstance(value, dict):
        return {_yaml_key(k): _yaml_to_json(v, budget) for k, v in value.items()}
    if isinstance(value, list):
        return [_yaml_to_json(v, budget) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise validation("unmarshalling workflow data: NaN and infinities are not JSON")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise validation(f"unmarshalling workflow data: unsupported YAML value {type(value).__name__}")


def _yaml_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None or isinstance(key, str | int | float):
        return "null" if key is None else str(key)
    raise validation("unmarshalling workflow data: mapping keys must be scalars")


def string_map(value: Any, what: str) -> dict[str, str]:
    """A JSON object of strings (null reads as empty)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise validation(f"{what}: expected an object of strings, got {_kind(value)}")
    for key, item in value.items():
        if not isinstance(item, str):
            raise validation(f"{what}: value of '{key}' must be a string, got {_kind(item)}")
    return value


def object_body(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise validation(f"{what}: expected a JSON object, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
