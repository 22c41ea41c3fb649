"""Evaluation splits of the reference against ground truth that does not come from it:
set algebra (disjoint, covering), class counts worked out by hand, math.ceil, the seed's
example (2000 examples in batches of 500: 4 iterations), and the bootstrap's out-of-bag rate
(1 − 1/N)^N → 1/e with binomial tolerances."""

import math

import numpy as np
import pytest

from nnconform.reference import evaluation as ev


def assert_partition(train: np.ndarray, test: np.ndarray, n: int) -> None:
    """train and test are disjoint, sorted integer index sets that together cover range(n)."""
    for idx in (train, test):
        assert np.issubdtype(idx.dtype, np.integer)
        assert np.all(np.diff(idx) > 0)  # sorted, no repeats
    assert np.intersect1d(train, test).size == 0
    np.testing.assert_array_equal(np.union1d(train, test), np.arange(n))


# --- holdout ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sizes", "fraction", "train_counts"),
    [
        ((40, 80, 120), 0.75, (30, 60, 90)),
        ((30, 60), 2 / 3, (20, 40)),
        ((50, 25, 100), 0.8, (40, 20, 80)),
        ((10, 7), 0.75, (8, 5)),  # 7.5 and 5.25 rounded to the nearest (halves up)
    ],
)
def test_holdout_keeps_the_class_proportions(sizes, fraction, train_counts, rng):
    y = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
    train, test = ev.holdout(y, rng, train_fraction=fraction)
    assert_partition(train, test, y.size)
    for c, (size, count) in enumerate(zip(sizes, train_counts, strict=True)):
        assert np.sum(y[train] == c) == count
        assert np.sum(y[test] == c) == size - count


def test_holdout_accepts_string_labels_and_draws_different_splits(rng):
    y = np.array(["cat"] * 20 + ["dog"] * 40)
    first, second = ev.holdout(y, rng), ev.holdout(y, rng)
    for train, test in (first, second):
        assert_partition(train, test, 60)
        assert list(np.unique(y[test], return_counts=True)[1]) == [5, 10]
    assert not np.array_equal(first[0], second[0])


def test_holdout_is_reproducible_from_the_seed():
    y = np.repeat([0, 1], [13, 29])
    a = ev.holdout(y, np.random.default_rng(5))
    b = ev.holdout(y, np.random.default_rng(5))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_repeated_holdout_gives_independent_stratified_splits(rng):
    y = np.repeat([0, 1, 2], [12, 24, 36])
    splits = ev.repeated_holdout(y, rng, train_fraction=0.75, repeats=5)
    assert len(splits) == 5
    for train, test in splits:
        assert_partition(train, test, y.size)
        assert list(np.bincount(y[train])) == [9, 18, 27]
    assert len({tuple(test) for _, test in splits}) == 5


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda r: ev.holdout(np.arange(10), r, train_fraction=0.0), ValueError,
         r"train_fraction must be in \(0, 1\), got 0"),
        (lambda r: ev.holdout(np.arange(10), r, train_fraction=1.0), ValueError,
         r"train_fraction must be in \(0, 1\), got 1"),
        (lambda r: ev.holdout(np.arange(10), r, train_fraction=np.nan), ValueError,
         "train_fraction must be finite, got nan"),
        (lambda r: ev.holdout(np.zeros((4, 2)), r), ValueError,
         r"y must be a 1-D array of labels, got shape \(4, 2\)"),
        (lambda r: ev.holdout([], r), ValueError, "y must hold at least 2 labels to split, got 0"),
        (lambda r: ev.holdout([0, 1], r, train_fraction=0.1), ValueError,
         "train_fraction 0.1 leaves the training set empty for 2 labels"),
        (lambda r: ev.holdout([0, 0, 1, 1], r, train_fraction=0.8), ValueError,
         "train_fraction 0.8 leaves the test set empty for 4 labels"),
        (lambda r: ev.holdout([0, 1, 0, 1], None), TypeError,
         "rng must be a numpy.random.Generator .*got NoneType"),
        (lambda r: ev.repeated_holdout([0, 1, 0, 1], r, repeats=0), ValueError,
         "repeats must be at least 1, got 0"),
    ],
)  # fmt: skip
def test_holdout_rejects_bad_arguments(call, error, match, rng):
    with pytest.raises(error, match=match):
        call(rng)


# --- k-fold cross-validation ------------------------------------------------------------


@pytest.mark.parametrize(("n", "k", "sizes"), [(23, 5, [5, 5, 5, 4, 4]), (20, 10, [2] * 10),
                                               (7, 7, [1] * 7), (11, 2, [6, 5])])  # fmt: skip
@pytest.mark.parametrize("shuffle", [False, True])
def test_k_fold_test_folds_are_disjoint_and_cover_the_data(n, k, sizes, shuffle, rng):
    folds = ev.k_fold(n, k, rng if shuffle else None)
    assert len(folds) == k
    assert [test.size for _, test in folds] == sizes
    for train, test in folds:
        assert_partition(train, test, n)  # train on the other k − 1 folds
    tests = np.concatenate([test for _, test in folds])
    np.testing.assert_array_equal(np.sort(tests), np.arange(n))  # each example tested once


def test_k_fold_without_a_generator_cuts_contiguous_blocks():
    folds = ev.k_fold(10, 3)
    assert [list(test) for _, test in folds] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    np.testing.assert_array_equal(folds[1][0], [0, 1, 2, 3, 7, 8, 9])


def test_k_fold_with_a_generator_shuffles(rng):
    contiguous = [list(test) for _, test in ev.k_fold(100, 10)]
    shuffled = [list(test) for _, test in ev.k_fold(100, 10, rng)]
    assert shuffled != contiguous


def test_k_fold_rejects_bad_arguments(rng):
    with pytest.raises(ValueError, match="k must be at least 2, got 1"):
        ev.k_fold(10, 1)
    with pytest.raises(ValueError, match=r"k must be at most n = 4 .*got 5"):
        ev.k_fold(4, 5)
    with pytest.raises(ValueError, match="n must be at least 1, got 0"):
        ev.k_fold(0, 2)
    with pytest.raises(TypeError, match=r"k must be an integer, got 2\.0"):
        ev.k_fold(10, 2.0)
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator .*got int"):
        ev.k_fold(10, 2, 42)


# --- bootstrap --------------------------------------------------------------------------


def test_a_bootstrap_sample_and_its_out_of_bag_set(rng):
    sample, oob = ev.bootstrap(50, rng)
    assert sample.shape == (50,) and np.issubdtype(sample.dtype, np.integer)
    assert sample.min() >= 0 and sample.max() < 50
    assert_partition(np.unique(sample), oob, 50)  # out of bag = never drawn


def test_the_out_of_bag_share_has_expectation_one_minus_one_over_n_to_the_n():
    """Each example is out of bag with probability q = (1 − 1/N)^N, so its frequency over R
    draws is Binomial(R, q)/R. The mean share over all N examples has at most that variance
    (the indicators are negatively correlated), so the same 5σ tolerance holds for it."""
    rng = np.random.default_rng(11)
    N, R = 10, 20_000
    q = (1 - 1 / N) ** N  # 0.3486784401
    assert q == pytest.approx(0.3486784401, rel=1e-12)
    draws = [ev.bootstrap(N, rng)[1] for _ in range(R)]
    tolerance = 5 * np.sqrt(q * (1 - q) / R)
    assert abs(np.mean([0 in oob for oob in draws]) - q) < tolerance
    assert abs(np.mean([oob.size / N for oob in draws]) - q) < tolerance


def test_the_out_of_bag_share_tends_to_one_over_e():
    N = 200_000
    q = (1 - 1 / N) ** N
    assert abs(q - np.exp(-1)) < 1 / N  # (1 − 1/N)^N = e^{-1}(1 − 1/(2N) + O(N^-2))
    _, oob = ev.bootstrap(N, np.random.default_rng(13))
    assert round(q, 3) == 0.368
    assert abs(oob.size / N - np.exp(-1)) < 5 * np.sqrt(q * (1 - q) / N) + 1 / N


def test_bootstrap_rejects_bad_arguments(rng):
    with pytest.raises(ValueError, match="n must be at least 1, got 0"):
        ev.bootstrap(0, rng)
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        ev.bootstrap(5, np.random.RandomState(0))


# --- epochs and minibatches -------------------------------------------------------------


def test_2000_examples_in_batches_of_500_take_4_iterations():
    assert ev.iterations_per_epoch(2000, 500) == 4


@pytest.mark.parametrize("N", [1, 2, 99, 100, 101, 2001])
@pytest.mark.parametrize("m", [1, 7, 100, 500, 5000])
def test_iterations_per_epoch_is_the_ceiling(N, m):
    assert ev.iterations_per_epoch(N, m) == math.ceil(N / m)


def test_iterations_per_epoch_is_exact_for_huge_integers():
    N = 10**18 + 1  # N/m in floating point would round this to an exact multiple
    assert ev.iterations_per_epoch(N, 10**9) == 10**9 + 1


@pytest.mark.parametrize(("N", "m", "sizes"), [(2000, 500, [500] * 4), (23, 5, [5, 5, 5, 5, 3]),
                                               (3, 10, [3]), (4, 1, [1] * 4)])  # fmt: skip
def test_minibatches_cover_an_epoch_with_a_smaller_last_batch(N, m, sizes, rng):
    ordered = ev.minibatches(N, m)
    assert [b.size for b in ordered] == sizes
    np.testing.assert_array_equal(np.concatenate(ordered), np.arange(N))
    shuffled = ev.minibatches(N, m, rng)
    assert [b.size for b in shuffled] == sizes
    np.testing.assert_array_equal(np.sort(np.concatenate(shuffled)), np.arange(N))
    assert len(shuffled) == ev.iterations_per_epoch(N, m)


def test_shuffled_minibatches_change_the_order(rng):
    batches = ev.minibatches(100, 10, rng)
    assert not np.array_equal(np.concatenate(batches), np.arange(100))


def test_epoch_functions_reject_bad_arguments(rng):
    with pytest.raises(ValueError, match="N must be at least 1, got 0"):
        ev.iterations_per_epoch(0, 10)
    with pytest.raises(ValueError, match="m must be at least 1, got 0"):
        ev.iterations_per_epoch(10, 0)
    with pytest.raises(TypeError, match=r"m must be an integer, got 2\.5"):
        ev.minibatches(10, 2.5)
    with pytest.raises(ValueError, match="N must be at least 1, got -3"):
        ev.minibatches(-3, 2)
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator .*got str"):
        ev.minibatches(10, 2, "seed")
