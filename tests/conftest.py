"""Shared fixtures: compile expression text through the CLI and import the module."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import pytest

from symgrad.cli import main

_counter = itertools.count()


def import_path(path: Path):
    """Import a generated module from its file under a unique module name."""
    name = f"_sg_test_{path.stem}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def compile_cli(tmp_path):
    """compile_cli(text) -> the module the `symgrad compile` command generates."""

    def run(text: str, stem: str = "model"):
        source = tmp_path / f"{stem}.sg"
        source.write_text(text, encoding="utf-8")
        assert main(["compile", str(source)]) == 0
        return import_path(tmp_path / f"{stem}.py")

    return run
