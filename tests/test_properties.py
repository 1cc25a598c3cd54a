"""Property tests: random expressions through the whole pipeline agree with sympy and FD."""

from __future__ import annotations

import math
import os
import warnings

import mpmath
import numpy as np
import sympy
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from codegen.load import load
from symgrad.api import compile_source
from symgrad.lower import lower
from symgrad.parser import parse
from symgrad.sympy_bridge import to_sympy
from tests.conftest import audit_module

# Templates keep every op inside its domain for any real argument (u is a subterm).
UNARY = [
    "sin({})", "cos({})", "tanh({})", "atan({})", "sigmoid({})", "softplus({})",
    "exp(sin({}))", "log(1 + ({})^2)", "sqrt(1 + ({})^2)", "asin(0.9*tanh({}))",
    "acos(0.9*tanh({}))", "sinh(tanh({}))", "cosh(tanh({}))", "tan(0.5*tanh({}))",
    "expm1(tanh({}))", "log1p(exp(tanh({})))", "log(1 + exp(tanh({})))",
    "1/(1 + exp(-({})))", "abs({})", "relu({})", "-({})", "({})^2", "({})^3",
]  # fmt: skip
BINARY = [
    "({} + {})", "({} - {})", "({} * {})", "({}) / (2 + ({})^2)", "max({}, {})",
    "min({}, {})", "atan2({}, 1 + ({})^2)", "where({0} > 0.3, {1}, {0})",
    "exp(0.5*tanh({})) ^ tanh({})",
]  # fmt: skip
LEAVES = st.sampled_from(["x", "y", "x", "y", "2", "0.5", "pi", "3"])


def _grow(children):
    unary = st.tuples(st.sampled_from(UNARY), children).map(lambda t: t[0].format(t[1]))
    binary = st.tuples(st.sampled_from(BINARY), children, children).map(
        lambda t: t[0].format(t[1], t[2])
    )
    return unary | binary


EXPRESSIONS = st.recursive(LEAVES, _grow, max_leaves=7)
POINTS = st.floats(-1.5, 1.5, allow_nan=False).filter(lambda v: abs(v) > 1e-3)


def _sympy_reference(text: str):
    (function,) = lower(parse(text)).functions
    expr = to_sympy(function.body)
    x, y = sympy.Symbol("x", real=True), sympy.Symbol("y", real=True)
    expr = expr.subs({s: {"x": x, "y": y}[s.name] for s in expr.free_symbols})
    # Away from kinks (the test skips points near them) DiracDelta terms vanish.
    no_delta = lambda e: e.replace(
        sympy.DiracDelta, lambda *args: sympy.S.Zero
    )  # noqa: E731
    grad = [no_delta(sympy.diff(expr, v)) for v in (x, y)]
    hess = [[no_delta(sympy.diff(g, v)) for v in (x, y)] for g in grad]
    # mpmath, not numpy: numpy's printer turns the nested Piecewise that derivatives
    # of max/min produce into np.select with non-boolean conditions, which raises;
    # mpmath evaluates them as Python conditionals and never overflows.
    fn = sympy.lambdify((x, y), [expr, grad, hess], modules="mpmath")

    def reference(px: float, py: float):
        try:
            value, gradient, hessian = fn(px, py)
        except ZeroDivisionError:  # the reference is undefined here: the test skips
            return math.nan, [math.nan] * 2, [[math.nan] * 2] * 2
        return (
            _real(value),
            [_real(g) for g in gradient],
            [[_real(h) for h in row] for row in hessian],
        )

    return reference


def _real(number) -> float:
    """An mpmath (or plain) number as a float; nan where it is complex (off-domain)."""
    number = mpmath.mpmathify(number)
    if isinstance(number, mpmath.mpc):
        return float(number.real) if number.imag == 0 else math.nan
    return float(number)


def _close(a, b) -> bool:
    return np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-7, atol=1e-8)


@settings(
    max_examples=int(os.environ.get("SYMGRAD_FUZZ_EXAMPLES", 60)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(EXPRESSIONS, POINTS, POINTS)
def test_generated_derivatives_agree_with_sympy(body, px, py):
    text = f"f(x, y) = {body}\n"
    source = compile_source(text)
    audit_module(source)
    module = load(source, "prop", "<prop>")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        value, grad, hess = _sympy_reference(text)(px, py)
    expected = np.array([value, *grad, *np.ravel(hess)], dtype=float)
    # Skip points where the reference is undefined or sits on a kink (max, abs, where).
    assume(np.all(np.isfinite(expected)) and np.all(np.abs(expected) < 1e8))
    assume(all(abs(px - k) > 1e-6 and abs(py - k) > 1e-6 for k in (0.0, 0.3)))
    assume(abs(px - py) > 1e-6 and abs(px + py) > 1e-6)
    assert _close(module.f(px, py), value)
    assert _close(module.f_grad(px, py), grad)
    assert _close(module.f_hessian(px, py), hess)
    v = np.array([0.3, -0.7])
    assert _close(module.f_hvp(px, py, *v), np.asarray(hess, float) @ v)
    got_value, got_grad = module.f_value_and_grad(px, py)
    assert got_value == module.f(px, py) and _close(got_grad, grad)


@settings(max_examples=int(os.environ.get("SYMGRAD_FUZZ_EXAMPLES", 40)), deadline=None)
@given(EXPRESSIONS, POINTS, POINTS)
def test_gradient_agrees_with_central_differences(body, px, py):
    module = load(compile_source(f"f(x, y) = {body}\n"), "prop", "<prop>")
    with np.errstate(all="ignore"):
        g = np.array(module.f_grad(px, py), dtype=float)
        h = 1e-6
        fd = [
            (module.f(px + h, py) - module.f(px - h, py)) / (2 * h),
            (module.f(px, py + h) - module.f(px, py - h)) / (2 * h),
        ]
    assume(
        np.all(np.isfinite(g)) and np.all(np.isfinite(fd)) and np.all(np.abs(g) < 1e4)
    )
    # FD straddling a kink disagrees legitimately: skip when either point is near one.
    assume(all(abs(v) > 1e-3 and abs(v - 0.3) > 1e-3 for v in (px, py)))
    assume(abs(px - py) > 1e-3 and abs(px + py) > 1e-3)
    scale = max(1.0, float(np.max(np.abs(g))))
    assert np.allclose(g, fd, rtol=1e-4, atol=1e-5 * scale) or _kinked(module, px, py)


def _kinked(module, px, py) -> bool:
    """True when the gradient jumps within the FD stencil (a kink the points skipped)."""
    h = 1e-6
    a = np.array(module.f_grad(px - h, py - h), dtype=float)
    b = np.array(module.f_grad(px + h, py + h), dtype=float)
    return not np.allclose(a, b, rtol=1e-3, atol=1e-3)


def test_pi_and_numbers_survive_exactly():
    module = load(compile_source("f(x) = pi*x + 1e-3\n"), "p", "<p>")
    assert module.f(2.0) == math.pi * 2.0 + 1e-3
