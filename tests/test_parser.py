"""Tests for symgrad.parser: trees, precedence, definitions, errors and limits."""

from __future__ import annotations

import pathlib
import re
import time

import pytest

import symgrad.parser
from symgrad import syntax
from symgrad.errors import LimitError, ParseError
from symgrad.parser import BINDING_POWER, parse, parse_expression


def show(node: syntax.Expr) -> str:
    """A span-free prefix rendering of an expression tree."""
    if isinstance(node, syntax.Num):
        return node.text
    if isinstance(node, syntax.Name):
        return node.id
    if isinstance(node, syntax.Unary):
        return f"({node.op} {show(node.operand)})"
    if isinstance(node, syntax.Binary):
        return f"({node.op} {show(node.left)} {show(node.right)})"
    if isinstance(node, syntax.Transpose):
        return f"(.T {show(node.operand)})"
    if isinstance(node, syntax.Subscript):
        return f"(sub {show(node.value)} {' '.join(map(show_item, node.items))})"
    return f"{node.func}[{', '.join(show(arg) for arg in node.args)}]"


def show_item(item: syntax.SubscriptItem) -> str:
    """A subscript entry as written, without spaces: 0, 1:, :-1, :."""
    if isinstance(item, syntax.IndexItem):
        return str(item.index)
    start = "" if item.start is None else str(item.start)
    return f"{start}:{'' if item.stop is None else item.stop}"


def tree(text: str) -> str:
    """The rendered tree of one expression."""
    return show(parse_expression(text))


def parse_error(text: str) -> ParseError:
    """The ParseError parsing `text` as a file raises."""
    with pytest.raises(ParseError) as info:
        parse(text, "t.sg")
    return info.value


COURSE = """\
# the definitions of the course
f(x, y) = x^2*y + y + 2            # '^' and '**' are both power
sigmoid(z) = 1 / (1 + exp(-z))

u = b*c
v = a + u
J(a, b, c) = 3*v

loss(w, b; x, y) = -(y*log(sigmoid(w*x + b)) + (1 - y)*log(1 - sigmoid(w*x + b)))
"""


# -- the course definitions ------------------------------------------------------------


def test_course_file_definitions_in_order() -> None:
    module = parse(COURSE, "course.sg")
    assert module.file == "course.sg"
    kinds = [(type(d).__name__, d.name) for d in module.definitions]
    assert kinds == [
        ("FunctionDef", "f"),
        ("FunctionDef", "sigmoid"),
        ("Assign", "u"),
        ("Assign", "v"),
        ("FunctionDef", "J"),
        ("FunctionDef", "loss"),
    ]


def test_course_polynomial() -> None:
    f = parse(COURSE).definitions[0]
    assert isinstance(f, syntax.FunctionDef)
    assert [p.name for p in f.params] == ["x", "y"]
    assert f.data == ()
    assert show(f.body) == "(+ (+ (* (^ x 2) y) y) 2)"
    assert f.source == "f(x, y) = x^2*y + y + 2"


def test_course_graph_example() -> None:
    u, v, j = parse(COURSE).definitions[2:5]
    assert isinstance(u, syntax.Assign) and isinstance(v, syntax.Assign)
    assert (u.name, show(u.body), u.source) == ("u", "(* b c)", "u = b*c")
    assert (v.name, show(v.body), v.source) == ("v", "(+ a u)", "v = a + u")
    assert isinstance(j, syntax.FunctionDef)
    assert [p.name for p in j.params] == ["a", "b", "c"]
    assert show(j.body) == "(* 3 v)"


def test_course_logistic_loss_with_data_parameters() -> None:
    loss = parse(COURSE).definitions[5]
    assert isinstance(loss, syntax.FunctionDef)
    assert [p.name for p in loss.params] == ["w", "b"]
    assert [p.name for p in loss.data] == ["x", "y"]
    assert show(loss.body) == (
        "(- (+ (* y log[sigmoid[(+ (* w x) b)]]) "
        "(* (- 1 y) log[(- 1 sigmoid[(+ (* w x) b)])])))"
    )
    assert loss.source.startswith("loss(w, b; x, y) = -(y*log(")
    assert loss.source.endswith("sigmoid(w*x + b)))")


def test_helper_sigmoid() -> None:
    sigmoid = parse(COURSE).definitions[1]
    assert show(sigmoid.body) == "(/ 1 (+ 1 exp[(- z)]))"


def test_definition_spans_point_at_the_name() -> None:
    module = parse(COURSE, "course.sg")
    spans = [(d.span.line, d.span.col, d.span.length) for d in module.definitions]
    assert spans == [(2, 1, 1), (3, 1, 7), (5, 1, 1), (6, 1, 1), (7, 1, 1), (9, 1, 4)]
    loss = module.definitions[5]
    assert isinstance(loss, syntax.FunctionDef)
    assert [(p.span.line, p.span.col) for p in loss.params + loss.data] == [
        (9, 6),
        (9, 9),
        (9, 12),
        (9, 15),
    ]


# -- precedence and associativity ------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("-x^2", "(- (^ x 2))"),
        ("a^b^c", "(^ a (^ b c))"),
        ("2^-x", "(^ 2 (- x))"),
        ("2^-x^2", "(^ 2 (- (^ x 2)))"),
        ("2^-x*3", "(* (^ 2 (- x)) 3)"),
        ("x**2", "(^ x 2)"),
        ("a**b^c", "(^ a (^ b c))"),
        ("-x*y", "(* (- x) y)"),
        ("a*-b", "(* a (- b))"),
        ("--x", "(- (- x))"),
        ("+x", "(+ x)"),
        ("a - b - c", "(- (- a b) c)"),
        ("a / b * c", "(* (/ a b) c)"),
        ("a + b * c", "(+ a (* b c))"),
        ("(a + b) * c", "(* (+ a b) c)"),
        ("a + b < c * d", "(< (+ a b) (* c d))"),
        ("a <= -b", "(<= a (- b))"),
        ("(a < b) >= c", "(>= (< a b) c)"),
        ("a - -b", "(- a (- b))"),
        ("(x)", "x"),
        ("((((x))))", "x"),
    ],
)
def test_precedence(text: str, expected: str) -> None:
    assert tree(text) == expected


def test_binding_powers_are_one_table_in_order() -> None:
    order = ["<", "+", "*", "unary", "^"]
    assert [BINDING_POWER[op] for op in order] == sorted(
        BINDING_POWER[op] for op in order
    )
    assert BINDING_POWER["**"] == BINDING_POWER["^"]
    assert BINDING_POWER["<="] == BINDING_POWER[">="] == BINDING_POWER["<"]


def test_power_written_both_ways_gives_equal_trees() -> None:
    assert tree("x**2 + y**-1") == tree("x^2 + y^-1") == "(+ (^ x 2) (^ y (- 1)))"


@pytest.mark.parametrize(
    "text, value",
    [("2", 2.0), (".5", 0.5), ("5.", 5.0), ("1e-3", 0.001), ("2.5e3", 2500.0)],
)
def test_numbers(text: str, value: float) -> None:
    node = parse_expression(text)
    assert isinstance(node, syntax.Num)
    assert (node.value, node.text) == (value, text)


def test_underflowing_number_is_zero() -> None:
    node = parse_expression("1e-400")
    assert isinstance(node, syntax.Num) and node.value == 0.0


def test_constants_stay_names() -> None:
    node = parse_expression("2*pi")
    assert isinstance(node, syntax.Binary)
    assert node.right == syntax.Name("pi", node.right.span)


# -- calls and spans -------------------------------------------------------------------


def test_call_with_comparison_argument() -> None:
    node = parse_expression("where(x > 0, x, 0)")
    assert isinstance(node, syntax.Call)
    assert node.func == "where"
    assert [show(arg) for arg in node.args] == ["(> x 0)", "x", "0"]
    assert (node.span.col, node.span.length) == (1, 18)
    assert (node.func_span.col, node.func_span.length) == (1, 5)


def test_nested_calls() -> None:
    assert tree("sin(sin(x))") == "sin[sin[x]]"
    assert tree("atan2(y, x) + max(a, -b)") == "(+ atan2[y, x] max[a, (- b)])"


def test_binary_and_unary_spans_cover_the_expression() -> None:
    node = parse_expression("  a + b*c")
    assert isinstance(node, syntax.Binary)
    assert (node.span.col, node.span.length) == (3, 7)
    assert (node.right.span.col, node.right.span.length) == (7, 3)
    unary = parse_expression("-(x)")
    assert (unary.span.col, unary.span.length) == (1, 3)


def test_parenthesized_expression_keeps_the_inner_span() -> None:
    node = parse_expression("(a + b)")
    assert (node.span.col, node.span.length) == (2, 5)


# -- statements, lines, source text ----------------------------------------------------


def test_blank_and_comment_lines_and_crlf() -> None:
    text = "\r\n# c\r\n\r\na = 1\r\n   # indented comment\r\n\r\nb = a + 1\r\n"
    module = parse(text)
    assert [(d.name, d.span.line) for d in module.definitions] == [("a", 4), ("b", 7)]


def test_lone_cr_line_numbers_reach_the_tree() -> None:
    module = parse("a = 1\rb = 2\r\rc = x")
    assert [d.span.line for d in module.definitions] == [1, 2, 4]


def test_bom_is_skipped() -> None:
    module = parse("\ufefff(x) = x")
    assert (module.definitions[0].name, module.definitions[0].span.col) == ("f", 1)


def test_empty_and_comment_only_files_have_no_definitions() -> None:
    assert parse("").definitions == ()
    assert parse("# nothing\n\n   \n").definitions == ()


def test_expression_continues_inside_parentheses() -> None:
    text = "g(x, y) = (x +\n    # a comment inside\n\n    y) * sin(\n  x)\nh(t) = t"
    module = parse(text)
    g, h = module.definitions
    assert show(g.body) == "(* (+ x y) sin[x])"
    assert g.source == "g(x, y) = (x +\n    y) * sin(\n  x)"
    assert (h.name, h.span.line) == ("h", 6)


def test_definition_head_may_span_lines() -> None:
    module = parse("f(x,\n  y;\n  d) = x*y*d")
    f = module.definitions[0]
    assert isinstance(f, syntax.FunctionDef)
    assert ([p.name for p in f.params], [p.name for p in f.data]) == (["x", "y"], ["d"])


def test_source_drops_trailing_comment_and_whitespace() -> None:
    module = parse("   u = b*c    # the product\n")
    assert module.definitions[0].source == "u = b*c"


def test_leading_whitespace_and_tabs_are_allowed() -> None:
    module = parse("\t  f(x) =\tx")
    assert module.definitions[0].span.col == 4


# -- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, line, col, fragment",
    [
        # statements that are not definitions
        ("x + 1", 1, 1, "expected a definition `name(params) = expr` or `name = expr`"),
        ("sin(x)", 1, 1, "expected a definition"),
        ("x", 1, 1, "expected a definition"),
        ("2*x = 3", 1, 1, "expected a definition"),
        (
            "= 3",
            1,
            1,
            "expected a definition `name(params) = expr` or `name = expr`, found '='",
        ),
        ("a = 1\n  + 2", 2, 3, "expected a definition"),
        # missing '=' and malformed heads
        ("f(x) x^2", 1, 6, "expected '=' after 'f(x)', found name 'x'"),
        ("f(x, y) 2*x", 1, 9, "expected '=' after 'f(x, y)'"),
        ("f x = 2", 1, 3, "expected '=' or '(' after the name 'f'"),
        ("f(x) + 1 = 2", 1, 6, "expected '=' after the head of 'f', found '+'"),
        (
            "f() = 1",
            1,
            2,
            "a function needs at least one parameter; write `name = expr`",
        ),
        ("f(;x) = 1", 1, 3, "at least one differentiated parameter before ';'"),
        ("f(x;) = 1", 1, 5, "expected a data parameter name after ';'"),
        ("f(x,) = 1", 1, 5, "trailing comma in a parameter list"),
        ("f(x, x) = 1", 1, 6, "duplicate parameter 'x'"),
        ("f(x; x) = 1", 1, 6, "duplicate parameter 'x'"),
        ("f(x=1) = x", 1, 4, "default parameter values are not supported"),
        ("f(x+1) = x", 1, 4, "expected ',', ';' or ')' in the parameters of 'f'"),
        ("f(2) = x", 1, 3, "expected a parameter name in 'f(...)', found number 2"),
        ("f(x; y; z) = x", 1, 7, "expected ',' or ')'"),
        # operands and operators
        ("f(x) = x +* 2", 1, 11, "expected an expression after '+', found '*'"),
        ("f(x) = x +", 1, 11, "expected an expression after '+', found end of line"),
        ("f(x) =", 1, 7, "expected an expression after '=', found end of line"),
        ("f(x) = * x", 1, 8, "expected an expression after '=', found '*'"),
        ("f(x) = x ** * 2", 1, 13, "expected an expression after '**'"),
        ("f(x) = x 3", 1, 10, "implicit multiplication is not supported; write x*3"),
        ("f(x) = 2x", 1, 9, "implicit multiplication is not supported; write 2*x"),
        ("f(x) = 2 x", 1, 10, "write 2*x"),
        (
            "f(x) = 2(x + 1)",
            1,
            9,
            "implicit multiplication is not supported; write 2*(...)",
        ),
        ("f(x) = (x)(x)", 1, 11, "implicit multiplication"),
        (
            "f(x) = x = 3",
            1,
            10,
            "expected an operator or the end of the line, found '='",
        ),
        ("f(x) = x; g(y) = y", 1, 9, "one definition per line"),
        ("f(x) = x, 1", 1, 9, "tuples are not supported"),
        ("f(x) = (x, 1)", 1, 10, "tuples are not supported"),
        ("f(x) = ()", 1, 8, "empty parentheses"),
        ("f(x) = a < b < c", 1, 14, "comparisons cannot be chained"),
        ("f(x) = a <= b > c", 1, 15, "comparisons cannot be chained"),
        # parentheses
        ("f(x) = (x + 1", 1, 8, "unclosed '('"),
        ("f(x) = sin(x", 1, 11, "unclosed '('"),
        ("f(x) = (x + 1\ng(y) = y\n", 1, 8, "unclosed '('"),
        ("f(x) = log(sigmoid(x)\n\ng(y) = (y)\n", 1, 11, "unclosed '('"),
        ("f(x) = x + 1)", 1, 13, "unmatched ')'"),
        ("f(x) = (x))", 1, 11, "unmatched ')'"),
        (")", 1, 1, "unmatched ')'"),
        # calls
        ("f(x) = g()", 1, 8, "a call needs at least one argument: 'g()'"),
        ("f(x) = g(x=1)", 1, 10, "keyword arguments are not supported"),
        ("f(x) = g(x, y=1)", 1, 13, "keyword arguments are not supported"),
        ("f(x) = g(x,)", 1, 11, "trailing comma in an argument list"),
        ("f(x) = g(, x)", 1, 10, "expected an expression, found ','"),
        ("f(x) = g(x y)", 1, 12, "implicit multiplication"),
        (
            "f(x) = g(x; y)",
            1,
            11,
            "expected an operator, ',' or ')' in the call of 'g'",
        ),
        ("f(x) = sum(x for x in y)", 1, 14, "comprehensions"),
        ("f(x) = sum((x for x in y))", 1, 15, "comprehensions"),
        # reserved words
        ("f(x) = g(lambda x: x)", 1, 10, "'lambda' is not supported"),
        ("f(x) = lambda", 1, 8, "'lambda' is not supported"),
        ("lambda = 3", 1, 1, "'lambda' is a reserved word and cannot be a name"),
        ("f(lambda) = 3", 1, 3, "'lambda' is a reserved word, not a parameter name"),
        ("f(x) = x if x > 0 else 0", 1, 10, "use where(condition, a, b)"),
        ("f(x) = x and 1", 1, 10, "logical operators are not supported"),
        ("f(x) = not x", 1, 8, "logical operators are not supported"),
        ("f(x) = True", 1, 8, "'True' is not a number"),
        ("if x > 0", 1, 1, "'if' is a reserved word"),
        ("import os", 1, 1, "'import' is a reserved word"),
        ("def f(x): return x", 1, 1, "'def' is not part of the expression language"),
        # lexical errors surface through the parser
        (
            "f(x) = x == 1",
            1,
            10,
            "'==' is not supported; comparisons are < <= > >= inside",
        ),
        ("f(x) = a.b", 1, 9, "attribute access"),
        ("f(x) = 'x'", 1, 8, "strings are not part of the expression language"),
        ("f(x) = 0x1F", 1, 8, "hex literals are not supported"),
        ("f(x) = 1_000", 1, 8, "underscores in numbers are not supported"),
        ("f(x) = 1j", 1, 8, "complex numbers are not supported"),
        ("f(x) = 1e309", 1, 8, "number too large"),
        ("f(\u00e9) = 1", 1, 3, "non-ASCII identifier character U+00E9"),
    ],
)
def test_errors(text: str, line: int, col: int, fragment: str) -> None:
    error = parse_error(text)
    assert fragment in error.message
    assert (error.span.line, error.span.col) == (line, col)
    assert error.span.file == "t.sg"


def test_bare_expression_span_underlines_the_statement() -> None:
    error = parse_error("  x + 1  # note")
    assert error.span.caret() == "  x + 1  # note\n  ^^^^^"


def test_operator_at_line_start_gets_a_continuation_note() -> None:
    error = parse_error("a = b\n    + c")
    assert (error.span.line, error.span.col) == (2, 5)
    assert any("inside parentheses" in note for note in error.notes)


def test_unclosed_paren_has_a_note() -> None:
    error = parse_error("f(x) = (x +\n\ng(y) = y")
    assert error.notes and "'('" in error.notes[0]


def test_missing_close_paren_at_end_of_line_blames_the_open_paren() -> None:
    # The '(' swallows the next line; a lexing error follows the real mistake.
    error = parse_error("f(x) = (x + 1\ng = 'oops'")
    assert (error.span.line, error.span.col) == (1, 8)
    assert error.message == "unclosed '('"


def test_error_columns_count_characters_after_tabs() -> None:
    error = parse_error("\tf(x) =\t2x")
    assert (error.span.line, error.span.col) == (1, 10)
    assert error.span.caret() == "\tf(x) =\t2x\n\t      \t ^"


def test_error_after_non_ascii_comment_lines_with_crlf() -> None:
    error = parse_error("# \u2202f/\u2202x\r\nf(x) = 1\r\n\tg(y) = y +\r\n")
    assert (error.span.line, error.span.col) == (3, 12)
    assert error.span.line_text == "\tg(y) = y +"


def test_parse_error_before_lexing_error_on_the_same_line_wins() -> None:
    error = parse_error("f(x) = 2x + 'tail'")
    assert "implicit multiplication" in error.message


def test_lexing_error_on_a_later_line_does_not_hide_an_earlier_error() -> None:
    error = parse_error("f(x) = x +\ng(y) = y\nh = 'x'")
    assert error.span.line == 1


def test_later_lexing_error_is_reported_when_reached() -> None:
    error = parse_error("f(x) = x\ng(y) = y\nh = a $ b")
    assert (error.span.line, error.span.col, error.message) == (
        3,
        7,
        "character '$' is not allowed",
    )


def test_parse_error_is_a_syntax_error() -> None:
    assert issubclass(ParseError, SyntaxError)
    with pytest.raises(SyntaxError) as info:
        parse("a = 1\nf(x) = x +* 2", "model.sg")
    assert (info.value.filename, info.value.lineno, info.value.offset) == (
        "model.sg",
        2,
        11,
    )
    assert str(info.value).startswith("model.sg:2:11: error: expected an expression")


def test_untrusted_text_is_rejected_not_run() -> None:
    error = parse_error("f(x) = __import__('os').system('echo pwned')")
    assert "strings are not part of the expression language" in error.message


def test_parser_and_lexer_never_evaluate_user_text() -> None:
    root = pathlib.Path(symgrad.parser.__file__).parent
    builtin_call = re.compile(r"(?<![\w.])(eval|exec|compile|__import__)\(")
    for name in ("lexer.py", "parser.py"):
        code = (root / name).read_text()
        assert builtin_call.search(code) is None, name
        assert "import ast" not in code and "sympify" not in code, name


# -- parse_expression ------------------------------------------------------------------


def test_parse_expression_single_expression() -> None:
    assert tree("sin(sin(x))") == "sin[sin[x]]"
    assert tree("\n  x + 1  # comment\n\n") == "(+ x 1)"
    assert tree("(x +\n 1)") == "(+ x 1)"


@pytest.mark.parametrize(
    "text, line, col, fragment",
    [
        ("", 1, 1, "expected an expression, found end of input"),
        ("x = 1", 1, 3, "expected an operator or the end of the expression"),
        ("x\ny", 2, 1, "expected a single expression, found name 'y'"),
        ("x +\n1", 1, 4, "expected an expression after '+', found end of line"),
        ("(x", 1, 1, "unclosed '('"),
        ("x)", 1, 2, "unmatched ')'"),
        ("2x", 1, 2, "implicit multiplication"),
    ],
)
def test_parse_expression_errors(text: str, line: int, col: int, fragment: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_expression(text, "expr")
    assert fragment in info.value.message
    assert (info.value.span.line, info.value.span.col) == (line, col)


# -- limits ----------------------------------------------------------------------------


def limit_error(text: str) -> LimitError:
    """Parse `text`, expecting a LimitError quickly (no hang).

    A hang guard, not a benchmark: ~0.3 s alone, but several times that on a
    shared machine under load, so the bound is generous.
    """
    start = time.perf_counter()
    with pytest.raises(LimitError) as info:
        parse(text, "t.sg")
    assert time.perf_counter() - start < 5.0
    assert "limit exceeded" in info.value.message
    return info.value


def test_ten_thousand_nested_parentheses() -> None:
    error = limit_error("f(x) = " + "(" * 10_000 + "x" + ")" * 10_000)
    assert (error.span.line, error.span.col) == (1, 8 + 200)


def test_hundred_thousand_unary_minuses() -> None:
    error = limit_error("f(x) = " + "-" * 100_000 + "x")
    assert (error.span.line, error.span.col) == (1, 8 + 200)


def test_long_power_chain() -> None:
    error = limit_error("f(x) = " + "x^" * 10_000 + "x")
    assert error.span.col == 8 + 2 * 200 + 1


def test_deep_calls() -> None:
    error = limit_error("f(x) = " + "sin(" * 5_000 + "x" + ")" * 5_000)
    assert error.span.col == 8 + 4 * 200 + 3  # the '(' of the 201st call


def test_limit_error_is_not_a_parse_error() -> None:
    error = limit_error("f(x) = " + "(" * 300 + "x" + ")" * 300)
    assert not isinstance(error, ParseError)


@pytest.mark.parametrize(
    "text",
    [
        "(" * 200 + "x" + ")" * 200,
        "-" * 200 + "x",
        "x^" * 200 + "x",
        "sin(" * 200 + "x" + ")" * 200,
        "(a + " * 200 + "x" + ")" * 200,
    ],
)
def test_nesting_of_two_hundred_is_allowed(text: str) -> None:
    module = parse("f(x) = " + text)
    assert module.definitions[0].name == "f"


@pytest.mark.parametrize(
    "text",
    [
        "(" * 201 + "x" + ")" * 201,
        "-" * 201 + "x",
        "x^" * 201 + "x",
        "sin(" * 201 + "x" + ")" * 201,
    ],
)
def test_nesting_of_two_hundred_and_one_is_refused(text: str) -> None:
    limit_error("f(x) = " + text)


def recurse(depth: int, text: str) -> LimitError | None:
    """Parse `text` from `depth` extra Python frames; return a LimitError if any."""
    if depth:
        return recurse(depth - 1, text)
    try:
        parse(text)
    except LimitError as error:
        return error
    return None


@pytest.mark.parametrize("extra_frames", [0, 400, 800])
def test_worst_case_nesting_never_hits_the_recursion_limit(extra_frames: int) -> None:
    # Every level recurses through < + * and a call: the most frames per level.
    text = "f(x) = " + "g(a < b + c * -d^" * 200 + "x" + ")" * 200
    error = recurse(extra_frames, text)
    assert error is not None and "limit exceeded" in error.message


def test_statement_with_more_than_a_million_tokens() -> None:
    text = "f(x) = " + "x+" * 499_998 + "x"  # 1,000,002 tokens
    with pytest.raises(LimitError) as info:
        parse(text)
    assert "limit exceeded" in info.value.message
    assert "1,000,000 tokens" in info.value.message


def test_token_limit_applies_through_the_parser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("symgrad.lexer.MAX_STATEMENT_TOKENS", 10)
    assert len(parse("a = 1 + 2 + 3 + 4").definitions) == 1  # 9 tokens
    with pytest.raises(LimitError) as info:
        parse("a = 1\nb = 1 + 2 + 3 + 4 + 5")
    assert (info.value.span.line, info.value.span.col) == (2, 21)  # the 11th token


# -- arrays: shapes, @, .T, subscripts -------------------------------------------------


def shapes_of(text: str) -> list[tuple[str, tuple | None]]:
    """(name, declared shape) for each parameter of the first definition."""
    definition = parse(text).definitions[0]
    assert isinstance(definition, syntax.FunctionDef)
    return [(p.name, p.shape) for p in definition.params + definition.data]


def test_parameter_shapes_with_size_names_and_fixed_sizes() -> None:
    text = "loss(w[d], b; X[n, d], y[n]) = mean(softplus(X @ w + b) - y*(X @ w + b))"
    assert shapes_of(text) == [
        ("w", ("d",)),
        ("b", None),
        ("X", ("n", "d")),
        ("y", ("n",)),
    ]
    assert shapes_of("f(x[3], A[2, n]) = x") == [("x", (3,)), ("A", (2, "n"))]


def test_shape_spans_point_at_each_size() -> None:
    definition = parse("f(x; A[m, 10]) = x").definitions[0]
    (a,) = definition.data
    assert [(s.col, s.length) for s in a.dim_spans] == [(8, 1), (11, 2)]
    assert (a.span.col, a.span.length) == (6, 1)


def test_huge_fixed_size_parses_as_an_int() -> None:
    assert shapes_of("f(x[1000000000000]) = x") == [("x", (10**12,))]


def test_shaped_head_may_span_lines() -> None:
    assert shapes_of("f(x[n,\n  d]; y[\n n]) = x") == [("x", ("n", "d")), ("y", ("n",))]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("A @ x + b", "(+ (@ A x) b)"),
        ("a * B @ c", "(@ (* a B) c)"),
        ("A @ B @ C", "(@ (@ A B) C)"),
        ("A @ x / n", "(/ (@ A x) n)"),
        ("-A @ x", "(@ (- A) x)"),
        ("x @ A @ x", "(@ (@ x A) x)"),
        ("-x[0]^2", "(- (^ (sub x 0) 2))"),
        ("x[1:]^2", "(^ (sub x 1:) 2)"),
        ("2^x[0]", "(^ 2 (sub x 0))"),
        ("A.T @ x", "(@ (.T A) x)"),
        ("-A.T", "(- (.T A))"),
        ("A.T^2", "(^ (.T A) 2)"),
        ("(A @ B).T", "(.T (@ A B))"),
        ("A.T.T", "(.T (.T A))"),
        ("A[0].T", "(.T (sub A 0))"),
        ("A.T[0]", "(sub (.T A) 0)"),
        ("A[1:][0]", "(sub (sub A 1:) 0)"),
        ("f(x)[0]", "(sub f[x] 0)"),
        ("transpose(A)", "transpose[A]"),
        ("sum(x, -1)", "sum[x, (- 1)]"),
        ("x.T", "(.T x)"),
        ("x .T", "(.T x)"),
    ],
)
def test_array_precedence(text: str, expected: str) -> None:
    assert tree(text) == expected


def test_matmul_binds_like_multiplication() -> None:
    assert BINDING_POWER["@"] == BINDING_POWER["*"] == BINDING_POWER["/"]
    assert BINDING_POWER["postfix"] > BINDING_POWER["^"] > BINDING_POWER["unary"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("x[1:]", "(sub x 1:)"),
        ("x[:-1]", "(sub x :-1)"),
        ("x[0]", "(sub x 0)"),
        ("x[-1]", "(sub x -1)"),
        ("x[+2]", "(sub x 2)"),
        ("A[:, 0]", "(sub A : 0)"),
        ("A[1:, :-1]", "(sub A 1: :-1)"),
        ("A[-3:-1, 2:5]", "(sub A -3:-1 2:5)"),
        ("x[:]", "(sub x :)"),
        ("x[ 1 : ]", "(sub x 1:)"),
    ],
)
def test_subscripts(text: str, expected: str) -> None:
    assert tree(text) == expected


def test_subscript_items_and_spans() -> None:
    node = parse_expression("A[1:, -2]")
    assert isinstance(node, syntax.Subscript)
    first, second = node.items
    assert first == syntax.SliceItem(1, None, first.span)
    assert second == syntax.IndexItem(-2, second.span)
    assert [(i.span.col, i.span.length) for i in node.items] == [(3, 2), (7, 2)]
    assert (node.span.col, node.span.length) == (1, 9)
    assert (node.bracket_span.col, node.bracket_span.length) == (2, 8)


def test_operator_and_transpose_spans() -> None:
    node = parse_expression("W1 @ X + b1")
    assert isinstance(node, syntax.Binary) and isinstance(node.left, syntax.Binary)
    assert (node.op_span.col, node.left.op_span.col) == (8, 4)
    assert node.left.span.line_text[node.left.span.col - 1 :][:6] == "W1 @ X"
    transpose = parse_expression("A.T")
    assert isinstance(transpose, syntax.Transpose)
    assert (transpose.op_span.col, transpose.op_span.length) == (2, 2)
    assert (transpose.span.col, transpose.span.length) == (1, 3)


def test_power_written_twice_keeps_operator_span() -> None:
    node = parse_expression("x ** 2")
    assert isinstance(node, syntax.Binary)
    assert (node.op, node.op_span.col, node.op_span.length) == ("^", 3, 2)


def test_subscript_may_continue_over_lines() -> None:
    module = parse("f(A[n, n]) = sum(A[1:,\n  0])\ng(x) = x")
    assert show(module.definitions[0].body) == "sum[(sub A 1: 0)]"
    assert module.definitions[1].span.line == 3


def test_numbers_with_a_leading_dot_still_lex_as_numbers() -> None:
    assert tree(".5*x.T") == "(* .5 (.T x))"


@pytest.mark.parametrize(
    "text, line, col, fragment",
    [
        # declared shapes
        ("f(x[]) = x", 1, 4, "empty shape '[]': write 'x' for a scalar parameter"),
        ("f(x[0]) = x", 1, 5, "a fixed size must be at least 1, got 0"),
        ("f(x[2.5]) = x", 1, 5, "a size must be a whole number or a size name, found 2.5"),
        ("f(x[1e3]) = x", 1, 5, "a size must be a whole number"),
        ("f(x[-3]) = x", 1, 5, "expected a size name or a whole number in the shape of 'x', found '-'"),
        ("f(x[if]) = x", 1, 5, "found the reserved word 'if'"),
        ("f(x[n-1]) = x", 1, 6, "expected ',' or ']' in the shape of 'x', found '-'"),
        ("f(x[n,]) = x", 1, 6, "trailing comma in a shape"),
        ("f(x[n]=1) = x", 1, 7, "default parameter values are not supported"),
        ("f(x[n) = x", 1, 6, "')' does not close the '[' at line 1, column 4"),
        ("f(x[n], x[n]) = x", 1, 9, "duplicate parameter 'x'"),
        ("f(x[n] y) = x", 1, 8, "expected ',', ';' or ')' in the parameters of 'f'"),
        ("f(x[n]) x", 1, 9, "expected '=' after 'f(x[n])', found name 'x'"),
        # subscripts
        ("f(x) = x[]", 1, 9, "empty subscript '[]'"),
        ("f(x) = x[i]", 1, 10, "a subscript takes constant whole numbers and slices"),
        ("f(x) = x[1.5]", 1, 10, "found number 1.5"),
        ("f(x) = x[n-1]", 1, 10, "a subscript takes constant whole numbers"),
        ("f(x) = x[1-1]", 1, 11, "expected ',' or ']' in a subscript, found '-'"),
        ("f(x) = x[::2]", 1, 11, "slice steps are not supported"),
        ("f(x) = x[1:2:3]", 1, 13, "slice steps are not supported"),
        ("f(x) = x[0,]", 1, 11, "trailing comma in a subscript"),
        ("f(x) = x[0", 1, 9, "unclosed '['"),
        ("f(x) = x[0)", 1, 11, "')' does not close the '[' at line 1, column 9"),
        ("f(x) = (x]", 1, 10, "']' does not close the '(' at line 1, column 8"),
        ("f(x) = x]", 1, 9, "unmatched ']'"),
        ("f(x) = [x]", 1, 8, "list literals are not supported"),
        # transpose and '@'
        ("f(x) = .T", 1, 8, "'.T' (transpose) must follow an operand, as in A.T"),
        ("f(x) = x.foo", 1, 9, "attribute access with '.' is not supported; the only attribute is .T"),
        ("f(x) = x @", 1, 11, "expected an expression after '@', found end of line"),
        ("f(x) = @ x", 1, 8, "expected an expression after '=', found '@'"),
        ("f(x) = x : 1", 1, 10, "expected an operator or the end of the line, found ':'"),
    ],
)  # fmt: skip
def test_array_syntax_errors(text: str, line: int, col: int, fragment: str) -> None:
    error = parse_error(text)
    assert fragment in error.message
    assert (error.span.line, error.span.col) == (line, col)


def test_unclosed_bracket_has_a_note() -> None:
    error = parse_error("f(x) = x[1:\n\ng(y) = y\n")
    assert error.message == "unclosed '['"
    assert error.notes == ("a '[' continues an expression onto the following lines",)


def test_postfix_binding_power_is_read_from_the_table(monkeypatch) -> None:
    assert tree("x^y[0]") == "(^ x (sub y 0))"
    monkeypatch.setitem(BINDING_POWER, "postfix", BINDING_POWER["^"] - 5)
    assert tree("x^y[0]") == "(sub (^ x y) 0)"
