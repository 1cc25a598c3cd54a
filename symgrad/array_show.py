"""`symgrad show` for array functions: the value and gradient in matrix notation.

Shown from symgrad's own graph (sympy has no form for most array ops): shared
subexpressions get a name, the file's intermediates and their adjoints keep theirs
(z, dz), and the text is the generated code's, spelled as the expression language
writes it (`X.T @ dz`, `sum(dZ2, 1, keepdims)`, `sigmoid(z)`, `^`).
"""

from __future__ import annotations

import re

from codegen.array_function import reverse_sweep_order
from codegen.printer import definition, expression
from codegen.schedule import Namer, schedule
from symgrad.api import array_specs
from symgrad.graph import Node
from symgrad.program import Function

# numpy spellings of the generated code -> the expression language's
_SPELLINGS = (
    (re.compile(r"np\.logaddexp\(0\.0, "), "softplus("),
    (re.compile(r"\b_(sigmoid|softplus|logsumexp|softmax)\("), r"\1("),
    (
        re.compile(r"\bnp\.(sum|exp|log|log1p|expm1|sqrt|tanh|sinh|cosh|abs|sign)\("),
        r"\1(",
    ),
    (re.compile(r"\bnp\.arc(sin|cos|tan)\("), r"a\1("),
    (re.compile(r"\bnp\.(\w+)\("), r"\1("),
    (re.compile(r", axis=(\(?[0-9, ]+\)?)"), r", \1"),
    (re.compile(r", keepdims=True"), ", keepdims"),
    (re.compile(r"\*\*"), "^"),
    (re.compile(r"\b(\d+)\.0\b"), r"\1"),
)


def readable(text: str) -> str:
    """Generated numpy text in the expression language's spelling."""
    for pattern, replacement in _SPELLINGS:
        text = pattern.sub(replacement, text)
    return text


def describe(function: Function, names: dict[Node, str]) -> list[str]:
    """The function, its partials (with the shapes of their parameters) and the names they use."""
    specs = {s.name: s for s in array_specs(function, names)}
    lines = [function.source]
    grad = specs.get(function.name + "_grad") or specs.get(function.name + "_jacobian")
    if grad is None:  # an array value without a closed-form Jacobian
        grad = specs[function.name + "_vjp"]
    partials = list(grad.result)
    namer = Namer(set(function.all_names) | {f"d{function.name}"})
    params = {node: name for name, node in grad.params}
    plan = schedule(reverse_sweep_order(partials), params, grad.hints, namer)
    memo: dict = {}
    label = {node: param for param, node in zip(function.params, partials)}
    for target, node in plan.statements:
        text = readable(definition(node, plan.names, memo))
        if node in label:
            target = f"∂{function.name}/∂{label.pop(node)}"
        lines.append(f"  {target} = {text}")
    for param, node in zip(function.params, partials):
        if node in label:
            text = readable(expression(node, plan.names, memo))
            lines.append(f"  ∂{function.name}/∂{param} = {text}")
    return lines + [""]
