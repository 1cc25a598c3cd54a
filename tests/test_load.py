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


# ---------------------------------------------------------------- deferred bodies


def _module_text(n: int = 6) -> str:
    """A generated module with a body of every kind (Rosenbrock in n variables)."""
    from benchmarks.workloads import rosenbrock
    from symgrad.api import compile_source

    return compile_source(rosenbrock(n), "defer.sg")


def _calls(module, n: int = 6) -> list:
    """Every generated function at one point (and direction), as floats."""
    import numpy as np

    point = [0.3 + 0.17 * k for k in range(n)]
    direction = [1.0 - 0.05 * k for k in range(n)]
    out = [
        module.rosen(*point),
        module.rosen_grad(*point),
        module.rosen_value_and_grad(*point),
        module.rosen_hessian(*point),
        module.rosen_hvp(*point, *direction),
        module.rosen_jvp(*point, *direction),
    ]
    return [np.asarray(x, dtype=object).tolist() for x in out]


def test_deferred_bodies_give_the_eager_modules_results_bit_for_bit() -> None:
    text = _module_text()
    eager = load(text, "eager", "<defer:eager>", defer_chars=10**12)
    lazy = load(text, "lazy", "<defer:lazy>", defer_chars=0)
    assert "__deferred__" not in vars(eager)
    assert set(vars(lazy)["__deferred__"]) == {
        f"_rosen{kind}_body"
        for kind in ("", "_grad", "_value_and_grad", "_hessian", "_hvp", "_jvp")
    }
    assert _calls(lazy) == _calls(eager)
    assert _calls(lazy) == _calls(eager)  # again, through the compiled bodies


def test_a_deferred_body_is_compiled_once_and_keeps_its_lines() -> None:
    import inspect

    text = _module_text()
    lines = text.splitlines()
    lazy = load(text, "lazy_lines", "<defer:lines>", defer_chars=0)
    eager = load(text, "eager_lines", "<defer:eager_lines>", defer_chars=10**12)
    stand_in = lazy._rosen_grad_body
    assert stand_in.__code__.co_varnames == ("args",)
    # its line is the body's: inspect shows the generated statements already
    assert inspect.getsource(stand_in) == inspect.getsource(eager._rosen_grad_body)
    lazy.rosen_grad(*[0.5] * 6)
    real = lazy._rosen_grad_body
    assert real is not stand_in and real.__code__.co_argcount == 6
    lazy.rosen_grad(*[0.5] * 6)
    assert lazy._rosen_grad_body is real  # not compiled again
    for name, value in vars(eager).items():  # every definition on its own line
        if inspect.isfunction(value) and not name.endswith("_body"):
            line = value.__code__.co_firstlineno
            assert vars(lazy)[name].__code__.co_firstlineno == line
            assert lines[line - 1].startswith(f"def {name}(")
    assert (
        real.__code__.co_firstlineno == eager._rosen_grad_body.__code__.co_firstlineno
    )


def test_threads_calling_a_deferred_body_first_all_get_its_result() -> None:
    import threading

    text = _module_text()
    lazy = load(text, "lazy_threads", "<defer:threads>", defer_chars=0)
    expected = load(text, "eager_threads", "<defer:eager_threads>", 10**12)
    point = [0.25 * k for k in range(6)]
    results: list = [None] * 8

    def first_call(k: int) -> None:
        results[k] = lazy.rosen_hessian(*point).tolist()

    threads = [threading.Thread(target=first_call, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected.rosen_hessian(*point).tolist()] * 8


def test_small_bodies_are_compiled_at_load() -> None:
    module = load(_module_text(), "small", "<defer:small>")  # the default threshold
    assert "__deferred__" not in vars(module)
    assert module._rosen_grad_body.__code__.co_argcount == 6
