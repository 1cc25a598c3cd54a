"""Print a value, gradient and Hessian from the compiled samples (run after compiling)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import graph  # noqa: E402  (the compiled samples/graph.py)
import poly  # noqa: E402
import rosenbrock  # noqa: E402

print("f(x, y) = x^2*y + y + 2 at (3, 4)")
print("  value   ", poly.f(3.0, 4.0))
print("  gradient", poly.f_grad(3.0, 4.0))
print("  Hessian ", poly.f_hessian(3.0, 4.0).tolist())
print("J = 3(a + bc) at (5, 3, 2)")
print("  value   ", graph.J(5.0, 3.0, 2.0))
print("  gradient", graph.J_grad(5.0, 3.0, 2.0))
print("Rosenbrock at its minimum (1, 1)")
print("  gradient", rosenbrock.rosen_grad(1.0, 1.0))
print("  Hessian ", rosenbrock.rosen_hessian(1.0, 1.0).tolist())

import numpy as np  # noqa: E402

import logistic_regression  # noqa: E402

rng = np.random.default_rng(0)
X, y = rng.normal(size=(1000, 3)), rng.integers(0, 2, size=1000).astype(float)
w, b = np.zeros(3), 0.0
print("Logistic regression on 1000 examples: 100 gradient steps from w = 0")
for step in range(100):
    loss, (dw, db) = logistic_regression.loss_value_and_grad(w, b, X, y)
    w, b = w - 0.5 * dw, b - 0.5 * db
print(
    "  loss    ",
    round(float(loss), 6),
    "(log 2 =",
    round(float(np.log(2)), 6),
    "at w = 0)",
)
print("  gradient", np.round(dw, 8).tolist(), round(float(db), 8))
