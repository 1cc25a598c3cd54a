"""Helpers for tests/test_numba_target.py: both targets of a sample, and their arguments."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import numpy as np

from codegen.load import load
from symgrad import api
from symgrad.evaluate import size_of
from symgrad.lower import lower
from symgrad.parser import parse

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SIZES = {"n": 4, "d": 3, "k": 2, "h": 3, "m": 5}


def numba_module(text: str, directory: Path, name: str):
    """The numba-target module of text, imported from a file (so numba caches it)."""
    path = directory / f"{name}_numba.py"
    path.write_text(api.compile_source(text, f"{name}.sg", target="numba"))
    spec = importlib.util.spec_from_file_location(f"{name}_numba", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def numpy_module(text: str, name: str):
    """The numpy-target module of text."""
    return load(api.compile_source(text, f"{name}.sg"), name, f"<{name}>")


def shapes_of(text: str) -> dict[str, tuple[int, ...]]:
    """Every parameter's concrete shape at SIZES, by source name."""
    shapes = {}
    for function in lower(parse(text, "t.sg")).functions:
        for name in function.all_names:
            dims = function.var_of(name).shape
            shapes[name] = tuple(size_of(d, SIZES) for d in dims)
    return shapes


def arguments(function, shapes: dict, rng, batch: tuple[int, ...] = ()) -> list:
    """Arguments for a generated function: its parameters' shapes, directions alike.

    A scalar function's arguments get the batch shape (floats when it is ()).
    """
    args = []
    if any(shapes.values()):
        batch = ()  # array functions take no batch
    for p in inspect.signature(function).parameters:
        base = p.rstrip("_")
        shape = shapes.get(base)
        if shape is None and base[:1] in "vt":
            shape = shapes.get(base[1:])
        shape = () if shape is None else shape
        if shape:
            args.append(rng.uniform(0.1, 1.0, size=shape))
        elif batch:
            args.append(rng.uniform(0.1, 1.0, size=batch))
        else:
            args.append(float(rng.uniform(0.1, 1.0)))
    return args


def leaves(value) -> list:
    """The arrays of a (nested) result, in order."""
    if isinstance(value, tuple):
        return [leaf for item in value for leaf in leaves(item)]
    return [value]


def worst_relative(a, b) -> float:
    """The largest |a - b| over the scale of b (its largest finite magnitude).

    Equal entries (nan and nan too) differ by 0; a nan against a number by inf.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    finite = np.abs(b[np.isfinite(b)])
    scale = max(float(np.max(finite, initial=0.0)), np.finfo(float).tiny)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    with np.errstate(invalid="ignore"):
        diff = np.where(same, 0.0, np.abs(a - b))
    diff = np.where(np.isnan(diff), np.inf, diff)  # one nan, the other not
    return float(np.max(diff, initial=0.0) / scale)
