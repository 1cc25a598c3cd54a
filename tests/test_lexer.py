"""Tests for symgrad.lexer: tokens, spans, line endings and every lexical error."""

from __future__ import annotations

import dataclasses

import pytest

from symgrad.errors import LimitError, ParseError, Span
from symgrad.lexer import (
    EOF,
    ERROR,
    NAME,
    NEWLINE,
    NUMBER,
    OP,
    Token,
    _Lexer,
    new_span,
    new_token,
    split_lines,
    tokenize,
    tokenize_until_error,
)


def lex(text: str) -> list[Token]:
    """Tokenize with a fixed file name."""
    return tokenize(text, "t.sg")


def texts(text: str) -> list[str]:
    """The texts of the tokens that are not NEWLINE or EOF."""
    return [t.text for t in lex(text) if t.kind not in (NEWLINE, EOF)]


def kinds(text: str) -> list[str]:
    """The kinds of all tokens."""
    return [t.kind for t in lex(text)]


def lex_error(text: str) -> ParseError:
    """The error tokenizing `text` raises."""
    with pytest.raises(ParseError) as info:
        lex(text)
    return info.value


# -- tokens ----------------------------------------------------------------------------


def test_definition_tokens_kinds_and_texts() -> None:
    tokens = lex("f(x, y) = x^2*y + y + 2")
    assert [(t.kind, t.text) for t in tokens] == [
        (NAME, "f"),
        (OP, "("),
        (NAME, "x"),
        (OP, ","),
        (NAME, "y"),
        (OP, ")"),
        (OP, "="),
        (NAME, "x"),
        (OP, "^"),
        (NUMBER, "2"),
        (OP, "*"),
        (NAME, "y"),
        (OP, "+"),
        (NAME, "y"),
        (OP, "+"),
        (NUMBER, "2"),
        (NEWLINE, "\n"),
        (EOF, ""),
    ]


def test_every_operator_is_one_token() -> None:
    ops = "+ - * / ^ ** ( ) , ; = < <= > >="
    tokens = [t for t in lex(ops) if t.kind == OP]
    assert [t.text for t in tokens] == ops.split()


def test_operators_without_spaces_take_the_longest_match() -> None:
    assert texts("a**b<=c>=d<e>f") == [
        "a",
        "**",
        "b",
        "<=",
        "c",
        ">=",
        "d",
        "<",
        "e",
        ">",
        "f",
    ]


def test_spans_are_one_based_with_lengths() -> None:
    tokens = lex("ab ** 2.5e3 <= c")
    spans = [(t.text, t.span.line, t.span.col, t.span.length) for t in tokens[:4]]
    assert spans == [
        ("ab", 1, 1, 2),
        ("**", 1, 4, 2),
        ("2.5e3", 1, 7, 5),
        ("<=", 1, 13, 2),
    ]
    assert tokens[0].span.file == "t.sg"
    assert tokens[0].span.line_text == "ab ** 2.5e3 <= c"


def test_identifiers_are_ascii_letters_digits_underscores() -> None:
    assert texts("_a1 + B_2 + x9y") == ["_a1", "+", "B_2", "+", "x9y"]
    assert [t.kind for t in lex("_a1")][:1] == [NAME]


def test_token_is_frozen() -> None:
    token = lex("x")[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        token.text = "y"  # type: ignore[misc]


# -- numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value",
    [
        ("2", 2.0),
        ("2.5", 2.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e-3", 0.001),
        ("1E+3", 1000.0),
        ("2.5e3", 2500.0),
        ("007", 7.0),
        ("1e-400", 0.0),  # underflow to zero is accepted
    ],
)
def test_number_forms(text: str, value: float) -> None:
    tokens = lex(text)
    assert (tokens[0].kind, tokens[0].text) == (NUMBER, text)
    assert float(tokens[0].text) == value
    assert tokens[1].kind == NEWLINE


def test_number_then_name_is_two_tokens_for_the_parser() -> None:
    assert [(t.kind, t.text) for t in lex("2x")[:2]] == [(NUMBER, "2"), (NAME, "x")]
    assert [(t.kind, t.text) for t in lex("2(x)")[:2]] == [(NUMBER, "2"), (OP, "(")]
    assert [(t.kind, t.text) for t in lex("2exp")[:2]] == [(NUMBER, "2"), (NAME, "exp")]


@pytest.mark.parametrize(
    "text, col, length, fragment",
    [
        ("y = 1e309", 5, 5, "number too large"),
        ("y = 99999" + "9" * 400, 5, 405, "number too large"),
        ("y = 0x1F", 5, 4, "hex literals are not supported"),
        ("y = 0b101", 5, 5, "binary and octal literals are not supported"),
        ("y = 1_000", 5, 5, "underscores in numbers are not supported"),
        ("y = 1j", 5, 2, "complex numbers are not supported"),
        ("y = 2.5J + 1", 5, 4, "complex numbers are not supported"),
        ("y = 1e", 5, 2, "the exponent needs digits"),
        ("y = 1e+", 5, 2, "malformed number 1e+"),
        ("y = 1.2.3", 5, 3, "malformed number"),
    ],
)
def test_number_errors(text: str, col: int, length: int, fragment: str) -> None:
    error = lex_error(text)
    assert fragment in error.message
    assert (error.span.line, error.span.col, error.span.length) == (1, col, length)


# -- lines, comments, BOM --------------------------------------------------------------


def test_newline_ends_logical_lines_only() -> None:
    text = "a = 1\n\n   \n# only a comment\nb = (2 +\n  3)\n"
    assert kinds(text) == [
        NAME,
        OP,
        NUMBER,
        NEWLINE,
        NAME,
        OP,
        OP,
        NUMBER,
        OP,
        NUMBER,
        OP,
        NEWLINE,
        EOF,
    ]


def test_last_line_without_line_ending_still_gets_newline() -> None:
    assert kinds("a = 1") == [NAME, OP, NUMBER, NEWLINE, EOF]
    assert kinds("") == [EOF]
    assert kinds("# nothing\n\n") == [EOF]


def test_comments_are_skipped_and_their_parentheses_ignored() -> None:
    tokens = lex("a = 1  # (unbalanced ( and 'quotes' and é\nb = 2")
    assert [t.text for t in tokens if t.kind == NAME] == ["a", "b"]
    assert [t.kind for t in tokens].count(NEWLINE) == 2


def test_unmatched_close_paren_does_not_swallow_newlines() -> None:
    # The parser reports the ')'; the lexer must keep the next line separate.
    assert kinds("a = 1)\nb = 2").count(NEWLINE) == 2


@pytest.mark.parametrize(
    "text",
    ["a = 1\nb = 2\nc = 3", "a = 1\r\nb = 2\r\nc = 3", "a = 1\rb = 2\rc = 3"],
)
def test_line_endings_number_lines(text: str) -> None:
    names = [t for t in lex(text) if t.kind == NAME]
    assert [(t.text, t.span.line, t.span.col) for t in names] == [
        ("a", 1, 1),
        ("b", 2, 1),
        ("c", 3, 1),
    ]
    assert [t.span.line_text for t in names] == ["a = 1", "b = 2", "c = 3"]


def test_mixed_line_endings_and_crlf_is_one_break() -> None:
    names = [t for t in lex("a = 1\r\n\r\nb = 2\rc = 3\n\rd = 4") if t.kind == NAME]
    assert [(t.text, t.span.line) for t in names] == [
        ("a", 1),
        ("b", 3),
        ("c", 4),
        ("d", 6),
    ]


def test_error_line_number_after_lone_cr() -> None:
    error = lex_error("a = 1\rb = 2\r  c = $")
    assert (error.span.line, error.span.col) == (3, 7)
    assert error.span.line_text == "  c = $"


def test_bom_at_start_is_skipped() -> None:
    tokens = lex("\ufeffx = 1")
    assert (tokens[0].text, tokens[0].span.col) == ("x", 1)
    assert tokens[0].span.line_text == "x = 1"
    assert split_lines("\ufeffa\r\nb") == ["a", "b"]


def test_bom_elsewhere_is_an_error() -> None:
    error = lex_error("x = 1\ufeff")
    assert "U+FEFF" in error.message
    assert (error.span.line, error.span.col) == (1, 6)


# -- character errors, columns in characters -------------------------------------------


@pytest.mark.parametrize(
    "text, col, code",
    [
        ("x = \ufb01", 5, "U+FB01"),  # the 'fi' ligature
        ("x = \U0001d465", 5, "U+1D465"),  # mathematical italic x
        ("x = caf\u00e9", 8, "U+00E9"),
        ("\u00e9 = 1", 1, "U+00E9"),
        ("x = \u0430", 5, "U+0430"),  # Cyrillic a, looks like ASCII a
        ("x = \u0663", 5, "U+0663"),  # Arabic-Indic digit three
    ],
)
def test_non_ascii_identifier_characters(text: str, col: int, code: str) -> None:
    error = lex_error(text)
    assert f"non-ASCII identifier character {code}" in error.message
    assert "identifiers are ASCII so look-alike names cannot merge" in error.message
    assert (error.span.line, error.span.col) == (1, col)


def test_tabs_and_astral_characters_count_as_one_column() -> None:
    error = lex_error("\tx = 2 * \U0001d465\U0001d466")
    assert error.span.col == 10  # tab=1, "x = 2 * " = 8, then the first bad char
    assert "U+1D465" in error.message
    assert error.span.caret() == "\tx = 2 * \U0001d465\U0001d466\n\t        ^"


def test_error_after_non_ascii_comment_line_uses_its_own_line() -> None:
    error = lex_error("# \u2202f/\u2202x \u00e9t\u00e9\n\ty = \u00e9")
    assert (error.span.line, error.span.col) == (2, 6)
    assert error.span.caret().splitlines()[1] == "\t    ^"


@pytest.mark.parametrize(
    "char", ["\u200b", "\u200d", "\u200e", "\u202a", "\u202e", "\u2066", "\u2069"]
)
def test_invisible_and_bidi_characters_name_their_code_point(char: str) -> None:
    error = lex_error(f"x = a{char} + b")
    assert f"U+{ord(char):04X}" in error.message
    assert "invisible or bidirectional control character" in error.message
    assert error.span.col == 6


def test_bidi_controls_are_rejected_inside_comments_too() -> None:
    error = lex_error("x = 1  # admin \u202e }")
    assert "U+202E" in error.message
    assert error.span.col == 16


@pytest.mark.parametrize(
    "char", ["\x00", "\x01", "\x0b", "\x0c", "\x1b", "\x7f", "\x85"]
)
def test_control_characters_name_their_code_point(char: str) -> None:
    error = lex_error(f"x = 1{char}")
    assert f"control character U+{ord(char):04X}" in error.message
    assert error.span.col == 6


def test_nul_in_a_comment_is_an_error() -> None:
    assert "U+0000" in lex_error("x = 1 # a\x00b").message


@pytest.mark.parametrize(
    "char, hint",
    [("\u2212", "'-'"), ("\u00d7", "'*'"), ("\u00f7", "'/'"), ("\u2264", "'<='")],
)
def test_look_alike_operators_suggest_the_ascii_one(char: str, hint: str) -> None:
    error = lex_error(f"x = a {char} b")
    assert f"U+{ord(char):04X}" in error.message
    assert error.message.endswith(f"write {hint}")


def test_non_breaking_space_is_named() -> None:
    error = lex_error("x =\u00a01")
    assert "U+00A0" in error.message and "ordinary space" in error.message


@pytest.mark.parametrize(
    "text, col, length, fragment",
    [
        ('x = "a"', 5, 1, "strings are not part of the expression language"),
        ("x = 'a'", 5, 1, "strings are not part of the expression language"),
        ("x = a.b", 6, 1, "attribute access"),
        ("x = a.Tb", 6, 1, "the only attribute is .T (transpose)"),
        ("x = a.t", 6, 1, "the only attribute is .T (transpose)"),
        ("x = a . 5", 7, 1, "'.' must be part of a number"),
        ("x = {a}", 5, 1, "braces are not part of the expression language"),
        ("x = a}", 6, 1, "braces"),
        ("x = a!", 6, 1, "'!' is not supported"),
        ("x = a % b", 7, 1, "'%' (remainder) is not supported"),
        ("x = a & b", 7, 1, "'&' is not supported"),
        ("x = |a|", 5, 1, "write abs(x)"),
        ("x = a == b", 7, 2, "'==' is not supported; comparisons are < <= > >= inside"),
        ("x = a != b", 7, 2, "'!=' is not supported"),
        ("x = a // b", 7, 2, "floor division"),
        ("x = a && b", 7, 2, "no logical operators"),
        ("x = a || b", 7, 2, "no logical operators"),
        ("x := 1", 3, 2, "':=' is not supported"),
        ("x = a \\", 7, 1, "backslash is not supported"),
        ("x = $a", 5, 1, "character '$' is not allowed"),
        ("x = a ? b", 7, 1, "character '?' is not allowed"),
        ("x = ~a", 5, 1, "'~' is not supported"),
    ],
)
def test_unsupported_ascii_has_specific_errors(
    text: str, col: int, length: int, fragment: str
) -> None:
    error = lex_error(text)
    assert fragment in error.message
    assert (error.span.line, error.span.col, error.span.length) == (1, col, length)


# -- errors as exceptions, limits, partial results -------------------------------------


def test_lexical_error_is_a_syntax_error_with_location() -> None:
    with pytest.raises(SyntaxError) as info:
        tokenize("a = 1\nb = 'x'", "model.sg")
    error = info.value
    assert isinstance(error, ParseError)
    assert (error.filename, error.lineno, error.offset) == ("model.sg", 2, 5)
    assert error.format().startswith("model.sg:2:5: error: strings")


def test_tokenize_until_error_keeps_tokens_before_the_error() -> None:
    tokens, error = tokenize_until_error("a = 1\nb = 2 + 'x'", "t.sg")
    assert isinstance(error, ParseError)
    assert [t.text for t in tokens if t.kind == NAME] == ["a", "b"]
    assert tokens[-1].kind == ERROR
    assert (tokens[-1].span.line, tokens[-1].span.col) == (2, 9)


def test_tokenize_until_error_without_error_ends_with_eof() -> None:
    tokens, error = tokenize_until_error("a = 1", "t.sg")
    assert error is None
    assert tokens[-1].kind == EOF


def test_token_limit_per_statement() -> None:
    assert len(tokenize("a = 1 + 2", "t.sg", max_tokens=5)) == 7
    with pytest.raises(LimitError) as info:
        tokenize("a = 1 + 2 + 3", "t.sg", max_tokens=5)
    assert "limit exceeded" in info.value.message
    assert (info.value.span.line, info.value.span.col) == (1, 11)


def test_token_limit_counts_each_statement_separately() -> None:
    # 5 + 5 + 7 tokens, each statement under the limit; 3 NEWLINEs and EOF.
    text = "a = 1 + 2\nb = 3 + 4\nc = (5 +\n 6)"
    assert len(tokenize(text, "t.sg", max_tokens=7)) == 5 + 5 + 7 + 3 + 1
    # Inside parentheses the statement goes on: 9 tokens over two lines.
    with pytest.raises(LimitError) as info:
        tokenize("c = (5 +\n 6 + 7)", "t.sg", max_tokens=8)
    assert (info.value.span.line, info.value.span.col) == (2, 7)


def test_token_limit_default_is_read_at_call_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("symgrad.lexer.MAX_STATEMENT_TOKENS", 3)
    with pytest.raises(LimitError):
        lex("a = 1 + 2")


def test_identifier_of_255_characters_is_accepted() -> None:
    name = "a" * 255
    assert texts(f"f({name}) = {name}") == ["f", "(", name, ")", "=", name]


@pytest.mark.parametrize("length", [256, 500_000])
def test_longer_identifier_is_a_limit_error_at_its_span(length: int) -> None:
    with pytest.raises(LimitError) as info:
        lex(f"u = 1\nf(x, {'b' * length}) = x")
    error = info.value
    assert error.message == (
        f"limit exceeded: identifier is {length:,} characters long (at most 255)"
    )
    span = error.span
    assert (span.file, span.line, span.col, span.length) == ("t.sg", 2, 6, length)


def test_identifier_limit_diagnostic_is_one_excerpted_line_with_a_caret() -> None:
    with pytest.raises(LimitError) as info:
        lex("f(" + "a" * 300 + ") = 1")
    # The 307-character line is shown as its first 160 characters and '...'; the
    # caret runs from the name's first character to the end of the excerpt.
    assert info.value.format().split("\n") == [
        "t.sg:1:3: error: limit exceeded: identifier is 300 characters long "
        "(at most 255)",
        "f(" + "a" * 158 + "...",
        "  " + "^" * 161,
    ]


def test_a_long_word_in_a_comment_is_not_an_identifier() -> None:
    assert texts("x = 1  # " + "z" * 1000) == ["x", "=", "1"]


# -- arrays: '@', '.T', subscripts and shapes --------------------------------------------


def test_array_operators_are_tokens() -> None:
    tokens = lex("A[1:, -1].T @ x")
    assert [(t.kind, t.text) for t in tokens if t.kind != NEWLINE] == [
        (NAME, "A"),
        (OP, "["),
        (NUMBER, "1"),
        (OP, ":"),
        (OP, ","),
        (OP, "-"),
        (NUMBER, "1"),
        (OP, "]"),
        (OP, ".T"),
        (OP, "@"),
        (NAME, "x"),
        (EOF, ""),
    ]


def test_transpose_token_span_covers_dot_and_t() -> None:
    (dot_t,) = [t for t in lex("y = A.T") if t.text == ".T"]
    assert (dot_t.span.col, dot_t.span.length) == (6, 2)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("x.T", ["x", ".T"]),
        ("x .T", ["x", ".T"]),
        (".5", [".5"]),
        ("x*.5", ["x", "*", ".5"]),
        ("5.", ["5."]),
        ("T.5", ["T", ".5"]),
        ("A.T.T", ["A", ".T", ".T"]),
        ("A.T)", ["A", ".T", ")"]),
    ],
)
def test_dot_is_a_number_or_transpose(text: str, expected: list[str]) -> None:
    assert texts(text) == expected


@pytest.mark.parametrize("text", ["x = a.foo", "x = a.Tx", "x = a.T_", "x = a.T2"])
def test_other_attributes_name_dot_t(text: str) -> None:
    error = lex_error(text)
    assert error.message == (
        "attribute access with '.' is not supported; "
        "the only attribute is .T (transpose)"
    )
    assert (error.span.col, error.span.length) == (6, 1)


def test_colon_equals_is_still_rejected_as_a_pair() -> None:
    error = lex_error("x[:=1]")
    assert "':=' is not supported" in error.message and error.span.col == 3


def test_newlines_inside_brackets_end_no_statement() -> None:
    assert kinds("f(x[n,\n d]) = x[\n0]\ng = 1").count(NEWLINE) == 2


def test_unmatched_close_bracket_does_not_swallow_newlines() -> None:
    assert kinds("a = 1]\nb = 2").count(NEWLINE) == 2


def test_new_token_makes_what_the_dataclass_makes() -> None:
    span = Span("t.sg", 2, 3, 4, "line")
    token = new_token(NAME, "x", span)
    assert type(token) is Token and token == Token(NAME, "x", span)
    assert repr(token) == repr(Token(NAME, "x", span))
    assert hash(token) == hash(Token(NAME, "x", span))
    with pytest.raises(dataclasses.FrozenInstanceError):
        token.text = "y"  # type: ignore[misc]


def test_new_span_makes_what_the_dataclass_makes() -> None:
    span = new_span("t.sg", 2, 3, 4, "line")
    made = Span("t.sg", 2, 3, 4, "line")
    assert type(span) is Span and span == made
    assert repr(span) == repr(made) and hash(span) == hash(made)
    assert span.caret() == made.caret()
    with pytest.raises(dataclasses.FrozenInstanceError):
        span.col = 1  # type: ignore[misc]


LINES = [
    "f(x, y) = 100*(y - x^2)^2 + (1 - x)^2  # a comment",
    "g(A[n, 3]; b) = sum(A.T @ A, 0) <= 2.5e3 ** b",
    "\th = (a +\t b) * c[1:-1, :2]",
    "x = 0x1F",
    "x = 1e400 + 3",
    "x = 2 $ 3",
    "x = a == b",
    "# \u200b hidden",
    "x = " + "9" * 400,
    "x = 1.5.2",
    "   ",
    "",
]


@pytest.mark.parametrize("line", LINES)
def test_the_fast_pass_agrees_with_the_careful_one(line: str) -> None:
    """lex_plain_line keeps a line's tokens only if they are the careful pass's."""
    fast, careful = _Lexer("t.sg", 100), _Lexer("t.sg", 100)
    for lexer in (fast, careful):
        lexer.line_no, lexer.line = 1, line
    try:
        careful.lex_line_carefully()
    except ParseError:
        assert not fast.lex_plain_line() and fast.tokens == []
        return
    if fast.lex_plain_line():
        assert fast.tokens == careful.tokens
        assert (fast.depth, fast.in_statement) == (careful.depth, careful.in_statement)


def test_the_fast_pass_leaves_a_too_long_statement_to_the_careful_one() -> None:
    lexer = _Lexer("t.sg", 5)
    lexer.line_no, lexer.line = 1, "x = a + b + c"
    assert not lexer.lex_plain_line() and lexer.tokens == []


@pytest.mark.parametrize("line", [LINES[0], LINES[2]])
def test_ordinary_lines_take_the_fast_pass(line: str) -> None:
    lexer = _Lexer("t.sg", 100)
    lexer.line_no, lexer.line = 1, line
    assert lexer.lex_plain_line() and lexer.tokens
