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
