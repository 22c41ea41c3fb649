"""Evaluation (catalogue section 9): splits are disjoint and cover the data, holdout keeps the
class proportions, the bootstrap draws with replacement and leaves about 1/e out of bag, and an
epoch is ⌈N/m⌉ minibatches that visit every example once.

These are properties of index sets, which hold for any random generator; only the
deterministic forms (no generator) are compared with the oracle. Beside them, every random
split, resample and shuffle is checked to be drawn afresh on each call, from the generator
given (``nnconform.checks.statistics.assert_drawn_afresh``): a split or sample reused on the
next call, or drawn from a fixed seed or the global random state, fails.

Drawn as values (Hypothesis shrinks them): sizes (n, k, N, m, class counts, repeats) and the
choice between a generator and none. From a seed (a numpy generator whose seed Hypothesis
draws): the order of the labels given to holdout, and every generator handed to the target
(its draws are the split under check; the statistical checks need many of them).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnconform.checks.assertions import Call, assert_close, call, fail
from nnconform.checks.statistics import (
    ALPHA,
    Agreement,
    assert_at_chance,
    assert_drawn_afresh,
    hypergeometric_overlap,
    mcdiarmid_deviation,
    multiset_overlap,
    statistical,
)
from nnconform.checks.strategies import SEEDS
from nnconform.checks.tolerances import EXACT
from nnconform.reference import evaluation as oracle

OPTIONAL_SEEDS = st.none() | SEEDS  # None: the deterministic form


def _rng(seed: int | None) -> np.random.Generator | None:
    return None if seed is None else np.random.default_rng(seed)


def _indices(out, what: str, c: Call) -> np.ndarray:
    """``out`` as a 1-D integer index array, or a failed check."""
    try:
        index = np.asarray(out)
    except Exception as error:
        fail(f"{what}: out={out!r} is not an index array ({error})", c)
    if index.ndim != 1 or not (np.issubdtype(index.dtype, np.integer) or index.size == 0):
        fail(f"{what}: out={out!r} should be a 1-D array of integer indices", c)
    return index.astype(np.int64)


def _assert_partition(parts: list[np.ndarray], n: int, what: str, c: Call) -> None:
    """The parts are disjoint and together hold every index of range(n) once."""
    everything = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    outside = everything[(everything < 0) | (everything >= n)]
    if outside.size:
        fail(f"{what}: indices {outside[:5].tolist()} lie outside 0..{n - 1}", c)
    counts = np.bincount(everything, minlength=n)
    if np.any(counts > 1):
        fail(
            f"{what}: indices {np.flatnonzero(counts > 1)[:5].tolist()} appear "
            f"{counts.max()} times: the parts overlap",
            c,
        )
    if np.any(counts == 0):
        fail(
            f"{what}: indices {np.flatnonzero(counts == 0)[:5].tolist()} are in no part: "
            f"the parts do not cover range({n})",
            c,
        )


# --- k-fold -------------------------------------------------------------------------------


@st.composite
def _folds(draw):
    n = draw(st.integers(2, 60), label="n")
    return n, draw(st.integers(2, min(n, 12)), label="k")


@pytest.mark.algorithm("k_fold")
@given(nk=_folds(), seed=OPTIONAL_SEEDS)
def test_k_fold_test_folds_are_disjoint_and_cover_the_data(target, nk, seed):
    n, k = nk
    splits, c = call(target, "k_fold", n, k, _rng(seed))
    if len(splits) != k:
        fail(f"k_fold({n}, {k}) returned {len(splits)} folds, but should return k = {k}", c)
    tests = [
        _indices(test, f"k_fold({n}, {k}) test fold {i}", c) for i, (_, test) in enumerate(splits)
    ]
    _assert_partition(tests, n, f"k_fold({n}, {k}) test folds", c)
    for i, (train, _) in enumerate(splits):
        train = _indices(train, f"k_fold({n}, {k}) training set {i}", c)
        _assert_partition([train, tests[i]], n, f"k_fold({n}, {k}) fold {i}: training and test", c)
    sizes = sorted(t.size for t in tests)
    if sizes[-1] - sizes[0] > 1:
        fail(
            f"k_fold({n}, {k}) folds hold {sizes[0]} to {sizes[-1]} examples: they should "
            f"differ by at most one (⌊n/k⌋ or ⌈n/k⌉)",
            c,
        )


@pytest.mark.algorithm("k_fold")
@given(nk=_folds())
def test_k_fold_without_a_generator_matches_the_oracle(target, nk):
    n, k = nk
    splits, c = call(target, "k_fold", n, k)
    expected = oracle.k_fold(n, k)
    if len(splits) != len(expected):
        fail(f"k_fold({n}, {k}) returned {len(splits)} folds, but should return {k}", c)
    for i, ((train, test), (e_train, e_test)) in enumerate(zip(splits, expected, strict=True)):
        assert_close(
            _indices(np.sort(test), "test", c), e_test, what=f"test fold {i}", call=c, tol=EXACT
        )
        assert_close(
            _indices(np.sort(train), "train", c),
            e_train,
            what=f"training set {i}",
            call=c,
            tol=EXACT,
        )


def _labels_of(parts: list[np.ndarray], n: int) -> np.ndarray:
    """label[i] = j for the example i in part j (the parts a partition of range(n))."""
    labels = np.empty(n, dtype=np.int64)
    for j, part in enumerate(parts):
        labels[part] = j
    return labels


def _part_overlaps(a: np.ndarray, b: np.ndarray, parts: str) -> list[Agreement]:
    """Part 0 of one partition (labels ``a``) against each part j of another (labels ``b``):
    for independent uniform shuffles, |A₀ ∩ B_j| is Hypergeometric(n, |A₀|, |B_j|), exact.
    The k comparisons share one false-alarm rate ALPHA (ALPHA/k each: a union bound)."""
    first = a == 0
    k = int(b.max()) + 1
    return [
        hypergeometric_overlap(
            [(a.size, int(first.sum()), int(np.sum(b == j)))],
            int(np.sum(first & (b == j))),
            alpha=ALPHA / k,
        )._replace(what=f"the examples {parts} 0 of one shares with {parts} {j} of the other")
        for j in range(k)
    ]


@pytest.mark.algorithm("k_fold")
@statistical
@given(n=st.integers(60, 100), k=st.integers(2, 5), seed=SEEDS)
def test_k_fold_shuffles_afresh_on_each_call_from_the_generator_given(target, n, k, seed):
    # ``assert_drawn_afresh``: a fresh generator of the same seed replays the folds exactly;
    # two successive calls, and generators of two seeds, give test folds that overlap as
    # independent shuffles do: test fold 0 of one against each test fold of the other, within
    # exact hypergeometric bounds. Two statistical comparisons at 1e-7 (each a union of k at
    # 1e-7/k), 3 examples: false alarm ≤ 6e-7 per check. Power: a shuffle reused, or drawn
    # from a fixed seed, gives some fold an overlap of all its ≥ 12 examples, at least 2
    # beyond the bound for every n and k drawn (10 of 12 at n = 60, k = 5): always caught; a
    # shuffle from the global random state cannot be replayed: always caught.
    def draw(rng):
        splits, c = call(target, "k_fold", n, k, rng)
        if len(splits) != k:
            fail(f"k_fold({n}, {k}) returned {len(splits)} folds, but should return k = {k}", c)
        tests = [
            _indices(t, f"k_fold({n}, {k}) test fold {i}", c) for i, (_, t) in enumerate(splits)
        ]
        _assert_partition(tests, n, f"k_fold({n}, {k}) test folds", c)
        return _labels_of(tests, n), c

    assert_drawn_afresh(
        draw, seed, lambda a, b: _part_overlaps(a, b, "test fold"), what=f"k_fold({n}, {k}, rng)"
    )


# --- holdout ------------------------------------------------------------------------------


@st.composite
def _labels(draw, smallest: int = 1, largest: int = 15):
    """Labels of 1 to 4 classes of ``smallest`` to ``largest`` members, one class with at
    least 3 (so both sets fill)."""
    counts = draw(st.lists(st.integers(smallest, largest), min_size=1, max_size=4), label="counts")
    counts[0] = max(counts[0], 3)
    y = np.repeat(np.arange(len(counts)), counts)
    order = np.random.default_rng(draw(SEEDS, label="shuffle"))
    return order.permutation(y)


def _assert_stratified(split, y, fraction: float, what: str, c: Call) -> None:
    train = _indices(split[0], f"{what} training set", c)
    test = _indices(split[1], f"{what} test set", c)
    _assert_partition([train, test], y.size, f"{what}: training and test", c)
    if train.size == 0 or test.size == 0:
        fail(
            f"{what}: training set of {train.size}, test set of {test.size}: both must hold "
            f"examples",
            c,
        )
    for label in np.unique(y):
        members = np.count_nonzero(y == label)
        kept = np.count_nonzero(y[train] == label)
        # class proportions kept up to rounding: within one example of fraction·n_c
        if abs(kept - fraction * members) > 1:
            fail(
                f"{what}: class {label} has {kept} of its {members} examples in training, "
                f"but should have about {fraction:g}·{members} = {fraction * members:g}",
                c,
            )


@pytest.mark.algorithm("holdout")
@given(y=_labels(), fraction=st.sampled_from([2 / 3, 0.7, 0.75, 0.8]), seed=SEEDS)
def test_holdout_is_stratified_disjoint_and_covering(target, y, fraction, seed):
    split, c = call(target, "holdout", y, np.random.default_rng(seed), train_fraction=fraction)
    _assert_stratified(split, y, fraction, f"holdout(y, train_fraction={fraction:g})", c)


@pytest.mark.algorithm("holdout")
@given(
    # classes of 40 to 60: a train_fraction off by 0.05 or more (0.75 for 2/3 or 0.8) moves at
    # least 2 examples of every class, beyond the one-example allowance for rounding
    y=_labels(smallest=40, largest=60),
    repeats=st.integers(1, 4),
    fraction=st.sampled_from([None, 2 / 3, 0.8]),  # None: the default 0.75, not passed
    seed=SEEDS,
)
def test_repeated_holdout_gives_that_many_stratified_splits(target, y, repeats, fraction, seed):
    keywords = {"repeats": repeats} | ({} if fraction is None else {"train_fraction": fraction})
    splits, c = call(target, "repeated_holdout", y, np.random.default_rng(seed), **keywords)
    if len(splits) != repeats:
        fail(f"repeated_holdout returned {len(splits)} splits, but should return {repeats}", c)
    for i, split in enumerate(splits):
        _assert_stratified(split, y, fraction or 0.75, f"repeated_holdout split {i}", c)


def _test_overlap(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> Agreement:
    """The test examples two stratified splits share (``a``, ``b``: 0/1 test indicators): in
    each class the test sets are independent uniform subsets of their sizes, so the overlap is
    a sum of independent hypergeometric counts, one per class (exact)."""
    groups = [
        (int(np.sum(y == c)), int(a[y == c].sum()), int(b[y == c].sum())) for c in np.unique(y)
    ]
    return hypergeometric_overlap(groups, int(np.sum(a & b)))._replace(
        what="the test examples two splits share"
    )


@pytest.mark.algorithm("holdout")
@pytest.mark.parametrize("function", ["holdout", "repeated_holdout"])
@statistical
@given(counts=st.tuples(st.integers(40, 60), st.integers(40, 60)), seed=SEEDS)
def test_holdout_splits_are_drawn_afresh_on_each_call_and_each_repeat(
    target, function, counts, seed
):
    # Two classes of 40 to 60 labels. ``assert_drawn_afresh`` (a fresh generator of the same
    # seed replays the split exactly; successive calls, and generators of two seeds, give
    # test sets that share examples as independent stratified splits do, within the exact
    # bounds of ``_test_overlap``), and, for repeated_holdout, its two repeats against each
    # other likewise. At most three statistical comparisons at 1e-7, 3 examples: false alarm
    # ≤ 9e-7 per check. Power: a reused split shares its whole test set (≥ 20 examples) with
    # itself, at least 6 beyond the bound for every pair of class sizes drawn (14 of 20 at
    # 40 + 40; about 5 shared by chance): always caught.
    y = np.random.default_rng(seed).permutation(np.repeat([0, 1], counts))
    repeats = 2 if function == "repeated_holdout" else 1
    options = {"repeats": repeats} if repeats > 1 else {}
    what = (
        f"{function}(y of {counts[0]} + {counts[1]} labels{', repeats=2' if repeats > 1 else ''})"
    )

    def draw(rng):
        out, c = call(target, function, y, rng, **options)
        splits = out if repeats > 1 else [out]
        if len(splits) != repeats:
            fail(f"{what} returned {len(splits)} splits, but should return {repeats}", c)
        tests = np.zeros((repeats, y.size), dtype=np.int8)  # (repeat, example): 1 = test
        for r, (train, test) in enumerate(splits):
            train = _indices(train, f"{what} training set {r}", c)
            test = _indices(test, f"{what} test set {r}", c)
            _assert_partition([train, test], y.size, f"{what}: training and test", c)
            tests[r, test] = 1
        return tests, c

    tests, c = assert_drawn_afresh(draw, seed, lambda a, b: _test_overlap(y, a[0], b[0]), what=what)
    if repeats > 1:
        assert_at_chance(
            _test_overlap(y, tests[0], tests[1]),
            what=f"{what}: repeats 1 and 2 of one call",
            call=c,
            identical=np.array_equal(tests[0], tests[1]),
            cause="one split repeated, so the results averaged over the repeats are one result",
        )


# --- bootstrap ----------------------------------------------------------------------------


@pytest.mark.algorithm("bootstrap")
@given(n=st.integers(1, 60), seed=SEEDS)
def test_bootstrap_out_of_bag_set_is_exactly_the_examples_never_drawn(target, n, seed):
    out, c = call(target, "bootstrap", n, np.random.default_rng(seed))
    sample = _indices(out[0], f"bootstrap({n}) sample", c)
    oob = _indices(out[1], f"bootstrap({n}) out-of-bag set", c)
    if sample.size != n:
        fail(f"bootstrap({n}) drew {sample.size} examples, but should draw n = {n}", c)
    _assert_partition([np.unique(sample), oob], n, f"bootstrap({n}): drawn and out of bag", c)


BOOTSTRAP_N, BOOTSTRAP_REPEATS = 500, 40


@pytest.mark.algorithm("bootstrap")
@statistical
@given(seed=SEEDS)
def test_bootstrap_leaves_a_share_of_about_1_over_e_out_of_bag(target, seed):
    # 40 bootstraps of n = 500. Two statistical comparisons, each with false alarm ≤ 1e-7
    # (3 examples: ≤ 6e-7 per check):
    # 1. every sample repeats an example: none does with probability n!/nⁿ < 1e-200.
    #    Power: a sample without replacement (a permutation) is always caught.
    # 2. the out-of-bag count over all 40 (a function of 20 000 draws that one draw changes by
    #    at most 1) lies within McDiarmid's bound, 410, of 40·n(1 − 1/n)ⁿ = 7 343 (5.6 %).
    #    Power: a share off by 0.03 (600 examples; the count's standard deviation is about
    #    45) is caught with probability > 0.999 9.
    rng = np.random.default_rng(seed)
    n = BOOTSTRAP_N
    missing = 0
    for _ in range(BOOTSTRAP_REPEATS):
        out, c = call(target, "bootstrap", n, rng)
        sample = _indices(out[0], f"bootstrap({n}) sample", c)
        if np.unique(sample).size == n:
            fail(f"bootstrap({n}) drew every example once: a sample without replacement", c)
        missing += _indices(out[1], f"bootstrap({n}) out-of-bag set", c).size
    draws = BOOTSTRAP_REPEATS * n
    assert_close(
        np.float64(missing / draws),
        (1 - 1 / n) ** n,
        what=f"the out-of-bag share over {BOOTSTRAP_REPEATS} bootstraps of {n}",
        call=c,
        tol=EXACT._replace(atol=mcdiarmid_deviation(draws) / draws),
    )


@pytest.mark.algorithm("bootstrap")
@statistical
@given(n=st.integers(200, 400), seed=SEEDS)
def test_bootstrap_samples_are_drawn_afresh_on_each_call_from_the_generator_given(target, n, seed):
    # ``assert_drawn_afresh``: a fresh generator of the same seed replays the sample exactly;
    # two successive calls, and generators of two seeds, give samples that share about
    # 0.48·n examples (the multiset intersection), within McDiarmid's bound (≤ 0.29·n; see
    # ``multiset_overlap``). Two statistical comparisons at 1e-7, 3 examples: false alarm
    # ≤ 6e-7 per check. Power: a reused sample, or one from a fixed seed, shares all n:
    # always caught; one drawn from the global random state cannot be replayed: always.
    def draw(rng):
        out, c = call(target, "bootstrap", n, rng)
        sample = _indices(out[0], f"bootstrap({n}) sample", c)
        if sample.size != n or sample.min() < 0 or sample.max() >= n:
            fail(f"bootstrap({n}) sample should be n = {n} indices in 0..{n - 1}", c)
        return sample, c

    assert_drawn_afresh(
        draw, seed, lambda a, b: multiset_overlap(a, b, n), what=f"bootstrap({n}, rng)"
    )


# --- epochs -------------------------------------------------------------------------------


@pytest.mark.algorithm("epochs")
@given(N=st.integers(1, 5000), m=st.integers(1, 600))
def test_iterations_per_epoch_is_the_ceiling_of_n_over_m(target, N, m):
    for n_, m_ in ((2000, 500), (N, m)):  # seed 001's example: 4 iterations
        out, c = call(target, "iterations_per_epoch", n_, m_)
        if isinstance(out, bool) or not isinstance(out, int | np.integer):
            fail(f"iterations_per_epoch({n_}, {m_}): out={out!r} is not an integer", c)
        assert_close(
            np.int64(out), -(-n_ // m_), what=f"iterations_per_epoch({n_}, {m_})", call=c, tol=EXACT
        )


@pytest.mark.algorithm("epochs")
@given(N=st.integers(1, 80), m=st.integers(1, 30), seed=OPTIONAL_SEEDS)
def test_minibatches_visit_every_example_once_per_epoch(target, N, m, seed):
    batches, c = call(target, "minibatches", N, m, _rng(seed))
    batches = [_indices(b, f"minibatches({N}, {m}) batch {i}", c) for i, b in enumerate(batches)]
    count = -(-N // m)
    if len(batches) != count:
        fail(
            f"minibatches({N}, {m}) made {len(batches)} batches, but should make ⌈N/m⌉ = {count}", c
        )
    sizes = [b.size for b in batches]
    expected_sizes = [m] * (count - 1) + [N - m * (count - 1)]
    if sizes != expected_sizes:
        fail(
            f"minibatches({N}, {m}) batch sizes {sizes}, but should be {expected_sizes} (all "
            f"m but a smaller last one)",
            c,
        )
    _assert_partition(batches, N, f"minibatches({N}, {m})", c)
    if seed is None:  # no generator: in order 0..N−1
        assert_close(
            np.concatenate(batches), np.arange(N), what="minibatches in order", call=c, tol=EXACT
        )


@pytest.mark.algorithm("epochs")
@statistical
@given(N=st.integers(60, 100), parts=st.integers(2, 5), seed=SEEDS)
def test_minibatches_are_shuffled_afresh_on_each_call_from_the_generator_given(
    target, N, parts, seed
):
    # One call is one epoch: each epoch must reshuffle. ``assert_drawn_afresh``: a fresh
    # generator of the same seed replays the epoch exactly; two successive epochs, and
    # generators of two seeds, give batches that overlap as independent shuffles do: batch
    # 0 of one against each batch of the other, within exact hypergeometric bounds. Two
    # statistical comparisons at 1e-7 (each a union over the batches), 3 examples: false
    # alarm ≤ 6e-7 per check. Power: an order shuffled once and reused for every epoch, or
    # drawn from a fixed seed, puts all m ≥ 12 examples of batch 0 into one batch again, at
    # least 2 beyond the bound for every N and m drawn (10 of 12 at N = 60, m = 12): always
    # caught.
    m = N // parts

    def draw(rng):
        batches, c = call(target, "minibatches", N, m, rng)
        batches = [
            _indices(b, f"minibatches({N}, {m}) batch {i}", c) for i, b in enumerate(batches)
        ]
        sizes = [b.size for b in batches]
        count = -(-N // m)
        if sizes != [m] * (count - 1) + [N - m * (count - 1)]:
            fail(f"minibatches({N}, {m}) batch sizes {sizes}: all m but a smaller last one", c)
        _assert_partition(batches, N, f"minibatches({N}, {m})", c)
        return np.concatenate(batches), c  # the visiting order

    def labels(order: np.ndarray) -> np.ndarray:
        return _labels_of(np.split(order, range(m, N, m)), N)

    assert_drawn_afresh(
        draw,
        seed,
        lambda a, b: _part_overlaps(labels(a), labels(b), "batch"),
        what=f"minibatches({N}, {m}, rng)",
    )


# --- support on small n -------------------------------------------------------------------

# Each part a sampler returns (a fold, the out-of-bag set, a minibatch), over repeated draws
# from one generator, holds only indices of range(n) and reaches every one of them: an index
# range off by one (range(n − 1), or 1..n) leaves one example out, which on large n moves the
# statistics above by less than their noise. Probability that a correct sampler leaves an
# index out of a part in REACH draws: at most (1 − 1/5)^120 ≈ 2.5e-12 (the rarest part below
# holds an index with probability ≥ 1/5 at n ≤ 5); over 4 sizes, ≤ 6 parts, 5 indices and 3
# examples: ≤ 1e-9 per check. Power: an index never drawn is always caught.
REACH = 120
SMALL_N = (2, 3, 4, 5)


def _bootstrap_parts(target, n, rng):
    out, c = call(target, "bootstrap", n, rng)
    return {"sample": out[0], "out-of-bag set": out[1]}, c


def _k_fold_parts(target, n, rng):
    splits, c = call(target, "k_fold", n, 2, rng)
    parts = {f"test fold {i}": test for i, (_, test) in enumerate(splits)}
    return parts | {f"training set {i}": train for i, (train, _) in enumerate(splits)}, c


def _holdout_parts(target, n, rng):
    # one class, half of it for training: both sets hold an example for every n ≥ 2
    out, c = call(target, "holdout", np.zeros(n, dtype=np.int64), rng, train_fraction=0.5)
    return {"training set": out[0], "test set": out[1]}, c


def _minibatch_parts(target, n, rng):
    batches, c = call(target, "minibatches", n, 2, rng)
    return {f"minibatch {i}": batch for i, batch in enumerate(batches)}, c


SAMPLERS = {
    "bootstrap": _bootstrap_parts,
    "k_fold": _k_fold_parts,
    "holdout": _holdout_parts,
    "epochs": _minibatch_parts,
}


@pytest.mark.parametrize("algorithm", SAMPLERS)
@statistical
@given(seed=SEEDS)
def test_each_part_of_a_random_split_reaches_every_index_and_no_other(target, algorithm, seed):
    rng = np.random.default_rng(seed)
    for n in SMALL_N:
        reached: dict[str, set[int]] = {}
        for _ in range(REACH):
            parts, c = SAMPLERS[algorithm](target, n, rng)
            for part, out in parts.items():
                index = _indices(out, f"{algorithm}({n}) {part}", c)
                outside = index[(index < 0) | (index >= n)]
                if outside.size:
                    fail(f"{algorithm}({n}) {part}: indices {outside.tolist()} lie outside "
                         f"0..{n - 1}", c)  # fmt: skip
                reached.setdefault(part, set()).update(index.tolist())
        for part, seen in reached.items():
            if missing := sorted(set(range(n)) - seen):
                fail(
                    f"{algorithm}({n}) {part}: indices {missing} never drawn in {REACH} calls "
                    f"from one generator (each should be reachable)",
                    c,
                )
