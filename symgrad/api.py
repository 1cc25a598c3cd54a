"""The library's front door: expression text -> lowered program -> generated module."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from codegen.load import load
from codegen.array_function import Blocks
from codegen.module import (
    MARKER,
    FunctionSpec,
    ModuleSpec,
    Symmetric,
    python_name,
    render,
)
from symgrad import __version__, collector, syntax
from symgrad.errors import (
    DifferentiationError,
    LimitError,
    NameResolutionError,
    Span,
    SymgradError,
)
from symgrad.banded import band_product, banded, diagonals
from symgrad.linear import coefficient
from symgrad.arrays import full, transpose
from symgrad.derivatives import (
    adjoints,
    derivative,
    hessian_from_gradient,
    hvp_best,
    hvp_from_gradient,
    jvp,
)
from symgrad.graph import Node, count_nodes, is_const, node_budget, var
from symgrad.lower import lower, subexpressions
from symgrad.program import Function, Program
from symgrad.ops import CONSTANTS
from symgrad.parser import parse, parse_expression
from symgrad.simplify import ZERO, add, mul, remembering


@dataclass(frozen=True)
class Derivatives:
    """Everything generated for one function: gradient, Hessian triangle, HVP."""

    function: Function
    gradient: tuple[Node, ...]
    hessian: dict[tuple[int, int], Node]
    hvp: tuple[Node, ...]
    vector: tuple[Node, ...]
    hints: dict[Node, str]


def vector_var(param: str, shape: tuple = ()) -> Node:
    """The HVP direction for a parameter; its name can never be a source identifier."""
    return var(f"v[{param}]", shape)


def differentiate(function: Function, names: dict[Node, str]) -> Derivatives:
    """Gradient, Hessian and HVP graphs of one function, sharing its nodes."""
    with node_budget(task=f"differentiating {function.name}"):
        wrt = function.param_nodes
        adj = adjoints(function.body, wrt)
        gradient = tuple(full(adj.get(v, ZERO), v.shape) for v in wrt)
        hints = _adjoint_hints(adj, names, wrt)
        vector = tuple(vector_var(p, v.shape) for p, v in zip(function.params, wrt))
        if function.shapes:
            # Hessians of array functions come in closed form with the next step
            # (issue 12); H v is forward over reverse, never forming H.
            hv = hvp_from_gradient(gradient, wrt, vector)
            hvp = tuple(full(h, v.shape) for h, v in zip(hv, wrt))
            return Derivatives(function, gradient, {}, hvp, vector, hints)
        hessian = hessian_from_gradient(gradient, wrt)
        return Derivatives(
            function,
            gradient,
            hessian,
            tuple(hvp_best(gradient, wrt, vector, hessian)),
            vector,
            hints,
        )


def _adjoint_hints(adj: dict, names: dict[Node, str], wrt) -> dict[Node, str]:
    """Names for the adjoints of named nodes: u -> du, the course's notation."""
    hints = dict(names)
    for node, name in list(names.items()) + [(v, v.attrs[0]) for v in wrt]:
        adjoint = adj.get(node)
        if adjoint is not None and adjoint.args:
            hints.setdefault(adjoint, "d" + name)
    return hints


def tangent_var(param: str, shape: tuple = ()) -> Node:
    """The JVP direction for a parameter; its name can never be a source identifier."""
    return var(f"t[{param}]", shape)


def array_specs(f: Function, names: dict[Node, str]) -> list[FunctionSpec]:
    """The generated functions of a function with array parameters or an array value.

    A scalar value gets f, f_grad, f_value_and_grad, f_hvp and f_jvp; an array
    value (a residual) gets f, f_jvp and f_vjp.
    """
    params = tuple((p, f.var_of(p)) for p in f.all_names)
    source = _quoted(f.source)
    specs = [FunctionSpec(f.name, params, f.body, source, names)]
    if not f.params:
        return specs
    wrt = f.param_nodes
    quote = f"\n\n{source}"
    jvp_spec = _jvp_spec(f, params, names)
    if f.body.shape:
        cotangent = var(f"u[{f.name}]", f.body.shape)
        with node_budget(task=f"differentiating {f.name}"):
            adj = adjoints(f.body, wrt, cotangent)
        vjp = tuple(full(adj.get(v, ZERO), v.shape) for v in wrt)
        vjp_doc = (
            f"The cotangent d{f.name} (shaped like {f.name}'s value) pulled back to "
            f"the parameters ({', '.join(f.params)}): d{f.name} @ J.{quote}"
        )
        vjp_params = params + ((f"d{f.name}", cotangent),)
        hints = _adjoint_hints(adj, names, wrt)
        vjp_spec = FunctionSpec(f.name + "_vjp", vjp_params, vjp, vjp_doc, hints)
        return specs + _jacobian_specs(f, params, names) + [jvp_spec, vjp_spec]
    d = differentiate(f, names)
    wrt_text = ", ".join(f.params)
    hessian = _hessian_spec(f, d, params, names)
    vparams = tuple((f"v{p}", v) for p, v in zip(f.params, d.vector))
    return specs + [
        FunctionSpec(
            f.name + "_grad", params, d.gradient,
            f"Gradient of {f.name}: the partials in ({wrt_text}), each shaped like "
            f"its parameter.{quote}",
            d.hints,
        ),
        FunctionSpec(
            f.name + "_value_and_grad", params, (f.body, d.gradient),
            f"Value and gradient of {f.name}: (value, partials in ({wrt_text})).{quote}",
            d.hints,
        ),
        FunctionSpec(
            f.name + "_hvp", params + vparams, _banded_hvp(d),
            f"Hessian of {f.name} times the direction "
            f"({', '.join(p for p, _ in vparams)}), without forming the Hessian.{quote}",
            names,
        ),
        *hessian,
        jvp_spec,
    ]  # fmt: skip


def _banded_hvp(d: Derivatives) -> tuple[Node, ...]:
    """H v; for one vector parameter with a banded Hessian, as in-place band terms.

    The vectorized Rosenbrock's H v then adds four slice products into one array
    (symgrad.banded.band_product), the schedule hand-written numpy uses, instead of
    padding two partial sums and adding them.
    """
    if len(d.vector) == 1:
        product = band_product(d.hvp[0], d.vector[0])
        if product is not None:
            return (product,)
    return d.hvp


# Past this many parameters a scalar function's JVP is its gradient dotted with the
# tangent: the gradient is built already, where a forward sweep would build a
# tangent for every node again (a third of differentiating Rosenbrock in 1,000
# variables). Below it the JVP stays one forward sweep, the dual numbers a reader
# can follow node by node.
FORWARD_SWEEP_PARAMETERS = 32

# Every generated function's docstring quotes its definition, up to this many
# characters; past it, its head and its length. Rosenbrock in 1,000 variables is
# a 50 KB line: six whole copies were a quarter of its module, for no reader.
QUOTE_CHARS = 1_000


def _quoted(source: str) -> str:
    """A definition as the docstrings quote it: whole, or its head and its length."""
    if len(source) <= QUOTE_CHARS:
        return source
    head = source[:QUOTE_CHARS].rsplit(" ", 1)[0]
    return f"{head} ...\n\n(a definition of {len(source):,} characters: see its source file)"


def _jvp_spec(
    f: Function,
    params,
    names: dict[Node, str],
    gradient: Sequence[Node] | None = None,
) -> FunctionSpec:
    """f_jvp: the value and the directional derivative (forward, or gradient · t)."""
    wrt = f.param_nodes
    tangents = tuple(tangent_var(p, v.shape) for p, v in zip(f.params, wrt))
    tparams = tuple((f"t{p}", t) for p, t in zip(f.params, tangents))
    from_gradient = gradient is not None and len(wrt) > FORWARD_SWEEP_PARAMETERS
    with node_budget(task=f"differentiating {f.name}"):
        if from_gradient:
            directional = _dot(gradient, tangents)
        else:
            (directional,) = jvp([f.body], wrt, tangents)
    how = "as the gradient · t" if from_gradient else "in one forward sweep"
    doc = (
        f"Value and directional derivative of {f.name} along "
        f"({', '.join(p for p, _ in tparams)}), {how}.\n\n{_quoted(f.source)}"
    )
    result = (f.body, full(directional, f.body.shape))
    # its body can call f_value_and_grad's where no entry of the sum was left out
    whole = from_gradient and not any(is_const(g, 0) for g in gradient)
    dot_of = f.name + "_value_and_grad" if whole else None
    return FunctionSpec(f.name + "_jvp", params + tparams, result, doc, names, dot_of)


def _dot(gradient: Sequence[Node], tangents: Sequence[Node]) -> Node:
    """sum_i g_i t_i over the gradient's structural nonzeros, in parameter order."""
    total = ZERO
    for g, t in zip(gradient, tangents):
        if not is_const(g, 0):
            total = add(total, mul(g, t))
    return total


def jacobian_blocks(f: Function) -> tuple[Node, ...]:
    """d value / d p for each parameter p, shaped value-shape + p-shape, in closed form.

    Each block is the coefficient of p's tangent in the forward derivative
    (symgrad.linear). Raises DifferentiationError where no closed form is known
    (a matrix parameter).
    """
    blocks = []
    for p, v in zip(f.params, f.param_nodes):
        tangent = tangent_var(p, v.shape)
        (directional,) = jvp([f.body], [v], [tangent])
        c = coefficient(directional, tangent)
        blocks.append(full(ZERO if c is None else c, f.body.shape + v.shape))
    return tuple(blocks)


def hessian_blocks(d: Derivatives) -> dict[tuple[int, int], Node]:
    """The Hessian's upper blocks in closed form: block (i, j) is d2f / dp_i dp_j.

    Block (i, j) is the coefficient of v_j in the i-th component of H v (forward
    over reverse, symgrad.linear), so logistic regression's w-w block is
    X.T @ (c[:, None] * X) / n and x @ A @ x's is A + A.T, never a matrix built entry
    by entry; a vector's own block that is banded (the vectorized Rosenbrock's
    tridiagonal one) is assembled from its diagonals (symgrad.banded). Structurally
    zero blocks are absent. Raises DifferentiationError
    where no closed form is known (a matrix parameter).
    """
    blocks = {}
    for i, row in enumerate(d.hvp):
        band = diagonals(row, d.vector[i])
        if band is not None:  # a vector's banded block: from its diagonals, O(n)
            blocks[i, i] = banded(band)
        for j in range(i + (band is not None), len(d.vector)):
            c = coefficient(row, d.vector[j])
            if c is not None:
                shape = d.function.param_nodes[i].shape + d.vector[j].shape
                blocks[i, j] = full(c, shape)
    return blocks


def _hessian_spec(f: Function, d: Derivatives, params, names) -> list[FunctionSpec]:
    """f_hessian over the parameters raveled and concatenated (scipy's layout)."""
    try:
        with node_budget(task=f"the Hessian of {f.name}"):
            blocks = hessian_blocks(d)
    except DifferentiationError:
        return []
    shapes = tuple(v.shape for v in f.param_nodes)
    layout = " + ".join(
        p + ("" if not s else f"[{', '.join(map(str, s))}]")
        for p, s in zip(f.params, shapes)
    )
    doc = (
        f"Hessian of {f.name}: an (N, N) matrix, N the size of ({layout}).\n\n"
        "The parameters are raveled in C order and concatenated, scipy.optimize's "
        f"layout.\n\n{_quoted(f.source)}"
    )
    grid = _block_grid(blocks, f.param_nodes)
    blocks_doc = (
        f"The Hessian of {f.name} by blocks over ({', '.join(f.params)}).\n\n"
        "Row i, column j holds d2/dp_i dp_j, shaped p_i's shape + p_j's; lower\n"
        f"blocks are upper ones transposed, structural zeros arrays of zeros.\n\n"
        f"{_quoted(f.source)}"
    )
    return [
        FunctionSpec(f.name + "_hessian", params, Blocks(shapes, blocks), doc, names),
        FunctionSpec(f.name + "_hessian_blocks", params, grid, blocks_doc, names),
    ]


def _block_grid(blocks: dict, wrt: tuple[Node, ...]) -> tuple[tuple[Node, ...], ...]:
    """Every block (i, j) of a symmetric block matrix from its upper ones."""
    rows = []
    for i, p in enumerate(wrt):
        row = []
        for j, q in enumerate(wrt):
            if (min(i, j), max(i, j)) not in blocks:
                row.append(full(ZERO, p.shape + q.shape))
            elif i <= j:
                row.append(blocks[i, j])
            else:  # (q, p) block's axes swapped: p's axes first
                upper = blocks[j, i]
                k = len(q.shape)
                perm = tuple(range(k, k + len(p.shape))) + tuple(range(k))
                row.append(transpose(upper, perm) if upper.shape else upper)
        rows.append(tuple(row))
    return tuple(rows)


def _jacobian_specs(f: Function, params, names) -> list[FunctionSpec]:
    """f_jacobian where every block has a closed form (see README: array functions)."""
    try:
        blocks = jacobian_blocks(f)
    except DifferentiationError:
        return []
    doc = (
        f"Jacobian of {f.name}: a block per parameter of ({', '.join(f.params)}).\n\n"
        f"Each block's shape is {f.name}'s shape followed by the parameter's.\n\n"
        f"{_quoted(f.source)}"
    )
    return [FunctionSpec(f.name + "_jacobian", params, blocks, doc, names)]


def function_specs(d: Derivatives, names: dict[Node, str]) -> list[FunctionSpec]:
    """The six generated functions of one source function (one if nothing is differentiated)."""
    f = d.function
    params = tuple((p, var(p)) for p in f.all_names)
    source = _quoted(f.source)
    specs = [FunctionSpec(f.name, params, f.body, source, names)]
    if not f.params:
        return specs
    wrt, n = ", ".join(f.params), len(f.params)
    quote = f"\n\n{source}"
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
        _jvp_spec(f, params, names, d.gradient),
    ]
    return specs


def module_spec(program: Program, source_name: str) -> ModuleSpec:
    """The generated module's plan for a whole lowered program."""
    specs: list[FunctionSpec] = []
    taken: dict[str, Function] = {}
    with remembering():
        for function in program.functions:
            specs += _function_specs(function, program.names, taken)
    # the functions are listed once, in __all__: a "Functions: ..." line here ran to
    # hundreds of characters (review 2026-12 §4.7)
    arrays = [bool(f.shapes or f.body.shape) for f in program.functions]
    doc = f"{MARKER} {__version__} from {source_name}. Do not edit: recompile instead.\n\n"
    if not all(arrays) or not arrays:
        doc += (
            "Scalars in, scalars out; arrays in, outputs have the inputs' broadcast "
            "shape.\n"
        )
    if any(arrays):
        doc += (
            "Functions of array parameters check each argument against its declared\n"
            "shape; each output has its own shape (a gradient its parameter's).\n"
        )
    return ModuleSpec(doc, tuple(specs))


def _function_specs(
    function: Function, names: dict[Node, str], taken: dict[str, Function]
) -> list[FunctionSpec]:
    """The generated functions of one source function, their Python names claimed."""
    if function.shapes or function.body.shape:
        generated = array_specs(function, names)
    else:
        generated = function_specs(differentiate(function, names), names)
    for spec in generated:
        _claim_python_name(spec.name, function, taken)
    return generated


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


def compile_source(text: str, file: str = "<input>", target: str = "numpy") -> str:
    """Compile expression-file text to the text of a standalone module for target.

    target is "numpy" (the default: the module needs numpy alone) or "numba"
    (loops compiled by numba; codegen/numba_target.py).
    """
    with collector.paused():
        program = lower(parse(text, file))
        module = render_target(module_spec(program, Path(file).name), target)
        # the graph dies here, while the collector is paused: freed after it resumes,
        # its weak references' callbacks set off a full collection over all of it
        del program
    if len(module) > MAX_MODULE_CHARS:
        raise LimitError(
            f"limit exceeded: the generated module would be {len(module):,} characters "
            f"(at most {MAX_MODULE_CHARS:,})"
        )
    return module


TARGETS = ("numpy", "numba")


def render_target(spec: ModuleSpec, target: str = "numpy") -> str:
    """The module text of spec for a target: "numpy" or "numba"."""
    if target == "numpy":
        return render(spec)
    if target == "numba":
        from codegen.numba_target import render_numba

        return render_numba(spec)
    raise ValueError(f"unknown target {target!r}: expected one of {TARGETS}")


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


def compile_file(path: str | Path, target: str = "numpy") -> str:
    """Compile an expression file to module text (for target: "numpy" or "numba")."""
    path = Path(path)
    text = decode_source(path.read_bytes(), str(path))
    return compile_source(text, str(path), target)


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
                "d", tuple((p, var(p)) for p in self.params), self.node, self.title()
            )
            self._module = load(
                render(ModuleSpec(f"{MARKER}: {self.title()}", (spec,))), "d", "<d>"
            )
        return self._module.d(*args, **kwargs)

    def title(self) -> str:
        """`d^10/dx^10 [sin(sin(x))]`: what this derivative is, on one line."""
        power = "" if self.order == 1 else f"^{self.order}"
        return f"d{power}/d{self.variable}{power} [{self.expression}]"

    def text(self, width: int | None = None, full: bool = True) -> str:
        """The formula from the graph, shared terms named once (see symgrad.views)."""
        from symgrad.views import derivative_text

        return derivative_text(self, width, full)

    def __repr__(self) -> str:
        return self.text(full=False)

    def _repr_latex_(self) -> str:
        from symgrad.views import derivative_latex

        return derivative_latex(self)

    def _repr_html_(self) -> str:
        from symgrad.views import derivative_html

        return derivative_html(self)

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


def _compiled(function: Function, names: dict[Node, str], target: str = "numpy"):
    from symgrad.cache import cache_key, cached_module, graph_fingerprint, module_source
    from symgrad.compiled import Compiled

    program = Program("<function>", [function], names)
    roots = [function.body, *names]
    key = cache_key(
        function.name, function.source, ",".join(function.params),
        ",".join(function.data), graph_fingerprint(roots),
        ",".join(names.values()), *([] if target == "numpy" else [target]),
    )  # fmt: skip
    spec = lambda: module_spec(program, "<function>")  # noqa: E731
    build = lambda: render_target(spec(), target)  # noqa: E731
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


def load_file(path: str | Path, target: str = "numpy") -> Namespace:
    """symgrad.load("model.sg"): one compiled function object per function in the file.

    target="numba" compiles the functions to loops with numba (an optional extra).
    """
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}: expected one of {TARGETS}")
    path = Path(path)
    text = decode_source(path.read_bytes(), str(path))
    program = lower(parse(text, str(path)))
    functions = {f.name: _compiled(f, program.names, target) for f in program.functions}
    return Namespace(functions, str(path))
