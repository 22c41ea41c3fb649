"""Planted bugs in regularisation and ensembles."""

import numpy as np

from nnconform.reference import regularization as ref
from tests.zoo import planted


def _dropout_inverted_times_p(x, mask, *, p, training=True):
    # the inverted form scaled by p instead of 1/p
    x = np.asarray(x, dtype=np.float64)
    return np.asarray(mask) * x * p if training else x


def _dropout_sample_inverted_times_p(x, *, p, rng, training=True):
    x = np.asarray(x, dtype=np.float64)
    mask = ref.dropout_mask(x.shape, p=p, rng=rng) if training else None
    return _dropout_inverted_times_p(x, mask, p=p, training=training)


def _dropout_sample_keeping_with_the_drop_probability(x, *, p, rng, training=True):
    # the keep probability handed straight to PyTorch's F.dropout, whose p is the DROP one:
    # keeps with 1 − p and scales by 1/(1 − p)
    return ref.dropout_sample(x, p=1.0 - p, rng=rng, training=training, variant="inverted")


def _dropout_inverted_training_standard_evaluation(x, mask, *, p, training=True):
    # trains in the inverted form (r ⊙ x / p) but evaluates in the standard one (p·x)
    variant = "inverted" if training else "standard"
    return ref.dropout(x, mask, p=p, training=training, variant=variant)


_MASKS: dict = {}  # (shape, p) -> the mask drawn first


def _dropout_sample_caching_its_mask(x, *, p, rng, training=True, variant="standard"):
    # a layer that draws its mask once per input shape and keeps it: every later call
    # drops the same units (the generator is still consumed, so nothing looks unseeded)
    x = np.asarray(x, dtype=np.float64)
    if not training:
        return ref.dropout(x, None, p=p, training=False, variant=variant)
    fresh = ref.dropout_mask(x.shape, p=p, rng=rng)
    mask = _MASKS.setdefault((x.shape, p), fresh)
    return ref.dropout(x, mask, p=p, variant=variant)


def _dropout_sample_ignoring_its_variant(x, *, p, rng, training=True, variant="standard"):
    # takes the keyword, never uses it: always the standard form
    return ref.dropout_sample(x, p=p, rng=rng, training=training)


def _dropout_backward_inverted_without_1_over_p(
    x, mask, dy, *, p, training=True, variant="standard"
):
    # the inverted mode's backward forgets the 1/p of its forward in training: dx = r ⊙ dy
    if variant == "inverted" and training:
        return np.asarray(mask, dtype=np.float64) * np.asarray(dy, dtype=np.float64)
    return ref.dropout_backward(x, mask, dy, p=p, training=training, variant=variant)


def _bagging_samples_fixed_seed(n, k, rng):
    # a generator made inside with a fixed seed (a debugging leftover): rng is ignored
    return np.random.default_rng(0).integers(0, n, size=(k, n))


def _ensemble_law_plus_c(v, c, k):
    return v / k + c  # the covariance term without its (k − 1)/k


def _bagging_samples_without_replacement(n, k, rng):
    return np.stack([rng.permutation(n) for _ in range(k)])


def _early_stopping_ties_improve(val_losses, *, patience=10):
    # '≤' where '<' is meant: a plateau counts as progress and training never stops on it
    best, best_epoch, wait = np.inf, 0, 0
    for epoch, loss in enumerate(val_losses, 1):
        if loss <= best:
            best, best_epoch, wait = loss, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch, best_epoch
    return len(val_losses), best_epoch


def _early_stopping_update_without_copy(state, val_loss, params=None):
    new = ref.early_stopping_update(state, val_loss, params)
    if new.best_epoch == new.epoch and not state.stopped:
        new = new._replace(best_params=params)  # a reference to the live weights, not a copy
    return new


dropout_inverted_times_p = planted(
    "inverted dropout scaled by p instead of 1/p",
    dropout=_dropout_inverted_times_p,
    dropout_sample=_dropout_sample_inverted_times_p,
)
dropout_sample_drop_probability = planted(
    "dropout keeping units with the drop probability",
    dropout_sample=_dropout_sample_keeping_with_the_drop_probability,
)
dropout_mixed_variants = planted(
    "dropout inverted in training, standard at evaluation",
    dropout=_dropout_inverted_training_standard_evaluation,
)
ensemble_law_plus_c = planted("ensemble law v/k + c", ensemble_error_law=_ensemble_law_plus_c)
bagging_without_replacement = planted(
    "bagging without replacement", bagging_samples=_bagging_samples_without_replacement
)
early_stopping_ties_improve = planted(
    "early stopping counting ties as improvements", early_stopping=_early_stopping_ties_improve
)
early_stopping_keeps_a_reference = planted(
    "early stopping keeping a reference to the weights",
    early_stopping_update=_early_stopping_update_without_copy,
)
dropout_sample_caching_its_mask = planted(
    "dropout drawing its mask once and reusing it on every call",
    dropout_sample=_dropout_sample_caching_its_mask,
)
dropout_sample_ignoring_its_variant = planted(
    "dropout_sample ignoring variant=", dropout_sample=_dropout_sample_ignoring_its_variant
)
dropout_backward_inverted_without_1_over_p = planted(
    "inverted dropout's backward without 1/p",
    dropout_backward=_dropout_backward_inverted_without_1_over_p,
)
bagging_samples_fixed_seed = planted(
    "bagging with a fixed seed instead of the generator",
    bagging_samples=_bagging_samples_fixed_seed,
)


def _early_stopping_lightning_patience(val_losses, *, patience=3):
    # PyTorch Lightning's default patience (3), not the source's 10: only a call that leaves
    # patience to its default shows it
    return ref.early_stopping(val_losses, patience=patience)


def _dropout_mask_shared_across_the_batch(shape, *, p, rng):
    # one row of units drawn and broadcast over the batch: each row on its own is a correct
    # Bernoulli(p) mask, and the keep fraction is right on average
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return np.broadcast_to(ref.dropout_mask(shape[1:], p=p, rng=rng), shape).copy()


def _gaussian_kernel_sigma_squared(X, Y, *, sigma=1.0):
    # exp(−‖x − y‖²/σ²): the 2 of 2σ² dropped (γ = 1/σ² for scikit-learn's 1/(2σ²))
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    return np.exp(-np.sum((X[:, None, :] - Y[None, :, :]) ** 2, axis=-1) / sigma**2)


early_stopping_lightning_patience = planted(
    "early stopping with a default patience of 3", early_stopping=_early_stopping_lightning_patience
)
dropout_mask_shared_across_the_batch = planted(
    "dropout mask drawn for one row and shared by the batch",
    dropout_mask=_dropout_mask_shared_across_the_batch,
)
gaussian_kernel_sigma_squared = planted(
    "Gaussian kernel exp(−‖x − y‖²/σ²)", gaussian_kernel=_gaussian_kernel_sigma_squared
)


def _early_stopping_init_float_max(patience=10):
    # best_loss starts at the largest float, not inf: the first finite loss replaces it, so
    # every state after the first update is right; only the initial state shows it
    return ref.early_stopping_init(patience)._replace(best_loss=np.finfo(np.float64).max)


def _bagging_samples_high_inclusive(n, k, rng):
    # integers(low, high) read as inclusive: index n − 1 is never drawn, a 1-in-n share that
    # large-n statistics cannot see
    return rng.integers(0, max(n - 1, 1), size=(k, n))


early_stopping_init_float_max = planted(
    "early stopping whose initial best loss is the largest float, not inf",
    early_stopping_init=_early_stopping_init_float_max,
)
bagging_samples_high_inclusive = planted(
    "bagging drawing from range(n − 1): the last example is never sampled",
    bagging_samples=_bagging_samples_high_inclusive,
)
