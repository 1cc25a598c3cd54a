"""Tests for symgrad.syntax: the fast node constructors make what the dataclasses make."""

from __future__ import annotations

import dataclasses

import pytest

from symgrad import syntax
from symgrad.errors import Span
from symgrad.lower import subexpressions
from symgrad.parser import parse

SPAN = Span("t.sg", 1, 5, 3, "f = a + 2.5")
OP_SPAN = Span("t.sg", 1, 7, 1, "f = a + 2.5")


@pytest.mark.parametrize(
    "made, expected",
    [
        (syntax.new_num(2.5, "2.5", SPAN), syntax.Num(2.5, "2.5", SPAN)),
        (syntax.new_name("a", SPAN), syntax.Name("a", SPAN)),
        (
            syntax.new_binary(
                "+", syntax.Name("a", SPAN), syntax.Num(2.5, "2.5", SPAN), OP_SPAN
            ),
            syntax.Binary(
                "+", syntax.Name("a", SPAN), syntax.Num(2.5, "2.5", SPAN), OP_SPAN
            ),
        ),
    ],
    ids=["num", "name", "binary"],
)
def test_new_nodes_equal_the_dataclasses(made: object, expected: object) -> None:
    assert type(made) is type(expected) and made == expected
    assert repr(made) == repr(expected) and hash(made) == hash(expected)
    assert dataclasses.astuple(made) == dataclasses.astuple(expected)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.op = "-"  # type: ignore[attr-defined]


def _binaries(expr: syntax.Expr) -> list[syntax.Binary]:
    found, stack = [], [expr]
    while stack:
        expr = stack.pop()
        if isinstance(expr, syntax.Binary):
            found.append(expr)
        stack.extend(subexpressions(expr))
    return found


@pytest.mark.parametrize(
    "text",
    [
        "f(x, y) = 100*(y - x^2)^2 + (1 - x)^2",
        "f(x) = -(x + 1) * 2 ^ x ^ 3 - sin(x) / (x + 2)",
        "f(x) = (x +\n  2) * (3 -\n x) + 1",
        "f(x) = x * (1 +\n 2)",
    ],
)
def test_a_binary_span_joins_its_operands_spans(text: str) -> None:
    """The derived span is what joining the operands' spans made when it was a field."""
    body = parse(text, "t.sg").definitions[0].body
    for node in _binaries(body):
        first, last = node.left.span, node.right.span
        if last.line == first.line:
            end = last.col + last.length
        else:  # clipped to the first line
            end = len(first.line_text) + 1
        assert node.span == Span(
            "t.sg", first.line, first.col, end - first.col, first.line_text
        )
