"""Gradient checks of array functions: the point, the entries checked, their steps.

Every checked entry of every parameter gets the scalar check of symgrad.check: its
own error-optimal step, from the higher derivatives of f along that entry (the
directional derivatives d^k/dt^k f(p + t e) at t = 0, e the entry's unit array,
built by repeated forward mode and evaluated in float64 at the point), and a
difference quotient moving that entry alone. A parameter with more than K entries
(--entries K, default 100) is checked at a random sample of K of them; the report
names them.

The point
---------
Values come from the caller (`--at` for scalars, an `.npz` file with `--at-file`,
arrays in the API's `at`); the sizes are read off the arrays given and from
`--sizes n=50,d=5`; every parameter without a value is drawn at random (numpy's
default_rng of `--seed` and the parameter's position, so giving one value does
not change the others). Random values are drawn by the role the function gives
them, read off its graph:

    role                                           drawn as
    the first argument of solve/inv/det/logdet     A A^T + n I, A ~ N(0, 1): positive definite
    a square matrix that reaches one through       the squared distances of n random points
      elementwise ops (a kernel's distances D)       in R^3: a kernel such as exp(-D/2l^2)
                                                     of them is positive definite
    y in softplus(z) - y*z (binary cross-entropy)  labels in {0, 1}
    Y in logsumexp(Z, a) - sum(Y*Z, a)             one-hot along axis a
    any other scalar                               uniform in [0.5, 1.5] (positive, as
                                                     variances and length scales are)
    any other array                                N(0, 1)

Anything else that must hold (a domain, a structure) is the caller's: pass the
values in an `.npz` file.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from symgrad import check as scalar
from symgrad.check import (
    DTYPES,
    EPS,
    TOLERANCE,
    Against,
    ArgumentError,
    CheckError,
    Higher,
    Partial,
    Verdict,
    parse_pairs,
    relative_error,
)
from symgrad.derivatives import jvp
from symgrad.evaluate import evaluate
from symgrad.graph import Node, toposort, var
from symgrad.ops import ELEMENTWISE
from symgrad.program import Function
from symgrad.simplify import ONE

DEFAULT_ENTRIES = 100  # per parameter; more are sampled
WORST_SHOWN = 10  # rows of the report's table
_MATRIX_OPS = ("solve", "inv", "det", "logdet")


def is_array_function(function: Function) -> bool:
    """Whether a parameter or the value has a shape."""
    return bool(function.shapes or function.body.shape)


def signature(function: Function) -> str:
    """`loss(w[d], b; X[n, d], y[n])` as written in the expression file."""

    def shaped(names: Sequence[str]) -> str:
        return ", ".join(n + _dims(function.var_of(n).shape) for n in names)

    data = f"; {shaped(function.data)}" if function.data else ""
    return f"{function.name}({shaped(function.params)}{data})"


def _dims(shape: tuple) -> str:
    return f"[{', '.join(map(str, shape))}]" if shape else ""


def label(name: str, index: tuple[int, ...]) -> str:
    """`W1[2, 0]`, `w[3]`, or `b` for a scalar."""
    return f"{name}[{', '.join(map(str, index))}]" if index else name


# ---------------------------------------------------------------------------
# the point


def parse_sizes(items: Sequence[str]) -> dict[str, int]:
    """["n=50,d=5"] -> {"n": 50, "d": 5}; ValueError for a malformed pair."""
    sizes: dict[str, int] = {}
    for name, text in parse_pairs(
        items, "--sizes", "NAME=SIZE pairs like n=50,d=5"
    ).items():
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"--sizes {name}={text}: not a whole number >= 1")
        sizes[name] = int(text)
    return sizes


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz file by name (never unpickling objects)."""
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):  # an .npy: one nameless array
            raise ValueError("not an .npz")
        with data:
            return {name: np.asarray(data[name]) for name in data.files}
    except FileNotFoundError:
        raise CheckError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        raise CheckError(
            f"{path}: not an .npz file of numeric arrays (numpy.savez writes one)"
        ) from None


@dataclass
class Point:
    """Every parameter's value in the working dtype, the sizes, and where each came from."""

    values: dict[str, object]
    sizes: dict[str, int]
    origins: dict[str, str]


def _shape_of(function: Function, name: str) -> tuple:
    return function.var_of(name).shape


def make_point(
    function: Function,
    at: Mapping[str, object],
    sizes: Mapping[str, int] | None,
    seed: int,
    dtype: str,
    given_as: Mapping[str, str] | None = None,
) -> Point:
    """The values given, the sizes they and `sizes` fix, and random draws for the rest."""
    sig = signature(function)
    for name in at:
        if name not in function.all_names:
            raise ArgumentError(f"the point names '{name}', not a parameter of {sig}")
    bound: dict[str, int] = {}
    origin_of_size: dict[str, str] = {}
    values = {
        name: _given(name, at[name], _shape_of(function, name), bound, origin_of_size)
        for name in function.all_names
        if name in at
    }
    _bind_sizes(function, sizes or {}, bound, origin_of_size)
    origins = {n: (given_as or {}).get(n, "given") for n in values}
    origins.update(_draw_missing(function, values, bound, seed))
    point = {}
    for name in function.all_names:
        value = np.asarray(values[name], np.float64).astype(DTYPES[dtype])
        if not np.all(np.isfinite(value)):
            raise ArgumentError(f"{name} has an entry that is not a finite {dtype}")
        point[name] = value[()] if value.ndim == 0 else value
    ordered = {n: origins[n] for n in function.all_names}
    sizes_in_order = {d: bound[d] for d in _size_order(function) if d in bound}
    return Point(point, sizes_in_order, ordered)


def _bind_sizes(
    function: Function, sizes: Mapping[str, int], bound: dict, origin: dict
) -> None:
    """Add --sizes to the sizes the given arrays bound; a conflict is an error."""
    declared = _size_order(function)
    for size, n in sizes.items():
        if size not in declared:
            known = ", ".join(declared) or "none"
            raise ArgumentError(
                f"--sizes names '{size}', not a size of {signature(function)} "
                f"(its sizes: {known})"
            )
        if bound.get(size, n) != n:
            raise ArgumentError(
                f"--sizes {size}={n}, but {size} is {bound[size]} (from {origin[size]})"
            )
        bound[size] = n


def _draw_missing(function: Function, values: dict, bound: dict, seed: int) -> dict:
    """Random values, by role, for the parameters not given; {name: origin}."""
    origins = {}
    roles = _roles(function)
    for position, name in enumerate(function.all_names):
        if name in values:
            continue
        shape = _shape_of(function, name)
        missing = [
            d for d in dict.fromkeys(shape) if isinstance(d, str) and d not in bound
        ]
        if missing:
            raise ArgumentError(
                f"no value for {name}{_dims(shape)} and no size for "
                f"{', '.join(missing)}: give --sizes "
                f"{','.join(f'{d}=...' for d in missing)} (random values) or {name} "
                "in --at-file"
            )
        concrete = tuple(d if isinstance(d, int) else bound[d] for d in shape)
        role = roles.get(name, _Role("uniform" if not shape else "normal"))
        # a stream per parameter: giving one value leaves the others' draws alone
        values[name] = role.draw(np.random.default_rng([seed, position]), concrete)
        origins[name] = f"random ({role.describe()})"
    return origins


def _size_order(function: Function) -> list[str]:
    """The size names in the order the signature first uses them."""
    dims = [d for n in function.all_names for d in function.var_of(n).shape]
    return list(dict.fromkeys(d for d in dims if isinstance(d, str)))


def _given(name: str, value, shape: tuple, bound: dict, origin: dict) -> np.ndarray:
    """A given value as an array, checked against its declared shape (sizes bound)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ArgumentError(f"{name}: not an array of numbers") from None
    if array.ndim != len(shape):
        raise ArgumentError(
            f"{name}: expected {len(shape)} dimension(s) {_dims(shape) or ' (a scalar)'}, "
            f"got an array of shape {array.shape}"
        )
    for axis, (dim, size) in enumerate(zip(shape, array.shape)):
        if isinstance(dim, int) and size != dim:
            raise ArgumentError(f"{name}: axis {axis} has size {size}, expected {dim}")
        if isinstance(dim, str):
            if bound.setdefault(dim, size) != size:
                raise ArgumentError(
                    f"{name}: axis {axis} has size {size}, but {dim} is {bound[dim]} "
                    f"(from {origin[dim]})"
                )
            origin.setdefault(dim, f"{name} axis {axis}")
    return array


@dataclass(frozen=True)
class _Role:
    """How a random value is drawn (see the module docstring's table)."""

    kind: str  # normal, uniform, spd, distances, binary, onehot
    axis: int = 0
    why: str = ""

    def draw(self, rng: np.random.Generator, shape: tuple) -> np.ndarray:
        """A value of this role and shape."""
        if self.kind == "uniform":
            return rng.uniform(0.5, 1.5, size=shape)
        if self.kind == "spd":
            a = rng.normal(size=shape)
            return a @ a.T + shape[0] * np.eye(shape[0])
        if self.kind == "distances":
            p = rng.normal(size=(shape[0], 3))
            return np.sum((p[:, None, :] - p[None, :, :]) ** 2, axis=-1)
        if self.kind == "binary":
            return rng.integers(0, 2, size=shape).astype(np.float64)
        if self.kind == "onehot":
            classes = rng.integers(0, shape[self.axis], size=shape)
            positions = np.arange(shape[self.axis]).reshape(
                [-1 if k == self.axis else 1 for k in range(len(shape))]
            )
            first = np.take(classes, [0], axis=self.axis)  # one class per slice
            return (positions == first).astype(np.float64)
        return rng.normal(size=shape)

    def describe(self) -> str:
        """What the report says of this draw."""
        text = {
            "normal": "N(0, 1)",
            "uniform": "uniform in [0.5, 1.5]",
            "spd": "A A^T + n I, positive definite",
            "distances": "squared distances of random points",
            "binary": "labels in {0, 1}",
            "onehot": f"one-hot along axis {self.axis}",
        }[self.kind]
        return f"{text}: {self.why}" if self.why else text


def _roles(function: Function) -> dict[str, _Role]:
    """The roles the function's graph gives its parameters (the docstring's table)."""
    nodes = toposort([function.body])
    roles: dict[str, _Role] = {}
    for node in nodes:
        if node.op in _MATRIX_OPS:
            _matrix_roles(node, roles)
    softplus = {n.args[0] for n in nodes if n.op == "softplus"}
    logsumexp = {n.args[0]: n.attrs[0] for n in nodes if n.op == "logsumexp"}
    for node in nodes:
        if node.op != "mul":
            continue
        for data, logits in (node.args, node.args[::-1]):
            if data.op != "var" or data.attrs[0] in roles or not data.shape:
                continue
            if logits in softplus:
                roles[data.attrs[0]] = _Role("binary", why="softplus(z) - y z")
            elif logits in logsumexp and len(logsumexp[logits]) == 1:
                axis = logsumexp[logits][0]
                roles[data.attrs[0]] = _Role("onehot", axis, "logsumexp(Z) - sum(Y Z)")
    return roles


def _matrix_roles(node: Node, roles: dict[str, _Role]) -> None:
    """The matrix argument of solve/inv/det/logdet: positive definite, or distances."""
    matrix = node.args[0]
    what = f"the matrix of {node.op}"
    if matrix.op == "var":
        roles.setdefault(matrix.attrs[0], _Role("spd", why=what))
        return
    stack, seen = [matrix], set()
    while stack:  # through elementwise ops only: a kernel of distances
        top = stack.pop()
        if top in seen:
            continue
        seen.add(top)
        if top.op == "var" and len(top.shape) == 2 and top.shape[0] == top.shape[1]:
            roles.setdefault(top.attrs[0], _Role("distances", why=f"inside {what}"))
        elif top.op in ELEMENTWISE:
            stack.extend(top.args)


# ---------------------------------------------------------------------------
# the function at the point


class _ArrayTarget:
    """An array function at a point: its value, gradient and directional derivatives."""

    def __init__(self, function: Function, point: Point, dtype: str):
        self.function, self.point, self.dtype = function, point, dtype
        self.code = scalar._compile(function)
        self.base = self._call()
        self._directions: dict[str, list[Node]] = {}
        if not np.isfinite(self.base):
            raise CheckError(
                f"{signature(function)} = {float(self.base)} at the point "
                f"({self._where()}) in {dtype}: the point is outside the domain (or "
                "the value overflows); pass valid values with --at-file",
                function.span,
            )

    def _where(self) -> str:
        return ", ".join(f"{n}: {o}" for n, o in self.point.origins.items())

    @property
    def eps(self) -> float:
        """The dtype's machine epsilon."""
        return EPS[self.dtype]

    def args(self, name: str | None = None, value: object = None) -> list:
        """The call's arguments at the point, with one of them replaced."""
        return [
            value if n == name else self.point.values[n]
            for n in self.function.all_names
        ]

    def _call(self, name: str | None = None, value: object = None):
        with np.errstate(all="ignore"):  # a step outside the domain shows as nan
            return self.code.value(*self.args(name, value))

    def moved(self, name: str, index: tuple, entry) -> object:
        """f with one entry of name set to entry (the rest at the point)."""
        if not index:
            return self._call(name, entry)
        array = self.point.values[name].copy()
        array[index] = entry
        return self._call(name, array)

    def gradient(self) -> list[np.ndarray]:
        """The symbolic gradient, each partial shaped like its parameter."""
        with np.errstate(all="ignore"):
            raw = self.code.gradient(*self.args())
        return [np.asarray(g, np.float64) for g in raw]

    def directional(
        self, name: str, index: tuple, orders: Sequence[int]
    ) -> list[Higher]:
        """d^k f / dt^k of f(p + t e) at t = 0, e the entry's unit array, in float64."""
        nodes = self._derivatives(name, max(orders))
        v = self.function.var_of(name)
        env = {n: np.asarray(x, np.float64) for n, x in self.point.values.items()}
        if v.shape:
            unit = np.zeros(np.shape(env[name]))
            unit[index] = 1.0
            env[f"e[{name}]"] = unit
        values = evaluate([nodes[k - 1] for k in orders], env, self.point.sizes)
        return [
            Higher(k, float(np.asarray(x).reshape(())), _is_zero(nodes[k - 1]))
            for k, x in zip(orders, values)
        ]

    def _derivatives(self, name: str, order: int) -> list[Node]:
        """The directional derivatives of orders 1..order, by repeated forward mode."""
        found = self._directions.setdefault(name, [])
        v = self.function.var_of(name)
        tangent = var(f"e[{name}]", v.shape) if v.shape else ONE
        while len(found) < order:
            (d,) = jvp([found[-1] if found else self.function.body], [v], [tangent])
            found.append(d)
        return found


def _is_zero(node: Node) -> bool:
    if node.op == "broadcast_to":
        node = node.args[0]
    return node.op == "const" and node.attrs[0] == 0


class _Entry:
    """One entry of one parameter seen as a scalar input, for symgrad.check's steps.

    It has what check._step and check._estimate read off a scalar target: point,
    eps, cast, value(name, v) and higher(name, order).
    """

    def __init__(self, target: _ArrayTarget, name: str, index: tuple, method: str):
        self.target, self.name, self.index = target, name, index
        self.orders = [t.order for t in scalar._TERMS.get(method, ())]
        self.label = label(name, index)
        self.point = {self.label: float(np.asarray(target.point.values[name])[index])}
        self.eps = target.eps
        self._higher: dict[int, Higher] = {}

    def cast(self, x: float):
        """x as a scalar of the working dtype."""
        return DTYPES[self.target.dtype](x)

    def value(self, name: str | None = None, value: object = None):
        """f at the point, or with this entry moved to value."""
        if name is None:
            return self.target.base
        return self.target.moved(self.name, self.index, value)

    def higher(self, name: str, order: int) -> Higher:
        """The order-th derivative along this entry (the method's two orders at once)."""
        if order not in self._higher:
            orders = sorted({order, *self.orders})
            found = self.target.directional(self.name, self.index, orders)
            self._higher.update((h.order, h) for h in found)
        return self._higher[order]


# ---------------------------------------------------------------------------
# which entries


@dataclass(frozen=True)
class Selection:
    """The entries of one parameter that are checked."""

    name: str
    shape: tuple[int, ...]
    indices: tuple[tuple[int, ...], ...]
    sampled: bool  # a random sample (else every entry)

    @property
    def total(self) -> int:
        """The parameter's number of entries."""
        return math.prod(self.shape)


def select(
    function: Function, point: Point, entries: int, seed: int
) -> list[Selection]:
    """Every entry of each parameter, or a random sample of `entries` of them."""
    chosen = []
    for position, name in enumerate(function.params):
        shape = tuple(np.shape(point.values[name]))
        total = math.prod(shape)
        if total <= entries:
            indices = tuple(np.ndindex(shape)) if shape else ((),)
            chosen.append(Selection(name, shape, indices, False))
            continue
        rng = np.random.default_rng([seed, position, 1])  # apart from the point's draws
        flat = np.sort(rng.choice(total, size=entries, replace=False))
        indices = tuple(tuple(int(i) for i in np.unravel_index(k, shape)) for k in flat)
        chosen.append(Selection(name, shape, indices, True))
    return chosen


# ---------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class ArrayCheckResult(Verdict):
    """A gradient check of an array function at one point, entry by entry."""

    function: str
    method: str
    dtype: str
    sizes: dict[str, int]
    origins: dict[str, str]
    seed: int
    selections: tuple[Selection, ...]
    partials: tuple[Partial, ...]  # one per checked entry, named like W1[2, 0]
    relative_error: float
    tolerance: float
    against: Against | None = None

    def worst(self, count: int = WORST_SHOWN) -> list[Partial]:
        """The checked entries with the largest |finite difference - symbolic|."""
        key = lambda p: -p.error if not math.isnan(p.error) else -math.inf
        return sorted(self.partials, key=key)[:count]

    def to_dict(self) -> dict:
        """A JSON-ready summary (NaN and infinities become null)."""
        out = {
            "function": self.function,
            "method": self.method,
            "dtype": self.dtype,
            "eps": EPS[self.dtype],
            "sizes": self.sizes,
            "origins": self.origins,
            "seed": self.seed,
            "entries": {
                s.name: {
                    "total": s.total,
                    "checked": [list(i) for i in s.indices],
                    "sampled": s.sampled,
                }
                for s in self.selections
            },
            "partials": [_partial_dict(p) for p in self.partials],
            "worst": [p.name for p in self.worst()],
            "relative_error": self.relative_error,
            "tolerance": self.tolerance,
            "passed": self.passed,
        }
        if self.against is not None:
            out["against"] = _against_dict(self.against)
        return scalar._json_safe(out)

    def format(self) -> str:
        """The terminal report: what was checked, the worst entries, the verdict."""
        return _format(self)


def _partial_dict(p: Partial) -> dict:
    return {
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


def _against_dict(a: Against) -> dict:
    bad = a.disagreeing if not a.agrees else []
    return {
        "name": a.name,
        "disagreeing": [a.params[i] for i in bad],
        "theirs": {a.params[i]: a.theirs[i] for i in bad},
        "symbolic": {a.params[i]: a.symbolic[i] for i in bad},
        "relative_error": a.relative_error,
        "tolerance": a.tolerance,
        "agrees": a.agrees,
    }


# ---------------------------------------------------------------------------
# check


def check_array(
    function: Function,
    at: Mapping[str, object],
    method: str,
    dtype: str,
    *,
    step: float | None = None,
    user: Callable | None = None,
    label_of_user: str = "your gradient",
    sizes: Mapping[str, int] | None = None,
    seed: int = 0,
    entries: int | None = None,
    given_as: Mapping[str, str] | None = None,
) -> ArrayCheckResult:
    """symgrad.check.check for a function with array parameters (see the docstring)."""
    if function.body.shape:
        raise CheckError(
            f"{signature(function)} has an array value: symgrad check compares "
            "the gradient of a scalar function (check each component's function, or "
            "a loss such as sum(r^2))",
            function.span,
        )
    if method == "complex":
        raise ArgumentError(
            "--method complex checks scalar functions only (the generated array "
            "code is not complex-analytic): use central, forward or richardson"
        )
    entries = DEFAULT_ENTRIES if entries is None else entries
    if entries < 1:
        raise ArgumentError(f"--entries must be at least 1, not {entries}")
    point = make_point(function, at, sizes, seed, dtype, given_as)
    target = _ArrayTarget(function, point, dtype)
    gradient = dict(zip(function.params, target.gradient()))
    selections = select(function, point, entries, seed)
    partials = []
    for selection in selections:
        g = gradient[selection.name]
        for index in selection.indices:
            entry = _Entry(target, selection.name, index, method)
            symbolic = float(g[index]) if index else float(g)
            partials.append(scalar._partial(entry, entry.label, method, step, symbolic))
    estimates = [p.estimate for p in partials]
    return ArrayCheckResult(
        signature(function),
        method,
        dtype,
        point.sizes,
        point.origins,
        seed,
        tuple(selections),
        tuple(partials),
        relative_error([p.symbolic for p in partials], estimates),
        TOLERANCE[method][dtype],
        None if user is None else _compare(target, gradient, user, label_of_user),
    )


def _compare(
    target: _ArrayTarget, gradient: dict, user: Callable, name: str
) -> Against:
    """The user's gradient against the symbolic one, entry by entry (all entries)."""
    try:
        with np.errstate(all="ignore"):
            raw = user(*target.args())
    except Exception as exc:  # the user's function failed: report, no traceback
        raise CheckError(f"{name} raised {type(exc).__name__}: {exc}") from None
    params = target.function.params
    if len(params) == 1 and not isinstance(raw, (tuple, list)):
        raw = (raw,)
    if not isinstance(raw, (tuple, list)) or len(raw) != len(params):
        count = len(raw) if isinstance(raw, (tuple, list)) else type(raw).__name__
        raise CheckError(
            f"{name} returned {count} values; expected {len(params)}, the partials "
            f"in ({', '.join(params)})"
        )
    labels, theirs, symbolic = [], [], []
    for p, item in zip(params, raw):
        expected = gradient[p]
        try:
            array = np.asarray(item, np.float64)
        except (TypeError, ValueError):
            raise CheckError(
                f"{name}: the partial in {p} is not an array of numbers"
            ) from None
        if array.shape != expected.shape:
            raise CheckError(
                f"{name}: the partial in {p} has shape {array.shape}, expected "
                f"{expected.shape} ({p}'s shape)"
            )
        for index in np.ndindex(expected.shape) if expected.shape else [()]:
            labels.append(label(p, index))
            theirs.append(float(array[index]))
            symbolic.append(float(expected[index]))
    error = relative_error(symbolic, theirs)
    tolerance = TOLERANCE["against"][target.dtype]
    return Against(
        name, tuple(labels), tuple(theirs), tuple(symbolic), error, tolerance
    )


# ---------------------------------------------------------------------------
# the report


def _format(r: ArrayCheckResult) -> str:
    sizes = ", ".join(f"{k} = {v}" for k, v in r.sizes.items())
    head = f"{r.function}" + (f" with {sizes}" if sizes else "")
    lines = [f"{head}: {scalar._TITLES[r.method]}, {r.dtype}", "", "point:"]
    lines += [f"  {n}: {o}" for n, o in r.origins.items()]
    lines += ["", "entries checked:"] + [
        _selection_line(s, r.seed) for s in r.selections
    ]
    shown = r.worst()
    title = "worst entries" if len(shown) < len(r.partials) else "entries"
    lines += ["", f"{title} (by |finite difference - symbolic|):"]
    rows = [
        ["entry", "step h", "finite difference", "symbolic", "abs error", "rel error"]
    ]
    rows += [
        [p.name, scalar._sci(p.step), scalar._num(p.estimate), scalar._num(p.symbolic),
         scalar._sci(p.error), scalar._sci(p.relative)]
        for p in shown
    ]  # fmt: skip
    lines += scalar._table(rows, {1, 2, 3, 4, 5})
    lines += ["", "steps:"] + _steps_summary(r.partials)
    verdict = "PASS" if r.relative_error <= r.tolerance else "FAIL"
    lines += [
        "",
        f"relative error |g - g~| / (|g| + |g~|) over the {len(r.partials)} entries = "
        f"{scalar._sci(r.relative_error)}; tolerance {r.tolerance:g} ({r.method}, "
        f"{r.dtype}): {verdict}",
    ]
    if r.against is not None:
        lines += [""] + _format_against(r.against, r.function.split("(")[0])
    return "\n".join(lines) + "\n"


def _selection_line(s: Selection, seed: int) -> str:
    if not s.sampled:
        return f"  {s.name}: all {s.total} " + ("entries" if s.total != 1 else "entry")
    where = ", ".join(label("", i) for i in s.indices)
    return (
        f"  {s.name}: {len(s.indices)} of {s.total} entries, a random sample "
        f"(--entries {len(s.indices)}, seed {seed}): {where}"
    )


def _steps_summary(partials: Sequence[Partial]) -> list[str]:
    """One line per distinct step rule, with how many entries it chose the step of."""
    groups: dict[str, list[str]] = {}
    for p in partials:
        groups.setdefault(_rule_text(p), []).append(p.name)
    lines = []
    for text, names in groups.items():
        few = ", ".join(names[:4]) + (
            f", ... ({len(names)} entries)" if len(names) > 4 else ""
        )
        lines.append(f"  {few}: {text}")
    return lines


def _rule_text(p: Partial) -> str:
    """The rule of a step without the entry's own sizes (|f|, |f'''|)."""
    return p.why.split(", |f|")[0] if p.rule == "optimal" else p.why


def _format_against(a: Against, name: str) -> list[str]:
    bad = a.disagreeing if not a.agrees else []
    verdict = "AGREE" if a.agrees else "DISAGREE"
    lines = [
        f"against {a.name} (the exact gradient of {name}), all {len(a.params)} entries:"
    ]
    if bad:
        order = sorted(bad, key=lambda i: -abs(a.theirs[i] - a.symbolic[i]))
        rows = [["entry", a.name, "symgrad", "abs diff", ""]]
        for i in order[:WORST_SHOWN]:
            diff = abs(a.theirs[i] - a.symbolic[i])
            rows.append([a.params[i], scalar._num(a.theirs[i]), scalar._num(a.symbolic[i]),
                         scalar._sci(diff), f"<- disagrees by {diff:.3g}"])  # fmt: skip
        lines += scalar._table(rows, {1, 2, 3})
        names = [a.params[i] for i in bad]
        listed = ", ".join(names[:30]) + (
            f", ... ({len(names) - 30} more)" if len(names) > 30 else ""
        )
        lines.append(f"{len(bad)} of {len(a.params)} entries disagree: {listed}")
    lines.append(
        f"relative error = {scalar._sci(a.relative_error)}; tolerance {a.tolerance:g}: {verdict}"
    )
    return lines
