"""glibc's allocator set for the work at hand: large blocks go back to the system while ranking, and stay in the
heap for reuse while training."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from knowrec.memory import pin_mmap_threshold, reuse_freed_blocks

GLIBC = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")

# page faults of 20 rounds of asking for, filling and freeing a 64 MB block, in a fresh process
FAULTS = """
import resource, numpy as np
from knowrec.memory import pin_mmap_threshold, reuse_freed_blocks
pin_mmap_threshold()
def faults(rounds=20):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(rounds):
        np.ones(16 << 20, dtype=np.float32).sum()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
with reuse_freed_blocks() as changed:
    inside = faults()
print(changed, inside, faults())
"""


@GLIBC
def test_the_threshold_is_pinned_on_glibc() -> None:
    assert pin_mmap_threshold() is True
    assert pin_mmap_threshold() is True  # once per process: the cached answer


@GLIBC
def test_freed_blocks_are_reused_inside_and_returned_after() -> None:
    out = subprocess.run([sys.executable, "-c", FAULTS], capture_output=True, text=True, check=True).stdout.split()
    changed, inside, outside = out[0] == "True", int(out[1]), int(out[2])
    assert changed
    # inside, the block is faulted in once and then reused; after, each round maps, faults in and unmaps it
    # again (how many faults a round costs depends on the kernel's page sizes: compare, do not count)
    assert 5 * inside < outside


def test_without_glibc_it_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes.util

    from knowrec import memory

    memory._glibc.cache_clear()
    pin_mmap_threshold.cache_clear()
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    try:
        assert pin_mmap_threshold() is False
        with reuse_freed_blocks() as changed:
            assert changed is False
    finally:
        memory._glibc.cache_clear()
        pin_mmap_threshold.cache_clear()
