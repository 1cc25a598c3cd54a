"""symgrad.Array["n", "d"] and symgrad.Data[...]: shapes of a decorated function's parameters.

`w: Array["d"]` declares a differentiated parameter of shape (d,), `X: Data["n",
"d"]` a data parameter (never differentiated); a dim is a size name or a whole
number. Bare `Array` or `Data` fixes only the role: the rank comes from the first
call. `float`/`int` declare a scalar. Under `from __future__ import annotations`
the annotation is text: it is read (never evaluated) as one of these forms.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import NamedTuple

from symgrad.trace import Param, TracingError, _span_of


class Declared(NamedTuple):
    """A parameter's annotation: its shape (None: from the first call), its role."""

    shape: tuple | None
    data: bool


class _Factory:
    """Array or Data: subscript it with the sizes, `Array["n", "d"]`."""

    def __init__(self, name: str, data: bool) -> None:
        self._name, self._data = name, data

    def __getitem__(self, dims) -> Declared:
        dims = dims if isinstance(dims, tuple) else (dims,)
        return Declared(_checked(dims, f"{self._name}[...]"), self._data)

    def __repr__(self) -> str:
        return f"symgrad.{self._name}"


Array = _Factory("Array", data=False)
Data = _Factory("Data", data=True)


def _checked(dims: tuple, what: str) -> tuple:
    for dim in dims:
        ok_int = isinstance(dim, int) and not isinstance(dim, bool) and dim >= 1
        if not ok_int and not (isinstance(dim, str) and dim.isidentifier()):
            raise TracingError(
                f"{what}: a size is a name such as 'n' or a whole number >= 1, "
                f"not {dim!r}"
            )
    return tuple(dims)


def declared(fn: Callable, signature: tuple[Param, ...]) -> dict[str, Declared]:
    """The parameters of fn annotated with a shape or role, by name."""
    notes = getattr(fn, "__annotations__", None) or {}
    out = {}
    for p in signature:
        if p.name in notes:
            found = _read(notes[p.name])
            if found is not None:
                out[p.name] = found
    names = {p.name for p in signature}
    for name, note in out.items():
        clash = [d for d in note.shape or () if d in names]
        if clash:
            raise TracingError(
                f"parameter '{name}': the size name '{clash[0]}' is also a "
                "parameter; give the size another name",
                _span_of(fn),
            )
    return out


def _read(note) -> Declared | None:
    if isinstance(note, Declared):
        return note
    if isinstance(note, _Factory):
        return Declared(None, note._data)
    if note is float or note is int:
        return Declared((), False)
    if isinstance(note, str):
        return _read_text(note)
    return None


_ROLES = {"Array": False, "Data": True}


def _read_text(text: str) -> Declared | None:
    """An annotation's text (`Array["n", "d"]`, `symgrad.Data`, `float`), unevaluated."""
    try:
        expr = ast.parse(text, mode="eval").body
    except SyntaxError:
        return None
    if isinstance(expr, ast.Name) and expr.id in ("float", "int"):
        return Declared((), False)
    head = expr.value if isinstance(expr, ast.Subscript) else expr
    role = _ROLES.get(
        head.attr if isinstance(head, ast.Attribute) else getattr(head, "id", None)
    )
    if role is None:
        return None
    if not isinstance(expr, ast.Subscript):
        return Declared(None, role)
    try:
        dims = ast.literal_eval(expr.slice)
    except ValueError:
        raise TracingError(f"cannot read the annotation {text!r}") from None
    dims = dims if isinstance(dims, tuple) else (dims,)
    return Declared(_checked(dims, text), role)
