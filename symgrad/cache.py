"""The disk cache of generated modules: keyed by graph and options, written atomically.

A cache entry is the generated module's text behind one header line holding the
SHA-256 of that text, so a truncated or corrupted file is detected and rebuilt.
Entries are imported through importlib, so Python's own bytecode cache
(__pycache__) makes a warm load skip compiling the text too.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import platform
import tempfile
import types
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from codegen.load import load
from symgrad import __version__
from symgrad.graph import Node, toposort

HEADER = "# symgrad cache entry sha256="


class CacheWarning(UserWarning):
    """The disk cache cannot be used; generated code is kept in memory."""


_warned_dirs: set[str] = set()
_memory: dict[str, types.ModuleType] = {}


def graph_fingerprint(roots: Iterable[Node]) -> str:
    """A stable text of a graph's structure (no ids or hashes): equal graphs, equal text."""
    index: dict[Node, int] = {}
    lines = []
    for node in toposort(roots):
        index[node] = len(index)
        if node.op == "const":
            attrs = node.attrs[0].hex()
        else:
            attrs = repr(node.attrs)
        lines.append(f"{node.op}:{attrs}:{','.join(str(index[a]) for a in node.args)}")
    return "\n".join(lines)


def cache_key(*parts: str) -> str:
    """The key of an entry: the parts plus every version the generated code depends on."""
    versions = (__version__, np.__version__, platform.python_version())
    digest = hashlib.sha256()
    for part in (*versions, *parts):
        digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()[:32]


def cache_dir() -> Path | None:
    """Where entries live; None when SYMGRAD_CACHE=0 turns the disk cache off."""
    if os.environ.get("SYMGRAD_CACHE", "1") == "0":
        return None
    configured = os.environ.get("SYMGRAD_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "symgrad"


def cached_module(
    key: str, name: str, build: Callable[[], str]
) -> tuple[types.ModuleType, bool]:
    """The module for key: from memory, from disk, or built now; and whether it was a hit."""
    if key in _memory:
        return _memory[key], True
    directory = cache_dir()
    path = directory / f"sg_{key}.py" if directory else None
    module = _read_entry(path, name) if path else None
    hit = module is not None
    if module is None:
        text = build()
        module = _write_entry(path, text, name) if path else None
        if module is None:
            module = load(text, name, f"<symgrad {name}>")
    _memory[key] = module
    return module, hit


def _read_entry(path: Path, name: str) -> types.ModuleType | None:
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    header, _, text = raw.partition("\n")
    if header != HEADER + hashlib.sha256(text.encode("utf-8")).hexdigest():
        return None  # truncated, corrupted or foreign: rebuild it
    try:
        return _import(path, name)
    except Exception:  # a stale bytecode file or an unreadable entry: rebuild it
        return None


def _write_entry(path: Path, text: str, name: str) -> types.ModuleType | None:
    entry = HEADER + hashlib.sha256(text.encode("utf-8")).hexdigest() + "\n" + text
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(entry)
        os.replace(tmp, path)  # atomic: concurrent writers of one key both succeed
    except OSError as exc:
        _warn_once(path.parent, exc)
        return None
    return _import(path, name)


def _import(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"symgrad_cache.{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _warn_once(directory: Path, exc: OSError) -> None:
    if str(directory) in _warned_dirs:
        return
    _warned_dirs.add(str(directory))
    warnings.warn(
        f"symgrad: cannot write the cache in {directory} ({exc.strerror or exc}); "
        "keeping generated code in memory. Set SYMGRAD_CACHE_DIR to a writable "
        "directory, or SYMGRAD_CACHE=0 to turn the disk cache off.",
        CacheWarning,
        stacklevel=4,
    )


def clear_memory() -> None:
    """Forget the modules loaded in this process (tests use it to force disk reads)."""
    _memory.clear()
