"""symgrad/cache.py: keyed entries, hits skip building, corrupt entries are rebuilt."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from symgrad import cache
from symgrad.graph import var
from symgrad.simplify import add, call, mul

MODULE = (
    '"""doc"""\n\nimport numpy as np\n\n\ndef f(x):\n    """f"""\n    return 2.0 * x\n'
)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SYMGRAD_CACHE", raising=False)
    cache.clear_memory()
    yield tmp_path / "cache"
    cache.clear_memory()


class Builder:
    """Counts how often the module text is built."""

    def __init__(self, text: str = MODULE):
        self.text, self.calls = text, 0

    def __call__(self) -> str:
        self.calls += 1
        return self.text


def test_second_load_is_a_disk_hit_without_building(cache_dir):
    build = Builder()
    module, hit = cache.cached_module("k1", "f", build)
    assert (module.f(2.0), hit, build.calls) == (4.0, False, 1)
    cache.clear_memory()
    module, hit = cache.cached_module("k1", "f", build)
    assert (module.f(3.0), hit, build.calls) == (6.0, True, 1)
    (entry,) = cache_dir.glob("sg_k1.py")
    assert cache.HEADER in entry.read_text() and entry.with_suffix(".code").exists()


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "header"])
def test_corrupt_entries_are_detected_and_rebuilt(cache_dir, damage):
    build = Builder()
    cache.cached_module("k2", "f", build)
    entry = cache_dir / "sg_k2.py"
    raw = entry.read_text()
    damaged = {
        "truncate": raw[: len(raw) // 2],
        "flip": raw.replace("2.0 * x", "3.0 * x"),
        "empty": "",
        "header": raw.replace(cache.HEADER, "# something else "),
    }[damage]
    entry.write_text(damaged)
    cache.clear_memory()
    module, hit = cache.cached_module("k2", "f", build)
    assert (hit, build.calls, module.f(1.0)) == (False, 2, 2.0)
    assert entry.read_text() == raw  # rewritten whole


def _fresh_load(key: str, build: Builder):
    """Load key as a new process would: nothing in memory."""
    cache.clear_memory()
    return cache.cached_module(key, "f", build)


def test_a_hit_reads_the_text_only_when_asked(cache_dir, monkeypatch):
    build = Builder()
    cache.cached_module("k6", "f", build)
    opened = []

    def recording_open(file, *args, **kwargs):
        opened.append(os.path.basename(file))
        return open(file, *args, **kwargs)

    monkeypatch.setattr(cache, "open", recording_open, raising=False)
    module, hit = _fresh_load("k6", build)
    assert (hit, module.f(2.0), opened) == (True, 4.0, ["sg_k6.code"])
    assert cache.module_source(module, build) == MODULE
    assert opened == ["sg_k6.code", "sg_k6.py"] and build.calls == 1


def test_text_damaged_in_place_is_rebuilt_when_read(cache_dir):
    """Same size and mtime (the code file still trusts it): caught when f.source reads it."""
    build = Builder()
    cache.cached_module("k7", "f", build)
    entry = cache_dir / "sg_k7.py"
    raw, info = entry.read_text(), entry.stat()
    entry.write_text(raw.replace("2.0 * x", "3.0 * x"))
    os.utime(entry, ns=(info.st_atime_ns, info.st_mtime_ns))
    module, hit = _fresh_load("k7", build)
    assert (hit, module.f(1.0)) == (True, 2.0)  # the code file is intact
    assert cache.module_source(module, build) == MODULE and build.calls == 2
    assert entry.read_text() == raw  # rewritten whole
    module, hit = _fresh_load("k7", build)
    assert (hit, build.calls, cache.module_source(module, build)) == (True, 2, MODULE)


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "magic", "touch"])
def test_a_damaged_or_stale_code_file_is_compiled_again(cache_dir, damage):
    build = Builder()
    cache.cached_module("k8", "f", build)
    code, entry = cache_dir / "sg_k8.code", cache_dir / "sg_k8.py"
    raw = code.read_bytes()
    if damage == "touch":  # the text file changed its mtime: its hash is checked
        os.utime(entry, ns=(1, 1))
    else:
        code.write_bytes({
            "truncate": raw[: len(raw) // 2],
            "flip": raw[:-10] + bytes([raw[-10] ^ 0xFF]) + raw[-9:],
            "empty": b"",
            "magic": b"\0\0\0\0" + raw[4:],
        }[damage])  # fmt: skip
    module, hit = _fresh_load("k8", build)
    assert (hit, build.calls, module.f(3.0)) == (True, 1, 6.0)
    assert cache.module_source(module, build) == MODULE
    assert cache._valid_code(entry) is not None  # rewritten: trusted again
    module, hit = _fresh_load("k8", build)
    assert (hit, module.f(1.0)) == (True, 2.0) and "__symgrad_source__" not in vars(
        module
    )


def test_unwritable_cache_dir_falls_back_to_memory_with_one_warning(
    tmp_path, monkeypatch
):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(blocker / "cache"))
    cache.clear_memory()
    cache._warned_dirs.clear()
    with pytest.warns(cache.CacheWarning, match="cannot write the cache"):
        module, _ = cache.cached_module("k3", "f", Builder())
    assert module.f(1.0) == 2.0
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        module, _ = cache.cached_module("k4", "f", Builder())  # no second warning
    assert module.f(2.0) == 4.0


def test_cache_off_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMGRAD_CACHE", "0")
    monkeypatch.setenv("SYMGRAD_CACHE_DIR", str(tmp_path / "cache"))
    cache.clear_memory()
    module, hit = cache.cached_module("k5", "f", Builder())
    assert module.f(1.0) == 2.0 and not hit
    assert not (tmp_path / "cache").exists()


def test_fingerprint_depends_on_structure_only():
    x, y = var("x"), var("y")
    a = cache.graph_fingerprint([add(mul(x, y), call("sin", x))])
    b = cache.graph_fingerprint([add(mul(x, y), call("sin", x))])
    c = cache.graph_fingerprint([add(mul(x, y), call("cos", x))])
    assert a == b != c
    assert cache.cache_key("f", a) == cache.cache_key("f", b) != cache.cache_key("g", a)


SCRIPT = textwrap.dedent("""
    import sys, symgrad
    @symgrad.compile
    def rosen(x, y):
        return (1 - x)**2 + 100*(y - x**2)**2
    assert rosen.value_and_grad(1.0, 1.0)[1] == (0.0, 0.0)
    print("ok")
    """)


def test_two_processes_compiling_one_key_both_succeed(tmp_path):
    env = {"SYMGRAD_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(Path.cwd())}
    env = {**__import__("os").environ, **env}
    procs = [
        subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]  # fmt: skip
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert all(out.strip() == "ok" for out, _ in results)
    entries = list((tmp_path / "cache").glob("sg_*.py"))
    assert len(entries) == 1 and not list((tmp_path / "cache").glob("*.tmp"))


def test_source_stamp_changes_with_any_edit(tmp_path):
    """An edited, added or removed generator file is a new stamp; untouched is the same."""
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 2\n")
    before = cache.source_stamp([tmp_path])
    assert cache.source_stamp([tmp_path]) == before
    (tmp_path / "a.py").write_text("x = 10\n")  # a different size
    edited = cache.source_stamp([tmp_path])
    assert edited != before
    os.utime(tmp_path / "b.py", ns=(1, 1))  # same size, another modification time
    touched = cache.source_stamp([tmp_path])
    assert touched != edited
    (tmp_path / "c.py").write_text("")
    added = cache.source_stamp([tmp_path])
    assert added != touched
    (tmp_path / "c.py").unlink()
    assert cache.source_stamp([tmp_path]) == touched


def test_wheel_stamp_follows_the_installed_record(tmp_path):
    package = tmp_path / "site-packages" / "symgrad"
    package.mkdir(parents=True)
    assert cache.wheel_stamp(str(package), "0.1.0") is None  # a source tree
    record = tmp_path / "site-packages" / "symgrad-0.1.0.dist-info" / "RECORD"
    record.parent.mkdir()
    record.write_text("symgrad/__init__.py,sha256=abc,10\n")
    first = cache.wheel_stamp(str(package), "0.1.0")
    assert first is not None and cache.wheel_stamp(str(package), "0.1.0") == first
    assert cache.wheel_stamp(str(package), "0.2.0") is None  # another version's
    record.write_text("symgrad/__init__.py,sha256=abcd,11\n")  # a reinstall
    assert cache.wheel_stamp(str(package), "0.1.0") not in (None, first)


def test_this_checkout_is_stamped_by_its_sources():
    package = Path(cache.__file__).parent
    roots = [package, package.parent / "codegen"]
    assert cache.generator_fingerprint() == cache.source_stamp(roots)


def test_source_stamp_sees_a_file_move_between_directories(tmp_path):
    first, second = tmp_path / "symgrad", tmp_path / "codegen"
    first.mkdir(), second.mkdir()
    (first / "a.py").write_text("x = 1\n")
    os.utime(first / "a.py", ns=(5, 5))
    before = cache.source_stamp([first, second])
    (first / "a.py").rename(second / "a.py")  # same name, size and mtime
    assert cache.source_stamp([first, second]) != before
