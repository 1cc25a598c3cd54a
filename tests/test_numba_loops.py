"""The loops codegen/numba_loops.py fuses: paddings peeled, costly nodes stored, sums.

Each generated function is checked against the numpy target's, and the loop
structure the cost model promises is checked in the text.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.numba_compare import SAMPLES, numba_module, numpy_module
from tests.test_numba_target import _agree
from tests.test_properties import _grow
from tests.test_numba_target import numba_cache  # noqa: F401 (its fixture, used here)

pytest.importorskip("numba")


FUSED = """
f(x[n], a; y[n]) = sum(a*exp(x) - y*x) / n + x @ y
h(x[n]) = sum(sin(exp(x))[1:] * sin(exp(x))[:-1])
k(x[n], a) = sum(softplus(a*x[1:]) - sigmoid(x[:-1])) + a^2
"""


def test_scalars_dot_products_and_stored_nodes_in_fused_loops(tmp_path: Path):
    fused = numba_module(FUSED, tmp_path, "fused")
    plain = numpy_module(FUSED, "fused")
    text = Path(fused.__file__).read_text()
    # sin(exp(x)) is needed at two offsets: stored by a loop of its own, read back
    h_grad = text[text.index("def _h_grad_loops") :].split("\n\n\n")[0]
    assert h_grad.count("np.empty") == 2 and "saved[i + 1]" in h_grad
    # a dot product is a sum in the loop; the scalar parameter's partial too
    assert "da += " in text[text.index("def _f_grad_loops") :].split("\n\n\n")[0]
    rng = np.random.default_rng(5)
    x, y, a = rng.uniform(-1, 1, 6), rng.uniform(-1, 1, 6), 0.7
    for name in plain.__all__:
        args = {"f": (x, a, y), "h": (x,), "k": (x, a)}[name.split("_")[0]]
        if name.endswith(("_hvp", "_jvp")):
            args = args + tuple(v * 0.5 for v in args if np.ndim(v) or name[0] != "f")
        if name.startswith("f_") and name.endswith(("_hvp", "_jvp")):
            args = (x, a, y, x * 0.5, 0.25)
        _agree(getattr(fused, name)(*args), getattr(plain, name)(*args))


def test_matrix_outputs_keep_the_numpy_code_and_products_are_fused(tmp_path: Path):
    text = "q(x[n]; A[n, n]) = x @ (A @ x) / 2\n"
    fused = numba_module(text, tmp_path, "matrices")
    plain = numpy_module(text, "matrices")
    source = Path(fused.__file__).read_text()
    doc = " ".join(source[: source.index('"""', 3)].split())
    # the Hessian is a matrix: numpy code; the gradient a BLAS call in the loops
    assert "(not fused into loops): q_hessian, q_hessian_blocks." in doc
    assert "def _q_grad_loops" in source and "def _q_hessian_loops" not in source
    rng = np.random.default_rng(8)
    x, A = rng.uniform(-1, 1, 4), rng.uniform(-1, 1, (4, 4))
    _agree(fused.q_grad(x, A), plain.q_grad(x, A))


def test_a_single_loop_when_nothing_is_padded(tmp_path: Path):
    text = "s(x[n]) = sum(exp(x) * x)\n"
    fused = numba_module(text, tmp_path, "plain")
    plain = numpy_module(text, "plain")
    source = Path(fused.__file__).read_text()
    grad = source[source.index("def _s_grad_loops") :].split("\n\n\n")[0]
    assert grad.count("for i in") == 1 and "_edges" not in grad
    x = np.linspace(-1.0, 1.0, 9)
    _agree(fused.s_grad(x), plain.s_grad(x))
    _agree(fused.s_value_and_grad(x), plain.s_value_and_grad(x))


# Random vector expressions: slices of one vector and a scalar parameter through
# every op of the scalar property tests; the gradient's paddings, the HVP's and the
# JVP's sums all go through the fuser.
VECTOR_LEAVES = st.sampled_from(["x[1:]", "x[:-1]", "a", "0.5", "x[1:]", "x[:-1]"])
VECTOR_EXPRESSIONS = st.recursive(VECTOR_LEAVES, _grow, max_leaves=5)


@settings(max_examples=10, deadline=None)
@given(VECTOR_EXPRESSIONS, st.integers(2, 6), st.floats(-1.5, 1.5))
def test_random_vector_expressions_agree_with_the_numpy_target(body, n, a):
    text = f"f(x[n], a) = sum(x[1:] * ({body}))\n"
    directory = Path(os.environ["NUMBA_CACHE_DIR"])
    fused = numba_module(text, directory, f"vec_{abs(hash(body))}")
    plain = numpy_module(text, "vec")
    source = Path(fused.__file__).read_text()
    assert "def _f_grad_loops" in source  # fused, not kept as numpy code
    x = np.random.default_rng(n).uniform(-1.0, 1.0, n)
    with np.errstate(all="ignore"):
        for name, args in [
            ("f_value_and_grad", (x, a)),
            ("f_hvp", (x, a, x[::-1].copy(), 0.5)),
            ("f_jvp", (x, a, x * 0.5, 0.25)),
        ]:
            _agree(getattr(fused, name)(*args), getattr(plain, name)(*args))


def test_a_parameter_as_an_output_is_a_copy(tmp_path: Path):
    text = "g(x[n], y[n]) = sum(x * y)\n"
    fused = numba_module(text, tmp_path, "copies")
    x, y = np.arange(3.0), np.arange(3.0, 6.0)
    dx, dy = fused.g_grad(x, y)
    np.testing.assert_array_equal(dx, y)
    np.testing.assert_array_equal(dy, x)
    assert dx is not y and not np.shares_memory(dx, y)


def test_matrix_vector_products_stay_blas_inside_the_loops(tmp_path: Path):
    text = (SAMPLES / "logistic_regression.sg").read_text()
    fused = numba_module(text, tmp_path, "logreg")
    plain = numpy_module(text, "logreg")
    source = Path(fused.__file__).read_text()
    loops = source[source.index("def _loss_grad_loops") :].split("\n\n\n")[0]
    assert "X @ w" in loops and "X.T @ dz" in loops  # BLAS, not a loop
    assert "for i in numba.prange(n):" in loops
    rng = np.random.default_rng(9)
    w, X, y = rng.normal(size=3), rng.normal(size=(50, 3)), rng.integers(0, 2, 50)
    Xf = np.asfortranarray(X)  # any layout in: the loops get a contiguous copy
    for args in [(w, 0.3, X, y * 1.0), (w, 0.3, Xf, y * 1.0)]:
        _agree(fused.loss_value_and_grad(*args), plain.loss_value_and_grad(*args))
        _agree(fused.loss_hvp(*args, w, 0.5), plain.loss_hvp(*args, w, 0.5))
