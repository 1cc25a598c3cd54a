"""codegen/names.py: source identifiers become Python names that cannot collide."""

from __future__ import annotations

import builtins
import keyword

import pytest

from codegen.module import HELPER_SOURCE, RESERVED
from codegen.names import python_name


@pytest.mark.parametrize("name", ["lambda", "match", "np", "shape", "dtype", "hessian"])
def test_python_name_mangles_keywords_and_reserved(name):
    assert python_name(name) == name + "_"


@pytest.mark.parametrize("name", ["x", "sigma", "W2", "loss", "exp", "t1"])
def test_python_name_keeps_ordinary_identifiers(name):
    assert python_name(name) == name


@pytest.mark.parametrize("name", sorted(HELPER_SOURCE) + ["__all__", "__builtins__"])
def test_helpers_and_dunders_are_mangled(name):
    # The helpers are not in names.RESERVED: their leading '_' is what protects them.
    assert python_name(name) == name + "_"


def test_every_name_the_module_reserves_is_mangled():
    # codegen.module reserves the helpers on top of names.RESERVED (for temporaries).
    for name in RESERVED:
        assert python_name(name) != name, name


@pytest.mark.parametrize("name", ["abs", "max", "float", "type", "all"])
def test_builtins_the_generated_code_calls_are_reserved(name):
    assert hasattr(builtins, name) and python_name(name) == name + "_"


def test_soft_keywords_are_mangled():
    for name in keyword.softkwlist:
        if name.isidentifier():
            assert python_name(name) == name + "_"
