"""Lay out statements in black's style, so generated modules are black-formatted as built.

Running black over a 45,000-line module takes half a minute; laying the few kinds
of line we generate out the way black would takes nothing. The rules mirrored here:
a line fits in 88 columns or is split at its last bracket; a call's or a def's
arguments then go on one indented line if they fit, else one per line with a
trailing comma; a tuple or list literal that does not fit always goes one item
per line with a trailing comma. tests/test_layout.py checks them against black.
"""

from __future__ import annotations

from dataclasses import dataclass

LINE_LENGTH = 88
INDENT = "    "


@dataclass(frozen=True)
class Tuple:
    """A tuple (or, with brackets "[]", a list) literal of items to lay out."""

    items: tuple
    brackets: str = "()"


def flat(item) -> str:
    """The one-line text of an item (str, or a nested Tuple)."""
    if isinstance(item, str):
        return item
    inner = ", ".join(map(flat, item.items))
    if item.brackets == "()" and len(item.items) == 1:
        inner += ","
    return item.brackets[0] + inner + item.brackets[1]


def collection(prefix: str, value: Tuple, indent: str, suffix: str = "") -> list[str]:
    """Lines for `prefix(<items>)suffix` where the brackets are a tuple or list literal."""
    # each item takes a character at least, and ", ": 1,000 parameters never fit
    # on one line, and are not joined into one to find out
    if 3 * len(value.items) <= LINE_LENGTH:
        one = f"{indent}{prefix}{flat(value)}{suffix}"
        if len(one) <= LINE_LENGTH or not value.items:
            return [one]
    inner = indent + INDENT
    lines = [f"{indent}{prefix}{value.brackets[0]}"]
    for item in value.items:
        if isinstance(item, Tuple):
            lines += collection("", item, inner, ",")
        else:
            lines.append(f"{inner}{item},")
    return lines + [f"{indent}{value.brackets[1]}{suffix}"]


def call(head: str, args: list[str | Tuple], indent: str, tail: str = ")") -> list[str]:
    """Lines for `head(args)tail`, e.g. a call or `def f(` ... `):`.

    An argument that is a tuple literal and does not fit on its own line goes one
    item per line, as black splits it.
    """
    texts = [flat(a) for a in args]
    one = f"{indent}{head}{', '.join(texts)}{tail}"
    if len(one) <= LINE_LENGTH:
        return [one]
    body = f"{indent}{INDENT}{', '.join(texts)}"
    if len(body) <= LINE_LENGTH:
        return [f"{indent}{head}", body, f"{indent}{tail}"]
    inner = indent + INDENT
    lines = [f"{indent}{head}"]
    for arg, text in zip(args, texts):
        if isinstance(arg, Tuple) and len(inner) + len(text) + 1 > LINE_LENGTH:
            lines += collection("", arg, inner, ",")
        else:
            lines.append(f"{inner}{text},")
    return lines + [f"{indent}{tail}"]


def condition(
    keyword: str, operator: str, operands: list[str], indent: str
) -> list[str]:
    """Lines for `keyword a operator b ...:`, e.g. an `if` over many `and`-ed tests.

    Too long for one line, black wraps the test in parentheses with one operand per
    line, each after the first led by the operator.
    """
    one = f"{indent}{keyword} {f' {operator} '.join(operands)}:"
    if len(one) <= LINE_LENGTH:
        return [one]
    inner = indent + INDENT
    rest = [f"{inner}{operator} {operand}" for operand in operands[1:]]
    return [f"{indent}{keyword} (", f"{inner}{operands[0]}", *rest, f"{indent}):"]
