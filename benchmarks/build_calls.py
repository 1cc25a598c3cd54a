"""Call times of two builds of the same generated modules, side by side in one process.

Compile the workloads with each checkout, then time both sets of modules on the same
points, alternating between them so that a busy machine slows both alike:

    PYTHONPATH=OLD python benchmarks/build_calls.py --compile /tmp/before
    PYTHONPATH=NEW python benchmarks/build_calls.py --compile /tmp/after
    python benchmarks/build_calls.py /tmp/before /tmp/after

Figures: one gradient (or Hessian) call with Python floats in, and one call on a
batch of 10,000 points per variable; the median of 7 samples of timeit's autorange.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import timeit
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.workloads import nested, poly, rosenbrock  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
WORKLOADS: dict[str, str] = {
    "poly": poly(),
    "rosenbrock10": rosenbrock(10),
    "rosenbrock100": rosenbrock(100),
    "nested10": nested(10),
    "logistic": (SAMPLES / "logistic.sg").read_text(encoding="utf-8"),
}
CALLS = [
    ("poly", "f_grad"),
    ("poly", "f_value_and_grad"),
    ("poly", "f_hessian"),
    ("rosenbrock10", "rosen_grad"),
    ("rosenbrock10", "rosen_hessian"),
    ("rosenbrock100", "rosen_grad"),
    ("nested10", "nest_grad"),
    ("nested10", "nest_hessian"),
    ("logistic", "loss_grad"),
    ("logistic", "loss_hessian"),
]
BATCH = 10_000


def compile_into(directory: Path) -> None:
    """Write every workload's generated module into directory (symgrad on sys.path)."""
    from symgrad.api import compile_source

    directory.mkdir(parents=True, exist_ok=True)
    for name, text in WORKLOADS.items():
        source = compile_source(text, f"{name}.sg")
        (directory / f"{name}.py").write_text(source, encoding="utf-8")


def load(path: Path, tag: str) -> ModuleType:
    """Import one generated module file under a unique name."""
    spec = importlib.util.spec_from_file_location(f"{tag}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seconds(call: Callable[[], Any]) -> float:
    """Median seconds per call over 7 autoranged samples of at least 0.05 s."""
    timer = timeit.Timer(call)
    number, _ = timer.autorange()
    number = max(1, number // 4)
    return statistics.median(t / number for t in timer.repeat(7, number))


def arguments(function: Callable, batch: bool) -> list[Any]:
    """Python floats, or arrays of BATCH points, one per parameter (fixed seed)."""
    rng = np.random.default_rng(0)
    count = function.__code__.co_argcount
    if batch:
        return [rng.uniform(0.3, 1.5, BATCH) for _ in range(count)]
    return [float(v) for v in rng.uniform(0.3, 1.5, count)]


def same(a: Any, b: Any) -> bool:
    """The same results bit for bit: equal types, shapes, dtypes and values."""
    if isinstance(a, tuple):
        return type(b) is tuple and len(a) == len(b) and all(map(same, a, b))
    return (
        type(a) is type(b)
        and np.shape(a) == np.shape(b)
        and np.asarray(a).dtype == np.asarray(b).dtype
        and np.asarray(a).tobytes() == np.asarray(b).tobytes()
    )


def compare(before: Path, after: Path) -> list[str]:
    """A markdown table: each call's time with both builds and their ratio."""
    rows = [
        "| call | point before µs | point after µs | ratio "
        "| batch before ms | batch after ms | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for module, name in CALLS:
        old = getattr(load(before / f"{module}.py", "before"), name)
        new = getattr(load(after / f"{module}.py", "after"), name)
        figures = []
        for batch, scale in ((False, 1e6), (True, 1e3)):
            args = arguments(old, batch)
            assert same(old(*args), new(*args)), (module, name)
            pair = [0.0, 0.0]
            for _ in range(3):  # alternate: a busy machine slows both alike
                pair = [
                    p + seconds(lambda f=f: f(*args)) / 3
                    for p, f in zip(pair, (old, new))
                ]
            figures += [
                f"{pair[0] * scale:.3g}",
                f"{pair[1] * scale:.3g}",
                f"{pair[1] / pair[0]:.2f}",
            ]
        rows.append(f"| {module}.{name} | " + " | ".join(figures) + " |")
    return rows


def main(argv: list[str] | None = None) -> int:
    """Compile the workloads, or compare two directories of compiled workloads."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compile", type=Path, help="write the modules here")
    parser.add_argument("dirs", nargs="*", type=Path, help="BEFORE AFTER")
    args = parser.parse_args(argv)
    if args.compile:
        compile_into(args.compile)
        return 0
    if len(args.dirs) != 2:
        parser.error("give two directories of compiled modules, or --compile DIR")
    print("\n".join(compare(*args.dirs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
