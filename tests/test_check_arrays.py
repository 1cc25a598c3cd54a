"""symgrad check on array functions: every entry at its own optimal step, --against."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from symgrad.check import check
from symgrad.check_arrays import make_point, parse_sizes
from symgrad.cli import main
from symgrad.lower import lower
from symgrad.parser import parse
from tests.conftest import import_path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
EPS = float(np.finfo(np.float64).eps)

# (sample, function, --sizes): every array sample with a scalar value
ARRAY_SAMPLES = [
    ("logistic_regression", "loss", "n=50,d=5"),
    ("softmax_regression", "loss", "n=30,d=4,k=3"),
    ("mlp", "L", "d=2,h=6,k=3,m=40"),
    ("least_squares", "f", "n=4,m=7"),
    ("quadratic", "q", "n=6"),
    ("rosenbrock_vector", "rosen", "n=8"),
    ("gaussian_process", "nll", "n=12"),
]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """main(argv) -> (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _function(name: str, function: str):
    program = lower(parse((SAMPLES / f"{name}.sg").read_text(), f"{name}.sg"))
    return next(f for f in program.functions if f.name == function)


# ---------------------------------------------------------------------------
# every array sample passes at the predicted steps


@pytest.mark.parametrize("name, function, sizes", ARRAY_SAMPLES)
def test_every_array_sample_passes_at_the_predicted_steps(name, function, sizes):
    result = check(
        SAMPLES / f"{name}.sg", {}, function=function, sizes=parse_sizes([sizes])
    )
    assert result.passed and result.relative_error <= 1e-8
    assert {p.rule for p in result.partials} <= {"optimal", "fallback"}
    # every entry of every parameter, none sampled at these sizes
    f = _function(name, function)
    expected = sum(
        int(np.prod([result.sizes.get(d, d) for d in f.var_of(p).shape]))
        for p in f.params
    )
    assert len(result.partials) == expected
    assert not any(s.sampled for s in result.selections)
    # the symbolic column is the golden module's gradient at the same point
    module = import_path(SAMPLES / f"{name}.py")
    point = make_point(f, {}, result.sizes, 0, "float64")
    golden = getattr(module, f"{function}_grad")(
        *[point.values[n] for n in f.all_names]
    )
    flat = np.concatenate([np.ravel(g) for g in golden])
    assert np.array_equal([p.symbolic for p in result.partials], flat)


@pytest.mark.parametrize("name, function, sizes", ARRAY_SAMPLES)
def test_every_array_sample_passes_through_the_cli(capsys, name, function, sizes):
    path = str(SAMPLES / f"{name}.sg")
    argv = ["check", path, "--function", function, "--sizes", sizes, "--seed", "3"]
    code, out, err = run(capsys, *argv)
    assert code == 0 and err == ""
    assert out.splitlines()[-1].endswith(": PASS")


def test_the_estimates_are_differences_of_the_function_itself():
    # logistic regression: dloss/dw = X.T (p - y) / n, from numpy, not from symgrad
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, 40) * 1.0
    w, b = rng.normal(size=3), 0.3
    result = check(SAMPLES / "logistic_regression.sg", {"X": X, "y": y, "w": w, "b": b})
    p = 1 / (1 + np.exp(-(X @ w + b)))
    reference = np.append(X.T @ (p - y) / 40, np.mean(p - y))
    estimates = np.array([q.estimate for q in result.partials])
    np.testing.assert_allclose(estimates, reference, rtol=1e-8, atol=1e-10)
    assert [q.name for q in result.partials] == ["w[0]", "w[1]", "w[2]", "b"]


def test_each_entry_gets_its_own_optimal_step():
    # f''' along w_i of mean(softplus(z) - y z) is mean(s (1 - s) (1 - 2 s) X_i^3)
    rng = np.random.default_rng(8)
    X, y = rng.normal(size=(30, 3)), rng.integers(0, 2, 30) * 1.0
    w, b = np.array([0.5, -1.0, 2.0]), 0.1
    result = check(SAMPLES / "logistic_regression.sg", {"X": X, "y": y, "w": w, "b": b})
    z = X @ w + b
    s = 1 / (1 + np.exp(-z))
    f = np.mean(np.logaddexp(0, z) - y * z)
    third = [np.mean(s * (1 - s) * (1 - 2 * s) * X[:, i] ** 3) for i in range(3)]
    third.append(np.mean(s * (1 - s) * (1 - 2 * s)))
    steps = [(3 * EPS * abs(f) / abs(t)) ** (1 / 3) for t in third]
    assert [q.step for q in result.partials] == pytest.approx(steps, rel=1e-9)
    assert len({round(q.step, 12) for q in result.partials}) == 4  # one step each


def test_a_large_step_fails():
    code = main(
        [
            "check",
            str(SAMPLES / "mlp.sg"),
            "--sizes",
            "d=2,h=3,k=2,m=10",
            "--step",
            "0.5",
        ]
    )
    assert code == 1


def test_float32_and_the_other_methods_pass():
    path = SAMPLES / "mlp.sg"
    sizes = {"d": 2, "h": 4, "k": 3, "m": 20}
    for method, dtype in [
        ("central", "float32"),
        ("forward", "float64"),
        ("richardson", "float64"),
    ]:
        result = check(path, {}, method, dtype, sizes=sizes)
        assert result.passed, (method, dtype, result.relative_error)


# ---------------------------------------------------------------------------
# random values that make sense


def test_labels_are_binary_and_one_hot():
    lr = make_point(
        _function("logistic_regression", "loss"), {}, {"n": 40, "d": 3}, 0, "float64"
    )
    assert set(np.unique(lr.values["y"])) == {0.0, 1.0}
    sm = make_point(
        _function("softmax_regression", "loss"),
        {},
        {"n": 40, "d": 3, "k": 4},
        0,
        "float64",
    )
    Y = sm.values["Y"]
    assert set(np.unique(Y)) == {0.0, 1.0} and np.array_equal(
        Y.sum(axis=1), np.ones(40)
    )
    sizes = {"d": 2, "h": 3, "k": 4, "m": 30}
    mlp = make_point(_function("mlp", "L"), {}, sizes, 0, "float64")
    Y = mlp.values["Y"]  # columns are examples
    assert set(np.unique(Y)) == {0.0, 1.0} and np.array_equal(
        Y.sum(axis=0), np.ones(30)
    )


def test_the_gaussian_process_kernel_is_positive_definite():
    point = make_point(
        _function("gaussian_process", "nll"), {}, {"n": 15}, 0, "float64"
    )
    v = point.values
    D = v["D"]
    assert np.array_equal(D, D.T) and not np.diag(D).any() and (D >= 0).all()
    # D is squared distances: -D/2 is positive semidefinite on vectors summing to 0
    for name in ("s2", "l", "noise"):
        assert 0.5 <= v[name] <= 1.5
    K = v["s2"] * np.exp(-D / (2 * v["l"] ** 2)) + v["noise"] * np.eye(15)
    assert np.linalg.eigvalsh(K).min() >= v["noise"] * (1 - 1e-12)


def test_a_matrix_inside_solve_is_drawn_positive_definite():
    text = "f(A[n, n]; b[n]) = b @ solve(A, b) + logdet(A)\n"
    program = lower(parse(text, "t.sg"))
    point = make_point(program.functions[0], {}, {"n": 6}, 0, "float64")
    A = point.values["A"]
    assert np.array_equal(A, A.T) and np.linalg.eigvalsh(A).min() > 0
    assert check(text, {}, sizes={"n": 6}).passed


def test_giving_one_value_leaves_the_other_draws_alone():
    f = _function("mlp", "L")
    sizes = {"d": 2, "h": 3, "k": 2, "m": 5}
    drawn = make_point(f, {}, sizes, 4, "float64").values
    given = make_point(f, {"W1": np.zeros((3, 2))}, sizes, 4, "float64").values
    for name in ("b1", "W2", "b2", "X", "Y"):
        assert np.array_equal(drawn[name], given[name])
    assert not np.array_equal(
        drawn["X"], make_point(f, {}, sizes, 5, "float64").values["X"]
    )


# ---------------------------------------------------------------------------
# a random sample of entries


def test_entries_samples_and_names_them(capsys):
    argv = ["check", str(SAMPLES / "mlp.sg"), "--sizes", "d=2,h=50,k=3,m=30"]
    code, out, _ = run(capsys, *argv, "--entries", "5", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["passed"]
    w1 = summary["entries"]["W1"]
    assert w1["total"] == 100 and w1["sampled"] and len(w1["checked"]) == 5
    assert len({tuple(i) for i in w1["checked"]}) == 5
    assert all(0 <= i < 50 and 0 <= j < 2 for i, j in w1["checked"])
    assert summary["entries"]["b2"] == {
        "total": 3,
        "checked": [[0, 0], [1, 0], [2, 0]],
        "sampled": False,
    }
    checked = {p["name"] for p in summary["partials"]}
    assert {f"W1[{i}, {j}]" for i, j in w1["checked"]} <= checked
    assert len(checked) == 5 + 5 + 5 + 3  # W1, b1, W2 sampled; b2 whole
    code, text, _ = run(capsys, *argv, "--entries", "5")
    (line,) = [ln for ln in text.splitlines() if ln.strip().startswith("W1: 5 of 100")]
    listed = re.findall(r"\[(\d+), (\d+)\]", line)
    assert [[int(i), int(j)] for i, j in listed] == w1["checked"]
    code, again, _ = run(capsys, *argv, "--entries", "5", "--json")
    assert json.loads(again)["entries"] == summary["entries"]  # the seed fixes it
    code, other, _ = run(capsys, *argv, "--entries", "5", "--json", "--seed", "1")
    assert json.loads(other)["entries"]["W1"]["checked"] != w1["checked"]


def test_the_report_points_at_the_worst_entries(capsys):
    code, out, _ = run(
        capsys, "check", str(SAMPLES / "mlp.sg"), "--sizes", "d=2,h=6,k=3,m=40"
    )
    lines = out.splitlines()
    start = lines.index("worst entries (by |finite difference - symbolic|):")
    rows = lines[start + 2 : start + 12]
    errors = [float(r.split()[-2]) for r in rows]
    assert errors == sorted(errors, reverse=True) and len(rows) == 10
    assert all(re.match(r"\s+(W1|b1|W2|b2)\[\d+, \d+\]\s", r) for r in rows)


# ---------------------------------------------------------------------------
# --against: a hand-written gradient of an array function

HAND = '''
import numpy as np


def _softmax(z):
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def good(W1, b1, W2, b2, X, Y):
    """The course's backprop, by hand."""
    m = X.shape[1]
    A1 = np.tanh(W1 @ X + b1)
    dZ2 = (_softmax(W2 @ A1 + b2) - Y) / m
    dZ1 = (W2.T @ dZ2) * (1 - A1**2)
    return dZ1 @ X.T, dZ1.sum(axis=1, keepdims=True), dZ2 @ A1.T, dZ2.sum(axis=1, keepdims=True)


def wrong(W1, b1, W2, b2, X, Y):
    """Two mistakes: one entry of dW1 off by 1%, and db2 doubled."""
    dW1, db1, dW2, db2 = good(W1, b1, W2, b2, X, Y)
    dW1 = dW1.copy()
    dW1[2, 0] *= 1.01
    return dW1, db1, dW2, 2 * db2


def transposed(W1, b1, W2, b2, X, Y):
    dW1, db1, dW2, db2 = good(W1, b1, W2, b2, X, Y)
    return dW1.T, db1, dW2, db2
'''


@pytest.fixture
def hand(tmp_path, monkeypatch) -> str:
    name = "hand_" + re.sub(r"\W", "_", tmp_path.name)
    (tmp_path / f"{name}.py").write_text(HAND, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


MLP = ["check", str(SAMPLES / "mlp.sg"), "--sizes", "d=2,h=4,k=3,m=20"]


def test_against_a_correct_hand_gradient(capsys, hand):
    code, out, _ = run(capsys, *MLP, "--against", f"{hand}:good")
    assert code == 0 and "all 27 entries" in out and out.rstrip().endswith("AGREE")


def test_against_a_wrong_hand_gradient_names_the_wrong_entries(capsys, hand):
    code, out, _ = run(capsys, *MLP, "--against", f"{hand}:wrong")
    assert code == 1 and "DISAGREE" in out
    wrong = {"W1[2, 0]", "b2[0, 0]", "b2[1, 0]", "b2[2, 0]"}
    named = {
        re.match(r"\s+(\S+\[\d+, \d+\])", ln).group(1)
        for ln in out.splitlines()
        if "<- disagrees" in ln
    }
    assert named == wrong
    assert "4 of 27 entries disagree: W1[2, 0], b2[0, 0], b2[1, 0], b2[2, 0]" in out
    # the finite-difference check itself still passes: the symbolic gradient is right
    assert "(central, float64): PASS" in out
    code, out, _ = run(capsys, *MLP, "--against", f"{hand}:wrong", "--json")
    against = json.loads(out)["against"]
    assert set(against["disagreeing"]) == wrong and against["agrees"] is False
    for entry in ("b2[0, 0]", "b2[1, 0]", "b2[2, 0]"):
        assert against["theirs"][entry] == pytest.approx(2 * against["symbolic"][entry])
    assert against["theirs"]["W1[2, 0]"] == pytest.approx(
        1.01 * against["symbolic"]["W1[2, 0]"]
    )


def test_against_a_partial_of_the_wrong_shape(capsys, hand):
    code, _, err = run(capsys, *MLP, "--against", f"{hand}:transposed")
    assert code == 1 and "Traceback" not in err
    assert "the partial in W1 has shape (2, 4), expected (4, 2)" in err


def test_against_a_callable_in_the_api():
    rng = np.random.default_rng(9)
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 2, 20) * 1.0

    def mine(w, b, X, y):
        p = 1 / (1 + np.exp(-(X @ w + b)))
        return X.T @ (p - y) / len(y), np.mean(p - y)

    data = {"X": X, "y": y}
    assert check(SAMPLES / "logistic_regression.sg", data, against=mine).passed
    off = lambda w, b, X, y: (mine(w, b, X, y)[0] * [1, 1, -1], mine(w, b, X, y)[1])
    result = check(SAMPLES / "logistic_regression.sg", data, against=off)
    a = result.against
    assert not result.passed and [a.params[i] for i in a.disagreeing] == ["w[2]"]


# ---------------------------------------------------------------------------
# errors: one line, the documented exit codes, no traceback


def _npz(tmp_path: Path, name: str, **arrays) -> str:
    path = tmp_path / name
    np.savez(path, **arrays)
    return str(path)


def test_at_file_gives_the_data(capsys, tmp_path):
    rng = np.random.default_rng(10)
    data = _npz(tmp_path, "d.npz", X=rng.normal(size=(25, 4)), y=np.ones(25))
    code, out, _ = run(
        capsys, "check", str(SAMPLES / "logistic_regression.sg"), "--at-file", data
    )
    assert code == 0 and "with d = 4, n = 25" in out.splitlines()[0]
    assert f"X: from {data}" in out and "w: random (N(0, 1))" in out


@pytest.mark.parametrize(
    "arrays, extra, message",
    [
        ({"X": np.ones((5, 2)), "y": np.ones(4)}, [], "y: axis 0 has size 4, but n is 5 (from X axis 0)"),
        ({"X": np.ones(5)}, [], "X: expected 2 dimension(s) [n, d], got an array of shape (5,)"),
        ({"X": np.ones((5, 2)), "z": np.ones(2)}, [], "the point names 'z', not a parameter"),
        ({"X": np.ones((5, 2))}, ["--at", "X=1"], "X is given twice"),
        ({"y": np.ones(5)}, [], "no value for w[d] and no size for d: give --sizes d="),
        ({"X": np.ones((5, 2))}, ["--sizes", "n=6"], "--sizes n=6, but n is 5 (from X axis 0)"),
        ({"X": np.ones((5, 2))}, ["--sizes", "k=6"], "--sizes names 'k', not a size"),
        ({"X": np.ones((5, 2))}, ["--method", "complex"], "--method complex checks scalar"),
        ({"X": np.ones((5, 2))}, ["--entries", "0"], "--entries must be at least 1"),
        ({"X": np.ones((5, 2))}, ["--sweep", "b"], "--sweep takes a scalar point"),
        ({"b": np.ones(2), "X": np.ones((5, 2))}, [], "b: expected 0 dimension(s)"),
    ],
)  # fmt: skip
def test_usage_errors_exit_2(capsys, tmp_path, arrays, extra, message):
    data = _npz(tmp_path, "d.npz", **arrays)
    path = str(SAMPLES / "logistic_regression.sg")
    code, out, err = run(capsys, "check", path, "--at-file", data, *extra)
    assert code == 2 and message in err and "Traceback" not in err and out == ""
    assert err.splitlines()[0].startswith("symgrad: error: ")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--sizes", "n=0"], "not a whole number >= 1"),
        (["--sizes", "n"], "NAME=SIZE pairs"),
        (["--sizes", "n=2,n=3"], "gives n twice"),
        ([], "give the point"),
    ],
)
def test_malformed_sizes_exit_2(capsys, argv, message):
    path = str(SAMPLES / "quadratic.sg")
    code, _, err = run(capsys, "check", path, *argv)
    assert code == 2 and message in err


def test_input_errors_exit_1(capsys, tmp_path):
    path = str(SAMPLES / "logistic_regression.sg")
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip", encoding="utf-8")
    for data, message in [
        (str(bad), "not an .npz file of numeric arrays"),
        (str(tmp_path / "missing.npz"), "no such file"),
    ]:
        code, _, err = run(capsys, "check", path, "--at-file", data)
        assert code == 1 and message in err and "Traceback" not in err
    code, _, err = run(
        capsys,
        "check",
        str(SAMPLES / "least_squares.sg"),
        "--function",
        "r",
        "--sizes",
        "n=2,m=3",
    )
    assert code == 1 and "has an array value" in err


def test_a_point_outside_the_domain_says_so(capsys, tmp_path):
    sg = tmp_path / "logs.sg"
    sg.write_text("f(x[n]) = sum(log(x))\n", encoding="utf-8")
    data = _npz(tmp_path, "neg.npz", x=-np.ones(3))
    code, _, err = run(capsys, "check", str(sg), "--at-file", data)
    assert code == 1 and "outside the domain" in err and "--at-file" in err


@pytest.mark.parametrize("option", [["--sizes", "n=3"], ["--entries", "3"]])
def test_sizes_on_a_scalar_function_is_a_usage_error(capsys, option):
    path = str(SAMPLES / "poly.sg")
    code, _, err = run(capsys, "check", path, "--at", "x=1,y=2", *option)
    assert code == 2 and "has no array parameters" in err


def test_a_fresh_process_prints_no_traceback(tmp_path):
    data = _npz(tmp_path, "d.npz", X=np.ones((5, 2)), y=np.ones(4))
    done = subprocess.run(
        [sys.executable, "-m", "symgrad", "check", str(SAMPLES / "logistic_regression.sg"),
         "--at-file", data],
        capture_output=True, text=True, cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("symgrad: error: y: axis 0 has size 4")


# ---------------------------------------------------------------------------
# the predicted step of each entry, against oracles that do not use symgrad.check

CLUSTER = [1 + j / 10 for j in range(8)]


def _golden_case(name: str, function: str, sizes: str):
    """The check's result and, from the golden module, f(point with one entry moved)."""
    f = _function(name, function)
    result = check(
        SAMPLES / f"{name}.sg", {}, function=function, sizes=parse_sizes([sizes])
    )
    point = make_point(f, {}, result.sizes, 0, "float64").values
    module = import_path(SAMPLES / f"{name}.py")
    value, grad = getattr(module, function), getattr(module, f"{function}_grad")

    def moved(param: str, index: tuple, x: float, call=value):
        args = dict(point)
        args[param] = np.array(point[param], dtype=float)
        args[param][index] = x
        return call(*[args[n] for n in f.all_names])

    return f, result, point, moved, grad


def _value_at(name: str, function: str, f, point) -> float:
    module = import_path(SAMPLES / f"{name}.py")
    return float(getattr(module, function)(*[point[n] for n in f.all_names]))


def _entries(result, f, point):
    """(partial, parameter, index, entry value) for up to 6 entries of the result."""
    found = []
    for p in result.partials[:: max(1, len(result.partials) // 6)]:
        param, _, rest = p.name.partition("[")
        index = tuple(int(i) for i in rest.rstrip("]").split(", ")) if rest else ()
        found.append((p, param, index, float(np.asarray(point[param])[index])))
    return found


@pytest.mark.parametrize("name, function, sizes", ARRAY_SAMPLES)
def test_each_step_is_the_model_optimum_of_its_own_third_derivative(
    name, function, sizes
):
    # f''' along the entry from second differences of the golden gradient's entry
    f, result, point, moved, grad = _golden_case(name, function, sizes)
    params = list(f.params)
    value = _value_at(name, function, f, point)
    compared = 0
    for p, param, index, x in _entries(result, f, point):
        k = params.index(param)

        def g(t):
            partial = moved(param, index, x + t, call=grad)[k]
            return float(np.asarray(partial)[index])

        d = 1e-3 * max(abs(x), 1.0)
        f3 = (g(d) - 2 * g(0.0) + g(-d)) / d**2
        scale = max(abs(g(0.0)), abs(value), 1.0)
        if abs(f3) < 1e-4 * scale:  # zero, or too small for the oracle to resolve
            continue
        assert p.rule == "optimal"
        if p.why.startswith("optimal h* = (3 eps |f| / |f'''|)"):  # not capped
            expected = (3 * EPS * abs(value) / abs(f3)) ** (1 / 3)
            assert p.step == pytest.approx(expected, rel=2e-3), p.name
            compared += 1
    assert compared or name in ("least_squares", "quadratic")


@pytest.mark.parametrize("name, function, sizes", ARRAY_SAMPLES)
def test_each_predicted_step_is_near_its_observed_minimum(name, function, sizes):
    # central differences of the golden module over h = 1e-1 ... 1e-12, each error
    # the RMS over h (1 + j/10): the predicted step's within 10x of the best decade
    f, result, point, moved, _ = _golden_case(name, function, sizes)

    def rms(param, index, x, h, exact) -> float:
        errors = []
        for c in CLUSTER:
            xp, xm = x + h * c, x - h * c
            slope = (moved(param, index, xp) - moved(param, index, xm)) / (xp - xm)
            errors.append((slope - exact) ** 2)
        return float(np.sqrt(np.mean(errors)))

    value = _value_at(name, function, f, point)
    for p, param, index, x in _entries(result, f, point):
        at_step = rms(param, index, x, p.step, p.symbolic)
        if p.rule == "fallback":
            # f''' = 0 (least squares and x @ A @ x are quadratic, Rosenbrock is
            # quadratic in its last entry): no truncation error, only rounding, which
            # shrinks as h grows; the honest bound is the model's eps |f| / h
            assert "f''' = 0" in p.why
            assert at_step <= 10 * EPS * abs(value) / p.step, (p.name, at_step)
            continue
        observed = min(rms(param, index, x, 10.0**-k, p.symbolic) for k in range(1, 13))
        assert at_step <= 10 * observed, (p.name, at_step, observed)
