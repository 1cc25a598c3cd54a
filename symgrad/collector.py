"""The cyclic garbage collector, paused while the compiler runs: it builds no cycles."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# A compile allocates hundreds of thousands of long-lived nodes, tuples and strings
# and frees nothing cyclic (graph nodes are immutable and point only at older
# nodes), yet every collection walks them: 10 to 25% of compiling Rosenbrock in
# 1,000 variables, and more as the heap grows. Reference counting still frees
# every temporary. Pauses nest and may come from several threads at once: the
# collector is re-enabled when the last one ends, and only if it was on before
# the first began.
_LOCK = threading.Lock()
_STATE = {"depth": 0, "was_enabled": False}


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (restored as it was found)."""
    with _LOCK:
        if _STATE["depth"] == 0:
            _STATE["was_enabled"] = gc.isenabled()
            gc.disable()
        _STATE["depth"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _STATE["depth"] -= 1
            if _STATE["depth"] == 0 and _STATE["was_enabled"]:
                gc.enable()
