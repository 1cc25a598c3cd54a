"""A test oracle for array functions: the same function unrolled into scalars.

`unroll` evaluates an array graph with numpy object arrays whose entries are scalar
graph nodes, so every array op is computed the way numpy defines it (matmul, sum,
slicing, broadcasting), entry by entry, and none of symgrad's array rules is used.
The scalar function that comes out goes through the scalar pipeline, which is
verified on its own (tests/test_derivatives.py, the property tests against sympy).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np

from symgrad import simplify
from symgrad.evaluate import size_of
from symgrad.graph import Node, toposort, var
from symgrad.ops import ELEMENTWISE
from symgrad.simplify import call, num


class S:
    """One scalar node, with Python's operators building graph nodes (numpy calls them)."""

    __slots__ = ("node",)

    def __init__(self, node: Node):
        self.node = node

    def __add__(self, other):
        return S(simplify.add(self.node, _node(other)))

    def __radd__(self, other):
        return S(simplify.add(_node(other), self.node))

    def __sub__(self, other):
        return S(simplify.sub(self.node, _node(other)))

    def __rsub__(self, other):
        return S(simplify.sub(_node(other), self.node))

    def __mul__(self, other):
        return S(simplify.mul(self.node, _node(other)))

    def __rmul__(self, other):
        return S(simplify.mul(_node(other), self.node))

    def __truediv__(self, other):
        return S(simplify.div(self.node, _node(other)))

    def __neg__(self):
        return S(simplify.neg(self.node))


def _node(value) -> Node:
    return value.node if isinstance(value, S) else num(float(value))


def _apply(op: str, *arrays):
    """An elementwise op over object arrays, with numpy's broadcasting."""
    parts = np.broadcast_arrays(*[np.asarray(a, dtype=object) for a in arrays])
    out = np.empty(parts[0].shape, dtype=object)
    for index in itertools.product(*map(range, out.shape)):
        out[index] = S(simplify.build(op, tuple(_node(p[index]) for p in parts)))
    return out


def _map(f, a):
    a = np.asarray(a, dtype=object)
    out = np.empty(a.shape, dtype=object)
    for index in itertools.product(*map(range, a.shape)):
        out[index] = f(a[index])
    return out


def _sum(a, axes, keepdims):
    return np.sum(np.asarray(a, dtype=object), axis=axes, keepdims=keepdims)


def _exp(a):
    return _map(lambda s: S(call("exp", _node(s))), a)


def _log(a):
    return _map(lambda s: S(call("log", _node(s))), a)


def _slice(a, items):
    key = tuple(i[1] if i[0] == "i" else slice(i[1], i[2]) for i in items)
    return np.asarray(a, dtype=object)[key]


def _array_op(node: Node, args: list, sizes: Mapping[str, int]):
    op, attrs = node.op, node.attrs
    if op == "sum":
        return _sum(args[0], attrs[0], attrs[1])
    if op == "matmul":
        return np.matmul(np.asarray(args[0], object), np.asarray(args[1], object))
    if op == "outer":
        return np.multiply.outer(
            np.asarray(args[0], object), np.asarray(args[1], object)
        )
    if op == "transpose":
        return np.transpose(np.asarray(args[0], object), attrs[0])
    if op == "slice":
        return _slice(args[0], attrs[0])
    if op == "expand_dims":
        return np.expand_dims(np.asarray(args[0], object), attrs[0])
    if op == "broadcast_to":
        shape = tuple(size_of(d, sizes) for d in attrs[0])
        return np.broadcast_to(np.asarray(args[0], object), shape)
    if op == "diag":
        return np.diag(np.asarray(args[0], object))
    if op == "diagonal":
        return np.diagonal(np.asarray(args[0], object))
    if op == "logsumexp":  # log(sum(exp(x))) exactly as defined, no shift
        return _log(_sum(_exp(args[0]), attrs[0], attrs[1]))
    if op == "softmax":
        e = _exp(args[0])
        return e / _sum(e, attrs[0], True)
    raise NotImplementedError(op)


def unroll(
    roots: Sequence[Node], sizes: Mapping[str, int], variables: Sequence[Node] = ()
) -> tuple[list, dict[str, np.ndarray]]:
    """Each root as an object array of scalar nodes, and each var's scalar vars.

    variables lists vars to unroll even where the roots do not use them.
    """
    values: dict[Node, object] = {}
    scalars = {v.name: _entries(v, sizes) for v in variables}
    for node in toposort(roots):
        if node.op == "var":
            if node.name not in scalars:
                scalars[node.name] = _entries(node, sizes)
            values[node] = scalars[node.name]
        elif node.op == "const":
            values[node] = S(node)
        elif node.op == "dim":
            values[node] = S(
                num(float(np.prod([size_of(d, sizes) for d in node.attrs[0]])))
            )
        elif node.op in ELEMENTWISE:
            values[node] = _apply(node.op, *[values[a] for a in node.args])
        else:
            values[node] = _array_op(node, [values[a] for a in node.args], sizes)
    return [np.asarray(values[r], dtype=object) for r in roots], scalars


def _entries(v: Node, sizes: Mapping[str, int]) -> np.ndarray:
    shape = tuple(size_of(d, sizes) for d in v.shape)
    out = np.empty(shape, dtype=object)
    for index in itertools.product(*map(range, shape)):
        suffix = "".join(f"_{i}" for i in index)
        out[index] = S(var(f"{v.name}{suffix}" if shape else v.name))
    return out


def flat_names(scalars: Mapping[str, np.ndarray], names: Sequence[str]) -> list[str]:
    """The scalar variables' names of the given array parameters, in C order."""
    return [s.node.name for name in names for s in np.ravel(scalars[name])]


def flat_values(env: Mapping[str, np.ndarray], names: Sequence[str]) -> list[float]:
    """The values of the given parameters, raveled in C order, as Python floats."""
    return [float(v) for name in names for v in np.ravel(env[name])]


def scalar_gradient(root: Node, params: Sequence[str], data: Sequence[str]):
    """The generated gradient function of an unrolled scalar root (the scalar pipeline)."""
    from codegen.load import load
    from codegen.module import FunctionSpec, ModuleSpec, render
    from symgrad.derivatives import grad

    wrt = [var(p) for p in params]
    spec = FunctionSpec(
        "g", tuple((p, var(p)) for p in (*params, *data)), tuple(grad(root, wrt)), "g"
    )
    return load(render(ModuleSpec("oracle", (spec,))), "oracle", "<oracle>").g
