"""f.graph: the computation graph, one line per node; `.at(point)`, DOT and SVG.

Nodes are named by the source (`u`, `v`, a traced local `p`), the function's own
name for the root, then t1, t2, ...; each line says what the node computes with
its operands in order (`t3 = t2 + y`). DOT draws one constant node per use, so no
`2` seems to feed two users; the notebook shows the SVG Graphviz draws from it
(where `dot` is installed) or the DOT text.
"""

from __future__ import annotations

import html
import math
import shutil
import subprocess
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from symgrad.derivatives import adjoints
from symgrad.evaluate import evaluate
from symgrad.graph import Node, const, toposort
from symgrad.ops import OPS
from symgrad.repl import format_number, head, point_text

if TYPE_CHECKING:
    from symgrad.compiled import Compiled
    from symgrad.program import Function

MAX_GRAPH_LINES = 100


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _float_input(value: object) -> object:
    array = np.asarray(value)
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    return array[()]


# ---------------------------------------------------------------------------
# Graph view.

_INFIX = {"add": " + ", "sub": " - ", "mul": "*", "div": "/", "pow": "^"}
_INFIX.update({"lt": " < ", "le": " <= ", "gt": " > ", "ge": " >= "})


def const_text(value: float) -> str:
    """A constant as the expression language writes it (3, 0.5, 1e-20)."""
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def node_names(function: Function, sources: dict[Node, str]) -> dict[Node, str]:
    """Display names: params by name, source names (u, v), the root, then t1, t2, ..."""
    order = toposort([function.body])
    used = {n.attrs[0] for n in order if n.op == "var"}
    used |= {sources[n] for n in order if n in sources}
    names: dict[Node, str] = {n: n.attrs[0] for n in order if n.op == "var"}
    root = function.body
    if root not in names and function.name not in used:
        names[root] = function.name
        used.add(function.name)
    counter = 0
    for node in order:
        if node in names or (node.op == "const" and node is not root):
            continue
        if node in sources and sources[node] not in names.values():
            names[node] = sources[node]
            continue
        counter += 1
        while f"t{counter}" in used:
            counter += 1
        names[node] = f"t{counter}"
    return names


def node_text(node: Node, names: dict[Node, str], data: Sequence[str]) -> str:
    """One node as the expression language writes it: `b*c`, `a + u`, `exp(t1)`."""
    if node.op == "var":
        return "data" if node.attrs[0] in data else "param"
    if node.op == "const":
        return const_text(node.attrs[0])
    args = [
        _arg_text(a, names, node.op in _INFIX or node.op == "neg") for a in node.args
    ]
    if node.op in _INFIX:
        return _INFIX[node.op].join(args)
    if node.op == "neg":
        return "-" + args[0]
    return f"{OPS[node.op].callable_as or node.op}({', '.join(args)})"


def _arg_text(arg: Node, names: dict[Node, str], operator: bool) -> str:
    if arg.op != "const":
        return names[arg]
    text = const_text(arg.attrs[0])
    return f"({text})" if operator and text.startswith("-") else text


def _count(k: int, noun: str) -> str:
    return f"{k} {noun}{'' if k == 1 else 's'}"


def _elide_lines(lines: list[str]) -> list[str]:
    """At most MAX_GRAPH_LINES lines: the first and last halves around a count."""
    if len(lines) <= MAX_GRAPH_LINES:
        return lines
    half = MAX_GRAPH_LINES // 2
    hidden = len(lines) - 2 * half
    return lines[:half] + [f"  ⋮ ({hidden} more nodes)"] + lines[-half:]


class GraphView:
    """f.graph: the computation graph, one line per node; .at(point) adds values."""

    def __init__(self, compiled: Compiled):
        self._compiled = compiled

    @property
    def function(self) -> Function:
        """The lowered function."""
        return self._compiled.function

    @cached_property
    def nodes(self) -> list[Node]:
        """The nodes shown, in topological order (constants are written inline)."""
        root = self.function.body
        return [n for n in toposort([root]) if n.op != "const" or n is root]

    @cached_property
    def names(self) -> dict[Node, str]:
        """The display name of every non-constant node."""
        from symgrad.views import sources

        return node_names(self.function, sources(self._compiled))

    def text(self, node: Node) -> str:
        """`u = b*c`: the node's name and what it computes."""
        return node_text(node, self.names, self.function.data)

    def _width(self) -> int:
        return max(len(self.names[n]) for n in self.nodes)

    def __repr__(self) -> str:
        width = self._width()
        lines = [f"  {self.names[n]:<{width}} = {self.text(n)}" for n in self.nodes]
        if any(n.shape for n in self.nodes):  # an array function: each node's shape
            from symgrad.shapes import show

            pad = max(len(line) for line in lines)
            lines = [
                f"{line:<{pad}}  {show(n.shape)}" if n.op != "dim" else
                f"{line[: line.rindex('dim()')]}size {', '.join(n.attrs[0])}"
                for line, n in zip(lines, self.nodes)
            ]  # fmt: skip
        count = _count(len(self.nodes), "node")
        title = f"computation graph of {head(self.function)}, {count}:"
        return "\n".join([title] + _elide_lines(lines))

    def at(self, *args, **kwargs) -> GraphAt:
        """Forward values and adjoints (dF/dnode) on every node at a point."""
        point = self._compiled._arguments(args, kwargs)
        return GraphAt(self, point)

    def to_dot(self) -> str:
        """The graph as Graphviz DOT text (edges from argument to user)."""
        return graph_dot(self, None)

    def _repr_html_(self) -> str:
        rows = [(self.names[n], self.text(n)) for n in self.nodes]
        title = f"computation graph of {head(self.function)}"
        table = html_table(title, ("node", "computes"), rows)
        return _graph_html(title, table, self.to_dot())

    def _repr_svg_(self) -> str | None:
        return dot_svg(self.to_dot())

    def backward(self):
        """The backward pass as formulas: each adjoint from its users' (`du = dv`)."""
        from symgrad.views_backward import BackwardView

        return BackwardView(self)


class GraphAt:
    """A computation graph evaluated at a point: values and adjoints by node name."""

    def __init__(self, view: GraphView, point: Sequence[object]):
        self.view = view
        self.point = tuple(point)
        function = view.function
        env = {n: _float_input(v) for n, v in zip(function.all_names, point)}
        wrt = [n for n in toposort([function.body]) if n.op == "var"]
        adj = adjoints(function.body, wrt)
        nodes = view.nodes
        adj.setdefault(function.body, const(1.0))  # dF/dF = 1, even for a constant
        zero = const(0.0)
        found = evaluate(nodes + [adj.get(n, zero) for n in nodes], env)
        names = [view.names[n] for n in nodes]
        self.values: dict[str, object] = dict(zip(names, found[: len(nodes)]))
        self.adjoints: dict[str, object] = dict(zip(names, found[len(nodes) :]))

    def adjoint_label(self, name: str) -> str:
        """`dJ/du`."""
        return f"d{self.view.function.name}/d{name}"

    def _title(self) -> str:
        where = point_text(self.view.function, self.point)
        return f"computation graph of {head(self.view.function)} at {where}"

    def rows(self) -> list[tuple[str, str, str]]:
        """(node, value, adjoint) texts per node."""
        view, rows = self.view, []
        width = view._width()
        for node in view.nodes:
            name = view.names[node]
            adjoint = (
                f"{self.adjoint_label(name)} = {format_number(self.adjoints[name])}"
            )
            node_col = f"{name:<{width}} = {view.text(node)}"
            rows.append((node_col, format_number(self.values[name]), adjoint))
        return rows

    def __repr__(self) -> str:
        rows = [("node", "value", "adjoint")] + self.rows()
        w0 = max(len(r[0]) for r in rows)
        w1 = max(len(r[1]) for r in rows)
        lines = [f"  {a:<{w0}}  {b:>{w1}}  {c}".rstrip() for a, b, c in rows]
        return "\n".join([f"{self._title()}:", lines[0]] + _elide_lines(lines[1:]))

    def to_dot(self) -> str:
        """The graph as Graphviz DOT text, labelled with values and adjoints."""
        return graph_dot(self.view, self)

    def _repr_html_(self) -> str:
        table = html_table(self._title(), ("node", "value", "adjoint"), self.rows())
        return _graph_html(self._title(), table, self.to_dot())

    def _repr_svg_(self) -> str | None:
        return dot_svg(self.to_dot())


def html_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A titled HTML table of texts (every text escaped)."""
    head_html = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td><code>{_esc(c)}</code></td>" for c in row) + "</tr>"
        for row in rows
    )
    return (
        f'<div class="symgrad"><p>{_esc(title)}</p>'
        f"<table><tr>{head_html}</tr>{body}</table></div>"
    )


def dot_quote(text: str) -> str:
    """A DOT double-quoted string: backslashes, quotes and newlines escaped."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", "").replace("\n", "\\n") + '"'


def graph_dot(view: GraphView, at: GraphAt | None) -> str:
    """DOT text of a graph view, with values and adjoints when `at` is given.

    Each node is labelled with what it computes (`t1 = x^2`, operands in order),
    and a constant is drawn once per use, so no `2` seems to feed two users.
    """
    order = [n for n in toposort([view.function.body]) if n in view.names]
    ids = {node: f"n{k}" for k, node in enumerate(order)}
    lines = [
        f"digraph {dot_quote(view.function.name)} {{",
        '  node [shape=box, fontname="monospace"];',
    ]
    for node in order:
        lines.append(f"  {ids[node]} [{_dot_attributes(node, view, at)}];")
    constants = 0
    for node in order:
        for arg in node.args:
            if arg in ids:
                lines.append(f"  {ids[arg]} -> {ids[node]};")
                continue
            constants += 1  # one plain node per use of a constant
            label = dot_quote(const_text(arg.attrs[0]))
            lines.append(f"  c{constants} [label={label}, shape=plaintext];")
            lines.append(f"  c{constants} -> {ids[node]};")
    return "\n".join(lines + ["}"]) + "\n"


def _dot_attributes(node: Node, view: GraphView, at: GraphAt | None) -> str:
    name = view.names[node]
    if node.op == "var":
        label = [f"{name} ({view.text(node)})"]
    elif node.op == "const":
        label = [f"{name} = {view.text(node)}"]
    else:
        label = [f"{name} = {view.text(node)}"]
    if at is not None:
        label.append(f"value = {format_number(at.values[name])}")
        label.append(f"{at.adjoint_label(name)} = {format_number(at.adjoints[name])}")
    shape = ", shape=ellipse" if node.op == "var" else ""
    return f"label={dot_quote(chr(10).join(label))}{shape}"


def dot_svg(dot: str) -> str | None:
    """SVG drawn by Graphviz's `dot` when it is installed (None otherwise)."""
    program = shutil.which("dot")
    if program is None:
        return None
    try:
        done = subprocess.run(
            [program, "-Tsvg"], input=dot, capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    start = done.stdout.find("<svg")
    return done.stdout[start:] if start >= 0 else None


def _graph_html(title: str, table: str, dot: str) -> str:
    """A graph's HTML: the SVG picture if Graphviz is installed, else DOT text."""
    svg = dot_svg(dot)
    if svg is not None:
        heading = f"<p>{_esc(title)}</p>"
        table = table.replace(heading, "", 1)  # the title goes above the picture
        return f'<div class="symgrad">{heading}{svg}{table}</div>'
    note = "DOT text (install Graphviz for a picture)"
    return (
        f'<div class="symgrad">{table}<details><summary>{_esc(note)}</summary>'
        f"<pre>{_esc(dot)}</pre></details></div>"
    )
