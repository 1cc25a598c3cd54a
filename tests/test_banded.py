"""Banded Hessians read off Hessian-vector products: diagonals against dense references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import rosen_hess

from codegen.load import load
from symgrad import arrays
from symgrad import derivatives as diff
from symgrad.api import compile_source
from symgrad.banded import as_padded_sums, band_product, banded, diagonals
from symgrad.evaluate import evaluate
from symgrad.graph import Node, toposort, var
from symgrad.simplify import call, mul, sub

RNG = np.random.default_rng(5)
x = var("x", ("n",))
head = arrays.index(x, (slice(None, -1),))
tail = arrays.index(x, (slice(1, None),))


def _hvp(f: Node) -> tuple[Node, Node]:
    """(H v, v) for a scalar f of x, as the generated code's HVP is built."""
    v = var("v", ("n",))
    (hv,) = diff.hvp(f, [x], [v])
    return hv, v


def _dense_hessian(f: Node, at: np.ndarray) -> np.ndarray:
    """Column k of H is H e_k, evaluated from the same graph's HVP (not the band)."""
    hv, v = _hvp(f)
    n = at.size
    cols = [evaluate([hv], {"x": at, "v": np.eye(n)[k]}, {"n": n})[0] for k in range(n)]
    return np.stack(cols, axis=1)


# fmt: off
BANDED = [
    ("squares",    lambda: arrays.reduce_sum(mul(x, x)), {0}),
    ("sin",        lambda: arrays.reduce_sum(call("sin", x)), {0}),
    ("neighbours", lambda: arrays.reduce_sum(mul(head, tail)), {1, -1}),
    ("rosenbrock", lambda: arrays.reduce_sum(mul(sub(tail, mul(head, head)), sub(tail, mul(head, head)))), {0, 1, -1}),
]
NOT_BANDED = [
    ("square_of_sum", lambda: mul(arrays.reduce_sum(x), arrays.reduce_sum(x))),
    ("quadratic",     lambda: arrays.dot(x, arrays.matmul(var("A", ("n", "n")), x))),
]
# fmt: on


@pytest.mark.parametrize("name, make_f, offsets", BANDED, ids=lambda c: str(c))
def test_diagonals_assemble_the_dense_hessian(name, make_f, offsets) -> None:
    f = make_f()
    hv, v = _hvp(f)
    band = diagonals(hv, v)
    assert band is not None and set(band) == offsets
    at = RNG.uniform(-2.0, 2.0, 6)
    (matrix,) = evaluate([banded(band)], {"x": at}, {"n": 6})
    np.testing.assert_allclose(matrix, _dense_hessian(f, at), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name, make_f", NOT_BANDED, ids=lambda c: str(c))
def test_products_through_a_sum_or_a_matmul_are_no_band(name, make_f) -> None:
    hv, v = _hvp(make_f())
    assert diagonals(hv, v) is None


ROSEN = "rosen(x[n]) = sum(100*(x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)\n"


def test_generated_rosenbrock_hessian_is_scipys_and_built_from_diagonals() -> None:
    source = compile_source(ROSEN, "rosen.sg")
    code = source.split("def rosen_hessian(")[1].split("\ndef ")[0]
    assert "_banded(" in code and "np.eye" not in code  # O(n): no identity slices
    module = load(source, "rosen", "rosen.sg")
    for n in (2, 3, 9):
        at = RNG.uniform(-2.0, 2.0, n)
        np.testing.assert_allclose(
            module.rosen_hessian(at), rosen_hess(at), rtol=1e-14, atol=1e-12
        )


def test_banded_helper_places_each_offset_and_the_hessian_is_symmetric() -> None:
    source = compile_source(ROSEN, "rosen.sg")
    module = load(source, "rosen", "rosen.sg")
    main, upper = np.arange(1.0, 5.0), np.array([10.0, 20.0, 30.0])
    expected = np.diag(main) + np.diag(upper, 1) + np.diag(-upper, -1)
    out = module._banded((main, 0), (upper, 1), (-upper, -1))
    np.testing.assert_array_equal(out, expected)
    hessian = module.rosen_hessian(RNG.uniform(-2.0, 2.0, 7))
    assert np.array_equal(hessian, hessian.T)  # one vector mirrored, bit for bit


def _hand_rosen_hvp(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The tridiagonal H v written out by hand from Rosenbrock's second derivatives."""
    head, tail = x[:-1], x[1:]
    hv = np.zeros_like(x)
    hv[:-1] = (1200.0 * head**2 - 400.0 * tail + 2.0) * v[:-1] - 400.0 * head * v[1:]
    hv[1:] += 200.0 * v[1:] - 400.0 * head * v[:-1]
    return hv


def test_generated_rosenbrock_hvp_adds_band_terms_in_place() -> None:
    source = compile_source(ROSEN, "rosen.sg")
    code = source.split("def rosen_hvp(")[1].split("\ndef ")[0]
    assert "_band_times(" in code and "np.pad" not in code  # no padded copies
    module = load(source, "rosen", "rosen.sg")
    for n in (2, 5, 12):
        at, v = RNG.uniform(-2.0, 2.0, n), RNG.standard_normal(n)
        (hv,) = module.rosen_hvp(at, v)
        np.testing.assert_allclose(hv, _hand_rosen_hvp(at, v), rtol=1e-13, atol=1e-12)
        np.testing.assert_allclose(hv, rosen_hess(at) @ v, rtol=1e-12, atol=1e-11)


@pytest.mark.parametrize("name, make_f", NOT_BANDED, ids=lambda c: str(c))
def test_no_band_product_without_a_band(name, make_f) -> None:
    hv, v = _hvp(make_f())
    assert band_product(hv, v) is None


OFF_DIAGONAL = [case for case in BANDED if case[2] != {0}]


@pytest.mark.parametrize("name, make_f, offsets", BANDED, ids=lambda c: str(c))
def test_a_diagonal_hessian_keeps_its_elementwise_hvp(name, make_f, offsets) -> None:
    hv, v = _hvp(make_f())
    assert (band_product(hv, v) is None) == (offsets == {0})


@pytest.mark.parametrize("name, make_f, offsets", OFF_DIAGONAL, ids=lambda c: str(c))
def test_band_product_is_the_hvp(name, make_f, offsets) -> None:
    hv, v = _hvp(make_f())
    product = band_product(hv, v)
    assert product is not None and product.op == "band_times"
    at, direction = RNG.uniform(-2.0, 2.0, 7), RNG.standard_normal(7)
    env = {"x": at, "v": direction}
    got, expected = evaluate([product, hv], env, {"n": 7})
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name, make_f, offsets", OFF_DIAGONAL, ids=lambda c: str(c))
def test_a_band_product_written_as_padded_sums_is_the_same_value(
    name, make_f, offsets
) -> None:
    hv, v = _hvp(make_f())
    product = band_product(hv, v)
    (padded,) = as_padded_sums([product])
    assert all(node.op != "band_times" for node in toposort([padded]))
    at, direction = RNG.uniform(-2.0, 2.0, 6), RNG.standard_normal(6)
    got, expected = evaluate([padded, product], {"x": at, "v": direction}, {"n": 6})
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-14)
