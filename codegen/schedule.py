"""DAG -> straight-line SSA: which nodes get a temporary, in which order, by which name."""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from codegen.printer import definition
from symgrad.graph import Node, toposort

# Each statement's right-hand side stays within this many characters, so lines fit
# black's 88 columns and CPython's compiler never meets
# a deeply nested expression.
STATEMENT_BUDGET = 60

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
    order: list[Node] = field(default_factory=list)


def schedule(
    outputs: Sequence[Node],
    params: Mapping[Node, str],
    hints: Mapping[Node, str],
    namer: Namer,
    output_budget: int = STATEMENT_BUDGET,
    memo: dict | None = None,
) -> Schedule:
    """Give a temporary to every shared, hinted or oversized node reachable from outputs.

    params maps var nodes to their Python names; hints proposes names (source
    intermediates `u`, adjoints `du`) for nodes worth a statement of their own; an
    output longer than output_budget gets a statement so its use site stays short.
    memo receives the numpy text of unnamed subexpressions; it stays valid after
    scheduling, so printing the statements again costs one lookup per argument.
    """
    order = toposort(outputs)
    uses: dict[Node, int] = {}
    for node in order:
        for arg in node.args:
            uses[arg] = uses.get(arg, 0) + 1
    for out in outputs:
        uses[out] = uses.get(out, 0) + 1
    is_output = set(outputs)
    result = Schedule(names=dict(params), order=order)
    # printed text of unnamed subexpressions, shared by every statement
    memo = {} if memo is None else memo
    for node in order:
        if not node.args:
            continue
        size = len(definition(node, result.names, memo))
        while size > STATEMENT_BUDGET:
            # Cut the longest inlined argument into a statement of its own; it has
            # one use (a shared one is named already), and fits the budget itself.
            inlined = [a for a in node.args if a.args and a not in result.names]
            if not inlined:
                break
            longest = max(inlined, key=lambda a: len(memo[a][0]))
            _name_statement(longest, hints, namer, result)
            size = len(definition(node, result.names, memo))
        if (
            uses.get(node, 0) > 1
            or node in hints
            or (node in is_output and size > output_budget)
        ):
            _name_statement(node, hints, namer, result)
    return result


def _name_statement(
    node: Node, hints: Mapping[Node, str], namer: Namer, plan: Schedule
) -> None:
    hint = hints.get(node)
    plan.names[node] = namer.claim(hint) if hint else namer.fresh()
    plan.statements.append((plan.names[node], node))
