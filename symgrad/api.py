"""The library's front door: expression text -> lowered program -> generated module."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codegen.load import load
from codegen.module import (
    MARKER,
    FunctionSpec,
    ModuleSpec,
    Symmetric,
    python_name,
    render,
)
from symgrad import __version__, syntax
from symgrad.errors import LimitError, NameResolutionError, Span, SymgradError
from symgrad.derivatives import (
    adjoints,
    derivative,
    hessian_from_gradient,
    hvp_best,
)
from symgrad.graph import Node, count_nodes, node_budget, var
from symgrad.lower import lower, subexpressions
from symgrad.program import Function, Program
from symgrad.ops import CONSTANTS
from symgrad.parser import parse, parse_expression
from symgrad.simplify import ZERO


@dataclass(frozen=True)
class Derivatives:
    """Everything generated for one function: gradient, Hessian triangle, HVP."""

    function: Function
    gradient: tuple[Node, ...]
    hessian: dict[tuple[int, int], Node]
    hvp: tuple[Node, ...]
    vector: tuple[Node, ...]
    hints: dict[Node, str]


def vector_var(param: str) -> Node:
    """The HVP direction for a parameter; its name can never be a source identifier."""
    return var(f"v[{param}]")


def differentiate(function: Function, names: dict[Node, str]) -> Derivatives:
    """Gradient, Hessian and HVP graphs of one function, sharing its nodes."""
    with node_budget(task=f"differentiating {function.name}"):
        wrt = function.param_nodes
        adj = adjoints(function.body, wrt)
        gradient = tuple(adj.get(v, ZERO) for v in wrt)
        hints = dict(names)
        for node, name in list(names.items()) + [(v, v.attrs[0]) for v in wrt]:
            adjoint = adj.get(node)
            if adjoint is not None and adjoint.args:
                hints.setdefault(adjoint, "d" + name)
        vector = tuple(vector_var(p) for p in function.params)
        hessian = hessian_from_gradient(gradient, wrt)
        return Derivatives(
            function,
            gradient,
            hessian,
            tuple(hvp_best(gradient, wrt, vector, hessian)),
            vector,
            hints,
        )


def function_specs(d: Derivatives, names: dict[Node, str]) -> list[FunctionSpec]:
    """The five generated functions of one source function (one if nothing is differentiated)."""
    f = d.function
    params = tuple((p, var(p)) for p in f.all_names)
    head = (
        f"{f.name}({', '.join(f.params)}{'; ' + ', '.join(f.data) if f.data else ''})"
    )
    specs = [FunctionSpec(f.name, params, f.body, f"{f.source}", names)]
    if not f.params:
        return specs
    wrt, n = ", ".join(f.params), len(f.params)
    quote = f"\n\n{f.source}"
    vparams = tuple((f"v{p}", v) for p, v in zip(f.params, d.vector))
    specs += [
        FunctionSpec(
            f.name + "_grad",
            params,
            d.gradient,
            f"Gradient of {f.name}: the partials in ({wrt}).{quote}",
            d.hints,
        ),
        FunctionSpec(
            f.name + "_value_and_grad",
            params,
            (f.body, d.gradient),
            f"Value and gradient of {f.name}: (value, partials in ({wrt})).{quote}",
            d.hints,
        ),
        FunctionSpec(
            f.name + "_hessian",
            params,
            Symmetric(len(f.params), d.hessian),
            f"Hessian of {f.name} in ({wrt}): shape batch + ({n}, {n}).{quote}",
            names,
        ),
        FunctionSpec(
            f.name + "_hvp",
            params + vparams,
            d.hvp,
            f"Hessian of {f.name} times the vector ({', '.join(p for p, _ in vparams)}).{quote}",
            names,
        ),
    ]
    return specs


def module_spec(program: Program, source_name: str) -> ModuleSpec:
    """The generated module's plan for a whole lowered program."""
    specs: list[FunctionSpec] = []
    taken: dict[str, Function] = {}
    for function in program.functions:
        for spec in function_specs(
            differentiate(function, program.names), program.names
        ):
            _claim_python_name(spec.name, function, taken)
            specs.append(spec)
    # the functions are listed once, in __all__: a "Functions: ..." line here ran to
    # hundreds of characters (review 2026-12 §4.7)
    doc = (
        f"{MARKER} {__version__} from {source_name}. Do not edit: recompile instead.\n\n"
        "Scalars in, scalars out; arrays in, outputs have the inputs' broadcast shape.\n"
    )
    return ModuleSpec(doc, tuple(specs))


def _claim_python_name(
    name: str, function: Function, taken: dict[str, Function]
) -> None:
    """Two source functions must not become one Python name once mangled (np -> np_)."""
    python = python_name(name)
    other = taken.setdefault(python, function)
    if other is not function:
        raise NameResolutionError(
            f"'{function.name}' would be named '{python}' in the generated module, "
            f"like '{other.name}' at line {other.span.line}; rename one of them",
            function.span,
        )


# Rosenbrock in 10,000 variables is a 17 MB module; past 64 MB a module is a
# mistake (or an attack), and nothing is written.
MAX_MODULE_CHARS = 64_000_000


def compile_source(text: str, file: str = "<input>") -> str:
    """Compile expression-file text to the text of a standalone numpy module."""
    program = lower(parse(text, file))
    module = render(module_spec(program, Path(file).name))
    if len(module) > MAX_MODULE_CHARS:
        raise LimitError(
            f"limit exceeded: the generated module would be {len(module):,} characters "
            f"(at most {MAX_MODULE_CHARS:,})"
        )
    return module


def decode_source(data: bytes, file: str) -> str:
    """UTF-8 text of a source file; invalid bytes are an error at their line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8", errors="replace")
        line = before.count("\n") + 1
        col = len(before) - (before.rfind("\n") + 1) + 1
        raise SymgradError(
            f"invalid UTF-8 byte 0x{data[exc.start]:02x}; expression files are UTF-8",
            Span(file, line, col),
        ) from None


def compile_file(path: str | Path) -> str:
    """Compile an expression file to module text."""
    path = Path(path)
    return compile_source(decode_source(path.read_bytes(), str(path)), str(path))


class Derivative:
    """The order-th derivative of an expression in one variable: show it, call it."""

    def __init__(self, expression: str, variable: str, order: int, function: Function):
        self.expression = expression
        self.variable = variable
        self.order = order
        self.params = function.params
        self.node = derivative(function.body, var(variable), order)
        self._module = None

    def __call__(self, *args, **kwargs):
        """Evaluate at a point: positional values in the order of `params`, or by name."""
        if self._module is None:
            spec = FunctionSpec(
                "d", tuple((p, var(p)) for p in self.params), self.node, str(self)
            )
            self._module = load(
                render(ModuleSpec(f"{MARKER}: {self}", (spec,))), "d", "<d>"
            )
        return self._module.d(*args, **kwargs)

    def __repr__(self) -> str:
        power = "" if self.order == 1 else f"^{self.order}"
        head = f"d{power}/d{self.variable}{power} [{self.expression}]"
        size = self.graph_size()
        if size > 400:  # a big derivative is shown by its size, not spelled out
            return f"{head}  ({size} graph nodes; call it to evaluate)"
        from symgrad.sympy_bridge import to_sympy

        return f"{head} = {to_sympy(self.node)}"

    def graph_size(self) -> int:
        """Distinct nodes in the derivative's graph (sharing makes high orders small)."""
        return count_nodes([self.node])


def diff(expression: str, variable: str, order: int = 1) -> Derivative:
    """The order-th derivative of an expression text (e.g. "sin(sin(x))") in variable."""
    expr = parse_expression(expression)
    names = _free_names(expr)
    if variable not in names:
        names.insert(0, variable)
    span = Span("<expression>", 1, 1, len(expression), expression)
    params = tuple(syntax.Param(n, span) for n in names)
    definition = syntax.FunctionDef("d", params, (), expr, span, expression)
    (function,) = lower(syntax.Module("<expression>", (definition,))).functions
    return Derivative(expression, variable, order, function)


def _free_names(expr: syntax.Expr) -> list[str]:
    """Names an expression refers to (not constants), in order of first appearance."""
    names: list[str] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if (
            isinstance(node, syntax.Name)
            and node.id not in CONSTANTS
            and node.id not in names
        ):
            names.append(node.id)
        stack.extend(reversed(subexpressions(node)))
    return names


def function(definition, wrt=None, name: str = "f"):
    """A compiled function from `"f(x, y) = ..."` text or from a sympy expression.

    Returns the same kind of object as @symgrad.compile. From text, the last
    function of the text is returned (earlier ones may be its helpers); from sympy,
    wrt lists the differentiated symbols in order (default: all, sorted by name).
    """
    if isinstance(definition, str):
        program = lower(parse(definition, "<function>"))
        if not program.functions:
            raise SymgradError("the text defines no function: write `f(x) = ...`")
        return _compiled(program.functions[-1], program.names)
    return _compiled(_function_from_sympy(definition, wrt, name), {})


def _function_from_sympy(expr, wrt, name: str) -> Function:
    import sympy

    from symgrad.simplify import simplify
    from symgrad.sympy_bridge import from_sympy

    if not isinstance(expr, sympy.Basic):
        raise SymgradError(
            f"expected expression text or a sympy expression, got {type(expr).__name__}"
        )
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    params = tuple(str(s) for s in (wrt if wrt is not None else symbols))
    data = tuple(s.name for s in symbols if s.name not in params)
    (body,) = simplify([from_sympy(expr)])
    head = f"{name}({', '.join(params)}{'; ' + ', '.join(data) if data else ''})"
    return Function(name, params, data, body, f"{head} = {expr}", None)


def _compiled(function: Function, names: dict[Node, str]):
    from symgrad.cache import cache_key, cached_module, graph_fingerprint, module_source
    from symgrad.compiled import Compiled

    program = Program("<function>", [function], names)
    roots = [function.body, *names]
    key = cache_key(
        function.name, function.source, ",".join(function.params),
        ",".join(function.data), graph_fingerprint(roots),
        ",".join(names.values()),
    )  # fmt: skip
    build = lambda: render(module_spec(program, "<function>"))  # noqa: E731
    module, _ = cached_module(key, function.name, build)
    return Compiled(function, module, lambda: module_source(module, build), names)


class Namespace:
    """The functions of an expression file, by name: `model.f(3, 4)`, `model.f.hessian`."""

    def __init__(self, functions: dict[str, object], path: str):
        self.__dict__.update(functions)
        self._names = list(functions)
        self._path = path

    def __repr__(self) -> str:
        return f"<symgrad functions from {self._path}: {', '.join(self._names)}>"

    def __iter__(self):
        return iter(self._names)


def load_file(path: str | Path) -> Namespace:
    """symgrad.load("model.sg"): one compiled function object per function in the file."""
    path = Path(path)
    text = decode_source(path.read_bytes(), str(path))
    program = lower(parse(text, str(path)))
    functions = {f.name: _compiled(f, program.names) for f in program.functions}
    return Namespace(functions, str(path))
