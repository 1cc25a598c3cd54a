"""f.grad and f.hessian: symbolic views drawn from symgrad's own graph, and `.at(...)`.

Every form (plain text, LaTeX, HTML) prints the partials from the graph through
`symgrad.views_expr`: shared subexpressions named once in a `where` list, the
user's intermediates and traced locals kept; nothing is expanded into a tree,
so no view can take longer than a few passes over the DAG.

Width: the plain forms fit `shutil.get_terminal_size()` (80 columns when there is
no terminal). A Hessian whose matrix does not fit, or has more than MAX_SHOWN
rows, is shown as the list of its distinct entries and its sparsity pattern.

HTML is presentation MathML (browsers render it natively: JupyterLab, and an
HTML export opened offline); `_repr_latex_` stays for LaTeX exporters.

Verdicts at a point (`hessian.at`): the Hessian's curvature ("positive definite:
locally convex") unless the gradient is ≈ 0 there, and only then "minimum",
"maximum" or "saddle", with |∇f| shown. ≈ 0 means
|∇f| <= sqrt(eps) * max(1, |f|, |H| |x|): the gradient is below the rounding
error of its own terms (|H| |x| is their scale) with a wide margin.
"""

from __future__ import annotations

import functools

import html
import shutil
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from symgrad.graph import Node
from symgrad.views_graph import _count
from symgrad.repl import (
    MAX_PATTERN,
    MAX_SHOWN,
    classify,
    eigenvalues_of,
    format_number,
    head,
    latex_head,
    latex_text,
    matrix_lines,
    numbers_text,
    point_text,
    text_block,
)
from symgrad.views_expr import LATEX, MATHML, TEXT, Listing, Style, where_lines, wrap

if TYPE_CHECKING:
    from symgrad.compiled import Compiled
    from symgrad.program import Function

_ROW_BREAK = r" \\ "
MAX_DEFINITIONS = 24  # where-lines shown before the middle is elided
MAX_ENTRIES = 40  # distinct Hessian entries listed before the rest is elided

CURVATURE = {
    "minimum": "positive definite: locally convex",
    "maximum": "negative definite: locally concave",
    "saddle": "indefinite: curving up in some directions, down in others",
    "degenerate": "singular (a zero eigenvalue; semidefinite at best)",
    "undefined": "undefined: the Hessian is not finite here",
}
STATIONARY = {
    "minimum": "minimum: positive definite",
    "maximum": "maximum: negative definite",
    "saddle": "saddle: indefinite",
    "degenerate": "degenerate: singular (a zero eigenvalue; semidefinite at best)",
    "undefined": "undefined: the Hessian is not finite here",
}


def terminal_width() -> int:
    """The terminal's width in columns (COLUMNS, else the tty, else 80)."""
    return max(shutil.get_terminal_size((80, 24)).columns, 40)


def sources(compiled: Compiled) -> dict[Node, str]:
    """Source names of intermediates: the file's, else a traced function's locals."""
    if compiled.names:
        return compiled.names
    from symgrad.views_trace import traced_locals

    return traced_locals(compiled)


def _fit(lines: Sequence[str], width: int) -> list[str]:
    """Lines wrapped to width, continuations indented past the `=`."""
    out: list[str] = []
    for line in lines:
        equals = line.find(" = ")
        indent = equals + 3 if 0 <= equals < width // 3 else 4
        out += wrap(line, width, indent)
    return out


def _definitions(listing: Listing, style: Style, full: bool = False) -> list[str]:
    limit = None if full else MAX_DEFINITIONS
    return where_lines(listing.definitions(style), limit)


def _html(title: str, rows: Sequence[tuple[str, str]], notes: Sequence[str]) -> str:
    """A titled block of MathML rows `label = formula` and plain notes."""
    body = "".join(
        f"<mtr><mtd columnalign='right' style='text-align:right'>{label}</mtd><mtd><mo>=</mo></mtd>"
        f"<mtd columnalign='left' style='text-align:left'>{formula}</mtd></mtr>"
        for label, formula in rows
    )
    math = f'<math display="block"><mtable>{body}</mtable></math>' if rows else ""
    text = "".join(f"<p>{html.escape(n)}</p>" for n in notes)
    return f'<div class="symgrad"><p>{html.escape(title)}</p>{math}{text}</div>'


def _mathml_partial(function: str, wrt: Sequence[str]) -> str:
    """∂f/∂x (or ∂²f/∂x∂y) as a MathML fraction."""
    order = "" if len(wrt) == 1 else f"<mn>{len(wrt)}</mn>"
    if len(wrt) == 2 and wrt[0] == wrt[1]:
        den = f"<mrow><mo>∂</mo><msup>{MATHML.name(wrt[0])}<mn>2</mn></msup></mrow>"
    else:
        den = "<mrow>" + "".join(f"<mo>∂</mo>{MATHML.name(w)}" for w in wrt) + "</mrow>"
    num = f"<mrow><msup><mo>∂</mo>{order}</msup>{MATHML.name(function)}</mrow>"
    if not order:
        num = f"<mrow><mo>∂</mo>{MATHML.name(function)}</mrow>"
    return f"<mfrac>{num}{den}</mfrac>"


def _latex_partial(function: str, wrt: Sequence[str]) -> str:
    f = LATEX.name(function)
    if len(wrt) == 1:
        return rf"\frac{{\partial {f}}}{{\partial {LATEX.name(wrt[0])}}}"
    if wrt[0] == wrt[1]:
        return rf"\frac{{\partial^2 {f}}}{{\partial {{{LATEX.name(wrt[0])}}}^2}}"
    den = r" \partial ".join(LATEX.name(w) for w in wrt)
    return rf"\frac{{\partial^2 {f}}}{{\partial {den}}}"


def _latex_where(listing: Listing) -> list[str]:
    defs = listing.definitions(LATEX)
    if len(defs) > MAX_DEFINITIONS:
        half = MAX_DEFINITIONS // 2
        hidden = len(defs) - 2 * half
        defs = defs[:half] + [(r"\vdots", rf"\text{{({hidden} more)}}")] + defs[-half:]
    rows = [rf"{name} &=& {text}" for name, text in defs]
    return ([r"\text{where} && "] if rows else []) + rows


def _html_where(listing: Listing) -> list[tuple[str, str]]:
    defs = listing.definitions(MATHML)
    if len(defs) > MAX_DEFINITIONS:
        half = MAX_DEFINITIONS // 2
        hidden = len(defs) - 2 * half
        more = (f"<mo>⋮</mo>", f"<mtext>({hidden} more definitions)</mtext>")
        defs = defs[:half] + [more] + defs[-half:]
    return [
        (f"<mtext>where</mtext><mspace width='0.5em'/>{name}", text)
        for name, text in defs
    ]


# ---------------------------------------------------------------------------
# Gradient.


def _is_array(function) -> bool:
    """A function of array parameters (or with an array value)."""
    return bool(function.shapes) or bool(function.body.shape)


# A Hessian's closed form longer than this many lines (a network's matrix
# parameters) is not shown: the gradient is, with a note.
MAX_HESSIAN_LINES = 24


def _array_lines(compiled: Compiled, hessian: bool = False) -> list[str]:
    """An array function's gradient (or Hessian blocks) in matrix notation."""
    from symgrad.array_show import describe, describe_hessian, signature_line

    lines = []
    if hessian:
        lines = describe_hessian(compiled.function, compiled.names)
        if len(lines) > MAX_HESSIAN_LINES:
            count = sum(line.startswith("  ∂²") for line in lines)
            note = f"  (the Hessian's {count} blocks take {len(lines)} lines: call it)"
            lines = describe(compiled.function, compiled.names)[:-1] + [note, ""]
    if not lines:
        lines = describe(compiled.function, compiled.names)
    if hasattr(compiled, "__wrapped__"):  # a decorated function: its signature
        lines[0] = signature_line(compiled.function)
    return lines


def _array_text(compiled: Compiled, hessian: bool = False) -> str:
    """An array function's derivatives in matrix notation, as text."""
    return "\n".join(_array_lines(compiled, hessian)).rstrip()


def _array_latex(compiled: Compiled, hessian: bool = False) -> str:
    """An array function's derivatives in matrix notation, as LaTeX."""
    from symgrad.array_show import latex

    return latex(_array_lines(compiled, hessian))


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
        self._listing: Listing | None = None

    def at(self, *args, **kwargs) -> GradientAt:
        """The gradient at a point, labelled, with its norm."""
        point = self._compiled._arguments(args, kwargs)
        return GradientAt(self.function, point, self(*point))

    @property
    def function(self) -> Function:
        """The lowered function."""
        return self._compiled.function

    def listing(self) -> Listing:
        """The shown partials (at most MAX_SHOWN) as one listing of the graph."""
        if self._listing is None:
            d = self._compiled.derivatives
            roots = d.gradient[:MAX_SHOWN]
            self._listing = Listing.of(roots, sources(self._compiled), d.hints)
        return self._listing

    def labels(self) -> list[str]:
        """`∂f/∂x` for each shown parameter."""
        name = self.function.name
        return [f"∂{name}/∂{p}" for p in self.function.params[:MAX_SHOWN]]

    def _note(self) -> list[str]:
        n = len(self.function.params)
        return [f"{n} partials, showing the first {MAX_SHOWN}"] if n > MAX_SHOWN else []

    def text(self, width: int | None = None, full: bool = True) -> str:
        """The plain form; every definition unless full=False."""
        if _is_array(self.function):
            return _array_text(self._compiled)
        if not self.function.params:
            return f"∇{head(self.function)}: no differentiated parameters"
        listing = self.listing()
        labels = self.labels()
        pad = max(len(label) for label in labels)
        lines = [
            f"  {label:<{pad}} = {listing.root(i)}" for i, label in enumerate(labels)
        ]
        lines += _definitions(listing, TEXT, full) + self._note()
        return "\n".join(
            [f"∇{head(self.function)} ="] + _fit(lines, width or terminal_width())
        )

    def __repr__(self) -> str:
        return self.text(full=False)

    def _repr_latex_(self) -> str | None:
        if _is_array(self.function):
            return _array_latex(self._compiled)
        if not self.function.params:
            return rf"$\text{{{latex_text(repr(self))}}}$"
        listing = self.listing()
        name = self.function.name
        rows = [
            rf"{_latex_partial(name, [p])} &=& {listing.root(i, LATEX)}"
            for i, p in enumerate(self.function.params[:MAX_SHOWN])
        ] + _latex_where(listing)
        notes = "".join(rf"\quad\text{{{latex_text(n)}}}" for n in self._note())
        return (
            rf"$\displaystyle \nabla {latex_head(self.function)}:\quad "
            rf"\begin{{array}}{{rcl}} {_ROW_BREAK.join(rows)} \end{{array}}{notes}$"
        )

    def _repr_html_(self) -> str:
        if _is_array(self.function):
            return f"<pre>{html.escape(repr(self))}</pre>"
        title = f"∇{head(self.function)}"
        if not self.function.params:
            return _html(repr(self), [], [])
        listing = self.listing()
        name = self.function.name
        rows = [
            (_mathml_partial(name, [p]), listing.root(i, MATHML))
            for i, p in enumerate(self.function.params[:MAX_SHOWN])
        ]
        return _html(title, rows + _html_where(listing), self._note())


class GradientAt:
    """The gradient evaluated at one point: labelled partials and the norm."""

    def __init__(self, function: Function, point: Sequence[object], grad: object):
        self.function = function
        self.point = tuple(point)
        self.values = tuple(np.asarray(g) for g in grad)

    @property
    def norm(self) -> object:
        """|∇f| (over the partials; elementwise for a batch; every entry for arrays)."""
        if _is_array(self.function):  # one gradient: all entries of all partials
            return float(np.sqrt(sum(np.sum(np.square(v)) for v in self.values)))
        return np.sqrt(sum(np.square(v) for v in self.values))

    def _rows(self) -> list[tuple[str, str]]:
        name, params = self.function.name, self.function.params
        rows = [
            (f"∂{name}/∂{p}", format_number(v)) for p, v in zip(params, self.values)
        ]
        if len(rows) > MAX_SHOWN:
            rows = rows[: MAX_SHOWN - 1] + [("⋮", "")] + rows[-1:]
        return rows + [(f"|∇{name}|", format_number(self.norm))]

    def _title(self) -> str:
        return f"∇{head(self.function)} at {point_text(self.function, self.point)}"

    def __repr__(self) -> str:
        rows = self._rows()
        pad = max(len(label) for label, _ in rows)
        lines = [f"  {a:<{pad}} = {b}" if b else f"  {a}" for a, b in rows]
        return "\n".join(_fit([f"{self._title()}:"] + lines, terminal_width()))

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th>{html.escape(a)}</th><td>{html.escape(b)}</td></tr>"
            for a, b in self._rows()
        )
        title = html.escape(self._title())
        return f'<div class="symgrad"><p>{title}</p><table>{rows}</table></div>'


# ---------------------------------------------------------------------------
# Hessian.


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
        self._listing: Listing | None = None

    def eigenvalues(self, *args, **kwargs) -> np.ndarray:
        """The Hessian's eigenvalues at a point, ascending (shape batch + (n,))."""
        return eigenvalues_of(self(*args, **kwargs))

    def definiteness(self, *args, **kwargs) -> object:
        """'minimum', 'maximum', 'saddle' or 'degenerate' (the eigenvalues' signs)."""
        return classify(self.eigenvalues(*args, **kwargs))

    def at(self, *args, **kwargs) -> HessianAt:
        """The evaluated Hessian with labels, eigen-decomposition and a true verdict."""
        compiled = self._compiled
        point = compiled._arguments(args, kwargs)
        value, grad = compiled.value_and_grad(*point)
        return HessianAt(self.function, point, self(*point), grad, value)

    @property
    def function(self) -> Function:
        """The lowered function."""
        return self._compiled.function

    @property
    def n(self) -> int:
        """The number of differentiated parameters."""
        return len(self.function.params)

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
        """The note under the matrix: symmetry, structure, structural zeros."""
        n, zeros = self.n, self.zeros()
        structure = self.structure()
        parts = ["symmetric"] + ([structure] if structure not in ("", "zero") else [])
        if zeros == n * n:
            parts = ["symmetric", f"all {_count(n * n, 'entry')} structurally zero"]
        elif zeros:
            parts.append(f"{zeros} of {n * n} entries structurally zero")
        else:
            parts.append("dense: no structural zeros")
        return ["; ".join(parts)]

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

    def groups(self) -> list[tuple[list[tuple[int, int]], Node]]:
        """The distinct entries of the upper triangle: (positions, node), row order."""
        found: dict[Node, list[tuple[int, int]]] = {}
        stored = self._compiled.derivatives.hessian
        for key in sorted(stored):
            found.setdefault(stored[key], []).append(key)
        return [(keys, node) for node, keys in found.items()]

    def listing(self) -> Listing:
        """The shown distinct entries as one listing of the graph."""
        if self._listing is None:
            roots = [node for _, node in self.groups()[:MAX_ENTRIES]]
            d = self._compiled.derivatives
            self._listing = Listing.of(roots, sources(self._compiled), d.hints)
        return self._listing

    def label(self, i: int, j: int) -> str:
        """`∂²f/∂x∂y`, or `∂²f/∂x²` on the diagonal."""
        f, p = self.function.name, self.function.params
        return f"∂²{f}/∂{p[i]}²" if i == j else f"∂²{f}/∂{p[i]}∂{p[j]}"

    def _group_label(self, keys: list[tuple[int, int]]) -> str:
        labels = [self.label(i, j) for i, j in keys]
        if len(labels) > 3:
            return f"{labels[0]}, … {labels[-1]} ({len(labels)} entries)"
        return ", ".join(labels)

    def _matrix_text(self, width: int) -> list[str] | None:
        """The symbolic matrix, when every entry is one short line and it fits."""
        if self.n > MAX_SHOWN:
            return None
        listing = Listing.of(
            [node for _, node in self.groups()],
            sources(self._compiled),
            self._compiled.derivatives.hints,
        )
        index = {node: k for k, (_, node) in enumerate(self.groups())}
        stored = self._compiled.derivatives.hessian
        names = list(self.function.params)
        cells = []
        for i in range(self.n):
            row = []
            for j in range(self.n):
                node = stored.get((min(i, j), max(i, j)))
                text = "0" if node is None else _cell(listing, index[node])
                row.append(text_block(text))
            cells.append(row)
        lines = matrix_lines(names, names, cells)
        lines += where_lines(listing.definitions(TEXT, roots=True), MAX_DEFINITIONS)
        if max(len(line) for line in lines) > width:
            return None
        return lines

    def _list_text(self, width: int, full: bool) -> list[str]:
        listing = self.listing()
        groups = self.groups()
        rows = [(self._group_label(keys), k) for k, (keys, _) in enumerate(groups)]
        rows = rows[:MAX_ENTRIES]
        pad = min(max((len(label) for label, _ in rows), default=0), width // 3)
        lines = [f"  {label:<{pad}} = {listing.root(k)}" for label, k in rows]
        if len(groups) > MAX_ENTRIES:
            lines.append(f"  ⋮ ({len(groups) - MAX_ENTRIES} more distinct entries)")
        lines += _definitions(listing, TEXT, full)
        return _fit(lines, width)

    def text(self, width: int | None = None, full: bool = True) -> str:
        """The plain form at a width: the matrix if it fits, else the entry list."""
        if _is_array(self.function):
            return _array_text(self._compiled, hessian=True)
        if not self.n:
            return f"∇²{head(self.function)}: no differentiated parameters"
        width = width or terminal_width()
        title = f"∇²{head(self.function)} ="
        matrix = self._matrix_text(width)
        if matrix is None:
            n = self.n
            note = f"  ({n}×{n}; each distinct entry of the upper triangle once)"
            matrix = [note] + self._list_text(width, full)
        lines = [title] + matrix + self.notes() + self.pattern()
        return "\n".join(_fit(lines, width))

    def __repr__(self) -> str:
        return self.text(full=False)

    def _entries(self, style: Style) -> list[tuple[list[tuple[int, int]], str]]:
        listing = self.listing()
        return [
            (keys, listing.root(k, style))
            for k, (keys, _) in enumerate(self.groups()[:MAX_ENTRIES])
        ]

    def _repr_latex_(self) -> str | None:
        if _is_array(self.function):
            return _array_latex(self._compiled, hessian=True)
        if not self.n:
            return rf"$\text{{{latex_text(repr(self))}}}$"
        f, p = self.function.name, self.function.params
        rows = [
            rf"{_latex_partial(f, [p[keys[0][0]], p[keys[0][1]]])} &=& {text}"
            for keys, text in self._entries(LATEX)
        ] + _latex_where(self.listing())
        notes = "".join(rf"\quad\text{{{latex_text(n)}}}" for n in self.notes())
        return (
            rf"$\displaystyle \nabla^2 {latex_head(self.function)}:\quad "
            rf"\begin{{array}}{{rcl}} {_ROW_BREAK.join(rows)} \end{{array}}{notes}$"
        )

    def _repr_html_(self) -> str:
        if _is_array(self.function):
            return f"<pre>{html.escape(repr(self))}</pre>"
        title = f"∇²{head(self.function)}"
        if not self.n:
            return _html(repr(self), [], [])
        f, p = self.function.name, self.function.params
        rows = [
            (_mathml_partial(f, [p[keys[0][0]], p[keys[0][1]]]), text)
            for keys, text in self._entries(MATHML)
        ]
        matrix = self._html_matrix() if self.n <= MAX_SHOWN else ""
        body = _html(title, rows + _html_where(self.listing()), self.notes())
        return body.replace("</p>", "</p>" + matrix, 1)

    def _html_matrix(self) -> str:
        """The matrix of entry names (E₁, E₂, ...) as MathML: the layout at a glance."""
        listing = self.listing()
        index = {node: k for k, (_, node) in enumerate(self.groups()[:MAX_ENTRIES])}
        stored = self._compiled.derivatives.hessian
        names = list(self.function.params)
        header = (
            "<mtr><mtd></mtd>"
            + "".join(f"<mtd>{MATHML.name(n)}</mtd>" for n in names)
            + "</mtr>"
        )
        rows = []
        for i in range(self.n):
            cells = []
            for j in range(self.n):
                node = stored.get((min(i, j), max(i, j)))
                if node is None or node not in index:
                    cells.append("<mtd><mn>0</mn></mtd>")
                else:
                    cells.append(f"<mtd>{_short_mathml(listing, index[node])}</mtd>")
            rows.append(
                f"<mtr><mtd>{MATHML.name(names[i])}</mtd>{''.join(cells)}</mtr>"
            )
        return (
            '<math display="block" class="symgrad-matrix"><mtable>'
            f"{header}{''.join(rows)}</mtable></math>"
        )


def _cell(listing: Listing, k: int) -> str:
    """A matrix cell: the entry's formula (a named root shows its name)."""
    node = listing.roots[k]
    if node in listing.naming.names:
        return listing.naming.names[node]
    return listing.render(TEXT)(node)


def _short_mathml(listing: Listing, k: int) -> str:
    node = listing.roots[k]
    if node in listing.naming.names:
        return MATHML.name(listing.naming.names[node])
    return listing.render(MATHML)(node)


# ---------------------------------------------------------------------------
# The Hessian at a point.


def stationary(
    grad_norm: float, value: float, hessian: np.ndarray, point: Sequence
) -> bool:
    """|∇f| ≈ 0 at the point (see the module doc for the tolerance)."""
    flat = [np.asarray(v, dtype=float) for v in point]
    x_norm = float(np.sqrt(sum(float(np.sum(np.square(v))) for v in flat)))
    h_norm = float(np.max(np.abs(hessian))) * hessian.shape[-1] if hessian.size else 0.0
    scale = max(1.0, abs(value), h_norm * x_norm)
    return grad_norm <= np.sqrt(np.finfo(np.float64).eps) * scale


class HessianAt:
    """The Hessian at one point: labelled matrix, eigen-decomposition and a verdict."""

    def __init__(
        self,
        function: Function,
        point: Sequence[object],
        matrix: object,
        grad: Sequence[object] | None = None,
        value: object = None,
    ):
        self.function = function
        self.point = tuple(point)
        self.matrix = np.asarray(matrix)
        self.eigenvalues = eigenvalues_of(self.matrix)
        self.definiteness = classify(self.eigenvalues)
        self.grad = None if grad is None else tuple(np.asarray(g) for g in grad)
        self.value = value

    @property
    def grad_norm(self) -> float | None:
        """|∇f| at the point (None when not given)."""
        if self.grad is None:
            return None
        return float(np.sqrt(sum(float(np.sum(np.square(g))) for g in self.grad)))

    @property
    def is_stationary(self) -> bool:
        """True when the gradient is ≈ 0 at the point."""
        norm = self.grad_norm
        if norm is None or self.matrix.ndim > 2:
            return False
        value = float(np.asarray(self.value)) if self.value is not None else 0.0
        params = self.point[: len(self.function.params)]
        return stationary(norm, value, self.matrix, params)

    @property
    def verdict(self) -> str:
        """Curvature, or the kind of stationary point when |∇f| ≈ 0."""
        if self.matrix.ndim > 2:
            return ""
        kind = str(self.definiteness)
        norm = self.grad_norm
        if norm is None:
            return CURVATURE[kind]
        size = f"|∇{self.function.name}| = {format_number(norm)}"
        if self.is_stationary:
            return f"{STATIONARY[kind]}\nstationary: {size}"
        return f"{CURVATURE[kind]}\nnot stationary: {size}"

    @property
    def eigenvectors(self) -> np.ndarray | None:
        """Unit eigenvectors as columns, in the eigenvalues' order (None if not finite)."""
        if self.matrix.ndim > 2 or not np.all(np.isfinite(self.matrix)):
            return None
        return np.linalg.eigh(self.matrix)[1]

    @property
    def condition(self) -> float:
        """The 2-norm condition number max|λ|/min|λ| (inf when singular)."""
        eig = np.abs(np.asarray(self.eigenvalues, dtype=float))
        if eig.size == 0 or not np.all(np.isfinite(eig)):
            return float("nan")
        low = float(eig.min())
        return float("inf") if low == 0 else float(eig.max()) / low

    def _title(self) -> str:
        where = point_text(self.function, self.point)
        if self.matrix.ndim > 2:
            where = f"a batch of shape {self.matrix.shape[:-2]}"
        return f"∇²{head(self.function)} at {where}"

    def _matrix_lines(self, k: int) -> list[str]:
        """The labelled numeric matrix, its first k rows and columns."""
        n = self.matrix.shape[-1]
        names = list(self.function.params[:k])
        cells = [
            [text_block(format_number(self.matrix[i, j])) for j in range(k)]
            for i in range(k)
        ]
        rows, cols = list(names), list(names)
        if n > k:
            for row in cells:
                row.append(text_block("…"))
            cells.append([text_block("⋮")] * k + [text_block("⋱")])
            rows.append("⋮")
            cols.append("…")
        return matrix_lines(rows, cols, cells, "right")

    def _fitted_matrix(self, width: int) -> tuple[int, list[str]]:
        """(k, lines): the most rows and columns (at most MAX_SHOWN) that fit width."""
        k = min(self.matrix.shape[-1], MAX_SHOWN)
        lines = self._matrix_lines(k)
        while k > 1 and max(len(line) for line in lines) > width:
            k -= 1
            lines = self._matrix_lines(k)
        return k, lines

    def _eigen_lines(self) -> list[str]:
        lines = ["eigenvalues: " + numbers_text(self.eigenvalues)]
        n = self.matrix.shape[-1]
        vectors = self.eigenvectors if n <= 4 else None  # a few short lines only
        if vectors is not None:
            for k in range(n):
                vec = ", ".join(
                    format_number(round(float(c), 6) + 0.0) for c in vectors[:, k]
                )
                lines.append(f"  λ = {format_number(self.eigenvalues[k])}: ({vec})")
        lines.append(f"condition number: {format_number(self.condition)}")
        return lines

    def lines(self, width: int | None = None) -> list[str]:
        """The plain form's lines, the matrix cut to fit width."""
        if self.matrix.ndim > 2:
            return [f"{self._title()}:", f"eigenvalues:\n{self.eigenvalues}"] + [
                f"definiteness:\n{self.definiteness}"
            ]
        n = self.matrix.shape[-1]
        k, matrix = self._fitted_matrix(width or terminal_width())
        lines = [f"{self._title()}:"] + matrix
        if n > k:
            lines.append(f"{n}×{n}, showing {k}×{k}")
        return lines + self._eigen_lines() + self.verdict.splitlines()

    def __repr__(self) -> str:
        width = terminal_width()
        return "\n".join(_fit(self.lines(width), width))

    def _repr_html_(self) -> str:
        lines = self.lines()
        if self.matrix.ndim > 2:
            return f"<pre>{html.escape(chr(10).join(lines))}</pre>"
        n = min(self.matrix.shape[-1], MAX_SHOWN)
        names = list(self.function.params[:n])
        header = "<mtr><mtd></mtd>" + "".join(
            f"<mtd>{MATHML.name(p)}</mtd>" for p in names
        )
        rows = [header + "</mtr>"] + [
            f"<mtr><mtd>{MATHML.name(names[i])}</mtd>"
            + "".join(
                f"<mtd columnalign='right' style='text-align:right'>{_mathml_number(self.matrix[i, j])}</mtd>"
                for j in range(n)
            )
            + "</mtr>"
            for i in range(n)
        ]
        matrix = (
            '<math display="block" class="symgrad-matrix">'
            f"<mtable>{''.join(rows)}</mtable></math>"
        )
        notes = self._eigen_lines() + self.verdict.splitlines()
        text = "".join(f"<p>{html.escape(line)}</p>" for line in notes)
        title = html.escape(self._title())
        return f'<div class="symgrad"><p>{title}</p>{matrix}{text}</div>'


def _mathml_number(value: object) -> str:
    """A number as MathML, a minus sign as an operator."""
    text = format_number(value)
    if text.startswith("-"):
        return f"<mrow><mo>−</mo><mn>{html.escape(text[1:])}</mn></mrow>"
    return f"<mn>{html.escape(text)}</mn>"


# ---------------------------------------------------------------------------
# symgrad.diff(...): one derivative of any order.


def _derivative_listing(d) -> Listing:
    return Listing.of([d.node])


def _derivative_head(d) -> str:
    if d.order == 1:
        return f"d/d{d.variable} {d.expression}"
    sup = str(d.order).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"d{sup}/d{d.variable}{sup} {d.expression}"


def derivative_text(d, width: int | None = None, full: bool = True) -> str:
    """The plain form of a Derivative: its formula and where-definitions."""
    listing = _derivative_listing(d)
    lines = [f"  = {listing.root(0)}"] + _definitions(listing, TEXT, full)
    size = f"({listing.size} graph nodes)"
    return "\n".join(
        [f"{_derivative_head(d)}  {size}"] + _fit(lines, width or terminal_width())
    )


def derivative_latex(d) -> str:
    """The LaTeX form of a Derivative."""
    listing = _derivative_listing(d)
    order = "" if d.order == 1 else f"^{{{d.order}}}"
    var = LATEX.name(d.variable)
    lhs = rf"\frac{{d{order}}}{{d{var}{order}}}"
    rows = [rf"{lhs} &=& {listing.root(0, LATEX)}"] + _latex_where(listing)
    return (
        rf"$\displaystyle \begin{{array}}{{rcl}} {_ROW_BREAK.join(rows)} \end{{array}}$"
    )


def derivative_html(d) -> str:
    """The MathML form of a Derivative."""
    listing = _derivative_listing(d)
    order = "" if d.order == 1 else f"<mn>{d.order}</mn>"
    var = MATHML.name(d.variable)
    num = f"<msup><mi>d</mi>{order}</msup>" if order else "<mi>d</mi>"
    den = (
        f"<mrow><mi>d</mi><msup>{var}{order}</msup></mrow>"
        if order
        else (f"<mrow><mi>d</mi>{var}</mrow>")
    )
    rows = [(f"<mfrac>{num}{den}</mfrac>", listing.root(0, MATHML))]
    return _html(_derivative_head(d), rows + _html_where(listing), [])
