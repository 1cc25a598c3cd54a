"""Named rewrite rules applied at construction to a fixpoint, plus stability rewrites.

Every node the core builds goes through `build`, which interns the node and then
applies the rules of its op until none fires. Arguments are always already
simplified, so one local pass per new node reaches the fixpoint of the whole graph.

Soundness: a rule rewrites only to something equal wherever the original is
defined, and smaller or more stable. Two conventions of derivative code are
deliberate and documented: a zero coefficient annihilates (0*x -> 0, x - x -> 0,
even where x is inf or nan), which is what keeps structural zeros zero; and a
`where` whose other branch is 0 absorbs the factors around it
(where(c, a, 0) * h -> where(c, a*h, 0)), so an undefined value in the branch not
taken never leaks into a value or a derivative.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Final

import numpy as np

from symgrad.evaluate import apply_op
from symgrad.graph import (
    Node,
    const,
    is_const,
    make,
    matched_operands,
    same_up_to_order,
    set_simplified,
    toposort,
)

Rule = Callable[[Node], "Node | None"]

_MAX_STEPS = 64

# node.simplified of a node that is its own fixpoint. Not the node itself: a node
# referring to itself is a cycle, which only the cyclic collector frees, and the
# intern table's keys hold a node's arguments, so a chain of n nodes took n full
# collections to free (a compile's whole graph outlived it).
AT_FIXPOINT: Final = object()
_recording: list[str] | None = None


@contextmanager
def recording() -> Iterator[list[str]]:
    """Collect the names of the rules that fire inside the block (for tests and tracing)."""
    global _recording
    previous, _recording = _recording, []
    try:
        yield _recording
    finally:
        _recording = previous


def build(op: str, args: Sequence[Node] = (), attrs: tuple = ()) -> Node:
    """Make a node from simplified arguments and rewrite it to the rules' fixpoint.

    The fixpoint depends on the node alone, so it is remembered on the node: an
    interned hit (most builds while differentiating) costs one lookup, not a try of
    every rule of its op. While rules are being recorded (tests) nothing is skipped.
    """
    node = make(op, args, attrs)
    done = node.simplified
    if done is not None and _recording is None:
        return node if done is AT_FIXPOINT else done
    start = node
    for _ in range(_MAX_STEPS):
        for name, rule in _rules_for(node):
            out = rule(node)
            if out is not None and out is not node:
                if out.shape != node.shape:  # x * 0 -> 0 keeps the array's shape
                    out = make("broadcast_to", (out,), (node.shape,))
                if _recording is not None:
                    _recording.append(name)
                node = out
                done = out.simplified
                if done is not None and _recording is None:
                    # a builder's result (or an argument) is at its fixpoint
                    # already: trying every rule of its op again would find none
                    return _rewritten(start, out if done is AT_FIXPOINT else done)
                break
        else:
            set_simplified(node, AT_FIXPOINT)
            return _rewritten(start, node) if start is not node else node
    return node


def _rewritten(start: Node, fixpoint: Node) -> Node:
    """Remember start's fixpoint on it; a rewritten start lives while remembering."""
    if start is fixpoint:
        set_simplified(start, AT_FIXPOINT)
        return fixpoint
    set_simplified(start, fixpoint)
    kept = getattr(_KEPT, "nodes", None)
    if kept is not None:
        kept.append(start)
    return fixpoint


# Nothing refers to a node that rules rewrote, so it dies at once, and building it
# again (a gradient, its Hessian, its HVP meet the same products) makes it and
# tries its rules anew: a third of the nodes differentiating Rosenbrock builds.
_KEPT = threading.local()


@contextmanager
def remembering() -> Iterator[None]:
    """Inside the block, rewritten nodes stay interned: building one again is a lookup."""
    outer = getattr(_KEPT, "nodes", None)
    if outer is None:
        _KEPT.nodes = []
    try:
        yield
    finally:
        if outer is None:
            _KEPT.nodes = None


def _rules_for(node: Node) -> tuple[tuple[str, Rule], ...]:
    """The rules of node's op that its arguments let fire (see LOOKS_FOR)."""
    args = node.args
    if len(args) == 2:  # most nodes: a key without a generator
        a, b = args
        key = (
            node.op,
            a.op if a.op != "const" else _CONST_TOKENS.get(a.attrs[0], "const"),
            b.op if b.op != "const" else _CONST_TOKENS.get(b.attrs[0], "const"),
        )
    else:
        key = (node.op, *dispatch_tokens(args))
    rules = _DISPATCH.get(key)
    if rules is None:
        rules = _DISPATCH[key] = _eligible(node.op, key[1:])
    return rules


def dispatch_tokens(args: Sequence[Node]) -> list[str]:
    """What the dispatch sees of arguments: their ops, a constant's value class."""
    return [
        a.op if a.op != "const" else _CONST_TOKENS.get(a.attrs[0], "const")
        for a in args
    ]


def _eligible(op: str, tokens: Sequence[str]) -> tuple[tuple[str, Rule], ...]:
    """The rules of op that arguments seen as tokens can let fire."""
    present = set(tokens) | {"const" for t in tokens if t.startswith("const")}
    every = [{t} | ({"const"} if t.startswith("const") else set()) for t in tokens]
    return tuple(
        (name, rule)
        for name, rule in RULES.get(op, ())
        if (name not in LOOKS_FOR or not LOOKS_FOR[name].isdisjoint(present))
        and (
            name not in LOOKS_FOR_EVERY
            or (every and all(not LOOKS_FOR_EVERY[name].isdisjoint(t) for t in every))
        )
    )


# A constant argument is also seen by the values rules test for (x * 1, x + 0,
# x ^ 0.5): a rule that needs a 1 is not tried beside a 2. -0.0 is 0 here as in
# is_const.
_CONST_TOKENS = {0.0: "const:0", 1.0: "const:1", -1.0: "const:-1", 0.5: "const:0.5"}

# (op, argument tokens...) -> the rules to try, filled on first use
_DISPATCH: dict[tuple[str, ...], tuple[tuple[str, Rule], ...]] = {}


def _unstretched(n: Node, combine: Callable[[Node, Node], Node]) -> Node | None:
    """a + broadcast_to(c, a's shape) -> a + c: numpy broadcasts c itself, no copy."""
    a, b = n.args
    if b.op == "broadcast_to" and a.shape == n.shape:
        return combine(a, b.args[0])
    if a.op == "broadcast_to" and b.shape == n.shape:
        return combine(a.args[0], b)
    return None


def _add_pads(n: Node) -> Node | None:
    """pad(a, w) + pad(b, w) -> pad(a + b, w), and (x + pad(a, w)) + pad(b, w) too.

    One padded copy instead of two: a gradient's adjoints of like slices meet so.
    """
    left, right = n.args
    if right.op != "pad":
        return None
    if left.op == "pad" and _same_padding(left, right):
        return build("pad", (add(left.args[0], right.args[0]),), right.attrs)
    if (
        left.op == "add"
        and left.args[1].op == "pad"
        and _same_padding(left.args[1], right)
    ):
        merged = build("pad", (add(left.args[1].args[0], right.args[0]),), right.attrs)
        return add(left.args[0], merged)
    return None


def _same_padding(p: Node, q: Node) -> bool:
    """Two paddings of like-shaped arrays by the same widths."""
    return p.attrs == q.attrs and p.args[0].shape == q.args[0].shape


def _common_factor(n: Node, combine: Callable[[Node, Node], Node]) -> Node | None:
    """a c +- b c -> (a +- b) c, the shared factor c on either side of either product.

    One product, not two. Constant coefficients are left to like terms (3 x + 4 x ->
    7 x).
    """
    p, q = n.args
    if p.op != "mul" or q.op != "mul":
        return None
    (p0, p1), (q0, q1) = p.args, q.args
    # a product commutes, so the shared factor may stand on either side of each
    for shared, a, b, last in (
        (p1, p0, q0, q1),
        (p0, p1, q1, q0),
        (p1, p0, q1, q0),
        (p0, p1, q0, q1),
    ):
        if shared.op != "const" and _same(shared, last):
            rest = combine(a, b)
            return mul(rest, shared) if shared is p1 else mul(shared, rest)
    return None


def _same(u: Node, v: Node) -> bool:
    """One value: the same node, or equal up to the order of commutative operands."""
    return u is v or (u.op == v.op and bool(u.args) and same_up_to_order(u, v))


def simplify(roots: Sequence[Node]) -> list[Node]:
    """Rebuild a graph built without rules (e.g. from sympy) through the rules."""
    new: dict[Node, Node] = {}
    for node in toposort(roots):
        args = tuple(new[a] for a in node.args)
        new[node] = node if not node.args else build(node.op, args, node.attrs)
    return [new[r] for r in roots]


# ---------------------------------------------------------------- builders


# The builders apply the rule that fires first on most of the nodes a gradient
# builds before making the node, which would live only to be rewritten (a fifth of
# the nodes differentiating Rosenbrock made). Each only where no rule before it in
# its op's table can fire, so the result is the node the table gives; while rules
# are recorded, every node goes through the table.


def add(a: Node, b: Node) -> Node:
    """a + b."""
    if _recording is None:
        if a.op == "const":
            if b.op == "const":  # fold
                return const(a.attrs[0] + b.attrs[0])
            return build("add", (b, a))  # add_const_last
        if a.op == "add" and a.args[1].op == "const":
            if b.op != "const":  # add_const_out
                return _constant_last(a, b)
            if b.attrs[0] != 0:  # add_const_assoc (add_zero's where b is 0)
                return _sum_of_constants(a, b)
    return build("add", (a, b))


def _sum_of_constants(a: Node, c: Node) -> Node:
    """(x + c1) + c2 = x + (c1 + c2)."""
    return add(a.args[0], add(a.args[1], c))


def _constant_last(a: Node, b: Node) -> Node:
    """(x + c) + y = (x + y) + c: constants meet and fold."""
    return add(add(a.args[0], b), a.args[1])


def sub(a: Node, b: Node) -> Node:
    """a - b."""
    if _recording is None and a.op == "const" and b.op == "const":  # fold
        return const(a.attrs[0] - b.attrs[0])
    return build("sub", (a, b))


def mul(a: Node, b: Node) -> Node:
    """a * b."""
    if _recording is None:
        if b.op == "const":
            if a.op == "const":  # fold
                return const(a.attrs[0] * b.attrs[0])
            return build("mul", (b, a))  # mul_const_first
        elif (
            a.op == "const"
            and b.op == "mul"
            and b.args[0].op == "const"
            and a.attrs[0] not in (0.0, 1.0, -1.0)  # mul_zero, mul_one, mul_minus_one
        ):  # mul_const_assoc
            return _product_of_constants(a, b)
    return build("mul", (a, b))


def _product_of_constants(c: Node, b: Node) -> Node:
    """c1 (c2 x) = (c1 c2) x."""
    return mul(mul(c, b.args[0]), b.args[1])


def div(a: Node, b: Node) -> Node:
    """a / b."""
    return build("div", (a, b))


def neg(a: Node) -> Node:
    """-a."""
    if _recording is None:
        if a.op == "const":  # fold
            return const(-a.attrs[0])
        if a.op == "mul" and a.args[0].op == "const":
            return _negated_scale(a)  # neg_scaled
    return build("neg", (a,))


def _negated_scale(a: Node) -> Node:
    """-(c x) = (-c) x."""
    return mul(const(-a.args[0].attrs[0]), a.args[1])


def power(a: Node, b: Node) -> Node:
    """a ** b."""
    return build("pow", (a, b))


def call(op: str, *args: Node) -> Node:
    """Any other op applied to args (exp, sin, where, ...)."""
    return build(op, args)


def num(value: float) -> Node:
    """A constant node."""
    return const(value)


ZERO, ONE = const(0.0), const(1.0)


# ---------------------------------------------------------------- helpers


def _c(node: Node) -> float | None:
    """The value of a const node, else None."""
    return node.attrs[0] if node.op == "const" else None


def _is_int(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value == int(value)


def _coeff(node: Node) -> tuple[float, Node]:
    """Split c*x into (c, x); anything else is 1*x."""
    if node.op == "mul" and node.args[0].op == "const":
        return node.args[0].attrs[0], node.args[1]
    if node.op == "neg":
        return -1.0, node.args[0]
    return 1.0, node


def _zero_branch_where(node: Node) -> bool:
    """where(c, a, 0) or where(c, 0, b): a select with one zero branch."""
    return node.op == "where" and (
        is_const(node.args[1], 0) or is_const(node.args[2], 0)
    )


def _map_where(node: Node, f: Callable[[Node], Node]) -> Node:
    """where(c, f(a), f(b)) for a where with one zero branch, keeping the zero a zero."""
    c, a, b = node.args
    fa = ZERO if is_const(a, 0) else f(a)
    fb = ZERO if is_const(b, 0) else f(b)
    return call("where", c, fa, fb)


_NONNEG_OPS = {"abs", "exp", "sqrt", "sigmoid", "softplus", "relu", "step", "cosh"}


def _nonnegative(node: Node, depth: int = 8) -> bool:
    """A cheap, bounded proof that node >= 0 wherever it is defined."""
    if depth == 0:
        return False
    if node.op == "const":
        return node.attrs[0] >= 0
    if node.op in _NONNEG_OPS:
        return True
    if node.op == "pow":
        k = _c(node.args[1])
        return (_is_int(k) and k % 2 == 0) or _nonnegative(node.args[0], depth - 1)
    if node.op in ("add", "mul", "div", "max"):
        return all(_nonnegative(a, depth - 1) for a in node.args)
    return False


def _fold(node: Node) -> Node | None:
    """Evaluate an op whose arguments are all constants (inf and nan included).

    Folding non-finite results too keeps Python float arithmetic such as 1.0 / 0.0
    (a ZeroDivisionError) out of generated code: the constant prints as np.inf.
    """
    args = node.args
    if not args:
        return None
    for a in args:  # a loop, not any(...): every new node passes through here
        if a.op != "const":
            return None
    exact = _EXACT_IN_PYTHON.get(node.op)
    if exact is not None:  # IEEE double either way, and 1e308 * 10 is inf in both
        return const(exact(*(a.attrs[0] for a in args)))
    return const(float(apply_op(node.op, [np.float64(a.attrs[0]) for a in args])))


# Ops whose Python float arithmetic is numpy's float64 arithmetic, bit for bit and
# without raising (overflow gives inf, inf - inf nan): folded without numpy's
# per-call errstate, the most frequent folds while differentiating.
_EXACT_IN_PYTHON: dict[str, Callable[..., float]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "neg": lambda a: -a,
}


# ---------------------------------------------------------------- rules, by op
# Each rule takes the freshly made node (arguments already simplified) and returns
# a replacement or None. The math each one uses is in its name and one line.

# fmt: off
ADD_RULES: tuple[tuple[str, Rule], ...] = (
    ("fold",           _fold),
    ("add_zero",       lambda n: n.args[1] if is_const(n.args[0], 0) else n.args[0] if is_const(n.args[1], 0) else None),
    ("add_const_last", lambda n: add(n.args[1], n.args[0]) if n.args[0].op == "const" else None),
    ("add_const_assoc", lambda n: _sum_of_constants(*n.args) if n.args[1].op == "const" and n.args[0].op == "add" and n.args[0].args[1].op == "const" else None),
    ("add_const_out",  lambda n: _constant_last(*n.args) if n.args[0].op == "add" and n.args[0].args[1].op == "const" and n.args[1].op != "const" else None),  # (x + c) + y = (x + y) + c: constants meet and fold
    ("add_negative_scaled", lambda n: sub(n.args[0], mul(const(-n.args[1].args[0].attrs[0]), n.args[1].args[1])) if n.args[1].op == "mul" and n.args[1].args[0].op == "const" and n.args[1].args[0].attrs[0] < 0 else None),
    ("add_neg",        lambda n: sub(n.args[0], n.args[1].args[0]) if n.args[1].op == "neg" else sub(n.args[1], n.args[0].args[0]) if n.args[0].op == "neg" else None),
    ("add_like_terms", lambda n: _like_terms(n.args[0], n.args[1], 1.0)),
    ("add_like_products", lambda n: _like_products(n.args[0], n.args[1], 1.0)),  # 3 a b + 2 b a = 5 a b
    ("add_expm1",      lambda n: call("expm1", n.args[0].args[0]) if n.args[0].op == "exp" and is_const(n.args[1], -1) else None),  # exp(u) + -1
    ("add_where_zero", lambda n: _merge_where(n, add)),
    ("add_common_divisor", lambda n: _common_divisor(n, add)),
    ("add_sub_cancel", lambda n: n.args[0].args[0] if n.args[0].op == "sub" and _same(n.args[0].args[1], n.args[1]) else n.args[1].args[0] if n.args[1].op == "sub" and _same(n.args[1].args[1], n.args[0]) else None),  # (a - b) + b = a
    ("add_common_factor", lambda n: _common_factor(n, add)),
    ("add_distribute_like", lambda n: _distribute_like(n.args[0], n.args[1], 1.0)),
    ("add_pads",       lambda n: _add_pads(n)),
    ("add_stretched",  lambda n: _unstretched(n, add)),
    ("add_transpose_last", lambda n: add(n.args[1], n.args[0]) if n.args[0].op == "transpose" and n.args[1].op != "transpose" and n.args[0].shape == n.args[1].shape else None),  # A.T + B = B + A.T: numpy walks the result in B's (C) order
)
SUB_RULES: tuple[tuple[str, Rule], ...] = (
    ("fold",           _fold),
    ("sub_zero",       lambda n: n.args[0] if is_const(n.args[1], 0) else neg(n.args[1]) if is_const(n.args[0], 0) else None),
    ("sub_self",       lambda n: ZERO if _same(n.args[0], n.args[1]) else None),
    ("sub_neg",        lambda n: add(n.args[0], n.args[1].args[0]) if n.args[1].op == "neg" else None),
    ("sub_const",      lambda n: add(n.args[0], const(-n.args[1].attrs[0])) if n.args[1].op == "const" and n.args[0].op == "add" and n.args[0].args[1].op == "const" else None),
    ("sub_const_out",  lambda n: add(sub(n.args[0].args[0], n.args[1]), n.args[0].args[1]) if n.args[0].op == "add" and n.args[0].args[1].op == "const" and n.args[1].op != "const" else None),  # (x + c) - y = (x - y) + c
    ("sub_like_terms", lambda n: _like_terms(n.args[0], n.args[1], -1.0)),
    ("sub_like_products", lambda n: _like_products(n.args[0], n.args[1], -1.0)),
    ("expm1",          lambda n: call("expm1", n.args[0].args[0]) if n.args[0].op == "exp" and is_const(n.args[1], 1) else None),
    ("one_minus_exp",  lambda n: neg(call("expm1", n.args[1].args[0])) if is_const(n.args[0], 1) and n.args[1].op == "exp" else None),  # 1 - exp(u) = -expm1(u)
    ("one_minus_sigmoid", lambda n: call("sigmoid", neg(n.args[1].args[0])) if is_const(n.args[0], 1) and n.args[1].op == "sigmoid" else None),
    ("sub_where_zero", lambda n: _merge_where(n, sub)),
    ("sub_common_divisor", lambda n: _common_divisor(n, sub)),
    ("sigmoid_complement", lambda n: _sigmoid_complement(n)),
    ("sub_common_factor", lambda n: _common_factor(n, sub)),
    ("sub_distribute_like", lambda n: _distribute_like(n.args[0], n.args[1], -1.0)),
    ("sub_stretched",  lambda n: _unstretched(n, sub)),
)
MUL_RULES: tuple[tuple[str, Rule], ...] = (
    ("fold",           _fold),
    ("mul_zero",       lambda n: ZERO if is_const(n.args[0], 0) or is_const(n.args[1], 0) else None),
    ("mul_one",        lambda n: n.args[1] if is_const(n.args[0], 1) else n.args[0] if is_const(n.args[1], 1) else None),
    ("mul_const_first", lambda n: mul(n.args[1], n.args[0]) if n.args[1].op == "const" else None),
    ("mul_minus_one",  lambda n: neg(n.args[1]) if is_const(n.args[0], -1) else None),
    ("mul_const_assoc", lambda n: _product_of_constants(*n.args) if n.args[0].op == "const" and n.args[1].op == "mul" and n.args[1].args[0].op == "const" else None),
    ("mul_const_left", lambda n: mul(mul(n.args[1].args[0], n.args[0]), n.args[1].args[1]) if n.args[0].op != "const" and n.args[1].op == "mul" and n.args[1].args[0].op == "const" else None),
    ("mul_neg",        lambda n: neg(mul(n.args[0].args[0], n.args[1])) if n.args[0].op == "neg" else neg(mul(n.args[0], n.args[1].args[0])) if n.args[1].op == "neg" else None),
    ("mul_same",       lambda n: power(n.args[0], const(2.0)) if _same(n.args[0], n.args[1]) and n.args[0].op != "const" else None),
    ("mul_powers",     lambda n: _mul_powers(n.args[0], n.args[1])),
    ("mul_like_factor", lambda n: _like_factor(n)),
    ("mul_reciprocal", lambda n: div(n.args[0], n.args[1].args[1]) if n.args[1].op == "div" and is_const(n.args[1].args[0], 1) else div(n.args[1], n.args[0].args[1]) if n.args[0].op == "div" and is_const(n.args[0].args[0], 1) else None),
    ("mul_where_zero", lambda n: _absorb_where(n, lambda w, h: mul(w, h), lambda h, w: mul(h, w))),
    ("mul_divide_smaller", lambda n: _divide_smaller(n)),
    ("mul_stretched",  lambda n: _unstretched(n, mul)),
)
DIV_RULES: tuple[tuple[str, Rule], ...] = (
    ("fold",           _fold),
    ("div_one",        lambda n: n.args[0] if is_const(n.args[1], 1) else None),
    ("div_zero",       lambda n: ZERO if is_const(n.args[0], 0) else None),
    ("div_neg",        lambda n: neg(div(n.args[0].args[0], n.args[1])) if n.args[0].op == "neg" else neg(div(n.args[0], n.args[1].args[0])) if n.args[1].op == "neg" else None),
    ("sigmoid",        lambda n: _sigmoid_of(n.args[1]) if is_const(n.args[0], 1) else None),
    ("div_exp",        lambda n: mul(n.args[0], call("exp", neg(n.args[1].args[0]))) if n.args[1].op == "exp" else None),  # a/exp(u) = a*exp(-u): no inf/inf
    ("div_where_zero", lambda n: _map_where(n.args[0], lambda a: div(a, n.args[1])) if _zero_branch_where(n.args[0]) else None),
)
NEG_RULES: tuple[tuple[str, Rule], ...] = (
    ("fold",           _fold),
    ("neg_neg",        lambda n: n.args[0].args[0] if n.args[0].op == "neg" else None),
    ("neg_sub",        lambda n: sub(n.args[0].args[1], n.args[0].args[0]) if n.args[0].op == "sub" else None),
    ("neg_scaled",     lambda n: _negated_scale(n.args[0]) if n.args[0].op == "mul" and n.args[0].args[0].op == "const" else None),
    ("neg_where_zero", lambda n: _map_where(n.args[0], neg) if _zero_branch_where(n.args[0]) else None),
)
POW_RULES: tuple[tuple[str, Rule], ...] = (
    ("fold",           _fold),
    ("pow_one",        lambda n: n.args[0] if is_const(n.args[1], 1) else None),
    ("pow_zero",       lambda n: ONE if is_const(n.args[1], 0) else None),
    ("pow_base_one",   lambda n: ONE if is_const(n.args[0], 1) else None),
    ("pow_half",       lambda n: call("sqrt", n.args[0]) if is_const(n.args[1], 0.5) else None),
    ("pow_pow_int",    lambda n: power(n.args[0].args[0], const(n.args[0].args[1].attrs[0] * n.args[1].attrs[0])) if n.args[0].op == "pow" and _is_int(_c(n.args[1])) and _is_int(_c(n.args[0].args[1])) else None),
    ("sqrt_squared",   lambda n: n.args[0].args[0] if n.args[0].op == "sqrt" and is_const(n.args[1], 2) and _nonnegative(n.args[0].args[0]) else None),
)
LOG_RULES: tuple[tuple[str, Rule], ...] = (
    ("fold",           _fold),
    ("log_exp",        lambda n: n.args[0].args[0] if n.args[0].op == "exp" else None),
    ("softplus",       lambda n: call("softplus", _one_plus(n.args[0]).args[0]) if _one_plus(n.args[0]) is not None and _one_plus(n.args[0]).op == "exp" else None),
    ("log_sigmoid",    lambda n: neg(call("softplus", neg(n.args[0].args[0]))) if n.args[0].op == "sigmoid" else None),
    ("log1p",          lambda n: call("log1p", _one_plus(n.args[0])) if _one_plus(n.args[0]) is not None else None),
)
MAX_RULES: tuple[tuple[str, Rule], ...] = (
    ("fold",           _fold),
    ("max_self",       lambda n: n.args[0] if n.args[0] is n.args[1] else None),
    ("max_relu",       lambda n: call("relu", n.args[0]) if is_const(n.args[1], 0) else call("relu", n.args[1]) if is_const(n.args[0], 0) else None),
)
MIN_RULES: tuple[tuple[str, Rule], ...] = (
    ("fold",           _fold),
    ("min_self",       lambda n: n.args[0] if n.args[0] is n.args[1] else None),
    ("min_relu",       lambda n: neg(call("relu", neg(n.args[0]))) if is_const(n.args[1], 0) else neg(call("relu", neg(n.args[1]))) if is_const(n.args[0], 0) else None),
)
ABS_RULES: tuple[tuple[str, Rule], ...] = (
    ("fold",           _fold),
    ("abs_abs",        lambda n: n.args[0] if n.args[0].op == "abs" else None),
    ("abs_neg",        lambda n: call("abs", n.args[0].args[0]) if n.args[0].op == "neg" else None),
)
SQRT_RULES: tuple[tuple[str, Rule], ...] = (
    ("fold",           _fold),
    ("sqrt_one_minus_square", lambda n: call("sqrt", mul(sub(ONE, u), add(ONE, u))) if (u := _one_minus_square(n.args[0])) is not None else None),  # 1 - u^2 = (1 - u)(1 + u)
)
SOFTPLUS_RULES: tuple[tuple[str, Rule], ...] = (
    ("fold",           _fold),
    ("softplus_log",   lambda n: call("log1p", n.args[0].args[0]) if n.args[0].op == "log" else None),  # log(1 + exp(log u)) = log(1 + u)
)
WHERE_RULES: tuple[tuple[str, Rule], ...] = (
    ("where_same",     lambda n: n.args[1] if n.args[1] is n.args[2] else None),
    ("where_const",    lambda n: (n.args[1] if n.args[0].attrs[0] else n.args[2]) if n.args[0].op == "const" else None),
)
FOLD_ONLY: tuple[tuple[str, Rule], ...] = (("fold", _fold),)
BROADCAST_RULES: tuple[tuple[str, Rule], ...] = (
    ("broadcast_same",  lambda n: n.args[0] if n.args[0].shape == n.shape else None),
    ("broadcast_twice", lambda n: build("broadcast_to", n.args[0].args, n.attrs) if n.args[0].op == "broadcast_to" else None),
)
TRANSPOSE_RULES: tuple[tuple[str, Rule], ...] = (
    ("transpose_identity", lambda n: n.args[0] if n.attrs[0] == tuple(range(len(n.shape))) else None),
    ("transpose_eye",      lambda n: n.args[0] if n.args[0].op == "eye" else None),
    ("transpose_twice",    lambda n: build("transpose", n.args[0].args, (tuple(n.args[0].attrs[0][i] for i in n.attrs[0]),)) if n.args[0].op == "transpose" else None),
)
SUM_RULES: tuple[tuple[str, Rule], ...] = (
    ("sum_no_axes",     lambda n: n.args[0] if not n.attrs[0] else None),
    ("sum_scaled",      lambda n: mul(n.args[0].args[0], build("sum", n.args[0].args[1:], n.attrs)) if n.args[0].op == "mul" and n.args[0].args[0].shape == () and n.args[0].args[1].shape == n.args[0].shape else None),
)
MATMUL_RULES: tuple[tuple[str, Rule], ...] = (
    ("matmul_scaled",   lambda n: _scalar_out_of_matmul(n)),
    ("matmul_identity", lambda n: n.args[0] if n.args[1].op == "eye" else n.args[1] if n.args[0].op == "eye" else None),
)
EXPAND_RULES: tuple[tuple[str, Rule], ...] = (
    ("expand_no_axes",  lambda n: n.args[0] if not n.attrs[0] else None),
)

# What each rule looks for among its node's arguments: it can fire only when one of
# the arguments has one of these ops ("const" is any constant, "const:1" a 1, see
# _CONST_TOKENS). build tries only the rules whose condition the arguments meet; a
# rule absent here is always tried (those that compare arguments, like x - x).
# Differentiating Rosenbrock in 1,000 variables tried 840,000 rules for 48,000
# firings before. tests/test_simplify.py checks that each condition is necessary,
# over every unary and binary node of an argument pool.
LOOKS_FOR: dict[str, frozenset[str]] = {
    name: frozenset(ops.split())
    for name, ops in {
        "fold": "const",
        "add_zero": "const:0", "add_const_last": "const", "add_const_assoc": "const",
        "add_const_out": "add", "sub_const_out": "add",
        "add_negative_scaled": "mul", "add_neg": "neg", "add_expm1": "exp",
        "add_where_zero": "where", "add_common_divisor": "div", "add_sub_cancel": "sub",
        "add_common_factor": "mul", "add_distribute_like": "add sub mul neg",
        "add_pads": "pad", "add_stretched": "broadcast_to",
        "add_transpose_last": "transpose",
        "sub_zero": "const:0", "sub_neg": "neg", "sub_const": "const", "expm1": "exp",
        "one_minus_exp": "exp", "one_minus_sigmoid": "sigmoid",
        "sub_where_zero": "where", "sub_common_divisor": "div",
        "sigmoid_complement": "sigmoid mul", "sub_common_factor": "mul",
        "sub_distribute_like": "add sub mul neg", "sub_stretched": "broadcast_to",
        "mul_zero": "const:0", "mul_one": "const:1", "mul_const_first": "const",
        "mul_minus_one": "const:-1", "mul_const_assoc": "const", "mul_const_left": "mul",
        "mul_neg": "neg", "mul_powers": "pow", "mul_like_factor": "mul",
        "mul_reciprocal": "div", "mul_where_zero": "where", "mul_divide_smaller": "div",
        "mul_stretched": "broadcast_to",
        "div_one": "const:1", "div_zero": "const:0", "div_neg": "neg", "sigmoid": "const:1",
        "div_exp": "exp", "div_where_zero": "where",
        "neg_neg": "neg", "neg_sub": "sub", "neg_scaled": "mul", "neg_where_zero": "where",
        "pow_one": "const:1", "pow_zero": "const:0", "pow_base_one": "const:1",
        "pow_half": "const:0.5", "pow_pow_int": "pow", "sqrt_squared": "sqrt",
        "log_exp": "exp", "softplus": "add", "log_sigmoid": "sigmoid", "log1p": "add",
        "max_relu": "const:0", "min_relu": "const:0", "abs_abs": "abs", "abs_neg": "neg",
        "sqrt_one_minus_square": "sub", "softplus_log": "log", "where_const": "const",
        "broadcast_twice": "broadcast_to", "transpose_eye": "eye",
        "transpose_twice": "transpose", "sum_scaled": "mul", "matmul_scaled": "mul",
        "matmul_identity": "eye",
    }.items()
}
# fmt: on

# Rules that need every argument to be one of these (a fold needs constants only).
LOOKS_FOR_EVERY: dict[str, frozenset[str]] = {
    "fold": frozenset({"const"}),
    "add_like_products": frozenset({"mul"}),
    "sub_like_products": frozenset({"mul"}),
}


def _one_plus(node: Node) -> Node | None:
    """u when node is 1 + u or u + 1, else None."""
    if node.op == "add":
        if is_const(node.args[1], 1):
            return node.args[0]
        if is_const(node.args[0], 1):
            return node.args[1]
    return None


def _one_minus_square(node: Node) -> Node | None:
    """u when node is 1 - u^2, else None."""
    if node.op == "sub" and is_const(node.args[0], 1):
        square = node.args[1]
        if square.op == "pow" and is_const(square.args[1], 2):
            return square.args[0]
    return None


def _sigmoid_of(denominator: Node) -> Node | None:
    """sigmoid(u) when denominator is 1 + exp(-u)."""
    u = _one_plus(denominator)
    if u is None or u.op != "exp":
        return None
    return call("sigmoid", neg(u.args[0]))


def _like_terms(a: Node, b: Node, sign: float) -> Node | None:
    """c1*x + sign*c2*x -> (c1 + sign*c2)*x."""
    ca, xa = _coeff(a)
    cb, xb = _coeff(b)
    if xa.op == "const" or not _same(xa, xb):
        return None
    return mul(const(ca + sign * cb), xa)


# Products longer than this are not compared factor by factor: a sum of n such
# products would cost n^2 operand walks (an HVP of a long product has them).
MAX_LIKE_FACTORS = 8


def _like_products(a: Node, b: Node, sign: float) -> Node | None:
    """c1 x1...xk + sign c2 y1...yk -> (c1 + sign c2) x1...xk, the ys the xs in any order.

    The coefficient a chain carries at its first factor ((3 a) b, normal form of
    3*a*b), which _coeff does not see: 3 a b + 2 b a = 5 a b, 2 a b c - c a b = a b c.
    """
    if a.op != "mul" or b.op != "mul" or _scaled_factor(a) or _scaled_factor(b):
        return None  # c x: one factor, like_terms' case (most sums of products)
    split_a = _chain_factors(a)
    split_b = _chain_factors(b)
    if split_a is None or split_b is None:
        return None
    (ca, xs), (cb, ys) = split_a, split_b
    if len(xs) != len(ys) or len(xs) < 2 or (ca == 1.0 and cb == 1.0):
        return None  # one factor, or no coefficient: like_terms' cases
    if sorted(x.op for x in xs) != sorted(y.op for y in ys):
        return None  # cheaper than matching (Rosenbrock's x y beside (x + y) y)
    pairs = matched_operands(xs, ys)
    if pairs is None or not all(_same(x, y) for x, y in pairs):
        return None
    rest = a
    if ca != 1.0:  # a without its coefficient, its factors in a's order
        rest = xs[0]
        for x in xs[1:]:
            rest = mul(rest, x)
    return mul(const(ca + sign * cb), rest)


# Sums of more terms than this are not searched for like terms: a sum of n terms
# lowered term by term would cost n^2 comparisons (Rosenbrock's value has 2,000).
MAX_LIKE_TERMS = 8


def collect_like_in_sum(n: Node) -> Node:
    """n = (... + c1 x + ...) +- c2 x as (... + (c1 +- c2) x + ...); else n itself.

    A like term further back in a sum (of at most MAX_LIKE_TERMS terms) than the
    rules look, which compare a sum's two arguments: 2 x + y + 3 x = 5 x + y,
    x y + z - y x = z. The merged term keeps its place: the first spelling wins.
    Only identical terms, or products of the very same two factors, are alike
    here (no digest is made). symgrad.lower and symgrad.trace apply it to the sums
    a user writes; not a rule, so the sums the differentiator builds pay nothing.
    """
    if n.op not in ("add", "sub"):
        return n
    chain, t = n.args
    if chain.op not in ("add", "sub") or t.op == "const" or _longer(chain):
        return n
    ct, xt = _coeff(t)
    node, depth = chain, 0
    while True:
        inner = node.op in ("add", "sub")
        x = _coeff(node.args[1] if inner else node)[1]
        if x is xt or _same_two_factors(x, xt):
            return _merged(chain, depth, ct if n.op == "add" else -ct)
        if not inner:
            return n
        node, depth = node.args[0], depth + 1


def _longer(chain: Node) -> bool:
    """Whether a sum has more than MAX_LIKE_TERMS terms (its ops only: cheap)."""
    for _ in range(MAX_LIKE_TERMS):
        if chain.op not in ("add", "sub"):
            return False
        chain = chain.args[0]
    return True


def _same_two_factors(u: Node, v: Node) -> bool:
    """a b and b a: products of the same two factors (identity, no digests)."""
    if u.op != "mul" or v.op != "mul":
        return False
    (u0, u1), (v0, v1) = u.args, v.args
    return u0 is v1 and u1 is v0


def _merged(chain: Node, depth: int, c: float) -> Node:
    """chain with c x added into its term `depth` places from the last, c1 x."""
    terms: list[tuple[float, Node]] = []  # (sign, term), the last first
    head = chain
    for _ in range(depth + 1):
        if head.op in ("add", "sub"):
            terms.append((1.0 if head.op == "add" else -1.0, head.args[1]))
            head = head.args[0]
        else:  # the first term: nothing stands before it
            terms.append((1.0, head))
            head = ZERO
    sign_k, term_k = terms[depth]
    coefficient, x = _coeff(term_k)
    total = sign_k * coefficient + c
    if total == 0:
        del terms[depth]
    else:
        terms[depth] = (1.0, mul(const(total), x))
    out = head
    for sign, term in reversed(terms):
        out = add(out, term) if sign > 0 else sub(out, term)
    return out


def _scaled_factor(node: Node) -> bool:
    """node is c x, x not a product: a product with a single factor besides c."""
    a, b = node.args
    return a.op == "const" and b.op != "mul"


def _chain_factors(node: Node) -> tuple[float, list[Node]] | None:
    """A product's leading constant (1 without one) and its other factors, in order.

    None for a chain of more than MAX_LIKE_FACTORS factors.
    """
    a, b = node.args
    if a.op != "mul" and b.op != "mul":  # most products: no walk
        return (a.attrs[0], [b]) if a.op == "const" else (1.0, [a, b])
    factors: list[Node] = []
    stack = [node]
    while stack:
        top = stack.pop()
        if top.op == "mul":
            stack.extend(reversed(top.args))
        elif len(factors) == MAX_LIKE_FACTORS:
            return None
        else:
            factors.append(top)
    if factors[0].op == "const":
        return factors[0].attrs[0], factors[1:]
    return 1.0, factors


def _distribute_like(a: Node, b: Node, sign: float) -> Node | None:
    """c1 (p +- q) + sign c2 q -> c1 p + (+-c1 + sign c2) q (and with p; and mirrored).

    A scaled sum meeting a scaled copy of one of its terms: one operation fewer,
    e.g. the Rosenbrock HVP's -400 (t - h^2) + 800 h^2 -> 1200 h^2 - 400 t.
    """
    ca, xa = _coeff(a)
    cb, xb = _coeff(b)
    if xa.op in ("add", "sub") and xb in xa.args and xa.args[0] is not xa.args[1]:
        return _spread(ca, xa, sign * cb, xb)
    if xb.op in ("add", "sub") and xa in xb.args and xb.args[0] is not xb.args[1]:
        return _spread(sign * cb, xb, ca, xa)
    return None


def _spread(c: float, total: Node, k: float, term: Node) -> Node:
    """c * total + k * term, total = p +- q and term one of p, q, as two products."""
    p, q = total.args
    cp, cq = c, c if total.op == "add" else -c
    if term is p:
        cp += k
    else:
        cq += k
    return add(mul(const(cp), p), mul(const(cq), q))


def _mul_powers(a: Node, b: Node) -> Node | None:
    """x^j * x^k -> x^(j+k) for non-negative integer j, k (sound for every x)."""

    def split(n: Node) -> tuple[Node, float | None]:
        if n.op == "pow" and _is_int(_c(n.args[1])) and n.args[1].attrs[0] >= 0:
            return n.args[0], n.args[1].attrs[0]
        return n, 1.0

    base_a, ka = split(a)
    base_b, kb = split(b)
    if "pow" not in (a.op, b.op):  # x * x is mul_same's
        return None
    if base_a.op == "const" or a is b or not _same(base_a, base_b):
        return None
    return power(base_a, const(ka + kb))


def _divide_smaller(node: Node) -> Node | None:
    """(A / s) * b -> A * (b / s), s a scalar and b smaller than A: one pass over A."""
    a, b = node.args
    if a.op != "div" or a.args[1].shape or not b.shape:
        return None
    if len(b.shape) > len(a.shape) or b.shape == a.shape or node.shape != a.shape:
        return None
    return mul(a.args[0], div(b, a.args[1]))


def _scalar_out_of_matmul(node: Node) -> Node | None:
    """(c * A) @ B -> c * (A @ B), c a scalar: numpy's A.T @ A then takes syrk."""
    for k, arg in enumerate(node.args):
        if (
            arg.op == "mul"
            and arg.args[0].shape == ()
            and arg.args[1].shape == arg.shape
        ):
            rest = list(node.args)
            rest[k] = arg.args[1]
            return mul(arg.args[0], build("matmul", tuple(rest)))
    return None


def _like_factor(node: Node) -> Node | None:
    """(a b) a -> a^2 b and a (a b) -> a^2 b: a factor met twice is squared (x^2 s)."""
    a, b = node.args
    if a.op == "mul" and b.op != "const" and b.shape == node.shape:
        for k, factor in enumerate(a.args):
            if _same(factor, b):
                return mul(power(b, const(2.0)), a.args[1 - k])
    if b.op == "mul" and a.op != "const" and a.shape == node.shape:
        for k, factor in enumerate(b.args):
            if _same(factor, a):
                return mul(power(a, const(2.0)), b.args[1 - k])
    return None


def _sigmoid_scaled(node: Node) -> tuple[Node, Node] | None:
    """(p, u) for p * sigmoid(u), sigmoid(u) * p or sigmoid(u) itself (p = 1)."""
    if node.op == "sigmoid":
        return ONE, node.args[0]
    if node.op == "mul":
        for k in (0, 1):
            if node.args[k].op == "sigmoid":
                return node.args[1 - k], node.args[k].args[0]
    return None


def _sigmoid_complement(node: Node) -> Node | None:
    """p s(u) - q s(-u) -> (p + q) s(u) - q when p + q is a constant (s(-u) = 1 - s(u)).

    The logistic loss's derivative (1 - y) s(u) - y s(-u) becomes s(u) - y.
    """
    a, b = _sigmoid_scaled(node.args[0]), _sigmoid_scaled(node.args[1])
    if a is None or b is None or b[1].op != "neg" or b[1].args[0] is not a[1]:
        return None
    total = add(a[0], b[0])
    if total.op != "const":
        return None
    return sub(mul(total, call("sigmoid", a[1])), b[0])


def _common_divisor(node: Node, combine: Callable[[Node, Node], Node]) -> Node | None:
    """a/c +- b/c -> (a +- b)/c: one division instead of two (dZ = (p - y)/m)."""
    a, b = node.args
    if a.op == "div" and b.op == "div" and a.args[1] is b.args[1]:
        return div(combine(a.args[0], b.args[0]), a.args[1])
    return None


def _merge_where(node: Node, combine: Callable[[Node, Node], Node]) -> Node | None:
    """where(c, a, 0) +- where(c, b, 0) -> where(c, a +- b, 0), and the mixed cases."""
    a, b = node.args
    if not (_zero_branch_where(a) and _zero_branch_where(b) and a.args[0] is b.args[0]):
        return None
    return call(
        "where", a.args[0], combine(a.args[1], b.args[1]), combine(a.args[2], b.args[2])
    )


def _absorb_where(node: Node, left, right) -> Node | None:
    """where(c, a, 0) * h -> where(c, a*h, 0): the untaken branch stays an exact 0."""
    a, b = node.args
    if _zero_branch_where(a):
        return _map_where(a, lambda w: left(w, b))
    if _zero_branch_where(b):
        return _map_where(b, lambda w: right(a, w))
    return None


RULES: dict[str, tuple[tuple[str, Rule], ...]] = {
    "add": ADD_RULES,
    "sub": SUB_RULES,
    "mul": MUL_RULES,
    "div": DIV_RULES,
    "neg": NEG_RULES,
    "pow": POW_RULES,
    "log": LOG_RULES,
    "max": MAX_RULES,
    "min": MIN_RULES,
    "abs": ABS_RULES,
    "sqrt": SQRT_RULES,
    "softplus": SOFTPLUS_RULES,
    "where": WHERE_RULES,
    "broadcast_to": BROADCAST_RULES,
    "transpose": TRANSPOSE_RULES,
    "sum": SUM_RULES,
    "expand_dims": EXPAND_RULES,
    "matmul": MATMUL_RULES,
}
for _op in (
    "exp log1p expm1 sin cos tan asin acos atan sinh cosh tanh sign sigmoid "
    "relu step atan2 lt le gt ge"
).split():
    RULES.setdefault(_op, FOLD_ONLY)
