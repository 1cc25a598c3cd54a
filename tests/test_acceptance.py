"""The worked examples of shared/acceptance/README.md, through CLI-generated modules."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

REL = 1e-12


def close(actual, expected, rel=REL, abs_=0.0):
    return np.allclose(np.asarray(actual, float), expected, rtol=rel, atol=abs_)


def test_graph_example(compile_cli):
    m = compile_cli("u = b*c\nv = a + u\nJ(a, b, c) = 3*v\n")
    assert m.J(5, 3, 2) == 33
    assert close(m.J_grad(5, 3, 2), [3, 6, 9])
    value, grad = m.J_value_and_grad(5, 3, 2)
    assert value == 33 and close(grad, [3, 6, 9])
    # the intermediates keep their names in the generated code
    assert "u = b * c" in m.__loader__.get_data(m.__file__).decode()


def test_graph_intermediate_adjoints():
    # dJ/dv = 3 and dJ/du = 3: the adjoints of the named intermediates.
    from symgrad.derivatives import adjoints
    from symgrad.lower import lower
    from symgrad.parser import parse

    program = lower(parse("u = b*c\nv = a + u\nJ(a, b, c) = 3*v\n"))
    by_name = {name: node for node, name in program.names.items()}
    (J,) = program.functions
    adj = adjoints(J.body, J.param_nodes)
    assert adj[by_name["v"]].value == 3.0
    assert adj[by_name["u"]].value == 3.0


def test_poly(compile_cli):
    m = compile_cli("f(x, y) = x^2*y + y + 2\n")
    assert m.f(3, 4) == 42
    assert close(m.f_grad(3, 4), [24, 10])
    assert close(m.f_hessian(3, 4), [[8, 6], [6, 0]])
    # H v for the unit vectors gives the Hessian's columns
    assert close(m.f_hvp(3, 4, 1, 0), [8, 6])
    assert close(m.f_hvp(3, 4, 0, 1), [6, 0])


def test_chain(compile_cli):
    m = compile_cli("z(x) = sin(x^2)\n")
    (dz,) = m.z_grad(3.0)
    assert close(dz, -5.466781571308061)
    assert close(dz, 6 * math.cos(9))


def test_tanh(compile_cli):
    m = compile_cli("t(x) = (1 - exp(-2*x)) / (1 + exp(-2*x))\n")
    (dt,) = m.t_grad(1.0)
    assert close(dt, 0.4199743416140261)
    assert close(dt, 1 - math.tanh(1.0) ** 2)


def test_sigmoid_no_warning_no_nan(compile_cli):
    m = compile_cli("s(z) = 1/(1 + exp(-z))\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (d0,) = m.s_grad(0.0)
        (dp,) = m.s_grad(1000.0)
        (dn,) = m.s_grad(-1000.0)
        values = m.s(np.array([-1000.0, 0.0, 1000.0]))
    assert d0 == 0.25
    assert dp == 0.0 and dn == 0.0
    assert close(values, [0.0, 0.5, 1.0])


def test_softplus_no_overflow(compile_cli):
    m = compile_cli("sp(x) = log(1 + exp(x))\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hi, lo = m.sp(1000.0), m.sp(-1000.0)
        (dhi,), (dlo,) = m.sp_grad(1000.0), m.sp_grad(-1000.0)
    assert abs(hi - 1000.0) <= 1e-12 and abs(lo) <= 1e-12
    assert dhi == 1.0 and abs(dlo) <= 1e-12


@pytest.mark.parametrize("x, expected", [(0.0, 0.0), (2.0, 1.0), (-2.0, 0.0)])
def test_relu(compile_cli, x, expected):
    m = compile_cli("r(x) = max(x, 0)\n")
    (d,) = m.r_grad(x)
    assert d == expected


def test_gradcheck_forward_differences(compile_cli):
    m = compile_cli("f(x, y) = x^2*y + y + 2\n")
    h = 1e-4
    fd = [(m.f(3 + h, 4) - m.f(3, 4)) / h, (m.f(3, 4 + h) - m.f(3, 4)) / h]
    assert close(fd, [24.0004, 10.0], rel=1e-7)
    assert tuple(m.f_grad(3.0, 4.0)) == (24.0, 10.0)  # the symbolic gradient is exact
    # central differences at the error-optimal step h = (3 eps |f| / |f'''|)^(1/3);
    # f''' in x is 0, so use the textbook eps^(1/3) max(|x|, 1) there.
    eps = np.finfo(float).eps
    hx, hy = eps ** (1 / 3) * 3, eps ** (1 / 3) * 4
    g = np.array(m.f_grad(3.0, 4.0))
    c = np.array(
        [
            (m.f(3 + hx, 4) - m.f(3 - hx, 4)) / (2 * hx),
            (m.f(3, 4 + hy) - m.f(3, 4 - hy)) / (2 * hy),
        ]
    )
    assert np.linalg.norm(g - c) / (np.linalg.norm(g) + np.linalg.norm(c)) < 1e-9


# The same examples through the Python front doors: symgrad.function and the
# decorator must give values identical to the CLI-generated module's.
def _sigmoid_py(z):
    return 1 / (1 + np.exp(-z))


FRONT_DOOR_CASES = [
    ("f(x, y) = x^2*y + y + 2\n", lambda x, y: x**2 * y + y + 2, [(3.0, 4.0)]),
    ("z(x) = sin(x^2)\n", lambda x: np.sin(x**2), [(3.0,)]),
    (
        "t(x) = (1 - exp(-2*x)) / (1 + exp(-2*x))\n",
        lambda x: (1 - np.exp(-2 * x)) / (1 + np.exp(-2 * x)),
        [(1.0,)],
    ),
    ("s(z) = 1/(1 + exp(-z))\n", _sigmoid_py, [(0.0,), (1000.0,), (-1000.0,)]),
    (
        "sp(x) = log(1 + exp(x))\n",
        lambda x: np.log(1 + np.exp(x)),
        [(1000.0,), (-1000.0,)],
    ),
    ("r(x) = max(x, 0)\n", lambda x: np.maximum(x, 0), [(0.0,), (2.0,), (-2.0,)]),
]


@pytest.mark.parametrize("text, python, points", FRONT_DOOR_CASES)
def test_front_doors_agree_with_the_cli(compile_cli, text, python, points):
    import symgrad

    name = text.split("(")[0]
    cli = compile_cli(text)
    doors = [symgrad.function(text), symgrad.compile(python)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for point in points:
            expected = (
                getattr(cli, name)(*point),
                getattr(cli, name + "_grad")(*point),
            )
            hessian = getattr(cli, name + "_hessian")(*point)
            for door in doors:
                assert door(*point) == expected[0]
                assert tuple(door.grad(*point)) == tuple(expected[1])
                assert np.array_equal(door.hessian(*point), hessian)


def test_graph_example_through_the_front_doors(compile_cli):
    import symgrad

    cli = compile_cli("u = b*c\nv = a + u\nJ(a, b, c) = 3*v\n")

    def J(a, b, c):
        u = b * c
        v = a + u
        return 3 * v

    for door in (
        symgrad.function("u = b*c\nv = a + u\nJ(a, b, c) = 3*v"),
        symgrad.compile(J),
    ):
        assert door(5.0, 3.0, 2.0) == cli.J(5.0, 3.0, 2.0) == 33
        assert door.grad(5.0, 3.0, 2.0) == cli.J_grad(5.0, 3.0, 2.0)
