"""symgrad check: finite differences at error-optimal steps, the complex step, sweeps."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import mpmath
import sympy

from symgrad.check import (
    CheckError,
    Higher,
    check,
    optimal_step,
    sweep,
)
from symgrad.cli import main
from symgrad.evaluate import evaluate
from symgrad.lower import lower
from symgrad.parser import parse
from symgrad.sympy_bridge import to_sympy

EPS64 = float(np.finfo(np.float64).eps)
EPS32 = float(np.finfo(np.float32).eps)
POLY = "f(x, y) = x^2*y + y + 2\n"
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture
def poly_file(tmp_path: Path) -> str:
    path = tmp_path / "poly.sg"
    path.write_text(POLY, encoding="utf-8")
    return str(path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """main(argv) -> (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------
# the acceptance example (shared/acceptance/README.md, row gradcheck)


def test_gradcheck_forward_differences_with_h_1e_4():
    # (f(x+h, y) - f(x, y))/h = 2xy + y h = 24 + 4e-4; f is linear in y: exactly 10.
    result = check(POLY, at={"x": 3, "y": 4}, method="forward", step=1e-4)
    estimates = [p.estimate for p in result.partials]
    assert estimates == pytest.approx([24.0004, 10.0000000000], rel=1e-6)
    assert [p.symbolic for p in result.partials] == [24.0, 10.0]  # exact


def test_gradcheck_central_at_the_optimal_step():
    result = check(POLY, at={"x": 3, "y": 4}, method="central")
    assert [p.symbolic for p in result.partials] == [24.0, 10.0]
    assert result.relative_error < 1e-9
    assert result.passed
    # f is quadratic in x and linear in y: f''' = 0 identically, so the model has no
    # interior optimum and the textbook step eps^(1/3) max(|x|, 1) is the choice.
    steps = {p.name: p for p in result.partials}
    assert steps["x"].rule == steps["y"].rule == "fallback"
    assert steps["x"].step == pytest.approx(EPS64 ** (1 / 3) * 3, rel=1e-6)
    assert steps["y"].step == pytest.approx(EPS64 ** (1 / 3) * 4, rel=1e-6)
    assert "f''' = 0 identically" in steps["x"].why


def test_gradcheck_through_the_cli(capsys, poly_file):
    code, out, _ = run(capsys, "check", poly_file, "--at", "x=3,y=4", "--json")
    report = json.loads(out)
    assert code == 0 and report["passed"] is True
    assert report["relative_error"] < 1e-9
    assert [p["symbolic"] for p in report["partials"]] == [24.0, 10.0]


def test_textbook_forward_step_fails_the_forward_tolerance(capsys, poly_file):
    # The relative error of h = 1e-4 is 4e-4 / (|g| + |g~|) = 4e-4 / 52 = 7.7e-6,
    # above the forward/float64 tolerance 1e-6: a failed check exits 1.
    code, out, _ = run(
        capsys, "check", poly_file, "--at", "x=3,y=4", "--method", "forward",
        "--step", "1e-4",
    )  # fmt: skip
    assert code == 1 and out.rstrip().endswith("FAIL")
    (row,) = [ln.split() for ln in out.splitlines() if ln.split()[:1] == ["x"]]
    assert float(row[2]) == pytest.approx(24.0004, rel=1e-9)


# ---------------------------------------------------------------------------
# the step model


def test_central_step_formula():
    h = optimal_step("central", 2.0, 8.0, Higher(3, -6.0), Higher(5, 0.0), EPS64)
    assert h.rule == "optimal"
    assert h.h == pytest.approx((3 * EPS64 * 8 / 6) ** (1 / 3), rel=1e-12)


def test_forward_step_formula():
    h = optimal_step("forward", 2.0, 8.0, Higher(2, 3.0), Higher(3, 0.0), EPS64)
    assert h.h == pytest.approx(2 * math.sqrt(EPS64 * 8 / 3), rel=1e-12)


def test_richardson_step_formula():
    h = optimal_step("richardson", 2.0, 8.0, Higher(5, 5.0), Higher(7, 0.0), EPS32)
    assert h.h == pytest.approx((360 * EPS32 * 8 / 5) ** (1 / 5), rel=1e-12)


@pytest.mark.parametrize(
    "method, power", [("forward", 1 / 2), ("central", 1 / 3), ("richardson", 1 / 5)]
)
def test_fallback_where_the_higher_derivative_vanishes(method, power):
    s = optimal_step(method, -5.0, 2.0, Higher(3, 0.0), Higher(5, 1.0), EPS64)
    assert s.rule == "fallback" and "= 0 at this point" in s.why
    assert s.h == pytest.approx(EPS64**power * 5.0, rel=1e-12)


def test_fallback_where_f_is_zero():
    s = optimal_step("central", 0.5, 0.0, Higher(3, 1.0), Higher(5, 1.0), EPS64)
    assert s.rule == "fallback" and "f = 0" in s.why
    assert s.h == pytest.approx(EPS64 ** (1 / 3) * 1.0, rel=1e-12)  # max(|x|, 1) = 1


def test_exp_central_step_and_error():
    # f = f''' = e^x: h* = (3 eps)^(1/3) whatever x.
    result = check("g(x) = exp(x)", at={"x": 1.0})
    (p,) = result.partials
    assert p.rule == "optimal"
    assert p.step == pytest.approx((3 * EPS64) ** (1 / 3), rel=1e-6)
    assert p.symbolic == pytest.approx(math.e, rel=1e-15)
    assert abs(p.estimate - math.e) <= 1.5 * EPS64 * math.e / p.step  # E0(h*)
    assert result.passed


def test_richardson_passes_its_tolerance():
    result = check("g(x) = exp(x)", at={"x": 1.0}, method="richardson")
    (p,) = result.partials
    assert p.step == pytest.approx((360 * EPS64) ** (1 / 5), rel=1e-6)
    assert result.relative_error < 1e-10 and result.passed


def test_next_term_caps_the_step_where_f3_nearly_vanishes():
    # tanh''' = -2 (1 - t^2)(1 - 3 t^2) vanishes at t = 1/sqrt(3): in floating point
    # it is a rounding residue, and (3 eps |f| / |f'''|)^(1/3) would be of order 1.
    # The f^(5) term then governs: h* = (30 eps |f| / |f^(5)|)^(1/5).
    x0 = math.atanh(1 / math.sqrt(3))
    z = sympy.Symbol("z")
    f5 = float(sympy.diff(sympy.tanh(z), z, 5).subs(z, x0))
    expected = (30 * EPS64 * abs(math.tanh(x0)) / abs(f5)) ** (1 / 5)
    result = check("th(x) = tanh(x)", at={"x": x0})
    (p,) = result.partials
    assert p.step == pytest.approx(expected, rel=1e-6)
    assert "f^(5) term governs" in p.why
    assert result.relative_error < 1e-12


# ---------------------------------------------------------------------------
# every sample: the predicted step against the sweep


def _sample_cases() -> list:
    cases = []
    for path in sorted(SAMPLES.glob("*.sg")):
        program = lower(parse(path.read_text(encoding="utf-8"), str(path)))
        for function in program.functions:
            if function.shapes or function.body.shape:
                continue  # array functions: tests/test_array_samples.py
            for name in function.params:
                cases.append(
                    pytest.param(
                        path, function, name, id=f"{path.stem}-{function.name}-{name}"
                    )
                )
    return cases


def _f3_at(function, name: str, point: dict) -> float:
    """The third derivative in name at the point: an oracle independent of symgrad.

    Symbolic third derivatives of deep compositions (the nested sample) swell beyond
    reach, so sympy lambdifies the expression (with cse, keeping it a DAG) into
    50-digit mpmath arithmetic and mpmath differentiates that numerically.
    """
    expr = to_sympy(function.body)
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    fn = sympy.lambdify(symbols, expr, modules="mpmath", cse=True)
    with mpmath.workdps(50):
        args = [mpmath.mpf(point[s.name]) for s in symbols]
        index = [s.name for s in symbols].index(name)

        def along(t):
            return fn(*args[:index], t, *args[index + 1 :])

        third = mpmath.diff(along, args[index], 3)
    # below 1e-30 is a zero that 50 digits could not resolve exactly
    return 0.0 if abs(third) < 1e-30 else float(third)


@pytest.mark.parametrize("path, function, name", _sample_cases())
def test_sample_predicted_step_is_near_the_observed_minimum(path, function, name):
    point = {n: 0.7 for n in function.all_names}
    s = sweep(path, point, name, function=function.name)
    predicted = s.predicted["central"]
    f3 = _f3_at(function, name, point)
    if f3 != 0:
        assert predicted.step.rule == "optimal"
        # The RMS error at the predicted h* is within 10x of the best decade.
        assert s.ratio("central") <= 10, s.format()
        return
    # f''' = 0 here (relu and leaky relu are piecewise linear; J is linear in each
    # input; f(x, y) = x^2 y + y + 2 and Rosenbrock are quadratic in y, x4): the
    # central difference has no truncation error at all, its error is pure rounding,
    # eps |f| / h, which shrinks as h grows -- the sweep's minimum sits at the largest
    # step or at an exact zero, and the model has no interior optimum to predict.
    # The check then uses the textbook step, and the honest assertion is the model's
    # rounding bound there: error <= eps |f| / h, with 10x room as above.
    assert predicted.step.rule == "fallback" and "f''' = 0" in predicted.step.why
    (value,) = evaluate([function.body], point)
    bound = EPS64 * abs(float(value)) / predicted.measured.used
    assert predicted.measured.rms <= 10 * bound, s.format()


# ---------------------------------------------------------------------------
# float32


def test_float32_evaluates_in_float32():
    result = check("g(x) = exp(x)", at={"x": 1.0}, dtype="float32")
    (p,) = result.partials
    # the symbolic value is e computed in float32, not in float64
    assert p.symbolic == float(np.exp(np.float32(1.0)))
    assert p.symbolic != math.e
    # eps is float32's: h* = (3 eps32)^(1/3) (to the rounding of x + h in float32)
    assert p.step == pytest.approx((3 * EPS32) ** (1 / 3), rel=1e-4)
    assert result.tolerance == 1e-3 and result.passed
    assert abs(p.estimate - math.e) / math.e < 1e-3


def test_float32_point_is_rounded_to_float32():
    result = check("q(x) = x^2", at={"x": 0.1}, dtype="float32")
    (p,) = result.partials
    x32 = float(np.float32(0.1))
    assert p.x == x32 != 0.1
    assert p.symbolic == 2 * x32  # exact: 2x doubles a float32


def test_float32_overflow_is_reported():
    # e^89 = 4.5e38 exceeds float32's largest value 3.4e38 (but not float64's).
    assert check("g(x) = exp(x)", at={"x": 89.0}).passed
    with pytest.raises(CheckError, match="overflows"):
        check("g(x) = exp(x)", at={"x": 89.0}, dtype="float32")


def test_float32_through_the_cli(capsys, poly_file):
    code, out, _ = run(
        capsys, "check", poly_file, "--at", "x=3,y=4", "--dtype", "float32", "--json"
    )
    report = json.loads(out)
    assert code == 0 and report["dtype"] == "float32"
    assert report["eps"] == EPS32 and report["tolerance"] == 1e-3


# ---------------------------------------------------------------------------
# the complex step


def test_complex_step_on_an_analytic_function():
    text = "g(x) = exp(x)*sin(x)/(1 + x^2)"
    x = 0.7
    # (e^x sin x / (1 + x^2))' = e^x ((sin x + cos x)(1 + x^2) - 2x sin x) / (1 + x^2)^2
    exact = (
        math.exp(x)
        * ((math.sin(x) + math.cos(x)) * (1 + x * x) - 2 * x * math.sin(x))
        / (1 + x * x) ** 2
    )
    result = check(text, at={"x": x}, method="complex")
    (p,) = result.partials
    assert p.rule == "complex" and p.step == 1e-20
    assert abs(p.estimate - exact) / abs(exact) < 1e-14
    assert result.relative_error < 1e-14 and result.passed


@pytest.mark.parametrize("x", [0.7, -30.0, 30.0])
def test_complex_step_through_softplus(x):
    # log(1 + exp(x)) becomes the softplus op; its derivative is 1/(1 + e^-x).
    result = check("sp(x) = log(1 + exp(x))", at={"x": x}, method="complex")
    exact = 1 / (1 + math.exp(-x))
    assert result.partials[0].estimate == pytest.approx(exact, rel=1e-14)


def test_complex_step_through_sigmoid():
    # 1/(1 + exp(-z)) becomes the sigmoid op; s' = s (1 - s).
    result = check("s(z) = 1/(1 + exp(-z))", at={"z": 0.7}, method="complex")
    s = 1 / (1 + math.exp(-0.7))
    assert result.partials[0].estimate == pytest.approx(s * (1 - s), rel=1e-14)


def test_complex_step_in_float32():
    result = check("g(x) = exp(x)", at={"x": 1.0}, method="complex", dtype="float32")
    (p,) = result.partials
    assert p.estimate == pytest.approx(math.e, rel=1e-6)
    assert result.tolerance == 1e-5 and result.passed


@pytest.mark.parametrize(
    "text, op, col",
    [
        ("f(x) = abs(x) + x^2", "abs", 8),
        ("g(x, y) = max(x, y)*x", "max", 11),
        ("r(x) = max(x, 0)", "max", 8),  # becomes relu in the graph
        ("w(x) = where(x > 0, x, 2*x)", "where", 8),
        ("a(x, y) = atan2(y, x)", "atan2", 11),
        ("s(x) = x*sign(x)", "sign", 10),
    ],
)
def test_complex_step_refuses_non_analytic_ops(text, op, col):
    with pytest.raises(CheckError) as info:
        check(
            text,
            at={"x": 0.7, "y": 0.3} if "y" in text else {"x": 0.7},
            method="complex",
        )
    message = info.value.format()
    assert f"'{op}' is not" in message
    assert f"<input>:1:{col}: error:" in message


def test_complex_step_refusal_points_into_an_intermediate():
    text = "u = abs(a)\nk(a, b) = u*b\n"
    with pytest.raises(CheckError) as info:
        check(text, at={"a": 0.7, "b": 0.3}, method="complex", file="m.sg")
    assert info.value.format().startswith("m.sg:1:5: error:")


def test_complex_step_refusal_through_the_cli(capsys):
    path = str(SAMPLES / "activations.sg")
    argv = ["check", path, "--at", "x=0.7", "--function", "r", "--method", "complex"]
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert "'max' is not" in err and "Traceback" not in err
    assert "^^^" in err  # the caret under max


def test_complex_step_on_the_analytic_samples():
    # logistic.sg's loss simplifies to softplus terms; tanh.sg and chain.sg are analytic.
    for name, at in [
        ("logistic.sg", {"w": 0.7, "b": 0.7, "x": 0.7, "y": 0.7}),
        ("tanh.sg", {"x": 0.7}),
        ("chain.sg", {"x": 0.7}),
    ]:
        path = SAMPLES / name
        function = "loss" if name == "logistic.sg" else None
        result = check(path, at, method="complex", function=function)
        assert result.relative_error < 1e-14, result.format()


# ---------------------------------------------------------------------------
# --against


def _write_module(tmp_path: Path, monkeypatch, body: str) -> str:
    name = "grads_" + re.sub(r"\W", "_", tmp_path.name)
    (tmp_path / f"{name}.py").write_text(body, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


GOOD = "def grad(x, y):\n    return (2*x*y, x**2 + 1)\n"
WRONG = "def grad(x, y):\n    return (2*x*y, x**2)  # forgot the + 1\n"


def test_against_a_correct_gradient(capsys, poly_file, tmp_path, monkeypatch):
    module = _write_module(tmp_path, monkeypatch, GOOD)
    argv = ["check", poly_file, "--at", "x=3,y=4", "--against", f"{module}:grad"]
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "AGREE" in out and "DISAGREE" not in out


def test_against_a_wrong_gradient(capsys, poly_file, tmp_path, monkeypatch):
    module = _write_module(tmp_path, monkeypatch, WRONG)
    argv = ["check", poly_file, "--at", "x=3,y=4", "--against", f"{module}:grad"]
    code, out, _ = run(capsys, *argv)
    assert code == 1 and "DISAGREE" in out
    (line,) = [ln for ln in out.splitlines() if "disagrees" in ln]
    assert line.split()[0] == "y" and "disagrees by 1" in line  # 9 vs x^2 + 1 = 10
    code, out, _ = run(capsys, *argv, "--json")
    against = json.loads(out)["against"]
    assert against["disagreeing"] == ["y"] and against["agrees"] is False
    assert against["theirs"] == {"x": 24.0, "y": 9.0}
    assert against["symbolic"] == {"x": 24.0, "y": 10.0}


def test_against_resolves_the_current_directory(
    capsys, poly_file, tmp_path, monkeypatch
):
    name = "cwdgrads_" + re.sub(r"\W", "_", tmp_path.name)
    (tmp_path / f"{name}.py").write_text(GOOD, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".")])
    argv = ["check", poly_file, "--at", "x=3,y=4", "--against", f"{name}:grad"]
    assert run(capsys, *argv)[0] == 0


def test_against_a_callable_in_the_api():
    result = check(POLY, {"x": 3, "y": 4}, against=lambda x, y: (2 * x * y, x**2 + 1))
    assert result.against.agrees and result.passed


@pytest.mark.parametrize(
    "body, attribute, message",
    [
        (GOOD, "nope", "has no attribute 'nope'"),
        (
            "def grad(x, y):\n    return (1.0,)\n",
            "grad",
            "returned 1 values; expected 2",
        ),
        (
            "def grad(x, y):\n    raise ValueError('boom')\n",
            "grad",
            "raised ValueError: boom",
        ),
        ("def grad(x, y:\n", "grad", "importing failed: SyntaxError"),
    ],
)
def test_against_input_errors(
    capsys, poly_file, tmp_path, monkeypatch, body, attribute, message
):
    module = _write_module(tmp_path, monkeypatch, body)
    argv = ["check", poly_file, "--at", "x=3,y=4", "--against", f"{module}:{attribute}"]
    code, _, err = run(capsys, *argv)
    assert code == 1 and message in err and "Traceback" not in err


def test_against_a_missing_module(capsys, poly_file):
    argv = ["check", poly_file, "--at", "x=3,y=4", "--against", "no_such_module_xyz:g"]
    code, _, err = run(capsys, *argv)
    assert code == 1 and "no module named 'no_such_module_xyz'" in err
    assert "Traceback" not in err


def test_against_needs_module_colon_function(capsys, poly_file):
    code, _, err = run(
        capsys, "check", poly_file, "--at", "x=3,y=4", "--against", "m.g"
    )
    assert code == 2 and "MODULE:FUNCTION" in err


# ---------------------------------------------------------------------------
# --sweep and --plot


def test_sweep_output_marks_both_optima(capsys, tmp_path):
    path = tmp_path / "chain.sg"
    path.write_text("z(x) = sin(x^2)\n", encoding="utf-8")
    code, out, _ = run(capsys, "check", str(path), "--at", "x=0.7", "--sweep", "x")
    assert code == 0
    for mark in ("central: predicted h*", "central: observed min",
                 "forward: predicted h*", "forward: observed min"):  # fmt: skip
        assert mark in out
    decades = [
        ln.split()[0] for ln in out.splitlines() if re.match(r"\s+1\.0e-\d+ ", ln)
    ]
    assert decades == [f"1.0e-{k:02d}" for k in range(1, 17)]


def test_sweep_json(capsys, poly_file):
    code, out, _ = run(
        capsys, "check", poly_file, "--at", "x=3,y=4", "--sweep", "x", "--json"
    )
    report = json.loads(out)
    assert code == 0 and report["variable"] == "x" and len(report["steps"]) == 16
    # forward differences on x^2 y: error y h = 4h at large h (truncation only)
    assert report["methods"]["forward"]["at_h"][0] == pytest.approx(0.4, rel=1e-9)


def test_plot_draws_a_png(capsys, poly_file, tmp_path):
    import matplotlib  # noqa: F401  in the test extra: CI must run this test

    target = tmp_path / "v.png"
    argv = [
        "check",
        poly_file,
        "--at",
        "x=3,y=4",
        "--sweep",
        "x",
        "--plot",
        str(target),
    ]
    assert run(capsys, *argv)[0] == 0
    assert target.read_bytes().startswith(b"\x89PNG")


def test_plot_without_matplotlib_is_a_usage_error(
    capsys, poly_file, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now fails
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    target = tmp_path / "v.png"
    argv = [
        "check",
        poly_file,
        "--at",
        "x=3,y=4",
        "--sweep",
        "x",
        "--plot",
        str(target),
    ]
    code, out, err = run(capsys, *argv)
    assert code == 2 and "matplotlib" in err and "symgrad[plot]" in err
    assert not target.exists() and out == ""


# ---------------------------------------------------------------------------
# the command line's other answers


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--at", "x=3"], "no value for y"),
        (["--at", "x=3,y=4,z=1"], "'z', not a parameter"),
        (["--at", "x3"], "NAME=VALUE"),
        (["--at", "x=three,y=4"], "not a number"),
        (["--at", "x=3,y=4", "--method", "secant"], "invalid choice"),
        (["--at", "x=3,y=4", "--plot", "v.png"], "--sweep"),
        (["--at", "x=3,y=4", "--sweep", "q"], "not a differentiated parameter"),
        (["--at", "x=3,y=4", "--function", "g"], "no function 'g'"),
    ],
)
def test_usage_errors_exit_2(capsys, poly_file, argv, message):
    code, _, err = run(capsys, "check", poly_file, *argv)
    assert code == 2 and message in err


def test_several_functions_need_function(capsys):
    path = str(SAMPLES / "activations.sg")
    code, _, err = run(capsys, "check", path, "--at", "x=0.7")
    assert code == 2 and "--function" in err
    assert run(capsys, "check", path, "--at", "x=0.7", "--function", "th")[0] == 0


def test_input_errors_exit_1(capsys, tmp_path):
    bad = tmp_path / "bad.sg"
    bad.write_text("f(x) = x +\n", encoding="utf-8")
    code, _, err = run(capsys, "check", str(bad), "--at", "x=1")
    assert code == 1 and "bad.sg:1:" in err and "Traceback" not in err
    code, _, err = run(capsys, "check", str(tmp_path / "missing.sg"), "--at", "x=1")
    assert code == 1 and "no such file" in err


def test_point_outside_the_domain_is_an_input_error(capsys, tmp_path):
    path = tmp_path / "log.sg"
    path.write_text("l(x) = log(x)\n", encoding="utf-8")
    code, _, err = run(capsys, "check", str(path), "--at", "x=-1")
    assert code == 1 and "outside the domain" in err


def test_data_parameters_are_given_but_not_checked():
    result = check(
        SAMPLES / "logistic.sg",
        {"w": 0.5, "b": 0.1, "x": 2.0, "y": 1.0},
        function="loss",
    )
    # loss = softplus(-(w x + b)) for y = 1: dloss/dw = (p - y) x, dloss/db = p - y
    p = 1 / (1 + math.exp(-(0.5 * 2.0 + 0.1)))
    assert [q.name for q in result.partials] == ["w", "b"]
    assert [q.symbolic for q in result.partials] == pytest.approx(
        [(p - 1) * 2.0, p - 1], rel=1e-14
    )
    assert result.passed


def test_table_is_aligned(capsys, poly_file):
    _, out, _ = run(capsys, "check", poly_file, "--at", "x=3,y=4")
    lines = out.splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.strip().startswith("input"))
    rows = lines[header : header + 3]
    # right-aligned numeric columns end at the same place in every row
    assert len({len(r) for r in rows}) == 1


def test_an_array_function_is_checked_entry_by_entry(capsys) -> None:
    # (tests/test_check_arrays.py checks array functions in depth)
    path = SAMPLES / "logistic_regression.sg"
    assert main(["check", str(path), "--sizes", "n=20,d=3"]) == 0
    out = capsys.readouterr().out
    assert "w: all 3 entries" in out and out.rstrip().endswith("PASS")
