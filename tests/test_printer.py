"""codegen/printer.py: numpy spellings, exact constants, faithful parentheses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from codegen.printer import (
    ARRAY_SPELLINGS,
    CALLS,
    INFIX,
    constant,
    definition,
    expression,
    expression_of,
)
from symgrad.evaluate import evaluate
from symgrad.graph import const, make, var
from symgrad.ops import OPS

x, y, z = var("x"), var("y"), var("z")
NAMES = {x: "x", y: "y", z: "z"}


def run(node, **env):
    """Evaluate the printed text with numpy: what the generated module would compute."""
    return eval(expression(node, NAMES), {"np": np, "_sigmoid": _sigmoid}, env)


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def test_every_op_has_a_spelling():
    printable = set(CALLS) | set(INFIX) | set(ARRAY_SPELLINGS)
    printable |= {"neg", "pow", "const", "var"}
    assert set(OPS) <= printable


@pytest.mark.parametrize(
    "value", [2.0, 0.1, -3.5, 1e-300, 1.7976931348623157e308, 1 / 3]
)
def test_constants_are_exact(value):
    text, _ = constant(value)
    assert float(eval(text)) == value


def test_special_constants():
    assert constant(math.inf)[0] == "np.inf"
    assert constant(-math.inf)[0] == "-np.inf"
    assert constant(math.nan)[0] == "np.nan"
    assert constant(math.pi)[0] == "np.pi"


# Raw (unsimplified) trees whose printing needs parentheses to keep their meaning.
TREES = [
    make("sub", (x, make("sub", (y, z)))),  # x - (y - z)
    make("div", (x, make("mul", (y, z)))),  # x / (y * z)
    make("mul", (make("add", (x, y)), z)),  # (x + y) * z
    make("pow", (make("neg", (x,)), const(2.0))),  # (-x) ** 2
    make("neg", (make("pow", (x, const(2.0))),)),  # -(x**2)
    make("pow", (x, make("pow", (y, const(2.0))))),  # x ** y**2 (np.power)
    make("pow", (make("pow", (x, const(2.0))), const(3.0))),  # (x**2) ** 3
    make("pow", (x, const(-2.0))),  # x**-2.0
    make("neg", (make("add", (x, y)),)),  # -(x + y)
    make("div", (make("neg", (x,)), y)),
]


@pytest.mark.parametrize("tree", TREES, ids=repr)
def test_printing_keeps_the_tree(tree):
    env = {"x": 1.3, "y": -0.7, "z": 2.1}
    expected = evaluate([tree], {"x": 1.3, "y": -0.7, "z": 2.1})[0]
    assert np.isclose(run(tree, **env), expected, rtol=1e-15)


def test_integer_power_with_negative_exponent_works_on_integer_arrays():
    node = make("pow", (x, const(-2.0)))
    assert np.allclose(run(node, x=np.array([1, 2])), [1.0, 0.25])


def test_fractional_power_uses_np_power():
    assert expression(make("pow", (x, const(0.3))), NAMES).startswith("np.power(")


def test_definition_spells_out_a_named_node():
    node = make("add", (x, y))
    assert expression(node, {**NAMES, node: "s"}) == "s"
    assert definition(node, {**NAMES, node: "s"}) == "x + y"


@pytest.mark.parametrize(
    "dtype, point", [(np.float32, np.float32(-2.0)), (np.float32, np.ones(3, np.float32)),
                     (np.float64, np.float64(2.0)), (np.float64, np.ones(2))],
)  # fmt: skip
def test_where_with_constant_branches_keeps_the_inputs_dtype(dtype, point):
    step = make("where", (make("gt", (x, const(0.0))), const(1.0), const(2.0)))
    node = make("mul", (x, step))  # the where inside an expression, not an output
    value = eval(expression(node, NAMES), {"np": np}, {"x": point, "dtype": dtype})
    assert np.asarray(value).dtype == dtype
    assert np.all(value == np.where(point > 0, point, 2.0 * point))


def test_where_returns_a_scalar_for_scalars():
    node = make("where", (make("gt", (x, const(0.0))), x, const(0.0)))
    value = run(node, x=2.0)
    assert np.ndim(value) == 0 and not isinstance(value, np.ndarray)


def _negative_led_sums():
    """Sums whose right operand is a product led by a negative constant."""
    c = const(-2.5)
    product = make("mul", (make("mul", (c, y)), z))  # -2.5 * y * z
    quotient = make("div", (make("mul", (c, y)), z))  # -2.5 * y / z
    return [
        (make("add", (x, product)), "x - 2.5 * y * z"),
        (make("sub", (x, product)), "x + 2.5 * y * z"),
        (make("add", (x, quotient)), "x - 2.5 * y / z"),
        (make("add", (x, make("mul", (const(-math.inf), y)))), "x - np.inf * y"),
    ]


@pytest.mark.parametrize("node, text", _negative_led_sums())
def test_a_negative_coefficient_reads_as_a_subtraction(node, text):
    assert expression(node, NAMES) == text


@pytest.mark.parametrize("node, text", _negative_led_sums())
def test_the_flipped_sign_gives_the_same_bits(node, text):
    """-(c*y)*z == (-c)*y*z exactly in IEEE arithmetic, so the value is unchanged."""
    rng = np.random.default_rng(7)
    env = {
        "x": rng.normal(size=1000),
        "y": rng.normal(size=1000),
        "z": 0.5 + rng.random(1000),
    }
    expected = evaluate([node], env)[0]
    np.testing.assert_array_equal(run(node, **env), expected)


def test_a_named_product_is_not_flipped():
    product = make("mul", (const(-2.0), y))
    assert expression(make("add", (x, product)), {**NAMES, product: "t1"}) == "x + t1"


@pytest.mark.parametrize(
    "product, text",
    [
        (make("mul", (make("neg", (y,)), z)), "x + -y * z"),
        (make("mul", (const(-0.0), y)), "x + -0.0 * y"),
        (make("mul", (const(-2.0), y)), "x - 2.0 * y"),
    ],
)
def test_only_a_negative_constant_flips_a_sum_whose_text_is_remembered(product, text):
    # the product printed first (as scheduling does) leaves its text in the memo
    memo: dict = {}
    expression(product, NAMES, memo)
    assert product in memo
    assert expression(make("add", (x, product)), NAMES, memo) == text


def test_expression_of_prints_as_expression():
    nodes = [
        make("add", (x, make("mul", (const(-2.0), y)))),
        make("pow", (z, const(2.0))),
    ]
    memo: dict = {}
    out = expression_of(NAMES, memo)
    assert [out(n) for n in nodes] == [expression(n, NAMES) for n in nodes]
    assert out(nodes[1]) == "z**2"
