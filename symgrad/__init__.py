"""symgrad: exact derivatives of math, compiled to standalone numpy modules.

The public API (loaded on first use, so `import symgrad` stays light):
    compile_source(text, file)  expression-file text -> generated module text
    compile_file(path)          an expression file -> generated module text
    diff(expression, variable, order=1)  an n-th derivative to show and call
    to_sympy(node)              a graph node as a sympy expression
"""

__version__ = "0.1.0"

_EXPORTS = {
    "compile_source": "symgrad.api",
    "compile_file": "symgrad.api",
    "diff": "symgrad.api",
    "Derivative": "symgrad.api",
    "to_sympy": "symgrad.sympy_bridge",
    "SymgradError": "symgrad.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    """Import a public name's module on first access (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'symgrad' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
