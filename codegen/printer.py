"""Op -> spelling tables (numpy, and plain floats) and a precedence-aware printer."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from symgrad.graph import Node

# Python precedences, loosest first; an operand is parenthesized by these numbers.
COMPARE, SUM, PRODUCT, UNARY, POWER, ATOM = 1, 2, 3, 4, 5, 6

# fmt: off
INFIX: dict[str, tuple[str, int]] = {
    "add": ("+", SUM), "sub": ("-", SUM), "mul": ("*", PRODUCT), "div": ("/", PRODUCT),
    "lt": ("<", COMPARE), "le": ("<=", COMPARE), "gt": (">", COMPARE), "ge": (">=", COMPARE),
}
CALLS: dict[str, str] = {
    "exp": "np.exp({0})", "log": "np.log({0})", "log1p": "np.log1p({0})",
    "expm1": "np.expm1({0})", "sqrt": "np.sqrt({0})", "sin": "np.sin({0})",
    "cos": "np.cos({0})", "tan": "np.tan({0})", "asin": "np.arcsin({0})",
    "acos": "np.arccos({0})", "atan": "np.arctan({0})", "sinh": "np.sinh({0})",
    "cosh": "np.cosh({0})", "tanh": "np.tanh({0})", "abs": "np.abs({0})",
    "sign": "np.sign({0})", "sigmoid": "_sigmoid({0})",
    "softplus": "np.logaddexp(0.0, {0})", "relu": "np.maximum({0}, 0.0)",
    "step": "np.heaviside({0}, 0.0)", "atan2": "np.arctan2({0}, {1})",
    "min": "np.minimum({0}, {1})", "max": "np.maximum({0}, {1})",
    # [()] turns numpy's 0-d result back into a scalar: scalars in, scalars out.
    "where": "np.where({0}, {1}, {2})[()]",
    # two float branches would make the result float64 even for float32 inputs
    "where_constants": "np.where({0}, np.asarray({1}, dtype), {2})[()]",
    "power": "np.power({0}, {1})",
}
# The same ops on Python floats: the math module is ~5x faster than numpy on a
# scalar. A math domain error or an overflow raises, and the generated function
# then falls back to the numpy path, which gives numpy's inf and nan.
FLOAT_CALLS: dict[str, str] = {
    "exp": "math.exp({0})", "log": "math.log({0})", "log1p": "math.log1p({0})",
    "expm1": "math.expm1({0})", "sqrt": "math.sqrt({0})", "sin": "math.sin({0})",
    "cos": "math.cos({0})", "tan": "math.tan({0})", "asin": "math.asin({0})",
    "acos": "math.acos({0})", "atan": "math.atan({0})", "sinh": "math.sinh({0})",
    "cosh": "math.cosh({0})", "tanh": "math.tanh({0})", "abs": "abs({0})",
    "sign": "_sign1({0})", "sigmoid": "_sigmoid1({0})", "softplus": "_softplus1({0})",
    "relu": "_max1({0}, 0.0)", "step": "_step1({0})", "atan2": "math.atan2({0}, {1})",
    "min": "_min1({0}, {1})", "max": "_max1({0}, {1})",
    "where": "({1} if {0} else {2})",  # only the branch taken is evaluated
    "where_constants": "({1} if {0} else {2})",
    "power": "math.pow({0}, {1})",
}
# fmt: on


@dataclass(frozen=True)
class Dialect:
    """How ops are spelled for one kind of argument (numpy values or Python floats)."""

    calls: Mapping[str, str]
    module: str  # where pi, inf and nan come from
    helpers: Mapping[str, str] = field(default_factory=dict)  # op -> helper it needs


NUMPY = Dialect(CALLS, "np", {"sigmoid": "_sigmoid"})
# np.pi, np.inf and np.nan are Python floats, so constants need no float spelling
# of their own: bodies with no calls then read the same in both dialects.
FLOAT = Dialect(
    FLOAT_CALLS,
    "np",
    {
        "sign": "_sign1",
        "sigmoid": "_sigmoid1",
        "softplus": "_softplus1",
        "relu": "_max1",
        "step": "_step1",
        "min": "_min1",
        "max": "_max1",
    },
)


def constant(value: float, dialect: Dialect = NUMPY) -> tuple[str, int]:
    """The exact literal for a float, with its precedence (negative literals are unary)."""
    if math.isnan(value):
        return f"{dialect.module}.nan", ATOM
    if math.isinf(value):
        text = f"{dialect.module}.inf"
        return (text, ATOM) if value > 0 else ("-" + text, UNARY)
    if value == math.pi:
        return f"{dialect.module}.pi", ATOM
    text = repr(value)
    return text, UNARY if text.startswith("-") else ATOM


@dataclass
class _Context:
    names: Mapping[Node, str]
    memo: dict
    dialect: Dialect


def expression(
    node: Node,
    names: Mapping[Node, str],
    memo: dict | None = None,
    dialect: Dialect = NUMPY,
) -> str:
    """The Python text of node, with named nodes as their names."""
    return _print(node, _Context(names, {} if memo is None else memo, dialect))[0]


def definition(
    node: Node,
    names: Mapping[Node, str],
    memo: dict | None = None,
    dialect: Dialect = NUMPY,
) -> str:
    """The right-hand side that defines node: its op spelled out even if node is named.

    memo caches the text of unnamed subexpressions between calls (names win over
    it); one memo serves one dialect.
    """
    return _spell(node, _Context(names, {} if memo is None else memo, dialect))[0]


def _operand(node: Node, ctx: _Context, need: int) -> str:
    text, prec = _print(node, ctx)
    return f"({text})" if prec < need else text


def _print(node: Node, ctx: _Context) -> tuple[str, int]:
    # Recursion is bounded: schedule cuts every statement to a bounded length.
    name = ctx.names.get(node)
    if name is not None:
        return name, ATOM
    printed = ctx.memo.get(node)
    if printed is None:
        printed = ctx.memo[node] = _spell(node, ctx)
    return printed


def _spell(node: Node, ctx: _Context) -> tuple[str, int]:
    op, args = node.op, node.args
    if op == "const":
        return constant(node.attrs[0], ctx.dialect)
    if op in ("add", "sub") and _leads_with_a_negative_constant(args[1], ctx):
        return _flipped_sum(node, ctx)
    if op in INFIX:
        symbol, prec = INFIX[op]
        # comparisons do not chain: both sides of one need their own parentheses
        left_need = prec + 1 if op in ("lt", "le", "gt", "ge") else prec
        left = _operand(args[0], ctx, left_need)
        right = _operand(args[1], ctx, prec + 1)
        return f"{left} {symbol} {right}", prec
    if op == "neg":
        # black writes -(x**2), not -x**2: the same value, clearer precedence
        need = POWER + 1 if args[0].op == "pow" else UNARY
        return f"-{_operand(args[0], ctx, need)}", UNARY
    if op == "pow":
        return _power(node, ctx)
    if op == "where" and args[1].op == args[2].op == "const":
        op = "where_constants"  # a spelling that keeps the inputs' dtype
    return ctx.dialect.calls[op].format(*(_print(a, ctx)[0] for a in args)), ATOM


def _leads_with_a_negative_constant(node: Node, ctx: _Context) -> bool:
    """True for an unnamed product whose leftmost factor is a negative constant."""
    while node.op in ("mul", "div") and node not in ctx.names:
        node = node.args[0]
    return node.op == "const" and node.attrs[0] < 0 and node not in ctx.names


def _flipped_sum(node: Node, ctx: _Context) -> tuple[str, int]:
    # a + -2.0 * x prints as a - 2.0 * x (and a - -2.0 * x as a + 2.0 * x): the
    # same value bit for bit, since IEEE negation is exact and rounding is
    # symmetric, so -(c * x) == (-c) * x and a - y == a + (-y).
    left = _operand(node.args[0], ctx, SUM)
    right = _operand(node.args[1], ctx, SUM + 1)
    symbol = "-" if node.op == "add" else "+"
    return f"{left} {symbol} {right[1:]}", SUM


def _power(node: Node, ctx: _Context) -> tuple[str, int]:
    base, exponent = node.args
    k = exponent.attrs[0] if exponent.op == "const" else None
    if k is not None and math.isfinite(k) and k == int(k) and abs(k) <= 2**31:
        # Integer powers use **; a negative one as a float so integer arrays work.
        literal = str(int(k)) if k >= 0 else repr(k)
        text, prec = _print(base, ctx)
        if prec <= POWER:
            text = f"({text})"
        # black hugs ** only between simple operands (names, numbers, attributes)
        simple = prec == ATOM and (text.replace(".", "").replace("_", "").isalnum())
        return f"{text}**{literal}" if simple else f"{text} ** {literal}", POWER
    b, e = _print(base, ctx)[0], _print(exponent, ctx)[0]
    return ctx.dialect.calls["power"].format(b, e), ATOM
