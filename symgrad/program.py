"""A lowered program's data: each function's parameters and body graph, in file order.

Kept apart from lowering so that loading a cached module needs no parser or lowerer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from symgrad.errors import Span, SymgradError
from symgrad.graph import Node, var


@dataclass(frozen=True)
class Function:
    """A lowered definition: differentiated params, data params, body graph."""

    name: str
    params: tuple[str, ...]
    data: tuple[str, ...]
    body: Node
    source: str
    span: Span | None
    call_order: tuple[str, ...] | None = None  # a traced function keeps its signature's
    shapes: tuple[tuple[str, tuple], ...] = ()  # (name, shape) of each array parameter

    @property
    def param_nodes(self) -> tuple[Node, ...]:
        """The var nodes of the differentiated parameters."""
        return tuple(self.var_of(p) for p in self.params)

    def var_of(self, name: str) -> Node:
        """The var node of any parameter, with its declared shape."""
        for param, shape in self.shapes:
            if param == name:
                return var(name, shape)
        return var(name)

    @property
    def all_names(self) -> tuple[str, ...]:
        """Every parameter in call order: differentiated ones, then data (in a file)."""
        return self.call_order or self.params + self.data

    def check_names(self, given: Iterable[str], role: str = "data") -> None:
        """SymgradError unless the names given are exactly this function's data
        (role "data") or differentiated parameters (role "parameters")."""
        expected = self.data if role == "data" else self.params
        given = list(given)
        missing = [name for name in expected if name not in given]
        extra = [name for name in given if name not in expected]
        if missing or extra:
            raise SymgradError(
                f"{self.name} takes the {role} ({', '.join(expected)}); "
                + (f"missing {', '.join(missing)}" if missing else "")
                + ("; " if missing and extra else "")
                + (f"not {role}: {', '.join(extra)}" if extra else "")
            )


@dataclass
class Program:
    """Every function of a file, in order, and the source names of intermediates."""

    file: str
    functions: list[Function] = field(default_factory=list)
    names: dict[Node, str] = field(default_factory=dict)


class LazyFunction:
    """A Function known by its signature, its body graph built on first use.

    A cache hit has the generated module already: only a view of the symbolic
    derivatives needs the graph. (A plain class: a dataclass costs ~1 ms of import.)
    """

    __slots__ = ("name", "params", "data", "source", "call_order", "_body", "shapes")

    def __init__(
        self,
        name: str,
        params: tuple[str, ...],
        data: tuple[str, ...],
        source: str,
        call_order: tuple[str, ...],
        body: Callable[[], Node],
        shapes: tuple[tuple[str, tuple], ...] = (),
    ):
        self.name, self.params, self.data = name, params, data
        self.source, self.call_order, self._body = source, call_order, body
        self.shapes = shapes

    @property
    def all_names(self) -> tuple[str, ...]:
        """Every parameter in call order."""
        return self.call_order

    def resolve(self) -> Function:
        """The Function, with its body graph built now."""
        return Function(
            self.name, self.params, self.data, self._body(), self.source, None,
            self.call_order, self.shapes,
        )  # fmt: skip
