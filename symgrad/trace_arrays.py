"""Tracing numpy array code: symbolic shapes, size names, numpy's array functions.

A traced array records one tape row per array op (`@matmul`, `@sum`, ...), which
replays through the same builders (symgrad/arrays.py) the expression language's
lowering calls, so `X @ w` traced and `X @ w` in a .sg file are the same graph.
Each row's shape is known while tracing (the builder run on placeholders of the
arguments' shapes), so a shape error names the user's line. Sizes with no
annotation are named after their parameter and axis (X_0, X_1) and merged where
an op forces two of them equal (X[n, d] @ w[d]: w_0 becomes X_1).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence

import numpy as np

from symgrad import arrays
from symgrad.errors import ShapeError
from symgrad.graph import Node, var
from symgrad.shapes import Dim, Shape, affine, broadcast, split
from symgrad.simplify import num
from symgrad.trace import (
    Condition,
    NeedsRanks,
    Symbol,
    TracingError,
    _lift,
    _RECORDING,
    _user_span,
    call,
)


class Sizes:
    """The size names of one trace: the inferred ones, their first-call sizes, merges."""

    def __init__(self, actual: dict[str, int], inferred: Sequence[str]) -> None:
        self.actual = actual  # size name -> its size in the first call
        self.inferred = {name: k for k, name in enumerate(inferred)}  # naming order
        self.parent: dict[str, str] = {}

    def find(self, name: str) -> str:
        """The name a size goes by after merges."""
        while name in self.parent:
            name = self.parent[name]
        return name

    def dim(self, dim: Dim) -> Dim:
        """dim with its size name after merges."""
        if isinstance(dim, int) or not self.parent:
            return dim
        name, offset = split(dim)
        return affine(self.find(name), offset)

    def shape(self, shape: Shape) -> Shape:
        """shape with every size name after merges."""
        if not self.parent or not shape:
            return shape
        return tuple(self.dim(d) for d in shape)

    def same(self, a: Dim, b: Dim) -> None:
        """Sizes a and b must be equal: merge an inferred name into the other."""
        a, b = self.dim(a), self.dim(b)
        if a == b or not (isinstance(a, str) and isinstance(b, str)):
            return  # an int, or equal: the builder's shape rule checks it
        if a not in self.inferred and b not in self.inferred:
            return  # two declared names: the builder reports the mismatch
        if a not in self.actual or b not in self.actual:
            return  # an affine size (after a slice): never merged
        if self.actual[a] != self.actual[b]:
            raise ShapeError(
                f"sizes {a} and {b} must be equal, but the first call has "
                f"{self.actual[a]} and {self.actual[b]}"
            )
        keep, drop = sorted((a, b), key=self._rank)
        self.parent[drop] = keep

    def _rank(self, name: str) -> tuple[int, int]:
        # a declared name wins; then the earlier parameter's axis
        return (1, self.inferred[name]) if name in self.inferred else (0, 0)


def elementwise(tape, shapes: list[Shape]) -> Shape:
    """The broadcast shape of an elementwise op's arguments, merging inferred sizes."""
    sizes = tape.sizes
    shapes = [sizes.shape(s) for s in shapes]
    if all(s == shapes[0] for s in shapes):  # x * y of one shape: nothing to merge
        return shapes[0]
    for k in range(1, max(len(s) for s in shapes) + 1):
        dims = [s[-k] for s in shapes if len(s) >= k and s[-k] != 1]
        for other in dims[1:]:
            try:
                sizes.same(dims[0], other)
            except ShapeError as error:
                raise ShapeError(f"broadcasting: {error.message}", _user_span())
    try:
        return broadcast([sizes.shape(s) for s in shapes])
    except ShapeError as error:
        raise ShapeError(error.message, _user_span()) from None


# ---------------------------------------------------------------- array rows
# Each array row replays through a builder of arrays.py: (argument nodes, attrs).
def _index(nodes: Sequence[Node], attrs: tuple) -> Node:
    items = [slice(i[1], i[2]) if i[0] == "s" else i[1] for i in attrs[0]]
    return arrays.index(nodes[0], items)


def _eye(nodes: Sequence[Node], attrs: tuple) -> Node:
    size = attrs[0]
    return arrays.eye(arrays.size_node(size) if isinstance(size, str) else num(size))


# fmt: off
REPLAY: dict[str, Callable[[Sequence[Node], tuple], Node]] = {
    "@matmul":      lambda n, a: arrays.matmul(n[0], n[1]),
    "@dot":         lambda n, a: arrays.dot(n[0], n[1]),
    "@outer":       lambda n, a: arrays.outer(n[0], n[1]),
    "@transpose":   lambda n, a: arrays.transpose(n[0], a[0]),
    "@sum":         lambda n, a: arrays.reduce_sum(n[0], a[0], a[1]),
    "@mean":        lambda n, a: arrays.mean(n[0], a[0], a[1]),
    "@logsumexp":   lambda n, a: arrays.logsumexp(n[0], a[0], a[1]),
    "@softmax":     lambda n, a: arrays.softmax(n[0], a[0]),
    "@log_softmax": lambda n, a: arrays.log_softmax(n[0], a[0]),
    "@trace":       lambda n, a: arrays.trace(n[0]),
    "@diag":        lambda n, a: arrays.diag(n[0]),
    "@inv":         lambda n, a: arrays.inv(n[0]),
    "@det":         lambda n, a: arrays.det(n[0]),
    "@logdet":      lambda n, a: arrays.logdet(n[0]),
    "@solve":       lambda n, a: arrays.solve(n[0], n[1]),
    "@index":       _index,
    "@dim":         lambda n, a: arrays.size_node(a[0]),
    "@eye":         _eye,
}
# fmt: on


def _square(sizes: Sizes, shapes: list[Shape]) -> None:
    if len(shapes[0]) == 2:
        sizes.same(shapes[0][0], shapes[0][1])


def _unify_matmul(sizes: Sizes, shapes: list[Shape]) -> None:
    a, b = shapes
    if a and b:
        sizes.same(a[-1], b[0] if len(b) == 1 else b[-2])


def _unify_solve(sizes: Sizes, shapes: list[Shape]) -> None:
    _square(sizes, shapes)
    if shapes[0] and shapes[1]:
        sizes.same(shapes[0][0], shapes[1][0])


# The sizes an op forces equal (for sizes inferred from the first call).
UNIFY: dict[str, Callable[[Sizes, list[Shape]], None]] = {
    "@matmul": _unify_matmul,
    "@dot": _unify_matmul,
    "@trace": _square,
    "@diag": _square,  # a matrix's diagonal (a vector's diag has one axis)
    "@inv": _square,
    "@det": _square,
    "@logdet": _square,
    "@solve": _unify_solve,
}


def _tape(what: str):
    tape = _RECORDING.tape
    if tape is None:
        raise TracingError(
            "a symbolic value was used after its trace ended (keep the arguments "
            "inside the traced function)",
            _user_span(),
        )
    if tape.sizes is None:
        raise NeedsRanks(
            f"{what} is not supported on scalar symbolic values: it needs arrays "
            "(call the compiled function with arrays, or annotate the parameters "
            "with symgrad.Array)",
            _user_span(),
        )
    return tape


def apply(op: str, what: str, values: Sequence, attrs: tuple = ()) -> Symbol:
    """The array op `op` of values, recorded with its shape (`what` names it to users)."""
    tape = _tape(what)
    handles = tuple(_lift_array(v, what) for v in values)
    shapes = [tape.shape_of(h) for h in handles]
    try:
        if op in UNIFY:
            UNIFY[op](tape.sizes, shapes)
            shapes = [tape.sizes.shape(s) for s in shapes]
        placeholders = [var(f"_{k}", s) for k, s in enumerate(shapes)]
        shape = REPLAY[op](placeholders, attrs).shape
    except ShapeError as error:
        raise ShapeError(f"{what}: {error.message}", _user_span()) from None
    return Symbol(tape.record(op, handles, attrs, shape))


def _lift_array(value, what: str):
    if isinstance(value, Condition):
        raise TracingError(
            f"{what}: a comparison gives a condition, not a number; "
            "use np.where(cond, a, b)",
            _user_span(),
        )
    if isinstance(value, np.ndarray) and value.shape != ():
        raise TracingError(
            f"{what}: a constant array cannot enter a traced expression; "
            "pass it as a parameter (data)",
            _user_span(),
        )
    return _lift(value)


def shape_of(symbol: Symbol) -> tuple:
    """x.shape while tracing: ints for fixed sizes, scalar symbols for named ones."""
    tape = _tape("x.shape")
    out = []
    for dim in tape.shape_of(symbol.node):
        name, offset = split(dim)
        if name is None:
            out.append(offset)
            continue
        size = Symbol(tape.record("@dim", (), (name,), ()))
        out.append(size + offset if offset else size)
    return tuple(out)


def rank_of(symbol: Symbol) -> int:
    """x.ndim while tracing."""
    return len(_tape("x.ndim").shape_of(symbol.node))


# ---------------------------------------------------------------- numpy's functions


def _plain(what: str, **given) -> None:
    """Refuse numpy arguments symgrad has no meaning for (dtype=, out=, ...)."""
    for name, value in given.items():
        if value is not None:
            raise TracingError(
                f"{what}: the argument {name}= is not supported while tracing",
                _user_span(),
            )


def _axis(axis) -> int | tuple[int, ...] | None:
    if axis is None or isinstance(axis, (int, np.integer)):
        return None if axis is None else int(axis)
    if isinstance(axis, tuple) and all(isinstance(a, (int, np.integer)) for a in axis):
        return tuple(int(a) for a in axis)
    raise TracingError(
        "an axis must be a constant whole number or a tuple of them", _user_span()
    )


def reduction(op: str, what: str):
    """np.sum / np.mean (and the methods): axis and keepdims, nothing else."""

    def reduce(a, axis=None, dtype=None, out=None, keepdims=False, **rest):
        _plain(what, dtype=dtype, out=out, **rest)
        return apply(op, what, (a,), (_axis(axis), bool(keepdims)))

    return reduce


def _np_dot(a, b, out=None):
    _plain("np.dot", out=out)
    tape = _tape("np.dot")
    ranks = [len(tape.shape_of(_lift_array(v, "np.dot"))) for v in (a, b)]
    if 0 in ranks:
        return a * b
    if ranks == [1, 1]:
        return apply("@dot", "np.dot", (a, b))
    return apply("@matmul", "np.dot", (a, b))


def _np_transpose(a, axes=None):
    perm = None if axes is None else tuple(int(k) for k in axes)
    return apply("@transpose", "np.transpose", (a,), (perm,))


def _np_trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _plain("np.trace", dtype=dtype, out=out)
    if (offset, axis1, axis2) != (0, 0, 1):
        raise TracingError(
            "np.trace: only the main diagonal is supported", _user_span()
        )
    return apply("@trace", "np.trace", (a,))


def _np_diag(v, k=0):
    if k != 0:
        raise TracingError("np.diag: only the main diagonal is supported", _user_span())
    return apply("@diag", "np.diag", (v,))


def _np_where(condition, x, y):
    if not isinstance(condition, Condition):
        raise TracingError(
            "np.where's condition must compare symbolic values (x > 0)", _user_span()
        )
    return Symbol(call("where", condition.node, _lift(x), _lift(y)))


def _slogdet(a):
    """(sign, log|det A|): the sign is sign(det A), constant where A is invertible."""
    logdet = apply("@logdet", "np.linalg.slogdet", (a,))
    sign = Symbol(call("sign", apply("@det", "np.linalg.slogdet", (a,)).node))
    return sign, logdet


def _logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    _plain("logsumexp", b=b, return_sign=return_sign or None)
    return apply("@logsumexp", "logsumexp", (a,), (_axis(axis), bool(keepdims)))


def _softmax(x, axis=None):
    return apply("@softmax", "softmax", (x,), (_axis(axis),))


def _log_softmax(x, axis=None):
    return apply("@log_softmax", "log_softmax", (x,), (_axis(axis),))


def _binary_op(op: str, what: str):
    return lambda a, b: apply(op, what, (a, b))


def _unary_op(op: str, what: str):
    return lambda a: apply(op, what, (a,))


# numpy's functions on symbolic arrays, by the function object numpy dispatches.
NUMPY_FUNCTIONS: dict[Callable, Callable] = {
    np.sum: reduction("@sum", "np.sum"),
    np.mean: reduction("@mean", "np.mean"),
    np.dot: _np_dot,
    np.transpose: _np_transpose,
    np.outer: _binary_op("@outer", "np.outer"),
    np.trace: _np_trace,
    np.diag: _np_diag,
    np.where: _np_where,
    np.linalg.inv: _unary_op("@inv", "np.linalg.inv"),
    np.linalg.det: _unary_op("@det", "np.linalg.det"),
    np.linalg.slogdet: _slogdet,
    np.linalg.solve: _binary_op("@solve", "np.linalg.solve"),
}

# scipy.special's stable forms, swapped in for the traced function (by name, so
# that scipy need not be imported to recognize them).
SCIPY_SPECIAL = {
    "logsumexp": _logsumexp,
    "softmax": _softmax,
    "log_softmax": _log_softmax,
}


def scipy_stand_in(value) -> object | None:
    """The symbolic stand-in of a scipy.special function or of scipy's modules, or None."""
    if isinstance(value, types.ModuleType):
        if value.__name__ == "scipy":  # scipy.special.logsumexp(...)
            return _ModuleStandIn(value, {"special": _special(value)})
        if value.__name__ == "scipy.special":
            return _ModuleStandIn(value, SCIPY_SPECIAL)
        return None
    module = getattr(value, "__module__", None) or ""
    if module.startswith("scipy.special") and callable(value):
        return SCIPY_SPECIAL.get(getattr(value, "__name__", ""))
    return None


def _special(scipy_module: types.ModuleType):
    import scipy.special  # the user's code names it: scipy is installed

    return _ModuleStandIn(scipy.special, SCIPY_SPECIAL)


class _ModuleStandIn(types.ModuleType):
    """A module inside traced code: the module itself, some attributes replaced."""

    def __init__(self, module: types.ModuleType, replaced: dict) -> None:
        super().__init__(module.__name__)
        self._module = module
        for name, value in replaced.items():
            setattr(self, name, value)

    def __getattr__(self, name: str):
        return getattr(self._module, name)


def matmul(a, b) -> Symbol:
    """a @ b."""
    return apply("@matmul", "'@'", (a, b))


def array_function(func, args: tuple, kwargs: dict):
    """numpy's array function func on symbolic arguments (via __array_function__)."""
    handler = NUMPY_FUNCTIONS.get(func)
    name = f"{func.__module__}.{func.__name__}".replace("numpy.", "np.")
    name = name.replace("np.linalg._linalg", "np.linalg").replace(
        "np.linalg.linalg", "np.linalg"
    )
    if handler is None:
        raise TracingError(f"{name} is not supported on symbolic values", _user_span())
    try:
        return handler(*args, **kwargs)
    except TypeError as error:
        raise TracingError(f"{name}: {error}", _user_span()) from None


# ---------------------------------------------------------------- np.eye


def _eye(N, M=None, k=0, dtype=None, order="C", *, like=None):
    """np.eye while tracing: the identity of a size (x.shape[0], or a whole number)."""
    if (M is not None and M is not N) or k != 0 or dtype not in (None, float):
        raise TracingError(
            "np.eye: only the square identity np.eye(n) is supported", _user_span()
        )
    tape = _tape("np.eye")
    if isinstance(N, Symbol):
        row = tape.rows[N.node] if type(N.node) is int else None
        if row is None or row[0] != "@dim":
            raise TracingError(
                "np.eye needs a size: x.shape[k] or a whole number", _user_span()
            )
        return Symbol(tape.record("@eye", (), row[1], (row[1][0], row[1][0])))
    if isinstance(N, (int, np.integer)) and N >= 1:
        return Symbol(tape.record("@eye", (), (int(N),), (int(N), int(N))))
    raise TracingError(
        "np.eye needs a size: x.shape[k] or a whole number", _user_span()
    )


def _identity(n, dtype=None, *, like=None):
    return _eye(n, dtype=dtype)


class SymbolicNumpy(types.ModuleType):
    """Stands in for `numpy` inside traced code: numpy itself, but np.eye is symbolic."""

    def __getattr__(self, name: str):
        value = getattr(np, name)
        setattr(self, name, value)  # later lookups skip __getattr__
        return value


SYMBOLIC_NUMPY = SymbolicNumpy("numpy")
SYMBOLIC_NUMPY.eye = _eye
SYMBOLIC_NUMPY.identity = _identity
NUMPY_BY_ID = {id(np.eye): _eye, id(np.identity): _identity}


def finish(tape) -> None:
    """Rename merged sizes in the rows that hold size names (vars, x.shape, eye)."""
    sizes = tape.sizes
    if sizes is None or not sizes.parent:
        return
    for k, (op, attrs, args) in enumerate(tape.rows):
        if op == "var" and len(attrs) > 1:
            tape.rows[k] = (op, (attrs[0], sizes.shape(attrs[1])), args)
        elif op in ("@dim", "@eye") and isinstance(attrs[0], str):
            tape.rows[k] = (op, (sizes.find(attrs[0]),), args)
