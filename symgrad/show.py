"""Readable math for `symgrad show`: each function, its gradient and Hessian.

Printed in the expression language itself (`^`, `*`, `sigmoid`), straight from
the graph: intermediates and shared subexpressions are defined once on
`where` lines (`where u = b*c`), so the output is bounded by the graph's size
and each line could be pasted back into an expression file.
"""

from __future__ import annotations

from symgrad.api import differentiate
from symgrad.array_show import describe as describe_array
from symgrad.array_show import describe_hessian
from symgrad.lower import lower
from symgrad.parser import parse
from symgrad.views_expr import ASCII, Listing


def describe_source(text: str, file: str, hessian: bool = False) -> str:
    """Every function of an expression file with its partials (and Hessian entries)."""
    program = lower(parse(text, file))
    lines: list[str] = []
    for function in program.functions:
        if function.shapes or function.body.shape:
            lines += describe_array(function, program.names)
            if hessian:  # the closed-form blocks, under the gradient
                blocks = describe_hessian(function, program.names)[1:]
                if lines[-1:] == [""]:
                    lines.pop()
                lines += ["  Hessian, by blocks:"] * bool(blocks) + blocks
            continue
        d = differentiate(function, program.names)
        n = len(function.params)
        keys = [(i, j) for i in range(n) for j in range(i, n) if (i, j) in d.hessian]
        keys = keys if hessian else []
        roots = [function.body, *d.gradient, *(d.hessian[k] for k in keys)]
        body_names = {k: v for k, v in program.names.items() if k is not function.body}
        listing = Listing.of(roots, body_names, d.hints, ascii_only=True)
        data = f"; {', '.join(function.data)}" if function.data else ""
        head = f"{function.name}({', '.join(function.params)}{data})"
        texts = [_root(listing, k) for k in range(len(roots))]
        lines.append(f"{head} = {texts[0]}")
        defs = listing.definitions(ASCII, roots=True)
        lines += [f"  where {name} = {text}" for name, text in defs]
        for param, text in zip(function.params, texts[1 : 1 + n]):
            lines.append(f"  d{function.name}/d{param} = {text}")
        for (i, j), text in zip(keys, texts[1 + n :]):
            pi, pj = function.params[i], function.params[j]
            lines.append(f"  d2{function.name}/d{pi}d{pj} = {text}")
        lines.append("")
    return "\n".join(lines)


def _root(listing: Listing, k: int) -> str:
    """Root k's formula, or its name when other roots use it (defined on a where line)."""
    node = listing.roots[k]
    if node in listing.naming.names:
        return listing.naming.names[node]
    return listing.render(ASCII)(node)
