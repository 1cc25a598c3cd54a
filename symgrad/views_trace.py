"""The local names of a decorated function (`p = sigmoid(z)`), recovered for its views.

The decorator keys a scalar function's cache by the tape alone, so the names of
locals are not kept. A view asks for them on first display: the function is
traced once more, keeping its frame, whose locals after the call name its
intermediates; each local holding a symbolic value is replayed to its (interned)
graph node.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from symgrad.graph import Node

if TYPE_CHECKING:
    from symgrad.compiled import Compiled


_FOUND: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # traced once each


def traced_locals(compiled: Compiled) -> dict[Node, str]:
    """node -> local name for the wrapped function's symbolic locals ({} if none)."""
    found = _FOUND.get(compiled)
    if found is None:
        found = _FOUND[compiled] = _locals_of(compiled)
    return found


def _locals_of(compiled: Compiled) -> dict[Node, str]:
    fn = getattr(compiled, "__wrapped__", None)
    code = getattr(fn, "__code__", None)
    if code is None:
        return {}
    try:
        return _trace_locals(fn, code)
    except Exception:  # a view must show something: names are a nicety
        return {}


def _trace_locals(fn, code) -> dict[Node, str]:
    from symgrad.decorator import _classify
    from symgrad.trace import record, signature_of

    signature = signature_of(fn)
    fixed = _classify(fn, signature, None, {})[2]
    order = [p.name for p in signature if p.name not in fixed]
    traced = record(fn, order, fixed, signature, keep_locals=True)
    names: dict[Node, str] = {}
    for row, name in traced.locals:
        node = traced.tape.replay(row)
        if node.args:
            names.setdefault(node, name)
    return names
