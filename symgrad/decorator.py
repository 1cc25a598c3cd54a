"""@symgrad.compile: trace a Python function, differentiate it, generate and load code.

The generated module is cached on disk (symgrad/cache.py) under a key made from
the traced operations, the source, the options and the versions, so a warm import
skips building the graph, differentiation and code generation.
"""

from __future__ import annotations

import inspect
import linecache
import numbers
from collections.abc import Callable, Sequence
from functools import cache
from typing import NamedTuple

from symgrad.cache import cache_key, cached_module, module_source
from symgrad.compiled import Compiled
from symgrad.program import LazyFunction, Program
from symgrad.annotations import declared
from symgrad.trace import EMPTY, NeedsRanks, Param, TracingError, record, signature_of


def compile(
    fn: Callable | None = None,
    *,
    wrt: Sequence[str] | None = None,
    target: str = "numpy",
):
    """Decorate a function of numbers or arrays: f(...), f.grad, f.hessian, f.source.

    Used bare (@symgrad.compile) or with options (@symgrad.compile(wrt=("x",))).
    Parameters without defaults are differentiated (or those named in wrt); a
    parameter with a numeric default, or annotated symgrad.Data, is data, passed
    through and not differentiated; any other default is fixed at its value.
    Array shapes come from annotations (symgrad.Array["n", "d"]) or, when array
    code (@, np.sum, ...) meets unannotated parameters, from the first call.
    target="numba" generates loops compiled by numba instead (codegen/numba_target.py).
    """
    if fn is None:
        return lambda f: compile(f, wrt=wrt, target=target)
    return compile_function(fn, wrt, target)


class Plan(NamedTuple):
    """What compiling fn needs besides its shapes: signature and parameter roles."""

    fn: Callable
    signature: tuple[Param, ...]
    params: tuple[str, ...]
    data: tuple[str, ...]
    fixed: dict
    order: tuple[str, ...]
    target: str = "numpy"


def compile_function(fn: Callable, wrt: Sequence[str] | None, target: str = "numpy"):
    """Trace, differentiate, generate and load fn (through the disk cache)."""
    signature = signature_of(fn)
    notes = declared(fn, signature) if getattr(fn, "__annotations__", None) else {}
    params, data, fixed = _classify(fn, signature, wrt, notes)
    order = tuple(p.name for p in signature if p.name not in fixed)
    plan = Plan(fn, signature, params, data, fixed, order, target)
    if not notes:  # scalars, unless array code needs ranks from the first call
        try:
            traced = record(fn, list(order), fixed, signature)
        except NeedsRanks:
            return _by_ranks(plan, {})
        return compiled_from(plan, traced, ())
    shapes = {n: notes[n].shape for n in order if n in notes}
    shapes = {n: shape for n, shape in shapes.items() if shape is not None}
    if len(shapes) < len(order):  # some ranks come from the first call
        return _by_ranks(plan, shapes)
    traced = record(fn, list(order), fixed, signature, shapes)
    return compiled_from(plan, traced, array_shapes(traced, order))


def _by_ranks(plan: Plan, shapes: dict):
    from symgrad.ranked import RankedFunction

    return RankedFunction(plan, shapes)


def array_shapes(traced, order: tuple[str, ...]) -> tuple[tuple[str, tuple], ...]:
    """(name, shape) of each array parameter, as the tape's var rows hold them."""
    found = {}
    for op, attrs, _ in traced.tape.rows:
        if op != "var":
            break
        if len(attrs) > 1:
            found[attrs[0]] = tuple(attrs[1])
    return tuple((n, found[n]) for n in order if n in found)


def compiled_from(plan: Plan, traced, shapes: tuple) -> Compiled:
    """The compiled function of a traced call (generated, or read from the cache)."""
    fn, fixed, order, params = plan.fn, plan.fixed, plan.order, plan.params
    name = _name_of(fn)
    source = _source_of(fn)
    # The key comes from the tape: a hit builds no graph (only a symbolic view of
    # the derivatives does, later). The source is part of the key too: the
    # generated docstrings quote it, so an edit that leaves the graph alone (a
    # comment, a spelling) must not reuse old text.
    key = cache_key(name, source, ",".join(params), ",".join(order), traced.key())
    key = key if plan.target == "numpy" else cache_key(key, plan.target)
    function = LazyFunction(
        name, params, plan.data, source, order, cache(traced.graph), shapes
    )
    file = getattr(fn, "__module__", None) or "<function>"

    def build() -> str:
        # Imported on a miss only: a warm start needs no differentiator or generator.
        from symgrad.api import module_spec, render_target

        program = Program(file, [function.resolve()], names())
        return render_target(module_spec(program, f"{file}.{name}"), plan.target)

    names = cache(traced.names) if traced.locals else dict
    module, _ = cached_module(key, name, build)
    compiled = Compiled(
        function,
        module,
        lambda: module_source(module, build),
        names if traced.locals else {},
        lambda: public_signature(inspect.signature(fn), fixed),
        defaults=_defaults(fn, plan.signature, fixed),
    )
    compiled.__wrapped__ = fn
    compiled.__doc__ = fn.__doc__
    compiled.__name__ = getattr(fn, "__name__", name)
    compiled.__qualname__ = getattr(fn, "__qualname__", name)
    compiled.__module__ = getattr(fn, "__module__", None)
    return compiled


def _classify(fn, signature: tuple[Param, ...], wrt: Sequence[str] | None, notes: dict):
    """(differentiated params, data params, fixed values) from the signature."""
    names = [p.name for p in signature]
    if names[:1] in (["self"], ["cls"]):
        raise TracingError(
            "methods cannot be compiled directly: compile a plain function of numbers "
            "and call it from the method"
        )
    if wrt is not None:
        unknown = [w for w in wrt if w not in names]
        if unknown:
            raise TracingError(
                f"wrt names {unknown}, which are not parameters of {fn.__name__}"
            )
    params, data, fixed = [], [], {}
    for p in signature:
        has_default = p.default is not EMPTY
        numeric = has_default and isinstance(p.default, numbers.Real)
        is_data = p.name in notes and notes[p.name].data
        if is_data and p.name in (wrt or ()):
            raise TracingError(
                f"'{p.name}' is annotated as data (symgrad.Data) and named in wrt"
            )
        if has_default and not numeric and p.name not in (wrt or ()):
            fixed[p.name] = p.default
        elif is_data:
            data.append(p.name)
        elif wrt is None:
            (data if has_default else params).append(p.name)
        else:
            (params if p.name in wrt else data).append(p.name)
    return tuple(params), tuple(data), fixed


def _defaults(fn: Callable, signature: tuple[Param, ...], fixed: dict) -> tuple | None:
    """fn's trailing defaults when it takes parameters as `def f(x, y, k=2.0)` does.

    Then a copy of each generated function with these defaults binds keywords and
    defaults exactly as fn would; else (None) calls are bound against fn's signature.
    """
    if fixed or hasattr(fn, "__wrapped__") or "__signature__" in vars(fn):
        return None
    if fn.__code__.co_posonlyargcount or any(p.keyword_only for p in signature):
        return None
    return tuple(p.default for p in signature if p.default is not EMPTY)


def public_signature(sig: inspect.Signature, fixed: dict) -> inspect.Signature:
    return sig.replace(
        parameters=[p for n, p in sig.parameters.items() if n not in fixed]
    )


def _name_of(fn: Callable) -> str:
    name = getattr(fn, "__name__", "f")
    return name if name.isidentifier() else "f"


def _source_of(fn: Callable) -> str:
    """fn's source text (decorators included), as inspect.getsource gives it."""
    code = getattr(fn, "__code__", None)
    module_globals = getattr(fn, "__globals__", None)
    lines = linecache.getlines(code.co_filename, module_globals) if code else []
    if lines and code.co_firstlineno <= len(lines):
        return _block(lines, code)
    return f"{getattr(fn, '__qualname__', 'function')} (source not available)"


def _block(lines: list[str], code) -> str:
    # inspect.getsource tokenizes, and its tokenizer's first use costs ~10 ms, more
    # than a warm cache hit: cut the block from the line table and indentation.
    # It runs from the first line (the first decorator) to the last line with
    # bytecode, then on over lines indented deeper than that first line
    # (the closing brackets of a statement that spans lines).
    first = code.co_firstlineno - 1
    last = max((line for _, _, line in code.co_lines() if line), default=first + 1)
    indent = _indent(lines[first])
    end = max(last, first + 1)
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > indent):
        end += 1
    return "".join(lines[first:end]).strip()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())
