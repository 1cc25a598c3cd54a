"""Smoke test of the benchmark harness: symgrad and sympy on the smallest workload."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import run  # noqa: E402
from benchmarks.peers import count_ops  # noqa: E402


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    """symgrad and sympy on f(x, y) = x^2*y + y + 2 with --quick settings."""
    return run.run_suite(["f"], ["symgrad", "sympy"], quick=True)


@pytest.mark.slow
def test_rows_have_every_key_and_every_stage_ran(rows: list[dict]) -> None:
    """One row per tool, every key present, every stage ok."""
    assert [r["tool"] for r in rows] == ["symgrad", "sympy"]
    for row in rows:
        assert set(run.ROW_KEYS) <= set(row)
        assert set(row["status"].values()) == {"ok"}, row["status"]
        for key in ("compile_s", "point_s", "batch_grad_s", "batch_hessian_s"):
            assert row[key] > 0, key
        assert row["batch_points"] == row["batch_hessian_points"] == 10_000


@pytest.mark.slow
def test_gradients_and_hessians_match_the_reference(rows: list[dict]) -> None:
    """Point and batch outputs agree with the mpmath reference to 1e-10."""
    for row in rows:
        assert set(row["errors"]) == {
            "point_grad",
            "point_hessian",
            "batch_grad",
            "batch_hessian",
        }
        assert row["max_rel_error"] < 1e-10


@pytest.mark.slow
def test_op_counts_and_the_table(rows: list[dict]) -> None:
    """Op counts give the ratios; the table has a line per tool with ratios."""
    for row in rows:
        assert row["ops"]["value"] > 0 and row["grad_value_ratio"] > 0
    table = run.markdown_table(rows)
    assert table.count("\n| f |") == 2 and "(1×)" in table


def test_reference_matches_the_closed_form() -> None:
    """The mpmath forward-mode reference on f: gradient (2xy, x^2+1)."""
    w = run.workload("f")
    x, y = w.points(1)[:, 0]
    grad, hess = run.reference_at(w, np.array([x, y]))
    np.testing.assert_allclose(grad, [2 * x * y, x * x + 1], rtol=1e-15)
    np.testing.assert_allclose(hess, [[2 * y, 2 * x], [2 * x, 0]], rtol=1e-15)


def test_reference_tenth_derivative_of_the_sine_tower() -> None:
    """The reference for the 10th derivative of seven sines at 1 is 55578.0283..."""
    value = run.reference_derivative(run.workload("sine-tower-7-d10"))
    assert abs(value - 55578.028331281705) / value < 1e-12


def test_relative_error_measures_zeros_against_the_scale() -> None:
    """Structural zeros are measured against 1e-8 of the largest entry."""
    ref = np.array([[1.0, 0.0]])
    assert run.relative_error(np.array([[1.0, 0.0]]), ref) == 0
    assert run.relative_error(np.array([[1.0, 1e-20]]), ref) == pytest.approx(1e-12)
    assert run.relative_error(np.array([[1.0]]), ref) == float("inf")


def test_power_law_fit_recovers_the_exponent() -> None:
    """Least squares on log-log finds k in c*n^k."""
    sizes = [10, 100, 1000]
    fit = run.power_law(sizes, [3 * n**1.5 for n in sizes])
    assert fit["exponent"] == pytest.approx(1.5) and fit[
        "coefficient"
    ] == pytest.approx(3)


def test_count_ops_skips_the_prologue() -> None:
    """dtype, asarray and shape lines are not ops; the rest is counted."""
    source = (
        "def f(x):\n"
        "    dtype = np.result_type(x, 1.0)\n"
        "    x = np.asarray(x, dtype)\n"
        "    shape = np.broadcast_shapes(x.shape)\n"
        "    return np.sin(x) * -x\n"
    )
    assert count_ops(source, "f") == 3


def test_count_ops_skips_the_float_dispatch_and_errstate() -> None:
    """The fast-path dispatch and the errstate call are not ops; its body is."""
    source = (
        "def f(x):\n"
        "    if type(x) is float:\n"
        "        return _f_float(x)\n"
        "    x = np.asarray(x, np.result_type(x, 1.0))\n"
        '    with np.errstate(divide="ignore"):\n'
        "        return np.sin(x) * -x\n"
    )
    assert count_ops(source, "f") == 3


def test_count_ops_counts_the_body_a_wrapper_calls() -> None:
    """A call of the function's body counts as its statements; the zeros do not."""
    source = (
        "def f(x, y):\n"
        "    if type(x) is float and type(y) is float:\n"
        "        return _f_body(x, y, np.zeros((1, 1)))\n"
        '    with np.errstate(divide="ignore"):\n'
        "        return _f_body(x, y, np.zeros(shape + (1, 1), dtype))\n"
        "\n"
        "def _f_body(x, y, hessian):\n"
        "    t1 = np.sin(x) * y\n"
        "    hessian[..., 0, 0] = t1 + -t1\n"
        "    return hessian\n"
    )
    assert count_ops(source, "f") == 4  # sin, *, +, unary -


def test_count_ops_skips_the_arrays_helper_of_many_parameters() -> None:
    """`arrays, dtype, shape = _as_arrays(...)` is prologue; the starred body call is the body."""
    source = (
        "def f(x, y):\n"
        "    arrays, dtype, shape = _as_arrays(x, y)\n"
        "    return _f_body(*arrays)\n"
        "\n"
        "def _f_body(x, y):\n"
        "    return x * y - 1.0\n"
    )
    assert count_ops(source, "f") == 2


def test_count_ops_takes_a_negative_literal_as_a_constant() -> None:
    """-2.0 * x is one multiplication (Python folds -2.0); -x is a negation."""
    source = "def f(x):\n    return -2.0 * x + -x\n"
    assert count_ops(source, "f") == 3


@pytest.mark.slow
def test_a_stage_past_the_time_limit_is_recorded() -> None:
    """A limit nothing can meet: compile did not finish, the rest not run."""
    s = run.Settings.make(quick=True, timeout=0.001)
    results = run.run_stages("symgrad", run.workload("f"), ["compile", "check"], s)
    assert results["compile"]["status"].startswith("did not finish")
    assert results["check"]["status"] == "not run: compile did not finish"


def test_count_ops_leaves_out_output_packaging() -> None:
    """_expand, np.copy and the Hessian's np.zeros package outputs; what they wrap counts."""
    source = (
        "def f(x, y):\n"
        "    shape = np.broadcast(x, y).shape\n"
        "    hessian = np.zeros(shape + (2, 2), dtype)\n"
        "    hessian[..., 0, 0] = 2.0 * y\n"
        "    return (_expand(2.0 * y * x, shape, dtype), np.copy(x)[()], hessian)\n"
    )
    assert count_ops(source, "f") == 3  # 2.0 * y, then 2.0 * y * x


@pytest.mark.slow
def test_the_array_benchmark_prints_its_tables_after_its_checks() -> None:
    """benchmarks/arrays.py --quick on tiny sizes: every row, every check passed."""
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "arrays.py"
    command = [sys.executable, str(script), "--quick", "--size", "tiny", "--skip-jax"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for title in (
        "| logistic value-and-gradient, n=50, d=5 |",
        "| two-layer net value-and-gradient, d=12, h=8, k=3, m=16 |",
        "| vectorized Rosenbrock gradient, n=100 |",
    ):
        assert out.count(title) == 2, title  # the run-time and the agreement tables
    agreement = out.split("## Agreement")[1].split("## Compile")[0]
    assert agreement.count("| passed |") == 3
    assert "agreement: all checks passed" in out
    compiled = out.split("## Compile")[1]
    for name in ("logistic", "mlp", "rosen"):
        assert f"\n| {name} |" in compiled and "yes (sha256)" in compiled


@pytest.mark.slow
def test_the_hessian_benchmark_prints_its_tables_after_its_checks() -> None:
    """benchmarks/hessians.py --quick on tiny sizes: every row, every check passed."""
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "hessians.py"
    command = [sys.executable, str(script), "--quick", "--size", "tiny", "--skip-jax"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for title in (
        "| logistic Hessian, n=50, d=5 |",
        "| `x @ A @ x` Hessian, n=20 |",
        "| least-squares Hessian, m=20, n=20 |",
        "| vectorized Rosenbrock HVP, n=100 |",
    ):
        assert out.count(title) == 2, title  # the run-time and the agreement tables
    agreement = out.split("## Agreement")[1].split("## Compile")[0]
    assert agreement.count("| passed |") == 4
    assert "agreement: all checks passed" in out
    compiled = out.split("## Compile")[1]
    for name in ("logistic", "quadratic", "least_squares", "rosen"):
        assert f"\n| {name} |" in compiled
    assert compiled.count("yes (sha256)") == 4


@pytest.mark.slow
def test_the_dask_benchmark_checks_then_reports_time_and_memory() -> None:
    """benchmarks/dask_logistic.py on 200,000 rows: checked, then one row per run."""
    pytest.importorskip("dask.array", reason="dask is not installed (the [dask] extra)")
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "dask_logistic.py"
    command = [sys.executable, str(script), "--rows", "200000", "--chunk", "50000"]
    command += ["--numpy-rows", "100000", "--repeat", "1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert rows[1].startswith("| numpy, in memory | 1e+05 |")
    assert rows[2].startswith("| dask, threads, data persisted in memory | 1e+05 |")
    assert rows[3].startswith("| dask, threads, data generated in chunks | 2e+05 |")
    peak = float(rows[3].split("|")[-2])
    assert 0 < peak < 1000  # megabytes
    assert "checked against hand-written numpy on two chunks" in done.stdout
