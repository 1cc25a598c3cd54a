"""symgrad: exact derivatives of math, compiled to standalone numpy modules.

The public API (loaded on first use, so `import symgrad` stays light):
    compile_source(text, file)  expression-file text -> generated module text
    compile_file(path)          an expression file -> generated module text
    diff(expression, variable, order=1)  an n-th derivative to show and call
    compile                     decorator: f(...), f.grad, f.hessian, f.hvp, f.source
    Array["n", "d"], Data[...]  shapes (and the data role) of a decorated function's
                                parameters, as annotations
    function(text_or_sympy)     the same object from "f(x, y) = ..." or sympy
    load(path)                  every function of an expression file, by name
    to_sympy(obj)               expression, gradient and Hessian as sympy objects
    scipy_objective(f, **data)  fun, jac, hess, hessp for scipy.optimize.minimize
"""

__version__ = "0.1.0"

_EXPORTS = {
    "compile_source": "symgrad.api",
    "compile_file": "symgrad.api",
    "diff": "symgrad.api",
    "Derivative": "symgrad.api",
    "compile": "symgrad.decorator",
    "Array": "symgrad.annotations",
    "Data": "symgrad.annotations",
    "function": "symgrad.api",
    "load": ("symgrad.api", "load_file"),
    "to_sympy": ("symgrad.repl", "to_sympy"),
    "SymgradError": "symgrad.errors",
    "scipy_objective": "symgrad.optimize",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    """Import a public name's module on first access (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'symgrad' has no attribute {name!r}")
    import importlib

    module, attribute = (
        _EXPORTS[name] if isinstance(_EXPORTS[name], tuple) else (_EXPORTS[name], name)
    )
    return getattr(importlib.import_module(module), attribute)
