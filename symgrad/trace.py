"""Python function -> graph, by calling it with symbolic arguments.

Arithmetic operators, numpy's ufuncs and np.where, and the math module's functions
all record operations on a tape, which replays into the graph (and keys the disk
cache without building it). The math module cannot be intercepted through its
arguments (math.sin calls float()), so the function is re-created over a copy of
its globals in which `math` and the functions imported from it are symbolic
stand-ins; helper functions it calls are re-created the same way. Python control flow on a symbolic
value cannot be traced: it raises a TracingError naming the user's line.
"""

from __future__ import annotations

import inspect
import linecache
import math
import sys
import threading
import types
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from symgrad.errors import LimitError, Span, SymgradError
from symgrad.graph import MAX_NODES, Node, const
from symgrad.graph import var as var_node
from symgrad.simplify import build, collect_like_in_sum


class TracingError(SymgradError):
    """A construct in a traced Python function that symgrad cannot follow."""


class _NotIterable(TracingError, TypeError):
    """A loop over a symbolic array (a TypeError, as numpy expects of a scalar)."""


class NeedsRanks(TracingError):
    """An array op in a trace whose arguments' ranks are not known yet (all scalars)."""


# Frames of symgrad's tracer and of numpy's Python code are skipped to find the
# user's line.
_INTERNAL = (__file__, __file__.replace("trace.py", "trace_arrays.py"))
_NUMPY_DIR = np.__file__.rsplit("__init__", 1)[0]


def _user_span(depth: int = 2) -> Span | None:
    """The line of the traced user code that is running now."""
    frame = sys._getframe(depth)
    while frame is not None and (
        frame.f_code.co_filename in _INTERNAL
        or frame.f_code.co_filename.startswith(_NUMPY_DIR)
    ):
        frame = frame.f_back
    if frame is None:
        return None
    filename, line = frame.f_code.co_filename, frame.f_lineno
    text = linecache.getline(filename, line).rstrip("\n")
    col = len(text) - len(text.lstrip()) + 1 if text else 1
    return Span(filename, line, col, max(1, len(text.strip())), text)


# ---------------------------------------------------------------- the tape
# Tracing records each operation on a tape instead of building graph nodes: the
# tape is the cache key's input, and a warm start needs nothing more. Replaying it
# through the simplifier's builders gives exactly the graph that building every
# node during the call would have (the same builds, in the same order).
# A handle is an int (a row of the tape) or a float (a constant).
Handle = int | float


class Tape:
    """The operations one traced call performed, in order."""

    def __init__(self, sizes=None) -> None:
        self.rows: list[tuple[str, tuple, tuple[Handle, ...]]] = []
        # each row's shape (size names before merges), in an array trace only
        self.shapes: list[tuple] = []
        # The size names of an array trace (trace_arrays.Sizes); None while the
        # arguments' ranks are unknown (every argument a scalar).
        self.sizes = sizes
        # An array trace keeps the traced function's frame, found by its code at
        # the first operation: a finished frame still holds its last locals.
        self.code: types.CodeType | None = None
        self.frame: types.FrameType | None = None

    def record(
        self,
        op: str,
        args: tuple[Handle, ...],
        attrs: tuple = (),
        shape: tuple | None = None,
    ) -> int:
        """Append op(args) and return its row; shape None: an elementwise op's."""
        if len(self.rows) >= MAX_NODES:
            raise LimitError(
                f"limit exceeded: the traced function performs more than "
                f"{MAX_NODES:,} operations",
                _user_span(3),
            )
        if self.code is not None and op != "var":
            self._find_frame()
        if self.sizes is not None:  # an array trace: each row's shape
            shapes = self.shapes
            if shape is None:
                given = [shapes[a] for a in args if type(a) is int and shapes[a]]
                shape = _arrays.elementwise(self, given) if given else ()
            shapes.append(shape)
        self.rows.append((op, attrs, args))
        return len(self.rows) - 1

    def _find_frame(self) -> None:
        """Keep the traced function's frame (once): its locals name intermediates."""
        frame = sys._getframe(2)
        while frame is not None and frame.f_code is not self.code:
            frame = frame.f_back
        self.frame, self.code = frame, None

    def shape_of(self, handle: Handle) -> tuple:
        """The shape of a handle's value (size names after merges)."""
        if type(handle) is not int:
            return ()
        shape = self.shapes[handle]
        return self.sizes.shape(shape) if shape else shape

    def live(self, root: Handle) -> list[int]:
        """The rows the result depends on, in order (dead computations dropped)."""
        if type(root) is not int:
            return []
        needed = [False] * (root + 1)
        needed[root] = True
        for i in range(root, -1, -1):
            if needed[i]:
                for a in self.rows[i][2]:
                    if type(a) is int:
                        needed[a] = True
        return [i for i in range(root + 1) if needed[i]]

    def key(self, root: Handle) -> str:
        """A stable text of the operations and the result: equal text, equal graph.

        Every row is in it, dead ones too (a function computing a value it never
        uses has a key of its own): one repr, no walk of the tape.
        """
        # repr of a float round-trips exactly and tells 0.0 from -0.0; an int is a
        # row, so the text determines the replayed graph.
        return repr((self.rows, root))

    def replay(self, root: Handle) -> Node:
        """The simplified graph of root: each live row built through the rules."""
        nodes: dict[int, Node] = {}
        for i in self.live(root):
            op, attrs, args = self.rows[i]
            if op == "var":
                nodes[i] = var_node(*attrs)
            elif op[0] == "@":  # an array op: its builder in arrays.py
                args_ = tuple(_node(a, nodes) for a in args)
                nodes[i] = _arrays.REPLAY[op](args_, attrs)
            else:
                node = build(op, tuple(_node(a, nodes) for a in args))
                # a written sum's like term further back, as lower collects it
                nodes[i] = collect_like_in_sum(node) if op in _SUMS else node
        return _node(root, nodes)


def _node(handle: Handle, nodes: dict[int, Node]) -> Node:
    return nodes[handle] if type(handle) is int else const(handle)


class _Recording(threading.local):
    """The tape of the trace running on this thread (None outside a trace)."""

    tape: Tape | None = None


_RECORDING = _Recording()


def _record_op(op: str, *args: Handle) -> int:
    tape = _RECORDING.tape
    if tape is None:
        raise TracingError(
            "a symbolic value was used after its trace ended (keep the arguments "
            "inside the traced function)",
            _user_span(3),
        )
    return tape.record(op, args)


_SUMS = frozenset({"add", "sub"})


# The recorders tracing uses, named as the simplifier's builders they stand for.
def add(a: Handle, b: Handle) -> int:
    """a + b."""
    return _record_op("add", a, b)


def sub(a: Handle, b: Handle) -> int:
    """a - b."""
    return _record_op("sub", a, b)


def mul(a: Handle, b: Handle) -> int:
    """a * b."""
    return _record_op("mul", a, b)


def div(a: Handle, b: Handle) -> int:
    """a / b."""
    return _record_op("div", a, b)


def neg(a: Handle) -> int:
    """-a."""
    return _record_op("neg", a)


def power(a: Handle, b: Handle) -> int:
    """a ** b."""
    return _record_op("pow", a, b)


def call(op: str, *args: Handle) -> int:
    """Any other op applied to args (exp, sin, where, lt, ...)."""
    return _record_op(op, *args)


def num(value: float) -> float:
    """A constant: its own handle."""
    return float(value)


def _lift(value) -> Handle:
    """A handle for a symbolic value or a plain number."""
    if isinstance(value, Symbol):
        return value.node
    if isinstance(value, Condition):
        raise TracingError(
            "a comparison gives a condition, not a number; use np.where(cond, a, b)",
            _user_span(3),
        )
    if isinstance(value, (bool, np.bool_)):
        return num(float(value))
    if isinstance(value, (int, float, np.integer, np.floating)) or (
        isinstance(value, np.ndarray) and value.shape == ()
    ):
        return num(float(value))
    raise TracingError(
        f"cannot use a {type(value).__name__} in a traced expression "
        "(numbers and the function's own arguments only)",
        _user_span(3),
    )


class Condition:
    """The result of comparing symbolic values: usable only as np.where's condition."""

    __array_priority__ = 1000

    def __init__(self, node: Handle):
        self.node = node

    def __bool__(self):
        raise TracingError(
            "Python control flow on a symbolic value cannot be traced; "
            "write np.where(cond, a, b) instead of if/else, and np.maximum/np.minimum "
            "instead of max/min",
            _user_span(),
        )

    def __array_function__(self, func, types_, args, kwargs):
        return _array_function(func, args, kwargs)


def _condition_arithmetic(self, *args):
    raise TracingError(
        "a comparison gives a condition, not a number; use np.where(cond, a, b)",
        _user_span(),
    )


for _dunder in (
    "add radd sub rsub mul rmul truediv rtruediv pow rpow neg pos abs float int"
).split():
    setattr(Condition, f"__{_dunder}__", _condition_arithmetic)


def _compare(op: str):
    def method(self, other):
        return Condition(call(op, self.node, _lift(other)))

    return method


def _binary(build, reflected: bool = False):
    def method(self, other):
        other_node = _lift(other)
        a, b = (other_node, self.node) if reflected else (self.node, other_node)
        return Symbol(build(a, b))

    return method


class Symbol:
    """A symbolic value standing in for an argument during tracing."""

    __array_priority__ = 1000

    def __init__(self, node: Handle):
        self.node = node

    __add__, __radd__ = _binary(add), _binary(add, True)
    __sub__, __rsub__ = _binary(sub), _binary(sub, True)
    __mul__, __rmul__ = _binary(mul), _binary(mul, True)
    __truediv__, __rtruediv__ = _binary(div), _binary(div, True)
    __pow__, __rpow__ = _binary(power), _binary(power, True)
    __lt__, __le__ = _compare("lt"), _compare("le")
    __gt__, __ge__ = _compare("gt"), _compare("ge")

    def __neg__(self):
        return Symbol(neg(self.node))

    def __pos__(self):
        return self

    def __abs__(self):
        return Symbol(call("abs", self.node))

    def __bool__(self):
        raise TracingError(
            "the truth value of a symbolic value is unknown while tracing; "
            "use np.where(cond, a, b)",
            _user_span(),
        )

    def __float__(self):
        raise TracingError(
            "a symbolic value cannot become a float while tracing "
            "(float(), int(), round(), a math function from an untraced module)",
            _user_span(),
        )

    __int__ = __float__

    def __index__(self):
        raise TracingError(
            "a symbolic value cannot be an integer while tracing (a size such as "
            "x.shape[0] in range() or as an index is symbolic): write the loop "
            "with array operations (sums, @, slices)",
            _user_span(),
        )

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        op = UFUNCS.get(ufunc.__name__)
        if method != "__call__" or op is None or kwargs:
            raise TracingError(
                f"numpy.{ufunc.__name__} is not supported on symbolic values",
                _user_span(),
            )
        return op(*inputs)

    def __array_function__(self, func, types_, args, kwargs):
        return _array_function(func, args, kwargs)

    # ---- arrays: numpy's methods and attributes, spelled as numpy spells them
    def __matmul__(self, other):
        return _arrays.matmul(self, other)

    def __rmatmul__(self, other):
        return _arrays.matmul(other, self)

    @property
    def T(self):  # noqa: N802 (numpy's name)
        """The transpose (all axes reversed)."""
        return _arrays.apply("@transpose", "x.T", (self,), (None,))

    @property
    def shape(self) -> tuple:
        """The shape: ints for fixed sizes, scalar symbols for named sizes."""
        return _arrays.shape_of(self)

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return _arrays.rank_of(self)

    def transpose(self, *axes):
        """numpy's a.transpose(): reversed axes, or the axes in the order given."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        perm = tuple(int(k) for k in axes) if axes else None
        return _arrays.apply("@transpose", "x.transpose", (self,), (perm,))

    def sum(self, axis=None, dtype=None, out=None, keepdims=False):
        """numpy's a.sum(axis, keepdims)."""
        return _arrays.reduction("@sum", "x.sum")(self, axis, dtype, out, keepdims)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False):
        """numpy's a.mean(axis, keepdims)."""
        return _arrays.reduction("@mean", "x.mean")(self, axis, dtype, out, keepdims)

    def dot(self, other):
        """numpy's a.dot(b)."""
        return _arrays.NUMPY_FUNCTIONS[np.dot](self, other)

    def __getitem__(self, key):
        return Symbol(_index(self, key).node)

    def __len__(self):
        raise TracingError(
            "len() of a symbolic array is a size, not a number: use x.shape[0]",
            _user_span(),
        )

    def __iter__(self):
        # a TypeError too: numpy's np.iterable(x) asks by catching one
        raise _NotIterable(
            "a loop over the entries of a symbolic array cannot be traced; "
            "write it with array operations (sums, @, slices)",
            _user_span(),
        )

    def __repr__(self) -> str:
        # A print() while tracing shows the expression so far (replayed for it).
        tape = _RECORDING.tape
        if tape is not None and type(self.node) is int and self.node < len(tape.rows):
            return f"Symbol({tape.replay(self.node)!r})"
        return f"Symbol({self.node!r})"


def _unsupported(what: str, why: str):
    def method(self, *args):
        raise TracingError(
            f"{what} is not supported on symbolic values: {why}", _user_span()
        )

    return method


# Python operators with no op in the graph: a clear error instead of a TypeError.
_PIECEWISE = "it is piecewise constant, with no useful derivative"
# fmt: off
_UNSUPPORTED = {
    "floordiv": ("'//' (floor division)", _PIECEWISE),
    "mod":      ("'%' (remainder)", "it jumps at every multiple of the divisor"),
    "divmod":   ("divmod()", _PIECEWISE),
    "round":    ("round()", _PIECEWISE),
    "trunc":    ("math.trunc()", _PIECEWISE),
    "floor":    ("math.floor()", _PIECEWISE),
    "ceil":     ("math.ceil()", _PIECEWISE),
    "and":      ("'&'", "bitwise operators are for integers"),
    "or":       ("'|'", "bitwise operators are for integers"),
    "xor":      ("'^' (bitwise xor)", "write ** for a power"),
    "lshift":   ("'<<'", "bitwise operators are for integers"),
    "rshift":   ("'>>'", "bitwise operators are for integers"),
    "invert":   ("'~'", "bitwise operators are for integers"),
}
# fmt: on
for _name, (_what, _why) in _UNSUPPORTED.items():
    setattr(Symbol, f"__{_name}__", _unsupported(_what, _why))
    if _name not in {"round", "trunc", "floor", "ceil", "invert"}:
        setattr(Symbol, f"__r{_name}__", _unsupported(_what, _why))


def _array_function(func, args, kwargs):
    return _arrays.array_function(func, args, kwargs)


def _index(x: Symbol, key) -> Symbol:
    """x[key]: whole-number indices and slices with constant bounds, step 1."""
    items = []
    for item in key if isinstance(key, tuple) else (key,):
        if isinstance(item, slice) and all(
            b is None or isinstance(b, (int, np.integer))
            for b in (item.start, item.stop, item.step)
        ):
            if item.step not in (None, 1):
                raise TracingError("slices with a step are not supported", _user_span())
            start = None if item.start is None else int(item.start)
            stop = None if item.stop is None else int(item.stop)
            items.append(("s", start, stop))
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            items.append(("i", int(item)))
        else:
            raise TracingError(
                f"x[{item!r}]: symbolic arrays take whole-number indices and slices "
                "with constant bounds only",
                _user_span(),
            )
    return _arrays.apply("@index", "x[...]", (x,), (tuple(items),))


def _unary(op: str):
    return lambda x: Symbol(call(op, _lift(x)))


def _log(x) -> Symbol:
    """log, with log(sum(exp(x), axis)) taken as the stable logsumexp(x, axis)."""
    handle = _lift(x)
    tape = _RECORDING.tape
    if type(handle) is int and tape is not None and tape.rows[handle][0] == "@sum":
        _, attrs, (inner,) = tape.rows[handle]
        if type(inner) is int and tape.rows[inner][0] == "exp":
            (exponent,) = tape.rows[inner][2]
            return _arrays.apply("@logsumexp", "np.log", (Symbol(exponent),), attrs)
    return Symbol(call("log", handle))


def _binary_call(op: str):
    return lambda x, y: Symbol(call(op, _lift(x), _lift(y)))


def _ufunc_compare(op: str):
    return lambda x, y: Condition(call(op, _lift(x), _lift(y)))


_LN2 = math.log(2.0)


def _logaddexp(a, b, scale: float) -> Symbol:
    """log(exp(a) + exp(b)) (scale 1), log2(2^a + 2^b) (scale ln 2), max-shifted.

    where(a > b, a + sp(b - a), b + sp(a - b)), sp(u) = softplus(scale*u)/scale:
    never the exp of a large number (exp(1000) overflows where the sum does not),
    and each branch is smooth, so every derivative is exact, at a tie too (the
    second branch: d/da = d/db = sigmoid(0) = 1/2, d2/da2 = 1/4 * scale).
    At a = b = +-inf the gap a - b is nan, and so is the result (numpy: +-inf).
    """
    a, b = _lift(a), _lift(b)
    if scale == 1.0 and (
        type(a) is float and a == 0.0 or type(b) is float and b == 0.0
    ):
        # log(1 + e^u): the language's softplus, as logistic_regression.sg writes it
        return Symbol(call("softplus", b if type(a) is float and a == 0.0 else a))

    def branch(top: Handle, gap: Handle) -> Handle:
        if scale == 1.0:
            return add(top, call("softplus", gap))
        return add(top, div(call("softplus", mul(num(scale), gap)), num(scale)))

    larger = call("gt", a, b)
    return Symbol(call("where", larger, branch(a, sub(b, a)), branch(b, sub(a, b))))


def _hypot(a, b) -> Symbol:
    """sqrt(a^2 + b^2) scaled by the larger magnitude, so the squares never overflow.

    where(|a| >= |b|, |a| sqrt(1 + (b/a)^2), |b| sqrt(1 + (a/b)^2)): each branch
    is smooth where it is taken, so derivatives are exact at |a| = |b| too; at
    the origin (not differentiable) the value is 0 and the derivative 0, the
    convention of abs'(0). At a = b = inf the ratio is nan (numpy: inf).
    """
    a, b = _lift(a), _lift(b)
    abs_a, abs_b = call("abs", a), call("abs", b)

    def scaled(top: Handle, ratio: Handle) -> Handle:
        return mul(top, call("sqrt", add(num(1.0), power(ratio, num(2.0)))))

    first = call(
        "where", call("gt", abs_a, num(0.0)), scaled(abs_a, div(b, a)), num(0.0)
    )
    second = scaled(abs_b, div(a, b))
    return Symbol(call("where", call("ge", abs_a, abs_b), first, second))


# fmt: off
UFUNCS: dict[str, Callable] = {
    "add": lambda a, b: Symbol(add(_lift(a), _lift(b))),
    "subtract": lambda a, b: Symbol(sub(_lift(a), _lift(b))),
    "multiply": lambda a, b: Symbol(mul(_lift(a), _lift(b))),
    "true_divide": lambda a, b: Symbol(div(_lift(a), _lift(b))),
    "divide": lambda a, b: Symbol(div(_lift(a), _lift(b))),
    "power": lambda a, b: Symbol(power(_lift(a), _lift(b))),
    "negative": lambda a: Symbol(neg(_lift(a))),
    "positive": lambda a: a,
    "square": lambda a: Symbol(power(_lift(a), num(2.0))),
    "reciprocal": lambda a: Symbol(div(num(1.0), _lift(a))),
    "exp": _unary("exp"), "log": _log, "log1p": _unary("log1p"),
    "expm1": _unary("expm1"), "sqrt": _unary("sqrt"), "sin": _unary("sin"),
    "cos": _unary("cos"), "tan": _unary("tan"), "arcsin": _unary("asin"),
    "arccos": _unary("acos"), "arctan": _unary("atan"), "sinh": _unary("sinh"),
    "cosh": _unary("cosh"), "tanh": _unary("tanh"), "absolute": _unary("abs"),
    "fabs": _unary("abs"), "sign": _unary("sign"),
    "arctan2": _binary_call("atan2"), "maximum": _binary_call("max"),
    "minimum": _binary_call("min"), "fmax": _binary_call("max"), "fmin": _binary_call("min"),
    "logaddexp": lambda a, b: _logaddexp(a, b, 1.0), "logaddexp2": lambda a, b: _logaddexp(a, b, _LN2),
    "hypot": lambda a, b: _hypot(a, b),
    "matmul": lambda a, b: _arrays.matmul(a, b),
    "less": _ufunc_compare("lt"), "less_equal": _ufunc_compare("le"),
    "greater": _ufunc_compare("gt"), "greater_equal": _ufunc_compare("ge"),
}
# fmt: on


def _math_function(name: str, op: str):
    def symbolic(*args):
        if any(isinstance(a, (Symbol, Condition)) for a in args):
            nodes = [_lift(a) for a in args]
            return Symbol(call(op, *nodes))
        return getattr(math, name)(*args)

    symbolic.__name__ = name
    return symbolic


# The math module's functions with a symbolic meaning, by their math-module name.
MATH_FUNCTIONS = {
    "exp": "exp", "log": "log", "log1p": "log1p", "expm1": "expm1", "sqrt": "sqrt",
    "sin": "sin", "cos": "cos", "tan": "tan", "asin": "asin", "acos": "acos",
    "atan": "atan", "atan2": "atan2", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
    "fabs": "abs",
}  # fmt: skip


class _SymbolicMath(types.ModuleType):
    """Stands in for `math` inside traced code: functions build nodes, constants stay."""

    def __getattr__(self, name: str):
        value = getattr(math, name)
        if callable(value):

            def unsupported(*args, **kwargs):
                if any(isinstance(a, (Symbol, Condition)) for a in args):
                    raise TracingError(
                        f"math.{name} is not supported on symbolic values", _user_span()
                    )
                return value(*args, **kwargs)

            return unsupported
        return value


SYMBOLIC_MATH = _SymbolicMath("math")
for _name, _op in MATH_FUNCTIONS.items():
    setattr(SYMBOLIC_MATH, _name, _math_function(_name, _op))
_MATH_BY_ID = {id(getattr(math, n)): getattr(SYMBOLIC_MATH, n) for n in MATH_FUNCTIONS}


def _traceable(fn: types.FunctionType, memo: dict) -> types.FunctionType:
    """fn re-created over globals where math and helper functions are symbolic."""
    if id(fn) in memo:
        return memo[id(fn)]
    namespace = dict(fn.__globals__)
    clone = types.FunctionType(
        fn.__code__, namespace, fn.__name__, fn.__defaults__, _cells(fn, memo)
    )
    clone.__kwdefaults__ = fn.__kwdefaults__
    memo[id(fn)] = clone
    # Only the globals the code names: swapping every global of a large module
    # (and cloning each of its functions in turn) made tracing cost grow with the
    # module, not with the function.
    for key in _global_names(fn.__code__):
        if key in namespace:
            namespace[key] = _swap(namespace[key], memo)
    return clone


def _global_names(code: types.CodeType) -> set[str]:
    """The names code and the code nested in it (lambdas, comprehensions) look up."""
    names: set[str] = set()
    stack = [code]
    while stack:
        current = stack.pop()
        names.update(current.co_names)
        stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return names


def _cells(fn: types.FunctionType, memo: dict):
    if fn.__closure__ is None:
        return None
    cells = []
    for cell in fn.__closure__:
        try:
            cells.append(types.CellType(_swap(cell.cell_contents, memo)))
        except ValueError:  # an empty cell (a name assigned later)
            cells.append(cell)
    return tuple(cells)


def _swap(value, memo: dict):
    if value is math:
        return SYMBOLIC_MATH
    if value is np:
        return _arrays.SYMBOLIC_NUMPY
    if id(value) in _MATH_BY_ID and callable(value):
        return _MATH_BY_ID[id(value)]
    if id(value) in _arrays.NUMPY_BY_ID and callable(value):
        return _arrays.NUMPY_BY_ID[id(value)]
    stand_in = _arrays.scipy_stand_in(value)
    if stand_in is not None:
        return stand_in
    if isinstance(value, types.FunctionType) and value.__code__.co_filename != __file__:
        return _traceable(value, memo)
    return value


class Traced(NamedTuple):
    """A traced call: its tape, the handle of its result, its named locals."""

    tape: Tape
    root: Handle
    # row -> the name of the local holding it (array traces only: the generated
    # code names intermediates as the user did, as a .sg file's are named)
    locals: tuple[tuple[int, str], ...] = ()

    def key(self) -> str:
        """The cache key's text of the traced graph (no graph is built)."""
        key = self.tape.key(self.root)
        return f"{key} {self.locals!r}" if self.locals else key

    def graph(self) -> Node:
        """The simplified graph of the result."""
        return self.tape.replay(self.root)

    def names(self) -> dict[Node, str]:
        """node -> local name, for the locals that are operations of the result."""
        live = set(self.tape.live(self.root))
        names: dict[Node, str] = {}
        for row, name in self.locals:
            if row in live and row != self.root:
                node = self.tape.replay(row)
                if node.args and node.op != "const":
                    names.setdefault(node, name)
        return names


def trace(
    fn: Callable,
    symbolic: list[str],
    constants: dict[str, object],
    params: tuple[Param, ...] | None = None,
    shapes: dict[str, tuple] | None = None,
    sizes=None,
) -> Node:
    """Call fn with var nodes for the symbolic parameters and constants for the rest.

    params is signature_of(fn) when the caller has it already. shapes gives each
    symbolic parameter's shape (missing: a scalar); None: every parameter is a
    scalar and an array op raises NeedsRanks. sizes (trace_arrays.Sizes) names
    the sizes that may be merged.
    """
    return record(fn, symbolic, constants, params, shapes, sizes).graph()


def record(
    fn: Callable,
    symbolic: list[str],
    constants: dict[str, object],
    params: tuple[Param, ...] | None = None,
    shapes: dict[str, tuple] | None = None,
    sizes=None,
    keep_locals: bool = False,
) -> Traced:
    """trace, stopping at the tape: what a cache lookup needs, and cheaper by far.

    An array trace (and a scalar one with keep_locals) also holds the locals that
    name the traced function's intermediates.
    """
    target = _traceable(fn, {}) if isinstance(fn, types.FunctionType) else fn
    if shapes is not None and sizes is None:
        sizes = _arrays.Sizes({}, ())
    tape, previous = Tape(sizes), _RECORDING.tape
    _RECORDING.tape = tape
    try:
        if shapes is None:  # scalars (the hot path of a warm start)
            values = {n: Symbol(tape.record("var", (), (n,))) for n in symbolic}
        else:
            values = {}
            for n in symbolic:
                shape = tuple(shapes.get(n, ()))
                attrs = (n, shape) if shape else (n,)
                values[n] = Symbol(tape.record("var", (), attrs, shape))
        if shapes is not None or keep_locals:
            tape.code = getattr(target, "__code__", None)
        result = _call(fn, target, values | dict(constants), params)
    finally:
        _RECORDING.tape = previous
    if shapes is None and not keep_locals:
        return Traced(tape, result)
    found = dict(tape.frame.f_locals) if tape.frame is not None else {}
    tape.frame = None  # the frame holds the arguments: let it go
    _arrays.finish(tape)
    named = [
        (value.node, name)
        for name, value in found.items()
        if isinstance(value, Symbol) and type(value.node) is int
        and name not in values and not name.startswith("_")
    ]  # fmt: skip
    return Traced(tape, result, tuple(named))


def _call(fn: Callable, target: Callable, values: dict, params) -> Handle:
    """Call target with values by parameter name; the handle of its checked result."""
    positional, keywords = [], {}
    for p in params if params is not None else signature_of(fn):
        if p.keyword_only:
            keywords[p.name] = values[p.name]
        else:  # positional-only parameters cannot be passed by name
            positional.append(values[p.name])
    try:
        result = target(*positional, **keywords)
    except TracingError:
        raise
    except RecursionError:
        raise TracingError(
            "the traced function recursed too deeply", _span_of(fn)
        ) from None
    if isinstance(result, Condition):
        raise TracingError(
            "the function returns a comparison; return a number", _span_of(fn)
        )
    if isinstance(result, (tuple, list)):
        raise TracingError(
            "the function returns several values; symgrad differentiates "
            "functions with one scalar result",
            _span_of(fn),
        )
    try:
        return _lift(result)
    except TracingError as exc:
        raise TracingError(exc.message, _span_of(fn)) from None


def _span_of(fn: Callable) -> Span | None:
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    text = linecache.getline(code.co_filename, code.co_firstlineno).rstrip("\n")
    return Span(code.co_filename, code.co_firstlineno, 1, max(1, len(text)), text)


class Param(NamedTuple):
    """One parameter of a traced function: its name, kind and default (or EMPTY)."""

    name: str
    keyword_only: bool
    default: object


EMPTY = inspect.Parameter.empty
_VARARGS, _VARKEYWORDS = inspect.CO_VARARGS, inspect.CO_VARKEYWORDS


def signature_of(fn: Callable) -> tuple[Param, ...]:
    """The parameters of fn, refusing what cannot be traced (*args, generators, ...)."""
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        raise TracingError(
            "generators cannot be compiled: return one value", _span_of(fn)
        )
    if inspect.iscoroutinefunction(fn):
        raise TracingError("async functions cannot be compiled", _span_of(fn))
    if not callable(fn) or isinstance(fn, type):
        raise TracingError(f"cannot compile {fn!r}: expected a function")
    if not isinstance(fn, types.FunctionType):
        raise TracingError(
            f"cannot compile {fn!r}: symgrad traces Python functions "
            "(def or lambda); wrap it, e.g. lambda x: np.sin(x)"
        )
    # inspect.signature costs ~50 us, a quarter of a warm start's trace: read the
    # code object, unless the function presents another signature (functools.wraps).
    if hasattr(fn, "__wrapped__") or "__signature__" in vars(fn):
        return _from_inspect(fn)
    code = fn.__code__
    if code.co_flags & (_VARARGS | _VARKEYWORDS):
        star = code.co_varnames[code.co_argcount + code.co_kwonlyargcount]
        raise _star_error(star, fn)
    positional = code.co_varnames[: code.co_argcount]
    keyword = code.co_varnames[
        code.co_argcount : code.co_argcount + code.co_kwonlyargcount
    ]
    defaults = (EMPTY,) * (len(positional) - len(fn.__defaults__ or ())) + (
        fn.__defaults__ or ()
    )
    kwdefaults = fn.__kwdefaults__ or {}
    return tuple(Param(n, False, d) for n, d in zip(positional, defaults)) + tuple(
        Param(n, True, kwdefaults.get(n, EMPTY)) for n in keyword
    )


def _from_inspect(fn: Callable) -> tuple[Param, ...]:
    params = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise _star_error(p.name, fn)
        params.append(Param(p.name, p.kind is p.KEYWORD_ONLY, p.default))
    return tuple(params)


def _star_error(name: str, fn: Callable) -> TracingError:
    return TracingError(
        f"*args and **kwargs cannot be traced (parameter '{name}'); "
        "name every parameter",
        _span_of(fn),
    )


# Array tracing lives in its own module, which uses Symbol and the recorders above.
from symgrad import trace_arrays as _arrays  # noqa: E402
