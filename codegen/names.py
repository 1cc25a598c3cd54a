"""Source identifiers made safe as Python names in generated modules."""

from __future__ import annotations

import keyword

# Names generated code uses besides the module's own functions. Its helpers
# (_expand, _sign1, ...) all start with '_', which python_name mangles anyway.
RESERVED = frozenset({
    "np", "math", "shape", "dtype", "hessian",
    # builtins the fast paths and helpers call
    "type", "float", "all", "abs", "max", "ArithmeticError", "ValueError",
})  # fmt: skip


def python_name(name: str) -> str:
    """A source identifier made safe as a Python name (keywords and reserved get '_').

    Names starting with '_' get one too: the module's own helpers (_expand, _sign1)
    and dunders (__all__, __builtins__) all start with one.
    """
    reserved = name in RESERVED or name.startswith("_")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or reserved:
        return name + "_"
    return name
