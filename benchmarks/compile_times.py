"""Compile times of Rosenbrock in n variables for several checkouts, side by side.

Each measurement runs in a fresh process with PYTHONPATH set to one checkout; the
checkouts take turns within every repeat, so a busy machine slows them alike:

    python benchmarks/compile_times.py --sizes 1000 3000 10000 OLD NEW

For each checkout and size: the library's stages (parse, lower, differentiate,
render, load, and the compile of the bodies load defers to their first calls: the
whole compile, none of it run), and with --cli the wall time of `python -m symgrad
compile` (the process, imports included), as medians (or, with --min, the fastest
run: on a shared machine the least disturbed one); then the exponent of the total
between the two largest sizes. benchmarks/run.py's compile is what a user waits
for before the value, gradient and Hessian: it calls them once, and so compiles
three of the six deferred bodies.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.workloads import rosenbrock  # noqa: E402

STAGES = """
import json, sys, time
from codegen.load import load
from codegen.module import render
from symgrad.api import module_spec
from symgrad.lower import lower
from symgrad.parser import parse
try:  # the collector as compile_source leaves it (paused since issue 15)
    from symgrad.collector import paused
except ImportError:  # an older checkout: compiled with the collector on
    from contextlib import nullcontext as paused
text = open(sys.argv[1], encoding="utf-8").read()
marks = [time.perf_counter()]
with paused():
    tree = parse(text, "bench.sg"); marks.append(time.perf_counter())
    program = lower(tree); marks.append(time.perf_counter())
    spec = module_spec(program, "bench.sg"); marks.append(time.perf_counter())
    source = render(spec); marks.append(time.perf_counter())
    module = load(source, "bench", "<bench>"); marks.append(time.perf_counter())
    # the bodies load defers to their first calls, compiled here
    for compile_body in getattr(module, "__deferred__", {}).values():
        compile_body()
    marks.append(time.perf_counter())
names = ("parse", "lower", "differentiate", "render", "load", "deferred")
figures = {k: b - a for k, a, b in zip(names, marks, marks[1:])}
print(json.dumps(figures | {"total": marks[-1] - marks[0], "chars": len(source)}))
"""
KEYS = (
    "parse",
    "lower",
    "differentiate",
    "render",
    "load",
    "deferred",
    "total",
    "cli",
)


def run_stages(checkout: Path, source: Path) -> dict[str, float]:
    """The library's stage times for one file, in a fresh process."""
    env = os.environ | {"PYTHONPATH": str(checkout)}
    command = [sys.executable, "-c", STAGES, str(source)]
    # cwd too: python -c puts the working directory first on sys.path
    out = subprocess.run(
        command, env=env, cwd=checkout, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def run_cli(checkout: Path, source: Path, output: Path) -> float:
    """Wall seconds of `python -m symgrad compile source -o output`."""
    env = os.environ | {"PYTHONPATH": str(checkout)}
    command = [
        sys.executable,
        "-m",
        "symgrad",
        "compile",
        str(source),
        "-o",
        str(output),
    ]
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, cwd=checkout)
    return time.perf_counter() - start


def measure(checkouts: list[Path], sizes: list[int], repeat: int, cli: bool) -> dict:
    """{(checkout, size): {stage: [seconds, ...]}}, the checkouts taking turns."""
    samples: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            source = Path(tmp) / f"rosen{size}.sg"
            source.write_text(rosenbrock(size), encoding="utf-8")
            for _ in range(repeat):
                for checkout in checkouts:
                    row = samples.setdefault((checkout, size), {})
                    for key, value in run_stages(checkout, source).items():
                        row.setdefault(key, []).append(value)
                    if cli:
                        seconds = run_cli(checkout, source, Path(tmp) / "out.py")
                        row.setdefault("cli", []).append(seconds)
                    print(f"  {checkout} n={size}: done", file=sys.stderr)
    return samples


def table(
    samples: dict, checkouts: list[Path], sizes: list[int], pick=statistics.median
) -> list[str]:
    """pick (median) per checkout and size, and the exponent between the largest sizes."""
    keys = [k for k in KEYS if any(k in row for row in samples.values())]
    lines = [
        "| checkout | n | " + " | ".join(f"{k} s" for k in keys) + " | module chars |",
        "|---|---|" + "---|" * (len(keys) + 1),
    ]
    for checkout in checkouts:
        for size in sizes:
            row = samples[(checkout, size)]
            cells = [f"{pick(row[k]):.3g}" for k in keys]
            chars = int(row["chars"][0])
            lines.append(
                f"| {checkout} | {size} | " + " | ".join(cells) + f" | {chars} |"
            )
    if len(sizes) >= 2:
        a, b = sizes[-2], sizes[-1]
        lines.append("")
        for checkout in checkouts:
            exps = []
            for key in ("total", "cli"):
                if key in keys:
                    ta = pick(samples[(checkout, a)][key])
                    tb = pick(samples[(checkout, b)][key])
                    k = math.log(tb / ta) / math.log(b / a)
                    exps.append(f"{key} ∝ n^{k:.2f}")
            lines.append(f"{checkout}: between n = {a} and {b}, " + ", ".join(exps))
    return lines


def main(argv: list[str] | None = None) -> int:
    """Measure and print the markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs="+", type=Path)
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 3000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cli", action="store_true", help="also time the CLI")
    parser.add_argument("--min", action="store_true", help="fastest run, not median")
    args = parser.parse_args(argv)
    checkouts = [c.resolve() for c in args.checkouts]
    samples = measure(checkouts, args.sizes, args.repeat, args.cli)
    pick = min if args.min else statistics.median
    print("\n".join(table(samples, checkouts, args.sizes, pick)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
