"""The op catalogue: one table of every graph op with its arity and properties."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OpSpec:
    """What the rest of symgrad needs to know about one op."""

    name: str
    arity: int  # -1 for leaves
    kind: str  # "leaf", "arith", "elementwise", "compare", "select", "array"
    differentiable: bool  # False: a documented zero derivative (sign, comparisons)
    callable_as: str | None = None  # the function name in .sg files, if any
    commutative: bool = False


def _spec(name, arity, kind, differentiable=True, callable_as=None, commutative=False):
    return OpSpec(name, arity, kind, differentiable, callable_as, commutative)


# fmt: off
OPS: dict[str, OpSpec] = {spec.name: spec for spec in (
    _spec("const",    -1, "leaf",        False),
    _spec("var",      -1, "leaf",        False),
    _spec("add",       2, "arith",       commutative=True),
    _spec("sub",       2, "arith"),
    _spec("mul",       2, "arith",       commutative=True),
    _spec("div",       2, "arith"),
    _spec("neg",       1, "arith"),
    _spec("pow",       2, "arith"),
    _spec("exp",       1, "elementwise", callable_as="exp"),
    _spec("log",       1, "elementwise", callable_as="log"),
    _spec("log1p",     1, "elementwise", callable_as="log1p"),
    _spec("expm1",     1, "elementwise", callable_as="expm1"),
    _spec("sqrt",      1, "elementwise", callable_as="sqrt"),
    _spec("sin",       1, "elementwise", callable_as="sin"),
    _spec("cos",       1, "elementwise", callable_as="cos"),
    _spec("tan",       1, "elementwise", callable_as="tan"),
    _spec("asin",      1, "elementwise", callable_as="asin"),
    _spec("acos",      1, "elementwise", callable_as="acos"),
    _spec("atan",      1, "elementwise", callable_as="atan"),
    _spec("sinh",      1, "elementwise", callable_as="sinh"),
    _spec("cosh",      1, "elementwise", callable_as="cosh"),
    _spec("tanh",      1, "elementwise", callable_as="tanh"),
    _spec("abs",       1, "elementwise", callable_as="abs"),
    _spec("sign",      1, "elementwise", False, callable_as="sign"),
    _spec("sigmoid",   1, "elementwise", callable_as="sigmoid"),
    _spec("softplus",  1, "elementwise", callable_as="softplus"),
    _spec("relu",      1, "elementwise", callable_as="relu"),
    _spec("step",      1, "elementwise", False),  # 1 where x > 0 else 0: relu's derivative
    _spec("atan2",     2, "elementwise", callable_as="atan2"),
    _spec("min",       2, "elementwise", callable_as="min", commutative=True),
    _spec("max",       2, "elementwise", callable_as="max", commutative=True),
    _spec("lt",        2, "compare",     False),
    _spec("le",        2, "compare",     False),
    _spec("gt",        2, "compare",     False),
    _spec("ge",        2, "compare",     False),
    _spec("where",     3, "select",      callable_as="where"),
    # array ops: attrs carry axes, permutations and slices (see symgrad/shapes.py)
    _spec("dim",          -1, "leaf",  False),  # a size at run time (n), a scalar
    _spec("eye",          -1, "leaf",  False),  # attrs (dim,): the identity matrix
    _spec("sum",           1, "array"),         # attrs (axes, keepdims)
    _spec("broadcast_to",  1, "array"),         # attrs (shape,)
    _spec("expand_dims",   1, "array"),         # attrs (axes,)
    _spec("transpose",     1, "array"),         # attrs (perm,)
    _spec("matmul",        2, "array"),         # numpy's @ on vectors and matrices
    _spec("outer",         2, "array"),
    _spec("slice",         1, "array"),         # attrs (items,): ("i", k) or ("s", start, stop)
    _spec("pad",           1, "array"),         # attrs (widths,): ((before, after), ...)
    _spec("diag",          1, "array"),         # vector -> diagonal matrix
    _spec("diagonal",      1, "array"),         # square matrix -> its diagonal
    _spec("logsumexp",     1, "array"),         # attrs (axes, keepdims), max-shifted
    _spec("softmax",       1, "array"),         # attrs (axes,), max-shifted
    _spec("inv",           1, "array"),         # the inverse of a square matrix
    _spec("det",           1, "array"),         # its determinant
    _spec("logdet",        1, "array"),         # log |det A| (slogdet's second value)
    _spec("solve",         2, "array"),         # A^-1 b, never forming A^-1
    _spec("tensordot",     2, "array"),         # attrs (axes_a, axes_b): numpy's tensordot
    _spec("banded",       -1, "array"),         # attrs (offsets,): a square matrix from its diagonals
    _spec("band_times",   -1, "array"),         # (v, values...), attrs ((row, col), ...): a banded matrix times v
)}
# fmt: on

# Ops whose arguments broadcast elementwise (every op that is not a leaf or an array op).
ELEMENTWISE: frozenset[str] = frozenset(
    name for name, spec in OPS.items() if spec.kind not in ("leaf", "array")
)

# The functions an expression file may call, by their surface name.
FUNCTIONS: dict[str, OpSpec] = {s.callable_as: s for s in OPS.values() if s.callable_as}

# Infix operators of the expression language and the ops they build.
BINARY_OPERATORS: dict[str, str] = {
    "+": "add",
    "-": "sub",
    "*": "mul",
    "/": "div",
    "^": "pow",
    "<": "lt",
    "<=": "le",
    ">": "gt",
    ">=": "ge",
}

# Named constants of the expression language.
CONSTANTS: dict[str, float] = {"pi": 3.141592653589793}
