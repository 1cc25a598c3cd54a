"""symgrad/trace_arrays.py: numpy array code traced to the array language's graph."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
from scipy import special
from scipy.special import logsumexp, softmax

import symgrad
from symgrad import arrays
from symgrad.errors import ShapeError
from symgrad.graph import var
from symgrad.simplify import add, call, mul, num, power, sub
from symgrad.trace import TracingError, trace
from symgrad.trace_arrays import Sizes

# every test here compiles through a cache of its own (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("private_cache")


SHAPES = {"A": ("n", "n"), "X": ("n", "d"), "x": ("n",), "w": ("d",), "s": ()}
A, X, x, w = (var(k, SHAPES[k]) for k in "AXxw")


def traced(fn, *names):
    return trace(fn, list(names), {}, shapes={n: SHAPES[n] for n in names})


# numpy spellings and the builder each must give (what lower.py builds for a .sg)
SPELLINGS = [
    (lambda X, w: X @ w, "Xw", lambda: arrays.matmul(X, w)),
    (lambda X, w: np.matmul(X, w), "Xw", lambda: arrays.matmul(X, w)),
    (lambda X, w: np.dot(X, w), "Xw", lambda: arrays.matmul(X, w)),
    (lambda X, w: X.dot(w), "Xw", lambda: arrays.matmul(X, w)),
    (lambda x: np.dot(x, x), "x", lambda: arrays.dot(x, x)),
    (lambda X: X.T, "X", lambda: arrays.transpose(X)),
    (lambda X: np.transpose(X), "X", lambda: arrays.transpose(X)),
    (lambda X: X.transpose(1, 0), "X", lambda: arrays.transpose(X, (1, 0))),
    (lambda X: np.sum(X), "X", lambda: arrays.reduce_sum(X)),
    (lambda X: X.sum(axis=0), "X", lambda: arrays.reduce_sum(X, 0)),
    (lambda X: np.sum(X, -1, keepdims=True), "X",
     lambda: arrays.reduce_sum(X, -1, True)),
    (lambda X: np.mean(X, axis=1), "X", lambda: arrays.mean(X, 1)),
    (lambda X: X.mean(), "X", lambda: arrays.mean(X)),
    (lambda x: np.outer(x, x), "x", lambda: arrays.outer(x, x)),
    (lambda A: np.trace(A), "A", lambda: arrays.trace(A)),
    (lambda A: np.diag(A), "A", lambda: arrays.diag(A)),
    (lambda x: np.diag(x), "x", lambda: arrays.diag(x)),
    (lambda A: np.linalg.inv(A), "A", lambda: arrays.inv(A)),
    (lambda A: np.linalg.det(A), "A", lambda: arrays.det(A)),
    (lambda A: np.linalg.slogdet(A)[1], "A", lambda: arrays.logdet(A)),
    (lambda A, x: np.linalg.solve(A, x), "Ax", lambda: arrays.solve(A, x)),
    (lambda A: A + np.eye(A.shape[0]), "A",
     lambda: add(A, arrays.eye(arrays.size_node("n")))),
    (lambda x: x[1:-1], "x", lambda: arrays.index(x, [slice(1, -1)])),
    (lambda X: X[0], "X", lambda: arrays.index(X, [0])),
    (lambda X: X[:, 1:], "X", lambda: arrays.index(X, [slice(None), slice(1, None)])),
    (lambda x: np.logaddexp(0, x), "x", lambda: call("softplus", x)),
    (lambda x: np.logaddexp(x, 0.0), "x", lambda: call("softplus", x)),
    (lambda X: np.log(np.sum(np.exp(X), axis=1)), "X",
     lambda: arrays.logsumexp(X, 1)),
    (lambda X: logsumexp(X, axis=0), "X",
     lambda: arrays.logsumexp(X, 0)),
    (lambda X: softmax(X, axis=1), "X", lambda: arrays.softmax(X, 1)),
    (lambda X: scipy.special.logsumexp(X), "X", lambda: arrays.logsumexp(X)),
    (lambda X: special.log_softmax(X, axis=1), "X", lambda: arrays.log_softmax(X, 1)),
    (lambda X: X / X.shape[0], "X",
     lambda: call("div", X, arrays.size_node("n"))),
    (lambda X, w: np.where(X @ w > 0, X @ w, 0.0), "Xw",
     lambda: call("where", call("gt", arrays.matmul(X, w), num(0.0)),
                  arrays.matmul(X, w), num(0.0))),
    (lambda x, s: s * x - x**2, "xs",
     lambda: sub(mul(var("s"), x), power(x, num(2.0)))),
]  # fmt: skip


@pytest.mark.parametrize("fn, names, expected", SPELLINGS)
def test_numpy_spellings_give_the_array_languages_graph(fn, names, expected):
    names = {"Xw": ("X", "w"), "Ax": ("A", "x"), "xs": ("x", "s")}.get(names, names)
    assert traced(fn, *names) is expected()


def test_inferred_sizes_merge_where_an_op_forces_equality():
    sizes = Sizes(
        {"X_0": 5, "X_1": 3, "w_0": 3, "y_0": 5}, ["w_0", "X_0", "X_1", "y_0"]
    )
    shapes = {"w": ("w_0",), "X": ("X_0", "X_1"), "y": ("y_0",)}
    g = trace(lambda w, X, y: np.sum((X @ w - y) ** 2), ["w", "X", "y"], {},
              shapes=shapes, sizes=sizes)  # fmt: skip
    # X's columns meet w (the earlier parameter keeps its name), y meets X's rows
    Xv, wv, yv = var("X", ("X_0", "w_0")), var("w", ("w_0",)), var("y", ("X_0",))
    assert g is arrays.reduce_sum(power(sub(arrays.matmul(Xv, wv), yv), num(2.0)))


def test_inferred_sizes_that_differ_in_the_first_call_are_an_error():
    sizes = Sizes({"X_0": 5, "X_1": 3, "w_0": 4}, ["w_0", "X_0", "X_1"])
    shapes = {"w": ("w_0",), "X": ("X_0", "X_1")}

    def f(w, X):
        return np.sum(X @ w)

    with pytest.raises(ShapeError) as info:
        trace(f, ["w", "X"], {}, shapes=shapes, sizes=sizes)
    assert "3 and 4" in info.value.message
    assert info.value.span.line == f.__code__.co_firstlineno + 1


def _line_of(fn, text: str) -> int:
    import inspect

    lines, first = inspect.getsourcelines(fn)
    return first + next(k for k, line in enumerate(lines) if text in line)


def checked_error(fn, marker: str, fragment: str, names=("X", "w")):
    with pytest.raises((TracingError, ShapeError)) as info:
        traced(fn, *names)
    assert fragment in info.value.message
    assert info.value.span is not None
    assert info.value.span.line == _line_of(fn, marker)
    assert marker in info.value.format()


def test_unsupported_numpy_function_names_the_line_and_the_function():
    def f(X, w):
        z = X @ w
        return np.sum(np.cumsum(z))

    checked_error(f, "np.cumsum(z)", "np.cumsum is not supported")

    def g(X, w):
        return np.linalg.norm(X @ w, ord=1)

    checked_error(g, "np.linalg.norm", "np.linalg.norm is not supported")

    def h(X, w):
        return np.sum(X, dtype=np.float32)

    checked_error(h, "dtype=np.float32", "dtype= is not supported")


def test_data_dependent_control_flow_on_arrays_names_the_line():
    def f(X, w):
        z = X @ w
        if z.sum() > 0:
            return np.sum(z)
        return -np.sum(z)

    checked_error(f, "if z.sum() > 0:", "np.where")

    def g(X, w):
        if w:
            return np.sum(w)
        return 0.0

    checked_error(g, "if w:", "truth value")

    def h(X, w):
        total = 0.0
        for row in X:
            total = total + row @ w
        return total

    checked_error(h, "for row in X:", "loop over the entries")

    def k(X, w):
        return np.sum(w) / len(X)

    checked_error(k, "len(X)", "x.shape[0]")

    def m(X, w):
        total = 0.0
        for i in range(X.shape[0]):
            total = total + X[i] @ w
        return total

    checked_error(m, "for i in range(X.shape[0]):", "cannot be an integer")


def test_shape_errors_and_subscripts_name_the_line():
    def f(X, w):
        return np.sum(X.T @ w)

    checked_error(f, "X.T @ w", "inner sizes differ")

    def g(X, w):
        return np.sum(w[np.array([0, 1])])

    checked_error(g, "w[np.array", "whole-number indices and slices")

    def h(X, w):
        return np.sum(w[::2])

    checked_error(h, "w[::2]", "step")


def test_array_code_on_scalars_needs_ranks():
    # traced with scalars only (no shapes), an array op says what it needs
    with pytest.raises(TracingError) as info:
        trace(lambda x: np.sum(x**2), ["x"], {})
    assert "np.sum is not supported on scalar symbolic values" in info.value.message


def test_tracing_under_a_profiler_keeps_it_and_names_locals():
    import cProfile
    import sys

    def loss(w, X):
        z = X @ w
        return np.sum(np.tanh(z))

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        f = symgrad.compile(loss)
        f(np.ones(2), np.ones((3, 2)))
        assert sys.getprofile() is not None  # still profiling
    finally:
        profiler.disable()
    assert "dz = " in f.source  # the local z named the intermediate and its adjoint
