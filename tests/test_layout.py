"""codegen/layout.py lays lines out exactly as black would."""

from __future__ import annotations

import black
import pytest

from codegen.layout import Tuple, call, collection, condition


def black_of(text: str) -> str:
    return black.format_str(text, mode=black.Mode())


def names(n: int, width: int = 10) -> list[str]:
    return [f"v{i:0{width - 1}d}" for i in range(n)]


@pytest.mark.parametrize("n", [1, 2, 6, 7, 8, 30])
def test_call_layout_matches_black(n):
    lines = ["def f():"] + call("dtype = np.result_type(", names(n) + ["1.0"], "    ")
    text = "\n".join(lines) + "\n"
    assert black_of(text) == text


@pytest.mark.parametrize("n", [1, 3, 7, 8, 40])
def test_def_layout_matches_black(n):
    lines = call("def f(", names(n), "", "):") + ["    return 1"]
    text = "\n".join(lines) + "\n"
    assert black_of(text) == text


@pytest.mark.parametrize("n", [1, 2, 6, 7, 12])
def test_nested_tuple_layout_matches_black(n):
    inner = Tuple(tuple(names(n)))
    value = Tuple(("value_of_the_function", inner))
    text = "\n".join(["def f():"] + collection("return ", value, "    ")) + "\n"
    assert black_of(text) == text


def test_list_layout_matches_black():
    value = Tuple(tuple(f'"{n}"' for n in names(9)), "[]")
    text = "\n".join(collection("__all__ = ", value, "")) + "\n"
    assert black_of(text) == text
    assert text.count("\n") > 3  # it really was split


def test_one_item_tuple_keeps_its_comma():
    assert collection("return ", Tuple(("dx",)), "    ") == ["    return (dx,)"]


@pytest.mark.parametrize("n", [1, 3, 4, 5, 30])
def test_condition_layout_matches_black(n):
    tests = [f"type({name}) is float" for name in names(n, 3)]
    body = ["        return 1", "    return 0"]
    text = "\n".join(["def f():"] + condition("if", "and", tests, "    ") + body) + "\n"
    assert black_of(text) == text
    assert (text.count("\n") > 4) == (n > 3)  # long conditions really are split


@pytest.mark.parametrize("n", [1, 7, 8, 30])
def test_call_with_an_attribute_after_it_matches_black(n):
    lines = ["def f():"] + call("shape = np.broadcast(", names(n), "    ", ").shape")
    text = "\n".join(lines) + "\n"
    assert black_of(text) == text


@pytest.mark.parametrize("n", [1, 3, 7, 8, 9, 20])
@pytest.mark.parametrize("more", [[], ["with_dtype=True"]])
def test_call_with_a_tuple_argument_matches_black(n, more):
    # _on_foreign(body, (x1, ..., vxn)): a tuple too long for its line goes one
    # item per line, as black splits it (this layout once fell back to black)
    args = ["_f_hvp_body", Tuple(tuple(names(n, 5)))] + more
    lines = ["def f():", "    if x:"] + call("return _on_foreign(", args, "        ")
    text = "\n".join(lines) + "\n"
    assert black_of(text) == text
