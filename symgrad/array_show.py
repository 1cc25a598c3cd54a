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
    (
        re.compile(r"\b_(sigmoid|softplus|logsumexp|softmax|banded|band_times)\("),
        r"\1(",
    ),
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


def signature_line(function: Function) -> str:
    """`loss(w[d], b; X[n, d], y[n])`: the parameters with their shapes, data last."""
    shapes = dict(function.shapes)

    def param(name: str) -> str:
        shape = shapes.get(name)
        return f"{name}[{', '.join(map(str, shape))}]" if shape else name

    params = ", ".join(param(p) for p in function.params)
    data = ", ".join(param(p) for p in function.data)
    return f"{function.name}({params}{'; ' + data if data else ''})"


_TOKEN = re.compile(
    r"(?P<partial>∂²?\w+/∂\w+(?:∂\w+)?)|(?P<name>[A-Za-z_]\w*)(?P<T>\.T)?"
    r"|(?P<number>\d+(?:\.\d+)?(?:e[+-]?\d+)?)|(?P<other>\S)"
)
# the functions of the readable text, as LaTeX writes them
_LATEX_FUNCTIONS = {"sigmoid": r"\sigma", "exp": r"\exp", "log": r"\log",
                    "tanh": r"\tanh", "sin": r"\sin", "cos": r"\cos"}  # fmt: skip
_LATEX_SYMBOLS = {"@": r"\,", "*": r" \odot ", "(": r"\left(", ")": r"\right)",
                  ",": r",\,", "−": "-"}  # fmt: skip


def _latex_name(name: str) -> str:
    base, _, rest = name.partition("_")
    match = re.fullmatch(r"([A-Za-z]+)(\d*)", base)
    if match is None:
        escaped = name.replace("_", "\\_")
        return rf"\mathit{{{escaped}}}"
    letters, digits = match.groups()
    out = letters if len(letters) == 1 else rf"\mathit{{{letters}}}"
    index = ",".join(x for x in (digits, rest.replace("_", "")) if x)
    return f"{out}_{{{index}}}" if index else out


def _latex_partial(text: str) -> str:
    """`∂f/∂w` or `∂²f/∂w∂b` as a LaTeX fraction."""
    second = text.startswith("∂²")
    f, wrt = text[2 if second else 1 :].split("/∂", 1)
    below = r"\,".join(rf"\partial {_latex_name(p)}" for p in wrt.split("∂"))
    top = rf"\partial^2 {_latex_name(f)}" if second else rf"\partial {_latex_name(f)}"
    return rf"\frac{{{top}}}{{{below}}}"


# c[:, None] * X is diag(c) X: the column broadcast is no part of the math
_NEW_AXES = re.compile(r"\[:, None\]")


def latex_expression(text: str) -> str:
    """Readable array text (`X.T @ dz`, `sum(dz)`) as LaTeX math."""
    text = _NEW_AXES.sub("", text)
    out, tokens = [], list(_TOKEN.finditer(text))
    for k, token in enumerate(tokens):
        following = tokens[k + 1].group() if k + 1 < len(tokens) else ""
        if token.group("partial"):
            out.append(_latex_partial(token.group("partial")))
        elif token.group("name"):
            name = token.group("name")
            if following == "(":
                out.append(_LATEX_FUNCTIONS.get(name, rf"\operatorname{{{name}}}"))
            elif name == "keepdims":
                out.append(r"\mathrm{keepdims}")
            else:
                out.append(_latex_name(name))
            if token.group("T"):
                out.append(r"^{\top}")
        elif token.group("number"):
            number = token.group("number")
            out.append(f"{{{number}}}" if out and out[-1] == "^" else number)
        elif token.group() == "*" and k and tokens[k - 1].group("number"):
            out.append(r"\,")  # a number times an array: no Hadamard product
        else:
            out.append(_LATEX_SYMBOLS.get(token.group(), token.group()))
    return " ".join(out).replace(" ^ ", "^")


def latex(lines: list[str]) -> str:
    """describe's lines as one LaTeX array: the signature, then `target = text` rows."""
    head, rows = lines[0], []
    for line in lines[1:]:
        if " = " in line:
            target, text = line.strip().split(" = ", 1)
            rows.append(rf"{latex_expression(target)} &=& {latex_expression(text)}")
    body = r" \\ ".join(rows)
    title = head.replace("\\", "").replace("{", "(").replace("}", ")")
    return (
        rf"$\displaystyle \text{{{title}}}:\quad "
        rf"\begin{{array}}{{rcl}} {body} \end{{array}}$"
    )


def describe_hessian(function: Function, names: dict[Node, str]) -> list[str]:
    """The function and its Hessian's upper blocks, ∂²f/∂p∂q, in matrix notation.

    Each block is the closed form the generated f_hessian_blocks computes (the
    coefficient of q's direction in the Hessian-vector product), shaped p + q.
    Empty when no closed form is known (a matrix parameter's block).
    """
    from symgrad.api import differentiate, hessian_blocks
    from symgrad.errors import DifferentiationError

    if function.body.shape:  # an array value has Jacobians, not a Hessian
        return []
    try:
        blocks = hessian_blocks(differentiate(function, names))
    except DifferentiationError:
        return []
    params = function.params
    roots = [node for _, node in sorted(blocks.items())]
    namer = Namer(set(function.all_names) | {f"d{function.name}"})
    args = {function.var_of(p): p for p in function.all_names}
    plan = schedule(roots, args, names, namer)
    memo: dict = {}
    label = {}
    for (i, j), node in sorted(blocks.items()):
        label.setdefault(node, f"∂²{function.name}/∂{params[i]}∂{params[j]}")
    lines = [function.source]
    for target, node in plan.statements:
        text = readable(definition(node, plan.names, memo))
        lines.append(f"  {label.pop(node, target)} = {text}")
    for (i, j), node in sorted(blocks.items()):
        text = readable(expression(node, plan.names, memo))
        lines.append(f"  ∂²{function.name}/∂{params[i]}∂{params[j]} = {text}")
    zeros = len(params) * (len(params) + 1) // 2 - len(blocks)
    if zeros:
        lines.append(f"  ({zeros} upper block{'s' if zeros > 1 else ''} zero)")
    return lines + [""]


def describe_value(function: Function, names: dict[Node, str]) -> list[str]:
    """`loss(w[d], b; X[n, d], y[n]) = mean(softplus(z) - y*z)`, then `z = X @ w + b`."""
    namer = Namer(set(function.all_names) | {function.name})
    params = {function.var_of(p): p for p in function.all_names}
    plan = schedule([function.body], params, names, namer)
    memo: dict = {}
    where = []
    for target, node in plan.statements:
        if node is not function.body:
            where.append(f"  {target} = {readable(definition(node, plan.names, memo))}")
    value = readable(expression(function.body, plan.names, memo))
    return [f"{signature_line(function)} = {value}"] + where


def latex_value(lines: list[str]) -> str:
    """describe_value's lines as LaTeX: the definition, then `where` its names."""
    head, value = lines[0].split(" = ", 1)
    name, params = head.split("(", 1)
    title = params.replace("\\", "").replace("{", "(").replace("}", ")")
    rows = [
        rf"{latex_expression(t)} &=& {latex_expression(x)}"
        for t, x in (line.strip().split(" = ", 1) for line in lines[1:])
    ]
    where = ""
    if rows:
        where = r"\quad\text{where}\quad\begin{array}{rcl} "
        where += r" \\ ".join(rows) + r" \end{array}"
    lhs = rf"{_latex_name(name)}\text{{({title}}}"
    return rf"$\displaystyle {lhs} = {latex_expression(value)}{where}$"
