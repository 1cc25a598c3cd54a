"""samples/train.py: the six update rules against their equations, and a short run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import import_path

REPO = Path(__file__).resolve().parent.parent
TRAIN = REPO / "samples" / "train.py"
NAMES = ["gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]


@pytest.fixture(scope="module")
def train():
    return import_path(TRAIN)


def _steps(optimizer, theta0: float, gradient, count: int) -> list[float]:
    """theta after each of count steps, on one scalar parameter."""
    theta, out = [np.array(theta0)], []
    for _ in range(count):
        theta = optimizer.step(theta, lambda th: [gradient(th[0])])
        out.append(float(theta[0]))
    return out


def test_gradient_descent(train):
    got = _steps(train.GradientDescent(lr=0.1), 2.0, lambda x: 3 * x, 2)
    assert got == pytest.approx([2.0 - 0.6, 1.4 - 0.1 * 4.2])


def test_momentum(train):
    # v1 = (1 - b) g0, x1 = x0 - lr v1; v2 = b v1 + (1 - b) g1, x2 = x1 - lr v2
    lr, b, x0 = 0.1, 0.9, 2.0
    v1 = 0.1 * x0
    x1 = x0 - lr * v1
    v2 = b * v1 + 0.1 * x1
    got = _steps(train.Momentum(lr=lr, beta=b), x0, lambda x: x, 2)
    assert got == pytest.approx([x1, x1 - lr * v2])


def test_nesterov_looks_ahead(train):
    # on L = x^2 / 2 (g = x): v1 = -lr x0; v2 = mu v1 - lr (x1 + mu v1)
    lr, mu, x0 = 0.1, 0.9, 2.0
    v1 = -lr * x0
    x1 = x0 + v1
    v2 = mu * v1 - lr * (x1 + mu * v1)
    got = _steps(train.Nesterov(lr=lr, mu=mu), x0, lambda x: x, 2)
    assert got == pytest.approx([x1, x1 + v2])


def test_adagrad_sums_every_square(train):
    lr, x0 = 0.5, 2.0
    g0 = 2 * x0
    x1 = x0 - lr * g0 / np.sqrt(g0**2)
    g1 = 2 * x1
    x2 = x1 - lr * g1 / np.sqrt(g0**2 + g1**2)
    got = _steps(train.Adagrad(lr=lr, eps=0.0), x0, lambda x: 2 * x, 2)
    assert got == pytest.approx([x1, x2])


def test_rmsprop(train):
    lr, b, x0 = 0.02, 0.9, 2.0
    s1 = (1 - b) * x0**2
    x1 = x0 - lr * x0 / np.sqrt(s1)
    s2 = b * s1 + (1 - b) * x1**2
    got = _steps(train.RMSprop(lr=lr, beta=b, eps=0.0), x0, lambda x: x, 2)
    assert got == pytest.approx([x1, x1 - lr * x1 / np.sqrt(s2)])


def test_adam_corrects_the_bias(train):
    # the first step: v^ = g and s^ = g^2, so the step is lr sign(g)
    got = _steps(train.Adam(lr=0.01, eps=0.0), 2.0, lambda x: -3 * x, 1)
    assert got == pytest.approx([2.01])
    b1, b2, lr, x0 = 0.9, 0.999, 0.01, 2.0
    v, s, x = 0.0, 0.0, x0
    for t in (1, 2):
        g = x
        v, s = b1 * v + (1 - b1) * g, b2 * s + (1 - b2) * g * g
        x -= lr * (v / (1 - b1**t)) / np.sqrt(s / (1 - b2**t))
    got = _steps(train.Adam(lr=lr, eps=0.0), x0, lambda x: x, 2)
    assert got[-1] == pytest.approx(x)


def test_the_spirals(train):
    X, Y = train.spirals(100, np.random.default_rng(0))
    assert X.shape == (2, 200) and Y.shape == (2, 200)
    assert np.array_equal(Y.sum(axis=0), np.ones(200)) and Y.sum(axis=1).tolist() == [
        100,
        100,
    ]
    # the two arms are each other turned by a half-turn (plus the noise)
    np.testing.assert_allclose(X[:, 100:], -X[:, :100], atol=0.2)
    assert np.hypot(*X).max() < 1.1


def _run(*args: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-W", "error", str(TRAIN), *args],
        capture_output=True, text=True, env=env, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout


def _losses(out: str) -> dict[int, list[float]]:
    rows = re.findall(r"^\s*(\d+)((?:\s+\d+\.\d{4}){6})$", out, re.M)
    return {int(e): [float(v) for v in values.split()] for e, values in rows}


def _accuracies(out: str) -> dict[str, float]:
    return {n: float(a) for n, a in re.findall(r"^\s+(\w+)\s+([\d.]+)%$", out, re.M)}


def test_a_short_run_lowers_every_loss():
    out = _run("--epochs", "50", "--every", "10")
    losses = _losses(out)
    assert sorted(losses) == [0, 10, 20, 30, 40, 50]
    for k, name in enumerate(NAMES):
        assert losses[50][k] < 0.8 * losses[0][k], name
    assert list(_accuracies(out)) == NAMES


def test_adam_reaches_95_percent_at_the_default_settings(tmp_path):
    # the default run: 300 epochs of six optimizers, about 2-3 s of CPU
    plot = tmp_path / "curves.png"
    out = _run("--plot", str(plot))
    accuracy = _accuracies(out)
    assert accuracy["adam"] >= 95.0
    losses = _losses(out)
    assert all(losses[300][k] < 0.5 * losses[0][k] for k in range(6))
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
