"""The process heap (`translator.heap`): compact for large work, reusing its blocks for small work
(no page faults for every pass of a folder of small images), and given back when large work follows."""
from __future__ import annotations

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                                reason="the heap's thresholds are glibc's")

_PROBE = """
import resource, threading, numpy as np
from translator import heap

def faults(live=1):
    '''Page faults of 20 rounds of `live` 8 MiB buffers written and freed, as a pass's activations are.'''
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        held = [np.ones(2**20) for _ in range(live)]
        del held
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0

def rss():
    return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS')) * 1024

heap.size_heap_for(0)  # before keep_heap_compact: glibc's own rule, untouched
assert heap._current is None
assert heap.keep_heap_compact()
compact = faults()
heap.size_heap_for(100 * 2**20)
faults()  # the heap grows once
small = faults()
base = rss()
faults(live=16)  # 128 MiB at once, freed: kept in the heap for the next small pass
kept = rss() - base
heap.size_heap_for(2**30)  # large work: the heap's free blocks go back first
returned = kept - (rss() - base)
big = faults()
heap.size_heap_for(100 * 2**20)
in_thread = []  # a worker thread (the model's) shares the one heap: 128 MiB at once, more than a
worker = threading.Thread(target=lambda: in_thread.extend([faults(live=16), faults(live=16)]))  # thread's own heap holds
worker.start()
worker.join()
small = max(small, in_thread[1])
print(compact, small, big, kept, returned)
"""


def test_small_work_reuses_the_heap_and_large_work_gets_it_back_compact() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=60)
    compact, small, big, kept, returned = (int(v) for v in out.stdout.split())
    # The compact heap maps each 8 MiB buffer on its own: faults for all its pages, every round
    # (how many pages one fault brings in is the kernel's choice: 4-16 KiB were seen).
    assert compact >= 20 * 8 * 2**20 // 2**16, compact
    assert small <= compact * 0.1, (compact, small)  # small work: the same blocks again, no new pages, in any thread
    assert big >= compact * 0.8, (compact, big)  # large work: compact again
    assert kept >= 100 * 2**20, kept  # between small passes the freed blocks stay ready...
    assert returned >= 0.8 * kept, (kept, returned)  # ...and large work gives them back to the system first
