"""The bench's memory estimate (``registry.peak_bytes``) is at least what an implementation holds:
the growth of the peak resident set of a fresh process (forked from one that has imported the
libraries, ``tests/forkserver.py``) that prepares one kernel and calls it three times, at the
sizes the providers' factors were measured at (2**24 elements or the batch holding as many). An
estimate below it would let ``nnconform bench`` start a plan that does not fit; one far above
would refuse plans that do (the factors are the measurements rounded up by a quarter, and the
fixed overheads cover the libraries' own allocations).

The peak is Linux's high-water mark VmHWM, reset after the warm-up run
(``/proc/self/clear_refs``, proc(5)); elsewhere the test is skipped. Memory, not time: the
numbers do not depend on the machine's load. Slow (a process per kernel and implementation, each
drawing 2**24-element inputs).
"""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

from nnconform.checks.perf import kernels, registry
from tests import forkserver

SIZES = {
    "batch_norm_2d": 2**16, "batch_norm_4d": 2**10, "cross_entropy": 2**14, "softmax": 2**14,
    "conv2d": 256, "mlp_step": 20_000,
}  # fmt: skip

SCRIPT = """
import json, re, sys
kernel, implementation, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
from nnconform.checks.perf import kernels, registry

def status(field):  # kB in /proc/self/status
    return int(re.search(field + r":\\s+(\\d+)", open("/proc/self/status").read()).group(1)) * 1024

k = kernels.KERNELS[kernel]
# a first, tiny run: imports, compilers and thread pools are the libraries', not the kernel's
p = registry.prepare(kernel, implementation, 1024 if k.flat else 2)
p.run(); p.run(); p.sync(); del p
before = status("VmRSS")
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # resets the high-water mark VmHWM to the current resident set (Linux)
p = registry.prepare(kernel, implementation, size)
for _ in range(3):
    p.run()
p.sync()
estimate = registry.peak_bytes(k, implementation, size)
print(json.dumps({"growth": status("VmHWM") - before, "estimate": estimate}))
"""


# imported before the fork; importing them starts no thread (JAX starts its threads when its
# backend first computes, which happens in the child)
PRELOAD = tuple(
    m for m in ("torch", "jax", "optax", "flax.linen")
    if importlib.util.find_spec(m.partition(".")[0]) is not None
)  # fmt: skip


def cases() -> list:
    return [
        pytest.param(name, implementation, id=f"{name}-{implementation}")
        for name in kernels.KERNELS
        for implementation in ("reference", "torch", "jax", "keras")
        if implementation in registry.implementations(name)  # keras: the optimisers only
    ]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "implementation"), cases())
@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux's /proc")
def test_the_estimate_covers_the_measured_peak(name, implementation):
    size = SIZES.get(name, 2**24)
    # forked from a server that has imported torch once: the script imports nothing new
    done = forkserver.run_python(SCRIPT, name, implementation, str(size), preload=PRELOAD)
    assert done.returncode == 0, done.stderr[-2000:]
    measured = json.loads(done.stdout.splitlines()[-1])
    growth, estimate = measured["growth"], measured["estimate"]
    assert estimate >= growth, f"estimate {estimate / 2**20:.0f} MiB < {growth / 2**20:.0f} MiB"
    # not so generous that plans which fit are refused: within 2.5x (plus the fixed overhead)
    inputs = kernels.KERNELS[name].input_bytes(size)
    assert estimate <= 2.5 * growth + 256 * 2**20, (estimate, growth, inputs)
