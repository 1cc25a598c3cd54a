"""Readable math for `symgrad show`: each function, its gradient and Hessian via sympy."""

from __future__ import annotations

from symgrad.api import differentiate
from symgrad.array_show import describe as describe_array
from symgrad.lower import lower
from symgrad.parser import parse
from symgrad.sympy_bridge import to_sympy


def describe_source(text: str, file: str, hessian: bool = False) -> str:
    """Every function of an expression file with its partials (and Hessian entries)."""
    program = lower(parse(text, file))
    lines: list[str] = []
    for function in program.functions:
        if function.shapes or function.body.shape:
            lines += describe_array(function, program.names)
            continue
        d = differentiate(function, program.names)
        data = f"; {', '.join(function.data)}" if function.data else ""
        head = f"{function.name}({', '.join(function.params)}{data})"
        lines.append(f"{head} = {to_sympy(function.body)}")
        for param, partial in zip(function.params, d.gradient):
            lines.append(f"  d{function.name}/d{param} = {to_sympy(partial)}")
        if hessian:
            n = len(function.params)
            for i, j in ((i, j) for i in range(n) for j in range(i, n)):
                pi, pj = function.params[i], function.params[j]
                entry = d.hessian.get((i, j))
                shown = to_sympy(entry) if entry is not None else "0"
                lines.append(f"  d2{function.name}/d{pi}d{pj} = {shown}")
        lines.append("")
    return "\n".join(lines)
