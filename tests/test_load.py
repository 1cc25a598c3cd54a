"""codegen/load.py: generated text becomes a module whose tracebacks show its lines."""

from __future__ import annotations

import traceback

from codegen.load import load


def test_load_runs_and_registers_source_for_tracebacks():
    text = "def f(x):\n    return 1.0 / x\n\n\ndef g(x):\n    raise ValueError(x)\n"
    module = load(text, "gen", "<symgrad:gen>")
    assert module.f(4.0) == 0.25
    try:
        module.g(1)
    except ValueError:
        rendered = traceback.format_exc()
    assert "raise ValueError(x)" in rendered  # linecache knows the generated lines
    assert module.__name__ == "gen"
