"""Each evaluation has a step and memory budget that composes across nesting.

Issue 8 item 5: a nested `any` over ranges ran 9 million steps (~20 s) and
`repeat(repeat(...))` allocated 1 GB.  Exceeding the budget is an EvalError
(a filter error: no match), raised long before the work would finish.
"""

from __future__ import annotations

from typing import Any

import pytest

from triggers import expr

pytestmark = pytest.mark.unit

STEPS = f"expression exceeded its budget of {expr.MAX_STEPS} steps"
MEMORY = f"expression exceeded its memory budget of {expr.MAX_BYTES} bytes"


def fails(src: str, message: str, event: Any = None) -> None:
    prog = expr.compile(src)
    with pytest.raises(expr.EvalError) as info:
        prog.run({"event": event})
    assert info.value.message == message


def test_limits_are_what_the_docs_say() -> None:
    assert expr.MAX_STEPS == 1_000_000
    assert expr.MAX_BYTES == 10_000_000
    assert expr.Budget() == expr.Budget(expr.MAX_STEPS, expr.MAX_BYTES)


def test_nested_any_over_ranges_fails_on_steps() -> None:
    # 3000 * 3000 = 9 million inner steps; the budget stops it after ~1 million.
    fails("any(1..3000, any(1..3000, # < 0))", STEPS)
    fails("any(1..event.n, any(1..event.n, # < 0))", STEPS, {"n": 3000.0})


def test_repeat_of_repeat_fails_on_memory_before_allocating() -> None:
    fails('repeat(repeat("x", 1000000), 1000)', MEMORY)
    fails("len(repeat(repeat(event.s, 1000000), 1000)) > 0", MEMORY, {"s": "x"})


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ('reduce(1..40, #acc + #acc, "x")', MEMORY),  # string doubling
        ("reduce(1..40, [#acc, #acc], [])", STEPS),  # a value sharing its parts
        ("toJSON(reduce(1..40, [#acc, #acc], []))", STEPS),
        ("string(reduce(1..40, [#acc, #acc], []))", STEPS),
        ("let a = reduce(1..40, [#acc, #acc], []); a == a", STEPS),
        ("let a = reduce(1..40, [#acc, #acc], []); 1 in a", STEPS),
        ("let a = reduce(1..40, [#acc, #acc], []); len(flatten(a))", STEPS),
        ('join(map(1..100000, "x"), repeat("y", 1000))', MEMORY),  # glue * n
        ('replace(repeat("a", 100000), "", repeat("b", 1000))', MEMORY),
        ("len(uniq(map(1..5000, [#])))", STEPS),  # lists compare pairwise
        ("count(1..event.n, true)", STEPS),
        ("len(map(1..event.n, [#, #]))", STEPS),
        ('let s = repeat("a", 1000000); count(1..200, s matches "b")', STEPS),  # scans
    ],
)
def test_amplifiers_fail_within_the_budget(src: str, message: str) -> None:
    fails(src, message, {"n": 2_000_000.0})


def test_budget_composes_across_nesting() -> None:
    # n (outer range) + n (map) + n * (n inner range + n count) + n (result) steps.
    n = 100
    prog = expr.compile("map(1..event.n, count(1..event.n, true))")
    env = {"event": {"n": float(n)}}
    exact = 3 * n + 2 * n * n
    assert prog.run(env, budget=expr.Budget(steps=exact)) == [n] * n
    with pytest.raises(expr.EvalError, match=f"budget of {exact - 1} steps"):
        prog.run(env, budget=expr.Budget(steps=exact - 1))


def test_budget_override_raises_or_lowers_the_limits() -> None:
    prog = expr.compile("any(1..1500, any(1..1500, # < 0))")  # 4.5 million steps
    with pytest.raises(expr.EvalError, match="budget of 1000000 steps"):
        prog.run({})
    assert prog.run({}, budget=expr.Budget(steps=5_000_000)) is False
    small = expr.compile("repeat(event.s, 100)")
    assert small.run({"event": {"s": "ab"}}, budget=expr.Budget(memory=200)) == "ab" * 100
    with pytest.raises(expr.EvalError, match="memory budget of 199 bytes"):
        small.run({"event": {"s": "ab"}}, budget=expr.Budget(memory=199))


def test_each_run_starts_with_a_full_budget() -> None:
    prog = expr.compile("count(1..event.n, true)")
    env = {"event": {"n": 450_000.0}}
    for _ in range(3):  # 900,000 steps a run, 2.7 million in all: limits are per run
        assert prog.run(env) == 450_000


def test_constant_folding_over_budget_is_left_for_run_time() -> None:
    prog = expr.compile("len(1..100000000)")  # folding would build 10**8 ints
    with pytest.raises(expr.EvalError, match="budget of 1000000 steps"):
        prog.run({})
    prog = expr.compile('repeat(repeat("x", 1000000), 1000)')
    with pytest.raises(expr.EvalError, match="memory budget"):
        prog.run({})


def test_negative_limits_are_rejected() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        expr.Budget(steps=-1)


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ('any(event.postings, {.destination startsWith "users:"})', True),
        ("count(event.postings, .amount > 10) == 10000", True),
        ("sum(map(event.postings, .amount)) > 0", True),
        ('len(join(map(event.postings, .destination), ",")) > 0', True),
        ("len(uniq(map(event.postings, .destination)))", 10_000),
        ('let p = event.postings; filter(p, .amount > 10)[0].destination == "users:0"', True),
    ],
)
def test_realistic_expressions_on_a_large_event_fit_the_budget(src: str, expected: Any) -> None:
    postings = [{"destination": f"users:{i}", "amount": 100.0} for i in range(10_000)]
    assert expr.compile(src).run({"event": {"postings": postings}}) == expected


def test_a_var_returning_a_large_list_fits_the_budget() -> None:
    # The result is walked (a var formats all of it) and charged: 10,000 steps.
    items = [{"a": float(i)} for i in range(10_000)]
    prog = expr.compile("let xs = event.items; xs")
    assert prog.run({"event": {"items": items}}) is items
