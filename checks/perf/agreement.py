"""Does our harness agree with torch's? One prepared kernel timed twice in one process:

    ours    nnconform.checks.perf.harness.measure (warm-up, calibrated number, median of repeats)
    torch   torch.utils.benchmark.Timer.blocked_autorange (blocks of calls until min_run_time;
            the median of the blocks' per-call times), on the same number of threads

and the ratio of the two medians. Not a test (it times): a check on the harness to quote.
``--size`` is the kernel's own (elements of a flat kernel, or a batch N: ``Kernel.size_meaning``).

    python -m nnconform.checks.perf.agreement [--kernel adam] [--implementation torch-fused]
                                    [--size 2**24] [--device cpu] [--repeats 15]
                                    [--threads N]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from nnconform import units
from nnconform.checks.perf.cli import UsageError, parse_size
from nnconform.checks.perf.harness import measure
from nnconform.checks.perf.kernels import Unsupported
from nnconform.checks.perf.registry import prepare


def compare(
    kernel: str,
    implementation: str,
    size: int,
    device: str = "cpu",
    *,
    repeats: int = 15,
    min_run_time: float = 2.0,
) -> dict:
    """Both medians (seconds per call) and ours / torch's."""
    import torch
    import torch.utils.benchmark as benchmark

    prepared = prepare(kernel, implementation, size, device)
    ours = measure(prepared, repeats=repeats)
    # Timer's default is one thread: ours runs on torch's current number, so give it that.
    timer = benchmark.Timer(
        stmt="run(); sync()",
        globals={"run": prepared.run, "sync": prepared.sync},
        num_threads=torch.get_num_threads(),
        label=kernel,
        sub_label=implementation,
    )
    theirs = timer.blocked_autorange(min_run_time=min_run_time)
    return {
        "kernel": kernel,
        "implementation": implementation,
        "device": device,
        "size": size,
        "threads": torch.get_num_threads(),
        "ours_median_s": ours.median,
        "ours_rel_iqr": ours.rel_iqr,
        "ours_number": ours.number,
        "torch_median_s": theirs.median,
        "torch_iqr_s": theirs.iqr,
        "torch_blocks": len(theirs.times),
        "torch_number_per_block": theirs.number_per_run,
        "ratio": ours.median / theirs.median,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nnconform.checks.perf.agreement", description=__doc__
    )
    parser.add_argument("--kernel", default="adam")
    parser.add_argument("--implementation", default="torch-fused")
    parser.add_argument("--size", default="2**24")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, help="torch.set_num_threads first")
    args = parser.parse_args(argv)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    try:
        result = compare(
            args.kernel, args.implementation, parse_size(args.size), args.device,
            repeats=args.repeats,
        )  # fmt: skip
    except (UsageError, ValueError, Unsupported) as error:
        print(f"agreement: error: {error}", file=sys.stderr)
        return 2
    r = result
    lines = [
        f"{r['kernel']} {r['implementation']} {r['device']} size {r['size']}, "
        f"{r['threads']} threads",
        f"  ours   measure()            median {units.seconds(r['ours_median_s'])} "
        f"(IQR {100 * r['ours_rel_iqr']:.1f}% of it, {r['ours_number']} call(s) per sample)",
        f"  torch  blocked_autorange()  median {units.seconds(r['torch_median_s'])} "
        f"(IQR {units.seconds(r['torch_iqr_s'])}, {r['torch_blocks']} blocks of "
        f"{r['torch_number_per_block']})",
    ]
    print("\n".join(lines))
    print(f"  ratio ours / torch = {r['ratio']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
