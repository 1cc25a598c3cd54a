"""Numeric evaluation of graph nodes with numpy: constant folding, graph views, checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from symgrad.graph import Node, toposort
from symgrad.shapes import split


def _sigmoid(x):
    # exp(-|x|) never overflows: 1/(1+e) for x >= 0, e/(1+e) for x < 0.
    e = np.exp(-np.abs(x))
    return np.where(np.greater_equal(x, 0), 1.0 / (1.0 + e), e / (1.0 + e))[()]


def _softplus(x):
    # log(1 + exp(x)) without overflow, as the generated code computes it
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


# fmt: off
NUMPY_IMPL: dict[str, Callable] = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "neg": np.negative, "pow": np.power,
    "exp": np.exp, "log": np.log, "log1p": np.log1p, "expm1": np.expm1,
    "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan,
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "abs": np.abs, "sign": np.sign, "sigmoid": _sigmoid, "softplus": _softplus,
    "relu": lambda x: np.maximum(x, 0.0), "step": lambda x: np.heaviside(x, 0.0),
    "atan2": np.arctan2, "min": np.minimum, "max": np.maximum,
    "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
    "where": np.where,
}
# fmt: on


def _logsumexp(x, axes, keepdims):
    # max-shifted; an all -inf slice gives -inf, not nan
    m = np.max(x, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    out = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axes)


def _softmax(x, axes):
    e = np.exp(x - np.max(x, axis=axes, keepdims=True))
    return e / np.sum(e, axis=axes, keepdims=True)


def _slice_key(items: tuple) -> tuple:
    return tuple(item[1] if item[0] == "i" else slice(*item[1:]) for item in items)


def _pad_widths(widths: tuple, sizes: Mapping[str, int]) -> list:
    return [(size_of(a, sizes), size_of(b, sizes)) for a, b in widths]


def _band_times(v, values, places, sizes: Mapping[str, int]) -> np.ndarray:
    out = np.zeros(np.shape(v), np.result_type(v, *values))
    for d, (row, col, size) in zip(values, places):
        k = size_of(size, sizes)
        out[row : row + k] += d * v[col : col + k]
    return out


def size_of(dim, sizes: Mapping[str, int]) -> int:
    """The value of a dim (an int, a size name, or "n-1") given the sizes by name."""
    name, offset = split(dim)
    return offset if name is None else sizes[name] + offset


# Array ops take their attrs (and the sizes by name, for symbolic dims).
# fmt: off
ARRAY_IMPL: dict[str, Callable] = {
    "sum":          lambda v, a, s: np.sum(v[0], axis=a[0], keepdims=a[1]),
    "broadcast_to": lambda v, a, s: np.broadcast_to(v[0], tuple(size_of(d, s) for d in a[0])),
    "expand_dims":  lambda v, a, s: np.expand_dims(v[0], a[0]),
    "transpose":    lambda v, a, s: np.transpose(v[0], a[0]),
    "matmul":       lambda v, a, s: np.matmul(v[0], v[1]),
    "outer":        lambda v, a, s: np.outer(v[0], v[1]),
    "slice":        lambda v, a, s: v[0][_slice_key(a[0])],
    "pad":          lambda v, a, s: np.pad(v[0], _pad_widths(a[0], s)),
    "diag":         lambda v, a, s: np.diag(v[0]),
    "diagonal":     lambda v, a, s: np.diagonal(v[0]),
    "logsumexp":    lambda v, a, s: _logsumexp(v[0], a[0], a[1]),
    "softmax":      lambda v, a, s: _softmax(v[0], a[0]),
    "inv":          lambda v, a, s: np.linalg.inv(v[0]),
    "det":          lambda v, a, s: np.linalg.det(v[0]),
    "logdet":       lambda v, a, s: np.linalg.slogdet(v[0])[1],
    "solve":        lambda v, a, s: np.linalg.solve(v[0], v[1]),
    "tensordot":    lambda v, a, s: np.tensordot(v[0], v[1], axes=(a[0], a[1])),
    "banded":       lambda v, a, s: sum(np.diag(d, k) for d, k in zip(v, a[0])),
    "band_times":   lambda v, a, s: _band_times(v[0], v[1:], a[0], s),
}
# fmt: on


def apply_op(op: str, values: Sequence) -> object:
    """Apply one op to numeric argument values, numpy semantics, warnings silenced."""
    with np.errstate(all="ignore"):
        return NUMPY_IMPL[op](*values)


def evaluate(
    roots: Sequence[Node], env: Mapping[str, object], sizes: Mapping[str, int] = {}
) -> list:
    """Evaluate roots with var values taken from env by name (iterative, shared once).

    sizes gives the size names of array shapes (n, d); missing ones are read off the
    shapes of the values in env.
    """
    values: dict[Node, object] = {}
    order = toposort(roots)
    sizes = {**_bound_sizes(order, env), **sizes}
    with np.errstate(all="ignore"):
        for node in order:
            if node.op == "const":
                values[node] = np.float64(node.attrs[0])
            elif node.op == "var":
                values[node] = env[node.attrs[0]]
            elif node.op == "eye":
                values[node] = np.eye(size_of(node.attrs[0], sizes))
            elif node.op == "dim":
                values[node] = np.float64(
                    np.prod([size_of(d, sizes) for d in node.attrs[0]])
                )
            elif node.op in ARRAY_IMPL:
                args = [values[a] for a in node.args]
                values[node] = ARRAY_IMPL[node.op](args, node.attrs, sizes)
            else:
                values[node] = apply_op(node.op, [values[a] for a in node.args])
    return [values[r] for r in roots]


def _bound_sizes(order: Sequence[Node], env: Mapping[str, object]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for node in order:
        if node.op == "var" and node.shape:
            for dim, size in zip(node.shape, np.shape(env[node.attrs[0]])):
                if isinstance(dim, str) and split(dim)[1] == 0:
                    sizes[dim] = size
    return sizes
