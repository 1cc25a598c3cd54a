"""The repository's own Python is black-formatted and every module says what it is for."""

from __future__ import annotations

import ast
from pathlib import Path

import black
import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCES = sorted(
    p
    for folder in ("symgrad", "codegen", "tests", "benchmarks", "samples")
    for p in (REPO / folder).rglob("*.py")
)
# pyproject.toml's [tool.black]
MODE = black.Mode(line_length=88, target_versions={black.TargetVersion.PY310})


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_black_leaves_the_file_unchanged(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert black.format_str(text, mode=MODE) == text


@pytest.mark.parametrize(
    "path",
    [p for p in SOURCES if p.parts[-2] in ("symgrad", "codegen", "benchmarks")],
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_every_module_has_a_docstring(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if not tree.body:  # an empty __init__.py
        return
    assert ast.get_docstring(tree), f"{path.name} has no module docstring"
