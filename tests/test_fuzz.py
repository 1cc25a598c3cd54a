"""Fuzzing: hostile text gives only SymgradErrors, fast; valid input compiles right."""

from __future__ import annotations

import inspect
import os
import re
import time
import warnings
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from codegen.load import load
from symgrad.api import compile_source, decode_source
from symgrad.errors import SymgradError
from tests.conftest import audit_module
from tests.test_properties import EXPRESSIONS, POINTS, _close, _sympy_reference

# CI runs a fixed budget; SYMGRAD_FUZZ_EXAMPLES=1000 (see README) runs a longer one.
EXAMPLES = int(os.environ.get("SYMGRAD_FUZZ_EXAMPLES", 150))
SECONDS_PER_EXAMPLE = 2.0
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# -- what may come out of compile_source ---------------------------------------------


def compile_or_refuse(text: str) -> str | None:
    """Module text, or None for a SymgradError; anything else, or slowness, fails."""
    start = time.perf_counter()
    try:
        module = compile_source(text, "fuzz.sg")
    except SymgradError as error:
        message = error.format()  # formatting a diagnostic must not fail either
        assert error.span is None or message.startswith(
            f"fuzz.sg:{error.span.line}:{error.span.col}: "
        )
        module = None
    assert time.perf_counter() - start < SECONDS_PER_EXAMPLE, repr(text)
    if module is not None:
        audit_module(module)
        compile(module, "<fuzz>", "exec")
    return module


# -- random text -----------------------------------------------------------------------

# ASCII of the language and around it, line breaks, and the unicode that matters:
# look-alikes, bidi and zero-width controls, a BOM, NUL, accents and astral letters.
CHARACTERS = (
    list("xyzfgu_abc0123456789.eE+-*/^()=,;<>#  \t\n\r")
    + list("'\"[]{}:!@%&|\\~$?`")
    + ["\u00e9", "\ufb01", "\U0001d465", "\u2212", "\u00d7", "\u00b2", "\u00a0"]
    + ["\u202e", "\u200b", "\u2066", "\ufeff", "\x00", "\x0b", "\x85", "\u3000"]
)
TEXT = st.text(alphabet=st.sampled_from(CHARACTERS), max_size=80) | st.text(max_size=40)


@FUZZ
@given(TEXT)
def test_random_text_gives_only_symgrad_errors(text):
    compile_or_refuse(text)


@FUZZ
@given(TEXT)
def test_random_text_after_a_head_gives_only_symgrad_errors(text):
    compile_or_refuse(f"f(x, y) = {text}\n")


@FUZZ
@given(st.binary(max_size=80))
def test_random_bytes_give_only_symgrad_errors(data):
    try:
        text = decode_source(data, "fuzz.sg")  # invalid UTF-8 is an error at its place
    except SymgradError as error:
        assert error.span is not None and error.span.file == "fuzz.sg"
        return
    compile_or_refuse(text)


# -- token soups -----------------------------------------------------------------------

NAMES = (
    "x y z f g u v w t1 pi sin exp log sqrt where max min atan2 sigmoid relu "
    "lambda match print sum np math shape dtype hessian f_grad __class__ if for "
    "type all abs ValueError _f_float __all__ __builtins__"
).split()
NUMBERS = "0 1 2 2.5 .5 5. 1e3 1e-400 1e309 0x1F 1_000 1j 007 1e".split()
OPERATORS = "+ - * / ^ ** ( ) ( ) , ; = < <= > >= == // . [ ] : ' # \n".split(" ")
TOKENS = st.sampled_from(NAMES + NUMBERS + OPERATORS + ["\n", "\n", " "])
SOUP = st.lists(TOKENS, max_size=40)
SEPARATORS = st.sampled_from(["", " "])
HEADS = st.sampled_from(["", "f(x, y) = ", "f(x; y) = ", "u = ", "g(x) = x\nf(x) = "])


@FUZZ
@given(HEADS, SOUP, SEPARATORS)
def test_token_soup_gives_only_symgrad_errors(head, tokens, separator):
    compile_or_refuse(head + separator.join(tokens) + "\n")


# -- mutated sample files -------------------------------------------------------------

SAMPLES = sorted((Path(__file__).resolve().parent.parent / "samples").glob("*.sg"))
SAMPLE_TEXTS = [path.read_text(encoding="utf-8") for path in SAMPLES]
PIECES = st.sampled_from(CHARACTERS + NAMES + NUMBERS + OPERATORS)


@st.composite
def mutated_samples(draw) -> str:
    """A sample file with a few characters inserted, deleted or duplicated."""
    text = draw(st.sampled_from(SAMPLE_TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "duplicate"]))
        if kind == "insert":
            text = text[:at] + draw(PIECES) + text[at:]
        else:
            end = min(len(text), at + draw(st.integers(1, 12)))
            text = (
                text[:at]
                + (text[at:end] * 2 if kind == "duplicate" else "")
                + text[end:]
            )
    return text


# The call-time shape check of a function with array parameters (codegen/array_function.py)
SHAPE_CHECK = re.compile(
    r"\w+: (expected \d+ dimension|axis \d+ has size)|.* needs \w+ >= "
)


def run_everything(module) -> None:
    """Call each generated function on floats, numpy scalars and a batch: no raising.

    A function of array parameters may refuse a wrong shape, with its own message.
    """
    for name in module.__all__:
        function = getattr(module, name)
        arity = len(inspect.signature(function).parameters)
        for point in (0.7, np.float64(-1.3), np.array([0.0, 2.5])):
            try:
                function(*[point] * arity)
            except ValueError as error:
                assert "_arrays(" in inspect.getsource(function), error
                assert SHAPE_CHECK.match(str(error)), error


@FUZZ
@given(mutated_samples())
def test_mutated_samples_give_modules_or_symgrad_errors(text):
    source = compile_or_refuse(text)
    if source is not None:
        run_everything(load(source, "mutated", "<mutated>"))


# -- valid expressions through the whole pipeline -------------------------------------

# Parameter and function names a module must keep apart from its own: numpy, math,
# temporaries, soft keywords, the builtins and helpers generated code calls, dunders,
# adjoint-like and HVP-like names.
PARAM_NAMES = [
    "np", "math", "shape", "dtype", "hessian", "t1", "t2", "match", "case", "print",
    "sum", "type", "all", "abs", "max", "float", "ValueError", "ArithmeticError",
    "__class__", "__builtins__", "dx", "dy", "vx", "v", "x_2", "_expand", "_sigmoid",
    "_f_float", "x", "y",
]  # fmt: skip
FUNCTION_NAMES = [
    "f", "g", "np", "shape", "match", "sin", "hessian", "t1", "loss", "type", "abs",
    "max", "_f_float", "__all__", "__builtins__", "__name__",
]  # fmt: skip


def rename(body: str, first: str, second: str) -> str:
    """body with the variables x and y renamed (function names are untouched)."""
    names = {"x": first, "y": second}
    return re.sub(r"\b[xy]\b", lambda m: names[m.group()], body)


@FUZZ
@given(
    EXPRESSIONS,
    st.lists(st.sampled_from(PARAM_NAMES), min_size=2, max_size=2, unique=True),
    st.sampled_from(FUNCTION_NAMES),
    POINTS,
    POINTS,
)
def test_valid_expressions_compile_audit_and_agree_with_sympy(
    body, names, fname, px, py
):
    source = compile_or_refuse(
        f"{fname}({', '.join(names)}) = {rename(body, *names)}\n"
    )
    assert source is not None
    module = load(source, "fuzzed", "<fuzzed>")
    # __all__ lists f, f_grad, f_value_and_grad, f_hessian, f_hvp (names mangled)
    f, grad, _, hessian, _, _ = (getattr(module, name) for name in module.__all__)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        value, expected_grad, expected_hessian = _sympy_reference(
            f"f(x, y) = {body}\n"
        )(px, py)
    expected = np.array([value, *expected_grad, *np.ravel(expected_hessian)], float)
    assume(np.all(np.isfinite(expected)) and np.all(np.abs(expected) < 1e8))
    assume(all(abs(px - k) > 1e-6 and abs(py - k) > 1e-6 for k in (0.0, 0.3)))
    assume(abs(px - py) > 1e-6 and abs(px + py) > 1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # valid points: no RuntimeWarning anywhere
        assert _close(f(px, py), value)
        assert _close(grad(px, py), expected_grad)
        assert _close(hessian(px, py), expected_hessian)
        # the numpy path agrees with the float fast path, and batches with scalars
        assert _close(f(np.float64(px), np.float64(py)), f(px, py))
        batch = grad(np.array([px, px]), np.float64(py))
        assert [np.shape(d) for d in batch] == [(2,), (2,)]
        assert _close([d[1] for d in batch], grad(px, py))
