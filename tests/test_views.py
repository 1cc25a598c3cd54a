"""Views drawn from the graph: bounded by the DAG, within 80 columns, and right.

Bounds are structural (text length and renderer calls per graph node), with a
generous wall-clock cap only as a hang guard; real timings are in the notes.
Correctness: the printed formulas (plain text and the language's own spelling)
are read back and compared with sympy's derivatives at random points.
"""

from __future__ import annotations

import math
import re
import time
import warnings
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import symgrad
from symgrad import views_expr
from symgrad.api import Derivative
from symgrad.graph import count_nodes
from symgrad.views_expr import ASCII, Listing
from tests.test_properties import EXPRESSIONS, POINTS, _sympy_reference

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "samples").glob("*.sg"))
HANG_GUARD = 20.0  # seconds: only a guard against the old exponential blow-up
CHARS_PER_NODE = 120  # printed characters per graph node, with a wide margin
CALLS_PER_NODE = 3 * (views_expr.SHARE_MAX + 2)  # renderer calls per node


@pytest.fixture(autouse=True)
def narrow_terminal(monkeypatch, tmp_path_factory):
    """An 80-column terminal and a private cache."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "24")
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


def sample_functions(arrays: bool = False) -> list[tuple[str, str]]:
    """(sample file, function name) for every scalar (or array) function of the samples."""
    found = []
    for path in SAMPLES:
        model = symgrad.load(path)
        for name in model:
            function = getattr(model, name).function
            if bool(function.shapes or function.body.shape) == arrays:
                found.append((path.name, name))
    return found


@pytest.mark.parametrize("sample, name", sample_functions(arrays=True))
def test_array_functions_show_matrix_notation(sample, name):
    # The scalar views' matrix-of-entries forms are for scalar parameters; an array
    # function's grad and hessian show symgrad show's matrix notation (issue 13
    # brings the rich forms). Bounded, and each partial is named.
    compiled = getattr(symgrad.load(ROOT / "samples" / sample), name)
    params = compiled.function.params
    for view in (compiled.grad, compiled.hessian):
        text = repr(view)
        assert text.splitlines()[0] == compiled.function.source
        assert max(len(line) for line in text.splitlines()[1:]) <= 120
        blocks = re.findall(rf"∂²{name}/∂(\w+)∂(\w+) = ", text)
        if view is compiled.grad or compiled.function.body.shape or "take" in text:
            # the gradient (a Hessian too long to show says so, and shows it)
            assert all(f"∂{name}/∂{p}" in text for p in params)
            continue
        # the Hessian's upper blocks by parameter pair, the zero ones counted
        zero = re.search(r"\((\d+) upper blocks? zero\)", text)
        count = len(blocks) + (int(zero.group(1)) if zero else 0)
        assert count == len(params) * (len(params) + 1) // 2
        assert all(params.index(p) <= params.index(q) for p, q in blocks)
        assert_latex_parses(view._repr_latex_())
        assert view._repr_html_().startswith("<pre>")


def views_of(compiled) -> dict[str, object]:
    """Every plain view of a compiled function, by name."""
    point = [0.5] * len(compiled.function.all_names)
    views = {
        "definition": compiled,
        "grad": compiled.grad,
        "hessian": compiled.hessian,
        "graph": compiled.graph,
        "graph.at": compiled.graph.at(*point),
        "backward": compiled.graph.backward(),
    }
    if compiled.function.params:
        views["grad.at"] = compiled.grad.at(*point)
        views["hessian.at"] = compiled.hessian.at(*point)
    return views


class Counter:
    """Counts calls of the formula renderer (the work a view does per node)."""

    def __init__(self, monkeypatch):
        self.calls = 0
        original = views_expr.Render._form

        def counted(render, node, top=False):
            self.calls += 1
            return original(render, node, top)

        monkeypatch.setattr(views_expr.Render, "_form", counted)


def graph_size(compiled) -> int:
    """Nodes of the function, its gradient and Hessian graphs together."""
    d = compiled.derivatives
    return count_nodes([compiled.function.body, *d.gradient, *d.hessian.values()])


def assert_bounded(text: str, nodes: int, width: int = 80) -> None:
    """Within width columns, and O(nodes) characters."""
    widest = max((len(line) for line in text.splitlines()), default=0)
    assert widest <= width, text
    assert len(text) <= 400 + CHARS_PER_NODE * nodes, (len(text), nodes)


def assert_wellformed_math(page: str) -> None:
    """Every <math> fragment parses as XML, and no markup leaked into its text."""
    for fragment in re.findall(r"<math.*?</math>", page, re.S):
        root = ElementTree.fromstring(fragment)
        for element in root.iter():
            assert "<" not in (element.text or ""), fragment
            assert "&" not in (element.text or ""), fragment


def rich(view) -> list[str]:
    """The view's LaTeX and HTML forms, where it has them."""
    out = []
    for method in ("_repr_latex_", "_repr_html_"):
        if hasattr(view, method):
            out.append(getattr(view, method)())
    return out


# ---------------------------------------------------------------------------
# Every sample, every view.


@pytest.mark.parametrize("sample, name", sample_functions())
def test_every_view_of_every_sample_is_bounded(sample, name, monkeypatch):
    compiled = getattr(symgrad.load(ROOT / "samples" / sample), name)
    nodes = graph_size(compiled)
    counter = Counter(monkeypatch)
    start = time.perf_counter()
    for label, view in views_of(compiled).items():
        assert_bounded(repr(view), nodes)
        for form in rich(view):
            assert len(form) <= 2000 + 40 * CHARS_PER_NODE * nodes, label
            assert_wellformed_math(form)
    assert counter.calls <= CALLS_PER_NODE * nodes * 12  # 12 forms above, at most
    assert time.perf_counter() - start < HANG_GUARD


def test_nested_sample_grad_hessian_and_tenth_derivative(monkeypatch):
    nest = symgrad.load(ROOT / "samples" / "nested.sg").nest
    counter = Counter(monkeypatch)
    start = time.perf_counter()
    for view in (nest.grad, nest.hessian):
        text = view.text(full=True)  # every definition, nothing elided
        assert_bounded(text, graph_size(nest))
        assert len(repr(view)) <= len(text)
    d10 = Derivative("nest(x)", "x", 10, nest.function)
    size = d10.graph_size()
    assert_bounded(d10.text(full=True), size)
    assert len(repr(d10)) < 5000  # elided: the first and last definitions
    assert counter.calls <= CALLS_PER_NODE * (2 * graph_size(nest) + size) * 2
    assert time.perf_counter() - start < HANG_GUARD
    # the level names survive: each level is defined once from the one before
    shown = repr(nest.grad)
    assert "x2 = sin(x1) x1 + exp(−x1²)" in shown
    assert d10(0.7) == pytest.approx(_nested_d10(0.7), rel=1e-8)


def _nested_d10(x0: float) -> float:
    """The 10th derivative of the nested sample at x0, by mpmath at 60 digits."""
    import mpmath

    def nest(x):
        for _ in range(10):
            x = mpmath.sin(x) * x + mpmath.exp(-(x**2))
        return x

    with mpmath.workdps(60):
        return float(mpmath.diff(nest, mpmath.mpf(x0), 10))


def test_sin_sin_tenth_derivative_is_short():
    d = symgrad.diff("sin(sin(x))", "x", order=10)
    text = repr(d)
    assert len(text) < 5000  # was 14,827 characters of flat text
    assert_bounded(text, d.graph_size())
    x = sympy.Symbol("x")
    expected = sympy.diff(sympy.sin(sympy.sin(x)), x, 10).subs(x, 0.3)
    assert d(0.3) == pytest.approx(float(expected), rel=1e-10)
    latex, page = d._repr_latex_(), d._repr_html_()
    assert latex.startswith("$") and "<math" in page


# ---------------------------------------------------------------------------
# The printed formulas are right: read them back, compare with sympy.

SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
SUPERSCRIPT = re.compile(r"([⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)")
TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|\d+\.?\d*(?:e[-+]?\d+)?|\S)")


def text_to_language(text: str) -> str:
    """The plain view's notation rewritten into the expression language."""
    text = text.replace("−", "-").replace("⋅", "*").replace("σ(", "sigmoid(")
    text = re.sub(r"t([₀-₉]+)", lambda m: "t_" + m.group(1).translate(SUBSCRIPTS), text)
    up = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
    text = SUPERSCRIPT.sub(lambda m: "^(" + m.group(1).translate(up) + ")", text)
    while True:  # Iverson brackets, innermost first
        new = re.sub(r"\[([^\[\]]*) > 0\]", r"where(\1 > 0, 1, 0)", text)
        if new == text:
            break
        text = new
    out, previous, pos = [], "", 0
    for match in TOKEN.finditer(text):
        token = match.group(1)
        spaced = match.start(1) > pos
        operand_end = previous[:1].isalnum() or previous[:1] == "_" or previous == ")"
        operand_start = token[:1].isalnum() or token[:1] == "_" or token == "("
        if spaced and operand_end and operand_start:
            out.append("*")  # juxtaposition is a product
        out.append(token)
        previous, pos = token, match.end(1)
    return " ".join(out)


def reread(roots_text: list[str], definitions: list[tuple[str, str]], point):
    """Evaluate printed formulas (with their where-definitions) at (x, y)."""
    lines = [f"{name} = {formula}" for name, formula in definitions]
    values = []
    for k, formula in enumerate(roots_text):
        text = "\n".join(lines + [f"g{k}(x, y) = {formula} + 0*x + 0*y"])
        values.append(float(symgrad.function(text)(*point)))
    return values


def plain_listing(listing: Listing) -> tuple[list[str], list[tuple[str, str]]]:
    """The plain view's formulas, rewritten into the language."""
    roots = [listing.render(views_expr.TEXT)(r) for r in listing.roots]
    defs = listing.definitions(views_expr.TEXT, roots=True)
    named = [
        (text_to_language(n), text_to_language(t)) for n, t in defs
    ]  # fmt: skip
    roots = [
        text_to_language(listing.naming.names[r]) if r in listing.naming.names else
        text_to_language(t)
        for r, t in zip(listing.roots, roots)
    ]  # fmt: skip
    return roots, named


def ascii_listing(listing: Listing) -> tuple[list[str], list[tuple[str, str]]]:
    """The language spelling of the same formulas (what `symgrad show` prints)."""
    render = listing.render(ASCII)
    roots = [
        listing.naming.names[r] if r in listing.naming.names else render(r)
        for r in listing.roots
    ]
    return roots, listing.definitions(ASCII, roots=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS, POINTS, POINTS, st.booleans())
def test_printed_derivatives_agree_with_sympy(body, px, py, plain):
    text = f"f(x, y) = {body}\n"
    assume(not plain or "abs(" not in body)  # |u| nests ambiguously as text
    f = symgrad.function(text)
    d = f.derivatives
    keys = sorted(d.hessian)
    roots = [f.function.body, *d.gradient, *(d.hessian[k] for k in keys)]
    listing = Listing.of(roots, {}, d.hints, ascii_only=not plain)
    shown, defs = plain_listing(listing) if plain else ascii_listing(listing)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        value, grad, hess = _sympy_reference(text)(px, py)
    expected = [value, *grad, *(hess[i][j] for i, j in keys)]
    assume(np.all(np.isfinite(expected)) and np.all(np.abs(expected) < 1e8))
    assume(all(abs(px - k) > 1e-6 and abs(py - k) > 1e-6 for k in (0.0, 0.3)))
    assume(abs(px - py) > 1e-6 and abs(px + py) > 1e-6)
    with np.errstate(all="ignore"):
        got = reread(shown, defs, (px, py))
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-8)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS)
def test_views_of_random_expressions_are_bounded(body):
    f = symgrad.function(f"f(x, y) = {body}\n")
    nodes = graph_size(f)
    start = time.perf_counter()
    for view in (f.grad, f.hessian, f.graph.backward()):
        assert_bounded(repr(view), nodes)
    assert time.perf_counter() - start < HANG_GUARD


def test_a_deep_single_use_chain_is_split_into_bounded_lines():
    body = "x"
    for k in range(150):
        body = f"sin({body} + {k})"
    f = symgrad.function(f"f(x) = {body}")
    text = f.grad.text(full=True)
    assert_bounded(text, graph_size(f))
    assert "where" in text  # no formula holds more than TERM_MAX operations


# ---------------------------------------------------------------------------
# The logistic sample, in the user's words.


def test_logistic_gradient_in_the_users_words():
    loss = symgrad.load(ROOT / "samples" / "logistic.sg").loss
    lines = repr(loss.grad).splitlines()
    dw = lines[1]
    assert dw.startswith("  ∂loss/∂w = ")
    formula = dw.split(" = ", 1)[1]
    # sigmoid as σ of the user's w x + b, no exponentials, a factor x
    assert "σ(w x + b)" in formula and "exp" not in formula and "ℯ" not in formula
    assert formula.endswith(" x") or formula.startswith("x ")
    assert "y" in formula
    latex, page = loss.grad._repr_latex_(), loss.grad._repr_html_()
    assert r"\sigma\left(w\, x + b\right)" in latex
    assert "<mi>σ</mi>" in page and "$" not in page
    # and it is x (σ(w x + b) − y), read back from the text
    for w, b, x, y in [(0.5, -0.2, 1.5, 1.0), (-1.0, 0.3, 2.0, 0.0)]:
        s = 1 / (1 + math.exp(-(w * x + b)))
        got = symgrad.function(f"g(w, b, x, y) = {text_to_language(formula)}")(
            w, b, x, y
        )
        assert got == pytest.approx(x * (s - y), rel=1e-12)


def test_logistic_hessian_entries_are_x_squared_sigma_one_minus_sigma():
    loss = symgrad.load(ROOT / "samples" / "logistic.sg").loss
    text = repr(loss.hessian)
    assert "σ(w x + b)" in text and "exp" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    latex, page = loss.hessian._repr_latex_(), loss.hessian._repr_html_()
    assert r"\sigma\left(w\, x + b\right)" in latex and "<mi>σ</mi>" in page
    # each entry, read back from the listing, is (x², x, 1) σ(1 − σ)
    listing = loss.hessian.listing()
    shown, defs = plain_listing(listing)
    w, b, x, y = 0.4, -0.3, 1.7, 1.0
    s = 1 / (1 + math.exp(-(w * x + b)))
    factors = {(0, 0): x * x, (0, 1): x, (1, 1): 1.0}
    lines = [f"{n} = {t}" for n, t in defs]
    for (keys, _), formula in zip(loss.hessian.groups(), shown):
        source = "\n".join(lines + [f"h(w, b; x, y) = {formula} + 0*w + 0*b"])
        got = symgrad.function(source)(w, b, x, y)
        for key in keys:
            assert got == pytest.approx(factors[key] * s * (1 - s), rel=1e-12)


# ---------------------------------------------------------------------------
# Width.


@pytest.mark.parametrize(
    "sample, name", [("logistic.sg", "loss"), ("tanh.sg", "t"), ("nested.sg", "nest")]
)
def test_hessians_fit_80_columns(sample, name):
    compiled = getattr(symgrad.load(ROOT / "samples" / sample), name)
    text = repr(compiled.hessian)
    assert max(len(line) for line in text.splitlines()) <= 80


def test_a_14_variable_rosenbrock_is_listed_with_its_pattern():
    n = 14
    params = ", ".join(f"x{i}" for i in range(1, n + 1))
    terms = " + ".join(f"100*(x{i + 1} - x{i}^2)^2 + (1 - x{i})^2" for i in range(1, n))
    r = symgrad.function(f"r({params}) = {terms}")
    lines = repr(r.hessian).splitlines()
    assert max(len(line) for line in lines) <= 80  # the matrix would be ~316
    grid = lines[lines.index("pattern (* entry, . structural zero):") + 1 :]
    assert len(grid) == n
    for i, row in enumerate(grid):
        marks = row.split()
        assert [j for j, m in enumerate(marks) if m == "*"] == [
            j for j in range(n) if abs(i - j) <= 1
        ]
    assert any(line.startswith("  ∂²r/∂x1∂x2") for line in lines)


def test_a_wide_numeric_hessian_shows_the_columns_that_fit():
    n = 14
    params = ", ".join(f"x{i}" for i in range(1, n + 1))
    terms = " + ".join(f"100*(x{i + 1} - x{i}^2)^2 + (1 - x{i})^2" for i in range(1, n))
    r = symgrad.function(f"r({params}) = {terms}")
    point = [-1.2 if i % 2 == 0 else 1.0 for i in range(n)]
    lines = repr(r.hessian.at(*point)).splitlines()
    assert max(len(line) for line in lines) <= 80
    shown = [line for line in lines if line.startswith(f"{n}×{n}, showing ")]
    assert len(shown) == 1 and shown[0] != f"{n}×{n}, showing 12×12"
    first = next(line for line in lines if line.startswith("  x1 "))
    # d2r/dx1^2 = 1200 x1^2 - 400 x2 + 2 = 1330, d2r/dx1dx2 = -400 x1 = 480
    assert re.findall(r"-?\d+(?:\.\d+)?", first)[1:3] == ["1330", "480"]
    grad = repr(r.grad.at(*point)).splitlines()
    assert max(len(line) for line in grad) <= 80 and grad[-1].startswith("  |∇r|")


def test_width_follows_the_terminal(monkeypatch):
    loss = symgrad.load(ROOT / "samples" / "logistic.sg").loss
    monkeypatch.setenv("COLUMNS", "60")
    narrow = repr(loss.hessian)
    assert max(len(line) for line in narrow.splitlines()) <= 60
    monkeypatch.setenv("COLUMNS", "200")
    wide = repr(loss.hessian)
    assert "⎡" in wide  # wide enough for the matrix layout
    assert "⎡" not in narrow  # too narrow: the list of distinct entries


# ---------------------------------------------------------------------------
# Verdicts, the gradient at a point.


def test_rosenbrock_off_its_minimum_is_convex_not_a_minimum():
    rosen = symgrad.load(ROOT / "samples" / "rosenbrock.sg").rosen
    at = rosen.hessian.at(-1.2, 1)
    # grad = (-2(1 - x) - 400 x (y - x^2), 200 (y - x^2)) = (-215.6, -88)
    assert at.grad_norm == pytest.approx(math.hypot(215.6, 88.0), rel=1e-12)
    assert not at.is_stationary
    assert at.verdict.startswith("positive definite: locally convex")
    assert "minimum" not in repr(at)
    at_min = rosen.hessian.at(1, 1)
    assert at_min.is_stationary and at_min.verdict.startswith("minimum")


def test_no_saddle_without_a_stationary_point():
    f = symgrad.function("f(x, y) = x^2*y + y + 2")  # grad (2xy, x^2 + 1) never 0
    text = repr(f.hessian.at(3, 4))
    assert "saddle" not in text and "indefinite" in text
    assert "|∇f| = 26" in text  # |(24, 10)| = 26


def test_a_saddle_is_named_at_a_stationary_point():
    s = symgrad.function("s(x, y) = x^2 - y^2")
    assert s.hessian.at(0, 0).verdict.startswith("saddle")
    assert s.hessian.at(1, 0).verdict.startswith("indefinite")


def test_eigenvectors_and_condition_number():
    rosen = symgrad.load(ROOT / "samples" / "rosenbrock.sg").rosen
    at = rosen.hessian.at(1, 1)
    h = np.array([[802.0, -400.0], [-400.0, 200.0]])
    for k in range(2):
        v = at.eigenvectors[:, k]
        np.testing.assert_allclose(h @ v, at.eigenvalues[k] * v, atol=1e-9)
    eig = np.linalg.eigvalsh(h)
    assert at.condition == pytest.approx(eig[1] / eig[0], rel=1e-10)
    assert "condition number: 2508.01" in repr(at)


def test_gradient_at_a_point():
    f = symgrad.function("f(x, y) = x^2*y + y + 2")
    at = f.grad.at(3, 4)
    assert repr(at).splitlines() == [
        "∇f(x, y) at x=3, y=4:",
        "  ∂f/∂x = 24",
        "  ∂f/∂y = 10",
        "  |∇f|  = 26",
    ]
    assert "<table>" in at._repr_html_()


# ---------------------------------------------------------------------------
# Names: intermediates, traced locals, the backward pass, DOT.


def test_course_graph_keeps_u_and_v():
    J = symgrad.load(ROOT / "samples" / "graph.sg").J
    assert repr(J) == "<symgrad function J(a, b, c) = 3*v where u = b*c, v = a + u>"
    latex = J._repr_latex_()
    assert r"u &=& b\, c" in latex and r"v &=& a + u" in latex


def test_backward_pass_in_the_lecture_order():
    J = symgrad.load(ROOT / "samples" / "graph.sg").J
    lines = repr(J.graph.backward()).splitlines()[1:]
    assert [line.split(" = ")[0].strip() for line in lines] == [
        "dJ", "dv", "du", "da", "db", "dc"
    ]  # fmt: skip
    # the formulas, evaluated at a=5, b=3, c=2 in order: the sample's numbers
    values: dict[str, float] = {"a": 5.0, "b": 3.0, "c": 2.0, "u": 6.0, "v": 11.0}
    for line in lines:
        name, formula = (part.strip() for part in line.split(" = "))
        expr = sympy.sympify(text_to_language(formula).replace("^", "**"))
        values[name] = float(expr.subs({sympy.Symbol(k): v for k, v in values.items()}))
    assert [values[k] for k in ("dJ", "dv", "du", "da", "db", "dc")] == [
        1, 3, 3, 3, 6, 9
    ]  # fmt: skip


def rosen_traced(x, y):
    """Rosenbrock with named locals."""
    a = 1 - x
    b = y - x**2
    return a**2 + 100 * b**2


def test_decorated_locals_name_the_views():
    r = symgrad.compile(rosen_traced)
    text = repr(r.grad)
    assert "where" in text and "b = y − x²" in text and "a = 1 − x" in text
    assert repr(r).startswith("<symgrad function rosen_traced(x, y) = ")
    assert "\n" not in repr(r) and "def " not in repr(r) and '"""' not in repr(r)


def test_dot_draws_each_constant_once_per_use():
    f = symgrad.function("f(x, y) = x^2*y + y + 2")
    dot = f.graph.to_dot()
    constants = re.findall(r'(c\d+) \[label="2", shape=plaintext\];', dot)
    assert len(constants) == 2  # x^2 and + 2: two uses, two nodes
    for c in constants:
        assert len(re.findall(rf"  {c} -> ", dot)) == 1
    assert '[label="t1 = x^2"]' in dot and '[label="f = t3 + 2"]' in dot


PRECEDENCE = [
    "x - (y + x*y)",
    "x - (y - x)",
    "x - (-y)",
    "x + (-2*x*y - 3)",
    "x/(y*x)",
    "x/(y/x)",
    "(x/y)/x",
    "x^(y + 1)",
    "(x + y)^2",
    "(-x)^3",
    "-(x + y)*y",
    "x*(-y)",
    "2^-x",
    "(x - y)/(x + y)",
    "-x^2 + y",
    "x*y/(x - y)",
    "sigmoid(-(x + y))*(1 - y)",
    "where(x > y, x - y, -(x*y))",
    "relu(x - y)*y",
    "abs(x - y) - abs(-x)",
]


@pytest.mark.parametrize("body", PRECEDENCE)
@pytest.mark.parametrize("plain", [False, True])
def test_precedence_survives_printing(body, plain):
    x, y = 0.7, -1.3
    s = sympy.Symbol
    reference = sympy.sympify(
        body.replace("^", "**"),
        locals={
            "sigmoid": lambda u: 1 / (1 + sympy.exp(-u)),
            "relu": lambda u: sympy.Max(u, 0),
            "where": lambda c, a, b: sympy.Piecewise((a, c), (b, True)),
        },
    )
    expected = float(reference.subs({s("x"): x, s("y"): y}))
    f = symgrad.function(f"f(x, y) = {body}")
    listing = Listing.of([f.function.body], ascii_only=not plain)
    shown, defs = plain_listing(listing) if plain else ascii_listing(listing)
    if plain and "|" in shown[0]:
        shown = [re.sub(r"\|([^|]*)\|", r"abs(\1)", shown[0])]  # no nesting here
    assert reread(shown, defs, (x, y)) == [pytest.approx(expected, rel=1e-12)]


def test_views_do_not_import_sympy():
    import subprocess
    import sys

    code = (
        "import sys, symgrad\n"
        "n = symgrad.load('samples/nested.sg').nest\n"
        "repr(n.grad); repr(n.hessian); n.hessian._repr_html_(); repr(n.graph)\n"
        "print('sympy' in sys.modules)\n"
    )
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    env["SYMGRAD_CACHE"] = "0"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"  # importing sympy alone takes ~0.5 s


def test_graph_html_is_svg_with_graphviz_and_dot_text_without(monkeypatch):
    import shutil

    from symgrad import views_graph

    J = symgrad.load(ROOT / "samples" / "graph.sg").J
    if shutil.which("dot"):
        page = J.graph._repr_html_()
        assert "<svg" in page and "u = b*c" in page  # the node's label, drawn
        assert J.graph._repr_svg_().startswith("<svg")
    monkeypatch.setattr(views_graph.shutil, "which", lambda name: None)
    page = J.graph._repr_html_()
    assert "<svg" not in page and J.graph._repr_svg_() is None
    assert "<details>" in page and "digraph &quot;J&quot;" in page


def test_logistic_sample_reads_as_the_lecture_writes_it():
    # issue 16's acceptance line: dloss/dw = (sigma(w x + b) - y) x, Hessian entries
    # x^2 sigma(1 - sigma), with sigma(-u) the stable spelling of 1 - sigma(u)
    loss = symgrad.load(ROOT / "samples" / "logistic.sg").loss
    grad = repr(loss.grad)
    assert "∂loss/∂w = (σ(w x + b) − y) x" in grad
    assert "∂loss/∂b = σ(w x + b) − y" in grad
    hessian = repr(loss.hessian)
    assert "x² σ(w x + b) σ(−(w x + b))" in hessian
    assert "(1 − y)" not in grad + hessian


def assert_latex_parses(latex: str) -> None:
    """Each row of an array view's LaTeX is math that matplotlib's mathtext parses."""
    from matplotlib.mathtext import MathTextParser

    assert latex.startswith("$\\displaystyle") and latex.endswith("\\end{array}$")
    body = latex.split("\\begin{array}{rcl}", 1)[1].rsplit("\\end{array}", 1)[0]
    parser = MathTextParser("path")
    for row in body.split(" \\\\ "):
        left, right = row.split("&=&")
        parser.parse(f"${left} = {right}$")  # raises ValueError on bad LaTeX


def test_decorated_array_functions_show_matrix_notation():
    from matplotlib.mathtext import MathTextParser

    @symgrad.compile(wrt=("w", "b"))
    def loss(w, b, X, y):
        z = X @ w + b
        return np.mean(np.logaddexp(0, z) - y * z)

    rng = np.random.default_rng(0)
    X, y, w = rng.normal(size=(6, 3)), (rng.random(6) > 0.5) * 1.0, rng.normal(size=3)
    loss(w, 0.2, X, y)  # the first call fixes the ranks
    text = repr(loss.grad)
    assert text.splitlines() == [
        "loss(w[w_0], b; X[X_0, w_0], y[X_0])",
        "  z = X @ w + b",
        "  dz = (sigmoid(z) - y) / X_0",
        "  ∂loss/∂w = X.T @ dz",
        "  ∂loss/∂b = sum(dz)",
    ]
    latex = loss.grad._repr_latex_()
    assert (
        r"\frac{\partial \mathit{loss}}{\partial w} &=& X ^{\top} \, \mathit{dz}"
        in latex
    )
    assert_latex_parses(latex)
    assert_latex_parses(loss.hessian._repr_latex_())
    # the logistic Hessian's w-w block, X.T diag(s(z) s(-z)) X / n, as the code has it
    hessian_text = repr(loss.hessian)
    assert "t2 = sigmoid(z) * sigmoid(-z)" in hessian_text
    assert "∂²loss/∂w∂w = t1 @ (X * (t2[:, None] / X_0))" in hessian_text
    assert "t1 = X.T" in hessian_text and "∂²loss/∂b∂b = sum(t3)" in hessian_text
    # the Hessian evaluates to the matrix: X^T diag(s (1 - s)) X / n, with b's row
    hessian = loss.hessian(w, 0.2, X, y)
    s = 1 / (1 + np.exp(-(X @ w + 0.2)))
    design = np.hstack([X, np.ones((6, 1))])
    expected = design.T @ np.diag(s * (1 - s)) @ design / 6
    np.testing.assert_allclose(hessian, expected, rtol=1e-12)
    assert np.all(loss.hessian.eigenvalues(w, 0.2, X, y) > 0)
    # the definition, in matrix notation too
    assert loss.one_line(200) == (
        "loss(w[w_0], b; X[X_0, w_0], y[X_0]) = sum(softplus(z) - y * z) / X_0 "
        "where z = X @ w + b"
    )
    definition = loss._repr_latex_()
    value, where = definition.split(r"\quad\text{where}\quad")
    MathTextParser("path").parse(value.replace(r"\displaystyle ", "") + "$")
    assert_latex_parses(r"$\displaystyle " + where)
    # the gradient at a point: its norm is over every entry of every partial
    at = loss.grad.at(w, 0.2, X, y)
    dw, db = loss.grad(w, 0.2, X, y)
    assert at.norm == pytest.approx(np.sqrt(np.sum(dw**2) + db**2), rel=1e-14)
    graph = repr(loss.graph)
    assert "= matmul(X, w)  [X_0]" in graph and "= data          [X_0, w_0]" in graph


def test_local_names_are_found_under_a_profiler():
    import cProfile
    import sys

    r = symgrad.compile(rosen_traced)
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        text = repr(r.grad)
        assert sys.getprofile() is not None  # the user's profiler is left running
    finally:
        profiler.disable()
    assert "b = y − x²" in text and "a = 1 − x" in text
