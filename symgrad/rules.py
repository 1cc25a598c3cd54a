"""The derivative rule table: one row per op, its vector-Jacobian product as graph nodes.

A row takes the node n = op(a, b, ...) and the adjoint g of n (dF/dn) and returns
one contribution per argument, g times that argument's local partial derivative,
or None where the argument gets no contribution. There is no chain rule here:
derivatives.py accumulates the contributions in reverse over the graph.

Array ops: an adjoint g may be smaller than its node (any shape that broadcasts to
it: the adjoint of every entry of sum(x) is the one scalar g), so the rows of
elementwise ops need no change; rows that move entries around (matmul, transpose,
slices) first stretch g to the node's shape with `full`. derivatives.py sums each
contribution back to its argument's shape (undoing numpy's broadcasting).
Forward mode (JVP_RULES) has rows only for the array ops: an elementwise op's
Jacobian is diagonal, so its forward row is its reverse row applied to the tangent.

Conventions at kinks (the one documented table; tests hold us to it):
    abs'(0) = sign(0) = 0          relu'(0) = step(0) = 0        sign' = step' = 0
    max(a, b), min(a, b) at a tie: the adjoint is split evenly, 1/2 to each side,
        except that max(x, 0) and max(0, x) are relu (the simplifier rewrites them),
        so relu'(0) = 0 however it is written; min(x, 0) is -relu(-x)
    where(c, a, b): a gets where(c, g, 0), b gets where(c, 0, g); c gets nothing
    comparisons: derivative zero (not differentiated)
"""

from __future__ import annotations

from collections.abc import Callable

from symgrad import arrays
from symgrad.arrays import full, matmul, reduce_sum, transpose
from symgrad.errors import DifferentiationError
from symgrad.graph import Node
from symgrad.shapes import difference, shift, slice_bounds
from symgrad.simplify import add, build, call, div, mul, neg, num, power, sub

Contribution = Node | None
Rule = Callable[[Node, Node], tuple[Contribution, ...]]

ZERO, HALF, ONE, TWO = num(0.0), num(0.5), num(1.0), num(2.0)


def _pow_rule(n: Node, g: Node) -> tuple[Contribution, ...]:
    # d(a^b) = b a^(b-1) da + a^b log(a) db; at a = 0 the db term is 0 (a^b is 0
    # for b > 0), so log(a) is taken as 0 there instead of giving 0 * -inf = nan.
    a, b = n.args
    if b.op == "const":
        # a constant exponent folded here, and built in the simplifier's form of
        # g (k a^(k-1)), (k g) a^(k-1): nothing built to be rewritten at once
        k = b.attrs[0]
        return mul(mul(b, g), a if k == 2.0 else power(a, num(k - 1.0))), None
    da = mul(g, mul(b, power(a, sub(b, ONE))))
    log_a = call("log", a)
    safe_log = call(
        "where",
        call("gt", a, ZERO),
        log_a,
        call("where", call("lt", a, ZERO), log_a, ZERO),
    )
    return da, mul(g, mul(n, safe_log))


def _tie_split(d: Node, sign_of: float) -> Node:
    # (1 + sign(a - b)) / 2: 1 where a wins, 1/2 at a tie, 0 where b wins
    return mul(HALF, add(ONE, mul(num(sign_of), call("sign", d))))


def _max_rule(n: Node, g: Node) -> tuple[Contribution, ...]:
    d = sub(n.args[0], n.args[1])
    return mul(g, _tie_split(d, 1.0)), mul(g, _tie_split(d, -1.0))


def _min_rule(n: Node, g: Node) -> tuple[Contribution, ...]:
    d = sub(n.args[0], n.args[1])
    return mul(g, _tie_split(d, -1.0)), mul(g, _tie_split(d, 1.0))


def _atan2_rule(n: Node, g: Node) -> tuple[Contribution, ...]:
    # atan2(y, x): d/dy = x / (x^2 + y^2), d/dx = -y / (x^2 + y^2)
    y, x = n.args
    r2 = add(power(x, TWO), power(y, TWO))
    return div(mul(g, x), r2), neg(div(mul(g, y), r2))


# The rows of the binary ops whose arguments are often not all differentiated (a
# constant factor, a variable outside a Hessian row), one argument at a time:
# derivatives.py builds only the contributions of arguments that depend on a variable.
def _sub_partial(n: Node, g: Node, i: int) -> Contribution:
    # d(a - b) = da - db
    return g if i == 0 else neg(g)


def _mul_partial(n: Node, g: Node, i: int) -> Contribution:
    # d(a b) = b da + a db; g = 1 at a seed: 1 * b is b
    other = n.args[1 - i]
    return other if g is ONE else mul(g, other)


def _div_partial(n: Node, g: Node, i: int) -> Contribution:
    # d(a/b) = da/b - (a/b) db/b
    return div(g, n.args[1]) if i == 0 else neg(div(mul(g, n), n.args[1]))


PARTIALS: dict[str, Callable[[Node, Node, int], Contribution]] = {
    "sub": _sub_partial,
    "mul": _mul_partial,
    "div": _div_partial,
}


def _sqrt_one_minus_square(a: Node) -> Node:
    # sqrt(1 - a^2) as sqrt((1 - a)(1 + a)): a^2 rounds, and 1 - a^2 then cancels
    # near |a| = 1 (asin' at 1 - 1e-9 kept 7 digits); 1 - a is exact there.
    return call("sqrt", mul(sub(ONE, a), add(ONE, a)))


# fmt: off
RULES: dict[str, Rule] = {
    "add":      lambda n, g: (g, g),
    "sub":      lambda n, g: (_sub_partial(n, g, 0), _sub_partial(n, g, 1)),
    "mul":      lambda n, g: (_mul_partial(n, g, 0), _mul_partial(n, g, 1)),
    "div":      lambda n, g: (_div_partial(n, g, 0), _div_partial(n, g, 1)),
    "neg":      lambda n, g: (neg(g),),
    "pow":      _pow_rule,
    "exp":      lambda n, g: (mul(g, n),),                                          # exp' = exp
    "log":      lambda n, g: (div(g, n.args[0]),),
    "log1p":    lambda n, g: (div(g, add(n.args[0], ONE)),),
    "expm1":    lambda n, g: (mul(g, call("exp", n.args[0])),),
    "sqrt":     lambda n, g: (div(g, mul(TWO, n)),),                                # sqrt' = 1 / (2 sqrt)
    "sin":      lambda n, g: (mul(g, call("cos", n.args[0])),),
    "cos":      lambda n, g: (neg(mul(g, call("sin", n.args[0]))),),
    "tan":      lambda n, g: (mul(g, add(ONE, power(n, TWO))),),                    # tan' = 1 + tan^2
    "asin":     lambda n, g: (div(g, _sqrt_one_minus_square(n.args[0])),),           # asin' = 1/sqrt(1 - a^2)
    "acos":     lambda n, g: (neg(div(g, _sqrt_one_minus_square(n.args[0]))),),
    "atan":     lambda n, g: (div(g, add(ONE, power(n.args[0], TWO))),),
    "sinh":     lambda n, g: (mul(g, call("cosh", n.args[0])),),
    "cosh":     lambda n, g: (mul(g, call("sinh", n.args[0])),),
    "tanh":     lambda n, g: (mul(g, sub(ONE, power(n, TWO))),),                    # tanh' = 1 - tanh^2
    "abs":      lambda n, g: (mul(g, call("sign", n.args[0])),),
    "sigmoid":  lambda n, g: (mul(g, mul(n, call("sigmoid", neg(n.args[0])))),),    # s' = s(u) s(-u) = s (1 - s)
    "softplus": lambda n, g: (mul(g, call("sigmoid", n.args[0])),),
    "relu":     lambda n, g: (mul(g, call("step", n.args[0])),),
    "atan2":    _atan2_rule,
    "max":      _max_rule,
    "min":      _min_rule,
    "where":    lambda n, g: (None, call("where", n.args[0], g, num(0.0)), call("where", n.args[0], num(0.0), g)),
}
# fmt: on


# ---------------------------------------------------------------- array ops (reverse)


def _reduced_adjoint(n: Node, g: Node) -> Node:
    """g (the adjoint of a reduction over n.attrs' axes) laid out to broadcast to its input."""
    axes, keepdims = n.attrs[0], n.attrs[1]
    if keepdims or not g.shape or axes == tuple(range(len(axes))):
        return g  # right-aligned broadcasting already puts g's entries in place
    return arrays.expand_dims(full(g, n.shape), axes)


def _matmul_rule(n: Node, g: Node) -> tuple[Contribution, ...]:
    # C = A @ B: dA = dC @ B.T, dB = A.T @ dC; a vector operand takes an outer product
    a, b = n.args
    g = full(g, n.shape)
    if len(a.shape) == 1 and len(b.shape) == 1:
        return mul(g, b), mul(g, a)
    if len(b.shape) == 1:  # A @ x
        return arrays.outer(g, b), matmul(transpose(a), g)
    if len(a.shape) == 1:  # x @ B
        return matmul(b, g), arrays.outer(a, g)
    return matmul(g, transpose(b)), matmul(transpose(a), g)


def _slice_rule(n: Node, g: Node) -> tuple[Contribution, ...]:
    # x[items] scatters back into zeros: pad g with the entries the slice dropped
    (x,), (items,) = n.args, n.attrs
    g = full(g, n.shape)
    indexed = [axis for axis, item in enumerate(items) if item[0] == "i"]
    if indexed:
        g = arrays.expand_dims(g, indexed)
    widths = []
    for item, dim in zip(items, x.shape):
        if item[0] == "i":
            begin = item[1] if item[1] >= 0 else shift(dim, item[1])
            end = shift(begin, 1)
        else:
            begin, end = slice_bounds(dim, item[1], item[2])
        after = difference(dim, end)
        if after is None:
            raise DifferentiationError(f"cannot differentiate the slice {items}")
        widths.append((begin, after))
    widths += [(0, 0)] * (len(x.shape) - len(items))
    return (build("pad", (g,), (tuple(widths),)),)


def _pad_rule(n: Node, g: Node) -> tuple[Contribution, ...]:
    # the adjoint of a zero-padding is the slice that drops the padding again
    g = full(g, n.shape)
    items = []
    for (before, after), dim in zip(n.attrs[0], n.shape):
        start = before if isinstance(before, int) else difference(before, dim)
        stop = (
            None
            if after == 0
            else -after if isinstance(after, int) else difference(dim, after)
        )
        if not isinstance(start, int) or not (stop is None or isinstance(stop, int)):
            raise DifferentiationError(f"cannot differentiate the padding {n.attrs[0]}")
        items.append(("s", start or None, stop))
    return (arrays.index(g, [slice(a, b) for _, a, b in items]),)


def _softmax_rule(n: Node, g: Node) -> tuple[Contribution, ...]:
    # s = softmax(x): dx = s * (g - sum(g * s)) along the axes
    g = full(g, n.shape)
    dot_gs = reduce_sum(mul(g, n), n.attrs[0], keepdims=True)
    return (mul(n, sub(g, dot_gs)),)


def _inv_t(a: Node) -> Node:
    return transpose(arrays.inv(a))


def _solve_rule(n: Node, g: Node) -> tuple[Contribution, ...]:
    # x = A^-1 b: db = A^-T g (one more solve, with A.T), dA = -db x^T
    a, b = n.args
    db = arrays.solve(transpose(a), full(g, n.shape))
    da = neg(arrays.outer(db, n) if len(n.shape) == 1 else matmul(db, transpose(n)))
    return da, db


def _tensordot_rule(n: Node, g: Node) -> tuple[Contribution, ...]:
    # C = tensordot(A, B): each operand's adjoint contracts g with the other operand
    # over the other's free axes, then puts its axes back in the operand's order
    a, b = n.args
    axes_a, axes_b = n.attrs
    free_a = [i for i in range(len(a.shape)) if i not in axes_a]
    free_b = [j for j in range(len(b.shape)) if j not in axes_b]
    g = full(g, n.shape)
    in_g_a = tuple(range(len(free_a)))
    in_g_b = tuple(range(len(free_a), len(free_a) + len(free_b)))
    da = arrays.tensordot(g, b, in_g_b, tuple(free_b))
    order_a = free_a + [axes_a[axes_b.index(j)] for j in sorted(axes_b)]
    db = arrays.tensordot(a, g, tuple(free_a), in_g_a)
    order_b = [axes_b[axes_a.index(i)] for i in sorted(axes_a)] + free_b
    return _reorder(da, order_a), _reorder(db, order_b)


def _reorder(x: Node, order: list[int]) -> Node:
    """x, whose axis k is the operand's axis order[k], in the operand's axis order."""
    perm = tuple(order.index(j) for j in range(len(order)))
    return transpose(x, perm)


def _banded_rule(n: Node, g: Node) -> tuple[Contribution, ...]:
    # each diagonal's adjoint is that diagonal of g: the square block it runs along
    g = full(g, n.shape)
    out = []
    for k in n.attrs[0]:
        rows, cols = (
            (slice(None, -k), slice(k, None))
            if k > 0
            else (slice(-k, None), slice(None, k or None))
        )
        out.append(build("diagonal", (arrays.index(g, (rows, cols)),)))
    return tuple(out)


def _banded_jvp(n: Node, t: "Tangents") -> Node:
    return build(
        "banded",
        tuple(full(ZERO if ti is None else ti, a.shape) for ti, a in zip(t, n.args)),
        n.attrs,
    )


def _band_times_rule(n: Node, g: Node) -> tuple[Contribution, ...]:
    # out = sum_j S_row^T (values_j * S_col v): v's adjoint is the transposed band
    # applied to g, values_j's the product of the two slices
    v, *values = n.args
    g = full(g, n.shape)
    places = n.attrs[0]
    swapped = (tuple((col, row, size) for row, col, size in places),)
    dv = build("band_times", (g, *values), swapped)
    dvalues = []
    for d, (row, col, size) in zip(values, places):
        product = mul(arrays.window(g, row, size), arrays.window(v, col, size))
        dvalues.append(product if d.shape else reduce_sum(product))
    return (dv, *dvalues)


def _band_times_jvp(n: Node, t: "Tangents") -> Node | None:
    v, *values = n.args
    terms = []
    if t[0] is not None:
        terms.append(build("band_times", (full(t[0], v.shape), *values), n.attrs))
    if any(ti is not None for ti in t[1:]):
        tangents = tuple(
            full(ZERO if ti is None else ti, d.shape) for ti, d in zip(t[1:], values)
        )
        terms.append(build("band_times", (v, *tangents), n.attrs))
    return terms[0] if len(terms) == 1 else add(*terms)


# fmt: off
RULES.update({
    "tensordot":    _tensordot_rule,
    "inv":          lambda n, g: (neg(matmul(transpose(n), matmul(full(g, n.shape), transpose(n)))),),  # d inv(A) = -inv(A) dA inv(A)
    "det":          lambda n, g: (mul(mul(g, n), _inv_t(n.args[0])),),                 # d det = det inv(A).T : dA
    "logdet":       lambda n, g: (mul(g, _inv_t(n.args[0])),),                          # d logdet = inv(A).T : dA
    "solve":        _solve_rule,
    "sum":          lambda n, g: (_reduced_adjoint(n, g),),
    "broadcast_to": lambda n, g: (arrays.unbroadcast(g, n.shape, n.args[0].shape),),
    "expand_dims":  lambda n, g: (g if not g.shape else reduce_sum(full(g, n.shape), n.attrs[0]),),
    "transpose":    lambda n, g: (g if not g.shape else transpose(full(g, n.shape), _inverse(n.attrs[0])),),
    "matmul":       _matmul_rule,
    "outer":        lambda n, g: (matmul(full(g, n.shape), n.args[1]), matmul(n.args[0], full(g, n.shape))),
    "slice":        _slice_rule,
    "pad":          _pad_rule,
    "diag":         lambda n, g: (build("diagonal", (full(g, n.shape),)),),
    "diagonal":     lambda n, g: (build("diag", (full(g, n.shape),)),),
    "logsumexp":    lambda n, g: (mul(_reduced_adjoint(n, g), arrays.softmax(n.args[0], n.attrs[0])),),   # lse' = softmax
    "softmax":      _softmax_rule,
    "banded":       _banded_rule,
    "band_times":   _band_times_rule,
})
# fmt: on


def _inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(sorted(range(len(perm)), key=perm.__getitem__))


# ---------------------------------------------------------------- array ops (forward)

Tangents = tuple[Node | None, ...]


def _linear(n: Node, t: Tangents) -> Node:
    """The tangent of an op linear in its one argument: the op applied to the tangent."""
    return build(n.op, (full(t[0], n.args[0].shape),), n.attrs)


def _bilinear(n: Node, t: Tangents) -> Node | None:
    """d(a . b) = da . b + a . db for matmul and outer."""
    a, b = n.args
    terms = []
    if t[0] is not None:
        terms.append(build(n.op, (full(t[0], a.shape), b), n.attrs))
    if t[1] is not None:
        terms.append(build(n.op, (a, full(t[1], b.shape)), n.attrs))
    return terms[0] if len(terms) == 1 else add(*terms)


def _logsumexp_jvp(n: Node, t: Tangents) -> Node:
    axes, keepdims = n.attrs
    weights = arrays.softmax(n.args[0], axes)
    return reduce_sum(mul(full(t[0], n.args[0].shape), weights), axes, keepdims)


def _softmax_jvp(n: Node, t: Tangents) -> Node:
    tangent = full(t[0], n.shape)
    return mul(n, sub(tangent, reduce_sum(mul(tangent, n), n.attrs[0], keepdims=True)))


# fmt: off
def _inv_jvp(n: Node, t: Tangents) -> Node:
    return neg(matmul(n, matmul(full(t[0], n.shape), n)))


def _logdet_jvp(n: Node, t: Tangents) -> Node:
    a = n.args[0]
    return reduce_sum(mul(_inv_t(a), full(t[0], a.shape)))


def _solve_jvp(n: Node, t: Tangents) -> Node:
    # d(A^-1 b) = A^-1 (db - dA x)
    a, b = n.args
    rhs = full(t[1], b.shape) if t[1] is not None else None
    if t[0] is not None:
        moved = matmul(full(t[0], a.shape), n)
        rhs = neg(moved) if rhs is None else sub(rhs, moved)
    return arrays.solve(a, rhs)


JVP_RULES: dict[str, Callable[[Node, Tangents], Node | None]] = {
    "sum":          _linear,
    "broadcast_to": lambda n, t: t[0],   # a tangent may stay smaller than its node
    "expand_dims":  lambda n, t: t[0] if not t[0].shape else _linear(n, t),
    "transpose":    lambda n, t: t[0] if not t[0].shape else _linear(n, t),
    "slice":        _linear,
    "pad":          _linear,
    "diag":         _linear,
    "diagonal":     _linear,
    "matmul":       _bilinear,
    "outer":        _bilinear,
    "logsumexp":    _logsumexp_jvp,
    "softmax":      _softmax_jvp,
    "inv":          _inv_jvp,
    "det":          lambda n, t: mul(n, _logdet_jvp(n, t)),
    "logdet":       _logdet_jvp,
    "solve":        _solve_jvp,
    "tensordot":    _bilinear,
    "banded":       _banded_jvp,
    "band_times":   _band_times_jvp,
}
# fmt: on
