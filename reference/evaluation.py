"""Evaluation: holdout, k-fold cross-validation, the bootstrap, epochs and minibatches.

Every function returns integer index arrays into the data set (int64), never the data itself,
so that one split serves any arrays of examples. Randomness comes in as a
``numpy.random.Generator``, and a function draws from it alone and afresh on every call: a
fresh generator of the same seed replays a split, successive calls with one generator are
independent splits (each epoch's minibatches a new shuffle, each repeat of a holdout a new
split). Index sets are returned sorted, except minibatches (their order is the visiting order).

Sources (catalogue section 9; seeds by file number):
    001  holdout (2/3 to 4/5 of the data for training, class proportions kept, repeated and
         averaged), 10-fold cross-validation, the bootstrap, epochs and iterations
         (2000 examples in batches of 500: 4 iterations per epoch).
    Kohavi, "A Study of Cross-Validation and Bootstrap for Accuracy Estimation and Model
    Selection", IJCAI 1995; Efron & Tibshirani, "An Introduction to the Bootstrap", 1993.
"""

from __future__ import annotations

import numpy as np

from nnconform.reference._validate import generator, integer, interval

__all__ = [
    "bootstrap",
    "holdout",
    "iterations_per_epoch",
    "k_fold",
    "minibatches",
    "repeated_holdout",
]

Split = tuple[np.ndarray, np.ndarray]  # (train_idx, test_idx)


# --- holdout ----------------------------------------------------------------------------


def holdout(y, rng: np.random.Generator, *, train_fraction: float = 0.75) -> Split:
    """Stratified holdout: (train_idx, test_idx), class proportions kept   (seed 001).

    For each class c with n_c examples, a random round(train_fraction · n_c) of them (halves
    rounded up) go to training and the rest to testing, so both sets keep the proportions of
    ``y`` up to rounding. Seed 001 recommends train_fraction in [2/3, 4/5]; any value in
    (0, 1) is accepted as long as both sets end up non-empty.

    ``y`` is the 1-D array of class labels (any type numpy can sort: ints, strings, …).
    Warning: scikit-learn's ``train_test_split(stratify=y)`` rounds per class differently, so
    its splits can differ by an example per class.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array of labels, got shape {y.shape}")
    if y.size < 2:
        raise ValueError(f"y must hold at least 2 labels to split, got {y.size}")
    train_fraction = interval("train_fraction", train_fraction, 0.0, 1.0, closed="neither")
    rng = generator(rng)
    train = []
    for c in np.unique(y):  # sorted classes: the draws are reproducible
        members = rng.permutation(np.flatnonzero(y == c))
        train.append(members[: int(np.floor(train_fraction * members.size + 0.5))])
    train_idx = np.sort(np.concatenate(train))
    test_idx = np.setdiff1d(np.arange(y.size), train_idx)  # sorted
    if train_idx.size == 0 or test_idx.size == 0:
        empty = "training" if train_idx.size == 0 else "test"
        raise ValueError(
            f"train_fraction {train_fraction} leaves the {empty} set empty for {y.size} labels; "
            "use a value nearer 0.75 or more data"
        )
    return train_idx, test_idx


def repeated_holdout(
    y, rng: np.random.Generator, *, train_fraction: float = 0.75, repeats: int = 10
) -> list[Split]:
    """``repeats`` independent stratified holdout splits; the test results are averaged
    (seed 001: "可多次留出,对测试集结果取平均", hold out several times and average)."""
    repeats = integer("repeats", repeats, minimum=1)
    return [holdout(y, rng, train_fraction=train_fraction) for _ in range(repeats)]


# --- k-fold cross-validation ------------------------------------------------------------


def k_fold(n: int, k: int = 10, rng: np.random.Generator | None = None) -> list[Split]:
    """k-fold cross-validation: k (train_idx, test_idx), the test folds disjoint and covering
    range(n); each trains on k − 1 folds and tests on the remaining one   (seed 001, 10-fold).

    The first n mod k folds hold ⌈n/k⌉ examples, the rest ⌊n/k⌋ (as scikit-learn's KFold).
    Without ``rng`` the folds are contiguous blocks of 0..n−1; with it, the examples are
    shuffled once (rng.permutation(n)) before being cut into folds.
    """
    n = integer("n", n, minimum=1)
    k = integer("k", k, minimum=2)
    if k > n:
        raise ValueError(f"k must be at most n = {n} (one example per fold), got {k}")
    order = np.arange(n) if rng is None else generator(rng).permutation(n)
    folds = np.array_split(order, k)  # sizes ⌈n/k⌉ first, then ⌊n/k⌋
    return [(np.setdiff1d(order, fold), np.sort(fold)) for fold in folds]


# --- bootstrap --------------------------------------------------------------------------


def bootstrap(n: int, rng: np.random.Generator) -> Split:
    """(sample_idx, out_of_bag_idx): n draws with replacement from range(n), and the examples
    never drawn   (seed 001; Efron & Tibshirani 1993).

    Each example is out of bag with probability (1 − 1/n)^n → 1/e ≈ 0.368 as n → ∞, so the
    out-of-bag set serves as a test set of about a third of the data. sample_idx keeps the
    draw order (with repeats); out_of_bag_idx is sorted.
    """
    n = integer("n", n, minimum=1)
    sample_idx = generator(rng).integers(0, n, size=n)  # (n,)
    return sample_idx, np.setdiff1d(np.arange(n), sample_idx)


# --- epochs and minibatches -------------------------------------------------------------


def iterations_per_epoch(N: int, m: int) -> int:
    """⌈N/m⌉: an epoch is one pass over N examples in batches of m   (seed 001).

    2000 examples in batches of 500 take 4 iterations; a smaller last batch still counts.
    """
    N = integer("N", N, minimum=1)
    m = integer("m", m, minimum=1)
    return -(-N // m)  # exact integer ceiling, no float rounding


def minibatches(N: int, m: int, rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """One epoch's minibatches: ⌈N/m⌉ index arrays of m examples, the last one smaller when m
    does not divide N   (seed 001). In order 0..N−1, or shuffled once (rng.permutation(N))
    when ``rng`` is given.

    Warning: PyTorch's ``DataLoader(drop_last=True)`` drops the smaller last batch instead.
    """
    N = integer("N", N, minimum=1)
    m = integer("m", m, minimum=1)
    order = np.arange(N) if rng is None else generator(rng).permutation(N)
    return [order[start : start + m] for start in range(0, N, m)]
