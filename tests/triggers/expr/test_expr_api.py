"""The public surface other packages rely on."""

from __future__ import annotations

import threading

import pytest

from triggers import expr

pytestmark = pytest.mark.unit


def test_compile_returns_program_with_source() -> None:
    prog = expr.compile('event.ledger == "main"')
    assert isinstance(prog, expr.Program)
    assert prog.source == 'event.ledger == "main"'
    assert prog.run({"event": {"ledger": "main"}}) is True
    assert prog.run({"event": {"ledger": "other"}}) is False


def test_env_may_be_any_mapping() -> None:
    from types import MappingProxyType

    prog = expr.compile("event.a + 1")
    assert prog.run(MappingProxyType({"event": {"a": 1.0}})) == 2.0


def test_programs_with_slots_are_thread_safe() -> None:
    prog = expr.compile("let n = event.n; map(1..50, # * n) | sum()")
    errors: list[object] = []

    def worker(n: int) -> None:
        for _ in range(200):
            if prog.run({"event": {"n": n}}) != n * 1275:
                errors.append(n)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
