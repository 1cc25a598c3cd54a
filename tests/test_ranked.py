"""symgrad/ranked.py: array shapes from the first call, one build per ranks."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import symgrad
from symgrad.trace import TracingError

# every test here compiles through a cache of its own (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("private_cache")


def ridge(w, X, y, lam=0.5):
    r = X @ w - y
    return r @ r / 2 + lam * np.sum(w**2) / 2


def ridge_grad(w, X, y, lam=0.5):
    """The gradient by hand: X^T (X w - y) + lam w."""
    return X.T @ (X @ w - y) + lam * w


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    return rng.normal(size=3), rng.normal(size=(8, 3)), rng.normal(size=8)


def test_views_before_the_first_call_say_what_fixes_the_shapes():
    f = symgrad.compile(ridge, wrt=("w",))
    assert "shapes at first call" in repr(f) and "shapes at first call" in repr(f.grad)
    with pytest.raises(TracingError, match="call it once"):
        f.source
    assert not hasattr(f.grad, "_repr_latex_")  # a notebook shows the repr


def test_calls_bind_keywords_and_defaults(data):
    w, X, y = data
    f = symgrad.compile(ridge, wrt=("w",))
    assert str(inspect.signature(f)) == "(w, X, y, lam=0.5)"
    assert f.__name__ == "ridge" and f.__wrapped__ is ridge
    assert f(w, X, y) == pytest.approx(ridge(w, X, y), rel=1e-14)
    assert f(w, X=X, y=y, lam=2.0) == pytest.approx(ridge(w, X, y, 2.0), rel=1e-14)
    (dw,) = f.grad(w, X, y, lam=2.0)
    np.testing.assert_allclose(dw, ridge_grad(w, X, y, 2.0), rtol=1e-13)
    value, (dw,) = f.value_and_grad(w, X, y)
    assert value == pytest.approx(ridge(w, X, y), rel=1e-14)
    np.testing.assert_allclose(dw, ridge_grad(w, X, y), rtol=1e-13)


def test_hessian_and_hvp_at_a_point(data):
    w, X, y = data
    f = symgrad.compile(ridge, wrt=("w",))
    expected = X.T @ X + 0.5 * np.eye(3)
    np.testing.assert_allclose(f.hessian(w, X, y), expected, rtol=1e-13)
    v = np.array([1.0, -2.0, 0.5])
    (hv,) = f.hvp(w, X, y, 0.5, v)
    np.testing.assert_allclose(hv, expected @ v, rtol=1e-13)
    assert f.hessian.definiteness(w, X, y) is not None
    assert np.all(f.hessian.eigenvalues(w, X, y) > 0)


def test_other_sizes_reuse_the_build_other_ranks_make_another(data):
    w, X, y = data
    f = symgrad.compile(ridge, wrt=("w",))
    f(w, X, y)
    first = f.source
    rng = np.random.default_rng(1)
    w5, X5, y5 = rng.normal(size=5), rng.normal(size=(20, 5)), rng.normal(size=20)
    np.testing.assert_allclose(f.grad(w5, X5, y5)[0], ridge_grad(w5, X5, y5), 1e-13)
    assert len(f._builds) == 1 and f.source == first


def test_other_ranks_make_another_build():
    f = symgrad.compile(lambda x: np.sum(x**2) / 2)
    vector, matrix = np.arange(3.0), np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(f.grad(vector)[0], vector)
    np.testing.assert_array_equal(f.grad(matrix)[0], matrix)
    assert f(2.0) == 2.0  # a scalar: rank 0, a third build
    assert len(f._builds) == 3


def test_sizes_are_named_by_parameter_and_axis_and_merged(data):
    w, X, y = data
    f = symgrad.compile(ridge, wrt=("w",))
    f(w, X, y)
    # X @ w forces X's columns to be w's size: w comes first, so it keeps its name
    assert dict(f.function.shapes) == {
        "w": ("w_0",),
        "X": ("X_0", "w_0"),
        "y": ("X_0",),
    }
    with pytest.raises(ValueError, match="w_0"):  # the generated code checks sizes
        f(np.ones(4), X, y)


def test_an_axis_of_size_one_is_kept_as_one():
    @symgrad.compile(wrt=("b",))
    def f(b, Z):
        return np.sum(np.tanh(Z + b))

    rng = np.random.default_rng(3)
    b, Z = rng.normal(size=(4, 1)), rng.normal(size=(4, 6))
    (db,) = f.grad(b, Z)
    expected = np.sum(1 - np.tanh(Z + b) ** 2, axis=1, keepdims=True)
    np.testing.assert_allclose(db, expected, rtol=1e-13)
    assert dict(f.function.shapes) == {"b": ("b_0", 1), "Z": ("b_0", "Z_1")}


def test_a_wrong_size_in_the_first_call_names_the_line():
    @symgrad.compile
    def f(w, X):
        return np.sum(X @ w)

    with pytest.raises(symgrad.SymgradError) as info:
        f(np.ones(4), np.ones((5, 3)))
    assert "3 and 4" in info.value.message or "4 and 3" in info.value.message
    assert "return np.sum(X @ w)" in info.value.format()
