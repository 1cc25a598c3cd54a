"""Tests for symgrad.rules: every row against finite differences to second order, and the kinks."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import mpmath
import numpy as np
import pytest

from symgrad import derivatives as diff, rules
from symgrad.errors import DifferentiationError
from symgrad.evaluate import evaluate
from symgrad.graph import Node, const, make, var
from symgrad.ops import ELEMENTWISE, OPS
from symgrad.simplify import call, mul, num, power

X, Y, Z = var("x"), var("y"), var("z")
H_STEP = 1e-6


@dataclass(frozen=True)
class Case:
    """One differentiable op at work: its expression, a math reference and valid points."""

    id: str
    op: str
    wrt: tuple[Node, ...]
    expr: Node
    ref: Callable[..., float]
    points: tuple[tuple[float, ...], ...]


def _grid(lo: float, hi: float, n: int = 5) -> tuple[tuple[float], ...]:
    return tuple((float(v),) for v in np.linspace(lo, hi, n))


def _sigmoid(t: float) -> float:
    return 1.0 / (1.0 + math.exp(-t))


def _unary(op: str, ref: Callable[[float], float], points) -> Case:
    return Case(op, op, (X,), call(op, X), ref, tuple(points))


PAIRS = ((0.7, -1.3), (-2.1, 0.4), (1.5, 2.5), (-0.6, -1.9))
AWAY_FROM_ZERO = ((-2.0,), (-0.7,), (-0.1,), (0.1,), (0.9,), (2.3,))

# fmt: off
CASES: tuple[Case, ...] = (
    Case("add", "add", (X, Y), call("add", X, Y), lambda x, y: x + y, PAIRS),
    Case("sub", "sub", (X, Y), call("sub", X, Y), lambda x, y: x - y, PAIRS),
    Case("mul", "mul", (X, Y), call("mul", X, Y), lambda x, y: x * y, PAIRS),
    Case("div", "div", (X, Y), call("div", X, Y), lambda x, y: x / y, PAIRS),
    Case("neg", "neg", (X,), call("neg", X), lambda x: -x, _grid(-3, 3)),
    Case("pow", "pow", (X, Y), power(X, Y), lambda x, y: x**y,
         ((0.5, -2.0), (0.8, 2.7), (1.3, -0.6), (2.2, 1.5), (3.0, 3.0), (1.7, 0.0))),
    Case("pow_const3", "pow", (X,), power(X, num(3.0)), lambda x: x**3, _grid(-2, 2)),
    Case("pow_const-1.5", "pow", (X,), power(X, num(-1.5)), lambda x: x**-1.5, _grid(0.3, 3)),
    _unary("exp", math.exp, _grid(-2, 2)),
    _unary("log", math.log, _grid(0.1, 5)),
    _unary("log1p", math.log1p, _grid(-0.9, 5)),
    _unary("expm1", math.expm1, _grid(-2, 2)),
    _unary("sqrt", math.sqrt, _grid(0.1, 5)),
    _unary("sin", math.sin, _grid(-3, 3)),
    _unary("cos", math.cos, _grid(-3, 3)),
    _unary("tan", math.tan, _grid(-1.3, 1.3)),
    _unary("asin", math.asin, _grid(-0.9, 0.9)),
    _unary("acos", math.acos, _grid(-0.9, 0.9)),
    _unary("atan", math.atan, _grid(-3, 3)),
    _unary("sinh", math.sinh, _grid(-2, 2)),
    _unary("cosh", math.cosh, _grid(-2, 2)),
    _unary("tanh", math.tanh, _grid(-2, 2)),
    _unary("abs", abs, AWAY_FROM_ZERO),
    _unary("sigmoid", _sigmoid, _grid(-5, 5)),
    _unary("softplus", lambda t: math.log1p(math.exp(t)), _grid(-5, 5)),
    _unary("relu", lambda t: max(t, 0.0), AWAY_FROM_ZERO),
    Case("atan2", "atan2", (Y, X), call("atan2", Y, X), math.atan2,
         ((0.5, 1.0), (1.0, -0.5), (-1.2, -0.3), (-0.4, 2.0), (2.0, 0.1))),
    Case("min", "min", (X, Y), call("min", X, Y), min, PAIRS),
    Case("max", "max", (X, Y), call("max", X, Y), max, PAIRS),
    Case("max_nonlinear", "max", (X, Y), call("max", mul(X, X), call("sin", Y)),
         lambda x, y: max(x * x, math.sin(y)),
         ((0.3, 1.2), (-2.1, 0.4), (0.5, -1.0), (-0.2, 2.0))),  # y, x, x, y win
    Case("where", "where", (X, Y, Z),
         call("where", call("gt", Z, num(0.0)), mul(call("sin", X), Y), mul(X, call("exp", Y))),
         lambda x, y, z: math.sin(x) * y if z > 0 else x * math.exp(y),
         ((0.3, -1.1, 1.0), (0.3, -1.1, -1.0), (-1.7, 0.8, 0.5), (-1.7, 0.8, -0.5))),
)
# fmt: on

# The scalar (elementwise) ops; array ops are tested in tests/test_arrays.py.
DIFFERENTIABLE = [
    name for name, spec in OPS.items() if name in ELEMENTWISE and spec.differentiable
]


def _env(wrt: Sequence[Node], point: Sequence[float]) -> dict[str, float]:
    return {v.name: float(p) for v, p in zip(wrt, point)}


def _shift(point: Sequence[float], i: int, h: float) -> tuple[float, ...]:
    return tuple(p + h if k == i else p for k, p in enumerate(point))


def _close(actual: float, expected: float, rel: float) -> bool:
    return abs(actual - expected) <= rel * max(1.0, abs(expected))


# ---------------------------------------------------------------- the table itself


@pytest.mark.parametrize("op", [o for o in OPS if o not in ("const", "var")])
def test_every_op_has_a_rule_or_is_not_differentiable(op: str) -> None:
    assert op in rules.RULES or not OPS[op].differentiable, f"no rule for {op}"


def test_rule_table_names_only_known_ops() -> None:
    assert set(rules.RULES) <= set(OPS)


def test_non_differentiable_ops_have_no_row() -> None:
    for op, spec in OPS.items():
        if not spec.differentiable:
            assert op not in rules.RULES, op


def test_every_differentiable_op_has_a_domain_case() -> None:
    assert set(DIFFERENTIABLE) <= {case.op for case in CASES}


# ---------------------------------------------------------------- finite differences


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_first_derivatives_match_central_differences(case: Case) -> None:
    gradient = diff.grad(case.expr, case.wrt)
    for point in case.points:
        values = evaluate(gradient, _env(case.wrt, point))
        for i, value in enumerate(values):
            fd = (
                case.ref(*_shift(point, i, H_STEP))
                - case.ref(*_shift(point, i, -H_STEP))
            ) / (2 * H_STEP)
            assert _close(float(value), fd, 1e-6), (case.id, point, i, value, fd)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_second_derivatives_match_differences_of_the_gradient(case: Case) -> None:
    gradient = diff.grad(case.expr, case.wrt)
    hess = diff.hessian(case.expr, case.wrt)
    n = len(case.wrt)
    assert all(0 <= i <= j < n for i, j in hess)
    for point in case.points:
        entries = evaluate(list(hess.values()), _env(case.wrt, point))
        h_num = dict(zip(hess, map(float, entries)))
        for i in range(n):
            for j in range(n):
                plus = evaluate([gradient[i]], _env(case.wrt, _shift(point, j, H_STEP)))
                minus = evaluate(
                    [gradient[i]], _env(case.wrt, _shift(point, j, -H_STEP))
                )
                fd = float(plus[0] - minus[0]) / (2 * H_STEP)
                symbolic = h_num.get((min(i, j), max(i, j)), 0.0)
                assert _close(symbolic, fd, 1e-5), (case.id, point, i, j, symbolic, fd)


# ---------------------------------------------------------------- kink conventions


def _grad_at(expr: Node, wrt: Sequence[Node], **env: float) -> list[float]:
    return [float(v) for v in evaluate(diff.grad(expr, wrt), env)]


def test_abs_derivative_at_zero_is_zero() -> None:
    assert _grad_at(call("abs", X), [X], x=0.0) == [0.0]
    assert _grad_at(call("abs", X), [X], x=-2.0) == [-1.0]
    assert _grad_at(call("abs", X), [X], x=2.0) == [1.0]


def test_relu_derivative_at_zero_is_zero() -> None:
    assert _grad_at(call("relu", X), [X], x=0.0) == [0.0]
    assert _grad_at(call("relu", X), [X], x=1e-300) == [1.0]
    assert _grad_at(call("relu", X), [X], x=-1e-300) == [0.0]


@pytest.mark.parametrize("op", ["sign", "step"])
def test_sign_and_step_have_structurally_zero_derivative(op: str) -> None:
    assert diff.grad(call(op, X), [X]) == [const(0.0)]
    assert diff.hessian(mul(call(op, X), X), [X]) == {}


@pytest.mark.parametrize("op", ["lt", "le", "gt", "ge"])
def test_comparisons_are_not_differentiated(op: str) -> None:
    assert diff.grad(call(op, X, Y), [X, Y]) == [const(0.0), const(0.0)]


@pytest.mark.parametrize("op", ["max", "min"])
def test_tie_splits_the_adjoint_evenly(op: str) -> None:
    assert _grad_at(call(op, X, Y), [X, Y], x=1.5, y=1.5) == [0.5, 0.5]
    winner_x = [1.0, 0.0] if op == "max" else [0.0, 1.0]
    assert _grad_at(call(op, X, Y), [X, Y], x=2.0, y=1.0) == winner_x


def test_max_with_a_zero_constant_is_relu_at_the_tie() -> None:
    # Documented: max(x, 0) and max(0, x) are relu (relu'(0) = 0, the course's
    # convention); the even split applies to a tie between two non-constant sides.
    assert _grad_at(call("max", X, num(0.0)), [X], x=0.0) == [0.0]
    assert _grad_at(call("max", num(0.0), X), [X], x=0.0) == [0.0]
    assert _grad_at(call("min", X, num(0.0)), [X], x=0.0) == [0.0]  # -relu(-x)
    assert _grad_at(call("max", X, Y), [X, Y], x=0.0, y=0.0) == [0.5, 0.5]


def test_where_routes_the_adjoint_to_the_selected_branch_only() -> None:
    expr = call("where", call("gt", Z, num(0.0)), X, Y)
    assert _grad_at(expr, [X, Y], x=3.0, y=4.0, z=1.0) == [1.0, 0.0]
    assert _grad_at(expr, [X, Y], x=3.0, y=4.0, z=-1.0) == [0.0, 1.0]
    # the condition gets nothing, even though it depends on a variable
    assert diff.grad(expr, [Z]) == [const(0.0)]


def test_where_untaken_branch_never_leaks_nan_into_derivatives() -> None:
    expr = call("where", call("gt", X, num(0.0)), call("sqrt", X), num(0.0))
    first = diff.grad(expr, [X])[0]
    second = diff.hessian(expr, [X])[0, 0]
    assert [float(v) for v in evaluate([first, second], {"x": -1.0})] == [0.0, 0.0]
    got = [float(v) for v in evaluate([first, second], {"x": 4.0})]
    assert got == pytest.approx([0.25, -1.0 / 32.0], rel=1e-14)


# ---------------------------------------------------------------- missing rules


def test_missing_rule_raises_an_error_naming_the_op(monkeypatch) -> None:
    monkeypatch.delitem(rules.RULES, "sinh")
    with pytest.raises(DifferentiationError, match="sinh"):
        diff.grad(call("sinh", X), [X])


def test_missing_rule_is_not_needed_off_the_active_path(monkeypatch) -> None:
    monkeypatch.delitem(rules.RULES, "sinh")
    # sinh(y) does not depend on x: its rule is never consulted
    expr = make("add", (call("sinh", Y), X))
    assert diff.grad(expr, [X]) == [const(1.0)]


@pytest.mark.parametrize("op, sign", [("asin", 1.0), ("acos", -1.0)])
def test_asin_and_acos_derivatives_keep_every_digit_near_one(op: str, sign: float):
    # 1/sqrt(1 - u^2) kept 10 digits here: u^2 rounds before 1 - u^2 cancels.
    u = 1 - 1e-9
    with mpmath.workdps(50):
        expected = sign * float(1 / mpmath.sqrt(1 - mpmath.mpf(u) ** 2))
    assert expected == sign * 22360.68009678968
    assert _grad_at(call(op, X), [X], x=u) == [expected]
    assert _grad_at(call(op, X), [X], x=-u) == [expected]
