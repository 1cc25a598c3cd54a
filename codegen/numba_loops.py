"""Fuse a function of vector parameters into loops over entries, for the numba target.

The graph is read in index space: the value of a vector node at entry i is a scalar
expression of entries of the parameters. A slice x[a:] read at i is x[i + a]; a
padding is its argument at i - before, or 0 outside it (a conditional expression,
only its branch taken evaluated); an elementwise op applies to its arguments at i;
a scalar broadcast is the scalar. So `x[1:] - x[:-1]**2` is `x[i + 1] - x[i]**2`
and a gradient's two paddings add in one pass, with no temporary arrays.

The cost model (what becomes a loop of its own):
- every output vector and every reduction (a sum, a dot product) ends a loop;
  loops of one length whose inputs are ready run as one fused loop;
- a vector node needed at more than one offset (x[i] and x[i - 1] of one term) is
  recomputed at each, unless (copies - 1) * its cost > SPLIT_COST: then it is
  stored by an earlier loop and read back. Costs: 1 for +, -, *, a comparison, a
  select or an integer power; 4 for / and sqrt; 20 for a transcendental function.
  Storing and reading back an entry costs about SPLIT_COST operations;
- scalars (sizes, scalar parameters, sums) are computed between the loops;
- a matrix-vector product (`X @ w`, `X.T @ dz`, a matrix parameter's) stays `@`,
  one BLAS call inside the compiled function between loops, its vector stored;
- matrix-valued nodes elsewhere (a matrix output, elementwise ops on matrices,
  matrix products), logsumexp, softmax and the linear-algebra ops are not fused:
  such a function keeps the numpy target's code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from codegen import layout
from codegen.array_function import _checks
from codegen.layout import INDENT, Tuple, collection
from codegen.names import python_name
from codegen.printer import FLOAT, definition, dim_text, expression
from codegen.schedule import Namer, schedule
from symgrad.graph import Node, const, make, toposort, var
from symgrad.ops import ELEMENTWISE
from symgrad.shapes import affine, split

SPLIT_COST = 16

_CHEAP = {"add", "sub", "mul", "neg", "abs", "sign", "step", "relu", "min", "max"}
_CHEAP |= {"lt", "le", "gt", "ge", "where", "const", "var", "dim"}
_FOUR = {"div", "sqrt"}


class Unfusable(Exception):
    """The function has a node the loop emitter does not schedule."""


def fused_array_function(
    function, leaves: Sequence[Node], helpers: set[str], docstring: Callable
) -> list[str] | None:
    """The lines of the fused function (wrapper, kernel, dispatchers), or None."""
    try:
        return _Fuser(function, leaves, helpers, docstring).lines()
    except Unfusable:
        return None


def bare(node: Node, text: str) -> str:
    """A statement's right-hand side without the parentheses black would drop.

    The float spelling of where is `(a if c else b)`, parenthesized for use inside
    an expression; a whole right-hand side needs none.
    """
    if node.op == "where" and text.startswith("(") and text.endswith(")"):
        return text[1:-1]
    return text


def op_cost(node: Node) -> int:
    """The cost model's weight of one op (see the module docstring)."""
    if node.op in _CHEAP:
        return 1
    if node.op == "pow":
        k = node.args[1]
        return 1 if k.op == "const" and float(k.value).is_integer() else 20
    return 4 if node.op in _FOUR else 20


def _is_reduction(node: Node) -> bool:
    if node.op == "sum":
        return len(node.args[0].shape) == 1 and not node.attrs[1]
    return node.op == "matmul" and all(len(a.shape) == 1 for a in node.args)


def _is_blas(node: Node) -> bool:
    """A matrix-vector product (X @ w, X.T @ r): one BLAS call, not a loop."""
    if node.op != "matmul" or len(node.shape) != 1:
        return False
    return any(len(a.shape) == 2 for a in node.args)


def _check(order: Sequence[Node], params, outputs: Sequence[Node]) -> None:
    """Raise Unfusable unless every node is a scalar or a vector op we schedule.

    A matrix may appear only as a parameter (or its transpose) that matrix-vector
    products read.
    """
    if not params or all(len(node.shape) > 1 for _, node in params):
        raise Unfusable
    if any(len(node.shape) > 1 for node in outputs):
        raise Unfusable  # a matrix out: the numpy target's code
    users: dict[Node, list[Node]] = {}
    for node in order:
        for arg in node.args:
            users.setdefault(arg, []).append(node)
    for node in order:
        if len(node.shape) > 2:
            raise Unfusable
        if len(node.shape) == 2:
            plain = node.op == "var" or (
                node.op == "transpose" and node.args[0].op == "var"
            )
            readers = users.get(node, [])
            if not plain or not all(
                _is_blas(u) or u.op == "transpose" for u in readers
            ):
                raise Unfusable
            continue
        if _is_blas(node):
            if any(
                len(a.shape) == 2 and a.op not in ("var", "transpose")
                for a in node.args
            ):
                raise Unfusable
            continue
        if node.op in ELEMENTWISE or node.op in ("const", "var", "dim"):
            continue
        if _is_reduction(node) or node.op == "broadcast_to" and not node.args[0].shape:
            continue
        if node.op == "slice" and _slice_start(node) is not None:
            continue
        if node.op == "pad" and all(isinstance(w, int) for w in node.attrs[0][0]):
            continue
        raise Unfusable


def _slice_start(node: Node) -> int | None:
    """The start of a 1-D range slice (a read offset), or the index of x[k] on a var."""
    (item,) = node.attrs[0]
    if item[0] == "i":
        return item[1] if node.args[0].op == "var" else None
    start = item[1] or 0
    return start if start >= 0 and not (len(item) > 3 and item[3]) else None


class _Fuser:
    """The planning and the text of one fused function."""

    def __init__(self, function, leaves, helpers, docstring):
        self.function, self.leaves = function, list(leaves)
        self.helpers, self.docstring = helpers, docstring
        self.order = toposort(self.leaves)
        _check(self.order, function.params, self.leaves)
        self.split: set[Node] = set()

    # --- planning ----------------------------------------------------------------

    def _materialized(self) -> set[Node]:
        ends = {n for n in self.order if _is_reduction(n) or _is_blas(n)}
        for blas in [n for n in self.order if _is_blas(n)]:  # its vector, stored
            ends |= {a for a in blas.args if len(a.shape) == 1 and a.op != "var"}
        # an output that is a parameter is returned as a copy, not computed
        ends |= {leaf for leaf in self.leaves if leaf.shape and leaf.op != "var"}
        return ends | self.split

    def _levels(self, ends: set[Node]) -> dict[Node, int]:
        level: dict[Node, int] = {}
        for node in self.order:
            below = max((level[a] for a in node.args), default=0)
            level[node] = below + 1 if node in ends else below
        return level

    # --- text --------------------------------------------------------------------

    def lines(self) -> list[str]:
        for _ in range(50):  # each round stores one more costly shared node
            body = self._kernel()
            if body is not None:
                return body
        raise Unfusable

    def _kernel(self) -> list[str] | None:
        function = self.function
        from codegen.module import RESERVED

        namer = Namer(set(RESERVED) | {"numba"})
        names: dict[Node, str] = {}
        for source, node in function.params:
            names[node] = namer.claim(python_name(source))
        pnames = [names[node] for _, node in function.params]
        sizes: list[str] = []
        for _, node in function.params:
            for dim in node.shape:
                size = split(dim)[0]
                if size is not None and size not in sizes:
                    sizes.append(size)
        body = [f"{INDENT}{namer.claim(s)} = " for s in sizes]
        dims = {}
        for k, size in enumerate(sizes):
            dnode = make("dim", (), ((size,),))
            names[dnode] = body[k].strip()[:-2]
            dims[size] = dnode
            for _, node in function.params:
                if size in node.shape:
                    body[k] += f"{names[node]}.shape[{node.shape.index(size)}]"
                    break
        ends = self._materialized()
        level = self._levels(ends)
        self.names, self.namer = names, namer
        hints = function.hints
        # the arrays and scalars each end defines
        for node in sorted(ends, key=self.order.index):
            hint = hints.get(node) or ("saved" if node.shape else "total")
            if node in self.leaves and node.shape:
                hint = hints.get(node) or "out"
            if node in self.leaves and not node.shape:
                hint = hints.get(node) or "value"
            names[node] = namer.claim(python_name(hint))
        index = namer.claim("i")
        self.index = index
        groups: dict[tuple, list[Node]] = {}
        for node in sorted(ends, key=self.order.index):
            length = node.shape[0] if node.shape else node.args[0].shape[0]
            kind = "blas" if _is_blas(node) else str(length)
            groups.setdefault((level[node], kind), []).append(node)
        emitted: set[Node] = set(names) - set(ends)
        work = 0
        for (lvl, kind), members in sorted(groups.items(), key=lambda kv: kv[0][0]):
            if kind == "blas":  # matrix products stay numpy's @ (BLAS), in numba
                body += [
                    f"{INDENT}{names[m]} = {definition(m, names)}" for m in members
                ]
                emitted.update(members)
                continue
            member0 = members[0]
            length = member0.shape[0] if member0.shape else member0.args[0].shape[0]
            self.loop_length = length
            self.memo: dict = {}
            self.copies: dict[Node, set] = {}
            self.scalars: list[Node] = []
            self.reads: dict[Node, str] = {}
            self.bounds: list[tuple[int, tuple | None]] = []
            self.interior = False
            terms = self._terms(members)
            costly = self._costly(ends)
            if costly is not None:
                self.split.add(costly)
                return None
            tested = (terms, self.memo)
            peel = self._peel(length)
            if peel is not None:  # the same terms where every padding test holds
                self.interior, self.memo = True, {}
                terms = self._terms(members)
            body += self._scalar_lines(self.scalars, emitted)
            body += self._loop_lines(members, tested, (terms, self.memo), peel)
            emitted.update(members)
            work += sum(op_cost(n) for n in toposort(terms) if n.args)
        outs = [leaf for leaf in self.leaves if not leaf.shape]
        body += self._scalar_lines(outs, emitted)
        return self._text(pnames, body, max(work, 1))

    def _terms(self, members: list[Node]) -> list[Node]:
        """Each member's entry i (a stored vector) or term i (a sum), as scalar nodes."""
        terms = []
        for m in members:
            if m.op == "sum":
                terms.append(self._at(m.args[0], 0, ()))
            elif m.op == "matmul":
                a, b = (self._at(x, 0, ()) for x in m.args)
                terms.append(make("mul", (a, b)))
            else:
                terms.append(self._at(m, 0, (), top=True))
        return terms

    def _peel(self, length) -> tuple[int, tuple] | None:
        """(start, stop): the entries where every padding test holds, if a range."""
        if not self.bounds:
            return None
        loop = split(length)
        start = max(lower for lower, _ in self.bounds)
        uppers = [upper for _, upper in self.bounds if upper is not None]
        if any(upper[0] != loop[0] for upper in uppers):
            return None  # tests against another size: no one interior range
        stop = min([loop[1]] + [upper[1] for upper in uppers])
        return start, (loop[0], stop)

    def _costly(self, ends: set[Node]) -> Node | None:
        """A vector node worth storing: recomputed at several offsets, costly."""
        worst, node_out = SPLIT_COST, None
        for node, keys in self.copies.items():
            if len(keys) < 2 or node in ends:
                continue
            cost = self._cost(node, ends)
            if (len(keys) - 1) * cost > worst:
                worst, node_out = (len(keys) - 1) * cost, node
        return node_out

    def _cost(self, node: Node, ends: set[Node]) -> int:
        total, seen, stack = 0, set(), [node]
        while stack:
            n = stack.pop()
            if n in seen or (n is not node and (n in ends or not n.shape)):
                continue
            seen.add(n)
            if n.op in ELEMENTWISE:
                total += op_cost(n)
            stack.extend(n.args)
        return total

    # --- index space -------------------------------------------------------------

    def _at(self, node: Node, k: int, ctx: tuple, top: bool = False) -> Node:
        """node's entry i + k, where the conditions ctx hold, as a scalar graph node."""
        key = (node, k, ctx)
        if key in self.memo:
            return self.memo[key]
        result = self._translate(node, k, ctx, top)
        self.memo[key] = result
        return result

    def _translate(self, node: Node, k: int, ctx: tuple, top: bool) -> Node:
        if not node.shape:  # a scalar: computed before the loop, by its name
            if node.op == "const":
                return node
            if node not in self.names and node not in self.scalars:
                self.scalars.append(node)
            return self._scalar_ref(node)
        if node in self.names and not top:  # a parameter or a stored array
            return self._read(node, k, ctx)
        if node.op in ELEMENTWISE:
            self.copies.setdefault(node, set()).add((k, ctx))
            args = [self._at(a, k, ctx) for a in node.args]
            return make(node.op, args, node.attrs)
        if node.op == "broadcast_to":
            return self._at(node.args[0], k, ctx)
        if node.op == "slice":
            return self._at(node.args[0], k + _slice_start(node), ctx)
        if node.op == "pad":
            ((before, _),) = node.attrs[0]
            inner = node.args[0]
            cond = None if self.interior else self._condition(inner, k - before)
            if cond is None:
                return self._at(inner, k - before, ctx)
            value = self._at(inner, k - before, ctx + (cond,))
            return make("where", (self._text_var(cond), value, const(0.0)))
        if node.op == "var":
            return self._read(node, k, ctx)
        raise Unfusable

    def _condition(self, inner: Node, offset: int) -> str | None:
        """The test `lo <= i < hi` that inner's entry i + offset exists; None if always."""
        index = self.index
        lower = None if offset >= 0 else f"{-offset}"
        upper = None
        loop, size = split(self.loop_length), split(inner.shape[0])
        if not (loop[0] == size[0] and loop[1] <= size[1] - offset):
            upper = dim_text(affine(size[0], size[1] - offset), self.names)
        bound = (size[0], size[1] - offset) if upper else None
        if lower or upper:
            self.bounds.append((max(0, -offset), bound))
        if lower and upper:
            return f"{lower} <= {index} < {upper}"
        if lower:
            return f"{index} >= {lower}"
        return f"{index} < {upper}" if upper else None

    def _text_var(self, text: str) -> Node:
        node = var(f"\0{text}")
        self.reads[node] = text
        return node

    def _read(self, array: Node, k: int, ctx: tuple) -> Node:
        """array[i + k]; under conditions, a read that is safe where they fail too."""
        index = self.index
        at = f"{index} + {k}" if k > 0 else f"{index} - {-k}" if k < 0 else index
        name = self.names[array]
        loop, size = split(self.loop_length), split(array.shape[0])
        always = k >= 0 and loop[0] == size[0] and loop[1] + k <= size[1]
        if always or not ctx:
            return self._text_var(f"{name}[{at}]")
        self.helpers.add("_entry")
        return self._text_var(f"_entry({name}, {at})")

    def _scalar_ref(self, node: Node) -> Node:
        if node in self.names:
            return self._text_var(self.names[node])
        return self._text_var(f"\0scalar {id(node)}")  # named once it is emitted

    # --- statements --------------------------------------------------------------

    def _scalar_lines(self, roots: list[Node], emitted: set[Node]) -> list[str]:
        """Statements for scalar nodes not yet computed (before a loop, or at the end)."""
        roots = [r for r in roots if r not in emitted and r.op != "const"]
        if not roots:
            return []
        # what is computed already (sums, earlier scalars) becomes a leaf, so that
        # the schedule never looks inside a loop's work again
        known = {n: t for n, t in self.names.items() if n in emitted}
        rebuilt: dict[Node, Node] = {}
        for node in toposort(roots):
            if node in known and node.args:
                rebuilt[node] = self._text_var(known[node])
                known[rebuilt[node]] = known[node]
            elif node.args:
                args = [rebuilt[a] for a in node.args]
                rebuilt[node] = make(node.op, args, node.attrs)
            else:
                rebuilt[node] = node
        hints = {rebuilt[n]: h for n, h in self.function.hints.items() if n in rebuilt}
        originals = {rebuilt[n]: n for n in rebuilt}
        plan = schedule([rebuilt[r] for r in roots], known, hints, self.namer, 60)
        self._helpers_of(plan.order)
        lines = []
        memo: dict = {}
        for target, node in plan.statements:
            lines.append(
                f"{INDENT}{target} = {definition(node, plan.names, memo, FLOAT)}"
            )
        for root in roots:
            if rebuilt[root] not in plan.names:
                name = self.namer.fresh()
                text = expression(rebuilt[root], plan.names, memo, FLOAT)
                lines.append(f"{INDENT}{name} = {text}")
                plan.names[rebuilt[root]] = name
        for node, name in plan.names.items():
            if node in originals and node.op != "var":
                self.names[originals[node]] = name
                emitted.add(originals[node])
        return lines

    def _body(self, members, terms, memo, indent: str) -> list[str]:
        """The statements of one loop body and the stores of its members."""
        names = dict(self.reads)
        for node, text in list(names.items()):
            if text.startswith("\0scalar "):
                ident = int(text.split()[1])
                scalar = next(s for s in self.scalars if id(s) == ident)
                names[node] = self.names[scalar]
        hints = {}
        for node, hint in self.function.hints.items():
            key = (node, 0, ())
            if key in memo and memo[key] not in names:
                hints[memo[key]] = python_name(hint)
        for term in terms:  # a stored output is its own name: `dx[i] = ...`
            hints.pop(term, None)
        # room on `        value += <term>` within 88 columns
        plan = schedule(terms, names, hints, self.namer, 70)
        self._helpers_of(plan.order)
        lines = []
        printed: dict = {}
        for target, node in plan.statements:
            text = bare(node, definition(node, plan.names, printed, FLOAT))
            lines.append(f"{indent}{target} = {text}")
        for m, term in zip(members, terms):
            text = bare(term, expression(term, plan.names, printed, FLOAT))
            if m.shape:
                lines.append(f"{indent}{self.names[m]}[{self.index}] = {text}")
            else:
                lines.append(f"{indent}{self.names[m]} += {text}")
        return lines

    def _helpers_of(self, order: list[Node]) -> None:
        """The compiled float helpers (_sigmoid1, _sign1, ...) the statements call."""
        self.helpers.update(FLOAT.helpers[n.op] for n in order if n.op in FLOAT.helpers)

    def _loop_lines(self, members, tested, interior, peel) -> list[str]:
        """Allocations, then one loop, or the tested ends and the untested interior."""
        first = self.names[self.function.params[0][1]]
        lines = []
        for m in members:
            if m.shape:
                size = dim_text(m.shape[0], self.names)
                lines.append(
                    f"{INDENT}{self.names[m]} = np.empty({size}, {first}.dtype)"
                )
            else:
                lines.append(f"{INDENT}{self.names[m]} = 0.0")
        size = dim_text(self.loop_length, self.names)
        index, inner = self.index, INDENT * 2
        if peel is None:
            lines.append(f"{INDENT}for {index} in numba.prange({size}):")
            return lines + self._body(members, *tested, inner)
        start, stop = self.namer.claim("start"), self.namer.claim("stop")
        low, high = str(peel[0]), dim_text(affine(*peel[1]), self.names)
        self.helpers.add("_edges")
        lines += [
            f"{INDENT}# entries {low} to {high} need no padding test; the others do",
            f"{INDENT}{start} = {f'min({low}, {size})' if peel[0] else '0'}",
            f"{INDENT}{stop} = max({start}, {high})",
            f"{INDENT}for {index} in _edges({start}, {stop}, {size}):",
        ]
        lines += self._body(members, *tested, inner)
        # from the constant low, not from start (equal once the size reaches low):
        # an index known to be >= 0 needs no wraparound test, twice as fast
        lines.append(f"{INDENT}for {index} in numba.prange({low}, {stop}):")
        return lines + self._body(members, *interior, inner)

    def _text(self, pnames: list[str], body: list[str], work: int) -> list[str]:
        function = self.function
        name = python_name(function.name)
        kernel = f"_{name}_loops"
        doc = f"{name}'s loops: each output vector and each sum is one pass."
        out = [
            (
                f"{self.names[leaf]}.copy()"  # never the caller's own array
                if leaf.op == "var" and leaf.shape
                else self.names.get(leaf) or expression(leaf, {}, None, FLOAT)
            )
            for leaf in self.leaves
        ]
        kernel_lines = layout.call(f"def {kernel}(", pnames, "", "):")
        kernel_lines.append(INDENT + self.docstring(doc, INDENT))
        kernel_lines += body
        kernel_lines += collection("return ", Tuple(tuple(out)), INDENT)
        # the wrapper: the numpy target's checks, then the kernel
        wrapper = layout.call(f"def {name}(", pnames, "", "):")
        wrapper.append(INDENT + self.docstring(function.doc, INDENT))
        wrapper += _checks(
            function.params, self._param_names(), self.leaves, self.helpers
        )
        first = pnames[0]
        vector = next(self.names[n] for _, n in function.params if n.shape)
        threshold = -(-_parallel_work() // work)
        wrapper += [
            f"{INDENT}loops = _{name}_serial",
            f"{INDENT}if {vector}.size >= {threshold} and _threads_pay():",
            f"{INDENT * 2}loops = _{name}_parallel",
        ]
        args = [_argument(p, n) for p, (_, n) in zip(pnames, function.params)]
        wrapper += layout.call("outputs = loops(", args, INDENT)
        counter = iter(range(len(self.leaves)))

        def leaf_text(node: Node) -> str:
            k = next(counter)
            if node.shape:
                return f"outputs[{k}]"
            return f"{first}.dtype.type(outputs[{k}])"

        structure = _structure(function.result, leaf_text)
        if isinstance(structure, str):
            wrapper.append(f"{INDENT}return {structure}")
        else:
            wrapper += collection("return ", structure, INDENT)
        dispatch = [
            f"_{name}_serial = _jit({kernel})",
            f"_{name}_parallel = _jit({kernel}, parallel=True)",
        ]
        return wrapper + ["", ""] + kernel_lines + ["", ""] + dispatch

    def _param_names(self) -> dict[Node, str]:
        return {node: self.names[node] for _, node in self.function.params}


def _argument(name: str, node: Node) -> str:
    """A parameter as the loops take it: a scalar, a vector, a contiguous matrix.

    numba's matrix products call BLAS on contiguous matrices only.
    """
    if not node.shape:
        return f"{name}[()]"
    return f"np.ascontiguousarray({name})" if len(node.shape) == 2 else name


def _structure(result, leaf_text):
    if isinstance(result, Node):
        return leaf_text(result)
    if hasattr(result, "entries"):
        raise Unfusable  # Hessian blocks: matrices, never fused here
    return Tuple(tuple(_structure(item, leaf_text) for item in result))


def _parallel_work() -> int:
    from codegen.numba_target import PARALLEL_WORK

    return PARALLEL_WORK


EDGES_HELPER = '''
@_jit_inline
def _edges(start, stop, n):
    """The indices below start and from stop to n: the ends, where tests can fail."""
    return np.concatenate((np.arange(0, start), np.arange(stop, n)))
'''

ENTRY_HELPER = '''
@_jit_inline
def _entry(a, k):
    """a[k], or 0 where k is outside a: read under a padding's test, kept or not."""
    return a[k] if 0 <= k < a.shape[0] else 0.0
'''
