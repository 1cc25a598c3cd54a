"""The object symgrad.compile and symgrad.function return: callable, with derivatives."""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from codegen.names import python_name
from symgrad.graph import Node
from symgrad.program import Function, LazyFunction

if TYPE_CHECKING:
    from symgrad.api import Derivatives


class _LazySignature:
    """`__signature__`, computed on first use; None on the class, so inspect skips it."""

    # inspect.signature of the traced function costs more than a warm start's trace.
    def __get__(self, obj, owner=None):
        if obj is None:
            return None
        if callable(obj._signature):
            obj._signature = obj._signature()
        return obj._signature


class Compiled(functools.partial):
    """A compiled function: call it for the value; .grad, .hessian, .hvp and more.

    `f.grad` and `f.hessian` are views: call them to evaluate at a point, or show
    them (repr, or Jupyter's rich display) to see the symbolic derivative.
    """

    # A partial of the generated function: calling f is partial's C-level call,
    # with no Python frame between the caller and the generated code (a __call__
    # method costs one, ~0.1 us, as much as the fast path of a small function).

    def __new__(
        cls,
        function: Function | LazyFunction,
        module: types.ModuleType,
        source: str | Callable[[], str],
        names: dict[Node, str] | None = None,
        signature: inspect.Signature | Callable[[], inspect.Signature] | None = None,
        defaults: tuple | None = (),
    ):
        """Bind the generated value function once; see __init__ for the arguments."""
        generated = getattr(module, python_name(function.name))
        if defaults is not None and _parameters(generated) != function.all_names:
            defaults = None  # a name was mangled (np -> np_): keywords need binding
        if defaults is not None:
            self = super().__new__(cls, _with_defaults(generated, defaults))
        else:  # the binder needs the object: it reads the (lazy) signature
            arguments = lambda args, kwargs: self._arguments(args, kwargs)  # noqa: E731
            self = super().__new__(cls, _binder(generated, 0, arguments))
        self._defaults = defaults
        return self

    def __init__(
        self,
        function: Function | LazyFunction,
        module: types.ModuleType,
        source: str | Callable[[], str],
        names: dict[Node, str] | Callable[[], dict] | None = None,
        signature: inspect.Signature | Callable[[], inspect.Signature] | None = None,
        defaults: tuple | None = (),
    ):
        """A compiled function from its lowered function and generated module.

        `defaults`: the source's trailing parameter defaults when it takes its
        parameters as `def f(x, y, k=2.0)` does, else None (keyword-only or
        positional-only parameters: calls are bound against the signature).
        """
        self._function = function
        self.module = module
        self._source = source
        self._names = names or {}
        self._signature = signature or _signature(function)
        self.__name__ = function.name
        self.__qualname__ = function.name
        self.__doc__ = function.source
        self._positional = len(function.all_names)

    __signature__ = _LazySignature()

    @property
    def names(self) -> dict[Node, str]:
        """Source names of intermediates (a decorated array function's: on first use)."""
        if callable(self._names):
            self._names = self._names()
        return self._names

    @property
    def function(self) -> Function:
        """The lowered function: its parameters and body graph (built on first use)."""
        if isinstance(self._function, LazyFunction):
            self._function = self._function.resolve()
        return self._function

    def __get__(self, instance, owner=None):
        """Itself: on a class it acts as a static function, and help() sees a routine."""
        # pydoc documents a method descriptor as a function (its signature and
        # docstring); any other instance would be documented as its class.
        return self

    def _arguments(self, args: tuple, kwargs: dict) -> tuple:
        if not kwargs and len(args) == self._positional:
            return args
        bound = self.__signature__.bind(*args, **kwargs)
        bound.apply_defaults()
        return tuple(bound.arguments[name] for name in self._function.all_names)

    def caller(self, suffix: str) -> Callable:
        """The generated function f<suffix>, called with the source's arguments.

        The generated function itself (a copy with the source's defaults) when
        the source's parameters are its own; else a binder for keywords and
        defaults. Trailing positional arguments beyond the source's (an HVP's
        vector) pass through.
        """
        name = python_name(self._function.name + suffix)
        generated = getattr(self.module, name, None)
        if generated is None or not self._function.params:
            return _no_parameters(self._function.name)
        own = self._defaults is not None
        if own and (not self._defaults or not suffix.endswith("_hvp")):
            # An HVP's vector follows the point: defaults cannot sit before it.
            return _with_defaults(generated, self._defaults)
        tail = generated.__code__.co_argcount - self._positional
        return _binder(generated, tail, self._arguments)

    @cached_property
    def value_and_grad(self) -> Callable:
        """(value, gradient) at a point, computing shared subexpressions once."""
        return self.caller("_value_and_grad")

    @cached_property
    def hvp(self) -> Callable:
        """The Hessian times a vector: the point's arguments, then one entry per param."""
        return self.caller("_hvp")

    @property
    def source(self) -> str:
        """The generated module's text (a cache hit reads it on first use)."""
        if callable(self._source):
            self._source = self._source()
        return self._source

    @cached_property
    def derivatives(self) -> Derivatives:
        """The symbolic gradient, Hessian triangle and HVP graphs."""
        # Imported here: a warm cache hit never needs the differentiator.
        from symgrad.api import differentiate

        return differentiate(self.function, self.names)

    @cached_property
    def grad(self):
        """The gradient: call it to evaluate, show it to see the partials."""
        from symgrad.views import GradientView

        return GradientView(self)

    @cached_property
    def hessian(self):
        """The Hessian: call it to evaluate, show it to see the matrix."""
        from symgrad.views import HessianView

        return HessianView(self)

    @cached_property
    def graph(self):
        """The computation graph: show it, or .at(point) for values and adjoints."""
        from symgrad.views_graph import GraphView

        return GraphView(self)

    def __repr__(self) -> str:
        import shutil

        # one terminal line: `<symgrad function ` and `>` take 19 columns
        width = shutil.get_terminal_size((80, 24)).columns
        return f"<symgrad function {self.one_line(max(width - 19, 40))}>"

    def one_line(self, limit: int = 100) -> str:
        """The definition on one line, `f(x, y) = x^2*y + y + 2`, elided past limit."""
        if hasattr(self, "__wrapped__") and self._is_array():
            from symgrad.array_show import describe_value

            lines = describe_value(self.function, self.names)
            where = ", ".join(line.strip() for line in lines[1:])
            text = f"{lines[0]} where {where}" if where else lines[0]
            return text if len(text) <= limit else text[: limit - 1] + "…"
        if hasattr(self, "__wrapped__"):  # a decorated function: its traced body
            from symgrad.views_expr import ASCII, Listing

            f = self.function
            head = f"{f.name}({', '.join(f.all_names)})"
            listing = Listing.of([f.body], ascii_only=True)
            text = f"{head} = {listing.render(ASCII)(f.body)}"
            if listing.naming.order or len(text) > limit:
                return f"{head} = … ({listing.size} graph nodes)"
            return text
        text = " ".join(self.definition.split())
        if self.names:  # a file's intermediates: say what they are
            text = self._with_intermediates(text, limit)
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def _with_intermediates(self, text: str, limit: int) -> str:
        """`J(a, b, c) = 3*v where u = b*c, v = a + u`, if it fits on the line."""
        from symgrad.views_expr import ASCII, Listing

        body = self.function.body
        names = {n: s for n, s in self.names.items() if n is not body}
        listing = Listing.of([body], names, ascii_only=True)
        defs = ", ".join(f"{n} = {t}" for n, t in listing.definitions(ASCII))
        full = f"{text} where {defs}" if defs else text
        if len(full) <= limit:
            return full
        return f"{text} ({listing.size} graph nodes)"

    @property
    def definition(self) -> str:
        """The source definition, e.g. `f(x, y) = x^2*y + y + 2`."""
        return self._function.source

    def _is_array(self) -> bool:
        f = self.function
        return bool(f.shapes) or bool(f.body.shape)

    def _repr_latex_(self) -> str:
        if self._is_array():  # matrix notation, as the array views write it
            from symgrad.array_show import describe_value, latex_value

            return latex_value(describe_value(self.function, self.names))
        from symgrad.repl import latex_definition

        return latex_definition(self)

    def _repr_html_(self) -> str:
        from symgrad.repl import html_definition

        return html_definition(self)


def _signature(function: Function) -> inspect.Signature:
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Signature([inspect.Parameter(n, kind) for n in function.all_names])


def _with_defaults(fn: types.FunctionType, defaults: tuple) -> Callable:
    """fn itself, or a copy of it (same code) taking these trailing defaults."""
    if not defaults:
        return fn
    copy = types.FunctionType(
        fn.__code__, fn.__globals__, fn.__name__, defaults, fn.__closure__
    )
    copy.__qualname__, copy.__doc__, copy.__module__ = (
        fn.__qualname__, fn.__doc__, fn.__module__
    )  # fmt: skip
    return copy


def _parameters(fn: Callable) -> tuple[str, ...]:
    """The names of a plain Python function's positional parameters."""
    code = fn.__code__
    if code.co_posonlyargcount or code.co_kwonlyargcount or fn.__defaults__:
        return ()
    return code.co_varnames[: code.co_argcount]


def _binder(generated: Callable, tail: int, arguments: Callable) -> Callable:
    """generated, called with the source's arguments; `tail` more pass through."""
    total = generated.__code__.co_argcount

    def call(*args, **kwargs):
        if not kwargs and len(args) == total:  # the fast path: one frame
            return generated(*args)
        split = len(args) - tail  # an HVP's vector: one entry per param, last
        return generated(*arguments(args[:split], kwargs), *args[split:])

    call.__name__ = call.__qualname__ = generated.__name__
    call.__doc__ = generated.__doc__
    return call


def _no_parameters(name: str) -> Callable:
    def refuse(*args, **kwargs):
        raise TypeError(f"{name} has no differentiated parameters")

    return refuse
