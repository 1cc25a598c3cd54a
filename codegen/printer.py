"""Op -> numpy spelling tables and a precedence-aware expression printer."""

from __future__ import annotations

import math
from collections.abc import Mapping

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
}
# fmt: on

# Module-level helpers a spelling needs (their text lives in codegen/module.py).
HELPERS_USED: dict[str, str] = {"sigmoid": "_sigmoid"}


def constant(value: float) -> tuple[str, int]:
    """The exact literal for a float, with its precedence (negative literals are unary)."""
    if math.isnan(value):
        return "np.nan", ATOM
    if math.isinf(value):
        return ("np.inf", ATOM) if value > 0 else ("-np.inf", UNARY)
    if value == math.pi:
        return "np.pi", ATOM
    text = repr(value)
    return text, UNARY if text.startswith("-") else ATOM


def expression(node: Node, names: Mapping[Node, str], memo: dict | None = None) -> str:
    """The Python text of node, with named nodes as their names."""
    return _print(node, names, {} if memo is None else memo)[0]


def definition(node: Node, names: Mapping[Node, str], memo: dict | None = None) -> str:
    """The right-hand side that defines node: its op spelled out even if node is named.

    memo caches the text of unnamed subexpressions between calls (names win over it).
    """
    return _spell(node, names, {} if memo is None else memo)[0]


def _operand(node: Node, names: Mapping[Node, str], need: int, memo: dict) -> str:
    text, prec = _print(node, names, memo)
    return f"({text})" if prec < need else text


def _print(node: Node, names: Mapping[Node, str], memo: dict) -> tuple[str, int]:
    # Recursion is bounded: schedule cuts every statement to a bounded length.
    name = names.get(node)
    if name is not None:
        return name, ATOM
    printed = memo.get(node)
    if printed is None:
        printed = memo[node] = _spell(node, names, memo)
    return printed


def _spell(node: Node, names: Mapping[Node, str], memo: dict) -> tuple[str, int]:
    op, args = node.op, node.args
    if op == "const":
        return constant(node.attrs[0])
    if op in INFIX:
        symbol, prec = INFIX[op]
        # comparisons do not chain: both sides of one need their own parentheses
        left_need = prec + 1 if op in ("lt", "le", "gt", "ge") else prec
        left = _operand(args[0], names, left_need, memo)
        right = _operand(args[1], names, prec + 1, memo)
        return f"{left} {symbol} {right}", prec
    if op == "neg":
        # black writes -(x**2), not -x**2: the same value, clearer precedence
        need = POWER + 1 if args[0].op == "pow" else UNARY
        return f"-{_operand(args[0], names, need, memo)}", UNARY
    if op == "pow":
        return _power(node, names, memo)
    return CALLS[op].format(*(_print(a, names, memo)[0] for a in args)), ATOM


def _power(node: Node, names: Mapping[Node, str], memo: dict) -> tuple[str, int]:
    base, exponent = node.args
    k = exponent.attrs[0] if exponent.op == "const" else None
    if k is not None and math.isfinite(k) and k == int(k) and abs(k) <= 2**31:
        # Integer powers use **; a negative one as a float so integer arrays work.
        literal = str(int(k)) if k >= 0 else repr(k)
        text, prec = _print(base, names, memo)
        if prec <= POWER:
            text = f"({text})"
        # black hugs ** only between simple operands (names, numbers, attributes)
        simple = prec == ATOM and (text.replace(".", "").replace("_", "").isalnum())
        return f"{text}**{literal}" if simple else f"{text} ** {literal}", POWER
    b, e = _print(base, names, memo)[0], _print(exponent, names, memo)[0]
    return f"np.power({b}, {e})", ATOM
