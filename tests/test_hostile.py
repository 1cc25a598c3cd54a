"""Hostile input (issue #5): every catalogue item, by an existing test or one here."""

# The catalogue of issue #5, item by item, and the tests that cover it: `file::test`
# for an existing test, `here::test` for one in this file; `xfail` marks a test that
# states the correct behaviour symgrad does not have yet.
#
# Text
#   empty file; only comments
#       test_parser.py::test_empty_and_comment_only_files_have_no_definitions
#       here::test_empty_and_comment_only_files_compile_to_empty_modules
#   UTF-8 BOM
#       test_lexer.py::test_bom_at_start_is_skipped
#       test_lexer.py::test_bom_elsewhere_is_an_error
#       here::test_bom_crlf_and_lone_cr_through_the_cli
#   CRLF and lone CR
#       test_lexer.py::test_line_endings_number_lines
#       test_lexer.py::test_mixed_line_endings_and_crlf_is_one_break
#       here::test_bom_crlf_and_lone_cr_through_the_cli
#   invalid UTF-8
#       test_cli.py::test_invalid_utf8_names_line_and_column
#       test_api.py::test_decode_source_invalid_utf8_position
#   NUL bytes
#       test_lexer.py::test_control_characters_name_their_code_point
#       test_lexer.py::test_nul_in_a_comment_is_an_error
#       here::test_nul_byte_file_through_the_cli
#   a 10 MB line
#       here::test_ten_megabyte_comment_line_compiles_quickly
#       here::test_error_after_a_ten_megabyte_line_has_its_column
#       here::test_diagnostic_of_a_ten_megabyte_line_is_excerpted
#   tabs, multibyte before an error
#       test_lexer.py::test_tabs_and_astral_characters_count_as_one_column
#       test_lexer.py::test_error_after_non_ascii_comment_line_uses_its_own_line
#       test_parser.py::test_error_columns_count_characters_after_tabs
#   bidi and zero-width controls
#       test_lexer.py::test_invisible_and_bidi_characters_name_their_code_point
#       test_lexer.py::test_bidi_controls_are_rejected_inside_comments_too
#   NFKC look-alikes (fi, x)
#       test_lexer.py::test_non_ascii_identifier_characters
#       here::test_lookalike_names_are_never_merged
# Syntax
#   x +* 2, trailing operators
#       test_parser.py::test_errors
#       here::test_syntax_errors_through_the_cli
#   unbalanced parentheses
#       test_parser.py::test_errors
#       here::test_syntax_errors_through_the_cli
#   10,000 nested parentheses
#       test_parser.py::test_ten_thousand_nested_parentheses
#   100,000 unary minuses
#       test_parser.py::test_hundred_thousand_unary_minuses
#       here::test_nesting_limits_through_the_cli
#   implicit multiplication + hint
#       test_parser.py::test_errors
#       here::test_syntax_errors_through_the_cli
#   1e309, 0x1F, 1_000, 1j
#       test_lexer.py::test_number_errors
#       here::test_syntax_errors_through_the_cli
#   1e-400
#       test_lexer.py::test_number_forms
#       test_parser.py::test_underflowing_number_is_zero
#   strings, attributes, subscripts
#       test_lexer.py::test_unsupported_ascii_has_specific_errors
#   lambdas, comprehensions, kwargs
#       test_parser.py::test_errors
#       here::test_syntax_errors_through_the_cli
#   each with its own message
#       here::test_syntax_errors_have_distinct_messages
# Names
#   keywords as names
#       test_api.py::test_keyword_is_not_a_name
#       test_parser.py::test_errors
#   soft keywords, builtins as names
#       test_api.py::test_soft_keywords_and_builtins_are_names
#   dunders
#       here::test_dunder_parameters
#       here::test_dunder_function_names
#   np, math
#       test_api.py::test_mangled_names_in_dunder_all_exist
#       test_module.py::test_parameters_named_like_keywords_and_numpy
#       here::test_names_the_module_uses_itself
#   f_grad beside f
#       test_lower.py::test_error_position_and_message
#   temporaries t1, shape, dtype, hessian
#       test_names.py::test_python_name_mangles_keywords_and_reserved
#       here::test_names_the_module_uses_itself
#   builtins the module calls
#       here::test_parameters_named_like_builtins_the_module_calls
#       here::test_functions_named_like_builtins_the_module_calls
#   a function named like an op
#       test_lower.py::test_file_function_shadows_builtin_for_later_calls
#       here::test_function_named_like_an_op
#   parameter declared twice
#       test_parser.py::test_errors
#       test_lower.py::test_error_position_and_message
#   unused parameter (batch too)
#       here::test_unused_parameter_has_a_zero_derivative_of_the_right_shape
#   undeclared variable
#       test_lower.py::test_error_position_and_message
#       test_cli.py::test_entry_point_compiles_and_reports_errors_without_traceback
# Numerics
#   log, sqrt, 1/x, x^y at 0, below
#       here::test_domain_edges_follow_ieee_without_warnings
#       here::test_power_at_zero_and_below
#   acos at +-1
#       here::test_domain_edges_follow_ieee_without_warnings
#   where, undefined untaken branch
#       test_decorator.py::test_where_with_an_undefined_untaken_branch
#       here::test_where_never_leaks_the_untaken_branch
#   sqrt(x^2 + y^2)^2 at 0
#       here::test_squared_norm_at_zero
#   softplus and sigmoid at +-1000
#       test_acceptance.py::test_sigmoid_no_warning_no_nan
#       test_acceptance.py::test_softplus_no_overflow
#       here::test_activations_at_plus_minus_1000
#   float32 stays float32
#       test_cli.py::test_float32_stays_float32
#       here::test_float32_survives_a_where_with_constant_branches
#   integer inputs
#       test_cli.py::test_integer_inputs_give_floats
#       here::test_integer_arrays_give_float64
#   NaN and inf propagate
#       here::test_domain_edges_follow_ieee_without_warnings  (inf)
#       here::test_nan_propagates_through_every_function
#       here::test_nan_propagates_through_binary_functions
#   constants that overflow
#       here::test_constant_overflow_never_raises_at_run_time
#   traced numpy functions at extreme arguments (logaddexp at 1000, hypot at 1e200)
#       here::test_traced_logaddexp_at_plus_minus_1000
#       test_trace.py::test_logaddexp_is_max_shifted
#       test_trace.py::test_logaddexp_splits_the_derivative_evenly_at_a_tie
#       test_trace.py::test_hypot_never_squares_a_large_number
#       test_trace.py::test_hypot_at_the_origin_is_zero_with_a_zero_derivative
# CLI and files
#   missing input, a directory
#       test_cli.py::test_missing_input
#       test_cli.py::test_directory_as_input
#   unreadable file
#       test_cli.py::test_unreadable_input
#       test_cli.py::test_read_failure_is_input_error
#   '-' for stdin, terminal hint
#       test_cli.py::test_dash_reads_stdin
#       test_cli.py::test_dash_on_terminal_is_usage_error
#   onto a hand-written .py
#       test_cli.py::test_handwritten_output_needs_force
#   output equal to input
#       test_cli.py::test_output_equal_to_input_refused
#   read-only output directory
#       test_cli.py::test_read_only_output_directory
#       test_cli.py::test_output_directory_refusing_temp_file
#   module name not an identifier
#       here::test_module_name_that_is_not_an_identifier_is_warned
#   module shadowing math, numpy
#       test_cli.py::test_module_name_shadowing_a_library_refused
#   paths with spaces
#       test_cli.py::test_paths_with_spaces
#   paths with newlines
#       here::test_path_with_a_newline_compiles
#       here::test_diagnostic_for_a_path_with_a_newline_stays_one_line
#       here::test_warning_for_a_path_with_a_newline_stays_one_line
#       test_cli.py::test_module_name_warning_escapes_control_characters
#   broken pipe on stdout
#       here::test_broken_pipe_on_stdout
#   LANG=C / LC_ALL=C
#       here::test_c_locale_with_non_ascii_comment_and_error
#   interruption mid-write
#       here::test_interrupted_write_keeps_the_old_output
#       test_cli.py::test_disk_full_is_not_an_internal_error
#   two runs byte-identical
#       test_cli.py::test_two_runs_byte_identical
#       test_cli.py::test_hash_seed_does_not_change_output
# Decorator
#   lambdas
#       test_decorator.py::test_functions_from_exec_and_lambdas_work_without_source
#   several lambdas on one line
#       here::test_several_lambdas_on_one_line
#   methods
#       test_decorator.py::test_methods_are_refused_with_advice
#   *args, **kwargs
#       test_trace.py::test_signatures_that_cannot_be_traced
#       here::test_decorator_refuses_untraceable_signatures
#   generators, async functions
#       test_trace.py::test_signatures_that_cannot_be_traced
#       here::test_decorator_refuses_untraceable_signatures
#   other signatures and callables
#       here::test_decorator_odd_callables
#   a corrupt cache file
#       test_cache.py::test_corrupt_entries_are_detected_and_rebuilt
#       test_cache.py::test_text_damaged_in_place_is_rebuilt_when_read
#       test_cache.py::test_a_damaged_or_stale_code_file_is_compiled_again
#       here::test_corrupt_code_file_is_detected
#   an unwritable cache dir
#       test_cache.py::test_unwritable_cache_dir_falls_back_to_memory_with_one_warning
# Limits
#   nesting depth
#       test_parser.py::test_ten_thousand_nested_parentheses  (and the tests after it)
#   node count
#       here::test_node_count_limit
#       test_graph.py::test_budget_counts_new_nodes_only  (and the tests after it)
#       test_lower.py::test_inlining_beyond_the_lowering_budget_points_at_the_call
#       test_cli.py::test_differentiation_beyond_the_node_budget_names_the_file
#       test_trace.py::test_a_runaway_loop_is_stopped_by_the_operation_limit
#   exponent size (9^9^9, x^(10^9))
#       here::test_exponent_size_limit
#   derivative order
#       test_derivatives.py::test_derivative_order_zero_and_limits
#       here::test_derivative_order_limit_message
#       here::test_derivative_order_below_the_limit_is_bounded
#   generated size
#       here::test_generated_size_limit  (a 500 KB name: the identifier limit)
#       test_lexer.py::test_longer_identifier_is_a_limit_error_at_its_span
#   every graph walk iterative
#       test_graph.py::test_toposort_is_iterative_on_a_200k_deep_chain
#       test_derivatives.py::test_100k_node_chain_differentiates_iteratively_and_fast
#       here::test_deep_chain_through_the_whole_pipeline
# Arrays (issue #11)
#   a size name bound to two sizes
#       here::test_a_size_bound_to_two_sizes_at_compile_time_and_at_the_call
#       test_lower.py (helpers: "size n would be both m and k")
#   an axis out of range; mismatched ranks; an empty slice; x[5] on x[3]
#       here::test_array_shape_errors_through_the_cli
#       test_arrays.py::test_shape_errors_name_the_sizes
#   a declared size of 10^12
#       here::test_a_huge_declared_size_compiles_and_is_checked_at_the_call
#   x[0] on a zero-length array; a wrong rank at the call
#       here::test_call_time_shape_errors_are_value_errors_naming_the_parameter
#   NaN and inf inside reductions and logsumexp
#       here::test_nan_and_inf_inside_reductions_give_ieee_answers

from __future__ import annotations

import math
import os
import re
import struct
import subprocess
import sys
import time
import unicodedata
import warnings
from contextlib import contextmanager
from pathlib import Path

import mpmath
import numpy as np
import pytest

import symgrad
import symgrad.cli
from codegen.load import load
from symgrad import cache
from symgrad.api import compile_source
from symgrad.cli import main
from symgrad.errors import LimitError, SymgradError
from symgrad.trace import TracingError
from tests.conftest import audit_module, import_path

REPO = Path(__file__).resolve().parent.parent
INF, NAN = math.inf, math.nan


def module_of(text: str, file: str = "t.sg"):
    """Compile expression text, audit the module and load it."""
    source = compile_source(text, file)
    audit_module(source)
    return load(source, "hostile", f"<hostile {file}>")


def error_of(text: str) -> SymgradError:
    """The SymgradError compiling text raises."""
    with pytest.raises(SymgradError) as info:
        compile_source(text, "t.sg")
    return info.value


def locate(text: str, needle: str) -> tuple[int, int]:
    """1-based (line, column) of the first needle in text."""
    at = text.index(needle)
    return text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1


@contextmanager
def no_warnings():
    """Every warning inside the block is an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def kinds(value: float):
    """value as a Python float, a numpy scalar and a one-element batch."""
    return [float(value), np.float64(value), np.array([value])]


def same(got, expected) -> bool:
    """Equal as floats, NaN equal to NaN, signs of infinities checked."""
    got = np.asarray(got, dtype=float)
    return bool(np.all((got == expected) | (np.isnan(got) & np.isnan(expected))))


def run_symgrad(*args: str, cwd: Path, env: dict | None = None):
    """`python -m symgrad ARGS` in a fresh interpreter."""
    environment = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "symgrad", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        timeout=120,
    )


def write(path: Path, text: str) -> Path:
    """Write text as UTF-8; the path."""
    path.write_text(text, encoding="utf-8")
    return path


# -- text ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "# only\n   # comments\n\n"])
def test_empty_and_comment_only_files_compile_to_empty_modules(tmp_path, text):
    source = write(tmp_path / "empty.sg", text)
    assert main(["compile", str(source)]) == 0
    generated = (tmp_path / "empty.py").read_text(encoding="utf-8")
    audit_module(generated)
    assert import_path(tmp_path / "empty.py").__all__ == []


def test_bom_crlf_and_lone_cr_through_the_cli(tmp_path, capsys):
    good = tmp_path / "good.sg"
    good.write_bytes(b"\xef\xbb\xbff(x) = x^2\r\ng(y) = 3*y\rh(z) = z\r\n")
    assert main(["compile", str(good)]) == 0
    module = import_path(tmp_path / "good.py")
    assert (module.f(3.0), module.g(2.0), module.h(1.0)) == (9.0, 6.0, 1.0)
    bad = tmp_path / "bad.sg"
    bad.write_bytes(b"\xef\xbb\xbff(x) = x\r\ng(y) = y\rh(z) = z +* 1\r\n")
    assert main(["compile", str(bad)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith(f"{bad}:3:11: error: expected an expression after '+'")
    assert lines[1] == "h(z) = z +* 1" and lines[2] == " " * 10 + "^"


def test_nul_byte_file_through_the_cli(tmp_path, capsys):
    source = tmp_path / "nul.sg"
    source.write_bytes(b"f(x) = x\x00 + 1\n")
    assert main(["compile", str(source)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{source}:1:9: error: control character U+0000")
    assert "Traceback" not in err and not (tmp_path / "nul.py").exists()


TEN_MB = 10_000_000


def test_ten_megabyte_comment_line_compiles_quickly():
    start = time.perf_counter()
    module = module_of("f(x) = x^2  # " + "a" * TEN_MB + "\n")
    assert time.perf_counter() - start < 5.0
    assert module.f_grad(3.0) == (6.0,)


def test_error_after_a_ten_megabyte_line_has_its_column():
    start = time.perf_counter()
    error = error_of("f(x) = x + 1" + " " * TEN_MB + "$\n")
    assert time.perf_counter() - start < 5.0
    assert (error.span.line, error.span.col) == (1, 13 + TEN_MB)
    assert error.message == "character '$' is not allowed"


def test_diagnostic_of_a_ten_megabyte_line_is_excerpted():
    text = "f(x) = x + 1" + " " * TEN_MB + "$ + 2\n"
    lines = error_of(text).format().splitlines()
    assert sum(map(len, lines)) < 10_000
    assert lines[0].startswith(f"t.sg:1:{13 + TEN_MB}: error:")
    assert lines[1][lines[2].index("^")] == "$"


@pytest.mark.parametrize(
    "fancy, plain", [("\ufb01", "fi"), ("\U0001d465", "x"), ("\u2170", "i")]
)
def test_lookalike_names_are_never_merged(fancy, plain):
    assert unicodedata.normalize("NFKC", fancy) == plain  # Python would merge them
    text = f"{plain}(t) = t\n{fancy}(t) = 2*t\n"
    error = error_of(text)
    assert (error.span.line, error.span.col) == (2, 1)
    assert f"U+{ord(fancy):04X}" in error.message
    error = error_of(f"f({plain}, {fancy}) = {plain}\n")
    assert (error.span.line, error.span.col) == locate(f"f({plain}, {fancy})", fancy)


# -- syntax ----------------------------------------------------------------------------

# (text, the text the error points at, a fragment of its message)
SYNTAX = [
    ("f(x) = x +* 2", "*", "expected an expression after '+', found '*'"),
    ("f(x) = x *", "\n", "expected an expression after '*', found end of line"),
    ("f(x) = (x + 1", "(x ", "unclosed '('"),
    ("f(x) = x + 1)", ")\n", "unmatched ')'"),
    ("f(x) = 2x", "x\n", "implicit multiplication is not supported; write 2*x"),
    ("f(x, y) = x y", "y\n", "implicit multiplication is not supported; write x*y"),
    ("f(x) = 2(x + 1)", "(x ", "implicit multiplication is not supported; write 2*("),
    ("f(x) = 1e309", "1e309", "number too large"),
    ("f(x) = 0x1F", "0x1F", "hex literals are not supported"),
    ("f(x) = 1_000", "1_000", "underscores in numbers are not supported"),
    ("f(x) = 1j", "1j", "complex numbers are not supported"),
    ("f(x) = 'x'", "'", "strings are not part of the expression language"),
    ("f(x) = x.real", ".", "attribute access with '.' is not supported"),
    ("f(x) = x[0]", "[", "subscripts are not supported on scalar values"),
    ("f(x) = lambda t: t", "lambda", "'lambda' is not supported"),
    ("f(x) = sum(t for t in x)", "for", "comprehensions"),
    ("f(x) = max(x, y=1)", "y=", "keyword arguments are not supported"),
]  # fmt: skip


@pytest.mark.parametrize("text, needle, fragment", SYNTAX)
def test_syntax_errors_through_the_cli(tmp_path, capsys, text, needle, fragment):
    source = write(tmp_path / "syn.sg", text + "\n")
    assert main(["compile", str(source)]) == 1
    line, col = locate(text + "\n", needle)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith(f"{source}:{line}:{col}: error: ")
    assert fragment in lines[0]
    assert lines[1] == text and lines[2].index("^") == col - 1
    assert not (tmp_path / "syn.py").exists()


def test_syntax_errors_have_distinct_messages():
    messages = [error_of(text + "\n").message for text, _, _ in SYNTAX]
    assert len(set(messages)) == len(messages)


@pytest.mark.parametrize(
    "body",
    ["(" * 10_000 + "x" + ")" * 10_000, "-" * 100_000 + "x", "x^" * 5000 + "x"],
    ids=["10k-parentheses", "100k-unary-minuses", "5k-powers"],
)
def test_nesting_limits_through_the_cli(tmp_path, capsys, body):
    source = write(tmp_path / "deep.sg", f"f(x) = {body}\n")
    start = time.perf_counter()
    assert main(["compile", str(source)]) == 1
    assert time.perf_counter() - start < 5.0  # a hang guard (~0.5 s alone)
    err = capsys.readouterr().err
    assert err.startswith(f"{source}:1:") and "limit exceeded" in err.splitlines()[0]
    assert "Traceback" not in err


# -- names -----------------------------------------------------------------------------


def test_dunder_parameters():
    head = "f(__class__, __import__, __builtins__)"
    text = f"{head} = __class__*__import__ + __builtins__"
    module = module_of(text + "\n")
    assert module.f(2.0, 3.0, 4.0) == 10.0
    assert module.f_grad(2.0, 3.0, 4.0) == (3.0, 2.0, 1.0)


@pytest.mark.parametrize(
    "name", ["__builtins__", "__all__", "__name__", "__doc__", "__class__"]
)
def test_dunder_function_names(name):
    try:
        module = module_of(f"{name}(x) = x^2\n")
    except SymgradError:
        return  # refusing the name is a correct answer
    assert all(isinstance(n, str) for n in module.__all__)
    assert isinstance(module.__name__, str) and isinstance(module.__doc__, str)
    value, grad = (getattr(module, n) for n in module.__all__[:2])
    assert value(3.0) == 9.0 and grad(3.0) == (6.0,)


def test_names_the_module_uses_itself():
    text = (
        "u = np*math + t1\n"
        "hessian(np, math, t1, shape, dtype) = u*shape + sin(u)*dtype + u^2\n"
    )
    module = module_of(text)
    value, grad, _, hess, hvp, _ = (getattr(module, n) for n in module.__all__)
    assert module.__all__[0] == "hessian_" and module.np is np and module.math is math
    point = (0.5, 2.0, 0.3, 1.5, -0.7)
    u = 0.5 * 2.0 + 0.3
    assert value(*point) == pytest.approx(u * 1.5 + math.sin(u) * -0.7 + u**2)
    du = 1.5 + math.cos(u) * -0.7 + 2 * u
    expected = (du * 2.0, du * 0.5, du, u, math.sin(u))
    assert grad(*point) == pytest.approx(expected, rel=1e-14)
    batch = (np.full(3, 0.5), *point[1:])
    assert hess(*batch).shape == (3, 5, 5)
    assert [np.shape(d) for d in hvp(*batch, *([1.0] * 5))] == [(3,)] * 5


# (text, function, arguments, expected value)
BUILTIN_PARAMETERS = [
    ("f(type) = type^2", "f", (3.0,), 9.0),
    ("f(all, b, c, d) = all*b*c*d", "f", (1.0, 2.0, 3.0, 4.0), 24.0),
    ("f(abs, x) = abs(x)*abs", "f", (2.0, -3.0), 6.0),
    ("f(ArithmeticError) = log(ArithmeticError)", "f", (0.0,), -INF),
    ("f(ValueError) = log(ValueError)", "f", (0.0,), -INF),
    ("f(_f_float) = _f_float^2", "f", (3.0,), 9.0),
    ("f(float) = float^2", "f", (3.0,), 9.0),
]


@pytest.mark.parametrize("text, name, args, expected", BUILTIN_PARAMETERS)
def test_parameters_named_like_builtins_the_module_calls(text, name, args, expected):
    module = module_of(text + "\n")
    for convert in (float, np.float64):
        with np.errstate(divide="ignore"):
            assert getattr(module, name)(*map(convert, args)) == expected


FUNCTIONS_SHADOWING = [
    ("type(x) = x^2\n", "type", (3.0,), 9.0),
    ("abs(x) = 2*x\nh(z) = softplus(z)\n", "h", (-1.0,), math.log1p(math.exp(-1))),
    ("max(a, b) = a - b\nh(z) = softplus(z)\n", "h", (-1.0,), math.log1p(math.exp(-1))),
    ("g(x) = x^2\n_g_float(y) = 3*y\n", "g", (2.0,), 4.0),
]  # fmt: skip


@pytest.mark.parametrize("text, name, args, expected", FUNCTIONS_SHADOWING)
def test_functions_named_like_builtins_the_module_calls(text, name, args, expected):
    try:
        module = module_of(text)
    except SymgradError:
        return  # refusing the name is a correct answer
    function = getattr(module, name if name in module.__all__ else name + "_")
    assert function(*args) == pytest.approx(expected, rel=1e-14)


def test_function_named_like_an_op():
    module = module_of("sin(x) = 2*x\ng(y) = sin(y) + exp(y)\nexp(z) = z^3\n")
    assert module.sin(1.5) == 3.0 and module.exp(2.0) == 8.0
    assert module.g(1.0) == pytest.approx(2.0 + math.e, rel=1e-15)
    assert module.g_grad(1.0) == pytest.approx((2.0 + math.e,), rel=1e-15)
    assert module.np.exp is np.exp


def test_unused_parameter_has_a_zero_derivative_of_the_right_shape():
    module = module_of("f(x, y) = x^2\n")
    for x, y, shape in [
        (3.0, 1.0, ()),
        (np.arange(3.0), 1.0, (3,)),
        (3.0, np.ones((2, 4)), (2, 4)),
        (np.arange(4.0), np.ones((2, 1)), (2, 4)),
    ]:
        dx, dy = module.f_grad(x, y)
        assert np.shape(dx) == np.shape(dy) == shape
        assert np.all(dy == 0.0) and np.all(dx == 2 * np.asarray(x))
        assert module.f_hessian(x, y).shape == shape + (2, 2)
        assert np.all(module.f_hessian(x, y)[..., 1, :] == 0.0)
        hx, hy = module.f_hvp(x, y, 1.0, 1.0)
        assert np.shape(hx) == np.shape(hy) == shape and np.all(hy == 0.0)
    dx, dy = module.f_grad(np.float32(2.0), np.ones(2, np.float32))
    assert dx.dtype == dy.dtype == np.float32


# -- numerics --------------------------------------------------------------------------

# (body, x, f(x), f'(x)): IEEE values at the edges (None: not asserted)
EDGES = [
    ("log(x)", 0.0, -INF, INF),
    ("log(x)", -1.0, NAN, None),
    ("log1p(x)", -1.0, -INF, INF),
    ("sqrt(x)", 0.0, 0.0, INF),
    ("sqrt(x)", -1.0, NAN, NAN),
    ("1/x", 0.0, INF, -INF),
    ("x^-1", 0.0, INF, -INF),
    ("x^-2", 0.0, INF, -INF),
    ("x^0.5", 0.0, 0.0, INF),
    ("x^1.5", 0.0, 0.0, 0.0),
    ("x^1.5", -1.0, NAN, NAN),
    ("acos(x)", 1.0, 0.0, -INF),
    ("acos(x)", -1.0, math.pi, -INF),
    ("asin(x)", 1.0, math.pi / 2, INF),
    ("asin(x)", -1.0, -math.pi / 2, INF),
    ("exp(x)", 1000.0, INF, INF),
    ("exp(x)", INF, INF, INF),
    ("exp(x)", -INF, 0.0, 0.0),
    ("tanh(x)", INF, 1.0, 0.0),
    ("atan(x)", -INF, -math.pi / 2, 0.0),
    ("sigmoid(x)", INF, 1.0, 0.0),
    ("softplus(x)", INF, INF, 1.0),
    ("softplus(x)", -INF, 0.0, 0.0),
    ("relu(x)", -INF, 0.0, 0.0),
    ("abs(x)", -INF, INF, -1.0),
]


@pytest.mark.parametrize("body, x, value, slope", EDGES)
def test_domain_edges_follow_ieee_without_warnings(body, x, value, slope):
    module = module_of(f"f(x) = {body}\n")
    for point in kinds(x):
        with no_warnings():
            got_value, (got_slope,) = module.f_value_and_grad(point)
            alone = module.f(point)
        assert same(got_value, value) and same(alone, value)
        assert slope is None or same(got_slope, slope)


POWER = [
    ((-1.0, 2.0), 1.0, (-2.0, NAN)),  # d/dy needs log(-1): undefined
    ((-1.0, 0.5), NAN, (NAN, NAN)),
    ((2.0, 0.0), 1.0, (0.0, math.log(2.0))),
    ((0.0, 2.0), 0.0, (0.0, 0.0)),  # 0^y = 0 for every y > 0: d/dy = 0
    ((0.0, 0.5), 0.0, (INF, 0.0)),
]


@pytest.mark.parametrize("point, value, grad", POWER)
def test_power_at_zero_and_below(point, value, grad):
    module = module_of("f(x, y) = x^y\n")
    for convert in (float, np.float64, lambda v: np.array([v])):
        args = [convert(v) for v in point]
        with no_warnings():
            got_value, got_grad = module.f_value_and_grad(*args)
        assert same(got_value, value)
        assert same(got_grad[0], grad[0]) and same(got_grad[1], grad[1])


def test_where_never_leaks_the_untaken_branch():
    module = module_of("f(x) = where(x > 0, sqrt(x), 0)\n")
    for point in kinds(-3.0):
        with no_warnings():
            value, (slope,) = module.f_value_and_grad(point)
            curvature = module.f_hessian(point)
            (hvp,) = module.f_hvp(point, 1.0)
        assert same(value, 0.0) and same(slope, 0.0)
        assert same(curvature, 0.0) and same(hvp, 0.0)
    with no_warnings():
        value, (slope,) = module.f_value_and_grad(np.array([-3.0, 4.0]))
        curvature = module.f_hessian(np.array([-3.0, 4.0]))
    assert value.tolist() == [0.0, 2.0] and slope.tolist() == [0.0, 0.25]
    assert curvature[:, 0, 0].tolist() == [0.0, -1.0 / 32.0]


def test_squared_norm_at_zero():
    module = module_of("f(x, y) = sqrt(x^2 + y^2)^2\n")
    for point in kinds(0.0):
        with no_warnings():
            value, grad = module.f_value_and_grad(point, point)
            hessian = module.f_hessian(point, point)
        assert same(value, 0.0) and same(grad[0], 0.0) and same(grad[1], 0.0)
        assert np.array_equal(np.reshape(hessian, (2, 2)), [[2.0, 0.0], [0.0, 2.0]])


@pytest.mark.parametrize(
    "body, kind",
    [
        ("softplus(x)", "softplus"),
        ("log(1 + exp(x))", "softplus"),
        ("sigmoid(x)", "sigmoid"),
        ("1/(1 + exp(-x))", "sigmoid"),
    ],
)
def test_activations_at_plus_minus_1000(body, kind):
    module = module_of(f"f(x) = {body}\n")
    # softplus: (x, 1, 0) at +1000 and (0, 0, 0) at -1000; sigmoid: (1, 0, 0), (0, 0, 0)
    expected = {
        "softplus": {1000.0: (1000.0, 1.0, 0.0), -1000.0: (0.0, 0.0, 0.0)},
        "sigmoid": {1000.0: (1.0, 0.0, 0.0), -1000.0: (0.0, 0.0, 0.0)},
    }[kind]
    for x, (value, slope, curvature) in expected.items():
        for point in kinds(x):
            with no_warnings():
                got, (got_slope,) = module.f_value_and_grad(point)
                got_curvature = module.f_hessian(point)
            assert same(got, value) and same(got_slope, slope)
            assert same(got_curvature, curvature)


def test_traced_logaddexp_at_plus_minus_1000(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path / "cache"))
    f = symgrad.compile(lambda a, b: np.logaddexp(a, b))
    with mpmath.workdps(30):  # log(e^a + e^b) at a = b is a + log(2)
        top, bottom = float(1000 + mpmath.log(2)), float(-1000 + mpmath.log(2))
    # (a, b): value, slopes e^a/(e^a + e^b), e^b/(e^a + e^b) (exact in float64:
    # e^-2000 is far below an ulp of 1)
    expected = {
        (1000.0, 1000.0): (top, (0.5, 0.5)),
        (-1000.0, -1000.0): (bottom, (0.5, 0.5)),
        (1000.0, -1000.0): (1000.0, (1.0, 0.0)),
        (-1000.0, 1000.0): (1000.0, (0.0, 1.0)),
    }
    for (a, b), (value, slopes) in expected.items():
        for x, y in zip(kinds(a), kinds(b)):
            with no_warnings():
                got, got_slopes = f.value_and_grad(x, y)
            assert same(got, value) and all(map(same, got_slopes, slopes))


def test_float32_survives_a_where_with_constant_branches():
    module = module_of("f(x) = where(x > 0, x, 2*x)\n")
    for point in (np.float32(2.0), np.full(3, -2.0, np.float32)):
        value, (slope,) = module.f_value_and_grad(point)
        assert np.asarray(value).dtype == np.float32
        assert np.asarray(module.f_grad(point)[0]).dtype == np.float32
        assert np.asarray(slope).dtype == np.float32


def test_integer_arrays_give_float64():
    module = module_of("f(x, y) = x^2*y + 1/y\n")
    x, y = np.array([1, 2, 3]), np.int32(2)
    assert module.f(x, y).dtype == np.float64
    assert module.f(x, y).tolist() == [2.5, 8.5, 18.5]
    assert [d.tolist() for d in module.f_grad(x, y)] == [[4, 8, 12], [0.75, 3.75, 8.75]]
    assert module.f_hessian(x, y).dtype == np.float64
    assert module.f_hvp(2, 2, 1, 0) == (4.0, 4.0)


UNARY = (
    "exp log log1p expm1 sqrt sin cos tan asin acos atan sinh cosh tanh abs sigmoid "
    "softplus relu sign"
).split()


@pytest.mark.parametrize("op", UNARY)
def test_nan_propagates_through_every_function(op):
    module = module_of(f"f(x) = {op}(x)\n")
    for point in kinds(NAN):
        with no_warnings():
            value, (slope,) = module.f_value_and_grad(point)
        assert np.isnan(value) and np.isnan(module.f(point))
        # sign' = 0 is the documented convention; every other slope is NaN at NaN
        assert same(slope, 0.0) if op == "sign" else np.isnan(slope)


@pytest.mark.parametrize("body", ["min(x, y)", "max(x, y)", "atan2(x, y)", "x/y"])
@pytest.mark.parametrize("point", [(NAN, 1.0), (1.0, NAN)])
def test_nan_propagates_through_binary_functions(body, point):
    module = module_of(f"f(x, y) = {body}\n")
    for convert in (float, np.float64, lambda v: np.array([v])):
        with no_warnings():
            value, grad = module.f_value_and_grad(*map(convert, point))
        assert np.isnan(value) and np.isnan(grad[1])


@pytest.mark.parametrize(
    "text, value, slope",
    [("f(x) = x + 10^400\n", INF, 1.0), ("f(x) = 0*x + 1/0\n", INF, 0.0)],
)
def test_constant_overflow_never_raises_at_run_time(text, value, slope):
    try:
        module = module_of(text)
    except SymgradError as error:
        assert error.span is not None and error.span.line == 1
        return  # refusing the constant at compile time is a correct answer
    for point in kinds(1.0):
        assert same(module.f(point), value)
        assert same(module.f_grad(point)[0], slope)


# -- CLI and files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "stem",
    [
        "my-model",
        "1st",
        "class",  # an identifier, but a keyword: `import class` fails
    ],
)
def test_module_name_that_is_not_an_identifier_is_warned(tmp_path, capsys, stem):
    source = write(tmp_path / f"{stem}.sg", "f(x) = x^2\n")
    assert main(["compile", str(source)]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and f"'{stem}'" in err
    assert import_path(tmp_path / f"{stem}.py").f(3.0) == 9.0


def test_path_with_a_newline_compiles(tmp_path):
    source = write(tmp_path / "my\nmodel.sg", "f(x) = x^2\n")
    assert main(["compile", str(source)]) == 0
    generated = (tmp_path / "my\nmodel.py").read_text(encoding="utf-8")
    audit_module(generated)
    assert import_path(tmp_path / "my\nmodel.py").f_grad(3.0) == (6.0,)


def test_diagnostic_for_a_path_with_a_newline_stays_one_line(tmp_path, capsys):
    source = write(tmp_path / "bad\nname.sg", "f(x) = xx\n")
    assert main(["compile", str(source)]) == 1
    lines = capsys.readouterr().err.splitlines()
    head = f"{tmp_path}/bad\\nname.sg:1:8: error: unknown name 'xx'"
    assert [line for line in lines if ": error: " in line][0].startswith(head)
    assert lines[-2:] == ["f(x) = xx", "       ^^"]


def test_warning_for_a_path_with_a_newline_stays_one_line(tmp_path, capsys):
    source = write(tmp_path / "bad\nname.sg", "f(x) = x\n")
    assert main(["compile", str(source)]) == 0
    (warning,) = capsys.readouterr().err.splitlines()
    assert warning.startswith("symgrad: warning: ") and "identifier" in warning


def test_broken_pipe_on_stdout(tmp_path):
    lines = [
        f"f{i}(x, y) = x^{i % 5 + 2}*y + sin(x*y)*exp(y/{i + 1})" for i in range(80)
    ]
    write(tmp_path / "big.sg", "\n".join(lines) + "\n")
    script = (
        f"{sys.executable} -m symgrad compile big.sg -o - 2>err.txt"
        " | head -c 10 >head.txt;"
        " echo ${PIPESTATUS[0]} >status.txt"
    )
    environment = dict(os.environ, PYTHONPATH=str(REPO))
    subprocess.run(["bash", "-c", script], cwd=tmp_path, env=environment, timeout=120)
    assert (tmp_path / "head.txt").read_text() == '"""Generat'
    assert int((tmp_path / "status.txt").read_text()) in (0, 141)
    err = (tmp_path / "err.txt").read_text()
    assert "BrokenPipeError" not in err and "Traceback" not in err


@pytest.mark.parametrize(
    "env",
    [
        {"LANG": "C", "LC_ALL": "C"},
        {"LANG": "C", "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"},
    ],
)
def test_c_locale_with_non_ascii_comment_and_error(tmp_path, env):
    write(tmp_path / "ok.sg", "# \u2202f/\u2202x\nf(x) = x^2  # caf\u00e9\n")
    write(tmp_path / "bad.sg", "# \u2202f\nf(x) = x + \u00e9\n")
    good = run_symgrad("compile", "ok.sg", cwd=tmp_path, env=env)
    assert good.returncode == 0, good.stderr
    audit_module((tmp_path / "ok.py").read_text(encoding="utf-8"))
    bad = run_symgrad("compile", "bad.sg", cwd=tmp_path, env=env)
    assert bad.returncode == 1
    assert bad.stderr.startswith(b"bad.sg:2:12: error: non-ASCII identifier")
    assert b"U+00E9" in bad.stderr and b"Traceback" not in bad.stderr


def test_interrupted_write_keeps_the_old_output(tmp_path, monkeypatch, capsys):
    source = write(tmp_path / "poly.sg", "f(x) = x^2\n")
    assert main(["compile", str(source)]) == 0
    before = (tmp_path / "poly.py").read_bytes()
    write(source, "f(x) = x^3\n")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(symgrad.cli.os, "replace", interrupted)
    assert main(["compile", str(source)]) != 0
    assert "Traceback" not in capsys.readouterr().err
    assert (tmp_path / "poly.py").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["poly.py", "poly.sg"]


# -- decorator -------------------------------------------------------------------------


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """A cache directory of this test's own, and no modules remembered."""
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path / "cache"))
    cache.clear_memory()
    yield tmp_path / "cache"
    cache.clear_memory()


def test_several_lambdas_on_one_line(private_cache):
    square, cube = symgrad.compile(lambda x: x**2), symgrad.compile(lambda x: x**3)
    assert (square(2.0), cube(2.0)) == (4.0, 8.0)
    assert (square.grad(2.0), cube.grad(2.0)) == ((4.0,), (12.0,))
    audit_module(square.source)
    audit_module(cube.source)


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("def f(*xs):\n    return xs[0]\n", "*args and **kwargs"),
        ("def f(x, **kw):\n    return x\n", "*args and **kwargs"),
        ("def f(x):\n    yield x\n", "generators"),
        ("async def f(x):\n    return x\n", "async"),
        ("async def f(x):\n    yield x\n", "generators"),
    ],
)
def test_decorator_refuses_untraceable_signatures(private_cache, source, fragment):
    namespace: dict = {}
    exec(source, namespace)
    with pytest.raises(TracingError) as info:
        symgrad.compile(namespace["f"])
    assert fragment in info.value.message and isinstance(info.value, SymgradError)


def _no_parameters():
    return 3.0


def _positional_only(x, /, y):
    return x * y


@pytest.mark.parametrize(
    "fn, args, expected",
    [
        (_no_parameters, (), 3.0),
        (_positional_only, (2.0, 5.0), 10.0),
        (math.sin, (0.5,), math.sin(0.5)),
    ],
)
def test_decorator_odd_callables(private_cache, fn, args, expected):
    try:
        compiled = symgrad.compile(fn)
    except TracingError:
        return  # refused with a message naming the problem: right too
    assert compiled(*args) == expected


def test_corrupt_code_file_is_detected(private_cache):
    text = '"""doc"""\n\n\ndef f(x):\n    """f"""\n    return 2.0 * x\n'
    module, _ = cache.cached_module("hostile", "f", lambda: text)
    assert module.f(1.0) == 2.0
    code_file = private_cache / "sg_hostile.code"
    two, three = struct.pack("<d", 2.0), struct.pack("<d", 3.0)
    assert code_file.read_bytes().count(two) == 1
    code_file.write_bytes(code_file.read_bytes().replace(two, three))
    cache.clear_memory()
    module, _ = cache.cached_module("hostile", "f", lambda: text)
    assert module.f(1.0) == 2.0


# -- limits ----------------------------------------------------------------------------

BOMB_SECONDS = 15.0
# Helpers are inlined and each line calls the previous one twice, so every line
# doubles the graph: g40 would have about 2^41 nodes.
HELPER_BOMB = "g0(x) = sin(x) + x\n" + "".join(
    f"g{i}(x) = g{i - 1}(g{i - 1}(x))\n" for i in range(1, 41)
)
DIFF_BOMB = (
    "import sys, symgrad\n"
    "try:\n"
    "    print(repr(symgrad.diff('sin(sin(x))', 'x', order=40)(0.5)))\n"
    "except symgrad.SymgradError as error:\n"
    "    print(error.message)\n"
    "    sys.exit(1)\n"
)


class _Bomb:
    """A subprocess given BOMB_SECONDS to end; started at once, awaited later."""

    def __init__(self, args: list[str], cwd: Path):
        self.start = time.monotonic()
        environment = dict(os.environ, PYTHONPATH=str(REPO))
        self.process = subprocess.Popen(
            args, cwd=cwd, env=environment, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def outcome(self) -> tuple[int, str] | None:
        """(exit code, stdout + stderr), or None if it ran out of time."""
        left = BOMB_SECONDS - (time.monotonic() - self.start)
        try:
            out, err = self.process.communicate(timeout=max(left, 0.1))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            return None
        return self.process.returncode, out + err


def _compile_command(name: str) -> list[str]:
    """`python -m symgrad compile name`."""
    return [sys.executable, "-m", "symgrad", "compile", name]


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    """Inputs that explode, run side by side in subprocesses (one wait for all)."""
    folder = tmp_path_factory.mktemp("bombs")
    write(folder / "helpers.sg", HELPER_BOMB)
    write(folder / "name.sg", "f(" + "a" * 500_000 + ") = 1\n")
    running = {
        "helpers": _Bomb(_compile_command("helpers.sg"), folder),
        "name": _Bomb(_compile_command("name.sg"), folder),
        "diff": _Bomb([sys.executable, "-c", DIFF_BOMB], folder),
    }
    yield folder, running
    for bomb in running.values():
        if bomb.process.poll() is None:
            bomb.process.kill()
            bomb.process.communicate()


def _limit_exceeded(bombs, name: str, output: str | None = None) -> None:
    """The bomb ended in time with exit 1, 'limit exceeded' and no output file."""
    folder, running = bombs
    outcome = running[name].outcome()
    assert outcome is not None, f"no answer within {BOMB_SECONDS} s"
    status, text = outcome
    assert status == 1 and "limit exceeded" in text and "Traceback" not in text
    assert output is None or not (folder / output).exists()


def test_node_count_limit(bombs):
    _limit_exceeded(bombs, "helpers", "helpers.py")


def test_derivative_order_below_the_limit_is_bounded(bombs):
    # Order 40 is under MAX_ORDER = 64; repeating grad would build 2^40-ish nodes,
    # Taylor mode builds order^2: it ends in time, with mpmath's value.
    folder, running = bombs
    outcome = running["diff"].outcome()
    assert outcome is not None, f"no answer within {BOMB_SECONDS} s"
    status, text = outcome
    assert status == 0, text
    with mpmath.workdps(60):
        series = mpmath.taylor(lambda t: mpmath.sin(mpmath.sin(t)), mpmath.mpf(0.5), 40)
        expected = float(series[40] * mpmath.factorial(40))
    assert float(text) == pytest.approx(expected, rel=1e-9)


def test_generated_size_limit(bombs):
    # A 500 KB parameter name would be written 39 times (a 19.5 MB module): the
    # lexer's identifier limit refuses it first.
    _limit_exceeded(bombs, "name", "name.py")


@pytest.mark.parametrize(
    "text, needle", [("f(x) = x + 9^9^9\n", "9^9^9"), ("f(x) = x^(10^9)\n", "10^9")]
)
def test_exponent_size_limit(text, needle):
    with pytest.raises(LimitError) as info:
        compile_source(text, "t.sg")
    assert "limit exceeded" in info.value.message
    line, col = locate(text, needle)
    assert info.value.span.line == line and info.value.span.col <= col + len(needle)


def test_derivative_order_limit_message():
    with pytest.raises(LimitError) as info:
        symgrad.diff("sin(x)", "x", order=65)
    assert "limit exceeded" in info.value.message and "64" in info.value.message


def test_deep_chain_through_the_whole_pipeline():
    depth = 2000  # far deeper than Python's recursion limit allows a recursive walk
    text = "u0 = sin(x)\n" + "".join(f"u{i} = sin(u{i - 1})\n" for i in range(1, depth))
    module = module_of(text + f"f(x) = u{depth - 1}\n")
    value, (slope,) = module.f_value_and_grad(0.5)
    x, expected = 0.5, 1.0
    for _ in range(depth):
        x, expected = math.sin(x), expected * math.cos(x)
    assert value == pytest.approx(x, rel=1e-13)
    assert slope == pytest.approx(expected, rel=1e-10)
    assert np.shape(module.f_hessian(np.array([0.5, 0.6]))) == (2, 1, 1)


# ---------------------------------------------------------------- arrays (issue #11)


def _array_module(text: str):
    return load(compile_source(text, "a.sg"), "a", "<a>")


def test_a_size_bound_to_two_sizes_at_compile_time_and_at_the_call(tmp_path, capsys):
    source = tmp_path / "two.sg"
    source.write_text("h(a[n], b[n]) = dot(a, b)\nf(x[m], y[k]) = h(x, y)\n")
    assert main(["compile", str(source)]) == 1
    err = capsys.readouterr().err
    assert "size n would be both m and k" in err and "Traceback" not in err
    assert not source.with_suffix(".py").exists()
    module = _array_module("f(x[n], y[n]) = dot(x, y)\n")
    with pytest.raises(
        ValueError, match=r"y: axis 0 has size 2, but n is 3 \(from x axis 0\)"
    ):
        module.f_grad(np.ones(3), np.ones(2))


@pytest.mark.parametrize(
    "text, message",
    [
        ("f(x[n]) = sum(x, 1)\n", "axis 1 is out of range"),
        ("f(x[n]; A[n, n, n]) = sum(A @ x)\n", "@ needs vectors or matrices"),
        ("f(x[3]) = sum(x[2:1])\n", "is empty"),
        ("f(x[3]) = x[5]\n", "index 5 is out of range for axis 0 of size 3"),
        ("f(x[n], y[m]) = sum(x + y)\n", r"\(n vs m\)"),
    ],
)
def test_array_shape_errors_through_the_cli(tmp_path, capsys, text, message):
    source = tmp_path / "bad.sg"
    source.write_text(text)
    assert main(["compile", str(source)]) == 1
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert err.startswith(f"{source}:1:") and "^" in err and "Traceback" not in err
    assert not source.with_suffix(".py").exists()


def test_a_huge_declared_size_compiles_and_is_checked_at_the_call():
    start = time.perf_counter()
    module = _array_module("f(x[1000000000000]) = sum(x^2)\n")
    assert time.perf_counter() - start < 5.0  # the size is never allocated
    with pytest.raises(
        ValueError, match="x: axis 0 has size 3, expected 1000000000000"
    ):
        module.f_grad(np.ones(3))


def test_call_time_shape_errors_are_value_errors_naming_the_parameter():
    module = _array_module("f(x[n]) = x[0] * sum(x)\n")
    with pytest.raises(
        ValueError, match=r"the subscript \[0\] needs n >= 1, but n is 0"
    ):
        module.f_grad(np.zeros(0))
    with pytest.raises(
        ValueError,
        match=r"x: expected 1 dimension\(s\) \('n',\), got an array of shape \(2, 2\)",
    ):
        module.f(np.ones((2, 2)))
    assert module.f_grad(np.array([2.0]))[0].tolist() == [4.0]


def test_nan_and_inf_inside_reductions_give_ieee_answers():
    module = _array_module(
        "s(x[n]) = sum(x)\nl(x[n]) = logsumexp(x)\nm(x[n]) = mean(softmax(x) * x)\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning leaks out either
        assert math.isnan(module.s(np.array([1.0, np.nan])))
        assert module.l(np.array([-np.inf, 0.0])) == 0.0
        assert module.l(np.array([-np.inf, -np.inf])) == -np.inf
        assert module.l(np.array([np.inf, 0.0])) == np.inf
        assert module.l(np.array([1000.0, 1000.0])) == pytest.approx(1000 + math.log(2))
        (g,) = module.l_grad(np.array([-np.inf, 0.0]))
        assert g.tolist() == [0.0, 1.0]
        (g,) = module.l_grad(np.array([1000.0, 1000.0]))
        assert g.tolist() == [0.5, 0.5]
        assert math.isnan(module.m(np.array([np.nan, 1.0])))
