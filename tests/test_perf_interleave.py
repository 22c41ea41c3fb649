"""Interleaved measurement and its ratios: the order of each block is random and complete, the
Hodges–Lehmann interval is the exact one (it inverts scipy's exact Wilcoxon signed-rank test),
a planted 50 % slowdown is called slower and A against A the same, twins are timed with as many
calls per sample as their baseline, and CUDA events time a sample when asked. Fake clocks
and fixed samples throughout: nothing here measures a time.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import sys
import types

import numpy as np
import pytest
from scipy import stats

from nnconform.checks.perf import ratios
from nnconform.checks.perf.harness import measure, measure_interleaved
from nnconform.checks.perf.kernels import KERNELS, Prepared


class FakeMachine:
    """A clock that only the fake kernels advance: each call costs its implementation's base
    time × the machine's current slowness × a little noise from a fixed-seed generator."""

    def __init__(
        self, seed: int = 0, noise: float = 0.02, drift: bool = False, neighbour: float = 0.0
    ):
        self.now = 0.0
        self.calls: list[str] = []
        self.rng = np.random.default_rng(seed)
        self.noise, self.drift = noise, drift
        # seconds a call pays when another implementation ran just before it: its data evicted
        self.neighbour = neighbour

    def clock(self) -> float:
        return self.now

    def kernel(self, name: str, seconds: float, *, fail_after: int | None = None) -> Prepared:
        def run() -> None:
            self.calls.append(name)
            if fail_after is not None and self.calls.count(name) > fail_after:
                raise RuntimeError(f"{name} broke")
            if len(self.calls) > 1 and self.calls[-2] != name:
                self.now += self.neighbour
            # a slow drift of the whole machine by up to 2x over the run: shared by everyone
            slowness = 1.0 + (math.sin(len(self.calls) / 50.0) + 1.0) / 2.0 if self.drift else 1.0
            self.now += seconds * slowness * math.exp(self.noise * self.rng.standard_normal())

        return Prepared(KERNELS["adam"], name, "cpu", 1, run, lambda: None, None, None)


def interleave(machine: FakeMachine, kernels: list[Prepared], repeats: int = 15, seed: int = 1):
    return measure_interleaved(
        kernels, warmup=1, repeats=repeats, min_sample_time=0.0,
        rng=np.random.default_rng(seed), clock=machine.clock,
    )  # fmt: skip


# --- the order ---------------------------------------------------------------------------


def test_every_block_takes_one_sample_of_each_in_a_random_order():
    machine = FakeMachine()
    names = ["a", "b", "c", "d"]
    outcome = interleave(machine, [machine.kernel(n, 1e-3) for n in names], repeats=400)
    assert len(outcome.orders) == 400
    assert all(sorted(order) == names for order in outcome.orders)  # complete
    assert all(len(outcome.measurements[n].samples) == 400 for n in names)
    # random: many distinct orders, and each name first about a quarter of the time (a
    # chi-squared test on this fixed draw; 24 orders are possible)
    assert len({tuple(o) for o in outcome.orders}) == 24
    first = [sum(o[0] == n for o in outcome.orders) for n in names]
    assert stats.chisquare(first).pvalue > 1e-3, first
    # and the calls themselves follow the orders: after warm-up and calibration (one call
    # each, in the given order), the blocks
    timed = machine.calls[2 * len(names) :]
    assert timed == [n for order in outcome.orders for n in order]


def test_the_order_comes_from_the_seed():
    def orders(seed: int) -> list[list[str]]:
        machine = FakeMachine()
        kernels = [machine.kernel(n, 1e-3) for n in "xyz"]
        return interleave(machine, kernels, repeats=20, seed=seed).orders

    assert orders(5) == orders(5) and orders(5) != orders(6)


def test_an_implementation_that_fails_leaves_and_the_others_stay_paired():
    machine = FakeMachine()
    kernels = [machine.kernel("good", 1e-3), machine.kernel("bad", 1e-3, fail_after=6)]
    outcome = interleave(machine, kernels, repeats=10)
    assert isinstance(outcome.errors["bad"], RuntimeError) and "bad" not in outcome.measurements
    assert len(outcome.measurements["good"].samples) == 10


def test_implementations_must_be_distinct():
    machine = FakeMachine()
    with pytest.raises(ValueError, match="distinct"):
        interleave(machine, [machine.kernel("a", 1e-3), machine.kernel("a", 1e-3)])


# --- calls per sample ---------------------------------------------------------------------


def numbers(baseline: str | None, costs: dict[str, float], min_sample_time: float, **machine):
    """The calls per sample each implementation was timed with, and the ratios of the others
    to "a", when "a" is (or no one is) the baseline."""
    fake = FakeMachine(noise=0.0, **machine)
    outcome = measure_interleaved(
        [fake.kernel(n, t) for n, t in costs.items()], warmup=1, repeats=12,
        min_sample_time=min_sample_time, rng=np.random.default_rng(0), clock=fake.clock,
        baseline=baseline,
    )  # fmt: skip
    ratio = {n: ratios.compare(*outcome.paired(n, "a")) for n in costs if n != "a"}
    return {n: m.number for n, m in outcome.measurements.items()}, ratio


def test_an_implementation_calibrated_one_doubling_from_the_baseline_takes_its_number():
    # a: 1 ms calls, 4 per 3.5 ms sample; b (0.6 ms) calibrates to 8, c (0.2 ms) to 32
    costs = {"a": 1e-3, "b": 0.6e-3, "c": 0.2e-3}
    assert numbers(None, costs, 3.5e-3)[0] == {"a": 4, "b": 8, "c": 32}
    assert numbers("a", costs, 3.5e-3)[0] == {"a": 4, "b": 4, "c": 32}
    # and one doubling the other way: a (1.5 ms) calibrates to 4, the baseline e (2 ms) to 2
    assert numbers("e", {"a": 1.5e-3, "e": 2e-3}, 3.5e-3)[0] == {"a": 2, "e": 2}


def test_twins_calibrated_a_doubling_apart_are_compared_like_for_like():
    """Two implementations 1 % apart whose calls last about min_sample_time / 2: one
    calibrates to 2 calls per sample, the other to 4. When a call after the other's pays half
    a call more (its data evicted), the one with 4 spreads that thinner and reads 11 % faster,
    a false alarm; timed with the baseline's number, the two read 1 % apart, as they are."""
    costs, machine = {"a": 1e-3, "b": 0.99e-3}, {"neighbour": 0.5e-3}
    calibrated, apart = numbers(None, costs, 1.995e-3, **machine)
    assert calibrated == {"a": 2, "b": 4} and apart["b"].verdict == "faster"
    assert apart["b"].ratio == pytest.approx(0.89, abs=0.01)
    shared, alike = numbers("a", costs, 1.995e-3, **machine)
    assert shared == {"a": 2, "b": 2} and alike["b"].ratio == pytest.approx(0.99, abs=0.003)


def test_the_baseline_must_be_one_of_the_implementations():
    machine = FakeMachine()
    with pytest.raises(ValueError, match="baseline must be one of"):
        measure_interleaved([machine.kernel("a", 1e-3)], repeats=3, baseline="b")


# --- the interval --------------------------------------------------------------------------


def walsh_by_hand(d: list[float]) -> list[float]:
    return sorted((d[i] + d[j]) / 2 for i in range(len(d)) for j in range(i, len(d)))


@pytest.mark.parametrize("n", [6, 7, 10, 15, 25])
def test_the_interval_inverts_scipys_exact_wilcoxon_test(n):
    """δ lies inside [lo, hi] exactly when the exact two-sided signed-rank test of d − δ does
    not reject at 5 %: checked between every pair of neighbouring Walsh averages."""
    rng = np.random.default_rng(n)
    d = rng.standard_normal(n) * 0.05 + 0.1
    base = np.exp(rng.standard_normal(n))
    r = ratios.compare(base * np.exp(d), base)  # log t − log base = d
    walsh = walsh_by_hand(list(d))
    assert np.allclose(ratios.walsh_averages(d), walsh)
    assert math.log(r.ratio) == pytest.approx(float(np.median(walsh)))
    lo, hi = math.log(r.low), math.log(r.high)
    points = sorted(set(walsh))
    between = [(a + b) / 2 for a, b in itertools.pairwise(points)]
    between += [points[0] - 1.0, points[-1] + 1.0]
    for delta in between:
        p = stats.wilcoxon(d - delta, method="exact").pvalue
        assert (lo < delta < hi) == (p > 0.05), (delta, lo, hi, p)
    assert r.confidence >= 0.95 and r.blocks == n


def test_critical_ranks_match_the_published_table():
    """The published two-sided 5 % critical values of Wilcoxon's signed-rank statistic are
    0, 2, 3, 5, 8, 10, 13, 17, 21, 25 for n = 6 .. 15 (reject when T <= c, P(T+ <= c) <=
    0.025); the interval's rank k is c + 1."""
    table = {6: 0, 7: 2, 8: 3, 9: 5, 10: 8, 11: 10, 12: 13, 13: 17, 14: 21, 15: 25}
    for n, c in table.items():
        k, attained = ratios.critical_rank(n)
        assert k == c + 1, n
        assert attained >= 0.95
    assert ratios.critical_rank(5) is None  # 2/32 > 5 %: no 95 % interval with 5 blocks


def test_fewer_than_six_blocks_give_a_ratio_without_an_interval():
    r = ratios.compare([2.0, 2.1, 1.9], [1.0, 1.0, 1.0])
    assert r.ratio == pytest.approx(2.0, rel=0.05) and r.low is None and r.verdict is None


@pytest.mark.parametrize("bad", [([1.0, 2.0], [1.0]), ([1.0, 0.0], [1.0, 1.0]), ([], [])])
def test_compare_wants_paired_positive_times(bad):
    with pytest.raises(ValueError, match="paired samples"):
        ratios.compare(*bad)


# --- the verdicts --------------------------------------------------------------------------


def verdicts(slowdown: float, *, seeds=range(20), noise=0.05) -> list[str]:
    out = []
    for seed in seeds:
        machine = FakeMachine(seed=seed, noise=noise, drift=True)
        base, other = machine.kernel("base", 1e-3), machine.kernel("other", 1e-3 * slowdown)
        outcome = interleave(machine, [base, other], seed=seed)
        r = ratios.compare(*outcome.paired("other", "base"))
        out.append(r.verdict)
    return out


def test_a_planted_fifty_percent_slowdown_is_slower():
    assert verdicts(1.5) == ["slower"] * 20


def test_a_planted_speedup_is_faster():
    assert verdicts(0.5) == ["faster"] * 20


def test_a_against_a_is_the_same():
    """The same kernel against itself, on a drifting noisy machine: 'same' in these 20 fixed
    draws (the interval's false-alarm rate is 5 %, so one in 20 could differ by chance: these
    seeds are fixed, and a change that breaks the pairing would show as many)."""
    found = verdicts(1.0)
    assert found.count("same") >= 19, found


def test_interleaving_cancels_a_drift_that_sequential_timing_does_not():
    """The machine slows down over the run: sequential measurement (all of A, then all of
    B) sees B slower; interleaved blocks see them the same."""
    machine = FakeMachine(noise=0.01, drift=True)
    a, b = machine.kernel("a", 1e-3), machine.kernel("b", 1e-3)
    machine.now, machine.calls = 0.0, ["x"] * 40  # start where the drift climbs
    first = measure(a, warmup=0, repeats=15, min_sample_time=0.0, clock=machine.clock)
    second = measure(b, warmup=0, repeats=15, min_sample_time=0.0, clock=machine.clock)
    sequential = ratios.compare(second.samples, first.samples)
    outcome = interleave(machine, [a, b])
    interleaved = ratios.compare(*outcome.paired("b", "a"))
    assert sequential.verdict == "slower"
    assert interleaved.verdict == "same" and interleaved.ratio == pytest.approx(1.0, abs=0.02)


# --- layouts ------------------------------------------------------------------------------


class PlacedMachine(FakeMachine):
    """A FakeMachine whose every preparation of a kernel draws where its arrays lie: a speed
    factor exp(placement · N(0, 1)) fixed for that preparation, as two copies of one kernel
    differ for a whole run on a real machine."""

    def __init__(self, seed: int = 0, noise: float = 0.005, placement: float = 0.03):
        super().__init__(seed=seed, noise=noise)
        self.placement = placement
        self.prepared: list[str] = []

    def placed(self, name: str, seconds: float) -> Prepared:
        self.prepared.append(name)
        factor = math.exp(self.placement * self.rng.standard_normal())
        return dataclasses.replace(self.kernel(name, seconds * factor), implementation=name)


def placed_verdict(seed: int, slowdown: float, layouts: int) -> str:
    machine = PlacedMachine(seed=seed)
    cost = {"base": 1e-3, "other": 1e-3 * slowdown}
    outcome = measure_interleaved(
        [machine.placed(n, t) for n, t in cost.items()], warmup=0, repeats=30,
        min_sample_time=0.0, rng=np.random.default_rng(seed), clock=machine.clock,
        layouts=layouts,
        prepare_again=lambda p: machine.placed(p.implementation, cost[p.implementation]),
    )  # fmt: skip
    return ratios.compare(*outcome.paired("other", "base"), layouts=outcome.layouts).verdict


def placed_verdicts(slowdown: float, layouts: int, seeds=range(20)) -> list[str]:
    return [placed_verdict(seed, slowdown, layouts) for seed in seeds]


def test_each_layout_prepares_every_implementation_anew_for_its_share_of_the_blocks():
    machine = PlacedMachine()
    cost = {"a": 1e-3, "b": 2e-3}
    held, latest = [], {}

    def prepare_again(p: Prepared) -> Prepared:
        assert p is latest[p.implementation]  # the current preparation, handed over alive
        held.append(p.implementation)
        latest[p.implementation] = machine.placed(p.implementation, cost[p.implementation])
        return latest[p.implementation]

    prepared = [machine.placed(n, t) for n, t in cost.items()]
    latest.update((p.implementation, p) for p in prepared)
    outcome = measure_interleaved(
        prepared, warmup=1, repeats=14, min_sample_time=0.0, rng=np.random.default_rng(0),
        clock=machine.clock, layouts=4, prepare_again=prepare_again,
    )  # fmt: skip
    assert outcome.layouts == [0] * 4 + [1] * 4 + [2] * 3 + [3] * 3
    assert sorted(held) == ["a"] * 3 + ["b"] * 3
    # each new preparation took the old one's place: no earlier one is still held
    assert prepared[0] is latest["a"] and prepared[1] is latest["b"]
    assert machine.prepared.count("a") == machine.prepared.count("b") == 4
    assert all(len(m.samples) == 14 for m in outcome.measurements.values())


def test_a_twin_placed_elsewhere_is_a_false_alarm_in_one_layout_and_not_across_six():
    """Two identical kernels whose preparations lie apart by a few per cent: within one layout
    the blocks share that, and the interval calls them different most of the time; over six
    layouts, each a fresh preparation, the interval counts the layouts and calls them the
    same at about its nominal rate."""
    assert placed_verdicts(1.0, layouts=1).count("same") <= 10
    assert placed_verdicts(1.0, layouts=6).count("same") >= 18


def test_a_planted_fifty_percent_slowdown_is_slower_across_layouts():
    assert placed_verdicts(1.5, layouts=6) == ["slower"] * 20


def test_over_layouts_the_interval_is_that_of_the_layouts_median_log_ratios():
    rng = np.random.default_rng(3)
    layouts = [0] * 5 + [1] * 5 + [2] * 4 + [3] * 4 + [4] * 6 + [5] * 6
    base = rng.uniform(1.0, 2.0, len(layouts))
    times = base * np.exp(rng.normal(0.05, 0.02, len(layouts)))
    d = np.log(times) - np.log(base)
    medians = [np.median(d[np.array(layouts) == g]) for g in range(6)]
    by_layout = ratios.compare(times, base, layouts=layouts)
    by_hand = ratios.compare(np.exp(medians), np.ones(6))
    assert by_layout.blocks == by_hand.blocks == 6 and by_layout.verdict == by_hand.verdict
    got = (by_layout.ratio, by_layout.low, by_layout.high)
    assert got == pytest.approx((by_hand.ratio, by_hand.low, by_hand.high), rel=1e-12)


def test_a_tuple_of_preparations_is_measured_too_and_left_as_it_was():
    machine = FakeMachine()
    given = (machine.kernel("a", 1e-3), machine.kernel("b", 1e-3, fail_after=2))
    outcome = interleave(machine, given)
    assert set(outcome.measurements) == {"a"} and set(outcome.errors) == {"b"}
    assert all(p is not None for p in given)


def test_layouts_need_a_way_to_prepare_again_and_one_block_each():
    machine = FakeMachine()
    a = machine.kernel("a", 1e-3)
    with pytest.raises(ValueError, match="layouts > 1 needs prepare_again"):
        measure_interleaved([a], repeats=6, layouts=2)
    with pytest.raises(ValueError, match="layouts must be at most repeats"):
        measure_interleaved([a], repeats=6, layouts=7, prepare_again=lambda p: p)
    with pytest.raises(ValueError, match="one layout per block"):
        ratios.compare([1.0, 1.0], [1.0, 1.0], layouts=[0])


# --- CUDA events -------------------------------------------------------------------------


def test_cuda_events_time_a_sample_after_a_sync(monkeypatch):
    """With timer 'cuda-events' a sample is sync, start.record(), the calls, end.record(),
    end.synchronize(): the events' elapsed time, not the host clock."""
    log = []
    names = iter(["start", "end"])

    class Event:
        def __init__(self, enable_timing=False):
            assert enable_timing
            self.name = next(names)

        def record(self):
            log.append(f"{self.name}.record")

        def synchronize(self):
            log.append(f"{self.name}.synchronize")

        def elapsed_time(self, end):
            return 2.0 * log.count("run") / max(1, log.count("start.record"))  # ms

    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(Event=Event))
    monkeypatch.setitem(sys.modules, "torch", fake)
    prepared = Prepared(
        KERNELS["adam"], "fake", "cuda", 1, lambda: log.append("run"),
        lambda: log.append("sync"), None, None, timer="cuda-events",
    )  # fmt: skip
    m = measure(prepared, warmup=0, repeats=2, min_sample_time=0.0, clock=lambda: 0.0)
    first = log.index("start.record")
    assert log[first - 1 : first + 4] == ["sync", "start.record", "run", "end.record",
                                          "end.synchronize"]  # fmt: skip
    assert m.number == 1 and all(s > 0 for s in m.samples)  # the host clock stood still


def test_an_unknown_timer_is_refused():
    prepared = Prepared(KERNELS["adam"], "x", "cpu", 1, lambda: None, lambda: None, None, None,
                        timer="sundial")  # fmt: skip
    with pytest.raises(ValueError, match="unknown timer 'sundial'"):
        measure(prepared, warmup=0, repeats=1)
