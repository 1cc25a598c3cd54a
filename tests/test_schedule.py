"""codegen/schedule.py: temporaries for shared, named and long nodes; fresh names."""

from __future__ import annotations

from collections import Counter

from codegen.schedule import STATEMENT_BUDGET, Namer, schedule, walk
from codegen.printer import definition
from symgrad.graph import toposort, var
from symgrad.simplify import add, call, mul, num

x, y = var("x"), var("y")
PARAMS = {x: "x", y: "y"}


def test_shared_nodes_get_one_statement():
    s = call("sin", x)
    out = add(mul(s, y), s)
    plan = schedule([out], PARAMS, {}, Namer({"x", "y"}))
    assert [node for _, node in plan.statements] == [s]


def test_single_use_nodes_are_inlined():
    out = call("exp", mul(x, y))
    plan = schedule([out], PARAMS, {}, Namer({"x", "y"}))
    assert plan.statements == []


def test_hints_name_statements():
    u = mul(x, y)
    plan = schedule([add(u, x)], PARAMS, {u: "u"}, Namer({"x", "y"}))
    assert plan.statements == [("u", u)]


def test_long_expressions_are_cut_to_the_budget():
    node = x
    for k in range(200):
        node = call("sin", add(node, num(float(k + 1))))
    plan = schedule([node], PARAMS, {}, Namer({"x", "y"}))
    assert len(plan.statements) > 10
    for _, stmt in plan.statements:
        assert len(definition(stmt, plan.names)) <= STATEMENT_BUDGET


def test_namer_avoids_keywords_reserved_and_taken():
    namer = Namer({"np", "t1"})
    assert namer.claim("lambda") == "lambda_"
    assert namer.claim("np") == "np_2"
    assert namer.fresh() == "t2"
    assert namer.claim("t2") == "t2_2"
    assert namer.claim("not an identifier") == "t"


def test_walk_is_toposorts_order_with_use_counts():
    s = call("sin", x)
    shared = mul(s, y)
    outputs = [add(shared, s), shared, x, add(mul(x, x), call("exp", shared)), s]
    order, uses = walk(outputs)
    assert order == toposort(outputs)
    counted = Counter(arg for node in order for arg in node.args) + Counter(outputs)
    assert uses == dict(counted)


def test_statement_texts_are_their_definitions():
    node = x
    for k in range(50):
        node = call("sin", add(mul(node, y), num(float(k + 1))))
    shared = call("exp", node)
    out = add(mul(shared, shared), node)
    plan = schedule([out, shared], PARAMS, {}, Namer({"x", "y"}))
    assert len(plan.statements) > 5
    for _, stmt in plan.statements:
        assert plan.texts[stmt] == definition(stmt, plan.names)


def test_walk_continues_an_earlier_walk_of_the_first_roots():
    s = call("sin", x)
    shared = mul(s, y)
    outputs = [add(shared, s), shared, x, add(mul(x, x), call("exp", shared)), s]
    for k in range(len(outputs) + 1):
        order, uses = walk(outputs[:k])
        assert walk(outputs[k:], order, uses) == walk(outputs)
