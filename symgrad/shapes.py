"""Shapes of symbolic sizes: dims, numpy broadcasting, and each array op's shape rule.

A dim is an int or a size name ("n"); slicing can also give an affine dim, a size
name plus an int offset, written "n-1" or "n+2". Shapes are inferred and checked
once, on names, when a graph is built; the sizes are bound when the generated code
is called, and checked there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from symgrad.errors import ShapeError

Dim = int | str
Shape = tuple  # a tuple of dims; () for a scalar

_AFFINE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)([+-][0-9]+)?\Z")


def split(dim: Dim) -> tuple[str | None, int]:
    """(size name, offset): "n-1" -> ("n", -1), "n" -> ("n", 0), 3 -> (None, 3)."""
    if isinstance(dim, int):
        return None, dim
    match = _AFFINE.match(dim)
    if match is None:
        raise ValueError(f"not a dim: {dim!r}")
    return match.group(1), int(match.group(2) or 0)


def affine(name: str | None, offset: int) -> Dim:
    """The dim `name + offset` (an int when name is None)."""
    if name is None:
        return offset
    return f"{name}{offset:+d}" if offset else name


def shift(dim: Dim, offset: int) -> Dim:
    """dim + offset."""
    name, base = split(dim)
    return affine(name, base + offset)


def difference(stop: Dim, start: Dim) -> Dim | None:
    """stop - start as a dim, or None when it is not one (n - m, or 3 - n)."""
    name_stop, a = split(stop)
    name_start, b = split(start)
    if name_start is None:
        return affine(name_stop, a - b)
    if name_start == name_stop:
        return a - b
    return None


def show(shape: Shape) -> str:
    """A shape as the language writes it: `[n, d]`, or `scalar`."""
    if not shape:
        return "scalar"
    return (
        "["
        + ", ".join(str(d).replace("+", " + ").replace("-", " - ") for d in shape)
        + "]"
    )


def size_names(shape: Shape) -> list[str]:
    """The size names a shape mentions, in order."""
    names = []
    for dim in shape:
        name = split(dim)[0]
        if name is not None and name not in names:
            names.append(name)
    return names


def broadcast(shapes: Sequence[Shape], what: str = "") -> Shape:
    """numpy's broadcast of shapes: right-aligned, equal dims or one of them 1."""
    result: list[Dim] = []
    for shape in shapes:
        if not shape:
            continue
        if len(shape) > len(result):
            result = [1] * (len(shape) - len(result)) + result
        offset = len(result) - len(shape)
        for i, dim in enumerate(shape):
            mine = result[offset + i]
            if dim == mine or dim == 1:
                continue
            if mine == 1:
                result[offset + i] = dim
                continue
            shown = " and ".join(show(s) for s in shapes if s)
            raise ShapeError(
                f"{what + ': ' if what else ''}shapes {shown} do not broadcast "
                f"({mine} vs {dim})"
            )
    return tuple(result)


def broadcastable(small: Shape, big: Shape) -> bool:
    """True when small broadcasts to exactly big."""
    if len(small) > len(big):
        return False
    return all(d == 1 or d == b for d, b in zip(small[::-1], big[::-1]))


def normalize_axis(axis: int, rank: int, what: str) -> int:
    """A non-negative axis of a rank-`rank` array (numpy's negative axes allowed)."""
    if not -rank <= axis < rank:
        raise ShapeError(
            f"{what}: axis {axis} is out of range for an array of {rank} "
            f"dimension{'s' if rank != 1 else ''}"
        )
    return axis % rank


def unify(declared: Shape, actual: Shape, bindings: dict[str, Dim], what: str) -> None:
    """Bind declared size names to the dims of actual (a callee's params to its arguments)."""
    if len(declared) != len(actual):
        raise ShapeError(
            f"{what}: expected an array of shape {show(declared)}, got {show(actual)}"
        )
    for want, got in zip(declared, actual):
        if isinstance(want, int):
            if want != got:
                raise ShapeError(
                    f"{what}: expected shape {show(declared)}, got {show(actual)} "
                    f"({want} vs {got})"
                )
            continue
        bound = bindings.setdefault(want, got)
        if bound != got:
            raise ShapeError(f"{what}: size {want} would be both {bound} and {got}")


# ---------------------------------------------------------------- shape rules by op
# Each rule takes the argument shapes and the node's attrs and returns the result
# shape, raising ShapeError with a message that names the sizes involved.


def _reduced(shapes: Sequence[Shape], attrs: tuple) -> Shape:
    (shape,), (axes, keepdims) = shapes, attrs
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _broadcast_to(shapes: Sequence[Shape], attrs: tuple) -> Shape:
    if not broadcastable(shapes[0], attrs[0]):
        raise ShapeError(f"cannot broadcast {show(shapes[0])} to {show(attrs[0])}")
    return tuple(attrs[0])


def _expand_dims(shapes: Sequence[Shape], attrs: tuple) -> Shape:
    rest = iter(shapes[0])
    rank = len(shapes[0]) + len(attrs[0])
    return tuple(1 if i in attrs[0] else next(rest) for i in range(rank))


def _transpose(shapes: Sequence[Shape], attrs: tuple) -> Shape:
    return tuple(shapes[0][i] for i in attrs[0])


def _matmul(shapes: Sequence[Shape], attrs: tuple) -> Shape:
    a, b = shapes
    if not (1 <= len(a) <= 2 and 1 <= len(b) <= 2):
        raise ShapeError(f"@ needs vectors or matrices, got {show(a)} and {show(b)}")
    inner_a, inner_b = a[-1], b[0]
    if inner_a != inner_b:
        raise ShapeError(f"inner sizes differ ({inner_a} vs {inner_b})")
    return a[:-1] + b[1:]


def _outer(shapes: Sequence[Shape], attrs: tuple) -> Shape:
    a, b = shapes
    if len(a) != 1 or len(b) != 1:
        raise ShapeError(f"outer needs two vectors, got {show(a)} and {show(b)}")
    return (a[0], b[0])


def _diag(shapes: Sequence[Shape], attrs: tuple) -> Shape:
    (v,) = shapes
    if len(v) != 1:
        raise ShapeError(f"diag of a vector makes a matrix; got {show(v)}")
    return (v[0], v[0])


def _diagonal(shapes: Sequence[Shape], attrs: tuple) -> Shape:
    (a,) = shapes
    if len(a) != 2 or a[0] != a[1]:
        raise ShapeError(f"the diagonal needs a square matrix, got {show(a)}")
    return (a[0],)


def _square(shapes: Sequence[Shape], what: str) -> Shape:
    a = shapes[0]
    if len(a) != 2 or a[0] != a[1]:
        raise ShapeError(f"{what} needs a square matrix, got {show(a)}")
    return a


def _solve(shapes: Sequence[Shape], attrs: tuple) -> Shape:
    a, b = _square(shapes, "solve"), shapes[1]
    if not 1 <= len(b) <= 2 or b[0] != a[0]:
        raise ShapeError(
            f"solve(A, b) needs b of {a[0]} rows for A of shape {show(a)}, got {show(b)}"
        )
    return b


def _tensordot(shapes: Sequence[Shape], attrs: tuple) -> Shape:
    (a, b), (axes_a, axes_b) = shapes, attrs
    for i, j in zip(axes_a, axes_b):
        if a[i] != b[j]:
            raise ShapeError(f"tensordot: contracted sizes differ ({a[i]} vs {b[j]})")
    free_a = tuple(d for i, d in enumerate(a) if i not in axes_a)
    return free_a + tuple(d for j, d in enumerate(b) if j not in axes_b)


def _pad(shapes: Sequence[Shape], attrs: tuple) -> Shape:
    out = list(shapes[0])
    for axis, (before, after) in enumerate(attrs[0]):
        # d + before + after: at most one of the three is symbolic in practice
        total = out[axis]
        for extra in (before, after):
            name, offset = split(extra)
            if name is not None:
                total_name, total_offset = split(total)
                if total_name is not None:
                    raise ShapeError(f"pad: cannot add {extra} to {total}")
                total = affine(name, offset + total_offset)
            else:
                total = shift(total, offset)
        out[axis] = total
    return tuple(out)


def slice_bounds(dim: Dim, start: int | None, stop: int | None) -> tuple[Dim, Dim]:
    """(start, stop) of x[start:stop] along a dim, as dims counted from 0."""
    begin = 0 if start is None else start if start >= 0 else shift(dim, start)
    end = dim if stop is None else stop if stop >= 0 else shift(dim, stop)
    if isinstance(dim, int):
        # numpy clips bounds to the axis
        begin = min(max(begin, 0), dim) if isinstance(begin, int) else begin
        end = min(max(end, 0), dim) if isinstance(end, int) else end
    return begin, end


def _slice(shapes: Sequence[Shape], attrs: tuple) -> Shape:
    (shape,), (items,) = shapes, attrs
    if not shape:
        raise ShapeError("a scalar cannot be subscripted")
    if len(items) > len(shape):
        raise ShapeError(
            f"too many indices ({len(items)}) for an array of shape {show(shape)}"
        )
    out: list[Dim] = []
    for axis, (item, dim) in enumerate(zip(items, shape)):
        if item[0] == "i":
            _check_index(item[1], dim, axis)
            continue
        begin, end = slice_bounds(dim, item[1], item[2])
        length = difference(end, begin)
        if length is None:
            raise ShapeError(
                f"the slice {_show_slice(item)} of axis {axis} (size {dim}) has a "
                "length that depends on the size; use bounds relative to one end"
            )
        if isinstance(length, int) and length <= 0:
            raise ShapeError(
                f"the slice {_show_slice(item)} of axis {axis} (size {dim}) is empty"
            )
        out.append(length)
    return tuple(out) + tuple(shape[len(items) :])


def _banded(shapes: Sequence[Shape], attrs: tuple) -> Shape:
    # diagonal k of an n x n matrix has n - |k| entries
    sizes = set()
    for shape, k in zip(shapes, attrs[0]):
        if len(shape) != 1:
            raise ShapeError(f"a diagonal is a vector; got {show(shape)}")
        sizes.add(shift(shape[0], abs(k)))
    if len(sizes) != 1:
        raise ShapeError(f"diagonals of different matrices: {sorted(map(str, sizes))}")
    (n,) = sizes
    return (n, n)


def _band_times(shapes: Sequence[Shape], attrs: tuple) -> Shape:
    # out[row + i] += values[i] * v[col + i] for i < size: out is v's size
    v, *values = shapes
    if len(v) != 1 or any(len(s) > 1 for s in values):
        raise ShapeError("a banded product takes a vector, and values per term")
    if any(s and s[0] != size for s, (_, _, size) in zip(values, attrs[0])):
        raise ShapeError("a banded product's values must have their term's size")
    return v


def _check_index(k: int, dim: Dim, axis: int) -> None:
    if isinstance(dim, int) and not -dim <= k < dim:
        raise ShapeError(f"index {k} is out of range for axis {axis} of size {dim}")


def _show_slice(item: tuple) -> str:
    start = "" if item[1] is None else str(item[1])
    stop = "" if item[2] is None else str(item[2])
    return f"[{start}:{stop}]"


def _same(shapes: Sequence[Shape], attrs: tuple) -> Shape:
    return shapes[0]


def _scalar(shapes: Sequence[Shape], attrs: tuple) -> Shape:
    return ()


SHAPE_RULES: Mapping[str, Callable[[Sequence[Shape], tuple], Shape]] = {
    "sum": _reduced,
    "logsumexp": _reduced,
    "broadcast_to": _broadcast_to,
    "expand_dims": _expand_dims,
    "transpose": _transpose,
    "matmul": _matmul,
    "outer": _outer,
    "diag": _diag,
    "diagonal": _diagonal,
    "slice": _slice,
    "pad": _pad,
    "softmax": _same,
    "dim": _scalar,
    "eye": lambda shapes, attrs: (attrs[0], attrs[0]),
    "inv": lambda shapes, attrs: _square(shapes, "inv"),
    "det": lambda shapes, attrs: _square(shapes, "det") and (),
    "logdet": lambda shapes, attrs: _square(shapes, "logdet") and (),
    "solve": _solve,
    "tensordot": _tensordot,
    "banded": _banded,
    "band_times": _band_times,
}
