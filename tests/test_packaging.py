"""The distribution: one wheel named symgrad holding both import packages."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_contains_symgrad_and_codegen(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("symgrad-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "symgrad/__init__.py" in names and "symgrad/cli.py" in names
    assert "codegen/__init__.py" in names and "codegen/module.py" in names
    assert not any(n.startswith("tests/") for n in names)
    metadata = next(n for n in names if n.endswith("METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Requires-Dist: black" in text and "Requires-Dist: numpy" in text
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "symgrad = symgrad.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
