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
