"""f.graph.backward(): the backward pass written as formulas, in the lecture's order.

Each adjoint `du` (dF/du) is the sum, over the users v of u, of `dv` times the local
partial dv/du, taken from the one rule table (symgrad/rules.py) with `dv` as a
symbol: `J = 3*v, v = a + u, u = b*c` gives `dJ = 1`, `dv = 3 dJ`, `du = dv`,
`da = dv`, `db = du c`, `dc = du b`. Forward nodes are written by their graph
names (`u`, `t1`), so each formula is a few operations: the view is O(graph).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from symgrad.derivatives import _local
from symgrad.graph import Node, toposort, var
from symgrad.simplify import add
from symgrad.views_expr import LATEX, MATHML, TEXT, Render, Style

if TYPE_CHECKING:
    from symgrad.views_graph import GraphView


def _active(order: list[Node], params: set[str]) -> set[Node]:
    """Nodes that depend on a differentiated parameter."""
    active: set[Node] = set()
    for node in order:
        if node.op == "var" and node.attrs[0] in params:
            active.add(node)
        elif any(a in active for a in node.args):
            active.add(node)
    return active


class BackwardView:
    """The adjoint of every node as a formula of its users' adjoints."""

    def __init__(self, view: GraphView):
        self.view = view
        function = view.function
        order = toposort([function.body])
        active = _active(order, set(function.params))
        names = view.names
        symbol = {n: var("d" + names[n]) for n in order if n in active}
        # adjoint symbols print as their names (dJ, du): they are var nodes already
        contributions: dict[Node, list[Node]] = {n: [] for n in symbol}
        for node in reversed(order):
            if node not in symbol or not node.args:
                continue
            for arg, part in zip(node.args, _local(node, symbol[node])):
                if part is not None and arg in symbol:
                    contributions[arg].append(part)
        self.rows: list[tuple[str, Node | None]] = []
        root = function.body
        interior = [n for n in reversed(order) if n in symbol and n.op != "var"]
        leaves = [var(p) for p in function.params if var(p) in symbol]
        for node in interior + leaves:
            parts = contributions[node]
            formula = None
            for part in parts:
                formula = part if formula is None else add(formula, part)
            self.rows.append(("d" + names[node], None if node is root else formula))
        # forward nodes print by name; everything the rules built is inlined
        self._names = {n: names[n] for n in order if n in names and n.args}

    def _formula(self, formula: Node | None, style: Style) -> str:
        if formula is None:
            return style.number(1.0)  # dF/dF = 1: the seed
        return Render(style, self._names)(formula, top=False)

    def _title(self) -> str:
        name = self.view.function.name
        return f"backward pass of {name}: dX = ∂{name}/∂X, from the output back"

    def __repr__(self) -> str:
        if not self.rows:
            return (
                f"{self._title()}:\n  (no differentiated parameter reaches the output)"
            )
        from symgrad.views_graph import _elide_lines
        from symgrad.views import _fit, terminal_width

        pad = max(len(name) for name, _ in self.rows)
        lines = [f"  {n:<{pad}} = {self._formula(f, TEXT)}" for n, f in self.rows]
        lines = _fit(_elide_lines(lines), terminal_width())
        return "\n".join([f"{self._title()}:"] + lines)

    def _repr_latex_(self) -> str:
        rows = [rf"{LATEX.name(n)} &=& {self._formula(f, LATEX)}" for n, f in self.rows]
        body = r" \\ ".join(rows)
        return rf"$\displaystyle \begin{{array}}{{rcl}} {body} \end{{array}}$"

    def _repr_html_(self) -> str:
        body = "".join(
            f"<mtr><mtd columnalign='right' style='text-align:right'>{MATHML.name(n)}</mtd><mtd><mo>=</mo></mtd>"
            f"<mtd columnalign='left' style='text-align:left'>{self._formula(f, MATHML)}</mtd></mtr>"
            for n, f in self.rows
        )
        return (
            f'<div class="symgrad"><p>{html.escape(self._title())}</p>'
            f'<math display="block"><mtable>{body}</mtable></math></div>'
        )
