"""The numba target: the same functions as the numpy target, as loops compiled by numba.

numpy evaluates one operation at a time and writes every temporary to memory; here
each generated function is scheduled into explicit loops that numba.njit compiles
(`cache=True`: the machine code is kept on disk beside the module, so the compile
cost is paid once per machine):

- a function of scalar parameters is one loop over the batch of points, the body
  of the numpy target's float twin inside it (the same statements, on floats);
  called with Python floats it runs that body once, compiled;
- a function of vector parameters (elementwise chains, slices, paddings and sums,
  as in rosenbrock_vector.sg) is fused into loops over the vector's entries by
  codegen/numba_loops.py, whose docstring holds the cost model;
- anything else (matrices, whose products stay numpy's `@` on BLAS; logsumexp;
  solves) is the numpy target's code, unchanged, and the module says so.

The contract is the numpy target's: the same signatures and results, scalars in
and scalars out, every output at the inputs' broadcast shape, float32 stays
float32, numpy's IEEE answers at domain edges (error_model="numpy": 1/0 is inf),
the same stable forms and kink conventions (the float twin's helpers, compiled).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import replace

from codegen import layout
from codegen.array_function import (
    ARRAY_HELPER_SOURCE,
    Blocks,
    array_function_lines,
    is_array_function,
)
from codegen.layout import INDENT, LINE_LENGTH, Tuple, collection
from codegen.module import (
    HELPER_SOURCE,
    RESERVED,
    FunctionSpec,
    ModuleSpec,
    Symmetric,
    docstring,
)
from codegen.names import python_name
from codegen.numba_loops import (
    EDGES_HELPER,
    ENTRY_HELPER,
    bare,
    fused_array_function,
    op_cost,
)
from codegen.printer import FLOAT, definition, expression
from codegen.schedule import Namer, schedule
from symgrad.banded import as_padded_sums
from symgrad.graph import Node, toposort

TARGET_NOTE = (
    "Target: numba. Each function is compiled by numba.njit (machine code cached on\n"
    "disk beside this module) into loops over the batch or over array entries;\n"
    "this module needs numba at run time."
)

# Parallel loops (numba.prange on every core) are used once a call does this many
# operations, weighted as in codegen/numba_loops.py (1 for +, 20 for exp): waking
# the threads costs tens of microseconds, and more on a loaded machine. Measured
# by `benchmarks/numba_target.py --threshold` on 2 cores; see benchmarks/README.md.
PARALLEL_WORK = 1_000_000

# Past this many statements a scalar function stays with the numpy target: numba's
# compile time grows faster than linearly with a function's size (Rosenbrock in
# 1,000 variables would take minutes to compile once).
MAX_STATEMENTS = 4_000

NUMBA_HELPER_SOURCE: dict[str, str] = {
    "_jit": '''
def _jit(function, parallel=False, inline="never"):
    """function compiled by numba.njit with numpy's float semantics (1/0 is inf).

    The machine code is cached on disk beside the module. A parallel copy gets a
    name of its own, so that the two never share a cache entry; a module built in
    memory, with no file to key the cache by, compiles without it.
    """
    _findable(function.__globals__)
    if parallel:
        name = function.__name__ + "_parallel"
        function = type(function)(function.__code__, function.__globals__, name)
        function.__qualname__ = name
    options = {"error_model": "numpy", "parallel": parallel, "inline": inline}
    try:
        return numba.njit(cache=True, **options)(function)
    except RuntimeError:  # no locator for a module without a file: no disk cache
        return numba.njit(**options)(function)
''',
    "_jit_inline": '''
def _jit_inline(function):
    """_jit, the body inlined where a loop calls it (measured: up to twice faster)."""
    return _jit(function, inline="always")
''',
    "_findable": '''
class _Globals:
    """A module's globals as an object, as sys.modules holds modules."""

    def __init__(self, namespace):
        self.__dict__ = namespace


def _findable(namespace):
    """Put this module's globals in sys.modules under its name, unless it is there.

    On a warm start numba's disk cache imports each compiled function's module by
    name; a module imported from a path, or built in memory, is not in sys.modules
    and the import would fail.
    """
    if namespace["__name__"] not in sys.modules:
        sys.modules[namespace["__name__"]] = _Globals(namespace)
''',
    "_threads_pay": '''
def _threads_pay():
    """Whether a core is idle: numba's parallel loops pay only then.

    On a loaded machine each parallel loop waits until all its threads are
    scheduled (milliseconds, measured); the one-minute load average tells.
    """
    try:
        return os.getloadavg()[0] + 1 <= numba.get_num_threads()
    except (AttributeError, OSError):  # no load average (Windows)
        return True
''',
    "_points": '''
def _points(*values):
    """The arguments as flat arrays of one float dtype over their broadcast points.

    Returns them, the dtype and the broadcast shape; an argument is copied only
    where it is broadcast or not contiguous.
    """
    dtype = np.result_type(*values, 1.0)
    arrays = [np.asarray(value, dtype) for value in values]
    shape = np.broadcast_shapes(*[a.shape for a in arrays])
    flat = [np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1) for a in arrays]
    return flat, dtype, shape
''',
}

_IMPORT_NUMBA = """try:
    import numba
except ImportError as exc:  # an optional dependency of symgrad: say which
    raise ImportError(
        "this module was generated by symgrad for the numba target: "
        'pip install numba (or "symgrad[numba]")'
    ) from exc"""

# the float twin's helpers, compiled: the same kink conventions on every point
_COMPILED_HELPERS = ("_sign1", "_sigmoid1", "_softplus1", "_max1", "_min1", "_step1")


def render_numba(spec: ModuleSpec) -> str:
    """The full text of the numba-target module for spec, laid out in black's style."""
    helpers: set[str] = {"_jit", "_jit_inline", "_findable", "_threads_pay"}
    parts: list[list[str]] = []
    fallbacks: list[str] = []
    numpy_helpers: dict[str, str] = {}  # the numpy code's, for kept functions
    for function in map(_without_band_products, spec.functions):
        leaves = _leaves(function.result)
        name = python_name(function.name)
        if is_array_function(function.params, leaves):
            lines = fused_array_function(function, leaves, helpers, docstring)
            if lines is None:
                fallbacks.append(name)
                lines = _numpy_array_function(function, leaves, helpers)
            parts.append(lines)
            continue
        too_big = len(toposort(leaves)) > MAX_STATEMENTS
        if not function.params or too_big:
            fallbacks.append(name)
            kept, code = _numpy_scalar_function(function)
            numpy_helpers.update(kept)
            parts.append([code])
            continue
        parts += _scalar_function(function, helpers)
    doc = spec.doc.rstrip("\n") + "\n\n" + TARGET_NOTE
    if fallbacks:
        kept = "Kept as the numpy target's code (not fused into loops): "
        doc += "\n\n" + "\n".join(textwrap.wrap(kept + ", ".join(fallbacks) + ".", 84))
    names = Tuple(
        tuple(repr(python_name(f.name)).replace("'", '"') for f in spec.functions), "[]"
    )
    sources = {**HELPER_SOURCE, **ARRAY_HELPER_SOURCE, **NUMBA_HELPER_SOURCE}
    sources["_entry"], sources["_edges"] = ENTRY_HELPER, EDGES_HELPER
    helper_text = []
    first = ("_findable", "_jit", "_jit_inline")  # the decorators, before their uses
    for helper in sorted(helpers, key=lambda h: (h not in first, h)):
        text = sources[helper].strip("\n")
        if helper in _COMPILED_HELPERS:
            text = "@_jit_inline\n" + text
        helper_text.append(text)
    helper_text += [numpy_helpers[h] for h in sorted(numpy_helpers) if h not in helpers]
    head = [
        docstring(doc, ""),
        "import math\nimport os\nimport sys\n\nimport numpy as np\n\n" + _IMPORT_NUMBA,
    ]
    head.append("\n".join(collection("__all__ = ", names, "")))
    text = "\n\n".join(head[:2]) + "\n\n" + "\n\n\n".join(head[2:] + helper_text)
    text += "\n\n\n" + "\n\n\n".join("\n".join(lines) for lines in parts) + "\n"
    # a docstring is one element of lines: black never rewraps its text
    if any(len(x) > LINE_LENGTH and '"""' not in x for lines in parts for x in lines):
        import black  # a safety net only, as in codegen/module.py

        text = black.format_str(text, mode=black.Mode())
    return text


def _without_band_products(function: FunctionSpec) -> FunctionSpec:
    """A banded HVP as its sum of padded slice products, which the loops fuse."""
    result = function.result
    if not isinstance(result, tuple) or not all(isinstance(r, Node) for r in result):
        return function
    if all(n.op != "band_times" for n in toposort(result)):
        return function
    return replace(function, result=tuple(as_padded_sums(result)))


def _leaves(result) -> list[Node]:
    if isinstance(result, Node):
        return [result]
    if isinstance(result, (Symmetric, Blocks)):
        return [result.entries[k] for k in sorted(result.entries)]
    return [leaf for item in result for leaf in _leaves(item)]


def _numpy_array_function(
    function: FunctionSpec, leaves: list[Node], helpers: set[str]
) -> list[str]:
    """The numpy target's text of an array function, with a comment saying why."""
    lines = array_function_lines(
        function.name, function.params, function.result, function.doc,
        function.hints, leaves, helpers, docstring,
    )  # fmt: skip
    return ["# numpy target: matrices and these array ops stay numpy (BLAS)"] + lines


def _numpy_scalar_function(function: FunctionSpec) -> tuple[dict[str, str], str]:
    """The numpy target's code of one scalar function: (its helpers by name, the rest).

    The helpers are kept apart: a helper the numba functions use too (_sign1, ...)
    is defined once, compiled, and the numpy code calls that one.
    """
    from codegen.module import render

    text = render(ModuleSpec("numpy target", (function,)))
    # after the docstring, imports and __all__: helpers, wrapper, bodies, twins
    blocks = text.rstrip("\n").split("\n\n\n")[1:]
    helpers = {}
    for block in blocks:
        name = block.split("(", 1)[0].removeprefix("def ")
        if block.startswith("def _") and name in HELPER_SOURCE:
            helpers[name] = block
    rest = [b for b in blocks if b not in helpers.values()]
    note = "# numpy target: too large a function for numba to compile quickly"
    return helpers, note + "\n" + "\n\n\n".join(rest)


def _scalar_function(function: FunctionSpec, helpers: set[str]) -> list[list[str]]:
    """[wrapper, point body, loop, dispatchers] of a function of scalar parameters."""
    name = python_name(function.name)
    namer = Namer(RESERVED | {"numba", "i", "result"})
    params = {node: namer.claim(python_name(p)) for p, node in function.params}
    pnames = list(params.values())
    leaves = _leaves(function.result)
    plan = schedule(leaves, params, function.hints, namer, 60)
    helpers.update(FLOAT.helpers[n.op] for n in plan.order if n.op in FLOAT.helpers)
    symmetric = isinstance(function.result, Symmetric)
    point, loop = f"_{name}_point", f"_{name}_loop"
    work = max(1, sum(op_cost(n) for n in plan.order if n.args))
    helpers.update(("_points", "_jit_inline"))
    return [
        _wrapper(function, name, pnames, leaves, work),
        _point_body(function, point, pnames, plan),
        _loop(function, name, pnames, leaves, point, symmetric),
        [
            f"_{name}_serial = _jit({loop})",
            f"_{name}_parallel = _jit({loop}, parallel=True)",
        ],
    ]


def _wrapper(
    function: FunctionSpec, name: str, pnames: list[str], leaves: list[Node], work: int
) -> list[str]:
    """The public function: floats to the compiled body, arrays to the loop."""
    lines = layout.call(f"def {name}(", pnames, "", "):")
    lines.append(INDENT + docstring(function.doc, INDENT))
    args = list(pnames)
    symmetric = isinstance(function.result, Symmetric)
    if symmetric:
        n = function.result.size
        args.append(f"np.zeros(({n}, {n}))")
    tests = [f"type({p}) is float" for p in pnames]
    lines += layout.condition("if", "and", tests, INDENT)
    lines += layout.call(f"return _{name}_point(", args, INDENT * 2)
    lines += layout.call("points, dtype, shape = _points(", pnames, INDENT)
    lines.append(f"{INDENT}size = points[0].size")
    if symmetric:
        n = function.result.size
        outs = [f"np.zeros((size, {n}, {n}), dtype)"]
    else:
        outs = ["np.empty(size, dtype)" for _ in leaves]
    lines += collection("outputs = ", Tuple(tuple(outs), "[]"), INDENT)
    # the threshold in points: PARALLEL_WORK operations, `work` of them a point
    threshold = -(-PARALLEL_WORK // work)
    lines += [
        f"{INDENT}loop = _{name}_serial",
        f"{INDENT}if size >= {threshold} and _threads_pay():  # {PARALLEL_WORK:,} operations",
        f"{INDENT * 2}loop = _{name}_parallel",
    ]
    lines.append(f"{INDENT}loop(*points, *outputs)")
    if symmetric:
        n = function.result.size
        lines.append(f"{INDENT}return outputs[0].reshape(shape + ({n}, {n}))[()]")
        return lines
    counter = iter(range(len(leaves)))
    structure = _shape_like(
        function.result, lambda: f"outputs[{next(counter)}].reshape(shape)[()]"
    )
    if isinstance(structure, str):
        return lines + [f"{INDENT}return {structure}"]
    return lines + collection("return ", structure, INDENT)


def _shape_like(result, next_text):
    """result's nested tuple structure with each leaf replaced by next_text()."""
    if isinstance(result, Node):
        return next_text()
    return Tuple(tuple(_shape_like(item, next_text) for item in result))


def _point_body(function: FunctionSpec, point: str, pnames: list[str], plan) -> list:
    """The statements on one point: the numpy target's float twin, compiled."""
    symmetric = isinstance(function.result, Symmetric)
    params = pnames + (["hessian"] if symmetric else [])
    lines = ["@_jit_inline"] + layout.call(f"def {point}(", params, "", "):")
    doc = "The statements on one point (floats): the numpy target's float twin."
    lines.append(INDENT + docstring(doc, INDENT))
    memo: dict = {}
    names = plan.names
    lines += [
        f"{INDENT}{target} = {bare(node, definition(node, names, memo, FLOAT))}"
        for target, node in plan.statements
    ]
    if symmetric:
        for (i, j), node in sorted(function.result.entries.items()):
            target = f"hessian[{i}, {j}]"
            if i != j:
                target += f" = hessian[{j}, {i}]"
            text = bare(node, expression(node, names, memo, FLOAT))
            lines.append(f"{INDENT}{target} = {text}")
        return lines + [f"{INDENT}return hessian"]
    out = lambda node: bare(node, expression(node, names, memo, FLOAT))  # noqa: E731
    if isinstance(function.result, Node):
        return lines + [f"{INDENT}return {out(function.result)}"]
    return lines + collection("return ", _as_tuple(function.result, out), INDENT)


def _as_tuple(result, out) -> Tuple:
    return Tuple(
        tuple(out(r) if isinstance(r, Node) else _as_tuple(r, out) for r in result)
    )


def _loop(
    function: FunctionSpec,
    name: str,
    pnames: list[str],
    leaves: Sequence[Node],
    point: str,
    symmetric: bool,
) -> list[str]:
    """One pass over the batch: the point body on each point, outputs stored."""
    namer = Namer(set(pnames) | {"numba"})
    index, result = namer.claim("i"), namer.claim("result")
    outs = [namer.claim("hessian" if symmetric else f"out{k}") for k in range(
        1 if symmetric else len(leaves))]  # fmt: skip
    lines = layout.call(f"def _{name}_loop(", pnames + outs, "", "):")
    doc = "One pass over the batch: the point body on each point."
    lines.append(INDENT + docstring(doc, INDENT))
    lines.append(f"{INDENT}for {index} in numba.prange({pnames[0]}.shape[0]):")
    args = [f"{p}[{index}]" for p in pnames]
    if symmetric:
        args.append(f"{outs[0]}[{index}]")
        return lines + layout.call(f"{point}(", args, INDENT * 2)
    lines += layout.call(f"{result} = {point}(", args, INDENT * 2)
    paths = _paths(function.result, result)
    for k, path in enumerate(paths):
        lines.append(f"{INDENT * 2}{outs[k]}[{index}] = {path}")
    return lines


def _paths(result, prefix: str) -> list[str]:
    """The subscript that reaches each leaf of a (nested) result tuple, in order."""
    if isinstance(result, Node):
        return [prefix]
    return [p for k, item in enumerate(result) for p in _paths(item, f"{prefix}[{k}]")]
