"""Expression-file text for the benchmark workloads (generated, so any size is one call)."""

from __future__ import annotations

from typing import Any


def rosenbrock(n: int) -> str:
    """Extended Rosenbrock in n scalar variables: sum 100(x_{i+1} - x_i^2)^2 + (1 - x_i)^2."""
    params = ", ".join(f"x{i}" for i in range(1, n + 1))
    terms = " + ".join(f"100*(x{i + 1} - x{i}^2)^2 + (1 - x{i})^2" for i in range(1, n))
    return f"rosen({params}) = {terms}\n"


def nested(depth: int) -> str:
    """x_{k+1} = sin(x_k)*x_k + exp(-x_k^2), as named intermediates, to the given depth."""
    lines = ["x0 = x"]
    for k in range(depth):
        lines.append(f"x{k + 1} = sin(x{k})*x{k} + exp(-x{k}^2)")
    lines.append(f"nest(x) = x{depth}")
    return "\n".join(lines) + "\n"


def sine_tower(levels: int = 7) -> str:
    """sin(sin(...sin(x)...)) with the given number of sines."""
    return "tower(x) = " + "sin(" * levels + "x" + ")" * levels + "\n"


def poly() -> str:
    """The README's example: f(x, y) = x^2*y + y + 2."""
    return "f(x, y) = x^2*y + y + 2\n"


def sine_tower_expression(levels: int = 7) -> str:
    """The expression of sine_tower alone, for symgrad.api.diff."""
    return "sin(" * levels + "x" + ")" * levels


# Python builders of the same expressions, generic in a math namespace `m` that
# provides sin, exp and total (a sum of many terms): every peer builds from these.


def poly_fn(m: Any, x: Any, y: Any) -> Any:
    """x^2*y + y + 2 built with the namespace m."""
    return x**2 * y + y + 2


def rosenbrock_fn(m: Any, *x: Any) -> Any:
    """Extended Rosenbrock over the scalars x, built with the namespace m."""
    terms = [
        100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1)
    ]
    return m.total(terms)


def nested_fn(m: Any, x: Any, depth: int) -> Any:
    """x_{k+1} = sin(x_k)*x_k + exp(-x_k^2), depth times, built with the namespace m."""
    for _ in range(depth):
        x = m.sin(x) * x + m.exp(-(x**2))
    return x


def sine_tower_fn(m: Any, x: Any, levels: int = 7) -> Any:
    """sin(sin(...sin(x)...)) built with the namespace m."""
    for _ in range(levels):
        x = m.sin(x)
    return x
