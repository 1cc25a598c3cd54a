"""Tests for symgrad.syntax: the fast node constructors make what the dataclasses make."""

from __future__ import annotations

import dataclasses

import pytest

from symgrad import syntax
from symgrad.errors import Span

SPAN = Span("t.sg", 1, 5, 3, "f = a + 2.5")
OP_SPAN = Span("t.sg", 1, 7, 1, "f = a + 2.5")


@pytest.mark.parametrize(
    "made, expected",
    [
        (syntax.new_num(2.5, "2.5", SPAN), syntax.Num(2.5, "2.5", SPAN)),
        (syntax.new_name("a", SPAN), syntax.Name("a", SPAN)),
        (
            syntax.new_binary(
                "+", syntax.Name("a", SPAN), syntax.Num(2.5, "2.5", SPAN), SPAN, OP_SPAN
            ),
            syntax.Binary(
                "+", syntax.Name("a", SPAN), syntax.Num(2.5, "2.5", SPAN), SPAN, OP_SPAN
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
        made.span = OP_SPAN  # type: ignore[attr-defined]
