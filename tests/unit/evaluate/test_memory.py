"""The evaluator's memory guard: glibc's mmap threshold pinned once, so freed batch blocks leave the process."""

from __future__ import annotations

import platform

import pytest

from knowrec.memory import pin_mmap_threshold


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_the_threshold_is_pinned_on_glibc() -> None:
    assert pin_mmap_threshold() is True
    assert pin_mmap_threshold() is True  # once per process: the cached answer


def test_without_glibc_it_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes.util

    pin_mmap_threshold.cache_clear()
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    try:
        assert pin_mmap_threshold() is False
    finally:
        pin_mmap_threshold.cache_clear()
