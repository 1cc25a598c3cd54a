"""Pratt parser: expression-file tokens -> syntax tree; binding powers in one table."""

from __future__ import annotations

import itertools
import keyword
import sys
from collections.abc import Callable

from symgrad import syntax
from symgrad.errors import LimitError, ParseError, Span, SymgradError
from symgrad.lexer import EOF, ERROR, NAME, NEWLINE, NUMBER, OP, Token
from symgrad.lexer import tokenize_until_error
from symgrad.syntax import join_spans, new_binary, new_name, new_num

# Binding powers, lowest to highest; "unary" is prefix minus and plus, "postfix"
# the subscript `x[...]` and the transpose `A.T`, which bind tightest (as in Python).
BINDING_POWER: dict[str, int] = {
    "<": 10,
    "<=": 10,
    ">": 10,
    ">=": 10,
    "+": 20,
    "-": 20,
    "*": 30,
    "/": 30,
    "@": 30,
    "unary": 40,
    "^": 50,
    "**": 50,
    "postfix": 60,
}
RIGHT_ASSOCIATIVE = frozenset({"^", "**"})
NON_ASSOCIATIVE = frozenset({"<", "<=", ">", ">="})
PREFIX_OPERATORS = frozenset({"-", "+"})
POSTFIX_OPERATORS = frozenset({"[", ".T"})
INFIX_OPERATORS = frozenset(BINDING_POWER) - {"unary", "postfix"}
# The Pratt loop's one look-up: an infix operator's binding power.
_INFIX_POWER = {op: BINDING_POWER[op] for op in INFIX_OPERATORS}
_CLOSING = {"(": ")", "[": "]"}
_BRACKETS_AND_EQUALS = frozenset("()[]=")
_STATEMENT_END = frozenset({"\n", ""})

# Nesting levels: parentheses, calls, unary operators and power right operands.
MAX_DEPTH = 200
# Recursive calls of expression() in all (nesting plus the right operands of
# + - * / <). Each adds at most one more Python frame (group, prefix or call), so
# this keeps the parser inside Python's default recursion limit of 1000.
MAX_FRAMES = 450

RESERVED = frozenset(keyword.kwlist)
_DEFINITION_HINT = "expected a definition `name(params) = expr` or `name = expr`"
_KEYWORD_MESSAGES = {
    "lambda": "'lambda' is not supported; define a helper function "
    "`name(params) = expr` instead",
    "for": "comprehensions ('for' inside parentheses) are not supported",
    "if": "conditional expressions are not supported; use where(condition, a, b)",
    "else": "conditional expressions are not supported; use where(condition, a, b)",
    "and": "logical operators are not supported; use where(...) with comparisons",
    "or": "logical operators are not supported; use where(...) with comparisons",
    "not": "logical operators are not supported; use where(...) with comparisons",
    "True": "'True' is not a number; write 1",
    "False": "'False' is not a number; write 0",
    "None": "'None' is not a number",
    "def": "'def' is not part of the expression language; write `name(params) = expr`",
}


def parse(text: str, file: str = "<input>") -> syntax.Module:
    """Parse an expression file into a Module of definitions."""
    return _Parser(text, file).module()


def parse_expression(text: str, file: str = "<input>") -> syntax.Expr:
    """Parse a text holding exactly one expression, such as `sin(sin(x))`."""
    return _Parser(text, file).single_expression()


def _describe(token: Token) -> str:
    """How a token is named in messages."""
    if token.kind == NAME:
        return f"name '{token.text}'"
    if token.kind == NUMBER:
        return f"number {token.text}"
    if token.kind == NEWLINE:
        return "end of line"
    if token.kind == EOF:
        return "end of input"
    return f"'{token.text}'"


def _keyword_message(word: str) -> str:
    """Why a Python keyword cannot appear in an expression."""
    default = f"'{word}' is a reserved word and is not part of the expression language"
    return _KEYWORD_MESSAGES.get(word, default)


def _statement_keyword_message(word: str) -> str:
    """Why a statement cannot start with a Python keyword."""
    if word in ("def", "lambda"):
        return _keyword_message(word)
    return (
        f"'{word}' is a reserved word; an expression file holds only definitions "
        "`name(params) = expr` and `name = expr`"
    )


def _head_length(tokens: list[Token], start: int) -> int:
    """How many tokens from `start` form a definition head `f` or `f(a, b; c)`."""
    if tokens[start].kind != NAME:
        return 0
    if not (tokens[start + 1].kind == OP and tokens[start + 1].text == "("):
        return 1
    index = start + 2
    while tokens[index].kind in (NAME, NUMBER) or tokens[index].text in (
        ",",
        ";",
        "[",
        "]",
    ):
        index += 1
    if tokens[index].kind == OP and tokens[index].text == ")":
        return index + 1 - start
    return 1


def _stack_room() -> int:
    """How many more Python frames fit under the recursion limit, with a margin."""
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    return sys.getrecursionlimit() - depth - 50


class _Parser:
    """Recursive descent over a token list; the expression part is a Pratt loop."""

    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.tokens, self.lex_error = tokenize_until_error(text, file)
        if isinstance(self.lex_error, LimitError):
            raise self.lex_error  # a resource guard: do not parse what was read
        self.pos = 0
        # The last token is EOF or ERROR; every token before it is an ordinary one.
        self.last = len(self.tokens) - 1
        self.depth = 0  # nesting levels, reported to the user
        self.frames = 0  # recursive calls of expression(), guarding the stack
        self.max_frames = min(MAX_FRAMES, _stack_room() // 2)

    # -- token access -------------------------------------------------------

    def peek(self, offset: int = 0) -> Token:
        """The token `offset` ahead; reaching where lexing failed raises its error."""
        index = self.pos + offset
        if index < self.last:  # the common case, checked first: it is hot
            return self.tokens[index]
        token = self.tokens[self.last]
        if token.kind == ERROR:
            assert self.lex_error is not None
            raise self.lex_error
        return token

    def advance(self) -> Token:
        """Consume and return the current token."""
        # peek(), inlined here, in at_op, expression and operand_parser: they run for
        # nearly every token
        token = self.tokens[self.pos] if self.pos < self.last else self.peek()
        self.pos += 1
        return token

    def at_op(self, text: str) -> bool:
        """Whether the current token is the operator `text`."""
        token = self.tokens[self.pos] if self.pos < self.last else self.peek()
        return token.kind == OP and token.text == text

    def error(self, message: str, token: Token) -> ParseError:
        """A ParseError pointing at a token."""
        return ParseError(message, token.span)

    # -- statements ---------------------------------------------------------

    def module(self) -> syntax.Module:
        """module := (definition NEWLINE)* EOF"""
        definitions = []
        while self.peek().kind != EOF:
            definitions.append(self.definition())
        return syntax.Module(self.file, tuple(definitions))

    def definition(self) -> syntax.Definition:
        """definition := NAME '=' expr | NAME '(' params [';' params] ')' '=' expr"""
        start = self.pos
        has_equals = self.check_statement()
        first = self.peek()
        if first.kind == NAME and first.text in RESERVED:
            following = self.peek(1)
            if following.kind == OP and following.text in ("=", "("):
                message = f"'{first.text}' is a reserved word and cannot be a name"
                raise self.error(message, first)
            raise self.error(_statement_keyword_message(first.text), first)
        if first.kind != NAME:
            raise self.not_a_definition(first)
        if not has_equals:
            raise self.missing_equals(first)
        name = self.advance()
        if self.at_op("="):
            self.advance()
            body = self.statement_body()
            return syntax.Assign(name.text, body, name.span, self.source(start))
        if not self.at_op("("):
            found = _describe(self.peek())
            message = f"expected '=' or '(' after the name '{name.text}', found {found}"
            raise self.error(message, self.peek())
        params, data = self.parameters(name)
        self.expect_equals(name)
        body = self.statement_body()
        span, source = name.span, self.source(start)
        return syntax.FunctionDef(name.text, params, data, body, span, source)

    def check_statement(self) -> bool:
        """Check the statement's parentheses; say whether it has a top-level '='.

        Done before parsing so an unclosed '(' -- which makes the lexer run the
        statement on into the following lines -- is reported at the '(' itself.
        """
        stack: list[Token] = []
        has_equals = False
        # Only OP tokens have these texts; NEWLINE's is "\n", EOF's and ERROR's "",
        # and the last token is EOF or ERROR, so the loop ends at a break.
        for token in itertools.islice(self.tokens, self.pos, None):
            text = token.text
            if text in _STATEMENT_END:
                break
            if text in _BRACKETS_AND_EQUALS:
                if text in _CLOSING:
                    stack.append(token)
                elif text in (")", "]"):
                    self.check_closing(stack, token)
                elif not stack:  # a top-level '='
                    has_equals = True
        if stack and token.kind != ERROR:
            opening = stack[-1].text
            raise ParseError(
                f"unclosed '{opening}'",
                stack[-1].span,
                (f"a '{opening}' continues an expression onto the following lines",),
            )
        # If lexing failed inside the statement, let parsing reach the error.
        return has_equals or token.kind == ERROR

    def check_closing(self, stack: list[Token], token: Token) -> None:
        """Pop the bracket that `token` (')' or ']') closes; it must be its match."""
        if not stack:
            raise self.error(f"unmatched '{token.text}'", token)
        opening = stack.pop()
        if _CLOSING[opening.text] != token.text:
            line, col = opening.span.line, opening.span.col
            message = (
                f"'{token.text}' does not close the '{opening.text}' "
                f"at line {line}, column {col}"
            )
            raise self.error(message, token)

    def missing_equals(self, first: Token) -> ParseError:
        """No top-level '=': a head then an operand lacks it; else a bare expression."""
        after = self.pos + _head_length(self.tokens, self.pos)
        token = self.tokens[after]
        if token.kind in (NAME, NUMBER) or (token.kind == OP and token.text == "("):
            head = self.tokens[self.pos : after]
            shown = "".join(t.text + (" " if t.text == "," else "") for t in head)
            message = f"expected '=' after '{shown}', found {_describe(token)}"
            return self.error(message, token)
        return self.not_a_definition(first)

    def not_a_definition(self, first: Token) -> ParseError:
        """The error for a statement that is not a definition (a bare expression)."""
        notes: tuple[str, ...] = ()
        if first.kind == OP and first.text in BINDING_POWER:
            notes = (
                "an expression continues onto the next line only inside parentheses",
            )
        if first.kind in (NAME, NUMBER) or first.text in ("(", "-", "+"):
            last = first
            for token in self.tokens[self.pos :]:
                if (
                    token.kind in (NEWLINE, EOF, ERROR)
                    or token.span.line != first.span.line
                ):
                    break
                last = token
            return ParseError(
                _DEFINITION_HINT, join_spans(first.span, last.span), notes
            )
        return ParseError(
            f"{_DEFINITION_HINT}, found {_describe(first)}", first.span, notes
        )

    def parameters(self, name: Token) -> tuple[tuple[syntax.Param, ...], ...]:
        """params [';' params] ')' after the '(' of a definition head."""
        opening = self.advance()
        if self.at_op(")"):
            message = (
                "a function needs at least one parameter; "
                "write `name = expr` for a named intermediate"
            )
            raise ParseError(message, join_spans(opening.span, self.peek().span))
        if self.at_op(";"):
            message = (
                "a function needs at least one differentiated parameter before ';'"
            )
            raise self.error(message, self.peek())
        seen: set[str] = set()
        params = self.parameter_list(name, seen, "a parameter name")
        data: list[syntax.Param] = []
        if self.at_op(";"):
            self.advance()
            data = self.parameter_list(name, seen, "a data parameter name after ';'")
        if not self.at_op(")"):
            expected = "',' or ')'" if data else "',', ';' or ')'"
            message = f"expected {expected} in the parameters of '{name.text}'"
            raise self.error(f"{message}, found {_describe(self.peek())}", self.peek())
        self.advance()
        return tuple(params), tuple(data)

    def parameter_list(
        self, name: Token, seen: set[str], what: str
    ) -> list[syntax.Param]:
        """NAME (',' NAME)*: distinct, non-reserved parameter names."""
        params = [self.parameter(name, seen, what)]
        while self.at_op(","):
            self.advance()
            if self.at_op(")") or self.at_op(";"):
                raise self.error("trailing comma in a parameter list", self.peek())
            params.append(self.parameter(name, seen, "a parameter name"))
        return params

    def parameter(self, name: Token, seen: set[str], what: str) -> syntax.Param:
        """One parameter name."""
        token = self.peek()
        if token.kind != NAME:
            found = _describe(token)
            raise self.error(
                f"expected {what} in '{name.text}(...)', found {found}", token
            )
        if token.text in RESERVED:
            raise self.error(
                f"'{token.text}' is a reserved word, not a parameter name", token
            )
        if token.text in seen:
            raise self.error(
                f"duplicate parameter '{token.text}' in '{name.text}'", token
            )
        seen.add(token.text)
        self.advance()
        shape, dim_spans = None, ()
        if self.at_op("["):
            shape, dim_spans = self.shape(token)
        if self.at_op("="):
            raise self.error("default parameter values are not supported", self.peek())
        return syntax.Param(token.text, token.span, shape, dim_spans)

    def shape(self, param: Token) -> tuple[tuple[syntax.Dim, ...], tuple[Span, ...]]:
        """'[' dim (',' dim)* ']' after a parameter name: its declared shape."""
        opening = self.advance()
        if self.at_op("]"):
            message = f"empty shape '[]': write '{param.text}' for a scalar parameter"
            raise ParseError(message, join_spans(opening.span, self.peek().span))
        dims, spans = [self.dim(param)], [self.tokens[self.pos - 1].span]
        while self.at_op(","):
            self.advance()
            if self.at_op("]"):
                raise self.error("trailing comma in a shape", self.tokens[self.pos - 1])
            dims.append(self.dim(param))
            spans.append(self.tokens[self.pos - 1].span)
        if not self.at_op("]"):
            found = _describe(self.peek())
            message = (
                f"expected ',' or ']' in the shape of '{param.text}', found {found}"
            )
            raise self.error(message, self.peek())
        self.advance()
        return tuple(dims), tuple(spans)

    def dim(self, param: Token) -> syntax.Dim:
        """One declared size: a size name, or a whole number of at least 1."""
        token = self.peek()
        if token.kind == NAME and token.text not in RESERVED:
            self.advance()
            return token.text
        if token.kind == NUMBER and token.text.isdigit():
            if int(token.text) < 1:
                # A parameter with a size-0 axis holds nothing to differentiate.
                raise self.error(
                    f"a fixed size must be at least 1, got {token.text}", token
                )
            self.advance()
            return int(token.text)
        if token.kind == NUMBER:
            message = (
                f"a size must be a whole number or a size name, found {token.text}"
            )
            raise self.error(message, token)
        found = _describe(token)
        if token.kind == NAME:
            found = f"the reserved word '{token.text}'"
        message = (
            f"expected a size name or a whole number in the shape of '{param.text}', "
            f"found {found}"
        )
        raise self.error(message, token)

    def expect_equals(self, name: Token) -> None:
        """The '=' between a definition head and its body."""
        token = self.peek()
        if not (token.kind == OP and token.text == "="):
            found = _describe(token)
            message = f"expected '=' after the head of '{name.text}', found {found}"
            raise self.error(message, token)
        self.advance()

    def statement_body(self) -> syntax.Expr:
        """The expression of a definition, then the end of its line."""
        body = self.expression(0)
        if self.peek().kind == NEWLINE:
            self.advance()
        elif self.peek().kind != EOF:
            token = self.peek()
            if token.kind == OP and token.text == ";":
                message = "one definition per line: ';' only separates data parameters"
                raise self.error(message, token)
            if token.kind == OP and token.text == ",":
                raise self.error("tuples are not supported", token)
            raise self.unexpected_after_operand("an operator or the end of the line")
        return body

    def source(self, start: int) -> str:
        """The statement's source text, comments and blank lines left out."""
        first, end = self.tokens[start].span, self.pos
        while self.tokens[end - 1].kind in (NEWLINE, EOF):
            end -= 1
        last = self.tokens[end - 1].span
        if first.line == last.line:  # one line: no need to visit every token
            return first.line_text[first.col - 1 : last.col - 1 + last.length].strip()
        pieces: dict[int, tuple[int, int, str]] = {}  # line -> (from, to, text)
        for token in self.tokens[start : self.pos]:
            span = token.span
            if token.kind in (NEWLINE, EOF):
                continue
            begin, _, text = pieces.get(span.line, (span.col - 1, 0, span.line_text))
            pieces[span.line] = (begin, span.col - 1 + span.length, text)
        lines = []
        for index, (_, (begin, end, text)) in enumerate(sorted(pieces.items())):
            # Continuation lines keep their indentation.
            lines.append(text[begin if index == 0 else 0 : end].rstrip())
        return "\n".join(lines).strip()

    # -- expressions --------------------------------------------------------

    def single_expression(self) -> syntax.Expr:
        """expression NEWLINE? EOF"""
        self.check_statement()
        expr = self.expression(0)
        if self.peek().kind == NEWLINE:
            self.advance()
            if self.peek().kind != EOF:
                found = _describe(self.peek())
                raise self.error(
                    f"expected a single expression, found {found}", self.peek()
                )
        elif self.peek().kind != EOF:
            raise self.unexpected_after_operand(
                "an operator or the end of the expression"
            )
        return expr

    def expression(self, min_power: int) -> syntax.Expr:
        """Pratt loop: an operand, then infix operators binding at least `min_power`."""
        self.push_frame()
        # Call the operand parser from this frame: one Python frame less per level.
        left = self.operand_parser()()
        previous_comparison: Token | None = None
        tokens, last = self.tokens, self.last
        while True:
            op = tokens[self.pos] if self.pos < last else self.peek()
            if op.kind != OP:
                break
            text = op.text
            if text in POSTFIX_OPERATORS:
                if BINDING_POWER["postfix"] < min_power:
                    break
                left = self.postfix(left)
                continue
            power = _INFIX_POWER.get(text)
            if power is None or power < min_power:
                break
            if text in NON_ASSOCIATIVE and previous_comparison is not None:
                raise self.chained_comparison(previous_comparison, op)
            self.pos += 1  # op, peeked above
            if text in RIGHT_ASSOCIATIVE:
                # A power chain nests: a^b^c = a^(b^c); count it as nesting.
                self.enter(op)
                right = self.lone_operand(power) or self.expression(power)
                self.depth -= 1
            else:
                right = self.lone_operand(power + 1) or self.expression(power + 1)
            name = "^" if text == "**" else text
            left = new_binary(name, left, right, op.span)
            if text in NON_ASSOCIATIVE:
                previous_comparison = op
        self.frames -= 1
        return left

    def lone_operand(self, min_power: int) -> syntax.Name | syntax.Num | None:
        """A name or number that nothing binding at least `min_power` follows, else None.

        Most right operands are such (the 2 of x^2, the b of a + b - c): parsed here,
        they skip a frame of expression() and its loop. Anything else, and where
        expression() would raise (its frame budget, a lexing error), is left to it.
        """
        index = self.pos
        if index + 1 >= self.last or self.frames >= self.max_frames:
            return None
        token, following = self.tokens[index], self.tokens[index + 1]
        if token.kind != NUMBER and (token.kind != NAME or token.text in RESERVED):
            return None
        if following.kind == OP and (
            following.text in POSTFIX_OPERATORS
            or following.text == "("
            or _INFIX_POWER.get(following.text, 0) >= min_power
        ):
            return None
        self.pos = index + 1
        if token.kind == NUMBER:
            return new_num(float(token.text), token.text, token.span)
        return new_name(token.text, token.span)

    def postfix(self, operand: syntax.Expr) -> syntax.Expr:
        """A subscript `x[...]` or a transpose `.T` applied to an operand."""
        if self.at_op(".T"):
            op = self.advance()
            return syntax.Transpose(operand, join_spans(operand.span, op.span), op.span)
        return self.subscript(operand)

    def subscript(self, value: syntax.Expr) -> syntax.Subscript:
        """'[' item (',' item)* ']' after an operand."""
        opening = self.advance()
        if self.at_op("]"):
            raise ParseError(
                "empty subscript '[]'", join_spans(opening.span, self.peek().span)
            )
        items = [self.subscript_item()]
        while self.at_op(","):
            comma = self.advance()
            if self.at_op("]"):
                raise self.error("trailing comma in a subscript", comma)
            items.append(self.subscript_item())
        if not self.at_op("]"):
            self.check_closed(opening)
            found = _describe(self.peek())
            message = f"expected ',' or ']' in a subscript, found {found}"
            raise self.error(message, self.peek())
        closing = self.advance()
        bracket = join_spans(opening.span, closing.span)
        span = join_spans(value.span, closing.span)
        return syntax.Subscript(value, tuple(items), span, bracket)

    def subscript_item(self) -> syntax.SubscriptItem:
        """An integer `k` or a slice `start:stop` (either bound may be left out)."""
        first = self.peek()
        start = None if self.at_op(":") else self.integer()
        if not self.at_op(":"):
            assert start is not None
            return syntax.IndexItem(start, join_spans(first.span, self.last_span()))
        self.advance()
        stop = None
        if not (self.at_op(",") or self.at_op("]") or self.at_op(":")):
            stop = self.integer()
        if self.at_op(":"):
            raise self.error("slice steps are not supported", self.peek())
        return syntax.SliceItem(start, stop, join_spans(first.span, self.last_span()))

    def integer(self) -> int:
        """A constant whole number in a subscript, optionally signed: 0, -1, +2."""
        sign = 1
        if self.at_op("-") or self.at_op("+"):
            sign = -1 if self.advance().text == "-" else 1
        token = self.peek()
        if token.kind == NUMBER and token.text.isdigit():
            self.advance()
            return sign * int(token.text)
        found = _describe(token)
        message = (
            "a subscript takes constant whole numbers and slices "
            f"(such as 0, -1, 1: or :-1), found {found}"
        )
        raise self.error(message, token)

    def last_span(self) -> Span:
        """The span of the token consumed last."""
        return self.tokens[self.pos - 1].span

    def operand_parser(self) -> Callable[[], syntax.Expr]:
        """The method that parses the operand starting at the current token."""
        token = self.tokens[self.pos] if self.pos < self.last else self.peek()
        if token.kind == OP and token.text == "(":
            return self.group
        if token.kind == OP and token.text in PREFIX_OPERATORS:
            return self.prefix
        if token.kind == NAME and token.text not in RESERVED:
            following = self.peek(1)
            if following.kind == OP and following.text == "(":
                return self.call
            return self.name
        if token.kind == NUMBER:
            return self.number
        return self.not_an_operand

    def name(self) -> syntax.Name:
        """A name that is no reserved word and is not called (operand_parser said)."""
        token = self.tokens[self.pos]
        self.pos += 1
        return new_name(token.text, token.span)

    def number(self) -> syntax.Num:
        """A number (operand_parser has peeked it)."""
        token = self.tokens[self.pos]
        self.pos += 1
        # The lexer has validated the text, so float() only converts digits.
        return new_num(float(token.text), token.text, token.span)

    def not_an_operand(self) -> syntax.Expr:
        """What cannot start an operand (a reserved word, '.T', '['): its error."""
        token = self.peek()
        if token.kind == NAME and token.text in RESERVED:
            raise self.error(_keyword_message(token.text), token)
        if token.kind == OP and token.text == ".T":
            raise self.error(
                "'.T' (transpose) must follow an operand, as in A.T", token
            )
        if token.kind == OP and token.text == "[":
            raise self.error(
                "list literals are not supported; '[' only subscripts a value, "
                "as in x[0]",
                token,
            )
        raise self.expected_operand(token)

    def prefix(self) -> syntax.Unary:
        """'-' or '+' and its operand, which binds tighter than * but looser than ^."""
        op = self.advance()
        self.enter(op)
        operand = self.expression(BINDING_POWER["unary"])
        self.depth -= 1
        return syntax.Unary(op.text, operand, join_spans(op.span, operand.span))

    def group(self) -> syntax.Expr:
        """'(' expression ')': the inner expression itself."""
        opening = self.advance()
        self.enter(opening)
        if self.at_op(")"):
            message = "empty parentheses '()'"
            raise ParseError(message, join_spans(opening.span, self.peek().span))
        inner = self.expression(0)
        if not self.at_op(")"):
            if self.at_op(","):
                raise self.error("tuples are not supported", self.peek())
            self.check_closed(opening)
            line, col = opening.span.line, opening.span.col
            expected = (
                f"an operator or ')' to close the '(' at line {line}, column {col}"
            )
            raise self.unexpected_after_operand(expected)
        self.advance()
        self.depth -= 1
        return inner

    def call(self) -> syntax.Call:
        """NAME '(' expression (',' expression)* ')'"""
        name = self.advance()
        opening = self.advance()
        self.enter(opening)
        if self.at_op(")"):
            message = f"a call needs at least one argument: '{name.text}()'"
            raise ParseError(message, join_spans(name.span, self.peek().span))
        args = [self.expression(0)]
        self.check_positional(args[-1])
        while self.at_op(","):
            comma = self.advance()
            if self.at_op(")"):
                raise self.error("trailing comma in an argument list", comma)
            args.append(self.expression(0))
            self.check_positional(args[-1])
        if not self.at_op(")"):
            self.check_closed(opening)
            expected = f"an operator, ',' or ')' in the call of '{name.text}'"
            raise self.unexpected_after_operand(expected)
        closing = self.advance()
        self.depth -= 1
        span = join_spans(name.span, closing.span)
        return syntax.Call(name.text, tuple(args), span, name.span)

    def check_positional(self, arg: syntax.Expr) -> None:
        """Keyword arguments `f(x=1)` get their own error."""
        if self.at_op("=") and isinstance(arg, syntax.Name):
            message = "keyword arguments are not supported; pass arguments by position"
            raise ParseError(message, join_spans(arg.span, self.peek().span))

    # -- limits and errors --------------------------------------------------

    def push_frame(self) -> None:
        """Count one recursive call of expression(); stay inside the stack budget."""
        self.frames += 1
        if self.frames > self.max_frames:
            message = (
                f"expression nested too deeply: more than {self.max_frames} "
                "nested operands, limit exceeded"
            )
            raise LimitError(message, self.peek().span)

    def chained_comparison(self, first: Token, second: Token) -> ParseError:
        """The error for `a < b < c`: comparisons are non-associative."""
        message = (
            f"comparisons cannot be chained ('a {first.text} b {second.text} c'); "
            "use parentheses or where(...)"
        )
        return self.error(message, second)

    def enter(self, token: Token) -> None:
        """Count one nesting level, checked before recursing."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            message = (
                f"expression nested more than {MAX_DEPTH} levels deep (parentheses, "
                "calls, unary operators, powers): limit exceeded"
            )
            raise LimitError(message, token.span)

    def check_closed(self, opening: Token) -> None:
        """Where ')' or ']' is missing and the text goes on on a new line, blame the opening."""
        if self.peek().span.line != self.tokens[self.pos - 1].span.line:
            raise ParseError(f"unclosed '{opening.text}'", opening.span)

    def expected_operand(self, token: Token) -> ParseError:
        """The error for a token where an operand must start."""
        found = _describe(token)
        previous = self.tokens[self.pos - 1] if self.pos > 0 else None
        if previous is not None and previous.kind == OP and previous.text != "(":
            return self.error(
                f"expected an expression after '{previous.text}', found {found}", token
            )
        return self.error(f"expected an expression, found {found}", token)

    def unexpected_after_operand(self, expected: str) -> SymgradError:
        """The error for a token after a complete operand that cannot follow it."""
        token = self.peek()
        previous = self.tokens[self.pos - 1]
        if token.kind == NAME and token.text in RESERVED:
            return self.error(_keyword_message(token.text), token)
        if token.kind in (NAME, NUMBER) or (token.kind == OP and token.text == "("):
            if previous.kind in (NAME, NUMBER) and token.kind != OP:
                hint = f"write {previous.text}*{token.text}"
            elif previous.kind in (NAME, NUMBER):
                hint = f"write {previous.text}*(...)"
            else:
                hint = "write '*' between the factors"
            return self.error(
                f"implicit multiplication is not supported; {hint}", token
            )
        return self.error(f"expected {expected}, found {_describe(token)}", token)
