"""symgrad/annotations.py: Array[...] and Data[...] declare shapes and roles."""

from __future__ import annotations

import numpy as np
import pytest

import symgrad
from symgrad import Array, Data
from symgrad.annotations import Declared, declared
from symgrad.trace import TracingError, signature_of

# every test here compiles through a cache of its own (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("private_cache")


def test_subscripts_declare_shapes_and_roles():
    assert Array["n", "d"] == Declared(("n", "d"), False)
    assert Data["n"] == Declared(("n",), True)
    assert Array["h", 1] == Declared(("h", 1), False)
    assert repr(Array) == "symgrad.Array"


@pytest.mark.parametrize("dims", [(0,), ("n d",), (1.5,), (True,)])
def test_a_size_is_a_name_or_a_whole_number(dims):
    with pytest.raises(TracingError, match="a size is a name"):
        Array[dims]


def test_annotation_text_is_read_without_evaluation():
    # this module has `from __future__ import annotations`: the annotations are text
    def f(
        w: Array["d"],  # noqa: F821
        X: symgrad.Data["n", "d"],  # noqa: F821
        b: float,
        k: Data,
        q: "os.system('x')",  # noqa: F821 (text that is no annotation of ours)
    ):
        return 0.0

    found = declared(f, signature_of(f))
    assert found == {
        "w": Declared(("d",), False),
        "X": Declared(("n", "d"), True),
        "b": Declared((), False),
        "k": Declared(None, True),
    }


def test_a_size_named_like_a_parameter_is_an_error():
    def f(n: Array["n"]):  # noqa: F821
        return np.sum(n)

    with pytest.raises(TracingError, match="size name 'n' is also a parameter"):
        symgrad.compile(f)


def test_data_named_in_wrt_is_an_error():
    def f(w: Array["d"], X: Data["n", "d"]):  # noqa: F821
        return np.sum(X @ w)

    with pytest.raises(TracingError, match="annotated as data"):
        symgrad.compile(f, wrt=("w", "X"))


def test_fully_annotated_functions_compile_at_decoration():
    def f(w: Array["d"], X: Data["n", "d"], s: float):  # noqa: F821
        return s * np.sum((X @ w) ** 2)

    compiled = symgrad.compile(f)
    assert compiled.function.params == ("w", "s")
    assert dict(compiled.function.shapes) == {"w": ("d",), "X": ("n", "d")}
    assert "def f_grad(w, X, s):" in compiled.source
    w, X = np.array([1.0, 2.0]), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    dw, ds = compiled.grad(w, X, 3.0)
    np.testing.assert_allclose(dw, 3.0 * 2 * X.T @ (X @ w), rtol=1e-14)
    assert ds == pytest.approx(np.sum((X @ w) ** 2))
