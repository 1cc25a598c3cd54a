"""A real `python -i` in an 80-column terminal, driven through the lecture and the nested sample."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROMPT_TIMEOUT = 60  # seconds per line: a hang guard, not a benchmark

LINES = [
    "import symgrad",
    'f = symgrad.function("f(x, y) = x^2*y + y + 2")',
    "f.grad",
    "f.hessian",
    "f.hessian.at(3, 4)",
    "f.grad.at(3, 4)",
    'g = symgrad.load("samples/graph.sg")',
    "g.J",
    "g.J.graph.at(a=5, b=3, c=2)",
    "g.J.graph.backward()",
    'model = symgrad.load("samples/logistic.sg")',
    "model.loss.grad",
    "model.loss.hessian",
    'symgrad.load("samples/rosenbrock.sg").rosen.hessian.at(-1.2, 1)',
    'n = symgrad.load("samples/nested.sg")',
    "n.nest.grad",
    "n.nest.hessian",
    'symgrad.diff("sin(sin(x))", "x", order=10)',
    "import numpy as np",
    "@symgrad.compile(wrt=('w', 'b'))\n"
    "def loss(w, b, X, y):\n"
    "    z = X @ w + b\n"
    "    return np.mean(np.logaddexp(0, z) - y * z)\n",
    "loss(np.zeros(3), 0.5, np.eye(4, 3), np.ones(4))",
    "loss.grad",
    "loss.hessian",
]


@pytest.fixture(scope="module")
def screen(tmp_path_factory) -> dict[str, tuple[str, float]]:
    """line -> (what the interpreter printed, seconds until the next prompt)."""
    pexpect = pytest.importorskip("pexpect")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHONIOENCODING": "utf-8",
        "TERM": "dumb",
        "PYTHON_BASIC_REPL": "1",
        "SYMGRAD_CACHE_DIR": str(tmp_path_factory.mktemp("cache")),
    }
    env.pop("COLUMNS", None)  # the width must come from the terminal itself
    child = pexpect.spawn(
        sys.executable,
        ["-q", "-i"],
        cwd=str(ROOT),
        env=env,
        encoding="utf-8",
        timeout=PROMPT_TIMEOUT,
        dimensions=(24, 80),
    )
    out: dict[str, tuple[str, float]] = {}
    try:
        child.expect(">>> ")
        for line in LINES:
            start = time.perf_counter()
            child.sendline(line)
            child.expect(">>> ")
            printed = child.before.replace("\r\n", "\n").split("\n", 1)
            out[line] = (
                printed[1] if len(printed) > 1 else "",
                time.perf_counter() - start,
            )
        child.sendline("exit()")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("line", LINES)
def test_every_line_answers_within_80_columns(screen, line):
    printed, _ = screen[line]
    assert "Traceback" not in printed, printed
    assert max((len(row) for row in printed.splitlines()), default=0) <= 80, printed


@pytest.mark.slow
def test_the_lecture_examples_read_right(screen):
    assert re.search(r"∂f/∂x = 2 (y x|x y)", screen["f.grad"][0])
    assert "indefinite" in screen["f.hessian.at(3, 4)"][0]
    assert "saddle" not in screen["f.hessian.at(3, 4)"][0]
    assert "|∇f|  = 26" in screen["f.grad.at(3, 4)"][0]
    assert "where" in screen["g.J"][0] or "v" in screen["g.J"][0]
    assert "dJ/dc = 9" in screen["g.J.graph.at(a=5, b=3, c=2)"][0]
    assert "σ(w x + b)" in screen["model.loss.grad"][0]
    rosen = screen['symgrad.load("samples/rosenbrock.sg").rosen.hessian.at(-1.2, 1)'][0]
    assert "positive definite: locally convex" in rosen and "minimum" not in rosen


@pytest.mark.slow
def test_the_nested_sample_does_not_hang(screen):
    for line in ("n.nest.grad", "n.nest.hessian"):
        printed, seconds = screen[line]
        assert "x2 = sin(x1) x1 + exp(−x1²)" in printed
        assert seconds < PROMPT_TIMEOUT  # it used to run for minutes
    assert "graph nodes" in screen['symgrad.diff("sin(sin(x))", "x", order=10)'][0]


@pytest.mark.slow
def test_a_decorated_array_function_shows_matrix_notation(screen):
    printed = screen["loss.grad"][0]
    assert "∂loss/∂w = X.T @ dz" in printed and "∂loss/∂b = sum(dz)" in printed
    assert "dz = (sigmoid(z) - y) / X_0" in printed
    hessian = screen["loss.hessian"][0]
    assert "∂²loss/∂w∂w = t1 @ (X * (t2[:, None] / X_0))" in hessian
