"""symgrad.scipy_objective: scipy.optimize.minimize on compiled functions with no glue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import symgrad
from symgrad.errors import SymgradError

scipy_optimize = pytest.importorskip("scipy.optimize")  # the [scipy] extra, in [test]

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_trust_exact_fits_logistic_regression():
    model = symgrad.load(SAMPLES / "logistic_regression.sg")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3 + rng.logistic(size=200) > 0) * 1.0
    obj = symgrad.scipy_objective(model.loss, X=X, y=y)
    x0 = obj.x0(w=np.zeros(3), b=0.0)
    result = scipy_optimize.minimize(
        obj.fun, x0, jac=obj.jac, hess=obj.hess, method="trust-exact",
        options={"gtol": 1e-10},
    )  # fmt: skip
    assert result.success
    fitted = obj.unflatten(result.x)
    p = _sigmoid(X @ fitted["w"] + fitted["b"])
    # the optimum: the closed-form gradient vanishes
    np.testing.assert_allclose(X.T @ (p - y) / 200, 0, atol=1e-8)
    assert abs(np.mean(p - y)) < 1e-8
    assert isinstance(fitted["b"], float) and fitted["w"].shape == (3,)


@pytest.mark.parametrize(
    "start",
    [np.tile([-1.2, 1.0], 50), np.tile([1.3, 0.7, 0.8, 1.9, 1.2], 2000)],
    ids=["standard-start-100", "scipy-docs-start-10000"],
)
def test_newton_cg_with_hessp_reaches_rosenbrocks_minimum(start):
    # From the standard start Newton-CG needs about 1.5 n iterations (each step
    # moves the front by one index): samples/optimize.py runs n = 10,000 (~65 s).
    model = symgrad.load(SAMPLES / "rosenbrock_vector.sg")
    obj = symgrad.scipy_objective(model.rosen)
    result = scipy_optimize.minimize(
        obj.fun, obj.x0(x=start), jac=obj.jac, hessp=obj.hessp, method="Newton-CG",
        options={"xtol": 1e-12, "maxiter": 5000},
    )  # fmt: skip
    np.testing.assert_allclose(result.x, np.ones(start.size), atol=1e-6)


def test_value_and_gradient_are_computed_once_per_point():
    model = symgrad.load(SAMPLES / "logistic_regression.sg")
    rng = np.random.default_rng(1)
    obj = symgrad.scipy_objective(
        model.loss, X=rng.normal(size=(20, 2)), y=rng.random(20)
    )
    calls = []
    inner = obj._value_and_grad
    obj._value_and_grad = lambda *a: calls.append(1) or inner(*a)
    x = obj.x0(w=np.ones(2), b=0.5)
    value, grad = obj.fun(x), obj.jac(x)
    assert len(calls) == 1
    np.testing.assert_array_equal(
        grad,
        np.concatenate(
            [np.ravel(g) for g in model.loss.grad(np.ones(2), 0.5, *obj._data)]
        ),
    )
    obj.fun(x + 1e-3)
    assert len(calls) == 2
    assert value == pytest.approx(model.loss(np.ones(2), 0.5, *obj._data))


def test_hessp_and_hess_agree_and_the_layout_is_scipys():
    model = symgrad.load(SAMPLES / "logistic_regression.sg")
    rng = np.random.default_rng(2)
    obj = symgrad.scipy_objective(
        model.loss, X=rng.normal(size=(30, 4)), y=rng.random(30)
    )
    x = obj.x0(w=rng.normal(size=4), b=0.1)
    p = rng.normal(size=5)
    np.testing.assert_allclose(obj.hessp(x, p), obj.hess(x) @ p, rtol=1e-12)
    h = 1e-6
    for j in range(5):
        e = np.eye(5)[j] * h
        column = (obj.jac(x + e) - obj.jac(x - e)) / (2 * h)
        np.testing.assert_allclose(obj.hess(x)[:, j], column, rtol=1e-6, atol=1e-8)


def test_scalar_functions_work_the_same_way():
    f = symgrad.function("rosen(x, y) = (1 - x)^2 + 100*(y - x^2)^2")
    obj = symgrad.scipy_objective(f)
    result = scipy_optimize.minimize(
        obj.fun, obj.x0(x=-1.2, y=1.0), jac=obj.jac, hess=obj.hess, method="trust-exact"
    )
    np.testing.assert_allclose(result.x, [1.0, 1.0], atol=1e-8)


def test_mistakes_are_clear_errors():
    model = symgrad.load(SAMPLES / "logistic_regression.sg")
    with pytest.raises(SymgradError, match="missing y"):
        symgrad.scipy_objective(model.loss, X=np.ones((2, 2)))
    with pytest.raises(SymgradError, match="not data: w"):
        symgrad.scipy_objective(model.loss, X=np.ones((2, 2)), y=np.ones(2), w=1)
    obj = symgrad.scipy_objective(symgrad.load(SAMPLES / "rosenbrock_vector.sg").rosen)
    with pytest.raises(SymgradError, match="size n of x is not known yet"):
        obj.fun(np.ones(3))
    # a matrix parameter inside solve has no closed-form Hessian yet: hessp only
    f = symgrad.function("f(A[n, n]; y[n]) = y @ solve(A, y)")
    obj = symgrad.scipy_objective(f, y=np.ones(2))
    x = obj.x0(A=np.eye(2) * 2)
    with pytest.raises(SymgradError, match="no closed-form Hessian"):
        obj.hess(x)
    assert obj.hessp(x, np.ones(4)).shape == (4,)


def test_l_bfgs_b_with_bounds_fits_a_gaussian_process():
    model = symgrad.load(SAMPLES / "gaussian_process.sg")
    rng = np.random.default_rng(3)
    inputs = np.sort(rng.uniform(0, 10, size=40))
    y = np.sin(inputs) + 0.1 * rng.normal(size=40)
    D = (inputs[:, None] - inputs[None, :]) ** 2
    obj = symgrad.scipy_objective(model.nll, D=D, y=y)
    bounds = [(1e-4, None)] * 3
    result = scipy_optimize.minimize(
        obj.fun, obj.x0(s2=1.0, l=1.0, noise=0.5), jac=obj.jac, method="L-BFGS-B",
        bounds=bounds, options={"gtol": 1e-9, "ftol": 1e-15, "maxiter": 1000},
    )  # fmt: skip
    assert result.success
    # an interior optimum: the gradient vanishes, and the Hessian is positive definite
    assert np.all(result.x > 1e-3)
    np.testing.assert_allclose(obj.jac(result.x), 0, atol=1e-5)
    assert np.all(np.linalg.eigvalsh(obj.hess(result.x)) > 0)
