"""Fit logistic_regression.sg on data dask generates in chunks, never all in memory.

python samples/train_dask.py [--rows 100000000] [--chunk 1000000] [--method lbfgs|gd]

The data are 10 normal features per row and labels drawn from a known logistic
model (w_true, b_true); dask generates each chunk when a computation needs it, so
10^8 rows (8 GB of features) go through a process of a few hundred MB. Each
evaluation of the mean cross-entropy and its gradient is one pass over the data:
symgrad.dask.value_and_grad computes every chunk's partial sums with the generated
numpy code and adds them up in a tree. L-BFGS (scipy) needs about a dozen passes;
plain gradient descent (--method gd) one per step. --workers 2 runs the passes on a
dask.distributed LocalCluster of two worker processes instead of threads.
"""

import argparse
import time
from pathlib import Path

import dask
import dask.array as da
import numpy as np
from scipy.optimize import minimize

import symgrad
import symgrad.dask

HERE = Path(__file__).parent
W_TRUE = np.array([(-1.0) ** k * (k + 1) / 10 for k in range(10)])
B_TRUE = 0.5


def data(rows: int, chunk: int) -> tuple[da.Array, da.Array]:
    """X[rows, 10] normal and y[rows] in {0, 1} from the logistic model, lazily."""
    rng = da.random.default_rng(0)
    X = rng.standard_normal((rows, W_TRUE.size), chunks=(chunk, W_TRUE.size))
    p = 1 / (1 + da.exp(-(X @ W_TRUE + B_TRUE)))
    y = (rng.random(rows, chunks=chunk) < p).astype(float)
    return X, y


class Objective:
    """The loss and its gradient over the flat vector (w, b), one dask pass each."""

    def __init__(self, X: da.Array, y: da.Array):
        self.loss = symgrad.load(HERE / "logistic_regression.sg").loss
        self.X, self.y = X, y
        self.passes, self.start = 0, time.perf_counter()
        self.last = (np.nan, np.nan)  # the last evaluation's value and |gradient|

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """(value, gradient) at theta = (w, b): computed by dask, chunk by chunk."""
        params = {"w": theta[:-1], "b": theta[-1]}
        lazy = symgrad.dask.value_and_grad(self.loss, params, X=self.X, y=self.y)
        value, (dw, db) = dask.compute(*lazy)
        self.passes += 1
        gradient = np.append(dw, db)
        self.last = (float(value), float(np.linalg.norm(gradient)))
        return float(value), gradient

    def progress(self, step: int, value: float) -> None:
        """One line per iteration: the loss, the gradient's norm, passes, seconds."""
        norm = self.last[1]
        elapsed = time.perf_counter() - self.start
        print(
            f"iteration {step:3d}  loss {value:.8f}  |grad| {norm:.2e}  "
            f"passes {self.passes:3d}  {elapsed:7.1f} s",
            flush=True,
        )


def fit(objective: Objective, method: str, iterations: int) -> np.ndarray:
    """Minimize from zero with L-BFGS or fixed-step gradient descent."""
    theta = np.zeros(W_TRUE.size + 1)
    if method == "gd":
        for step in range(1, iterations + 1):
            value, gradient = objective(theta)
            objective.progress(step, value)  # the loss where the step starts
            theta = theta - 2.0 * gradient  # the mean loss's curvature is below 1/4
        return theta
    steps = iter(range(1, iterations + 1))

    def callback(intermediate_result):  # scipy passes the accepted point's value
        objective.progress(next(steps), intermediate_result.fun)

    result = minimize(
        objective, theta, jac=True, method="L-BFGS-B", callback=callback,
        options={"maxiter": iterations, "gtol": 1e-9},
    )  # fmt: skip
    return result.x


def main() -> None:
    """Generate the data lazily, fit, and compare with the model's parameters."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10**8)
    parser.add_argument("--chunk", type=int, default=10**6)
    parser.add_argument("--method", choices=["lbfgs", "gd"], default="lbfgs")
    parser.add_argument("--iterations", type=int, default=25)
    parser.add_argument("--workers", type=int, default=0, help="a LocalCluster")
    args = parser.parse_args()
    client = None
    if args.workers:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=args.workers, threads_per_worker=1, dashboard_address=None
        )
        client = Client(cluster)
    X, y = data(args.rows, min(args.chunk, args.rows))
    print(
        f"logistic regression on {args.rows:,} rows x {W_TRUE.size} features "
        f"({X.nbytes / 1e9:.1f} GB, generated in {X.numblocks[0]} chunks), "
        f"{args.method}, {'%d workers' % args.workers if client else 'threads'}",
        flush=True,
    )
    objective = Objective(X, y)
    theta = fit(objective, args.method, args.iterations)
    print("fitted w", np.round(theta[:-1], 3).tolist(), f"b {theta[-1]:.3f}")
    print("true   w", np.round(W_TRUE, 3).tolist(), f"b {B_TRUE:.3f}")
    if client is not None:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
