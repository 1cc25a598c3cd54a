"""Generated code on dask (and CuPy) arrays, and symgrad.dask's data-parallel gradient."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symgrad
from symgrad.errors import SymgradError

da = pytest.importorskip(
    "dask.array", reason="dask is not installed (the [dask] extra)"
)
import dask  # noqa: E402

import symgrad.dask as sd  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
ROWS, CHUNKS = 10**6, 16


def _module(name: str):
    """A golden generated module from samples/, imported from its file."""
    spec = importlib.util.spec_from_file_location(
        f"dask_{name}", SAMPLES / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _refuse_to_compute(*args, **kwargs):
    raise AssertionError("something was computed before .compute()")


def _leaves(result) -> list:
    if isinstance(result, tuple):
        return [leaf for item in result for leaf in _leaves(item)]
    return [result]


def _lazy_equals_numpy(function, numpy_args, dask_args) -> None:
    """function on dask inputs: dask arrays only, built lazily, equal to numpy's values."""
    expected = _leaves(function(*numpy_args))
    with dask.config.set(scheduler=_refuse_to_compute):
        got = _leaves(function(*dask_args))
    assert all(isinstance(leaf, da.Array) for leaf in got), [type(g) for g in got]
    computed = dask.compute(*got, scheduler="threads")
    assert len(computed) == len(expected)
    for value, reference in zip(computed, expected):
        assert np.shape(value) == np.shape(reference)
        np.testing.assert_allclose(value, reference, rtol=1e-12, atol=1e-14)


def _rows(shape: tuple, chunk: int, axis: int = 0):
    """Random numpy data and the same as a dask array chunked along one axis."""
    data = np.random.default_rng(len(shape) + shape[axis]).normal(size=shape)
    chunks = list(shape)
    chunks[axis] = chunk
    return data, da.from_array(data, chunks=tuple(chunks))


# ---------------------------------------------------------------- generated modules


SCALAR_CALLS = ["loss", "loss_grad", "loss_value_and_grad", "loss_hessian"]


@pytest.mark.parametrize("name", SCALAR_CALLS + ["loss_hvp", "loss_jvp"])
def test_scalar_function_on_dask_is_lazy_and_equal(name):
    # samples/logistic.py: elementwise over a batch of points, x a dask array
    module = _module("logistic")
    x, dx = _rows((1000,), 100)
    y = (x > 0.3).astype(float)
    dy = da.from_array(y, chunks=100)
    extra = [0.5, -0.25] if name in ("loss_hvp", "loss_jvp") else []
    function = getattr(module, name)
    _lazy_equals_numpy(function, [0.7, -0.2, x, y, *extra], [0.7, -0.2, dx, dy, *extra])


def test_scalar_hessian_on_dask_has_the_batch_axes_first():
    module = _module("logistic")
    x, dx = _rows((300,), 100)
    with dask.config.set(scheduler=_refuse_to_compute):
        hessian = module.loss_hessian(0.7, -0.2, dx, 1.0)
    assert isinstance(hessian, da.Array) and hessian.shape == (300, 2, 2)


ARRAY_CALLS = {
    "logistic_regression": ["loss", "loss_grad", "loss_value_and_grad", "loss_hvp"],
    "softmax_regression": ["loss", "loss_value_and_grad", "loss_hvp"],
    "least_squares": ["r", "r_jacobian", "f", "f_value_and_grad"],
}
HESSIANS = {
    "logistic_regression": ["loss_hessian", "loss_hessian_blocks"],
    "softmax_regression": ["loss_hessian"],
    "least_squares": ["f_hessian"],
}


def _array_arguments(sample: str, name: str):
    """(numpy arguments, the same with the data as dask arrays) for one call."""
    rng = np.random.default_rng(7)
    n, d, k = 1000, 3, 4
    X, dX = _rows((n, d), 250)
    if sample == "least_squares":
        b, db = _rows((n,), 250)
        x = rng.normal(size=d)
        return [x, X, b], [x, dX, db]
    if sample == "logistic_regression":
        y = (X[:, 0] > 0).astype(float)
        w, b = rng.normal(size=d), 0.3
        vector = [0.5 * w, 0.2] if name.endswith("hvp") else []
        return [w, b, X, y, *vector], [w, b, dX, da.from_array(y, 250), *vector]
    Y = np.eye(k)[rng.integers(0, k, n)]
    W, b = rng.normal(size=(d, k)), rng.normal(size=k)
    vector = [0.5 * W, 0.2 * b] if name.endswith("hvp") else []
    dY = da.from_array(Y, chunks=(250, k))
    return [W, b, X, Y, *vector], [W, b, dX, dY, *vector]


@pytest.mark.parametrize(
    "sample,name",
    [(s, n) for s, names in ARRAY_CALLS.items() for n in names]
    + [(s, n) for s, names in HESSIANS.items() for n in names],
)
def test_array_function_on_dask_is_lazy_and_equal(sample, name):
    function = getattr(_module(sample), name)
    numpy_args, dask_args = _array_arguments(sample, name)
    _lazy_equals_numpy(function, numpy_args, dask_args)


def test_two_layer_network_over_columns_on_dask_is_lazy_and_equal():
    rng = np.random.default_rng(3)
    d, m, h, k = 3, 800, 5, 4
    X, dX = _rows((d, m), 200, axis=1)
    Y = np.eye(k)[rng.integers(0, k, m)].T.copy()
    dY = da.from_array(Y, chunks=(k, 200))
    params = [
        rng.normal(size=(h, d)),
        rng.normal(size=(h, 1)),
        rng.normal(size=(k, h)),
        rng.normal(size=(k, 1)),
    ]
    function = _module("mlp").L_value_and_grad
    _lazy_equals_numpy(function, [*params, X, Y], [*params, dX, dY])


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_numpy_inputs_still_give_numpy_and_floats_give_floats():
    module = _module("logistic_regression")
    X = np.ones((4, 2))
    value, (dw, db) = module.loss_value_and_grad(np.zeros(2), 0.0, X, np.zeros(4))
    assert type(dw) is np.ndarray and np.isclose(value, np.log(2.0))
    assert type(_module("logistic").loss_grad(0.5, 0.1, 2.0, 1.0)[0]) is float
    # numpy's own subclasses are plain arrays inside, as before (np.matrix's * is @)
    grad = _module("logistic").loss_grad(np.matrix([[0.5, 1.0]]), 0.1, 2.0, 1.0)
    assert type(grad[0]) is np.ndarray


def test_cupy_arrays_stay_on_the_gpu():
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed (it needs CUDA)")
    try:
        cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # noqa: BLE001 - any CUDA failure means no GPU here
        pytest.skip(f"no usable GPU for CuPy: {error}")
    module = _module("logistic_regression")
    rng = np.random.default_rng(0)
    X, y, w = rng.normal(size=(100, 3)), (rng.random(100) > 0.5) * 1.0, np.ones(3)
    expected = module.loss_grad(w, 0.1, X, y)
    got = module.loss_grad(cupy.asarray(w), 0.1, cupy.asarray(X), cupy.asarray(y))
    assert all(isinstance(g, cupy.ndarray) for g in got)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(cupy.asnumpy(g), e, rtol=1e-12)


def test_import_symgrad_never_imports_dask():
    code = (
        "import sys, symgrad; symgrad.load('samples/logistic_regression.sg'); "
        "assert 'dask' not in sys.modules, 'dask imported'"
    )
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)


# ---------------------------------------------------------------- value_and_grad


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _generated(rows: int, chunk: int, seed: int, *columns: int) -> list:
    """Normal dask arrays generated chunk by chunk (never sent from here)."""
    rng = da.random.default_rng(seed)
    shapes = [(rows, c) if c else (rows,) for c in columns]
    return [rng.normal(size=s, chunks=(chunk,) + s[1:]) for s in shapes]


def _logistic_problem(rows: int, chunk: int):
    """Data, point, and the hand-written numpy mean cross-entropy and its gradient."""
    rng = np.random.default_rng(11)
    d = 5
    dX, noise = _generated(rows, chunk, 11, d, 0)
    dy = (noise < dX @ np.arange(1.0, d + 1) / d).astype(float)
    X, y = dask.compute(dX, dy, scheduler="threads")
    w, b = rng.normal(size=d) * 0.3, 0.2
    z = X @ w + b
    value = np.mean(np.logaddexp(0.0, z) - y * z)
    dz = (_sigmoid(z) - y) / rows
    expected = (value, (X.T @ dz, np.sum(dz)))
    data = {"X": dX, "y": dy}
    return "logistic_regression", "loss", {"w": w, "b": b}, data, expected


def _softmax_problem(rows: int, chunk: int):
    rng = np.random.default_rng(12)
    d, k = 4, 3
    dX, dZ = _generated(rows, chunk, 12, d, k)
    dY = (dZ == dZ.max(axis=1, keepdims=True)).astype(float)  # one-hot labels
    X, Y = dask.compute(dX, dY, scheduler="threads")
    W, b = rng.normal(size=(d, k)) * 0.3, rng.normal(size=k)
    Z = X @ W + b
    top = Z.max(axis=1, keepdims=True)
    E = np.exp(Z - top)
    lse = np.log(E.sum(axis=1)) + top[:, 0]
    value = np.mean(lse - np.sum(Y * Z, axis=1))
    dZ = (E / E.sum(axis=1, keepdims=True) - Y) / rows
    expected = (value, (X.T @ dZ, dZ.sum(axis=0)))
    data = {"X": dX, "Y": dY}
    return "softmax_regression", "loss", {"W": W, "b": b}, data, expected


def _least_squares_problem(rows: int, chunk: int):
    rng = np.random.default_rng(13)
    n = 6
    dA, noise = _generated(rows, chunk, 13, n, 0)
    db = dA @ np.ones(n) + noise
    A, b = dask.compute(dA, db, scheduler="threads")
    x = rng.normal(size=n)
    r = A @ x - b
    expected = (r @ r, (2.0 * A.T @ r,))
    data = {"A": dA, "b": db}
    return "least_squares", "f", {"x": x}, data, expected


PROBLEMS = [_logistic_problem, _softmax_problem, _least_squares_problem]


def _check(problem, rows: int, chunk: int, **compute) -> None:
    sample, name, params, data, (value, grads) = problem(rows, chunk)
    f = getattr(symgrad.load(SAMPLES / f"{sample}.sg"), name)
    lazy = sd.value_and_grad(f, params, **data)
    assert isinstance(lazy[0], da.Array)
    got_value, got_grads = dask.compute(*lazy, **compute)
    assert abs(got_value - value) <= 1e-12 * abs(value)
    assert len(got_grads) == len(grads)
    for got, expected in zip(got_grads, grads):
        assert np.shape(got) == np.shape(expected)
        scale = np.max(np.abs(expected))
        assert np.max(np.abs(got - expected)) <= 1e-12 * scale


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.__name__[1:-8])
def test_value_and_grad_on_threads_equals_numpy(problem):
    assert ROWS // CHUNKS * CHUNKS == ROWS
    _check(problem, ROWS, ROWS // CHUNKS, scheduler="threads")


def test_a_mean_over_unequal_chunks_divides_by_the_total_count_once():
    # chunks of 300, 300, 300 and 100 rows: a mean of the chunks' means is wrong
    _check(_logistic_problem, 1000, 300, scheduler="sync")


def test_value_and_grad_builds_one_tree_of_chunk_tasks():
    sample, name, params, data, _ = _logistic_problem(1600, 100)
    f = getattr(symgrad.load(SAMPLES / f"{sample}.sg"), name)
    value, grads = sd.value_and_grad(f, params, **data)
    with dask.config.set(scheduler=_refuse_to_compute):
        sd.value_and_grad(f, params, **data)  # building the graph computes nothing
    names = [k[0] if isinstance(k, tuple) else k for k in value.__dask_graph__()]
    prefixes = [name.rsplit("-", 1)[0] for name in names]
    assert prefixes.count("symgrad-chunk") == 16  # one partial sum per chunk
    # a tree: the 16 rows are added in groups (sum-partial) before the last sum
    assert 1 <= prefixes.count("sum-partial") < 16
    assert prefixes.count("sum-aggregate") == 1


@pytest.mark.slow
def test_value_and_grad_on_a_local_cluster_equals_numpy():
    distributed = pytest.importorskip("distributed", reason="needs dask.distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        for problem in PROBLEMS:
            _check(problem, ROWS, ROWS // CHUNKS)  # the client is the scheduler


def test_mlp_over_the_columns_of_X():
    rng = np.random.default_rng(5)
    d, m, h, k = 3, 1200, 4, 2
    X = rng.normal(size=(d, m))
    Y = np.eye(k)[rng.integers(0, k, m)].T.copy()
    params = {
        "W1": rng.normal(size=(h, d)),
        "b1": rng.normal(size=(h, 1)),
        "W2": rng.normal(size=(k, h)),
        "b2": rng.normal(size=(k, 1)),
    }
    # the two-layer network by hand: backprop as the sample's comment reads it
    A1 = np.tanh(params["W1"] @ X + params["b1"])
    Z2 = params["W2"] @ A1 + params["b2"]
    E = np.exp(Z2 - Z2.max(axis=0))
    value = np.mean(np.log(E.sum(axis=0)) + Z2.max(axis=0) - np.sum(Y * Z2, axis=0))
    dZ2 = (E / E.sum(axis=0) - Y) / m
    dZ1 = (params["W2"].T @ dZ2) * (1 - A1**2)
    expected = [dZ1 @ X.T, dZ1.sum(axis=1, keepdims=True), dZ2 @ A1.T]
    expected.append(dZ2.sum(axis=1, keepdims=True))
    f = symgrad.load(SAMPLES / "mlp.sg").L
    data = {"X": da.from_array(X, (d, 100)), "Y": da.from_array(Y, (k, 100))}
    got_value, got = dask.compute(*sd.value_and_grad(f, params, **data))
    assert np.isclose(got_value, value, rtol=1e-12)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-15)


REFUSED = [
    ("r(x[n]; A[m, n], b[m]) = A @ x - b", "an array [m], not one number"),
    ("f(x[n]; A[m, n]) = sum(A @ x) + sum(x^2)", "a sum of two terms"),
    ("f(w; x[n]) = sum(w*x - sum(x))", "a sum over n inside the terms"),
    ("f(w; x[n]) = sum(w*x / n)", "use the count n itself"),
    ("f(w[d]; X[n, d], y[n]) = sum((X @ w) * (y @ X @ w))", "contracts over n"),
    ("f(x[n]) = sum(x^2)", "no size name is carried by data alone"),
    ("f(w; x[n]) = sum(exp(w*x) * x[0])", "a subscript picks rows of n"),
    ("f(w; x[n]) = sum(exp(w*x[1:]))", "it sums over n-1, not n"),
]


def test_a_column_of_the_data_keeps_its_rows():
    f = symgrad.function("f(w; X[n, d]) = mean((X[:, 0] * w - X[:, 1])^2)")
    X, dX = _rows((1000, 3), 300)
    value, (dw,) = dask.compute(*sd.value_and_grad(f, [0.5], X=dX))
    r = X[:, 0] * 0.5 - X[:, 1]
    assert np.isclose(value, np.mean(r**2), rtol=1e-12)
    assert np.isclose(dw, np.mean(2 * r * X[:, 0]), rtol=1e-12)


@pytest.mark.parametrize("text,why", REFUSED, ids=[r[1] for r in REFUSED])
def test_not_a_sum_of_rows_is_refused_saying_why(text, why):
    f = symgrad.function(text)
    with pytest.raises(SymgradError, match="is not a sum over a data axis") as error:
        sd.data_sum(f.function)
    assert why in str(error.value)


def test_parameters_and_data_are_checked_by_name():
    f = symgrad.load(SAMPLES / "logistic_regression.sg").loss
    X, y = da.zeros((10, 2), chunks=5), da.zeros(10, chunks=5)
    with pytest.raises(SymgradError, match="missing b"):
        sd.value_and_grad(f, {"w": np.zeros(2)}, X=X, y=y)
    with pytest.raises(SymgradError, match="missing y"):
        sd.value_and_grad(f, {"w": np.zeros(2), "b": 0.0}, X=X)
    with pytest.raises(SymgradError, match=r"w: has shape \(3,\), .* needs d = 2"):
        sd.value_and_grad(f, {"w": np.zeros(3), "b": 0.0}, X=X, y=y)
    with pytest.raises(SymgradError, match=r"b: expected shape \(\), got \(1,\)"):
        sd.value_and_grad(f, {"w": np.zeros(2), "b": [0.0]}, X=X, y=y)


def test_a_decorated_scalar_function_has_no_data_axis():
    @symgrad.compile
    def loss(w, x):
        return (w * x - 1.0) ** 2

    with pytest.raises(SymgradError, match="no size name is carried by data alone"):
        sd.value_and_grad(loss, [1.0], x=da.ones(4, chunks=2))


@pytest.mark.slow
def test_the_training_sample_recovers_the_model():
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, str(root / "samples" / "train_dask.py")]
    command += ["--rows", "40000", "--chunk", "10000", "--iterations", "40"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    losses = [float(line.split()[3]) for line in lines if line.startswith("iteration")]
    assert len(losses) >= 3 and losses[-1] < losses[0]
    fitted = next(line for line in lines if line.startswith("fitted w"))
    w = np.array(json.loads(fitted.split("w ", 1)[1].split("] ")[0] + "]"))
    truth = np.array([(-1.0) ** k * (k + 1) / 10 for k in range(10)])
    assert np.max(np.abs(w - truth)) < 0.15  # 40,000 rows: errors of a few 0.01


def test_compiled_objects_pass_dask_arrays_through_lazily():
    loss = symgrad.load(SAMPLES / "logistic_regression.sg").loss
    X, dX = _rows((400, 3), 100)
    y = (X[:, 1] > 0).astype(float)
    dy = da.from_array(y, chunks=100)
    w = np.array([0.1, -0.2, 0.3])
    for call in (loss, loss.grad, loss.value_and_grad, loss.hessian):
        _lazy_equals_numpy(call, [w, 0.5, X, y], [w, 0.5, dX, dy])
    f = symgrad.function("f(x, y) = x^2*y + y + 2")
    _lazy_equals_numpy(f.grad, [X[:, 0], 2.0], [dX[:, 0], 2.0])


def test_a_function_of_many_parameters_on_dask_is_lazy_and_equal():
    # past 32 parameters the wrapper converts them in one _as_arrays call
    terms = " + ".join(f"(x{k} - {k / 10})^2 * x{k + 1}" for k in range(1, 40))
    f = symgrad.function(f"f({', '.join(f'x{k}' for k in range(1, 41))}) = {terms}")
    points = [np.linspace(0.1, 1.0, 6) + k for k in range(40)]
    lazy = [da.from_array(p, chunks=3) for p in points]
    for call in (f, f.grad, f.hessian):
        _lazy_equals_numpy(call, points, lazy)
