"""Source spans and the error types every stage raises, formatted as file:line:col."""

from __future__ import annotations

from dataclasses import dataclass

_WINDOW = 160


def printable(text: str) -> str:
    """Text with control characters escaped, so a diagnostic keeps its lines."""
    return "".join(c if c.isprintable() or c == "\t" else repr(c)[1:-1] for c in text)


@dataclass(frozen=True)
class Span:
    """A place in a source text: 1-based line and column, counted in characters."""

    file: str
    line: int
    col: int
    length: int = 1
    line_text: str = ""

    def caret(self) -> str:
        """The source line (a window of it, if long) and a caret line under the span."""
        if not self.line_text:
            return ""
        text, col = self.line_text, self.col
        if len(text) > _WINDOW:  # a 10 MB line must not make a 10 MB diagnostic
            start = max(0, col - 1 - _WINDOW // 2)
            text = ("..." if start else "") + text[start : start + _WINDOW] + "..."
            col = col - start + (3 if start else 0)
        # Tabs are kept in the padding so the caret lines up in any terminal.
        pad = "".join("\t" if ch == "\t" else " " for ch in text[: col - 1])
        width = max(1, min(self.length, len(text) - col + 1))
        return f"{printable(text)}\n{pad}{'^' * width}"


class SymgradError(Exception):
    """A user-facing error with a message and, where known, a source span."""

    kind = "error"

    def __init__(
        self, message: str, span: Span | None = None, notes: tuple[str, ...] = ()
    ):
        super().__init__(message)
        self.message = message
        self.span = span
        self.notes = notes

    def format(self) -> str:
        """The compiler-style diagnostic: `file:line:col: error: message`, line, caret."""
        if self.span is None:
            head = f"{self.kind}: {self.message}"
        else:
            s = self.span
            head = f"{printable(s.file)}:{s.line}:{s.col}: {self.kind}: {self.message}"
        parts = [head]
        if self.span is not None and self.span.line_text:
            parts.append(self.span.caret())
        parts.extend(f"note: {note}" for note in self.notes)
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.format()


class ParseError(SymgradError, SyntaxError):
    """A syntax error in an expression text; also a SyntaxError so Python shows a caret."""

    def __init__(
        self, message: str, span: Span | None = None, notes: tuple[str, ...] = ()
    ):
        SymgradError.__init__(self, message, span, notes)
        if span is not None:
            self.filename = span.file
            self.lineno = span.line
            self.offset = span.col
            self.text = span.line_text
            self.msg = message


class NameResolutionError(SymgradError):
    """An unknown, duplicated or misused name in an expression file."""


class LimitError(SymgradError):
    """A resource limit (nesting, size, order, exponent) was exceeded."""


class DifferentiationError(SymgradError):
    """An op has no derivative rule, or a derivative request is malformed."""


class ShapeError(SymgradError):
    """Array shapes that do not fit an operation (raised without a span by the core)."""
