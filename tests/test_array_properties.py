"""Random array expressions: generated gradients and HVPs against the unrolled scalar path and finite differences."""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen.load import load
from codegen.module import render
from symgrad import arrays
from symgrad.api import module_spec
from symgrad.graph import Node, var
from symgrad.program import Function, Program
from symgrad.simplify import add, call, div, mul, num, sub
from tests.array_oracle import flat_names, flat_values, scalar_gradient, unroll

EXAMPLES = int(os.environ.get("SYMGRAD_FUZZ_EXAMPLES", "40"))
SIZES = {"n": 3, "m": 2}
VARS = {
    "x": var("x", ("n",)),
    "y": var("y", ("n",)),
    "A": var("A", ("n", "n")),
    "M": var("M", ("m", "n")),
    "s": var("s"),
}
UNARY = ("sin", "cos", "tanh", "sigmoid", "softplus")


def expressions(shape: tuple, depth: int):
    """A strategy for array expressions of the given shape built from VARS."""
    leaves = {
        ("n",): st.sampled_from([VARS["x"], VARS["y"]]),
        (): st.sampled_from([VARS["s"], num(0.5)]),
        ("n", "n"): st.just(VARS["A"]),
        ("m",): st.just(arrays.matmul(VARS["M"], VARS["x"])),
    }[shape]
    if depth == 0:
        return leaves
    sub_ = lambda s: expressions(s, depth - 1)  # noqa: E731
    options = [leaves, _unary(sub_(shape)), _binary(sub_(shape), sub_(shape))]
    options.append(_binary(sub_(shape), sub_(())))
    if shape == ():
        options += [
            sub_(("n",)).map(arrays.reduce_sum),
            st.tuples(sub_(("n",)), sub_(("n",))).map(lambda p: arrays.dot(*p)),
            sub_(("n",)).map(arrays.logsumexp),
            sub_(("n", "n")).map(arrays.trace),
        ]
    if shape == ("n",):
        options += [
            sub_(("n",)).map(lambda e: arrays.matmul(VARS["A"], e)),
            sub_(("n",)).map(lambda e: arrays.matmul(e, VARS["A"])),
            sub_(("m",)).map(lambda e: arrays.matmul(arrays.transpose(VARS["M"]), e)),
            sub_(("n", "n")).map(lambda e: arrays.reduce_sum(e, -1)),
            sub_(("n",)).map(arrays.softmax),
            sub_(("n", "n")).map(arrays.diag),
            sub_(("n",)).map(_shifted),
        ]
    if shape == ("n", "n"):
        options += [
            st.tuples(sub_(("n",)), sub_(("n",))).map(lambda p: arrays.outer(*p)),
            sub_(("n", "n")).map(arrays.transpose),
            st.tuples(sub_(("n", "n")), sub_(("n",))).map(lambda p: mul(*p)),
            sub_(("n",)).map(arrays.diag),
        ]
    return st.one_of(options)


def _shifted(e: Node) -> Node:
    # x[1:] and x[:-1] side by side, padded back to n with a sum: slices and pads
    head = arrays.index(e, (slice(None, -1),))
    tail = arrays.index(e, (slice(1, None),))
    first = arrays.index(e, (0,))
    return add(mul(first, e), arrays.reduce_sum(mul(head, tail)))


def _unary(inner):
    return st.tuples(st.sampled_from(UNARY), inner).map(lambda p: call(p[0], p[1]))


def _binary(left, right):
    def combine(p):
        op, a, b = p
        if op == "div":  # a denominator that is never near 0
            return div(a, add(num(2.0), call("cos", b)))
        return {"add": add, "sub": sub, "mul": mul}[op](a, b)

    return st.tuples(st.sampled_from(["add", "sub", "mul", "div"]), left, right).map(
        combine
    )


def _compile(body: Node, params: tuple[str, ...], data: tuple[str, ...], shapes):
    f = Function("f", params, data, body, "f = ...", None, None, shapes)
    return load(render(module_spec(Program("t", [f], {}), "t")), "t", "<t>")


def _env(rng) -> dict[str, np.ndarray]:
    return {
        "x": rng.normal(size=3),
        "y": rng.normal(size=3),
        "A": rng.normal(size=(3, 3)),
        "M": rng.normal(size=(2, 3)),
        "s": float(rng.normal()),
    }


WRT = ("x", "A", "s")
DATA = ("y", "M")
SHAPES = tuple((k, v.shape) for k, v in VARS.items() if v.shape)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(expressions((), 3), st.integers(0, 2**32 - 1))
def test_array_gradient_equals_the_unrolled_scalar_gradient(body: Node, seed: int):
    rng = np.random.default_rng(seed)
    env = _env(rng)
    module = _compile(body, WRT, DATA, SHAPES)
    args = [env[k] for k in WRT + DATA]
    grads = module.f_grad(*args)
    # the oracle: the same function entry by entry through the scalar pipeline
    (flat,), scalars = unroll([body], SIZES, list(VARS.values()))
    oracle = scalar_gradient(
        flat[()].node, flat_names(scalars, WRT), flat_names(scalars, DATA)
    )
    expected = oracle(*flat_values(env, WRT + DATA))
    got = np.concatenate([np.ravel(g) for g in grads])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    # and central differences of the generated value along a random direction
    directions = [rng.normal(size=np.shape(env[k])) for k in WRT]
    h = 1e-6

    def at(sign: float) -> float:
        moved = [env[k] + sign * h * d for k, d in zip(WRT, directions)]
        return module.f(*moved, *[env[k] for k in DATA])

    numeric = (at(1.0) - at(-1.0)) / (2 * h)
    symbolic = sum(np.sum(g * d) for g, d in zip(grads, directions))
    assert abs(symbolic - numeric) <= 1e-7 * (abs(numeric) + abs(symbolic)) + 1e-8
    # H v: differences of the gradient along v
    hv = module.f_hvp(*args, *directions)
    plus = module.f_grad(*[env[k] + h * d for k, d in zip(WRT, directions)], *args[3:])
    minus = module.f_grad(*[env[k] - h * d for k, d in zip(WRT, directions)], *args[3:])
    for hv_k, p, m in zip(hv, plus, minus):
        np.testing.assert_allclose(hv_k, (p - m) / (2 * h), rtol=1e-5, atol=1e-6)
