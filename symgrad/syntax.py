"""The syntax tree of an expression file: small frozen dataclasses, each with a span."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from symgrad.errors import Span


@dataclass(frozen=True)
class Num:
    """A numeric literal; `text` is kept for messages."""

    value: float
    text: str
    span: Span


@dataclass(frozen=True)
class Name:
    """A reference to a parameter, intermediate or constant such as `pi`."""

    id: str
    span: Span


@dataclass(frozen=True)
class Unary:
    """A prefix operator: `-` or `+`."""

    op: str
    operand: Expr
    span: Span


@dataclass(frozen=True)
class Binary:
    """An infix operator: + - * / @ ^ (also written **) and the comparisons < <= > >=."""

    op: str
    left: Expr
    right: Expr
    op_span: Span | None = None  # the operator itself: shape errors point at it

    @cached_property
    def span(self) -> Span:
        """From the start of the left operand to the end of the right one.

        Made when asked (for a message), not for every operator of a long sum; the
        operands' own spans are skipped, as joining is associative, and a long sum
        is a deep tree.
        """
        first, last = self.left, self.right
        while isinstance(first, Binary):
            first = first.left
        while isinstance(last, Binary):
            last = last.right
        return join_spans(first.span, last.span)


@dataclass(frozen=True)
class Call:
    """A call of a built-in function or of a function defined earlier in the file."""

    func: str
    args: tuple[Expr, ...]
    span: Span
    func_span: Span


@dataclass(frozen=True)
class Transpose:
    """The postfix `A.T`: the operand with its axes reversed."""

    operand: Expr
    span: Span
    op_span: Span  # the `.T`


@dataclass(frozen=True)
class IndexItem:
    """One integer of a subscript, `x[k]` (k may be negative): drops that axis."""

    index: int
    span: Span


@dataclass(frozen=True)
class SliceItem:
    """One slice of a subscript, `x[start:stop]`, step 1; a bound may be left out."""

    start: int | None
    stop: int | None
    span: Span


SubscriptItem = IndexItem | SliceItem


@dataclass(frozen=True)
class Subscript:
    """`x[items]`: constant integer indices and slices, one per leading axis."""

    value: Expr
    items: tuple[SubscriptItem, ...]
    span: Span
    bracket_span: Span  # from '[' to ']': shape errors point at it


Expr = Num | Name | Unary | Binary | Call | Transpose | Subscript


# A frozen dataclass's __init__ sets each field through object.__setattr__; the
# parser makes a node per token or two (a 50 KB sum: 16,000), so it makes the
# commonest ones through these, which fill the instance dict directly, about twice
# as fast (tests/test_syntax.py checks they make what the dataclasses make).
_new = object.__new__


def new_num(value: float, text: str, span: Span) -> Num:
    """Num(value, text, span), made without the frozen dataclass's __init__."""
    node = _new(Num)
    fields = node.__dict__
    fields["value"], fields["text"], fields["span"] = value, text, span
    return node


def new_name(id: str, span: Span) -> Name:
    """Name(id, span), made without the frozen dataclass's __init__."""
    node = _new(Name)
    fields = node.__dict__
    fields["id"], fields["span"] = id, span
    return node


def new_binary(op: str, left: Expr, right: Expr, op_span: Span) -> Binary:
    """Binary(op, left, right, op_span), made without the frozen dataclass's __init__."""
    node = _new(Binary)
    fields = node.__dict__
    fields["op"], fields["left"], fields["right"] = op, left, right
    fields["op_span"] = op_span
    return node


def join_spans(first: Span, last: Span) -> Span:
    """A span from the start of `first` to the end of `last`, clipped to one line."""
    if last.line == first.line:
        end_col = last.col + last.length
    else:
        end_col = len(first.line_text) + 1
    length = max(1, end_col - first.col)
    return Span(first.file, first.line, first.col, length, first.line_text)


# A declared size: a size name shared across the definition's parameters, or a
# fixed whole number (at least 1).
Dim = str | int


@dataclass(frozen=True)
class Param:
    """A parameter in a definition's head: `x` (a scalar) or `x[n, 3]` (an array)."""

    name: str
    span: Span
    shape: tuple[Dim, ...] | None = None  # None: a scalar
    dim_spans: tuple[Span, ...] = ()  # one per entry of shape


@dataclass(frozen=True)
class FunctionDef:
    """`name(params; data) = body`: params are differentiated, data are not."""

    name: str
    params: tuple[Param, ...]
    data: tuple[Param, ...]
    body: Expr
    span: Span
    source: str


@dataclass(frozen=True)
class Assign:
    """`name = body`: a named intermediate usable by later definitions."""

    name: str
    body: Expr
    span: Span
    source: str


Definition = FunctionDef | Assign


@dataclass(frozen=True)
class Module:
    """A whole expression file: its definitions in order."""

    file: str
    definitions: tuple[Definition, ...]
