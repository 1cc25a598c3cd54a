"""`symgrad show`: each function, its partials and Hessian entries, checked with sympy."""

from __future__ import annotations

import re

import pytest
import sympy

from symgrad.show import describe_source

POLY = "f(x, y) = x^2*y + y + 2\n"
MIXED = """\
g(a, b) = sin(a)*exp(b) + a/b
loss(w; t) = (w*t - 1)^2
h(x, y, z) = x*y*z + log(x)*cos(z) + 1/(1 + exp(-x*z))
"""
LINE = re.compile(r"^\s*(.+?) = (.+)$")


def expected_functions(text: str) -> dict[str, tuple[list[str], list[str], sympy.Expr]]:
    """name -> (params, data, sympy body) of a small expression file (test oracle)."""
    out = {}
    for line in text.splitlines():
        head, body = line.split(" = ", 1)
        name, inner = head[:-1].split("(", 1)
        params, _, data = inner.partition(";")
        split = lambda s: [p.strip() for p in s.split(",") if p.strip()]
        expr = sympy.sympify(body.replace("^", "**"))
        out[name] = (split(params), split(data), expr)
    return out


def parse_output(text: str) -> dict[str, sympy.Expr]:
    """Each printed `lhs = rhs` line of describe_source as lhs -> sympy expression.

    `where t1 = ...` lines define names used by the lines of the same function;
    they are substituted (the definitions come before their uses).
    """
    found: dict[str, sympy.Expr] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        match = LINE.match(line)
        assert match, f"unexpected line {line!r}"
        lhs, rhs = match.group(1), match.group(2)
        if lhs.startswith("where "):
            continue
        assert lhs not in found, f"{lhs} printed twice"
        found[lhs] = sympify(rhs)
    return _substitute_pending(text, found)


_Z = sympy.Symbol("z")
LANGUAGE = {
    "sigmoid": sympy.Lambda(_Z, 1 / (1 + sympy.exp(-_Z))),
    "softplus": sympy.Lambda(_Z, sympy.log(1 + sympy.exp(_Z))),
}


def sympify(text: str) -> sympy.Expr:
    """sympy of a formula in the expression language (with sigmoid, softplus)."""
    return sympy.sympify(text, locals=LANGUAGE)


def _substitute_pending(text: str, found: dict[str, sympy.Expr]) -> dict:
    """Substitute each function's where-definitions into its lines."""
    out, defined, names = {}, {}, []
    for line in text.splitlines() + [""]:
        if not line.strip():
            for lhs in names:
                out[lhs] = found[lhs].subs(list(reversed(list(defined.items()))))
            defined, names = {}, []
            continue
        lhs, rhs = LINE.match(line).groups()
        if lhs.startswith("where "):
            defined[sympy.Symbol(lhs.split()[1])] = sympify(rhs)
        else:
            names.append(lhs)
    return out


def same(a: sympy.Expr, b: sympy.Expr) -> bool:
    """Symbolic equality by simplifying the difference."""
    return sympy.simplify(a - b) == 0


def heads(name: str, params: list[str], data: list[str]) -> str:
    """The printed head of a function: its parameters, then '; ' and its data."""
    return f"{name}({', '.join(params)}{'; ' + ', '.join(data) if data else ''})"


@pytest.mark.parametrize("source", [POLY, MIXED], ids=["poly", "mixed"])
@pytest.mark.parametrize("hessian", [False, True])
def test_describe_source(source, hessian):
    printed = parse_output(describe_source(source, "t.sg", hessian=hessian))
    expected_keys = set()
    for name, (params, data, body) in expected_functions(source).items():
        head = heads(name, params, data)
        expected_keys.add(head)
        assert same(printed[head], body)
        symbols = [sympy.Symbol(p) for p in params]
        for p, s in zip(params, symbols):
            key = f"d{name}/d{p}"
            expected_keys.add(key)
            assert same(printed[key], sympy.diff(body, s)), key
        for d in data:
            assert f"d{name}/d{d}" not in printed
        if not hessian:
            continue
        for i, (pi, si) in enumerate(zip(params, symbols)):
            for pj, sj in list(zip(params, symbols))[i:]:
                key = f"d2{name}/d{pi}d{pj}"
                entry = sympy.diff(body, si, sj)
                if key in printed:
                    expected_keys.add(key)
                    assert same(printed[key], entry), key
                else:  # only a structural zero may be left out
                    assert same(entry, 0), f"{key} missing"
    assert set(printed) == expected_keys


def test_poly_exact_text():
    text = describe_source(POLY, "t.sg")
    lines = text.splitlines()
    assert lines[0].startswith("f(x, y) = ")
    assert same(sympy.sympify(lines[1].split(" = ")[1]), sympy.sympify("2*x*y"))
    assert lines[1].startswith("  df/dx = ") and lines[2].startswith("  df/dy = ")
    assert same(sympy.sympify(lines[2].split(" = ")[1]), sympy.sympify("x**2 + 1"))


def test_hessian_has_upper_triangle_only():
    printed = parse_output(describe_source(MIXED, "t.sg", hessian=True))
    assert "d2g/dadb" in printed and "d2g/dbda" not in printed
    assert "d2h/dxdz" in printed and "d2h/dzdx" not in printed
    assert not any(k.startswith("d2loss/dt") or k.endswith("dt") for k in printed)


COURSE = "u = b*c\nv = a + u\nJ(a, b, c) = 3*v\n"


def test_intermediates_keep_their_names():
    lines = describe_source(COURSE, "t.sg").splitlines()
    assert lines[:3] == ["J(a, b, c) = 3*v", "  where u = b*c", "  where v = a + u"]
    assert lines[3:6] == ["  dJ/da = 3", "  dJ/db = 3*c", "  dJ/dc = 3*b"]


def test_show_writes_the_language_not_python():
    text = describe_source(POLY, "t.sg", hessian=True)
    assert "**" not in text and "x^2" in text


def test_nested_sample_is_shown_quickly_and_bounded():
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "samples" / "nested.sg"
    text = describe_source(path.read_text(), str(path), hessian=True)
    # 10 named levels: each level's line refers to the one before
    assert "  where x2 = sin(x1)*x1 + exp(-x1^2)" in text.splitlines()
    assert len(text) < 20_000  # the tree form has millions of characters
