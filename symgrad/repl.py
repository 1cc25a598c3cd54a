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

import functools
import html
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import sympy
from sympy.printing.pretty.pretty import PrettyPrinter
from sympy.printing.pretty.stringpict import prettyForm

from symgrad import sympy_bridge
from symgrad.derivatives import adjoints
from symgrad.evaluate import evaluate
from symgrad.graph import Node, const, toposort
from symgrad.ops import OPS

if TYPE_CHECKING:
    from symgrad.compiled import Compiled
    from symgrad.program import Function

__all__ = [
    "GradientView",
    "HessianView",
    "HessianAt",
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


_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


class _Printer(PrettyPrinter):
    """sympy's unicode pretty printer, with integer powers as superscripts (x²)."""

    def _print_Pow(self, power):
        base, exponent = power.as_base_exp()
        if power.is_commutative and exponent.is_Integer and exponent > 1:
            form = self._print(base)
            if form.height() == 1:
                return _superscript(form, str(exponent).translate(_SUPERSCRIPTS))
        return super()._print_Pow(power)


def _superscript(form: prettyForm, sup: str) -> prettyForm:
    """base followed by a superscript, on one line: x², (x + 1)², sin²(x)."""
    func, args = getattr(form, "prettyFunc", None), getattr(form, "prettyArgs", None)
    if form.binding == prettyForm.FUNC and func is not None and args is not None:
        if func.height() == 1 and args.height() == 1:
            return prettyForm(func.s + sup + args.s, binding=prettyForm.POW)
    if form.binding not in (prettyForm.ATOM, prettyForm.FUNC):
        form = prettyForm(*form.parens())
    return prettyForm(form.s + sup, binding=prettyForm.POW)


def pretty_block(expr: sympy.Basic) -> Block:
    """sympy's unicode pretty form of expr (single-line where possible) as a block."""
    form = _Printer({"use_unicode": True, "wrap_line": False})._print(expr)
    lines = form.render(use_unicode=True, wrap_line=False).split("\n")
    width = max(display_width(line) for line in lines)
    return Block(tuple(pad(line, width) for line in lines), form.baseline)


def op_count(node: Node) -> int:
    """The distinct operations (non-leaf nodes) a graph holds."""
    return sum(1 for n in toposort([node]) if n.args)


def elided(ops: int) -> str:
    """The placeholder shown for an entry too long to display."""
    return f"… ({ops} op{'s' if ops != 1 else ''})"


class Entry:
    """One symbolic entry (a partial, a Hessian entry, a body) prepared for display."""

    def __init__(self, node: Node | None):
        self.node = node
        self.ops = op_count(node) if node is not None else 0

    @cached_property
    def expr(self) -> sympy.Basic | None:
        """The sympy form; None for an entry elided as too long."""
        if self.node is None:
            return sympy.Integer(0)
        if self.ops > MAX_ENTRY_CHARS:
            return None
        expr = sympy_bridge.to_sympy(self.node)
        return None if len(sympy.sstr(expr)) > MAX_ENTRY_CHARS else expr

    def block(self) -> Block:
        """The unicode pretty form."""
        expr = self.expr
        return text_block(elided(self.ops)) if expr is None else pretty_block(expr)

    def latex(self) -> str:
        """The LaTeX form."""
        expr = self.expr
        if expr is None:
            return rf"\dots\ \text{{({self.ops} ops)}}"
        return sympy.latex(expr)


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
    """A source name in LaTeX, as sympy prints the symbol (x_1 -> x_{1})."""
    return sympy.latex(sympy.Symbol(name))


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
    body = Entry(compiled.function.body).latex()
    return rf"$\displaystyle {latex_head(compiled.function)} = {body}$"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


# ---------------------------------------------------------------------------
# Point arguments: evaluation through the generated functions, formatting.


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
# Gradient view.


class GradientView(functools.partial):
    """f.grad: call it for the gradient at a point; show it to see the partials.

    Calling it returns a tuple of partials in parameter order. It is a partial of
    the generated f_grad: the call goes straight to the generated code.
    """

    def __new__(cls, compiled: Compiled):
        """The view of compiled's gradient, bound to its generated function."""
        return super().__new__(cls, compiled.caller("_grad"))

    def __init__(self, compiled: Compiled):
        self._compiled = compiled
        self._entries: dict[int, Entry] = {}

    @property
    def function(self) -> Function:
        """The lowered function."""
        return self._compiled.function

    def entry(self, i: int) -> Entry:
        """The i-th partial, prepared for display."""
        if i not in self._entries:
            self._entries[i] = Entry(self._compiled.derivatives.gradient[i])
        return self._entries[i]

    def labels(self) -> list[str]:
        """`∂f/∂x` for each shown parameter."""
        name = self.function.name
        return [f"∂{name}/∂{p}" for p in self.function.params[:MAX_SHOWN]]

    def __repr__(self) -> str:
        params = self.function.params
        if not params:
            return f"∇{head(self.function)}: no differentiated parameters"
        lines = [f"∇{head(self.function)} ="]
        labels = self.labels()
        blocks = [self.entry(i).block() for i in range(len(labels))]
        width = max(len(label) for label in labels)
        tall = any(len(b.lines) > 1 for b in blocks)
        for k, (label, block) in enumerate(zip(labels, blocks)):
            if tall and k:
                lines.append("")
            for r, text in enumerate(block.lines):
                shown = label if r == block.baseline else ""
                lines.append(f"  {shown:<{width}}  {text}".rstrip())
        if len(params) > MAX_SHOWN:
            lines += ["  ⋮", f"{len(params)} partials, showing the first {MAX_SHOWN}"]
        return "\n".join(lines)

    def _repr_latex_(self) -> str:
        name = latex_function_name(self.function.name)
        rows = [
            rf"\frac{{\partial {name}}}{{\partial {latex_name(p)}}} &=& "
            + self.entry(i).latex()
            for i, p in enumerate(self.function.params[:MAX_SHOWN])
        ]
        if len(self.function.params) > MAX_SHOWN:
            rows.append(r"&\vdots&")
        body = r" \\ ".join(rows)
        note = _latex_notes(_gradient_note(len(self.function.params)))
        return (
            rf"$\displaystyle \nabla {latex_head(self.function)}:\quad "
            rf"\begin{{array}}{{rcl}} {body} \end{{array}}{note}$"
        )


def _gradient_note(n: int) -> list[str]:
    return [f"{n} partials, showing {MAX_SHOWN}"] if n > MAX_SHOWN else []


def _latex_notes(notes: Sequence[str]) -> str:
    return "".join(rf"\quad\text{{{latex_text(note)}}}" for note in notes)


# ---------------------------------------------------------------------------
# Hessian view.


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


class HessianView(functools.partial):
    """f.hessian: call it for the matrix at a point; show it to see it symbolically.

    Calling it returns the Hessian at a point, of shape batch + (n, n). It is a
    partial of the generated f_hessian: the call goes straight to the generated code.
    """

    def __new__(cls, compiled: Compiled):
        """The view of compiled's Hessian, bound to its generated function."""
        return super().__new__(cls, compiled.caller("_hessian"))

    def __init__(self, compiled: Compiled):
        self._compiled = compiled
        self._entries: dict[tuple[int, int], Entry] = {}

    def eigenvalues(self, *args, **kwargs) -> np.ndarray:
        """The Hessian's eigenvalues at a point, ascending (shape batch + (n,))."""
        return eigenvalues_of(self(*args, **kwargs))

    def definiteness(self, *args, **kwargs) -> object:
        """'minimum', 'maximum', 'saddle' or 'degenerate'; an array for a batch."""
        return classify(self.eigenvalues(*args, **kwargs))

    def at(self, *args, **kwargs) -> HessianAt:
        """The evaluated Hessian with labels, eigenvalues and the verdict."""
        point = self._compiled._arguments(args, kwargs)
        return HessianAt(self.function, point, self(*point))

    @property
    def function(self) -> Function:
        """The lowered function."""
        return self._compiled.function

    @property
    def n(self) -> int:
        """The number of differentiated parameters."""
        return len(self.function.params)

    def entry(self, i: int, j: int) -> Entry:
        """Entry (i, j), mirrored from the stored upper triangle."""
        key = (min(i, j), max(i, j))
        if key not in self._entries:
            self._entries[key] = Entry(self._compiled.derivatives.hessian.get(key))
        return self._entries[key]

    def nonzero(self, i: int, j: int) -> bool:
        """False where the entry is a structural zero."""
        return (min(i, j), max(i, j)) in self._compiled.derivatives.hessian

    def structure(self) -> str:
        """'zero', 'diagonal', 'tridiagonal' or '' (anything else)."""
        keys = self._compiled.derivatives.hessian
        if not keys:
            return "zero"
        if self.n >= 2 and all(i == j for i, j in keys):
            return "diagonal"
        if self.n >= 3 and all(j - i <= 1 for i, j in keys):
            return "tridiagonal"
        return ""

    def zeros(self) -> int:
        """How many of the n*n entries are structural zeros."""
        stored = self._compiled.derivatives.hessian
        return self.n * self.n - sum(1 if i == j else 2 for i, j in stored)

    def notes(self) -> list[str]:
        """The notes under the matrix: truncation, symmetry, structural zeros."""
        n, zeros = self.n, self.zeros()
        structure = self.structure()
        parts = ["symmetric"] + ([structure] if structure not in ("", "zero") else [])
        if zeros == n * n:
            parts = ["symmetric", f"all {_count(n * n, 'entry')} structurally zero"]
        elif zeros:
            parts.append(f"{zeros} of {n * n} entries structurally zero")
        else:
            parts.append("dense: no structural zeros")
        return _truncation_note(n) + ["; ".join(parts)]

    def pattern(self) -> list[str]:
        """The sparsity grid ('*' entry, '.' structural zero), for n <= MAX_PATTERN."""
        n = self.n
        if n > MAX_PATTERN or self.zeros() in (0, n * n):
            return []
        rows = [
            " ".join("*" if self.nonzero(i, j) else "." for j in range(n))
            for i in range(n)
        ]
        return ["pattern (* entry, . structural zero):"] + [f"  {r}" for r in rows]

    def _shown(self) -> range:
        return range(min(self.n, MAX_SHOWN))

    def __repr__(self) -> str:
        if not self.n:
            return f"∇²{head(self.function)}: no differentiated parameters"
        names = list(self.function.params[: len(self._shown())])
        cells = [
            [self.entry(i, j).block() for j in self._shown()] for i in self._shown()
        ]
        rows = list(names)
        _ellipsis_row(rows, cells, self.n)
        cols = names + (["…"] if self.n > MAX_SHOWN else [])
        lines = [f"∇²{head(self.function)} ="] + matrix_lines(rows, cols, cells)
        return "\n".join(lines + self.notes() + self.pattern())

    def _repr_latex_(self) -> str:
        shown, more = self._shown(), self.n > MAX_SHOWN
        names = [latex_name(p) for p in self.function.params[: len(shown)]]
        header = " & ".join([""] + names + ([r"\cdots"] if more else []))
        rows = [
            " & ".join(
                [names[i]]
                + [self.entry(i, j).latex() for j in shown]
                + ([r"\cdots"] if more else [])
            )
            for i in shown
        ]
        if more:
            rows.append(" & ".join([r"\vdots"] * (len(shown) + 1) + [r"\ddots"]))
        spec = "r|" + "c" * (len(shown) + more)
        body = header + r" \\ \hline " + r" \\ ".join(rows)
        return (
            rf"$\displaystyle \nabla^2 {latex_head(self.function)} = "
            rf"\begin{{array}}{{{spec}}} {body} \end{{array}}"
            rf"{_latex_notes(self.notes())}$"
        )

    def _repr_html_(self) -> str:
        shown = self._shown()
        names = list(self.function.params[: len(shown)])
        cells = [
            [(self.entry(i, j).block(), not self.nonzero(i, j)) for j in shown]
            for i in shown
        ]
        return html_matrix(
            f"∇²{head(self.function)}",
            names,
            cells,
            self.n,
            self.notes() + self.pattern(),
        )


def _html_cell(block: Block, muted: bool = False) -> str:
    style = ' style="color:#999"' if muted else ""
    text = _esc("\n".join(line.rstrip() for line in block.lines))
    return f'<td{style}><pre style="margin:0">{text}</pre></td>'


def html_matrix(
    title: str,
    names: Sequence[str],
    cells: Sequence[Sequence[tuple[Block, bool]]],
    n: int,
    notes: Sequence[str],
) -> str:
    """An HTML table with labels (every text escaped), truncated like the text form."""
    more = n > MAX_SHOWN
    header = "".join(f"<th>{_esc(name)}</th>" for name in names)
    header = "<tr><th></th>" + header + ("<th>…</th>" if more else "") + "</tr>"
    rows = []
    for name, row in zip(names, cells):
        tds = "".join(_html_cell(block, muted) for block, muted in row)
        rows.append(
            f"<tr><th>{_esc(name)}</th>{tds}" + ("<td>…</td>" if more else "") + "</tr>"
        )
    if more:
        rows.append("<tr><th>⋮</th>" + "<td>⋮</td>" * len(names) + "<td>⋱</td></tr>")
    notes_html = f"<pre>{_esc(chr(10).join(notes))}</pre>" if notes else ""
    return (
        f'<div class="symgrad"><p>{_esc(title)}</p>'
        f"<table>{header}{''.join(rows)}</table>{notes_html}</div>"
    )


class HessianAt:
    """The Hessian evaluated at one point: labelled matrix, eigenvalues, verdict."""

    def __init__(self, function: Function, point: Sequence[object], matrix: object):
        self.function = function
        self.point = tuple(point)
        self.matrix = np.asarray(matrix)
        self.eigenvalues = eigenvalues_of(self.matrix)
        self.definiteness = classify(self.eigenvalues)

    def _title(self) -> str:
        where = point_text(self.function, self.point)
        if self.matrix.ndim > 2:
            where = f"a batch of shape {self.matrix.shape[:-2]}"
        return f"∇²{head(self.function)} at {where}"

    def _cells(self) -> list[list[Block]]:
        shown = range(min(self.matrix.shape[-1], MAX_SHOWN))
        return [
            [text_block(format_number(self.matrix[i, j])) for j in shown] for i in shown
        ]

    def __repr__(self) -> str:
        if self.matrix.ndim > 2:
            return "\n".join(
                [f"{self._title()}:", f"eigenvalues:\n{self.eigenvalues}"]
                + [f"definiteness:\n{self.definiteness}"]
            )
        n = self.matrix.shape[-1]
        names = list(self.function.params[:MAX_SHOWN])
        cells, rows = self._cells(), list(names)
        _ellipsis_row(rows, cells, n)
        cols = names + (["…"] if n > MAX_SHOWN else [])
        lines = [f"{self._title()}:"] + matrix_lines(rows, cols, cells, "right")
        lines += _truncation_note(n)
        lines.append("eigenvalues: " + numbers_text(self.eigenvalues))
        return "\n".join(lines + [VERDICTS[self.definiteness]])

    def _repr_html_(self) -> str:
        if self.matrix.ndim > 2:
            return f"<pre>{_esc(repr(self))}</pre>"
        n = self.matrix.shape[-1]
        names = list(self.function.params[:MAX_SHOWN])
        cells = [[(b, False) for b in row] for row in self._cells()]
        eig = "eigenvalues: " + numbers_text(self.eigenvalues)
        notes = _truncation_note(n) + [eig, VERDICTS[self.definiteness]]
        return html_matrix(self._title(), names, cells, n, notes)


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
        return node_names(self.function, self._compiled.names)

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
        return html_table(
            f"computation graph of {head(self.function)}", ("node", "computes"), rows
        )


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
        return html_table(self._title(), ("node", "value", "adjoint"), self.rows())


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
    """DOT text of a graph view, with values and adjoints when `at` is given."""
    order = toposort([view.function.body])
    ids = {node: f"n{k}" for k, node in enumerate(order)}
    lines = [
        f"digraph {dot_quote(view.function.name)} {{",
        '  node [shape=box, fontname="monospace"];',
    ]
    for node in order:
        lines.append(f"  {ids[node]} [{_dot_attributes(node, view, at)}];")
    for node in order:
        lines += [f"  {ids[arg]} -> {ids[node]};" for arg in node.args]
    return "\n".join(lines + ["}"]) + "\n"


def _dot_attributes(node: Node, view: GraphView, at: GraphAt | None) -> str:
    if node not in view.names:
        return f"label={dot_quote(const_text(node.attrs[0]))}, shape=plaintext"
    name = view.names[node]
    kind = view.text(node) if node.op == "var" else node.op
    label = [f"{name} ({kind})"]
    if at is not None:
        label.append(f"value = {format_number(at.values[name])}")
        label.append(f"{at.adjoint_label(name)} = {format_number(at.adjoints[name])}")
    shape = ", shape=ellipse" if node.op == "var" else ""
    return f"label={dot_quote(chr(10).join(label))}{shape}"


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
