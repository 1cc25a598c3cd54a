"""scipy.optimize on a compiled function: fun, jac, hess, hessp over one flat parameter vector.

`scipy_objective(f, **data)` binds the data arguments of a compiled function (from
symgrad.load, symgrad.function or @symgrad.compile) and exposes its generated
derivatives in the form scipy.optimize.minimize takes them: every differentiated
parameter raveled in C order and concatenated, in parameter order (the layout of
the generated f_hessian). scipy calls fun(x) and then jac(x) at the same x: the
value and the gradient are computed once, together, by f_value_and_grad.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from codegen.names import python_name
from symgrad.errors import SymgradError
from symgrad.shapes import split


class ScipyObjective:
    """fun, jac, hess and hessp of a compiled function on a flat parameter vector."""

    def __init__(self, compiled, data: Mapping[str, object]):
        function = compiled.function
        function.check_names(data)
        self.params = function.params
        self._function = function
        self._data = [np.asarray(data[name], dtype=float) for name in function.data]
        self._declared = {p: function.var_of(p).shape for p in function.params}
        self._sizes = self._bind_sizes(function, data)
        self._from_data = set(self._sizes)
        module, name = compiled.module, python_name(function.name)
        self._value_and_grad = getattr(module, name + "_value_and_grad")
        self._hessian = getattr(module, name + "_hessian", None)
        self._hvp = getattr(module, name + "_hvp")
        self._last: tuple[np.ndarray, float, np.ndarray] | None = None

    @staticmethod
    def _bind_sizes(function, data: Mapping[str, object]) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for name in function.data:
            for dim, size in zip(function.var_of(name).shape, np.shape(data[name])):
                if isinstance(dim, str):
                    sizes.setdefault(dim, size)
        return sizes

    # ---------------------------------------------------------------- layout

    def _shape(self, param: str) -> tuple[int, ...]:
        shape = []
        for dim in self._declared[param]:
            name, offset = split(dim)
            if name is not None and name not in self._sizes:
                raise SymgradError(
                    f"the size {name} of {param} is not known yet: give starting "
                    "values with x0(...) first"
                )
            shape.append(offset if name is None else self._sizes[name] + offset)
        return tuple(shape)

    def x0(self, **params) -> np.ndarray:
        """The flat vector of starting values given by name (their shapes bind sizes)."""
        missing = [p for p in self.params if p not in params]
        if missing:
            raise SymgradError(f"no starting value for {', '.join(missing)}")
        for name in self.params:
            for dim, size in zip(self._declared[name], np.shape(params[name])):
                if isinstance(dim, str) and dim not in self._from_data:
                    self._sizes[dim] = size  # a new start may change the problem
        self._last = None
        return np.concatenate(
            [np.ravel(np.asarray(params[p], dtype=float)) for p in self.params]
        )

    def unflatten(self, x: np.ndarray) -> dict[str, np.ndarray | float]:
        """The parameters by name from a flat vector (arrays shaped as declared)."""
        out, at = {}, 0
        for name in self.params:
            shape = self._shape(name)
            size = math.prod(shape)
            part = np.asarray(x[at : at + size])
            out[name] = part.reshape(shape) if shape else float(part[0])
            at += size
        if at != len(x):
            raise SymgradError(f"expected a vector of {at} entries, got {len(x)}")
        return out

    def _arguments(self, x: np.ndarray) -> list:
        values = self.unflatten(x)
        return [values[p] for p in self.params] + self._data

    # ---------------------------------------------------------------- scipy's API

    def _evaluate(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        last = self._last
        if last is None or not np.array_equal(last[0], x):
            value, grad = self._value_and_grad(*self._arguments(x))
            flat = np.concatenate([np.ravel(g) for g in grad])
            self._last = last = (np.array(x, dtype=float), float(value), flat)
        return last[1], last[2]

    def fun(self, x: np.ndarray) -> float:
        """The value at x (the gradient is computed with it and kept for jac)."""
        return self._evaluate(x)[0]

    def jac(self, x: np.ndarray) -> np.ndarray:
        """The gradient at x, flat."""
        return self._evaluate(x)[1].copy()

    def hess(self, x: np.ndarray) -> np.ndarray:
        """The Hessian at x, (N, N)."""
        if self._hessian is None:
            raise SymgradError(
                f"{self._function.name} has no closed-form Hessian (a matrix "
                "parameter inside solve); use hessp, or a method that needs only "
                "the gradient"
            )
        return np.asarray(self._hessian(*self._arguments(x)), dtype=float)

    def hessp(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        """The Hessian at x times p, without forming the Hessian."""
        direction = self.unflatten(p)
        vector = [direction[name] for name in self.params]
        out = self._hvp(*self._arguments(x), *vector)
        return np.concatenate([np.ravel(h) for h in out])


def scipy_objective(compiled, **data) -> ScipyObjective:
    """fun/jac/hess/hessp, x0 and unflatten for scipy.optimize.minimize, data bound."""
    return ScipyObjective(compiled, data)
