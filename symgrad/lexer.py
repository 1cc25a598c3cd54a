"""Expression-file text -> tokens with character-based spans; a whitelist lexer."""

from __future__ import annotations

import math
import re
import string
import unicodedata
from dataclasses import dataclass

from symgrad.errors import LimitError, ParseError, Span, SymgradError

NAME = "NAME"
NUMBER = "NUMBER"
OP = "OP"
NEWLINE = "NEWLINE"
EOF = "EOF"
# Internal only: stands where lexing stopped, so the parser can report errors in
# source order (a parse error before a lexing error on the same line wins).
ERROR = "ERROR"

# A logical line (one statement) may hold at most this many tokens.
MAX_STATEMENT_TOKENS = 1_000_000
# No model needs a longer name, and generated code repeats each name dozens of times
# (a 500 KB parameter name made a 19.5 MB module); 255 is the usual file-name limit.
MAX_IDENTIFIER_LENGTH = 255

_TOKEN_KINDS = {"number": NUMBER, "name": NAME, "op": OP}
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_]")
# Characters right after a number that _number_suffix_message looks at.
_NUMBER_SUFFIXES = frozenset("xXbBoO_jJ.eE")

# Alternatives are tried in order: the rejected two-character operators come
# before the accepted one-character ones so `==` is not read as `=` `=`.
_TOKEN_PATTERNS = {
    "comment": r"\#.*",
    "number": r"(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?",
    "name": r"[A-Za-z_][A-Za-z0-9_]*",
    "bad": r"==|!=|//|&&|\|\||:=",
    "op": r"\*\*|<=|>=|\.T(?![A-Za-z0-9_])|[-+*/^(),;=<>@\[\]:]",
}
_TOKEN = re.compile(
    "|".join(
        f"(?P<{group}>{pattern})"
        for group, pattern in {"ws": r"[ \t]+", **_TOKEN_PATTERNS}.items()
    ),
    re.DOTALL,
)
# The fast pass's: split at the tokens, a line becomes gaps and tokens alternately
# (a flat list of strings is cheaper than findall's tuples or match objects).
_TOKEN_SPLIT = re.compile("(" + "|".join(_TOKEN_PATTERNS.values()) + ")", re.DOTALL)
_OPERATORS = frozenset(["**", "<=", ">=", ".T", *"-+*/^(),;=<>@[]:"])
_NAME_START = frozenset(string.ascii_letters + "_")
_NUMBER_START = frozenset(string.digits + ".")  # ".T" is an operator

_COMPARE_HINT = "comparisons are < <= > >= inside where(...)"
_BAD_PAIRS = {
    "==": f"'==' is not supported; {_COMPARE_HINT}",
    "!=": f"'!=' is not supported; {_COMPARE_HINT}",
    "//": "'//' (floor division) is not supported; use '/'",
    "&&": "'&&' is not supported; there are no logical operators",
    "||": "'||' is not supported; there are no logical operators",
    ":=": "':=' is not supported; write a definition `name = expr` on its own line",
}

_STRINGS = "strings are not part of the expression language"
_BAD_ASCII = {
    '"': _STRINGS,
    "'": _STRINGS,
    "{": "braces are not part of the expression language; group with parentheses",
    "}": "braces are not part of the expression language; group with parentheses",
    "!": "'!' is not supported (no factorial and no logical not)",
    "%": "'%' (remainder) is not supported",
    "&": "'&' is not supported; there are no logical operators",
    "|": "'|' is not supported; write abs(x) for an absolute value",
    "\\": "a backslash is not supported; an expression continues onto the next "
    "line while it is inside parentheses",
    "~": "'~' is not supported",
}

# Characters that look like an operator the user probably meant.
_LOOKALIKES = {
    "\u2212": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u00d7": "*",
    "\u00b7": "*",
    "\u22c5": "*",
    "\u2217": "*",
    "\u00f7": "/",
    "\u2215": "/",
    "\u2264": "<=",
    "\u2265": ">=",
    "\u00b2": "^2",
    "\u00b3": "^3",
}

# Zero-width and bidirectional controls can make text display differently from
# how it parses ("Trojan Source"), so they are rejected even inside comments.
_INVISIBLE = frozenset(
    [*range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF]
)
_FORBIDDEN_IN_COMMENT = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind (NAME, NUMBER, OP, NEWLINE, EOF), its text and its span."""

    kind: str
    text: str
    span: Span


# A frozen dataclass's __init__ sets each field through object.__setattr__; a lexer
# makes a token and a span per few characters, so new_token fills the slots
# directly and new_span the instance dict, each about three times as fast
# (tests/test_lexer.py checks they make an equal Token and Span).
_new = object.__new__
_SET_KIND, _SET_TEXT, _SET_SPAN = (
    Token.kind.__set__,  # type: ignore[attr-defined]
    Token.text.__set__,  # type: ignore[attr-defined]
    Token.span.__set__,  # type: ignore[attr-defined]
)


def new_token(kind: str, text: str, span: Span) -> Token:
    """Token(kind, text, span), made without the frozen dataclass's __init__."""
    token = _new(Token)
    _SET_KIND(token, kind)
    _SET_TEXT(token, text)
    _SET_SPAN(token, span)
    return token


def new_span(file: str, line: int, col: int, length: int, line_text: str) -> Span:
    """Span(file, line, col, length, line_text), made without its __init__."""
    span = _new(Span)
    fields = span.__dict__
    fields["file"] = file
    fields["line"] = line
    fields["col"] = col
    fields["length"] = length
    fields["line_text"] = line_text
    return span


def split_lines(text: str) -> list[str]:
    """The source lines of `text` without line endings (a leading BOM removed)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return _LINE_BREAK.split(text)


def tokenize(text: str, file: str, *, max_tokens: int | None = None) -> list[Token]:
    """Split an expression text into tokens; raise ParseError or LimitError."""
    tokens, error = tokenize_until_error(text, file, max_tokens=max_tokens)
    if error is not None:
        raise error
    return tokens


def tokenize_until_error(
    text: str, file: str, *, max_tokens: int | None = None
) -> tuple[list[Token], SymgradError | None]:
    """Tokens up to the first error; then an ERROR token and the error, else EOF."""
    limit = MAX_STATEMENT_TOKENS if max_tokens is None else max_tokens
    lexer = _Lexer(file, limit)
    try:
        lexer.run(split_lines(text))
    except SymgradError as error:
        span = error.span if error.span is not None else Span(file, 1, 1)
        lexer.tokens.append(Token(ERROR, "", span))
        return lexer.tokens, error
    return lexer.tokens, None


class _Lexer:
    """The lexer state: the tokens so far, paren depth and the current line."""

    def __init__(self, file: str, max_tokens: int) -> None:
        self.file = file
        self.max_tokens = max_tokens
        self.tokens: list[Token] = []
        # Open '(' and '[' count: newlines inside brackets are not NEWLINEs.
        self.depth = 0
        self.in_statement = 0  # tokens since the last NEWLINE
        self.line_no = 0
        self.line = ""

    def run(self, lines: list[str]) -> None:
        """Lex every line, then add the EOF token."""
        for number, line in enumerate(lines, start=1):
            self.line_no, self.line = number, line
            self.lex_line()
            if self.depth == 0 and self.in_statement:
                self.tokens.append(Token(NEWLINE, "\n", self.span(len(line), 1)))
                self.in_statement = 0
        self.tokens.append(Token(EOF, "", self.span(len(self.line), 1)))

    def span(self, pos: int, length: int) -> Span:
        """The span of `length` characters at 0-based position `pos` in this line."""
        return Span(self.file, self.line_no, pos + 1, length, self.line)

    def error(self, message: str, pos: int, length: int = 1) -> ParseError:
        """A ParseError at a position in the current line."""
        return ParseError(message, self.span(pos, length))

    def lex_line(self) -> None:
        """Append the tokens of the current line: the fast pass, else the careful one."""
        if not self.lex_plain_line():
            self.lex_line_carefully()

    def lex_plain_line(self) -> bool:
        """Lex a line without anything unusual in one pass; False: nothing was kept.

        The tokens' kinds follow from their texts, and a column is the running sum of
        the lengths. Anything that might be an error (a character no token starts, a
        suspicious number or comment, a limit) makes it give up, so that the careful
        pass raises exactly the error it always did.
        """
        line, file, line_no = self.line, self.file, self.line_no
        parts = _TOKEN_SPLIT.split(line)
        if "".join(parts[::2]).strip(" \t"):
            return False  # a gap holds more than blanks
        found: list[Token] = []
        append, pos, depth = found.append, 0, self.depth
        pieces = iter(parts)
        for gap, text in zip(pieces, pieces):
            pos += len(gap)
            if text in _OPERATORS:  # the commonest kind first
                kind = OP
                if text in "()[]":
                    depth = depth + 1 if text in "([" else max(0, depth - 1)
            elif text[0] in _NAME_START:
                kind = NAME
                if len(text) > MAX_IDENTIFIER_LENGTH:
                    return False
            elif text[0] in _NUMBER_START:
                kind = NUMBER
                if not _plain_number(line, text, pos + len(text)):
                    return False
            else:  # a comment ends the line; a rejected operator is an error
                if text[0] != "#" or _FORBIDDEN_IN_COMMENT.search(text):
                    return False
                pos += len(text)
                continue
            span = new_span(file, line_no, pos + 1, len(text), line)
            append(new_token(kind, text, span))
            pos += len(text)
        if self.in_statement + len(found) > self.max_tokens:
            return False  # the statement is too long
        self.tokens.extend(found)
        self.in_statement += len(found)
        self.depth = depth
        return True

    def lex_line_carefully(self) -> None:
        """Append the tokens of the current line, raising the first error in it."""
        line, file, line_no = self.line, self.file, self.line_no
        append, pos = self.tokens.append, 0
        for match in _TOKEN.finditer(line):
            if match.start() != pos:  # finditer skipped a character no token starts
                raise self.error(_bad_character_message(line, pos), pos)
            group, text, pos = match.lastgroup, match.group(), match.end()
            if group == "op":
                if text in "()[]":
                    self.track_parentheses(text)
            elif group == "number":
                self.check_number(match)
            elif group == "name":
                if len(text) > MAX_IDENTIFIER_LENGTH:
                    raise LimitError(
                        f"limit exceeded: identifier is {len(text):,} characters long "
                        f"(at most {MAX_IDENTIFIER_LENGTH})",
                        self.span(match.start(), len(text)),
                    )
            elif group == "comment":
                self.check_comment(match)
            elif group == "bad":
                raise self.error(_BAD_PAIRS[text], match.start(), len(text))
            if group in _TOKEN_KINDS:
                self.count_token(match.start(), len(text))
                span = Span(file, line_no, match.start() + 1, len(text), line)
                append(Token(_TOKEN_KINDS[group], text, span))
        if pos != len(line):
            raise self.error(_bad_character_message(line, pos), pos)

    def count_token(self, pos: int, length: int) -> None:
        """Enforce the per-statement token limit."""
        self.in_statement += 1
        if self.in_statement > self.max_tokens:  # checked before the token is stored
            message = f"a statement has more than {self.max_tokens:,} tokens"
            raise LimitError(f"{message}: limit exceeded", self.span(pos, length))

    def track_parentheses(self, text: str) -> None:
        """Track bracket depth: newlines inside ( ) or [ ] end no statement."""
        if text in "([":
            self.depth += 1
        else:
            # An unmatched ')' or ']' is the parser's error; never go negative here.
            self.depth = max(0, self.depth - 1)

    def check_comment(self, match: re.Match[str]) -> None:
        """Comments may hold any printable text, but no controls or invisible marks."""
        bad = _FORBIDDEN_IN_COMMENT.search(match.group())
        if bad is not None:
            pos = match.start() + bad.start()
            raise self.error(_bad_character_message(self.line, pos), pos)

    def check_number(self, match: re.Match[str]) -> None:
        """Reject what a number must not be followed by, and overflow."""
        line, text, end = self.line, match.group(), match.end()
        message = _number_suffix_message(line, text, end)
        if message is not None:
            word_end = end
            while word_end < len(line) and _IDENT_CHAR.match(line[word_end]):
                word_end += 1
            raise self.error(message, match.start(), word_end - match.start())
        if math.isinf(float(text)):  # the regex has whitelisted the digits
            raise self.error(
                f"number too large: {text} overflows a 64-bit float",
                match.start(),
                len(text),
            )


def _plain_number(line: str, text: str, end: int) -> bool:
    """Whether a number is surely fine: check_number would find nothing wrong."""
    if end < len(line) and line[end] in _NUMBER_SUFFIXES:
        return False
    # Only an exponent or hundreds of digits can overflow a float.
    return len(text) < 300 and "e" not in text and "E" not in text


def _number_suffix_message(line: str, text: str, end: int) -> str | None:
    """Why the characters right after a number make it malformed, if they do."""
    following = line[end : end + 1]
    after = line[end + 1 : end + 2]
    if text == "0" and following in ("x", "X"):
        return "hex literals are not supported"
    if text == "0" and following in ("b", "B", "o", "O"):
        return "binary and octal literals are not supported"
    if following == "_":
        return "underscores in numbers are not supported"
    if following in ("j", "J") and not _IDENT_CHAR.match(after):
        return "complex numbers are not supported"
    if following == ".":
        return f"malformed number: a second '.' after {text}"
    exponent_sign = after in ("+", "-")
    if following in ("e", "E") and (exponent_sign or not _IDENT_CHAR.match(after)):
        shown = text + following + (after if exponent_sign else "")
        return f"malformed number {shown}: the exponent needs digits"
    return None


def _bad_character_message(line: str, pos: int) -> str:
    """A specific message for a character that starts no token."""
    char = line[pos]
    if char in _BAD_ASCII:
        return _BAD_ASCII[char]
    if char == ".":
        if pos + 1 < len(line) and _IDENT_CHAR.match(line[pos + 1]):
            return (
                "attribute access with '.' is not supported; "
                "the only attribute is .T (transpose)"
            )
        return "'.' must be part of a number such as 0.5 or 5."
    if char.isascii() and char.isprintable():
        return f"character '{char}' is not allowed"
    return _unicode_message(char)


def _unicode_message(char: str) -> str:
    """A message naming a non-ASCII or control character by code point."""
    code = f"U+{ord(char):04X}"
    name = unicodedata.name(char, "")
    named = f"{code} ({name})" if name else code
    category = unicodedata.category(char)
    if ord(char) in _INVISIBLE or category == "Cf":
        return (
            f"invisible or bidirectional control character {named} is not allowed: "
            "it can make the text display differently from how it parses"
        )
    if category == "Cc":
        return f"control character {named} is not allowed"
    if char in _LOOKALIKES:
        return f"character {named} is not allowed; write '{_LOOKALIKES[char]}'"
    if category[0] in "LMN":
        return (
            f"non-ASCII identifier character {named} is not allowed "
            "(identifiers are ASCII so look-alike names cannot merge)"
        )
    if category == "Zs":
        return f"character {named} is not allowed; use an ordinary space"
    return f"character {named} is not allowed"
