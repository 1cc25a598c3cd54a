"""The interned computation graph: immutable nodes, raw constructors, iterative walks."""

from __future__ import annotations

import math
import sys
import threading
import weakref
from _weakref import _remove_dead_weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from symgrad.errors import LimitError
from symgrad.ops import OPS
from symgrad.shapes import SHAPE_RULES, Shape, broadcast

# A compilation may build at most this many new graph nodes. Extended Rosenbrock in
# n = 10,000 variables builds about 940,000 (a 17 MB module) and still fits;
# helpers that call each other twice per line double the graph on every line and
# are stopped after seconds instead of running for ever.
MAX_NODES = 2_000_000


class _Fields:
    """A node's storage, writable: make fills a new node here, then seals it a Node.

    Node refuses setattr, so writing its slots means object.__setattr__ (0.55 us a
    new node); a class without the refusal takes plain attribute stores, and
    assigning __class__ (the same layout) seals the node in one step (0.13 us).
    """

    __slots__ = ("op", "args", "attrs", "shape", "simplified", "digest", "__weakref__")


class Node(_Fields):
    """One op applied to argument nodes; equal nodes are the same object (interned)."""

    __slots__ = ()

    op: str
    args: tuple[Node, ...]
    attrs: tuple
    shape: Shape

    def __repr__(self) -> str:
        if self.op == "const":
            return f"const({self.attrs[0]!r})"
        if self.op == "var":
            return f"var({', '.join(map(repr, self.attrs))})"
        if self.op == "dim":
            return f"dim({self.attrs[0]!r})"
        inner = [*map(repr, self.args), *(f"{a!r}" for a in self.attrs)]
        return f"{self.op}({', '.join(inner)})"

    def __setattr__(self, name, value):
        raise AttributeError("graph nodes are immutable")

    def __delattr__(self, name):
        raise AttributeError("graph nodes are immutable")

    def __reduce__(self):
        raise TypeError("graph nodes are interned and cannot be pickled")

    @property
    def value(self) -> float:
        """The number held by a const node."""
        assert self.op == "const", self.op
        return self.attrs[0]

    @property
    def name(self) -> str:
        """The name of a var node."""
        assert self.op == "var", self.op
        return self.attrs[0]


# Fields of a sealed node that the simplifier fills in later, once known.
set_simplified = _Fields.simplified.__set__
_set_digest = _Fields.digest.__set__


class _Entry(weakref.ref):
    """The intern table's weak reference to a node, holding the node's key."""

    __slots__ = ("key",)


# Nodes live as long as something refers to them; the table never keeps one alive.
# A plain dict of weak references, not a WeakValueDictionary: its get and set are
# Python methods, and KeyedRef's constructor two more frames per new node, about a
# tenth of differentiating a large function.
_TABLE: dict[tuple, _Entry] = {}


def _forget(entry: _Entry, table: dict = _TABLE, remove=_remove_dead_weakref) -> None:
    """A node died: drop its entry, unless the key already holds a newer node."""
    # remove() deletes the key only while its value is a dead reference, atomically
    # (WeakValueDictionary's own way); the defaults outlive module teardown.
    remove(table, entry.key)


def _const_key(value: float) -> str:
    # float.hex tells 0.0 from -0.0 and keeps every NaN equal to every other NaN.
    return value.hex() if not math.isnan(value) else "nan"


def _result_shape(op: str, args: Sequence[Node], attrs: tuple) -> Shape:
    if op == "var":
        return tuple(attrs[1]) if len(attrs) > 1 else ()
    rule = SHAPE_RULES.get(op)
    if rule is not None:
        return rule([a.shape for a in args], attrs)
    shape: Shape = ()
    for a in args:  # a loop, not a set: most graphs are scalar, and make is hot
        if a.shape and a.shape != shape:
            if shape:  # elementwise ops broadcast as numpy does
                return broadcast([a.shape for a in args])
            shape = a.shape
    return shape


class _Budget(threading.local):
    """This thread's node budget (a compilation runs on one thread)."""

    def __init__(self) -> None:
        # [new nodes built by this thread, the count beyond which building raises]:
        # one list, so the check in make costs a single thread-local lookup.
        self.count = [0, sys.maxsize]
        self.limit = 0  # the limit of the node_budget that set the ceiling
        self.task = ""  # what that node_budget bounds, for the message


_BUDGET = _Budget()


@contextmanager
def node_budget(
    limit: int | None = None, task: str = "the compilation"
) -> Iterator[None]:
    """Let the block (`task`) build at most `limit` (default MAX_NODES) new nodes."""
    budget, count = _BUDGET, _BUDGET.count
    limit = MAX_NODES if limit is None else limit  # read now, so tests can patch it
    saved = count[1], budget.limit, budget.task
    # An enclosing budget still applies: a nested one can only lower the ceiling.
    if count[0] + limit < count[1]:
        count[1], budget.limit, budget.task = count[0] + limit, limit, task
    try:
        yield
    finally:
        count[1], budget.limit, budget.task = saved


def make(op: str, args: Sequence[Node] = (), attrs: tuple = ()) -> Node:
    """Return the unique node for (op, args, attrs), creating it on first use."""
    args = tuple(args)
    if op == "const":
        attrs = (float(attrs[0]),)
        key = (op, args, (_const_key(attrs[0]),))
    else:
        key = (op, args, attrs)
    entry = _TABLE.get(key)
    if entry is not None:
        node = entry()
        if node is not None:
            return node
    # Checks on new nodes only keep them off the hot path of interned hits (a key
    # of the wrong arity never enters the table).
    arity = OPS[op].arity
    if arity >= 0 and len(args) != arity:
        raise ValueError(f"{op} takes {arity} arguments, got {len(args)}")
    count = _BUDGET.count
    count[0] += 1
    if count[0] > count[1]:
        raise LimitError(
            f"limit exceeded: {_BUDGET.task} needs more than {_BUDGET.limit:,} "
            "graph nodes"
        )
    node = _Fields()
    node.op = op
    node.args = args
    node.attrs = attrs
    node.shape = _result_shape(op, args, attrs)
    # the simplifier's fixpoint of this node once known, AT_FIXPOINT when it is
    # its own (see simplify.build)
    node.simplified = None
    node.digest = None  # see digest(): computed when a comparison asks for it
    node.__class__ = Node  # sealed: immutable from here on
    entry = _Entry(node, _forget)
    entry.key = key
    _TABLE[key] = entry
    return node


def const(value: float) -> Node:
    """A numeric constant (always held as a Python float)."""
    return make("const", (), (float(value),))


def var(name: str, shape: Shape = ()) -> Node:
    """A named input variable."""
    return make("var", (), (name, tuple(shape)) if shape else (name,))


def is_const(node: Node, value: float | None = None) -> bool:
    """True for a const node (holding `value`, when given)."""
    if node.op != "const":
        return False
    return value is None or node.attrs[0] == value


def toposort(roots: Iterable[Node]) -> list[Node]:
    """Every node reachable from roots, arguments before users, in a deterministic order.

    The order depends only on the graph's structure and the order of roots and
    arguments (never on ids or hashes), so generated code is reproducible.
    """
    order: list[Node] = []
    seen: set[Node] = set()  # nodes hash by identity
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        # each frame iterates its node's arguments: one step per edge, no index
        stack = [(root, iter(root.args))]
        while stack:
            for child in stack[-1][1]:
                if child not in seen:
                    seen.add(child)
                    stack.append((child, iter(child.args)))
                    break
            else:  # every argument is placed: the node follows them
                order.append(stack.pop()[0])
    return order


def push_forward(roots: Sequence[Node], known: dict, step) -> dict:
    """Fill known for every node of roots' graph downstream of it, arguments first.

    step(node, parts) gets each argument's entry (None where it has none) for a node
    some argument of which has one; its result is the node's entry, None for none.
    A forward sweep: tangents (jvp), linear coefficients, band terms.
    """
    for node in toposort(roots):
        if not node.args or node in known:
            continue
        parts = [known.get(a) for a in node.args]
        if all(p is None for p in parts):
            continue
        out = step(node, parts)
        if out is not None:
            known[node] = out
    return known


def variables(roots: Iterable[Node]) -> list[Node]:
    """The var nodes reachable from roots, in toposort order."""
    return [n for n in toposort(roots) if n.op == "var"]


def substitute(roots: Sequence[Node], mapping: dict[Node, Node], build) -> list[Node]:
    """Rebuild roots with nodes replaced per mapping, simultaneously, through `build`.

    `build(op, args, attrs)` constructs each rebuilt node (the simplifier's builder,
    so substitution also simplifies).
    """
    new: dict[Node, Node] = dict(mapping)
    for node in toposort(roots):
        if node in new:
            continue
        if not node.args:
            new[node] = node
            continue
        args = tuple(new[a] for a in node.args)
        new[node] = node if args == node.args else build(node.op, args, node.attrs)
    return [new[r] for r in roots]


# Ops whose arguments commute and associate, elementwise and broadcasting alike:
# a + b = b + a and (a + b) + c = a + (b + c); the same for *.
COMMUTATIVE = frozenset({"add", "mul"})
_MOD = (1 << 61) - 1


def digest(node: Node) -> int:
    """A number that nodes equal up to the order of commutative operands share.

    Only a filter for same_up_to_order: different nodes may share one, so nothing
    that reaches generated code depends on its value. A commutative chain's digest
    is its op's seed plus a sum over its flattened operands, so (a + b) + c and
    c + (b + a) meet. Computed once per node, arguments first, without recursion.
    """
    stack = [node]
    while stack:
        top = stack[-1]
        pending = [a for a in top.args if a.digest is None]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        if top.digest is None:
            _set_digest(top, _digest_of(top))
    return node.digest


def _digest_of(node: Node) -> int:
    """node's digest from its arguments' digests."""
    if node.op not in COMMUTATIVE:
        return hash((node.op, node.attrs, tuple(a.digest for a in node.args))) & _MOD
    seed = hash(node.op)
    total = seed
    for a in node.args:
        # an operand of the same op contributes its own operands' sum
        total += a.digest - seed if a.op == node.op else hash((a.digest, 1))
    return total & _MOD


def same_up_to_order(u: Node, v: Node) -> bool:
    """u and v are the same expression up to the order of commutative operands.

    (a b) c and c (b a) are; so are sin(a + b) and sin(b + a). A pure function of
    the two graphs, never of ids or hashes, so simplified output is reproducible.
    """
    pairs = [(u, v)]
    while pairs:
        a, b = pairs.pop()
        if a is b:
            continue
        # interning makes distinct leaves distinct values (0.0 and -0.0 too)
        if not a.args or a.op != b.op or a.attrs != b.attrs:
            return False
        if len(a.args) != len(b.args):
            return False
        if a.op not in COMMUTATIVE:
            if digest(a) != digest(b):
                return False
            pairs.extend(zip(a.args, b.args))
            continue
        xs, ys = operands(a), operands(b)
        # the operands' ops first: a digest not yet made costs a walk of the
        # subgraph (a Hessian entry's), the ops only of the chain
        if len(xs) != len(ys) or sorted(x.op for x in xs) != sorted(y.op for y in ys):
            return False
        if digest(a) != digest(b):
            return False
        matched = matched_operands(xs, ys)
        if matched is None:
            return False
        pairs.extend(matched)
    return True


def operands(node: Node) -> list[Node]:
    """The operands of node's chain of its own commutative op, left to right."""
    out: list[Node] = []
    stack = [node]
    while stack:
        top = stack.pop()
        if top.op == node.op:
            stack.extend(reversed(top.args))
        else:
            out.append(top)
    return out


def matched_operands(xs: list[Node], ys: list[Node]) -> list[tuple] | None:
    """Pairs matching xs to ys one to one by digest (to compare further), or None."""
    if len(xs) != len(ys):
        return None
    by_digest: dict[int, list[Node]] = {}
    for y in ys:
        by_digest.setdefault(digest(y), []).append(y)
    pairs = []
    for x in xs:
        candidates = by_digest.get(digest(x))
        if not candidates:
            return None
        # equal digests almost always mean equal operands; where several share
        # one, take an equal one (one level of recursion per such collision)
        pick = next((y for y in candidates if y is x), None)
        if pick is None and len(candidates) > 1:
            pick = next((y for y in candidates if _equal_or_unknown(x, y)), None)
            if pick is None:
                return None
        pick = candidates[0] if pick is None else pick
        candidates.remove(pick)
        pairs.append((x, pick))
    return pairs


def _equal_or_unknown(x: Node, y: Node) -> bool:
    """same_up_to_order(x, y); too deep a nesting to tell counts as different."""
    try:
        return same_up_to_order(x, y)
    except RecursionError:  # only collisions nested a thousand deep recurse so
        return False


def count_nodes(roots: Iterable[Node]) -> int:
    """How many distinct nodes the roots reach."""
    return len(toposort(roots))
