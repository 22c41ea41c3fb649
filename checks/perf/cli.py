"""``nnconform bench``: the implementations of each kernel timed side by side, interleaved.

    nnconform bench [--target NAME ...] [--baseline NAME] [--kernel NAME ...]
                    [--device cpu|cuda ...] [--size N ...] [--batch N ...] [--threads N]
                    [--warmup N] [--repeats N] [--min-sample-time S] [--seed N]
                    [--stream-elements N] [--clock wall|cpu] [--json PATH] [--html PATH]
                    [--quiet]

For each device: STREAM once (copy, triad and update: the bandwidth roofs), then for every
kernel and size, all its implementations prepared together (``registry.prepare``) and timed
interleaved, a sample of each in a random order per block (``harness.measure_interleaved``),
the blocks split between ``--layouts`` preparations of each (where its arrays lie drawn anew);
each implementation's ratio to the baseline (``--baseline``, default the first ``--target``)
comes with a 95 % interval from the paired blocks, counted by layout, and a verdict, faster,
slower or same (``ratios``). One progress line per measurement on stderr, a warning for a
noisy one, then a table per kernel and size on stdout: median, IQR, GB/s and the fraction of
the kernel's roof (memory-bound kernels: STREAM update for those that work in place, triad for
the others) or GFLOP/s (compute-bound ones), the ratio to the baseline with its interval, and
the slowdown against the fastest. A kernel that raises is recorded as an error and the run goes on.

Sizes mean what each kernel says (``Kernel.size_meaning``): ``--size`` sets the elements of
the flat kernels (the optimisers, gelu, dropout), ``--batch`` the batch N of the others (rows,
images, the MLP's examples). Two options rather than per-kernel sizes: one number means one
thing on the command line, and a sweep over one of them still covers every kernel of its kind
at once. A kernel given neither runs its default sweep. Before anything runs, the plan's peak
memory (every implementation of a kernel and size is prepared at once) is estimated per kernel
and size (``registry.peak_bytes``) and a plan that would not fit in the memory available
(``machine.available_memory``) is refused.

Targets: the built-in implementations (``registry.builtin()``: reference, torch's paths,
jax, keras), a target spec (``module`` or ``module:attr``), or ``LABEL=PATH:MODULE[:ATTR]``, the
version of a module in the source tree PATH, loaded beside the others and named LABEL
(``versions``): ``--target main=../main:my_pkg.adapter:make_target --target
branch=.:my_pkg.adapter:make_target`` compares two versions in one interleaved run.

Exit status: 0 when every measurement ran or was unsupported, 1 when one raised (or a results
file could not be written), 2 on a usage error (unknown kernel, target or device, a bad size, a
plan too large for memory, an unwritable results path).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import math
import re
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from nnconform import units
from nnconform.checks.perf import registry
from nnconform.checks.perf.kernels import (
    KERNELS,
    Kernel,
    Prepared,
    Unsupported,
    check_size,
    default_sizes,
)
from nnconform.checks.perf.ratios import CONFIDENCE, MIN_BLOCKS, compare

__all__ = ["SCHEMA", "add_command", "parse_size", "run"]

SCHEMA = "nnconform-bench/1"
# --clock: a sample's seconds. "cpu" is this process's CPU time, all threads summed: on a
# machine with more runnable processes than cores, the wall time of a sample includes whole
# scheduler slices spent waiting for a core (on 2 cores at load 16 to 22 its IQR reached 100
# to 180 % of the median), which CPU time leaves out; a kernel's own stalls on memory still
# count, so a neighbour that loads the memory bus still shows.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


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


def _targets(specs: list[str] | None) -> tuple[list[tuple[str, str]], bool]:
    """The implementations to time as (name, spec), and whether the user chose them. A
    versioned spec LABEL=PATH:MODULE[:ATTR] is named LABEL; any other spec is its own name."""
    if not specs:
        return [(name, name) for name in registry.builtin()], False
    builtin = set(registry.builtin())
    missing = {p.name: p.note for p in registry.providers() if p.note}
    chosen: dict[str, str] = {}
    for spec in dict.fromkeys(specs):
        if spec in builtin:
            name = spec
        elif spec in missing:
            raise UsageError(f"target {spec!r}: {missing[spec]}")
        else:
            from nnconform.checks.perf import versions
            from nnconform.checks.targets import TargetError

            provider = registry.provider_of(spec)
            try:
                if provider.load is not None:
                    provider.load(spec)
                name = versions.parse(spec)[0] if versions.is_versioned(spec) else spec
            except TargetError as error:
                raise UsageError(str(error)) from None
            if name in builtin:
                raise UsageError(f"target {spec!r}: label {name!r} is a built-in's name")
        if name in chosen:
            raise UsageError(f"two targets are named {name!r}: give each version its own label")
        chosen[name] = spec
    return list(chosen.items()), True


def _baseline(name: str | None, targets: list[tuple[str, str]]) -> str:
    if name is None:
        return targets[0][0]
    for target_name, spec in targets:
        if name in (target_name, spec):
            return target_name
    listed = ", ".join(n for n, _ in targets)
    raise UsageError(f"--baseline {name!r} is not one of the targets: {listed}")


def _sizes(
    sizes: list[str] | None, batches: list[str] | None, kernels: list[str]
) -> dict[str, tuple[int, ...]]:
    """Each kernel's sizes: --size for the flat kernels, --batch for the others, else the
    default sweep."""
    chosen = {
        True: tuple(dict.fromkeys(parse_size(t) for t in sizes or [])),
        False: tuple(dict.fromkeys(parse_size(t, name="--batch") for t in batches or [])),
    }
    flat = [k for k in kernels if KERNELS[k].flat]
    batch = [k for k in kernels if not KERNELS[k].flat]
    if chosen[True] and not flat:
        k = KERNELS[batch[0]]
        raise UsageError(
            f"--size sets the elements of the flat kernels ({_flat_names()}); {k.name} takes "
            f"--batch N ({k.size_meaning})"
        )
    if chosen[False] and not batch:
        raise UsageError(
            f"--batch sets the batch of {_batch_names()}; {flat[0]} takes --size N "
            f"({KERNELS[flat[0]].size_meaning})"
        )
    plan = {}
    for name in kernels:
        k = KERNELS[name]
        option = "--size" if k.flat else "--batch"
        plan[name] = chosen[k.flat] or default_sizes(name)
        for size in plan[name]:
            try:
                check_size(name, size)
            except ValueError as error:
                raise UsageError(f"{option}: {error}") from None
    return plan


def _flat_names() -> str:
    return ", ".join(k.name for k in KERNELS.values() if k.flat)


def _batch_names() -> str:
    return ", ".join(k.name for k in KERNELS.values() if not k.flat)


# --- formatting ------------------------------------------------------------------------


def format_size(size: int, label: str) -> str:
    if label == "elements" and size >= 2 and size & (size - 1) == 0:
        return f"2^{size.bit_length() - 1}"
    return str(size)


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def ratio_text(r: dict) -> str:
    """'1.07× slower [1.04, 1.10]'; '1.07×' without an interval; '-' without a ratio."""
    if r.get("ratio") is None:
        return "-"
    if r["implementation"] == r.get("baseline"):
        return "baseline"
    text = units.ratio(r["ratio"])
    if r.get("ratio_ci") is None:
        return text
    low, high = r["ratio_ci"]
    verdict = f" {r['verdict']}" if r.get("verdict") else ""
    return f"{text}{verdict} [{units.plain(low)}, {units.plain(high)}]"


# --- the plan ----------------------------------------------------------------------------


def _record(kernel: Kernel, name: str, spec: str, device: str, size: int) -> dict:
    return {
        "kernel": kernel.name,
        "family": kernel.family,
        "implementation": name,
        "spec": spec,
        "device": device,
        "size": size,
        "size_label": kernel.size_label,
        "size_meaning": kernel.size_meaning,
        "elements": kernel.elements(size),
        "status": "ok",
        "reason": None,
        "median_s": None,
        "q1_s": None,
        "q3_s": None,
        "rel_iqr": None,
        "noisy": None,
        "samples_s": [],
        "number": None,
        "bytes": kernel.bytes(size),
        "gbs": None,
        "roof": None,
        "roof_gbs": None,
        "fraction_of_bandwidth": None,
        "roof_note": None,
        "flops": None if kernel.flops is None else float(kernel.flops(size)),
        "gflops": None,
        "baseline": None,
        "ratio": None,
        "ratio_ci": None,
        "verdict": None,
        "blocks": None,
        "block_layouts": [],  # the layout each block was timed in (see --layouts)
        "speedup_vs_reference": None,
        "slowdown_vs_fastest": None,
        "per_epoch_s": None,
        "dataset_size": kernel.dataset_size,
    }


def _plan(
    devices: list[str], kernels: list[str], sizes: dict, targets: list[tuple[str, str]],
    chosen: bool,
) -> list[list[dict]]:  # fmt: skip
    """One group of records per (device, kernel, size): the implementations timed together.
    Unasked, only the built-ins that run the kernel on the device are listed (torch.optim's
    paths only for the optimisers); asked for, every target is tried and an unsupported one
    recorded."""
    groups = []
    for device in devices:
        for name in kernels:
            kernel = KERNELS[name]
            here = None if chosen else set(registry.implementations(name, device))
            listed = [(n, s) for n, s in targets if here is None or n in here]
            if not listed and here is not None:  # nothing runs here: say so once per kernel
                listed = targets[:1]
            for size in sizes[name]:
                groups.append([_record(kernel, n, s, device, size) for n, s in listed])
    return groups


def _memory(
    groups: list[list[dict]], stream_elements: int, layouts: int = 1
) -> tuple[int, str] | None:
    """The largest estimated peak of one group (its implementations prepared together, and
    with several layouts one of them twice while it is prepared anew) or of STREAM's three
    arrays, and what it is; None for an empty plan."""
    worst: tuple[int, str] | None = None
    if stream_elements:
        worst = (3 * 4 * stream_elements, f"STREAM at {stream_elements} elements per array")
    for group in groups:
        first = group[0]
        kernel = KERNELS[first["kernel"]]
        peaks = [registry.peak_bytes(kernel, r["spec"], r["size"]) for r in group]
        need = sum(peaks) + (max(peaks) if layouts > 1 else 0)
        what = (
            f"{kernel.name} at {kernel.size_label} {format_size(first['size'], kernel.size_label)}"
            f" on {first['device']} ({', '.join(r['implementation'] for r in group)})"
        )
        if worst is None or need > worst[0]:
            worst = (need, what)
    return worst


def _check_memory(groups: list[list[dict]], args: argparse.Namespace) -> dict:
    from nnconform.checks.perf.machine import available_memory

    worst = _memory(groups, args.stream_elements, args.layouts)
    record = {"needed_bytes": None, "worst": None, "available_bytes": None}
    if worst is None:
        return record
    need, what = worst
    devices = {r["device"] for g in groups for r in g} or {"cpu"}
    available = [a for a in (available_memory(d) for d in sorted(devices)) if a is not None]
    record.update(needed_bytes=need, worst=what, available_bytes=min(available, default=None))
    if available and need > min(available):
        raise UsageError(
            f"the plan does not fit in memory: {what} needs an estimated "
            f"{need / 2**30:.1f} GiB, {min(available) / 2**30:.1f} GiB is available; "
            f"choose smaller --size/--batch values, fewer --target, or --kernel"
        )
    return record


# --- measuring -------------------------------------------------------------------------


def _finite(value: float | None) -> float | None:
    """Strict JSON has no NaN or infinity: null instead."""
    return value if value is not None and math.isfinite(value) else None


def _prepare(record: dict, seed: int) -> Prepared:
    """The record's implementation prepared, under the name the results give it."""
    p = registry.prepare(record["kernel"], record["spec"], record["size"], record["device"], seed)
    return dataclasses.replace(p, implementation=record["implementation"])


def _measure_group(group: list[dict], args: argparse.Namespace, rng) -> None:
    """Prepare every implementation of one kernel and size, time them interleaved, and fill
    in each record's status and numbers."""
    from nnconform.checks.perf.harness import measure_interleaved

    prepared = []
    for record in group:
        try:
            prepared.append(_prepare(record, args.seed))
        except Unsupported as why:
            record.update(status="unsupported", reason=_one_line(why) or "unsupported")
        except Exception as error:  # a target's bug is a result, not a crash of the run
            record.update(status="error", reason=_one_line(f"{type(error).__name__}: {error}"))
    records = {r["implementation"]: r for r in group}
    timed = {p.implementation for p in prepared}

    def prepare_again(p: Prepared) -> Prepared:
        return _prepare(records[p.implementation], args.seed)

    try:
        outcome = measure_interleaved(
            prepared, warmup=args.warmup, repeats=args.repeats,
            min_sample_time=args.min_sample_time, rng=rng, clock=CLOCKS[args.clock],
            layouts=args.layouts, prepare_again=prepare_again,
            baseline=args.baseline if args.baseline in timed else None,
        )  # fmt: skip
    finally:
        prepared = None
        gc.collect()  # free this group's arrays before the next allocates its own
    for record in group:
        name = record["implementation"]
        if name in outcome.errors:
            error = outcome.errors[name]
            if isinstance(error, Unsupported):
                record.update(status="unsupported", reason=_one_line(error) or "unsupported")
            else:
                record.update(status="error", reason=_one_line(f"{type(error).__name__}: {error}"))
        elif name in outcome.measurements:
            m = outcome.measurements[name]
            record.update(
                median_s=m.median, q1_s=m.q1, q3_s=m.q3, rel_iqr=_finite(m.rel_iqr),
                noisy=m.noisy, samples_s=m.samples, number=m.number, blocks=len(m.samples),
                block_layouts=outcome.layouts,
            )  # fmt: skip


def _roof(record: dict, bandwidth: dict) -> tuple[str | None, float | None]:
    kernel = KERNELS[record["kernel"]]
    stream = bandwidth.get(record["device"], {})
    name = "update" if kernel.in_place else "triad"
    return (name, stream.get(f"{name}_gbs")) if stream.get(f"{name}_gbs") else (None, None)


def _derive(groups: list[list[dict]], bandwidth: dict, baseline: str, llc: int | None) -> None:
    """Throughput, the roof, and the ratios within each group."""
    for group in groups:
        ok = [r for r in group if r["status"] == "ok" and r["median_s"]]
        reference = next((r["median_s"] for r in ok if r["implementation"] == "reference"), None)
        fastest = min((r["median_s"] for r in ok), default=None)
        base = next((r for r in ok if r["implementation"] == baseline), None)
        for r in group:
            r["baseline"] = baseline
        for r in ok:
            median = r["median_s"]
            if r["bytes"] is not None:
                r["gbs"] = r["bytes"] / median / 1e9
                r["roof"], r["roof_gbs"] = _roof(r, bandwidth)
                if r["roof_gbs"]:
                    r["fraction_of_bandwidth"] = _finite(r["gbs"] / r["roof_gbs"])
                    r["roof_note"] = _roof_note(r, llc)
            if r["flops"] is not None:
                r["gflops"] = r["flops"] / median / 1e9
            if reference is not None:
                r["speedup_vs_reference"] = reference / median
            r["slowdown_vs_fastest"] = median / fastest
            if r["dataset_size"] is not None:
                r["per_epoch_s"] = median * math.ceil(r["dataset_size"] / r["size"])
            if base is not None:
                _ratio(r, base)


def _ratio(r: dict, base: dict) -> None:
    if r is base:
        r.update(ratio=1.0, ratio_ci=[1.0, 1.0], verdict=None)
        return
    outcome = compare(r["samples_s"], base["samples_s"], layouts=r["block_layouts"])
    r["ratio"] = outcome.ratio
    if outcome.low is not None:
        r.update(ratio_ci=[outcome.low, outcome.high], verdict=outcome.verdict)


def _roof_note(r: dict, llc: int | None) -> str | None:
    """Why a kernel passes 100 % of its own roof: its traffic fits in the last-level cache,
    so it need not stream from memory; otherwise nothing explains it (the machine's
    bandwidth moved between STREAM and this measurement)."""
    if r["fraction_of_bandwidth"] is None or r["fraction_of_bandwidth"] <= 1.0:
        return None
    if llc is not None and r["bytes"] <= llc:
        return "cache-resident"
    return "unexplained"


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
    title = (
        f"{kernel.name} ({kernel.family}) on {first['device']}, "
        f"{kernel.size_label} {format_size(first['size'], kernel.size_label)}"
    )
    roof_name, roof = _roof(first, bandwidth)
    if kernel.bytes_per_element is not None and roof:
        title += f"; roof STREAM {roof_name} {roof:.1f} GB/s"
    header = ["implementation", "median", "IQR %"]
    if kernel.bytes_per_element is not None:
        header += ["GB/s", f"% {roof_name or 'roof'}"]
    else:
        header += ["GFLOP/s"]
    if kernel.dataset_size is not None:
        header += ["per epoch"]
    header += [f"vs {first['baseline']} (95% interval)", "× fastest"]
    rows, notes = [], []
    for r in group:
        if r["status"] != "ok":
            notes.append(f"  {r['implementation']}: {r['status']}: {r['reason']}")
            continue
        iqr = "-" if r["rel_iqr"] is None else f"{100 * r['rel_iqr']:.1f}"
        row = [
            _one_line(r["implementation"]),
            units.seconds(r["median_s"]),
            iqr + " !" * bool(r["noisy"]),
        ]
        if kernel.bytes_per_element is not None:
            fraction = r["fraction_of_bandwidth"]
            mark = {"cache-resident": " c", "unexplained": " ?"}.get(r["roof_note"], "")
            shown = "-" if fraction is None else f"{100 * fraction:.0f}%{mark}"
            row += [_number(r["gbs"]), shown]
        else:
            row += [_number(r["gflops"])]
        if kernel.dataset_size is not None:
            row += [units.seconds(r["per_epoch_s"])]
        row += [ratio_text(r), f"{r['slowdown_vs_fastest']:.2f}×"]
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


def _tables(groups: list[list[dict]], bandwidth: dict, args: argparse.Namespace) -> Iterable[str]:
    for group in groups:
        yield from _table(group, bandwidth)
        yield ""
    results = [r for g in groups for r in g]
    if any(r["noisy"] for r in results):
        yield "! noisy: the IQR is above 10% of the median"
    if any(r["roof_note"] == "cache-resident" for r in results):
        yield ("c above its roof because its traffic fits in the last-level cache: it need not "
               "stream from memory")  # fmt: skip
    if any(r["roof_note"] == "unexplained" for r in results):
        yield ("? above its roof with a working set beyond the last-level cache: the machine's "
               "bandwidth changed between STREAM and this measurement; rerun on a quieter "
               "machine")  # fmt: skip
    if args.repeats < MIN_BLOCKS:
        yield (f"no intervals: a 95% interval needs --repeats {MIN_BLOCKS} or more "
               f"(blocks of paired samples)")  # fmt: skip
    elif 1 < args.layouts < MIN_BLOCKS:
        yield (f"no intervals: over layouts, a 95% interval needs --layouts {MIN_BLOCKS} or "
               f"more")  # fmt: skip
    if args.chosen:
        lines = list(_summary(results))
        if lines:
            units = f" in {args.layouts} layouts" if args.layouts > 1 else ""
            placement = "" if args.layouts > 1 else "; where their arrays lie aside: --layouts"
            yield (f"ratios to {args.baseline} from {args.repeats} interleaved blocks{units} "
                   f"(95% Hodges-Lehmann interval; 'slower'/'faster' falsely in at most 5% of "
                   f"comparisons of equals{placement}):")  # fmt: skip
            yield from lines


def _summary(results: list[dict]) -> Iterable[str]:
    """'adam 2^20 branch: 1.07× slower [1.04, 1.10]', one per compared implementation."""
    for r in results:
        if r["status"] != "ok" or r["ratio"] is None or r["implementation"] == r["baseline"]:
            continue
        size = format_size(r["size"], r["size_label"])
        device = "" if r["device"] == "cpu" else f" {r['device']}"
        yield f"  {r['kernel']} {size}{device} {r['implementation']}: {ratio_text(r)}"


# --- the command -----------------------------------------------------------------------


def add_command(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser(
        "bench",
        help="time kernels of several targets side by side",
        description="Time kernels (optimiser steps, normalisation, losses, activations, "
        "dropout, conv2d, an MLP step) of several implementations side by side, interleaved, "
        "as ratios to a baseline with 95% intervals, against the machine's STREAM bandwidth. "
        "Exit 0 when every measurement ran or was unsupported, 1 when one raised, 2 on a usage "
        "error.",
    )
    add = bench.add_argument
    add(
        "--target",
        action="append",
        metavar="NAME",
        help="reference, torch, torch-forloop, torch-foreach, torch-fused, jax, keras (the "
        "optimisers), a target module "
        "or module:attr, or LABEL=PATH:MODULE[:ATTR] (that module from the source tree PATH, "
        "named LABEL, beside other versions of it); repeatable; default: every built-in "
        "implementation here. torch*, jax and keras are the libraries' own paths; their "
        "conformance adapters are targets such as nnconform.checks.targets.torch:make_target",
    )
    add(
        "--baseline",
        metavar="NAME",
        help="the target every ratio is to (default: the first --target, else the reference)",
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
        help=f"elements of the flat kernels ({_flat_names()}): 65536, 2**16 or 2^16; "
        "repeatable (default: each kernel's sweep; NNCONFORM_BENCH_LARGE=1 adds larger sizes)",
    )
    add(
        "--batch",
        action="append",
        metavar="N",
        help=f"the batch N of the other kernels ({_batch_names()}): rows, images or examples, "
        "as each kernel says; repeatable (default: each kernel's sweep)",
    )
    add(
        "--threads",
        metavar="N",
        help="torch's intra-op threads (torch.set_num_threads), recorded; numpy's BLAS threads "
        "follow OMP_NUM_THREADS, which must be set before nnconform starts, and JAX's its "
        "XLA_FLAGS",
    )
    add("--warmup", default="3", metavar="N", help="untimed calls first (default 3)")
    add(
        "--repeats",
        default="15",
        metavar="N",
        help="interleaved blocks, one timed sample of each implementation per block "
        f"(default 15; intervals need {MIN_BLOCKS} or more)",
    )
    add(
        "--layouts",
        default=None,
        metavar="N",
        help="prepare every implementation N times over the run (fresh arrays, warmed up "
        "again), the blocks split between the preparations, so that where their arrays lie "
        "varies and the intervals cover it; they then count layouts, not blocks, and need "
        f"{MIN_BLOCKS} or more (default {MIN_BLOCKS}, or --repeats if fewer; 1: one "
        "preparation, intervals over blocks)",
    )
    add(
        "--min-sample-time",
        default="0.01",
        metavar="S",
        help="seconds one sample lasts at least; calls per sample double until it does "
        "(default 0.01)",
    )
    add(
        "--clock",
        default="wall",
        choices=sorted(CLOCKS),
        help="what a sample measures: wall, elapsed time (default); cpu, this process's CPU "
        "time (time.process_time), which leaves out the time spent waiting for a core on an "
        "oversubscribed machine; all threads' CPU time is summed, so compare single-threaded "
        "implementations with it (or --threads 1), and not on cuda",
    )
    add("--seed", default="0", metavar="N", help="seed of the inputs and of the block orders")
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
    from nnconform.files import unwritable

    for option, path in (("--json", args.json), ("--html", args.html)):
        if problem := unwritable(option, path):
            raise UsageError(problem)
    args.devices = _devices(args.device)
    if args.clock == "cpu" and any(d != "cpu" for d in args.devices):
        raise UsageError(
            "--clock cpu times the host's work only: a GPU's time is not CPU time of this "
            "process; use --clock wall with --device cuda"
        )
    args.kernels = _kernels(args.kernel)
    args.targets, args.chosen = _targets(args.target)
    args.baseline = _baseline(args.baseline, args.targets)
    args.sizes = _sizes(args.size, args.batch, args.kernels)
    args.threads = None if args.threads is None else _integer("--threads", args.threads, 1)
    args.warmup = _integer("--warmup", args.warmup, 0)
    args.repeats = _integer("--repeats", args.repeats, 1)
    if args.layouts is None:  # as many as the interval needs, if the blocks allow
        args.layouts = min(MIN_BLOCKS, args.repeats)
    args.layouts = _integer("--layouts", args.layouts, 1)
    if args.layouts > args.repeats:
        raise UsageError(
            f"--layouts {args.layouts} is more than --repeats {args.repeats}: each layout "
            "times one block at least; raise --repeats or lower --layouts"
        )
    args.min_sample_time = _seconds(args.min_sample_time)
    args.seed = _integer("--seed", args.seed, 0)
    args.stream_elements = parse_size(args.stream_elements, name="--stream-elements")
    return args


def run(args: argparse.Namespace) -> int:
    try:
        args = _settings(args)
        missing = [d for d in args.devices if d.startswith("cuda") and not _cuda_available()]
        groups = _plan(args.devices, args.kernels, args.sizes, args.targets, args.chosen)
        planned = [g for g in groups if g[0]["device"] not in missing]
        memory = _check_memory(planned, args)
    except UsageError as error:
        print(f"nnconform bench: error: {error}", file=sys.stderr)
        return 2
    from nnconform.checks.perf.harness import keep_freed_memory

    kept = keep_freed_memory()  # temporaries reuse their pages (harness docstring)
    torch = _torch()
    if args.threads is not None and torch is not None:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads() if torch is not None else args.threads
    say = (lambda line: None) if args.quiet else (lambda line: print(line, file=sys.stderr))
    notes = registry.notes()
    if not args.chosen:
        for note in notes:
            print(f"nnconform bench: {note}", file=sys.stderr)

    from nnconform.checks.perf.machine import last_level_cache, machine_info
    from nnconform.checks.perf.stream import stream

    for device in missing:
        print(f"nnconform bench: {device} is not available here; skipping device {device}",
              file=sys.stderr)  # fmt: skip
    bandwidth = {}
    for device in args.devices:
        if device in missing or args.stream_elements == 0:
            continue
        say(f"STREAM on {device}: {args.stream_elements} float32 elements per array")
        bandwidth[device] = stream(device, elements=args.stream_elements)
        b = bandwidth[device]
        say(f"  copy {b['copy_gbs']:.1f} GB/s, triad {b['triad_gbs']:.1f} GB/s, "
            f"update {b['update_gbs']:.1f} GB/s")  # fmt: skip

    results = [r for g in groups for r in g]
    widths = (
        max(map(len, args.kernels)),
        max((len(r["implementation"]) for r in results), default=0),
    )
    rng = np.random.default_rng([args.seed, 2])  # the block orders' own stream
    index = 0
    for group in groups:
        if group[0]["device"] in missing:
            for record in group:
                reason = f"{record['device']} is not available here"
                record.update(status="unsupported", reason=reason)
        else:
            _measure_group(group, args, rng)
        for record in group:
            index += 1
            line = _progress(index, len(results), record, widths)
            if record["status"] == "error":
                print(line, file=sys.stderr)  # errors are shown even with --quiet
            else:
                say(line)
            if record["noisy"]:
                say(f"  noisy: IQR is {100 * record['rel_iqr']:.0f}% of the median; close other "
                    "programs or raise --repeats")  # fmt: skip
    _derive(groups, bandwidth, args.baseline, last_level_cache())
    for line in _tables(groups, bandwidth, args):
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
            "layouts": args.layouts,
            "min_sample_time": args.min_sample_time,
            "clock": args.clock,
            "threads": threads,
            "freed_memory_kept": kept,
            "seed": args.seed,
            "stream_elements": args.stream_elements,
            "devices": args.devices,
            "large": bool(default_sizes("adam") != KERNELS["adam"].sizes),
            "baseline": args.baseline,
            "targets": {name: spec for name, spec in args.targets},
            "interleaved": True,
            "confidence": CONFIDENCE,
            "false_alarm_rate": 1.0 - CONFIDENCE,
            "interval": "hodges-lehmann",
            "memory": memory,
        },
        "notes": list(notes),
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
