"""``nnconform bench``: kernels of several implementations timed side by side.

    nnconform bench [--target NAME ...] [--kernel NAME ...] [--device cpu|cuda ...]
                    [--size N ...] [--threads N] [--warmup N] [--repeats N]
                    [--min-sample-time S] [--seed N] [--stream-elements N]
                    [--json PATH] [--html PATH] [--quiet]

For each device: STREAM once (the bandwidth roof), then every (kernel, size, implementation)
prepared by ``kernels.prepare`` and timed by ``harness.measure`` (both in this package). One
progress line per measurement on stderr, a warning for a noisy one, then a table per kernel and
size on stdout: median, IQR, GB/s and the fraction of STREAM triad (memory-bound kernels) or
GFLOP/s (compute-bound ones), the speed-up over the reference and the slowdown against the
fastest. A kernel that raises is recorded as an error and the run goes on.

Exit status: 0 when every measurement ran or was unsupported, 1 when one raised (or a results
file could not be written), 2 on a usage error (unknown kernel, target or device, a bad size).
"""

from __future__ import annotations

import argparse
import gc
import math
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from nnconform import units
from nnconform.checks.perf.kernels import (
    BUILTIN_IMPLEMENTATIONS,
    KERNELS,
    TORCH_IMPLEMENTATIONS,
    Kernel,
    Unsupported,
    check_size,
    default_sizes,
    prepare,
)

__all__ = ["SCHEMA", "add_command", "parse_size", "run"]

SCHEMA = "nnconform-bench/1"


class UsageError(Exception):
    """A bad command line: one line on stderr, exit status 2."""


# --- parsing ---------------------------------------------------------------------------

_POWER = re.compile(r"^\s*(\d+)\s*(?:\*\*|\^)\s*(\d+)\s*$")


def parse_size(text: str, *, name: str = "--size") -> int:
    """65536, 2**16 and 2^16 are the same size."""
    power = _POWER.match(text)
    try:
        value = int(power[1]) ** int(power[2]) if power else int(text)
    except ValueError:
        raise UsageError(
            f"{name} must be an integer such as 65536, 2**16 or 2^16, got {text!r}"
        ) from None
    return value


def _integer(name: str, text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{name} must be an integer, got {text!r}") from None
    if value < minimum:
        raise UsageError(f"{name} must be at least {minimum}, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--min-sample-time must be seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"--min-sample-time must be seconds >= 0, got {text!r}")
    return value


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch


def _cuda_available() -> bool:
    torch = _torch()
    return torch is not None and torch.cuda.is_available()


def _devices(names: list[str] | None) -> list[str]:
    devices = []
    for name in names or ["cpu"]:
        if not re.fullmatch(r"cpu|cuda(:\d+)?", name):
            raise UsageError(f"unknown device {name!r}: use cpu or cuda (or cuda:N)")
        if name not in devices:
            devices.append(name)
    return devices


def _kernels(names: list[str] | None) -> list[str]:
    for name in names or []:
        if name not in KERNELS:
            raise UsageError(f"unknown kernel {name!r}: choose from {', '.join(KERNELS)}")
    return list(dict.fromkeys(names)) if names else list(KERNELS)


def _targets(specs: list[str] | None) -> tuple[list[str], bool]:
    """The implementations to time, and whether the user chose them."""
    if not specs:
        torch = TORCH_IMPLEMENTATIONS if _torch() is not None else ()
        return ["reference", *torch], False
    from nnconform.checks.targets import TargetError, load_target

    for spec in specs:
        if spec in BUILTIN_IMPLEMENTATIONS:
            continue
        try:
            load_target(spec)
        except TargetError as error:
            raise UsageError(str(error)) from None
    return list(dict.fromkeys(specs)), True


def _sizes(texts: list[str] | None, kernels: list[str]) -> dict[str, tuple[int, ...]]:
    if not texts:
        return {k: default_sizes(k) for k in kernels}
    sizes = tuple(dict.fromkeys(parse_size(t) for t in texts))
    for kernel in kernels:
        for size in sizes:
            try:
                check_size(kernel, size)
            except ValueError as error:
                raise UsageError(f"{error}; choose the kernels with --kernel") from None
    return {k: sizes for k in kernels}


# --- formatting ------------------------------------------------------------------------


def format_size(size: int, label: str) -> str:
    if label == "elements" and size >= 2 and size & (size - 1) == 0:
        return f"2^{size.bit_length() - 1}"
    return str(size)


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# --- measuring -------------------------------------------------------------------------


def _finite(value: float | None) -> float | None:
    """Strict JSON has no NaN or infinity: null instead."""
    return value if value is not None and math.isfinite(value) else None


def _record(kernel: Kernel, implementation: str, device: str, size: int) -> dict:
    moved = None if kernel.bytes_per_element is None else int(kernel.bytes_per_element * size)
    return {
        "kernel": kernel.name,
        "family": kernel.family,
        "implementation": implementation,
        "device": device,
        "size": size,
        "size_label": kernel.size_label,
        "status": "ok",
        "reason": None,
        "median_s": None,
        "q1_s": None,
        "q3_s": None,
        "rel_iqr": None,
        "noisy": None,
        "samples_s": [],
        "number": None,
        "bytes": moved,
        "gbs": None,
        "fraction_of_bandwidth": None,
        "flops": None if kernel.flops is None else float(kernel.flops(size)),
        "gflops": None,
        "speedup_vs_reference": None,
        "slowdown_vs_fastest": None,
        "per_epoch_s": None,
        "dataset_size": kernel.dataset_size,
    }


def _measure(record: dict, args: argparse.Namespace) -> None:
    """Prepare and time one record's kernel, filling in its status and numbers."""
    from nnconform.checks.perf.harness import measure

    try:
        prepared = prepare(
            record["kernel"], record["implementation"], record["size"], record["device"], args.seed
        )
        m = measure(
            prepared, warmup=args.warmup, repeats=args.repeats, min_sample_time=args.min_sample_time
        )
    except Unsupported as why:
        record.update(status="unsupported", reason=_one_line(why) or "unsupported")
        return
    except Exception as error:  # a target's bug is a result, not a crash of the run
        record.update(status="error", reason=_one_line(f"{type(error).__name__}: {error}"))
        return
    finally:
        prepared = None
        gc.collect()  # free this kernel's arrays before the next allocates its own
    record.update(
        median_s=m.median,
        q1_s=m.q1,
        q3_s=m.q3,
        rel_iqr=_finite(m.rel_iqr),
        noisy=m.noisy,
        samples_s=m.samples,
        number=m.number,
    )


def _derive(results: list[dict], bandwidth: dict[str, dict]) -> None:
    """Throughput and the ratios within each (kernel, device, size)."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["kernel"], r["device"], r["size"]), []).append(r)
    for group in groups.values():
        ok = [r for r in group if r["status"] == "ok" and r["median_s"]]
        reference = next((r["median_s"] for r in ok if r["implementation"] == "reference"), None)
        fastest = min((r["median_s"] for r in ok), default=None)
        for r in ok:
            median = r["median_s"]
            if r["bytes"] is not None:
                r["gbs"] = r["bytes"] / median / 1e9
                triad = bandwidth.get(r["device"], {}).get("triad_gbs")
                r["fraction_of_bandwidth"] = _finite(r["gbs"] / triad) if triad else None
            if r["flops"] is not None:
                r["gflops"] = r["flops"] / median / 1e9
            if reference is not None:
                r["speedup_vs_reference"] = reference / median
            r["slowdown_vs_fastest"] = median / fastest
            if r["dataset_size"] is not None:
                r["per_epoch_s"] = median * math.ceil(r["dataset_size"] / r["size"])


def _plan(
    devices: list[str], kernels: list[str], sizes: dict, targets: list[str], chosen: bool
) -> list[dict]:
    records = []
    for device in devices:
        for name in kernels:
            kernel = KERNELS[name]
            for size in sizes[name]:
                for target in targets:
                    # the torch.optim paths apply to the optimisers only: unasked, they are
                    # left out elsewhere; asked for, they are recorded as unsupported
                    flavour = target in TORCH_IMPLEMENTATIONS and target != "torch"
                    if flavour and kernel.family != "optimizers" and not chosen:
                        continue
                    records.append(_record(kernel, target, device, size))
    return records


def _progress(index: int, total: int, r: dict, widths: tuple[int, int]) -> str:
    size = format_size(r["size"], r["size_label"])
    head = (
        f"[{index:>{len(str(total))}}/{total}] {r['kernel']:<{widths[0]}}  "
        f"{r['implementation']:<{widths[1]}}  {r['device']}  {size:>5}  "
    )
    if r["status"] == "ok":
        spread = "" if r["rel_iqr"] is None else f" ± {100 * r['rel_iqr']:.1f}%"
        return head + units.seconds(r["median_s"]) + spread
    return head + f"{r['status']}: {r['reason']}"


# --- the tables ------------------------------------------------------------------------


def _table(group: list[dict], bandwidth: dict) -> list[str]:
    first = group[0]
    kernel = KERNELS[first["kernel"]]
    roof = bandwidth.get(first["device"], {}).get("triad_gbs")
    title = (
        f"{kernel.name} ({kernel.family}) on {first['device']}, "
        f"{kernel.size_label} {format_size(first['size'], kernel.size_label)}"
    )
    if kernel.bytes_per_element is not None and roof:
        title += f"; STREAM triad {roof:.1f} GB/s"
    header = ["implementation", "median", "IQR %"]
    if kernel.bytes_per_element is not None:
        header += ["GB/s", "% triad"]
    else:
        header += ["GFLOP/s"]
    if kernel.dataset_size is not None:
        header += ["per epoch"]
    header += ["vs reference", "× fastest"]
    rows, notes = [], []
    for r in group:
        if r["status"] != "ok":
            notes.append(f"  {r['implementation']}: {r['status']}: {r['reason']}")
            continue
        iqr = "-" if r["rel_iqr"] is None else f"{100 * r['rel_iqr']:.1f}"
        row = [
            _one_line(r["implementation"]),
            units.seconds(r["median_s"]),
            iqr + " !" * r["noisy"],
        ]
        if kernel.bytes_per_element is not None:
            fraction = r["fraction_of_bandwidth"]
            row += [_number(r["gbs"]), "-" if fraction is None else f"{100 * fraction:.0f}%"]
        else:
            row += [_number(r["gflops"])]
        if kernel.dataset_size is not None:
            row += [units.seconds(r["per_epoch_s"])]
        speedup = r["speedup_vs_reference"]
        row += ["-" if speedup is None else f"{speedup:.2f}×", f"{r['slowdown_vs_fastest']:.2f}×"]
        rows.append(row)
    lines = [title]
    if rows:
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            cells = [row[0].ljust(widths[0])] + [
                c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
            ]
            lines.append("  " + "  ".join(cells))
    return lines + notes


def _tables(results: list[dict], bandwidth: dict) -> Iterable[str]:
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["device"], r["kernel"], r["size"]), []).append(r)
    for group in groups.values():
        yield from _table(group, bandwidth)
        yield ""
    if any(r["noisy"] for r in results):
        yield "! noisy: the IQR is above 10% of the median"


# --- the command -----------------------------------------------------------------------


def add_command(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser(
        "bench",
        help="time kernels of several targets side by side",
        description="Time kernels (optimiser steps, normalisation, losses, activations, "
        "dropout, conv2d, an MLP step) of several implementations side by side, against the "
        "machine's STREAM bandwidth. Exit 0 when every measurement ran or was unsupported, 1 "
        "when one raised, 2 on a usage error.",
    )
    add = bench.add_argument
    add(
        "--target",
        action="append",
        metavar="NAME",
        help="reference, torch, torch-forloop, torch-foreach, torch-fused, or a target module "
        "or module:attr (repeatable; default: the reference and every torch path here). "
        "torch* are PyTorch's own paths; its conformance adapter is the target "
        "nnconform.checks.targets.torch:make_target",
    )
    add(
        "--kernel",
        action="append",
        metavar="NAME",
        help=f"repeatable; default all: {', '.join(KERNELS)}",
    )
    add(
        "--device",
        action="append",
        metavar="cpu|cuda",
        help="repeatable; default cpu. cuda without a GPU is skipped (recorded unsupported)",
    )
    add(
        "--size",
        action="append",
        metavar="N",
        help="elements (batch size for mlp_step): 65536, 2**16 or 2^16; repeatable "
        "(default: each kernel's sweep; NNCONFORM_BENCH_LARGE=1 adds larger sizes)",
    )
    add(
        "--threads",
        metavar="N",
        help="torch's intra-op threads (torch.set_num_threads), recorded; numpy's BLAS threads "
        "follow OMP_NUM_THREADS, which must be set before nnconform starts",
    )
    add("--warmup", default="3", metavar="N", help="untimed calls first (default 3)")
    add("--repeats", default="15", metavar="N", help="timed samples (default 15)")
    add(
        "--min-sample-time",
        default="0.01",
        metavar="S",
        help="seconds one sample lasts at least; calls per sample double until it does "
        "(default 0.01)",
    )
    add("--seed", default="0", metavar="N", help="seed of the inputs (default 0)")
    add(
        "--stream-elements",
        default="2**25",
        metavar="N",
        help="float32 elements per STREAM array (default 2**25 = 128 MiB; 0 skips STREAM)",
    )
    add("--json", metavar="PATH", help="write the results as JSON (nnconform-bench/1)")
    add("--html", metavar="PATH", help="write a self-contained HTML report")
    add(
        "--quiet",
        action="store_true",
        help="no progress lines on stderr (each says: median ± the IQR as a %% of it)",
    )
    bench.set_defaults(run=run)  # fmt: skip


def _settings(args: argparse.Namespace) -> argparse.Namespace:
    """The command line, checked; raises UsageError."""
    args.devices = _devices(args.device)
    args.kernels = _kernels(args.kernel)
    args.targets, args.chosen = _targets(args.target)
    args.sizes = _sizes(args.size, args.kernels)
    args.threads = None if args.threads is None else _integer("--threads", args.threads, 1)
    args.warmup = _integer("--warmup", args.warmup, 0)
    args.repeats = _integer("--repeats", args.repeats, 1)
    args.min_sample_time = _seconds(args.min_sample_time)
    args.seed = _integer("--seed", args.seed, 0)
    args.stream_elements = parse_size(args.stream_elements, name="--stream-elements")
    return args


def run(args: argparse.Namespace) -> int:
    try:
        args = _settings(args)
    except UsageError as error:
        print(f"nnconform bench: error: {error}", file=sys.stderr)
        return 2
    torch = _torch()
    if args.threads is not None and torch is not None:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads() if torch is not None else args.threads
    say = (lambda line: None) if args.quiet else (lambda line: print(line, file=sys.stderr))

    from nnconform.checks.perf.machine import machine_info
    from nnconform.checks.perf.stream import stream

    missing = [d for d in args.devices if d.startswith("cuda") and not _cuda_available()]
    for device in missing:
        print(f"nnconform bench: {device} is not available here; skipping device {device}",
              file=sys.stderr)  # fmt: skip
    bandwidth = {}
    for device in args.devices:
        if device in missing or args.stream_elements == 0:
            continue
        say(f"STREAM on {device}: {args.stream_elements} float32 elements per array")
        bandwidth[device] = stream(device, elements=args.stream_elements)
        say(f"  copy {bandwidth[device]['copy_gbs']:.1f} GB/s, "
            f"triad {bandwidth[device]['triad_gbs']:.1f} GB/s")  # fmt: skip

    results = _plan(args.devices, args.kernels, args.sizes, args.targets, args.chosen)
    widths = (
        max(map(len, args.kernels)),
        max((len(r["implementation"]) for r in results), default=0),
    )
    for index, record in enumerate(results, 1):
        if record["device"] in missing:
            record.update(status="unsupported", reason=f"{record['device']} is not available here")
        else:
            _measure(record, args)
        line = _progress(index, len(results), record, widths)
        if record["status"] == "error":
            print(line, file=sys.stderr)  # errors are shown even with --quiet
        else:
            say(line)
        if record["noisy"]:
            say(f"  noisy: IQR is {100 * record['rel_iqr']:.0f}% of the median; close other "
                "programs or raise --repeats")  # fmt: skip
    _derive(results, bandwidth)
    for line in _tables(results, bandwidth):
        print(line)

    device = next((d for d in args.devices if d.startswith("cuda") and d not in missing), "cpu")
    document = {
        "schema": SCHEMA,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(device),
        "bandwidth": bandwidth,
        "settings": {
            "warmup": args.warmup,
            "repeats": args.repeats,
            "min_sample_time": args.min_sample_time,
            "threads": threads,
            "seed": args.seed,
            "stream_elements": args.stream_elements,
            "devices": args.devices,
            "large": bool(default_sizes("adam") != KERNELS["adam"].sizes),
        },
        "results": results,
    }
    status = 1 if any(r["status"] == "error" for r in results) else 0
    return max(status, _write(args, document))


def _write(args: argparse.Namespace, document: dict) -> int:
    """The results files, each whole or not at all; 1 if one could not be written."""
    from nnconform.files import write_json_atomically, write_text_atomically

    status = 0
    if args.json:
        try:
            write_json_atomically(args.json, document)
        except (OSError, ValueError) as error:
            print(f"nnconform bench: error: cannot write {args.json}: {error}", file=sys.stderr)
            status = 1
    if args.html:
        try:
            from nnconform.reports.html import (
                build_report,  # helper C's module: imported when asked
            )

            write_text_atomically(args.html, build_report(check=None, bench=[document]))
        except (ImportError, OSError, ValueError) as error:
            print(f"nnconform bench: error: cannot write {args.html}: {error}", file=sys.stderr)
            status = 1
    return status
