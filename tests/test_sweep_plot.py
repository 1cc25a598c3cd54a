"""The sweep plot of `symgrad check --sweep --plot`: exact zeros drawn, the point named."""

from __future__ import annotations

import math

import pytest

from symgrad import check

POLY = "f(x, y) = x^2*y + y + 2"


@pytest.fixture
def captured(monkeypatch):
    """plot_sweep with its Figure kept, so the test can read what was drawn."""
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    figures: list = []

    class Kept(Figure):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            figures.append(self)

    monkeypatch.setattr(check, "require_matplotlib", lambda: Kept)
    return figures


def lines_by_label(figure) -> dict[str, list[float]]:
    """label -> y data of every line on the figure's axes."""
    (ax,) = figure.axes
    return {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}


def test_exact_zeros_are_drawn_at_the_floor(captured, tmp_path):
    result = check.sweep(POLY, {"x": 3.0, "y": 4.0}, "x")
    # central differences of x^2 y are exact in x: most errors are exactly 0
    zeros = [r for r in result.rows["central"] if r.rms == 0]
    assert len(zeros) >= 8
    check.plot_sweep(result, tmp_path / "v.png")
    drawn = lines_by_label(captured[0])
    central = drawn["central (RMS near h)"]
    assert len(central) == len(result.rows["central"])  # no step left out
    finite = [
        y for y, r in zip(central, result.rows["central"]) if not math.isnan(r.rms)
    ]
    assert all(y > 0 and math.isfinite(y) for y in finite)
    positive = [r.rms for m in result.rows.values() for r in m if r.rms > 0]
    floor = min(y for y in finite)
    assert floor < min(positive)  # zeros sit below every measured error
    assert (tmp_path / "v.png").read_bytes().startswith(b"\x89PNG")


def test_the_title_names_the_point(captured, tmp_path):
    result = check.sweep(POLY, {"x": 3.0, "y": 4.0}, "x")
    check.plot_sweep(result, tmp_path / "v.png")
    title = captured[0].axes[0].get_title()
    assert "x = 3, y = 4" in title and "the point" not in title


def test_no_infinite_ratio_when_the_best_step_is_exact():
    result = check.sweep(POLY, {"x": 3.0, "y": 4.0}, "x")
    assert result.observed_min("central").rms == 0
    text = result.format()
    assert "ratio inf" not in text
    assert "central: h* = " in text and "(exact: no ratio)" in text
