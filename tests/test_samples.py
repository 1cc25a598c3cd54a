"""samples/ as golden files: recompiling reproduces each .py byte for byte, and runs."""

from __future__ import annotations

import ast
from pathlib import Path

import black
import numpy as np
import pytest

from symgrad.api import compile_file
from tests.conftest import audit_module, import_path

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SOURCES = sorted(SAMPLES.glob("*.sg"))


def test_there_are_samples():
    names = {p.stem for p in SOURCES}
    assert {
        "graph",
        "poly",
        "chain",
        "tanh",
        "activations",
        "rosenbrock",
        "logistic",
    } <= names


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_golden_module_is_current(source: Path):
    golden = source.with_suffix(".py")
    assert golden.exists(), f"{golden} missing: run symgrad compile {source}"
    text = golden.read_text(encoding="utf-8")
    assert compile_file(source) == text
    audit_module(text)
    assert black.format_str(text, mode=black.Mode()) == text


# Samples of array functions have their own oracles in tests/test_array_samples.py.
SCALAR_SOURCES = [
    p for p in SOURCES if "_arrays(" not in p.with_suffix(".py").read_text()
]


@pytest.mark.parametrize("source", SCALAR_SOURCES, ids=lambda p: p.stem)
def test_golden_module_gradients_match_finite_differences(source: Path):
    module = import_path(source.with_suffix(".py"))
    rng = np.random.default_rng(0)
    for name in module.__all__:
        if not name.endswith("_grad") or name.endswith("value_and_grad"):
            continue
        base = name[: -len("_grad")]
        f, grad = getattr(module, base), getattr(module, name)
        nargs = f.__code__.co_argcount
        x = rng.uniform(0.3, 1.5, size=nargs)
        g = np.array(grad(*x))
        for i in range(len(g)):
            h = 1e-6
            up, down = x.copy(), x.copy()
            up[i] += h
            down[i] -= h
            fd = (f(*up) - f(*down)) / (2 * h)
            assert np.isclose(g[i], fd, rtol=1e-6, atol=1e-8), (name, i)


def test_rosenbrock_hessian_at_minimum():
    module = import_path(SAMPLES / "rosenbrock.py")
    assert np.allclose(module.rosen_hessian(1.0, 1.0), [[802, -400], [-400, 200]])
    assert np.allclose(module.rosen_grad(1.0, 1.0), [0, 0])


def test_rosen4_hessian_is_tridiagonal_in_code():
    text = (SAMPLES / "rosenbrock.py").read_text()
    body = text[text.index("def _rosen4_hessian_body") :]
    body = body[: body.index("\n\n\ndef ")]  # one body: floats and arrays alike
    for i, j in [(0, 2), (0, 3), (1, 3)]:
        assert f"hessian[{i}, {j}]" not in body  # structural zeros: no code
    assert "hessian[0, 1]" in body and "hessian[2, 3]" in body
    assert "def _rosen4_hessian_float" not in text  # no calls: no float twin


@pytest.mark.parametrize("source", SCALAR_SOURCES, ids=lambda p: p.stem)
def test_golden_jvp_is_the_directional_derivative(source: Path):
    # forward mode (dual numbers) against central differences along the tangent
    module = import_path(source.with_suffix(".py"))
    rng = np.random.default_rng(1)
    for name in module.__all__:
        if not name.endswith("_jvp"):
            continue
        f, jvp = getattr(module, name[: -len("_jvp")]), getattr(module, name)
        n = jvp.__code__.co_argcount - f.__code__.co_argcount  # differentiated
        x = rng.uniform(0.3, 1.5, size=f.__code__.co_argcount)
        t = np.zeros_like(x)
        t[:n] = rng.normal(size=n)
        value, directional = jvp(*x, *t[:n])
        assert value == f(*x)
        h = 1e-6
        fd = (f(*(x + h * t)) - f(*(x - h * t))) / (2 * h)
        assert np.isclose(directional, fd, rtol=1e-6, atol=1e-8), name


def test_each_statement_is_written_once_in_arithmetic_samples():
    # poly, graph and rosenbrock have no calls: one body serves floats and arrays,
    # and a public function computes nothing itself: every assignment in it is a
    # call (np.result_type, np.asarray, np.broadcast(...).shape, the body)
    for name in ("poly", "graph", "rosenbrock"):
        text = (SAMPLES / f"{name}.py").read_text()
        assert "import math" not in text and "_float(" not in text
        tree = ast.parse(text)
        public = [
            f
            for f in tree.body
            if isinstance(f, ast.FunctionDef)
            and f.name
            in ast.literal_eval(
                next(a.value for a in tree.body if isinstance(a, ast.Assign))
            )
        ]
        assert len(public) >= 5, name
        for function in public:
            for node in ast.walk(function):
                if isinstance(node, ast.Assign):
                    value = node.value
                    if isinstance(value, ast.Attribute):  # np.broadcast(...).shape
                        value = value.value
                    assert isinstance(value, ast.Call), ast.unparse(node)


def test_module_docstring_has_no_function_listing():
    text = (SAMPLES / "activations.py").read_text()
    doc = text[: text.index('"""', 3)]
    assert "Functions:" not in doc and max(map(len, doc.split("\n"))) <= 88
