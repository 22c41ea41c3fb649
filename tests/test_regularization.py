"""Regularisation and ensembles of the reference against ground truth that does not come from
it: exact expectations over every dropout mask enumerated with its probability, hand-computed
numbers, the quadratic form 1ᵀΣ1/k² written out with numpy, Monte Carlo with correlated normal
errors (tolerance from the variance of a sample mean), binomial tolerances for sampling rates,
and central finite differences for the dropout backward."""

import itertools

import numpy as np
import pytest

from nnconform.reference import regularization as reg
from tests.gradcheck import assert_backward_matches_fd


def binomial_tolerance(q: float, draws: int, sigmas: float = 5.0) -> float:
    """sigmas standard errors of a frequency with success probability q over `draws` trials."""
    return sigmas * np.sqrt(q * (1 - q) / draws)


# --- dropout ----------------------------------------------------------------------------


def test_dropout_mask_keeps_each_unit_with_probability_p(rng):
    p = 0.8
    mask = reg.dropout_mask((400, 500), p=p, rng=rng)
    assert mask.shape == (400, 500) and mask.dtype == np.float64
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert abs(mask.mean() - p) < binomial_tolerance(p, mask.size)


def test_dropout_mask_with_p_one_keeps_every_unit(rng):
    assert np.all(reg.dropout_mask(1000, p=1.0, rng=rng) == 1.0)


def all_masks_with_probabilities(n: int, p: float):
    """Every 0/1 mask of n units with its probability Π p^r (1 − p)^(1 − r)."""
    for bits in itertools.product((0.0, 1.0), repeat=n):
        r = np.array(bits)
        yield r, float(np.prod(np.where(r == 1.0, p, 1.0 - p)))


@pytest.mark.parametrize("p", [0.3, 0.5, 0.8, 1.0])
@pytest.mark.parametrize("variant", ["standard", "inverted"])
def test_the_expected_training_output_equals_the_test_output_exactly(p, variant, rng):
    x = rng.standard_normal(5)
    masks = list(all_masks_with_probabilities(x.size, p))
    assert sum(w for _, w in masks) == pytest.approx(1.0, abs=1e-15)
    expectation = sum(w * reg.dropout(x, r, p=p, variant=variant) for r, w in masks)
    test_output = reg.dropout(x, None, p=p, training=False, variant=variant)
    np.testing.assert_allclose(expectation, test_output, rtol=1e-14, atol=1e-15)
    # by hand: standard scales by p at test time, inverted leaves x alone
    np.testing.assert_allclose(test_output, p * x if variant == "standard" else x, rtol=1e-15)


def test_standard_dropout_multiplies_by_the_mask_in_training_and_by_p_at_test():
    x = np.array([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]])
    r = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    np.testing.assert_array_equal(reg.dropout(x, r, p=0.5), [[1.0, 0.0, 3.0], [0.0, 5.0, -6.0]])
    np.testing.assert_array_equal(
        reg.dropout(x, r, p=0.5, training=False), [[0.5, -1.0, 1.5], [2.0, 2.5, -3.0]]
    )


def test_inverted_dropout_divides_by_p_in_training_and_is_the_identity_at_test():
    x = np.array([1.0, -2.0, 3.0, 4.0])
    r = np.array([1.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(
        reg.dropout(x, r, p=0.25, variant="inverted"), [4.0, 0.0, 0.0, 16.0]
    )
    np.testing.assert_array_equal(reg.dropout(x, r, p=0.25, training=False, variant="inverted"), x)


def test_scaling_outputs_by_p_at_test_equals_scaling_the_next_weights_by_p(rng):
    """Srivastava et al. scale the outgoing weights by p; the reference scales the outputs."""
    y, W = rng.standard_normal(6), rng.standard_normal((3, 6))
    np.testing.assert_allclose(
        W @ reg.dropout(y, None, p=0.7, training=False), (0.7 * W) @ y, rtol=1e-14
    )


def test_dropout_does_not_modify_its_inputs(rng):
    x, r = rng.standard_normal(8), reg.dropout_mask(8, p=0.5, rng=rng)
    x0, r0 = x.copy(), r.copy()
    reg.dropout(x, r, p=0.5, variant="inverted")
    reg.dropout_backward(x, r, np.ones(8), p=0.5, variant="inverted")
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(r, r0)


@pytest.mark.parametrize("variant", ["standard", "inverted"])
@pytest.mark.parametrize("training", [True, False])
def test_dropout_backward_matches_finite_differences(variant, training, rng):
    x = rng.standard_normal((4, 5))
    mask = reg.dropout_mask(x.shape, p=0.6, rng=rng)
    kw = dict(p=0.6, training=training, variant=variant)
    assert_backward_matches_fd(
        lambda x: reg.dropout(x, mask, **kw),
        lambda x, dy: reg.dropout_backward(x, mask, dy, **kw),
        [x],
        rng=rng,
    )


def test_dropped_units_get_no_gradient():
    r = np.array([1.0, 0.0, 1.0])
    dx = reg.dropout_backward(np.ones(3), r, np.full(3, 7.0), p=0.5, variant="inverted")
    np.testing.assert_array_equal(dx, [14.0, 0.0, 14.0])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(p=0.0), ValueError, r"p must be in \(0, 1\], got 0"),
        (dict(p=1.5), ValueError, r"p must be in \(0, 1\], got 1.5"),
        (dict(p=float("nan")), ValueError, "p must be finite, got nan"),
        (dict(p="0.5"), TypeError, "p must be a real number"),
        (dict(variant="alpha"), ValueError, "variant must be one of 'standard', 'inverted'"),
        (dict(training="yes"), TypeError, "training must be True or False, got 'yes'"),
        (dict(mask=np.ones(4)), ValueError, r"shapes must match, got x \(3,\), mask \(4,\)"),
        (dict(mask=np.array([1.0, 0.5, 0.0])), ValueError, "mask must hold only 0 and 1"),
        (dict(mask=None), ValueError, "mask is required in training mode, got None"),
    ],
)
def test_dropout_rejects_bad_arguments(kwargs, error, match):
    args = dict(x=np.ones(3), mask=np.ones(3), p=0.5) | kwargs
    with pytest.raises(error, match=match):
        reg.dropout(**args)
    with pytest.raises(error, match=match):
        reg.dropout_backward(dy=np.ones(3), **args)


def test_dropout_backward_rejects_a_dy_of_another_shape():
    with pytest.raises(ValueError, match=r"shapes must match, got x \(3,\), dy \(2,\)"):
        reg.dropout_backward(np.ones(3), np.ones(3), np.ones(2), p=0.5)


def test_dropout_mask_rejects_a_bad_p_and_a_missing_generator():
    with pytest.raises(ValueError, match=r"p must be in \(0, 1\], got 0"):
        reg.dropout_mask(3, p=0, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator .*got int"):
        reg.dropout_mask(3, p=0.5, rng=0)


# --- model averaging --------------------------------------------------------------------


def test_model_averaging_is_the_mean_over_models():
    predictions = [[1.0, 2.0], [3.0, 4.0], [5.0, 9.0]]  # 3 models, 2 examples
    np.testing.assert_array_equal(reg.model_averaging(predictions), [3.0, 5.0])


def test_ensemble_squared_error_by_hand():
    errors = [[1.0, -1.0, 0.0], [3.0, 1.0, 4.0]]  # 2 models, 3 samples: means 2, 0, 2
    assert reg.ensemble_squared_error(errors) == pytest.approx((4.0 + 0.0 + 4.0) / 3, rel=1e-15)


def equicorrelated(v: float, c: float, k: int) -> np.ndarray:
    """Σ with v on the diagonal and c off it."""
    return np.full((k, k), c) + (v - c) * np.eye(k)


@pytest.mark.parametrize("k", [1, 2, 3, 5, 10])
@pytest.mark.parametrize("rho", [-0.1, 0.0, 0.3, 1.0])
def test_the_ensemble_law_equals_the_quadratic_form_of_the_covariance(k, rho):
    v = 2.5
    c = max(rho * v, -v / max(k - 1, 1))  # keep Σ a covariance
    sigma = equicorrelated(v, c, k)
    assert np.linalg.eigvalsh(sigma).min() >= -1e-12
    ones = np.ones(k)
    exact = ones @ sigma @ ones / k**2
    assert reg.ensemble_error_law(v, c, k) == pytest.approx(exact, rel=1e-14, abs=1e-15)
    assert reg.ensemble_error_from_covariance(sigma) == pytest.approx(exact, rel=1e-14, abs=1e-15)


def test_correlated_errors_gain_nothing_and_uncorrelated_errors_divide_by_k():
    assert reg.ensemble_error_law(3.0, 3.0, 7) == pytest.approx(3.0, rel=1e-15)
    assert reg.ensemble_error_law(3.0, 0.0, 7) == pytest.approx(3.0 / 7, rel=1e-15)


def test_the_ensemble_law_matches_monte_carlo_with_correlated_normal_errors():
    """The averaged error is N(0, s²) with s² the law's value; the sample mean of its square
    has standard error √(2s⁴/n), and 5 of them are allowed."""
    rng = np.random.default_rng(7)
    v, c, k, n = 2.0, 0.5, 5, 200_000
    errors = rng.multivariate_normal(np.zeros(k), equicorrelated(v, c, k), size=n).T  # (k, n)
    law = reg.ensemble_error_law(v, c, k)
    assert law == pytest.approx(0.8, rel=1e-15)  # 2/5 + 4·0.5/5, by hand
    assert abs(reg.ensemble_squared_error(errors) - law) < 5 * np.sqrt(2 * law**2 / n)


def test_ensemble_functions_reject_bad_arguments():
    with pytest.raises(ValueError, match="v must be non-negative, got -1"):
        reg.ensemble_error_law(-1.0, 0.0, 3)
    with pytest.raises(ValueError, match=r"c must be in \[-v/\(k-1\), v\] = \[-0.5, 1\]"):
        reg.ensemble_error_law(1.0, 1.5, 3)
    with pytest.raises(ValueError, match=r"c must be in .* got -0.6"):
        reg.ensemble_error_law(1.0, -0.6, 3)
    with pytest.raises(ValueError, match="c must be finite, got inf"):
        reg.ensemble_error_law(1.0, np.inf, 3)
    with pytest.raises(ValueError, match="k must be at least 1, got 0"):
        reg.ensemble_error_law(1.0, 0.0, 0)
    with pytest.raises(TypeError, match=r"k must be an integer, got 2\.5"):
        reg.ensemble_error_law(1.0, 0.0, 2.5)
    with pytest.raises(ValueError, match=r"cov must be a non-empty square .* shape \(2, 3\)"):
        reg.ensemble_error_from_covariance(np.ones((2, 3)))
    with pytest.raises(ValueError, match="cov must be symmetric"):
        reg.ensemble_error_from_covariance([[1.0, 0.2], [0.1, 1.0]])
    with pytest.raises(ValueError, match=r"errors must have 2 dimensions, got shape \(3,\)"):
        reg.ensemble_squared_error(np.ones(3))
    with pytest.raises(ValueError, match=r"errors must hold at least one model .* \(0, 4\)"):
        reg.ensemble_squared_error(np.ones((0, 4)))
    with pytest.raises(ValueError, match=r"predictions must stack at least one model"):
        reg.model_averaging(np.ones((0, 2)))


# --- bagging ----------------------------------------------------------------------------


def test_bagging_samples_draw_with_replacement_uniformly():
    """Each row misses a given index with probability (1 − 1/n)^n, and holds it on average
    once: both are properties of n uniform draws WITH replacement."""
    rng = np.random.default_rng(3)
    n, k = 10, 20_000
    samples = reg.bagging_samples(n, k, rng)
    assert samples.shape == (k, n) and np.issubdtype(samples.dtype, np.integer)
    assert samples.min() >= 0 and samples.max() < n
    q = (1 - 1 / n) ** n
    missing = np.mean([0 not in row for row in samples])
    assert abs(missing - q) < binomial_tolerance(q, k)
    counts = (samples == 0).sum(axis=1)  # Binomial(n, 1/n): mean 1, variance 1 − 1/n
    assert abs(counts.mean() - 1.0) < 5 * np.sqrt((1 - 1 / n) / k)


def test_bagging_fits_one_model_per_resampled_data_set_keeping_pairs_together(rng):
    X = np.arange(12.0).reshape(6, 2)  # (n, features)
    y = X.sum(axis=1) ** 2
    models = reg.bagging(lambda Xb, yb: (Xb, yb), X, y, k=4, rng=np.random.default_rng(1))
    assert len(models) == 4
    for Xb, yb in models:
        assert Xb.shape == X.shape and yb.shape == y.shape
        np.testing.assert_array_equal(yb, Xb.sum(axis=1) ** 2)  # (x, y) pairs stay together
        assert all(any(np.array_equal(row, r) for r in X) for row in Xb)
    # the data sets are those of bagging_samples drawn from the same generator first
    samples = reg.bagging_samples(6, 4, np.random.default_rng(1))
    for (Xb, _), s in zip(models, samples, strict=True):
        np.testing.assert_array_equal(Xb, X[s])


def test_bagged_means_average_into_the_mean_of_the_resampled_means():
    X, y = np.zeros((5, 1)), np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    members = reg.bagging(lambda Xb, yb: yb.mean(), X, y, k=3, rng=np.random.default_rng(2))
    samples = reg.bagging_samples(5, 3, np.random.default_rng(2))
    by_hand = sum(y[s].sum() / 5 for s in samples) / 3
    assert reg.model_averaging(members) == pytest.approx(by_hand, rel=1e-15)


def test_bagging_rejects_bad_arguments(rng):
    def fit(Xb, yb):
        return None

    with pytest.raises(TypeError, match="fit must be callable, got int"):
        reg.bagging(3, np.ones((3, 1)), np.ones(3), k=2, rng=rng)
    with pytest.raises(ValueError, match=r"same number of examples .* X \(3, 1\), y \(4,\)"):
        reg.bagging(fit, np.ones((3, 1)), np.ones(4), k=2, rng=rng)
    with pytest.raises(ValueError, match="X must hold at least one example"):
        reg.bagging(fit, np.ones((0, 1)), np.ones(0), k=2, rng=rng)
    with pytest.raises(ValueError, match="k must be at least 1, got 0"):
        reg.bagging(fit, np.ones((3, 1)), np.ones(3), k=0, rng=rng)
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        reg.bagging(fit, np.ones((3, 1)), np.ones(3), k=2, rng=None)
    with pytest.raises(ValueError, match="n must be at least 1, got 0"):
        reg.bagging_samples(0, 2, rng)


# --- early stopping ---------------------------------------------------------------------


def test_early_stopping_on_a_hand_sequence():
    # epoch:     1    2    3    4    5    6    7    8
    losses = [5.0, 4.0, 3.0, 3.5, 3.2, 3.1, 2.0, 1.0]
    # best 3.0 at epoch 3; epochs 4, 5, 6 do not improve: with patience 3, stop after epoch 6
    assert reg.early_stopping(losses, patience=3) == (6, 3)
    # with patience 4 epoch 7 improves in time, and the sequence runs out at epoch 8
    assert reg.early_stopping(losses, patience=4) == (8, 8)


def test_early_stopping_waits_ten_epochs_by_default():
    losses = [1.0] + [2.0] * 15
    assert reg.early_stopping(losses) == (11, 1)


def test_an_equal_or_nan_loss_is_not_an_improvement():
    assert reg.early_stopping([1.0, 1.0, 1.0], patience=2) == (3, 1)
    assert reg.early_stopping([1.0, np.nan, np.nan], patience=2) == (3, 1)


def test_early_stopping_keeps_a_copy_of_the_best_parameters():
    state = reg.early_stopping_init(patience=2)
    assert state == (np.inf, 0, None, 0, 0, False, 2)
    params = {"W": np.array([1.0, 2.0])}
    for epoch, loss in enumerate([3.0, 1.0, 2.0, 4.0, 0.5], start=1):
        params["W"] += 1.0  # training changes the weights in place
        state = reg.early_stopping_update(state, loss, params)
        if epoch == 2:
            assert not state.stopped and state.best_epoch == 2
    # stopped after epoch 4 (2 epochs without improvement); epoch 5 is ignored
    assert state.stopped and state.epoch == 4 and state.wait == 2
    assert state.best_loss == 1.0 and state.best_epoch == 2
    np.testing.assert_array_equal(state.best_params["W"], [3.0, 4.0])  # weights of epoch 2


def test_early_stopping_rejects_bad_arguments():
    with pytest.raises(ValueError, match="patience must be at least 1, got 0"):
        reg.early_stopping_init(0)
    with pytest.raises(TypeError, match=r"patience must be an integer, got 2\.5"):
        reg.early_stopping([1.0], patience=2.5)
    with pytest.raises(ValueError, match="val_losses must hold at least one epoch"):
        reg.early_stopping([], patience=2)
    with pytest.raises(TypeError, match=r"state must be an EarlyStoppingState .*got tuple"):
        reg.early_stopping_update((np.inf, 0, None, 0, 0, False, 2), 1.0)
    with pytest.raises(TypeError, match=r"val_loss must be a real number, got '1\.0'"):
        reg.early_stopping_update(reg.early_stopping_init(), "1.0")
