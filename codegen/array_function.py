"""One generated function of array parameters: shapes checked at the call, a vectorized body.

Scalar functions keep codegen/module.py's contract (a Python-float fast path, every
output at the inputs' broadcast shape). A function with an array parameter instead
checks every argument against its declared shape, binds the size names it needs
(`n = X.shape[0]`), and returns each output at its own declared shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from codegen import layout
from codegen.layout import INDENT, Tuple, collection
from codegen.names import python_name
from codegen.printer import NUMPY, definition, expression, shape_text
from codegen.schedule import Namer, schedule
from symgrad.graph import Node, make, toposort
from symgrad.shapes import size_names, split

# Ops whose numpy result can be a view of, or the very object of, an argument: an
# output made by one is copied, so no caller ever holds an alias of its own input.
_ALIASING = {"var", "broadcast_to", "transpose", "slice", "diagonal", "expand_dims"}

ARRAY_HELPER_SOURCE: dict[str, str] = {
    "_arrays": '''
def _arrays(values, shapes, needs=()):
    """The arguments as arrays of one float dtype, each checked against its shape.

    shapes holds (parameter name, dim, ...) per argument; a dim is a fixed size or
    a size name, which must be the same size wherever it appears. needs holds
    (size name, least size, what needs it) for indices and slices.
    """
    dtype = np.result_type(*values, 1.0)
    arrays = tuple(_array(value, dtype) for value in values)
    sizes, origin = {}, {}
    for (name, *dims), array in zip(shapes, arrays):
        if array.ndim != len(dims):
            raise ValueError(
                f"{name}: expected {len(dims)} dimension(s) {tuple(dims)}, "
                f"got an array of shape {array.shape}"
            )
        for axis, (dim, size) in enumerate(zip(dims, array.shape)):
            if type(dim) is int and size != dim:
                raise ValueError(f"{name}: axis {axis} has size {size}, expected {dim}")
            if type(dim) is str and sizes.setdefault(dim, size) != size:
                raise ValueError(
                    f"{name}: axis {axis} has size {size}, but {dim} is "
                    f"{sizes[dim]} (from {origin[dim]})"
                )
            origin.setdefault(dim, f"{name} axis {axis}")
    for dim, least, what in needs:
        if sizes[dim] < least:
            raise ValueError(
                f"{what} needs {dim} >= {least}, but {dim} is {sizes[dim]}"
            )
    return arrays
''',
    "_array": '''
def _array(value, dtype):
    """value as an array of dtype: another library's array (dask, CuPy) stays one.

    numpy's functions dispatch on such arrays (__array_function__), so the body
    builds dask's graph lazily where np.asarray would compute it into memory.
    numpy's own subclasses (np.matrix) become plain arrays, as they always did.
    """
    if type(value) is not np.ndarray and hasattr(value, "__array_function__"):
        if not isinstance(value, np.ndarray):
            return value if value.dtype == dtype else value.astype(dtype)
    return np.asarray(value, dtype)
''',
    "_zeros": '''
def _zeros(shape, *arrays):
    """Zeros of the arrays' dtype, of the first one's library that is not numpy."""
    for array in arrays:
        if type(array) is not np.ndarray:
            return np.zeros_like(array, shape=shape)
    return np.zeros(shape, arrays[0].dtype)
''',
    "_copy": '''
def _copy(x):
    """A new array of x's library with x's values (np.copy would compute dask's)."""
    return x.copy()
''',
    "_logsumexp": '''
def _logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over axis, shifted by the max so that it never overflows."""
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)  # an all -inf slice: no inf - inf
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return (out if keepdims else np.squeeze(out, axis=axis))[()]
''',
    "_banded": '''
def _banded(*diagonals):
    """The square matrix with these (values, k) diagonals (np.diag's k), zeros elsewhere.

    O(n) beyond the zeros: diagonal k of the C-ordered matrix is every (n + 1)-th
    entry of its flat view, from entry k (k >= 0) or -k n (k < 0).
    """
    values, k = diagonals[0]
    n = len(values) + abs(k)
    out = np.zeros((n, n), np.result_type(*(values for values, _ in diagonals)))
    flat = out.reshape(-1)
    for values, k in diagonals:
        flat[k if k >= 0 else -k * n :: n + 1][: n - abs(k)] = values
    return out
''',
    "_band_times": '''
def _band_times(v, *terms):
    """A banded matrix times v from (values, row, col, size) terms.

    Each term adds values[i] * v[col + i] into entry row + i, for i < size: one
    multiply and one in-place add over its slices, no padded copies.
    """
    out = np.zeros(v.shape, np.result_type(v, *(term[0] for term in terms)))
    for values, row, col, size in terms:
        out[row : row + size] += values * v[col : col + size]
    return out
''',
    "_softmax": '''
def _softmax(x, axis):
    """exp(x) / sum(exp(x)) over axis, shifted by the max so that it never overflows."""
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)
''',
}


@dataclass(frozen=True)
class Blocks:
    """A symmetric matrix over parameters raveled and concatenated: its upper blocks.

    entries[i, j] (i <= j) has shape shapes[i] + shapes[j]; absent blocks are zero.
    """

    shapes: tuple[tuple, ...]
    entries: Mapping[tuple[int, int], Node]


def is_array_function(
    params: Sequence[tuple[str, Node]], outputs: Sequence[Node]
) -> bool:
    """True when a parameter or an output has a shape: the array contract applies."""
    return any(node.shape for _, node in params) or any(o.shape for o in outputs)


def array_function_lines(
    name: str,
    params: Sequence[tuple[str, Node]],
    result,
    doc: str,
    hints,
    leaves: Sequence[Node],
    helpers: set[str],
    docstring,
) -> list[str]:
    """The lines of one array function: signature, docstring, checks, body, return."""
    namer = Namer(_reserved())
    names = {node: namer.claim(python_name(source)) for source, node in params}
    pnames = list(names.values())
    sizes = _sizes_used(leaves, [node for _, node in params])
    if isinstance(result, Blocks) and _single_block(result) is None:
        # the layout names every parameter's size
        for shape in result.shapes:
            sizes += [n for n in size_names(shape) if n not in sizes]
    for size in sizes:
        names[make("dim", (), ((size,),))] = namer.claim(size)
    plan = schedule(reverse_sweep_order(leaves), names, hints, namer)
    helpers.update(("_arrays", "_array"))
    lines = layout.call(f"def {python_name(name)}(", pnames, "", "):")
    lines.append(INDENT + docstring(doc, INDENT))
    lines += _checks(params, names, leaves, helpers)
    lines += _bind_sizes(sizes, params, names)
    if pnames and any(_is_where_constants(n) for n in plan.order):
        # where(c, 1.0, 2.0) is spelled np.asarray(1.0, dtype): the inputs' dtype
        lines.append(f"{INDENT}dtype = {pnames[0]}.dtype")
    lines.append(
        f'{INDENT}with np.errstate(divide="ignore", invalid="ignore", over="ignore"):'
    )
    body = INDENT * 2
    memo: dict = {}
    helpers.update(NUMPY.helpers[n.op] for n in plan.order if n.op in NUMPY.helpers)
    for target, node in plan.statements:
        lines += _statement(body, target, definition(node, plan.names, memo))
    first = pnames[0] if pnames else None

    def out(node: Node) -> str:
        return _output(node, plan.names, first, helpers)

    if isinstance(result, Node):
        return lines + [f"{body}return {out(result)}"]
    if isinstance(result, Blocks) and _single_block(result) is not None:
        return lines + [f"{body}return {out(_single_block(result))}"]
    if isinstance(result, Blocks):
        helpers.add("_zeros")
        return lines + _assemble(result, plan.names, body, namer, pnames)
    return lines + collection("return ", _as_tuple(result, out), body)


def _single_block(result: Blocks) -> Node | None:
    """The one block of a Hessian in one vector parameter: the whole matrix."""
    if len(result.shapes) == 1 and len(result.shapes[0]) == 1:
        return result.entries.get((0, 0))
    return None


def _assemble(
    result: Blocks, names, indent: str, namer: Namer, pnames: list[str]
) -> list[str]:
    """hessian[rows, columns] = block for each upper block, and its mirror.

    Each parameter's rows are a span of the raveled vector; where a span's end is
    more than a name or a number it gets a name of its own (`W1_end = h * d`).
    """
    lines, spans, sizes, start = [], [], [], "0"
    for k, shape in enumerate(result.shapes):
        size = _size_text(shape, names)
        end = _plus(start, size)
        if not (end.isidentifier() or end.isdigit()):
            name = namer.claim(f"{pnames[k]}_end")
            lines.append(f"{indent}{name} = {end}")
            end = name
        spans.append(
            start if not shape else _slice_text("" if start == "0" else start, end)
        )
        sizes.append(size)
        start = end
    # zeros of the arguments' library: dask blocks set into numpy's would compute
    zeros = f"hessian = _zeros(({start}, {start}), "
    lines += layout.call(zeros, pnames, indent)
    for (i, j), node in sorted(result.entries.items()):
        text = expression(node, names)
        upper = f"hessian[{spans[i]}, {spans[j]}]"
        lower = f"hessian[{spans[j]}, {spans[i]}]"
        if len(result.shapes[i]) > 1 or len(result.shapes[j]) > 1:
            # a matrix parameter's block, raveled in C order like the parameter
            flat = [sizes[k] for k in (i, j) if result.shapes[k]]
            shape = f"({', '.join(flat)}{',' if len(flat) == 1 else ''})"
            lines += layout.call(f"{upper} = np.reshape(", [text, shape], indent)
        elif i == j or not (result.shapes[i] and result.shapes[j]):
            target = upper if i == j else f"{upper} = {lower}"
            lines.append(f"{indent}{target} = {text}")
            continue
        else:
            lines.append(f"{indent}{upper} = {text}")
        if i != j and result.shapes[i] and result.shapes[j]:
            # a matrix block: the mirror is its transpose, read back, not recomputed
            lines.append(f"{indent}{lower} = {upper}.T")
        elif i != j:
            lines += layout.call(
                f"{lower} = np.reshape(",
                [upper, f"({sizes[j] if result.shapes[j] else sizes[i]},)"],
                indent,
            )
    return lines + [f"{indent}return hessian"]


def _statement(indent: str, target: str, text: str) -> list[str]:
    """`target = text`, a call too long for one line split at its arguments as black does."""
    line = f"{indent}{target} = {text}"
    head = re.match(r"[\w.]+\(", text)
    if len(line) <= layout.LINE_LENGTH or head is None:
        return [line]
    args = _top_level_arguments(text[head.end() :])
    if args is None:
        return [line]
    return layout.call(f"{target} = {head.group()}", args, indent)


def _top_level_arguments(inside: str) -> list[str] | None:
    """The arguments of a call whose text after `name(` is inside; None unless the
    call's closing parenthesis ends the text."""
    args, depth, start = [], 0, 0
    for k, char in enumerate(inside):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                if k != len(inside) - 1:
                    return None
                args.append(inside[start:k].strip())
                return [a for a in args if a]
            depth -= 1
        elif char == "," and depth == 0:
            args.append(inside[start:k].strip())
            start = k + 1
    return None


def _slice_text(start: str, stop: str) -> str:
    """start:stop spaced as black spaces it: `0:d`, but `d : d + 1`."""
    simple = all(p == "" or p.isidentifier() or p.isdigit() for p in (start, stop))
    return f"{start}:{stop}" if simple else f"{start} : {stop}"


def _size_text(shape: tuple, names) -> str:
    from codegen.printer import dim_text

    dims = [dim_text(d, names) for d in shape if d != 1]
    return " * ".join(dims) if dims else "1"


def _plus(a: str, b: str) -> str:
    """a + b as code, folding whole numbers (0 + d is d, d + 1 + 1 is d + 2)."""
    terms = [t for t in f"{a} + {b}".split(" + ") if t != "0"]
    number = sum(int(t) for t in terms if t.isdigit())
    words = [t for t in terms if not t.isdigit()]
    return " + ".join(words + ([str(number)] if number or not words else []))


def reverse_sweep_order(leaves: Sequence[Node]) -> list[Node]:
    """The outputs in the order a reverse sweep completes them (the course's order).

    Each output is ordered by its longest path from the inputs: backprop reaches the
    last layer first, so dW2 and db2 (one step past dZ2) come before dW1 and db1
    (past dZ2, dA1, dZ1), and the code reads dZ2, dW2, db2, dA1, dZ1, dW1, db1.
    Ties keep the outputs' own order; the value, on the forward path, comes first.
    """
    depth: dict[Node, int] = {}
    for node in toposort(leaves):
        depth[node] = 1 + max((depth[a] for a in node.args), default=-1)
    return sorted(leaves, key=depth.__getitem__)


def _is_where_constants(node: Node) -> bool:
    return node.op == "where" and node.args[1].op == node.args[2].op == "const"


def _reserved() -> set[str]:
    from codegen.module import RESERVED

    return set(RESERVED)


def _checks(params, names, leaves, helpers) -> list[str]:
    """`x, A = _arrays((x, A), (("x", "n"), ("A", "n", "n")))`: one dtype, shapes checked."""
    pnames = [names[node] for _, node in params]
    shapes = Tuple(
        tuple(
            Tuple(tuple(_literal(x) for x in (source, *node.shape)))
            for source, node in params
        )
    )
    values = Tuple(tuple(pnames))
    needs = _needs(leaves)
    args = [values, shapes]
    if needs:
        args.append(Tuple(tuple(Tuple(tuple(map(_literal, n))) for n in needs)))
    targets = f"({pnames[0]},)" if len(pnames) == 1 else ", ".join(pnames)
    head = f"{targets} = _arrays("
    lines = layout.call(head, [layout.flat(a) for a in args], INDENT)
    if max(len(line) for line in lines) <= layout.LINE_LENGTH:
        return lines
    # one argument per line, and a tuple too long for its line exploded, as black
    # does (no fallback on black itself: importing it costs a compile 0.2 s)
    inner = INDENT * 2
    lines = [f"{INDENT}{head}"]
    for arg in args:
        lines += collection("", arg, inner, ",")
    return lines + [f"{INDENT})"]


def _literal(value) -> str:
    return repr(value).replace("'", '"')


def _needs(leaves: Sequence[Node]) -> list[tuple[str, int, str]]:
    """The least size each size name must have for the subscripts in the graph."""
    least: dict[str, tuple[int, str]] = {}
    for node in toposort(leaves):
        if node.op != "slice":
            continue
        source = node.args[0]
        for item, dim in zip(node.attrs[0], source.shape):
            name, offset = split(dim)
            if name is None:
                continue
            need = _least(item) - offset
            if need > least.get(name, (0, ""))[0]:
                least[name] = (need, f"the subscript {_show_item(item)}")
    return [(name, k, what) for name, (k, what) in sorted(least.items())]


def _least(item: tuple) -> int:
    if item[0] == "i":
        return item[1] + 1 if item[1] >= 0 else -item[1]
    bounds = [b for b in item[1:] if b is not None]
    return max((b if b >= 0 else -b for b in bounds), default=0)


def _show_item(item: tuple) -> str:
    if item[0] == "i":
        return f"[{item[1]}]"
    start = "" if item[1] is None else item[1]
    stop = "" if item[2] is None else item[2]
    return f"[{start}:{stop}]"


def _sizes_used(leaves: Sequence[Node], params: Sequence[Node]) -> list[str]:
    """The size names the body's code mentions (in dim nodes, shapes and paddings)."""
    found: list[str] = []

    def note(dim) -> None:
        name = split(dim)[0]
        if name is not None and name not in found:
            found.append(name)

    for node in toposort(leaves):
        if node.op == "dim":
            for dim in node.attrs[0]:
                note(dim)
        elif node.op == "eye":
            note(node.attrs[0])
        elif node.op == "broadcast_to":
            for dim in node.attrs[0]:
                note(dim)
        elif node.op == "pad":
            for before, after in node.attrs[0]:
                note(before)
                note(after)
        elif node.op == "band_times":
            for _, _, size in node.attrs[0]:
                note(size)
    for out in leaves:
        if out.op in ("const", "broadcast_to"):
            for dim in out.shape:
                note(dim)
    return found


def _bind_sizes(sizes, params, names) -> list[str]:
    """`n = X.shape[0]` for every size the body uses, from the first parameter having it."""
    lines = []
    for size in sizes:
        for _, node in params:
            if size in node.shape:
                axis = node.shape.index(size)
                target = names[make("dim", (), ((size,),))]
                lines.append(f"{INDENT}{target} = {names[node]}.shape[{axis}]")
                break
    return lines


def _output(node: Node, names, first: str | None, helpers: set[str]) -> str:
    """An output's text: a fresh array of its own shape, never an alias of an input."""
    text = expression(node, names)
    if node.op == "const":
        return f"np.full({shape_text(node.shape, names) if node.shape else '()'}, {text}, {first}.dtype)[()]"
    if node.op == "broadcast_to" and node.args[0].op == "const":
        value = expression(node.args[0], names)
        return f"np.full({shape_text(node.shape, names)}, {value}, {first}.dtype)"
    if node.op in _ALIASING:
        helpers.add("_copy")
        return f"_copy({text})" + ("" if node.shape else "[()]")
    return text


def _as_tuple(result, out) -> Tuple:
    return Tuple(
        tuple(out(r) if isinstance(r, Node) else _as_tuple(r, out) for r in result)
    )
