"""Shared fixtures: compile expression text through the CLI and import the module."""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
from pathlib import Path

import pytest
from hypothesis import settings

from symgrad.cli import main

# The default run (and CI) draws the same examples every time, so a green main stays
# green; a campaign (SYMGRAD_FUZZ_EXAMPLES set, see README) explores new ones.
settings.register_profile("fixed", derandomize=True)
settings.register_profile("campaign", derandomize=False)
settings.load_profile(
    "campaign" if os.environ.get("SYMGRAD_FUZZ_EXAMPLES") else "fixed"
)

_counter = itertools.count()


# Rules of elementwise ops that only fire on arrays: tested (and checked complete)
# in tests/test_arrays.py, left out of tests/test_simplify.py's scalar cases.
ARRAY_ONLY_RULES = frozenset(
    {
        "mul_divide_smaller",
        "add_transpose_last",
        "add_pads",
        "add_stretched",
        "sub_stretched",
        "mul_stretched",
    }
)


def import_path(path: Path):
    """Import a generated module from its file under a unique module name."""
    name = f"_sg_test_{path.stem}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """The disk cache in this test's own folder and the in-memory one empty."""
    from symgrad import cache

    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path / "cache"))
    cache.clear_memory()
    yield
    cache.clear_memory()


@pytest.fixture
def compile_cli(tmp_path):
    """compile_cli(text) -> the module the `symgrad compile` command generates."""

    def run(text: str, stem: str = "model"):
        source = tmp_path / f"{stem}.sg"
        source.write_text(text, encoding="utf-8")
        assert main(["compile", str(source)]) == 0
        target = tmp_path / f"{stem}.py"
        audit_module(target.read_text(encoding="utf-8"))
        return import_path(target)

    return run


# What a generated module may contain: the AST audit of every module we generate.
_ALLOWED_NP = {
    "asarray", "copy", "result_type", "broadcast_shapes", "zeros", "full", "where", "errstate",
    "ndarray", "broadcast", "moveaxis",
    "exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "arcsin", "arccos",
    "arctan", "arctan2", "sinh", "cosh", "tanh", "abs", "sign", "logaddexp", "maximum",
    "minimum", "heaviside", "power", "pi", "inf", "nan",
    "sum", "broadcast_to", "transpose", "outer", "diag", "diagonal", "pad", "float64", "eye", "tensordot", "reshape",
}  # fmt: skip
_ALLOWED_MATH = {
    "exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "asin", "acos", "atan",
    "atan2", "sinh", "cosh", "tanh", "pow", "pi", "inf", "nan",
}  # fmt: skip
_ALLOWED_BUILTINS = {"type", "abs", "all", "max", "ArithmeticError", "ValueError"}
# Starred and ListComp: _as_arrays(*values), which converts the parameters of a
# function with very many at once (codegen.module.MANY_PARAMETERS).
_ALLOWED_NODES = (
    "Module FunctionDef arguments arg Expr Constant Import alias Assign Name Store Load "
    "Return Tuple List BinOp UnaryOp Compare Call Attribute Subscript Slice Ellipsis "
    "With withitem keyword Add Sub Mult Div Pow USub Lt LtE Gt GtE Pass If IfExp "
    "BoolOp And Is Eq Try ExceptHandler GeneratorExp comprehension MatMult Starred "
    "ListComp"
).split()


_SUBSCRIPT = re.compile(r"the subscript \[-?[0-9]*(:-?[0-9]*)?\]")


def audit_module(text: str) -> None:
    """Fail unless text holds only assignments, arithmetic, returns and whitelisted calls.

    Strings may appear only as docstrings, the names in __all__ and errstate's
    keyword values: user text can never become code.
    """
    import ast

    from codegen.module import HELPER_SOURCE

    tree = ast.parse(text)
    # The helpers are symgrad's own fixed text (checked to be exactly that), so
    # only the functions generated from user input are audited node by node.
    for helper in [n for n in tree.body if isinstance(n, ast.FunctionDef)]:
        if helper.name in HELPER_SOURCE:
            expected = ast.parse(HELPER_SOURCE[helper.name]).body[0]
            assert ast.dump(helper) == ast.dump(expected), helper.name
            tree.body.remove(helper)
    own = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    own |= set(HELPER_SOURCE)
    allowed_strings = set()
    for scope in [tree] + [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
        first = scope.body[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            allowed_strings.add(id(first.value))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and node.targets[0].__dict__.get("id") == "__all__"
        ):
            allowed_strings.update(id(e) for e in node.value.elts)
        if (
            isinstance(node, ast.keyword)
            and node.value.__dict__.get("value") == "ignore"
        ):
            allowed_strings.add(id(node.value))
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "_arrays":
            # parameter and size names in the shape check (identifiers) and the
            # subscripts that need a least size: data, never code
            for inner in ast.walk(node):
                if isinstance(inner, ast.Constant) and isinstance(inner.value, str):
                    text = inner.value
                    assert text.isidentifier() or _SUBSCRIPT.fullmatch(text), text
                    allowed_strings.add(id(inner))
    for node in ast.walk(tree):
        kind = type(node).__name__
        assert kind in _ALLOWED_NODES, f"generated code contains {kind}"
        if isinstance(node, ast.Import):
            assert [a.name for a in node.names] in (["numpy"], ["math"])
        if isinstance(node, ast.Attribute) and node.attr == "T":
            pass  # a transpose, of any expression
        elif isinstance(node, ast.Attribute) and ast.unparse(node.value) == "np.linalg":
            assert node.attr in ("inv", "det", "slogdet", "solve"), node.attr
        elif ast.unparse(node) == "np.linalg":
            pass
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Call):
            # the one attribute of a call: np.broadcast(...).shape
            called = ast.unparse(node.value.func)
            assert (called, node.attr) == ("np.broadcast", "shape"), called
        elif isinstance(node, ast.Attribute):
            assert isinstance(node.value, ast.Name)
            if node.value.id == "np":
                assert node.attr in _ALLOWED_NP, f"np.{node.attr} is not whitelisted"
            elif node.value.id == "math":
                assert (
                    node.attr in _ALLOWED_MATH
                ), f"math.{node.attr} is not whitelisted"
            else:
                assert node.attr in ("shape", "dtype", "T"), f"attribute {node.attr}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id in own | _ALLOWED_BUILTINS, f"call of {node.func.id}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert (
                id(node) in allowed_strings
            ), f"string {node.value!r} outside a docstring"
