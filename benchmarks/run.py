"""symgrad against its peers, side by side: compile time, run time, accuracy, op counts.

Run: python benchmarks/run.py [--quick] [--only NAME] [--skip TOOL] [--timeout S]
                              [--json out.json] [--markdown out.md] [--scaling]
                              [--profile WORKLOAD]

Every (tool, workload) pair runs in a fresh worker process, one after another; each
stage (compile, check, ops, one point, batch gradient, batch Hessian) must report
within --timeout seconds (60; 10 with --quick) or the worker is killed and the stage
is recorded as "did not finish". See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import gc
import json
import math
import multiprocessing
import os
import platform
import pstats
import re
import statistics
import sys
import time
import timeit
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import mpmath
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import workloads as wl  # noqa: E402
from benchmarks.peers import PEERS  # noqa: E402

SEED = 20240606
CHECK_POINTS = 3
DIGITS = 40

# --- workloads ---------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """One benchmark problem: .sg text for symgrad, a Python builder for the peers."""

    name: str
    kind: str  # "grad": value, gradient, Hessian; "derivative": n-th derivative
    params: tuple[str, ...]
    text: str
    function: str
    build: Callable[..., Any]
    domain: tuple[float, float] = (-2.0, 2.0)
    quick: bool = False
    order: int = 0
    expression: str = ""
    at: float = 0.0

    def points(self, count: int) -> np.ndarray:
        """count points of the domain as columns, shape (n, count); column 0 fixed."""
        rng = np.random.default_rng(SEED)
        return rng.uniform(*self.domain, size=(count, len(self.params))).T.copy()

    def point(self) -> list[float]:
        """The single point of the one-point measurements, as Python floats."""
        return [float(v) for v in self.points(1)[:, 0]]


def rosenbrock_workload(n: int) -> Workload:
    """Extended Rosenbrock in n scalar variables."""
    params = tuple(f"x{i}" for i in range(1, n + 1))
    return Workload(
        f"rosenbrock-{n}",
        "grad",
        params,
        wl.rosenbrock(n),
        "rosen",
        wl.rosenbrock_fn,
        quick=n <= 100,
    )


def nested_workload(depth: int) -> Workload:
    """x_{k+1} = sin(x_k)*x_k + exp(-x_k^2) to the given depth."""
    build = partial(wl.nested_fn, depth=depth)
    return Workload(
        f"nested-{depth}",
        "grad",
        ("x",),
        wl.nested(depth),
        "nest",
        build,
        quick=depth <= 10,
    )


def tower_workload(levels: int = 7, order: int = 10) -> Workload:
    """The order-th derivative of levels nested sines at x = 1."""
    return Workload(
        f"sine-tower-{levels}-d{order}",
        "derivative",
        ("x",),
        wl.sine_tower(levels),
        "tower",
        partial(wl.sine_tower_fn, levels=levels),
        quick=True,
        order=order,
        expression=wl.sine_tower_expression(levels),
        at=1.0,
    )


def suite() -> list[Workload]:
    """The workloads of the issue, in table order."""
    poly = Workload("f", "grad", ("x", "y"), wl.poly(), "f", wl.poly_fn, quick=True)
    return [
        poly,
        *(rosenbrock_workload(n) for n in (10, 100, 1000)),
        *(nested_workload(d) for d in (10, 30)),
        tower_workload(),
    ]


def workload(name: str) -> Workload:
    """A workload by name: the suite's, or rosenbrock-N / nested-N of any size."""
    for w in suite():
        if w.name == name:
            return w
    match = re.fullmatch(r"(rosenbrock|nested)-(\d+)", name)
    if match is None:
        raise KeyError(f"unknown workload {name!r}")
    size = int(match.group(2))
    return (
        rosenbrock_workload(size)
        if match.group(1) == "rosenbrock"
        else nested_workload(size)
    )


# --- the high-precision reference (mpmath, independent of every tool) --------------


def _axpy(a: Any, x: dict, y: dict) -> dict:
    """y + a*x for sparse dicts, as a new dict."""
    out = dict(y)
    for k, v in x.items():
        out[k] = out.get(k, 0) + a * v
    return out


def _outer(gu: dict, gv: dict, scale: Any, out: dict) -> None:
    """out += scale * (gu gv^T + gv gu^T) / 2 on the upper triangle, in place."""
    for i, a in gu.items():
        for j, b in gv.items():
            key = (i, j) if i <= j else (j, i)
            out[key] = out.get(key, 0) + scale * a * b * (1 if i == j else 0.5)


class Dual2:
    """A value with its sparse gradient and Hessian upper triangle (mpmath numbers)."""

    __slots__ = ("v", "g", "h")

    def __init__(self, v: Any, g: dict | None = None, h: dict | None = None):
        self.v, self.g, self.h = mpmath.mpf(v), g or {}, h or {}

    @staticmethod
    def lift(x: Any) -> Dual2:
        """A constant as a Dual2; a Dual2 passes through."""
        return x if isinstance(x, Dual2) else Dual2(x)

    def __add__(self, other: Any) -> Dual2:
        o = Dual2.lift(other)
        return Dual2(self.v + o.v, _axpy(1, o.g, self.g), _axpy(1, o.h, self.h))

    __radd__ = __add__

    def __neg__(self) -> Dual2:
        return self * -1

    def __sub__(self, other: Any) -> Dual2:
        return self + (-Dual2.lift(other))

    def __rsub__(self, other: Any) -> Dual2:
        return Dual2.lift(other) + (-self)

    def __mul__(self, other: Any) -> Dual2:
        o = Dual2.lift(other)
        g = _axpy(o.v, self.g, _axpy(self.v, o.g, {}))
        h = _axpy(o.v, self.h, _axpy(self.v, o.h, {}))
        _outer(self.g, o.g, 2, h)
        return Dual2(self.v * o.v, g, h)

    __rmul__ = __mul__

    def apply(self, f0: Any, f1: Any, f2: Any) -> Dual2:
        """phi(self), given phi, phi' and phi'' at self.v."""
        h = _axpy(f1, self.h, {})
        _outer(self.g, self.g, f2, h)
        return Dual2(f0, _axpy(f1, self.g, {}), h)

    def __pow__(self, k: int) -> Dual2:
        v = self.v
        return self.apply(v**k, k * v ** (k - 1), k * (k - 1) * v ** (k - 2))


def _dual_sin(u: Dual2) -> Dual2:
    """sin on Dual2."""
    s, c = mpmath.sin(u.v), mpmath.cos(u.v)
    return u.apply(s, c, -s)


def _dual_exp(u: Dual2) -> Dual2:
    """exp on Dual2."""
    e = mpmath.exp(u.v)
    return u.apply(e, e, e)


def _dual_total(terms: list[Dual2]) -> Dual2:
    """A many-term sum accumulated in place (linear in the number of entries)."""
    v, g, h = mpmath.mpf(0), {}, {}
    for t in terms:
        v += t.v
        for k, x in t.g.items():
            g[k] = g.get(k, 0) + x
        for k, x in t.h.items():
            h[k] = h.get(k, 0) + x
    return Dual2(v, g, h)


DUAL_MATH = SimpleNamespace(sin=_dual_sin, exp=_dual_exp, total=_dual_total)


def reference_at(w: Workload, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference gradient (n,) and Hessian (n, n) of a workload at one point."""
    n = len(point)
    with mpmath.workdps(DIGITS):
        xs = [Dual2(float(p), {i: mpmath.mpf(1)}) for i, p in enumerate(point)]
        out = Dual2.lift(w.build(DUAL_MATH, *xs))
        grad, hess = np.zeros(n), np.zeros((n, n))
        for i, v in out.g.items():
            grad[i] = float(v)
        for (i, j), v in out.h.items():
            hess[i, j] = hess[j, i] = float(v)
    return grad, hess


def reference_derivative(w: Workload) -> float:
    """Reference n-th derivative of a one-variable workload (mpmath Taylor series)."""
    m = SimpleNamespace(sin=mpmath.sin, exp=mpmath.exp, total=mpmath.fsum)
    with mpmath.workdps(DIGITS):
        series = mpmath.taylor(lambda x: w.build(m, x), mpmath.mpf(w.at), w.order)
        return float(series[w.order] * mpmath.factorial(w.order))


def reference(w: Workload) -> dict[str, Any]:
    """Reference figures at the check points (columns 0..CHECK_POINTS-1 of points)."""
    if w.kind == "derivative":
        return {"derivative": reference_derivative(w)}
    pairs = [reference_at(w, p) for p in w.points(CHECK_POINTS).T]
    return {
        "grad": np.stack([g for g, _ in pairs]),
        "hessian": np.stack([h for _, h in pairs]),
    }


def relative_error(values: np.ndarray, ref: np.ndarray) -> float:
    """Largest componentwise relative error; tiny entries against 1e-8*max|ref|."""
    values, ref = np.asarray(values, float), np.asarray(ref, float)
    if values.shape != ref.shape:
        return math.inf
    axes = tuple(range(1, ref.ndim)) if ref.ndim > 1 else None
    scale = (
        np.max(np.abs(ref), axis=axes, keepdims=True) if axes else np.max(np.abs(ref))
    )
    floor = np.maximum(1e-8 * scale, np.finfo(float).tiny)
    err = np.abs(values - ref) / np.maximum(np.abs(ref), floor)
    return float(np.nan_to_num(err, nan=math.inf).max())


# --- timing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """How hard to measure."""

    quick: bool = False
    timeout: float = 60.0
    batch: int = 10_000
    target: float = 0.2  # seconds per timing sample (autorange)
    repeats: int = 7  # samples per figure; the median is reported
    budget: float = 10.0  # seconds per timed figure at most
    compile_repeats: int = 3  # fresh processes per compile figure
    hessian_bytes: int = 2**30  # the batch Hessian is capped to this much output

    @staticmethod
    def make(quick: bool, timeout: float | None = None) -> Settings:
        """Full settings, or quick ones: fewer repeats, smaller limits (see README)."""
        if quick:
            return Settings(
                True,
                timeout or 10.0,
                target=0.05,
                repeats=3,
                budget=2.0,
                compile_repeats=1,
                hessian_bytes=2**26,
            )
        return Settings(False, timeout or 60.0)


def time_call(
    call: Callable[[], Any], s: Settings, warm: float = 0.0
) -> dict[str, Any]:
    """Median seconds per call: autorange to s.target, then up to s.repeats samples.

    A warm-up call that already took over half the budget is the only sample.
    """
    if warm > s.budget / 2:
        return {"seconds": warm, "number": 1, "samples": 1}
    timer = timeit.Timer(call)
    number = 1
    while True:
        first = timer.timeit(number)
        if first >= s.target or number >= 10**6:
            break
        number *= 10 if first * 10 < s.target / 2 else 2
    samples = [first / number]
    count = max(0, min(s.repeats, int(s.budget / max(first, 1e-9))) - 1)
    samples += [t / number for t in timer.repeat(repeat=count, number=number)]
    return {
        "seconds": statistics.median(samples),
        "number": number,
        "samples": len(samples),
    }


def hessian_batch(n: int, s: Settings) -> int:
    """The Hessian batch size: s.batch unless the output would be too big."""
    fits = s.hessian_bytes // (8 * n * n)
    return int(max(CHECK_POINTS, min(s.batch, fits)))


# --- the worker process --------------------------------------------------------------


def _stage_check(peer: Any, w: Workload, s: Settings) -> dict[str, Any]:
    """Outputs at the check points through the one-point callables."""
    if w.kind == "derivative":
        return {"derivative": float(np.asarray(peer.deriv(w.at), float).reshape(-1)[0])}
    n = len(w.params)
    points = [[float(v) for v in col] for col in w.points(CHECK_POINTS).T]
    grads = [peer.grad_array(peer.grad(p)) for p in points]
    hessians = [peer.hessian_array(peer.hessian(p), n) for p in points]
    return {"grad": np.stack(grads), "hessian": np.stack(hessians)}


def _stage_ops(peer: Any, w: Workload, s: Settings) -> dict[str, Any]:
    """Op counts of the generated code."""
    return {"ops": peer.ops()}


def _stage_point(peer: Any, w: Workload, s: Settings) -> dict[str, Any]:
    """Run time of the gradient (or the n-th derivative) at one point."""
    if w.kind == "derivative":
        return time_call(lambda: peer.deriv(w.at), s)
    point = w.point()
    return time_call(lambda: peer.grad(point), s)


def _stage_batch(kind: str, peer: Any, w: Workload, s: Settings) -> dict[str, Any]:
    """Run time of the gradient or Hessian on a batch; setup (e.g. jit) timed apart."""
    size = s.batch if kind == "grad" else hessian_batch(len(w.params), s)
    X = w.points(size)
    start = time.perf_counter()
    call = peer.batch_grad(X) if kind == "grad" else peer.batch_hessian(X)
    setup = time.perf_counter() - start
    start = time.perf_counter()
    out = call()
    warm = time.perf_counter() - start
    rows = (
        peer.grad_rows(out, CHECK_POINTS)
        if kind == "grad"
        else peer.hessian_rows(out, CHECK_POINTS)
    )
    del out
    timed = time_call(call, s, warm)
    return timed | {"setup": setup, "points": size, "rows": rows}


STAGES: dict[str, Callable[[Any, Workload, Settings], dict[str, Any]]] = {
    "check": _stage_check,
    "ops": _stage_ops,
    "point": _stage_point,
    "batch_grad": partial(_stage_batch, "grad"),
    "batch_hessian": partial(_stage_batch, "hessian"),
}


def stages_for(w: Workload) -> list[str]:
    """The stages measured for a workload, compile first."""
    if w.kind == "derivative":
        return ["compile", "check", "ops", "point"]
    return ["compile", "check", "ops", "point", "batch_grad", "batch_hessian"]


def _describe(exc: BaseException) -> str:
    """A one-line description of an exception."""
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def worker(conn: Any, tool: str, name: str, stages: list[str], settings: dict) -> None:
    """Run stages of one tool on one workload, sending one message per stage."""
    s, w = Settings(**settings), workload(name)
    peer = PEERS[tool]()
    try:
        peer.prepare()
        # every peer's compile asks for the workload's point, and the first ask
        # imports numpy.random (20 ms): that belongs to no tool's compile; nor does
        # the full collection the imports leave due (14 ms of black's and numpy's
        # objects, run by whichever tool allocates Python objects first)
        w.point()
        gc.collect()
        conn.send({"stage": "ready"})
        start = time.perf_counter()
        peer.compile(w)
        conn.send({"stage": "compile", "seconds": time.perf_counter() - start})
    except Exception as exc:  # a tool failing is a result, not a crash
        conn.send({"stage": "compile", "error": _describe(exc)})
        return
    for stage in stages:
        if stage == "compile":
            continue
        try:
            conn.send({"stage": stage, **STAGES[stage](peer, w, s)})
        except Exception as exc:
            conn.send({"stage": stage, "error": _describe(exc)})


# --- the parent: one tool on one workload, bounded ---------------------------------


def _wait(conn: Any, proc: Any, timeout: float) -> dict[str, Any] | None:
    """The worker's next message, or None if none came within timeout (or it died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if conn.poll(min(0.5, max(0.0, deadline - time.monotonic()))):
            try:
                return conn.recv()
            except EOFError:
                return {
                    "stage": "?",
                    "error": f"worker died (exit code {proc.exitcode})",
                }
        if not proc.is_alive() and not conn.poll(0):
            proc.join()
            return {"stage": "?", "error": f"worker died (exit code {proc.exitcode})"}
    return None


def _stop(proc: Any) -> None:
    """End a worker we started."""
    if proc.is_alive():
        proc.kill()
    proc.join()


def _start(tool: str, w: Workload, stages: list[str], s: Settings) -> tuple[Any, Any]:
    """A fresh worker process and the end of the pipe it reports on."""
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=worker, args=(sender, tool, w.name, stages, asdict(s)))
    proc.start()
    sender.close()
    return proc, receiver


def _status(message: dict[str, Any] | None, stage: str, s: Settings) -> str:
    """ok, error: ... or did not finish, for the message expected for a stage."""
    if message is None:
        return f"did not finish in {s.timeout:g} s"
    if message["stage"] != stage or "error" in message:
        return "error: " + message.get("error", f"expected {stage}, got {message}")
    return "ok"


def _compile_failed(results: dict[str, dict], stages: list[str], status: str) -> None:
    """Record a compile that failed or did not finish; nothing else can run."""
    why = "did not finish" if status.startswith("did not") else "failed"
    results.setdefault("compile", {"status": status})
    for later in stages:
        results.setdefault(later, {"status": f"not run: compile {why}"})


def _one_worker(
    tool: str, w: Workload, stages: list[str], s: Settings, results: dict[str, dict]
) -> list[str]:
    """Run stages in one worker, filling results; return the stages left to run."""
    proc, receiver = _start(tool, w, stages, s)
    expected = ["compile"] + [x for x in stages if x != "compile"]
    try:
        ready = _wait(receiver, proc, s.timeout)  # the import: bounded, not timed
        if _status(ready, "ready", s) != "ok":
            _compile_failed(results, stages, _status(ready, "ready", s))
            return []
        for i, stage in enumerate(expected):
            started = time.perf_counter()
            message = _wait(receiver, proc, s.timeout)
            status = _status(message, stage, s)
            if status == "ok":
                if stage in stages:
                    wall = time.perf_counter() - started
                    results[stage] = {"status": "ok", **message, "wall": wall}
                continue
            if stage == "compile":
                _compile_failed(results, stages, status)
                return []
            results[stage] = {"status": status}
            if message is None or message["stage"] != stage:  # stuck or died
                return expected[i + 1 :]
        return []
    finally:
        _stop(proc)
        receiver.close()


def run_stages(
    tool: str, w: Workload, stages: list[str], s: Settings
) -> dict[str, dict]:
    """Run stages in fresh workers; a stage past s.timeout is recorded, the rest run."""
    results: dict[str, dict] = {}
    remaining = list(stages)
    while remaining:
        remaining = _one_worker(tool, w, remaining, s, results)
    return results


def compile_samples(tool: str, w: Workload, s: Settings, first: float) -> list[float]:
    """The first compile time plus s.compile_repeats - 1 more in fresh processes."""
    samples = [first]
    if first * s.compile_repeats > min(s.timeout, 30.0):
        return samples
    for _ in range(s.compile_repeats - 1):
        extra = run_stages(tool, w, ["compile"], s).get("compile", {})
        if extra.get("status") == "ok":
            samples.append(extra["seconds"])
    return samples


ROW_KEYS = (
    "workload",
    "kind",
    "tool",
    "status",
    "compile_s",
    "compile_samples",
    "point_s",
    "batch_grad_s",
    "batch_hessian_s",
    "batch_setup_s",
    "batch_points",
    "batch_hessian_points",
    "errors",
    "max_rel_error",
    "ops",
    "grad_value_ratio",
    "hessian_value_ratio",
    "notes",
    "wall_s",
)


def empty_row(tool: str, w: Workload) -> dict[str, Any]:
    """A result row with every key present and nothing measured."""
    row: dict[str, Any] = {key: None for key in ROW_KEYS}
    row.update(
        workload=w.name,
        kind=w.kind,
        tool=tool,
        status={},
        errors={},
        notes=[],
        batch_setup_s={},
    )
    return row


def _errors(row: dict, results: dict[str, dict], ref: dict[str, Any]) -> None:
    """Relative errors of every output checked against the reference."""
    check = results.get("check", {})
    if "derivative" in ref and check.get("status") == "ok":
        row["errors"]["derivative"] = relative_error(
            check["derivative"], ref["derivative"]
        )
    for key in ("grad", "hessian") if "derivative" not in ref else ():
        if check.get("status") == "ok":
            row["errors"]["point_" + key] = relative_error(check[key], ref[key])
        batch = results.get("batch_" + key, {})
        if batch.get("status") == "ok":
            row["errors"]["batch_" + key] = relative_error(batch["rows"], ref[key])
    if row["errors"]:
        row["max_rel_error"] = max(row["errors"].values())


def _ops(row: dict, results: dict[str, dict]) -> None:
    """Op counts and the gradient/value and Hessian/value ratios."""
    ops = (
        results.get("ops", {}).get("ops")
        if results.get("ops", {}).get("status") == "ok"
        else None
    )
    row["ops"] = ops
    if ops and ops.get("value"):
        if ops.get("grad") is not None:
            row["grad_value_ratio"] = ops["grad"] / ops["value"]
        if ops.get("hessian") is not None:
            row["hessian_value_ratio"] = ops["hessian"] / ops["value"]


def _batch_figures(row: dict, results: dict[str, dict], s: Settings) -> None:
    """Batch times scaled to s.batch points, their setup times and point counts."""
    for key, points in (("grad", "batch_points"), ("hessian", "batch_hessian_points")):
        batch = results.get("batch_" + key, {})
        if batch.get("status") != "ok":
            continue
        row[f"batch_{key}_s"] = batch["seconds"] * s.batch / batch["points"]
        row["batch_setup_s"][key] = batch["setup"]
        row[points] = batch["points"]
        if batch["points"] != s.batch:
            row["notes"].append(
                f"batch Hessian measured on {batch['points']} points (output capped "
                f"at {s.hessian_bytes / 2**30:g} GiB), time scaled to {s.batch}"
            )


def measure(tool: str, w: Workload, s: Settings, ref: dict[str, Any]) -> dict[str, Any]:
    """One row of the table: every stage of one tool on one workload."""
    row = empty_row(tool, w)
    missing = PEERS[tool].missing()
    if missing:
        row["status"] = {stage: "skipped: " + missing for stage in stages_for(w)}
        return row
    results = run_stages(tool, w, stages_for(w), s)
    row["status"] = {x: results.get(x, {}).get("status", "?") for x in stages_for(w)}
    row["wall_s"] = {k: round(v["wall"], 3) for k, v in results.items() if "wall" in v}
    if results["compile"]["status"] == "ok":
        first = results["compile"]["seconds"]
        row["compile_samples"] = compile_samples(tool, w, s, first)
        row["compile_s"] = statistics.median(row["compile_samples"])
    if results.get("point", {}).get("status") == "ok":
        row["point_s"] = results["point"]["seconds"]
    _batch_figures(row, results, s)
    _errors(row, results, ref)
    _ops(row, results)
    return row


def run_suite(
    names: list[str] | None = None,
    tools: list[str] | None = None,
    quick: bool = False,
    timeout: float | None = None,
    log: Callable[[str], None] = lambda text: None,
) -> list[dict[str, Any]]:
    """Measure tools (all by default) on workloads (the suite, or --quick's subset)."""
    s = Settings.make(quick, timeout)
    chosen = (
        [workload(n) for n in names]
        if names
        else [w for w in suite() if w.quick or not quick]
    )
    rows = []
    for w in chosen:
        start = time.perf_counter()
        ref = reference(w)
        log(f"{w.name}: reference in {time.perf_counter() - start:.2f} s")
        for tool in tools or list(PEERS):
            start = time.perf_counter()
            rows.append(measure(tool, w, s, ref))
            log(
                f"  {tool:<10} {time.perf_counter() - start:6.1f} s  "
                + _status_line(rows[-1])
            )
    return rows


def _status_line(row: dict[str, Any]) -> str:
    """The stages that did not simply work, or 'ok'."""
    bad = {k: v for k, v in row["status"].items() if v != "ok"}
    if not bad:
        return "ok"
    if len(set(bad.values())) == 1 and len(bad) == len(row["status"]):
        return next(iter(bad.values()))
    return "; ".join(f"{k}: {v}" for k, v in bad.items())


# --- the markdown table ------------------------------------------------------------


def _seconds(value: float | None, unit: str) -> str:
    """A time in the column's unit with three significant digits."""
    factor = {"s": 1, "ms": 1e3, "µs": 1e6}[unit]
    return f"{value * factor:.3g}"


def _best_peer(rows: list[dict], key: str) -> float | None:
    """The smallest value of key among the peers (not symgrad) that have one."""
    values = [r[key] for r in rows if r["tool"] != "symgrad" and r[key] is not None]
    return min(values) if values else None


def _cell(row: dict, rows: list[dict], key: str, fmt: Callable[[float], str]) -> str:
    """A figure with its ratio to the best peer, or why it is missing."""
    value = row[key]
    if value is None:
        return _missing(row, key)
    best = _best_peer(rows, key)
    ratio = f" ({value / best:.2g}×)" if best else ""
    return fmt(value) + ratio


STAGE_OF = {
    "compile_s": "compile",
    "point_s": "point",
    "batch_grad_s": "batch_grad",
    "batch_hessian_s": "batch_hessian",
    "grad_value_ratio": "ops",
    "hessian_value_ratio": "ops",
    "max_rel_error": "check",
}


def _missing(row: dict, key: str) -> str:
    """DNF, err, skipped or a dash for a figure that is not there."""
    status = row["status"].get(STAGE_OF.get(key, ""), "")
    if status.startswith("did not finish"):
        return "DNF"
    if status.startswith("error") or status.startswith("not run: compile failed"):
        return "err"
    return "DNF" if status.startswith("not run") else "—"


def _ops_cell(row: dict) -> str:
    """value / grad / Hessian op counts (or the derivative's)."""
    ops = row["ops"]
    if not ops:
        return _missing(row, "grad_value_ratio")
    if "derivative" in ops:
        return f"d: {ops['derivative']}"
    return " / ".join(str(ops.get(k, "—")) for k in ("value", "grad", "hessian"))


def _error_cell(row: dict) -> str:
    """The largest relative error, flagged when above 1e-10 (1e-12 for derivatives)."""
    value = row["max_rel_error"]
    if value is None:
        return _missing(row, "max_rel_error")
    limit = 1e-12 if "derivative" in row["errors"] else 1e-10
    return f"{float(value):.1e}" + (" ⚠" if float(value) > limit else "")


HEADER = (
    "| workload | tool | compile s | grad @ point µs | batch grad ms "
    "| batch Hessian ms "
    "| max rel err | ops value / grad / Hessian | grad/value | Hessian/value |"
)


def _row_cells(row: dict[str, Any], group: list[dict[str, Any]]) -> list[str]:
    """The cells of one table row."""
    derivative = row["kind"] == "derivative"
    dagger = "†" if row["batch_hessian_points"] != row["batch_points"] else ""
    cells = [
        row["workload"],
        row["tool"],
        _cell(row, group, "compile_s", lambda v: _seconds(v, "s")),
        _cell(row, group, "point_s", lambda v: _seconds(v, "µs")),
        _cell(row, group, "batch_grad_s", lambda v: _seconds(v, "ms")),
        _cell(row, group, "batch_hessian_s", lambda v: _seconds(v, "ms")) + dagger,
        _error_cell(row),
        _ops_cell(row),
        _cell(row, group, "grad_value_ratio", lambda v: f"{v:.2f}"),
        _cell(row, group, "hessian_value_ratio", lambda v: f"{v:.2f}"),
    ]
    if derivative:
        cells[4:6] = cells[8:10] = ["—", "—"]
    return cells


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The results table: each figure with its ratio to the best peer in parentheses."""
    lines = [HEADER, "|" + "---|" * 10]
    for name in dict.fromkeys(r["workload"] for r in rows):
        group = [r for r in rows if r["workload"] == name]
        for row in group:
            if not all(v.startswith("skipped") for v in row["status"].values()):
                lines.append("| " + " | ".join(_row_cells(row, group)) + " |")
    return "\n".join(lines)


def notes(rows: list[dict[str, Any]]) -> list[str]:
    """Skipped peers, failures (the first cause only) and caps, one line each."""
    out: list[str] = []
    skipped: dict[str, str] = {}
    shared: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        where = f"{row['workload']} / {row['tool']}"
        for stage, status in row["status"].items():
            if status.startswith("skipped"):
                skipped[row["tool"]] = status
            elif status.startswith("not run"):
                continue
            elif status != "ok":
                out.append(f"{where} / {stage}: {status}")
        for note in row["notes"]:
            shared.setdefault((row["workload"], note), []).append(row["tool"])
    out += [f"{w} / {', '.join(tools)}: {note}" for (w, note), tools in shared.items()]
    return [f"{tool}: {why}" for tool, why in skipped.items()] + out


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "versions": tool_versions(),
    }


def tool_versions() -> dict[str, str]:
    """Installed versions of symgrad and the peers."""
    from importlib import metadata

    names = {"symgrad": "symgrad", "sympy": "sympy", "symengine": "symengine"}
    names |= {
        "casadi": "casadi",
        "jax": "jax",
        "autograd": "autograd",
        "pytensor": "pytensor",
    }
    versions = {}
    for tool, dist in names.items():
        try:
            versions[tool] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[tool] = "not installed"
    return versions


LEGEND = (
    "Ratios in parentheses: to the best peer (not symgrad) in the same column. "
    "DNF: did not finish within the time limit; err: the tool raised; ⚠: error "
    "above 1e-10 (1e-12 for the n-th derivative); †: batch Hessian measured on "
    "fewer points and scaled to 10,000 (dense output capped). grad @ point is the "
    "10th derivative's call for the sine tower."
)


def report(
    rows: list[dict[str, Any]],
    info: dict[str, Any],
    scaling: dict | None,
    timeout: float = 60.0,
) -> str:
    """The whole markdown report: machine, table, notes, op-count definitions, fits."""
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    lines = [
        f"Machine: {info['nproc']} cores, {info['cpu']}, Python {info['python']}, "
        f"numpy {info['numpy']}, {info['date']}.  ",
        f"Versions: {versions}.",
    ]
    if rows:
        lines += ["", markdown_table(rows), "", LEGEND]
    found = notes(rows)
    if found:
        lines += ["", "Notes:", *[f"- {n}" for n in found]]
    if scaling:
        lines += ["", scaling_markdown(scaling)]
    misses = target_misses(rows, scaling, timeout)
    if misses:
        lines += [
            "",
            "Where symgrad misses the issue's targets:",
            *[f"- {m}" for m in misses],
        ]
    return "\n".join(lines) + "\n"


# --- the targets ------------------------------------------------------------


def _value(rows: list[dict], name: str, tool: str, key: str) -> float | None:
    """A figure; inf when the stage did not finish; None when there is none."""
    for row in rows:
        if row["workload"] == name and row["tool"] == tool:
            if row[key] is not None:
                return row[key]
            status = row["status"].get(STAGE_OF.get(key, ""), "")
            return math.inf if "did not finish" in status else None
    return None


def _miss(name: str, what: str, ours: float, theirs: float, factor: float) -> str:
    """One missed target, with how far off it is."""
    limit = theirs / factor
    times = f"{ours / limit:.3g}× the target" if math.isfinite(ours) else "DNF"
    return f"{name}: {what}: symgrad {ours:.3g} vs {theirs:.3g} ({times})"


TARGET_PAIRS = (
    ("compile_s", "compile no slower than JAX", ("jax",), 1.0, None),
    ("compile_s", "compile ≥10× faster than sympy", ("sympy",), 10.0, 1.0),
    ("compile_s", "compile ≥10× faster than SymEngine", ("symengine",), 10.0, 1.0),
    ("point_s", "one point no slower than sympy lambdify", ("sympy",), 1.0, None),
    ("point_s", "one point no slower than JAX", ("jax",), 1.0, None),
    ("batch_grad_s", "batch gradient ≤ sympy's, JAX's", ("sympy", "jax"), 1, None),
    ("batch_hessian_s", "batch Hessian ≤ sympy's, JAX's", ("sympy", "jax"), 1, None),
    ("grad_value_ratio", "grad/value ops ≤ CasADi's", ("casadi",), 1.0, None),
    ("hessian_value_ratio", "Hessian/value ops ≤ CasADi's", ("casadi",), 1.0, None),
)


def target_misses(
    rows: list[dict], study: dict | None, timeout: float = 60.0
) -> list[str]:
    """Where symgrad misses the issue's targets, and by how much."""
    out = []
    for name in dict.fromkeys(r["workload"] for r in rows):
        for key, what, peers, factor, above in TARGET_PAIRS:
            ours = _value(rows, name, "symgrad", key)
            found = [_value(rows, name, peer, key) for peer in peers]
            theirs = min((v for v in found if v is not None), default=None)
            if ours is None or theirs is None or (above and theirs <= above):
                continue
            if ours * factor <= min(theirs, timeout):
                continue
            if math.isinf(theirs):
                out.append(
                    f"{name}: {what}: not shown: the peer did not finish in "
                    f"{timeout:g} s, and symgrad's {ours:.3g} s × {factor:g} is more"
                )
                continue
            out.append(_miss(name, what, ours, theirs, factor))
        if any(r["workload"] == name and r["kind"] == "derivative" for r in rows):
            ours = _value(rows, name, "symgrad", "compile_s")
            if ours is None or ours >= 1.0:
                finished = ours is not None and math.isfinite(ours)
                took = f"took {ours:.3g} s" if finished else "did not finish"
                out.append(f"{name}: compile + one evaluation {took} (target < 1 s)")
    for family, data in (study or {}).items():
        for key, fit in data["fits"].items():
            if fit and max(fit["exponent"], fit["tail_exponent"]) > 1.1:
                out.append(
                    f"scaling {family}: {key} ∝ size^{fit['exponent']:.2f} fitted, "
                    f"^{fit['tail_exponent']:.2f} between the two largest sizes "
                    "(target ≤ 1.1)"
                )
    return out


# --- the scaling study -------------------------------------------------------------

ROSENBROCK_SIZES = (10, 30, 100, 300, 1000, 3000, 10000)
NESTED_DEPTHS = (10, 20, 30, 50, 100, 200)


def scaling_point(w: Workload, s: Settings) -> dict[str, Any]:
    """symgrad compile time, generated characters and op counts for one size."""
    results = run_stages("symgrad", w, ["compile", "ops"], s)
    compiled, ops = results.get("compile", {}), results.get("ops", {})
    point = {"workload": w.name, "status": compiled.get("status")}
    if compiled.get("status") == "ok":
        samples = compile_samples("symgrad", w, s, compiled["seconds"])
        point["compile_s"] = statistics.median(samples)
        point["compile_samples"] = samples
    if ops.get("status") == "ok":
        point |= ops["ops"]
    return point


def power_law(sizes: list[float], values: list[float]) -> dict[str, float] | None:
    """Least-squares fit of log(value) = log(c) + k*log(size): the exponent k and c."""
    pairs = [(a, b) for a, b in zip(sizes, values) if b and b > 0]
    if len(pairs) < 2:
        return None
    x, y = np.log([a for a, _ in pairs]), np.log([b for _, b in pairs])
    k, log_c = np.polyfit(x, y, 1)
    residual = y - (k * x + log_c)
    tail = (y[-1] - y[-2]) / (x[-1] - x[-2])
    return {
        "exponent": float(k),
        "coefficient": float(np.exp(log_c)),
        "rms_log": float(np.sqrt(np.mean(residual**2))),
        "tail_exponent": float(tail),
    }


def scaling_study(s: Settings, log: Callable[[str], None]) -> dict[str, Any]:
    """Compile time and generated size of symgrad against problem size, with fits."""
    series = {"rosenbrock": ROSENBROCK_SIZES, "nested": NESTED_DEPTHS}
    study: dict[str, Any] = {}
    for family, sizes in series.items():
        points = []
        for size in sizes:
            points.append(
                scaling_point(workload(f"{family}-{size}"), s) | {"size": size}
            )
            log(f"  scaling {family}-{size}: {points[-1]}")
        fits = {
            key: power_law([p["size"] for p in points], [p.get(key) for p in points])
            for key in ("compile_s", "module_chars", "value", "grad", "hessian")
        }
        study[family] = {"points": points, "fits": fits}
    return study


def scaling_markdown(study: dict[str, Any]) -> str:
    """The scaling study as a table per family plus the fitted exponents."""
    lines = [
        "Scaling of symgrad (compile = compile_source + load; ops as in the table):",
        "",
    ]
    for family, data in study.items():
        lines += [
            f"| {family} size | compile s | module chars | ops value | ops grad "
            "| ops Hessian |",
            "|---|---|---|---|---|---|",
        ]
        for p in data["points"]:
            compile_s = f"{p['compile_s']:.3g}" if "compile_s" in p else p["status"]
            keys = ("module_chars", "value", "grad", "hessian")
            figures = [str(p.get(k, "—")) for k in keys]
            lines.append(f"| {p['size']} | {compile_s} | " + " | ".join(figures) + " |")
        fits = []
        for key, fit in data["fits"].items():
            if fit:
                fits.append(
                    f"{key} ∝ size^{fit['exponent']:.2f} (rms log residual "
                    f"{fit['rms_log']:.2f}; between the two largest sizes "
                    f"^{fit['tail_exponent']:.2f})"
                )
        lines += ["", f"Fits ({family}): " + "; ".join(fits) + ".", ""]
    return "\n".join(lines)


# --- profiling ---------------------------------------------------------------------


def profile(name: str, top: int = 25) -> str:
    """cProfile of symgrad's compile (compile_source + load) on one workload."""
    from codegen.load import load
    from symgrad.api import compile_source, diff

    w = workload(name)
    profiler = cProfile.Profile()
    profiler.enable()
    if w.kind == "derivative":
        diff(w.expression, w.params[0], order=w.order)(w.at)
    else:
        load(compile_source(w.text, "bench.sg"), "bench", "<bench>")
    profiler.disable()
    from io import StringIO

    out = StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


# --- command line --------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small workloads, fewer repeats"
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="a workload (f, rosenbrock-N, nested-N, sine-tower-7-d10), a tool, or "
        "'scaling' (the scaling study alone); repeatable",
    )
    parser.add_argument(
        "--json", type=Path, help="write every figure to this JSON file"
    )
    parser.add_argument(
        "--skip", action="append", metavar="TOOL", help="leave a tool out; repeatable"
    )
    parser.add_argument("--markdown", type=Path, help="write the report to this file")
    parser.add_argument(
        "--timeout", type=float, help="seconds per stage (60; 10 with --quick)"
    )
    parser.add_argument(
        "--scaling", action="store_true", help="also run the scaling study"
    )
    parser.add_argument(
        "--profile", metavar="WORKLOAD", help="cProfile symgrad's compile and exit"
    )
    parser.add_argument(
        "--numba",
        action="store_true",
        help="the numba target against numpy, JAX and SymEngine LLVM "
        "(benchmarks/numba_target.py) and exit",
    )
    return parser.parse_args(argv)


def split_only(only: list[str] | None) -> tuple[list[str] | None, list[str] | None]:
    """--only names split into workloads and tools."""
    tools = [n for n in only or [] if n in PEERS]
    names = [n for n in only or [] if n not in PEERS and n != "scaling"]
    return names or None, tools or None


def _jsonable(value: Any) -> Any:
    """Rows and study as plain JSON (numpy arrays dropped, inf as a string)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_json(path: Path, payload: dict, study: dict | None, timeout: float) -> None:
    """Every figure, the op-count definitions, the study and the misses as JSON."""
    payload["ops_definitions"] = {k: p.ops_definition for k, p in PEERS.items()}
    payload["scaling"] = study
    payload["target_misses"] = target_misses(payload["rows"], study, timeout)
    path.write_text(json.dumps(_jsonable(payload), indent=1) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run the suite (and optionally the scaling study); print the markdown report."""
    args = parse_args(argv)
    if args.profile:
        print(profile(args.profile))
        return 0
    if args.numba:
        from benchmarks import numba_target

        return numba_target.main(["--quick"] if args.quick else [])
    log = partial(print, file=sys.stderr, flush=True)
    names, tools = split_only(args.only)
    tools = [t for t in tools or PEERS if t not in (args.skip or [])]
    scaling_only = args.only == ["scaling"]
    rows = (
        [] if scaling_only else run_suite(names, tools, args.quick, args.timeout, log)
    )
    settings = Settings.make(args.quick, args.timeout)
    study = scaling_study(settings, log) if args.scaling or scaling_only else None
    info = machine()
    text = report(rows, info, study, settings.timeout)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    if args.json:
        payload = {"machine": info, "settings": asdict(settings), "rows": rows}
        write_json(args.json, payload, study, settings.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
