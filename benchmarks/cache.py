"""Cold vs warm @symgrad.compile: the disk cache skips differentiation and codegen.

Run: python benchmarks/cache.py   (each figure is the median of fresh processes)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Each workload defines its functions at import time, as a user's module would; the
# first two are the samples (samples/rosenbrock.sg: rosen and rosen4; nested.sg).
WORKLOADS = {
    "rosenbrock sample": """
        def rosen(x, y):
            return (1 - x)**2 + 100*(y - x**2)**2
        def rosen4(x1, x2, x3, x4):
            return (100*(x2 - x1**2)**2 + (1 - x1)**2 + 100*(x3 - x2**2)**2
                    + (1 - x2)**2 + 100*(x4 - x3**2)**2 + (1 - x3)**2)
        functions = [rosen, rosen4]
    """,
    "rosenbrock 2-D": """
        def f(x, y):
            return (1 - x)**2 + 100*(y - x**2)**2
        functions = [f]
    """,
    "rosenbrock n=50": """
        names = ", ".join(f"x{i}" for i in range(50))
        terms = " + ".join(f"100*(x{i+1} - x{i}**2)**2 + (1 - x{i})**2" for i in range(49))
        namespace = {}
        exec(f"def f({names}):\\n    return {terms}\\n", namespace)
        functions = [namespace["f"]]
    """,
    "nested sample (depth 10)": """
        import numpy as np
        def f(x):
            for _ in range(10):
                x = np.sin(x)*x + np.exp(-x**2)
            return x
        functions = [f]
    """,
    "nested depth 30": """
        import numpy as np
        def f(x):
            for _ in range(30):
                x = np.sin(x)*x + np.exp(-x**2)
            return x
        functions = [f]
    """,
}

PROBE = """
import time, symgrad, symgrad.decorator  # symgrad itself is imported before timing
{definition}
start = time.perf_counter()
compiled = [symgrad.compile(f) for f in functions]
print(time.perf_counter() - start)
"""


def decorate_seconds(definition: str, cache_dir: str) -> float:
    """Seconds spent in symgrad.compile(f) in a fresh process using cache_dir."""
    env = {**os.environ, "SYMGRAD_CACHE_DIR": cache_dir, "PYTHONPATH": str(ROOT)}
    code = PROBE.format(definition=textwrap.dedent(definition))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def main(repeats: int = 5) -> None:
    """Print cold and warm decoration times and their ratio per workload."""
    print(f"{'workload':<26} {'cold (ms)':>10} {'warm (ms)':>10} {'cold/warm':>10}")
    for name, definition in WORKLOADS.items():
        cold, warm = [], []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as cache_dir:
                cold.append(decorate_seconds(definition, cache_dir))
                warm.append(decorate_seconds(definition, cache_dir))
        c, w = statistics.median(cold), statistics.median(warm)
        print(f"{name:<26} {c * 1e3:>10.2f} {w * 1e3:>10.2f} {c / w:>10.1f}")


if __name__ == "__main__":
    main()
