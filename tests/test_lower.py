"""Lowering: syntax tree to graph, names and arities checked, helpers inlined, spans exact."""

from __future__ import annotations

import math

import numpy as np
import pytest

from symgrad.errors import LimitError, NameResolutionError, ShapeError, SymgradError
from symgrad.evaluate import evaluate
from symgrad.graph import node_budget, toposort, var
from symgrad.lower import lower
from symgrad.parser import parse

COURSE = """\
# the course's definitions
f(x, y) = x^2*y + y + 2
sigmoid(z) = 1 / (1 + exp(-z))
u = b*c
v = a + u
J(a, b, c) = 3*v
loss(w, b; x, y) = -(y*log(sigmoid(w*x + b)) + (1 - y)*log(1 - sigmoid(w*x + b)))
rosen(x, y) = (1 - x)^2 + 100*(y - x^2)^2
z(x) = sin(x^2)
"""


def lowered(text: str):
    """The Program of an expression text named t.sg."""
    return lower(parse(text, "t.sg"))


def function(text: str, name: str):
    """One lowered function of a text, by name."""
    return {f.name: f for f in lowered(text).functions}[name]


def value(fn, *args) -> float:
    """A lowered function's body evaluated at positional arguments."""
    env = dict(zip(fn.all_names, (np.float64(a) for a in args)))
    return float(evaluate([fn.body], env)[0])


def sig(t: float) -> float:
    """The logistic function."""
    return 1.0 / (1.0 + math.exp(-t))


def locate(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """1-based (line, column) of the nth occurrence of needle in text."""
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    line = text.count("\n", 0, at) + 1
    return line, at - (text.rfind("\n", 0, at) + 1) + 1


def error_of(text: str) -> SymgradError:
    """The error lowering text raises."""
    with pytest.raises(SymgradError) as info:
        lowered(text)
    return info.value


# -- the course's definitions -----------------------------------------------


def test_course_functions_in_order():
    program = lowered(COURSE)
    assert [f.name for f in program.functions] == [
        "f",
        "sigmoid",
        "J",
        "loss",
        "rosen",
        "z",
    ]


@pytest.mark.parametrize(
    "name, args, expected",
    [
        ("f", (3, 4), 42.0),
        ("sigmoid", (0.3,), sig(0.3)),
        ("J", (5, 3, 2), 33.0),
        ("rosen", (1, 1), 0.0),
        ("rosen", (0, 0), 1.0),
        ("rosen", (2, 3), 1 + 100),
        ("z", (1.5,), math.sin(2.25)),
    ],
)
def test_course_values(name, args, expected):
    assert value(function(COURSE, name), *args) == pytest.approx(expected, rel=1e-12)


def test_course_loss_value_and_data_params():
    loss = function(COURSE, "loss")
    assert loss.params == ("w", "b") and loss.data == ("x", "y")
    assert loss.all_names == ("w", "b", "x", "y")
    w, b, x, y = 0.4, -0.3, 1.2, 1.0
    p = sig(w * x + b)
    expected = -(y * math.log(p) + (1 - y) * math.log(1 - p))
    assert value(loss, w, b, x, y) == pytest.approx(expected, rel=1e-12)


def test_named_intermediates_recorded():
    program = lowered(COURSE)
    by_name = {name: node for node, name in program.names.items()}
    assert {"u", "v"} <= set(by_name)
    env = {"a": 5.0, "b": 3.0, "c": 2.0}
    assert evaluate([by_name["u"]], env)[0] == 6.0
    assert evaluate([by_name["v"]], env)[0] == 11.0
    body = function(COURSE, "J").body
    assert by_name["v"] in toposort([body]) and by_name["u"] in toposort([body])


@pytest.mark.parametrize(
    "text, kept, written",
    [  # written: the sum as the text writes it, term by term
        ("f(x, y, z) = 2*x + y + 3*x", 2, lambda x, y, z: 2 * x + y + 3 * x),
        ("f(x, y, z) = x*y + z - y*x", 0, lambda x, y, z: x * y + z - y * x),
        ("f(x, y, z) = x - y + z - x", 1, lambda x, y, z: x - y + z - x),
    ],
)
def test_like_terms_further_back_in_a_written_sum_are_collected(text, kept, written):
    # 5 x + y (a product and a sum), z (no operation), z - y (one)
    f = function(text, "f")
    ops = [n.op for n in toposort([f.body]) if n.args]
    assert len(ops) == kept, ops
    for point in [(1.5, -2.0, 0.25), (-0.5, 3.0, 2.0)]:
        got = float(evaluate([f.body], dict(zip("xyz", point)))[0])
        assert got == pytest.approx(written(*point), rel=1e-14, abs=1e-14)


# -- helpers -----------------------------------------------------------------


def test_helper_is_inlined():
    text = "sq(t) = t^2 + 1\nf(x, y) = sq(x)*sq(y)\n"
    f = function(text, "f")
    assert value(f, 2, 3) == 50.0
    names = {n.attrs[0] for n in toposort([f.body]) if n.op == "var"}
    assert names == {"x", "y"}


def test_helper_arguments_substituted_simultaneously():
    f = function("g(x, y) = x - 2*y\nf(x, y) = g(y, x)\n", "f")
    assert value(f, 1, 5) == 5 - 2 * 1


def test_helper_with_data_params_called_with_all_arguments():
    f = function("g(a; d) = a*d\nf(x) = g(x, 3)\n", "f")
    assert value(f, 2) == 6.0


def test_file_function_shadows_builtin_for_later_calls():
    text = "early(x) = sigmoid(x)\nsigmoid(z) = 2*z\nlate(x) = sigmoid(x)\n"
    assert value(function(text, "early"), 0.5) == pytest.approx(sig(0.5))
    assert value(function(text, "late"), 0.5) == 1.0


def test_intermediate_with_data_param():
    f = function("r = w*x - y\nloss(w; x, y) = r^2\n", "loss")
    assert value(f, 2, 3, 1) == 25.0


# -- errors at exact places --------------------------------------------------

ERRORS = [
    ("f(x) = xx + 1\n", "xx", 0, "did you mean 'x'"),
    ("f(alpha) = 2*alpah\n", "alpah", 0, "did you mean 'alpha'"),
    ("f(x) =\t1 + xx\n", "xx", 0, "unknown name 'xx'"),
    ("f(x) = (x +\n       xx)\n", "xx", 0, "unknown name"),
    ("f(x) = exq(x)\n", "exq", 0, "did you mean 'exp'"),
    ("f(x) = exp(x, x)\n", "exp", 0, "takes 1 argument, got 2"),
    ("f(x) = atan2(x)\n", "atan2", 0, "takes 2 arguments, got 1"),
    ("f(x) = where(x > 0, 1)\n", "where", 0, "takes 3 arguments, got 2"),
    ("g(a, b) = a*b\nf(x) = g(x)\n", "g(x)", 0, "takes 2 arguments, got 1"),
    ("g(a; d) = a*d\nf(x) = 1 + g(x)\n", "g(x)", 0, "takes 2 arguments, got 1"),
    ("f(x) = x\nf(y) = y\n", "f(y)", 0, "already defined at line 1"),
    ("u = 1\nu(x) = x\n", "u(x)", 0, "already defined"),
    ("f(x, y, x) = x\n", "x", 1, "'x'"),
    ("f(x; y, y) = x\n", "y", 1, "'y'"),
    ("f(pi) = pi\n", "pi", 0, "built-in constant"),
    ("f(x; pi) = x\n", "pi", 0, "built-in constant"),
    ("pi = 3\n", "pi", 0, "built-in constant"),
    ("f(x) = g(x)\ng(x) = x\n", "g(x)", 0, "before its definition at line 2"),
    ("f(x) = u + x\nu = x\n", "u + x", 0, "before its definition at line 2"),
    ("f(x) = 1 + f(x)\n", "f(x)", 1, "recursive"),
    ("f(x) = 1 + f\n", "f\n", 0, "recursive"),
    ("u = u + 1\nf(x) = x\n", "u + 1", 0, "recursive"),
    ("f(x) = 2*sigmoid\n", "sigmoid", 0, "call it with arguments"),
    ("f(x) = (x < 1) + 2\n", "x < 1", 0, "comparison"),
    ("f(x) = x >= 1\n", "x >= 1", 0, "comparison"),
    ("f(x) = -(x < 1)\n", "x < 1", 0, "comparison"),
    ("f(x) = where(x, 1, 2)\n", "x, 1", 0, "first argument of where"),
    ("f(x) = where(x > 0, x < 1, 2)\n", "x < 1", 0, "comparison"),
    ("g(a) = a\nf(x) = g(x > 0)\n", "x > 0", 0, "comparison"),
    ("f(x) = x\nf_grad(y) = y\n", "f_grad", 0, "f_grad"),
    ("f_hvp(y) = y\nf(x) = x\n", "f(x)", 0, "f_hvp"),
    ("f() = 1\n", "()", 0, "parameter"),
]


@pytest.mark.parametrize("text, needle, nth, fragment", ERRORS)
def test_error_position_and_message(text, needle, nth, fragment):
    error = error_of(text)
    assert (error.span.file, error.span.line, error.span.col) == (
        "t.sg",
        *locate(text, needle, nth),
    )
    assert fragment in error.message
    line, col = locate(text, needle, nth)
    assert error.format().startswith(f"t.sg:{line}:{col}: error: ")


def test_name_errors_are_name_resolution_errors():
    assert isinstance(error_of("f(x) = xx\n"), NameResolutionError)
    assert isinstance(error_of("f(x) = exq(x)\n"), NameResolutionError)


def test_intermediate_free_variable_must_be_parameter():
    text = "u = b*c\nJ(a, b) = 3*u + a\n"
    error = error_of(text)
    assert (error.span.line, error.span.col) == (2, 1)
    assert "'c' is not a parameter of 'J'" in error.message
    assert any("t.sg:1:1" in note and "'u'" in note for note in error.notes)


def test_error_format_has_source_line_and_caret():
    text = "f(x) = 1\ng(y) = y + exq(y)\n"
    lines = error_of(text).format().splitlines()
    assert lines[0] == "t.sg:2:12: error: unknown function 'exq'; did you mean 'exp'?"
    assert lines[1] == "g(y) = y + exq(y)"
    assert lines[2] == " " * 11 + "^^^"


# -- deep input ----------------------------------------------------------------


def test_long_sum_lowers_without_recursion_error():
    terms = " + ".join(f"{i}*x^{i % 7}" for i in range(5000))
    f = function(f"f(x) = {terms}\n", "f")
    x = 1.1
    expected = math.fsum(i * x ** (i % 7) for i in range(5000))
    assert value(f, x) == pytest.approx(expected, rel=1e-12)


def test_long_sum_of_distinct_names():
    names = [f"a{i}" for i in range(5000)]
    f = function(f"s({', '.join(names)}) = {' + '.join(names)}\n", "s")
    assert len(f.params) == 5000
    assert value(f, *range(5000)) == sum(range(5000))


def test_deep_parentheses_lower():
    f = function("f(x) = " + "(" * 150 + "x + 1" + ")" * 150 + "\n", "f")
    assert value(f, 2) == 3.0
    g = function("g(x) = " + "(1 + " * 150 + "x" + ")" * 150 + "\n", "g")
    assert value(g, 2) == 152.0


# -- the node budget -------------------------------------------------------------------

# g_k(v) = g_{k-1}(g_{k-1}(v)): g0's body {v, sin(v), sin(v) + v} has 3 nodes and every
# line doubles it less one shared v, so g_k has 2^(k+1) + 1 nodes; lowering g_k builds
# 2^k new ones (the inner call, g_{k-1}(v), is g_{k-1}'s own body), 2^(k+1) + 1 in all.
# The variable's name is fresh so no node of another test is shared.
DOUBLING = "g0(v_doubling) = sin(v_doubling) + v_doubling\n" + "".join(
    f"g{k}(v_doubling) = g{k - 1}(g{k - 1}(v_doubling))\n" for k in range(1, 12)
)


def test_inlining_beyond_the_lowering_budget_points_at_the_call(monkeypatch):
    # 65 nodes after g5; g6 would make 129: the outer call of line 7 exceeds 100.
    monkeypatch.setattr("symgrad.lower.MAX_LOWERED_NODES", 100)
    with pytest.raises(LimitError) as info:
        lowered(DOUBLING)
    error = info.value
    assert error.message == (
        "limit exceeded: lowering the file needs more than 100 graph nodes"
    )
    line = "g6(v_doubling) = g5(g5(v_doubling))"
    assert error.format().split("\n") == [
        f"t.sg:7:18: error: {error.message}",
        line,
        " " * 17 + "^" * len("g5(g5(v_doubling))"),
        "note: each call of 'g5' inlines a copy of its 65 nodes",
    ]


def test_lowering_within_the_budget_is_unchanged(monkeypatch):
    monkeypatch.setattr("symgrad.lower.MAX_LOWERED_NODES", 2**13 + 1)
    *_, last = lowered(DOUBLING).functions
    assert last.name == "g11" and len(toposort([last.body])) == 2**12 + 1


def test_an_enclosing_budget_also_bounds_lowering():
    # Without calls, each of the 10 lines builds 2 nodes (a var and a sin).
    text = "".join(f"h{k}(w_enclosed{k}) = sin(w_enclosed{k})\n" for k in range(10))
    with node_budget(15, "the whole job"):
        with pytest.raises(LimitError) as info:
            lowered(text)
    assert info.value.message.startswith("limit exceeded: the whole job needs more")
    assert (info.value.span.line, info.value.span.col) == (
        8,
        1 + len("h7(w_enclosed7) = "),
    )


# -- arrays ----------------------------------------------------------------------------
# Shapes come from the declarations; values are checked against numpy formulas
# written out here, at random data, through the numeric evaluator.

RNG = np.random.default_rng(11)
N, D, M = 5, 3, 4


def array_value(fn, **env):
    """A lowered function's body evaluated with arrays given by name."""
    return evaluate([fn.body], env)[0]


def sizes_in(node) -> set[tuple]:
    """The attrs of every dim node (a run-time size) a graph reaches."""
    return {n.attrs[0] for n in toposort([node]) if n.op == "dim"}


ARRAY_EXAMPLES = {
    "dot": "f(x[n], y[n]) = x @ y",
    "norm2": "f(x[n]) = sum(x^2)",
    "logistic": "loss(w[d], b; X[n, d], y[n]) = "
    "mean(softplus(X @ w + b) - y*(X @ w + b))",
    "quadratic": "q(x[n]; A[n, n]) = x @ A @ x",
    "lstsq": "r(x[n]; A[m, n], b[m]) = A @ x - b\n"
    "f(x[n]; A[m, n], b[m]) = sum(r(x, A, b)^2)",
    "mlp": "Z1 = W1 @ X + b1\nA1 = tanh(Z1)\nZ2 = W2 @ A1 + b2\n"
    "L(W1[h, d], b1[h, 1], W2[k, h], b2[k, 1]; X[d, m], Y[k, m]) = "
    "mean(logsumexp(Z2, 0) - sum(Y*Z2, 0))",
    "rosen": "f(x[n]) = sum(100*(x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)",
}


def test_dot_example():
    f = function(ARRAY_EXAMPLES["dot"], "f")
    assert f.param_nodes == (var("x", ("n",)), var("y", ("n",)))
    assert f.body.shape == ()
    x, y = RNG.normal(size=N), RNG.normal(size=N)
    assert array_value(f, x=x, y=y) == pytest.approx(float(x @ y), rel=1e-12)


def test_norm2_example():
    f = function(ARRAY_EXAMPLES["norm2"], "f")
    assert f.shapes == (("x", ("n",)),) and f.body.shape == ()
    x = RNG.normal(size=N)
    assert array_value(f, x=x) == pytest.approx(float(np.sum(x * x)), rel=1e-12)


def test_logistic_example():
    loss = function(ARRAY_EXAMPLES["logistic"], "loss")
    assert loss.all_names == ("w", "b", "X", "y")
    assert loss.shapes == (("w", ("d",)), ("X", ("n", "d")), ("y", ("n",)))
    assert loss.param_nodes == (var("w", ("d",)), var("b"))
    assert loss.body.shape == () and ("n",) in sizes_in(loss.body)
    w, b = RNG.normal(size=D), 0.3
    X, y = RNG.normal(size=(N, D)), (RNG.random(N) > 0.5).astype(float)
    z = X @ w + b
    expected = np.mean(np.logaddexp(0.0, z) - y * z)
    assert array_value(loss, w=w, b=b, X=X, y=y) == pytest.approx(expected, rel=1e-12)


def test_quadratic_example():
    q = function(ARRAY_EXAMPLES["quadratic"], "q")
    assert q.param_nodes == (var("x", ("n",)),) and q.body.shape == ()
    x, A = RNG.normal(size=N), RNG.normal(size=(N, N))
    assert array_value(q, x=x, A=A) == pytest.approx(float(x @ A @ x), rel=1e-12)


def test_lstsq_example_residual_helper_called_from_f():
    program = lowered(ARRAY_EXAMPLES["lstsq"])
    r, f = program.functions
    assert r.body.shape == ("m",) and f.body.shape == ()
    x, A, b = RNG.normal(size=N), RNG.normal(size=(M, N)), RNG.normal(size=M)
    residual = A @ x - b
    assert np.allclose(array_value(r, x=x, A=A, b=b), residual, rtol=1e-12)
    assert array_value(f, x=x, A=A, b=b) == pytest.approx(
        float(residual @ residual), rel=1e-12
    )
    # the helper is inlined: f's graph holds only f's own variables
    names = {(n.attrs[0], n.shape) for n in toposort([f.body]) if n.op == "var"}
    assert names == {("x", ("n",)), ("A", ("m", "n")), ("b", ("m",))}


def test_mlp_example_with_named_intermediates():
    program = lowered(ARRAY_EXAMPLES["mlp"])
    (L,) = program.functions
    assert L.params == ("W1", "b1", "W2", "b2") and L.data == ("X", "Y")
    assert L.body.shape == ()
    by_name = {name: node for node, name in program.names.items() if node.shape}
    assert by_name["Z1"].shape == ("h", "m") and by_name["A1"].shape == ("h", "m")
    assert by_name["Z2"].shape == ("k", "m")
    reached = toposort([L.body])
    assert all(by_name[n] in reached for n in ("Z1", "A1", "Z2"))
    h, d, k, m = 4, 3, 2, 5
    W1, b1 = RNG.normal(size=(h, d)), RNG.normal(size=(h, 1))
    W2, b2 = RNG.normal(size=(k, h)), RNG.normal(size=(k, 1))
    X, Y = RNG.normal(size=(d, m)), np.eye(k)[:, RNG.integers(0, k, m)]
    Z2 = W2 @ np.tanh(W1 @ X + b1) + b2
    expected = np.mean(np.log(np.sum(np.exp(Z2), axis=0)) - np.sum(Y * Z2, axis=0))
    got = array_value(L, W1=W1, b1=b1, W2=W2, b2=b2, X=X, Y=Y)
    assert got == pytest.approx(expected, rel=1e-12)


def test_rosen_example_with_slices():
    f = function(ARRAY_EXAMPLES["rosen"], "f")
    assert f.body.shape == ()
    slices = {n.attrs[0] for n in toposort([f.body]) if n.op == "slice"}
    assert slices == {(("s", 1, None),), (("s", None, -1),)}
    assert array_value(f, x=np.ones(6)) == 0.0
    x = RNG.normal(size=4)
    scalar = sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(3))
    assert array_value(f, x=x) == pytest.approx(scalar, rel=1e-12)


def test_shapes_example_error_at_the_matmul_names_both_inner_sizes():
    text = "f(x[n]; A[m, k]) = sum(A @ x)\n"
    error = error_of(text)
    assert isinstance(error, ShapeError)
    assert error.format().splitlines() == [
        f"t.sg:1:{locate(text, '@')[1]}: error: A @ x: inner sizes differ (k vs n)",
        "f(x[n]; A[m, k]) = sum(A @ x)",
        " " * 25 + "^",
    ]


def test_shape_error_inside_an_intermediate_points_there_and_at_the_use():
    text = "Z1 = W1 @ X + b1\nL(W1[h, d], b1[h, 1]; X[m, d]) = sum(Z1)\n"
    error = error_of(text)
    assert (error.span.line, error.span.col) == locate(text, "@")
    assert error.message == "W1 @ X: inner sizes differ (d vs m)"
    assert error.notes == ("t.sg:2:38: 'L' uses 'Z1' here",)
    assert locate(text, "Z1)") == (2, 38)


@pytest.mark.parametrize(
    "text, col, length, message",
    [
        ("f(x) = x[0]", 9, 3, "x[0]: subscripts are not supported on scalar values ('x' is a scalar)"),
        ("f(x[3]) = x[5]", 12, 3, "x[5]: index 5 is out of range for axis 0 of size 3"),
        ("f(x[3]) = x[-4]", 12, 4, "x[-4]: index -4 is out of range for axis 0 of size 3"),
        ("f(x[n]) = sum(x[1:1])", 16, 5, "x[1:1]: the slice [1:1] of axis 0 (size n) is empty"),
        ("f(x[n]) = sum(x[0, 1])", 16, 6, "x[0, 1]: too many indices (2) for an array of shape [n]"),
        ("f(x[n]) = sum(x, 1)", 18, 1, "sum(x, 1): axis 1 is out of range for 'x' of shape [n]"),
        ("f(A[n, m]) = sum(mean(A, -3))", 26, 2, "mean(A, -3): axis -3 is out of range for 'A' of shape [n, m]"),
        ("f(x) = sum(x, 0)", 15, 1, "sum(x, 0): axis 0 is out of range for 'x', a scalar"),
        ("f(x[n], y[m]) = sum(x + y)", 23, 1, "x + y: shapes [n] and [m] do not broadcast (n vs m)"),
        ("f(A[n, m]) = sum(A @ A)", 20, 1, "A @ A: inner sizes differ (m vs n)"),
        ("f(A[n, m], x[n]) = dot(A, x)", 20, 9, "dot(A, x): dot needs two vectors, got [n, m] and [n]"),
        ("f(A[n, m]) = trace(A)", 14, 8, "trace(A): the diagonal needs a square matrix, got [n, m]"),
        ("f(A[n, m]) = sum(A.T @ A.T)", 22, 1, "A.T @ A.T: inner sizes differ (n vs m)"),
    ],
)  # fmt: skip
def test_shape_errors_at_their_place(text, col, length, message):
    error = error_of(text + "\n")
    assert isinstance(error, ShapeError)
    assert (error.span.line, error.span.col, error.span.length) == (1, col, length)
    assert error.message == message


@pytest.mark.parametrize(
    "text, needle, message",
    [
        ("f(x[n]) = sum(x, n)", "n)", "the axis of 'sum' must be a constant whole number such as 0 or -1"),
        ("f(x[n]) = mean(x, 0.5)", "0.5", "the axis of 'mean' must be a constant whole number"),
        ("f(k; x[n]) = softmax(x, k)", "k)", "the axis of 'softmax' must be a constant"),
        ("f(x[n]) = sum(x, 0, 1)", "sum", "'sum' takes 1 or 2 arguments, got 3"),
        ("f(x[n]) = dot(x)", "dot", "'dot' takes 2 arguments, got 1"),
        ("f(x[n]) = norm(x, 0)", "norm", "'norm' takes 1 argument, got 2"),
        ("f(x[n]) = sum", "sum", "'sum' is a function; call it with arguments"),
        ("f(x[n]) = summ(x)", "summ", "unknown function 'summ'; did you mean 'sum'?"),
        ("f(x[n], n) = x", "n]", "size name 'n' is also a parameter of 'f'; rename one of them"),
        ("f(n; x[m, n]) = n", "n]", "size name 'n' is also a parameter of 'f'"),
    ],
)  # fmt: skip
def test_array_call_and_size_name_errors(text, needle, message):
    error = error_of(text + "\n")
    assert (error.span.line, error.span.col) == locate(text, needle)
    assert message in error.message


@pytest.mark.parametrize(
    "body, shape",
    [
        ("x", ("n",)),
        ("A", ("n", "m")),
        ("A.T", ("m", "n")),
        ("transpose(A)", ("m", "n")),
        ("A @ y", ("n",)),
        ("x @ A", ("m",)),
        ("A.T @ A", ("m", "m")),
        ("x @ x", ()),
        ("dot(x, x)", ()),
        ("outer(x, y)", ("n", "m")),
        ("norm(x)", ()),
        ("norm(A)", ()),
        ("diag(x)", ("n", "n")),
        ("diag(A @ A.T)", ("n",)),
        ("trace(A @ A.T)", ()),
        ("sum(A)", ()),
        ("sum(A, 0)", ("m",)),
        ("sum(A, -1)", ("n",)),
        ("mean(A, 1)", ("n",)),
        ("logsumexp(A, 0)", ("m",)),
        ("logsumexp(x)", ()),
        ("softmax(A, 0)", ("n", "m")),
        ("log_softmax(x, 0)", ("n",)),
        ("exp(A) + 1", ("n", "m")),
        ("A + y", ("n", "m")),
        ("where(x > 0, x, 0)", ("n",)),
        ("max(x, 0) * c", ("n",)),
        ("-x[0]^2", ()),
        ("A[1:, :-1]", ("n-1", "m-1")),
        ("A[:, 0]", ("n",)),
        ("A[0]", ("m",)),
        ("x[2:]", ("n-2",)),
    ],
)
def test_array_expression_shapes(body, shape):
    f = function(f"f(x[n], A[n, m], y[m], c) = {body}\n", "f")
    assert f.body.shape == shape


def test_array_functions_agree_with_numpy():
    text = (
        "f(x[n], A[n, m]; y[m]) = norm(A.T @ x) + trace(A @ A.T) "
        "+ sum(log_softmax(A, 1)[:, 0]) + outer(x, y)[1, 2] + diag(x)[0, 0] "
        "+ mean(A, 0) @ y + logsumexp(A, 0) @ softmax(y, 0)\n"
    )
    x, A, y = RNG.normal(size=N), RNG.normal(size=(N, M)), RNG.normal(size=M)
    lse0 = np.log(np.sum(np.exp(A), axis=0))
    lse1 = np.log(np.sum(np.exp(A), axis=1, keepdims=True))
    expected = (
        np.linalg.norm(A.T @ x)
        + np.trace(A @ A.T)
        + np.sum((A - lse1)[:, 0])
        + x[1] * y[2]
        + x[0]
        + A.mean(axis=0) @ y
        + lse0 @ (np.exp(y) / np.sum(np.exp(y)))
    )
    got = array_value(function(text, "f"), x=x, A=A, y=y)
    assert got == pytest.approx(expected, rel=1e-12)


# -- helpers and intermediates with arrays --------------------------------------------


def test_shaped_helper_called_with_other_size_names():
    f = function("g(a[n]) = mean(a^2)\nf(x[m]) = g(x) + g(x)\n", "f")
    assert f.body.shape == ()
    # the helper's size n is the caller's m at run time
    assert sizes_in(f.body) == {("m",)}
    x = RNG.normal(size=N)
    assert array_value(f, x=x) == pytest.approx(2 * np.mean(x * x), rel=1e-12)


def test_shaped_helper_with_fixed_sizes_and_a_matrix():
    text = "g(a[n], B[n, 3]) = a @ B\nf(x[k]; C[k, 3]) = sum(g(x, C))\n"
    f = function(text, "f")
    x, C = RNG.normal(size=N), RNG.normal(size=(N, 3))
    assert array_value(f, x=x, C=C) == pytest.approx(float(np.sum(x @ C)), rel=1e-12)


def test_scalar_helper_works_elementwise_on_arrays():
    text = "s(z) = 1/(1 + exp(-z))\nf(w[d]; X[n, d]) = sum(s(X @ w))\n"
    f = function(text, "f")
    w, X = RNG.normal(size=D), RNG.normal(size=(N, D))
    expected = np.sum(1 / (1 + np.exp(-(X @ w))))
    assert array_value(f, w=w, X=X) == pytest.approx(expected, rel=1e-12)


def test_helper_using_an_intermediate_sees_the_arguments():
    text = "u = a^2\ng(a[n]) = sum(u)\nf(x[m]) = g(x[1:])\n"
    f = function(text, "f")
    x = RNG.normal(size=N)
    assert array_value(f, x=x) == pytest.approx(float(np.sum(x[1:] ** 2)), rel=1e-12)


@pytest.mark.parametrize(
    "text, needle, message",
    [
        (
            "h(a[n], b[n]) = sum(a*b)\nf(x[m], y[k]) = h(x, y)",
            "y)",
            "h(x, y): b[n] of 'h': size n would be both m and k (the argument y)",
        ),
        (
            "g(a[n]) = sum(a)\nf(A[n, n]) = g(A)",
            "A)",
            "g(A): a[n] of 'g': expected an array of shape [n], got [n, n] "
            "(the argument A)",
        ),
        (
            "g(a[3]) = sum(a)\nf(x[4]) = g(x)",
            "x)",
            "g(x): a[3] of 'g': expected shape [3], got [4] (3 vs 4)",
        ),
        (
            "g(a[n]) = sum(a)\nf(x) = g(x)",
            "x)",
            "g(x): a[n] of 'g': expected an array of shape [n], got scalar",
        ),
    ],
)
def test_helper_argument_shapes_are_checked(text, needle, message):
    error = error_of(text + "\n")
    assert isinstance(error, ShapeError)
    assert (error.span.line, error.span.col) == locate(
        text, needle, text.count(needle) - 1
    )
    assert message in error.message


def test_intermediate_used_by_a_scalar_and_an_array_function():
    text = "u = 2*a\nf(a) = u\ng(a[n]) = sum(u)\n"
    program = lowered(text)
    f, g = program.functions
    assert value(f, 3) == 6.0
    assert g.body.shape == () and array_value(g, a=np.arange(4.0)) == 12.0
    assert sorted(program.names.values()) == ["u", "u"]


def test_intermediate_free_name_must_still_be_a_parameter_of_an_array_function():
    text = "Z = W @ X\nL(W[h, d]) = sum(Z)\n"
    error = error_of(text)
    assert isinstance(error, NameResolutionError)
    assert "'X' is not a parameter of 'L'" in error.message
    assert any("t.sg:1:1" in note and "'Z'" in note for note in error.notes)


def test_intermediate_that_needs_shapes_fails_only_where_used_as_a_scalar():
    text = "u = x[0]\nf(x[n]) = u\ng(x) = u + 1\n"
    error = error_of(text)
    assert (error.span.line, error.span.col) == locate(text, "[0]")
    assert error.message.startswith("x[0]: subscripts are not supported on scalar")
    assert error.notes == ("t.sg:3:8: 'g' uses 'u' here",)


def test_intermediate_lowered_again_means_what_it_meant_where_written():
    # `g` and `v` come after `u`: in u's text they are errors, whoever uses u later.
    text = "u = x[0] + g(x)\ng(a) = a\nf(x[n]) = u\n"
    error = error_of(text)
    assert "'g' is called before its definition at line 2" in error.message
    assert (error.span.line, error.span.col) == (1, 12)
    text = "u = x[0] + v\nv = 1\nf(x[n]) = u\n"
    assert "'v' is used before its definition at line 2" in error_of(text).message


def test_builtin_array_function_may_be_shadowed_by_a_later_definition():
    text = "early(x[n]) = sum(x, 0)\nsum(a, b) = a - b\nlate(x[n]) = sum(x, 1)\n"
    program = lowered(text)
    early, _, late = program.functions
    x = np.arange(3.0)
    assert array_value(early, x=x) == 3.0
    assert np.array_equal(array_value(late, x=x), x - 1)


def test_long_chain_of_intermediates_lowers_again_without_recursion():
    lines = ["u0 = x"] + [f"u{i} = u{i - 1} + x" for i in range(1, 3000)]
    text = "\n".join(lines) + "\nf(x[n]) = sum(u2999)\n"
    f = function(text, "f")
    assert array_value(f, x=np.ones(3)) == 3 * 3000.0


def test_helpers_with_arrays_nested_too_deep_are_refused(monkeypatch):
    monkeypatch.setattr("symgrad.lower.MAX_INLINE_DEPTH", 5)
    # a new argument on every level, so no inlined call is the same as another
    lines = ["g0(a[n]) = a"] + [f"g{i}(a[n]) = g{i - 1}(a + 1)" for i in range(1, 8)]
    text = "\n".join(lines) + "\n"
    x = np.zeros(2)
    five_deep = "\n".join(lines[:6]) + "\n"
    assert np.array_equal(array_value(function(five_deep, "g5"), a=x), x + 5)
    error = error_of(text)
    assert isinstance(error, LimitError)
    assert "nested more than 5 calls deep" in error.message
    # g6 inlines g5, ..., g1, whose own call of g0 is the sixth level
    assert (error.span.line, error.span.col) == locate(text, "g0(a + 1)")


def test_helpers_calling_twice_are_lowered_once_per_argument():
    # without memoized inlining, 40 levels of two calls each would take 2^40 steps
    lines = ["g0(a[n]) = sin(a)"] + [
        f"g{i}(a[n]) = g{i - 1}(a) + g{i - 1}(a)" for i in range(1, 40)
    ]
    f = function("\n".join(lines) + "\n", "g39")
    assert f.body.shape == ("n",)


def test_scalar_functions_have_no_shapes():
    f = function("f(x, y; c) = x*y*c\n", "f")
    assert f.shapes == () and f.param_nodes == (var("x"), var("y"))


def test_intermediate_calling_a_shaped_helper_and_a_slice_argument():
    # u only fits an array x; g's size n is m - 1 for x[1:], m for x
    text = "g(a[n]) = mean(a)\nu = g(x)\nf(x[m]) = g(x[1:]) + u\n"
    f = function(text, "f")
    assert sizes_in(f.body) == {("m-1",), ("m",)}
    x = RNG.normal(size=N)
    expected = np.mean(x[1:]) + np.mean(x)
    assert array_value(f, x=x) == pytest.approx(expected, rel=1e-12)


def test_scalar_files_may_still_name_variables_like_array_functions():
    text = "u = 2*mean + norm\nf(mean, norm) = u\ng(sum) = sum^2\n"
    assert value(function(text, "f"), 3, 1) == 7.0
    assert value(function(text, "g"), 3) == 9.0
    error = error_of("f(x) = x + mean\n")
    assert error.message == "'mean' is a function; call it with arguments"
