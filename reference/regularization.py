"""Regularisation and ensembles: dropout, model averaging, bagging and early stopping.

Randomness comes in as a ``numpy.random.Generator`` or as an explicit dropout mask, so that
every function here is pure and repeatable. A function given a generator draws from it alone
and afresh on every call: a fresh generator of the same seed replays its draw, and successive
calls with one generator are independent draws (a mask or resample is never kept and reused).
State (early stopping) is an explicit NamedTuple.

Sources (catalogue section 6; seeds by file number):
    000, 001, 004  dropout: Srivastava et al., "Dropout: A Simple Way to Prevent Neural
                   Networks from Overfitting", JMLR 15, 2014 (eq. of section 4 and section 10).
    004  model averaging: Goodfellow, Bengio & Courville, "Deep Learning", ch. 7.11,
         eqs. 7.50–7.51.
    001, 004  bagging: Breiman, "Bagging Predictors", Machine Learning 24, 1996.
    001  early stopping: stop when the validation loss has not improved for `patience`
         epochs (e.g. 10) and keep the best weights (Goodfellow et al., ch. 7.8, Alg. 7.1).
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from nnconform.reference._validate import (
    as_array,
    choice,
    finite,
    generator,
    integer,
    keep_probability,
    nonnegative,
    same_shape,
)

__all__ = [
    "DROPOUT_VARIANTS",
    "EarlyStoppingState",
    "bagging",
    "bagging_samples",
    "dropout",
    "dropout_backward",
    "dropout_mask",
    "dropout_sample",
    "early_stopping",
    "early_stopping_init",
    "early_stopping_update",
    "ensemble_error_from_covariance",
    "ensemble_error_law",
    "ensemble_squared_error",
    "model_averaging",
]


# --- dropout ----------------------------------------------------------------------------

DROPOUT_VARIANTS = ("standard", "inverted")


def dropout_mask(shape: int | Sequence[int], *, p: float, rng: np.random.Generator) -> np.ndarray:
    """r_j ~ Bernoulli(p), p the KEEP probability   (seed 004; Srivastava et al. 2014).

    Returns a float64 array of 0.0 and 1.0 (1 = unit kept), ready to multiply.

    Warning: PyTorch's and Keras's ``p``/``rate`` is the DROP probability, 1 − p here.
    """
    p = keep_probability("p", p)
    rng = generator(rng)
    # uniform < p is 1 with probability exactly p; p = 1 keeps every unit.
    return (rng.random(shape) < p).astype(np.float64)


def _dropout_args(x, mask, p, training, variant):
    x = as_array("x", x)
    p = keep_probability("p", p)
    variant = choice("variant", variant, DROPOUT_VARIANTS)
    if not isinstance(training, bool | np.bool_):
        raise TypeError(f"training must be True or False, got {training!r}")
    if training:
        if mask is None:
            raise ValueError("mask is required in training mode, got None (see dropout_mask)")
        mask = as_array("mask", mask)
        same_shape(x=x, mask=mask)
        if not np.isin(mask, (0.0, 1.0)).all():
            bad = mask[~np.isin(mask, (0.0, 1.0))]
            raise ValueError(f"mask must hold only 0 and 1, got values such as {bad[:3]}")
    return x, mask, p, bool(training), variant


def _dropout_scale(mask, p: float, training: bool, variant: str):
    """dropout is linear in x: y = scale ⊙ x, the scale below."""
    if training:
        return mask if variant == "standard" else mask / p
    return p if variant == "standard" else 1.0


def dropout(x, mask, *, p: float, training: bool = True, variant: str = "standard") -> np.ndarray:
    """Dropout with keep probability p   (seeds 000, 001, 004; Srivastava et al. 2014).

    variant ``standard`` (the source's form, Srivastava et al. section 4 and Fig. 2):
        training:  ỹ = r ⊙ y,  r_j ~ Bernoulli(p)
        test:      y · p        (scaling the outgoing weights by p, as the paper does, is the
                                 same as scaling these outputs by p)
    variant ``inverted`` (Srivastava et al. section 10; what frameworks implement):
        training:  ỹ = r ⊙ y / p
        test:      y            (identity)

    Both keep the expected training output equal to the test output: E[r ⊙ y] = p·y.
    ``mask`` is r (0/1, the shape of x; see ``dropout_mask``); it is ignored, and may be None,
    when ``training`` is False.

    Warning: PyTorch's ``nn.Dropout(p)`` and Keras's ``Dropout(rate)`` take the DROP
    probability 1 − p and use the ``inverted`` variant.
    """
    x, mask, p, training, variant = _dropout_args(x, mask, p, training, variant)
    return _dropout_scale(mask, p, training, variant) * x


def dropout_backward(
    x, mask, dy, *, p: float, training: bool = True, variant: str = "standard"
) -> np.ndarray:
    """Dropout is linear in x, y = s ⊙ x, so dx = s ⊙ dy with the same scale s: r, r/p, p or 1.

    Dropped units get no gradient; the mask is not differentiated (it is sampled, not computed).
    """
    x, mask, p, training, variant = _dropout_args(x, mask, p, training, variant)
    dy = as_array("dy", dy)
    same_shape(x=x, dy=dy)
    return _dropout_scale(mask, p, training, variant) * dy


def dropout_sample(
    x, *, p: float, rng: np.random.Generator, training: bool = True, variant: str = "standard"
) -> np.ndarray:
    """Dropout with a mask drawn here: ``dropout(x, dropout_mask(x.shape, p=p, rng=rng), ...)``.

    For targets that draw their own masks (frameworks do, and take no mask argument): their
    keep fraction and scaling are checked statistically against this one.
    """
    x = as_array("x", x)
    mask = dropout_mask(x.shape, p=p, rng=rng) if training else None
    return dropout(x, mask, p=p, training=training, variant=variant)


# --- model averaging --------------------------------------------------------------------


def model_averaging(predictions) -> np.ndarray:
    """ŷ = (1/k) Σ_i ŷ_i: the mean of k models' predictions, stacked on axis 0 as (k, ...)."""
    predictions = as_array("predictions", predictions)
    if predictions.ndim == 0 or predictions.shape[0] == 0:
        raise ValueError(
            f"predictions must stack at least one model on axis 0, got shape {predictions.shape}"
        )
    return predictions.mean(axis=0)


def ensemble_squared_error(errors) -> float:
    """Mean over samples of ((1/k) Σ_i ε_i)²: the squared error of the averaged prediction.

    ``errors`` is (k, n_samples): ε_i of model i on each sample. Its expectation is
    ``ensemble_error_law`` (seed 004, eq. 7.50).
    """
    errors = as_array("errors", errors, ndim=2)  # (k, n_samples)
    if 0 in errors.shape:
        raise ValueError(
            f"errors must hold at least one model and one sample, got shape {errors.shape}"
        )
    return float(np.mean(errors.mean(axis=0) ** 2))


def ensemble_error_law(v: float, c: float, k: int) -> float:
    """E[((1/k) Σ_i ε_i)²] = v/k + (k − 1)c/k   (seed 004, eqs. 7.50–7.51; Goodfellow ch. 7.11).

    k models whose errors have variance E[ε_i²] = v and covariance E[ε_iε_j] = c (i ≠ j).
    Perfectly correlated errors (c = v) give v: averaging does not help; uncorrelated errors
    (c = 0) give v/k. A covariance matrix with this structure exists only for
    −v/(k − 1) ≤ c ≤ v, and c outside that range is rejected.
    """
    v = nonnegative("v", v)
    c = finite("c", c)
    k = integer("k", k, minimum=1)
    # Eigenvalues of the (k, k) matrix with diagonal v, off-diagonal c: v − c (k − 1 times)
    # and v + (k − 1)c; it is a covariance iff both are ≥ 0.
    if k > 1 and not -v / (k - 1) <= c <= v:
        raise ValueError(
            f"c must be in [-v/(k-1), v] = [{-v / (k - 1):g}, {v:g}] for a valid covariance, "
            f"got {c}"
        )
    return v / k + (k - 1) * c / k


def ensemble_error_from_covariance(cov) -> float:
    """E[((1/k) Σ_i ε_i)²] = 1ᵀΣ1 / k² for any error covariance Σ (k, k) of zero-mean errors.

    The exact form behind eq. 7.50 (seed 004): the sum of every entry of Σ over k².
    """
    cov = as_array("cov", cov, ndim=2)  # (k, k)
    k = cov.shape[0]
    if k == 0 or cov.shape != (k, k):
        raise ValueError(f"cov must be a non-empty square (k, k) matrix, got shape {cov.shape}")
    if not np.allclose(cov, cov.T, rtol=1e-12, atol=0.0):
        raise ValueError("cov must be symmetric, got cov != cov.T")
    return float(cov.sum() / k**2)


# --- bagging ----------------------------------------------------------------------------


def bagging_samples(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """(k, n) indices: k data sets of n examples drawn with replacement from range(n).

    Breiman 1996 (seeds 001, 004). Row i indexes the i-th resampled data set; each example is
    missing from a row with probability (1 − 1/n)^n ≈ 0.368.
    """
    n = integer("n", n, minimum=1)
    k = integer("k", k, minimum=1)
    return generator(rng).integers(0, n, size=(k, n))


def bagging(
    fit: Callable[[np.ndarray, np.ndarray], Any], X, y, *, k: int, rng: np.random.Generator
) -> list[Any]:
    """Bootstrap aggregating: k models, each fitted to its own resampled data set.

    Model i is ``fit(X[s_i], y[s_i])`` with s = bagging_samples(len(X), k, rng), drawn first
    and in one call, so that a target using the same generator draws the same data sets.
    ``fit`` returns anything, typically a predictor; the ensemble predicts with the mean of
    its members' predictions (Breiman 1996; seeds 001, 004):

        models = bagging(fit, X, y, k=10, rng=rng)
        y_hat = model_averaging([predict(model, X_test) for model in models])

    X is (n, ...) and y is (n, ...): examples along axis 0.
    """
    if not callable(fit):
        raise TypeError(f"fit must be callable, got {type(fit).__name__}")
    X, y = as_array("X", X), as_array("y", y)
    if X.ndim == 0 or y.ndim == 0 or X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X and y must hold the same number of examples on axis 0, got X {X.shape}, y {y.shape}"
        )
    if X.shape[0] == 0:
        raise ValueError("X must hold at least one example, got an empty data set")
    samples = bagging_samples(X.shape[0], k, rng)  # (k, n)
    return [fit(X[s], y[s]) for s in samples]


# --- early stopping ---------------------------------------------------------------------


class EarlyStoppingState(NamedTuple):
    """Early stopping after ``epoch`` epochs (numbered from 1; 0 = none yet).

    best_loss    lowest validation loss so far (inf before the first epoch)
    best_epoch   the epoch that reached it (0 before the first epoch)
    best_params  a copy of the parameters at best_epoch ("keep the best weights")
    epoch        epochs seen so far
    wait         epochs since the last improvement
    stopped      True once wait reached patience
    patience     epochs without improvement that are tolerated
    """

    best_loss: float
    best_epoch: int
    best_params: Any
    epoch: int
    wait: int
    stopped: bool
    patience: int


def early_stopping_init(patience: int = 10) -> EarlyStoppingState:
    """The state before the first epoch; patience = 10 as in seed 001."""
    patience = integer("patience", patience, minimum=1)
    return EarlyStoppingState(
        best_loss=np.inf,
        best_epoch=0,
        best_params=None,
        epoch=0,
        wait=0,
        stopped=False,
        patience=patience,
    )


def early_stopping_update(
    state: EarlyStoppingState, val_loss: float, params: Any = None
) -> EarlyStoppingState:
    """Record one epoch's validation loss (seed 001; Goodfellow et al. Alg. 7.1):

        improved  (val_loss < best_loss):  best ← (val_loss, epoch, copy of params); wait ← 0
        otherwise:                         wait ← wait + 1;  stopped ← wait ≥ patience

    Only a strict decrease counts as an improvement; a NaN loss (diverged training) never
    does. Once stopped, the state is returned unchanged. ``params`` is deep-copied, so that
    later in-place updates of the weights cannot overwrite the kept best ones.

    Warning: Keras's ``EarlyStopping`` numbers epochs from 0 and by default restores the
    last weights, not the best (``restore_best_weights=False``).
    """
    if not isinstance(state, EarlyStoppingState):
        raise TypeError(
            f"state must be an EarlyStoppingState (see early_stopping_init), "
            f"got {type(state).__name__}"
        )
    if isinstance(val_loss, bool) or not isinstance(val_loss, numbers.Real):
        raise TypeError(f"val_loss must be a real number, got {val_loss!r}")
    if state.stopped:
        return state
    epoch = state.epoch + 1
    if val_loss < state.best_loss:  # False for NaN
        return state._replace(
            best_loss=float(val_loss),
            best_epoch=epoch,
            best_params=copy.deepcopy(params),
            epoch=epoch,
            wait=0,
        )
    wait = state.wait + 1
    return state._replace(epoch=epoch, wait=wait, stopped=wait >= state.patience)


def early_stopping(val_losses: Sequence[float], *, patience: int = 10) -> tuple[int, int]:
    """(stop_epoch, best_epoch) for a whole sequence of validation losses, epochs from 1.

    stop_epoch is the epoch after which training stops (len(val_losses) if patience never
    runs out); best_epoch is the epoch of the weights to keep, i.e. val_losses[best_epoch − 1]
    is the lowest loss seen up to stop_epoch.
    """
    losses = as_array("val_losses", val_losses, ndim=1)
    if losses.size == 0:
        raise ValueError("val_losses must hold at least one epoch, got an empty sequence")
    state = early_stopping_init(patience)
    for loss in losses:
        state = early_stopping_update(state, float(loss))
        if state.stopped:
            break
    return state.epoch, state.best_epoch
