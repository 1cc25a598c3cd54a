"""Data-parallel value and gradient on dask: a loss summed over a chunked data axis.

`value_and_grad(f, params, **data)` takes a compiled function of array parameters
(from symgrad.load or symgrad.function; @symgrad.compile traces scalar functions,
which have no data axis) whose value is a sum, or a mean, over a data axis of
per-row terms: the axis of a size name that only data arrays carry
(`loss(w[d], b; X[n, d], y[n]) = mean(...)` sums over n). Each chunk's partial sum
and its gradient come from the generated numpy code of that sum; dask adds the
chunks' vectors up in a tree, so no worker ever holds more than a chunk of the data,
and a mean divides by the total count once, at the end. dask is imported on first
use: `import symgrad` never needs it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from symgrad.errors import SymgradError
from symgrad.graph import Node, toposort
from symgrad.ops import ELEMENTWISE
from symgrad.program import Function

# Array ops that keep each row of the data axis apart when they do not reduce,
# contract or pick rows along it (checked op by op in _mixes_rows).
_ROWWISE_ARRAY_OPS = {"sum", "logsumexp", "softmax", "matmul", "transpose"}
_ROWWISE_ARRAY_OPS |= {"expand_dims", "broadcast_to", "slice"}


@dataclass(frozen=True)
class DataSum:
    """A function's value as scale * sum over the data axis `size` of per-row terms."""

    size: str  # the size name of the data axis (n)
    total: Node  # the sum over it: what each chunk computes a part of
    factor: float  # a constant factor of the sum
    divisor: Node | None  # a count the sum is divided by (a mean's n), or None


def data_sum(function: Function) -> DataSum:
    """How function is a sum (or mean) of per-row terms; SymgradError saying why not."""
    sizes = _data_sizes(function)
    if not sizes:
        raise _refuse(
            function.name,
            "no size name is carried by data alone (declare the data's rows, as in "
            "X[n, d], with no parameter sized by n)",
        )
    node, factor, divisor = function.body, 1.0, None
    while True:  # peel constant factors and a mean's count off the top
        if node.op == "neg":
            node, factor = node.args[0], -factor
        elif node.op == "mul" and node.args[0].op == "const":
            node, factor = node.args[1], factor * node.args[0].value
        elif node.op == "mul" and node.args[1].op == "const":
            node, factor = node.args[0], factor * node.args[1].value
        elif node.op == "div" and node.args[1].op == "const":
            node, factor = node.args[0], factor / node.args[1].value
        elif node.op == "div" and divisor is None and _is_count(node.args[1]):
            node, divisor = node.args[0], node.args[1]
        else:
            break
    name = function.name
    if function.body.shape:
        shape = ", ".join(map(str, function.body.shape))
        raise _refuse(name, f"its value is an array [{shape}], not one number")
    if node.op != "sum":
        raise _refuse(name, f"its value is {_op_text(node)}, not a sum or a mean")
    term, (axes, _) = node.args[0], node.attrs
    summed = [term.shape[a] for a in axes]
    size = next((s for s in sizes if s in summed), None)
    if size is None:
        over = ", ".join(map(str, summed))
        only = ", ".join(sizes)
        raise _refuse(name, f"it sums over {over}, not {only} (an axis only data have)")
    for inner in toposort([term]):
        reason = _mixes_rows(inner, size)
        if reason:
            raise _refuse(name, reason)
    return DataSum(size, node, factor, divisor)


def _refuse(name: str, reason: str) -> SymgradError:
    return SymgradError(
        f"symgrad.dask.value_and_grad: {name} is not a sum over a data axis of "
        f"per-row terms: {reason}"
    )


def _data_sizes(function: Function) -> list[str]:
    """Size names that data arrays carry and parameters do not, in data order."""
    shapes = dict(function.shapes)
    params = {d for p in function.params for d in shapes.get(p, ()) if type(d) is str}
    found: list[str] = []
    for name in function.data:
        for dim in shapes.get(name, ()):
            if type(dim) is str and dim not in params and dim not in found:
                found.append(dim)
    return found


def _is_count(node: Node) -> bool:
    """Whether node is a product of sizes and constants (a mean's count)."""
    return all(n.op in ("dim", "const", "mul") for n in toposort([node]))


def _op_text(node: Node) -> str:
    names = {"add": "a sum of two terms", "sub": "a difference", "div": "a quotient"}
    names["mul"] = "a product whose factors are not constants"
    return names.get(node.op, f"{node.op}(...)")


def _mixes_rows(node: Node, size: str) -> str | None:
    """Why node, inside the per-row terms, mixes rows of the axis size; else None."""
    if node.op == "dim" and size in node.attrs[0]:
        return f"the terms use the count {size} itself (it differs chunk by chunk)"
    if list(node.shape).count(size) > 1:
        return f"{node.op} makes an array with two {size} axes (rows meet rows)"
    rows = [a for a in node.args if size in a.shape]
    if not rows or node.op in ELEMENTWISE:
        return None
    if node.op not in _ROWWISE_ARRAY_OPS:
        return f"{node.op} takes an array along {size} (it mixes rows)"
    x = node.args[0]
    if node.op in ("sum", "logsumexp", "softmax"):
        if size in x.shape and x.shape.index(size) in node.attrs[0]:
            what = "sum" if node.op == "sum" else node.op
            return f"a {what} over {size} inside the terms (the loss must be one sum)"
    if node.op == "slice":  # X[:, 0] keeps every row; X[1:] or X[0] does not
        axis = x.shape.index(size)
        items = node.attrs[0]
        if axis < len(items) and items[axis] != ("s", None, None):
            return f"a subscript picks rows of {size} inside the terms"
    if node.op == "matmul":
        a, b = node.args
        inner_b = 0 if len(b.shape) == 1 else len(b.shape) - 2
        if (a.shape and a.shape[-1] == size) or (b.shape and b.shape[inner_b] == size):
            return f"a matrix product contracts over {size} inside the terms"
    return None


# ---------------------------------------------------------------- the computation


@dataclass(frozen=True)
class _Plan:
    """The partial-sum module's text and what value_and_grad needs besides."""

    source: str  # generated numpy code of the sum over the data axis
    name: str  # its value_and_grad function
    data_sum: DataSum


@lru_cache(maxsize=64)
def _plan(function: Function) -> _Plan:
    from codegen.names import python_name
    from codegen.module import render
    from symgrad.api import module_spec
    from symgrad.program import Program

    found = data_sum(function)
    name = f"{function.name}_rows"
    head = f"{function.name}({', '.join(function.params)}; {', '.join(function.data)})"
    doc = f"the sum over {found.size} of the per-row terms of {head}"
    partial = Function(
        name, function.params, function.data, found.total, doc, None,
        shapes=function.shapes,
    )  # fmt: skip
    source = render(module_spec(Program("<dask>", [partial]), "<dask>"))
    return _Plan(source, python_name(name) + "_value_and_grad", found)


_MODULES: dict[str, dict] = {}


def _chunk(*data, source: str, generated: str, params: tuple) -> np.ndarray:
    """One chunk's partial sum and its gradient, flat: a (1, 1 + parameters) row."""
    namespace = _MODULES.get(source)
    if namespace is None:  # once per worker process: the generated module's code
        from codegen.load import load

        namespace = _MODULES[source] = load(source, "symgrad_dask", "<dask>").__dict__
    value, grads = namespace[generated](*params, *data)
    parts = [np.ravel(value)] + [np.ravel(g) for g in grads]
    return np.concatenate(parts)[None, :]


def value_and_grad(f, params, **data):
    """(value, gradient) of f's sum over chunked data: dask arrays, nothing computed.

    f: a compiled function of array parameters (symgrad.load, symgrad.function)
    whose value is a sum or mean over a data axis of per-row terms. params: the
    differentiated parameters by name (a mapping) or in order. data: every data
    argument by name, dask arrays (numpy ones are wrapped) chunked along the data
    axis. Returns (value, (dp1, dp2, ...)) as f.value_and_grad does, as dask arrays:
    compute them together (dask.compute) on any scheduler.
    """
    import dask.array as da

    function = f.function
    plan = _plan(function)
    point = _parameters(function, params)
    arrays = _chunked(function, plan.data_sum.size, data)
    sizes = _sizes(function, point, arrays)
    shapes = [np.shape(p) for p in point]
    width = 1 + sum(math.prod(s) for s in shapes)
    letters = iter("abcdefghjklmnopqrstuvwxyz")
    args: list = []
    for name in function.data:
        index = "".join(
            "i" if dim == plan.data_sum.size else next(letters)
            for dim in dict(function.shapes).get(name, ())
        )
        args += [arrays[name], index]
    rows = da.blockwise(
        _chunk, "iZ", *args,
        source=plan.source, generated=plan.name, params=tuple(point),
        new_axes={"Z": width}, adjust_chunks={"i": 1}, concatenate=True,
        token="symgrad-chunk",
        meta=np.empty((0, 0)), dtype=float,
    )  # fmt: skip
    total = rows.sum(axis=0)  # dask's tree reduction over the chunks
    scale = plan.data_sum.factor / _count(plan.data_sum.divisor, sizes)
    value, grads, at = total[0] * scale, [], 1
    for shape in shapes:
        size = math.prod(shape)
        grads.append((total[at : at + size] * scale).reshape(shape))
        at += size
    return value, tuple(grads)


def _parameters(function: Function, params) -> list[np.ndarray]:
    """The point, in the function's parameter order, as float arrays (or floats)."""
    names = function.params
    if isinstance(params, Mapping):
        function.check_names(params, "parameters")
        params = [params[p] for p in names]
    elif not isinstance(params, Sequence) or len(params) != len(names):
        raise SymgradError(
            f"{function.name} takes the parameters ({', '.join(names)}): give them "
            "by name (a dict) or in that order"
        )
    return [np.asarray(p, dtype=float) for p in params]


def _chunked(function: Function, size: str, data: Mapping[str, object]) -> dict:
    """The data as dask arrays, chunked alike along the data axis and whole across."""
    import dask.array as da

    function.check_names(data)
    shapes = dict(function.shapes)
    out, rows = {}, None
    for name in function.data:
        array = data[name]
        if not isinstance(array, da.Array):
            array = da.asarray(np.asarray(array, dtype=float))
        dims = shapes.get(name, ())
        if array.ndim != len(dims):
            raise SymgradError(
                f"{name}: expected {len(dims)} dimension(s) {tuple(dims)}, "
                f"got an array of shape {array.shape}"
            )
        chunks = {axis: -1 for axis in range(array.ndim)}
        if size in dims:
            axis = dims.index(size)
            rows = rows or array.chunks[axis]
            chunks[axis] = rows
        out[name] = array.rechunk(chunks)
    return out


def _sizes(function: Function, point, arrays) -> dict[str, int]:
    """Every size name's value, from the parameters' and the data's shapes."""
    shapes = dict(function.shapes)
    sizes: dict[str, int] = {}
    pairs = [(name, arrays[name].shape) for name in function.data]
    pairs += list(zip(function.params, [np.shape(p) for p in point]))
    for name, shape in pairs:  # the data first: a wrong parameter is named as such
        dims = shapes.get(name, ())
        if len(dims) != len(shape):
            raise SymgradError(f"{name}: expected shape {tuple(dims)}, got {shape}")
        for dim, value in zip(dims, shape):
            known = sizes.setdefault(dim, value) if type(dim) is str else dim
            if known != value:
                raise SymgradError(
                    f"{name}: has shape {shape}, but its declared {tuple(dims)} "
                    f"needs {dim} = {known}"
                )
    return sizes


def _count(divisor: Node | None, sizes: Mapping[str, int]) -> float:
    """The value of a product of sizes and constants (1 for no divisor)."""
    if divisor is None:
        return 1.0
    if divisor.op == "const":
        return divisor.value
    if divisor.op == "dim":
        return float(math.prod(sizes[s] for s in divisor.attrs[0]))
    return math.prod(_count(a, sizes) for a in divisor.args)  # mul
