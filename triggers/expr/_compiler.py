"""Type-check the syntax tree and turn it into nested Python closures.

Every closure has the signature ``fn(env, frame)``: ``env`` is the run's
environment mapping and ``frame`` a per-run list of slots (slot 0 is the link
fetcher, the others hold ``let`` variables and predicate state), or None for
programs that need no slots.  Static types are only known for literals and
builtin results (flows compiles without a declared env), which is exactly
what decides whether upstream reports an error at compile time or at run
time; the rules between static types are in _statics.py.  Hot node
shapes (member paths on dicts, comparisons with constants) get dedicated
closures; see _shapes.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from . import _ast as syntax
from . import _calls as calls
from . import _shapes as shapes
from ._budget import FIRST_FREE_SLOT, MAX_BYTES, MAX_STEPS, OverBudget, charge_bytes, charge_walk
from ._builtins import (
    BUILTINS,
    NUMERIC,
    PREDICATE_RESULTS,
    T_ANY,
    T_BOOL,
    T_DURATION,
    T_FLOAT,
    T_INT,
    T_LIST,
    T_MAP,
    T_NIL,
    T_STR,
    T_TIME,
)
from ._errors import ChainNil, CompileError, Fail
from ._link import call_link
from ._predicates import PredicateCall
from ._predicates import build as build_predicate
from ._regex import PatternError, compile_re2
from ._statics import (
    TIMES,
    UNKNOWN,
    arithmetic_result,
    branches_static,
    coalesce_static,
    comparable,
    get_error,
    item_static,
    literal_elem,
    member_error,
    membership_error,
    predicate_error,
    predicate_result,
)
from ._types import Compiled, Fn, Static
from ._values import go_type


def static_type(v: Any) -> str:
    if v is None:
        return T_NIL
    t = type(v)
    if t is bool:
        return T_BOOL
    if t is int:
        return T_INT
    if t is float:
        return T_FLOAT
    if t is str:
        return T_STR
    if t is list:
        return T_LIST
    if isinstance(v, dict):
        return T_MAP
    return T_ANY


def const(v: Any, known: Static | None = None) -> Compiled:
    """A constant; ``known`` is the checker's type for a folded one.

    Folding happens after upstream's checker ran, so a folded value keeps
    the type the checker gave its expression (``first([1]) + "a"`` compiles:
    ``first`` yields an unknown type), not the value's own.
    """

    def fn(env: Mapping[str, Any], frame: Any) -> Any:
        return v

    if known is None:
        return Compiled(fn, static_type(v), v)
    return Compiled(fn, known.typ, v, known.elem)


@dataclass(slots=True)
class _PredScope:
    elem: int
    index: int
    acc: int | None
    item: Static  # the static type of `#`


class Compiler:
    def __init__(self, src: str) -> None:
        self.src = src
        self.nslots = FIRST_FREE_SLOT  # 0: the link fetcher, 1-2: the budget
        self.uses_frame = False
        # Constant folding draws from one budget for the whole compilation.
        self.fold_frame: list[Any] = [None, MAX_STEPS, MAX_BYTES]
        self.lets: list[dict[str, tuple[int, Static]]] = [{}]
        self.preds: list[_PredScope] = []

    def error(self, message: str, pos: int) -> NoReturn:
        raise CompileError.at(message, self.src, pos)

    def slot(self) -> int:
        self.uses_frame = True
        self.nslots += 1
        return self.nslots - 1

    def fold(
        self,
        fn: Fn,
        typ: str,
        parts: list[Compiled],
        pos: int,
        strict: bool = False,
        elem: Static | None = None,
    ) -> Compiled:
        """Evaluate ``fn`` now when all ``parts`` are constants.

        ``typ``/``elem``: the result's static type.  ``strict``: a failure is
        a compile error (upstream's fold step raises it, e.g. ``1 % 0``);
        otherwise the failure is left for run time.
        """
        if all(p.const for p in parts):
            try:
                return const(fn({}, self.fold_frame), Static(typ, elem))
            except OverBudget:
                pass  # left for run time, where it fails within its own budget
            except Fail as exc:
                if strict:
                    self.error(exc.message.removeprefix("runtime error: "), pos)
            except ChainNil:
                pass  # `nil?.x`: the enclosing chain yields nil at run time
        return Compiled(fn, typ, elem=elem)

    # -- dispatch -----------------------------------------------------------
    def compile(self, node: syntax.Node) -> Compiled:
        method = getattr(self, "c_" + type(node).__name__)
        result: Compiled = method(node)
        return result

    def c_Literal(self, node: syntax.Literal) -> Compiled:
        return const(node.value)

    def c_Ident(self, node: syntax.Ident) -> Compiled:
        found = next((sc[node.name] for sc in reversed(self.lets) if node.name in sc), None)
        if found is not None:
            slot, known = found

            def var(env: Mapping[str, Any], frame: Any) -> Any:
                return frame[slot]

            return Compiled(var, known.typ, elem=known.elem)
        if node.name == "$env":

            def whole_env(env: Mapping[str, Any], frame: Any) -> Any:
                return env if isinstance(env, dict) else dict(env)

            # Unknown to upstream's checker, like every env value.
            return Compiled(whole_env, T_ANY)
        return Compiled(shapes.env_lookup(node.name), T_ANY)

    def c_Pointer(self, node: syntax.Pointer) -> Compiled:
        if not self.preds:
            self.error("cannot use pointer accessor outside predicate", node.pos)
        scope = self.preds[-1]
        known = Static(T_INT) if node.name == "index" else UNKNOWN
        if node.name == "":
            slot = scope.elem
            known = scope.item
        elif node.name == "index":
            slot = scope.index
        elif node.name == "acc" and scope.acc is not None:
            slot = scope.acc
        else:
            self.error(f"unknown pointer #{node.name}", node.pos)

        def pointer(env: Mapping[str, Any], frame: Any) -> Any:
            return frame[slot]

        return Compiled(pointer, known.typ, elem=known.elem)

    def c_Unary(self, node: syntax.Unary) -> Compiled:
        operand = self.compile(node.operand)
        op = node.op
        if op in ("not", "!"):
            if operand.typ not in (T_BOOL, T_ANY):
                self.error(f"invalid operation: {op} (mismatched type {operand.typ})", node.pos)
            return self.fold(shapes.logical_not(operand.fn, node.pos), T_BOOL, [operand], node.pos)
        if operand.typ not in (T_INT, T_FLOAT, T_ANY):
            self.error(f"invalid operation: {op} (mismatched type {operand.typ})", node.pos)
        fn = (
            shapes.negate(operand.fn, node.pos)
            if op == "-"
            else shapes.unary_plus(operand.fn, node.pos)
        )
        return self.fold(fn, operand.typ, [operand], node.pos)

    def c_Binary(self, node: syntax.Binary) -> Compiled:
        op = node.op
        if op in ("&&", "and", "||", "or"):
            return self.logical(node)
        left = self.compile(node.left)
        right = self.compile(node.right)
        left_type, right_type = left.typ, right.typ
        pos = node.pos
        if op in ("==", "!="):
            if not comparable(left_type, right_type):
                self.mismatch(op, left_type, right_type, pos)
            return self.fold(shapes.equality(left, right, op == "!="), T_BOOL, [left, right], pos)
        if op in ("<", ">", "<=", ">="):
            groups = (NUMERIC, {T_STR}, {T_TIME}, {T_DURATION})
            self.check(op, left_type, right_type, pos, groups)
            return self.fold(shapes.ordering(left, right, op, pos), T_BOOL, [left, right], pos)
        if op in ("+", "-", "*", "/", "%", "**", "^"):
            # Upstream's fold step fails the compilation only on `%` by zero
            # between integer literals; other constant failures wait for run time.
            strict = op == "%" and _int_literal(node.left) and _int_literal(node.right)
            return self.arithmetic(op, left, right, pos, strict)
        if op == "??":
            known = coalesce_static(left.static, right.static)
            fn = shapes.coalesce(left.fn, right.fn)
            return self.fold(fn, known.typ, [left, right], pos, elem=known.elem)
        if op == "in":
            return self.membership(left, right, node)
        if op in ("contains", "startsWith", "endsWith"):
            self.check(op, left_type, right_type, pos, ({T_STR},))
            return self.fold(
                shapes.string_op(op, left.fn, right.fn, pos), T_BOOL, [left, right], pos
            )
        if op == "matches":
            return self.matches(left, right, pos)
        if op == "..":
            self.check(op, left_type, right_type, pos, ({T_INT},))
            fn = shapes.range_of(left.fn, right.fn, pos)
            folded = self.fold(fn, T_LIST, [left, right], pos, elem=Static(T_INT))
            if not folded.const:
                self.uses_frame = True  # a range's length comes from data: budget it
            return folded
        self.error(f"unknown operator ({op})", pos)

    def mismatch(self, op: str, left_type: str, right_type: str, pos: int) -> NoReturn:
        self.error(f"invalid operation: {op} (mismatched types {left_type} and {right_type})", pos)

    def check(
        self, op: str, left_type: str, right_type: str, pos: int, groups: tuple[Any, ...]
    ) -> None:
        """Upstream's rule: both known -> same group; one known -> in a group."""
        if left_type == T_ANY and right_type == T_ANY:
            return
        if left_type == T_ANY or right_type == T_ANY:
            known = right_type if left_type == T_ANY else left_type
            if any(known in g for g in groups):
                return
        elif any(left_type in g and right_type in g for g in groups):
            return
        self.mismatch(op, left_type, right_type, pos)

    def logical(self, node: syntax.Binary) -> Compiled:
        left = self.compile(node.left)
        right = self.compile(node.right)
        is_and = node.op in ("&&", "and")
        self.check(node.op, left.typ, right.typ, node.pos, ({T_BOOL},))
        # Upstream's constant folding (EXPR.md section 9): `x && false` is false
        # and `x && true` is x itself, without checking that x is a bool.
        if right.const:
            if right.value is (not is_and):
                return const(not is_and)
            return Compiled(left.fn, left.typ)
        if left.const:
            if left.value is (not is_and):
                return const(not is_and)
            return Compiled(right.fn, right.typ)
        return Compiled(shapes.logical(left.fn, right.fn, is_and, node.pos, node.right.pos), T_BOOL)

    def arithmetic(
        self, op: str, left: Compiled, right: Compiled, pos: int, strict: bool
    ) -> Compiled:
        typ = arithmetic_result(op, left.typ, right.typ)
        if typ is None:
            self.mismatch(op, left.typ, right.typ, pos)
        return self.fold(shapes.arithmetic(op, left, right, pos), typ, [left, right], pos, strict)

    def membership(self, left: Compiled, right: Compiled, node: syntax.Binary) -> Compiled:
        pos = node.pos
        problem = membership_error(left.static, right.static)
        if problem is not None:
            self.error(problem, pos)
        items = node.right.items if isinstance(node.right, syntax.ArrayLit) else None
        if items and all(isinstance(i, syntax.Literal) and type(i.value) is str for i in items):
            # Upstream turns an all-string literal list into a hash set.
            keys = frozenset(i.value for i in items if isinstance(i, syntax.Literal))
            return self.fold(shapes.in_string_set(left.fn, keys, pos), T_BOOL, [left], pos)
        return self.fold(shapes.membership(left.fn, right.fn, pos), T_BOOL, [left, right], pos)

    def matches(self, left: Compiled, right: Compiled, pos: int) -> Compiled:
        if right.const and type(right.value) is str:
            try:
                pattern = compile_re2(right.value)
            except PatternError as exc:
                self.error(str(exc), pos)
        self.check("matches", left.typ, right.typ, pos, ({T_STR},))
        if right.const and type(right.value) is str:
            fn = shapes.matches_const(left.fn, pattern, pos)
        else:
            fn = shapes.matches_dynamic(left.fn, right.fn, pos)
        return self.fold(fn, T_BOOL, [left, right], pos)

    # -- access -------------------------------------------------------------
    def c_Member(self, node: syntax.Member) -> Compiled:
        path = shapes.flatten_path(node)
        if path is not None and not self.is_var(path[0]):
            return Compiled(shapes.path_access(path[0], path[1]), T_ANY)
        obj = self.compile(node.obj)
        prop = self.compile(node.prop)
        literal = node.prop.value if isinstance(node.prop, syntax.Literal) else None
        # `nil?.a` too: upstream's checker rejects a field of nil before `?.` applies.
        problem = member_error(obj.typ, prop.typ, literal if type(literal) is str else None)
        if problem is not None:
            self.error(problem, node.pos)
        fn = shapes.member(obj.fn, prop, node.optional, node.pos)
        known = item_static(obj.static)
        return self.fold(fn, known.typ, [obj, prop], node.pos, elem=known.elem)

    def is_var(self, name: str) -> bool:
        return name == "$env" or any(name in scope for scope in self.lets)

    def c_Slice(self, node: syntax.Slice) -> Compiled:
        obj = self.compile(node.obj)
        lo = self.compile(node.lo) if node.lo is not None else None
        hi = self.compile(node.hi) if node.hi is not None else None
        if obj.typ not in (T_ANY, T_LIST, T_STR):
            self.error(f"cannot slice {obj.typ}", node.pos)
        for bound in (lo, hi):
            if bound is not None and bound.typ not in (T_ANY, T_INT):
                self.error(f"non-integer slice index {bound.typ}", node.pos)
        fn = shapes.slice_(obj.fn, lo.fn if lo else None, hi.fn if hi else None, node.pos)
        parts = [p for p in (obj, lo, hi) if p is not None]
        return self.fold(fn, obj.typ, parts, node.pos, elem=obj.elem)

    def c_Chain(self, node: syntax.Chain) -> Compiled:
        inner = self.compile(node.inner)
        return Compiled(shapes.chain(inner.fn), inner.typ, elem=inner.elem)

    # -- calls --------------------------------------------------------------
    def c_Call(self, node: syntax.Call) -> Compiled:
        if node.name in PREDICATE_RESULTS and node.builtin:
            return self.predicate_call(node)
        args = [self.compile(a) for a in node.args]
        if node.builtin and node.name in BUILTINS:
            return self.builtin_call(node, args)
        fns = [a.fn for a in args]
        if node.callee is None and node.name == "link" and not self.is_var("link"):
            self.uses_frame = True
            return Compiled(calls.call_with_fetch(call_link, fns, node.pos), T_ANY)
        callee = node.callee
        if isinstance(callee, syntax.Member) and isinstance(callee.prop, syntax.Literal):
            # `x.Year()`: a method of a time value, else a callable member.
            obj = self.compile(callee.obj)
            fn = calls.method_call(obj.fn, node.name, fns, callee.optional, node.pos)
            return Compiled(fn, T_ANY)
        target = self.compile(callee if callee is not None else syntax.Ident(node.pos, node.name))
        return Compiled(calls.call_value(target.fn, fns, node.pos), T_ANY)

    def builtin_call(self, node: syntax.Call, args: list[Compiled]) -> Compiled:
        spec = BUILTINS[node.name]
        n = len(args)
        if not spec.min_args <= n <= spec.max_args:
            if spec.validated:
                want = str(spec.min_args) if spec.min_args == spec.max_args else "more"
                self.error(f"invalid number of arguments (expected {want}, got {n})", node.pos)
            few = "not enough" if n < spec.min_args else "too many"
            self.error(f"{few} arguments to call {node.name}", node.pos)
        if spec.first is not None:
            checked = args if spec.max_args > 2 else args[:1]
            for a in checked:
                # nil is left to run time, as upstream's validators do; so are
                # times, whose Go kinds (a struct, an int64) are not modelled.
                if a.typ not in (T_ANY, T_NIL) and a.typ not in TIMES and a.typ not in spec.first:
                    self.error(f"invalid argument for {node.name} (type {a.typ})", node.pos)
        typ = args[0].typ if spec.result == "same" else spec.result
        elem = Static(spec.elem) if spec.elem is not None else None
        if node.name == "get":
            self.check_get(node, args)
            known = item_static(args[0].static)
            typ, elem = known.typ, known.elem
        if spec.pre is not None:
            self.uses_frame = True  # its cost can outgrow its inputs: give it a budget
        pre = spec.pre or (_charge_walks if spec.walks else None)
        # A pre-charge already counted the result; others pay for what they return.
        grows = spec.pre is None and typ in (T_STR, T_LIST, T_MAP, T_ANY)
        fn = calls.call_builtin(spec.fn, [a.fn for a in args], node.pos, pre, grows)
        if not spec.pure:
            return Compiled(fn, typ, elem=elem)
        return self.fold(fn, typ, args, node.pos, elem=elem)

    def check_get(self, node: syntax.Call, args: list[Compiled]) -> None:
        problem = get_error(args[0].typ, args[1].typ)
        if problem is not None:
            message, at_key = problem
            self.error(message, node.args[1 if at_key else 0].pos)

    def predicate_call(self, node: syntax.Call) -> Compiled:
        lst = self.compile(node.args[0])
        if lst.typ not in (T_ANY, T_LIST):
            self.error(f"builtin {node.name} takes only array (got {lst.typ})", node.pos)
        acc = self.slot() if node.name == "reduce" else None
        scope = _PredScope(self.slot(), self.slot(), acc, item_static(lst.static))
        pred: Compiled | None = None
        if len(node.args) > 1:
            pnode = node.args[1]
            body = pnode.body if isinstance(pnode, syntax.Predicate) else pnode
            self.preds.append(scope)
            self.lets.append({})
            try:
                pred = self.compile(body)
            finally:
                self.preds.pop()
                self.lets.pop()
            problem = predicate_error(node.name, pred.static)
            if problem is not None:
                self.error(problem, pnode.pos)
        extra = self.compile(node.args[2]) if len(node.args) > 2 else None
        call = PredicateCall(
            name=node.name,
            pos=node.pos,
            items=lst.fn,
            pred=pred.fn if pred else None,
            extra=extra.fn if extra else None,
            elem=scope.elem,
            index=scope.index,
            acc=scope.acc or 0,
        )
        known = predicate_result(node.name, lst.static, pred.static if pred else None)
        return Compiled(build_predicate(call), known.typ, elem=known.elem)

    # -- structure ----------------------------------------------------------
    def c_ArrayLit(self, node: syntax.ArrayLit) -> Compiled:
        items = [self.compile(i) for i in node.items]
        fn = calls.array([i.fn for i in items])
        return self.fold(fn, T_LIST, items, node.pos, elem=literal_elem(items))

    def c_MapLit(self, node: syntax.MapLit) -> Compiled:
        # Upstream checks no key type: a computed key that is not a string
        # fails at run time, even `{(1): 2}`.
        pairs = [(self.compile(k), self.compile(v)) for k, v in node.pairs]
        flat = [c for pair in pairs for c in pair]
        fn = calls.map_literal([(k.fn, v.fn) for k, v in pairs], node.pos)
        return self.fold(fn, T_MAP, flat, node.pos)

    def c_Cond(self, node: syntax.Cond) -> Compiled:
        cond = self.compile(node.cond)
        if cond.typ not in (T_BOOL, T_ANY):
            self.error(f"non-bool expression (type {cond.typ}) used as condition", node.pos)
        elvis = node.then is node.cond
        then = cond if elvis else self.compile(node.then)
        other = self.compile(node.other)
        known = branches_static(then.static, other.static)
        if cond.const:
            taken = then if cond.value is True else other
            return Compiled(taken.fn, known.typ, taken.value, known.elem)
        fn = calls.conditional(cond.fn, then.fn, other.fn, elvis, node.pos)
        return Compiled(fn, known.typ, elem=known.elem)

    def c_Let(self, node: syntax.Let) -> Compiled:
        if node.name in BUILTINS or node.name in PREDICATE_RESULTS:
            self.error(f"cannot redeclare builtin {node.name}", node.pos)
        if self.is_var(node.name):
            self.error(f"cannot redeclare variable {node.name}", node.pos)
        value = self.compile(node.value)
        slot = self.slot()
        self.lets[-1][node.name] = (slot, value.static)
        try:
            body = self.compile(node.body)
        finally:
            del self.lets[-1][node.name]
        return Compiled(calls.let(slot, value.fn, body.fn), body.typ, elem=body.elem)

    def c_Seq(self, node: syntax.Seq) -> Compiled:
        items = [self.compile(i) for i in node.items]
        return Compiled(calls.sequence([i.fn for i in items]), items[-1].typ, elem=items[-1].elem)

    def c_Predicate(self, node: syntax.Predicate) -> Compiled:
        self.error("unexpected predicate", node.pos)


def _charge_walks(frame: Any, args: list[Any], pos: int) -> None:
    for a in args:
        if type(a) is str:
            charge_bytes(frame, len(a), pos)
        else:
            charge_walk(frame, a, pos)


def _int_literal(node: syntax.Node) -> bool:
    """An integer literal once upstream's fold step ran (``-2``, ``3 * 4``)."""
    if isinstance(node, syntax.Literal):
        return type(node.value) is int
    if isinstance(node, syntax.Unary):
        return node.op in ("-", "+") and _int_literal(node.operand)
    if isinstance(node, syntax.Binary):
        return (
            node.op in ("+", "-", "*", "%") and _int_literal(node.left) and _int_literal(node.right)
        )
    return False


__all__ = ["Compiled", "Compiler", "Fn", "go_type"]
