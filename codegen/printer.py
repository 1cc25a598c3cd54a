"""Op -> spelling tables (numpy, and plain floats) and a precedence-aware printer."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from symgrad.graph import Node, make
from symgrad.shapes import split

# Python precedences, loosest first; an operand is parenthesized by these numbers.
COMPARE, SUM, PRODUCT, UNARY, POWER, ATOM = 1, 2, 3, 4, 5, 6

# fmt: off
INFIX: dict[str, tuple[str, int]] = {
    "add": ("+", SUM), "sub": ("-", SUM), "mul": ("*", PRODUCT), "div": ("/", PRODUCT),
    "lt": ("<", COMPARE), "le": ("<=", COMPARE), "gt": (">", COMPARE), "ge": (">=", COMPARE),
    "matmul": ("@", PRODUCT),
}
CALLS: dict[str, str] = {
    "exp": "np.exp({0})", "log": "np.log({0})", "log1p": "np.log1p({0})",
    "expm1": "np.expm1({0})", "sqrt": "np.sqrt({0})", "sin": "np.sin({0})",
    "cos": "np.cos({0})", "tan": "np.tan({0})", "asin": "np.arcsin({0})",
    "acos": "np.arccos({0})", "atan": "np.arctan({0})", "sinh": "np.sinh({0})",
    "cosh": "np.cosh({0})", "tanh": "np.tanh({0})", "abs": "np.abs({0})",
    "sign": "np.sign({0})", "sigmoid": "_sigmoid({0})",
    "softplus": "_softplus({0})", "relu": "np.maximum({0}, 0.0)",
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


NUMPY = Dialect(
    CALLS,
    "np",
    {
        "sigmoid": "_sigmoid",
        "softplus": "_softplus",
        "logsumexp": "_logsumexp",
        "softmax": "_softmax",
        "banded": "_banded",
        "band_times": "_band_times",
    },
)
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
class Context:
    """What printing reads: the names of named nodes, the memo and the dialect."""

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
    return _print(node, Context(names, {} if memo is None else memo, dialect))[0]


def expression_of(
    names: Mapping[Node, str], memo: dict | None = None, dialect: Dialect = NUMPY
) -> Callable[[Node], str]:
    """expression(node, names, memo, dialect) as a function of node.

    One context for all of a function's outputs, not one an output (2,000 entries
    of a Hessian).
    """
    ctx = Context(names, {} if memo is None else memo, dialect)
    return lambda node: _print(node, ctx)[0]


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
    return _spell(node, Context(names, {} if memo is None else memo, dialect))[0]


def spelled(node: Node, ctx: Context) -> tuple[str, int]:
    """node's definition and its precedence, remembered in ctx.memo for its users.

    The memo entry is what printing node unnamed gives, so it stays right if node
    is named later: names win over the memo.
    """
    printed = ctx.memo[node] = _SPELLINGS.get(node.op, _call)(node, ctx)  # _spell
    return printed


def _operand(node: Node, ctx: Context, need: int) -> str:
    # _print inline: this runs for most arguments of most nodes
    text = ctx.names.get(node)
    if text is not None:
        return text
    printed = ctx.memo.get(node)
    if printed is None:
        printed = ctx.memo[node] = _spell(node, ctx)
    text, prec = printed
    return f"({text})" if prec < need else text


def _print(node: Node, ctx: Context) -> tuple[str, int]:
    # Recursion is bounded: schedule cuts every statement to a bounded length.
    name = ctx.names.get(node)
    if name is not None:
        return name, ATOM
    printed = ctx.memo.get(node)
    if printed is None:
        printed = ctx.memo[node] = _spell(node, ctx)
    return printed


def _spell(node: Node, ctx: Context) -> tuple[str, int]:
    return _SPELLINGS.get(node.op, _call)(node, ctx)


def _constant(node: Node, ctx: Context) -> tuple[str, int]:
    return constant(node.attrs[0], ctx.dialect)


def _sum(node: Node, ctx: Context) -> tuple[str, int]:
    left, right = _operands(node.args, ctx, SUM, SUM + 1)
    symbol = _SUM_SYMBOLS[node.op]
    # a product led by a negative constant prints with its minus first (a product
    # binds tighter than a sum: no parentheses), so most operands need no walk down
    if right[0] == "-" and _leads_with_a_negative_constant(node.args[1], ctx):
        # a + -2.0 * x prints as a - 2.0 * x (and a - -2.0 * x as a + 2.0 * x):
        # the same value bit for bit, since IEEE negation is exact and rounding is
        # symmetric, so -(c * x) == (-c) * x and a - y == a + (-y).
        symbol, right = _FLIPPED[symbol], right[1:]
    return f"{left} {symbol} {right}", SUM


_SUM_SYMBOLS = {"add": "+", "sub": "-"}
_FLIPPED = {"+": "-", "-": "+"}

# op -> its symbol, its precedence and what its left operand needs: comparisons do
# not chain, so both sides of one need their own parentheses
_INFIX_NEEDS = {
    op: (symbol, prec, prec + 1 if prec == COMPARE else prec)
    for op, (symbol, prec) in INFIX.items()
}


def _infix(node: Node, ctx: Context) -> tuple[str, int]:
    symbol, prec, left_need = _INFIX_NEEDS[node.op]
    left, right = _operands(node.args, ctx, left_need, prec + 1)
    return f"{left} {symbol} {right}", prec


def _operands(args: tuple[Node, Node], ctx: Context, left_need: int, right_need: int):
    """The texts of a binary node's two operands: _operand twice, written inline.

    Most nodes are binary: one call for both operands saves a tenth of scheduling.
    """
    a, b = args
    names, memo = ctx.names, ctx.memo
    left = names.get(a)
    if left is None:
        printed = memo.get(a)
        if printed is None:
            printed = memo[a] = _spell(a, ctx)
        left, prec = printed
        if prec < left_need:
            left = f"({left})"
    right = names.get(b)
    if right is None:
        printed = memo.get(b)
        if printed is None:
            printed = memo[b] = _spell(b, ctx)
        right, prec = printed
        if prec < right_need:
            right = f"({right})"
    return left, right


def _negation(node: Node, ctx: Context) -> tuple[str, int]:
    # black writes -(x**2), not -x**2: the same value, clearer precedence
    arg = node.args[0]
    return f"-{_operand(arg, ctx, POWER + 1 if arg.op == 'pow' else UNARY)}", UNARY


def _call(node: Node, ctx: Context) -> tuple[str, int]:
    op, args = node.op, node.args
    if op == "where" and args[1].op == args[2].op == "const":
        op = "where_constants"  # a spelling that keeps the inputs' dtype
    return ctx.dialect.calls[op].format(*(_print(a, ctx)[0] for a in args)), ATOM


def _leads_with_a_negative_constant(node: Node, ctx: Context) -> bool:
    """True for an unnamed product whose leftmost factor is a negative constant."""
    while node.op in ("mul", "div") and node not in ctx.names:
        node = node.args[0]
    return node.op == "const" and node.attrs[0] < 0 and node not in ctx.names


def _power(node: Node, ctx: Context) -> tuple[str, int]:
    base, exponent = node.args
    literal = _exponent_literal(exponent.attrs[0]) if exponent.op == "const" else None
    if literal is not None:
        # Integer powers use **; a negative one as a float so integer arrays work.
        text, prec = _print(base, ctx)
        if prec <= POWER:
            text = f"({text})"
        # black hugs ** only between simple operands (names, numbers, attributes)
        simple = prec == ATOM and (text.replace(".", "").replace("_", "").isalnum())
        return f"{text}**{literal}" if simple else f"{text} ** {literal}", POWER
    b, e = _print(base, ctx)[0], _print(exponent, ctx)[0]
    return ctx.dialect.calls["power"].format(b, e), ATOM


@lru_cache(maxsize=64, typed=True)
def _exponent_literal(k: float) -> str | None:
    """An integer exponent's literal (2, or -1.0 as a float), None for another.

    Remembered: a few distinct exponents (x**2) serve thousands of powers.
    """
    if math.isfinite(k) and k == int(k) and abs(k) <= 2**31:
        return str(int(k)) if k >= 0 else repr(k)
    return None


def integer_exponent(exponent: Node) -> bool:
    """Whether a power of this exponent is spelled ** (not a call)."""
    return exponent.op == "const" and _exponent_literal(exponent.attrs[0]) is not None


# ---------------------------------------------------------------- array ops
# Spelled as a person writes numpy: postfix .T and subscripts, axis= keywords.


def dim_text(dim, names: Mapping[Node, str]) -> str:
    """A dim in code: 3, n (the size's Python name), or n - 1."""
    name, offset = split(dim)
    if name is None:
        return str(offset)
    text = names.get(make("dim", (), ((name,),)), name)
    if offset:
        text += f" - {-offset}" if offset < 0 else f" + {offset}"
    return text


def shape_text(shape, names: Mapping[Node, str]) -> str:
    """A shape tuple in code: (n,), (n, d)."""
    dims = [dim_text(d, names) for d in shape]
    return f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"


def _axes_text(axes: tuple[int, ...]) -> str:
    return str(axes[0]) if len(axes) == 1 else str(axes)


def _reduction(call: str, node: Node, ctx: Context) -> tuple[str, int]:
    axes, keepdims = node.attrs
    x = node.args[0]
    parts = [_print(x, ctx)[0]]
    if axes != tuple(range(len(x.shape))) or keepdims:
        parts.append(f"axis={_axes_text(axes)}")
    if keepdims:
        parts.append("keepdims=True")
    return f"{call}({', '.join(parts)})", ATOM


def _expand_dims(node: Node, ctx: Context) -> tuple[str, int]:
    axes = node.attrs[0]
    items = ["None" if i in axes else ":" for i in range(len(node.shape))]
    while items[-1] == ":":
        items.pop()
    return f"{_operand(node.args[0], ctx, ATOM)}[{', '.join(items)}]", ATOM


def _transpose(node: Node, ctx: Context) -> tuple[str, int]:
    if node.attrs[0] == (1, 0):
        return f"{_operand(node.args[0], ctx, ATOM)}.T", ATOM
    return f"np.transpose({_print(node.args[0], ctx)[0]}, {node.attrs[0]})", ATOM


def _slice(node: Node, ctx: Context) -> tuple[str, int]:
    items = []
    for item in node.attrs[0]:
        if item[0] == "i":
            items.append(str(item[1]))
        else:
            start = "" if item[1] is None else str(item[1])
            stop = "" if item[2] is None else str(item[2])
            items.append(f"{start}:{stop}")
    return f"{_operand(node.args[0], ctx, ATOM)}[{', '.join(items)}]", ATOM


def _pad(node: Node, ctx: Context) -> tuple[str, int]:
    widths = [
        f"({dim_text(a, ctx.names)}, {dim_text(b, ctx.names)})"
        for a, b in node.attrs[0]
    ]
    text = f"({widths[0]},)" if len(widths) == 1 else f"({', '.join(widths)})"
    return f"np.pad({_print(node.args[0], ctx)[0]}, {text})", ATOM


def _dim(node: Node, ctx: Context) -> tuple[str, int]:
    dims = [dim_text(d, ctx.names) for d in node.attrs[0]]
    return (dims[0], ATOM) if len(dims) == 1 else (" * ".join(dims), PRODUCT)


def _banded(node: Node, ctx: Context) -> tuple[str, int]:
    pairs = [f"({_print(d, ctx)[0]}, {k})" for d, k in zip(node.args, node.attrs[0])]
    return f"_banded({', '.join(pairs)})", ATOM


def _band_times(node: Node, ctx: Context) -> tuple[str, int]:
    v, *values = node.args
    terms = [
        f"({_print(d, ctx)[0]}, {row}, {col}, {dim_text(size, ctx.names)})"
        for d, (row, col, size) in zip(values, node.attrs[0])
    ]
    return f"_band_times({_print(v, ctx)[0]}, {', '.join(terms)})", ATOM


def _call_of(spelling: str):
    def spell(node: Node, ctx: Context) -> tuple[str, int]:
        args = ", ".join(_print(a, ctx)[0] for a in node.args)
        return f"{spelling}({args})", ATOM

    return spell


# fmt: off
ARRAY_SPELLINGS: dict = {
    "sum":          lambda n, ctx: _reduction("np.sum", n, ctx),
    "logsumexp":    lambda n, ctx: _reduction("_logsumexp", n, ctx),
    "softmax":      lambda n, ctx: (f"_softmax({_print(n.args[0], ctx)[0]}, axis={_axes_text(n.attrs[0])})", ATOM),
    "broadcast_to": lambda n, ctx: (f"np.broadcast_to({_print(n.args[0], ctx)[0]}, {shape_text(n.attrs[0], ctx.names)})", ATOM),
    "expand_dims":  _expand_dims,
    "transpose":    _transpose,
    "outer":        _call_of("np.outer"),
    "diag":         _call_of("np.diag"),
    "diagonal":     _call_of("np.diagonal"),
    "slice":        _slice,
    "pad":          _pad,
    "dim":          _dim,
    "eye":          lambda n, ctx: (f"np.eye({dim_text(n.attrs[0], ctx.names)})", ATOM),
    "inv":          _call_of("np.linalg.inv"),
    "det":          _call_of("np.linalg.det"),
    "logdet":       lambda n, ctx: (f"np.linalg.slogdet({_print(n.args[0], ctx)[0]})[1]", ATOM),
    "solve":        _call_of("np.linalg.solve"),
    "banded":       _banded,
    "band_times":   _band_times,
    "tensordot":    lambda n, ctx: (f"np.tensordot({_print(n.args[0], ctx)[0]}, {_print(n.args[1], ctx)[0]}, axes=({_axes_text(n.attrs[0])}, {_axes_text(n.attrs[1])}))", ATOM),
}
# fmt: on

# How each op is spelled; any other op is a call from the dialect's table.
_SPELLINGS: dict = {
    "const": _constant,
    "add": _sum,
    "sub": _sum,
    **{op: _infix for op in INFIX if op not in ("add", "sub")},
    "neg": _negation,
    "pow": _power,
    **ARRAY_SPELLINGS,
}
