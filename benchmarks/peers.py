"""One adapter per tool: value, gradient and Hessian callables, calls, op counts.

Every adapter builds the same expression: symgrad from the workload's .sg text, the
peers from the workload's Python builder (benchmarks/workloads.py) evaluated on their
own symbols or tracers. Each adapter is used in a fresh worker process by
benchmarks/run.py; a peer whose library is not installed is reported as skipped.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import linecache
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np

Call = Callable[[], Any]


class Peer:
    """A tool under test: compile, calls, conversions to arrays and op counts."""

    name = ""
    module = ""
    install = ""
    ops_definition = "not available"
    imports: tuple[str, ...] = ()

    @classmethod
    def prepare(cls) -> None:
        """Import the library (never part of a figure)."""
        for name in (cls.module, *cls.imports):
            importlib.import_module(name)

    @classmethod
    def missing(cls) -> str | None:
        """Why the tool cannot run here (not installed), or None if it can."""
        if importlib.util.find_spec(cls.module) is None:
            return f"not installed (pip install {cls.install})"
        return None

    def compile(self, w: Any) -> None:
        """Build callables for the workload and call each once (the timed stage)."""
        raise NotImplementedError

    def grad(self, point: list[float]) -> Any:
        """The gradient at one point given as Python floats."""
        raise NotImplementedError

    def hessian(self, point: list[float]) -> Any:
        """The Hessian at one point given as Python floats."""
        raise NotImplementedError

    def deriv(self, x: float) -> Any:
        """The workload's n-th derivative at x (derivative workloads only)."""
        raise NotImplementedError

    def batch_grad(self, X: np.ndarray) -> Call:
        """Prepare a call computing gradients at the columns of X (shape (n, batch))."""
        raise NotImplementedError

    def batch_hessian(self, X: np.ndarray) -> Call:
        """Prepare a call computing Hessians at the columns of X (shape (n, batch))."""
        raise NotImplementedError

    def grad_array(self, out: Any) -> np.ndarray:
        """A point gradient as a float array of shape (n,)."""
        return np.asarray(out, dtype=float).reshape(-1)

    def hessian_array(self, out: Any, n: int) -> np.ndarray:
        """A point Hessian as a float array of shape (n, n)."""
        return np.asarray(out, dtype=float).reshape(n, n)

    def grad_rows(self, out: Any, k: int) -> np.ndarray:
        """The first k gradients of a batch result, shape (k, n)."""
        return np.asarray(out, dtype=float)[:k].reshape(k, -1)

    def hessian_rows(self, out: Any, k: int) -> np.ndarray:
        """The first k Hessians of a batch result, shape (k, n, n)."""
        rows = np.asarray(out, dtype=float)[:k]
        n = round((rows.size // k) ** 0.5)
        return rows.reshape(k, n, n)

    def ops(self) -> dict[str, int] | None:
        """Op counts of the generated value, gradient and Hessian (or derivative)."""
        return None


def _first(values: Any, k: int) -> list[np.ndarray]:
    """The first k entries of each output (a batch array, or a scalar broadcast)."""
    out = []
    for value in values:
        a = np.asarray(value, dtype=float)
        out.append(a[:k] if a.ndim else np.full(k, float(a)))
    return out


def _math(sin: Any, exp: Any, total: Callable[[list[Any]], Any]) -> SimpleNamespace:
    """The namespace a workload builder uses: sin, exp and a many-term sum."""
    return SimpleNamespace(sin=sin, exp=exp, total=total)


def _running_sum(terms: list[Any]) -> Any:
    """terms[0] + terms[1] + ..., left to right, as the source text reads."""
    result = terms[0]
    for term in terms[1:]:
        result = result + term
    return result


# --- symgrad -----------------------------------------------------------------------

_PROLOGUE = {"dtype", "shape"}


def _is_prologue(stmt: ast.stmt) -> bool:
    """dtype = ..., shape = ..., x = np.asarray(...) and `... = _as_arrays(...)` lines.

    None of them is counted as ops: they bring the inputs to one dtype and shape.
    """
    if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
        return False
    target, value = stmt.targets[0], stmt.value
    if isinstance(target, ast.Name) and target.id in _PROLOGUE:
        return True
    if not isinstance(value, ast.Call):
        return False
    if isinstance(value.func, ast.Name):  # many parameters: one helper call
        return value.func.id == "_as_arrays"
    return isinstance(value.func, ast.Attribute) and value.func.attr == "asarray"


def _is_float_dispatch(stmt: ast.stmt) -> bool:
    """The `if type(x) is float ...:` fast path to the _f_float twin: not counted."""
    if not isinstance(stmt, ast.If):
        return False
    names = {n.id for n in ast.walk(stmt.test) if isinstance(n, ast.Name)}
    return {"type", "float"} <= names


def _is_errstate(stmt: ast.stmt) -> bool:
    """A `with np.errstate(...):` block: its body is counted, not the call."""
    return isinstance(stmt, ast.With) and all(
        isinstance(item.context_expr, ast.Call)
        and isinstance(item.context_expr.func, ast.Attribute)
        and item.context_expr.func.attr == "errstate"
        for item in stmt.items
    )


def _counted(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements whose ops count: no prologue, no dispatch, errstate opened."""
    out: list[ast.stmt] = []
    for stmt in body:
        if _is_errstate(stmt):
            out += _counted(stmt.body)
        elif not (_is_prologue(stmt) or _is_float_dispatch(stmt)):
            out.append(stmt)
    return out


def count_ops(source: str, function: str) -> int:
    """ast.BinOp + ast.UnaryOp + ast.Call nodes in one generated function's body.

    The prologue, the Python-float dispatch and the np.errstate wrapper are left
    out: what is counted is the numpy path, the one that runs on arrays. A call of
    the function's body (`_f_grad_body(x, y)`) counts as the body's statements. So
    is output packaging left out, as CasADi's count leaves out OP_OUTPUT: the
    Hessian's `np.zeros(...)` allocation, and the `_expand(...)` and `np.copy(...)`
    that give each output the inputs' broadcast shape (the ops inside their first
    argument count).
    """
    defs = {
        node.name: node
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef)
    }
    if function not in defs:
        raise KeyError(function)
    bodies = {name: f.body for name, f in defs.items() if name.endswith("_body")}
    return sum(_ops_in(stmt, bodies) for stmt in _counted(defs[function].body))


_PACKAGING = {"_expand", "np.copy"}


def _ops_in(tree: ast.AST, bodies: dict[str, list[ast.stmt]]) -> int:
    """The ops under tree, packaging calls left out (their first argument counted)."""
    count, stack = 0, [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Assign) and _is_hessian_allocation(node):
            continue
        if isinstance(node, ast.Call):
            called = ast.unparse(node.func)
            if called in _PACKAGING:
                stack.append(node.args[0])
                continue
            if called in bodies:  # the arguments are names and the Hessian's zeros
                stack.extend(bodies[called])
                continue
        count += _is_op(node)
        stack.extend(ast.iter_child_nodes(node))
    return count


def _is_hessian_allocation(stmt: ast.Assign) -> bool:
    """`hessian = np.zeros(...)`: the output's storage, not arithmetic."""
    target = stmt.targets[0]
    return (
        isinstance(target, ast.Name)
        and target.id == "hessian"
        and isinstance(stmt.value, ast.Call)
        and ast.unparse(stmt.value.func) == "np.zeros"
    )


def _is_op(node: ast.AST) -> bool:
    """A BinOp, UnaryOp or Call; a negative literal such as -2.0 is a constant.

    Python's compiler folds -2.0 into one constant, and the peers' counts leave
    constants out (CasADi's OP_CONST, sympy's numbers), so it is not an op here.
    """
    if isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
        return False
    return isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Call))


class Symgrad(Peer):
    """compile_source + codegen.load.load; the generated functions broadcast."""

    name = "symgrad"
    imports = ("symgrad.api", "codegen.load", "black")
    module = "symgrad"
    install = "-e ."
    ops_definition = (
        "ast.BinOp + ast.UnaryOp + ast.Call nodes in the generated function bodies, "
        "without the prologue (dtype = ..., x = np.asarray(...), shape = ...) and "
        "output packaging (np.zeros for the Hessian, _expand, np.copy); "
        "negative literals such as -2.0 are constants"
    )

    def compile(self, w: Any) -> None:
        """Text -> module (parse, differentiate, simplify, generate, load); call."""
        from codegen.load import load
        from symgrad.api import compile_source, diff

        if w.kind == "derivative":
            self.d = diff(w.expression, w.params[0], order=w.order)
            self.d(w.at)
            self.source = "".join(linecache.getlines("<d>"))
            return
        self.source = compile_source(w.text, "bench.sg")
        module = load(self.source, "bench", "<bench>")
        self.function = w.function
        self.f = getattr(module, w.function)
        self.g = getattr(module, w.function + "_grad")
        self.h = getattr(module, w.function + "_hessian")
        point = w.point()
        self.f(*point), self.g(*point), self.h(*point)

    def grad(self, point: list[float]) -> Any:
        return self.g(*point)

    def hessian(self, point: list[float]) -> Any:
        return self.h(*point)

    def deriv(self, x: float) -> Any:
        return self.d(x)

    def batch_grad(self, X: np.ndarray) -> Call:
        rows = tuple(X)
        return lambda: self.g(*rows)

    def batch_hessian(self, X: np.ndarray) -> Call:
        rows = tuple(X)
        return lambda: self.h(*rows)

    def grad_rows(self, out: Any, k: int) -> np.ndarray:
        return np.stack(_first(out, k), axis=-1)

    def ops(self) -> dict[str, int] | None:
        if not hasattr(self, "function"):
            return {"derivative": count_ops(self.source, "d")}
        names = {"value": "", "grad": "_grad", "hessian": "_hessian"}
        ops = {k: count_ops(self.source, self.function + v) for k, v in names.items()}
        return ops | {"module_chars": len(self.source)}


# --- sympy and SymEngine -----------------------------------------------------------


def _upper_hessian(grad: list[Any], xs: list[Any]) -> dict[tuple[int, int], Any]:
    """Upper triangle of the Jacobian of the gradient, structural zeros left out."""
    entries = {}
    for i, gi in enumerate(grad):
        for j in range(i, len(xs)):
            entry = gi.diff(xs[j])
            if entry != 0:
                entries[i, j] = entry
    return entries


class Sympy(Peer):
    """sympy.diff for gradient and Hessian, then sympy.lambdify(cse=True) to numpy."""

    name = "sympy"
    module = "sympy"
    install = "sympy"
    ops_definition = "sum of sympy.count_ops over the output of sympy.cse"

    def compile(self, w: Any) -> None:
        """Python builder on sympy symbols -> diff -> lambdify(cse=True), then call."""
        import sympy

        self.sympy = sympy
        xs = list(sympy.symbols(list(w.params)))
        expr = w.build(_math(sympy.sin, sympy.exp, lambda t: sympy.Add(*t)), *xs)
        if w.kind == "derivative":
            self.exprs = {"derivative": [sympy.diff(expr, xs[0], w.order)]}
            self.d = sympy.lambdify(xs, self.exprs["derivative"][0], cse=True)
            self.d(w.at)
            return
        grad = [expr.diff(x) for x in xs]
        upper = _upper_hessian(grad, xs)
        self.n, self.keys = len(xs), list(upper)
        self.exprs = {"value": [expr], "grad": grad, "hessian": list(upper.values())}
        self.f = sympy.lambdify(xs, expr, cse=True)
        self.g = sympy.lambdify(xs, grad, cse=True)
        self.h_entries = sympy.lambdify(xs, self.exprs["hessian"], cse=True)
        point = w.point()
        self.f(*point), self.g(*point), self.hessian(point)

    def _assemble(self, values: list[Any], shape: tuple[int, ...]) -> np.ndarray:
        """The nonzero upper-triangle entries written into a dense symmetric array."""
        out = np.zeros(shape + (self.n, self.n))
        for (i, j), value in zip(self.keys, values):
            out[..., i, j] = value
            out[..., j, i] = value
        return out

    def grad(self, point: list[float]) -> Any:
        return self.g(*point)

    def hessian(self, point: list[float]) -> Any:
        return self._assemble(self.h_entries(*point), ())

    def deriv(self, x: float) -> Any:
        return self.d(x)

    def batch_grad(self, X: np.ndarray) -> Call:
        rows = tuple(X)
        return lambda: self.g(*rows)

    def batch_hessian(self, X: np.ndarray) -> Call:
        rows, shape = tuple(X), X.shape[1:]
        return lambda: self._assemble(self.h_entries(*rows), shape)

    def grad_rows(self, out: Any, k: int) -> np.ndarray:
        return np.stack(_first(out, k), axis=-1)

    def ops(self) -> dict[str, int] | None:
        counted = {}
        for key, exprs in self.exprs.items():
            replacements, reduced = self.sympy.cse(exprs)
            parts = [e for _, e in replacements] + list(reduced)
            counted[key] = int(sum(self.sympy.count_ops(e) for e in parts))
        return counted


class SymEngine(Peer):
    """symengine diff for gradient and Hessian, then symengine.Lambdify(cse=True)."""

    name = "symengine"
    module = "symengine"
    install = "symengine"
    ops_definition = "sum of symengine.count_ops over the output of symengine.cse"

    def compile(self, w: Any) -> None:
        """Builder on symengine symbols -> diff -> Lambdify(cse=True); call."""
        import symengine as se

        self.se = se
        xs = [se.Symbol(p) for p in w.params]
        expr = w.build(_math(se.sin, se.exp, lambda t: se.Add(*t)), *xs)
        if w.kind == "derivative":
            self.exprs = {"derivative": [se.diff(expr, *([xs[0]] * w.order))]}
            self.d = se.Lambdify(xs, self.exprs["derivative"], cse=True)
            self.d([w.at])
            return
        grad = [expr.diff(x) for x in xs]
        upper = _upper_hessian(grad, xs)
        n = len(xs)
        hessian = se.zeros(n, n)
        for (i, j), entry in upper.items():
            hessian[i, j] = hessian[j, i] = entry
        self.exprs = {"value": [expr], "grad": grad, "hessian": list(upper.values())}
        self.f = se.Lambdify(xs, [expr], cse=True)
        self.g = se.Lambdify(xs, grad, cse=True)
        self.h = se.Lambdify(xs, hessian, cse=True)
        point = w.point()
        self.f(point), self.g(point), self.h(point)

    def grad(self, point: list[float]) -> Any:
        return self.g(point)

    def hessian(self, point: list[float]) -> Any:
        return self.h(point)

    def deriv(self, x: float) -> Any:
        return self.d([x])

    def batch_grad(self, X: np.ndarray) -> Call:
        points = np.ascontiguousarray(X.T)
        return lambda: self.g(points)

    def batch_hessian(self, X: np.ndarray) -> Call:
        points = np.ascontiguousarray(X.T)
        return lambda: self.h(points)

    def ops(self) -> dict[str, int] | None:
        counted = {}
        for key, exprs in self.exprs.items():
            replacements, reduced = self.se.cse(exprs)
            parts = [e for _, e in replacements] + list(reduced)
            counted[key] = int(sum(self.se.count_ops(e) for e in parts))
        return counted


# --- CasADi ------------------------------------------------------------------------


class CasADi(Peer):
    """SX graph, casadi.gradient / casadi.hessian, Function; batches by map."""

    name = "casadi"
    module = "casadi"
    install = "casadi"
    ops_definition = (
        "instructions of the SX Function (n_instructions) that are operations: "
        "inputs, outputs and constants left out (n_nodes is in the JSON)"
    )

    def compile(self, w: Any) -> None:
        """Python builder on SX scalars -> gradient, hessian -> Function, then call."""
        import casadi as ca

        self.ca = ca
        X = ca.SX.sym("x", len(w.params))
        xs = [X[i] for i in range(len(w.params))]
        expr = w.build(_math(ca.sin, ca.exp, _running_sum), *xs)
        if w.kind == "derivative":
            d = expr
            for _ in range(w.order):
                d = ca.jacobian(d, X)
            self.functions = {"derivative": ca.Function("d", [X], [d])}
            self.d = self.functions["derivative"]
            self.d(w.at)
            return
        grad = ca.gradient(expr, X)
        hessian, _ = ca.hessian(expr, X)
        self.f = ca.Function("f", [X], [expr])
        self.g = ca.Function("g", [X], [grad])
        self.h = ca.Function("h", [X], [hessian])
        self.functions = {"value": self.f, "grad": self.g, "hessian": self.h}
        point = w.point()
        self.f(point), self.g(point), self.h(point)

    def grad(self, point: list[float]) -> Any:
        return self.g(point)

    def hessian(self, point: list[float]) -> Any:
        return self.h(point)

    def deriv(self, x: float) -> Any:
        return self.d(x)

    def hessian_array(self, out: Any, n: int) -> np.ndarray:
        return np.asarray(out.full(), dtype=float).reshape(n, n)

    def batch_grad(self, X: np.ndarray) -> Call:
        mapped = self.g.map(X.shape[1])
        return lambda: mapped(X)

    def batch_hessian(self, X: np.ndarray) -> Call:
        mapped = self.h.map(X.shape[1])
        return lambda: mapped(X)

    def grad_rows(self, out: Any, k: int) -> np.ndarray:
        return np.asarray(out[:, :k].full(), dtype=float).T

    def hessian_rows(self, out: Any, k: int) -> np.ndarray:
        n = out.shape[0]
        dense = np.asarray(out[:, : k * n].full(), dtype=float)
        return dense.reshape(n, k, n).transpose(1, 0, 2)

    def ops(self) -> dict[str, int] | None:
        skip = {self.ca.OP_INPUT, self.ca.OP_OUTPUT, self.ca.OP_CONST}
        counted = {}
        for key, f in self.functions.items():
            ids = (f.instruction_id(k) for k in range(f.n_instructions()))
            counted[key] = sum(op not in skip for op in ids)
            counted[key + "_n_instructions"] = f.n_instructions()
            counted[key + "_n_nodes"] = f.n_nodes()
        return counted


# --- JAX ---------------------------------------------------------------------------


def _jaxpr_equations(jaxpr: Any) -> int:
    """Equations of a jaxpr, recursing into sub-jaxprs instead of their calls."""
    total = 0
    for eqn in jaxpr.eqns:
        inner = [
            v for v in eqn.params.values() if hasattr(v, "eqns") or hasattr(v, "jaxpr")
        ]
        if not inner:
            total += 1
        for sub in inner:
            total += _jaxpr_equations(sub.jaxpr if hasattr(sub, "jaxpr") else sub)
    return total


class Jax(Peer):
    """jax.grad / jax.hessian under jit (float64); batches with jit(vmap(...))."""

    name = "jax"
    imports = ("jax.numpy",)
    module = "jax"
    install = "jax jaxlib"
    ops_definition = (
        "equations of jax.make_jaxpr of the un-jitted function, recursing into "
        "sub-jaxprs; includes unpacking the input vector into scalars"
    )

    def compile(self, w: Any) -> None:
        """Builder on a traced vector -> grad, hessian -> jit; call (XLA compiles)."""
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        self.jax = jax
        m = _math(jnp.sin, jnp.exp, _running_sum)
        n = len(w.params)
        if w.kind == "derivative":
            d = lambda x: w.build(m, x)  # noqa: E731
            for _ in range(w.order):
                d = jax.grad(d)
            self.plain = {"derivative": d}
            self.d = jax.jit(d)
            self.d(w.at).block_until_ready()
            self.sample = w.at
            return

        def f(x: Any) -> Any:
            return w.build(m, *[x[i] for i in range(n)])

        self.plain = {"value": f, "grad": jax.grad(f), "hessian": jax.hessian(f)}
        self.f, self.g, self.h = (jax.jit(self.plain[k]) for k in self.plain)
        self.sample = np.asarray(w.point())
        for fn in (self.f, self.g, self.h):
            fn(self.sample).block_until_ready()

    def grad(self, point: list[float]) -> Any:
        return self.g(np.asarray(point)).block_until_ready()

    def hessian(self, point: list[float]) -> Any:
        return self.h(np.asarray(point)).block_until_ready()

    def deriv(self, x: float) -> Any:
        return self.d(x).block_until_ready()

    def _batched(self, key: str, X: np.ndarray) -> Call:
        """jit(vmap(fn)) over rows of X.T, compiled here by one call."""
        points = np.ascontiguousarray(X.T)
        fn = self.jax.jit(self.jax.vmap(self.plain[key]))
        fn(points).block_until_ready()
        return lambda: fn(points).block_until_ready()

    def batch_grad(self, X: np.ndarray) -> Call:
        return self._batched("grad", X)

    def batch_hessian(self, X: np.ndarray) -> Call:
        return self._batched("hessian", X)

    def ops(self) -> dict[str, int] | None:
        return {
            key: _jaxpr_equations(self.jax.make_jaxpr(fn)(self.sample).jaxpr)
            for key, fn in self.plain.items()
        }


# --- autograd ----------------------------------------------------------------------


class Autograd(Peer):
    """autograd.grad / autograd.hessian on a vector; batches by elementwise_grad."""

    name = "autograd"
    imports = ("autograd.numpy",)
    module = "autograd"
    install = "autograd"
    ops_definition = "none: autograd traces at every call and keeps no program"

    def compile(self, w: Any) -> None:
        """Wrap the Python builder with grad and hessian (no compilation), then call."""
        import autograd
        import autograd.numpy as anp

        self.autograd = autograd
        m = _math(anp.sin, anp.exp, _running_sum)
        if w.kind == "derivative":
            d = lambda x: w.build(m, x)  # noqa: E731
            for _ in range(w.order):
                d = autograd.grad(d)
            self.d = d
            self.d(w.at)
            return
        n = len(w.params)
        self.f = lambda x: w.build(m, *[x[i] for i in range(n)])
        self.g = autograd.grad(self.f)
        self.h = autograd.hessian(self.f)
        self.g_batch = autograd.elementwise_grad(self.f)
        point = np.asarray(w.point())
        self.f(point), self.g(point), self.h(point)

    def grad(self, point: list[float]) -> Any:
        return self.g(np.asarray(point))

    def hessian(self, point: list[float]) -> Any:
        return self.h(np.asarray(point))

    def deriv(self, x: float) -> Any:
        return self.d(x)

    def batch_grad(self, X: np.ndarray) -> Call:
        return lambda: self.g_batch(X)

    def batch_hessian(self, X: np.ndarray) -> Call:
        eg = self.autograd.elementwise_grad
        rows = [eg(lambda Y, i=i: self.g_batch(Y)[i]) for i in range(X.shape[0])]
        return lambda: np.stack([row(X) for row in rows])

    def grad_rows(self, out: Any, k: int) -> np.ndarray:
        return np.asarray(out, dtype=float)[:, :k].T

    def hessian_rows(self, out: Any, k: int) -> np.ndarray:
        return np.asarray(out, dtype=float)[:, :, :k].transpose(2, 0, 1)


# --- PyTensor ----------------------------------------------------------------------


def _pytensor_ops(function: Any) -> int:
    """Apply nodes of a compiled graph, scalar ops inside fused Composites counted."""
    total = 0
    for node in function.maker.fgraph.apply_nodes:
        inner = getattr(getattr(node.op, "scalar_op", None), "fgraph", None)
        total += len(inner.apply_nodes) if inner is not None else 1
    return total


class PyTensor(Peer):
    """pytensor.grad and jacobian(vectorize=True); batches by vectorize_graph."""

    name = "pytensor"
    imports = ("pytensor.tensor", "pytensor.gradient", "pytensor.graph.replace")
    module = "pytensor"
    install = "pytensor"
    ops_definition = (
        "apply nodes of the compiled (rewritten) graph, with the scalar ops inside "
        "fused Composite nodes counted one by one; includes vector indexing"
    )

    def compile(self, w: Any) -> None:
        """Builder on a symbolic vector -> grad, jacobian -> function; call."""
        import pytensor
        import pytensor.tensor as pt
        from pytensor.gradient import jacobian

        self.pytensor = pytensor
        m = _math(pt.sin, pt.exp, lambda t: pt.add(*t))
        if w.kind == "derivative":
            x = pt.dscalar("x")
            d = w.build(m, x)
            for _ in range(w.order):
                d = pytensor.grad(d, x)
            self.functions = {"derivative": pytensor.function([x], d)}
            self.d = self.functions["derivative"]
            self.d(w.at)
            return
        X = pt.dvector("x")
        expr = w.build(m, *[X[i] for i in range(len(w.params))])
        grad = pytensor.grad(expr, X)
        self.X, self.graphs = X, {
            "grad": grad,
            "hessian": jacobian(grad, X, vectorize=True),
        }
        self.f = pytensor.function([X], expr)
        self.g = pytensor.function([X], grad)
        self.h = pytensor.function([X], self.graphs["hessian"])
        self.functions = {"value": self.f, "grad": self.g, "hessian": self.h}
        point = np.asarray(w.point())
        self.f(point), self.g(point), self.h(point)

    def grad(self, point: list[float]) -> Any:
        return self.g(np.asarray(point))

    def hessian(self, point: list[float]) -> Any:
        return self.h(np.asarray(point))

    def deriv(self, x: float) -> Any:
        return self.d(x)

    def _batched(self, key: str, X: np.ndarray) -> Call:
        """The one-point graph vectorized over a leading batch axis, compiled here."""
        import pytensor.tensor as pt
        from pytensor.graph.replace import vectorize_graph

        points = np.ascontiguousarray(X.T)
        Xb = pt.dmatrix("X")
        graph = vectorize_graph(self.graphs[key], {self.X: Xb})
        fn = self.pytensor.function([Xb], graph)
        return lambda: fn(points)

    def batch_grad(self, X: np.ndarray) -> Call:
        return self._batched("grad", X)

    def batch_hessian(self, X: np.ndarray) -> Call:
        return self._batched("hessian", X)

    def ops(self) -> dict[str, int] | None:
        return {key: _pytensor_ops(fn) for key, fn in self.functions.items()}


PEERS: dict[str, type[Peer]] = {
    cls.name: cls
    for cls in (Symgrad, Sympy, SymEngine, CasADi, Jax, Autograd, PyTensor)
}
