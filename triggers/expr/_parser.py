"""Precedence-climbing parser mirroring expr-lang's grammar (EXPR.md section 4).

A hand-written parser rather than lark: the grammar has several
context-dependent quirks (chained ``<``, ``not`` binding between ``+`` and
``*``, pipes continuing with the call as left operand, the ``??`` mixing
rule, predicates only in some call positions, ``?.`` chain scopes) that map
one-to-one onto a precedence-climbing loop but need contortions in a
context-free LALR grammar.
"""

from __future__ import annotations

from typing import Final

from . import _ast as syntax
from ._errors import CompileError
from ._lexer import BRACKET, EOF, IDENT, NUMBER, OP, STRING, Token, tokenize

_BINARY: Final[dict[str, tuple[int, bool]]] = {
    # operator: (precedence, right associative)
    "|": (0, False),
    "or": (10, False),
    "||": (10, False),
    "and": (15, False),
    "&&": (15, False),
    "==": (20, False),
    "!=": (20, False),
    "<": (20, False),
    ">": (20, False),
    ">=": (20, False),
    "<=": (20, False),
    "in": (20, False),
    "matches": (20, False),
    "contains": (20, False),
    "startsWith": (20, False),
    "endsWith": (20, False),
    "..": (25, False),
    "+": (30, False),
    "-": (30, False),
    "*": (60, False),
    "/": (60, False),
    "%": (60, False),
    "**": (100, True),
    "^": (100, True),
    "??": (500, False),
}
_UNARY: Final = {"not": 50, "!": 50, "-": 90, "+": 90}
_CHAINED: Final = frozenset({"<", ">", "<=", ">="})
_NEGATABLE: Final = frozenset({"in", "matches", "contains", "startsWith", "endsWith"})

EXPR, PRED, OPTIONAL = 1, 2, 128
# Builtins whose second argument is a predicate; flags per argument.
PREDICATE_BUILTINS: Final[dict[str, tuple[int, ...]]] = {
    "all": (EXPR, PRED),
    "none": (EXPR, PRED),
    "any": (EXPR, PRED),
    "one": (EXPR, PRED),
    "filter": (EXPR, PRED),
    "map": (EXPR, PRED),
    "count": (EXPR, PRED | OPTIONAL),
    "sum": (EXPR, PRED | OPTIONAL),
    "find": (EXPR, PRED),
    "findIndex": (EXPR, PRED),
    "findLast": (EXPR, PRED),
    "findLastIndex": (EXPR, PRED),
    "groupBy": (EXPR, PRED),
    "sortBy": (EXPR, PRED, EXPR | OPTIONAL),
    "reduce": (EXPR, PRED, EXPR | OPTIONAL),
}
_KIND_NAMES: Final = {
    IDENT: "Identifier",
    NUMBER: "Number",
    STRING: "String",
    OP: "Operator",
    BRACKET: "Bracket",
}
_INT64_MAX: Final = 2**63 - 1


def _describe(tok: Token) -> str:
    if tok.kind == EOF:
        return "EOF"
    value = tok.value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{_KIND_NAMES[tok.kind]}("{value}")'


def _is_identifier(word: str) -> bool:
    return bool(word) and not word[0].isdigit() and all(c.isalnum() or c in "_$" for c in word)


class Parser:
    def __init__(self, src: str, builtins: frozenset[str]) -> None:
        self.src = src
        self.toks = tokenize(src)
        self.i = 0
        self.cur = self.toks[0]
        self.depth = 0  # predicate nesting; `#` and `.x` are legal when > 0
        self.builtins = builtins

    # -- token helpers ---------------------------------------------------
    def error(self, message: str, tok: Token | None = None) -> CompileError:
        tok = tok or self.cur
        if tok.kind == EOF and message.startswith("unexpected token"):
            message = "unexpected end of expression"
        return CompileError.at(message, self.src, tok.pos)  # type: ignore[return-value]

    def next(self) -> None:
        if self.cur.kind != EOF:
            self.i += 1
            self.cur = self.toks[self.i]

    def peek_is(self, kind: str, value: str | None = None) -> bool:
        return self.cur.is_(kind, value)

    def expect(self, kind: str, value: str | None = None) -> Token:
        tok = self.cur
        if not tok.is_(kind, value):
            raise self.error(f"unexpected token {_describe(tok)}")
        self.next()
        return tok

    # -- grammar ---------------------------------------------------------
    def parse(self) -> syntax.Node:
        if self.cur.kind == EOF:
            raise self.error("unexpected end of expression")
        node = self.sequence()
        if self.cur.kind != EOF:
            raise self.error(f"unexpected token {_describe(self.cur)}")
        return node

    def sequence(self) -> syntax.Node:
        nodes = [self.expression(0)]
        while self.peek_is(OP, ";"):
            self.next()
            if self.cur.kind == EOF:
                break
            nodes.append(self.expression(0))
        return nodes[0] if len(nodes) == 1 else syntax.Seq(nodes[0].pos, nodes)

    def expression(self, prec: int) -> syntax.Node:
        if prec == 0 and self.peek_is(OP, "let"):
            return self.let()
        if prec == 0 and self.peek_is(OP, "if"):
            return self.if_else()
        left = self.primary()
        prev = ""
        tok = self.cur
        while tok.kind == OP:
            negate = tok.value == "not"
            not_tok = tok
            if negate:
                save = self.i
                self.next()
                if self.cur.value not in _NEGATABLE or self.cur.kind != OP:
                    raise self.error(f"unexpected token {_describe(self.cur)}")
                if _BINARY[self.cur.value][0] < prec:
                    self.i = save
                    self.cur = self.toks[save]
                    break
                tok = self.cur
            spec = _BINARY.get(tok.value)
            if spec is None or spec[0] < prec:
                break
            op_prec, right_assoc = spec
            self.next()
            if tok.value == "|":
                ident = self.expect(IDENT)
                left = self.call(ident, [left])
            elif prev == "??" and tok.value != "??":
                raise self.error(
                    f"Operator ({tok.value}) and coalesce expressions (??) cannot be mixed."
                    " Wrap either by parentheses.",
                    tok,
                )
            elif tok.value in _CHAINED:
                left = self.comparison(left, tok, op_prec)
            else:
                right = self.expression(op_prec if right_assoc else op_prec + 1)
                left = syntax.Binary(tok.pos, tok.value, left, right)
                if negate:
                    left = syntax.Unary(not_tok.pos, "not", left)
            prev = tok.value
            tok = self.cur
        if prec == 0:
            left = self.conditional(left)
        return left

    def comparison(self, left: syntax.Node, tok: Token, prec: int) -> syntax.Node:
        root: syntax.Node | None = None
        while True:
            right = self.expression(prec + 1)
            cmp = syntax.Binary(tok.pos, tok.value, left, right)
            root = cmp if root is None else syntax.Binary(tok.pos, "&&", root, cmp)
            left = right
            tok = self.cur
            if not (tok.kind == OP and tok.value in _CHAINED):
                return root
            self.next()

    def conditional(self, node: syntax.Node) -> syntax.Node:
        while self.peek_is(OP, "?"):
            q = self.cur
            self.next()
            if self.peek_is(OP, ":"):
                self.next()
                then: syntax.Node = node
                other = self.expression(0)
            else:
                then = self.expression(0)
                self.expect(OP, ":")
                other = self.expression(0)
            node = syntax.Cond(q.pos, node, then, other)
        return node

    def let(self) -> syntax.Node:
        start = self.expect(OP, "let")
        name = self.expect(IDENT)
        self.expect(OP, "=")
        value = self.expression(0)
        self.expect(OP, ";")
        body = self.sequence()
        return syntax.Let(start.pos, name.value, value, body)

    def if_else(self) -> syntax.Node:
        start = self.expect(OP, "if")
        cond = self.expression(0)
        self.expect(BRACKET, "{")
        then = self.sequence()
        self.expect(BRACKET, "}")
        self.expect(OP, "else")
        if self.peek_is(OP, "if"):
            other = self.if_else()
        else:
            self.expect(BRACKET, "{")
            other = self.sequence()
            self.expect(BRACKET, "}")
        return syntax.Cond(start.pos, cond, then, other)

    def primary(self) -> syntax.Node:
        tok = self.cur
        if tok.kind == OP and tok.value in _UNARY:
            self.next()
            operand = self.expression(_UNARY[tok.value])
            return self.postfix(syntax.Unary(tok.pos, tok.value, operand))
        if tok.is_(BRACKET, "("):
            self.next()
            inner = self.sequence()
            self.expect(BRACKET, ")")
            return self.postfix(inner)
        if tok.kind == OP and tok.value in ("#", "."):
            if self.depth == 0:
                raise self.error(f"unexpected token {_describe(tok)}")
            name = ""
            if tok.value == "#":
                self.next()
                if self.cur.kind == IDENT and self.cur.pos == tok.pos + 1:
                    name = self.cur.value
                    self.next()
            # `.field` stays current: postfix() reads it as a member of `#`.
            return self.postfix(syntax.Pointer(tok.pos, name))
        return self.postfix(self.secondary())

    def secondary(self) -> syntax.Node:
        tok = self.cur
        if tok.kind == IDENT:
            self.next()
            if tok.value == "true":
                return syntax.Literal(tok.pos, True)
            if tok.value == "false":
                return syntax.Literal(tok.pos, False)
            if tok.value == "nil":
                return syntax.Literal(tok.pos, None)
            if self.peek_is(BRACKET, "("):
                return self.call(tok, [])
            return syntax.Ident(tok.pos, tok.value)
        if tok.kind == NUMBER:
            self.next()
            return syntax.Literal(tok.pos, self.number(tok))
        if tok.kind == STRING:
            self.next()
            return syntax.Literal(tok.pos, tok.value)
        if tok.is_(BRACKET, "["):
            return self.array()
        if tok.is_(BRACKET, "{"):
            return self.map()
        raise self.error(f"unexpected token {_describe(tok)}")

    def number(self, tok: Token) -> int | float:
        text = tok.value.replace("_", "")
        low = text.lower()
        try:
            if low.startswith(("0x", "0o", "0b")):
                value = int(low[2:], {"x": 16, "o": 8, "b": 2}[low[1]])
            elif "." in low or "e" in low:
                fvalue = float(text)
                if fvalue == float("inf"):
                    raise self.error("float literal is too large", tok)
                return fvalue
            else:
                value = int(text, 10)
        except ValueError:
            raise self.error(f"invalid number literal: {tok.value}", tok) from None
        if value > _INT64_MAX:
            raise self.error("integer literal is too large", tok)
        return value

    def call(self, name: Token, args: list[syntax.Node]) -> syntax.Node:
        spec = PREDICATE_BUILTINS.get(name.value)
        if spec is not None:
            self.expect(BRACKET, "(")
            for k, flags in enumerate(spec[len(args) :]):
                if self.peek_is(BRACKET, ")"):
                    if flags & OPTIONAL:
                        break
                    raise self.error(f"expected at least {len(spec) - len(args)} arguments")
                if k > 0:
                    self.expect(OP, ",")
                args.append(self.predicate() if flags & PRED else self.expression(0))
            if self.peek_is(OP, ","):
                self.next()
            self.expect(BRACKET, ")")
            return syntax.Call(name.pos, name.value, args, True)
        builtin = name.value in self.builtins
        args = self.arguments(args)
        return syntax.Call(name.pos, name.value, args, builtin)

    def arguments(self, args: list[syntax.Node]) -> list[syntax.Node]:
        offset = len(args)
        self.expect(BRACKET, "(")
        while not self.peek_is(BRACKET, ")"):
            if len(args) > offset:
                self.expect(OP, ",")
            if self.peek_is(BRACKET, ")"):
                break
            args.append(self.expression(0))
        self.expect(BRACKET, ")")
        return args

    def predicate(self) -> syntax.Node:
        start = self.cur
        braces = self.peek_is(BRACKET, "{")
        if braces:
            self.next()
        self.depth += 1
        if braces:
            body = self.sequence()
        else:
            body = self.expression(0)
            if self.peek_is(OP, ";"):
                raise self.error("wrap predicate with brackets { and }")
        self.depth -= 1
        if braces:
            self.expect(BRACKET, "}")
        return syntax.Predicate(start.pos, body)

    def array(self) -> syntax.Node:
        start = self.expect(BRACKET, "[")
        items: list[syntax.Node] = []
        while not self.peek_is(BRACKET, "]"):
            if items:
                self.expect(OP, ",")
                if self.peek_is(BRACKET, "]"):
                    break
            items.append(self.expression(0))
        self.expect(BRACKET, "]")
        return syntax.ArrayLit(start.pos, items)

    def map(self) -> syntax.Node:
        start = self.expect(BRACKET, "{")
        pairs: list[tuple[syntax.Node, syntax.Node]] = []
        while not self.peek_is(BRACKET, "}"):
            if pairs:
                self.expect(OP, ",")
                if self.peek_is(BRACKET, "}"):
                    break
            tok = self.cur
            key: syntax.Node
            if tok.kind in (NUMBER, STRING, IDENT):
                key = syntax.Literal(tok.pos, tok.value)
                self.next()
            elif tok.is_(BRACKET, "("):
                key = self.expression(0)
            else:
                raise self.error(
                    "a map key must be a quoted string, a number, a identifier,"
                    f" or an expression enclosed in parentheses (unexpected token {_describe(tok)})"
                )
            self.expect(OP, ":")
            pairs.append((key, self.expression(0)))
        self.expect(BRACKET, "}")
        return syntax.MapLit(start.pos, pairs)

    def postfix(self, node: syntax.Node) -> syntax.Node:
        while True:
            tok = self.cur
            if tok.kind == OP and tok.value in (".", "?."):
                optional = tok.value == "?."
                self.next()
                if optional and self.peek_is(BRACKET, "["):
                    node = self.index(node, self.cur, True)
                    continue
                prop = self.cur
                self.next()
                if prop.kind != IDENT and not (prop.kind == OP and _is_identifier(prop.value)):
                    raise self.error("expected name", prop)
                inner = node.inner if isinstance(node, syntax.Chain) else node
                member: syntax.Node = syntax.Member(
                    prop.pos, inner, syntax.Literal(prop.pos, prop.value), optional
                )
                if self.peek_is(BRACKET, "("):
                    member = syntax.Call(prop.pos, prop.value, self.arguments([]), False, member)
                node = (
                    syntax.Chain(prop.pos, member)
                    if isinstance(node, syntax.Chain) or optional
                    else member
                )
            elif tok.is_(BRACKET, "["):
                node = self.index(node, tok, False)
            else:
                return node

    def index(self, node: syntax.Node, bracket: Token, optional: bool) -> syntax.Node:
        self.next()
        lo: syntax.Node | None = None
        hi: syntax.Node | None = None
        if self.peek_is(OP, ":"):
            self.next()
            if not self.peek_is(BRACKET, "]"):
                hi = self.expression(0)
            self.expect(BRACKET, "]")
            return syntax.Slice(bracket.pos, node, None, hi)
        lo = self.expression(0)
        if self.peek_is(OP, ":"):
            self.next()
            if not self.peek_is(BRACKET, "]"):
                hi = self.expression(0)
            self.expect(BRACKET, "]")
            return syntax.Slice(bracket.pos, node, lo, hi)
        self.expect(BRACKET, "]")
        member = syntax.Member(bracket.pos, node, lo, optional)
        return syntax.Chain(bracket.pos, member) if optional else member


def parse(src: str, builtins: frozenset[str]) -> syntax.Node:
    return Parser(src, builtins).parse()
