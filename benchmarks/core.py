"""Compiler-core figures: Rosenbrock compile time and Hessian entries, nested scaling.

Run: python benchmarks/core.py   (prints figures; asserts nothing: see the issue notes)
"""

from __future__ import annotations

import ast
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.workloads import nested, rosenbrock  # noqa: E402
from codegen.load import load  # noqa: E402
from codegen.module import render  # noqa: E402
from symgrad.api import differentiate, module_spec  # noqa: E402
from symgrad.lower import lower  # noqa: E402
from symgrad.parser import parse  # noqa: E402


def compile_timed(text: str) -> tuple[str, dict[str, float]]:
    """Compile text, timing each stage (seconds)."""
    t0 = time.perf_counter()
    program = lower(parse(text))
    t1 = time.perf_counter()
    spec = module_spec(program, "bench.sg")
    t2 = time.perf_counter()
    source = render(spec)
    t3 = time.perf_counter()
    load(source, "bench", "<bench>")
    t4 = time.perf_counter()
    stages = {"parse+lower": t1 - t0, "differentiate": t2 - t1, "generate": t3 - t2}
    return source, stages | {"load": t4 - t3, "total": t4 - t0}


def statements_in(source: str, function: str) -> int:
    """How many statements the body of one generated function has."""
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            return sum(1 for _ in ast.walk(node) if isinstance(_, ast.stmt)) - 1
    raise KeyError(function)


def rosenbrock_report(n: int) -> None:
    """Compile time and Hessian entry count for extended Rosenbrock in n variables."""
    source, stages = compile_timed(rosenbrock(n))
    (function,) = lower(parse(rosenbrock(n))).functions
    hessian = differentiate(function, {}).hessian
    diagonal = sum(1 for i, j in hessian if i == j)
    figures = "  ".join(f"{k} {v:.3f}s" for k, v in stages.items())
    print(f"rosenbrock n={n:>5}: {figures}")
    print(
        f"    Hessian entries computed: {diagonal} diagonal + "
        f"{len(hessian) - diagonal} off-diagonal (dense upper triangle: {n * (n + 1) // 2})"
    )


def nested_report(depths: list[int]) -> None:
    """Statement counts of the generated functions for the nested composition."""
    print("nested x_{k+1} = sin(x_k)*x_k + exp(-x_k^2):")
    print(f"    {'depth':>5} {'value':>6} {'grad':>6} {'hessian':>8} {'compile':>8}")
    for depth in depths:
        source, stages = compile_timed(nested(depth))
        counts = [
            statements_in(source, f) for f in ("nest", "nest_grad", "nest_hessian")
        ]
        print(
            f"    {depth:>5} {counts[0]:>6} {counts[1]:>6} {counts[2]:>8} {stages['total']:>7.3f}s"
        )


if __name__ == "__main__":
    for n in (10, 100, 1000):
        rosenbrock_report(n)
    nested_report([10, 20, 40, 80])
