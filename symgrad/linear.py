"""Read the coefficient tensor off a graph that is linear in a direction: closed-form Jacobians.

A forward derivative J t is linear in the tangent t. `coefficient(L, t)` returns the
array C of shape L.shape + t.shape with L = C . t (contracting t's axes), built op
by op from L's graph: t itself is the identity, A @ t is A, c * t is c[..., None] *
I, a slice of t is that slice of I, a sum of t is a sum of I. So the Jacobian of
A @ x - b is A and the Hessian of x @ A @ x is A + A.T, as closed forms and never
entry by entry. t may have any shape: a matrix t's identity is eye(p)[:, None, :,
None] * eye(q)[None, :, None, :], and products through it are tensordots.
"""

from __future__ import annotations

from collections.abc import Callable

from symgrad import arrays
from symgrad.errors import DifferentiationError
from symgrad.graph import Node, make, push_forward
from symgrad.simplify import ONE, ZERO, add, build, div, mul, neg, sub

Coefficient = Node | None  # None: the node does not depend on t (a zero coefficient)


def identity(dim) -> Node:
    """The identity matrix of size dim."""
    return make("eye", (), (dim,))


def _identity(shape: tuple) -> Node:
    """I with t = I . t: shape + shape, 1 where the two halves' indices agree."""
    if not shape:
        return ONE
    k = len(shape)
    out = None
    for axis, dim in enumerate(shape):
        # eye(dim) on axes (axis, k + axis), broadcast along every other axis
        others = tuple(i for i in range(2 * k) if i not in (axis, k + axis))
        factor = arrays.expand_dims(identity(dim), others)
        out = factor if out is None else mul(out, factor)
    return out


def coefficient(root: Node, t: Node) -> Node | None:
    """C with root = C . t for a root linear in t (None when root does not depend on t)."""

    # A coefficient may be smaller than node.shape + t.shape where it is the same
    # along an axis (the coefficient of t in x + t, t a scalar, is 1 for every entry):
    # rules that move entries or sum them stretch it first (`_full`).
    def step(node: Node, parts: list) -> Coefficient | None:
        rule = _RULES.get(node.op)
        if rule is None:
            raise DifferentiationError(
                f"'{node.op}' is not linear in the direction: no closed-form coefficient"
            )
        return rule(node, parts, t.shape)

    return push_forward([root], {t: _identity(t.shape)}, step).get(root)


def _lift(c: Node, t_shape: tuple) -> Node:
    """c with t's axes appended as size 1, so it scales each column of a coefficient."""
    trailing = len(t_shape)
    if not trailing or not c.shape:
        return c
    return arrays.expand_dims(c, tuple(range(len(c.shape), len(c.shape) + trailing)))


def _both(parts, combine: Callable[[Node, Node], Node], single) -> Node:
    a, b = parts
    if a is not None and b is not None:
        return combine(a, b)
    return a if b is None else single(b)


def _mul(n: Node, parts, t_shape: tuple) -> Node:
    a, b = parts
    if a is not None and b is not None:
        raise DifferentiationError(
            "a product of two terms in the direction is not linear"
        )
    if a is not None:
        return mul(a, _lift(n.args[1], t_shape))
    return mul(_lift(n.args[0], t_shape), b)


def _div(n: Node, parts, t_shape: tuple) -> Node:
    if parts[1] is not None:
        raise DifferentiationError("a division by the direction is not linear")
    return div(parts[0], _lift(n.args[1], t_shape))


def _where(n: Node, parts, t_shape: tuple) -> Node:
    ca = ZERO if parts[1] is None else parts[1]
    cb = ZERO if parts[2] is None else parts[2]
    return build("where", (_lift(n.args[0], t_shape), ca, cb))


def _full(c: Node, n: Node, t_shape: tuple) -> Node:
    """The coefficient c of node n at its exact shape n.shape + t.shape."""
    return arrays.full(c, n.shape + t_shape)


def _same_op(n: Node, parts, t_shape: tuple) -> Node:
    """Ops acting on leading axes only: apply them to the coefficient (t's axes ride along)."""
    (c,) = parts
    c = _full(c, n.args[0], t_shape)
    trailing = len(t_shape)
    attrs = n.attrs
    if n.op == "pad":
        attrs = (attrs[0] + ((0, 0),) * trailing,)
    elif n.op == "transpose":
        rank = len(n.shape)
        attrs = (attrs[0] + tuple(range(rank, rank + trailing)),)
    elif n.op == "broadcast_to":
        attrs = (tuple(attrs[0]) + tuple(c.shape[len(c.shape) - trailing :]),)
    return build(n.op, (c,), attrs)


def _matmul(n: Node, parts, t_shape: tuple) -> Node:
    a, b = n.args
    ca, cb = (
        None if p is None else _full(p, x, t_shape) for p, x in zip(parts, n.args)
    )
    k = len(t_shape)
    if ca is not None and cb is not None:
        raise DifferentiationError(
            "a product of two terms in the direction is not linear"
        )
    if not k:
        return arrays.matmul(ca, b) if ca is not None else arrays.matmul(a, cb)
    if cb is not None:  # M @ y, M @ Y, c @ y: contract y's first axis with a's last
        if k == 1 and len(b.shape) == 1:
            return arrays.matmul(a, cb)
        return arrays.tensordot(a, cb, (len(a.shape) - 1,), (0,))
    if len(a.shape) == 1:  # y @ M, y @ c: contract y's axis with b's first
        if k == 1 and len(b.shape) <= 2:
            return arrays.matmul(arrays.transpose(b) if len(b.shape) == 2 else b, ca)
        return arrays.tensordot(b, ca, (0,), (0,))
    # Y @ M: (m, n, *t) with (n, p) gives (m, *t, p); move p after m
    product = arrays.tensordot(ca, b, (1,), (0,))
    if len(b.shape) == 1:
        return product
    return arrays.transpose(product, (0, k + 1, *range(1, k + 1)))


def _solve(n: Node, parts, t_shape: tuple) -> Node:
    if parts[0] is not None:
        raise DifferentiationError("solve(A, b) is linear in b only")
    if len(n.shape) + len(t_shape) > 2:
        raise DifferentiationError("no closed-form coefficient through solve(A, B)")
    return arrays.solve(n.args[0], _full(parts[1], n.args[1], t_shape))


def _outer(n: Node, parts, t_shape: tuple) -> Node:
    a, b = n.args
    if parts[0] is not None and parts[1] is not None:
        raise DifferentiationError(
            "a product of two terms in the direction is not linear"
        )
    k = len(t_shape)
    if parts[0] is not None:  # outer(y, b)[i, j, ...] = C_y[i, ...] b[j]
        c = arrays.expand_dims(_full(parts[0], a, t_shape), (1,))
        return mul(c, arrays.expand_dims(b, tuple(range(1, 1 + k))) if k else b)
    c = arrays.expand_dims(_full(parts[1], b, t_shape), (0,))
    return mul(arrays.expand_dims(a, tuple(range(1, 2 + k))), c)


# fmt: off
_RULES: dict[str, Callable] = {
    "solve":        _solve,
    "outer":        _outer,
    "add":          lambda n, p, k: _both(p, add, lambda b: b),
    "sub":          lambda n, p, k: _both(p, sub, neg),
    "neg":          lambda n, p, k: neg(p[0]),
    "mul":          _mul,
    "div":          _div,
    "where":        _where,
    "matmul":       _matmul,
    "sum":          _same_op,
    "slice":        _same_op,
    "pad":          _same_op,
    "transpose":    _same_op,
    "expand_dims":  _same_op,
    "broadcast_to": _same_op,
}
# fmt: on
