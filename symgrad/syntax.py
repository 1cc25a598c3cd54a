"""The syntax tree of an expression file: small frozen dataclasses, each with a span."""

from __future__ import annotations

from dataclasses import dataclass

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
    """An infix operator: + - * / ^ (also written **) and the comparisons < <= > >=."""

    op: str
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class Call:
    """A call of a built-in function or of a function defined earlier in the file."""

    func: str
    args: tuple[Expr, ...]
    span: Span
    func_span: Span


Expr = Num | Name | Unary | Binary | Call


@dataclass(frozen=True)
class Param:
    """A parameter name in a definition's head."""

    name: str
    span: Span


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
