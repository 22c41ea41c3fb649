"""Planted bugs in evaluation splits and epochs."""

import numpy as np

from nnconform.reference import evaluation as ref
from tests.zoo import planted


def _k_fold_overlapping(n, k=10, rng=None):
    # every fold ⌈n/k⌉ long, the last ones clamped to the end: they overlap when k ∤ n
    order = np.arange(n) if rng is None else rng.permutation(n)
    size = -(-n // k)
    folds = [order[min(i * size, n - size) : min(i * size, n - size) + size] for i in range(k)]
    return [(np.setdiff1d(order, f), np.sort(f)) for f in folds]


def _bootstrap_without_replacement(n, rng):
    sample = rng.choice(n, size=n, replace=False)  # replace=False: a permutation
    return sample, np.setdiff1d(np.arange(n), sample)


def _minibatches_drop_last(N, m, rng=None):
    return ref.minibatches(N, m, rng)[: N // m]  # DataLoader(drop_last=True)


def _iterations_per_epoch_floor(N, m):
    return N // m


def _k_fold_global_random_state(n, k=10, rng=None):
    # shuffles with numpy's global RandomState (np.random.permutation), not the generator
    # given: every split is a valid k-fold, none can be replayed from its seed
    order = np.arange(n) if rng is None else np.random.permutation(n)
    return [(np.setdiff1d(order, fold), np.sort(fold)) for fold in np.array_split(order, k)]


def _bootstrap_fixed_seed(n, rng):
    sample = np.random.default_rng(42).integers(0, n, size=n)  # rng ignored
    return sample, np.setdiff1d(np.arange(n), sample)


_ORDERS: dict = {}  # N -> the order of the first epoch


def _minibatches_shuffled_once(N, m, rng=None):
    # a loader that shuffles on its first epoch and replays that order on every later one
    if rng is None:
        return ref.minibatches(N, m)
    order = _ORDERS.setdefault(N, rng.permutation(N))
    return [order[start : start + m] for start in range(0, N, m)]


def _repeated_holdout_one_split(y, rng, *, train_fraction=0.75, repeats=10):
    # one stratified split returned `repeats` times: averaging it averages nothing
    return [ref.holdout(y, rng, train_fraction=train_fraction)] * repeats


k_fold_overlapping = planted("k-fold with overlapping folds", k_fold=_k_fold_overlapping)
bootstrap_without_replacement = planted(
    "bootstrap without replacement", bootstrap=_bootstrap_without_replacement
)
minibatches_drop_last = planted(
    "minibatches dropping the last batch", minibatches=_minibatches_drop_last
)
iterations_floor = planted(
    "iterations per epoch rounded down", iterations_per_epoch=_iterations_per_epoch_floor
)
k_fold_global_random_state = planted(
    "k-fold shuffling with the global RandomState", k_fold=_k_fold_global_random_state
)
bootstrap_fixed_seed = planted("bootstrap with a fixed seed", bootstrap=_bootstrap_fixed_seed)
minibatches_shuffled_once = planted(
    "minibatches shuffled once and replayed every epoch", minibatches=_minibatches_shuffled_once
)
repeated_holdout_one_split = planted(
    "repeated holdout repeating one split", repeated_holdout=_repeated_holdout_one_split
)


def _bootstrap_high_inclusive(n, rng):
    # integers(low, high) read as inclusive of high: n − 1 is never drawn, yet every index is
    # in range and the out-of-bag set is still the exact complement of the sample
    sample = rng.integers(0, max(n - 1, 1), size=n)
    return sample, np.setdiff1d(np.arange(n), sample)


bootstrap_high_inclusive = planted(
    "bootstrap drawing from range(n − 1): the last example is never sampled",
    bootstrap=_bootstrap_high_inclusive,
)


def _repeated_holdout_default_fraction(y, rng, *, train_fraction=0.75, repeats=10):
    # train_fraction accepted and never passed on: every split takes holdout's default 0.75
    return [ref.holdout(y, rng) for _ in range(repeats)]


repeated_holdout_default_fraction = planted(
    "repeated holdout ignoring its train_fraction",
    repeated_holdout=_repeated_holdout_default_fraction,
)
