"""Higher derivatives in one variable by Leibniz's rule on the graph (Taylor mode).

Differentiating a graph n times over (the derivative of the derivative ...) grows
it geometrically: each pass turns every product into two. Instead every node v
gets the list [v, v', v'', ..., v^(m)] of graph nodes, built one order at a time
from its arguments' lists, the rule table's first partials and Leibniz's rule:

    v = phi(a_1, ..., a_r)            v' = sum_i w_i a_i'      w_i = d phi / d a_i
    v^(k) = sum_i sum_{j=0}^{k-1} C(k-1, j) a_i^(j+1) w_i^(k-1-j)

Each partial w_i is itself a node (cos(u) for sin(u), v itself for exp(u)) and
gets its own list, one order shorter. Sums, products, quotients and where() have
direct rules. The cost is O(n^2) nodes per node instead of O(2^n). This is
Taylor-mode differentiation (Griewank & Walther, "Evaluating Derivatives", ch. 13)
done symbolically: the result is an ordinary graph node, so the simplifier, code
generator and printers apply unchanged, and the coefficients C(k, j) are integers,
exact in floating point for every order symgrad allows.
"""

from __future__ import annotations

from collections.abc import Iterator
from math import comb

from symgrad.graph import Node, is_const, toposort
from symgrad.ops import OPS
from symgrad.rules import RULES
from symgrad.simplify import ONE, ZERO, add, call, div, mul, neg, num, sub

# Ops whose k-th derivative has its own rule here (the rest use the partials).
_DIRECT = {"add", "sub", "neg", "mul", "div", "where"}


def nth_derivative(root: Node, x: Node, order: int) -> Node:
    """The order-th derivative of root in the scalar variable x, as one graph node."""
    if order == 0:
        return root
    taylor = _Taylor(x)
    need = taylor.needed_orders(root, order)
    schedule = [n for n in toposort(list(need)) if n in need]
    for k in range(1, order + 1):
        for node in schedule:
            if need[node] >= k:
                taylor.table[node].append(taylor.level(node, k))
    return taylor.d(root, order)


class _Taylor:
    """The derivative lists of the nodes that depend on x, filled order by order."""

    def __init__(self, x: Node):
        self.x = x
        self.table: dict[Node, list[Node]] = {}
        self.partials: dict[Node, list[tuple[Node, Node]]] = {}
        self.active: dict[Node, bool] = {x: True}

    def depends_on_x(self, node: Node) -> bool:
        """Whether node's value changes with x (memoized, iterative)."""
        stack = [node]
        while stack:
            top = stack[-1]
            if top in self.active:
                stack.pop()
                continue
            pending = [a for a in top.args if a not in self.active]
            if pending:
                stack.extend(pending)
                continue
            self.active[top] = any(self.active[a] for a in top.args)
            stack.pop()
        return self.active[node]

    def d(self, node: Node, j: int) -> Node:
        """The j-th derivative of node (already built for every order needed)."""
        if j == 0:
            return node
        if node is self.x:
            return ONE if j == 1 else ZERO
        if not self.depends_on_x(node):
            return ZERO
        return self.table[node][j]

    def needed_orders(self, root: Node, order: int) -> dict[Node, int]:
        """The highest derivative order each node must provide for root's order-th."""
        need: dict[Node, int] = {}
        stack = [(root, order)]
        while stack:
            node, m = stack.pop()
            if m <= 0 or node is self.x or not self.depends_on_x(node):
                continue
            if need.get(node, 0) >= m:
                continue
            need[node] = m
            self.table.setdefault(node, [node])
            stack.extend(self._dependencies(node, m))
        return need

    def _dependencies(self, node: Node, m: int) -> Iterator[tuple[Node, int]]:
        """The nodes (and orders) that node's derivatives up to m are built from."""
        if not OPS[node.op].differentiable:
            return
        if node.op == "where":
            yield from ((branch, m) for branch in node.args[1:])
        elif node.op in _DIRECT:
            yield from ((a, m) for a in node.args)
        else:
            for a, w in self.partials_of(node):
                yield a, m
                yield w, m - 1

    def partials_of(self, node: Node) -> list[tuple[Node, Node]]:
        """(argument, d node / d argument) for each argument with a partial."""
        if node not in self.partials:
            rule = RULES[node.op](node, ONE)
            self.partials[node] = [
                (a, w)
                for a, w in zip(node.args, rule)
                if w is not None and not is_const(w, 0)
            ]
        return self.partials[node]

    def level(self, node: Node, k: int) -> Node:
        """The k-th derivative of node from lower orders and its arguments' k-th."""
        op, args, d = node.op, node.args, self.d
        if not OPS[op].differentiable:
            return ZERO
        if op == "add":
            return add(d(args[0], k), d(args[1], k))
        if op == "sub":
            return sub(d(args[0], k), d(args[1], k))
        if op == "neg":
            return neg(d(args[0], k))
        if op == "where":
            return call("where", args[0], d(args[1], k), d(args[2], k))
        if op == "mul":  # (ab)^(k) = sum_j C(k, j) a^(j) b^(k-j)
            a, b = args
            return _sum((comb(k, j), d(a, j), d(b, k - j)) for j in range(k + 1))
        if op == "div":  # q = a/b, so a = q b: q^(k) = (a^(k) - sum_{j>=1} ...) / b
            a, b = args
            rest = _sum((comb(k, j), d(b, j), d(node, k - j)) for j in range(1, k + 1))
            return div(sub(d(a, k), rest), b)
        return _sum(
            (comb(k - 1, j), d(a, j + 1), d(w, k - 1 - j))
            for a, w in self.partials_of(node)
            for j in range(k)
        )


def _sum(terms: Iterator[tuple[int, Node, Node]]) -> Node:
    """sum of c * p * q over the terms, leaving out the structurally zero ones."""
    total = ZERO
    for c, p, q in terms:
        if is_const(p, 0) or is_const(q, 0):
            continue
        product = mul(p, q)
        total = add(total, product if c == 1 else mul(num(float(c)), product))
    return total
