"""Shared pieces of the REPL and notebook views, and the second-derivative test.

The views themselves: `symgrad.views` (f.grad, f.hessian, their `.at(...)`,
symgrad.diff), `symgrad.views_graph` (f.graph, DOT, SVG), `symgrad.views_backward`
(f.graph.backward()), all printing formulas through `symgrad.views_expr`. This
module keeps what they share: heads (`f(x, y; data)`), number formatting,
labelled text matrices, the definition's LaTeX and HTML, `classify` and
`to_sympy` (interop; sympy is imported only when asked).

Display limits: at most MAX_SHOWN (12) rows and columns of a gradient or Hessian;
the sparsity pattern grid for n <= MAX_PATTERN (20).

Definiteness (the second-derivative test at a point): an eigenvalue counts as
zero when |λ| <= rtol * max|λ|, with rtol = 100 * n * eps of the Hessian's dtype
(about the eigen-solver's rounding error, with a safety factor). Then
"saddle" if eigenvalues of both signs remain (even when some are zero), else
"degenerate" if any is zero (singular, at best semidefinite), else "minimum"
(positive definite) or "maximum" (negative definite); "undefined" when the
Hessian is not finite. `classify(eigenvalues, rtol)` applies another tolerance.
These words name the eigenvalues' signs; `hessian.at(...)` says "minimum" only
where the gradient vanishes (see symgrad.views).
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from symgrad.graph import Node

if TYPE_CHECKING:
    import sympy

    from symgrad.compiled import Compiled
    from symgrad.program import Function

__all__ = [
    "SympyForm",
    "classify",
    "latex_definition",
    "to_sympy",
]

MAX_SHOWN = 12
MAX_PATTERN = 20

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
# sympy forms.


class SympyForm(NamedTuple):
    """A function as sympy: expression, gradient column and symmetric Hessian."""

    expression: sympy.Expr
    gradient: sympy.Matrix
    hessian: sympy.Matrix


def to_sympy(obj: object) -> object:
    """sympy of a node; of a function (expression, gradient, Hessian); of a view."""
    # sympy is imported here: a view never needs it (it takes ~0.5 s to import)
    from symgrad import sympy_bridge

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
    import sympy

    from symgrad import sympy_bridge

    d, n = compiled.derivatives, len(compiled.function.params)
    keys = sorted(d.hessian)
    nodes = [compiled.function.body, *d.gradient, *(d.hessian[k] for k in keys)]
    exprs = sympy_bridge.to_sympy_many(nodes)
    hessian = sympy.zeros(n, n)
    for (i, j), e in zip(keys, exprs[1 + n :]):
        hessian[i, j] = hessian[j, i] = e
    return SympyForm(exprs[0], sympy.Matrix(n, 1, exprs[1 : 1 + n]), hessian)


# The graph views lived here; existing imports still find them (looked up lazily:
# symgrad.views_graph imports this module).
_MOVED = {"MAX_GRAPH_LINES", "GraphAt", "GraphView", "dot_quote", "graph_dot"}
_MOVED |= {"html_table"}


def __getattr__(name: str):
    """The graph views' names, from symgrad.views_graph."""
    if name in _MOVED:
        from symgrad import views_graph

        return getattr(views_graph, name)
    raise AttributeError(f"module 'symgrad.repl' has no attribute {name!r}")
