"""Array builders and the array ops' rules: shapes, reverse and forward rows against finite differences."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from symgrad import arrays, simplify
from symgrad import derivatives as diff
from symgrad.banded import banded
from symgrad.errors import ShapeError
from symgrad.evaluate import evaluate as _evaluate, size_of
from symgrad.graph import Node, make, var, variables
from symgrad.ops import ELEMENTWISE, OPS
from symgrad.rules import JVP_RULES, RULES
from symgrad.simplify import call, mul, num, recording, sub
from tests.conftest import ARRAY_ONLY_RULES

RNG = np.random.default_rng(20261206)
N, D = 4, 3  # the sizes bound to n and d in every case
SIZES = {"n": N, "d": D}

x_n = var("x", ("n",))
y_n = var("y", ("n",))
A_nd = var("A", ("n", "d"))
B_dn = var("B", ("d", "n"))
S_nn = var("S", ("n", "n"))
c = var("c")
col = var("col", ("n", 1))


@dataclass(frozen=True)
class Case:
    """An array expression of the variables wrt, the op it exercises, and its expected shape."""

    id: str
    build: Callable[[], Node]
    wrt: tuple[Node, ...]
    shape: tuple
    op: str


# fmt: off
CASES = (
    Case("sum_all",       lambda: arrays.reduce_sum(A_nd),                  (A_nd,), (), "sum"),
    Case("sum_axis0",     lambda: arrays.reduce_sum(A_nd, 0),               (A_nd,), ("d",), "sum"),
    Case("sum_axis1",     lambda: arrays.reduce_sum(A_nd, -1),              (A_nd,), ("n",), "sum"),
    Case("sum_keepdims",  lambda: arrays.reduce_sum(A_nd, 1, keepdims=True), (A_nd,), ("n", 1), "sum"),
    Case("mean_axis1",    lambda: arrays.mean(A_nd, 1),                     (A_nd,), ("n",), "sum"),
    Case("broadcast",     lambda: arrays.broadcast_to(col, ("n", "d")),     (col,), ("n", "d"), "broadcast_to"),
    Case("expand",        lambda: arrays.expand_dims(x_n, (1,)),            (x_n,), ("n", 1), "expand_dims"),
    Case("transpose",     lambda: arrays.transpose(A_nd),                   (A_nd,), ("d", "n"), "transpose"),
    Case("mat_mat",       lambda: arrays.matmul(A_nd, B_dn),                (A_nd, B_dn), ("n", "n"), "matmul"),
    Case("mat_vec",       lambda: arrays.matmul(S_nn, x_n),                 (S_nn, x_n), ("n",), "matmul"),
    Case("vec_mat",       lambda: arrays.matmul(x_n, A_nd),                 (x_n, A_nd), ("d",), "matmul"),
    Case("vec_vec",       lambda: arrays.dot(x_n, y_n),                     (x_n, y_n), (), "matmul"),
    Case("outer",         lambda: arrays.outer(x_n, y_n),                   (x_n, y_n), ("n", "n"), "outer"),
    Case("slice_tail",    lambda: arrays.index(x_n, (slice(1, None),)),     (x_n,), ("n-1",), "slice"),
    Case("slice_head",    lambda: arrays.index(x_n, (slice(None, -1),)),    (x_n,), ("n-1",), "slice"),
    Case("index_first",   lambda: arrays.index(x_n, (0,)),                  (x_n,), (), "slice"),
    Case("index_last",    lambda: arrays.index(x_n, (-1,)),                 (x_n,), (), "slice"),
    Case("column",        lambda: arrays.index(A_nd, (slice(None), 0)),     (A_nd,), ("n",), "slice"),
    Case("block",         lambda: arrays.index(A_nd, (slice(1, None), slice(None, -1))), (A_nd,), ("n-1", "d-1"), "slice"),
    Case("diag",          lambda: arrays.diag(x_n),                         (x_n,), ("n", "n"), "diag"),
    Case("diagonal",      lambda: arrays.diag(S_nn),                        (S_nn,), ("n",), "diagonal"),
    Case("trace",         lambda: arrays.trace(S_nn),                       (S_nn,), (), "diagonal"),
    Case("logsumexp",     lambda: arrays.logsumexp(A_nd),                   (A_nd,), (), "logsumexp"),
    Case("logsumexp_ax",  lambda: arrays.logsumexp(A_nd, 0),                (A_nd,), ("d",), "logsumexp"),
    Case("softmax",       lambda: arrays.softmax(A_nd, 1),                  (A_nd,), ("n", "d"), "softmax"),
    Case("log_softmax",   lambda: arrays.log_softmax(A_nd, 0),              (A_nd,), ("n", "d"), "logsumexp"),
    Case("norm",          lambda: arrays.norm(A_nd),                        (A_nd,), (), "sum"),
    Case("scalar_bcast",  lambda: mul(c, call("sin", x_n)),                 (c, x_n), ("n",), "sum"),
    Case("column_bcast",  lambda: mul(col, A_nd),                           (col, A_nd), ("n", "d"), "broadcast_to"),
    Case("inv",           lambda: arrays.inv(_well(S_nn)),                  (S_nn,), ("n", "n"), "inv"),
    Case("det",           lambda: arrays.det(_well(S_nn)),                  (S_nn,), (), "det"),
    Case("logdet",        lambda: arrays.logdet(_well(S_nn)),               (S_nn,), (), "logdet"),
    Case("solve_vec",     lambda: arrays.solve(_well(S_nn), x_n),           (S_nn, x_n), ("n",), "solve"),
    Case("solve_mat",     lambda: arrays.solve(_well(S_nn), A_nd),          (S_nn, A_nd), ("n", "d"), "solve"),
    Case("quad_solve",    lambda: arrays.dot(x_n, arrays.solve(_well(S_nn), x_n)), (S_nn, x_n), (), "solve"),
    Case("tensordot",     lambda: arrays.tensordot(A_nd, B_dn, (1,), (0,)),  (A_nd, B_dn), ("n", "n"), "tensordot"),
    Case("tensordot_t",   lambda: arrays.tensordot(A_nd, S_nn, (0,), (1,)),  (A_nd, S_nn), ("d", "n"), "tensordot"),
    Case("tensordot_2",   lambda: arrays.tensordot(A_nd, arrays.transpose(B_dn), (0, 1), (0, 1)), (A_nd, B_dn), (), "tensordot"),
    Case("banded",        lambda: banded({0: x_n, 1: arrays.index(y_n, (slice(1, None),)), -1: arrays.index(x_n, (slice(None, -1),))}), (x_n, y_n), ("n", "n"), "banded"),
    Case("band_times",    lambda: build_band_times(), (x_n, y_n, c), ("n",), "band_times"),
    Case("pad_of_slice",  lambda: arrays.reduce_sum(mul(arrays.index(x_n, (slice(1, None),)), arrays.index(x_n, (slice(None, -1),)))), (x_n,), (), "pad"),
)
# fmt: on

ARRAY_OPS = {op for op, spec in OPS.items() if spec.kind == "array"}


def build_band_times() -> Node:
    """x's entries times a main, an upper and a lower band of values made from y."""
    head, tail = arrays.index(y_n, (slice(None, -1),)), arrays.index(
        y_n, (slice(1, None),)
    )
    places = ((0, 0, "n"), (0, 1, "n-1"), (1, 0, "n-1"), (1, 1, "n-1"))
    values = (call("sin", y_n), head, mul(tail, tail), c)
    return make("band_times", (x_n, *values), (places,))


def _pad(v: Node, widths: tuple) -> Node:
    """v zero-padded by (before, after)."""
    return make("pad", (v,), ((widths,),))


def _well(m: Node) -> Node:
    """m + 4 I: a matrix of the random cases that is safely invertible."""
    return simplify.add(m, mul(num(4.0), arrays.eye(arrays.size_node("n"))))


def _values(wrt: tuple[Node, ...]) -> dict[str, np.ndarray]:
    return {v.name: RNG.normal(size=_numeric(v.shape)) for v in wrt}


def _numeric(shape: tuple) -> tuple[int, ...]:
    return tuple(size_of(d, SIZES) for d in shape)


def evaluate(roots, env):
    """The graph evaluator with the cases' sizes bound."""
    return _evaluate(roots, env, SIZES)


def _fd_directional(f: Callable[[dict], np.ndarray], env: dict, t: dict, h=1e-6):
    plus = {k: v + h * t.get(k, 0) for k, v in env.items()}
    minus = {k: v - h * t.get(k, 0) for k, v in env.items()}
    return (f(plus) - f(minus)) / (2 * h)


def test_every_array_op_has_a_case_and_both_rows() -> None:
    assert ARRAY_OPS <= {case.op for case in CASES} | {"dim"}
    for op in ARRAY_OPS:
        assert op in RULES, op
        assert op in JVP_RULES, op
    assert ELEMENTWISE.isdisjoint(ARRAY_OPS)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_shape(case: Case) -> None:
    assert case.build().shape == case.shape


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_value_matches_numpy_shape(case: Case) -> None:
    env = _values(case.wrt)
    (value,) = evaluate([case.build()], env)
    assert np.shape(value) == _numeric(case.shape)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_reverse_rows_match_central_differences(case: Case) -> None:
    # grad of <w, f(x)> with a random weight w is J^T w; its dot with a random t is
    # w . (J t), which central differences of f along t give independently.
    out = case.build()
    w = var("w_out", out.shape)
    env = _values(case.wrt + (w,))
    loss = arrays.inner(w, out) if out.shape else mul(w, out)
    gradient = diff.grad(loss, case.wrt)
    t = {v.name: RNG.normal(size=np.shape(env[v.name])) for v in case.wrt}
    values = evaluate(
        [arrays.full(g, v.shape) for g, v in zip(gradient, case.wrt)], env
    )
    for g_val, v in zip(values, case.wrt):
        assert np.shape(g_val) == np.shape(env[v.name])
    symbolic = sum(np.sum(g * t[v.name]) for g, v in zip(values, case.wrt))
    f = lambda e: np.sum(e["w_out"] * evaluate([out], e)[0])  # noqa: E731
    numeric = _fd_directional(f, env, t)
    assert symbolic == pytest.approx(numeric, rel=1e-7, abs=1e-8)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_forward_rows_match_central_differences(case: Case) -> None:
    out = case.build()
    env = _values(case.wrt)
    tangents = [var("t_" + v.name, v.shape) for v in case.wrt]
    t = {v.name: RNG.normal(size=np.shape(env[v.name])) for v in case.wrt}
    env_t = {**env, **{"t_" + k: val for k, val in t.items()}}
    (tangent,) = diff.jvp([out], case.wrt, tangents)
    (symbolic,) = evaluate([arrays.full(tangent, out.shape)], env_t)
    numeric = _fd_directional(lambda e: evaluate([out], e)[0], env, t)
    np.testing.assert_allclose(symbolic, numeric, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.shape == ()], ids=lambda c: c.id
)
def test_hvp_matches_differences_of_the_gradient(case: Case) -> None:
    out = case.build()
    env = _values(case.wrt)
    vectors = [var("v_" + v.name, v.shape) for v in case.wrt]
    t = {v.name: RNG.normal(size=np.shape(env[v.name])) for v in case.wrt}
    env_v = {**env, **{"v_" + k: val for k, val in t.items()}}
    gradient = [
        arrays.full(g, v.shape) for g, v in zip(diff.grad(out, case.wrt), case.wrt)
    ]
    hv = diff.hvp(out, case.wrt, vectors)
    symbolic = evaluate([arrays.full(h, v.shape) for h, v in zip(hv, case.wrt)], env_v)
    for k, (g, v) in enumerate(zip(gradient, case.wrt)):
        numeric = _fd_directional(lambda e: evaluate([g], e)[0], env, t, h=1e-5)
        np.testing.assert_allclose(symbolic[k], numeric, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- closed forms


def test_logistic_gradient_is_the_closed_form() -> None:
    w, b, X, y = var("w", ("d",)), var("b"), var("X", ("n", "d")), var("y", ("n",))
    z = simplify.add(arrays.matmul(X, w), b)
    loss = arrays.mean(sub(call("softplus", z), mul(y, z)))
    dw, db = diff.grad(loss, [w, b])
    env = _values((w, b, X, y))
    p = 1 / (1 + np.exp(-(env["X"] @ env["w"] + env["b"])))
    got_w, got_b = evaluate([dw, db], env)
    np.testing.assert_allclose(got_w, env["X"].T @ (p - env["y"]) / N, rtol=1e-12)
    np.testing.assert_allclose(got_b, np.mean(p - env["y"]), rtol=1e-12)
    assert dw.shape == ("d",)


def test_matmul_gradient_counts_products() -> None:
    # d/dA sum(A @ B) builds one product per operand, never one per entry
    loss = arrays.reduce_sum(arrays.matmul(A_nd, B_dn))
    roots = diff.grad(loss, [A_nd, B_dn])
    from symgrad.graph import toposort

    assert sum(n.op == "matmul" for n in toposort(roots)) <= 2


def test_stable_logsumexp_at_large_values() -> None:
    (value,) = evaluate(
        [arrays.logsumexp(x_n)], {"x": np.array([1000.0, 1000.0, 0, 0])}
    )
    assert value == pytest.approx(1000 + np.log(2), rel=1e-15)
    (g,) = diff.grad(arrays.logsumexp(x_n), [x_n])
    (gv,) = evaluate([g], {"x": np.array([1000.0, 1000.0, -np.inf, 0])})
    np.testing.assert_allclose(gv, [0.5, 0.5, 0, 0], atol=1e-300)


# ---------------------------------------------------------------- shape errors


@pytest.mark.parametrize(
    "make_it, message",
    [
        (lambda: arrays.matmul(A_nd, A_nd), r"inner sizes differ \(d vs n\)"),
        (lambda: simplify.add(x_n, var("z", ("d",))), r"\(n vs d\)"),
        (lambda: arrays.reduce_sum(A_nd, 2), "axis 2 is out of range"),
        (lambda: arrays.index(c, (0,)), "scalar cannot be subscripted"),
        (lambda: arrays.index(var("f", (3,)), (5,)), "index 5 is out of range"),
        (lambda: arrays.index(var("f", (3,)), (slice(2, 1),)), "is empty"),
        (lambda: arrays.index(x_n, (0, 0)), "too many indices"),
        (lambda: arrays.outer(A_nd, x_n), "outer needs two vectors"),
        (lambda: arrays.trace(A_nd), "square matrix"),
    ],
)
def test_shape_errors_name_the_sizes(make_it, message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        make_it()


# ---------------------------------------------------------------- simplifier rules

# fmt: off
RULE_CASES = (
    ("broadcast_same",     lambda: make("broadcast_to", (x_n,), (("n",),)), lambda: x_n),
    ("broadcast_twice",    lambda: make("broadcast_to", (make("broadcast_to", (c,), (("n",),)),), ((2, "n"),)), lambda: make("broadcast_to", (c,), ((2, "n"),))),
    ("transpose_identity", lambda: make("transpose", (A_nd,), ((0, 1),)), lambda: A_nd),
    ("transpose_twice",    lambda: make("transpose", (make("transpose", (A_nd,), ((1, 0),)),), ((1, 0),)), lambda: A_nd),
    ("sum_no_axes",        lambda: make("sum", (A_nd,), ((), False)), lambda: A_nd),
    ("sum_scaled",         lambda: make("sum", (make("mul", (c, x_n)),), ((0,), False)), lambda: mul(c, arrays.reduce_sum(x_n))),
    ("expand_no_axes",     lambda: make("expand_dims", (x_n,), ((),)), lambda: x_n),
    ("matmul_identity",    lambda: make("matmul", (A_nd, make("eye", (), ("d",)))), lambda: A_nd),
    ("matmul_identity",    lambda: make("matmul", (make("eye", (), ("n",)), x_n)), lambda: x_n),
    ("matmul_scaled",      lambda: make("matmul", (make("mul", (c, A_nd)), B_dn)), lambda: mul(c, arrays.matmul(A_nd, B_dn))),
    ("mul_divide_smaller", lambda: make("mul", (make("div", (A_nd, c)), col)), lambda: mul(A_nd, simplify.div(col, c))),
    ("transpose_eye",      lambda: make("transpose", (make("eye", (), ("n",)),), ((1, 0),)), lambda: make("eye", (), ("n",))),
    ("add_transpose_last", lambda: make("add", (make("transpose", (S_nn,), ((1, 0),)), S_nn)), lambda: make("add", (S_nn, make("transpose", (S_nn,), ((1, 0),))))),
    ("add_pads",           lambda: make("add", (_pad(x_n, (0, 1)), _pad(call("exp", x_n), (0, 1)))), lambda: _pad(simplify.add(x_n, call("exp", x_n)), (0, 1))),
    ("add_pads",           lambda: make("add", (make("add", (_pad(call("exp", x_n), (1, 0)), _pad(x_n, (0, 1)))), _pad(call("sin", x_n), (0, 1)))), lambda: simplify.add(_pad(call("exp", x_n), (1, 0)), _pad(simplify.add(x_n, call("sin", x_n)), (0, 1)))),
    ("add_stretched",      lambda: make("add", (x_n, make("broadcast_to", (c,), (("n",),)))), lambda: simplify.add(x_n, c)),
    ("sub_stretched",      lambda: make("sub", (make("broadcast_to", (c,), (("n",),)), x_n)), lambda: simplify.sub(c, x_n)),
    ("mul_stretched",      lambda: make("mul", (x_n, make("broadcast_to", (c,), (("n",),)))), lambda: mul(x_n, c)),
)
# fmt: on


def test_every_array_rule_has_a_case() -> None:
    names = {n for op, t in simplify.RULES.items() if op in ARRAY_OPS for n, _ in t}
    assert names | ARRAY_ONLY_RULES == {case[0] for case in RULE_CASES}


@pytest.mark.parametrize("rule, raw, expected", RULE_CASES, ids=lambda c: str(c))
def test_array_rule(rule: str, raw, expected) -> None:
    with recording() as fired:
        (out,) = simplify.simplify([raw()])
    assert rule in fired
    assert out is expected()
    env = {
        "A": RNG.normal(size=(N, D)),
        "B": RNG.normal(size=(D, N)),
        "x": RNG.normal(size=N),
    }
    env.update(c=0.7, col=RNG.normal(size=(N, 1)), S=RNG.normal(size=(N, N)))
    used = {v.name for v in variables([raw()])}
    env = {k: v for k, v in env.items() if k in used}
    np.testing.assert_allclose(*evaluate([out, raw()], env), rtol=1e-13)


def test_a_rule_never_changes_a_shape() -> None:
    # x - x is 0, but an array of zeros: the simplifier keeps the node's shape
    zero = sub(x_n, x_n)
    assert zero.shape == ("n",)
    (value,) = evaluate([zero], {"x": np.ones(N)})
    np.testing.assert_array_equal(value, np.zeros(N))
    assert mul(A_nd, num(0.0)).shape == ("n", "d")


def test_a_broadcast_scalar_collects_one_adjoint_per_entry() -> None:
    # d/dc sum(x + c) = n: the adjoint of the sum is one scalar for every entry, and
    # c, broadcast to every entry, collects it n times (not once)
    (dc,) = diff.grad(arrays.reduce_sum(simplify.add(x_n, c)), [c])
    assert evaluate([dc], {"x": np.zeros(N), "c": 0.0}) == [N]
    (dcol,) = diff.grad(arrays.reduce_sum(arrays.broadcast_to(col, ("n", "d"))), [col])
    (value,) = evaluate([arrays.full(dcol, col.shape)], {"col": np.zeros((N, 1))})
    np.testing.assert_array_equal(value, np.full((N, 1), D))


def test_a_where_of_two_constants_keeps_the_inputs_dtype(compile_cli) -> None:
    # d/dx where(x > 1, x, 2 x) is where(x > 1, 1, 2): spelled with the inputs' dtype
    module = compile_cli("f(x[n]) = sum(where(x > 1, x, 2*x))\n")
    x = np.array([0.5, 3.0], dtype=np.float32)
    (dx,) = module.f_grad(x)
    assert dx.dtype == np.float32 and dx.tolist() == [2.0, 1.0]
    (dx,) = module.f_grad(np.array([0.5, 3.0]))
    assert dx.dtype == np.float64 and dx.tolist() == [2.0, 1.0]


def test_a_window_is_the_slice_of_its_length_counted_from_either_end() -> None:
    x = RNG.normal(size=N)
    tail, middle = evaluate(
        [arrays.window(x_n, 1, "n-1"), arrays.window(x_n, 1, "n-2")], {"x": x}
    )
    np.testing.assert_array_equal(tail, x[1:])
    np.testing.assert_array_equal(middle, x[1:-1])
    with pytest.raises(ShapeError, match="no window"):
        arrays.window(x_n, 2, "n")  # would run past the end
