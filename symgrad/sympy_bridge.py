"""Conversion between symgrad graphs and sympy expressions (display, interop, oracle)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import sympy
from sympy.logic.boolalg import Boolean, BooleanFalse, BooleanTrue

from symgrad.graph import Node, const, make, toposort, var

__all__ = ["SYMPY_OPS", "from_sympy", "to_sympy", "to_sympy_many"]


# ---------------------------------------------------------------------------
# graph -> sympy


def _piecewise_where(c: sympy.Basic, a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
    """where(c, a, b) = a if c else b, as Piecewise((a, c), (b, True))."""
    # sympy folds a condition that holds a Piecewise into ITE/And/Or/Ne forms;
    # from_sympy reads those back.
    return sympy.Piecewise((a, c), (b, True))


# One row per op: the sympy expression built from the converted arguments.
# Arguments are numeric sympy expressions, except where's condition (a Boolean).
SYMPY_OPS: dict[str, Callable[..., sympy.Basic]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "neg": lambda a: -a,
    "pow": lambda a, b: a**b,
    "exp": sympy.exp,
    "log": sympy.log,
    "log1p": lambda a: sympy.log(1 + a),  # log1p(x) = log(1 + x)
    "expm1": lambda a: sympy.exp(a) - 1,  # expm1(x) = exp(x) - 1
    "sqrt": sympy.sqrt,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "asin": sympy.asin,
    "acos": sympy.acos,
    "atan": sympy.atan,
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "tanh": sympy.tanh,
    "abs": sympy.Abs,
    "sign": sympy.sign,
    "sigmoid": lambda a: 1 / (1 + sympy.exp(-a)),  # sigmoid(x) = 1 / (1 + e^-x)
    "softplus": lambda a: sympy.log(1 + sympy.exp(a)),  # softplus(x) = log(1 + e^x)
    "relu": lambda a: sympy.Max(a, 0),
    "step": lambda a: sympy.Heaviside(a, 0),  # 1 where x > 0 else 0 (also at 0)
    "atan2": sympy.atan2,  # atan2(y, x), as math.atan2
    "min": sympy.Min,
    "max": sympy.Max,
    "lt": sympy.Lt,
    "le": sympy.Le,
    "gt": sympy.Gt,
    "ge": sympy.Ge,
    "where": _piecewise_where,
}

# Argument positions that sympy needs as a Boolean rather than a number.
_CONDITION_ARGS: dict[str, int] = {"where": 0}

# Ops whose single-use chains are collected into one n-ary Add / Mul: building
# a + b + c + ... one binary Add at a time copies the flattened sum at every step,
# O(n^2) for a long gradient accumulation; one Add(*terms) is O(n log n).
_ADDITIVE = {"add": (1, 1), "sub": (1, -1), "neg": (-1,)}
_MULTIPLICATIVE = {"mul": (1, 1), "div": (1, -1)}
_FAMILY = {op: fam for fam in (_ADDITIVE, _MULTIPLICATIVE) for op in fam}


def _const_to_sympy(value: float) -> sympy.Expr:
    """A float as sympy: exact Integer when integral and exactly representable."""
    if math.isnan(value):
        return sympy.nan
    if math.isinf(value):
        return sympy.oo if value > 0 else -sympy.oo
    # Integers below 2**53 are exact in a float, so sympy may treat them exactly.
    if value.is_integer() and abs(value) < 2**53:
        return sympy.Integer(int(value))
    return sympy.Float(value)


def _is_boolean(e: sympy.Basic) -> bool:
    # A Symbol is also a sympy Boolean; only non-Expr Booleans are truth values.
    return isinstance(e, Boolean) and not isinstance(e, sympy.Expr)


def _numeric(e: sympy.Basic) -> sympy.Basic:
    # A comparison used as a number is 1 where it holds and 0 elsewhere.
    if _is_boolean(e):
        return _piecewise_where(e, sympy.S.One, sympy.S.Zero)
    return e


def _condition(e: sympy.Basic) -> sympy.Basic:
    # A number used as a condition is true where it is nonzero (numpy.where).
    if _is_boolean(e):
        return e
    return sympy.Ne(e, 0)


def _absorbed(order: Sequence[Node], roots: Iterable[Node]) -> set[Node]:
    """Add/mul-family nodes used once, by a node of the same family (not roots)."""
    uses: dict[Node, int] = {}
    same_family_user: set[Node] = set()
    for node in order:
        family = _FAMILY.get(node.op)
        for a in node.args:
            uses[a] = uses.get(a, 0) + 1
            if family is not None and _FAMILY.get(a.op) is family:
                same_family_user.add(a)
    root_set = set(roots)
    return {n for n in same_family_user if uses[n] == 1 and n not in root_set}


def _collect(
    node: Node, absorbed: set[Node], memo: dict[Node, sympy.Basic]
) -> sympy.Expr:
    """One n-ary Add or Mul for node and the absorbed chain below it."""
    family = _FAMILY[node.op]
    items: list[sympy.Expr] = []
    stack: list[tuple[Node, int]] = [(node, 1)]
    while stack:
        n, sign = stack.pop()
        if n is node or n in absorbed:
            # add: +a +b; sub: +a -b; neg: -a; mul: a * b; div: a * b^-1.
            signs = family[n.op]
            for a, s in reversed(list(zip(n.args, signs))):
                stack.append((a, sign * s))
            continue
        e = _numeric(memo[n])
        if family is _ADDITIVE:
            items.append(e if sign > 0 else -e)
        else:
            items.append(e if sign > 0 else 1 / e)
    return sympy.Add(*items) if family is _ADDITIVE else sympy.Mul(*items)


def to_sympy_many(
    nodes: Sequence[Node], symbols: dict[str, sympy.Symbol] | None = None
) -> list[sympy.Basic]:
    """Convert several graphs to sympy, converting shared subgraphs once."""
    symbols = symbols or {}
    roots = list(nodes)
    order = toposort(roots)
    absorbed = _absorbed(order, roots)
    memo: dict[Node, sympy.Basic] = {}
    made_symbols: dict[str, sympy.Symbol] = {}
    for node in order:
        op = node.op
        if op == "const":
            memo[node] = _const_to_sympy(node.attrs[0])
        elif op == "var":
            name = node.attrs[0]
            sym = symbols.get(name, made_symbols.get(name))
            if sym is None:
                sym = made_symbols[name] = sympy.Symbol(name, real=True)
            memo[node] = sym
        elif node in absorbed:
            continue  # built as part of its single user's n-ary Add / Mul
        elif op in _FAMILY and any(a in absorbed for a in node.args):
            memo[node] = _collect(node, absorbed, memo)
        else:
            build = SYMPY_OPS.get(op)
            if build is None:
                raise ValueError(f"to_sympy: no sympy mapping for op {op!r}")
            cond_pos = _CONDITION_ARGS.get(op)
            args = [
                _condition(memo[a]) if i == cond_pos else _numeric(memo[a])
                for i, a in enumerate(node.args)
            ]
            try:
                memo[node] = build(*args)
            except RecursionError as exc:
                # sympy's evaluation walks some nests recursively (sin(sin(...))
                # a few hundred deep); this walk is iterative.
                raise RecursionError(
                    f"to_sympy: sympy exceeded the recursion limit building op {op!r}"
                    " (sympy evaluates some deep nests recursively)"
                ) from exc
    return [memo[r] for r in roots]


def to_sympy(node: Node, symbols: dict[str, sympy.Symbol] | None = None) -> sympy.Basic:
    """Convert one graph to a sympy expression (vars become real Symbols)."""
    return to_sympy_many([node], symbols)[0]


# ---------------------------------------------------------------------------
# sympy -> graph

# sympy classes (functions, relationals) that map one-to-one onto an op.
_FUNCTION_OPS: dict[type, str] = {
    sympy.exp: "exp",
    sympy.log: "log",
    sympy.sin: "sin",
    sympy.cos: "cos",
    sympy.tan: "tan",
    sympy.asin: "asin",
    sympy.acos: "acos",
    sympy.atan: "atan",
    sympy.sinh: "sinh",
    sympy.cosh: "cosh",
    sympy.tanh: "tanh",
    sympy.Abs: "abs",
    sympy.sign: "sign",
    sympy.atan2: "atan2",
    sympy.StrictLessThan: "lt",
    sympy.LessThan: "le",
    sympy.StrictGreaterThan: "gt",
    sympy.GreaterThan: "ge",
}

# Commutative n-ary sympy functions folded left into a binary op.
_FOLD_OPS: dict[type, str] = {sympy.Max: "max", sympy.Min: "min"}

_SPECIAL_NAMES: dict[sympy.Basic, str] = {
    sympy.I: "I (the imaginary unit)",
    sympy.zoo: "zoo (complex infinity)",
}

# A plan for one sympy expression: the subexpressions to convert first, and how to
# build its node from theirs.
_Plan = tuple[Sequence[sympy.Basic], Callable[[list[Node]], Node]]


def _unsupported(expr: sympy.Basic, detail: str = "") -> ValueError:
    # Name the construct by its class: printing a huge expression could be slow.
    name = _SPECIAL_NAMES.get(expr) if expr.is_Atom else None
    if name is None:
        name = type(expr).__name__
    return ValueError(f"from_sympy: unsupported sympy construct {name}{detail}")


def _fold(op: str, nodes: Sequence[Node]) -> Node:
    # ((n0 op n1) op n2) op ...
    acc = nodes[0]
    for n in nodes[1:]:
        acc = make(op, (acc, n))
    return acc


def _sum(terms: list[Node]) -> Node:
    """Left fold of add, writing a + neg(b) as a - b."""
    # Start from a term that is not a negation when there is one: b - a, not -a + b.
    first = next((i for i, t in enumerate(terms) if t.op != "neg"), 0)
    terms = [terms[first]] + terms[:first] + terms[first + 1 :]
    acc = terms[0]
    for t in terms[1:]:
        acc = make("sub", (acc, t.args[0])) if t.op == "neg" else make("add", (acc, t))
    return acc


def _power(base: Node, exponent: sympy.Expr) -> Node:
    """base ** exponent for a positive numeric exponent, 1 and 1/2 spelled simply."""
    if exponent is sympy.S.One:
        return base
    if exponent is sympy.S.Half:
        return make("sqrt", (base,))
    return make("pow", (base, const(float(exponent))))


def _is_negative_number(e: sympy.Basic) -> bool:
    return bool(e.is_Number and e.is_extended_negative)


def _mul_plan(expr: sympy.Mul) -> _Plan:
    """c * f1 * ... / (g1^k1 * ...): numerator folded by mul, then one div."""
    coeff, factors = expr.as_coeff_mul()
    negate = bool(coeff.is_extended_negative)
    if negate:
        coeff = -coeff
    lead: list[Node] = []  # numeric factors of the numerator
    denominator_consts: list[Node] = []
    if coeff.is_Rational and max(abs(coeff.p), coeff.q) < 2**53:
        # p/q as const(p) / const(q): x/3 stays exact to one rounding.
        if coeff.p != 1:
            lead.append(const(float(coeff.p)))
        if coeff.q != 1:
            denominator_consts.append(const(float(coeff.q)))
    elif coeff is not sympy.S.One:
        lead.append(const(float(coeff)))
    numerator = [f for f in factors if not (f.is_Pow and _is_negative_number(f.exp))]
    denominator = [f for f in factors if f.is_Pow and _is_negative_number(f.exp)]
    children = numerator + [f.base for f in denominator]

    def build(nodes: list[Node]) -> Node:
        num = lead + nodes[: len(numerator)]
        den = denominator_consts + [
            _power(b, -f.exp) for b, f in zip(nodes[len(numerator) :], denominator)
        ]
        result = _fold("mul", num) if num else const(1.0)
        if den:
            result = make("div", (result, _fold("mul", den)))
        return make("neg", (result,)) if negate else result

    return children, build


def _pow_plan(expr: sympy.Pow) -> _Plan:
    base, exponent = expr.args
    if exponent.is_Number and not (exponent is sympy.nan or exponent.is_infinite):
        if exponent.is_extended_negative:
            # b^-k = 1 / b^k
            return [base], lambda n: make("div", (const(1.0), _power(n[0], -exponent)))
        return [base], lambda n: _power(n[0], exponent)
    return [base, exponent], lambda n: make("pow", (n[0], n[1]))


def _heaviside_plan(expr: sympy.Heaviside) -> _Plan:
    x, h0 = expr.args[0], (expr.args[1] if len(expr.args) > 1 else sympy.S.Half)
    if not h0.is_Number or h0 is sympy.nan:
        raise _unsupported(expr, f" with value {h0} at 0")
    h = float(h0)

    def build(n: list[Node]) -> Node:
        # H(x) with H(0) = h is step(x) + h * (1 - step(x) - step(-x)): the
        # bracket is 1 only at x = 0.
        pos = make("step", (n[0],))
        if h == 0.0:
            return pos
        neg = make("step", (make("neg", (n[0],)),))
        if h == 1.0:
            return make("sub", (const(1.0), neg))
        at_zero = make("sub", (make("sub", (const(1.0), pos)), neg))
        return make("add", (pos, make("mul", (const(h), at_zero))))

    return [x], build


def _piecewise_plan(expr: sympy.Piecewise) -> _Plan:
    pieces = expr.args
    if len(pieces) != 2 or pieces[1].cond is not sympy.true:
        raise _unsupported(
            expr, f" with {len(pieces)} branches (only (a, c), (b, True))"
        )
    (a, cond), (b, _) = pieces
    if isinstance(cond, sympy.Ne) and cond.rhs is sympy.S.Zero:
        cond = cond.lhs  # where treats a nonzero number as true
    return [cond, a, b], lambda n: make("where", (n[0], n[1], n[2]))


def _truth(expr: sympy.Basic, node: Node) -> Node:
    # A truth value as 1/0: Boolean forms already are; a number is true if nonzero.
    if _is_boolean(expr):
        return node
    return make("where", (node, const(1.0), const(0.0)))


def _equal(n: list[Node]) -> Node:
    # a == b as le(a, b) * ge(a, b): 1 or 0, and 0 when either is NaN.
    return make("mul", (make("le", (n[0], n[1])), make("ge", (n[0], n[1]))))


def _boolean_plan(expr: sympy.Basic) -> _Plan | None:
    """Plans for the logic sympy writes when it folds nested conditions, as 1/0."""
    args = expr.args
    if isinstance(expr, (sympy.And, sympy.Or)):
        # and = product, or = max, of 1/0 truth values.
        op = "mul" if isinstance(expr, sympy.And) else "max"
        return args, lambda n: _fold(op, [_truth(a, m) for a, m in zip(args, n)])
    if isinstance(expr, sympy.Not):
        return args, lambda n: make("sub", (const(1.0), _truth(args[0], n[0])))
    if isinstance(expr, sympy.ITE):
        # ITE(c, t, f) = t if c else f
        return args, lambda n: make(
            "where", (n[0], _truth(args[1], n[1]), _truth(args[2], n[2]))
        )
    if isinstance(expr, sympy.Eq):
        return args, _equal
    if isinstance(expr, sympy.Ne):
        return args, lambda n: make("sub", (const(1.0), _equal(n)))
    return None


def _plan(expr: sympy.Basic) -> _Plan:
    """How to convert expr: its children to convert first and a builder."""
    if isinstance(expr, sympy.Symbol):
        return [], lambda n: var(expr.name)
    if expr is sympy.pi:
        return [], lambda n: const(math.pi)
    if expr.is_Number or isinstance(expr, sympy.NumberSymbol):
        if expr is sympy.zoo:
            raise _unsupported(expr)
        value = float(expr)  # oo -> inf, -oo -> -inf, nan -> nan, E -> math.e
        return [], lambda n: const(value)
    if isinstance(expr, BooleanTrue):
        return [], lambda n: const(1.0)
    if isinstance(expr, BooleanFalse):
        return [], lambda n: const(0.0)
    if expr.is_Add:
        return expr.args, _sum
    if expr.is_Mul:
        return _mul_plan(expr)
    if expr.is_Pow:
        return _pow_plan(expr)
    cls = type(expr)
    if cls in _FUNCTION_OPS:
        op = _FUNCTION_OPS[cls]
        return expr.args, lambda n: make(op, n)
    if cls in _FOLD_OPS:
        op = _FOLD_OPS[cls]
        return expr.args, lambda n: _fold(op, n)
    if cls is sympy.Heaviside:
        return _heaviside_plan(expr)
    if cls is sympy.Piecewise:
        return _piecewise_plan(expr)
    plan = _boolean_plan(expr)
    if plan is not None:
        return plan
    raise _unsupported(expr)


def from_sympy(expr: sympy.Basic) -> Node:
    """Convert a sympy expression to a graph node (raw constructors, unsimplified)."""
    # An explicit stack, memoized by object identity: hashing or comparing a deep
    # sympy expression recurses, and sympy's own traversals are recursive too.
    memo: dict[int, Node] = {}
    keep: list[sympy.Basic] = []  # keeps every memoized object alive (stable ids)
    stack: list[tuple[sympy.Basic, _Plan | None]] = [(expr, None)]
    while stack:
        e, plan = stack[-1]
        if id(e) in memo:
            stack.pop()
            continue
        if plan is None:
            plan = _plan(e)
            stack[-1] = (e, plan)
            pending = [c for c in plan[0] if id(c) not in memo]
            if pending:
                stack.extend((c, None) for c in reversed(pending))
                continue
        stack.pop()
        children, build = plan
        memo[id(e)] = build([memo[id(c)] for c in children])
        keep.append(e)
    return memo[id(expr)]
