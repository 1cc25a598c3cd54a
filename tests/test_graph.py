"""Tests for symgrad.graph: interning, immutability, toposort, substitute, shapes."""

from __future__ import annotations

import gc
import math
import os
import pickle
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

from symgrad import simplify
from symgrad.graph import (
    Node,
    const,
    count_nodes,
    is_const,
    make,
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
    with pytest.raises(ValueError):
        make("add", (w, var("v", (4,))))


def test_value_and_name_accessors() -> None:
    assert const(2.5).value == 2.5
    assert isinstance(const(2).value, float)
    assert X.name == "x"
    assert repr(make("add", (X, const(1.0)))) == "add(var('x'), const(1.0))"
