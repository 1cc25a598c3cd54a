"""DAG -> straight-line SSA: which nodes get a temporary, in which order, by which name."""

from __future__ import annotations

import keyword
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from codegen.printer import NUMPY, Context, spelled
from symgrad.graph import Node

# Each statement's right-hand side stays within this many characters, so lines fit
# black's 88 columns and CPython's compiler never meets
# a deeply nested expression.
STATEMENT_BUDGET = 60

_KEYWORDS = frozenset(keyword.kwlist + keyword.softkwlist)


class Namer:
    """Hands out Python identifiers: never a keyword, a reserved name or one taken."""

    def __init__(self, reserved: Iterable[str] = ()):
        self.taken: set[str] = set(reserved)
        self._counter = 0

    def claim(self, hint: str) -> str:
        """The hint itself if free and valid, else the hint with a numeric suffix."""
        # an ASCII identifier ([A-Za-z_][A-Za-z0-9_]*), tested in C: a function of
        # 1,000 parameters claims 1,000 names
        base = hint if hint.isascii() and hint.isidentifier() else "t"
        if base in _KEYWORDS:
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
    """Statements `name = node` in dependency order, and the name of every named node.

    texts holds each statement's numpy right-hand side as scheduling printed it:
    its arguments' names never change afterwards, so it is final.
    """

    statements: list[tuple[str, Node]] = field(default_factory=list)
    names: dict[Node, str] = field(default_factory=dict)
    order: list[Node] = field(default_factory=list)
    texts: dict[Node, str] = field(default_factory=dict)
    uses: dict[Node, int] = field(default_factory=dict)  # as walk counts them


def walk(
    roots: Sequence[Node],
    order: list[Node] | None = None,
    uses: dict[Node, int] | None = None,
) -> tuple[list[Node], dict[Node, int]]:
    """symgrad.graph.toposort's order, and each node's uses (a root's one more).

    About 1.7x faster than toposort and a separate count: scheduling walks every
    function of a module (60,000 nodes for the JVP of Rosenbrock in 3,000
    variables). The use counts double as the seen set (nodes hash by identity),
    and each stack frame iterates its arguments, counting every edge once.
    order and uses, if given, are an earlier walk's (of roots walked before these),
    continued in place.
    """
    order = [] if order is None else order
    uses = {} if uses is None else uses
    for root in roots:
        count = uses.get(root)
        uses[root] = 1 if count is None else count + 1
        if count is not None:
            continue  # walked already
        stack = [(root, iter(root.args))]
        while stack:
            for child in stack[-1][1]:
                count = uses.get(child)
                if count is None:
                    uses[child] = 1
                    stack.append((child, iter(child.args)))
                    break
                uses[child] = count + 1
            else:  # every argument is placed: the node follows them
                order.append(stack.pop()[0])
    return order, uses


def schedule(
    outputs: Sequence[Node],
    params: Mapping[Node, str],
    hints: Mapping[Node, str],
    namer: Namer,
    output_budget: int = STATEMENT_BUDGET,
    memo: dict | None = None,
    walked: tuple[list[Node], dict[Node, int]] | None = None,
) -> Schedule:
    """Give a temporary to every shared, hinted or oversized node reachable from outputs.

    params maps var nodes to their Python names; hints proposes names (source
    intermediates `u`, adjoints `du`) for nodes worth a statement of their own; an
    output longer than output_budget gets a statement so its use site stays short.
    memo receives the numpy text of every node's definition; it stays valid after
    scheduling, so printing the statements again costs one lookup per argument.
    walked is walk(outputs), if the caller has it.
    """
    order, uses = walk(outputs) if walked is None else walked
    is_output = set(outputs)
    result = Schedule(names=dict(params), order=order, uses=uses)
    # printed text of every node's definition, shared by every statement: one
    # context for the whole schedule, and each node spelled once where it is met
    memo = {} if memo is None else memo
    ctx = Context(result.names, memo, NUMPY)
    for node in order:
        if not node.args:
            continue
        text = spelled(node, ctx)[0]
        while len(text) > STATEMENT_BUDGET:
            # Cut the longest inlined argument into a statement of its own; it has
            # one use (a shared one is named already), and fits the budget itself.
            longest = _longest_inlined(node, result.names, memo)
            if longest is None:
                break
            _name_statement(longest, memo[longest][0], hints, namer, result)
            text = spelled(node, ctx)[0]
        if (
            uses[node] > 1
            or node in hints
            or (node in is_output and len(text) > output_budget)
        ):
            _name_statement(node, text, hints, namer, result)
    return result


def _longest_inlined(node: Node, names: Mapping[Node, str], memo: dict) -> Node | None:
    """The argument of node with the longest text among those inlined, the first."""
    longest, size = None, -1
    for arg in node.args:
        if arg.args and arg not in names and len(memo[arg][0]) > size:
            longest, size = arg, len(memo[arg][0])
    return longest


def _name_statement(
    node: Node, text: str, hints: Mapping[Node, str], namer: Namer, plan: Schedule
) -> None:
    hint = hints.get(node)
    name = plan.names[node] = namer.claim(hint) if hint else namer.fresh()
    plan.statements.append((name, node))
    plan.texts[node] = text
