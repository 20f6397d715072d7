"""``link()`` against a real HTTP server on 127.0.0.1 (EXPR.md 1.2, BEHAVIOUR.md 9.5)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from engine.stack import http_fetcher
from triggers import expr

pytestmark = pytest.mark.unit


class _Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        if self.path.startswith("/api/accounts/admin"):
            self._send(200, {"data": {"role": "admin", "balance": 1500}})
        elif self.path.startswith("/api/no-data"):
            self._send(200, {"other": 1})
        elif self.path.startswith("/api/broken"):
            self._send(503, {"error": "down"})
        elif self.path.startswith("/api/not-json"):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>")
        else:
            self._send(404, {"error": "not found"})

    def _send(self, status: int, body: Any) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def event_with(*links: tuple[str, str]) -> dict[str, Any]:
    return {"id": "pay_1", "links": [{"name": n, "uri": u} for n, u in links]}


def run(src: str, event: Any, fetch: expr.Fetch | None) -> Any:
    return expr.compile(src).run({"event": event}, fetch=fetch)


def fail(src: str, event: Any, fetch: expr.Fetch | None) -> str:
    prog = expr.compile(src)
    with pytest.raises(expr.EvalError) as info:
        prog.run({"event": event}, fetch=fetch)
    return info.value.message


def test_link_reads_data_member(server: str) -> None:
    fetch = http_fetcher(server + "/api", token="tok-1")
    event = event_with(("source_account", server + "/api/accounts/admin"))
    assert run('link(event, "source_account").role', event, fetch) == "admin"
    assert run('link(event, "source_account").balance', event, fetch) == 1500.0
    path, auth = _Handler.seen[-1]
    assert path == "/api/accounts/admin"
    assert auth == "Bearer tok-1"


def test_link_whole_object_prints_as_pointer(server: str) -> None:
    fetch = http_fetcher(server + "/api/")
    event = event_with(("acc", server + "/api/accounts/admin"))
    value = run('link(event, "acc")', event, fetch)
    assert expr.format_var(value) == "&map[balance:1500 role:admin]"
    assert _Handler.seen[-1][1] is None  # no token configured, none sent


def test_link_token_callable_is_called_per_request(server: str) -> None:
    tokens = iter(["t1", "t2"])
    fetch = http_fetcher(server + "/api", token=lambda: next(tokens))
    event = event_with(("acc", server + "/api/accounts/admin"))
    run('link(event, "acc").role', event, fetch)
    run('link(event, "acc").role', event, fetch)
    assert [a for _, a in _Handler.seen[-2:]] == ["Bearer t1", "Bearer t2"]


def test_link_missing_data_is_nil(server: str) -> None:
    fetch = http_fetcher(server + "/api")
    event = event_with(("x", server + "/api/no-data"))
    assert run('link(event, "x")', event, fetch) is None


def test_link_http_errors(server: str) -> None:
    fetch = http_fetcher(server + "/api")
    assert fail('link(event, "x")', event_with(("x", server + "/api/broken")), fetch) == (
        "unexpected status code when reading resource: 503"
    )
    assert "404" in fail('link(event, "x")', event_with(("x", server + "/api/nope")), fetch)
    assert "decoding resource" in fail(
        'link(event, "x")', event_with(("x", server + "/api/not-json")), fetch
    )


def test_link_transport_error_names_the_uri() -> None:
    fetch = http_fetcher("http://127.0.0.1:9/api", timeout=0.5)
    uri = "http://127.0.0.1:9/api/thing"
    message = fail('link(event, "x")', event_with(("x", uri)), fetch)
    assert message.startswith(f"reading resource: {uri}: ")


@pytest.mark.parametrize(
    "uri",
    [
        "http://169.254.169.254/latest/meta-data",
        "https://127.0.0.1:{port}/api/accounts/admin",
        "http://127.0.0.1:{port}/other/accounts/admin",
        "http://127.0.0.1:{port}/api/../other",
        "file:///etc/passwd",
        "ftp://127.0.0.1:{port}/api/x",
        "http://localhost:{port}/api/accounts/admin",
    ],
)
def test_link_refuses_targets_outside_the_allow_list(server: str, uri: str) -> None:
    port = server.rsplit(":", 1)[1]
    fetch = http_fetcher(server + "/api", token="secret")
    before = len(_Handler.seen)
    message = fail('link(event, "x")', event_with(("x", uri.format(port=port))), fetch)
    assert "not allowed" in message or "reading resource" in message
    assert len(_Handler.seen) == before  # the request never left


def test_http_fetcher_rejects_bad_base_url() -> None:
    with pytest.raises(ValueError):
        http_fetcher("file:///tmp")


def test_link_without_fetcher_is_a_clear_error() -> None:
    message = fail('link(event, "x")', event_with(("x", "http://h/x")), None)
    assert "no resource fetcher" in message


@pytest.mark.parametrize(
    ("src", "event", "message"),
    [
        ("link(event)", {}, "expect two arguments, got 1"),
        ('link(event, "a", "b")', {}, "expect two arguments, got 3"),
        ("link(event, 1)", event_with(("x", "u")), "second parameter must be a string"),
        ('link(event, "y")', event_with(("x", "u")), "link 'y' not defined for object"),
        ('link(event, "y")', {}, "link 'y' not defined for object"),
        (
            'link(event, "x")',
            event_with(("x", "u"), ("x", "v")),
            "multiple link 'x' found for object",
        ),
    ],
)
def test_link_argument_errors(src: str, event: Any, message: str) -> None:
    def never(uri: str) -> Any:
        raise AssertionError("must not fetch")

    assert fail(src, event, never) == message


def test_custom_fetch_function_errors_become_eval_errors() -> None:
    def boom(uri: str) -> Any:
        raise RuntimeError(f"cannot reach {uri}")

    assert fail('link(event, "x")', event_with(("x", "u1")), boom) == "cannot reach u1"
