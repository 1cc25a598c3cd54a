"""Expression-file text for the benchmark workloads (generated, so any size is one call)."""

from __future__ import annotations


def rosenbrock(n: int) -> str:
    """Extended Rosenbrock in n scalar variables: sum 100(x_{i+1} - x_i^2)^2 + (1 - x_i)^2."""
    params = ", ".join(f"x{i}" for i in range(1, n + 1))
    terms = " + ".join(
        f"100*(x{i + 1} - x{i}^2)^2 + (1 - x{i})^2" for i in range(1, n)
    )
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
