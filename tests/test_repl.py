"""Tests for symgrad.repl: gradient, Hessian and graph views, rich display, to_sympy."""

from __future__ import annotations

import html.parser
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy

import symgrad
from symgrad import repl

ROOT = Path(__file__).resolve().parent.parent
POLY = "f(x, y) = x^2*y + y + 2"
COURSE = "u = b*c\nv = a + u\nJ(a, b, c) = 3*v"
ROSENBROCK = "r(x, y) = (1 - x)^2 + 100*(y - x^2)^2"


@pytest.fixture(autouse=True)
def cache_dir(tmp_path_factory, monkeypatch):
    """Keep generated modules out of the user's cache."""
    directory = tmp_path_factory.getbasetemp() / "repl-cache"
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(directory))
    monkeypatch.delenv("SYMGRAD_CACHE", raising=False)


@pytest.fixture
def f():
    return symgrad.function(POLY)


@pytest.fixture
def course():
    return symgrad.function(COURSE)


def chain(n: int) -> str:
    """q(x1, ..., xn) = x1^2*x2 + x2^2*x3 + ...: a tridiagonal Hessian."""
    params = ", ".join(f"x{i}" for i in range(1, n + 1))
    terms = " + ".join(f"x{i}^2*x{i + 1}" for i in range(1, n))
    return f"q({params}) = {terms}"


# ---------------------------------------------------------------------------
# Golden text: f(x, y) = x^2*y + y + 2 and the course graph J.

GRAD_F = """\
∇f(x, y) =
  ∂f/∂x  2⋅x⋅y
  ∂f/∂y  x² + 1"""

HESSIAN_F = """\
∇²f(x, y) =
       x    y
  x  ⎡2⋅y  2⋅x⎤
  y  ⎣2⋅x   0 ⎦
symmetric; 1 of 4 entries structurally zero
pattern (* entry, . structural zero):
  * *
  * ."""

HESSIAN_F_AT = """\
∇²f(x, y) at x=3, y=4:
      x  y
  x  ⎡8  6⎤
  y  ⎣6  0⎦
eigenvalues: -3.2111, 11.2111
saddle: indefinite"""

GRAPH_F_AT = """\
computation graph of f(x, y) at x=3, y=4:
  node         value  adjoint
  x  = param       3  df/dx = 24
  t1 = x^2         9  df/dt1 = 4
  y  = param       4  df/dy = 10
  t2 = t1*y       36  df/dt2 = 1
  t3 = t2 + y     40  df/dt3 = 1
  f  = t3 + 2     42  df/df = 1"""

GRAD_J = """\
∇J(a, b, c) =
  ∂J/∂a  3
  ∂J/∂b  3⋅c
  ∂J/∂c  3⋅b"""

HESSIAN_J = """\
∇²J(a, b, c) =
      a  b  c
  a  ⎡0  0  0⎤
  b  ⎢0  0  3⎥
  c  ⎣0  3  0⎦
symmetric; tridiagonal; 7 of 9 entries structurally zero
pattern (* entry, . structural zero):
  . . .
  . . *
  . * ."""

GRAPH_J = """\
computation graph of J(a, b, c), 6 nodes:
  a = param
  b = param
  c = param
  u = b*c
  v = a + u
  J = 3*v"""

GRAPH_J_AT = """\
computation graph of J(a, b, c) at a=5, b=3, c=2:
  node       value  adjoint
  a = param      5  dJ/da = 3
  b = param      3  dJ/db = 6
  c = param      2  dJ/dc = 9
  u = b*c        6  dJ/du = 3
  v = a + u     11  dJ/dv = 3
  J = 3*v       33  dJ/dJ = 1"""

DOT_J_AT = r"""digraph "J" {
  node [shape=box, fontname="monospace"];
  n0 [label="3", shape=plaintext];
  n1 [label="a (param)\nvalue = 5\ndJ/da = 3", shape=ellipse];
  n2 [label="b (param)\nvalue = 3\ndJ/db = 6", shape=ellipse];
  n3 [label="c (param)\nvalue = 2\ndJ/dc = 9", shape=ellipse];
  n4 [label="u (mul)\nvalue = 6\ndJ/du = 3"];
  n5 [label="v (add)\nvalue = 11\ndJ/dv = 3"];
  n6 [label="J (mul)\nvalue = 33\ndJ/dJ = 1"];
  n2 -> n4;
  n3 -> n4;
  n1 -> n5;
  n4 -> n5;
  n0 -> n6;
  n5 -> n6;
}
"""


def test_gradient_repr(f):
    assert repr(f.grad) == GRAD_F


def test_hessian_repr(f):
    assert repr(f.hessian) == HESSIAN_F


def test_hessian_at_repr(f):
    assert repr(f.hessian.at(3, 4)) == HESSIAN_F_AT
    assert repr(f.hessian.at(y=4, x=3)) == HESSIAN_F_AT


def test_graph_at_repr_of_f(f):
    assert repr(f.graph.at(3, 4)) == GRAPH_F_AT


def test_course_gradient_and_hessian_repr(course):
    assert repr(course.grad) == GRAD_J
    assert repr(course.hessian) == HESSIAN_J


def test_course_graph_repr(course):
    assert course.names  # function() keeps the names of intermediates
    assert repr(course.graph) == GRAPH_J


def test_course_graph_at(course):
    assert repr(course.graph.at(5, 3, 2)) == GRAPH_J_AT
    at = course.graph.at(a=5, b=3, c=2)
    assert repr(at) == GRAPH_J_AT
    assert at.values == {"a": 5, "b": 3, "c": 2, "u": 6, "v": 11, "J": 33}
    assert at.adjoints == {"a": 3, "b": 6, "c": 9, "u": 3, "v": 3, "J": 1}


def test_course_graph_from_a_file(tmp_path):
    path = tmp_path / "course.sg"
    path.write_text(COURSE + "\n", encoding="utf-8")
    J = symgrad.load(path).J
    assert repr(J.graph.at(5, 3, 2)) == GRAPH_J_AT


def test_course_graph_dot(course):
    text = course.graph.at(5, 3, 2).to_dot()
    assert text == DOT_J_AT
    assert_valid_dot(text)
    plain = course.graph.to_dot()
    assert_valid_dot(plain)
    assert 'n4 [label="u (mul)"];' in plain


# ---------------------------------------------------------------------------
# Evaluation, eigenvalues and definiteness.


def test_views_evaluate_through_generated_code(f):
    assert f.grad(3, 4) == (24.0, 10.0)
    assert f.grad(x=3, y=4) == (24.0, 10.0)
    np.testing.assert_array_equal(f.hessian(3, 4), [[8.0, 6.0], [6.0, 0.0]])
    assert repr(f.hessian(3, 4)).startswith("array([[8., 6.],")


def test_rosenbrock_minimum():
    r = symgrad.function(ROSENBROCK)
    np.testing.assert_array_equal(r.hessian(1, 1), [[802.0, -400.0], [-400.0, 200.0]])
    root = np.sqrt(602.0**2 + 4 * 400.0**2)  # eigenvalues of [[802, -400], [-400, 200]]
    expected = [(1002.0 - root) / 2, (1002.0 + root) / 2]
    np.testing.assert_allclose(r.hessian.eigenvalues(1, 1), expected, rtol=1e-12)
    assert r.hessian.definiteness(1, 1) == "minimum"
    assert r.hessian.at(1, 1).definiteness == "minimum"
    assert "minimum: positive definite" in repr(r.hessian.at(1, 1))


@pytest.mark.parametrize(
    "text, verdict",
    [
        ("s(x, y) = x^2 - y^2", "saddle"),
        ("m(x, y) = -(x^2 + y^2)", "maximum"),
        ("d(x, y) = x^4 + y^2", "degenerate"),
        ("p(x, y) = x^2 + x*y + y^2", "minimum"),
    ],
)
def test_definiteness_at_the_origin(text, verdict):
    assert symgrad.function(text).hessian.definiteness(0, 0) == verdict


def test_saddle_wins_over_a_zero_eigenvalue():
    g = symgrad.function("g(x, y, z) = x^2 - y^2 + z^4")
    np.testing.assert_array_equal(g.hessian.eigenvalues(0, 0, 0), [-2.0, 0.0, 2.0])
    assert g.hessian.definiteness(0, 0, 0) == "saddle"


def test_batched_eigenvalues_and_definiteness():
    r = symgrad.function(ROSENBROCK)
    x, y = np.array([1.0, 0.0, -1.0]), np.array([1.0, 1.0, 0.0])
    # H = [[1200x^2 - 400y + 2, -400x], [-400x, 200]]: at (0, 1) diag(-398, 200).
    assert r.hessian.eigenvalues(x, y).shape == (3, 2)
    np.testing.assert_allclose(r.hessian.eigenvalues(0.0, 1.0), [-398.0, 200.0])
    assert list(r.hessian.definiteness(x, y)) == ["minimum", "saddle", "minimum"]


def test_classify_tolerance_and_non_finite():
    assert repl.classify([1e-20, 1.0]) == "degenerate"
    assert repl.classify([1e-6, 1.0]) == "minimum"
    assert repl.classify([1e-6, 1.0], rtol=1e-3) == "degenerate"
    assert repl.classify([0.0, 0.0]) == "degenerate"
    assert repl.classify([-3.0, -1.0]) == "maximum"
    assert repl.classify([np.nan, 1.0]) == "undefined"


def test_non_finite_hessian_is_undefined():
    g = symgrad.function("g(x, y) = sqrt(x) + y^2")
    with np.errstate(invalid="ignore"):  # sqrt(-1) in the generated Hessian
        assert np.isnan(g.hessian.eigenvalues(-1, 0)).all()
        assert g.hessian.definiteness(-1, 0) == "undefined"


# ---------------------------------------------------------------------------
# Rich display: LaTeX and HTML.


def test_latex_definition_and_views(f):
    assert repl.latex_definition(f) == r"$\displaystyle f(x, y) = x^{2} y + y + 2$"
    assert f._repr_latex_() == repl.latex_definition(f)
    grad = f.grad._repr_latex_()
    assert grad.startswith("$") and grad.endswith("$")
    assert r"\frac{\partial f}{\partial x} &=& 2 x y" in grad
    assert r"\frac{\partial f}{\partial y} &=& x^{2} + 1" in grad
    hessian = f.hessian._repr_latex_()
    assert r"\begin{array}{r|cc}" in hessian
    assert r"x & 2 y & 2 x \\ y & 2 x & 0" in hessian
    assert r"\text{symmetric; 1 of 4 entries structurally zero}" in hessian


def test_latex_of_long_names_and_data():
    g = symgrad.function("loss(w, b; x, y) = (w*x + b - y)^2")
    assert repl.latex_definition(g).startswith(
        r"$\displaystyle \operatorname{loss}(w, b;\, x, y) = "
    )


class TextCollector(html.parser.HTMLParser):
    """Collects the text content and entity references of an HTML document."""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.data: list[str] = []
        self.entities: list[str] = []
        self.tags: list[str] = []

    def handle_data(self, data):
        self.data.append(data)

    def handle_entityref(self, name):
        self.entities.append(name)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


def parse_html(text: str) -> TextCollector:
    parser = TextCollector()
    parser.feed(text)
    parser.close()
    return parser


def test_hessian_html_table(f):
    text = f.hessian._repr_html_()
    parsed = parse_html(text)
    assert parsed.tags.count("table") == 1
    assert parsed.tags.count("tr") == 3
    assert "<th>x</th><th>y</th>" in text
    assert "2⋅y" in text and "2⋅x" in text
    assert "symmetric; 1 of 4 entries structurally zero" in text


def test_html_escapes_comparisons():
    w = symgrad.function("w(x, y) = where(x < y, x^2*y, y^3)")
    pages = [
        w.hessian._repr_html_(),
        w.hessian.at(1, 2)._repr_html_(),
        w.graph._repr_html_(),
        w.graph.at(1, 2)._repr_html_(),
    ]
    assert "for x < y" in repr(w.hessian)  # the raw text does hold a '<'
    for page in pages:
        parsed = parse_html(page)
        for chunk in parsed.data:
            assert "<" not in chunk and "&" not in chunk, chunk
    assert "lt" in parse_html(pages[0]).entities
    assert "<code>x &lt; y</code>" in pages[2]


def test_html_escape_of_ampersand_in_text():
    assert repl.html_table("a & b", ("<h>",), [("x < y & z",)]).count("&amp;") == 2


# ---------------------------------------------------------------------------
# Large functions: truncation, patterns, elided entries, long graphs.


def test_truncation_of_a_30_variable_hessian():
    q = symgrad.function(chain(30))
    text = repr(q.hessian)
    lines = text.splitlines()
    assert lines[0] == "∇²q(x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, …, x30) ="
    assert lines[1].split() == [f"x{i}" for i in range(1, 13)] + ["…"]
    assert lines[2] == (
        "  x1   ⎡2⋅x₂  2⋅x₁   0     0     0     0     0     0      0      0"
        "      0      0    …⎤"
    )
    assert lines[14].startswith("  ⋮    ⎣ ⋮ ") and lines[14].endswith("⋱⎦")
    assert lines[15:] == [
        "30×30, showing 12×12",
        "symmetric; tridiagonal; 813 of 900 entries structurally zero",
    ]  # 29 diagonal + 2*29 off-diagonal entries; no pattern grid above n = 20
    latex = q.hessian._repr_latex_()
    assert r"\cdots" in latex and r"\vdots" in latex and r"\ddots" in latex
    assert r"\text{30×30, showing 12×12}" in latex
    page = q.hessian._repr_html_()
    assert parse_html(page).tags.count("tr") == 14
    assert "30×30, showing 12×12" in page


def test_truncation_of_a_30_variable_gradient_and_point():
    q = symgrad.function(chain(30))
    lines = repr(q.grad).splitlines()
    assert len(lines) == 15
    assert lines[1] == "  ∂q/∂x1   2⋅x₁⋅x₂"
    assert lines[-2:] == ["  ⋮", "30 partials, showing the first 12"]
    at = repr(q.hessian.at(*np.ones(30))).splitlines()
    assert at[0].endswith("x11=1, …, x30=1:")
    assert "30×30, showing 12×12" in at


def test_pattern_grid_beyond_the_shown_matrix():
    params = ", ".join(f"x{i}" for i in range(1, 16))
    terms = " + ".join(f"x{i}^2" for i in range(1, 16))
    p = symgrad.function(f"p({params}) = {terms}")
    lines = repr(p.hessian).splitlines()
    assert "symmetric; diagonal; 210 of 225 entries structurally zero" in lines
    grid = lines[lines.index("pattern (* entry, . structural zero):") + 1 :]
    assert len(grid) == 15
    assert grid[0] == "  * " + ". " * 13 + "."
    assert grid[14] == "  " + ". " * 14 + "*"


def test_long_entries_are_elided():
    text = "b(x, y) = sin(sin(sin(sin(sin(x*y + exp(x/y))))))^3 * log(x^2 + y^2)"
    b = symgrad.function(text)
    partial = b.derivatives.gradient[0]
    marker = f"… ({repl.op_count(partial)} ops)"
    assert f"∂b/∂x  {marker}" in repr(b.grad)
    assert "… (" in repr(b.hessian)
    assert r"\dots\ \text{(" in b.hessian._repr_latex_()


def test_multi_line_entries_align_on_the_baseline():
    g = symgrad.function("g(x, y) = exp(x*y)")
    lines = repr(g.hessian).splitlines()
    assert lines[1].split() == ["x", "y"]
    # the labels sit on the baseline row, the exponents above it
    assert re.match(r"  x  ⎢ +y²⋅ℯ +x⋅y⋅ℯ +\+ ℯ +⎥", lines[3])
    assert "x⋅y" in lines[2]


def test_long_graphs_are_elided():
    params = ", ".join(f"x{i}" for i in range(80))
    s = symgrad.function(f"s({params}) = " + " + ".join(f"x{i}" for i in range(80)))
    lines = repr(s.graph).splitlines()
    assert lines[0] == (
        "computation graph of s(x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, …, x79), "
        "159 nodes:"
    )
    assert len(lines) == 1 + repl.MAX_GRAPH_LINES + 1
    assert "  ⋮ (59 more nodes)" in lines


# ---------------------------------------------------------------------------
# Odd shapes: constants, name clashes, data, decorated functions.


def test_constant_function():
    c = symgrad.function("c(x) = 3")
    assert repr(c.grad) == "∇c(x) =\n  ∂c/∂x  0"
    assert (
        repr(c.hessian).splitlines()[-1] == "symmetric; all 1 entry structurally zero"
    )
    assert repr(c.graph.at(1)).splitlines()[-1] == "  c = 3      3  dc/dc = 1"


def test_generated_names_avoid_source_names():
    g = symgrad.function("t1(x, t2) = x*t2 + exp(x)")
    assert repr(g.graph).splitlines()[1:] == [
        "  x  = param",
        "  t2 = param",
        "  t3 = x*t2",
        "  t4 = exp(x)",
        "  t1 = t3 + t4",
    ]


def test_data_parameters_in_the_graph():
    g = symgrad.function("g(w; x) = w*x - 1")
    at = g.graph.at(2, 5)
    assert at.values["g"] == 9
    assert at.adjoints == {"w": 5, "x": 2, "t1": 1, "g": 1}
    assert "  x  = data" in repr(g.graph)
    assert repr(g.hessian.at(2, 5)).splitlines()[-1].startswith("degenerate")


def rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def test_decorated_function_views():
    r = symgrad.compile(rosenbrock)
    assert r.hessian.definiteness(1, 1) == "minimum"
    assert repr(r.grad).startswith("∇rosenbrock(x, y) =\n  ∂rosenbrock/∂x  ")
    assert repr(r.graph.at(1, 1)).splitlines()[-1].split()[-3:] == [
        "drosenbrock/drosenbrock",
        "=",
        "1",
    ]


# ---------------------------------------------------------------------------
# to_sympy, DOT quoting, imports, a real terminal.


def test_to_sympy_matches_sympy_diff(f):
    x, y = sympy.symbols("x y", real=True)
    e = x**2 * y + y + 2
    form = symgrad.to_sympy(f)
    assert isinstance(form, repl.SympyForm)
    assert form.expression == e
    assert form.gradient == sympy.Matrix([e.diff(x), e.diff(y)])
    assert form.hessian == sympy.hessian(e, (x, y))
    assert symgrad.to_sympy(f.grad) == form.gradient
    assert symgrad.to_sympy(f.hessian) == form.hessian
    assert symgrad.to_sympy(f.function.body) == e


def test_to_sympy_of_a_harder_function():
    g = symgrad.function("g(x, y) = exp(x*y) + sin(x)/y + log(1 + x^2)")
    x, y = sympy.symbols("x y", real=True)
    e = sympy.exp(x * y) + sympy.sin(x) / y + sympy.log(1 + x**2)
    form = symgrad.to_sympy(g)
    assert sympy.simplify(form.expression - e) == 0
    gradient = sympy.Matrix([e.diff(x), e.diff(y)])
    assert sympy.simplify(form.gradient - gradient) == sympy.zeros(2, 1)
    assert sympy.simplify(form.hessian - sympy.hessian(e, (x, y))) == sympy.zeros(2)
    assert form.hessian.is_symmetric()


def test_to_sympy_rejects_other_objects():
    with pytest.raises(TypeError, match="to_sympy"):
        symgrad.to_sympy("x^2")


def test_dot_quote_escapes():
    assert repl.dot_quote('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'


_DOT_STRING = r'"(?:[^"\\]|\\.)*"'
_DOT_LINE = re.compile(
    rf"  (?:node \[shape=box, fontname=\"monospace\"\]"
    rf"|n\d+ \[label={_DOT_STRING}(?:, shape=(?:plaintext|ellipse))?\]"
    rf"|n\d+ -> n\d+);"
)


def assert_valid_dot(text: str) -> None:
    """A small check of the DOT subset graph_dot writes."""
    lines = text.rstrip("\n").split("\n")
    assert re.fullmatch(rf"digraph {_DOT_STRING} {{", lines[0])
    assert lines[-1] == "}"
    for line in lines[1:-1]:
        assert _DOT_LINE.fullmatch(line), line


def test_ipython_is_not_imported():
    code = (
        "import sys, symgrad, symgrad.repl\n"
        f"f = symgrad.function({POLY!r})\n"
        "repr(f.grad); repr(f.hessian); repr(f.graph.at(3, 4))\n"
        "f.hessian._repr_html_(); f.hessian._repr_latex_()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'IPython'))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="pexpect.spawn needs a pty")
def test_interactive_session_in_a_terminal(tmp_path):
    import pexpect  # in the test extra: CI must run this test, never skip it

    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHONIOENCODING": "utf-8",
        "TERM": "dumb",
        "PYTHON_BASIC_REPL": "1",
        "SYMGRAD_CACHE_DIR": str(tmp_path / "cache"),
    }
    child = pexpect.spawn(
        sys.executable,
        ["-q", "-i"],
        cwd=str(ROOT),
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 200),
    )
    try:
        screen = _session(child, pexpect.EOF)
    finally:
        child.close(force=True)
    assert HESSIAN_F in screen["f.hessian"]
    assert "2⋅y" in screen["f.hessian"] and "symmetric" in screen["f.hessian"]
    assert "array([[8., 6.]," in screen["f.hessian(3, 4)"]


def _session(child, eof) -> dict[str, str]:
    """Type each line at the prompt; the screen text printed after each."""
    child.expect(">>> ")
    screen = {}
    for line in ["import symgrad", f"f = symgrad.function({POLY!r})"] + [
        "f.hessian",
        "f.hessian(3, 4)",
    ]:
        child.sendline(line)
        child.expect(">>> ")
        screen[line] = child.before.replace("\r\n", "\n")
    child.sendline("exit()")
    child.expect(eof)
    return screen


def test_combining_marks_take_no_column():
    block = repl.pretty_block(sympy.Symbol("xdot") / sympy.Symbol("y"))
    xdot = "x\u0307"  # x and a combining dot above, as sympy writes it
    assert block == repl.Block((xdot, "─", "y"), 1)
    assert block.width == 1
    assert repl.pad(xdot, 3, "center") == f" {xdot} "
