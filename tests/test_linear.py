"""Coefficients of graphs linear in a direction: closed-form Jacobians against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from symgrad import arrays
from symgrad import derivatives as diff
from symgrad.errors import DifferentiationError
from symgrad.evaluate import evaluate
from symgrad.graph import Node, var
from symgrad.linear import coefficient
from symgrad.simplify import add, call, div, mul, num, sub

RNG = np.random.default_rng(7)
SIZES = {"n": 4, "m": 3}
x = var("x", ("n",))
s = var("s")
A = var("A", ("m", "n"))
S = var("S", ("n", "n"))
b = var("b", ("m",))


def _jacobian(f: Node, v: Node) -> Node:
    """The Jacobian of f in v, read off the forward derivative along a tangent."""
    t = var("t", v.shape)
    (directional,) = diff.jvp([f], [v], [t])
    return coefficient(directional, t)


def _numeric_jacobian(f: Node, v: Node, env: dict) -> np.ndarray:
    base = env[v.name]
    columns = []
    for k in range(np.size(base)):
        e = np.zeros(np.size(base))
        e[k] = 1e-6
        step = e.reshape(np.shape(base))
        plus = evaluate([f], {**env, v.name: base + step}, SIZES)[0]
        minus = evaluate([f], {**env, v.name: base - step}, SIZES)[0]
        columns.append((plus - minus) / 2e-6)
    return np.stack(columns, axis=-1).reshape(np.shape(plus) + np.shape(base))


# fmt: off
CASES = [
    ("residual",   lambda: sub(arrays.matmul(A, x), b), x),
    ("elementwise", lambda: mul(call("sin", x), x), x),
    ("slices",     lambda: sub(arrays.index(x, (slice(1, None),)), mul(arrays.index(x, (slice(None, -1),)), arrays.index(x, (slice(None, -1),)))), x),
    ("sum",        lambda: arrays.reduce_sum(mul(x, x)), x),
    ("vec_mat",    lambda: arrays.matmul(call("exp", x), arrays.transpose(A)), x),
    ("scalar",     lambda: mul(s, arrays.matmul(A, x)), s),
    ("quotient",   lambda: div(arrays.matmul(S, x), add(num(2.0), call("cos", x))), x),
    ("softmax",    lambda: arrays.softmax(x), x),
    ("bcast_sum",  lambda: arrays.reduce_sum(mul(add(s, x), x)), s),
    ("bcast_slice", lambda: arrays.index(add(s, x), (slice(1, None),)), s),
    ("bcast_mat",  lambda: arrays.matmul(A, add(s, x)), s),
    ("W_x",        lambda: arrays.matmul(A, call("tanh", x)), A),
    ("b_W",        lambda: arrays.matmul(b, A), A),
    ("W_S",        lambda: arrays.matmul(A, S), A),
    ("S_Wt",       lambda: arrays.matmul(S, arrays.transpose(A)), A),
    ("Wt_b",       lambda: mul(arrays.matmul(arrays.transpose(A), b), x), A),
    ("W_sum",      lambda: arrays.reduce_sum(mul(A, A), 0), A),
    ("S_self",     lambda: arrays.matmul(S, arrays.matmul(S, x)), S),
]
# fmt: on


@pytest.mark.parametrize("name, make_f, v", CASES, ids=[c[0] for c in CASES])
def test_jacobian_matches_finite_differences(name, make_f, v) -> None:
    f = make_f()
    env = {
        "x": RNG.normal(size=4),
        "s": 0.7,
        "A": RNG.normal(size=(3, 4)),
        "S": RNG.normal(size=(4, 4)),
        "b": RNG.normal(size=3),
    }
    jac = arrays.full(_jacobian(f, v), f.shape + v.shape)
    (value,) = evaluate([jac], env, SIZES)
    np.testing.assert_allclose(
        value, _numeric_jacobian(f, v, env), rtol=1e-7, atol=1e-8
    )


def test_the_jacobian_of_a_residual_is_the_matrix_itself() -> None:
    assert _jacobian(sub(arrays.matmul(A, x), b), x) is A


def test_a_matrix_direction_through_solve_has_no_closed_form_yet() -> None:
    t = var("t", ("n", "n"))
    with pytest.raises(DifferentiationError, match="through solve"):
        coefficient(arrays.solve(S, t), t)


def test_a_product_of_two_directions_is_not_linear() -> None:
    t = var("t", ("n",))
    with pytest.raises(DifferentiationError, match="not linear"):
        coefficient(mul(t, t), t)
