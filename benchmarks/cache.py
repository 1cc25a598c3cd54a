"""Cold vs warm import of a module that uses @symgrad.compile (the disk cache).

Run: python benchmarks/cache.py [--installed] [--only WORKLOAD] [--repeats N]

Each workload is written to a file and imported, as a user's module would be. Two
measures, side by side:
- decorate: `import workload` with all of symgrad imported beforehand. This is what
  the cache itself saves (a hit skips differentiation, code generation and compile).
- import: `import symgrad` and then `import workload`, with numpy imported before
  timing (the user's code and the generated modules need it either way). This is
  what a user waits for, symgrad's own import included; the cold path imports the
  code generator on demand, the warm path never does.
Bytecode caching is left on (PYTHONDONTWRITEBYTECODE unset), as on a user's machine,
and an untimed process runs first so that symgrad's own bytecode is written.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The first two are the samples (samples/rosenbrock.sg: rosen and rosen4; nested.sg).
WORKLOADS = {
    "rosenbrock sample": """
        @symgrad.compile
        def rosen(x, y):
            return (1 - x)**2 + 100*(y - x**2)**2

        @symgrad.compile
        def rosen4(x1, x2, x3, x4):
            return (100*(x2 - x1**2)**2 + (1 - x1)**2 + 100*(x3 - x2**2)**2
                    + (1 - x2)**2 + 100*(x4 - x3**2)**2 + (1 - x3)**2)
    """,
    "nested sample (depth 10)": """
        @symgrad.compile
        def nested(x):
            for _ in range(10):
                x = np.sin(x)*x + np.exp(-x**2)
            return x
    """,
    "rosenbrock 2-D": """
        @symgrad.compile
        def rosen(x, y):
            return (1 - x)**2 + 100*(y - x**2)**2
    """,
    "rosenbrock n=50": """
        names = ", ".join(f"x{i}" for i in range(50))
        terms = " + ".join(f"100*(x{i+1} - x{i}**2)**2 + (1 - x{i})**2" for i in range(49))
        namespace = {}
        exec(f"def rosen50({names}):\\n    return {terms}\\n", namespace)
        rosen50 = symgrad.compile(namespace["rosen50"])
    """,
    "logistic regression (arrays, annotated)": """
        from symgrad import Array, Data

        @symgrad.compile
        def loss(w: Array["d"], b: float, X: Data["n", "d"], y: Data["n"]):
            z = X @ w + b
            return np.mean(np.logaddexp(0, z) - y * z)
    """,
    "logistic regression (arrays, first call)": """
        @symgrad.compile(wrt=("w", "b"))
        def loss(w, b, X, y):
            z = X @ w + b
            return np.mean(np.logaddexp(0, z) - y * z)

        loss(np.zeros(3), 0.0, np.ones((5, 3)), np.ones(5))
    """,
    "nested depth 30": """
        @symgrad.compile
        def nested30(x):
            for _ in range(30):
                x = np.sin(x)*x + np.exp(-x**2)
            return x
    """,
}

HEADER = "import numpy as np\nimport symgrad\n\n"

# {preload} imports what is imported before the clock starts.
PROBE = """
import time
{preload}
start = time.perf_counter()
import symgrad
import workload
print(time.perf_counter() - start)
"""
PRELOAD = {
    "decorate": "import numpy, symgrad.decorator, symgrad.api, codegen.module",
    "import": "import numpy",
}


def import_seconds(directory: Path, cache_dir: str, measure: str, root: Path) -> float:
    """Seconds to import the workload in a fresh process (see PRELOAD), symgrad from root."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env |= {"SYMGRAD_CACHE_DIR": cache_dir, "PYTHONPATH": f"{directory}:{root}"}
    code = PROBE.format(preload=PRELOAD[measure])
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, cwd=directory)  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def cold_and_warm(
    definition: str, measure: str, repeats: int, root: Path
) -> tuple[float, float]:
    """Median cold and warm seconds over `repeats` fresh cache directories."""
    cold, warm = [], []
    with tempfile.TemporaryDirectory() as work:
        directory = Path(work)
        (directory / "workload.py").write_text(HEADER + textwrap.dedent(definition))
        for k in range(repeats):
            cache_dir = str(directory / f"cache{k}")
            cold.append(import_seconds(directory, cache_dir, measure, root))
            warm.append(import_seconds(directory, cache_dir, measure, root))
    return statistics.median(cold), statistics.median(warm)


def install_wheel(target: str) -> Path:
    """This checkout installed as a wheel into target (pip install --target)."""
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-deps",
               "--no-build-isolation", "--target", target, str(ROOT)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    return Path(target)


def main() -> None:
    """Print cold and warm import times and their ratios per workload and measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(WORKLOADS),
        help="a workload to measure (repeatable; default: all)",
    )
    parser.add_argument(
        "--measure",
        action="append",
        choices=sorted(PRELOAD),
        help="decorate or import (repeatable; default: both)",
    )
    parser.add_argument("--installed", action="store_true",
                        help="measure a wheel built from this checkout, as users "
                        "install it, instead of the source tree")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as target:
        root = install_wheel(target) if args.installed else ROOT
        cold_and_warm(WORKLOADS["rosenbrock sample"], "import", 1, root)  # bytecode
        where = "an installed wheel" if args.installed else "the source tree"
        print(f"symgrad from {where}; median of {args.repeats} fresh processes, ms\n")
        print("| workload | measure | cold | warm | cold/warm |\n|---|---|---|---|---|")
        for name in args.only or WORKLOADS:
            for measure in args.measure or PRELOAD:
                c, w = cold_and_warm(WORKLOADS[name], measure, args.repeats, root)
                print(f"| {name} | {measure} | {c * 1e3:.2f} | {w * 1e3:.2f} "
                      f"| {c / w:.1f}x |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
