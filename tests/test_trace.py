"""symgrad/trace.py: Python functions become graphs; untraceable code is named clearly."""

from __future__ import annotations

import functools
import inspect
import math
import operator
import warnings
from math import exp as imported_exp

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symgrad
from symgrad import graph
from symgrad import trace as trace_module
from symgrad.errors import LimitError
from symgrad.evaluate import evaluate
from symgrad.graph import var
from symgrad.simplify import add, call, div, mul, neg, num, power, sub
from symgrad.trace import TracingError, record, signature_of, trace

SCALE = 3.0


def value(fn, **point):
    node = trace(fn, list(point), {})
    return float(evaluate([node], point)[0])


def _helper(z):
    return math.exp(-z) * SCALE


@pytest.mark.parametrize(
    "fn, expected",
    [
        (lambda x, y: x**2 * y + y + 2, 3.0**2 * 4 + 4 + 2),
        (lambda x, y: 2 / x - y / 4 + (-x) ** 3, 2 / 3 - 1 + (-27)),
        (lambda x, y: abs(x - y) + +x, 1 + 3),
        (lambda x, y: math.sin(x) * math.log(y) + math.sqrt(y), math.sin(3) * math.log(4) + 2),
        (lambda x, y: imported_exp(x) + math.pi * y, math.exp(3) + math.pi * 4),
        (lambda x, y: np.tanh(x) + np.arctan2(y, x) + np.maximum(x, y), math.tanh(3) + math.atan2(4, 3) + 4),
        (lambda x, y: np.where(x > y, x, y) + np.where(x <= y, 1.0, 0.0), 4 + 1),
        (lambda x, y: _helper(x) + y, math.exp(-3) * SCALE + 4),
        (lambda x, y: 2**x + np.float64(2.0) * y, 8 + 8),
    ],
)  # fmt: skip
def test_traced_values_match_python(fn, expected):
    assert value(fn, x=3.0, y=4.0) == pytest.approx(expected, rel=1e-14)


def test_like_terms_further_back_in_a_traced_sum_are_collected():
    # 2 x + y + 3 x is 5 x + y, as in an expression file: one product, one sum
    node = trace(lambda x, y: 2 * x + y + 3 * x, ["x", "y"], {})
    assert len([n for n in graph.toposort([node]) if n.args]) == 2
    for x, y in [(3.0, 4.0), (-1.25, 0.5)]:
        got = float(evaluate([node], {"x": x, "y": y})[0])
        assert got == pytest.approx(2 * x + y + 3 * x, rel=1e-14)


def test_closures_over_constants_and_helpers():
    k = 2.5

    def inner(z):
        return z * k

    def outer(x):
        return inner(x) + math.cos(x)

    assert value(outer, x=1.0) == pytest.approx(2.5 + math.cos(1.0))


def test_constants_fix_non_symbolic_parameters():
    def f(x, power=3):
        return x**power

    assert float(evaluate([trace(f, ["x"], {"power": 3})], {"x": 2.0})[0]) == 8.0


def test_control_flow_names_the_line_and_suggests_where():
    def f(x):
        if x > 0:
            return x
        return -x

    with pytest.raises(TracingError) as info:
        trace(f, ["x"], {})
    assert info.value.span.line == f.__code__.co_firstlineno + 1
    assert "if x > 0:" in info.value.format()
    assert "np.where" in info.value.message


@pytest.mark.parametrize(
    "fn, fragment",
    [
        (lambda x: max(x, 0.0), "np.maximum"),
        (lambda x: float(x), "cannot become a float"),
        (lambda x: math.gamma(x), "math.gamma is not supported"),
        (lambda x: np.linalg.norm(x), "np.linalg.norm is not supported"),
        (lambda x: np.cbrt(x), "numpy.cbrt is not supported"),
        (lambda x: x + "a", "cannot use a str"),
        (lambda x: (x, x), "several values"),
        (lambda x: x > 1, "returns a comparison"),
        (lambda x: np.where(1.0, x, x), "condition must compare"),
        (lambda x: (x > 0) * x, "gives a condition, not a number"),
        (lambda x: x // 2, "'//' (floor division) is not supported"),
        (lambda x: 3 // x, "'//' (floor division) is not supported"),
        (lambda x: x % 3, "'%' (remainder) is not supported"),
        (lambda x: divmod(x, 2), "divmod() is not supported"),
        (lambda x: round(x), "round() is not supported"),
        (lambda x: math.floor(x), "math.floor is not supported"),
        (lambda x: 2 ^ x, "write ** for a power"),
        (lambda x: x @ x, "'@' is not supported"),
        (lambda x: ~x, "'~' is not supported"),
    ],
)
def test_unsupported_constructs_have_messages(fn, fragment):
    with pytest.raises(TracingError) as info:
        trace(fn, ["x"], {})
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("def f(*xs):\n    return xs[0]\n", "*args and **kwargs"),
        ("def f(x, **kw):\n    return x\n", "*args and **kwargs"),
        ("def f(x):\n    yield x\n", "generators"),
        ("async def f(x):\n    return x\n", "async"),
    ],
)
def test_signatures_that_cannot_be_traced(source, fragment):
    namespace: dict = {}
    exec(source, namespace)
    with pytest.raises(TracingError) as info:
        signature_of(namespace["f"])
    assert fragment in str(info.value)


SIGNATURES = [
    "def f(x, y): pass",
    "def f(x, y=2.0, z=None): pass",
    "def f(a, /, b, *, c, d=4.0): pass",
    "def f(a=1, /, b=2, *, c=3): pass",
    "def f(*, only): pass",
    "f = lambda x, k=3: x",
]


@pytest.mark.parametrize("source", SIGNATURES)
def test_signature_of_matches_inspect(source):
    namespace: dict = {}
    exec(source, namespace)
    fn = namespace["f"]
    expected = [
        (p.name, p.kind is p.KEYWORD_ONLY, p.default)
        for p in inspect.signature(fn).parameters.values()
    ]
    assert [tuple(p) for p in signature_of(fn)] == expected


def test_signature_of_a_wrapper_is_the_wrapped_functions():
    def inner(x, y=1.0):
        return x * y

    @functools.wraps(inner)
    def wrapper(*args, **kwargs):
        return inner(*args, **kwargs)

    assert [p.name for p in signature_of(wrapper)] == ["x", "y"]
    assert trace(wrapper, ["x", "y"], {}) is mul(var("x"), var("y"))


def test_untraced_globals_are_left_alone():
    # tracing re-creates the function over a copy of its globals: the module's own
    # `math` is still the real one afterwards
    trace(lambda x: math.sin(x), ["x"], {})
    assert math.sin is not None and globals()["math"] is math


def test_tracing_swaps_only_the_globals_the_code_names():
    """A helper named in a generator expression is traced; an unrelated one is untouched."""
    from symgrad.trace import _traceable

    namespace = {"math": math}
    exec(
        "def helper(u):\n    return math.sin(u)\n"
        "def unrelated(u):\n    return u\n"
        "def f(x):\n    return sum(helper(t) for t in (x, 2 * x))\n",
        namespace,
    )
    memo: dict = {}
    clone = _traceable(namespace["f"], memo)
    assert id(namespace["helper"]) in memo  # named inside the generator expression
    assert id(namespace["unrelated"]) not in memo
    assert clone.__globals__["unrelated"] is namespace["unrelated"]
    body = trace(namespace["f"], ["x"], {})
    (value,) = evaluate([body], {"x": 0.3})
    assert value == pytest.approx(math.sin(0.3) + math.sin(0.6), rel=1e-15)


# ---------------------------------------------------------------- the tape


def test_replaying_the_tape_builds_the_simplified_graph():
    x, y = var("x"), var("y")
    rosen = trace(lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2, ["x", "y"], {})
    two = num(2.0)
    expected = add(
        power(sub(num(1.0), x), two), mul(num(100.0), power(sub(y, power(x, two)), two))
    )
    assert rosen is expected
    # rules fire on replay as they would on building: x*1 + 0*x is x
    assert trace(lambda x: x * 1 + 0 * x, ["x"], {}) is x
    assert trace(lambda x: 1 / (1 + np.exp(-x)), ["x"], {}) is call("sigmoid", x)


def test_a_dead_computation_changes_the_key_but_not_the_graph():
    def plain(x):
        return x * x + 1

    def with_dead_code(x):
        unused = np.sin(x) * 3  # noqa: F841 (computed, never used)
        return x * x + 1

    traced = [record(f, ["x"], {}) for f in (plain, with_dead_code)]
    assert traced[0].key() != traced[1].key()
    assert traced[0].graph() is traced[1].graph()
    assert traced[1].tape.live(traced[1].root) == [0, 3, 4]  # x, x*x, x*x + 1


@pytest.mark.parametrize(
    "f, g",
    [
        (lambda x: x * 2.0, lambda x: x * 2.5),
        (lambda x: x + 0.0, lambda x: x + -0.0),
        (lambda x: np.sin(x), lambda x: np.cos(x)),
        (lambda x: x - 1, lambda x: 1 - x),
    ],
)
def test_different_operations_have_different_keys(f, g):
    assert record(f, ["x"], {}).key() != record(g, ["x"], {}).key()


def test_every_nan_constant_is_one_key():
    f = lambda x: x + float("nan")  # noqa: E731
    g = lambda x: x + np.float64("nan")  # noqa: E731
    assert record(f, ["x"], {}).key() == record(g, ["x"], {}).key()


def test_the_key_builds_no_graph_node():
    def f(unique_tape_name):
        return np.exp(unique_tape_name) * 3 + unique_tape_name**2

    built = graph._BUDGET.count  # [new nodes this thread has built, ceiling]
    before = built[0]
    traced = record(f, ["unique_tape_name"], {})
    traced.key()
    assert built[0] == before  # nothing built yet
    assert traced.graph().op == "add" and built[0] > before


def test_a_symbol_kept_past_its_trace_is_refused():
    kept = []

    def f(x):
        kept.append(x)
        return x

    trace(f, ["x"], {})
    with pytest.raises(TracingError, match="after its trace ended"):
        kept[0] + 1


def test_a_runaway_loop_is_stopped_by_the_operation_limit(monkeypatch):
    monkeypatch.setattr(trace_module, "MAX_NODES", 100)

    def f(x):
        for _ in range(200):
            x = x * 1.5
        return x

    with pytest.raises(LimitError, match="more than 100 operations"):
        record(f, ["x"], {})


def test_printing_a_symbol_while_tracing_shows_its_expression():
    shown = []

    def f(x, y):
        shown.append(repr(x * y + 1))
        return x

    trace(f, ["x", "y"], {})
    assert shown == ["Symbol(add(mul(var('x'), var('y')), const(1.0)))"]


# An expression tree: ("x" | "y" | float | (op, child, ...)), run as Python twice:
# by the tracer (a tape, then replay) and by Eager, a reference tracer that builds
# every node on the spot through the simplifier's builders (as tracing once did).
_LEAVES = st.one_of(st.sampled_from(["x", "y"]), st.sampled_from([0.0, 1.0, -2.0, 0.5]))
_TREES = st.recursive(
    _LEAVES,
    lambda kids: st.one_of(
        st.tuples(st.sampled_from(["+", "-", "*", "/"]), kids, kids),
        st.tuples(st.sampled_from(["neg", "sin", "exp", "square"]), kids),
        st.tuples(st.just("where"), kids, kids, kids, kids),
    ),
    max_leaves=12,
)
_PYTHON = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}
_UNARY = {"neg": operator.neg, "sin": np.sin, "exp": np.exp, "square": np.square}


def _as_python(tree, env):
    """The tree run as Python on env's values."""
    if isinstance(tree, str):
        return env[tree]
    if isinstance(tree, float):
        return tree
    op, *kids = tree
    args = [_as_python(k, env) for k in kids]
    if op in _PYTHON:
        return _PYTHON[op](*args)
    if op == "where":
        return np.where(args[0] > args[1], args[2], args[3])
    return _UNARY[op](args[0])


def _eager_node(value):
    return value.node if isinstance(value, (Eager, EagerCondition)) else num(value)


class EagerCondition:
    """A comparison of Eager values (np.where dispatches on it, as on Condition)."""

    __array_priority__ = 1000

    def __init__(self, node):
        self.node = node

    def __array_function__(self, func, types_, args, kwargs):
        return Eager.__array_function__(self, func, types_, args, kwargs)


def _eager(build, reflected=False):
    def method(self, other):
        a, b = _eager_node(self), _eager_node(other)
        return Eager(build(b, a) if reflected else build(a, b))

    return method


class Eager:
    """The reference: Python operators and numpy ufuncs build simplified nodes now."""

    __array_priority__ = 1000

    def __init__(self, node):
        self.node = node

    __add__, __radd__ = _eager(add), _eager(add, True)
    __sub__, __rsub__ = _eager(sub), _eager(sub, True)
    __mul__, __rmul__ = _eager(mul), _eager(mul, True)
    __truediv__, __rtruediv__ = _eager(div), _eager(div, True)

    def __neg__(self):
        return Eager(neg(self.node))

    def __gt__(self, other):
        return EagerCondition(call("gt", self.node, _eager_node(other)))

    def __lt__(self, other):
        return EagerCondition(call("lt", self.node, _eager_node(other)))

    def __array_ufunc__(self, ufunc, method, *inputs):
        nodes = [_eager_node(i) for i in inputs]
        if ufunc is np.square:
            return Eager(power(nodes[0], num(2.0)))
        return Eager({"add": add, "subtract": sub, "multiply": mul, "true_divide": div,
                      "sin": lambda a: call("sin", a), "exp": lambda a: call("exp", a),
                      }[ufunc.__name__](*nodes))  # fmt: skip

    def __array_function__(self, func, types_, args, kwargs):
        cond, a, b = args
        if not isinstance(cond, EagerCondition):
            raise TypeError("np.where's condition must be symbolic")
        return Eager(call("where", cond.node, _eager_node(a), _eager_node(b)))


def _run(make_env, tree):
    """(result, None) or (None, the exception's type)."""
    try:
        return _as_python(tree, make_env()), None
    except Exception as exc:  # noqa: BLE001 (compared between the two runs)
        return None, type(exc)


@settings(max_examples=150, deadline=None)
@given(_TREES)
def test_replaying_a_tape_is_building_the_graph_directly(tree):
    if isinstance(tree, (str, float)):
        tree = ("+", tree, "x")  # at least one operation on a variable
    eager, eager_error = _run(
        lambda: {"x": Eager(var("x")), "y": Eager(var("y"))}, tree
    )
    fn = lambda x, y: _as_python(tree, {"x": x, "y": y})  # noqa: E731
    try:
        traced, traced_error = trace(fn, ["x", "y"], {}), None
    except Exception as exc:  # noqa: BLE001
        traced, traced_error = None, type(exc)
    assert (traced_error is None) == (eager_error is None), (traced_error, eager_error)
    if traced_error is None:
        assert traced is _eager_node(eager)


# ---------------------------------------------------------------------------
# numpy functions traced to stable forms, checked against mpmath at 50 digits.


@pytest.fixture
def no_disk_cache(monkeypatch):
    monkeypatch.setenv("SYMGRAD_CACHE", "0")


def _mp_logaddexp(a: float, b: float, base: float) -> tuple:
    """log_base(base^a + base^b), its gradient and its Hessian's (0, 0) entry."""
    with mpmath.workdps(50):
        a, b, ln = mpmath.mpf(a), mpmath.mpf(b), mpmath.log(base)
        value = mpmath.log(mpmath.power(base, a) + mpmath.power(base, b)) / ln
        s = 1 / (1 + mpmath.power(base, b - a))  # d/da; d/db = 1 - s
        return float(value), (float(s), float(1 - s)), float(ln * s * (1 - s))


@pytest.mark.parametrize(
    "numpy_fn, base", [(np.logaddexp, math.e), (np.logaddexp2, 2.0)]
)
@pytest.mark.parametrize(
    "a, b",
    [(1000.0, 1000.0), (1000.0, 999.0), (-1000.0, -1000.0), (0.5, 0.5),
     (3.0, -2.0), (-2.0, 3.0), (-1e300, 1000.0), (700.0, -700.0)],
)  # fmt: skip
def test_logaddexp_is_max_shifted(no_disk_cache, numpy_fn, base, a, b):
    f = symgrad.compile(lambda a, b: numpy_fn(a, b))
    value, grad, curvature = _mp_logaddexp(a, b, base)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got_value, got_grad = f.value_and_grad(a, b)
        hessian = f.hessian(a, b)
    assert got_value == pytest.approx(value, rel=1e-15)
    assert got_grad == pytest.approx(grad, rel=1e-14, abs=1e-300)
    # the Hessian is curvature * [[1, -1], [-1, 1]]
    expected = [[curvature, -curvature], [-curvature, curvature]]
    np.testing.assert_allclose(hessian, expected, rtol=1e-13, atol=1e-300)


def test_logaddexp_splits_the_derivative_evenly_at_a_tie(no_disk_cache):
    f = symgrad.compile(lambda a, b: np.logaddexp(a, b))
    # d/da = e^a / (e^a + e^b) = 1/2 at a = b, exactly; d2/da2 = 1/4
    assert f.grad(1000.0, 1000.0) == (0.5, 0.5) and f.grad(-3.0, -3.0) == (0.5, 0.5)
    assert f.hessian(7.0, 7.0).tolist() == [[0.25, -0.25], [-0.25, 0.25]]


def _mp_hypot(a: float, b: float) -> tuple:
    """hypot(a, b), its gradient (a/h, b/h) and Hessian (b^2, -ab, a^2) / h^3."""
    with mpmath.workdps(50):
        a, b = mpmath.mpf(a), mpmath.mpf(b)
        h = mpmath.sqrt(a**2 + b**2)
        hessian = [[b**2 / h**3, -a * b / h**3], [-a * b / h**3, a**2 / h**3]]
        return (
            float(h),
            (float(a / h), float(b / h)),
            [[float(e) for e in r] for r in hessian],
        )


@pytest.mark.parametrize(
    "a, b",
    [(3.0, 4.0), (-4.0, 3.0), (2.0, 2.0), (-2.0, 2.0), (0.0, 2.0), (-2.0, 0.0),
     (1e200, 1e200), (3e200, -4e200), (1e-200, 3e-200), (1e300, 1.0)],
)  # fmt: skip
def test_hypot_never_squares_a_large_number(no_disk_cache, a, b):
    f = symgrad.compile(lambda a, b: np.hypot(a, b))
    value, grad, hessian = _mp_hypot(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got_value, got_grad = f.value_and_grad(a, b)
        got_hessian = f.hessian(a, b)
    assert got_value == pytest.approx(value, rel=1e-15)
    assert got_grad == pytest.approx(grad, rel=1e-15, abs=1e-300)
    np.testing.assert_allclose(got_hessian, hessian, rtol=1e-14, atol=1e-300)


def test_hypot_at_the_origin_is_zero_with_a_zero_derivative(no_disk_cache):
    f = symgrad.compile(lambda a, b: np.hypot(a, b))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f(0.0, 0.0) == 0.0 and f.grad(0.0, 0.0) == (0.0, 0.0)
        assert f.grad(np.zeros(2), np.zeros(2))[0].tolist() == [0.0, 0.0]
