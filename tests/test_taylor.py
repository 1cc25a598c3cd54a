"""Taylor-mode n-th derivatives: exact against sympy and mpmath, quadratic in the order."""

from __future__ import annotations

import math
import os
import warnings

import mpmath
import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, assume, given, settings

from symgrad.api import diff
from symgrad.derivatives import grad
from symgrad.evaluate import evaluate
from symgrad.graph import count_nodes, var
from symgrad.lower import lower
from symgrad.parser import parse
from symgrad.sympy_bridge import to_sympy
from symgrad.taylor import nth_derivative
from tests.test_properties import EXPRESSIONS, POINTS

X = sympy.Symbol("x", real=True)
Y = sympy.Symbol("y", real=True)


def body_of(text: str):
    """The graph of f's body in `f(x, y) = text`."""
    (function,) = lower(parse(f"f(x, y) = {text}\n")).functions
    return function.body


def at(node, x: float, y: float = 0.25) -> float:
    """The node's value at (x, y) in float64."""
    with np.errstate(all="ignore"):
        return float(evaluate([node], {"x": np.float64(x), "y": np.float64(y)})[0])


def sympy_derivative(expr, order: int, x: float, y: float = 0.25) -> float:
    """sympy's order-th x-derivative of expr at (x, y), to 30 digits."""
    return float(sympy.diff(expr, X, order).subs({X: x, Y: y}).evalf(30))


# Each function of the language with its sympy spelling, at a point of its domain.
SINGLE = [
    ("exp(U)", sympy.exp), ("log(U)", sympy.log), ("log1p(U)", lambda u: sympy.log(1 + u)),
    ("expm1(U)", lambda u: sympy.exp(u) - 1), ("sqrt(U)", sympy.sqrt), ("sin(U)", sympy.sin),
    ("cos(U)", sympy.cos), ("tan(U)", sympy.tan), ("asin(U)", sympy.asin),
    ("acos(U)", sympy.acos), ("atan(U)", sympy.atan), ("sinh(U)", sympy.sinh),
    ("cosh(U)", sympy.cosh), ("tanh(U)", sympy.tanh), ("abs(U)", sympy.Abs),
    ("sigmoid(U)", lambda u: 1 / (1 + sympy.exp(-u))),
    ("softplus(U)", lambda u: sympy.log(1 + sympy.exp(u))),
    ("relu(U)", lambda u: sympy.Max(0, u)), ("U^3", lambda u: u**3),
    ("U^2.5", lambda u: u**sympy.Rational(5, 2)), ("U^-2", lambda u: u**-2),
    ("1/U", lambda u: 1 / u), ("atan2(U, 2 - U)", lambda u: sympy.atan2(u, 2 - u)),
    ("max(U, 1 - U)", lambda u: sympy.Max(u, 1 - u)),
    ("min(U, 1 - U)", lambda u: sympy.Min(u, 1 - u)),
    ("(0.5 + U)^(1 + U)", lambda u: (sympy.Rational(1, 2) + u) ** (1 + u)),
]  # fmt: skip


@pytest.mark.parametrize("text, to_sympy_fn", SINGLE, ids=[t for t, _ in SINGLE])
@pytest.mark.parametrize("order", [2, 3, 5])
def test_every_function_to_order_five_agrees_with_sympy(text, to_sympy_fn, order):
    u = "(0.3*x + 0.35*y)"  # u = 0.4 at the point: inside every domain, off every kink
    node = nth_derivative(body_of(text.replace("U", u)), var("x"), order)
    expected = sympy_derivative(
        to_sympy_fn(sympy.Rational(3, 10) * X + sympy.Rational(35, 100) * Y),
        order,
        0.4,
        0.8,
    )
    assert at(node, 0.4, 0.8) == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_tenth_derivative_of_the_sine_tower_is_exact():
    # The figure, recomputed here from mpmath's Taylor series at 30 digits.
    tower = lambda t: mpmath.sin(
        mpmath.sin(mpmath.sin(mpmath.sin(mpmath.sin(mpmath.sin(mpmath.sin(t))))))
    )  # noqa: E731
    with mpmath.workdps(30):
        expected = float(mpmath.taylor(tower, 1, 10)[10] * mpmath.factorial(10))
    d = diff("sin(sin(sin(sin(sin(sin(sin(x)))))))", "x", 10)
    assert abs(d(1.0) - expected) <= 1e-12 * abs(expected)
    assert math.isclose(expected, 55578.028331281705, rel_tol=1e-15)


def test_graph_grows_quadratically_in_the_order_not_exponentially():
    body = body_of("sin(sin(x))")
    sizes = {n: count_nodes([nth_derivative(body, var("x"), n)]) for n in (10, 20, 40)}
    # O(n^2): doubling the order multiplies the size by about 4 (2^n would square it).
    assert sizes[20] / sizes[10] < 5 and sizes[40] / sizes[20] < 5


def test_order_forty_agrees_with_mpmath():
    d = diff("sin(sin(x))", "x", 40)
    with mpmath.workdps(60):
        series = mpmath.taylor(
            lambda t: mpmath.sin(mpmath.sin(t)), mpmath.mpf("0.5"), 40
        )
        expected = float(series[40] * mpmath.factorial(40))
    assert d(0.5) == pytest.approx(expected, rel=1e-9)


def test_order_zero_is_the_function_and_order_one_the_gradient():
    body = body_of("x*sin(y*x) + exp(x)/y")
    x = var("x")
    assert nth_derivative(body, x, 0) is body
    assert at(nth_derivative(body, x, 1), 0.7) == pytest.approx(
        at(grad(body, [x])[0], 0.7), rel=1e-14
    )


def test_other_variables_are_constants():
    body = body_of("x^2*y^3 + sin(x*y)")
    expr = X**2 * Y**3 + sympy.sin(X * Y)
    for order in (2, 3, 4):
        node = nth_derivative(body, var("x"), order)
        assert at(node, 0.6, 1.3) == pytest.approx(
            sympy_derivative(expr, order, 0.6, 1.3), rel=1e-12
        )


def test_a_polynomial_has_zero_derivatives_past_its_degree():
    body = body_of("(x^2 + y)*(x - 3)")
    assert (
        at(nth_derivative(body, var("x"), 3), 0.9) == 6.0
    )  # d^3/dx^3 of x^3 + ... = 6
    assert nth_derivative(body, var("x"), 4).op == "const"  # structurally zero
    assert at(nth_derivative(body, var("x"), 4), 0.9) == 0.0


def test_where_takes_the_derivatives_of_the_branch_taken_without_nan():
    body = body_of("where(x > 0, sqrt(x), 0)")
    for order in (2, 3):
        assert at(nth_derivative(body, var("x"), order), -3.0) == 0.0
    # sqrt'' = -x^(-3/2)/4 on the taken branch
    assert at(nth_derivative(body, var("x"), 2), 4.0) == pytest.approx(
        -1 / 32, rel=1e-15
    )


def test_kinks_follow_the_rule_table_conventions():
    # relu'' and abs'' are 0 everywhere (the rule table's step' = sign' = 0)
    for text in ("relu(x)", "abs(x)", "max(x, 0)"):
        for point in (-1.0, 0.0, 1.0):
            assert at(nth_derivative(body_of(text), var("x"), 2), point) == 0.0


def test_the_denominator_rule_at_high_order():
    body = body_of("x^3/(1 + x^2)")
    expr = X**3 / (1 + X**2)
    for order in (4, 7):
        node = nth_derivative(body, var("x"), order)
        assert at(node, 0.8) == pytest.approx(
            sympy_derivative(expr, order, 0.8), rel=1e-11
        )


@settings(
    max_examples=int(os.environ.get("SYMGRAD_FUZZ_EXAMPLES", 40)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(EXPRESSIONS, POINTS, POINTS)
def test_random_expressions_third_derivative_agrees_with_sympy(body, px, py):
    (function,) = lower(parse(f"f(x, y) = {body}\n")).functions
    expr = to_sympy(function.body)
    expr = expr.subs({s: {"x": X, "y": Y}[s.name] for s in expr.free_symbols})
    expected = sympy.diff(expr, X, 3).replace(sympy.DiracDelta, lambda *a: sympy.S.Zero)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = complex(expected.subs({X: px, Y: py}).evalf(30))
    assume(reference.imag == 0 and math.isfinite(reference.real))
    ours = at(nth_derivative(function.body, var("x"), 3), px, py)
    assume(math.isfinite(ours))  # a kink exactly at the point: sympy says undefined
    assert ours == pytest.approx(reference.real, rel=1e-7, abs=1e-8)
