"""Formulas from symgrad's own graph, in text, LaTeX and MathML, bounded by the DAG.

A set of roots (a gradient, a Hessian's entries, a body) is printed straight from
the interned graph, never expanded into a tree. Each node is either inlined where
it is used or *named* and defined once in a `where` list, as jaxpr and
MatrixCalculus.org do:

- a node with a source name (an intermediate `u = b*c` of a file, a traced
  local `p = sigmoid(...)`) keeps its name;
- a shared node (used more than once) is named when its inline form would have
  more than SHARE_MAX operations: small shared terms (`w x + b`) read better inline;
- any node whose inline form would exceed TERM_MAX operations has its largest
  inline arguments named, so every printed line is bounded.

So the printed text is O(DAG nodes): each node is written once, or inline at
most SHARE_MAX operations at each of its uses; and the recursion depth of the
renderers is at most TERM_MAX. Names are the source's, then the adjoint hints
(`db`), then t₁, t₂, ... (subscripts, which no source identifier can contain).

Spellings follow the expression language: σ for sigmoid, `softplus`, `relu`,
`log1p`, the graph's argument order (the user's term order where the graph has
it), `^` (or superscript digits) for powers; relu's derivative `step(u)` is the
Iverson bracket `[u > 0]`.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from symgrad.graph import Node, toposort
from symgrad.ops import OPS

SHARE_MAX = 12  # a shared node of at most this many ops is written inline
TERM_MAX = 40  # no printed formula holds more ops than this

# Binding strength of a printed form: parentheses go where a weaker form is
# written inside a stronger one.
CMP, ADD, MUL, NEG, POW, ATOM = 0, 1, 2, 3, 4, 5

_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_COMPARE = {"lt": "<", "le": "≤", "gt": ">", "ge": "≥"}
_COMPARE_ASCII = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}


@dataclass
class Naming:
    """Which nodes of a listing are named, and their names."""

    names: dict[Node, str] = field(default_factory=dict)
    order: list[Node] = field(default_factory=list)  # named nodes, args first
    cost: dict[Node, int] = field(default_factory=dict)  # ops printed inline


def _uses(order: Sequence[Node], roots: Sequence[Node]) -> dict[Node, int]:
    uses: dict[Node, int] = {}
    for node in order:
        for arg in node.args:
            uses[arg] = uses.get(arg, 0) + 1
    for root in roots:
        uses[root] = uses.get(root, 0) + 1
    return uses


class _Names:
    """Fresh display names: source names, hints, then t₁, t₂, ... never twice."""

    def __init__(self, taken: Iterable[str], ascii_only: bool):
        self.taken = set(taken)
        self.ascii_only = ascii_only
        self.counter = 0

    def claim(self, wanted: str | None) -> str:
        """wanted if free, else the next t-name."""
        if wanted and wanted not in self.taken:
            self.taken.add(wanted)
            return wanted
        while True:
            self.counter += 1
            digits = str(self.counter)
            name = "t" + (digits if self.ascii_only else digits.translate(_SUBSCRIPT))
            if name not in self.taken:
                self.taken.add(name)
                return name


def name_nodes(
    roots: Sequence[Node],
    sources: dict[Node, str] | None = None,
    hints: dict[Node, str] | None = None,
    ascii_only: bool = False,
) -> Naming:
    """Decide which nodes reachable from roots are named (see the module doc)."""
    sources, hints = sources or {}, hints or {}
    order = toposort(roots)
    uses = _uses(order, roots)
    taken = [n.attrs[0] for n in order if n.op == "var"]
    taken += [sources[n] for n in order if n in sources]
    fresh = _Names(taken, ascii_only)
    naming = Naming()
    named: set[Node] = set()
    for node in order:
        if not node.args:
            naming.cost[node] = 0
            continue
        inline = [a for a in node.args if a not in named]
        cost = 1 + sum(naming.cost[a] for a in inline)
        while cost > TERM_MAX and inline:  # name the biggest arguments first
            big = max(inline, key=lambda a: naming.cost[a])
            named.add(big)
            inline.remove(big)
            cost -= naming.cost[big]
        naming.cost[node] = cost
        if node in sources or (uses.get(node, 0) > 1 and cost > SHARE_MAX):
            named.add(node)
    used_sources = set()
    for node in order:
        if node in named:
            wanted = sources.get(node) or hints.get(node)
            if node in sources and wanted not in used_sources:
                used_sources.add(wanted)
                fresh.taken.discard(wanted)
            naming.names[node] = fresh.claim(wanted)
            naming.order.append(node)
    return naming


# ---------------------------------------------------------------------------
# Numbers and names.


def number_text(value: float) -> str:
    """A constant as the language writes it: 3, 0.5, 1e-20, inf."""
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


_NAME_DIGITS = re.compile(r"^([A-Za-z]+)_?(\d+)$")


class Style:
    """How one output format writes atoms and composite forms (plain text here)."""

    ascii_only = False
    times = " "

    def name(self, text: str) -> str:
        return text

    def number(self, value: float) -> str:
        return number_text(value)

    def minus(self) -> str:
        return "−"

    def equals(self) -> str:
        return "="

    def infix(self, left: str, op: str, right: str) -> str:
        return f"{left} {op} {right}"

    def product(self, left: str, right: str) -> str:
        # juxtaposition reads as math (x y); a dot where two numbers would touch
        sep = "⋅" if right[:1].isdigit() or right[:1] == "." else self.times
        return f"{left}{sep}{right}"

    def fraction(self, num: str, den: str) -> str:
        return f"{num}/{den}"

    def power(self, base: str, exponent: str, small: int | None) -> str:
        if small is not None:
            return base + str(small).translate(_SUPERSCRIPT)
        return f"{base}^{exponent}"

    def paren(self, text: str) -> str:
        return f"({text})"

    def negate(self, text: str) -> str:
        return f"{self.minus()}{text}"

    def call(self, op: str, args: list[str]) -> str:
        if op == "sigmoid":
            return f"σ({args[0]})"
        if op == "abs":
            return f"|{args[0]}|"
        if op == "step":
            return f"[{args[0]} > 0]"
        return f"{OPS[op].callable_as or op}({', '.join(args)})"

    def compare(self, op: str) -> str:
        return _COMPARE[op]

    def wants_fraction_parens(self) -> bool:
        return True


class AsciiStyle(Style):
    """The expression language itself (`symgrad show`): `x^2*y`, sigmoid, where."""

    ascii_only = True

    def minus(self) -> str:
        return "-"

    def product(self, left: str, right: str) -> str:
        return f"{left}*{right}"

    def power(self, base: str, exponent: str, small: int | None) -> str:
        return f"{base}^{exponent}"

    def call(self, op: str, args: list[str]) -> str:
        if op == "step":
            return f"where({args[0]} > 0, 1, 0)"
        return f"{OPS[op].callable_as or op}({', '.join(args)})"

    def compare(self, op: str) -> str:
        return _COMPARE_ASCII[op]


class LatexStyle(Style):
    """LaTeX (for LaTeX exporters and MathJax)."""

    def name(self, text: str) -> str:
        return latex_name(text)

    def minus(self) -> str:
        return "-"

    def product(self, left: str, right: str) -> str:
        sep = r" \cdot " if right[:1].isdigit() else r"\, "
        return f"{left}{sep}{right}"

    def fraction(self, num: str, den: str) -> str:
        return rf"\frac{{{num}}}{{{den}}}"

    def power(self, base: str, exponent: str, small: int | None) -> str:
        return f"{{{base}}}^{{{small if small is not None else exponent}}}"

    def paren(self, text: str) -> str:
        return rf"\left({text}\right)"

    def call(self, op: str, args: list[str]) -> str:
        inner = ", ".join(args)
        if op == "sigmoid":
            return rf"\sigma\left({inner}\right)"
        if op == "abs":
            return rf"\left|{inner}\right|"
        if op == "step":
            return rf"\left[{inner} > 0\right]"
        fn = OPS[op].callable_as or op
        known = {"exp", "log", "sin", "cos", "tan", "sinh", "cosh", "tanh"}
        head = "\\" + fn if fn in known else rf"\operatorname{{{fn}}}"
        return rf"{head}\left({inner}\right)"

    def compare(self, op: str) -> str:
        return {"lt": "<", "le": r"\le", "gt": ">", "ge": r"\ge"}[op]

    def wants_fraction_parens(self) -> bool:
        return False


class MathMLStyle(Style):
    """Presentation MathML, which browsers render natively (no MathJax, offline)."""

    def name(self, text: str) -> str:
        return mathml_name(text)

    def number(self, value: float) -> str:
        return f"<mn>{html.escape(number_text(value))}</mn>"

    def minus(self) -> str:
        return "−"  # an operator symbol: infix() puts it in <mo>

    def infix(self, left: str, op: str, right: str) -> str:
        return f"<mrow>{left}<mo>{html.escape(op)}</mo>{right}</mrow>"

    def product(self, left: str, right: str) -> str:
        sep = "<mo>⋅</mo>" if right.startswith("<mn>") else "<mo>&#x2062;</mo>"
        return f"<mrow>{left}{sep}{right}</mrow>"

    def fraction(self, num: str, den: str) -> str:
        return f"<mfrac>{num}{den}</mfrac>"

    def power(self, base: str, exponent: str, small: int | None) -> str:
        exp = f"<mn>{small}</mn>" if small is not None else exponent
        return f"<msup>{base}{exp}</msup>"

    def paren(self, text: str) -> str:
        return (
            f"<mrow><mo stretchy='false'>(</mo>{text}<mo stretchy='false'>)</mo></mrow>"
        )

    def negate(self, text: str) -> str:
        return f"<mrow><mo>−</mo>{text}</mrow>"

    def equals(self) -> str:
        return "<mo>=</mo>"

    def call(self, op: str, args: list[str]) -> str:
        inner = "<mo>,</mo>".join(args)
        if op == "abs":
            return f"<mrow><mo stretchy='false'>|</mo>{inner}<mo stretchy='false'>|</mo></mrow>"
        if op == "step":
            return f"<mrow><mo stretchy='false'>[</mo>{inner}<mo>&gt;</mo><mn>0</mn><mo stretchy='false'>]</mo></mrow>"
        fn = "σ" if op == "sigmoid" else (OPS[op].callable_as or op)
        return (
            f"<mrow><mi>{fn}</mi><mo>&#x2061;</mo>"
            f"<mrow><mo stretchy='false'>(</mo>{inner}<mo stretchy='false'>)</mo></mrow></mrow>"
        )

    def compare(self, op: str) -> str:
        return _COMPARE[op]

    def wants_fraction_parens(self) -> bool:
        return False


TEXT, ASCII, LATEX, MATHML = Style(), AsciiStyle(), LatexStyle(), MathMLStyle()


def latex_name(name: str) -> str:
    """A name in LaTeX: x1 -> x_{1}, t₁ -> t_{1}, loss -> \\mathrm{loss}."""
    plain = name.translate(str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789"))
    match = _NAME_DIGITS.match(plain)
    base, sub = (match.group(1), match.group(2)) if match else (plain, "")
    base = base.replace("_", r"\_")
    base = base if len(base) == 1 else rf"\mathrm{{{base}}}"
    return f"{base}_{{{sub}}}" if sub else base


def mathml_name(name: str) -> str:
    """A name in MathML: x1 -> x with subscript 1, as in the LaTeX form."""
    plain = name.translate(str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789"))
    match = _NAME_DIGITS.match(plain)
    if match:
        base, sub = html.escape(match.group(1)), match.group(2)
        return f"<msub><mi>{base}</mi><mn>{sub}</mn></msub>"
    return f"<mi>{html.escape(plain)}</mi>"


# ---------------------------------------------------------------------------
# The renderer: one node at a time, recursing only into inline arguments.


def _small_int(node: Node) -> int | None:
    if node.op == "const":
        value = node.attrs[0]
        if value.is_integer() and 0 <= value <= 99:
            return int(value)
    return None


class Render:
    """Formulas of nodes in one style, inlining every node not in `names`."""

    def __init__(self, style: Style, names: dict[Node, str]):
        self.style = style
        self.names = names

    def __call__(self, node: Node, top: bool = True) -> str:
        """The formula of node (its definition when node is itself named)."""
        return self._form(node, top)[0]

    def _wrap(self, node: Node, weakest: int) -> str:
        text, prec = self._form(node, False)
        return self.style.paren(text) if prec < weakest else text

    def _form(self, node: Node, top: bool = False) -> tuple[str, int]:
        st = self.style
        if not top and node in self.names:
            return st.name(self.names[node]), ATOM
        op = node.op
        if op == "var":
            return st.name(node.attrs[0]), ATOM
        if op == "const":
            value = node.attrs[0]
            if value < 0 or (value == 0 and math.copysign(1, value) < 0):
                return st.negate(st.number(-value)), NEG
            return st.number(value), ATOM
        method = getattr(self, "_" + op, None)
        if method is not None:
            return method(*node.args)
        if OPS[op].kind == "compare":
            a, b = node.args
            text = st.infix(self._wrap(a, ADD), st.compare(op), self._wrap(b, ADD))
            return text, CMP
        return st.call(op, [self._form(a)[0] for a in node.args]), ATOM

    def _right(self, node: Node, weakest: int) -> str:
        """A right operand: parenthesized when weaker, or when it starts with a minus."""
        text, prec = self._form(node)
        if prec < weakest or prec == NEG or self._leading_minus(node):
            return self.style.paren(text)
        return text

    def _difference(self, a: Node, b: Node) -> tuple[str, int]:
        right = self._right(b, MUL)
        return self.style.infix(self._wrap(a, ADD), self.style.minus(), right), ADD

    def _add(self, a: Node, b: Node) -> tuple[str, int]:
        if b not in self.names and b.op == "neg":
            return self._difference(a, b.args[0])
        negated = self._negated(b)
        if negated is not None:
            return (
                self.style.infix(self._wrap(a, ADD), self.style.minus(), negated),
                ADD,
            )
        if b.op == "const" and b.attrs[0] < 0:
            number = self.style.number(-b.attrs[0])
            return self.style.infix(self._wrap(a, ADD), self.style.minus(), number), ADD
        return self.style.infix(self._wrap(a, ADD), "+", self._right(b, ADD)), ADD

    def _negated(self, node: Node) -> str | None:
        """The text of −node when node's inline text starts with a minus (−400 x)."""
        if node in self.names or node.op not in ("mul", "div", "neg", "const"):
            return None
        if not self._leading_minus(node):
            return None
        text, prec = self._unsigned(node)
        return self.style.paren(text) if prec < MUL or prec == NEG else text

    def _unsigned(self, node: Node) -> tuple[str, int]:
        """node's form without its leading minus: −a b c is −(a b c)."""
        st = self.style
        if node.op == "const":
            return st.number(-node.attrs[0]), ATOM
        if node.op == "neg":
            text, prec = self._form(node.args[0])
            return (st.paren(text), ATOM) if prec < MUL else (text, prec)
        a, b = node.args
        if node.op == "mul" and a.op == "const" and a.attrs[0] == -1:
            return self._form(b)
        left, prec = self._unsigned(a)
        if node.op == "mul":
            left = st.paren(left) if prec < MUL or prec == NEG else left
            right, rprec = self._form(b)
            if rprec < MUL or rprec == NEG or self._leading_minus(b):
                right = st.paren(right)
            return st.product(left, right), MUL
        if not st.wants_fraction_parens():
            return st.fraction(left, self._form(b)[0]), ATOM
        left = st.paren(left) if prec < MUL else left
        return st.fraction(left, self._wrap(b, POW)), MUL

    def _leading_minus(self, node: Node) -> bool:
        """True when node's inline text starts with a minus sign (−2 x, −y + 1)."""
        while node not in self.names:
            if node.op == "neg" or (node.op == "const" and node.attrs[0] < 0):
                return True
            if node.op in ("add", "sub"):  # the left operand is written first, bare
                node = node.args[0]
                continue
            if node.op not in ("mul", "div"):
                return False
            left = node.args[0]
            if left.op == "const":
                return left.attrs[0] < 0  # −1 x is −x; 2 (−x) is 2 (−x)
            if left not in self.names and left.op in ("add", "sub"):
                return False  # written in parentheses
            node = left
        return False

    def _sub(self, a: Node, b: Node) -> tuple[str, int]:
        return self._difference(a, b)

    def _mul(self, a: Node, b: Node) -> tuple[str, int]:
        if a.op == "const" and a.attrs[0] == -1:
            return self.style.negate(self._wrap(b, MUL)), NEG
        left = self._wrap(a, MUL)
        right, prec = self._form(b)
        # x (−y), x (a + b), 2 (−2 t); products associate, so x y z needs none
        if prec < MUL or prec == NEG or self._leading_minus(b):
            right = self.style.paren(right)
        return self.style.product(left, right), MUL

    def _div(self, a: Node, b: Node) -> tuple[str, int]:
        if not self.style.wants_fraction_parens():
            return self.style.fraction(self._form(a)[0], self._form(b)[0]), ATOM
        return self.style.fraction(self._wrap(a, MUL), self._wrap(b, POW)), MUL

    def _neg(self, a: Node) -> tuple[str, int]:
        text, prec = self._form(a)
        if prec < MUL or prec == NEG:
            text = self.style.paren(text)
        return self.style.negate(text), NEG

    def _pow(self, a: Node, b: Node) -> tuple[str, int]:
        base = self._wrap(a, ATOM)
        small = None if self.style.ascii_only else _small_int(b)
        exponent = "" if small is not None else self._wrap(b, ATOM)
        if isinstance(self.style, (LatexStyle, MathMLStyle)):
            exponent = self._form(b)[0] if small is None else exponent
        return self.style.power(base, exponent, small), POW


# ---------------------------------------------------------------------------
# Listings: roots with their `where` definitions.


@dataclass
class Listing:
    """Roots printed from a graph, with the named nodes they use, defined once."""

    roots: list[Node]
    naming: Naming
    _first: dict[Node, int] = field(default_factory=dict)  # where a root is defined

    @classmethod
    def of(
        cls,
        roots: Sequence[Node],
        sources: dict[Node, str] | None = None,
        hints: dict[Node, str] | None = None,
        ascii_only: bool = False,
    ) -> Listing:
        """Name the nodes of roots and keep both."""
        return cls(list(roots), name_nodes(roots, sources, hints, ascii_only))

    def render(self, style: Style) -> Render:
        """A renderer over this listing's names."""
        return Render(style, self.naming.names)

    def root(self, i: int, style: Style = TEXT) -> str:
        """Root i's formula; a named root is defined here (`t₁ = …`) at its first use."""
        node = self.roots[i]
        text = self.render(style)(node)
        if node not in self.naming.names:
            return text
        name = style.name(self.naming.names[node])
        first = self._first.setdefault(node, i) == i
        return f"{name} {style.equals()} {text}" if first else name

    def definitions(
        self, style: Style = TEXT, roots: bool = False
    ) -> list[tuple[str, str]]:
        """(name, formula) of the named nodes, arguments first; roots only if asked."""
        render = self.render(style)
        skip = set() if roots else set(self.roots)
        return [
            (style.name(self.naming.names[n]), render(n))
            for n in self.naming.order
            if n not in skip
        ]

    @property
    def size(self) -> int:
        """Distinct graph nodes the roots reach."""
        return len(self.naming.cost)


def where_lines(
    definitions: Sequence[tuple[str, str]], limit: int | None, indent: str = "  "
) -> list[str]:
    """`where t₁ = …` lines, the middle elided (with a count) beyond limit."""
    lines = [f"{indent}{name} = {text}" for name, text in definitions]
    if not lines:
        return []
    if limit is not None and len(lines) > limit:
        half = limit // 2
        hidden = len(lines) - 2 * half
        more = f"{indent}⋮ ({hidden} more definitions; print(view.text()) for all)"
        lines = lines[:half] + [more] + lines[-half:]
    return [f"{indent}where"] + [f"  {line}" for line in lines]


def wrap(line: str, width: int, indent: int) -> list[str]:
    """line broken at spaces (before an operator where possible) to fit width."""
    lines: list[str] = []
    prefix = ""
    while len(prefix) + len(line) > width:
        room = width - len(prefix)
        cut = _break_at(line, room)
        if cut <= 0:
            break
        lines.append(prefix + line[:cut].rstrip())
        line = line[cut:].lstrip()
        prefix = " " * indent
    lines.append(prefix + line)
    return lines


def _break_at(line: str, room: int) -> int:
    """The best place to break line within room columns (0 when there is none).

    Before a `+` or `−` at the shallowest parenthesis depth, else at a space.
    """
    depth, best, best_depth = 0, 0, None
    for k, c in enumerate(line[:room]):
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == " " and k > room // 3 and line[k + 1 : k + 3] in ("+ ", "− ", "- "):
            if best_depth is None or depth <= best_depth:
                best, best_depth = k, depth
    if best:
        return best
    cut = line.rfind(" ", 0, room)
    return cut if cut > 0 else 0
