"""Tests for symgrad.simplify: every named rule, soundness, stability rewrites and the driver."""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import mpmath
import numpy as np
import pytest

from symgrad import simplify
from symgrad.ops import ELEMENTWISE
from symgrad.evaluate import NUMPY_IMPL, evaluate
from symgrad.graph import Node, const, make, toposort, var
from symgrad.simplify import add, call, div, mul, neg, num, power, recording, sub
from tests.conftest import ARRAY_ONLY_RULES

X, Y, U = var("x"), var("y"), var("u")
C = const


def M(op: str, *args: Node) -> Node:
    """A raw node, built without any rule."""
    return make(op, args)


COND = M("gt", X, C(0.0))
REAL = {"x": np.array([-2.5, -0.7, 0.3, 1.9]), "y": np.array([0.6, -1.3, 2.2, -0.4])}
POS = {"x": np.array([0.2, 0.9, 1.7, 3.1]), "y": np.array([0.4, 1.1, 2.6, 0.8])}
UNIT = {"x": np.array([-0.9, -0.3, 0.2, 0.8]), "y": np.array([0.5, -0.6, 0.1, 0.7])}


class RuleCase(NamedTuple):
    rule: str
    raw: Node
    expected: Node
    env: Mapping[str, np.ndarray]


# fmt: off
CASES: tuple[RuleCase, ...] = (
    RuleCase("fold",             M("mul", C(2.0), M("add", C(1.5), C(2.0))), C(7.0), REAL),
    RuleCase("add_zero",         M("add", X, C(0.0)), X, REAL),
    RuleCase("add_zero",         M("add", C(0.0), M("sin", X)), M("sin", X), REAL),
    RuleCase("add_const_last",   M("add", C(2.0), X), M("add", X, C(2.0)), REAL),
    RuleCase("add_const_assoc",  M("add", M("add", X, C(1.5)), C(2.0)), M("add", X, C(3.5)), REAL),
    RuleCase("add_const_out",    M("add", M("add", M("sin", X), C(200.0)), M("mul", C(3.0), Y)), M("add", M("add", M("sin", X), M("mul", C(3.0), Y)), C(200.0)), REAL),
    RuleCase("add_const_out",    M("add", M("add", M("add", X, C(200.0)), Y), C(2.0)), M("add", M("add", X, Y), C(202.0)), REAL),
    RuleCase("sub_const_out",    M("sub", M("add", X, C(2.0)), M("sin", Y)), M("add", M("sub", X, M("sin", Y)), C(2.0)), REAL),
    RuleCase("add_negative_scaled", M("add", X, M("mul", C(-3.0), Y)), M("sub", X, M("mul", C(3.0), Y)), REAL),
    RuleCase("add_negative_scaled", M("add", X, M("mul", C(-2.0), X)), M("neg", X), REAL),
    RuleCase("add_neg",          M("add", X, M("neg", Y)), M("sub", X, Y), REAL),
    RuleCase("add_neg",          M("add", M("neg", X), Y), M("sub", Y, X), REAL),
    RuleCase("add_like_terms",   M("add", X, X), M("mul", C(2.0), X), REAL),
    RuleCase("add_like_terms",   M("add", M("mul", C(3.0), X), M("mul", C(4.0), X)), M("mul", C(7.0), X), REAL),
    RuleCase("add_like_products", M("add", M("mul", M("mul", C(3.0), X), Y), M("mul", C(2.0), M("mul", Y, X))), M("mul", C(5.0), M("mul", X, Y)), REAL),
    RuleCase("add_like_products", M("add", M("mul", X, Y), M("mul", M("mul", C(2.0), Y), X)), M("mul", C(3.0), M("mul", X, Y)), REAL),
    RuleCase("add_expm1",        M("add", M("exp", X), C(-1.0)), M("expm1", X), REAL),
    RuleCase("add_expm1",        M("add", C(-1.0), M("exp", X)), M("expm1", X), REAL),
    RuleCase("add_where_zero",   M("add", M("where", COND, X, C(0.0)), M("where", COND, Y, C(0.0))),
             M("where", COND, M("add", X, Y), C(0.0)), REAL),
    RuleCase("add_where_zero",   M("add", M("where", COND, X, C(0.0)), M("where", COND, C(0.0), Y)),
             M("where", COND, X, Y), REAL),
    RuleCase("add_common_factor", M("add", M("mul", X, M("sin", Y)), M("mul", Y, M("sin", Y))), M("mul", M("add", X, Y), M("sin", Y)), REAL),
    RuleCase("sub_common_factor", M("sub", M("mul", M("exp", X), Y), M("mul", M("exp", X), M("cos", X))), M("mul", M("exp", X), M("sub", Y, M("cos", X))), REAL),
    RuleCase("sub_common_factor", M("sub", M("mul", C(2.0), Y), M("mul", Y, M("sin", X))), M("mul", M("sub", C(2.0), M("sin", X)), Y), REAL),
    RuleCase("sub_common_factor", M("sub", M("mul", M("sin", X), M("mul", M("exp", X), Y)), M("mul", M("cos", X), M("mul", Y, M("exp", X)))), M("mul", M("sub", M("sin", X), M("cos", X)), M("mul", M("exp", X), Y)), REAL),
    RuleCase("add_distribute_like", M("add", M("mul", C(-400.0), M("sub", Y, X)), M("mul", C(800.0), X)), M("add", M("mul", C(-400.0), Y), M("mul", C(1200.0), X)), REAL),
    RuleCase("add_distribute_like", M("add", M("mul", C(3.0), X), M("add", X, M("sin", Y))), M("add", M("mul", C(4.0), X), M("sin", Y)), REAL),
    RuleCase("sub_distribute_like", M("sub", M("mul", C(2.0), M("add", X, Y)), M("mul", C(5.0), Y)), M("sub", M("mul", C(2.0), X), M("mul", C(3.0), Y)), REAL),
    RuleCase("sub_zero",         M("sub", X, C(0.0)), X, REAL),
    RuleCase("sub_zero",         M("sub", C(0.0), X), M("neg", X), REAL),
    RuleCase("sub_self",         M("sub", M("sin", X), M("sin", X)), C(0.0), REAL),
    RuleCase("sub_neg",          M("sub", X, M("neg", Y)), M("add", X, Y), REAL),
    RuleCase("sub_const",        M("sub", M("add", X, C(3.0)), C(1.0)), M("add", X, C(2.0)), REAL),
    RuleCase("sub_like_terms",   M("sub", M("mul", C(3.0), X), X), M("mul", C(2.0), X), REAL),
    RuleCase("sub_like_products", M("sub", M("mul", M("mul", C(2.0), X), Y), M("mul", Y, X)), M("mul", X, Y), REAL),
    RuleCase("sub_like_products", M("sub", M("mul", M("mul", C(2.0), X), Y), M("mul", M("mul", C(3.0), Y), X)), M("neg", M("mul", X, Y)), REAL),
    RuleCase("add_sub_cancel",   M("add", M("sub", M("sin", X), Y), Y), M("sin", X), REAL),
    RuleCase("add_sub_cancel",   M("add", Y, M("sub", M("sin", X), Y)), M("sin", X), REAL),
    RuleCase("sigmoid_complement", M("sub", M("mul", M("sub", C(1.0), Y), M("sigmoid", X)), M("mul", Y, M("sigmoid", M("neg", X)))), M("sub", M("sigmoid", X), Y), REAL),
    RuleCase("mul_like_factor",  M("mul", M("mul", X, M("sin", Y)), X), M("mul", M("pow", X, C(2.0)), M("sin", Y)), REAL),
    RuleCase("mul_like_factor",  M("mul", X, M("mul", M("sin", Y), X)), M("mul", M("pow", X, C(2.0)), M("sin", Y)), REAL),
    RuleCase("sub_common_divisor", M("sub", M("div", M("sin", X), Y), M("div", X, Y)), M("div", M("sub", M("sin", X), X), Y), POS),
    RuleCase("add_common_divisor", M("add", M("div", M("sin", X), Y), M("div", X, Y)), M("div", M("add", M("sin", X), X), Y), POS),
    RuleCase("expm1",            M("sub", M("exp", X), C(1.0)), M("expm1", X), REAL),
    RuleCase("one_minus_exp",    M("sub", C(1.0), M("exp", X)), M("neg", M("expm1", X)), REAL),
    RuleCase("one_minus_sigmoid", M("sub", C(1.0), M("sigmoid", X)), M("sigmoid", M("neg", X)), REAL),
    RuleCase("sub_where_zero",   M("sub", M("where", COND, X, C(0.0)), M("where", COND, Y, C(0.0))),
             M("where", COND, M("sub", X, Y), C(0.0)), REAL),
    RuleCase("sub_where_zero",   M("sub", M("where", COND, X, C(0.0)), M("where", COND, C(0.0), Y)),
             M("where", COND, X, M("neg", Y)), REAL),
    RuleCase("mul_zero",         M("mul", M("sin", X), C(0.0)), C(0.0), REAL),
    RuleCase("mul_one",          M("mul", C(1.0), X), X, REAL),
    RuleCase("mul_one",          M("mul", M("sin", X), C(1.0)), M("sin", X), REAL),
    RuleCase("mul_const_first",  M("mul", X, C(3.0)), M("mul", C(3.0), X), REAL),
    RuleCase("mul_minus_one",    M("mul", C(-1.0), X), M("neg", X), REAL),
    RuleCase("mul_const_assoc",  M("mul", C(2.0), M("mul", C(3.0), X)), M("mul", C(6.0), X), REAL),
    RuleCase("mul_const_left",   M("mul", Y, M("mul", C(3.0), X)), M("mul", M("mul", C(3.0), Y), X), REAL),
    RuleCase("mul_neg",          M("mul", M("neg", X), Y), M("neg", M("mul", X, Y)), REAL),
    RuleCase("mul_neg",          M("mul", X, M("neg", Y)), M("neg", M("mul", X, Y)), REAL),
    RuleCase("mul_same",         M("mul", M("sin", X), M("sin", X)), M("pow", M("sin", X), C(2.0)), REAL),
    RuleCase("mul_powers",       M("mul", M("pow", X, C(2.0)), M("pow", X, C(3.0))), M("pow", X, C(5.0)), REAL),
    RuleCase("mul_powers",       M("mul", X, M("pow", X, C(2.0))), M("pow", X, C(3.0)), REAL),
    RuleCase("mul_reciprocal",   M("mul", X, M("div", C(1.0), Y)), M("div", X, Y), REAL),
    RuleCase("mul_reciprocal",   M("mul", M("div", C(1.0), Y), X), M("div", X, Y), REAL),
    RuleCase("mul_where_zero",   M("mul", M("where", COND, X, C(0.0)), M("sin", Y)),
             M("where", COND, M("mul", X, M("sin", Y)), C(0.0)), REAL),
    RuleCase("mul_where_zero",   M("mul", M("sin", Y), M("where", COND, C(0.0), X)),
             M("where", COND, C(0.0), M("mul", M("sin", Y), X)), REAL),
    RuleCase("div_one",          M("div", X, C(1.0)), X, REAL),
    RuleCase("div_zero",         M("div", C(0.0), X), C(0.0), REAL),
    RuleCase("div_neg",          M("div", M("neg", X), Y), M("neg", M("div", X, Y)), REAL),
    RuleCase("div_neg",          M("div", X, M("neg", Y)), M("neg", M("div", X, Y)), REAL),
    RuleCase("sigmoid",          M("div", C(1.0), M("add", C(1.0), M("exp", M("neg", X)))), M("sigmoid", X), REAL),
    RuleCase("sigmoid",          M("div", C(1.0), M("add", M("exp", X), C(1.0))), M("sigmoid", M("neg", X)), REAL),
    RuleCase("div_exp",          M("div", C(1.0), M("exp", X)), M("exp", M("neg", X)), REAL),
    RuleCase("div_exp",          M("div", Y, M("exp", M("neg", X))), M("mul", Y, M("exp", X)), REAL),
    RuleCase("div_where_zero",   M("div", M("where", COND, X, C(0.0)), Y),
             M("where", COND, M("div", X, Y), C(0.0)), REAL),
    RuleCase("neg_neg",          M("neg", M("neg", X)), X, REAL),
    RuleCase("neg_sub",          M("neg", M("sub", X, Y)), M("sub", Y, X), REAL),
    RuleCase("neg_scaled",       M("neg", M("mul", C(3.0), X)), M("mul", C(-3.0), X), REAL),
    RuleCase("neg_where_zero",   M("neg", M("where", COND, X, C(0.0))), M("where", COND, M("neg", X), C(0.0)), REAL),
    RuleCase("pow_one",          M("pow", M("sin", X), C(1.0)), M("sin", X), REAL),
    RuleCase("pow_zero",         M("pow", X, C(0.0)), C(1.0), REAL),
    RuleCase("pow_base_one",     M("pow", C(1.0), X), C(1.0), REAL),
    RuleCase("pow_half",         M("pow", X, C(0.5)), M("sqrt", X), POS),
    RuleCase("pow_pow_int",      M("pow", M("pow", X, C(2.0)), C(3.0)), M("pow", X, C(6.0)), REAL),
    RuleCase("pow_pow_int",      M("pow", M("pow", X, C(3.0)), C(-1.0)), M("pow", X, C(-3.0)), REAL),
    RuleCase("sqrt_squared",     M("pow", M("sqrt", M("add", M("pow", X, C(2.0)), M("pow", Y, C(2.0)))), C(2.0)),
             M("add", M("pow", X, C(2.0)), M("pow", Y, C(2.0))), REAL),
    RuleCase("sqrt_squared",     M("pow", M("sqrt", M("exp", X)), C(2.0)), M("exp", X), REAL),
    RuleCase("sqrt_one_minus_square", M("sqrt", M("sub", C(1.0), M("pow", X, C(2.0)))),
             M("sqrt", M("mul", M("sub", C(1.0), X), M("add", X, C(1.0)))), UNIT),
    RuleCase("softplus_log",     M("softplus", M("log", X)), M("log1p", X), POS),
    RuleCase("log_exp",          M("log", M("exp", X)), X, REAL),
    RuleCase("softplus",         M("log", M("add", C(1.0), M("exp", X))), M("softplus", X), REAL),
    RuleCase("log_sigmoid",      M("log", M("sigmoid", X)), M("neg", M("softplus", M("neg", X))), REAL),
    RuleCase("log1p",            M("log", M("add", X, C(1.0))), M("log1p", X), POS),
    RuleCase("log1p",            M("log", M("add", C(1.0), M("mul", X, Y))), M("log1p", M("mul", X, Y)), POS),
    RuleCase("max_self",         M("max", M("sin", X), M("sin", X)), M("sin", X), REAL),
    RuleCase("max_relu",         M("max", X, C(0.0)), M("relu", X), REAL),
    RuleCase("max_relu",         M("max", C(0.0), X), M("relu", X), REAL),
    RuleCase("min_self",         M("min", X, X), X, REAL),
    RuleCase("min_relu",         M("min", X, C(0.0)), M("neg", M("relu", M("neg", X))), REAL),
    RuleCase("min_relu",         M("min", C(0.0), X), M("neg", M("relu", M("neg", X))), REAL),
    RuleCase("abs_abs",          M("abs", M("abs", X)), M("abs", X), REAL),
    RuleCase("abs_neg",          M("abs", M("neg", X)), M("abs", X), REAL),
    RuleCase("where_same",       M("where", COND, M("sin", Y), M("sin", Y)), M("sin", Y), REAL),
    RuleCase("where_const",      M("where", C(1.0), X, Y), X, REAL),
    RuleCase("where_const",      M("where", C(0.0), X, Y), Y, REAL),
)
# fmt: on

TESTED_RULES = {case.rule for case in CASES}
# The array ops' rules (and the elementwise ones that only fire on arrays) are
# tested, and checked complete, in tests/test_arrays.py.
ALL_RULES = {
    name
    for op, table in simplify.RULES.items()
    if op in ELEMENTWISE
    for name, _ in table
} - ARRAY_ONLY_RULES


def _value(node: Node, env: Mapping[str, np.ndarray]) -> np.ndarray:
    return np.broadcast_to(evaluate([node], env)[0], env["x"].shape)


def test_every_named_rule_has_a_test() -> None:
    assert ALL_RULES - TESTED_RULES == set()
    assert TESTED_RULES - ALL_RULES == set(), "tests for rules that no longer exist"


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_rule(case: RuleCase) -> None:
    with recording() as fired:
        (out,) = simplify.simplify([case.raw])
    assert case.rule in fired
    assert out is case.expected, out
    np.testing.assert_allclose(
        _value(out, case.env), _value(case.raw, case.env), rtol=1e-13, atol=1e-15
    )


def test_every_rule_whose_arguments_are_looked_for_is_a_rule() -> None:
    names = {name for table in simplify.RULES.values() for name, _ in table}
    assert set(simplify.LOOKS_FOR) <= names


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_a_firing_rule_finds_what_it_looks_for(case: RuleCase) -> None:
    # the raw node of each case makes its rule fire: the dispatch must try it there
    every = simplify.LOOKS_FOR_EVERY.get(case.rule)
    if every is not None and all(_seen([a]) & every for a in case.raw.args):
        assert case.rule in [name for name, _ in simplify._rules_for(case.raw)]
    wanted = simplify.LOOKS_FOR.get(case.rule)
    if wanted is not None:
        assert _seen(case.raw.args) & wanted
        if case.rule not in simplify.LOOKS_FOR_EVERY:  # fold's case nests raw sums
            assert case.rule in [name for name, _ in simplify._rules_for(case.raw)]


def _seen(args: Sequence[Node]) -> set[str]:
    """The tokens the dispatch sees of arguments; a valued constant is a const too."""
    tokens = set(simplify.dispatch_tokens(args))
    return tokens | {"const" for t in tokens if t.startswith("const")}


# Argument pool for the dispatch check: every op a rule looks for, plain leaves, and
# the shapes the rules match deeper (c*x, 1 + u, 1 - u^2, where with a zero branch).
_POOL = (
    X, Y, C(0.0), C(1.0), C(-1.0), C(2.0), C(0.5), M("neg", X), M("sin", X),
    M("exp", X), M("exp", M("neg", X)), M("sigmoid", X), M("sigmoid", M("neg", X)),
    M("mul", C(2.0), X), M("mul", C(-3.0), Y), M("mul", X, Y), M("mul", Y, X),
    M("add", X, C(1.0)), M("add", C(1.0), M("exp", X)), M("add", X, Y),
    M("sub", X, Y), M("sub", C(1.0), M("pow", X, C(2.0))), M("div", C(1.0), X),
    M("div", X, Y), M("pow", X, C(2.0)), M("pow", X, C(3.0)), M("sqrt", X),
    M("log", X), M("abs", X), M("where", COND, X, C(0.0)), M("where", COND, C(0.0), Y),
)  # fmt: skip


_BINARY = {
    "add",
    "sub",
    "mul",
    "div",
    "pow",
    "max",
    "min",
    "atan2",
    "lt",
    "le",
    "gt",
    "ge",
}
_ARRAY_OR_TERNARY = {
    "where",
    "broadcast_to",
    "transpose",
    "sum",
    "matmul",
    "expand_dims",
}


def test_a_rule_never_fires_without_what_it_looks_for() -> None:
    # Every unary and binary node over the pool: a rule whose LOOKS_FOR meets none
    # of the arguments' ops must return None (the dispatch skips it there).
    checked = 0
    for op, table in simplify.RULES.items():
        if op in _ARRAY_OR_TERNARY:
            continue  # their rules' cases are in test_arrays and CASES
        if op in _BINARY:
            nodes = [M(op, a, b) for a in _POOL for b in _POOL]
        else:
            nodes = [M(op, a) for a in _POOL]
        for node in nodes:
            seen = _seen(node.args)
            for name, rule in table:
                wanted = simplify.LOOKS_FOR.get(name)
                if wanted is not None and not wanted & seen:
                    checked += 1
                    assert rule(node) is None, (name, node)
                every = simplify.LOOKS_FOR_EVERY.get(name)
                if every is not None and not all(_seen([a]) & every for a in node.args):
                    checked += 1
                    assert rule(node) is None, (name, node)
    assert checked > 10_000


def test_the_builders_shortcuts_give_the_tables_node() -> None:
    # add, mul and neg apply the first rule that fires on most of a gradient's
    # nodes before making the node; while recording, every node goes through the
    # table, so both must give the same node, for every pair of the pool
    extra = (
        M("add", X, C(2.0)), M("add", M("sin", X), C(-1.5)), M("mul", C(3.0), M("mul", C(2.0), Y)),
        C(-0.0), C(math.nan), C(-1.5), M("mul", C(-1.0), X),
    )  # fmt: skip
    pool = simplify.simplify(list(_POOL + extra))
    checked = 0
    for builder in (add, mul):
        for a in pool:
            for b in pool:
                with recording():
                    expected = builder(a, b)
                assert builder(a, b) is expected, (builder.__name__, a, b)
                checked += 1
    for a in pool:
        with recording():
            expected = neg(a)
        assert neg(a) is expected, a
    assert checked > 2000


def test_recording_outside_a_block_collects_nothing() -> None:
    with recording() as fired:
        add(X, X)
    assert fired == ["add_like_terms"]
    with recording() as fired:
        with recording() as inner:
            mul(X, num(1.0))
        assert inner == ["mul_one"]
    assert fired == []


# ---------------------------------------------------------------- fold

# fmt: off
FOLD_REFERENCE = {
    "add": (lambda a, b: a + b, 2), "sub": (lambda a, b: a - b, 2), "mul": (lambda a, b: a * b, 2),
    "div": (lambda a, b: a / b, 2), "neg": (lambda a: -a, 1), "pow": (math.pow, 2),
    "exp": (math.exp, 1), "log": (math.log, 1), "log1p": (math.log1p, 1), "expm1": (math.expm1, 1),
    "sqrt": (math.sqrt, 1), "sin": (math.sin, 1), "cos": (math.cos, 1), "tan": (math.tan, 1),
    "asin": (math.asin, 1), "acos": (math.acos, 1), "atan": (math.atan, 1), "sinh": (math.sinh, 1),
    "cosh": (math.cosh, 1), "tanh": (math.tanh, 1), "abs": (abs, 1),
    "sign": (lambda a: math.copysign(1.0, a) if a else 0.0, 1),
    "sigmoid": (lambda a: 1 / (1 + math.exp(-a)), 1), "softplus": (lambda a: math.log1p(math.exp(a)), 1),
    "relu": (lambda a: max(a, 0.0), 1), "step": (lambda a: 1.0 if a > 0 else 0.0, 1),
    "atan2": (math.atan2, 2), "min": (min, 2), "max": (max, 2),
    "lt": (lambda a, b: float(a < b), 2), "le": (lambda a, b: float(a <= b), 2),
    "gt": (lambda a, b: float(a > b), 2), "ge": (lambda a, b: float(a >= b), 2),
}
# fmt: on
FOLDING_OPS = sorted(
    op for op, table in simplify.RULES.items() if any(n == "fold" for n, _ in table)
)


@pytest.mark.parametrize("op", FOLDING_OPS)
@pytest.mark.parametrize("args", [(0.375, 0.75), (-0.5, -0.25), (0.625, 0.625)])
def test_fold_every_op(op: str, args: tuple[float, float]) -> None:
    ref, arity = FOLD_REFERENCE[op]
    values = args[:arity]
    try:
        expected = ref(*values)
    except ValueError:  # outside the domain (e.g. log of a negative): nothing to fold
        expected = math.nan
    with recording() as fired:
        out = call(op, *map(const, values))
    assert "fold" in fired and out.op == "const"
    if math.isfinite(expected):
        assert out.value == pytest.approx(expected, rel=1e-15, abs=1e-300)
    else:  # outside the domain: folded to numpy's IEEE answer
        assert math.isnan(out.value) or math.isinf(out.value)


@pytest.mark.parametrize(
    "op, args, expected",
    [
        ("log", (0.0,), -math.inf),
        ("div", (1.0, 0.0), math.inf),
        ("sqrt", (-1.0,), math.nan),
        ("exp", (1000.0,), math.inf),
    ],
)
def test_fold_gives_ieee_values_for_non_finite_results(
    op: str, args: tuple[float, ...], expected: float
) -> None:
    # Folding keeps Python float arithmetic such as 1.0 / 0.0, which raises, out of
    # generated code: the constant is printed as np.inf or np.nan instead.
    out = call(op, *map(const, args))
    assert out.op == "const"
    assert (math.isnan(out.value) and math.isnan(expected)) or out.value == expected


# ---------------------------------------------------------------- soundness


def _at(node: Node, **env: float) -> float:
    return float(evaluate([node], env)[0])


def test_sqrt_of_square_is_not_x() -> None:
    out = call("sqrt", power(X, num(2.0)))
    assert out is M("sqrt", M("pow", X, C(2.0)))
    assert _at(out, x=-3.0) == 3.0
    half = power(power(X, num(2.0)), num(0.5))
    assert half is not X
    assert _at(half, x=-3.0) == 3.0


def test_log_of_product_is_not_split() -> None:
    assert call("log", mul(X, Y)) is M("log", M("mul", X, Y))
    assert _at(call("log", mul(X, Y)), x=-2.0, y=-3.0) == pytest.approx(math.log(6.0))


def test_half_powers_do_not_multiply_back_to_x() -> None:
    out = mul(power(X, num(0.5)), power(X, num(0.5)))
    assert out is not X
    assert out is M("pow", M("sqrt", X), C(2.0))
    assert math.isnan(_at(out, x=-4.0))


def test_negative_powers_are_not_merged() -> None:
    out = mul(power(X, num(2.0)), power(X, num(-1.0)))
    assert out is not X
    assert math.isnan(_at(out, x=0.0))


def test_quotient_by_itself_is_not_one() -> None:
    assert div(X, X) is M("div", X, X)


def test_square_of_sqrt_cancels_only_for_provably_nonnegative() -> None:
    radicand = add(power(X, num(2.0)), power(Y, num(2.0)))
    assert power(call("sqrt", radicand), num(2.0)) is radicand
    out = power(call("sqrt", X), num(2.0))
    assert out is M("pow", M("sqrt", X), C(2.0))
    assert math.isnan(_at(out, x=-4.0))
    odd = power(call("sqrt", power(X, num(3.0))), num(2.0))
    assert odd is not power(X, num(3.0))


# ---------------------------------------------------------------- stability


def _strict(node: Node, **env: float) -> float:
    """Evaluate op by op with floating-point errors raised (only underflow to 0 allowed)."""
    values: dict[Node, object] = {}
    with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
        for n in toposort([node]):
            if n.op == "const":
                values[n] = np.float64(n.value)
            elif n.op == "var":
                values[n] = np.float64(env[n.name])
            else:
                values[n] = NUMPY_IMPL[n.op](*(values[a] for a in n.args))
    return float(values[node])


def _stable(node: Node, u: float) -> float:
    with np.errstate(all="raise"):
        loose = float(evaluate([node], {"u": u})[0])
    strict = _strict(node, u=u)
    assert loose == strict
    return strict


def test_log_one_plus_exp_becomes_softplus() -> None:
    out = call("log", add(num(1.0), call("exp", U)))
    assert out is M("softplus", U)
    assert _stable(out, 1000.0) == 1000.0
    assert _stable(out, -1000.0) == pytest.approx(0.0, abs=1e-12)
    assert _stable(out, 0.0) == pytest.approx(math.log(2.0), rel=1e-15)


def test_one_over_one_plus_exp_minus_becomes_sigmoid() -> None:
    out = div(num(1.0), add(num(1.0), call("exp", neg(U))))
    assert out is M("sigmoid", U)
    assert _stable(out, 1000.0) == 1.0
    assert _stable(out, -1000.0) == 0.0
    assert _stable(out, 2.0) == pytest.approx(1 / (1 + math.exp(-2.0)), rel=1e-15)


def test_log_sigmoid_becomes_minus_softplus_of_minus() -> None:
    out = call("log", call("sigmoid", U))
    assert out is M("neg", M("softplus", M("neg", U)))
    assert _stable(out, 1000.0) == pytest.approx(0.0, abs=1e-12)
    assert _stable(out, -1000.0) == -1000.0


def test_log_one_minus_sigmoid_becomes_minus_softplus() -> None:
    out = call("log", sub(num(1.0), call("sigmoid", U)))
    assert out is M("neg", M("softplus", U))
    assert _stable(out, 1000.0) == -1000.0
    assert _stable(out, -1000.0) == pytest.approx(0.0, abs=1e-12)


def test_log_one_plus_u_becomes_log1p() -> None:
    out = call("log", add(num(1.0), U))
    assert out is M("log1p", U)
    assert _stable(out, 1e-20) == 1e-20  # log(1 + 1e-20) would give 0


def test_exp_minus_one_becomes_expm1() -> None:
    out = sub(call("exp", U), num(1.0))
    assert out is M("expm1", U)
    assert _stable(out, 1e-20) == 1e-20  # exp(1e-20) - 1 would give 0


def _mp(expression: Callable[[mpmath.mpf], mpmath.mpf], u: float) -> float:
    """expression at the float u, evaluated with 50 digits and rounded once."""
    with mpmath.workdps(50):
        return float(expression(mpmath.mpf(u)))


def test_sqrt_one_minus_square_keeps_every_digit_near_one() -> None:
    u = 1 - 1e-9  # 1 - u^2 cancels: u^2 has already rounded away 9 digits of 1 - u
    out = div(num(1.0), call("sqrt", sub(num(1.0), power(U, num(2.0)))))
    expected = _mp(lambda t: 1 / mpmath.sqrt(1 - t**2), u)
    assert expected == 22360.68009678968
    assert _stable(out, u) == expected
    raw = M("div", C(1.0), M("sqrt", M("sub", C(1.0), M("pow", U, C(2.0)))))
    assert abs(_strict(raw, u=u) / expected - 1) > 1e-11  # the raw form: 10 digits


@pytest.mark.parametrize(
    "make_raw, make_built",
    [
        (lambda: M("div", M("sub", C(1.0), M("exp", U)), U),
         lambda: div(sub(num(1.0), call("exp", U)), U)),
        (lambda: M("div", M("add", M("exp", U), C(-1.0)), U),
         lambda: div(add(num(-1.0), call("exp", U)), U)),
    ],
)  # fmt: skip
def test_one_minus_exp_in_a_quotient_keeps_every_digit(make_raw, make_built) -> None:
    u = 1e-8
    raw, built = make_raw(), make_built()
    sign = -1.0 if raw.args[0].op == "sub" else 1.0
    expected = sign * _mp(lambda t: mpmath.expm1(t) / t, u)
    assert _stable(built, u) == pytest.approx(expected, rel=1e-15)
    assert abs(_strict(raw, u=u) / expected - 1) > 1e-10  # exp(u) - 1 cancels


def test_one_over_exp_does_not_overflow() -> None:
    out = div(num(1.0), call("exp", U))
    assert out is M("exp", M("neg", U))
    assert _stable(out, 710.0) == pytest.approx(
        _mp(lambda t: mpmath.exp(-t), 710.0), rel=1e-12
    )
    with np.errstate(over="ignore"):
        assert _at(M("div", C(1.0), M("exp", U)), u=710.0) == 0.0  # 1/inf


def test_softplus_of_log_is_log1p() -> None:
    out = call("softplus", call("log", U))
    assert out is M("log1p", U)
    for u in (1e-20, 0.5, 1e300):
        assert _stable(out, u) == pytest.approx(_mp(mpmath.log1p, u), rel=1e-15)


def test_where_with_zero_branch_absorbs_the_factor() -> None:
    cond = call("gt", X, num(0.0))
    guarded = call("where", cond, call("sqrt", X), num(0.0))
    out = mul(guarded, div(num(1.0), call("sqrt", X)))
    assert out.op == "where" and out.args[0] is cond and out.args[2] is C(0.0)
    assert _at(out, x=-3.0) == 0.0
    assert _at(out, x=4.0) == 1.0
    # the raw product leaks the NaN of the untaken branch
    raw = M(
        "mul", M("where", cond, M("sqrt", X), C(0.0)), M("div", C(1.0), M("sqrt", X))
    )
    assert math.isnan(_at(raw, x=-3.0))


def test_where_absorbs_a_plain_factor() -> None:
    cond = call("gt", X, num(0.0))
    out = mul(call("where", cond, call("sqrt", X), num(0.0)), call("log", X))
    assert out is M("where", cond, M("mul", M("sqrt", X), M("log", X)), C(0.0))
    assert _at(out, x=-3.0) == 0.0


# ---------------------------------------------------------------- driver


def _raw_model() -> Node:
    return M(
        "add",
        M("log", M("add", C(1.0), M("exp", M("mul", X, Y)))),
        M("sub", M("mul", X, X), M("mul", M("pow", X, C(1.0)), C(1.0))),
    )


def _built_model() -> Node:
    return add(
        call("log", add(num(1.0), call("exp", mul(X, Y)))),
        sub(mul(X, X), mul(power(X, num(1.0)), num(1.0))),
    )


def test_simplify_of_raw_graph_is_the_built_graph() -> None:
    raw = _raw_model()
    built = _built_model()
    assert raw is not built
    assert simplify.simplify([raw]) == [built]
    assert simplify.simplify([raw])[0] is built
    assert built is M(
        "add", M("softplus", M("mul", X, Y)), M("sub", M("pow", X, C(2.0)), X)
    )
    np.testing.assert_allclose(_value(built, REAL), _value(raw, REAL), rtol=1e-13)


def test_simplify_keeps_several_roots_and_is_idempotent() -> None:
    roots: Sequence[Node] = [_raw_model(), M("add", X, X), X]
    once = simplify.simplify(roots)
    assert once == [_built_model(), M("mul", C(2.0), X), X]
    assert simplify.simplify(once) == once


def test_a_built_node_remembers_its_fixpoint(monkeypatch) -> None:
    x = var("x_memo")
    raw = make("mul", (C(1.0), x))  # held, so the interned node (and its memo) lives
    assert raw.simplified is None
    assert mul(C(1.0), x) is x
    assert raw.simplified is x
    # a second build of the same node tries no rule at all

    def fail(node):
        raise AssertionError("a rule ran on a node whose fixpoint is known")

    monkeypatch.setitem(simplify.RULES, "mul", (("fail", fail),))
    monkeypatch.setattr(simplify, "_DISPATCH", {})  # the rules tried, per arg ops
    assert mul(C(1.0), x) is x
    with recording():  # while rules are recorded nothing is skipped
        with pytest.raises(AssertionError, match="fixpoint is known"):
            mul(C(1.0), x)


SPECIAL = (0.0, -0.0, 1.0, -2.5, 1e308, -1e308, 5e-324, math.inf, -math.inf, math.nan)


@pytest.mark.parametrize(
    "op, numpy_op", [("add", np.add), ("sub", np.subtract), ("mul", np.multiply)]
)
def test_folding_is_numpys_float64_arithmetic_bit_for_bit(op: str, numpy_op) -> None:
    # fold takes a Python-float shortcut for these ops; it must agree with numpy
    # on signed zeros, overflow to inf, inf - inf and nan
    for a in SPECIAL:
        for b in SPECIAL:
            folded = simplify.build(op, (C(a), C(b)))
            with np.errstate(all="ignore"):
                expected = float(numpy_op(np.float64(a), np.float64(b)))
            assert folded.op == "const"
            got = folded.attrs[0]
            assert (math.isnan(got) and math.isnan(expected)) or (
                got == expected and math.copysign(1, got) == math.copysign(1, expected)
            ), (op, a, b, got, expected)


def test_rewritten_nodes_stay_interned_while_remembering(monkeypatch) -> None:
    import weakref

    x = var("x_remember")
    with simplify.remembering():
        assert mul(C(1.0), x) is x  # make("mul", (1, x)) was rewritten to x
        raw = weakref.ref(make("mul", (C(1.0), x)))
        gc.collect()
        assert raw() is not None and raw().simplified is x

        def fail(node):
            raise AssertionError("a rule ran on a remembered node")

        monkeypatch.setattr(simplify, "_DISPATCH", {})
        monkeypatch.setitem(simplify.RULES, "mul", (("fail", fail),))
        assert mul(C(1.0), x) is x  # a lookup, no rule tried
    monkeypatch.undo()
    gc.collect()
    assert raw() is None  # the block's end lets it go


def test_outside_remembering_a_rewritten_node_is_not_kept() -> None:
    import weakref

    x = var("x_forget")
    assert mul(C(1.0), x) is x
    raw = weakref.ref(make("mul", (C(1.0), x)))
    gc.collect()
    assert raw() is None


def test_a_dropped_graph_is_freed_by_reference_counting_alone() -> None:
    # A node at its own fixpoint must not refer to itself: a cycle waits for the
    # cyclic collector, which the compiler pauses, and the intern table's keys
    # hold each node's arguments, so a chain would take one collection per link.
    import weakref

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        x = var("x_dropped")
        total = x
        for k in range(200):
            total = add(mul(total, x), C(float(k) + 0.5))
        deepest = weakref.ref(mul(x, x))
        root = weakref.ref(total)
        assert root().simplified is simplify.AT_FIXPOINT
        del total
        assert root() is None and deepest() is None
    finally:
        if was_enabled:
            gc.enable()


A, B, D = var("a_order"), var("b_order"), var("d_order")


@pytest.mark.parametrize(
    "build_it",
    [
        lambda: sub(mul(mul(A, B), D), mul(mul(D, B), A)),  # a b d - d b a
        lambda: sub(add(A, B), add(B, A)),  # a + b - (b + a)
        lambda: sub(call("sin", mul(A, B)), call("sin", mul(B, A))),
    ],
)
def test_terms_equal_up_to_order_cancel(build_it) -> None:
    assert build_it() is num(0.0)


def test_like_terms_equal_up_to_order_are_collected() -> None:
    # (a + b) d + d (b + a) = 2 (a + b) d: one product of a constant and a term
    node = add(mul(add(A, B), D), mul(D, add(B, A)))
    assert node.op == "mul" and node.args[0] is num(2.0)
    for a, b, d in [(1.5, -2.0, 3.0), (0.25, 4.0, -1.0)]:
        got = float(evaluate([node], {"a_order": a, "b_order": b, "d_order": d})[0])
        assert got == pytest.approx(2 * (a + b) * d, rel=1e-15)


def test_products_with_a_coefficient_inside_the_chain_are_collected() -> None:
    # a b d + 2 d a b = 3 a b d: 2 d a b is ((2 d) a) b, its 2 is not on top
    node = add(mul(mul(A, B), D), mul(mul(mul(num(2.0), D), A), B))
    assert node.op == "mul" and node.args[0] is num(3.0)
    assert sub(mul(mul(num(3.0), A), B), mul(mul(num(3.0), B), A)) is num(0.0)
    for a, b, d in [(1.5, -2.0, 3.0), (0.25, 4.0, -1.0)]:
        got = float(evaluate([node], {"a_order": a, "b_order": b, "d_order": d})[0])
        assert got == pytest.approx(3 * a * b * d, rel=1e-15)


def test_products_longer_than_the_limit_are_not_compared() -> None:
    # the bound that keeps a sum of n long products from n^2 operand walks
    factors = [var(f"f{i}") for i in range(simplify.MAX_LIKE_FACTORS + 1)]
    left, right = num(2.0), num(3.0)
    for f, g in zip(factors, reversed(factors)):
        left, right = mul(left, f), mul(right, g)
    total = add(left, right)
    assert total.op == "add"
    env = {f"f{i}": 1.0 + i / 10 for i in range(len(factors))}
    expected = 5 * math.prod(env.values())
    assert float(evaluate([total], env)[0]) == pytest.approx(expected, rel=1e-14)


def test_a_like_term_further_back_in_a_sum_is_collected() -> None:
    # (2 x + y) + 3 x = 5 x + y: the merged term keeps its place
    two_x_y = add(mul(num(2.0), X), Y)
    assert simplify.collect_like_in_sum(add(two_x_y, mul(num(3.0), X))) is add(
        mul(num(5.0), X), Y
    )
    # (x y - u) - y x = -u; (x - y) + u - x = u - y
    xy, yx = mul(X, Y), make("mul", (Y, X))  # y x as another node than x y
    assert simplify.collect_like_in_sum(sub(sub(xy, U), yx)) is neg(U)
    assert simplify.collect_like_in_sum(sub(add(sub(X, Y), U), X)) is sub(U, Y)
    unlike = add(two_x_y, mul(num(3.0), U))
    assert simplify.collect_like_in_sum(unlike) is unlike


def test_sums_longer_than_the_limit_are_not_searched() -> None:
    terms = [var(f"s{i}") for i in range(simplify.MAX_LIKE_TERMS + 1)]
    total = terms[0]
    for term in terms[1:]:
        total = add(total, term)
    longer = add(total, terms[0])  # like the first term, nine terms back
    assert simplify.collect_like_in_sum(longer) is longer
    shorter = add(total.args[0], terms[1])  # eight terms: searched
    assert simplify.collect_like_in_sum(shorter) is not shorter


def test_a_factor_met_twice_up_to_order_is_squared() -> None:
    assert mul(mul(A, B), mul(B, A)) is power(mul(A, B), num(2.0))
    square = mul(mul(A, B), add(D, mul(B, A)))  # no like factor: left alone
    assert square.op == "mul" and square.args[1].op == "add"
