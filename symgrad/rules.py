"""The derivative rule table: one row per op, its vector-Jacobian product as graph nodes.

A row takes the node n = op(a, b, ...) and the adjoint g of n (dF/dn) and returns
one contribution per argument, g times that argument's local partial derivative,
or None where the argument gets no contribution. There is no chain rule here:
diff.py accumulates the contributions in reverse over the graph.

Conventions at kinks (the one documented table; tests hold us to it):
    abs'(0) = sign(0) = 0          relu'(0) = step(0) = 0        sign' = step' = 0
    max(a, b), min(a, b) at a tie: the adjoint is split evenly, 1/2 to each side,
        except that max(x, 0) and max(0, x) are relu (the simplifier rewrites them),
        so relu'(0) = 0 however it is written; min(x, 0) is -relu(-x)
    where(c, a, b): a gets where(c, g, 0), b gets where(c, 0, g); c gets nothing
    comparisons: derivative zero (not differentiated)
"""

from __future__ import annotations

from collections.abc import Callable

from symgrad.graph import Node
from symgrad.simplify import add, call, div, mul, neg, num, power, sub

Contribution = Node | None
Rule = Callable[[Node, Node], tuple[Contribution, ...]]

ZERO, HALF, ONE, TWO = num(0.0), num(0.5), num(1.0), num(2.0)


def _pow_rule(n: Node, g: Node) -> tuple[Contribution, ...]:
    # d(a^b) = b a^(b-1) da + a^b log(a) db; at a = 0 the db term is 0 (a^b is 0
    # for b > 0), so log(a) is taken as 0 there instead of giving 0 * -inf = nan.
    a, b = n.args
    da = mul(g, mul(b, power(a, sub(b, ONE))))
    if b.op == "const":
        return da, None
    log_a = call("log", a)
    safe_log = call(
        "where",
        call("gt", a, ZERO),
        log_a,
        call("where", call("lt", a, ZERO), log_a, ZERO),
    )
    return da, mul(g, mul(n, safe_log))


def _tie_split(d: Node, sign_of: float) -> Node:
    # (1 + sign(a - b)) / 2: 1 where a wins, 1/2 at a tie, 0 where b wins
    return mul(HALF, add(ONE, mul(num(sign_of), call("sign", d))))


def _max_rule(n: Node, g: Node) -> tuple[Contribution, ...]:
    d = sub(n.args[0], n.args[1])
    return mul(g, _tie_split(d, 1.0)), mul(g, _tie_split(d, -1.0))


def _min_rule(n: Node, g: Node) -> tuple[Contribution, ...]:
    d = sub(n.args[0], n.args[1])
    return mul(g, _tie_split(d, -1.0)), mul(g, _tie_split(d, 1.0))


def _atan2_rule(n: Node, g: Node) -> tuple[Contribution, ...]:
    # atan2(y, x): d/dy = x / (x^2 + y^2), d/dx = -y / (x^2 + y^2)
    y, x = n.args
    r2 = add(power(x, TWO), power(y, TWO))
    return div(mul(g, x), r2), neg(div(mul(g, y), r2))


def _sqrt_one_minus_square(a: Node) -> Node:
    # sqrt(1 - a^2) as sqrt((1 - a)(1 + a)): a^2 rounds, and 1 - a^2 then cancels
    # near |a| = 1 (asin' at 1 - 1e-9 kept 7 digits); 1 - a is exact there.
    return call("sqrt", mul(sub(ONE, a), add(ONE, a)))


# fmt: off
RULES: dict[str, Rule] = {
    "add":      lambda n, g: (g, g),
    "sub":      lambda n, g: (g, neg(g)),
    "mul":      lambda n, g: (mul(g, n.args[1]), mul(g, n.args[0])),
    "div":      lambda n, g: (div(g, n.args[1]), neg(div(mul(g, n), n.args[1]))),   # d(a/b) = da/b - (a/b) db/b
    "neg":      lambda n, g: (neg(g),),
    "pow":      _pow_rule,
    "exp":      lambda n, g: (mul(g, n),),                                          # exp' = exp
    "log":      lambda n, g: (div(g, n.args[0]),),
    "log1p":    lambda n, g: (div(g, add(n.args[0], ONE)),),
    "expm1":    lambda n, g: (mul(g, call("exp", n.args[0])),),
    "sqrt":     lambda n, g: (div(g, mul(TWO, n)),),                                # sqrt' = 1 / (2 sqrt)
    "sin":      lambda n, g: (mul(g, call("cos", n.args[0])),),
    "cos":      lambda n, g: (neg(mul(g, call("sin", n.args[0]))),),
    "tan":      lambda n, g: (mul(g, add(ONE, power(n, TWO))),),                    # tan' = 1 + tan^2
    "asin":     lambda n, g: (div(g, _sqrt_one_minus_square(n.args[0])),),           # asin' = 1/sqrt(1 - a^2)
    "acos":     lambda n, g: (neg(div(g, _sqrt_one_minus_square(n.args[0]))),),
    "atan":     lambda n, g: (div(g, add(ONE, power(n.args[0], TWO))),),
    "sinh":     lambda n, g: (mul(g, call("cosh", n.args[0])),),
    "cosh":     lambda n, g: (mul(g, call("sinh", n.args[0])),),
    "tanh":     lambda n, g: (mul(g, sub(ONE, power(n, TWO))),),                    # tanh' = 1 - tanh^2
    "abs":      lambda n, g: (mul(g, call("sign", n.args[0])),),
    "sigmoid":  lambda n, g: (mul(g, mul(n, call("sigmoid", neg(n.args[0])))),),    # s' = s(u) s(-u) = s (1 - s)
    "softplus": lambda n, g: (mul(g, call("sigmoid", n.args[0])),),
    "relu":     lambda n, g: (mul(g, call("step", n.args[0])),),
    "atan2":    _atan2_rule,
    "max":      _max_rule,
    "min":      _min_rule,
    "where":    lambda n, g: (None, call("where", n.args[0], g, num(0.0)), call("where", n.args[0], num(0.0), g)),
}
# fmt: on
