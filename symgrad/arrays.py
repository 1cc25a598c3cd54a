"""Array builders: matmul, reductions, slices, stable logsumexp/softmax, with shape checks.

The expression language, the tracer and the derivative rules build array nodes only
through these functions, so every array node is checked once, here, and reaches the
simplifier's rules. A problem raises ShapeError (no span: the frontend adds it).
"""

from __future__ import annotations

from collections.abc import Sequence

from symgrad.errors import ShapeError
from symgrad.graph import Node, make
from symgrad.shapes import (
    Dim,
    Shape,
    broadcastable,
    difference,
    normalize_axis,
    shift,
    show,
    split,
)
from symgrad.simplify import build, call, div, mul, num, power, sub

Item = int | slice


def size_node(name: str) -> Node:
    """The size named `name` at run time, as a scalar node."""
    return make("dim", (), ((name,),))


def count(dims: Sequence[Dim]) -> Node:
    """The number of entries of an array with these dims (a constant when all are fixed)."""
    fixed, names = 1, []
    for dim in dims:
        name, offset = split(dim)
        if name is None:
            fixed *= offset
        else:
            names.append(dim)
    if not names:
        return num(float(fixed))
    node = make("dim", (), (tuple(names),))
    return node if fixed == 1 else mul(num(float(fixed)), node)


def _axes(x: Node, axis: int | Sequence[int] | None, what: str) -> tuple[int, ...]:
    rank = len(x.shape)
    if axis is None:
        return tuple(range(rank))
    if isinstance(axis, int):
        axis = (axis,)
    axes = sorted({normalize_axis(a, rank, what) for a in axis})
    return tuple(axes)


# ---------------------------------------------------------------- products


def matmul(a: Node, b: Node) -> Node:
    """a @ b with numpy's semantics for vectors and matrices."""
    return build("matmul", (a, b))


def transpose(a: Node, perm: Sequence[int] | None = None) -> Node:
    """a.T (all axes reversed), or the axes in the order perm."""
    rank = len(a.shape)
    perm = tuple(range(rank))[::-1] if perm is None else tuple(perm)
    if sorted(perm) != list(range(rank)):
        raise ShapeError(f"transpose: {perm} is not a permutation of {rank} axes")
    return build("transpose", (a,), (perm,))


def dot(a: Node, b: Node) -> Node:
    """The dot product of two vectors."""
    if len(a.shape) != 1 or len(b.shape) != 1:
        raise ShapeError(
            f"dot needs two vectors, got {show(a.shape)} and {show(b.shape)}"
        )
    return matmul(a, b)


def outer(a: Node, b: Node) -> Node:
    """The outer product of two vectors: shape (m, n)."""
    return build("outer", (a, b))


def tensordot(a: Node, b: Node, axes_a: Sequence[int], axes_b: Sequence[int]) -> Node:
    """numpy's tensordot: a's axes_a contracted with b's axes_b, free axes a's then b's."""
    return build("tensordot", (a, b), (tuple(axes_a), tuple(axes_b)))


def diag(x: Node) -> Node:
    """numpy's diag: a vector's diagonal matrix, or a square matrix's diagonal."""
    if len(x.shape) == 2:
        return build("diagonal", (x,))
    return build("diag", (x,))


def trace(a: Node) -> Node:
    """The sum of a square matrix's diagonal."""
    if len(a.shape) != 2:
        raise ShapeError(f"trace needs a square matrix, got {show(a.shape)}")
    return reduce_sum(build("diagonal", (a,)))


def inv(a: Node) -> Node:
    """The inverse of a square matrix (prefer solve(A, b) to inv(A) @ b)."""
    return build("inv", (a,))


def det(a: Node) -> Node:
    """The determinant of a square matrix."""
    return build("det", (a,))


def logdet(a: Node) -> Node:
    """log |det A| (numpy's slogdet); for a positive-definite A, log det A."""
    return build("logdet", (a,))


def solve(a: Node, b: Node) -> Node:
    """x with A x = b (b a vector or a matrix), by a factorization, never inv(A)."""
    return build("solve", (a, b))


def eye(size: Node) -> Node:
    """The identity matrix of a size: a size name of the function, or a whole number."""
    if size.op == "dim" and len(size.attrs[0]) == 1:
        return make("eye", (), (size.attrs[0][0],))
    if size.op == "const" and size.value == int(size.value) and size.value >= 1:
        return make("eye", (), (int(size.value),))
    raise ShapeError("eye needs a size: a size name of the function or a whole number")


# ---------------------------------------------------------------- reductions


def reduce_sum(x: Node, axis=None, keepdims: bool = False) -> Node:
    """The sum over axis (an int, ints, or None for every axis)."""
    if not x.shape:
        if axis is None:
            return x
        raise ShapeError(f"sum: axis {axis} given for a scalar")
    axes = _axes(x, axis, "sum")
    return build("sum", (x,), (axes, bool(keepdims)))


def mean(x: Node, axis=None, keepdims: bool = False) -> Node:
    """The mean over axis: the sum divided by the number of entries summed."""
    if not x.shape:
        return reduce_sum(x, axis)
    axes = _axes(x, axis, "mean")
    total = reduce_sum(x, axes, keepdims)
    return div(total, count([x.shape[i] for i in axes]))


def norm(x: Node) -> Node:
    """The 2-norm of a vector, the Frobenius norm of a matrix."""
    return call("sqrt", reduce_sum(power(x, num(2.0))))


def logsumexp(x: Node, axis=None, keepdims: bool = False) -> Node:
    """log(sum(exp(x))) over axis, computed max-shifted so it never overflows."""
    if not x.shape:
        return x
    axes = _axes(x, axis, "logsumexp")
    return build("logsumexp", (x,), (axes, bool(keepdims)))


def softmax(x: Node, axis=None) -> Node:
    """exp(x) / sum(exp(x)) over axis, max-shifted."""
    if not x.shape:
        return num(1.0)
    return build("softmax", (x,), (_axes(x, axis, "softmax"),))


def log_softmax(x: Node, axis=None) -> Node:
    """x - logsumexp(x) over axis: stable, and so is its derivative (g - softmax sum g)."""
    if not x.shape:
        return num(0.0)
    return sub(x, logsumexp(x, _axes(x, axis, "log_softmax"), keepdims=True))


# ---------------------------------------------------------------- subscripts


def index(x: Node, items: Sequence[Item]) -> Node:
    """x[items]: integer indices and slices with constant bounds, step 1."""
    raw = []
    for item in items:
        if isinstance(item, slice):
            if item.step not in (None, 1):
                raise ShapeError("slices with a step are not supported")
            raw.append(("s", item.start, item.stop))
        else:
            raw.append(("i", int(item)))
    # a slice that keeps a whole axis is no slice: x[:, 0] and x[0] differ only there
    while raw and raw[-1] == ("s", None, None):
        raw.pop()
    if not raw:
        return x
    return build("slice", (x,), (tuple(raw),))


# ---------------------------------------------------------------- shape moves


def window(x: Node, start: int, length: Dim) -> Node:
    """x[start:start + length] of a vector, its stop counted from the end (n - 1 -> -1)."""
    after = difference(x.shape[0], shift(length, start))
    if not isinstance(after, int) or after < 0:
        raise ShapeError(
            f"no window of {length} from {start} in a vector of {x.shape[0]}"
        )
    return index(x, (slice(start or None, -after or None),))


def broadcast_to(x: Node, shape: Shape) -> Node:
    """x stretched to shape (numpy's broadcasting)."""
    return build("broadcast_to", (x,), (tuple(shape),))


def expand_dims(x: Node, axes: Sequence[int]) -> Node:
    """x with new axes of size 1 at the given positions of the result."""
    return build("expand_dims", (x,), (tuple(sorted(axes)),))


def sum_to(x: Node, shape: Shape) -> Node:
    """x summed over the axes numpy's broadcasting stretched to turn shape into x.shape.

    The result broadcasts to shape (it may keep a 1 where shape has n: an adjoint
    that is the same along an axis need not be materialized along it).
    """
    if broadcastable(x.shape, shape):
        return x
    lead = len(x.shape) - len(shape)
    if lead > 0:
        x = reduce_sum(x, tuple(range(lead)))
    stretched = tuple(
        i for i, (d, want) in enumerate(zip(x.shape, shape)) if want == 1 and d != 1
    )
    return reduce_sum(x, stretched, keepdims=True) if stretched else x


def unbroadcast(g: Node, stretched: Shape, shape: Shape) -> Node:
    """The adjoint of an array of `shape` that numpy broadcast to `stretched`, from g.

    g is the adjoint of the stretched array and may itself be smaller (the same value
    along an axis where it has 1 or lacks it): summing such an axis is multiplying
    by its size, so g = 1 for every entry of x + s (s a scalar, x a vector) gives
    s the adjoint n.
    """
    lead = len(stretched) - len(shape)
    g_lead = len(stretched) - len(g.shape)
    scale = []
    for i, big in enumerate(stretched):
        small = shape[i - lead] if i >= lead else 1
        g_dim = g.shape[i - g_lead] if i >= g_lead else 1
        if small == 1 and big != 1 and g_dim == 1:
            scale.append(big)
    reduced = sum_to(g, shape)
    return mul(reduced, count(scale)) if scale else reduced


def full(x: Node, shape: Shape) -> Node:
    """x at exactly shape (an adjoint or tangent may be smaller: it broadcasts)."""
    return x if x.shape == tuple(shape) else broadcast_to(x, shape)


def inner(a: Node, b: Node) -> Node:
    """sum(a * b) over every axis: the scalar product of two like-shaped arrays."""
    return reduce_sum(mul(a, b))
