"""Lowering: syntax tree to graph, names and arities checked, helpers inlined, spans exact."""

from __future__ import annotations

import math

import numpy as np
import pytest

from symgrad.errors import LimitError, NameResolutionError, SymgradError
from symgrad.evaluate import evaluate
from symgrad.graph import node_budget, toposort
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
