"""symgrad/program.py: a function's parameters in call order, its body built lazily."""

from __future__ import annotations

from symgrad.graph import var
from symgrad.program import Function, LazyFunction
from symgrad.simplify import mul


def test_all_names_are_params_then_data_unless_a_call_order_is_kept():
    body = mul(var("x"), var("c"))
    in_file = Function("f", ("x",), ("c",), body, "f(x; c) = x*c", None)
    traced = Function("f", ("x",), ("c",), body, "def f(c, x)", None, ("c", "x"))
    assert in_file.all_names == ("x", "c") and traced.all_names == ("c", "x")
    assert in_file.param_nodes == (var("x"),)


def test_a_lazy_function_builds_its_body_only_when_resolved():
    calls = []

    def body():
        calls.append(1)
        return mul(var("x"), var("y"))

    lazy = LazyFunction("g", ("x", "y"), (), "def g(x, y)", ("x", "y"), body)
    assert (lazy.name, lazy.all_names, calls) == ("g", ("x", "y"), [])
    function = lazy.resolve()
    assert calls == [1] and function.body is mul(var("x"), var("y"))
    assert function == Function(
        "g", ("x", "y"), (), function.body, "def g(x, y)", None, ("x", "y")
    )


def test_check_names_says_what_is_missing_and_what_is_not_data():
    import pytest

    from symgrad.errors import SymgradError

    f = Function("f", ("w",), ("X", "y"), mul(var("w"), var("X")), "f", None)
    f.check_names(["y", "X"])  # any order
    f.check_names({"w": 1.0}, "parameters")
    with pytest.raises(SymgradError, match=r"takes the data \(X, y\); missing y$"):
        f.check_names(["X"])
    with pytest.raises(SymgradError, match=r"missing X, y; not data: w$"):
        f.check_names(["w"])
    with pytest.raises(SymgradError, match=r"parameters \(w\); not parameters: b$"):
        f.check_names(["w", "b"], "parameters")
