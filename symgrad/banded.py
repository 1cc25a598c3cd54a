"""Read a banded matrix off a graph linear in a vector direction: O(n) Hessians.

A Hessian-vector product H v built only from slices of v, elementwise products
and zero-paddings is a sum of shifted, scaled copies of v: each term adds c[i] *
v[col + i] to entry row + i of the result. Such a term is the diagonal `col - row`
of H, so H is banded and its diagonals are vectors: the vectorized Rosenbrock's
Hessian is tridiagonal, assembled from its three diagonals in O(n) work beyond the
allocation, never as dense identity slices (symgrad.linear's general closed form).
Anything else in the product (a matmul, a sum over v) is no band: the caller falls
back on symgrad.linear.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from symgrad import arrays
from symgrad.graph import Node, make, push_forward, toposort
from symgrad.shapes import Dim, difference, shift, slice_bounds
from symgrad.simplify import ONE, add, build, div, mul, neg


@dataclass(frozen=True)
class Term:
    """result[row + i] += values[i] * v[col + i] for i < length (values may be a scalar)."""

    values: Node
    row: int
    col: int
    length: Dim


Terms = tuple[Term, ...]


class NotBanded(Exception):
    """The product is linear in v but not a sum of shifted, scaled copies of it."""


def band_product(root: Node, v: Node) -> Node | None:
    """root = H v rebuilt as one `band_times` of v, for a banded H, else None.

    None too for a diagonal H, whose H v is one elementwise product already.

    Each term adds values * v[col:col + L] into out[row:row + L] in place, which is
    how a person writes a banded product in numpy: no padded copies, no diagonal
    summed from pieces, every term a multiply and an add over its slice.
    """
    if len(v.shape) != 1 or root.shape != v.shape:
        return None
    try:
        terms = _terms(root, v)
    except NotBanded:
        return None
    merged: dict[tuple, Node] = {}
    for t in terms:  # like terms (same rows, same columns) add their values
        key = (t.row, t.col, t.length)
        merged[key] = t.values if key not in merged else add(merged[key], t.values)
    if all(row == col for row, col, _ in merged):
        return None  # a diagonal H: its H v (d * v) is as good as it gets already
    return build("band_times", (v, *merged.values()), (tuple(merged),))


def diagonals(root: Node, v: Node) -> dict[int, Node] | None:
    """{k: the k-th diagonal of H} for root = H v with H banded, else None.

    Diagonal k (numpy's np.diag offset: k > 0 above the main one) is a vector of
    length n - |k|; absent diagonals are zero.
    """
    if len(v.shape) != 1 or root.shape != v.shape:
        return None
    try:
        terms = _terms(root, v)
        return _assemble(terms, v.shape[0]) if terms else None
    except NotBanded:
        return None


def _terms(root: Node, v: Node) -> Terms:
    """The terms of root in v, op by op from v up."""

    def step(node: Node, parts: list) -> Terms:
        rule = _RULES.get(node.op)
        if rule is None or len(node.shape) != 1:
            raise NotBanded(node.op)
        return rule(node, parts)

    found = push_forward([root], {v: (Term(ONE, 0, 0, v.shape[0]),)}, step)
    return found.get(root, ())


def _scaled(terms: Terms, node: Node, factor: Node, combine) -> Terms:
    """Each term's values combined with factor (a scalar, or a vector the node's size)."""
    if factor.shape and factor.shape != node.shape:
        raise NotBanded("a factor that broadcasts")
    out = []
    for t in terms:
        if factor.shape and (t.row != 0 or t.length != node.shape[0]):
            raise NotBanded("a vector factor of a padded term")  # would need its slice
        out.append(Term(combine(t.values, factor), t.row, t.col, t.length))
    return tuple(out)


def _mul(node: Node, parts) -> Terms:
    a, b = parts
    if a is not None and b is not None:
        raise NotBanded("a product of two terms in v")
    terms, factor = (a, node.args[1]) if a is not None else (b, node.args[0])
    _same_size(node, node.args[0] if a is not None else node.args[1])
    return _scaled(terms, node, factor, mul)


def _div(node: Node, parts) -> Terms:
    if parts[1] is not None:
        raise NotBanded("a division by v")
    _same_size(node, node.args[0])
    return _scaled(parts[0], node, node.args[1], div)


def _sum_of(node: Node, parts, sign: Callable[[Node], Node] | None) -> Terms:
    for arg, part in zip(node.args, parts):
        if part is not None:
            _same_size(node, arg)
    left = parts[0] or ()
    right = parts[1] or ()
    if sign is not None:
        right = tuple(Term(sign(t.values), t.row, t.col, t.length) for t in right)
    return left + right


def _neg(node: Node, parts) -> Terms:
    return tuple(Term(neg(t.values), t.row, t.col, t.length) for t in parts[0])


def _slice(node: Node, parts) -> Terms:
    (items,) = node.attrs
    (x,) = node.args
    if len(items) != 1 or items[0][0] != "s":
        raise NotBanded("an index")
    begin, _ = slice_bounds(x.shape[0], items[0][1], items[0][2])
    if not isinstance(begin, int):
        raise NotBanded("a slice from the end")
    out = []
    for t in parts[0]:
        if t.row != 0 or t.length != x.shape[0]:
            raise NotBanded("a slice of a padded term")
        values = (
            t.values if not t.values.shape else build("slice", (t.values,), node.attrs)
        )
        out.append(Term(values, 0, t.col + begin, node.shape[0]))
    return tuple(out)


def _pad(node: Node, parts) -> Terms:
    ((before, _),) = node.attrs[0]
    if not isinstance(before, int):
        raise NotBanded("a padding of symbolic width")
    return tuple(Term(t.values, t.row + before, t.col, t.length) for t in parts[0])


def _same_size(node: Node, arg: Node) -> None:
    """The term side of an elementwise op must be the node's size (no broadcasting of v)."""
    if arg.shape != node.shape:
        raise NotBanded("a term in v that broadcasts")


# fmt: off
_RULES: dict[str, Callable[[Node, list], Terms]] = {
    "add":   lambda n, p: _sum_of(n, p, None),
    "sub":   lambda n, p: _sum_of(n, p, neg),
    "neg":   _neg,
    "mul":   _mul,
    "div":   _div,
    "slice": _slice,
    "pad":   _pad,
}
# fmt: on


def _assemble(terms: Terms, n: Dim) -> dict[int, Node]:
    """Each diagonal as one vector: its terms' values padded to the diagonal's length."""
    by_offset: dict[int, Node] = {}
    for t in terms:
        k = t.col - t.row
        length = shift(n, -abs(k))
        start = t.row if k >= 0 else t.col  # where the term begins along the diagonal
        after = difference(length, shift(t.length, start))
        if after is None or (isinstance(after, int) and after < 0):
            raise NotBanded("a term that leaves its diagonal")
        values = arrays.full(t.values, (t.length,))
        if start or after != 0:
            values = build("pad", (values,), (((start, after),),))
        by_offset[k] = values if k not in by_offset else add(by_offset[k], values)
    return dict(sorted(by_offset.items(), key=lambda item: (abs(item[0]), -item[0])))


def banded(diagonals_by_offset: dict[int, Node]) -> Node:
    """The square matrix with these diagonals (np.diag offsets) and zeros elsewhere."""
    offsets = tuple(diagonals_by_offset)
    return build("banded", tuple(diagonals_by_offset.values()), (offsets,))


def as_padded_sums(roots: Sequence[Node]) -> list[Node]:
    """roots with every band product written as a sum of padded slice products.

    The same value: band_times(v, values..., terms) is the sum over its terms of
    pad(values * v[col:col + size], (row, n - row - size)). The numba target fuses
    slices and paddings into one loop; the band product is the numpy target's
    in-place schedule of that sum.
    """
    new: dict[Node, Node] = {}
    for node in toposort(roots):
        args = tuple(new[a] for a in node.args)
        if node.op == "band_times":
            new[node] = _padded_sum(args[0], args[1:], node.attrs[0])
        else:
            new[node] = node if args == node.args else make(node.op, args, node.attrs)
    return [new[r] for r in roots]


def _padded_sum(v: Node, values: Sequence[Node], terms: tuple) -> Node:
    n = v.shape[0]
    total = None
    for d, (row, col, size) in zip(values, terms):
        piece = mul(d, arrays.window(v, col, size))
        after = difference(n, shift(size, row))
        padded = build("pad", (arrays.full(piece, (size,)),), (((row, after),),))
        total = padded if total is None else add(total, padded)
    return total
