"""Tests for symgrad.graph: interning, immutability, toposort, substitute, shapes."""

from __future__ import annotations

import gc
import math
import os
import pickle
import subprocess
import sys
import threading
import weakref
from pathlib import Path

import pytest

from symgrad import simplify
from symgrad.errors import LimitError, ShapeError
from symgrad.graph import (
    Node,
    const,
    count_nodes,
    digest,
    is_const,
    make,
    node_budget,
    operands,
    same_up_to_order,
    substitute,
    toposort,
    var,
    variables,
)

X, Y = var("x"), var("y")
ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- interning


def test_equal_construction_returns_the_same_object() -> None:
    assert var("x") is X
    assert const(2) is const(2.0)
    assert make("add", (X, Y)) is make("add", [X, Y])
    assert make("sin", (make("mul", (X, const(3.0))),)) is make(
        "sin", (make("mul", (var("x"), const(3.0))),)
    )
    assert make("add", (X, Y)) is not make("add", (Y, X))
    assert make("sub", (X, Y)) is not make("add", (X, Y))


def test_signed_zeros_are_distinct_constants() -> None:
    pos, neg = const(0.0), const(-0.0)
    assert pos is not neg
    assert math.copysign(1.0, pos.value) == 1.0
    assert math.copysign(1.0, neg.value) == -1.0
    assert is_const(pos, 0) and is_const(neg, 0)


def test_nan_constants_intern_together() -> None:
    a = const(float("nan"))
    b = const(-float("nan"))
    c = const(math.inf - math.inf)
    assert a is b is c
    assert math.isnan(a.value)
    assert const(math.inf) is const(float("inf"))
    assert const(math.inf) is not const(-math.inf)


def test_vars_differ_by_name_and_shape() -> None:
    assert var("x", (3,)) is var("x", (3,))
    assert var("x", (3,)) is not X
    assert var("x", (3,)) is not var("x", (4,))
    assert var("x", ()) is X


def test_unused_nodes_are_not_kept_alive() -> None:
    node = make("cosh", (var("only_here"),))
    ref = weakref.ref(node)
    del node
    gc.collect()
    assert ref() is None


def test_a_dead_nodes_entry_leaves_the_table_and_the_key_interns_again() -> None:
    from symgrad import graph

    key = ("sinh", (var("table_entry"),), ())
    node = make("sinh", (var("table_entry"),))
    assert graph._TABLE[key]() is node
    del node
    gc.collect()
    assert key not in graph._TABLE  # no dead entries pile up in a long session
    again = make("sinh", (var("table_entry"),))
    assert make("sinh", (var("table_entry"),)) is again


# ---------------------------------------------------------------- immutability


@pytest.mark.parametrize("attr", ["op", "args", "attrs", "shape", "extra"])
def test_setattr_raises(attr: str) -> None:
    node = make("add", (X, Y))
    with pytest.raises(AttributeError):
        setattr(node, attr, "changed")
    assert node.op == "add" and node.args == (X, Y)


def test_delattr_raises() -> None:
    node = make("add", (var("victim"), Y))
    with pytest.raises(AttributeError):
        del node.op


def test_nodes_cannot_be_pickled() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(make("add", (X, Y)))


def test_arity_is_checked() -> None:
    with pytest.raises(ValueError):
        make("add", (X,))
    with pytest.raises(ValueError):
        make("sin", (X, Y))


# ---------------------------------------------------------------- toposort


def test_toposort_puts_arguments_before_users_in_argument_order() -> None:
    m = make("mul", (X, Y))
    s = make("sin", (X,))
    root = make("add", (m, s))
    assert toposort([root]) == [X, Y, m, s, root]
    assert toposort([s, root]) == [X, s, Y, m, root]
    assert toposort([root, root, m]) == [X, Y, m, s, root]


def _diamond(depth: int, tag: str) -> Node:
    a, b = var(f"a_{tag}"), var(f"b_{tag}")
    left, right = a, b
    for i in range(depth):
        both = make("mul", (left, right))
        left, right = make("add", (both, const(float(i)))), make("sin", (both,))
    return make("sub", (left, right))


def _signature(root: Node) -> list[str]:
    order = toposort([root])
    index = {id(n): k for k, n in enumerate(order)}
    for k, n in enumerate(order):
        assert all(index[id(a)] < k for a in n.args), "argument after its user"
    return [f"{n.op}{n.attrs}{[index[id(a)] for a in n.args]}" for n in order]


def test_toposort_is_deterministic_across_constructions() -> None:
    root = _diamond(30, "det")
    first = _signature(root)
    assert len(first) == len(set(first))  # every node exactly once
    alive = weakref.ref(root)
    del root
    gc.collect()
    assert alive() is None  # the second construction makes brand-new objects
    assert _signature(_diamond(30, "det")) == first


_SUBPROCESS = """
from symgrad.graph import var, make, toposort
from symgrad.simplify import add, mul, call, num
x, y, z = var("x"), var("y"), var("z")
f = add(mul(call("sin", mul(x, y)), z), call("exp", add(y, num(2.0))))
f = add(f, mul(call("cos", z), call("sqrt", x)))
print([repr(n) for n in toposort([f, z, x])])
"""


def test_toposort_does_not_depend_on_hash_seed() -> None:
    outputs = []
    for seed in ("1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(ROOT))
        result = subprocess.run(
            [sys.executable, "-c", _SUBPROCESS],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1] and outputs[0].startswith("[")


def test_toposort_is_iterative_on_a_200k_deep_chain() -> None:
    depth = 200_000
    node = X
    for _ in range(depth):
        node = make("sin", (node,))
    order = toposort([node])
    assert len(order) == depth + 1
    assert order[0] is X and order[-1] is node
    assert count_nodes([node]) == depth + 1
    assert variables([node]) == [X]


def test_shared_subgraphs_are_counted_once() -> None:
    shared = make("mul", (X, Y))
    root = make("add", (make("sin", (shared,)), make("cos", (shared,))))
    assert count_nodes([root]) == 6
    assert variables([root]) == [X, Y]


# ---------------------------------------------------------------- substitute


def test_substitute_is_simultaneous() -> None:
    (out,) = substitute([make("sub", (X, Y))], {X: Y, Y: X}, simplify.build)
    assert out is make("sub", (Y, X))


def test_substitute_rebuilds_through_the_builder_and_keeps_untouched_nodes() -> None:
    z = var("z")
    untouched = make("sin", (z,))
    roots = [make("add", (X, Y)), untouched]
    out = substitute(roots, {Y: X}, simplify.build)
    assert out[0] is make("mul", (const(2.0), X))  # x + x through the rules
    assert out[1] is untouched
    (raw,) = substitute([make("add", (X, Y))], {Y: X}, make)
    assert raw is make("add", (X, X))


def test_substitute_can_replace_inner_nodes() -> None:
    inner = make("mul", (X, Y))
    root = make("exp", (inner,))
    (out,) = substitute([root], {inner: var("w")}, make)
    assert out is make("exp", (var("w"),))


# ---------------------------------------------------------------- shapes


def test_shapes_default_to_scalar_and_broadcast_from_arrays() -> None:
    assert X.shape == ()
    assert const(1.5).shape == ()
    assert make("add", (X, const(1.0))).shape == ()
    w = var("w", (3,))
    assert w.shape == (3,)
    assert make("mul", (w, X)).shape == (3,)
    assert make("sin", (w,)).shape == (3,)
    assert make("add", (w, make("mul", (X, w)))).shape == (3,)
    assert make("where", (make("gt", (w, X)), X, w)).shape == (3,)
    with pytest.raises(ShapeError, match=r"shapes \[3\] and \[4\] do not broadcast"):
        make("add", (w, var("v", (4,))))
    with pytest.raises(ShapeError, match=r"\(3 vs 4\)"):
        make("where", (make("gt", (X, X)), w, var("u", (4,))))
    # numpy's rule: right-aligned, a 1 stretches, size names never unify
    column, row = var("c", ("n", 1)), var("r", ("d",))
    assert make("mul", (column, row)).shape == ("n", "d")
    with pytest.raises(ShapeError, match=r"\(n vs d\)"):
        make("add", (var("p", ("n",)), row))


def test_value_and_name_accessors() -> None:
    assert const(2.5).value == 2.5
    assert isinstance(const(2).value, float)
    assert X.name == "x"
    assert repr(make("add", (X, const(1.0)))) == "add(var('x'), const(1.0))"


# -- the node budget -------------------------------------------------------------------

_fresh_names = iter(range(10**9))


def fresh(count: int) -> list[Node]:
    """count var nodes that have never existed before (each one is a new node)."""
    return [var(f"budget_{next(_fresh_names)}") for _ in range(count)]


def test_budget_counts_new_nodes_only() -> None:
    old = fresh(5)
    with node_budget(3):
        kept = fresh(3)
        for _ in range(100):  # rebuilding existing nodes is free: they are interned
            assert var(old[0].name) is old[0] and var(kept[2].name) is kept[2]
        with pytest.raises(LimitError) as info:
            fresh(1)
    assert info.value.message == (
        "limit exceeded: the compilation needs more than 3 graph nodes"
    )
    assert info.value.span is None


def test_budget_ends_with_its_block() -> None:
    with node_budget(2):
        fresh(2)
        with pytest.raises(LimitError):
            fresh(1)
    assert len(fresh(10)) == 10


def test_nested_budget_cannot_raise_the_outer_ceiling() -> None:
    with node_budget(5, "the outer task"):
        fresh(3)
        with node_budget(100, "the inner task"):
            fresh(2)  # 5 in all: the outer budget's last two
            with pytest.raises(LimitError) as info:
                fresh(1)
    assert info.value.message == (
        "limit exceeded: the outer task needs more than 5 graph nodes"
    )


def test_nested_budget_can_lower_the_ceiling_and_restores_it() -> None:
    with node_budget(10, "the outer task"):
        with node_budget(2, "the inner task"):
            fresh(2)
            with pytest.raises(LimitError) as info:
                fresh(1)
        assert "the inner task needs more than 2 " in info.value.message
        fresh(7)  # 2 + 1 attempt + 7 = 10: the outer budget holds again
        with pytest.raises(LimitError) as info:
            fresh(1)
    assert "the outer task needs more than 10 " in info.value.message


def test_budget_default_is_max_nodes_read_at_call_time(monkeypatch) -> None:
    monkeypatch.setattr("symgrad.graph.MAX_NODES", 4)
    with node_budget():
        fresh(4)
        with pytest.raises(LimitError, match="more than 4 graph nodes"):
            fresh(1)


def test_budget_belongs_to_its_thread() -> None:
    built: list[int] = []
    with node_budget(1):
        worker = threading.Thread(target=lambda: built.append(len(fresh(50))))
        worker.start()
        worker.join()
    assert built == [50]


# ---------------------------------------------------------------- equal up to order

Z = var("z")


def _add(a: Node, b: Node) -> Node:
    return make("add", (a, b))


def _mul(a: Node, b: Node) -> Node:
    return make("mul", (a, b))


@pytest.mark.parametrize(
    "left, right",
    [
        (_mul(_mul(X, Y), Z), _mul(Z, _mul(Y, X))),  # commute and associate
        (_mul(_add(X, Y), Z), _mul(Z, _add(Y, X))),  # inside another operand
        (make("sin", (_add(X, Y),)), make("sin", (_add(Y, X),))),  # under a call
        (_add(_mul(X, X), Y), _add(Y, _mul(X, X))),
    ],
)
def test_reordered_commutative_operands_are_the_same_expression(left, right) -> None:
    assert left is not right
    assert same_up_to_order(left, right) and same_up_to_order(right, left)
    assert digest(left) == digest(right)


@pytest.mark.parametrize(
    "left, right",
    [
        (make("sub", (X, Y)), make("sub", (Y, X))),  # x - y is not y - x
        (_mul(X, Y), _mul(X, Z)),
        (_mul(_mul(X, X), Y), _mul(_mul(X, Y), Y)),  # x x y is not x y y
        (_add(X, const(0.0)), _add(X, const(-0.0))),  # distinct constants
        (_mul(_add(X, Y), Z), _add(_mul(X, Z), _mul(Y, Z))),  # not expanded
        (_add(_add(X, Y), Z), _add(X, Y)),  # more operands
    ],
)
def test_different_expressions_are_not_the_same(left, right) -> None:
    assert not same_up_to_order(left, right)
    assert not same_up_to_order(right, left)


def test_a_reversed_chain_of_ten_thousand_terms_compares_without_recursion() -> None:
    terms = [var(f"x_chain{k}") for k in range(10_000)]
    forward, backward = terms[0], terms[-1]
    for term in terms[1:]:
        forward = _add(forward, term)
    for term in reversed(terms[:-1]):
        backward = _add(backward, term)
    assert operands(forward) == terms and operands(backward) == terms[::-1]
    assert same_up_to_order(forward, backward)
    assert not same_up_to_order(forward, _add(backward, X))


def test_chains_whose_operands_differ_in_kind_are_told_apart_without_digests() -> None:
    # (2 x) v beside (x + y) v: the operands' ops differ, so neither operand's
    # subgraph is walked for a digest (a Hessian entry's, in an HVP's sums)
    v = var("v_kinds")
    entry = make("sin", (_add(var("p_kinds"), var("q_kinds")),))
    scaled, summed = _mul(_mul(const(2.0), entry), v), _mul(_add(entry, Y), v)
    assert not same_up_to_order(scaled, summed)
    assert scaled.digest is None and summed.digest is None and entry.digest is None
