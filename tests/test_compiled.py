"""Compiled: calls reach the generated functions directly; keywords and defaults bind."""

from __future__ import annotations

import pytest

import symgrad

# every test here compiles through a cache of its own (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("private_cache")


# f(x, y) = x^2*y + y + 2: f(3, 4) = 42, grad = (2xy, x^2 + 1) = (24, 10),
# Hessian [[2y, 2x], [2x, 0]] = [[8, 6], [6, 0]], so H (1, 0) = (8, 6).
POLY = "f(x, y) = x^2*y + y + 2"


def test_calls_go_straight_to_the_generated_functions():
    f = symgrad.function(POLY)
    m = f.module
    # No Python frame in between: the partial's function is the generated one.
    assert f.func is m.f and f.grad.func is m.f_grad and f.hessian.func is m.f_hessian
    assert f.value_and_grad is m.f_value_and_grad and f.hvp is m.f_hvp


def test_plain_calls_take_positions_and_keywords():
    f = symgrad.function(POLY)
    assert f(3.0, 4.0) == 42.0 and f(y=4.0, x=3.0) == 42.0
    assert f.grad(3.0, y=4.0) == (24.0, 10.0)
    assert f.value_and_grad(x=3.0, y=4.0) == (42.0, (24.0, 10.0))
    assert f.hvp(3.0, 4.0, 1.0, 0.0) == (8.0, 6.0)
    with pytest.raises(TypeError):
        f(3.0)


def test_the_views_still_show_the_symbolic_derivatives():
    f = symgrad.function(POLY)
    assert "∂f/∂x = 2 y x" in repr(f.grad)  # the views of issue 16
    assert repr(f.hessian).startswith("∇²f(x, y) =")


def energy(x, y, k=2.0):
    """Spring energy: k (x - y)^2 / 2; d/dx = k (x - y), d/dy = -k (x - y)."""
    return k * (x - y) ** 2 / 2


def test_defaults_are_the_sources_own():
    e = symgrad.compile(energy)
    assert e(3.0, 1.0) == 4.0 and e(3.0, 1.0, 1.0) == 2.0 and e(3.0, 1.0, k=1.0) == 2.0
    assert e.grad(3.0, 1.0) == (4.0, -4.0) and e.grad(y=1.0, x=3.0, k=3.0) == (
        6.0,
        -6.0,
    )
    assert e.value_and_grad(3.0, 1.0) == (4.0, (4.0, -4.0))
    # The module's own functions are left alone: they take k positionally.
    assert e.module.energy.__defaults__ is None
    with pytest.raises(TypeError):
        e.module.energy(3.0, 1.0)


def test_an_hvp_with_a_default_takes_the_vector_last():
    e = symgrad.compile(energy)
    # Hessian in (x, y) is k [[1, -1], [-1, 1]]: times (1, 0) gives (k, -k).
    assert e.hvp(3.0, 1.0, 1.0, 0.0) == (2.0, -2.0)
    assert e.hvp(3.0, 1.0, 5.0, 1.0, 0.0) == (5.0, -5.0)
    assert e.hvp(3.0, 1.0, 1.0, 0.0, k=3.0) == (3.0, -3.0)


def _keyword_only(x, *, k=2.0):
    return k * x**2


def _positional_only(x, /, y):
    return x * y


def test_keyword_and_positional_only_parameters_keep_their_kinds():
    ko = symgrad.compile(_keyword_only)
    assert ko(3.0) == 18.0 and ko(3.0, k=1.0) == 9.0 and ko.grad(3.0, k=1.0) == (6.0,)
    po = symgrad.compile(_positional_only)
    assert po(2.0, 5.0) == 10.0 and po.grad(2.0, y=5.0) == (5.0, 2.0)
    with pytest.raises(TypeError):
        po(x=2.0, y=5.0)  # x is positional-only in the source


def test_a_mangled_parameter_name_still_binds_by_its_source_name():
    g = symgrad.function("g(np, y) = np*y")
    assert g.func is not g.module.g  # the module's parameter is np_
    assert g(np=2.0, y=3.0) == 6.0 and g.grad(np=2.0, y=3.0) == (3.0, 2.0)
    assert g.hvp(2.0, 3.0, 1.0, 0.0) == (0.0, 1.0)


def test_nothing_to_differentiate_is_a_clear_error():
    f = symgrad.compile(lambda x=1.0: 3.0 * x)  # a numeric default is data
    assert f(2.0) == 6.0
    with pytest.raises(TypeError, match="no differentiated parameters"):
        f.grad(2.0)
