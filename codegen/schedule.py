"""DAG -> straight-line SSA: which nodes get a temporary, in which order, by which name."""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from symgrad.graph import Node, toposort

# A statement inlines at most this many ops; a bigger expression is cut into
# temporaries, so CPython's compiler never sees a deeply nested expression.
INLINE_LIMIT = 24

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class Namer:
    """Hands out Python identifiers: never a keyword, a reserved name or one taken."""

    def __init__(self, reserved: Iterable[str] = ()):
        self.taken: set[str] = set(reserved)
        self._counter = 0

    def claim(self, hint: str) -> str:
        """The hint itself if free and valid, else the hint with a numeric suffix."""
        base = hint if _IDENT.match(hint) else "t"
        if keyword.iskeyword(base) or keyword.issoftkeyword(base):
            base += "_"
        name, k = base, 1
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name

    def fresh(self) -> str:
        """An anonymous temporary: t1, t2, ... (skipping names already taken)."""
        while True:
            self._counter += 1
            name = f"t{self._counter}"
            if name not in self.taken:
                self.taken.add(name)
                return name


@dataclass
class Schedule:
    """Statements `name = node` in dependency order, and the name of every named node."""

    statements: list[tuple[str, Node]] = field(default_factory=list)
    names: dict[Node, str] = field(default_factory=dict)


def schedule(
    outputs: Sequence[Node],
    params: Mapping[Node, str],
    hints: Mapping[Node, str],
    namer: Namer,
) -> Schedule:
    """Give a temporary to every shared, hinted or oversized node reachable from outputs.

    params maps var nodes to their Python names; hints proposes names (source
    intermediates `u`, adjoints `du`) for nodes worth a statement of their own.
    """
    order = toposort(outputs)
    uses: dict[Node, int] = {}
    for node in order:
        for arg in node.args:
            uses[arg] = uses.get(arg, 0) + 1
    for out in outputs:
        uses[out] = uses.get(out, 0) + 1
    result = Schedule(names=dict(params))
    weight: dict[Node, int] = {}
    for node in order:
        if not node.args:
            continue
        w = 1 + sum(weight.get(a, 0) for a in node.args if a not in result.names)
        if uses.get(node, 0) > 1 or node in hints or w > INLINE_LIMIT:
            hint = hints.get(node)
            name = namer.claim(hint) if hint else namer.fresh()
            result.names[node] = name
            result.statements.append((name, node))
        else:
            weight[node] = w
    return result
