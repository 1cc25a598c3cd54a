"""symgrad's generated Hessians and HVP against hand-written numpy and JAX jit (issue #12).

Run: python benchmarks/hessians.py [--quick] [--size tiny|quick|full] [--only NAME]
                                   [--skip-jax] [--no-compile] [--blas-threads N]
                                   [--profile NAME] [--json out.json] [--markdown out.md]

Four workloads of issue #12: the logistic-regression Hessian, the quadratic form's,
the least-squares Hessian and the vectorized Rosenbrock Hessian-vector product, each
as a sample's `.sg` text compiled by symgrad (`symgrad.api.compile_source` +
`codegen.load.load`), as hand-written numpy and as `jax.jit` (float64). The machinery
is arrays.py's (issue #11): agreement checks before timing, interleaved samples,
medians and 10th percentiles, compile in fresh processes at two data sizes with the
module text asserted identical. See benchmarks/README.md ("Hessians").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import arrays  # noqa: E402
from benchmarks.arrays import Settings, block, relative_error  # noqa: E402

SEED = arrays.SEED
TOLERANCE = arrays.TOLERANCE  # hand and JAX against symgrad, max |a - b| / max |b|
FD_TOLERANCE = 1e-6  # symgrad's H v against a central difference of its gradient
COMPILE_TARGET = 0.5  # seconds, each Hessian, at any data size
SAMPLES_DIR = ROOT / "samples"

Arrays = tuple[Any, ...]


# --- hand-written numpy: what a competent person writes ----------------------------


def _expit(z: Any) -> Any:
    """The logistic sigmoid, scipy's expit when installed (stable, one pass)."""
    try:
        from scipy.special import expit
    except ImportError:
        return 0.5 * (1.0 + np.tanh(0.5 * z))
    return expit(z)


def hand_logistic_hessian(w: Any, b: Any, X: Any, y: Any) -> Any:
    """(d+1, d+1) Hessian of the mean logistic loss over (w, b)."""
    n, d = X.shape
    p = _expit(X @ w + b)
    c = p * (1.0 - p)
    H = np.empty((d + 1, d + 1))
    H[:d, :d] = (X.T * c) @ X / n
    H[:d, d] = H[d, :d] = X.T @ c / n
    H[d, d] = c.sum() / n
    return H


def hand_quadratic_hessian(x: Any, A: Any) -> Any:
    """Hessian of x @ A @ x."""
    return A + A.T


def hand_least_squares_hessian(x: Any, A: Any, b: Any) -> Any:
    """Hessian of |A x - b|^2."""
    return 2 * A.T @ A


def hand_rosen_hvp(x: Any, v: Any) -> Any:
    """Vectorized Rosenbrock H v from the tridiagonal structure, with slices."""
    head, tail = x[:-1], x[1:]
    hv = np.empty_like(x)
    hv[:-1] = (1200.0 * head**2 - 400.0 * tail + 2.0) * v[:-1] - 400.0 * head * v[1:]
    hv[-1] = 0.0
    hv[1:] += 200.0 * v[1:] - 400.0 * head * v[:-1]
    return hv


# --- data ---------------------------------------------------------------------------


def quadratic_data(n: int, rng: np.random.Generator) -> Arrays:
    """x, A: standard normal, A not symmetric (so A + A.T is not 2 A)."""
    return rng.standard_normal(n), rng.standard_normal((n, n))


def least_squares_data(m: int, n: int, rng: np.random.Generator) -> Arrays:
    """x, A, b: standard normal."""
    return rng.standard_normal(n), rng.standard_normal((m, n)), rng.standard_normal(m)


def rosen_hvp_data(n: int, rng: np.random.Generator) -> Arrays:
    """x uniform in [-2, 2], the direction v standard normal."""
    return rng.uniform(-2.0, 2.0, n), rng.standard_normal(n)


# --- JAX ----------------------------------------------------------------------------


def _jax_logistic(p: Any, X: Any, y: Any) -> Any:
    """Mean logistic loss of the flat parameters p = (w, b), in jax.numpy."""
    import jax
    import jax.numpy as jnp

    z = X @ p[:-1] + p[-1]
    return jnp.mean(jax.nn.softplus(z) - y * z)


def _jax_rosen(x: Any) -> Any:
    """The vectorized Rosenbrock in jax.numpy."""
    import jax.numpy as jnp

    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def jax_function(name: str) -> Callable[..., Any]:
    """jax.jit of jax.hessian (Rosenbrock: of the forward-over-reverse HVP)."""
    import jax
    import jax.numpy as jnp

    if name == "logistic":  # scipy's layout: one flat vector, w then b
        return jax.jit(jax.hessian(_jax_logistic))
    if name == "quadratic":
        return jax.jit(jax.hessian(lambda x, A: x @ A @ x))
    if name == "least_squares":
        return jax.jit(jax.hessian(lambda x, A, b: jnp.sum((A @ x - b) ** 2)))
    return jax.jit(lambda x, v: jax.jvp(jax.grad(_jax_rosen), (x,), (v,))[1])


def jax_args(name: str, args: Arrays) -> Arrays:
    """The arguments on the device; logistic's (w, b) as one flat p (not timed)."""
    import jax

    if name == "logistic":
        w, b, X, y = args
        args = (np.append(w, b), X, y)
    return jax.device_put(args)


# --- the workloads ------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One workload: the sample file, the generated function timed, hand and data."""

    name: str
    file: str  # in samples/
    func: str  # the .sg function
    timed: str  # the generated function timed: f_hessian or f_hvp
    make: Callable[..., Arrays]
    hand: Callable[..., Any]
    sizes: dict[str, dict[str, int]]
    target: float  # symgrad / hand at most
    issue: tuple[str, str]  # the issue's hand numpy and JAX figures
    label: str

    @property
    def text(self) -> str:
        """The sample's .sg text."""
        return (SAMPLES_DIR / self.file).read_text(encoding="utf-8")

    def data(self, size: str) -> Arrays:
        """The arguments at a named size, from the fixed seed."""
        return self.make(**self.sizes[size], rng=np.random.default_rng(SEED))

    def title(self, size: str) -> str:
        """The row title at a size, e.g. 'logistic Hessian, n=10,000, d=100'."""
        dims = ", ".join(f"{k}={v:,}" for k, v in self.sizes[size].items())
        return f"{self.label}, {dims}"


SAMPLES = {
    "logistic": Sample(
        "logistic",
        "logistic_regression.sg",
        "loss",
        "loss_hessian",
        arrays.logistic_data,
        hand_logistic_hessian,
        {
            "tiny": {"n": 50, "d": 5},
            "quick": {"n": 1000, "d": 20},
            "full": {"n": 10_000, "d": 100},
        },
        1.2,
        ("4.7", "10.3"),
        "logistic Hessian",
    ),
    "quadratic": Sample(
        "quadratic",
        "quadratic.sg",
        "q",
        "q_hessian",
        quadratic_data,
        hand_quadratic_hessian,
        {"tiny": {"n": 20}, "quick": {"n": 100}, "full": {"n": 1000}},
        1.2,
        ("1.2", "39"),
        "`x @ A @ x` Hessian",
    ),
    "least_squares": Sample(
        "least_squares",
        "least_squares.sg",
        "f",
        "f_hessian",
        least_squares_data,
        hand_least_squares_hessian,
        {
            "tiny": {"m": 20, "n": 20},
            "quick": {"m": 100, "n": 100},
            "full": {"m": 1000, "n": 1000},
        },
        1.2,
        ("20", "42"),
        "least-squares Hessian",
    ),
    "rosen": Sample(
        "rosen",
        "rosenbrock_vector.sg",
        "rosen",
        "rosen_hvp",
        rosen_hvp_data,
        hand_rosen_hvp,
        {"tiny": {"n": 100}, "quick": {"n": 10_000}, "full": {"n": 1_000_000}},
        1.3,
        ("4.9", "0.95"),
        "vectorized Rosenbrock HVP",
    ),
}


def symgrad_module(sample: Sample) -> Any:
    """The sample's text compiled and loaded: the user's path, parse to module."""
    from codegen.load import load
    from symgrad import api

    text = api.compile_source(sample.text, sample.file)
    return load(text, f"bench_h_{sample.name}", f"<{sample.file}>")


# --- agreement ----------------------------------------------------------------------


def _split(flat: Any, like: Arrays) -> list[Any]:
    """A flat vector cut into arrays shaped like the parameters (C order)."""
    out, at = [], 0
    for p in like:
        size = int(np.size(p))
        out.append(flat[at : at + size].reshape(np.shape(p)))
        at += size
    return out


def fd_error(module: Any, sample: Sample, args: Arrays) -> float:
    """symgrad's H v (Hessian times v, or the HVP) against a central difference of
    its gradient along v; the best of three steps."""
    rng = np.random.default_rng(SEED + 1)
    grad = getattr(module, sample.func + "_grad")
    if sample.name == "rosen":
        params, data, v = args[:1], (), args[1]
        exact = np.asarray(module.rosen_hvp(*args)[0])
    else:
        k = 2 if sample.name == "logistic" else 1
        params, data = args[:k], args[k:]
        v = rng.standard_normal(sum(int(np.size(p)) for p in params))
        exact = getattr(module, sample.timed)(*args) @ v
    vs = _split(v, params)

    def g(step: float) -> Any:
        moved = [p + step * dv for p, dv in zip(params, vs)]
        out = grad(*moved, *data)
        out = out if isinstance(out, tuple) else (out,)
        return np.concatenate([np.ravel(o) for o in out])

    scale = float(np.max(np.abs(exact)))
    errors = [
        float(np.max(np.abs((g(h) - g(-h)) / (2 * h) - exact))) / scale
        for h in (1e-4, 1e-5, 1e-6)
    ]
    return min(errors)


def scipy_error(ours: Any, args: Arrays) -> float | None:
    """The Rosenbrock HVP against scipy.optimize.rosen_hess_prod, if installed."""
    try:
        from scipy.optimize import rosen_hess_prod
    except ImportError:
        return None
    return relative_error(ours, rosen_hess_prod(*args))


def check(
    sample: Sample, module: Any, args: Arrays, jax_call: Callable | None
) -> dict[str, float]:
    """Hand, JAX, scipy and a finite difference against symgrad; raises past limits."""
    ours = getattr(module, sample.timed)(*args)
    ours = ours[0] if isinstance(ours, tuple) else ours  # the HVP's one-tuple
    errors = {"hand": relative_error(sample.hand(*args), ours)}
    if jax_call is not None:
        errors["jax"] = relative_error(jax_call(), ours)
    if sample.name == "rosen" and (err := scipy_error(ours, args)) is not None:
        errors["scipy"] = err
    errors["fd"] = fd_error(module, sample, args)
    for who, err in errors.items():
        limit = FD_TOLERANCE if who == "fd" else TOLERANCE
        if not err <= limit:
            raise AssertionError(
                f"{sample.name}: {who} disagrees with symgrad: {err:.3g} > {limit:g}"
            )
    return errors


# --- run time -----------------------------------------------------------------------


def jax_call_for(sample: Sample, args: Arrays) -> Callable[[], Any]:
    """A no-argument call of the jitted JAX function on device data, blocking."""
    f, on_device = jax_function(sample.name), jax_args(sample.name, args)
    call = partial(lambda f, a: block(f(*a)), f, on_device)
    call()  # trace and compile: never timed
    return call


def measure_runs(
    sample: Sample, s: Settings, jax: Any, log: Callable[[str], None]
) -> dict[str, Any]:
    """Check, then time symgrad, hand numpy and JAX on the same data, interleaved."""
    args = sample.data(s.run_size)
    module = symgrad_module(sample)
    calls = {
        "symgrad": partial(getattr(module, sample.timed), *args),
        "hand": partial(sample.hand, *args),
    }
    jax_call = None
    if jax is not None:
        jax_call = calls["jax"] = jax_call_for(sample, args)
    errors = check(sample, module, args, jax_call)
    log(f"{sample.name}: agreement ok {errors}; timing")
    times = arrays.time_interleaved(calls, s)
    row = {"workload": sample.name, "title": sample.title(s.run_size)}
    row |= {"sizes": sample.sizes[s.run_size], "errors": errors, "times": times}
    return row


# --- compile time, in fresh processes ----------------------------------------------


def compile_worker(name: str, size: str, tool: str) -> dict[str, Any]:
    """In a fresh process: text to loaded module (or JAX's AOT compile), timed."""
    sample = SAMPLES[name]
    args = sample.data(size)
    if tool == "jax":
        return jax_compile(sample, args)
    from codegen.load import load
    from symgrad import api

    text_in = sample.text  # read outside the timing
    had_black = "black" in sys.modules
    start = time.perf_counter()
    text = api.compile_source(text_in, sample.file)
    module = load(text, f"bench_h_{name}", f"<{sample.file}>")
    loaded = time.perf_counter()
    black_ran = not had_black and "black" in sys.modules
    getattr(module, sample.timed)(*args)
    first = time.perf_counter()
    return {
        "compile_s": loaded - start,
        "first_call_s": first - loaded,
        "module_chars": len(text),
        "module_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "black_ran": black_ran,
    }


def jax_compile(sample: Sample, args: Arrays) -> dict[str, Any]:
    """jit + lower + XLA compile of the Hessian (Rosenbrock: the HVP) at these shapes."""
    jax = arrays.jax_or_none()
    import jax.numpy as jnp

    block(jnp.zeros(1) + 1)  # the backend starts up outside the timing
    on_device = jax_args(sample.name, args)
    start = time.perf_counter()
    compiled = jax_function(sample.name).lower(*on_device).compile()
    done = time.perf_counter()
    block(compiled(*on_device))
    first = time.perf_counter()
    return {"compile_s": done - start, "first_call_s": first - done}


def measure_compile(
    sample: Sample, tools: list[str], s: Settings, log: Callable[[str], None]
) -> dict[str, Any]:
    """Compile times at two data sizes, each the median of fresh processes."""
    row: dict[str, Any] = {"workload": sample.name, "text_chars": len(sample.text)}
    for tool in tools:
        for size in s.compile_sizes:
            log(f"{sample.name}: {tool} compile at {size} size")
            runs = [
                arrays.in_fresh_process(
                    compile_worker, (sample.name, size, tool), s.timeout
                )
                for _ in range(s.compile_repeats)
            ]
            row[f"{tool}@{size}"] = {
                "compile_s": arrays.median_of(runs, "compile_s"),
                "first_call_s": arrays.median_of(runs, "first_call_s"),
                "runs": runs,
            }
    if "symgrad" in tools:
        arrays._same_module(row, sample, s)  # type: ignore[arg-type]
    return row


# --- the report ---------------------------------------------------------------------


def run_table(rows: list[dict[str, Any]]) -> str:
    """Median run time per tool, the ratios, the 10th-percentile ratio, the issue's."""
    lines = [
        "| workload | symgrad ms | hand numpy ms | JAX jit ms | symgrad/hand "
        "| symgrad/JAX | symgrad/hand at the 10th percentile (fastest) | target "
        "| met: median, 10th pct | issue: hand, JAX ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        sample = SAMPLES[row["workload"]]
        t = {who: v["seconds"] for who, v in row["times"].items()}
        low = {who: v["p10_seconds"] for who, v in row["times"].items()}
        fast = {who: v["min_seconds"] for who, v in row["times"].items()}
        met = [
            "yes" if x["symgrad"] / x["hand"] <= sample.target else "no"
            for x in (t, low)
        ]
        cells = [
            row["title"],
            arrays._ms(t["symgrad"]),
            arrays._ms(t["hand"]),
            arrays._ms(t["jax"]) if "jax" in t else "not run",
            arrays._ratio(t["symgrad"], t["hand"]),
            arrays._ratio(t["symgrad"], t.get("jax")),
            f"{arrays._ratio(low['symgrad'], low['hand'])} "
            f"({arrays._ratio(fast['symgrad'], fast['hand'])})",
            f"≤ {sample.target}× hand",
            ", ".join(met),
            f"{sample.issue[0]}, {sample.issue[1]}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def agreement_table(rows: list[dict[str, Any]]) -> str:
    """The checks that ran before timing."""
    lines = [
        "| workload | hand vs symgrad | JAX vs symgrad | scipy vs symgrad "
        "| symgrad H v vs central difference of its gradient | checks |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        e = row["errors"]
        cell = {k: f"{e[k]:.1e}" if k in e else "—" for k in ("hand", "jax", "scipy")}
        cells = [row["title"], cell["hand"], cell["jax"], cell["scipy"]]
        cells += [f"{e['fd']:.1e}", "passed"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(info: dict, runs: list[dict], compiles: list[dict], s: Settings) -> str:
    """The whole markdown report."""
    lines = ["# symgrad Hessians (issue #12): generated code, hand numpy, JAX jit", ""]
    lines += arrays.header(info, s)
    lines += ["", "## Run time (float64, same data, median ms)", "", run_table(runs)]
    lines += [
        "",
        "The issue's figures (last column) were measured on other machines; compare "
        "ratios. On a loaded machine the 10th-percentile ratio is the steady one.",
    ]
    if s.run_size != "full":
        lines += [f"The targets are for the full sizes; these are {s.run_size}."]
    lines += [
        "",
        "## Agreement, checked before timing",
        "",
        f"max |a − b| / max |b|; limit {TOLERANCE:g} (the central difference, best "
        f"of three steps: {FD_TOLERANCE:g}).",
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
            "symgrad: the sample's `.sg` text to the loaded module (parse, "
            "differentiate, generate, load) — the whole module: value, gradient, "
            "value_and_grad, hvp, Hessian and jvp, not the Hessian alone; it never "
            "sees the data. JAX: jit, lower and XLA-compile the Hessian (Rosenbrock: "
            "the HVP) at the data's shapes (`.lower().compile()`).",
            "",
            arrays.compile_table(compiles, s, SAMPLES, COMPILE_TARGET),
        ]
    return "\n".join(lines) + "\n"


# --- per-statement profile ----------------------------------------------------------


# Rewrites of symgrad's statements timed beside them by --profile: (what, symgrad's
# statements, the rewrite, the names both must bind to equal values). Suggestions
# for codegen, measured; `_result` is a `return`'s value.
REWRITES: dict[str, list[tuple[str, str, str, tuple[str, ...]]]] = {
    "logistic": [
        (
            "weights on X.T, one n×d pass: (X.T * c) @ X / n",
            "hb = t1 @ (X / n * t2[:, None])",
            "hb = (t1 * t2) @ X / n",
            ("hb",),
        ),
        (
            "1/n on the length-n weights (t3 = t2 / n, already there), not on X",
            "hb = t1 @ (X / n * t2[:, None])",
            "hb = (t1 * t3) @ X",
            ("hb",),
        ),
        (
            "p(1 - p) from one sigmoid",
            "t2 = _sigmoid(z) * _sigmoid(-z)",
            "p = _sigmoid(z)\nt2 = p * (1.0 - p)",
            ("t2",),
        ),
    ],
    "least_squares": [
        (
            "2.0 * (A.T @ A): numpy's syrk for a.T @ a, no m×n scaling pass",
            "_result = A.T @ (2.0 * A)",
            "_result = 2.0 * (A.T @ A)",
            ("_result",),
        ),
    ],
    "rosen": [
        (
            "one output array, slices assigned, for two np.pad and an add",
            "t6 = np.pad(t5 + 2.0 * t2, ((0, 1),))\n"
            "hv = np.pad(t1 - t4, ((1, 0),)) + t6",
            "hv = np.empty_like(x)\nhv[:-1] = t5 + 2.0 * t2\nhv[-1] = 0.0\n"
            "hv[1:] += t1 - t4",
            ("hv",),
        ),
    ],
}


def profile(name: str, s: Settings) -> str:
    """Per-statement costs of symgrad's Hessian (or HVP) and the hand version."""
    return arrays.profile(name, s, SAMPLES, REWRITES, symgrad_module)


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
        "--only", action="append", choices=sorted(SAMPLES), help="a workload"
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


def measure_all(args: argparse.Namespace, s: Settings, jax: Any) -> dict[str, Any]:
    """Run times (under the BLAS limit), then compile times."""
    log = partial(print, file=sys.stderr, flush=True)
    samples = [SAMPLES[n] for n in args.only or SAMPLES]
    load = [os.getloadavg()[0]]
    with arrays.blas_limit(args.blas_threads):
        blas = arrays.blas_info()
        runs = [measure_runs(sample, s, jax, log) for sample in samples]
    load.append(os.getloadavg()[0])
    tools = ["symgrad"] + (["jax"] if jax is not None else [])
    compiles = []
    if not args.no_compile:
        compiles = [measure_compile(sample, tools, s, log) for sample in samples]
    load.append(os.getloadavg()[0])
    info = arrays.machine(jax) | {"blas": blas, "load": load}
    return {"machine": info, "runs": runs, "compile": compiles}


def main(argv: list[str] | None = None) -> int:
    """Check, time and compile every workload; print the markdown report."""
    args = parse_args(argv)
    s = Settings.make(args.quick)
    if args.size:
        s = replace(s, run_size=args.size)
    if args.profile:
        with arrays.blas_limit(args.blas_threads):
            print(profile(args.profile, s))
        return 0
    jax = None if args.skip_jax else arrays.jax_or_none()
    found = measure_all(args, s, jax)
    text = report(found["machine"], found["runs"], found["compile"], s)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    if args.json:
        payload = {"settings": asdict(s)} | found
        args.json.write_text(json.dumps(arrays._jsonable(payload), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
