"""Vars keep integers beyond 2^53 exact while filters keep Go's float view."""

import pytest

from triggers import expr

pytestmark = pytest.mark.unit

BIG = [2**64, 2**64 + 1, 2**70, -(2**70), 2**70 + 7, 10**30 + 1]


def run_var(source: str, raw: str) -> str:
    exact = expr.ExactInts()
    env = {"event": expr.decode_event(raw, exact)}
    return expr.format_var(expr.compile(source).run(env), exact)


@pytest.mark.parametrize("n", BIG)
def test_a_var_yielding_a_big_amount_prints_every_digit(n: int) -> None:
    assert run_var("event.amount", f'{{"amount": {n}}}') == str(n)


@pytest.mark.parametrize("n", BIG)
def test_big_amounts_inside_lists_and_maps_print_every_digit(n: int) -> None:
    raw = f'{{"postings": [{{"amount": {n}, "asset": "USD/2"}}]}}'
    assert run_var("event.postings[0]", raw) == f"map[amount:{n} asset:USD/2]"
    assert run_var("map(event.postings, .amount)", raw) == f"[{n}]"


def test_without_the_table_vars_format_like_go() -> None:
    # Upstream's output for 2^70 (Go float JSON form, exponent from 1e21).
    env = {"event": expr.decode_event('{"amount": 1180591620717411303424}')}
    assert expr.format_var(expr.compile("event.amount").run(env)) == "1.1805916207174113e+21"


def test_arithmetic_on_a_big_amount_is_a_float_as_upstream() -> None:
    # A computed value is a new float the table does not know: Go's answer.
    assert run_var("event.amount + 1", f'{{"amount": {2**70}}}') == "1.1805916207174113e+21"


def test_filters_still_see_floats() -> None:
    exact = expr.ExactInts()
    event = expr.decode_event(f'{{"amount": {2**64 + 1}}}', exact)
    assert type(event["amount"]) is float
    # 2^64 + 1 rounds to 2^64 as a float64, as in Go.
    assert expr.compile(f"event.amount == {2**63 - 1} * 2.0 + 2").run({"event": event}) is True


@pytest.mark.parametrize("n", [2**53, -(2**53), 12, 1200000])
def test_small_integers_are_not_recorded(n: int) -> None:
    exact = expr.ExactInts()
    expr.decode_event(f'{{"amount": {n}}}', exact)
    assert exact == {}


def test_int64_path_and_beyond_64_bit_path_both_record() -> None:
    # orjson decodes up to 64 bits; beyond that the stdlib path runs.
    exact = expr.ExactInts()
    doc = expr.decode_event(f'{{"a": {2**63 - 1}, "b": {2**65}}}', exact)
    assert sorted(exact.values()) == [2**63 - 1, 2**65]
    assert {exact[id(doc["a"])], exact[id(doc["b"])]} == {2**63 - 1, 2**65}


def test_a_number_too_long_for_int_stays_a_float() -> None:
    exact = expr.ExactInts()
    doc = expr.decode_event('{"a": ' + "9" * 5000 + "}", exact)
    assert doc["a"] == float("inf")
    assert exact == {}


@pytest.mark.parametrize("n", [2**53 + 1, -(2**53 + 1)])
def test_the_first_integers_a_float_cannot_hold_are_recorded(n: int) -> None:
    assert run_var("event.amount", f'{{"amount": {n}}}') == str(n)


def test_a_deeply_nested_event_is_a_value_error_not_a_recursion_error() -> None:
    with pytest.raises(ValueError, match="nested deeper"):
        expr.decode_event("[" * 3000 + "]" * 3000)
