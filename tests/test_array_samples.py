"""The array samples and acceptance examples: generated code against three independent oracles.

1. the same function unrolled into scalars at small sizes (tests/array_oracle.py)
   through the scalar pipeline: gradients agree to 1e-12;
2. central differences of the generated value, entry by entry: 1e-7 relative;
3. the closed forms of ../shared/acceptance (logistic, least squares, quadratic, mlp).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from codegen.load import load
from symgrad import api
from symgrad.evaluate import size_of
from symgrad.lower import lower
from symgrad.parser import parse
from tests.array_oracle import flat_names, flat_values, scalar_gradient, unroll
from tests.conftest import import_path

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
ARRAY_SAMPLES = [
    "logistic_regression",
    "softmax_regression",
    "mlp",
    "least_squares",
    "quadratic",
    "rosenbrock_vector",
]
SIZES = {"n": 4, "d": 3, "k": 2, "h": 3, "m": 5}


def _program(text: str):
    return lower(parse(text, "t.sg"))


def _module(text: str):
    return load(api.compile_source(text, "t.sg"), "t", "<t>")


def _data(function, rng) -> dict[str, np.ndarray]:
    env = {}
    for name in function.all_names:
        shape = tuple(size_of(d, SIZES) for d in function.var_of(name).shape)
        env[name] = rng.uniform(-1.0, 1.0, size=shape) if shape else rng.uniform(-1, 1)
    return env


def _scalar_functions(name: str):
    text = (SAMPLES / f"{name}.sg").read_text()
    program = _program(text)
    return [f for f in program.functions if not f.body.shape], program


@pytest.mark.parametrize("name", ARRAY_SAMPLES)
def test_gradient_equals_the_unrolled_scalar_gradient(name: str) -> None:
    functions, _ = _scalar_functions(name)
    module = import_path(SAMPLES / f"{name}.py")
    rng = np.random.default_rng(1)
    for f in functions:
        env = _data(f, rng)
        args = [env[p] for p in f.all_names]
        got = getattr(module, f.name + "_grad")(*args)
        for g, p in zip(got, f.params):
            assert np.shape(g) == np.shape(env[p])
        variables = [f.var_of(p) for p in f.all_names]
        (flat,), scalars = unroll([f.body], SIZES, variables)
        oracle = scalar_gradient(
            flat[()].node, flat_names(scalars, f.params), flat_names(scalars, f.data)
        )
        expected = oracle(*flat_values(env, f.params + f.data))
        got_flat = np.concatenate([np.ravel(g) for g in got])
        np.testing.assert_allclose(got_flat, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ARRAY_SAMPLES)
def test_every_gradient_entry_matches_central_differences(name: str) -> None:
    functions, _ = _scalar_functions(name)
    module = import_path(SAMPLES / f"{name}.py")
    rng = np.random.default_rng(2)
    for f in functions:
        env = _data(f, rng)
        value = getattr(module, f.name)
        grads = getattr(module, f.name + "_grad")(*[env[p] for p in f.all_names])
        for g, p in zip(grads, f.params):
            for index in np.ndindex(np.shape(env[p])):
                numeric = _central(value, f, env, p, index)
                assert np.isclose(g[index], numeric, rtol=1e-7, atol=1e-9), (p, index)


def _central(value, f, env, p, index, h=1e-6) -> float:
    out = []
    for sign in (1.0, -1.0):
        moved = dict(env)
        moved[p] = np.array(env[p], dtype=float)
        moved[p][index] += sign * h
        out.append(value(*[moved[q] for q in f.all_names]))
    return (out[0] - out[1]) / (2 * h)


@pytest.mark.parametrize("name", ARRAY_SAMPLES)
def test_hvp_and_jvp_match_differences(name: str) -> None:
    functions, _ = _scalar_functions(name)
    module = import_path(SAMPLES / f"{name}.py")
    rng = np.random.default_rng(3)
    h = 1e-6
    for f in functions:
        env = _data(f, rng)
        args = [env[p] for p in f.all_names]
        v = [rng.normal(size=np.shape(env[p])) for p in f.params]
        grad = getattr(module, f.name + "_grad")

        def moved(sign):
            shifted = {p: env[p] + sign * h * d for p, d in zip(f.params, v)}
            return [shifted.get(q, env[q]) for q in f.all_names]

        hv = getattr(module, f.name + "_hvp")(*args, *v)
        for k, (a, b) in enumerate(zip(grad(*moved(1.0)), grad(*moved(-1.0)))):
            np.testing.assert_allclose(hv[k], (a - b) / (2 * h), rtol=1e-6, atol=1e-7)
        value, directional = getattr(module, f.name + "_jvp")(*args, *v)
        assert value == getattr(module, f.name)(*args)
        numeric = (
            getattr(module, f.name)(*moved(1.0)) - module.__dict__[f.name](*moved(-1.0))
        ) / (2 * h)
        assert np.isclose(directional, numeric, rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------- closed forms


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_logistic_closed_form() -> None:
    module = import_path(SAMPLES / "logistic_regression.py")
    rng = np.random.default_rng(4)
    X, y, w, b = (
        rng.normal(size=(50, 3)),
        rng.integers(0, 2, 50) * 1.0,
        rng.normal(size=3),
        0.2,
    )
    p = _sigmoid(X @ w + b)
    dw, db = module.loss_grad(w, b, X, y)
    np.testing.assert_allclose(dw, X.T @ (p - y) / 50, rtol=1e-12)
    np.testing.assert_allclose(db, np.mean(p - y), rtol=1e-12)
    value, (dw2, db2) = module.loss_value_and_grad(w, b, X, y)
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert value == pytest.approx(expected, rel=1e-12)
    assert np.array_equal(dw2, dw) and db2 == db


def test_least_squares_closed_forms() -> None:
    module = import_path(SAMPLES / "least_squares.py")
    rng = np.random.default_rng(5)
    A, b, x = rng.normal(size=(6, 4)), rng.normal(size=6), rng.normal(size=4)
    (jac,) = module.r_jacobian(x, A, b)
    assert np.array_equal(jac, A) and jac is not A
    (dx,) = module.f_grad(x, A, b)
    np.testing.assert_allclose(dx, 2 * A.T @ (A @ x - b), rtol=1e-12)
    u = rng.normal(size=6)
    (pulled,) = module.r_vjp(x, A, b, u)
    np.testing.assert_allclose(pulled, A.T @ u, rtol=1e-12)
    (hv,) = module.f_hvp(x, A, b, u[:4])
    np.testing.assert_allclose(hv, 2 * A.T @ (A @ u[:4]), rtol=1e-12)


def test_quadratic_closed_form() -> None:
    module = import_path(SAMPLES / "quadratic.py")
    rng = np.random.default_rng(6)
    A, x, v = rng.normal(size=(5, 5)), rng.normal(size=5), rng.normal(size=5)
    (dx,) = module.q_grad(x, A)
    np.testing.assert_allclose(dx, (A + A.T) @ x, rtol=1e-12)
    (hv,) = module.q_hvp(x, A, v)
    np.testing.assert_allclose(hv, (A + A.T) @ v, rtol=1e-12)


def test_rosenbrock_vector_is_the_scalar_sample_at_n_4() -> None:
    vector = import_path(SAMPLES / "rosenbrock_vector.py")
    scalar = import_path(SAMPLES / "rosenbrock.py")
    x = np.array([1.2, -0.7, 0.3, 2.0])
    assert vector.rosen(x) == pytest.approx(scalar.rosen4(*x), rel=1e-15)
    np.testing.assert_allclose(
        vector.rosen_grad(x)[0], scalar.rosen4_grad(*x), rtol=1e-14
    )
    ones = np.ones(1000)
    assert vector.rosen(ones) == 0 and not np.any(vector.rosen_grad(ones)[0])
    # H v with unit vectors is the scalar sample's tridiagonal Hessian, column by column
    hessian = scalar.rosen4_hessian(*x)
    for j in range(4):
        (column,) = vector.rosen_hvp(x, np.eye(4)[j])
        np.testing.assert_allclose(column, hessian[:, j], rtol=1e-14)


def test_mlp_backward_reads_like_the_course() -> None:
    text = (SAMPLES / "mlp.py").read_text()
    body = text[text.index("def L_grad") :]
    body = body[: body.index("\n\n\ndef ")]
    statements = [line.strip() for line in body.splitlines() if " = " in line]
    targets = [s.split(" = ")[0] for s in statements]
    assert targets[-10:] == [
        "Z1", "A1", "Z2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1",
    ]  # fmt: skip
    assert "dZ2 = (_softmax(Z2, axis=0) - Y) / m" in statements
    assert "dA1 = W2.T @ dZ2" in statements
    assert "dW2 = dZ2 @ A1.T" in statements and "dW1 = dZ1 @ X.T" in statements
    assert "dZ1 = dA1 * (1.0 - A1**2)" in statements
    # as many matrix products as hand-written backprop: 2 forward, 3 backward
    assert body.count(" @ ") == 5
    both = text[text.index("def L_value_and_grad") :]
    both = both[: both.index("\n\n\ndef ")]
    assert both.count("np.tanh(") == 1  # the forward pass once


def test_mlp_gradient_closed_form() -> None:
    module = import_path(SAMPLES / "mlp.py")
    rng = np.random.default_rng(7)
    d, h, k, m = 4, 5, 3, 6
    W1, b1 = rng.normal(size=(h, d)), rng.normal(size=(h, 1))
    W2, b2 = rng.normal(size=(k, h)), rng.normal(size=(k, 1))
    X, Y = rng.normal(size=(d, m)), np.eye(k)[rng.integers(0, k, m)].T
    A1 = np.tanh(W1 @ X + b1)
    Z2 = W2 @ A1 + b2
    P = np.exp(Z2 - Z2.max(0)) / np.exp(Z2 - Z2.max(0)).sum(0)
    dZ2 = (P - Y) / m
    dZ1 = (W2.T @ dZ2) * (1 - A1**2)
    expected = (
        dZ1 @ X.T,
        dZ1.sum(1, keepdims=True),
        dZ2 @ A1.T,
        dZ2.sum(1, keepdims=True),
    )
    for got, want in zip(module.L_grad(W1, b1, W2, b2, X, Y), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_module_text_is_independent_of_the_data_size() -> None:
    # the text never sees the data; one module serves every size
    text = (SAMPLES / "logistic_regression.sg").read_text()
    assert api.compile_source(text, "a.sg") == api.compile_source(text, "a.sg")
    assert not re.search(r"\b(10|1000)\b", api.compile_source(text, "a.sg"))
    module = import_path(SAMPLES / "logistic_regression.py")
    rng = np.random.default_rng(8)
    for n, d in [(10, 3), (1000, 7)]:
        X, y, w = rng.normal(size=(n, d)), rng.random(n), rng.normal(size=d)
        dw, _ = module.loss_grad(w, 0.0, X, y)
        np.testing.assert_allclose(dw, X.T @ (_sigmoid(X @ w) - y) / n, rtol=1e-12)


def test_float32_stays_float32() -> None:
    module = import_path(SAMPLES / "mlp.py")
    rng = np.random.default_rng(9)
    f32 = lambda *s: rng.normal(size=s).astype(np.float32)  # noqa: E731
    grads = module.L_grad(
        f32(3, 2), f32(3, 1), f32(2, 3), f32(2, 1), f32(2, 4), f32(2, 4)
    )
    assert all(g.dtype == np.float32 for g in grads)


# ---------------------------------------------------------------- Hessians


def _hessian_samples():
    return [
        (name, f)
        for name in ARRAY_SAMPLES
        for f in _scalar_functions(name)[0]
        if f.name + "_hessian" in import_path(SAMPLES / f"{name}.py").__all__
    ]


def test_every_scalar_valued_array_sample_has_a_hessian() -> None:
    found = {(name, f.name) for name, f in _hessian_samples()}
    assert found == {
        ("logistic_regression", "loss"),
        ("softmax_regression", "loss"),  # W[d, k]: matrix blocks, raveled
        ("mlp", "L"),  # W1, b1, W2, b2: every block of the two-layer network
        ("least_squares", "f"),
        ("quadratic", "q"),
        ("rosenbrock_vector", "rosen"),
    }


def _hessian_at(name: str, f, seed: int):
    """The sample's module, a random point (env, and as arguments) and its Hessian there."""
    module = import_path(SAMPLES / f"{name}.py")
    env = _data(f, np.random.default_rng(seed))
    args = [env[p] for p in f.all_names]
    return module, env, args, getattr(module, f.name + "_hessian")(*args)


@pytest.mark.parametrize(
    "name, f", _hessian_samples(), ids=lambda x: getattr(x, "name", x)
)
def test_hessian_against_the_unrolled_scalar_hessian_and_differences(name, f) -> None:
    module, env, _, hessian = _hessian_at(name, f, seed=10)
    sizes = [np.size(env[p]) for p in f.params]
    assert hessian.shape == (sum(sizes), sum(sizes))
    # off-diagonal blocks are mirrored exactly; a diagonal block such as
    # X.T @ (c X) is symmetric to rounding, as numpy computes it by hand
    np.testing.assert_allclose(hessian, hessian.T, rtol=1e-14, atol=1e-16)
    # columns from central differences of the generated gradient
    grad = getattr(module, f.name + "_grad")
    flat = np.concatenate([np.ravel(env[p]) for p in f.params])

    def flat_grad(x):
        parts, at = {}, 0
        for p, k in zip(f.params, sizes):
            parts[p] = x[at : at + k].reshape(np.shape(env[p]))
            at += k
        return np.concatenate(
            [np.ravel(g) for g in grad(*[parts.get(q, env[q]) for q in f.all_names])]
        )

    h = 1e-5
    for j in range(flat.size):
        e = np.zeros(flat.size)
        e[j] = h
        column = (flat_grad(flat + e) - flat_grad(flat - e)) / (2 * h)
        np.testing.assert_allclose(hessian[:, j], column, rtol=1e-6, atol=1e-6)
    # and the scalar pipeline's Hessian of the unrolled function, to 1e-12
    variables = [f.var_of(p) for p in f.all_names]
    (unrolled,), scalars = unroll([f.body], SIZES, variables)
    from codegen.module import FunctionSpec, ModuleSpec, Symmetric, render
    from symgrad.derivatives import hessian as scalar_hessian
    from symgrad.graph import var

    names = flat_names(scalars, f.params)
    entries = scalar_hessian(unrolled[()].node, [var(n) for n in names])
    params = tuple((n, var(n)) for n in names + flat_names(scalars, f.data))
    spec = FunctionSpec("h", params, Symmetric(len(names), entries), "h")
    oracle = load(render(ModuleSpec("oracle", (spec,))), "oracle", "<oracle>").h
    expected = oracle(*flat_values(env, f.params + f.data))
    np.testing.assert_allclose(hessian, expected, rtol=1e-12, atol=1e-12)


def test_hessian_closed_forms() -> None:
    rng = np.random.default_rng(11)
    quadratic = import_path(SAMPLES / "quadratic.py")
    A, x = rng.normal(size=(6, 6)), rng.normal(size=6)
    assert np.array_equal(quadratic.q_hessian(x, A), A + A.T)  # exactly
    lstsq = import_path(SAMPLES / "least_squares.py")
    B, b = rng.normal(size=(8, 6)), rng.normal(size=8)
    np.testing.assert_allclose(lstsq.f_hessian(x, B, b), 2 * B.T @ B, rtol=1e-12)
    logistic = import_path(SAMPLES / "logistic_regression.py")
    X, y, w = rng.normal(size=(40, 3)), rng.random(40), rng.normal(size=3)
    p = _sigmoid(X @ w + 0.3)
    X1 = np.hstack([X, np.ones((40, 1))])
    expected = X1.T @ (X1 * (p * (1 - p))[:, None]) / 40
    np.testing.assert_allclose(
        logistic.loss_hessian(w, 0.3, X, y), expected, rtol=1e-12
    )
    text = (SAMPLES / "logistic_regression.py").read_text()
    body = text[text.index("def loss_hessian") :]
    body = body[: body.index("\n\n\ndef ")]
    assert body.count(" @ (X") == 1  # one product over the data, never n x n
    assert "np.eye" not in body and "np.diag" not in body


def test_rosenbrock_vector_hessian_is_the_scalar_samples() -> None:
    vector = import_path(SAMPLES / "rosenbrock_vector.py")
    scalar = import_path(SAMPLES / "rosenbrock.py")
    x = np.array([1.2, -0.7, 0.3, 2.0])
    np.testing.assert_allclose(
        vector.rosen_hessian(x), scalar.rosen4_hessian(*x), rtol=1e-14
    )


# ---------------------------------------------------------------- matrix functions


def _gp_data(n: int, rng):
    inputs = rng.uniform(0, 5, size=n)
    D = (inputs[:, None] - inputs[None, :]) ** 2
    y = np.sin(inputs) + 0.1 * rng.normal(size=n)
    return D, y


def _gp_nll(theta, D, y):
    s2, l, noise = theta
    K = s2 * np.exp(-D / (2 * l**2)) + noise * np.eye(len(y))
    sign, logdet = np.linalg.slogdet(K)
    assert sign > 0
    return (
        0.5 * y @ np.linalg.solve(K, y)
        + 0.5 * logdet
        + 0.5 * len(y) * np.log(2 * np.pi)
    )


def test_gaussian_process_value_gradient_and_hessian() -> None:
    module = import_path(SAMPLES / "gaussian_process.py")
    rng = np.random.default_rng(12)
    D, y = _gp_data(8, rng)
    theta = np.array([1.3, 0.8, 0.2])
    assert module.nll(*theta, D, y) == pytest.approx(_gp_nll(theta, D, y), rel=1e-13)
    grad = np.array(module.nll_grad(*theta, D, y))
    h = 1e-6
    for k in range(3):
        e = np.eye(3)[k] * h
        numeric = (_gp_nll(theta + e, D, y) - _gp_nll(theta - e, D, y)) / (2 * h)
        assert grad[k] == pytest.approx(numeric, rel=1e-7)
    hessian = module.nll_hessian(*theta, D, y)
    for k in range(3):
        e = np.eye(3)[k] * 1e-5
        plus = np.array(module.nll_grad(*(theta + e), D, y))
        minus = np.array(module.nll_grad(*(theta - e), D, y))
        np.testing.assert_allclose(hessian[:, k], (plus - minus) / 2e-5, rtol=1e-6)
    hv = module.nll_hvp(*theta, D, y, 0.3, -0.2, 0.5)
    np.testing.assert_allclose(hv, hessian @ [0.3, -0.2, 0.5], rtol=1e-10)
    code = (SAMPLES / "gaussian_process.py").read_text()
    assert "np.linalg.solve(K, y)" in code  # solve, never inv(K) @ y
    assert "np.linalg.inv(K) @" not in code


def test_a_singular_matrix_gives_ieee_values_or_numpys_error() -> None:
    # documented: solve and inv raise numpy's LinAlgError on an exactly singular
    # matrix; det is 0 and logdet -inf, with no warning and no hang
    module = load(
        api.compile_source(
            "d(A[n, n]) = det(A)\nl(A[n, n]) = logdet(A)\n"
            "s(x[n]; A[n, n]) = sum(solve(A, x))\n",
            "m.sg",
        ),
        "m",
        "<m>",
    )
    singular = np.ones((3, 3))
    assert module.d(singular) == 0.0
    assert module.l(singular) == -np.inf
    with pytest.raises(np.linalg.LinAlgError):
        module.s(np.ones(3), singular)


@pytest.mark.parametrize(
    "name, f", _hessian_samples(), ids=lambda x: getattr(x, "name", x)
)
def test_hessian_blocks_are_the_hessian_by_parameter(name, f) -> None:
    module, env, args, hessian = _hessian_at(name, f, seed=13)
    grid = getattr(module, f.name + "_hessian_blocks")(*args)
    sizes = [max(np.size(env[p]), 1) for p in f.params]
    rows = [
        np.hstack(
            [np.reshape(block, (sizes[i], sizes[j])) for j, block in enumerate(row)]
        )
        for i, row in enumerate(grid)
    ]
    np.testing.assert_allclose(np.vstack(rows), hessian, rtol=1e-13, atol=1e-15)
    for i, p in enumerate(f.params):
        for j, q in enumerate(f.params):
            assert np.shape(grid[i][j]) == np.shape(env[p]) + np.shape(env[q])
