"""Readable math for `symgrad show`: each function, its gradient and Hessian via sympy."""

from __future__ import annotations

from symgrad.api import differentiate
from symgrad.lower import lower
from symgrad.parser import parse
from symgrad.sympy_bridge import to_sympy


def describe_source(text: str, file: str, hessian: bool = False) -> str:
    """Every function of an expression file with its partials (and Hessian entries)."""
    program = lower(parse(text, file))
    lines: list[str] = []
    for function in program.functions:
        d = differentiate(function, program.names)
        head = f"{function.name}({', '.join(function.all_names)})"
        lines.append(f"{head} = {to_sympy(function.body)}")
        for param, partial in zip(function.params, d.gradient):
            lines.append(f"  d{function.name}/d{param} = {to_sympy(partial)}")
        if hessian:
            for (i, j), entry in sorted(d.hessian.items()):
                pi, pj = function.params[i], function.params[j]
                lines.append(f"  d2{function.name}/d{pi}d{pj} = {to_sympy(entry)}")
        lines.append("")
    return "\n".join(lines)
