"""Display objects for the REPL and notebooks: gradient, Hessian and graph views.

`f.grad`, `f.hessian` and `f.graph` of a compiled function are views: call the
first two to evaluate at a point; show any of them (repr, or Jupyter's
`_repr_latex_` / `_repr_html_`) to see the symbolic derivative or the graph.

Display limits (all plain, LaTeX and HTML forms):
    MAX_SHOWN        at most 12 rows and columns of a gradient or Hessian are shown,
                     with an ellipsis row/column and a note "n×n, showing 12×12"
    MAX_PATTERN      the sparsity pattern grid is printed for n <= 20
    MAX_ENTRY_CHARS  an entry with more ops, or longer text, is shown as
                     "… (N ops)"
    MAX_GRAPH_LINES  a graph view lists at most this many nodes (first and last half)

Definiteness (the second-derivative test at a point): an eigenvalue counts as
zero when |λ| <= rtol * max|λ|, with rtol = 100 * n * eps of the Hessian's dtype
(about the eigen-solver's rounding error, with a safety factor). Then
"saddle" if eigenvalues of both signs remain (even when some are zero), else
"degenerate" if any is zero (singular, at best semidefinite), else "minimum"
(positive definite) or "maximum" (negative definite); "undefined" when the
Hessian is not finite. `classify(eigenvalues, rtol)` applies another tolerance.
"""

from __future__ import annotations

import html
import math
import shutil
import subprocess
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import sympy

from symgrad import sympy_bridge
from symgrad.derivatives import adjoints
from symgrad.evaluate import evaluate
from symgrad.graph import Node, const, toposort
from symgrad.ops import OPS

if TYPE_CHECKING:
    from symgrad.compiled import Compiled
    from symgrad.program import Function

__all__ = [
    "GraphView",
    "GraphAt",
    "SympyForm",
    "classify",
    "latex_definition",
    "to_sympy",
]

MAX_SHOWN = 12
MAX_PATTERN = 20
MAX_ENTRY_CHARS = 200
MAX_GRAPH_LINES = 100
VERDICTS = {
    "minimum": "minimum: positive definite",
    "maximum": "maximum: negative definite",
    "saddle": "saddle: indefinite",
    "degenerate": "degenerate: singular (a zero eigenvalue; semidefinite at best)",
    "undefined": "undefined: the Hessian is not finite here",
}

# ---------------------------------------------------------------------------
# Text blocks: rendered entries with a baseline, so multi-line entries align.


@dataclass(frozen=True)
class Block:
    """Lines of text of equal width and the row that carries the baseline."""

    lines: tuple[str, ...]
    baseline: int = 0

    @property
    def width(self) -> int:
        """The display width of the widest line."""
        return max(display_width(line) for line in self.lines)

    @property
    def above(self) -> int:
        """Rows above the baseline."""
        return self.baseline

    @property
    def below(self) -> int:
        """Rows below the baseline."""
        return len(self.lines) - self.baseline - 1


def display_width(text: str) -> int:
    """Columns text takes on a terminal: combining marks (ẋ = x + dot) take none."""
    return sum(1 for c in text if not unicodedata.combining(c))


def pad(text: str, width: int, align: str = "left") -> str:
    """text padded with spaces to a display width: 'left', 'right' or 'center'."""
    room = max(width - display_width(text), 0)
    before = {"left": 0, "right": room, "center": room // 2}[align]
    return " " * before + text + " " * (room - before)


def text_block(text: str) -> Block:
    """A one-line block."""
    return Block((text,), 0)


# ---------------------------------------------------------------------------
# Names and heads: f(x, y; data), labels, LaTeX names.


def _shown_names(names: Sequence[str]) -> list[str]:
    """At most MAX_SHOWN names: the first ones, '…', and the last."""
    if len(names) <= MAX_SHOWN:
        return list(names)
    return [*names[: MAX_SHOWN - 1], "…", names[-1]]


def head(function: Function) -> str:
    """`f(x, y)`, with data after ';' and long parameter lists elided."""
    params = ", ".join(_shown_names(function.params))
    data = "; " + ", ".join(_shown_names(function.data)) if function.data else ""
    return f"{function.name}({params}{data})"


def latex_name(name: str) -> str:
    """A source name in LaTeX (x1 -> x_{1}), as the formulas write it."""
    from symgrad.views_expr import latex_name as name_in_latex

    return name_in_latex(name)


def latex_function_name(name: str) -> str:
    """A function name in LaTeX: upright when longer than one letter."""
    if len(name) == 1:
        return name
    return r"\operatorname{" + latex_text(name) + "}"


def latex_text(text: str) -> str:
    """Text with LaTeX's special characters escaped (for \\text{} and names)."""
    special = {c: "\\" + c for c in "&%$#_{}"}
    special.update({"\\": r"\backslash{}", "^": r"\^{}", "~": r"\~{}"})
    return "".join(special.get(c, c) for c in text)


def latex_head(function: Function) -> str:
    """`f(x, y)` in LaTeX."""

    def names(ns: Sequence[str]) -> str:
        return ", ".join(r"\dots" if n == "…" else latex_name(n) for n in ns)

    data = r";\, " + names(_shown_names(function.data)) if function.data else ""
    params = names(_shown_names(function.params))
    return f"{latex_function_name(function.name)}({params}{data})"


def latex_definition(compiled: Compiled) -> str:
    """The definition `f(x, y) = x^{2} y + y + 2` as LaTeX for Jupyter."""
    from symgrad.views_expr import LATEX

    listing = body_listing(compiled)
    rows = [rf"{name} &=& {text}" for name, text in listing.definitions(LATEX)]
    body = listing.render(LATEX)(listing.roots[0])
    where = ""
    if rows:
        where = r"\quad\text{where}\quad\begin{array}{rcl} "
        where += r" \\ ".join(rows) + r" \end{array}"
    return rf"$\displaystyle {latex_head(compiled.function)} = {body}{where}$"


def html_definition(compiled: Compiled) -> str:
    """The definition as MathML (rendered by browsers without MathJax)."""
    from symgrad.views import _html
    from symgrad.views_expr import MATHML

    listing = body_listing(compiled)
    body = listing.render(MATHML)(listing.roots[0])
    lhs = f"<mrow>{MATHML.name(compiled.function.name)}<mo stretchy='false'>(</mo>"
    names = [MATHML.name(n) for n in _shown_names(compiled.function.params)]
    data = [MATHML.name(n) for n in _shown_names(compiled.function.data)]
    lhs += "<mo>,</mo>".join(names)
    if data:
        lhs += "<mo>;</mo>" + "<mo>,</mo>".join(data)
    lhs += "<mo stretchy='false'>)</mo></mrow>"
    rows = [(lhs, body)] + [
        (f"<mtext>where</mtext><mspace width='0.5em'/>{name}", text)
        for name, text in listing.definitions(MATHML)
    ]
    return _html(head(compiled.function), rows, [])


def body_listing(compiled: Compiled):
    """The function's body as a listing: its named intermediates defined once."""
    from symgrad.views import sources
    from symgrad.views_expr import Listing

    body = compiled.function.body
    names = {n: s for n, s in sources(compiled).items() if n is not body}
    return Listing.of([body], names)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


# ---------------------------------------------------------------------------
# Point arguments: evaluation through the generated functions, formatting.


def _generated(compiled: Compiled, suffix: str) -> Callable:
    if not compiled.function.params:
        raise TypeError(f"{compiled.function.name} has no differentiated parameters")
    return compiled._generated(suffix)


def format_number(value: object) -> str:
    """A number for display: 6 significant digits, integers without a point."""
    array = np.asarray(value)
    if array.ndim:
        return np.array2string(
            array, precision=6, threshold=6, separator=", ", floatmode="maxprec"
        ).replace("\n", "")
    if np.issubdtype(array.dtype, np.bool_):
        return str(bool(array))
    number = float(array)
    if number == 0:
        return "0"
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return f"{number:.6g}"


def point_text(function: Function, values: Sequence[object]) -> str:
    """`x=3, y=4` for a point given in call order (long points elided)."""
    pairs = [f"{n}={format_number(v)}" for n, v in zip(function.all_names, values)]
    return ", ".join(_shown_names(pairs))


def numbers_text(values: Sequence[object]) -> str:
    """Numbers separated by commas, the middle elided beyond MAX_SHOWN."""
    shown = _shown_names([format_number(v) for v in values])
    more = f" ({len(values)} values)" if len(values) > MAX_SHOWN else ""
    return ", ".join(shown) + more


def _float_input(value: object) -> object:
    array = np.asarray(value)
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    return array[()]


# ---------------------------------------------------------------------------
# Labelled matrices in plain text.


def _bracket(k: int, total: int) -> tuple[str, str]:
    """The bracket pieces of body line k of total (sympy's matrix style)."""
    if total == 1:
        return "[", "]"
    return ("⎡", "⎤") if k == 0 else ("⎣", "⎦") if k == total - 1 else ("⎢", "⎥")


def _place(block: Block, width: int, above: int, below: int, align: str) -> list[str]:
    """The block padded to width and to `above`/`below` rows around the baseline."""
    lines = [""] * (above - block.above) + list(block.lines)
    lines += [""] * (above + below + 1 - len(lines))
    if align == "center":
        return [pad(line, width, "center") for line in lines]
    return [pad(line.rstrip(), width, "right") for line in lines]


def _row_lines(
    label: str, row: Sequence[Block], widths: Sequence[int], align: str
) -> list[tuple[str, str]]:
    """(label, content) lines of one matrix row, the label on the baseline."""
    above = max(b.above for b in row)
    below = max(b.below for b in row)
    columns = [_place(b, w, above, below, align) for b, w in zip(row, widths)]
    return [
        (label if k == above else "", "  ".join(parts))
        for k, parts in enumerate(zip(*columns))
    ]


def matrix_lines(
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    cells: Sequence[Sequence[Block]],
    align: str = "center",
) -> list[str]:
    """A bracketed matrix with row labels on the left and column labels on top."""
    label_width = max(len(label) for label in row_labels)
    widths = [
        max([len(col_labels[j])] + [row[j].width for row in cells])
        for j in range(len(col_labels))
    ]
    tall = any(b.above or b.below for row in cells for b in row)
    body: list[tuple[str, str]] = []
    for i, (label, row) in enumerate(zip(row_labels, cells)):
        if tall and i:
            body.append(("", "  ".join(" " * w for w in widths)))
        body += _row_lines(label, row, widths, align)
    header = "  ".join(label.center(w) for label, w in zip(col_labels, widths))
    lines = [f"  {'':<{label_width}}   {header}"]
    for k, (label, content) in enumerate(body):
        left, right = _bracket(k, len(body))
        lines.append(f"  {label:<{label_width}}  {left}{content}{right}")
    return [line.rstrip() for line in lines]


def _ellipsis_row(labels: list[str], rows: list[list[Block]], n: int) -> None:
    """Add the '…' column and '⋮' row of a matrix truncated to MAX_SHOWN."""
    if n <= MAX_SHOWN:
        return
    for row in rows:
        row.append(text_block("…"))
    rows.append([text_block("⋮")] * MAX_SHOWN + [text_block("⋱")])
    labels.append("⋮")


def _truncation_note(n: int) -> list[str]:
    if n <= MAX_SHOWN:
        return []
    return [f"{n}×{n}, showing {MAX_SHOWN}×{MAX_SHOWN}"]


# ---------------------------------------------------------------------------
# The second-derivative test.


def classify(eigenvalues: object, rtol: float | None = None) -> object:
    """The second-derivative test from eigenvalues (last axis): see the module doc."""
    eig = np.asarray(eigenvalues)
    n = eig.shape[-1]
    if rtol is None:
        dtype = eig.dtype if np.issubdtype(eig.dtype, np.floating) else np.float64
        rtol = 100 * max(n, 1) * float(np.finfo(dtype).eps)
    finite = np.all(np.isfinite(eig), axis=-1)
    with np.errstate(invalid="ignore"):
        tol = rtol * np.max(np.abs(eig), axis=-1, keepdims=True, initial=0.0)
        pos = np.any(eig > tol, axis=-1)
        neg = np.any(eig < -tol, axis=-1)
        zero = np.any(np.abs(eig) <= tol, axis=-1)
    verdict = np.select(
        [~finite, pos & neg, zero, pos],
        ["undefined", "saddle", "degenerate", "minimum"],
        "maximum",
    )
    return str(verdict) if verdict.ndim == 0 else verdict


def eigenvalues_of(matrices: np.ndarray) -> np.ndarray:
    """eigvalsh over the last two axes; NaN where a matrix is not finite."""
    matrices = np.asarray(matrices)
    finite = np.all(np.isfinite(matrices), axis=(-2, -1))
    safe = np.where(finite[..., None, None], matrices, 0.0)
    eig = np.linalg.eigvalsh(safe)
    return np.where(finite[..., None], eig, np.nan)


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


# ---------------------------------------------------------------------------
# sympy forms.


class SympyForm(NamedTuple):
    """A function as sympy: expression, gradient column and symmetric Hessian."""

    expression: sympy.Expr
    gradient: sympy.Matrix
    hessian: sympy.Matrix


def to_sympy(obj: object) -> object:
    """sympy of a node; of a function (expression, gradient, Hessian); of a view."""
    if isinstance(obj, Node):
        return sympy_bridge.to_sympy(obj)
    from symgrad.views import GradientView, HessianView

    if isinstance(obj, (GradientView, HessianView)):
        form = to_sympy(obj._compiled)
        return form.gradient if isinstance(obj, GradientView) else form.hessian
    if hasattr(obj, "derivatives") and hasattr(obj, "function"):
        return _function_sympy(obj)
    kind = type(obj).__name__
    raise TypeError(f"to_sympy: expected a graph node or a compiled function: {kind}")


def _function_sympy(compiled: Compiled) -> SympyForm:
    d, n = compiled.derivatives, len(compiled.function.params)
    keys = sorted(d.hessian)
    nodes = [compiled.function.body, *d.gradient, *(d.hessian[k] for k in keys)]
    exprs = sympy_bridge.to_sympy_many(nodes)
    hessian = sympy.zeros(n, n)
    for (i, j), e in zip(keys, exprs[1 + n :]):
        hessian[i, j] = hessian[j, i] = e
    return SympyForm(exprs[0], sympy.Matrix(n, 1, exprs[1 : 1 + n]), hessian)
