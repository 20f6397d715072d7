"""Per-evaluation budget: loop steps and produced bytes, shared by every node.

A filter runs for every inbound event, so one expression must not stall the
consumer: a nested ``any`` over ranges took 9 million steps (~20 s) and
``repeat(repeat(...))`` allocated 1 GB before this budget.  Each run gets
``MAX_STEPS`` steps and ``MAX_BYTES`` bytes in slots 1 and 2 of its frame;
everything that can grow with the data takes from the same two counters, so
nested predicates, ranges and string builders compose:

* a predicate builtin over n elements, a range of n ints, a literal or a
  builtin result of n elements: n steps;
* a string of n characters made by ``+``, ``repeat``, ``join``, ``replace``
  or any builtin: n bytes (``repeat``/``join``/``replace`` are charged before
  they allocate);
* scanning n characters (``matches``, ``contains``): n / 64 steps;
* parsing n characters (``fromJSON``): n bytes;
* walking a nested value (``==``, ``in``, ``toJSON``, ``string``, ``flatten``,
  the program's result before a var formats it): one step per list element
  or map entry it visits, plus the bytes of the strings in it, so a value
  that shares its parts (``reduce(1..40, [#acc, #acc], [])``) is charged
  for what walking it costs, not for what building it did.

Programs without loops, ``let`` or amplifying builtins run without a frame
and pay nothing: their cost is bounded by the expression's size times the
event's.  Constant folding at compile time draws from one budget per
compilation; a node that exceeds it is left for run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ._errors import Fail

# One million steps is ~0.2-0.5 s of Python on one core: far above any
# filter written for Formance events (a few hundred steps), low enough that a
# hostile expression costs less than a slow link() call.
MAX_STEPS: Final = 1_000_000
# 10 MB of produced text (characters, counted as bytes) and parsed JSON:
# ten times the default event size limit (1 MB).
MAX_BYTES: Final = 10_000_000

# Scanning text (`matches`, `contains`) costs one step per 64 characters:
# RE2 reads ~200 MB/s here, so 64 characters take about as long as one
# interpreted step; a scan inside a loop is then charged like the loop is.
SCAN_STEP: Final = 64

STEPS_SLOT: Final = 1
BYTES_SLOT: Final = 2
FIRST_FREE_SLOT: Final = 3  # slot 0 is the link fetcher


@dataclass(frozen=True, slots=True)
class Budget:
    """Limits of one ``Program.run``: loop steps and bytes of produced data."""

    steps: int = MAX_STEPS
    memory: int = MAX_BYTES

    def __post_init__(self) -> None:
        if self.steps < 0 or self.memory < 0:
            raise ValueError("budget limits must be non-negative")


DEFAULT_BUDGET: Final = Budget()


class OverBudget(Fail):
    """The run used up its budget; ``Program.run`` names the limit that was hit."""

    __slots__ = ("kind",)

    def __init__(self, kind: str, pos: int = -1) -> None:
        super().__init__(f"expression exceeded its budget of {kind}", pos)
        self.kind = kind


def exceeded(kind: str, budget: Budget) -> str:
    if kind == "steps":
        return f"expression exceeded its budget of {budget.steps} steps"
    return f"expression exceeded its memory budget of {budget.memory} bytes"


def charge_steps(frame: Any, n: int, pos: int = -1) -> None:
    if frame is None:
        return
    left = frame[STEPS_SLOT] - n
    if left < 0:
        frame[STEPS_SLOT] = 0
        raise OverBudget("steps", pos)
    frame[STEPS_SLOT] = left


def charge_bytes(frame: Any, n: int, pos: int = -1) -> None:
    if frame is None:
        return
    left = frame[BYTES_SLOT] - n
    if left < 0:
        frame[BYTES_SLOT] = 0
        raise OverBudget("bytes", pos)
    frame[BYTES_SLOT] = left


def charge_scan(frame: Any, n: int, pos: int = -1) -> None:
    charge_steps(frame, n // SCAN_STEP, pos)


def charge_result(frame: Any, v: Any, pos: int = -1) -> Any:
    """Charge a freshly built value by its top level (its parts were charged)."""
    t = type(v)
    if t is str:
        charge_bytes(frame, len(v), pos)
    elif t is list or t is dict:
        charge_steps(frame, len(v), pos)
    return v


def charge_walk(frame: Any, v: Any, pos: int = -1) -> None:
    """Charge what walking all of ``v`` costs, stopping as soon as it cannot pay."""
    if frame is None:
        return
    t = type(v)
    if t is not list and not isinstance(v, dict):
        return
    steps = frame[STEPS_SLOT]
    nbytes = frame[BYTES_SLOT]
    stack = [v]
    while stack:
        x = stack.pop()
        items = x.values() if isinstance(x, dict) else x
        steps -= len(items)
        if steps < 0:
            frame[STEPS_SLOT] = 0
            raise OverBudget("steps", pos)
        for item in items:
            ti = type(item)
            if ti is str:
                nbytes -= len(item)
            elif ti is list or isinstance(item, dict):
                stack.append(item)
        if nbytes < 0:
            frame[BYTES_SLOT] = 0
            raise OverBudget("bytes", pos)
    frame[STEPS_SLOT] = steps
    frame[BYTES_SLOT] = nbytes
