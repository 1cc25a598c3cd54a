"""A decorated array function whose shapes come from its calls: one build per ranks.

The first call with given ranks traces the function with symbolic sizes named
after each parameter and axis (X_0, X_1; an axis of size 1 stays 1, as numpy
broadcasts it), merges the sizes an op forces equal, and compiles (through the
disk cache). A later call with the same ranks, whatever its sizes, reuses that
code; the generated code checks the sizes against each other.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np

from symgrad.compiled import Compiled
from symgrad.decorator import Plan, array_shapes, compiled_from, public_signature
from symgrad.trace import TracingError, record
from symgrad.trace_arrays import Sizes


class RankedFunction:
    """f(...), f.grad, f.hessian, f.hvp, f.graph: each call picks its ranks' build.

    Showing a view (repr, LaTeX) shows the most recent build's.
    """

    def __init__(self, plan: Plan, declared: dict[str, tuple]) -> None:
        """plan: the signature and roles; declared: the annotated shapes."""
        self._plan = plan
        self._declared = declared
        self._builds: dict[tuple, Compiled] = {}
        self._latest: Compiled | None = None
        self._signature: inspect.Signature | None = None
        fn = plan.fn
        self.__wrapped__ = fn
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", "f")
        self.__qualname__ = getattr(fn, "__qualname__", self.__name__)
        self.__module__ = getattr(fn, "__module__", None)

    @property
    def __signature__(self) -> inspect.Signature:
        """The decorated function's signature (fixed parameters left out)."""
        if self._signature is None:
            sig = inspect.signature(self._plan.fn)
            self._signature = public_signature(sig, self._plan.fixed)
        return self._signature

    # ---- calls
    def values(self, args: tuple, kwargs: dict) -> tuple:
        """The arguments in parameter order (keywords and defaults bound)."""
        if not kwargs and len(args) == len(self._plan.order):
            return args
        bound = self.__signature__.bind(*args, **kwargs)
        bound.apply_defaults()
        return tuple(bound.arguments[name] for name in self._plan.order)

    def build_for(self, values: tuple) -> Compiled:
        """The compiled function for these arguments' ranks (built on first use)."""
        shapes = [np.shape(v) for v in values]
        key = tuple(
            (len(s), tuple(d == 1 for d in s))
            for name, s in zip(self._plan.order, shapes)
            if name not in self._declared
        )
        compiled = self._builds.get(key)
        if compiled is None:
            compiled = self._builds[key] = self._build(shapes)
        self._latest = compiled
        return compiled

    def _build(self, actual: list[tuple]) -> Compiled:
        plan = self._plan
        taken = set(plan.order) | {
            d for s in self._declared.values() for d in s if isinstance(d, str)
        }
        shapes, sizes, inferred = dict(self._declared), {}, []
        for name, shape in zip(plan.order, actual):
            if name in self._declared:
                for dim, size in zip(self._declared[name], shape):
                    if isinstance(dim, str):
                        sizes.setdefault(dim, size)
                continue
            dims = []
            for axis, size in enumerate(shape):
                if size == 1:  # numpy broadcasts an axis of 1: it stays 1
                    dims.append(1)
                    continue
                dim = f"{name}_{axis}"
                while dim in taken:
                    dim += "_"
                taken.add(dim)
                dims.append(dim)
                inferred.append(dim)
                sizes[dim] = size
            shapes[name] = tuple(dims)
        traced = record(
            plan.fn, list(plan.order), plan.fixed, plan.signature, shapes,
            Sizes(sizes, inferred),
        )  # fmt: skip
        return compiled_from(plan, traced, array_shapes(traced, plan.order))

    def __call__(self, *args, **kwargs):
        values = self.values(args, kwargs)
        return self.build_for(values)(*values)

    def latest(self) -> Compiled:
        """The most recent build: what a shown view shows."""
        if self._latest is None:
            raise TracingError(
                f"{self.__name__}: its array shapes come from the first call; call it "
                "once (or annotate its parameters with symgrad.Array[...])"
            )
        return self._latest

    # ---- derivatives and views, by the ranks of each call
    @property
    def grad(self) -> _ByRanks:
        """The gradient: call it at a point, show it to see the partials."""
        return _ByRanks(self, "grad")

    @property
    def hessian(self) -> _ByRanks:
        """The Hessian: call it at a point for the matrix, show it to see it."""
        return _ByRanks(self, "hessian")

    @property
    def value_and_grad(self) -> _ByRanks:
        """(value, gradient) at a point."""
        return _ByRanks(self, "value_and_grad")

    @property
    def hvp(self) -> _ByRanks:
        """The Hessian times a vector: the point's arguments, then one entry per param."""
        return _ByRanks(self, "hvp")

    @property
    def graph(self) -> _ByRanks:
        """The computation graph of the latest build; .at(point) for values."""
        return _ByRanks(self, "graph")

    def __getattr__(self, name: str):
        # source, function, derivatives, module, ...: the latest build's
        if name.startswith("_"):
            if name.startswith("_repr_") and self._latest is not None:
                return getattr(self._latest, name)
            raise AttributeError(name)
        return getattr(self.latest(), name)

    def __repr__(self) -> str:
        if self._latest is None:
            names = ", ".join(self._plan.order)
            return f"<symgrad function {self.__name__}({names}): shapes at first call>"
        return repr(self._latest)


# The views' methods that take a point: they pick the build of its ranks.
_AT_A_POINT = {"at", "eigenvalues", "definiteness"}


class _ByRanks:
    """A view (f.grad, f.hessian, ...) whose calls pick the build of their ranks."""

    def __init__(self, owner: RankedFunction, attribute: str) -> None:
        self._owner, self._attribute = owner, attribute

    def _view(self, compiled: Compiled):
        return getattr(compiled, self._attribute)

    def __call__(self, *args, **kwargs):
        owner = self._owner
        if self._attribute == "hvp":  # the point, then one vector entry per param
            count = len(owner._plan.order)
            point, vector = owner.values(args[:count], kwargs), args[count:]
            return owner.build_for(point).hvp(*point, *vector)
        point = owner.values(args, kwargs)
        return self._view(owner.build_for(point))(*point)

    def _at_a_point(self, name: str) -> Callable:
        def method(*args, **kwargs):
            point = self._owner.values(args, kwargs)
            return getattr(self._view(self._owner.build_for(point)), name)(*point)

        return method

    def __getattr__(self, name: str):
        if name in _AT_A_POINT:
            return self._at_a_point(name)
        if name.startswith("_") and not name.startswith("_repr_"):
            raise AttributeError(name)
        if name.startswith("_repr_") and self._owner._latest is None:
            raise AttributeError(name)
        return getattr(self._view(self._owner.latest()), name)

    def __repr__(self) -> str:
        if self._owner._latest is None:
            return f"{self._owner.__name__}.{self._attribute}: shapes at first call"
        return repr(self._view(self._owner.latest()))
