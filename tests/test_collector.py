"""Tests for symgrad.collector: the collector paused while compiling, restored as found."""

from __future__ import annotations

import gc
import threading

import pytest

from codegen.load import load
from symgrad import api, collector


@pytest.fixture(autouse=True)
def collector_on():
    """Each test starts with the collector on and leaves it on."""
    gc.enable()
    yield
    assert gc.isenabled()


def test_paused_inside_and_restored_after() -> None:
    with collector.paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_pauses_restore_only_at_the_outermost() -> None:
    with collector.paused():
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_caller_that_disabled_the_collector_keeps_it_disabled() -> None:
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_error_inside_still_restores() -> None:
    with pytest.raises(ZeroDivisionError):
        with collector.paused():
            1 / 0
    assert gc.isenabled()


def test_overlapping_pauses_in_two_threads_restore_when_both_end() -> None:
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with collector.paused():
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=other)
    with collector.paused():
        thread.start()
        assert inside.wait(10)
    assert not gc.isenabled()  # the other thread is still compiling
    release.set()
    thread.join(10)
    assert gc.isenabled()


def test_compile_source_and_load_pause_the_collector(monkeypatch) -> None:
    seen = []
    real = api.module_spec

    def spy(program, name):
        seen.append(gc.isenabled())
        return real(program, name)

    monkeypatch.setattr(api, "module_spec", spy)
    text = api.compile_source("f(x, y) = x^2*y\n", "m.sg")
    assert seen == [False] and gc.isenabled()
    module = load(text + "\nSEEN = __import__('gc').isenabled()\n", "m", "<m>")
    assert module.SEEN is False and gc.isenabled()
