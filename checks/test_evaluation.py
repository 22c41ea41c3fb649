"""Evaluation (catalogue section 9): splits are disjoint and cover the data, holdout keeps the
class proportions, the bootstrap draws with replacement and leaves about 1/e out of bag, and an
epoch is ⌈N/m⌉ minibatches that visit every example once.

These are properties of index sets, which hold for any random generator; only the
deterministic forms (no generator) are compared with the oracle.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnconform.checks.assertions import Call, assert_close, call, fail
from nnconform.checks.statistics import mcdiarmid_deviation, statistical
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


# --- holdout ------------------------------------------------------------------------------


@st.composite
def _labels(draw):
    """Labels of 1 to 4 classes, one class with at least 3 members (so both sets fill)."""
    counts = draw(st.lists(st.integers(1, 15), min_size=1, max_size=4), label="counts")
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
@given(y=_labels(), repeats=st.integers(1, 4), seed=SEEDS)
def test_repeated_holdout_gives_that_many_stratified_splits(target, y, repeats, seed):
    splits, c = call(target, "repeated_holdout", y, np.random.default_rng(seed), repeats=repeats)
    if len(splits) != repeats:
        fail(f"repeated_holdout returned {len(splits)} splits, but should return {repeats}", c)
    for i, split in enumerate(splits):
        _assert_stratified(split, y, 0.75, f"repeated_holdout split {i}", c)


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
