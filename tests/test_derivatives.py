"""Tests for symgrad.derivatives: adjoints, gradients, Hessians, HVPs, n-th derivatives, deep graphs."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence

import numpy as np
import pytest

from symgrad import derivatives as diff
from symgrad.errors import LimitError
from symgrad.evaluate import evaluate
from symgrad.graph import Node, const, count_nodes, make, var
from symgrad.simplify import ZERO, add, call, mul, num, power, sub

A, B, C = var("a"), var("b"), var("c")
X, Y = var("x"), var("y")


def _values(nodes: Sequence[Node], env: Mapping[str, float]) -> list[float]:
    return [float(v) for v in evaluate(list(nodes), env)]


def _f_course() -> Node:
    """f(x, y) = x^2 y + y + 2."""
    return add(add(mul(power(X, num(2.0)), Y), Y), num(2.0))


# ---------------------------------------------------------------- course examples


def test_course_example_adjoints_and_gradient() -> None:
    u = mul(B, C)
    v = add(A, u)
    j = mul(num(3.0), v)
    adj = diff.adjoints(j, [A, B, C])
    assert adj[v] is const(3.0)
    assert adj[u] is const(3.0)
    assert adj[A] is const(3.0)
    grads = diff.grad(j, [A, B, C])
    assert grads[0] is const(3.0)
    assert grads[1] is make("mul", (const(3.0), C))
    assert grads[2] is make("mul", (const(3.0), B))
    assert _values(grads, {"a": 5.0, "b": 3.0, "c": 2.0}) == [3.0, 6.0, 9.0]


def test_adjoints_visit_only_nodes_between_root_and_wrt() -> None:
    u = mul(B, C)
    j = mul(num(3.0), add(A, u))
    adj = diff.adjoints(j, [A])
    assert u not in adj and B not in adj and C not in adj
    assert diff.adjoints(j, [X]) == {}


@pytest.mark.parametrize("x, y", [(3.0, 4.0), (-1.5, 0.25), (0.0, -2.0)])
def test_course_example_gradient_and_hessian(x: float, y: float) -> None:
    f = _f_course()
    env = {"x": x, "y": y}
    assert _values(diff.grad(f, [X, Y]), env) == pytest.approx([2 * x * y, x * x + 1])
    hess = diff.hessian(f, [X, Y])
    assert set(hess) == {(0, 0), (0, 1)}  # (1, 1) is a structural zero: absent
    assert _values([hess[0, 0], hess[0, 1]], env) == pytest.approx([2 * y, 2 * x])


def test_hvp_equals_hessian_times_vector() -> None:
    f = _f_course()
    v0, v1 = var("v0"), var("v1")
    hv = diff.hvp(f, [X, Y], [v0, v1])
    for x, y, a, b in [
        (3.0, 4.0, 1.0, 0.0),
        (-1.5, 0.25, 0.7, -2.0),
        (2.0, 1.0, 3.0, 5.0),
    ]:
        h = np.array([[2 * y, 2 * x], [2 * x, 0.0]])
        expected = h @ np.array([a, b])
        got = _values(hv, {"x": x, "y": y, "v0": a, "v1": b})
        np.testing.assert_allclose(got, expected, rtol=1e-14)


def test_hvp_matches_the_hessian_dict_on_a_denser_function() -> None:
    z = var("z")
    wrt = [X, Y, z]
    f = add(call("sin", mul(X, Y)), mul(call("exp", z), power(Y, num(3.0))))
    hess = diff.hessian(f, wrt)
    vec = [num(0.3), num(-1.2), num(2.0)]
    env = {"x": 0.4, "y": -0.9, "z": 0.2}
    x, y, zz = env["x"], env["y"], env["z"]
    s, c = math.sin(x * y), math.cos(x * y)
    h = np.array(
        [
            [-(y**2) * s, c - x * y * s, 0.0],
            [
                c - x * y * s,
                -(x**2) * s + 6 * y * math.exp(zz),
                3 * y * y * math.exp(zz),
            ],
            [0.0, 3 * y * y * math.exp(zz), math.exp(zz) * y**3],
        ]
    )
    assert set(hess) == {(0, 0), (0, 1), (1, 1), (1, 2), (2, 2)}
    assembled = np.zeros((3, 3))
    for (i, j), value in zip(hess, _values(list(hess.values()), env)):
        assembled[i, j] = assembled[j, i] = value
    np.testing.assert_allclose(assembled, h, rtol=1e-13, atol=1e-15)
    got = _values(diff.hvp(f, wrt, vec), env)
    np.testing.assert_allclose(got, h @ np.array([0.3, -1.2, 2.0]), rtol=1e-13)


def test_first_derivative_of_sin_of_square() -> None:
    d = diff.derivative(call("sin", power(X, num(2.0))), X, 1)
    assert _values([d], {"x": 3.0})[0] == pytest.approx(6 * math.cos(9.0), rel=1e-14)


def test_tenth_derivative_of_sin_applied_seven_times() -> None:
    f = X
    for _ in range(7):
        f = call("sin", f)
    d10 = diff.derivative(f, X, 10)
    # count_nodes([d10]) == 111_671 with the current rules (shared DAG); sympy: 55578.02833128172...
    value = _values([d10], {"x": 1.0})[0]
    assert value == pytest.approx(55578.028331281705, rel=1e-12)


def test_derivative_order_zero_and_limits() -> None:
    f = call("sin", X)
    assert diff.derivative(f, X, 0) is f
    assert diff.derivative(f, X, 4) is f  # sin'''' = sin, on the same interned node
    with pytest.raises(LimitError):
        diff.derivative(f, X, diff.MAX_ORDER + 1)
    with pytest.raises(LimitError):
        diff.derivative(f, X, -1)


def test_gradient_shares_the_forward_graph() -> None:
    f = call("exp", X)
    assert diff.grad(f, [X]) == [f]
    assert diff.grad(f, [Y]) == [ZERO]
    assert diff.grad(X, [X, Y]) == [const(1.0), ZERO]


def test_cheap_gradient_does_not_grow_with_the_number_of_inputs() -> None:
    for n in (10, 200):
        xs = [var(f"x{i}") for i in range(n)]
        f = ZERO
        for i in range(n - 1):
            f = add(f, call("sin", mul(xs[i], xs[i + 1])))
        together = count_nodes([f, *diff.grad(f, xs)])
        assert together <= 3 * count_nodes([f]), (n, together)


def test_jacobian_rows_are_gradients() -> None:
    outs = [mul(X, Y), call("sin", X)]
    jac = diff.jacobian(outs, [X, Y])
    assert jac == [[Y, X], [call("cos", X), ZERO]]


# ---------------------------------------------------------------- sparsity


def test_separable_function_has_a_diagonal_hessian() -> None:
    xs = [var(f"s{i}") for i in range(20)]
    f = ZERO
    for x in xs:
        f = add(f, power(x, num(4.0)))
    hess = diff.hessian(f, xs)
    assert set(hess) == {(i, i) for i in range(20)}
    point = {f"s{i}": 0.1 * i - 0.9 for i in range(20)}
    got = _values([hess[i, i] for i in range(20)], point)
    assert got == pytest.approx(
        [12 * (0.1 * i - 0.9) ** 2 for i in range(20)], rel=1e-13
    )


def test_extended_rosenbrock_hessian_is_tridiagonal() -> None:
    n = 50
    xs = [var(f"r{i}") for i in range(n)]
    f = ZERO
    for i in range(n - 1):
        f = add(
            f, mul(num(100.0), power(sub(xs[i + 1], power(xs[i], num(2.0))), num(2.0)))
        )
        f = add(f, power(sub(num(1.0), xs[i]), num(2.0)))
    hess = diff.hessian(f, xs)
    assert len(hess) == n + (n - 1)
    assert set(hess) == {(i, i) for i in range(n)} | {(i, i + 1) for i in range(n - 1)}
    pt = [math.sin(i) for i in range(n)]
    env = {f"r{i}": pt[i] for i in range(n)}
    got = dict(zip(hess, _values(list(hess.values()), env)))
    for i in range(n):
        diag = 200.0 if i > 0 else 0.0
        if i < n - 1:
            diag += 1200 * pt[i] ** 2 - 400 * pt[i + 1] + 2
            assert got[i, i + 1] == pytest.approx(-400 * pt[i], rel=1e-12, abs=1e-12)
        assert got[i, i] == pytest.approx(diag, rel=1e-12, abs=1e-10)


# ---------------------------------------------------------------- deep graphs


def _chain_forward(x: float, steps: int) -> tuple[float, float]:
    """f_k = sin(f_{k-1}) + x with f_0 = x, and its forward-mode derivative."""
    f, d = x, 1.0
    for _ in range(steps):
        f, d = math.sin(f) + x, math.cos(f) * d + 1.0
    return f, d


def test_100k_node_chain_differentiates_iteratively_and_fast() -> None:
    steps = 50_000
    start = time.perf_counter()
    f = X
    for _ in range(steps):
        f = add(call("sin", f), X)
    assert count_nodes([f]) == 2 * steps + 1
    (g,) = diff.grad(f, [X])
    value, gradient = _values([f, g], {"x": 0.5})
    elapsed = time.perf_counter() - start
    exact_value, forward = _chain_forward(0.5, steps)
    h = 1e-6
    fd = (_chain_forward(0.5 + h, steps)[0] - _chain_forward(0.5 - h, steps)[0]) / (
        2 * h
    )
    assert value == pytest.approx(exact_value, rel=1e-12)
    assert gradient == pytest.approx(forward, rel=1e-9)
    assert gradient == pytest.approx(fd, rel=1e-5)
    assert elapsed < 20.0, elapsed


def test_derivative_stays_within_the_node_budget(monkeypatch):
    import symgrad.graph

    x = var("x")
    root = call("sin", call("sin", call("sin", mul(x, num(1.5)))))
    monkeypatch.setattr(symgrad.graph, "MAX_NODES", 300)
    with pytest.raises(LimitError, match="limit exceeded: the derivative of order 30"):
        diff.derivative(root, x, 30)
    # What fits is built as before: sympy's d^2/dx^2 sin(sin(sin(3x/2))) at x = 0.3.
    import sympy

    t = sympy.Symbol("t")
    expected = sympy.diff(sympy.sin(sympy.sin(sympy.sin(1.5 * t))), t, 2).subs(t, 0.3)
    (value,) = evaluate([diff.derivative(root, x, 2)], {"x": 0.3})
    assert float(value) == pytest.approx(float(expected), rel=1e-13)


def _rosenbrock(n: int) -> tuple[Node, list[Node]]:
    xs = [var(f"x{i}") for i in range(n)]
    f = ZERO
    for a, b in zip(xs, xs[1:]):
        f = add(f, add(mul(num(100.0), power(sub(b, power(a, num(2.0))), num(2.0))),
                       power(sub(num(1.0), a), num(2.0))))  # fmt: skip
    return f, xs


def _hvp_inputs(f: Node, wrt: list[Node]):
    g = diff.grad(f, wrt)
    vector = [var(f"v{i}") for i in range(len(wrt))]
    return g, wrt, vector, diff.hessian_from_gradient(g, wrt)


def _dense() -> tuple[Node, list[Node]]:
    d = var("d")
    total = add(add(add(A, B), C), d)
    return add(power(total, num(2.0)), call("sin", mul(mul(mul(A, B), C), d))), [
        A, B, C, d,
    ]  # fmt: skip


def test_hvp_best_uses_the_entries_of_a_sparse_hessian(monkeypatch) -> None:
    """Past SMALL_GRADIENT the tridiagonal Hessian's entries are summed, and H v is right."""
    monkeypatch.setattr(diff, "SMALL_GRADIENT", 0)
    g, wrt, vector, entries = _hvp_inputs(*_rosenbrock(30))
    chosen = diff.hvp_best(g, wrt, vector, entries)
    assert chosen == diff.hvp_from_hessian(entries, vector)  # interned: the same nodes
    rng = np.random.default_rng(3)
    point, v = rng.uniform(-2, 2, 30), rng.normal(size=30)
    env = {**{f"x{i}": p for i, p in enumerate(point)}, **{f"v{i}": w for i, w in enumerate(v)}}  # fmt: skip
    dense = np.zeros((30, 30))
    for (i, j), value in zip(entries, _values(list(entries.values()), env)):
        dense[i, j] = dense[j, i] = value
    np.testing.assert_allclose(_values(chosen, env), dense @ v, rtol=1e-12, atol=1e-12)
    directional = _values(diff.hvp_from_gradient(g, wrt, vector), env)
    np.testing.assert_allclose(
        _values(chosen, env), directional, rtol=1e-12, atol=1e-12
    )


def test_hvp_best_keeps_forward_over_reverse_for_a_dense_hessian(monkeypatch) -> None:
    g, wrt, vector, entries = _hvp_inputs(*_dense())
    assert diff.hvp_best(g, wrt, vector, entries) == diff.hvp_from_gradient(
        g, wrt, vector
    )
    monkeypatch.setattr(diff, "SMALL_GRADIENT", 0)  # the estimate decides the same
    assert diff.hvp_best(g, wrt, vector, entries) == diff.hvp_from_gradient(
        g, wrt, vector
    )


@pytest.mark.parametrize(
    "build", [lambda: _rosenbrock(4), _dense, lambda: (_f_course(), [X, Y])]
)
def test_hvp_best_evaluates_the_fewer_nodes(build) -> None:
    g, wrt, vector, entries = _hvp_inputs(*build())
    both = [
        count_nodes(diff.hvp_from_hessian(entries, vector)),
        count_nodes(diff.hvp_from_gradient(g, wrt, vector)),
    ]
    assert count_nodes(diff.hvp_best(g, wrt, vector, entries)) == min(both)


def test_adjoints_refuse_a_target_that_is_not_a_leaf() -> None:
    # the active set is seeded at leaves: an inner node as target would get no adjoint
    x, y = var("x_leaf"), var("y_leaf")
    inner = mul(x, y)
    root = call("sin", inner)
    with pytest.raises(ValueError, match="leaves"):
        diff.adjoints(root, [inner])
    assert diff.adjoints(root, [x])[x] is not None


def test_no_contribution_is_built_for_an_argument_no_variable_reaches(
    monkeypatch,
) -> None:
    # d exp(s x)/dx with s = 3 sin(y) a constant in x: s's contribution g x was
    # built and dropped before; mul, sub and div now contribute per argument
    from symgrad import rules

    x, y = var("x_reach"), var("y_reach")
    scale = mul(num(3.0), call("sin", y))
    f = call("exp", mul(scale, x))
    built: list[tuple[Node, Node]] = []
    real = rules.mul
    monkeypatch.setattr(rules, "mul", lambda a, b: built.append((a, b)) or real(a, b))
    dx = diff.adjoints(f, [x])[x]
    assert built and not any(x in pair for pair in built)
    env = {"x_reach": 0.3, "y_reach": -1.2}
    s = 3 * math.sin(-1.2)
    assert float(evaluate([dx], env)[0]) == pytest.approx(
        s * math.exp(s * 0.3), rel=1e-14
    )
