"""The command line: `symgrad compile` and `symgrad show`; main(argv) returns the exit code.

Exit codes: 0 ok, 1 an error in the input (or --check found the output stale),
2 a usage error, 123 an internal error (a bug in symgrad: please report it).
"""

from __future__ import annotations

import argparse
import keyword
import os
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from codegen.module import MARKER
from symgrad import __version__, collector
from symgrad.api import compile_source, decode_source
from symgrad.errors import LimitError, SymgradError, printable
from symgrad.graph import node_budget

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 123


class UsageError(Exception):
    """A command line that cannot be carried out as given."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit(2) itself; we raise instead
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The argparse definition of every subcommand."""
    parser = _Parser(prog="symgrad", description="Exact derivatives compiled to numpy.")
    parser.add_argument("--version", action="version", version=f"symgrad {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    comp = sub.add_parser("compile", help="compile FILE.sg to a Python module")
    comp.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="expression files ('-' reads standard input)",
    )
    comp.add_argument(
        "-o",
        "--output",
        help="output path (one input only); '-' writes to standard output",
    )
    comp.add_argument(
        "--check", action="store_true", help="exit 1 if the output is missing or stale"
    )
    comp.add_argument(
        "--force", action="store_true", help="overwrite a file symgrad did not generate"
    )
    comp.add_argument(
        "--target",
        choices=("numpy", "numba"),
        default="numpy",
        help="numpy (default) or numba: loops compiled by numba (pip install "
        "symgrad[numba])",
    )
    show = sub.add_parser("show", help="print the functions and their derivatives")
    show.add_argument("file", help="the expression file ('-' reads standard input)")
    show.add_argument("--hessian", action="store_true", help="also print the Hessians")
    _add_check_parser(sub)
    return parser


def _add_check_parser(sub) -> None:
    """The `check` subcommand: symbolic against finite-difference gradients."""
    chk = sub.add_parser("check", help="check the gradient against finite differences")
    chk.add_argument("file", help="the expression file ('-' reads standard input)")
    chk.add_argument(
        "--at",
        action="append",
        default=[],
        metavar="NAME=VALUE,...",
        help="the point: a value for every parameter, data too (e.g. x=3,y=4)",
    )
    chk.add_argument(
        "--at-file",
        metavar="DATA.npz",
        help="values (arrays) by parameter name, from numpy.savez",
    )
    chk.add_argument(
        "--sizes",
        action="append",
        default=[],
        metavar="NAME=SIZE,...",
        help="sizes for random values of the parameters not given (e.g. n=50,d=5)",
    )
    chk.add_argument(
        "--seed", type=int, default=0, help="the random values' seed (default 0)"
    )
    chk.add_argument(
        "--entries",
        type=int,
        metavar="K",
        help="check a random sample of K entries of a larger parameter (default 100)",
    )
    chk.add_argument(
        "--function", help="the function to check (if the file has several)"
    )
    chk.add_argument(
        "--method",
        choices=("central", "forward", "complex", "richardson"),
        default="central",
        help="how to estimate the derivative (default: central)",
    )
    chk.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    chk.add_argument(
        "--step", type=float, help="a fixed step instead of the optimal one"
    )
    chk.add_argument("--json", action="store_true", help="print JSON for machines")
    chk.add_argument(
        "--sweep", metavar="VAR", help="the error curve over h = 1e-1..1e-16"
    )
    chk.add_argument(
        "--plot", metavar="OUT.png", help="draw the --sweep curve (matplotlib)"
    )
    chk.add_argument(
        "--against",
        metavar="MODULE:FUNCTION",
        help="compare a hand-written gradient with symgrad's exact one",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the command line; never raises for a user's mistake."""
    try:
        args = build_parser().parse_args(argv)
        with collector.paused():  # the CLI is a process: nothing else to collect
            return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"symgrad: error: {exc}", file=sys.stderr)
        print(
            "usage: symgrad {compile,show,check} FILE.sg [options]  (see symgrad --help)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except SymgradError as exc:
        print(exc.format(), file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): not an error of ours; silence the flush.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("symgrad: interrupted", file=sys.stderr)
        return 130
    except Exception:
        traceback.print_exc()
        print(
            "symgrad: internal error (a bug in symgrad); please report it with the input",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def read_input(name: str) -> tuple[str, str]:
    """(text, display name) of an input path or '-' for standard input."""
    if name == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError(
                "'-' reads the expression file from standard input, which is a terminal; pipe a file in or name one"
            )
        return decode_source(sys.stdin.buffer.read(), "<stdin>"), "<stdin>"
    path = Path(name)
    if not path.exists():
        raise SymgradError(f"{printable(name)}: no such file")
    if path.is_dir():
        raise SymgradError(f"{printable(name)}: is a directory, not an expression file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SymgradError(f"{printable(name)}: cannot read: {exc.strerror}") from None
    return decode_source(data, name), name


def default_output(name: str) -> str:
    """FILE.sg -> FILE.py beside it."""
    if name == "-":
        return "-"
    path = Path(name)
    return str(
        path.with_suffix(".py")
        if path.suffix == ".sg"
        else path.with_name(path.name + ".py")
    )


def cmd_compile(args: argparse.Namespace) -> int:
    """symgrad compile: each FILE.sg to FILE.py (atomically), or compare with --check.

    With several inputs every file is compiled; each bad one is reported and the
    exit code is the worst of them.
    """
    if args.output and len(args.files) > 1:
        raise UsageError("-o names one output; give one input file with it")
    if args.check and (args.output == "-" or (args.files == ["-"] and not args.output)):
        raise UsageError("--check compares an output file; it cannot write to stdout")
    status = EXIT_OK
    for name in args.files:
        try:
            status = max(
                status,
                _compile_one(name, args.output, args.check, args.force, args.target),
            )
        except SymgradError as exc:
            if len(args.files) == 1:
                raise
            print(exc.format(), file=sys.stderr)
            status = max(status, EXIT_INPUT)
    return status


def _compile_one(
    name: str, output: str | None, check: bool, force: bool, target: str = "numpy"
) -> int:
    text, display = read_input(name)
    output = output or default_output(name)
    _check_module_name(output)
    if output != "-" and name != "-" and _same_file(name, output):
        raise UsageError(f"output {printable(output)} is the input file itself")
    with _node_budget(display):
        targets = () if target == "numpy" else (target,)  # the default: as before
        module = compile_source(text, display, *targets)
    if output == "-":
        sys.stdout.write(module)
        sys.stdout.flush()
        return EXIT_OK
    if check:
        return _check_output(output, module)
    write_atomically(Path(output), module, force=force)
    return EXIT_OK


@contextmanager
def _node_budget(display: str) -> Iterator[None]:
    """One compilation's node budget; an error with no source place names the file."""
    with node_budget():
        try:
            yield
        except LimitError as error:
            if error.span is not None:
                raise
            # Differentiation has no source place to point at: name the file at least.
            note = f"while compiling {printable(display)}"
            raise LimitError(error.message, None, (*error.notes, note)) from None


def _check_module_name(output: str) -> None:
    if output == "-":
        return
    stem = Path(output).stem
    if not stem.isidentifier() or not stem.isascii() or keyword.iskeyword(stem):
        print(
            # Escaped like a diagnostic's file name: a newline in the path must not
            # split the warning over two lines.
            f"symgrad: warning: '{printable(stem)}' is not a Python identifier; the module cannot be imported by name",
            file=sys.stderr,
        )
    if stem in {"math", "numpy", "np", "symgrad", "codegen"}:
        raise UsageError(
            f"output module name '{stem}' would shadow the '{stem}' module; choose another name"
        )
    if stem in sys.stdlib_module_names:
        # Not an error (code.sg, random.sg are natural names), but os.py beside a
        # script breaks every `import os` run from that folder.
        print(
            f"symgrad: warning: module name '{stem}' shadows the standard library's "
            f"'{stem}' for scripts run from the output's folder",
            file=sys.stderr,
        )


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def _check_output(output: str, module: str) -> int:
    path = Path(output)
    if not path.exists():
        print(f"{printable(output)}: missing (run symgrad compile)", file=sys.stderr)
        return EXIT_INPUT
    if path.read_text(encoding="utf-8", errors="replace") != module:
        print(f"{printable(output)}: stale (run symgrad compile)", file=sys.stderr)
        return EXIT_INPUT
    return EXIT_OK


def write_atomically(path: Path, text: str, force: bool = False) -> None:
    """Write to a temporary file beside path, then rename: readers never see half a file."""
    if path.is_dir():
        raise SymgradError(f"{printable(str(path))}: output is a directory")
    if path.exists() and not force and not _generated_by_us(path):
        raise SymgradError(
            f"{printable(str(path))}: exists and was not generated by symgrad; use --force to overwrite it"
        )
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=directory
        )
    except OSError as exc:
        raise SymgradError(
            f"{printable(str(path))}: cannot write: {exc.strerror}"
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a module is 0644-like
        os.replace(tmp, path)
    except (
        OSError
    ) as exc:  # disk full, permissions changed under us: the old file stays
        Path(tmp).unlink(missing_ok=True)
        raise SymgradError(
            f"{printable(str(path))}: cannot write: {exc.strerror or exc}"
        ) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _generated_by_us(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            head = handle.read(len(MARKER) + 8)
    except OSError:
        return False
    return head.lstrip('"').startswith(MARKER)


def cmd_show(args: argparse.Namespace) -> int:
    """symgrad show: each function, its gradient (and Hessian) in readable math."""
    from symgrad.show import describe_source

    text, display = read_input(args.file)
    with _node_budget(display):
        description = describe_source(text, display, hessian=args.hessian)
    sys.stdout.write(description)
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    """symgrad check: the gradient against finite differences; --sweep; --against."""
    import json

    from symgrad import check

    if args.plot and not args.sweep:
        raise UsageError("--plot draws the --sweep curve; give --sweep VAR too")
    if args.sweep and (args.against or args.step is not None):
        raise UsageError("--sweep takes no --against or --step")
    if args.sweep and (args.at_file or args.sizes or args.entries is not None):
        raise UsageError(
            "--sweep takes a scalar point: no --at-file, --sizes or --entries"
        )
    if not (args.at or args.at_file or args.sizes):
        raise UsageError("give the point: --at NAME=VALUE,..., --at-file or --sizes")
    text, display = read_input(args.file)
    try:
        at = check.parse_point(args.at)
        with _node_budget(display):
            result = _check_result(check, text, display, at, args)
    except (ValueError, check.ArgumentError, check.PlotUnavailable) as exc:
        raise UsageError(getattr(exc, "message", str(exc))) from None
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(result.format())
    return EXIT_OK if getattr(result, "passed", True) else EXIT_INPUT


def _check_result(check, text: str, display: str, at: dict, args: argparse.Namespace):
    options = dict(dtype=args.dtype, function=args.function, file=display)
    if not args.sweep:
        from symgrad.check_arrays import parse_sizes

        return check.check(
            text, at, args.method, step=args.step, against=args.against,
            at_file=args.at_file, sizes=parse_sizes(args.sizes), seed=args.seed,
            entries=args.entries, **options,
        )  # fmt: skip
    if args.plot:
        check.require_matplotlib()  # before the work: a missing extra is a usage error
    result = check.sweep(text, at, args.sweep, **options)
    if args.plot:
        check.plot_sweep(result, args.plot)
    return result


COMMANDS = {"compile": cmd_compile, "show": cmd_show, "check": cmd_check}
