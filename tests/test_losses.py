"""The losses and penalties of the reference against ground truth that does not come from it:
numbers worked out by hand, scipy.special (xlogy, log_expit, log_softmax, logsumexp),
scipy.spatial.distance, numpy.linalg (QR, SVD), explicit loops over the estimators' sums, an
explicit finite feature map of the Gaussian kernel, and central finite differences for every
backward."""

import math
import warnings

import numpy as np
import pytest
from scipy import special
from scipy.spatial.distance import cdist

from nnconform.reference import losses
from tests.gradcheck import assert_backward_matches_fd


def away_from_ties(y_hat: np.ndarray, y: np.ndarray, margin: float = 1e-2) -> np.ndarray:
    """Move ŷ out of the kink of |ŷ − y| so that central differences never straddle it."""
    d = y_hat - y
    return np.where(np.abs(d) < margin, y + np.where(d >= 0, 2, -2) * margin, y_hat)


# --- mean squared error and L1 -----------------------------------------------------------

Y_HAT, Y = np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.0, 1.0])  # residuals 1, 2, 2: Σr² = 9


@pytest.mark.parametrize(("variant", "value"), [("half", 9 / 6), ("mean", 9 / 3), ("sum", 9.0)])
def test_mse_variants_equal_hand_computed_values(variant, value):
    assert losses.mse(Y_HAT, Y, variant=variant) == pytest.approx(value, rel=1e-15)


def test_mse_default_is_half_with_gradient_residual_over_n():
    assert losses.mse(Y_HAT, Y) == 1.5
    np.testing.assert_allclose(losses.mse_backward(Y_HAT, Y), [1 / 3, 2 / 3, 2 / 3], rtol=1e-15)
    np.testing.assert_allclose(
        losses.mse_backward(Y_HAT, Y, 0.5, variant="sum"), [1.0, 2.0, 2.0], rtol=1e-15
    )


def test_l1_equals_hand_computed_values_and_its_subgradient_is_zero_at_a_tie():
    y_hat, y = np.array([[1.0, -2.0], [0.5, 4.0]]), np.array([[0.0, 0.0], [0.0, 4.0]])
    assert losses.l1(y_hat, y, reduction="sum") == 3.5
    assert losses.l1(y_hat, y) == pytest.approx(3.5 / 4, rel=1e-15)
    np.testing.assert_array_equal(losses.l1_backward(y_hat, y, reduction="sum"), [[1, -1], [1, 0]])
    np.testing.assert_array_equal(losses.l1_backward(y_hat, y), [[0.25, -0.25], [0.25, 0.0]])


def test_mse_half_per_example_is_the_mean_over_rows_of_half_the_squared_row_norms():
    # seed 004: L(x, y) = ½‖x − y‖² per example, J = (1/m) Σ L; rows [1, 2, 2] and [0, 3, 4]
    y_hat, y = (
        np.array([[1.0, 2.0, 3.0], [1.0, 4.0, 5.0]]),
        np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 1.0]]),
    )
    assert losses.mse(y_hat, y, variant="half_per_example") == pytest.approx((9 / 2 + 25 / 2) / 2)
    # its gradient (ŷ − y)/m, m = 2 rows (not the n = 6 elements of half)
    np.testing.assert_allclose(
        losses.mse_backward(y_hat, y, 2.0, variant="half_per_example"), 2.0 * (y_hat - y) / 2
    )
    # a 1-D ŷ is m = n examples of one value: half_per_example is then half
    assert losses.mse(Y_HAT, Y, variant="half_per_example") == losses.mse(Y_HAT, Y, variant="half")


# The unreduced terms (the reduction policy), per element by hand: residuals 1, 2, 2.
@pytest.mark.parametrize(
    ("variant", "terms"),
    [("half", [0.5, 2, 2]), ("half_per_example", [0.5, 2, 2]), ("mean", [1, 4, 4]),
     ("sum", [1, 4, 4])],
)  # fmt: skip
def test_mse_unreduced_terms_are_half_or_whole_squared_residuals(variant, terms):
    np.testing.assert_array_equal(losses.mse(Y_HAT, Y, variant=variant, reduction="none"), terms)
    # dy (one per term) times each term's derivative, r or 2r: no 1/n
    dy = np.array([1.0, -0.5, 2.0])
    slope = np.array([1.0, 2.0, 2.0]) * (1 if variant.startswith("half") else 2)
    np.testing.assert_array_equal(
        losses.mse_backward(Y_HAT, Y, dy, variant=variant, reduction="none"), dy * slope
    )


def test_unreduced_l1_cross_entropy_and_bce_terms_equal_hand_and_scipy_values(rng):
    y_hat, y = np.array([[1.0, -2.0], [0.5, 4.0]]), np.array([[0.0, 0.0], [0.0, 4.0]])
    np.testing.assert_array_equal(losses.l1(y_hat, y, reduction="none"), [[1, 2], [0.5, 0]])
    np.testing.assert_array_equal(
        losses.l1_backward(y_hat, y, np.full((2, 2), 3.0), reduction="none"), [[3, -3], [3, 0]]
    )
    z, labels = rng.normal(size=(4, 3)), np.array([0, 2, 1, 2])
    np.testing.assert_allclose(
        losses.cross_entropy(z, labels, reduction="none"),
        -special.log_softmax(z, axis=1)[np.arange(4), labels],
        rtol=1e-14,
    )  # one term per row (N,)
    p, t = rng.uniform(0.01, 0.99, size=(2, 3)), rng.uniform(size=(2, 3))
    np.testing.assert_allclose(
        losses.binary_cross_entropy(p, t, reduction="none"),
        -(special.xlogy(t, p) + special.xlogy(1 - t, 1 - p)),
        rtol=1e-14,
    )
    t = rng.uniform(size=(4, 3))
    np.testing.assert_allclose(
        losses.binary_cross_entropy_with_logits(z, t, reduction="none"),
        -t * special.log_expit(z) - (1 - t) * special.log_expit(-z),
        rtol=1e-12,
    )


@pytest.mark.parametrize(
    "forward", ["mse", "l1", "binary_cross_entropy", "binary_cross_entropy_with_logits",
                "cross_entropy"],
)  # fmt: skip
def test_the_mean_of_the_unreduced_terms_is_the_loss(forward, rng):
    # the default variant's reduction of its terms gives the reduced loss (the policy)
    if forward == "cross_entropy":
        a, b = rng.normal(size=(5, 3)), rng.integers(0, 3, size=5)
    elif forward == "binary_cross_entropy":
        a, b = rng.uniform(0.01, 0.99, size=(2, 3)), rng.uniform(size=(2, 3))
    else:
        a, b = rng.normal(size=(2, 3)), rng.uniform(size=(2, 3))
    f = getattr(losses, forward)
    assert np.mean(f(a, b, reduction="none")) == pytest.approx(f(a, b), rel=1e-14)


# --- binary cross-entropy ----------------------------------------------------------------


def test_binary_cross_entropy_equals_scipy_xlogy_with_soft_and_hard_targets(rng):
    p = rng.uniform(0.01, 0.99, size=(6, 5))
    y = np.concatenate([rng.uniform(size=(3, 5)), rng.integers(0, 2, size=(3, 5))])
    expected = -np.mean(special.xlogy(y, p) + special.xlogy(1 - y, 1 - p))
    assert losses.binary_cross_entropy(p, y) == pytest.approx(expected, rel=1e-14)
    assert losses.binary_cross_entropy([0.5], [1.0]) == pytest.approx(math.log(2), rel=1e-15)


def test_clipped_binary_cross_entropy_clips_probabilities_to_1e_7_as_keras_does():
    c = 1e-7
    # p = 0 with y = 0 costs −log(1 − c) ≈ c, not 0; p = 0 with y = 1 costs −log c, not inf;
    # p = 0.3 is inside [c, 1 − c] and costs what the unclipped loss does
    p, y = np.array([0.0, 0.0, 1.0, 0.3]), np.array([0.0, 1.0, 0.0, 1.0])
    # (1 − c is rounded: 1 − (1 − c) = 1e-7 (1 + 5e-10), exact by Sterbenz's lemma)
    terms = [-math.log1p(-c), -math.log(c), -math.log(1 - (1 - c)), -math.log(0.3)]
    np.testing.assert_allclose(
        losses.binary_cross_entropy(p, y, variant="clipped", reduction="none"), terms, rtol=1e-12
    )
    assert losses.binary_cross_entropy(p, y, variant="clipped") == pytest.approx(np.mean(terms))
    # the gradient: 0 where p lies outside [c, 1 − c] (the clip is flat), the bounds included
    # in the inside; (p − y)/(p(1 − p)) per element elsewhere
    p, y = np.array([0.0, 5e-8, c, 0.3, 1 - 5e-8]), np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    dy = np.array([1.0, 1.0, 2.0, -1.0, 1.0])
    np.testing.assert_allclose(
        losses.binary_cross_entropy_backward(p, y, dy, variant="clipped", reduction="none"),
        [0.0, 0.0, 2.0 * (c - 1) / (c * (1 - c)), -(0.3 - 1) / (0.3 * 0.7), 0.0],
        rtol=1e-12,
    )


def test_clipped_binary_cross_entropy_clips_float32_probabilities_at_float32_bounds():
    # Keras clips a float32 p at float32(1e-7) and float32(1 − 1e-7) = 1 − 2⁻²³: p = 1 and the
    # float32 just below it (1 − 2⁻²⁴) both become 1 − 2⁻²³, costing −log(2⁻²³) = 23·ln 2
    # with y = 0; 1 − 2⁻²³ itself is inside. A float64 p = 1 is clipped at 1 − 1e-7.
    c32 = 1.0000000116860974e-07  # float32(1e-7), the float32 nearest 1e-7
    p = np.array([1.0, 1 - 2**-24, 1 - 2**-23, c32], dtype=np.float32)
    y = np.zeros(4, dtype=np.float32)
    terms = [23 * math.log(2)] * 3 + [-math.log1p(-c32)]
    out = losses.binary_cross_entropy(p, y, variant="clipped", reduction="none")
    np.testing.assert_allclose(out, terms, rtol=1e-12)
    out = losses.binary_cross_entropy(p[:1].astype(np.float64), y[:1], variant="clipped")
    assert out == pytest.approx(-math.log(1e-7), rel=1e-8)
    # the gradient (y = 0): 0 beyond the upper bound (p = 1, 1 − 2⁻²⁴), 1/(1 − p) at either
    # bound (included, as torch.clip's gradient takes them)
    dy = np.ones(4, dtype=np.float32)
    dp = losses.binary_cross_entropy_backward(p, y, dy, variant="clipped", reduction="none")
    np.testing.assert_allclose(dp, [0.0, 0.0, 2.0**23, 1 / (1 - c32)], rtol=1e-12)


def test_binary_cross_entropy_accepts_certain_probabilities_that_agree_with_the_label():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no divide-by-zero or invalid-value warnings
        assert losses.binary_cross_entropy([0.0, 1.0], [0.0, 1.0]) == 0.0
        assert losses.binary_cross_entropy([0.0, 0.5], [1.0, 1.0]) == math.inf
        assert losses.binary_cross_entropy([1.0], [0.25]) == math.inf


Z_EXTREME = np.array([1e4, -1e4, 1e4, -1e4, 30.0, -745.0])
Y_EXTREME = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0])
# Hand closed forms: ζ(1e4) = 1e4 (e^-1e4 underflows), ζ(-1e4) = 0, ζ(-30) = log1p(e^-30).
LOSS_EXTREME = np.array([1e4, 1e4, 0.0, 0.0, math.log1p(math.exp(-30.0)), 0.0])


def test_binary_cross_entropy_with_logits_is_exact_and_finite_at_logits_of_1e4():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow in exp would raise here
        for z, y, loss in zip(Z_EXTREME, Y_EXTREME, LOSS_EXTREME, strict=True):
            assert losses.binary_cross_entropy_with_logits([z], [y]) == pytest.approx(
                loss, rel=1e-15
            )
        value = losses.binary_cross_entropy_with_logits(Z_EXTREME, Y_EXTREME)
        grad = losses.binary_cross_entropy_with_logits_backward(Z_EXTREME, Y_EXTREME)
    assert value == pytest.approx(LOSS_EXTREME.mean(), rel=1e-15)
    # (σ(z) − y)/N: σ(±1e4) is exactly 1 or 0 in float64.
    np.testing.assert_allclose(
        grad, np.array([1.0, -1.0, 0.0, 0.0, special.expit(30.0) - 1, 0.0]) / 6, atol=1e-300
    )


def test_binary_cross_entropy_with_logits_is_exact_at_every_finite_logit():
    # ζ(z) − yz by hand at |z| far past exp's overflow: z(1 − y) for z > 0, −yz for z < 0,
    # each plus log(1 + e^−|z|)
    z = np.array([1e300, 1e300, -1e300, -1e300, 710.0, -710.0])
    y = np.array([0.0, 0.25, 1.0, 0.25, 1.0, 0.0])
    tail = math.log1p(math.exp(-710.0))  # e^−710, a subnormal: the label agrees, barely
    expected = np.array([1e300, 0.75e300, 1e300, 0.25e300, tail, tail])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        terms = [
            losses.binary_cross_entropy_with_logits([a], [b]) for a, b in zip(z, y, strict=True)
        ]
        grad = losses.binary_cross_entropy_with_logits_backward(z, y)
    np.testing.assert_allclose(terms, expected, rtol=1e-15, atol=0)
    sigma = np.array([1, 1, 0, 0, 1, math.exp(-710.0)])  # σ(z) by hand
    np.testing.assert_allclose(grad, (sigma - y) / 6, rtol=1e-15, atol=1e-320)  # subnormals


def test_the_subgradients_at_the_kinks_are_zero_for_plus_and_minus_zero():
    # sign(0) = 0 for ŷ − y = ±0.0 and W = ±0.0: never NaN, never ±1
    y_hat, y = np.array([0.0, -0.0, 2.0, 3.0]), np.array([0.0, 0.0, 2.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(losses.l1_backward(y_hat, y, -2.0, reduction="sum"),
                                      [0.0, 0.0, 0.0, -2.0])  # fmt: skip
        np.testing.assert_array_equal(
            losses.l1_penalty_backward(np.array([0.0, -0.0, -4.0]), 1.0, lam=0.5), [0, 0, -0.5]
        )


def test_cross_entropy_is_exact_at_logits_far_past_the_overflow_of_exp():
    z = np.array([[1e300, 0.0], [0.0, 1e300], [710.0, 0.0]])
    y = np.array([1, 1, 0])
    # −z_y + max + log(1 + e^(min − max)): 1e300, 0, log1p(e^−710)
    expected = (1e300 + 0.0 + math.log1p(math.exp(-710.0))) / 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = losses.cross_entropy(z, y)
        grad = losses.cross_entropy_backward(z, y)
    assert value == pytest.approx(expected, rel=1e-15)
    np.testing.assert_allclose(grad, [[1 / 3, -1 / 3], [0, 0], [0, 0]], atol=1e-300)


def test_binary_cross_entropy_with_logits_equals_scipy_and_the_softplus_form(rng):
    z = rng.normal(scale=20.0, size=40)
    y = rng.integers(0, 2, size=40).astype(float)
    softplus_form = np.mean(np.logaddexp(0.0, (1 - 2 * y) * z))  # catalogue: ζ((1 − 2y)z)
    assert losses.binary_cross_entropy_with_logits(z, y) == pytest.approx(softplus_form, rel=1e-14)
    soft = rng.uniform(size=40)
    scipy_form = -np.mean(soft * special.log_expit(z) + (1 - soft) * special.log_expit(-z))
    assert losses.binary_cross_entropy_with_logits(z, soft) == pytest.approx(scipy_form, rel=1e-13)
    moderate = rng.normal(size=40)
    assert losses.binary_cross_entropy_with_logits(moderate, soft) == pytest.approx(
        losses.binary_cross_entropy(special.expit(moderate), soft), rel=1e-13
    )


# --- cross-entropy -----------------------------------------------------------------------


def test_cross_entropy_equals_scipy_log_softmax_and_logsumexp(rng):
    z = rng.normal(scale=4.0, size=(8, 5))
    y = rng.integers(0, 5, size=8)
    rows = np.arange(8)
    expected = -np.mean(special.log_softmax(z, axis=1)[rows, y])
    assert losses.cross_entropy(z, y) == pytest.approx(expected, rel=1e-14)
    expected = np.mean(-z[rows, y] + special.logsumexp(z, axis=1))
    assert losses.cross_entropy(z, y) == pytest.approx(expected, rel=1e-14)
    assert losses.cross_entropy(np.zeros((3, 7)), [0, 3, 6]) == pytest.approx(
        math.log(7), rel=1e-15
    )


def test_cross_entropy_is_finite_at_logits_of_1e4():
    z = np.array([[1e4, -1e4, 0.0], [1e4, 1e4 - 2.0, -1e4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = losses.cross_entropy(z, [1, 1])
        grad = losses.cross_entropy_backward(z, [1, 1])
    # row 0: −(−1e4) + 1e4 = 2e4; row 1: 2 + log(1 + e^-2) (hand, via log-sum-exp)
    assert value == pytest.approx((2e4 + 2.0 + math.log1p(math.exp(-2.0))) / 2, rel=1e-15)
    assert np.all(np.isfinite(grad))


# --- penalties and the objective ---------------------------------------------------------

W_HAND = np.array([[1.0, -2.0], [0.0, 3.0]])  # Σ W² = 14, Σ |W| = 6


def test_penalties_equal_hand_computed_values():
    assert losses.l2_penalty(W_HAND, lam=0.5) == 7.0
    assert losses.l1_penalty(W_HAND, lam=0.5) == 3.0
    np.testing.assert_array_equal(losses.l2_penalty_backward(W_HAND, lam=0.5), W_HAND)
    np.testing.assert_array_equal(
        losses.l1_penalty_backward(W_HAND, lam=0.5), [[0.5, -0.5], [0, 0.5]]
    )


def test_objective_equals_hand_computed_values():
    per_example, weights = [1.0, 2.0, 3.0], [np.array([[1.0, 2.0]]), np.array([3.0])]
    assert losses.objective(per_example, weights, [0.5, 0.1]) == pytest.approx(
        2 + 0.5 * 5 + 0.1 * 9
    )
    assert losses.objective(per_example, weights, 0.5) == pytest.approx(2 + 0.5 * 14)
    assert losses.objective(per_example, [], []) == 2.0


def test_objective_sum_adds_the_losses_instead_of_averaging_them():
    # seed 001: the minibatch's losses summed; the penalty λ Σ W² = 0.5 · (1 + 4) unchanged
    W = [np.array([1.0, -2.0])]
    assert losses.objective([1.0, 2.0, 6.0], W, 0.5, variant="sum") == 9.0 + 2.5
    assert losses.objective([1.0, 2.0, 6.0], W, 0.5) == 3.0 + 2.5
    g = [np.array([[1.0, 0.0], [3.0, 4.0]])]  # two examples' gradients
    np.testing.assert_array_equal(
        losses.objective_gradient(g, W, 0.5, variant="sum")[0], [4.0 + 1.0, 4.0 - 2.0]
    )
    np.testing.assert_array_equal(losses.objective_gradient(g, W, 0.5)[0], [3.0, 0.0])


def test_objective_gradient_matches_central_differences_of_the_objective(rng):
    """A two-layer linear model ŷ_i = Σ W1 ⊙ A_i + w2·c_i with l_i = ½(ŷ_i − y_i)²: the
    per-example gradients are r_i A_i and r_i c_i (r_i = ŷ_i − y_i), by hand."""
    N = 6
    A, c, y = rng.normal(size=(N, 3, 4)), rng.normal(size=(N, 2)), rng.normal(size=N)
    lams = [0.3, 0.05]

    def residuals(W1, w2):
        return np.einsum("nij,ij->n", A, W1) + c @ w2 - y

    def forward(W1, w2):
        return losses.objective(0.5 * residuals(W1, w2) ** 2, [W1, w2], lams)

    def backward(W1, w2, dy):
        r = residuals(W1, w2)
        grads = losses.objective_gradient([r[:, None, None] * A, r[:, None] * c], [W1, w2], lams)
        return tuple(dy * g for g in grads)

    W1, w2 = rng.normal(size=(3, 4)), rng.normal(size=2)
    assert_backward_matches_fd(forward, backward, (W1, w2), wrt=(0, 1), rng=rng)


# --- maximum mean discrepancy -------------------------------------------------------------


def test_gaussian_kernel_equals_scipy_squared_distances(rng):
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    expected = np.exp(-cdist(X, Y, "sqeuclidean") / (2 * 0.7**2))
    np.testing.assert_allclose(losses.gaussian_kernel(X, Y, sigma=0.7), expected, rtol=1e-14)


def gaussian_features(X: np.ndarray, sigma: float, terms: int = 40) -> np.ndarray:
    """An explicit feature map of the Gaussian kernel, truncated: in one dimension
    exp(−(x−y)²/2σ²) = Σ_n φ_n(x) φ_n(y), φ_n(x) = e^{−x²/2σ²} (x/σ)^n / √n!, and in d
    dimensions the kernel is the product, so φ is the tensor product of the 1-D maps."""
    n = np.arange(terms)
    log_norm = 0.5 * special.gammaln(n + 1)  # log √n!
    per_axis = [
        np.exp(-(x[:, None] ** 2) / (2 * sigma**2)) * (x[:, None] / sigma) ** n / np.exp(log_norm)
        for x in X.T
    ]  # d arrays (M, terms)
    features = per_axis[0]
    for f in per_axis[1:]:
        features = (features[:, :, None] * f[:, None, :]).reshape(len(X), -1)
    return features  # (M, terms^d)


def test_biased_mmd_is_the_squared_distance_of_explicit_feature_means(rng):
    xs = rng.uniform(-1.5, 1.5, size=(7, 2))
    xt = rng.uniform(-1.0, 1.5, size=(9, 2)) + 0.3
    sigma = 1.2
    gap = gaussian_features(xs, sigma).mean(axis=0) - gaussian_features(xt, sigma).mean(axis=0)
    assert losses.mmd(xs, xt, sigma=sigma) == pytest.approx(np.sum(gap**2), rel=1e-10)


def explicit_mmd(xs, xt, sigma, estimator):
    """The estimators of Gretton et al. (2012), eqs. 3 and 5 and Lemma 14, as loops."""

    def k(a, b):
        return math.exp(-np.sum((a - b) ** 2) / (2 * sigma**2))

    M, N = len(xs), len(xt)
    if estimator == "linear":
        x, y = xs, xt
        total = sum(
            k(x[2 * i], x[2 * i + 1])
            + k(y[2 * i], y[2 * i + 1])
            - k(x[2 * i], y[2 * i + 1])
            - k(x[2 * i + 1], y[2 * i])
            for i in range(N // 2)
        )
        return total / (N // 2)
    keep = (lambda i, j: i != j) if estimator == "unbiased" else (lambda i, j: True)
    ss = sum(k(xs[i], xs[j]) for i in range(M) for j in range(M) if keep(i, j))
    tt = sum(k(xt[i], xt[j]) for i in range(N) for j in range(N) if keep(i, j))
    st = sum(k(xs[i], xt[j]) for i in range(M) for j in range(N))
    Mp, Np = (M - 1, N - 1) if estimator == "unbiased" else (M, N)
    return ss / (M * Mp) + tt / (N * Np) - 2 * st / (M * N)


@pytest.mark.parametrize(
    ("estimator", "M", "N"), [("biased", 5, 8), ("unbiased", 6, 4), ("linear", 7, 7)]
)
def test_mmd_equals_its_explicit_loop(estimator, M, N, rng):
    xs, xt = rng.normal(size=(M, 3)), rng.normal(size=(N, 3)) + 0.5
    assert losses.mmd(xs, xt, sigma=1.5, estimator=estimator) == pytest.approx(
        explicit_mmd(xs, xt, 1.5, estimator), rel=1e-12
    )


def test_biased_mmd_is_nonnegative(rng):
    for _ in range(200):
        xs, xt = rng.normal(size=(5, 2)), rng.normal(size=(4, 2))
        assert losses.mmd(xs, xt, sigma=rng.uniform(0.2, 3.0)) >= 0.0


@pytest.mark.parametrize("estimator", ["unbiased", "linear"])
def test_unbiased_estimators_have_mean_zero_when_the_samples_share_a_distribution(estimator, rng):
    """Over R independent draws the sample mean of an unbiased estimator lies within 4.5
    standard errors of 0 (a 1-in-150,000 event for a normal mean; fixed seed); the biased
    estimator, for contrast, stays far above 0."""
    R, n = 3000, 10
    unbiased, biased = np.empty(R), np.empty(R)
    for r in range(R):
        xs, xt = rng.normal(size=(n, 2)), rng.normal(size=(n, 2))
        unbiased[r] = losses.mmd(xs, xt, estimator=estimator)
        biased[r] = losses.mmd(xs, xt)
    standard_error = unbiased.std(ddof=1) / math.sqrt(R)
    assert abs(unbiased.mean()) < 4.5 * standard_error
    assert biased.mean() > 20 * biased.std(ddof=1) / math.sqrt(R)


# --- orthogonal penalty -----------------------------------------------------------------


def test_orthogonal_penalty_vanishes_on_orthonormal_columns_from_qr(rng):
    Q, _ = np.linalg.qr(rng.normal(size=(6, 4)))
    assert losses.orthogonal_penalty(Q) < 1e-28
    np.testing.assert_allclose(losses.orthogonal_penalty_backward(Q), 0.0, atol=1e-14)


def test_orthogonal_penalty_equals_its_singular_value_form_and_hand_values(rng):
    W = rng.normal(size=(5, 3))
    s = np.linalg.svd(W, compute_uv=False)  # WᵀW − I has eigenvalues s² − 1
    assert losses.orthogonal_penalty(W) == pytest.approx(np.sum((s**2 - 1) ** 2), rel=1e-12)
    assert losses.orthogonal_penalty(2 * np.eye(2)) == 18.0  # ‖3I‖_F² = 9 + 9
    np.testing.assert_array_equal(losses.orthogonal_penalty_backward(2 * np.eye(2)), 24 * np.eye(2))


# --- every backward against central finite differences -------------------------------------


@pytest.mark.parametrize("variant", ["half", "mean", "sum", "half_per_example"])
def test_mse_backward_matches_central_differences(variant, rng):
    y_hat, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    assert_backward_matches_fd(
        lambda a: losses.mse(a, y, variant=variant),
        lambda a, dy: losses.mse_backward(a, y, dy, variant=variant),
        (y_hat,),
        rng=rng,
    )


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_l1_backward_matches_central_differences(reduction, rng):
    y = rng.normal(size=(4, 3))
    y_hat = away_from_ties(rng.normal(size=(4, 3)), y)
    assert_backward_matches_fd(
        lambda a: losses.l1(a, y, reduction=reduction),
        lambda a, dy: losses.l1_backward(a, y, dy, reduction=reduction),
        (y_hat,),
        rng=rng,
    )


def test_binary_cross_entropy_backward_matches_central_differences(rng):
    p, y = rng.uniform(0.1, 0.9, size=(3, 4)), rng.uniform(size=(3, 4))
    assert_backward_matches_fd(
        lambda a: losses.binary_cross_entropy(a, y),
        lambda a, dy: losses.binary_cross_entropy_backward(a, y, dy),
        (p,),
        rng=rng,
    )


def test_binary_cross_entropy_with_logits_backward_matches_central_differences(rng):
    z, y = rng.normal(scale=3.0, size=(3, 4)), rng.uniform(size=(3, 4))
    assert_backward_matches_fd(
        lambda a: losses.binary_cross_entropy_with_logits(a, y),
        lambda a, dy: losses.binary_cross_entropy_with_logits_backward(a, y, dy),
        (z,),
        rng=rng,
    )


def test_cross_entropy_backward_matches_central_differences(rng):
    z, y = rng.normal(scale=2.0, size=(5, 4)), rng.integers(0, 4, size=5)
    assert_backward_matches_fd(
        lambda a: losses.cross_entropy(a, y),
        lambda a, dy: losses.cross_entropy_backward(a, y, dy),
        (z,),
        rng=rng,
    )


def test_clipped_binary_cross_entropy_backward_matches_central_differences(rng):
    # p inside the clip (outside it, within c = 1e-7 of 0 or 1, a step of h = 1e-5 would
    # leave [0, 1]: the hand-computed test above checks the gradient 0 there)
    p, y = rng.uniform(0.1, 0.9, size=6), rng.uniform(size=6)
    assert_backward_matches_fd(
        lambda a: losses.binary_cross_entropy(a, y, variant="clipped"),
        lambda a, dy: losses.binary_cross_entropy_backward(a, y, dy, variant="clipped"),
        (p,),
        rng=rng,
    )


def _unreduced_inputs(forward: str, rng):
    if forward == "cross_entropy":
        return rng.normal(size=(4, 3)), rng.integers(0, 3, size=4), (4,)
    if forward == "binary_cross_entropy":
        return rng.uniform(0.1, 0.9, size=(2, 3)), rng.uniform(size=(2, 3)), (2, 3)
    if forward == "binary_cross_entropy_with_logits":
        return rng.normal(scale=3.0, size=(2, 3)), rng.uniform(size=(2, 3)), (2, 3)
    y = rng.normal(size=(2, 3))
    return away_from_ties(rng.normal(size=(2, 3)), y), y, (2, 3)


@pytest.mark.parametrize(
    ("forward", "mode"),
    [("mse", {"variant": "half"}), ("mse", {"variant": "mean"}), ("l1", {}),
     ("binary_cross_entropy", {}), ("binary_cross_entropy", {"variant": "clipped"}),
     ("binary_cross_entropy_with_logits", {}), ("cross_entropy", {})],
)  # fmt: skip
def test_unreduced_backwards_are_the_vector_jacobian_products_of_the_terms(forward, mode, rng):
    # with w drawn once, Σ w·terms(a) is a scalar whose gradient is backward(a, dy·w): central
    # differences of it check the unreduced backward, dy of the terms' shape
    a, b, shape = _unreduced_inputs(forward, rng)
    w = rng.normal(size=shape)
    f, backward = getattr(losses, forward), getattr(losses, f"{forward}_backward")
    assert_backward_matches_fd(
        lambda x: float(np.sum(w * f(x, b, reduction="none", **mode))),
        lambda x, dy: backward(x, b, dy * w, reduction="none", **mode),
        (a,),
        rng=rng,
    )


@pytest.mark.parametrize("name", ["l2_penalty", "l1_penalty"])
def test_penalty_backward_matches_central_differences(name, rng):
    W = away_from_ties(rng.normal(size=(3, 4)), np.zeros((3, 4)))
    forward, backward = getattr(losses, name), getattr(losses, f"{name}_backward")
    assert_backward_matches_fd(
        lambda W: forward(W, lam=0.3), lambda W, dy: backward(W, dy, lam=0.3), (W,), rng=rng
    )


def test_orthogonal_penalty_backward_matches_central_differences(rng):
    W = rng.normal(size=(5, 3))
    assert_backward_matches_fd(
        losses.orthogonal_penalty, losses.orthogonal_penalty_backward, (W,), rng=rng
    )


@pytest.mark.parametrize(
    ("estimator", "M", "N"), [("biased", 5, 4), ("unbiased", 4, 6), ("linear", 5, 5)]
)
def test_mmd_backward_matches_central_differences(estimator, M, N, rng):
    xs, xt = rng.normal(size=(M, 2)), rng.normal(size=(N, 2)) + 0.4
    assert_backward_matches_fd(
        lambda a, b: losses.mmd(a, b, sigma=1.3, estimator=estimator),
        lambda a, b, dy: losses.mmd_backward(a, b, dy, sigma=1.3, estimator=estimator),
        (xs, xt),
        wrt=(0, 1),
        rng=rng,
    )


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: losses.mse(np.zeros(3), np.zeros(2)),
        lambda: losses.mse_backward(np.zeros(3), np.zeros((3, 1))),
        lambda: losses.l1(np.zeros(3), np.zeros(2)),
        lambda: losses.l1_backward(np.zeros(3), np.zeros(2)),
        lambda: losses.binary_cross_entropy(np.full(3, 0.5), np.zeros(2)),
        lambda: losses.binary_cross_entropy_backward(np.full(3, 0.5), np.zeros(2)),
        lambda: losses.binary_cross_entropy_with_logits(np.zeros(3), np.zeros(2)),
        lambda: losses.binary_cross_entropy_with_logits_backward(np.zeros(3), np.zeros(2)),
    ],
)
def test_mismatched_shapes_are_rejected(call):
    with pytest.raises(ValueError, match=r"shapes must match, got (y_hat|p|z) \(3,\), y \("):
        call()


def test_unknown_variants_are_rejected():
    with pytest.raises(
        ValueError, match=r"variant must be one of 'half', 'mean', 'sum', 'half_per_example', got"
    ):
        losses.mse([1.0], [0.0], variant="x")
    with pytest.raises(ValueError, match=r"variant must be one of .*, got 'mean2'"):
        losses.mse_backward([1.0], [0.0], variant="mean2")
    with pytest.raises(ValueError, match=r"reduction must be one of 'none', got 'mean'"):
        losses.mse([1.0], [0.0], reduction="mean")  # mse's reduction is its variant
    with pytest.raises(ValueError, match=r"reduction must be one of 'mean', 'sum', 'none', got"):
        losses.l1([1.0], [0.0], reduction="None")
    with pytest.raises(ValueError, match=r"reduction must be one of 'mean', 'none', got 'sum'"):
        losses.cross_entropy(np.zeros((1, 2)), np.zeros(1, dtype=int), reduction="sum")
    with pytest.raises(ValueError, match=r"reduction must be one of 'mean', 'none', got 'sum'"):
        losses.binary_cross_entropy_with_logits_backward([1.0], [0.0], reduction="sum")
    with pytest.raises(ValueError, match=r"variant must be one of 'unclipped', 'clipped', got"):
        losses.binary_cross_entropy([0.5], [0.0], variant="clip")
    with pytest.raises(ValueError, match=r"variant must be one of 'mean', 'sum', got 'total'"):
        losses.objective([1.0], [], 0.0, variant="total")
    with pytest.raises(ValueError, match=r"variant must be one of 'mean', 'sum', got 'total'"):
        losses.objective_gradient([np.zeros((1, 2))], [np.zeros(2)], 0.0, variant="total")
    with pytest.raises(
        ValueError, match=r"estimator must be one of 'biased', 'unbiased', 'linear'"
    ):
        losses.mmd(np.zeros((2, 1)), np.zeros((2, 1)), estimator="quadratic")


def test_empty_batches_and_non_scalar_upstream_gradients_are_rejected():
    with pytest.raises(ValueError, match=r"y_hat must not be empty, got shape \(0,\)"):
        losses.mse([], [])
    with pytest.raises(ValueError, match=r"z must not be empty, got shape \(0, 3\)"):
        losses.cross_entropy(np.zeros((0, 3)), np.zeros(0, dtype=int))
    with pytest.raises(ValueError, match=r"losses must not be empty"):
        losses.objective([], [], 0.1)
    with pytest.raises(ValueError, match=r"dy must have 0 dimensions, got shape \(3,\)"):
        losses.mse_backward(np.zeros(3), np.zeros(3), np.ones(3))
    # unreduced, dy is the terms' vector: never a scalar broadcast over them
    with pytest.raises(ValueError, match=r"dy must have the shape of the unreduced loss \(3,\)"):
        losses.mse_backward(np.zeros(3), np.zeros(3), 1.0, reduction="none")
    with pytest.raises(
        ValueError, match=r"unreduced loss \(2,\) \(reduction='none'\), got \(2, 3\)"
    ):
        losses.cross_entropy_backward(np.zeros((2, 3)), np.zeros(2, dtype=int), np.ones((2, 3)),
                                      reduction="none")  # fmt: skip


def test_probabilities_and_targets_outside_the_unit_interval_are_rejected():
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\], got an element 1.5"):
        losses.binary_cross_entropy([0.5, 1.5], [0.0, 1.0])
    with pytest.raises(ValueError, match=r"y must lie in \[0, 1\], got an element -1.0"):
        losses.binary_cross_entropy([0.5], [-1.0])
    with pytest.raises(ValueError, match=r"p must lie in the open interval \(0, 1\), got .* 0.0"):
        losses.binary_cross_entropy_backward([0.0, 0.5], [0.0, 1.0])
    with pytest.raises(ValueError, match=r"p must lie in the open interval \(0, 1\), got .* 1.0"):
        losses.binary_cross_entropy_backward([1.0], [1.0])
    with pytest.raises(ValueError, match=r"y must lie in \[0, 1\], got an element 2.0"):
        losses.binary_cross_entropy_with_logits([0.5], [2.0])
    with pytest.raises(ValueError, match=r"y must lie in \[0, 1\], got an element 2.0"):
        losses.binary_cross_entropy_with_logits_backward([0.5], [2.0])


def test_bad_class_labels_are_rejected():
    z = np.zeros((2, 3))
    with pytest.raises(TypeError, match=r"y must hold integer class labels, got dtype float64"):
        losses.cross_entropy(z, [0.0, 1.0])
    with pytest.raises(TypeError, match=r"y must hold integer class labels, got dtype bool"):
        losses.cross_entropy_backward(z, [True, False])
    with pytest.raises(ValueError, match=r"y must hold class labels in \[0, 3\), got 3"):
        losses.cross_entropy(z, [0, 3])
    with pytest.raises(ValueError, match=r"y must hold class labels in \[0, 3\), got -1"):
        losses.cross_entropy_backward(z, [-1, 0])
    with pytest.raises(ValueError, match=r"y must have shape \(N,\) = \(2,\) .* got \(3,\)"):
        losses.cross_entropy(z, [0, 1, 2])
    with pytest.raises(ValueError, match=r"z must have 2 dimensions, got shape \(3,\)"):
        losses.cross_entropy(np.zeros(3), [0])


@pytest.mark.parametrize(
    "name", ["l2_penalty", "l2_penalty_backward", "l1_penalty", "l1_penalty_backward"]
)
def test_penalties_reject_negative_and_non_finite_lam(name):
    penalty = getattr(losses, name)
    with pytest.raises(ValueError, match=r"lam must be non-negative, got -0.1"):
        penalty(W_HAND, lam=-0.1)
    with pytest.raises(ValueError, match=r"lam must be finite, got nan"):
        penalty(W_HAND, lam=float("nan"))
    with pytest.raises(ValueError, match=r"lam must be finite, got inf"):
        penalty(W_HAND, lam=math.inf)
    with pytest.raises(TypeError, match=r"lam must be a real number, got '0.1'"):
        penalty(W_HAND, lam="0.1")


def test_objective_rejects_bad_lams_and_mismatched_gradients():
    W = [np.zeros((2, 3)), np.zeros(4)]
    with pytest.raises(ValueError, match=r"lams must hold one λ per layer \(2\), got 1"):
        losses.objective([1.0], W, [0.1])
    with pytest.raises(ValueError, match=r"lams\[1\] must be non-negative, got -1.0"):
        losses.objective([1.0], W, [0.1, -1.0])
    with pytest.raises(ValueError, match=r"lams must be finite, got nan"):
        losses.objective([1.0], W, float("nan"))
    with pytest.raises(ValueError, match=r"example_grads must hold one array per layer \(2\)"):
        losses.objective_gradient([np.zeros((5, 2, 3))], W, 0.1)
    with pytest.raises(ValueError, match=r"example_grads\[1\] must have shape \(N, 4\).*\(6, 4\)"):
        losses.objective_gradient([np.zeros((5, 2, 3)), np.zeros((6, 4))], W, 0.1)
    with pytest.raises(ValueError, match=r"example_grads\[0\] must have shape \(N, 2, 3\)"):
        losses.objective_gradient([np.zeros((2, 3)), np.zeros((2, 4))], W, 0.1)


def test_mmd_rejects_bad_samples_and_bandwidths():
    a, b = np.zeros((4, 2)), np.zeros((5, 2))
    with pytest.raises(ValueError, match=r"M must equal N, got 4 and 5"):
        losses.mmd(a, b, estimator="linear")
    with pytest.raises(ValueError, match=r"unbiased estimator needs at least 2 .* M = 1, N = 5"):
        losses.mmd_backward(np.zeros((1, 2)), b, estimator="unbiased")
    with pytest.raises(ValueError, match=r"linear estimator needs at least 2 .* M = 1, N = 1"):
        losses.mmd(np.zeros((1, 2)), np.zeros((1, 2)), estimator="linear")
    with pytest.raises(ValueError, match=r"biased estimator needs at least 1 .* M = 0, N = 5"):
        losses.mmd(np.zeros((0, 2)), b)
    with pytest.raises(ValueError, match=r"xs and xt must have as many features, got xs \(4, 2\)"):
        losses.mmd(a, np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"xs must have 2 dimensions, got shape \(4,\)"):
        losses.mmd(np.zeros(4), b)
    with pytest.raises(ValueError, match=r"sigma must be positive, got 0.0"):
        losses.mmd(a, b, sigma=0.0)
    with pytest.raises(ValueError, match=r"sigma must be positive, got -1.0"):
        losses.mmd_backward(a, b, sigma=-1.0)
    with pytest.raises(ValueError, match=r"sigma must be finite, got nan"):
        losses.gaussian_kernel(a, b, sigma=float("nan"))
    with pytest.raises(ValueError, match=r"X and Y must have as many columns"):
        losses.gaussian_kernel(a, np.zeros((4, 3)))


def test_orthogonal_penalty_rejects_a_non_matrix():
    with pytest.raises(ValueError, match=r"W must have 2 dimensions, got shape \(3,\)"):
        losses.orthogonal_penalty(np.zeros(3))
    with pytest.raises(ValueError, match=r"W must have 2 dimensions"):
        losses.orthogonal_penalty_backward(np.zeros((2, 2, 2)))
