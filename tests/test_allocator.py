"""The allocator policy (`pps.allocator`): freed large tensors are reused, not faulted in again."""

from __future__ import annotations

import subprocess
import sys

import pytest

ROUNDS = 30
PROBE = f"""
import resource, sys, torch
from pps.allocator import retain_freed_memory
took = retain_freed_memory() if sys.argv[1] == "retain" else None
faults = []
for _ in range({ROUNDS}):  # what a learner update does: allocate, fill and free a large tensor
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    x = torch.ones(64 * 2**20 // 4)  # 64 MiB, above glibc's largest mmap threshold
    del x
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
rss_mb = int(open("/proc/self/statm").read().split()[1]) * 4096 // 2**20
print(took, sum(faults), rss_mb)
"""


def probe(mode: str) -> tuple[str, int, int]:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    took, faults, rss_mb = done.stdout.split()
    return took, int(faults), int(rss_mb)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the policy is glibc's")
def test_freed_large_tensors_are_reused_without_faulting_their_pages_in_again():
    took, retained, rss_retained = probe("retain")
    _, plain, rss_plain = probe("plain")
    if took != "True":
        pytest.skip("the C library is not glibc")
    pages = 64 * 2**20 // 4096
    assert plain >= ROUNDS * pages * 0.9  # without the policy every round faults every page in again
    assert retained < plain / 3  # glibc settles after a few rounds, then reuses
    assert rss_retained < rss_plain + 16 * 64  # the kept memory stays bounded (a few tensors' worth)


UPDATES = """
import hashlib, sys, torch
from pps.allocator import retain_freed_memory
if sys.argv[1] == "retain":
    assert retain_freed_memory()
torch.set_num_threads(1)
from pps.bench.learner import build_learner, synthetic_batch
learner = build_learner("independent", 8, 514, 16, 6, 30, torch.device("cpu"))
batch = synthetic_batch(64, 40, 8, 500, 30, 6, torch.device("cpu"), fill=0.7)  # its inputs: 43 MB, above 32 MiB
losses = [learner.update(batch).tolist() for _ in range(3)]
digest = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in learner.params)).hexdigest()
print(losses, digest)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the policy is glibc's")
def test_the_policy_changes_no_bit_of_a_learner_update():
    """The same ops on the same (64-byte-aligned) buffers: losses and parameters bit for bit."""
    outs = []
    for mode in ("retain", "plain"):
        done = subprocess.run([sys.executable, "-c", UPDATES, mode], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        outs.append(done.stdout)
    assert outs[0] == outs[1]
