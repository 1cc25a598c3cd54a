"""Call overhead: f(...), f.grad(...), ... against the generated functions they call.

Prints one table: per call, the time through the compiled object, the time of the
generated function called directly, and their ratio (issue #15 item 1: within 1.2x
for positional floats). Both are timed in the same run, interleaved, the minimum of
`--repeat` rounds of `--number` calls each, so a busy machine slows both alike.

    python benchmarks/calls.py [--number 20000] [--repeat 15]
"""

from __future__ import annotations

import argparse
import os
import sys
import timeit
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import symgrad  # noqa: E402


def energy(x, y, k=2.0):
    """A source with a default (data): keywords and defaults go through a binder."""
    return k * (x - y) ** 2 / 2


Case = tuple[str, Callable, Callable, str, str]


def cases() -> list[Case]:
    """(label, callable through symgrad, the generated function, its arguments, ours)."""
    f = symgrad.function("f(x, y) = x^2*y + y + 2")
    m = f.module
    e = symgrad.compile(energy)
    me = e.module
    point, vector, full = "3.0, 4.0", "3.0, 4.0, 1.0, 0.0", "3.0, 1.0, 2.0"
    return [
        ("f(3.0, 4.0)", f, m.f, point, point),
        ("f.grad", f.grad, m.f_grad, point, point),
        ("f.value_and_grad", f.value_and_grad, m.f_value_and_grad, point, point),
        ("f.hessian", f.hessian, m.f_hessian, point, point),
        ("f.hvp", f.hvp, m.f_hvp, vector, vector),
        ("energy(3.0, 1.0, 2.0)", e, me.energy, full, full),
        ("energy.grad(3.0, 1.0, 2.0)", e.grad, me.energy_grad, full, full),
        ("energy.grad(3.0, 1.0), default k", e.grad, me.energy_grad, full, "3.0, 1.0"),
        ("energy.grad(x=3.0, y=1.0)", e.grad, me.energy_grad, full, "x=3.0, y=1.0"),
    ]


def best(fn: Callable, arguments: str, number: int) -> float:
    """Seconds per call of one round of `number` calls of fn(arguments)."""
    return timeit.timeit(f"fn({arguments})", globals={"fn": fn}, number=number) / number


def main(argv: list[str] | None = None) -> int:
    """Time every case and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    rows = cases()
    times = {row[0]: [float("inf"), float("inf")] for row in rows}
    for _ in range(args.repeat):  # interleaved rounds: load hits both columns
        for label, ours, generated, arguments, our_arguments in rows:
            t = times[label]
            t[0] = min(t[0], best(ours, our_arguments, args.number))
            t[1] = min(t[1], best(generated, arguments, args.number))
    print(f"Python {sys.version.split()[0]}, {args.repeat} rounds x {args.number}")
    print("| call | symgrad | generated | ratio |\n|---|---:|---:|---:|")
    for label, *_ in rows:
        ours, generated = times[label]
        print(
            f"| {label} | {ours * 1e6:.3f} us | {generated * 1e6:.3f} us"
            f" | {ours / generated:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
