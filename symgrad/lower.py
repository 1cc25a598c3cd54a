"""Syntax tree -> graph: name resolution, arity checks and helper inlining, with spans.

A function defined in the file may reuse a built-in function's name (the course
defines its own sigmoid); calls after the definition mean the file's function.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from symgrad import syntax
from symgrad.errors import LimitError, NameResolutionError, Span, SymgradError
from symgrad.graph import Node, count_nodes, node_budget, substitute, toposort, var
from symgrad.ops import BINARY_OPERATORS, CONSTANTS, FUNCTIONS
from symgrad.program import Function, Program
from symgrad.simplify import build, call, neg, num

# The functions a compiled module holds for each source function f.
GENERATED_SUFFIXES = ("", "_grad", "_value_and_grad", "_hessian", "_hvp")
COMPARISONS = {"lt", "le", "gt", "ge"}
# A constant exponent beyond this is a mistake (9^9^9), not a model.
MAX_EXPONENT = 1_000_000
# Lowering may build at most this many graph nodes. Differentiation builds about ten
# times the lowered graph (Rosenbrock in 10,000 variables: 90,000 nodes lowered,
# 940,000 in all), so a much bigger file could not fit a compilation's MAX_NODES
# anyway; and helpers calling each other twice per line, which double the graph on
# every line, are stopped within seconds (a few microseconds per node).
MAX_LOWERED_NODES = 250_000
# The parser reads array syntax; lowering it waits for the array ops of the core.
_NO_ARRAYS_YET = "'@' and '.T' need array values, which lowering does not build yet"


@dataclass(frozen=True)
class _Intermediate:
    node: Node
    span: Span


class _Scope:
    """What a name may mean while lowering one definition."""

    def __init__(self, intermediates, functions, later, in_function: bool):
        self.intermediates: dict[str, _Intermediate] = intermediates
        self.functions: dict[str, Function] = functions
        self.later: dict[str, syntax.Definition] = later
        self.in_function = in_function
        self.params: set[str] = set()


def lower(module: syntax.Module) -> Program:
    """Lower every definition of an expression file, checking names as it goes."""
    # Inlining can grow the graph exponentially (helpers calling each other twice),
    # so lowering builds within a node budget (shared with an enclosing compilation's).
    with node_budget(MAX_LOWERED_NODES, "lowering the file"):
        return _lower(module)


def _lower(module: syntax.Module) -> Program:
    program = Program(module.file)
    intermediates: dict[str, _Intermediate] = {}
    functions: dict[str, Function] = {}
    defined_at: dict[str, Span] = {}
    later = {d.name: d for d in reversed(module.definitions)}  # first definition wins
    for definition in module.definitions:
        _check_new_name(definition, defined_at, functions)
        later.pop(definition.name, None)
        in_function = isinstance(definition, syntax.FunctionDef)
        scope = _Scope(intermediates, functions, later, in_function)
        if not in_function:
            node = _expr(definition.body, scope, definition.name)
            intermediates[definition.name] = _Intermediate(node, definition.span)
            if node.args:
                program.names.setdefault(node, definition.name)
        else:
            function = _function(definition, scope)
            functions[definition.name] = function
            program.functions.append(function)
        defined_at[definition.name] = definition.span
    return program


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


def _function(definition: syntax.FunctionDef, scope: _Scope) -> Function:
    seen: dict[str, Span] = {}
    for param in definition.params + definition.data:
        if param.shape is not None:
            raise SymgradError(
                "array parameters are not lowered yet", param.dim_spans[0]
            )
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
    scope.params = set(seen)
    body = _expr(definition.body, scope, definition.name)
    _check_free_variables(body, definition, scope)
    return Function(
        definition.name,
        tuple(p.name for p in definition.params),
        tuple(p.name for p in definition.data),
        body,
        definition.source,
        definition.span,
    )


def _check_free_variables(body: Node, definition, scope: _Scope) -> None:
    """Every variable an intermediate brought in must be a parameter here."""
    for node in toposort([body]):
        if node.op == "var" and node.attrs[0] not in scope.params:
            name = node.attrs[0]
            users = [
                k for k, v in scope.intermediates.items() if _mentions(v.node, node)
            ]
            where = scope.intermediates[users[0]].span if users else definition.span
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


def _mentions(root: Node, target: Node) -> bool:
    return any(n is target for n in toposort([root]))


def subexpressions(expr: syntax.Expr) -> tuple[syntax.Expr, ...]:
    """The direct subexpressions of an expression, left to right."""
    if isinstance(expr, syntax.Unary):
        return (expr.operand,)
    if isinstance(expr, syntax.Binary):
        return (expr.left, expr.right)
    if isinstance(expr, syntax.Call):
        return expr.args
    if isinstance(expr, syntax.Transpose):
        return (expr.operand,)
    if isinstance(expr, syntax.Subscript):
        return (expr.value,)
    return ()


def _expr(root: syntax.Expr, scope: _Scope, owner: str) -> Node:
    """Lower an expression bottom-up with an explicit stack (long sums are deep trees)."""
    stack: list[tuple[syntax.Expr, bool]] = [(root, False)]
    values: list[Node] = []
    while stack:
        expr, ready = stack.pop()
        children = subexpressions(expr)
        if not ready and children:
            stack.append((expr, True))
            stack.extend((child, False) for child in reversed(children))
            continue
        args = values[len(values) - len(children) :]
        del values[len(values) - len(children) :]
        try:
            values.append(_combine(expr, children, args, scope, owner))
        except LimitError as error:
            if error.span is not None:
                raise
            raise _located(error, expr, scope) from None
    return _number(values[0], root)


def _located(error: LimitError, expr: syntax.Expr, scope: _Scope) -> LimitError:
    """The graph's node-budget error, placed at the expression that exceeded it."""
    notes = error.notes
    if isinstance(expr, syntax.Call) and expr.func in scope.functions:
        # Inlining is what grows a graph beyond the budget: say how much a call copies.
        size = count_nodes([scope.functions[expr.func].body])
        notes += (f"each call of '{expr.func}' inlines a copy of its {size:,} nodes",)
    return LimitError(error.message, expr.span, notes)


def _number(node: Node, expr: syntax.Expr) -> Node:
    """node, checked to be a number and not a condition (a comparison)."""
    if _is_comparison(expr):
        raise SymgradError(
            f"a comparison ('{expr.op}') gives a condition, not a number; "
            "use it as the first argument of where(cond, a, b)",
            expr.span,
        )
    return node


def _is_comparison(expr: syntax.Expr) -> bool:
    return (
        isinstance(expr, syntax.Binary) and BINARY_OPERATORS.get(expr.op) in COMPARISONS
    )


def _combine(expr, children, args: list[Node], scope: _Scope, owner: str) -> Node:
    if isinstance(expr, syntax.Num):
        return num(expr.value)
    if isinstance(expr, syntax.Name):
        return _name(expr, scope, owner)
    if isinstance(expr, syntax.Unary):
        operand = _number(args[0], children[0])
        return neg(operand) if expr.op == "-" else operand
    if isinstance(expr, syntax.Binary):
        left, right = (_number(a, c) for a, c in zip(args, children))
        if (
            expr.op == "^"
            and right.op == "const"
            and abs(right.attrs[0]) > MAX_EXPONENT
        ):
            raise LimitError(
                f"limit exceeded: the exponent {right.attrs[0]:g} is larger than "
                f"{MAX_EXPONENT:,} in magnitude",
                expr.span,
            )
        if expr.op == "@":
            raise SymgradError(_NO_ARRAYS_YET, expr.op_span)
        return build(BINARY_OPERATORS[expr.op], (left, right))
    if isinstance(expr, syntax.Transpose):
        raise SymgradError(_NO_ARRAYS_YET, expr.op_span)
    if isinstance(expr, syntax.Subscript):
        raise SymgradError(
            "subscripts are not supported on scalar values", expr.bracket_span
        )
    return _call(expr, args, scope, owner)


def _name(expr: syntax.Name, scope: _Scope, owner: str) -> Node:
    name = expr.id
    if name in scope.params:
        return var(name)
    if name in scope.intermediates:
        return scope.intermediates[name].node
    if name in CONSTANTS:
        return num(CONSTANTS[name])
    if name == owner:
        raise NameResolutionError(
            f"'{name}' refers to itself; definitions cannot be recursive", expr.span
        )
    later = scope.later.get(name)
    if later is not None:
        raise NameResolutionError(
            f"'{name}' is used before its definition at line {later.span.line}",
            expr.span,
        )
    if name in scope.functions or name in FUNCTIONS:
        raise NameResolutionError(
            f"'{name}' is a function; call it with arguments", expr.span
        )
    if scope.in_function:
        candidates = sorted(scope.params | set(scope.intermediates) | set(CONSTANTS))
        raise NameResolutionError(
            f"unknown name '{name}'{_did_you_mean(name, candidates)}", expr.span
        )
    # In an intermediate (u = b*c) a free name is a variable that every function
    # using the intermediate must have as a parameter.
    return var(name)


def _call(expr: syntax.Call, args: list[Node], scope: _Scope, owner: str) -> Node:
    name = expr.func
    if name in scope.functions:
        callee = scope.functions[name]
        _check_arity(expr, name, len(callee.all_names))
        values = [_number(a, c) for a, c in zip(args, expr.args)]
        mapping = {var(p): a for p, a in zip(callee.all_names, values)}
        return substitute([callee.body], mapping, build)[0]
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
    if name == owner:
        raise NameResolutionError(
            f"'{name}' calls itself; definitions cannot be recursive", expr.func_span
        )
    later = scope.later.get(name)
    if later is not None:
        raise NameResolutionError(
            f"'{name}' is called before its definition at line {later.span.line}",
            expr.func_span,
        )
    candidates = sorted(set(FUNCTIONS) | set(scope.functions))
    raise NameResolutionError(
        f"unknown function '{name}'{_did_you_mean(name, candidates)}", expr.func_span
    )


def _check_arity(expr: syntax.Call, name: str, arity: int) -> None:
    if len(expr.args) != arity:
        plural = "s" if arity != 1 else ""
        raise SymgradError(
            f"'{name}' takes {arity} argument{plural}, got {len(expr.args)}", expr.span
        )


def _did_you_mean(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""
