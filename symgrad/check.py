"""Gradient checking: symbolic gradients against finite differences at optimal steps.

The error model
---------------
A function value comes out of floating point with a relative error of at most eps,
the dtype's machine epsilon: fl(f(x)) = f(x) (1 + d), |d| <= eps. A difference
quotient then carries a truncation error (Taylor's theorem) and a rounding error
(the values it subtracts, each off by up to eps |f|, divided by the step). The
optimal step h* balances the two: it is where the derivative of their sum is zero.

forward     D+(h) = (f(x+h) - f(x)) / h  =  f' + f'' h/2 + f''' h^2/6 + ...
            E+(h) = |f''| h/2 + 2 eps |f| / h                two values over h
            E+'(h) = |f''|/2 - 2 eps |f| / h^2 = 0
            =>  h* = 2 sqrt(eps |f| / |f''|),   E+(h*) = 2 sqrt(eps |f| |f''|)
central     D0(h) = (f(x+h) - f(x-h)) / 2h  =  f' + f''' h^2/6 + f^(5) h^4/120 + ...
            E0(h) = |f'''| h^2/6 + eps |f| / h               two values over 2h
            E0'(h) = |f'''| h/3 - eps |f| / h^2 = 0
            =>  h* = (3 eps |f| / |f'''|)^(1/3),   E0(h*) = (3/2) eps |f| / h*
richardson  R(h) = (4 D0(h/2) - D0(h)) / 3 = f' - f^(5) h^4/480 - f^(7) h^6/16128 - ..
            (a term c h^2k of D0 becomes c h^2k (4/4^k - 1)/3: the h^2 term cancels)
            ER(h) = |f^(5)| h^4/480 + 3 eps |f| / h      4/3 eps|f|/(h/2) + 1/3 eps|f|/h
            ER'(h) = |f^(5)| h^3/120 - 3 eps |f| / h^2 = 0
            =>  h* = (360 eps |f| / |f^(5)|)^(1/5)
complex     Im f(x + ih) / h  =  f' - f''' h^2/6 + ...  no subtraction, no cancellation:
            h = 1e-20 puts the truncation term near 1e-40 |f'''|, far below eps |f'|.

The next term. Where the leading derivative nearly vanishes (tanh''' near
atanh(1/sqrt 3), or a rounding residue such as 4e-16 where it is exactly zero), the
formula above sends h* far out, where the next Taylor term dominates. That term
alone gives its own optimum by the same calculus, and h* is the smaller of the two
(adding a term that grows with h can only move the optimum to a smaller h):

forward     |f'''| h^2/6 + 2 eps |f| / h       =>  h = (6 eps |f| / |f'''|)^(1/3)
central     |f^(5)| h^4/120 + eps |f| / h      =>  h = (30 eps |f| / |f^(5)|)^(1/5)
richardson  |f^(7)| h^6/16128 + 3 eps |f| / h  =>  h = (8064 eps |f| / |f^(7)|)^(1/7)

Where the model has no interior minimum -- the leading derivative is zero
(identically or at this point) or not finite, or f = 0 -- the textbook step of a
method of order p is used instead: h = eps^(1/(p+1)) max(|x|, 1), i.e. sqrt(eps)
max(|x|, 1) (forward, p = 1), eps^(1/3) max(|x|, 1) (central, p = 2), eps^(1/5)
max(|x|, 1) (Richardson, p = 4). Each input's report says which rule chose its step
and why. The higher derivatives are symbolic, evaluated in float64 at the point.

The function is evaluated in the requested dtype (float32 stays float32 through the
generated module) and the difference of two values is taken in that dtype, where it
is exact whenever they are within a factor of two (Sterbenz). The quotient divides
by the step actually taken, fl(x+h) - fl(x-h) in float64, so the rounding of x + h
itself never enters the estimate.

Pass/fail
---------
The course's relative error |g - g~| / (|g| + |g~|) (2-norms; 0 when both are 0) must
not exceed a tolerance set by method and dtype. The model's typical error at h* is
eps^(p/(p+1)) for a well-scaled function (|f| ~ |f'| ~ |f^(p+1)|); the tolerances
allow 30-450 times that for the constants of real functions, while a wrong
derivative (an error of order one) still fails by orders of magnitude:

    method       p   typical error (float64 / float32)   tolerance (float64 / float32)
    forward      1   1.5e-8  / 3.5e-4                     1e-6  / 1e-2
    central      2   3.7e-11 / 2.4e-5                     1e-8  / 1e-3
    richardson   4   3.0e-13 / 2.9e-6                     1e-10 / 1e-4
    complex      -   2.2e-16 / 1.2e-7                     1e-13 / 1e-5
    --against    -   (two exact gradients)                1e-10 / 1e-4

Array functions are checked entry by entry with the same steps and tolerances
(symgrad/check_arrays.py).
"""

from __future__ import annotations

import importlib
import math
import os
import sys
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codegen.load import load
from codegen.module import MARKER, FunctionSpec, ModuleSpec, render
from symgrad import syntax
from symgrad.arrays import full
from symgrad.api import decode_source
from symgrad.derivatives import derivative, grad
from symgrad.errors import Span, SymgradError
from symgrad.evaluate import NUMPY_IMPL, evaluate
from symgrad.graph import Node, is_const, toposort, var
from symgrad.lower import COMPARISONS, lower, subexpressions
from symgrad.program import Function
from symgrad.ops import BINARY_OPERATORS, FUNCTIONS
from symgrad.parser import parse

METHODS = ("central", "forward", "complex", "richardson")
DTYPES: dict[str, type] = {"float64": np.float64, "float32": np.float32}
COMPLEX_DTYPES: dict[str, type] = {"float64": np.complex128, "float32": np.complex64}
EPS: dict[str, float] = {k: float(np.finfo(v).eps) for k, v in DTYPES.items()}
TOLERANCE: dict[str, dict[str, float]] = {
    "forward": {"float64": 1e-6, "float32": 1e-2},
    "central": {"float64": 1e-8, "float32": 1e-3},
    "richardson": {"float64": 1e-10, "float32": 1e-4},
    "complex": {"float64": 1e-13, "float32": 1e-5},
    "against": {"float64": 1e-10, "float32": 1e-4},
}
COMPLEX_STEP = 1e-20
# The order p of each difference method: its error is O(h^p); its step model uses
# the derivative of the leading truncation term and that of the next term.
ORDER = {"forward": 1, "central": 2, "richardson": 4}
_TEXTBOOK = {1: "sqrt(eps)", 2: "eps^(1/3)", 4: "eps^(1/5)"}


@dataclass(frozen=True)
class _Term:
    """One truncation term: its derivative order, the optimal step and its formula."""

    order: int
    coefficient: float  # h* = (coefficient eps |f| / |derivative|)^(1/power)
    power: int
    formula: str

    def step(self, eps: float, f: float, d: float) -> float:
        """The step minimizing this term plus the rounding error."""
        return (self.coefficient * eps * abs(f) / abs(d)) ** (1 / self.power)


# The derivation of every constant is in the module docstring. The forward
# leading-term step 2 sqrt(eps |f| / |f''|) is written as (4 eps |f| / |f''|)^(1/2).
_TERMS: dict[str, tuple[_Term, _Term]] = {
    "forward": (
        _Term(2, 4, 2, "2 sqrt(eps |f| / |f''|)"),
        _Term(3, 6, 3, "(6 eps |f| / |f'''|)^(1/3)"),
    ),
    "central": (
        _Term(3, 3, 3, "(3 eps |f| / |f'''|)^(1/3)"),
        _Term(5, 30, 5, "(30 eps |f| / |f^(5)|)^(1/5)"),
    ),
    "richardson": (
        _Term(5, 360, 5, "(360 eps |f| / |f^(5)|)^(1/5)"),
        _Term(7, 8064, 7, "(8064 eps |f| / |f^(7)|)^(1/7)"),
    ),
}


def _prime(order: int) -> str:
    return "f" + "'" * order if order <= 3 else f"f^({order})"


class CheckError(SymgradError):
    """A gradient check that cannot be carried out on this input."""


class ArgumentError(CheckError):
    """A point, function name or option that does not fit the file (a usage error)."""


class PlotUnavailable(Exception):
    """--plot needs matplotlib, which is not installed."""


# ---------------------------------------------------------------------------
# complex-analytic evaluation for the complex step


def _complex_sigmoid(z):
    # 1/(1 + e^-z) = e^z/(1 + e^z): one analytic function; the branch is chosen by
    # Re z only so that the exponential never overflows.
    right = np.real(z) >= 0
    e = np.exp(np.where(right, -z, z))
    return np.where(right, 1 / (1 + e), e / (1 + e))[()]


def _complex_softplus(z):
    # log(1 + e^z) = z + log(1 + e^-z): analytic; the branch (by Re z) avoids overflow.
    right = np.real(z) >= 0
    return (np.where(right, z, 0) + np.log1p(np.exp(np.where(right, -z, z))))[()]


# Ops whose numpy spelling is complex-analytic (checked: numpy accepts complex input
# and computes the analytic continuation). Everything else -- abs, sign, min, max,
# relu, step, atan2, comparisons, where, and any op added later -- is refused.
_ANALYTIC = (
    "add sub mul div neg pow exp log log1p expm1 sqrt sin cos tan asin acos atan "
    "sinh cosh tanh"
).split()
COMPLEX_IMPL: dict[str, Callable] = {op: NUMPY_IMPL[op] for op in _ANALYTIC}
COMPLEX_IMPL.update(sigmoid=_complex_sigmoid, softplus=_complex_softplus)


def _complex_value(body: Node, env: Mapping[str, object]) -> object:
    """body evaluated with complex inputs; constant subgraphs stay Python scalars."""
    values: dict[Node, object] = {}
    constant: set[Node] = set()
    with np.errstate(all="ignore"):
        for node in toposort([body]):
            if node.op == "const":
                values[node] = node.value  # a Python float: never widens complex64
                constant.add(node)
            elif node.op == "var":
                values[node] = env[node.name]
            else:
                value = COMPLEX_IMPL[node.op](*(values[a] for a in node.args))
                if all(a in constant for a in node.args):
                    constant.add(node)
                    value = np.asarray(value).item()
                values[node] = value
    return values[body]


# ---------------------------------------------------------------------------
# the function under check


@dataclass
class _Target:
    """A function at a point, compiled for evaluation in one dtype."""

    function: Function
    syntax_module: syntax.Module | None
    dtype: str
    point: dict[str, float]
    code: types.ModuleType

    @property
    def eps(self) -> float:
        """The dtype's machine epsilon."""
        return EPS[self.dtype]

    def cast(self, x: float):
        """x as a scalar of the working dtype."""
        return DTYPES[self.dtype](x)

    def args(self, name: str | None = None, value: object = None) -> list:
        """The call's arguments at the point, with one of them replaced."""
        return [
            value if n == name else self.cast(self.point[n])
            for n in self.function.all_names
        ]

    def value(self, name: str | None = None, value: object = None):
        """f at the point (with name moved to value), in the working dtype."""
        with np.errstate(all="ignore"):  # a step outside the domain shows as nan
            return self.code.value(*self.args(name, value))

    def gradient(self) -> list[float]:
        """The symbolic gradient, evaluated in the working dtype."""
        return [float(g) for g in self.code.gradient(*self.args())]

    def higher(self, name: str, order: int) -> Higher:
        """The order-th partial derivative in name at the point (in float64)."""
        node = derivative(self.function.body, var(name), order)
        (value,) = evaluate([node], self.point)
        return Higher(order, float(value), is_const(node, 0))


def signature(function: Function) -> str:
    """`f(x, y; data)` as written in the expression file."""
    data = f"; {', '.join(function.data)}" if function.data else ""
    return f"{function.name}({', '.join(function.params)}{data})"


def _compile(function: Function) -> types.ModuleType:
    """A generated module with value(...) and gradient(...) of one function."""
    params = tuple((n, function.var_of(n)) for n in function.all_names)
    wrt = function.param_nodes
    # an array parameter's partial has its shape even where it is constant
    gradient = tuple(full(g, v.shape) for g, v in zip(grad(function.body, wrt), wrt))
    specs = (
        FunctionSpec("value", params, function.body, function.source),
        FunctionSpec("gradient", params, gradient, f"Gradient.\n\n{function.source}"),
    )
    text = render(ModuleSpec(f"{MARKER} for symgrad check.", specs))
    return load(text, f"_symgrad_check_{function.name}", f"<check {function.name}>")


def _resolve(
    source: str | Path | Function, function: str | None, file: str
) -> tuple[Function, syntax.Module | None]:
    """The Function to check, and the syntax tree it came from when there is one."""
    if isinstance(source, Function):
        if function not in (None, source.name):
            raise ArgumentError(
                f"the function given is '{source.name}', not {function}"
            )
        return source, None
    if isinstance(source, Path):
        try:
            source, file = decode_source(source.read_bytes(), str(source)), str(source)
        except OSError as exc:
            raise CheckError(f"{source}: cannot read: {exc.strerror}") from None
    module = parse(source, file)
    selected = _select(lower(module).functions, function, file)
    return selected, module


def _select(functions: Sequence[Function], name: str | None, file: str) -> Function:
    names = ", ".join(f.name for f in functions)
    if not functions:
        raise CheckError(f"{file}: defines no function to check")
    if name is None and len(functions) == 1:
        return functions[0]
    if name is None:
        raise ArgumentError(f"{file} defines {names}: choose one with --function")
    for f in functions:
        if f.name == name:
            return f
    raise ArgumentError(f"{file} has no function '{name}' (it defines {names})")


def _point(function: Function, at: Mapping[str, float], dtype: str) -> dict:
    """Every parameter's value, rounded to the dtype (the point actually checked)."""
    sig = signature(function)
    for name in at:
        if name not in function.all_names:
            raise ArgumentError(f"the point names '{name}', not a parameter of {sig}")
    missing = [n for n in function.all_names if n not in at]
    if missing:
        raise ArgumentError(f"no value for {', '.join(missing)}: {sig} needs them all")
    for name in function.all_names:
        if np.ndim(at[name]) != 0:
            raise ArgumentError(
                f"{name} is a scalar parameter of {sig}, not an array of shape "
                f"{np.shape(at[name])}"
            )
    point = {n: float(DTYPES[dtype](float(at[n]))) for n in function.all_names}
    for name, value in point.items():
        if not math.isfinite(value):
            raise ArgumentError(f"{name} = {value} is not a finite {dtype}")
    return point


def _target(source, at, dtype: str, function: str | None, file: str) -> _Target:
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    func, module = (
        source if isinstance(source, tuple) else _resolve(source, function, file)
    )
    if _has_arrays(func):
        raise ArgumentError(
            f"--sweep draws the error curve of one scalar input; {signature(func)} "
            "has array parameters (check them entry by entry without --sweep)"
        )
    if not func.params:
        raise CheckError(
            f"{signature(func)} has no differentiated parameter", func.span
        )
    target = _Target(func, module, dtype, _point(func, at, dtype), _compile(func))
    _check_value(target)
    return target


def _has_arrays(function: Function) -> bool:
    return bool(function.shapes or function.body.shape)


def _check_value(t: _Target) -> None:
    value = t.value()
    if np.result_type(value) != DTYPES[t.dtype]:  # the generated module's contract
        raise RuntimeError(f"evaluated in {np.result_type(value)}, not {t.dtype}")
    if not np.isfinite(value):
        raise CheckError(
            f"{signature(t.function)} = {float(value)} at {_where(t.point)} in "
            f"{t.dtype}: the point is outside the domain (or the value overflows)",
            t.function.span,
        )


def _where(point: Mapping[str, float]) -> str:
    return ", ".join(f"{n} = {v:.17g}" for n, v in point.items())


# ---------------------------------------------------------------------------
# steps and estimates


@dataclass(frozen=True)
class Step:
    """The step for one input: its size, the rule that chose it and why."""

    h: float
    rule: str  # "optimal", "fallback", "given" or "complex"
    why: str


@dataclass(frozen=True)
class Higher:
    """A higher partial derivative at the point, and whether it is identically zero."""

    order: int
    value: float
    identically_zero: bool = False


def optimal_step(
    method: str, x: float, f: float, lead: Higher, nxt: Higher, eps: float
) -> Step:
    """The error-optimal step of a difference method (see the module docstring).

    lead is the derivative in the leading truncation term (f'' forward, f''' central,
    f^(5) Richardson) and nxt the one in the next term, whose own optimal step caps
    h* where the leading derivative nearly vanishes.
    """
    p = ORDER[method]
    textbook = eps ** (1 / (p + 1)) * max(abs(x), 1.0)
    fallback = f"textbook h = {_TEXTBOOK[p]} max(|x|, 1)"
    d = _prime(lead.order)
    if lead.identically_zero:
        return Step(textbook, "fallback", f"{d} = 0 identically; {fallback}")
    if not math.isfinite(lead.value):
        return Step(textbook, "fallback", f"{d} is not finite here; {fallback}")
    if lead.value == 0:
        return Step(textbook, "fallback", f"{d} = 0 at this point; {fallback}")
    if f == 0:
        return Step(textbook, "fallback", f"f = 0 at this point; {fallback}")
    first, second = _TERMS[method]
    h = first.step(eps, f, lead.value)
    sizes = f"|f| = {abs(f):.3g}, |{d}| = {abs(lead.value):.3g}"
    why = f"optimal h* = {first.formula}, {sizes}"
    if math.isfinite(nxt.value) and nxt.value != 0:
        capped = second.step(eps, f, nxt.value)
        if capped < h:
            dn = _prime(nxt.order)
            why = (
                f"optimal h* = {second.formula}, {sizes}, |{dn}| = "
                f"{abs(nxt.value):.3g}: {d} nearly vanishes, so the {dn} term governs"
            )
            h = capped
    return Step(h, "optimal", why)


def _step(t: _Target, name: str, method: str, given: float | None) -> Step:
    if given is not None:
        return Step(given, "given", "given (a fixed step)")
    if method == "complex":
        why = "complex step: Im f(x+ih)/h subtracts nothing, so no cancellation"
        return Step(COMPLEX_STEP, "complex", why)
    lead, nxt = (t.higher(name, term.order) for term in _TERMS[method])
    return optimal_step(method, t.point[name], float(t.value()), lead, nxt, t.eps)


def _forward(t: _Target, name: str, h: float) -> tuple[float, float]:
    x = t.point[name]
    xp = t.cast(x + h)
    width = float(xp) - x  # the step actually taken
    if width == 0:
        return math.nan, 0.0
    return float(t.value(name, xp) - t.value()) / width, width


def _central(t: _Target, name: str, h: float) -> tuple[float, float]:
    x = t.point[name]
    xp, xm = t.cast(x + h), t.cast(x - h)
    width = float(xp) - float(xm)  # twice the step actually taken
    if width == 0:
        return math.nan, 0.0
    return float(t.value(name, xp) - t.value(name, xm)) / width, width / 2


def _complex(t: _Target, name: str, h: float) -> tuple[float, float]:
    z = COMPLEX_DTYPES[t.dtype](complex(t.point[name], h))
    out = _complex_value(
        t.function.body, dict(zip(t.function.all_names, t.args(name, z)))
    )
    if np.result_type(out) != COMPLEX_DTYPES[t.dtype]:
        raise RuntimeError(f"complex step evaluated in {np.result_type(out)}")
    return float(np.imag(out)) / float(z.imag), float(z.imag)


def _estimate(t: _Target, name: str, method: str, h: float) -> tuple[float, float]:
    """(the derivative estimate in name, the step actually taken) by one method."""
    if method == "forward":
        return _forward(t, name, h)
    if method == "central":
        return _central(t, name, h)
    if method == "richardson":
        # D0(h) = f' + c h^2 + O(h^4), so (4 D0(h/2) - D0(h))/3 = f' + O(h^4).
        coarse, used = _central(t, name, h)
        fine, _ = _central(t, name, h / 2)
        return (4 * fine - coarse) / 3, used
    return _complex(t, name, h)


# ---------------------------------------------------------------------------
# the complex step's refusal of non-analytic ops


def _refuse_non_analytic(t: _Target) -> None:
    """Raise a CheckError at the first non-analytic op in the function, if any."""
    ops = sorted(
        {n.op for n in toposort([t.function.body]) if n.args} - set(COMPLEX_IMPL)
    )
    if not ops:
        return
    places = _source_places(t.syntax_module, t.function.name)
    name, span = places[0] if places else (ops[0], t.function.span)
    notes = tuple(f"{s.file}:{s.line}:{s.col}: also '{n}'" for n, s in places[1:])
    raise CheckError(
        f"the complex step needs a complex-analytic function, but '{name}' is not "
        f"(Im f(x+ih)/h would not be the derivative); use --method central",
        span,
        notes,
    )


def _source_places(module: syntax.Module | None, name: str) -> list[tuple[str, Span]]:
    """Non-analytic calls and comparisons that the function's definition reaches."""
    if module is None:
        return []
    earlier: dict[str, syntax.Definition] = {}
    for definition in module.definitions:
        if definition.name == name:
            break
        earlier[definition.name] = definition
    target = next(d for d in module.definitions if d.name == name)
    return sorted(
        _walk_non_analytic(target, earlier), key=lambda p: (p[1].line, p[1].col)
    )


def _walk_non_analytic(target, earlier) -> list[tuple[str, Span]]:
    found: list[tuple[str, Span]] = []
    seen: set[str] = set()
    stack = [(target.body, _param_names(target))]
    while stack:
        expr, params = stack.pop()
        if isinstance(expr, syntax.Name) and expr.id not in params:
            definition = earlier.get(expr.id)
            if isinstance(definition, syntax.Assign) and expr.id not in seen:
                seen.add(expr.id)
                stack.append((definition.body, frozenset()))
        elif (
            isinstance(expr, syntax.Binary)
            and BINARY_OPERATORS.get(expr.op) in COMPARISONS  # '@' builds no op here
        ):
            found.append((expr.op, expr.span))
        elif isinstance(expr, syntax.Call):
            definition = earlier.get(expr.func)
            if isinstance(definition, syntax.FunctionDef):  # the file's own function
                if expr.func not in seen:
                    seen.add(expr.func)
                    stack.append((definition.body, _param_names(definition)))
            elif (
                expr.func in FUNCTIONS and FUNCTIONS[expr.func].name not in COMPLEX_IMPL
            ):
                found.append((expr.func, expr.func_span))
        stack.extend((child, params) for child in subexpressions(expr))
    return found


def _param_names(definition: syntax.FunctionDef) -> frozenset[str]:
    return frozenset(p.name for p in definition.params + definition.data)


# ---------------------------------------------------------------------------
# results


def relative_error(g: Sequence[float], h: Sequence[float]) -> float:
    """The course's relative error |g - h| / (|g| + |h|), 2-norms (0 if both are 0)."""
    g, h = np.asarray(g, float), np.asarray(h, float)
    scale = np.linalg.norm(g) + np.linalg.norm(h)
    if scale == 0:
        return 0.0
    return float(np.linalg.norm(g - h) / scale)


@dataclass(frozen=True)
class Partial:
    """One input's line of the report: step, estimate, symbolic value, errors."""

    name: str
    x: float
    step: float
    rule: str
    why: str
    estimate: float
    symbolic: float

    @property
    def error(self) -> float:
        """|estimate - symbolic|."""
        return abs(self.estimate - self.symbolic)

    @property
    def relative(self) -> float:
        """|estimate - symbolic| / (|estimate| + |symbolic|), 0 if both are 0."""
        return relative_error([self.estimate], [self.symbolic])


@dataclass(frozen=True)
class Against:
    """A user's gradient compared with symgrad's exact one."""

    name: str
    params: tuple[str, ...]
    theirs: tuple[float, ...]
    symbolic: tuple[float, ...]
    relative_error: float
    tolerance: float

    @property
    def disagreeing(self) -> list[int]:
        """Components whose error alone exceeds tolerance * (|g| + |g~|)."""
        scale = self.tolerance * (
            np.linalg.norm(self.theirs) + np.linalg.norm(self.symbolic)
        )
        diffs = [abs(a - b) for a, b in zip(self.theirs, self.symbolic)]
        bad = [i for i, d in enumerate(diffs) if not d <= scale]
        if not bad and not self.agrees:  # many small errors: point at the largest
            bad = [int(np.nanargmax(diffs))]
        return bad

    @property
    def agrees(self) -> bool:
        """Whether the relative error is within the tolerance."""
        return self.relative_error <= self.tolerance


class Verdict:
    """passed, for a check result holding relative_error, tolerance and against."""

    relative_error: float
    tolerance: float
    against: Against | None

    @property
    def passed(self) -> bool:
        """Within tolerance (and in agreement with --against, when given)."""
        ok = self.relative_error <= self.tolerance
        return ok and (self.against is None or self.against.agrees)


@dataclass(frozen=True)
class CheckResult(Verdict):
    """A gradient check of one function at one point."""

    function: str
    method: str
    dtype: str
    point: dict[str, float]
    partials: tuple[Partial, ...]
    relative_error: float
    tolerance: float
    against: Against | None = None

    def to_dict(self) -> dict:
        """A JSON-ready summary (NaN and infinities become null)."""
        partials = [
            {
                "name": p.name,
                "x": p.x,
                "step": p.step,
                "rule": p.rule,
                "why": p.why,
                "estimate": p.estimate,
                "symbolic": p.symbolic,
                "error": p.error,
                "relative_error": p.relative,
            }
            for p in self.partials
        ]
        out = {
            "function": self.function,
            "method": self.method,
            "dtype": self.dtype,
            "eps": EPS[self.dtype],
            "point": self.point,
            "partials": partials,
            "relative_error": self.relative_error,
            "tolerance": self.tolerance,
            "passed": self.passed,
        }
        if self.against is not None:
            out["against"] = _against_dict(self.against)
        return _json_safe(out)

    def format(self) -> str:
        """The aligned terminal report."""
        return _format_check(self)


def _against_dict(a: Against) -> dict:
    return {
        "name": a.name,
        "theirs": dict(zip(a.params, a.theirs)),
        "symbolic": dict(zip(a.params, a.symbolic)),
        "disagreeing": [a.params[i] for i in a.disagreeing],
        "relative_error": a.relative_error,
        "tolerance": a.tolerance,
        "agrees": a.agrees,
    }


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


# ---------------------------------------------------------------------------
# check


def check(
    source_or_function: str | Path | Function,
    at: Mapping[str, object],
    method: str = "central",
    dtype: str = "float64",
    function: str | None = None,
    *,
    step: float | None = None,
    against: str | Callable | None = None,
    file: str = "<input>",
    at_file: str | Path | None = None,
    sizes: Mapping[str, int] | None = None,
    seed: int = 0,
    entries: int | None = None,
):
    """Compare the symbolic gradient with a finite-difference (or complex-step) one.

    source_or_function is expression-file text, a Path to one, or a lowered
    Function; at gives parameters' values (data too; arrays for array parameters)
    and at_file an .npz file of more. step fixes the step for every input instead
    of the optimal one. against is a "module:function" or a callable taking the
    function's arguments and returning the partials. A function with array
    parameters is checked entry by entry (symgrad.check_arrays): the values not
    given are drawn at random for the sizes given or read off the arrays, with
    seed; entries caps the entries checked per parameter (a random sample).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    if step is not None and not (math.isfinite(step) and step > 0):
        raise ArgumentError(f"the step must be a positive number, not {step}")
    user = _user_gradient(against) if isinstance(against, str) else against
    label = against if isinstance(against, str) else getattr(against, "__name__", "")
    func, module = _resolve(source_or_function, function, file)
    at, given_as = _merged_point(at, at_file)
    if _has_arrays(func):
        from symgrad.check_arrays import check_array

        return check_array(
            func, at, method, dtype, step=step, user=user,
            label_of_user=label or "your gradient", sizes=sizes, seed=seed,
            entries=entries, given_as=given_as,
        )  # fmt: skip
    if sizes or entries is not None:
        raise ArgumentError(
            f"--sizes and --entries are for array functions; {signature(func)} has "
            "no array parameters"
        )
    t = _target((func, module), at, dtype, function, file)
    if method == "complex":
        _refuse_non_analytic(t)
    symbolic = t.gradient()
    partials = tuple(
        _partial(t, name, method, step, g)
        for name, g in zip(t.function.params, symbolic)
    )
    estimates = [p.estimate for p in partials]
    return CheckResult(
        signature(t.function),
        method,
        dtype,
        dict(t.point),
        partials,
        relative_error(symbolic, estimates),
        TOLERANCE[method][dtype],
        None if user is None else _compare(t, user, label or "your gradient"),
    )


def _merged_point(
    at: Mapping[str, object], at_file: str | Path | None
) -> tuple[dict[str, object], dict[str, str]]:
    """The values of --at and of an .npz file together, and where each came from."""
    given_as = {name: "given (--at)" for name in at}
    if at_file is None:
        return dict(at), given_as
    from symgrad.check_arrays import load_npz

    stored = load_npz(at_file)
    for name in stored:
        if name in at:
            raise ArgumentError(f"{name} is given twice: in --at and in {at_file}")
        given_as[name] = f"from {at_file}"
    return {**stored, **at}, given_as


def _partial(
    t: _Target, name: str, method: str, given: float | None, symbolic: float
) -> Partial:
    s = _step(t, name, method, given)
    value, used = _estimate(t, name, method, s.h)
    return Partial(name, t.point[name], used, s.rule, s.why, value, symbolic)


# ---------------------------------------------------------------------------
# --against: a hand-written gradient


def _user_gradient(spec: str) -> Callable:
    """Import MODULE:FUNCTION from the current directory or sys.path (never eval)."""
    module_name, _, attribute = spec.partition(":")
    parts = module_name.split(".") + attribute.split(".")
    if not all(p.isidentifier() for p in parts):
        raise ArgumentError(
            f"--against takes MODULE:FUNCTION (e.g. mygrads:f_grad), not '{spec}'"
        )
    module = _import(module_name, spec)
    obj = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            where = getattr(module, "__file__", None) or module_name
            raise CheckError(f"--against {spec}: {where} has no attribute '{part}'")
        obj = getattr(obj, part)
    if not callable(obj):
        raise CheckError(f"--against {spec}: '{attribute}' is not a function")
    return obj


def _import(module_name: str, spec: str) -> types.ModuleType:
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    importlib.invalidate_caches()  # files written since the last import are found too
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name or module_name.startswith(f"{exc.name}."):
            raise CheckError(
                f"--against {spec}: no module named '{exc.name}' in the current "
                "directory or on sys.path"
            ) from None
        raise CheckError(f"--against {spec}: importing failed: {exc}") from None
    except Exception as exc:  # the user's module is broken: report, no traceback
        raise CheckError(
            f"--against {spec}: importing failed: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)


def _compare(t: _Target, user: Callable, label: str) -> Against:
    """Call the user's gradient like f_grad and compare it with the symbolic one."""
    try:
        raw = user(*t.args())
    except Exception as exc:  # the user's function failed: report, no traceback
        raise CheckError(f"{label} raised {type(exc).__name__}: {exc}") from None
    theirs = _partials(raw, t.function.params, label)
    symbolic = tuple(t.gradient())
    error = relative_error(symbolic, theirs)
    return Against(
        label, t.function.params, theirs, symbolic, error, TOLERANCE["against"][t.dtype]
    )


def _partials(raw, params: tuple[str, ...], label: str) -> tuple[float, ...]:
    if np.ndim(raw) == 0 and len(params) == 1:
        raw = (raw,)
    try:
        items = list(raw)
    except TypeError:
        raise CheckError(
            f"{label} returned {type(raw).__name__}, not the partials"
        ) from None
    if len(items) != len(params):
        raise CheckError(
            f"{label} returned {len(items)} values; expected {len(params)}, "
            f"the partials in ({', '.join(params)})"
        )
    values = []
    for name, item in zip(params, items):
        if np.size(item) != 1:
            raise CheckError(f"{label}: the partial in {name} is not a scalar")
        values.append(float(np.asarray(item).reshape(())))
    return tuple(values)


# ---------------------------------------------------------------------------
# --sweep: the V-shaped error curve


SWEEP_STEPS = tuple(float(f"1e-{k}") for k in range(1, 17))
# Each sweep error is the root mean square over the steps h (1 + j/10), j = 0..7.
# Rounding noise is quantized -- f(x+h) - f(x-h) moves in whole ulps of f -- so a
# single step can land on an exact cancellation (an error of 0 far from the optimum,
# common where f' is a short fraction); the RMS is the error to expect at that h.
CLUSTER = tuple(1 + j / 10 for j in range(8))
SWEEP_METHODS = ("forward", "central")


@dataclass(frozen=True)
class Measured:
    """The error at one step: exactly at h, and the RMS over the cluster around h."""

    h: float  # the step asked for
    used: float  # the step actually taken (0: x + h rounds to x)
    at_h: float
    rms: float


@dataclass(frozen=True)
class Predicted:
    """A method's predicted optimal step and the error measured there."""

    method: str
    step: Step
    measured: Measured


@dataclass(frozen=True)
class Sweep:
    """Errors of forward and central differences over h = 1e-1 ... 1e-16."""

    function: str
    variable: str
    dtype: str
    point: dict[str, float]
    symbolic: float
    rows: dict[str, tuple[Measured, ...]]  # method -> one per decade
    predicted: dict[str, Predicted]

    def observed_min(self, method: str) -> Measured:
        """The decade with the smallest RMS error."""
        rms = np.asarray([m.rms for m in self.rows[method]], float)
        if np.isnan(rms).all():  # every step left the domain
            return self.rows[method][0]
        return self.rows[method][int(np.nanargmin(rms))]

    def ratio(self, method: str) -> float:
        """RMS error at the predicted step over the observed minimum."""
        low = self.observed_min(method).rms
        at = self.predicted[method].measured.rms
        if low == 0:
            return 1.0 if at == 0 else math.inf
        return at / low

    def to_dict(self) -> dict:
        """A JSON-ready summary (NaN and infinities become null)."""
        methods = {}
        for m, p in self.predicted.items():
            low = self.observed_min(m)
            methods[m] = {
                "rms": [r.rms for r in self.rows[m]],
                "at_h": [r.at_h for r in self.rows[m]],
                "predicted_step": p.measured.used,
                "rule": p.step.rule,
                "why": p.step.why,
                "predicted_rms": p.measured.rms,
                "predicted_at_h": p.measured.at_h,
                "observed_min_step": low.h,
                "observed_min_rms": low.rms,
                "ratio": self.ratio(m),
            }
        summary = {
            "function": self.function,
            "variable": self.variable,
            "dtype": self.dtype,
            "point": self.point,
            "symbolic": self.symbolic,
            "steps": list(SWEEP_STEPS),
            "methods": methods,
        }
        return _json_safe(summary)

    def format(self) -> str:
        """The aligned terminal table with the predicted and observed optima marked."""
        return _format_sweep(self)


def _measure(t: _Target, name: str, method: str, h: float, exact: float) -> Measured:
    errors = [abs(_estimate(t, name, method, h * c)[0] - exact) for c in CLUSTER]
    used = _estimate(t, name, method, h)[1]
    return Measured(h, used, errors[0], float(np.sqrt(np.mean(np.square(errors)))))


def sweep(
    source_or_function: str | Path | Function,
    at: Mapping[str, float],
    variable: str,
    dtype: str = "float64",
    function: str | None = None,
    *,
    file: str = "<input>",
) -> Sweep:
    """Forward and central errors in one input for h = 1e-1 ... 1e-16, and at h*."""
    t = _target(source_or_function, at, dtype, function, file)
    if variable not in t.function.params:
        sig = signature(t.function)
        raise ArgumentError(
            f"--sweep {variable}: not a differentiated parameter of {sig}"
        )
    exact = t.gradient()[t.function.params.index(variable)]
    rows = {
        m: tuple(_measure(t, variable, m, h, exact) for h in SWEEP_STEPS)
        for m in SWEEP_METHODS
    }
    predicted = {}
    for m in SWEEP_METHODS:
        s = _step(t, variable, m, None)
        predicted[m] = Predicted(m, s, _measure(t, variable, m, s.h, exact))
    sig = signature(t.function)
    return Sweep(sig, variable, dtype, dict(t.point), exact, rows, predicted)


def plot_sweep(result: Sweep, path: str | Path) -> None:
    """Draw the log-log error curves, the predicted steps marked (needs matplotlib)."""
    fig = require_matplotlib()(figsize=(6.4, 4.4))
    ax = fig.add_subplot()
    floor = _plot_floor(result)
    for method, color in (("forward", "tab:blue"), ("central", "tab:orange")):
        _plot_method(ax, result, method, color, floor)
    if _has_zero(result):
        ax.axhline(floor, color="0.5", linestyle=":", linewidth=1)
        ax.annotate(
            "exact (error 0), drawn here", (1e-16, floor), xytext=(0, 3),
            textcoords="offset points", fontsize="x-small", color="0.4",
        )  # fmt: skip
    ax.set_xlabel("step h")
    ax.set_ylabel("|finite difference - symbolic|")
    name = result.function.split("(")[0]
    where = _where(result.point)
    ax.set_title(f"d{name}/d{result.variable} at {where} ({result.dtype})")
    ax.legend(fontsize="small")
    ax.grid(True, which="major", alpha=0.3)
    try:
        fig.savefig(path)
    except OSError as exc:
        raise CheckError(
            f"{path}: cannot write the plot: {exc.strerror or exc}"
        ) from None


def _errors(result: Sweep) -> list[float]:
    """Every error the plot draws."""
    found = [p.measured.rms for p in result.predicted.values()]
    for rows in result.rows.values():
        found += [r.rms for r in rows] + [r.at_h for r in rows]
    return [e for e in found if not math.isnan(e)]


def _has_zero(result: Sweep) -> bool:
    return any(e == 0 for e in _errors(result))


def _plot_floor(result: Sweep) -> float:
    """Where an exact zero is drawn: a decade under the smallest nonzero error."""
    positive = [e for e in _errors(result) if e > 0]
    return min(positive) / 10 if positive else 1e-20


def _plot_method(ax, result: Sweep, method: str, color: str, floor: float) -> None:
    rows = result.rows[method]
    steps = [r.h for r in rows]
    # A log axis cannot show an exact zero: zeros are drawn at the floor line.
    rms = [r.rms if r.rms > 0 else floor for r in rows]
    at_h = [r.at_h if r.at_h > 0 else floor for r in rows]
    ax.loglog(steps, rms, "o-", color=color, label=f"{method} (RMS near h)")
    ax.loglog(steps, at_h, ".", color=color, alpha=0.4, label=f"{method} (at h)")
    p = result.predicted[method].measured
    ax.axvline(p.used, color=color, linestyle="--", linewidth=1)
    label = f"{method}: predicted h* = {p.used:.1e}"
    star = p.rms if p.rms > 0 else floor
    ax.loglog([p.used], [star], "*", color=color, markersize=14, label=label)


def require_matplotlib():
    """matplotlib's Figure class, or PlotUnavailable with the install command."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotUnavailable(
            "--plot needs matplotlib, which is not installed: "
            "pip install 'symgrad[plot]' (or pip install matplotlib)"
        ) from None
    return Figure


# ---------------------------------------------------------------------------
# terminal reports


def parse_pairs(items: Sequence[str], option: str, form: str) -> dict[str, str]:
    """["x=3,y=4"] -> {"x": "3", "y": "4"}: an option's NAME=TEXT pairs, each name once.

    form names and shows them for the error message: "NAME=VALUE pairs like x=3,y=4".
    """
    pairs: dict[str, str] = {}
    for item in items:
        for pair in item.split(","):
            name, sep, text = (s.strip() for s in pair.partition("="))
            if not sep or not name.isidentifier():
                raise ValueError(f"{option} takes {form}, not '{pair}'")
            if name in pairs:
                raise ValueError(f"{option} gives {name} twice")
            pairs[name] = text
    return pairs


def parse_point(items: Sequence[str]) -> dict[str, float]:
    """["x=3,y=4"] -> {"x": 3.0, "y": 4.0}; ValueError for a malformed pair."""
    point: dict[str, float] = {}
    for name, text in parse_pairs(
        items, "--at", "NAME=VALUE pairs like x=3,y=4"
    ).items():
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"--at {name}={text}: not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"--at {name}={text}: not a finite number")
        point[name] = value
    return point


def _table(rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths))
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def _num(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.15g}"


def _sci(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.2e}"


def _format_check(r: CheckResult) -> str:
    point = ", ".join(f"{n} = {v:.17g}" for n, v in r.point.items())
    name = r.function.split("(")[0]
    lines = [f"{r.function} at {point}: {_TITLES[r.method]}, {r.dtype}", ""]
    rows = [
        ["input", "step h", "finite difference", "symbolic", "abs error", "rel error"]
    ]
    rows += [
        [
            p.name,
            _sci(p.step),
            _num(p.estimate),
            _num(p.symbolic),
            _sci(p.error),
            _sci(p.relative),
        ]
        for p in r.partials
    ]
    lines += _table(rows, {1, 2, 3, 4, 5})
    lines += ["", "steps:"] + [f"  {p.name}: {p.why}" for p in r.partials]
    verdict = "PASS" if r.relative_error <= r.tolerance else "FAIL"
    lines += [
        "",
        f"relative error |g - g~| / (|g| + |g~|) = {_sci(r.relative_error)}; "
        f"tolerance {r.tolerance:g} ({r.method}, {r.dtype}): {verdict}",
    ]
    if r.against is not None:
        lines += [""] + _format_against(r.against, name)
    return "\n".join(lines) + "\n"


_TITLES = {
    "central": "central differences",
    "forward": "forward differences",
    "richardson": "Richardson-extrapolated central differences",
    "complex": "complex step",
}


def _format_against(a: Against, name: str) -> list[str]:
    bad = set(a.disagreeing) if not a.agrees else set()
    rows = [["input", a.name, "symgrad", "abs diff", ""]]
    for i, p in enumerate(a.params):
        diff = abs(a.theirs[i] - a.symbolic[i])
        note = f"<- disagrees by {diff:.3g}" if i in bad else ""
        rows.append([p, _num(a.theirs[i]), _num(a.symbolic[i]), _sci(diff), note])
    verdict = "AGREE" if a.agrees else "DISAGREE"
    return (
        [f"against {a.name} (the exact gradient of {name}):"]
        + _table(rows, {1, 2, 3})
        + [
            f"relative error = {_sci(a.relative_error)}; tolerance {a.tolerance:g}: "
            f"{verdict}"
        ]
    )


def _ratio_text(s: Sweep, method: str) -> str:
    """`; ratio 1.3`, or why there is no ratio when the best step is exact."""
    if s.observed_min(method).rms == 0:
        return " (exact: no ratio)"
    return f"; ratio {s.ratio(method):.2g}"


def _format_sweep(s: Sweep) -> str:
    name = s.function.split("(")[0]
    lines = [
        f"d{name}/d{s.variable} of {s.function} at {_where(s.point)} ({s.dtype}): "
        f"symbolic {_num(s.symbolic)}",
        "error: root mean square of |finite difference - symbolic| over the steps "
        "h (1 + j/10), j = 0..7",
        "",
    ]
    entries = []
    for i, r in enumerate(s.rows["central"]):
        lost = [f"{s.variable} + h rounds to {s.variable}"] if r.used == 0 else []
        entries.append((r.h, [_sci(s.rows[m][i].rms) for m in SWEEP_METHODS], lost))
    for m in SWEEP_METHODS:
        low = s.observed_min(m)
        next(e for e in entries if e[0] == low.h)[2].append(f"{m}: observed min")
        p = s.predicted[m].measured
        cells = [_sci(p.rms) if k == m else "" for k in SWEEP_METHODS]
        entries.append((p.used, cells, [f"{m}: predicted h*"]))
    rows = [["h", *SWEEP_METHODS, ""]]
    for h, cells, notes in sorted(entries, key=lambda e: -e[0]):
        rows.append([f"{h:.1e}", *cells, "<- " + ", ".join(notes) if notes else ""])
    lines += _table(rows, {0, 1, 2}) + [""]
    for m, p in s.predicted.items():
        low = s.observed_min(m)
        lines.append(
            f"{m}: h* = {p.measured.used:.2e} ({p.step.why}) gives "
            f"{_sci(p.measured.rms)}; observed min {_sci(low.rms)} at h = {low.h:.0e}"
            + _ratio_text(s, m)
        )
    return "\n".join(lines) + "\n"
