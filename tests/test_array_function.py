"""codegen/array_function.py: statements laid out as black would, without black."""

from __future__ import annotations

import black
import pytest

from codegen.array_function import _statement

LONG = [
    (
        "t5",
        "_band_times(vx, (200.0, 1, 1, n - 1), (t2, 1, 0, n - 1), (t3, 0, 0, n - 1), (t2, 0, 1, n - 1))",
    ),
    (
        "t1",
        "np.tensordot(np.transpose(first_long_name, (1, 0, 2)), second_long_name, axes=(1, 0))",
    ),
    ("t2", "short(a, b)"),
    (
        "t3",
        "x[1:] * y[:-1] + some_rather_long_name * another_rather_long_name - third_long_name",
    ),
]


@pytest.mark.parametrize("target, text", LONG)
def test_a_statement_is_laid_out_as_black_lays_it_out(target: str, text: str) -> None:
    lines = _statement("        ", target, text)
    source = "def f():\n    with a:\n" + "\n".join(lines) + "\n"
    if all(len(line) <= 88 for line in lines):
        assert black.format_str(source, mode=black.Mode()) == source
    else:  # no call to split at its arguments: one line, and black is the fallback
        assert lines == [f"        {target} = {text}"] and "(" not in text.split()[0]
