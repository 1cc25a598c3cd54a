"""symgrad's generated array code against hand-written numpy and JAX jit, in one run.

Run: python benchmarks/arrays.py [--quick] [--size tiny|quick|full] [--only NAME]
                                 [--skip-jax] [--no-compile] [--no-scalar]
                                 [--blas-threads N] [--profile NAME]
                                 [--json out.json] [--markdown out.md]

Three workloads of issue #11 (logistic regression, a two-layer net, the vectorized
Rosenbrock), each as `.sg` text compiled by symgrad (`symgrad.api.compile_source` +
`codegen.load.load`), as hand-written numpy and as `jax.jit` (float64). Every version
is checked against symgrad's before anything is timed; run times are medians of
interleaved samples; compile times are measured in fresh processes at two data sizes.
See benchmarks/README.md ("Arrays") for what each figure means.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import datetime
import hashlib
import inspect
import json
import multiprocessing
import os
import platform
import random
import statistics
import subprocess
import sys
import textwrap
import time
import timeit
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = 20261206
TOLERANCE = 1e-10  # hand and JAX against symgrad: max |a - b| / max |b|, per output
FD_TOLERANCE = 1e-6  # symgrad's gradient against a central difference
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

Arrays = tuple[Any, ...]

# --- the workloads as .sg text ------------------------------------------------------

LOGISTIC = "loss(w[d], b; X[n, d], y[n]) = mean(softplus(X @ w + b) - y*(X @ w + b))\n"
MLP = (
    "Z1 = W1 @ X + b1\n"
    "A1 = tanh(Z1)\n"
    "Z2 = W2 @ A1 + b2\n"
    "L(W1[h, d], b1[h, 1], W2[k, h], b2[k, 1]; X[d, m], Y[k, m]) = "
    "mean(logsumexp(Z2, 0) - sum(Y*Z2, 0))\n"
)
ROSEN = "rosen(x[n]) = sum(100*(x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)\n"


# --- hand-written numpy: what a careful person writes ------------------------------


def hand_logistic(w: Any, b: Any, X: Any, y: Any) -> tuple[float, Arrays]:
    """Mean logistic loss and its gradient in (w, b); stable softplus and sigmoid."""
    z = X @ w + b
    sp = np.logaddexp(0.0, z)  # softplus(z) without overflow
    p = np.exp(z - sp)  # sigmoid(z) = exp(z - softplus(z)), exponent <= 0
    r = (p - y) / X.shape[0]
    return np.mean(sp - y * z), (X.T @ r, r.sum())


def hand_mlp(W1: Any, b1: Any, W2: Any, b2: Any, X: Any, Y: Any) -> tuple:
    """Two-layer tanh net, softmax cross-entropy over columns: the course's backprop."""
    m = X.shape[1]
    A1 = np.tanh(W1 @ X + b1)
    Z2 = W2 @ A1 + b2
    top = Z2.max(axis=0, keepdims=True)
    E = np.exp(Z2 - top)
    S = E.sum(axis=0, keepdims=True)
    value = np.mean(np.log(S[0]) + top[0] - (Y * Z2).sum(axis=0))
    dZ2 = (E / S - Y) / m
    dW2 = dZ2 @ A1.T
    db2 = dZ2.sum(axis=1, keepdims=True)
    dZ1 = (W2.T @ dZ2) * (1 - A1**2)
    dW1 = dZ1 @ X.T
    db1 = dZ1.sum(axis=1, keepdims=True)
    return value, (dW1, db1, dW2, db2)


def hand_rosen_grad(x: Any) -> Arrays:
    """Gradient of the vectorized Rosenbrock with slices, into one preallocated array."""
    head, tail = x[:-1], x[1:]
    t = tail - head**2
    g = np.empty_like(x)
    g[:-1] = -400.0 * head * t - 2.0 * (1.0 - head)
    g[-1] = 0.0
    g[1:] += 200.0 * t
    return (g,)


# --- data ---------------------------------------------------------------------------


def logistic_data(n: int, d: int, rng: np.random.Generator) -> Arrays:
    """w, b, X, y: standard normal features, labels in {0, 1}."""
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d) / np.sqrt(d)
    y = rng.integers(0, 2, n).astype(np.float64)
    return w, np.float64(0.1), X, y


def mlp_data(d: int, h: int, k: int, m: int, rng: np.random.Generator) -> Arrays:
    """W1, b1, W2, b2, X, Y: scaled normal weights, pixels in [0, 1), one-hot labels."""
    W1 = rng.standard_normal((h, d)) / np.sqrt(d)
    b1 = 0.1 * rng.standard_normal((h, 1))
    W2 = rng.standard_normal((k, h)) / np.sqrt(h)
    b2 = 0.1 * rng.standard_normal((k, 1))
    X = rng.random((d, m))
    Y = np.ascontiguousarray(np.eye(k)[:, rng.integers(0, k, m)])
    return W1, b1, W2, b2, X, Y


def rosen_data(n: int, rng: np.random.Generator) -> Arrays:
    """x uniform in [-2, 2]."""
    return (rng.uniform(-2.0, 2.0, n),)


@dataclass(frozen=True)
class Sample:
    """One workload: its .sg text, the generated function timed, hand and data."""

    name: str
    text: str
    value: str  # the generated value function (the FD check)
    timed: str  # the generated function timed: f_value_and_grad or f_grad
    nparams: int  # differentiated parameters come first
    make: Callable[..., Arrays]
    hand: Callable[..., Any]
    sizes: dict[str, dict[str, int]]
    target: float  # symgrad / hand at most
    label: str  # the row title; {sizes} is filled in

    def data(self, size: str) -> Arrays:
        """The arguments at a named size (tiny, quick, full), from the fixed seed."""
        return self.make(**self.sizes[size], rng=np.random.default_rng(SEED))

    def title(self, size: str) -> str:
        """The row title at a size, e.g. 'logistic value-and-gradient, n=10,000, d=100'."""
        dims = ", ".join(f"{k}={v:,}" for k, v in self.sizes[size].items())
        return f"{self.label}, {dims}"


SAMPLES = {
    "logistic": Sample(
        "logistic",
        LOGISTIC,
        "loss",
        "loss_value_and_grad",
        2,
        logistic_data,
        hand_logistic,
        {
            "tiny": {"n": 50, "d": 5},
            "quick": {"n": 1000, "d": 20},
            "full": {"n": 10_000, "d": 100},
        },
        1.15,
        "logistic value-and-gradient",
    ),
    "mlp": Sample(
        "mlp",
        MLP,
        "L",
        "L_value_and_grad",
        4,
        mlp_data,
        hand_mlp,
        {
            "tiny": {"d": 12, "h": 8, "k": 3, "m": 16},
            "quick": {"d": 64, "h": 32, "k": 10, "m": 32},
            "full": {"d": 784, "h": 256, "k": 10, "m": 256},
        },
        1.15,
        "two-layer net value-and-gradient",
    ),
    "rosen": Sample(
        "rosen",
        ROSEN,
        "rosen",
        "rosen_grad",
        1,
        rosen_data,
        hand_rosen_grad,
        {"tiny": {"n": 100}, "quick": {"n": 10_000}, "full": {"n": 1_000_000}},
        1.3,
        "vectorized Rosenbrock gradient",
    ),
}
COMPILE_TARGET = 0.3  # seconds, each array sample, at any data size


# --- symgrad and JAX ---------------------------------------------------------------


def symgrad_module(sample: Sample) -> Any:
    """The sample's text compiled and loaded: the user's path, parse to module."""
    from codegen.load import load
    from symgrad import api

    text = api.compile_source(sample.text, f"{sample.name}.sg")
    return load(text, f"bench_{sample.name}", f"<{sample.name}.sg>")


def jax_or_none() -> Any:
    """jax with float64 enabled, or None when it is not installed."""
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


def jax_loss(name: str) -> Callable[..., Any]:
    """The sample's function in jax.numpy, written as the .sg text reads."""
    import jax
    import jax.numpy as jnp

    def logistic(w: Any, b: Any, X: Any, y: Any) -> Any:
        z = X @ w + b
        return jnp.mean(jax.nn.softplus(z) - y * z)

    def mlp(W1: Any, b1: Any, W2: Any, b2: Any, X: Any, Y: Any) -> Any:
        Z2 = W2 @ jnp.tanh(W1 @ X + b1) + b2
        return jnp.mean(jax.nn.logsumexp(Z2, axis=0) - jnp.sum(Y * Z2, axis=0))

    def rosen(x: Any) -> Any:
        return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    return {"logistic": logistic, "mlp": mlp, "rosen": rosen}[name]


def jax_timed(sample: Sample) -> Callable[..., Any]:
    """jit of value_and_grad (or grad) in the differentiated parameters."""
    import jax

    argnums = tuple(range(sample.nparams))
    f = jax_loss(sample.name)
    if sample.timed.endswith("_value_and_grad"):
        return jax.jit(jax.value_and_grad(f, argnums=argnums))
    return jax.jit(jax.grad(f, argnums=argnums))


def jax_hvp(sample: Sample) -> Callable[..., Any]:
    """jit of the Hessian-vector product (forward over reverse): symgrad's f_hvp."""
    import jax

    k = sample.nparams
    f = jax_loss(sample.name)

    def hvp(*args: Any) -> Any:
        params, data, vs = args[:k], args[k:-k], args[-k:]
        grad = jax.grad(lambda *p: f(*p, *data), argnums=tuple(range(k)))
        return jax.jvp(grad, params, vs)[1]

    return jax.jit(hvp)


def block(out: Any) -> Any:
    """Wait for JAX's asynchronous result (every leaf)."""
    import jax

    return jax.block_until_ready(out)


# --- agreement ----------------------------------------------------------------------


def leaves(out: Any) -> list[np.ndarray]:
    """The arrays of a (value, (grads...)) or (grads...) result, in order."""
    if isinstance(out, (tuple, list)):
        return [leaf for item in out for leaf in leaves(item)]
    return [np.asarray(out, dtype=np.float64)]


def relative_error(got: Any, want: Any) -> float:
    """max |got - want| / max |want| over each output array; the worst output."""
    worst = 0.0
    a, b = leaves(got), leaves(want)
    if len(a) != len(b):
        return float("inf")
    for x, y in zip(a, b):
        if x.shape != y.shape:
            return float("inf")
        scale = float(np.max(np.abs(y))) if y.size else 0.0
        diff = float(np.max(np.abs(x - y))) if y.size else 0.0
        worst = max(worst, diff / scale if scale > 0 else diff)
    return worst


def finite_difference_error(module: Any, sample: Sample, args: Arrays) -> float:
    """symgrad's gradient along a random direction against a central difference.

    The best of three steps (1e-4, 1e-5, 1e-6): no one step suits every workload's
    rounding (Rosenbrock's value is ~1e8 at n = 10^6) and truncation.
    """
    k = sample.nparams
    rng = np.random.default_rng(SEED + 1)
    direction = [rng.standard_normal(np.shape(p)) for p in args[:k]]
    f = getattr(module, sample.value)

    def at(step: float) -> float:
        moved = tuple(p + step * v for p, v in zip(args[:k], direction))
        return float(f(*moved, *args[k:]))

    grads = leaves(getattr(module, sample.value + "_grad")(*args))
    exact = sum(float(np.sum(g * v)) for g, v in zip(grads, direction))
    errors = [
        abs((at(h) - at(-h)) / (2 * h) - exact) / max(abs(exact), 1e-300)
        for h in (1e-4, 1e-5, 1e-6)
    ]
    return min(errors)


def check(
    sample: Sample, module: Any, args: Arrays, jax_call: Callable | None
) -> dict[str, float]:
    """Hand, JAX and a finite difference against symgrad; raises past the tolerance."""
    ours = getattr(module, sample.timed)(*args)
    errors = {"hand": relative_error(sample.hand(*args), ours)}
    if jax_call is not None:
        errors["jax"] = relative_error(jax_call(), ours)
    errors["fd"] = finite_difference_error(module, sample, args)
    for who, err in errors.items():
        limit = FD_TOLERANCE if who == "fd" else TOLERANCE
        if not err <= limit:
            raise AssertionError(
                f"{sample.name}: {who} disagrees with symgrad: {err:.3g} > {limit:g}"
            )
    return errors


# --- timing -------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """How hard to measure."""

    quick: bool = False
    # Many short samples: on a shared machine a sample of a few ms has a chance to
    # run uninterrupted, so the fastest sample is the code's own cost, and the
    # median of hundreds is steadier than the median of a few long ones.
    target: float = 0.005  # seconds per timing sample at least (timeit autorange)
    repeats: int = 201  # interleaved samples per figure at most; median reported
    least: int = 21  # samples per figure at least, whatever the budget
    budget: float = 30.0  # seconds of timing per workload, after `least` rounds
    compile_repeats: int = 3  # fresh processes per compile figure
    run_size: str = "full"
    compile_sizes: tuple[str, str] = ("quick", "full")
    timeout: float = 300.0  # seconds per fresh compile process

    @staticmethod
    def make(quick: bool) -> Settings:
        """Full settings, or quick ones: small sizes, short runs, one compile each."""
        if quick:
            return Settings(
                True, 0.002, 21, 5, 2.0, 1, "quick", ("tiny", "quick"), 120.0
            )
        return Settings()


def autorange(call: Callable[[], Any], target: float) -> int:
    """Calls per sample so that one sample lasts at least target seconds."""
    timer, number = timeit.Timer(call), 1
    while True:
        took = timer.timeit(number)
        if took >= target or number >= 10**6:
            return number
        number *= 10 if took * 10 < target / 2 else 2


def time_interleaved(calls: dict[str, Callable[[], Any]], s: Settings) -> dict:
    """Median seconds per call of each callable, samples taken in turn (drift-fair).

    The order is shuffled every round (seeded): whichever callable runs right after
    JAX's pays ~0.7 ms for fresh pages on a 1,000 x 1,000 output (JAX frees its large
    buffers), so a fixed order charged it to symgrad — the quadratic Hessian measured
    1.6x hand that way and 1.02x alone.
    """
    numbers = {who: autorange(call, s.target) for who, call in calls.items()}
    samples: dict[str, list[float]] = {who: [] for who in calls}
    start = time.perf_counter()
    order, shuffle = list(calls.items()), random.Random(0).shuffle
    for done in range(s.repeats):
        if done >= s.least and time.perf_counter() - start > s.budget:
            break
        shuffle(order)
        for who, call in order:
            took = timeit.Timer(call).timeit(numbers[who])
            samples[who].append(took / numbers[who])
    return {
        who: {
            "seconds": statistics.median(times),
            "min_seconds": min(times),
            "p10_seconds": float(np.percentile(times, 10)),
            "number": numbers[who],
            "samples": len(times),
        }
        for who, times in samples.items()
    }


def measure_runs(
    sample: Sample, s: Settings, jax: Any, log: Callable[[str], None]
) -> dict[str, Any]:
    """Check, then time symgrad, hand numpy and JAX on the same data."""
    args = sample.data(s.run_size)
    module = symgrad_module(sample)
    ours = getattr(module, sample.timed)
    calls = {"symgrad": partial(ours, *args), "hand": partial(sample.hand, *args)}
    jax_call = None
    if jax is not None:
        f, on_device = jax_timed(sample), jax.device_put(args)
        jax_call = partial(lambda f, a: block(f(*a)), f, on_device)
        jax_call()  # trace and compile: never timed
        calls["jax"] = jax_call
    errors = check(sample, module, args, jax_call)
    log(f"{sample.name}: agreement ok {errors}; timing")
    times = time_interleaved(calls, s)
    row = {"workload": sample.name, "title": sample.title(s.run_size)}
    row |= {"sizes": sample.sizes[s.run_size], "errors": errors, "times": times}
    return row


# --- compile time, in fresh processes ----------------------------------------------


def compile_worker(name: str, size: str, tool: str) -> dict[str, Any]:
    """In a fresh process: text to loaded module (or JAX's AOT compile), timed."""
    sample = SAMPLES[name]
    args = sample.data(size)
    if tool == "symgrad":
        from codegen.load import load
        from symgrad import api

        had_black = "black" in sys.modules
        start = time.perf_counter()
        text = api.compile_source(sample.text, f"{name}.sg")
        module = load(text, f"bench_{name}", f"<{name}.sg>")
        loaded = time.perf_counter()
        # codegen runs black only when its own layout left a line over 88 columns
        black_ran = not had_black and "black" in sys.modules
        getattr(module, sample.timed)(*args)
        first = time.perf_counter()
        digest = hashlib.sha256(text.encode()).hexdigest()
        return {
            "compile_s": loaded - start,
            "first_call_s": first - loaded,
            "module_chars": len(text),
            "module_sha256": digest,
            "black_ran": black_ran,
        }
    return jax_compile(sample, args)


def jax_compile(sample: Sample, args: Arrays) -> dict[str, Any]:
    """jit + lower + XLA compile of value_and_grad and the hvp at these shapes."""
    jax = jax_or_none()
    import jax.numpy as jnp

    block(jnp.zeros(1) + 1)  # the backend starts up outside the timing
    on_device = jax.device_put(args)
    vs = on_device[: sample.nparams]
    start = time.perf_counter()
    argnums = tuple(range(sample.nparams))
    vg = jax.jit(jax.value_and_grad(jax_loss(sample.name), argnums=argnums))
    vg_compiled = vg.lower(*on_device).compile()
    hvp_compiled = jax_hvp(sample).lower(*on_device, *vs).compile()
    compiled = time.perf_counter()
    block(vg_compiled(*on_device))
    block(hvp_compiled(*on_device, *vs))
    first = time.perf_counter()
    return {"compile_s": compiled - start, "first_call_s": first - compiled}


def in_fresh_process(
    worker: Callable[..., dict], args: tuple, timeout: float
) -> dict[str, Any]:
    """Run worker(*args) in a new spawned interpreter; its result or the error."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        try:
            return pool.apply_async(worker, args).get(timeout)
        except multiprocessing.TimeoutError:
            return {"error": f"did not finish in {timeout:g} s"}
        except Exception as exc:  # reported in the table, not fatal
            return {"error": f"{type(exc).__name__}: {exc}"}


def median_of(results: list[dict[str, Any]], key: str) -> float | None:
    """The median of a key over fresh-process results; None if any failed."""
    if not results or any("error" in r for r in results):
        return None
    return statistics.median(r[key] for r in results)


def measure_compile(
    sample: Sample, tools: list[str], s: Settings, log: Callable[[str], None]
) -> dict[str, Any]:
    """Compile times at two data sizes, each the median of fresh processes."""
    row: dict[str, Any] = {"workload": sample.name, "text_chars": len(sample.text)}
    for tool in tools:
        for size in s.compile_sizes:
            log(f"{sample.name}: {tool} compile at {size} size")
            runs = [
                in_fresh_process(compile_worker, (sample.name, size, tool), s.timeout)
                for _ in range(s.compile_repeats)
            ]
            row[f"{tool}@{size}"] = {
                "compile_s": median_of(runs, "compile_s"),
                "first_call_s": median_of(runs, "first_call_s"),
                "runs": runs,
            }
    if "symgrad" in tools:
        _same_module(row, sample, s)
    return row


def _same_module(row: dict[str, Any], sample: Sample, s: Settings) -> None:
    """The generated text is the same at every data size (asserted)."""
    runs = [r for size in s.compile_sizes for r in row[f"symgrad@{size}"]["runs"]]
    digests = {r.get("module_sha256") for r in runs}
    if len(digests) != 1 or None in digests:
        raise AssertionError(f"{sample.name}: module text differs by data size: {runs}")
    row["module_chars"] = runs[0]["module_chars"]
    row["module_sha256"] = digests.pop()


# --- the scalar unrolled Rosenbrock, for contrast ----------------------------------


def scalar_worker(n: int) -> dict[str, Any]:
    """In a fresh process: the scalar module of Rosenbrock n, compiled and timed."""
    from benchmarks import workloads as wl
    from codegen.load import load
    from symgrad import api

    start = time.perf_counter()
    text = api.compile_source(wl.rosenbrock(n), f"rosenbrock-{n}.sg")
    module = load(text, "bench_scalar", f"<rosenbrock-{n}.sg>")
    compile_s = time.perf_counter() - start
    (x,) = rosen_data(n, np.random.default_rng(SEED))
    floats = [float(v) for v in x]
    vector = symgrad_module(SAMPLES["rosen"])
    scalar_grad = np.array(module.rosen_grad(*floats))
    err = relative_error((scalar_grad,), vector.rosen_grad(x))
    if not err <= TOLERANCE:
        raise AssertionError(f"scalar Rosenbrock {n} disagrees: {err:.3g}")
    s = Settings()
    times = time_interleaved(
        {
            "scalar": partial(module.rosen_grad, *floats),
            "vector": partial(vector.rosen_grad, x),
        },
        s,
    )
    return {"n": n, "compile_s": compile_s, "module_chars": len(text)} | {
        "error": err,
        "times": times,
    }


# --- the report ---------------------------------------------------------------------


def blas_info() -> str:
    """numpy's BLAS as threadpoolctl sees it (library, kernel, threads), if installed."""
    try:
        import threadpoolctl
    except ImportError:
        return "threadpoolctl not installed (pip install threadpoolctl)"
    pools = threadpoolctl.threadpool_info()
    found = [
        f"{p.get('internal_api')} {p.get('version')} "
        f"{p.get('architecture', '?')} kernel, {p.get('num_threads')} threads"
        for p in pools
    ]
    return "; ".join(found) or "none found"


def git_commit() -> str:
    """The checkout's short commit (with + if the tree is dirty)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+" if dirty else "")


def machine(jax: Any) -> dict[str, Any]:
    """What the figures were measured on: CPU, versions, BLAS, threads, env."""
    from importlib import metadata

    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info = {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "symgrad": metadata.version("symgrad"),
        "commit": git_commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat("T", "seconds"),
        "blas": blas_info(),
        "env": {v: os.environ.get(v) for v in OPENBLAS_VARS + ("OMP_NUM_THREADS",)},
    }
    if jax is None:
        info["jax"] = "not installed (pip install jax jaxlib)"
    else:
        info["jax"] = f"{jax.__version__} on {jax.devices()[0].platform}, float64"
    return info


def _ms(seconds: float | None) -> str:
    """Milliseconds to three significant figures."""
    return "—" if seconds is None else f"{seconds * 1e3:.3g}"


def _ratio(a: float | None, b: float | None) -> str:
    """a / b as 1.23×."""
    return "—" if a is None or b is None else f"{a / b:.2f}×"


def run_table(rows: list[dict[str, Any]]) -> str:
    """Median run time per tool, the ratios and the issue's target."""
    lines = [
        "| workload | symgrad ms | hand numpy ms | JAX jit ms | symgrad/hand "
        "| symgrad/JAX | target | met | symgrad/hand at the 10th percentile "
        "(fastest) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        t = {who: v["seconds"] for who, v in row["times"].items()}
        low = {who: v["p10_seconds"] for who, v in row["times"].items()}
        fastest = {who: v["min_seconds"] for who, v in row["times"].items()}
        sample = SAMPLES[row["workload"]]
        ratio = t["symgrad"] / t["hand"]
        cells = [
            row["title"],
            _ms(t["symgrad"]),
            _ms(t["hand"]),
            _ms(t["jax"]) if "jax" in t else "not installed",
            _ratio(t["symgrad"], t["hand"]),
            _ratio(t["symgrad"], t.get("jax")),
            f"≤ {sample.target}× hand",
            "yes" if ratio <= sample.target else "no",
            f"{_ratio(low['symgrad'], low['hand'])} "
            f"({_ratio(fastest['symgrad'], fastest['hand'])})",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _size_label(sample: Sample, size: str) -> str:
    """The dims of a size, compactly: n=10000 d=100."""
    return " ".join(f"{k}={v}" for k, v in sample.sizes[size].items())


def _compile_cell(row: dict, key: str) -> str:
    """Compile seconds (and the first call) or the error."""
    entry = row.get(key)
    if entry is None:
        return "—"
    if entry["compile_s"] is None:
        errors = [r["error"] for r in entry["runs"] if "error" in r]
        return f"error: {errors[0]}" if errors else "—"
    return f"{entry['compile_s']:.3f} (+{entry['first_call_s'] * 1e3:.3g} ms)"


def _black_cell(row: dict[str, Any], s: Settings) -> str:
    """Whether codegen fell back on black (imported during the compile), any run."""
    runs = [
        r for z in s.compile_sizes for r in row.get(f"symgrad@{z}", {}).get("runs", [])
    ]
    flags = {r["black_ran"] for r in runs if "black_ran" in r}
    return "—" if not flags else ("yes" if True in flags else "no")


def compile_table(
    rows: list[dict[str, Any]],
    s: Settings,
    samples: dict[str, Sample] | None = None,
    target: float = COMPILE_TARGET,
) -> str:
    """Compile seconds at two data sizes, module size, the target (hessians.py's too)."""
    samples = SAMPLES if samples is None else samples
    small, large = s.compile_sizes
    lines = [
        "| sample | sizes (small; large) | .sg chars | module chars | "
        "symgrad s, small | symgrad s, large | same module | black ran "
        "| JAX s, small | JAX s, large | target | met |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        sample = samples[row["workload"]]
        ours = [row.get(f"symgrad@{z}", {}).get("compile_s") for z in (small, large)]
        met = "—" if None in ours else ("yes" if max(ours) <= target else "no")
        cells = [
            sample.name,
            f"{_size_label(sample, small)}; {_size_label(sample, large)}",
            str(row["text_chars"]),
            f"{row['module_chars']:,}" if "module_chars" in row else "—",
            _compile_cell(row, f"symgrad@{small}"),
            _compile_cell(row, f"symgrad@{large}"),
            "yes (sha256)" if "module_sha256" in row else "—",
            _black_cell(row, s),
            _compile_cell(row, f"jax@{small}"),
            _compile_cell(row, f"jax@{large}"),
            f"≤ {target} s",
            met,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def agreement_table(rows: list[dict[str, Any]]) -> str:
    """The checks that ran before timing."""
    lines = [
        "| workload | hand vs symgrad | JAX vs symgrad | symgrad vs central difference "
        "| checks |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        e = row["errors"]
        jax = f"{e['jax']:.1e}" if "jax" in e else "not run"
        cells = [row["title"], f"{e['hand']:.1e}", jax, f"{e['fd']:.1e}", "passed"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def scalar_table(scalar: dict[str, Any]) -> str:
    """The scalar unrolled Rosenbrock module against the vector one."""
    if "error" in scalar and "times" not in scalar:
        return f"Scalar Rosenbrock: {scalar['error']}"
    t = scalar["times"]
    n = scalar["n"]
    return "\n".join(
        [
            "| Rosenbrock gradient, n = {:,} | compile s | module chars | call µs |".format(
                n
            ),
            "|---|---|---|---|",
            f"| scalar module, {n:,} floats in | {scalar['compile_s']:.2f} | "
            f"{scalar['module_chars']:,} | {t['scalar']['seconds'] * 1e6:.3g} |",
            f"| vector module, one array in | (table above) | (table above) | "
            f"{t['vector']['seconds'] * 1e6:.3g} |",
        ]
    )


def header(info: dict[str, Any], s: Settings) -> list[str]:
    """Machine, versions, BLAS and threads, settings."""
    env = ", ".join(f"{k}={v}" if v else f"{k} unset" for k, v in info["env"].items())
    return [
        f"Machine: {info['nproc']} cores, {info['cpu']}, Python {info['python']}, "
        f"numpy {info['numpy']}, {info['date']}.  ",
        f"symgrad {info['symgrad']} at commit {info['commit']}; jax {info['jax']}.  ",
        f"BLAS (threadpoolctl, while timing): {info['blas']}.  ",
        f"Load average (1 min) before timing, after it, at the end: "
        f"{', '.join(f'{x:.2f}' for x in info['load'])} (shared machine).  ",
        f"Environment: {env}.  ",
        f"Settings: {'quick' if s.quick else 'full'}; run times are medians of "
        f"{s.least} to {s.repeats} interleaved samples (as many as fit in "
        f"{s.budget:g} s per workload) of at least {s.target * 1e3:g} ms each; "
        f"compile times the median of {s.compile_repeats} fresh process(es).",
    ]


def report(
    info: dict, runs: list[dict], compiles: list[dict], scalar: dict | None, s: Settings
) -> str:
    """The whole markdown report."""
    lines = ["# symgrad arrays: generated code, hand numpy, JAX jit", ""]
    lines += header(info, s)
    lines += ["", "## Run time (float64, same data, median ms)", "", run_table(runs)]
    if s.run_size != "full":
        lines += [
            "",
            f"The targets are the issue's, for the full sizes; these are {s.run_size}.",
        ]
    lines += [
        "",
        "## Agreement, checked before timing",
        "",
        f"max |a − b| / max |b| per output array, worst output; limit {TOLERANCE:g} "
        f"(central difference along a random direction, best of three steps: "
        f"{FD_TOLERANCE:g}).",
        "",
        agreement_table(runs),
        "",
        "agreement: all checks passed",
    ]
    if compiles:
        lines += [
            "",
            "## Compile (fresh process; seconds, then the first call)",
            "",
            "symgrad: `.sg` text to loaded module (parse, differentiate, generate, "
            "load), which never sees the data. JAX: jit, lower and XLA-compile "
            "value_and_grad and the hvp at the data's shapes (`.lower().compile()`).",
            "",
            compile_table(compiles, s),
        ]
    if scalar:
        lines += ["", "## Scalar against vector Rosenbrock", "", scalar_table(scalar)]
    return "\n".join(lines) + "\n"


# --- per-statement profile ----------------------------------------------------------


PROFILE_SAMPLES = 51  # per statement; the fastest is reported


def _flat_statements(func: Callable[..., Any]) -> tuple[list[str], list[ast.stmt]]:
    """A function's parameters and body: docstring dropped, `with` bodies inlined.

    A `with` statement becomes `with <items>: pass` (its own cost) followed by its
    body; `return expr` becomes `_result = expr`.
    """
    tree = ast.parse(textwrap.dedent(inspect.getsource(func))).body[0]
    assert isinstance(tree, ast.FunctionDef)
    params = [a.arg for a in tree.args.args]
    body, flat = list(tree.body), []
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
    ):
        body = body[1:]
    while body:
        stmt = body.pop(0)
        if isinstance(stmt, ast.With):
            flat.append(ast.With(items=stmt.items, body=[ast.Pass()]))
            body[:0] = stmt.body
        elif isinstance(stmt, ast.Return) and stmt.value is not None:
            target = ast.Name("_result", ast.Store())
            flat.append(ast.Assign(targets=[target], value=stmt.value))
        else:
            flat.append(stmt)
    return params, [ast.fix_missing_locations(st) for st in flat]


def statement_costs(
    func: Callable[..., Any], args: Arrays, s: Settings
) -> tuple[list[tuple[str, float]], dict[str, Any]]:
    """Fastest-sample seconds of each statement of func, run in order on args.

    The minimum, not the median: on a shared machine it is the statement's own cost.
    """
    params, statements = _flat_statements(func)
    namespace = dict(func.__globals__) | dict(zip(params, args))
    costs = []
    with np.errstate(all="ignore"):
        for stmt in statements:
            code = compile(ast.Module([stmt], []), "<statement>", "exec")
            run = partial(exec, code, namespace)
            run()
            number = autorange(run, s.target)
            samples = timeit.Timer(run).repeat(PROFILE_SAMPLES, number)
            costs.append((ast.unparse(stmt), min(samples) / number))
        whole = partial(func, *args)
        number = autorange(whole, s.target)
        samples = timeit.Timer(whole).repeat(PROFILE_SAMPLES, number)
    costs.append(("(the whole call)", min(samples) / number))
    return costs, namespace


# Rewrites of symgrad's statements that --profile times beside them: (what, symgrad's
# statements as generated, the rewrite, the names both must bind to equal values).
# They run in the namespace symgrad's function leaves; suggestions for codegen.
REWRITES: dict[str, list[tuple[str, str, str, tuple[str, ...]]]] = {
    "logistic": [
        (
            "one scaling: (s - y)/n for s/n - y/n",
            "t2 = _sigmoid(t1) / n - y / n",
            "t2 = (_sigmoid(t1) - y) / n",
            ("t2",),
        ),
        (
            "the sigmoid from the value's softplus",
            "v = np.sum(np.logaddexp(0.0, t1) - y * t1) / n\n"
            "t2 = _sigmoid(t1) / n - y / n",
            "sp = np.logaddexp(0.0, t1)\nv = np.sum(sp - y * t1) / n\n"
            "t2 = (np.exp(t1 - sp) - y) / n",
            ("v", "t2"),
        ),
        (
            "softplus as max(z, 0) + log1p(exp(-abs(z))), not np.logaddexp",
            "v = np.sum(np.logaddexp(0.0, t1) - y * t1) / n",
            "v = np.sum(np.maximum(t1, 0.0) + np.log1p(np.exp(-np.abs(t1))) - y * t1) / n",
            ("v",),
        ),
        (
            "sigmoid as exp(min(z, 0)) / (1 + exp(-abs(z))), no np.where",
            "t2 = _sigmoid(t1) / n - y / n",
            "t2 = np.exp(np.minimum(t1, 0.0)) / (1.0 + np.exp(-np.abs(t1))) / n - y / n",
            ("t2",),
        ),
    ],
    "mlp": [
        (
            "one scaling: (s - Y)/m for s/m - Y/m",
            "dZ2 = _softmax(Z2, axis=0) / m - Y / m",
            "dZ2 = (_softmax(Z2, axis=0) - Y) / m",
            ("dZ2",),
        ),
        (
            "logsumexp and softmax from one exp",
            "v = np.sum(_logsumexp(Z2, axis=0) - np.sum(Y * Z2, axis=0)) / m\n"
            "dZ2 = _softmax(Z2, axis=0) / m - Y / m",
            "top = np.max(Z2, axis=0, keepdims=True)\ne = np.exp(Z2 - top)\n"
            "s = np.sum(e, axis=0, keepdims=True)\n"
            "v = np.sum(np.log(s[0]) + top[0] - np.sum(Y * Z2, axis=0)) / m\n"
            "dZ2 = (e / s - Y) / m",
            ("v", "dZ2"),
        ),
    ],
    "rosen": [
        (
            "one output array, slices assigned, for two np.pad and an add",
            "t3 = np.pad(-2.0 * (1.0 - t1) - 400.0 * t2 * t1, ((0, 1),))\n"
            "dx = t3 + np.pad(200.0 * t2, ((1, 0),))",
            "dx = np.empty_like(x)\ndx[:-1] = -2.0 * (1.0 - t1) - 400.0 * t2 * t1\n"
            "dx[-1] = 0.0\ndx[1:] += 200.0 * t2",
            ("dx",),
        ),
    ],
}


def _fastest(code: str, namespace: dict[str, Any], s: Settings) -> float:
    """Fastest-sample seconds of code run in namespace (after one untimed run)."""
    run = partial(exec, compile(code, "<rewrite>", "exec"), namespace)
    run()
    number = autorange(run, s.target)
    return min(timeit.Timer(run).repeat(PROFILE_SAMPLES, number)) / number


def _expressions(func: Callable[..., Any]) -> set[str]:
    """ast.dump of every expression in func's source (layout and names as written)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    return {ast.dump(node) for node in ast.walk(tree) if isinstance(node, ast.expr)}


def _applies(code: str, found: set[str]) -> bool:
    """Every right-hand side of code occurs in the generated function as written."""
    statements = ast.parse(code).body
    return all(
        isinstance(st, ast.Assign) and ast.dump(st.value) in found for st in statements
    )


def rewrite_costs(
    name: str,
    func: Callable[..., Any],
    namespace: dict[str, Any],
    s: Settings,
    rewrites: dict | None = None,
) -> list[str]:
    """Each rewrite (of REWRITES, or the table given) timed beside symgrad's statements."""
    rewrites = REWRITES if rewrites is None else rewrites
    if name not in rewrites:
        return ["None for this workload."]
    lines = [
        "| rewrite | symgrad's µs | rewritten µs | saved µs |",
        "|---|---|---|---|",
    ]
    found = _expressions(func)
    with np.errstate(all="ignore"):
        for what, ours, theirs, names in rewrites[name]:
            if not _applies(ours, found):
                lines.append(f"| {what} | not in the generated code | — | — |")
                continue
            before = _fastest(ours, namespace, s)
            want = [np.copy(namespace[k]) for k in names]
            after = _fastest(theirs, namespace, s)
            err = relative_error([namespace[k] for k in names], want)
            if not err <= TOLERANCE:
                raise AssertionError(f"rewrite {what!r} changes the values: {err:.3g}")
            saved = f"{(before - after) * 1e6:.1f}"
            cells = [what, f"{before * 1e6:.1f}", f"{after * 1e6:.1f}", saved]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def profile(
    name: str,
    s: Settings,
    samples: dict | None = None,
    rewrites: dict | None = None,
    load: Callable[[Any], Any] | None = None,
) -> str:
    """Per-statement costs of symgrad's timed function and the hand version, markdown.

    samples, rewrites and load default to this script's; hessians.py passes its own.
    """
    sample = (SAMPLES if samples is None else samples)[name]
    args = sample.data(s.run_size)
    module = (symgrad_module if load is None else load)(sample)
    lines = [f"# Per-statement profile: {sample.title(s.run_size)}", ""]
    for who, func in (
        ("symgrad", getattr(module, sample.timed)),
        ("hand", sample.hand),
    ):
        costs, namespace = statement_costs(func, args, s)
        if who == "symgrad":
            ours = namespace
        lines += [f"## {who}", "", "| µs | statement |", "|---|---|"]
        for text, seconds in costs:
            shown = text.replace("\n", " ").replace("|", "\\|")
            lines.append(f"| {seconds * 1e6:.1f} | `{shown}` |")
        total = sum(c for _, c in costs[:-1])
        lines += [f"| {total * 1e6:.1f} | (sum of the statements) |", ""]
    lines += ["## Rewrites of symgrad's statements", ""]
    lines += rewrite_costs(name, getattr(module, sample.timed), ours, s, rewrites)
    return "\n".join(lines) + "\n"


# --- command line --------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short runs")
    parser.add_argument(
        "--size",
        choices=("tiny", "quick", "full"),
        help="the run-time data size (full; quick with --quick)",
    )
    parser.add_argument("--skip-jax", action="store_true", help="leave JAX out")
    parser.add_argument(
        "--no-compile", action="store_true", help="skip the compile-time measurements"
    )
    parser.add_argument(
        "--no-scalar", action="store_true", help="skip the scalar Rosenbrock contrast"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(SAMPLES),
        help="a workload; repeatable",
    )
    parser.add_argument(
        "--profile", choices=sorted(SAMPLES), help="per-statement costs, then exit"
    )
    parser.add_argument(
        "--blas-threads", type=int, help="limit numpy's BLAS threads (threadpoolctl)"
    )
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--markdown", type=Path, help="write the report to this file")
    return parser.parse_args(argv)


def _jsonable(value: Any) -> Any:
    """Rows as plain JSON (numpy scalars as Python numbers)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def blas_limit(threads: int | None) -> contextlib.AbstractContextManager:
    """numpy's BLAS limited to threads (threadpoolctl), or left as it is."""
    if threads is None:
        return contextlib.nullcontext()
    import threadpoolctl  # --blas-threads needs it: pip install threadpoolctl

    return threadpoolctl.threadpool_limits(threads, user_api="blas")


def measure_all(args: argparse.Namespace, s: Settings, jax: Any) -> dict[str, Any]:
    """Run times (under the BLAS limit), compile times, the scalar contrast."""
    log = partial(print, file=sys.stderr, flush=True)
    samples = [SAMPLES[n] for n in args.only or SAMPLES]
    load = [os.getloadavg()[0]]
    with blas_limit(args.blas_threads):
        blas = blas_info()
        runs = [measure_runs(sample, s, jax, log) for sample in samples]
    load.append(os.getloadavg()[0])
    tools = ["symgrad"] + (["jax"] if jax is not None else [])
    compiles = []
    if not args.no_compile:
        compiles = [measure_compile(sample, tools, s, log) for sample in samples]
    scalar = None
    if not (args.quick or args.no_scalar):
        log("scalar Rosenbrock 1000")
        scalar = in_fresh_process(scalar_worker, (1000,), s.timeout)
    load.append(os.getloadavg()[0])
    info = machine(jax) | {"blas": blas, "load": load}
    return {"machine": info, "runs": runs, "compile": compiles, "scalar": scalar}


def main(argv: list[str] | None = None) -> int:
    """Check, time and compile every workload; print the markdown report."""
    args = parse_args(argv)
    s = Settings.make(args.quick)
    if args.size:
        s = replace(s, run_size=args.size)
    if args.profile:
        with blas_limit(args.blas_threads):
            print(profile(args.profile, s))
        return 0
    jax = None if args.skip_jax else jax_or_none()
    found = measure_all(args, s, jax)
    text = report(found["machine"], found["runs"], found["compile"], found["scalar"], s)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    if args.json:
        payload = {"settings": asdict(s)} | found
        args.json.write_text(json.dumps(_jsonable(payload), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
