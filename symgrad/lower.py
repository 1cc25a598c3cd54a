"""Syntax tree -> graph: name resolution, arity and shape checks, inlining, with spans.

A function defined in the file may reuse a built-in function's name (the course
defines its own sigmoid); calls after the definition mean the file's function.

Shapes come from the functions: an intermediate (`Z1 = W1 @ X + b1`) is lowered where
it is written with scalar free variables, and lowered again from its text inside each
function that gives those names shapes; a helper with array arguments is lowered
again from its text with the arguments bound. A shape error is reported at the
expression that caused it, its text quoted first: `W1 @ X: inner sizes differ`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from symgrad import arrays, shapes, syntax
from symgrad.errors import (
    LimitError,
    NameResolutionError,
    ShapeError,
    Span,
    SymgradError,
)
from symgrad.graph import Node, count_nodes, node_budget, substitute, toposort, var
from symgrad.ops import BINARY_OPERATORS, CONSTANTS, FUNCTIONS
from symgrad.program import Function, Program
from symgrad.simplify import build, call, collect_like_in_sum, neg, num

# The functions a compiled module holds for each source function f.
GENERATED_SUFFIXES = (
    "",
    "_grad",
    "_value_and_grad",
    "_hessian",
    "_hvp",
    "_jvp",
    "_vjp",
    "_jacobian",
    "_hessian_blocks",
)
COMPARISONS = {"lt", "le", "gt", "ge"}
# A constant exponent beyond this is a mistake (9^9^9), not a model.
MAX_EXPONENT = 1_000_000
# Lowering may build at most this many graph nodes. Differentiation builds about ten
# times the lowered graph (Rosenbrock in 10,000 variables: 90,000 nodes lowered,
# 940,000 in all), so a much bigger file could not fit a compilation's MAX_NODES
# anyway; and helpers calling each other twice per line, which double the graph on
# every line, are stopped within seconds (a few microseconds per node).
MAX_LOWERED_NODES = 250_000
# Helpers inlined inside helpers with array arguments are lowered from their text
# again (one Python frame level each); a file nesting them deeper is refused.
MAX_INLINE_DEPTH = 50
# Longer expression texts are shortened in the prefix of a shape error.
MAX_QUOTED = 60


@dataclass(frozen=True)
class _ArrayFunction:
    """A built-in array function: its builder, its array arguments, an optional axis."""

    build: Callable[..., Node]
    operands: int
    axis: bool = False


ARRAY_FUNCTIONS: dict[str, _ArrayFunction] = {
    "sum": _ArrayFunction(arrays.reduce_sum, 1, True),
    "mean": _ArrayFunction(arrays.mean, 1, True),
    "logsumexp": _ArrayFunction(arrays.logsumexp, 1, True),
    "softmax": _ArrayFunction(arrays.softmax, 1, True),
    "log_softmax": _ArrayFunction(arrays.log_softmax, 1, True),
    "dot": _ArrayFunction(arrays.dot, 2),
    "outer": _ArrayFunction(arrays.outer, 2),
    "norm": _ArrayFunction(arrays.norm, 1),
    "trace": _ArrayFunction(arrays.trace, 1),
    "diag": _ArrayFunction(arrays.diag, 1),
    "transpose": _ArrayFunction(arrays.transpose, 1),
    "inv": _ArrayFunction(arrays.inv, 1),
    "det": _ArrayFunction(arrays.det, 1),
    "logdet": _ArrayFunction(arrays.logdet, 1),
    "solve": _ArrayFunction(arrays.solve, 2),
    "eye": _ArrayFunction(arrays.eye, 1),
}


@dataclass(frozen=True)
class _Intermediate:
    """A named intermediate: its text, and its graph with scalar free variables."""

    node: Node | None  # None: its text does not fit scalar free variables
    span: Span
    body: syntax.Expr
    index: int  # position in the file
    deps: tuple[str, ...]  # the earlier intermediates its text names


class _Deferred(Exception):
    """An intermediate names one that only shaped variables make well-formed."""


class _File:
    """Everything lowered so far in one file, and where each name is defined."""

    def __init__(self, module: syntax.Module, program: Program) -> None:
        self.program = program
        self.intermediates: dict[str, _Intermediate] = {}
        self.functions: dict[str, Function] = {}
        self.definitions: dict[str, syntax.FunctionDef] = {}
        self.position: dict[str, int] = {}  # the first definition of each name
        for index, definition in enumerate(module.definitions):
            self.position.setdefault(definition.name, index)
        self.first = {d.name: d for d in reversed(module.definitions)}
        # (callee, argument nodes) -> the inlined body: a call lowered from the text
        # is lowered once however often it recurs.
        self.calls: dict[tuple[str, tuple[Node, ...]], Node] = {}
        # How often a text has named an intermediate: only an intermediate brings a
        # variable into a function that may not be one of its parameters.
        self.intermediate_uses = 0


class _Scope:
    """What a name may mean while lowering one text (a body or an intermediate).

    Only definitions before position `index` are visible, so a text re-lowered later
    (an intermediate with a function's shapes, a helper with its arguments) means
    what it meant where it was written.
    """

    def __init__(
        self,
        file: _File,
        index: int,
        owner: str,
        bindings: dict[str, Node],
        *,
        in_function: bool,
        plain: bool,
        root: syntax.FunctionDef | None = None,
        depth: int = 0,
    ) -> None:
        self.file = file
        self.index = index
        self.owner = owner
        # A function's parameters (its own text, or the text of an intermediate it
        # uses) -> their nodes: shaped vars, or a call's arguments.
        self.bindings = bindings
        self.in_function = in_function
        # Plain: the bindings are scalar vars of their own names (or there are none),
        # so an intermediate's eager graph is right here; else it is lowered again.
        self.plain = plain
        self.cache: dict[str, Node] = {}  # intermediates lowered again in this scope
        self.root = root  # the function whose parameters the bindings are
        self.depth = depth  # helpers being inlined from their text around this one

    @property
    def eager(self) -> bool:
        """Lowering an intermediate where it is defined (free names are scalars)."""
        return not self.in_function and not self.bindings

    def intermediate(self, name: str) -> _Intermediate | None:
        """The intermediate `name`, if it is defined before this text."""
        found = self.file.intermediates.get(name)
        return found if found is not None and found.index < self.index else None

    def function(self, name: str) -> Function | None:
        """The file's function `name`, if it is defined before this text."""
        found = self.file.functions.get(name)
        visible = found is not None and self.file.position[name] < self.index
        return found if visible else None

    def later(self, name: str) -> syntax.Definition | None:
        """The definition of `name`, if it comes after this text."""
        definition = self.file.first.get(name)
        later = definition is not None and self.file.position[name] > self.index
        return definition if later else None


def lower(module: syntax.Module) -> Program:
    """Lower every definition of an expression file, checking names as it goes."""
    # Inlining can grow the graph exponentially (helpers calling each other twice),
    # so lowering builds within a node budget (shared with an enclosing compilation's).
    with node_budget(MAX_LOWERED_NODES, "lowering the file"):
        return _lower(module)


def _lower(module: syntax.Module) -> Program:
    program = Program(module.file)
    file = _File(module, program)
    defined_at: dict[str, Span] = {}
    for index, definition in enumerate(module.definitions):
        _check_new_name(definition, defined_at, file.functions)
        if isinstance(definition, syntax.Assign):
            file.intermediates[definition.name] = _intermediate(definition, file, index)
        else:
            function = _function(definition, file, index)
            file.functions[definition.name] = function
            file.definitions[definition.name] = definition
            program.functions.append(function)
        defined_at[definition.name] = definition.span
    return program


def _intermediate(definition: syntax.Assign, file: _File, index: int) -> _Intermediate:
    """Lower an intermediate with scalar free variables, or defer it to its users."""
    scope = _Scope(file, index, definition.name, {}, in_function=False, plain=True)
    try:
        node: Node | None = _expr(definition.body, scope)
    except (ShapeError, _Deferred):
        # Its shapes come from the functions using it, which lower it again.
        node = None
    if node is not None and node.args:
        file.program.names.setdefault(node, definition.name)
    deps = tuple(
        dict.fromkeys(
            e.id
            for e in _walk(definition.body)
            if isinstance(e, syntax.Name) and scope.intermediate(e.id) is not None
        )
    )
    return _Intermediate(node, definition.span, definition.body, index, deps)


def _walk(root: syntax.Expr) -> list[syntax.Expr]:
    """Every subexpression of root (root included), iteratively."""
    found, stack = [], [root]
    while stack:
        expr = stack.pop()
        found.append(expr)
        stack.extend(subexpressions(expr))
    return found


def _check_new_name(definition, defined_at: dict[str, Span], functions) -> None:
    name, span = definition.name, definition.span
    if name in defined_at:
        raise NameResolutionError(
            f"'{name}' is already defined at line {defined_at[name].line}", span
        )
    if name in CONSTANTS:
        raise NameResolutionError(
            f"'{name}' is a built-in constant and cannot be redefined", span
        )
    if isinstance(definition, syntax.FunctionDef):
        mine = {name + s for s in GENERATED_SUFFIXES}
        for other in functions:
            theirs = {other + s for s in GENERATED_SUFFIXES}
            if mine & theirs:
                clash = sorted(mine & theirs)[0]
                raise NameResolutionError(
                    f"function '{name}' collides with '{clash}', which the compiled "
                    f"module generates for '{other}'; rename one of them",
                    span,
                )


def _function(definition: syntax.FunctionDef, file: _File, index: int) -> Function:
    params = definition.params + definition.data
    seen: dict[str, Span] = {}
    for param in params:
        if param.name in seen:
            raise NameResolutionError(
                f"parameter '{param.name}' is declared twice", param.span
            )
        if param.name in CONSTANTS:
            raise NameResolutionError(
                f"'{param.name}' is a built-in constant and cannot be a parameter",
                param.span,
            )
        seen[param.name] = param.span
    _check_size_names(definition, seen)
    bindings = {p.name: var(p.name, p.shape or ()) for p in params}
    for size in shapes.size_names(tuple(d for p in params for d in p.shape or ())):
        bindings[size] = arrays.size_node(size)  # n in the body: its size at run time
    plain = all(p.shape is None for p in params)
    scope = _Scope(
        file,
        index,
        definition.name,
        bindings,
        in_function=True,
        plain=plain,
        root=definition,
    )
    uses = file.intermediate_uses
    body = _expr(definition.body, scope)
    if (
        file.intermediate_uses != uses
    ):  # else the check would walk the graph for nothing
        _check_free_variables(body, definition, scope)
    return Function(
        definition.name,
        tuple(p.name for p in definition.params),
        tuple(p.name for p in definition.data),
        body,
        definition.source,
        definition.span,
        shapes=tuple((p.name, p.shape) for p in params if p.shape is not None),
    )


def _check_size_names(definition: syntax.FunctionDef, params: dict[str, Span]) -> None:
    """A size name must not also be a parameter: `n` in the body would mean either."""
    for param in definition.params + definition.data:
        for dim, span in zip(param.shape or (), param.dim_spans):
            if isinstance(dim, str) and dim in params:
                raise NameResolutionError(
                    f"size name '{dim}' is also a parameter of '{definition.name}'; "
                    "rename one of them",
                    span,
                )


def _check_free_variables(body: Node, definition, scope: _Scope) -> None:
    """Every variable an intermediate brought in must be a parameter here."""
    for node in toposort([body]):
        if node.op == "var" and node.attrs[0] not in scope.bindings:
            name = node.attrs[0]
            users = [
                k
                for k, v in scope.file.intermediates.items()
                if _mentions(v, node, scope.file)
            ]
            where = (
                scope.file.intermediates[users[0]].span if users else definition.span
            )
            raise NameResolutionError(
                f"'{name}' is not a parameter of '{definition.name}'",
                definition.span,
                (
                    (
                        f"{where.file}:{where.line}:{where.col}: '{users[0]}' uses '{name}'"
                        if users
                        else f"'{name}' is used here"
                    ),
                ),
            )


def _not_a_parameter(
    name: str, function: syntax.FunctionDef, user: str, file: _File
) -> NameResolutionError:
    """The error for a free name of intermediate `user` that `function` lacks."""
    where = file.intermediates[user].span
    return NameResolutionError(
        f"'{name}' is not a parameter of '{function.name}'",
        function.span,
        (f"{where.file}:{where.line}:{where.col}: '{user}' uses '{name}'",),
    )


def _mentions(intermediate: _Intermediate, target: Node, file: _File) -> bool:
    """Whether an intermediate brings in the variable `target`."""
    if intermediate.node is not None:
        return any(n is target for n in toposort([intermediate.node]))
    # Only a function's shapes make its text well-formed: look at the text.
    name, seen, stack = target.attrs[0], set(), [intermediate]
    while stack:
        entry = stack.pop()
        for expr in _walk(entry.body):
            if isinstance(expr, syntax.Name) and expr.id == name:
                if name not in entry.deps:
                    return True
        for dep in entry.deps:
            if dep not in seen:
                seen.add(dep)
                stack.append(file.intermediates[dep])
    return False


def subexpressions(expr: syntax.Expr) -> tuple[syntax.Expr, ...]:
    """The direct subexpressions of an expression, left to right."""
    # The commonest kinds first: a long sum is mostly operators, names and numbers.
    if isinstance(expr, syntax.Binary):
        return (expr.left, expr.right)
    if isinstance(expr, (syntax.Name, syntax.Num)):
        return ()
    if isinstance(expr, syntax.Unary):
        return (expr.operand,)
    if isinstance(expr, syntax.Call):
        return expr.args
    if isinstance(expr, syntax.Transpose):
        return (expr.operand,)
    if isinstance(expr, syntax.Subscript):
        return (expr.value,)
    return ()


def _operands(expr: syntax.Expr, scope: _Scope) -> tuple[syntax.Expr, ...]:
    """The subexpressions lowered to graphs: an array function's axis is not one."""
    if type(expr) is syntax.Call and scope.function(expr.func) is None:
        spec = ARRAY_FUNCTIONS.get(expr.func)
        if spec is not None and spec.axis:
            return expr.args[: spec.operands]
    return subexpressions(expr)


def _expr(root: syntax.Expr, scope: _Scope) -> Node:
    """Lower an expression bottom-up with an explicit stack (long sums are deep trees)."""
    # The stack holds expressions to lower and, under their operands, pairs
    # (expr, operands) to combine once the operands' nodes end `values`; a binary
    # operation's pair is (expr, None). The operands are looked up once.
    stack: list = [root]
    values: list[Node] = []
    # A function's parameters are looked up first (see _name), so its leaves skip
    # _name; a literal recurring in a text (Rosenbrock's 100, 1 and 2, a thousand
    # times each) is made once.
    parameters = scope.bindings if scope.in_function else {}
    constants: dict[str, Node] = {}
    push, pop = stack.append, stack.pop
    while stack:
        expr = pop()
        try:
            if type(expr) is tuple:
                expr, children = expr
                if children is None:
                    right = values.pop()
                    values[-1] = _binary(expr, values[-1], right)
                else:
                    split = len(values) - len(children)
                    args = values[split:]
                    del values[split:]
                    values.append(_combine(expr, children, args, scope))
                continue
            kind = type(expr)
            if kind is syntax.Name:  # the commonest kinds first: a long sum's
                node = parameters.get(expr.id)
                values.append(node if node is not None else _name(expr, scope))
            elif kind is syntax.Num:
                node = constants.get(expr.text)
                if node is None:
                    node = constants[expr.text] = num(expr.value)
                values.append(node)
            elif kind is syntax.Binary:
                push((expr, None))
                push(expr.right)
                push(expr.left)
            else:
                children = _operands(expr, scope)
                push((expr, children))
                stack.extend(reversed(children))
        except (LimitError, ShapeError) as error:
            if error.span is not None:
                raise
            raise _located(error, expr, scope) from None
    return _number(values[0], root)


def _located(error: SymgradError, expr: syntax.Expr, scope: _Scope) -> SymgradError:
    """A spanless error of the graph (node budget, shapes) placed at `expr`."""
    notes = error.notes
    if isinstance(error, ShapeError):
        message = f"{source_text(expr)}: {error.message}"
        return ShapeError(message, error_span(expr), notes)
    callee = scope.function(expr.func) if isinstance(expr, syntax.Call) else None
    if callee is not None:
        # Inlining is what grows a graph beyond the budget: say how much a call copies.
        size = count_nodes([callee.body])
        notes += (f"each call of '{expr.func}' inlines a copy of its {size:,} nodes",)
    return LimitError(error.message, expr.span, notes)


def source_text(expr: syntax.Expr) -> str:
    """An expression's text as written (its first line; shortened if long)."""
    span = expr.span
    text = span.line_text[span.col - 1 : span.col - 1 + span.length].rstrip()
    if any(e.span.line != span.line for e in _walk(expr)):
        text += " ..."  # spans are clipped to their first line
    if len(text) > MAX_QUOTED:
        text = text[: MAX_QUOTED - 3] + "..."
    return text


def error_span(expr: syntax.Expr) -> Span:
    """Where a shape error of `expr` points: its operator, subscript or whole call."""
    if isinstance(expr, syntax.Binary) and expr.op_span is not None:
        return expr.op_span
    if isinstance(expr, syntax.Transpose):
        return expr.op_span
    if isinstance(expr, syntax.Subscript):
        return expr.bracket_span
    return expr.span


def _number(node: Node, expr: syntax.Expr) -> Node:
    """node, checked to be a number and not a condition (a comparison)."""
    if _is_comparison(expr):
        raise SymgradError(
            f"a comparison ('{expr.op}') gives a condition, not a number; "
            "use it as the first argument of where(cond, a, b)",
            expr.span,
        )
    return node


# The syntax operators that BINARY_OPERATORS maps to a comparison.
_COMPARISON_OPS = frozenset(
    op for op, name in BINARY_OPERATORS.items() if name in COMPARISONS
)


def _is_comparison(expr: syntax.Expr) -> bool:
    return isinstance(expr, syntax.Binary) and expr.op in _COMPARISON_OPS


def _combine(expr, children, args: list[Node], scope: _Scope) -> Node:
    """The node of an expression other than a name, number or binary operation."""
    if isinstance(expr, syntax.Unary):
        operand = _number(args[0], children[0])
        return neg(operand) if expr.op == "-" else operand
    if isinstance(expr, syntax.Transpose):
        return arrays.transpose(_number(args[0], children[0]))
    if isinstance(expr, syntax.Subscript):
        return _subscript(expr, _number(args[0], children[0]))
    return _call(expr, args, scope)


def _binary(expr: syntax.Binary, left: Node, right: Node) -> Node:
    # _number's test, inlined: this runs once per operator of a long sum
    first, second = expr.left, expr.right
    if (type(first) is syntax.Binary and first.op in _COMPARISON_OPS) or (
        type(second) is syntax.Binary and second.op in _COMPARISON_OPS
    ):
        _number(left, first)
        _number(right, second)
    if expr.op == "@":
        return arrays.matmul(left, right)
    if expr.op == "^" and right.op == "const" and abs(right.attrs[0]) > MAX_EXPONENT:
        raise LimitError(
            f"limit exceeded: the exponent {right.attrs[0]:g} is larger than "
            f"{MAX_EXPONENT:,} in magnitude",
            expr.span,
        )
    node = build(BINARY_OPERATORS[expr.op], (left, right))
    # a sum the user wrote: a like term further back in it is collected too
    return collect_like_in_sum(node) if expr.op in _SUM_OPS else node


_SUM_OPS = frozenset("+-")


def _subscript(expr: syntax.Subscript, value: Node) -> Node:
    if not value.shape:
        raise ShapeError(
            "subscripts are not supported on scalar values "
            f"('{source_text(expr.value)}' is a scalar)"
        )
    items = tuple(
        (
            item.index
            if isinstance(item, syntax.IndexItem)
            else slice(item.start, item.stop)
        )
        for item in expr.items
    )
    return arrays.index(value, items)


def _name(expr: syntax.Name, scope: _Scope) -> Node:
    name = expr.id
    if scope.in_function and name in scope.bindings:
        return scope.bindings[name]
    if scope.intermediate(name) is not None:
        return _intermediate_node(name, expr, scope)
    if name in CONSTANTS:
        return num(CONSTANTS[name])
    if name == scope.owner:
        raise NameResolutionError(
            f"'{name}' refers to itself; definitions cannot be recursive", expr.span
        )
    later = scope.later(name)
    if later is not None:
        raise NameResolutionError(
            f"'{name}' is used before its definition at line {later.span.line}",
            expr.span,
        )
    # An intermediate may name a variable `sum` or `mean`, as files did before the
    # array functions existed; in a body, such a name is no parameter anyway.
    array_function = scope.in_function and name in ARRAY_FUNCTIONS
    if scope.function(name) or name in FUNCTIONS or array_function:
        raise NameResolutionError(
            f"'{name}' is a function; call it with arguments", expr.span
        )
    if scope.in_function:
        candidates = sorted(
            set(scope.bindings) | set(scope.file.intermediates) | set(CONSTANTS)
        )
        raise NameResolutionError(
            f"unknown name '{name}'{_did_you_mean(name, candidates)}", expr.span
        )
    # In an intermediate (u = b*c) a free name is a variable that every function
    # using the intermediate must have as a parameter: it takes the function's shape.
    if name in scope.bindings:
        return scope.bindings[name]
    if scope.root is not None and not scope.plain:
        # Said now: a scalar stand-in would only give a confusing shape error.
        raise _not_a_parameter(name, scope.root, scope.owner, scope.file)
    return var(name)


def _intermediate_node(name: str, use: syntax.Name, scope: _Scope) -> Node:
    """An intermediate's graph with this scope's variables."""
    entry = scope.file.intermediates[name]
    scope.file.intermediate_uses += 1
    if scope.plain and entry.node is not None:
        return entry.node
    if scope.eager:
        raise _Deferred(name)
    if name not in scope.cache:
        _relower(name, use, scope)
    return scope.cache[name]


def _relower(name: str, use: syntax.Name, scope: _Scope) -> None:
    """Lower an intermediate and those it names again, with this scope's variables.

    In file order and without recursion, so a long chain of intermediates is fine.
    """
    file = scope.file

    def ready(dep: str) -> bool:
        plain = scope.plain and file.intermediates[dep].node is not None
        return plain or dep in scope.cache

    needed, stack = {name}, [name]
    while stack:
        for dep in file.intermediates[stack.pop()].deps:
            if dep not in needed and not ready(dep):
                needed.add(dep)
                stack.append(dep)
    for dep in sorted(needed, key=lambda n: file.intermediates[n].index):
        entry = file.intermediates[dep]
        inner = _Scope(
            file,
            entry.index,
            dep,
            scope.bindings,
            in_function=False,
            plain=scope.plain,
            root=scope.root,
            depth=scope.depth,
        )
        inner.cache = scope.cache
        try:
            node = _expr(entry.body, inner)
        except SymgradError as error:
            where = f"{use.span.file}:{use.span.line}:{use.span.col}"
            note = f"{where}: '{scope.owner}' uses '{name}' here"
            raise _with_note(error, note) from None
        scope.cache[dep] = node
        if node.args:
            file.program.names.setdefault(node, dep)


def _with_note(error: SymgradError, note: str) -> SymgradError:
    """The same error with one more note (kept once however deep it passes)."""
    if note not in error.notes:
        error.notes = error.notes + (note,)
    return error


def _call(expr: syntax.Call, args: list[Node], scope: _Scope) -> Node:
    name = expr.func
    callee = scope.function(name)
    if callee is not None:
        _check_arity(expr, name, len(callee.all_names))
        values = [_number(a, c) for a, c in zip(args, expr.args)]
        if not callee.shapes and not any(v.shape for v in values):
            mapping = {var(p): a for p, a in zip(callee.all_names, values)}
            return substitute([callee.body], mapping, build)[0]
        return _inline(expr, callee, values, scope)
    if name in FUNCTIONS:
        spec = FUNCTIONS[name]
        _check_arity(expr, name, spec.arity)
        if spec.name == "where":
            if not _is_comparison(expr.args[0]):
                raise SymgradError(
                    "the first argument of where must be a comparison (< <= > >=)",
                    expr.args[0].span,
                )
            rest = [_number(a, c) for a, c in zip(args[1:], expr.args[1:])]
            return call("where", args[0], *rest)
        return call(spec.name, *(_number(a, c) for a, c in zip(args, expr.args)))
    if name in ARRAY_FUNCTIONS:
        return _array_call(expr, args, ARRAY_FUNCTIONS[name])
    if name == scope.owner:
        raise NameResolutionError(
            f"'{name}' calls itself; definitions cannot be recursive", expr.func_span
        )
    later = scope.later(name)
    if later is not None:
        raise NameResolutionError(
            f"'{name}' is called before its definition at line {later.span.line}",
            expr.func_span,
        )
    candidates = sorted(
        set(FUNCTIONS) | set(ARRAY_FUNCTIONS) | set(scope.file.functions)
    )
    raise NameResolutionError(
        f"unknown function '{name}'{_did_you_mean(name, candidates)}", expr.func_span
    )


def _array_call(expr: syntax.Call, args: list[Node], spec: _ArrayFunction) -> Node:
    """A built-in array function: operands, then a constant axis if it takes one."""
    _check_arity(expr, expr.func, spec.operands, spec.operands + spec.axis)
    operands = [_number(a, c) for a, c in zip(args, expr.args)]
    if len(expr.args) == spec.operands:
        return spec.build(*operands)
    axis_expr = expr.args[spec.operands]
    axis = _constant_int(axis_expr)
    if axis is None:
        raise SymgradError(
            f"the axis of '{expr.func}' must be a constant whole number "
            "such as 0 or -1",
            axis_expr.span,
        )
    rank = len(operands[0].shape)
    if not -rank <= axis < rank:
        raise ShapeError(
            f"{source_text(expr)}: axis {axis} is out of range for "
            f"{_describe_shape(expr.args[0], operands[0])}",
            axis_expr.span,
        )
    return spec.build(*operands, axis=axis)


def _constant_int(expr: syntax.Expr) -> int | None:
    """The value of a whole-number literal, signed or not (`-1` is a Unary), else None."""
    sign = 1
    while isinstance(expr, syntax.Unary):
        sign = -sign if expr.op == "-" else sign
        expr = expr.operand
    if isinstance(expr, syntax.Num) and expr.text.isdigit():
        return sign * int(expr.text)
    return None


def _describe_shape(expr: syntax.Expr, node: Node) -> str:
    """'x' of shape [n, d], or 'x', a scalar: how an operand is named in messages."""
    text = source_text(expr)
    if not node.shape:
        return f"'{text}', a scalar"
    return f"'{text}' of shape {shapes.show(node.shape)}"


def _inline(
    expr: syntax.Call, callee: Function, values: list[Node], scope: _Scope
) -> Node:
    """A file function with array arguments: its text lowered with them bound."""
    file = scope.file
    key = (callee.name, tuple(values))
    if key in file.calls:
        return file.calls[key]
    sizes = _check_call_shapes(expr, callee, values)
    if scope.depth >= MAX_INLINE_DEPTH:
        raise LimitError(
            f"limit exceeded: helpers with array arguments nested more than "
            f"{MAX_INLINE_DEPTH} calls deep",
            expr.span,
        )
    inner = _Scope(
        file,
        file.position[callee.name],
        callee.name,
        {**sizes, **dict(zip(callee.all_names, values))},
        in_function=True,
        plain=False,
        root=file.definitions[callee.name],
        depth=scope.depth + 1,
    )
    try:
        node = _expr(file.definitions[callee.name].body, inner)
    except SymgradError as error:
        where = f"{expr.span.file}:{expr.span.line}:{expr.span.col}"
        raise _with_note(error, f"{where}: '{callee.name}' is called here") from None
    file.calls[key] = node
    return node


def _check_call_shapes(
    expr: syntax.Call, callee: Function, values: list[Node]
) -> dict[str, Node]:
    """The arguments must fit the callee's declared shapes, one size per size name.

    Returns the callee's size names as the caller's sizes (n in its body).
    """
    declared = dict(callee.shapes)
    bindings: dict[str, shapes.Dim] = {}
    for param, value, arg in zip(callee.all_names, values, expr.args):
        if param not in declared:
            continue  # a scalar parameter takes any shape: the helper is elementwise
        what = f"{param}{shapes.show(declared[param])} of '{callee.name}'"
        try:
            shapes.unify(declared[param], value.shape, bindings, what)
        except ShapeError as error:
            raise ShapeError(
                f"{source_text(expr)}: {error.message} "
                f"(the argument {source_text(arg)})",
                arg.span,
            ) from None
    return {name: arrays.count([dim]) for name, dim in bindings.items()}


def _check_arity(
    expr: syntax.Call, name: str, arity: int, most: int | None = None
) -> None:
    most = arity if most is None else most
    if not arity <= len(expr.args) <= most:
        plural = "s" if most != 1 else ""
        count = f"{arity} or {most}" if most != arity else f"{arity}"
        raise SymgradError(
            f"'{name}' takes {count} argument{plural}, got {len(expr.args)}", expr.span
        )


def _did_you_mean(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""
