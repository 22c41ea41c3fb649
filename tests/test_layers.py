"""The layers of the reference against ground truth that does not come from it:
scipy.signal.correlate2d (convolution), explicit loops over windows (pooling), hand-written
compositions and hand-derived numbers, sample statistics and Kolmogorov–Smirnov tests of large
draws (initialisation), and central finite differences for every backward."""

import itertools
import os

import numpy as np
import pytest
from scipy import signal, special, stats

from nnconform.reference import layers
from tests.gradcheck import assert_backward_matches_fd

# --- linear -----------------------------------------------------------------------------


def test_linear_equals_hand_numbers_and_per_sample_wx_plus_b(rng):
    x = np.array([[1.0, 2.0]])
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    b = np.array([0.5, 0.0, -1.0])
    np.testing.assert_array_equal(layers.linear(x, W, b), [[1.5, 2.0, 2.0]])
    x, W, b = rng.standard_normal((5, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)
    per_sample = np.array([W @ xn + b for xn in x])
    np.testing.assert_allclose(layers.linear(x, W, b), per_sample, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(layers.linear(x, W), per_sample - b, rtol=1e-14, atol=1e-14)


def test_linear_backward_matches_finite_differences(rng):
    x, W, b = rng.standard_normal((5, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)
    assert_backward_matches_fd(
        layers.linear, layers.linear_backward, (x, W, b), wrt=(0, 1, 2), rng=rng
    )


def test_linear_backward_without_bias_has_no_bias_gradient(rng):
    x, W = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    dz = rng.standard_normal((2, 4))
    dx, dW, db = layers.linear_backward(x, W, None, dz)
    assert db is None
    np.testing.assert_allclose(dx, dz @ W)
    np.testing.assert_allclose(dW, sum(np.outer(dz[n], x[n]) for n in range(2)))  # Σ ∂z xᵀ


# --- MLP --------------------------------------------------------------------------------

HAND_ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "sigmoid": special.expit,
    "softplus": lambda z: np.log1p(np.exp(z)),
}


def random_params(rng, widths):
    return [
        (rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out))
        for n_in, n_out in itertools.pairwise(widths)
    ]


@pytest.mark.parametrize("activation", sorted(HAND_ACTIVATIONS))
def test_mlp_equals_the_hand_written_composition(rng, activation):
    sigma = HAND_ACTIVATIONS[activation]
    x = rng.standard_normal((6, 3))
    (W1, b1), (W2, b2), (W3, b3) = params = random_params(rng, [3, 5, 4, 2])
    expected = sigma(sigma(x @ W1.T + b1) @ W2.T + b2) @ W3.T + b3  # no activation at the end
    y = layers.mlp(x, params, activation=activation)
    np.testing.assert_allclose(y, expected, rtol=1e-13, atol=1e-13)


def test_mlp_of_one_layer_is_linear(rng):
    x, [(W, b)] = rng.standard_normal((4, 3)), random_params(rng, [3, 2])
    np.testing.assert_array_equal(layers.mlp(x, [(W, b)]), x @ W.T + b)


@pytest.mark.parametrize("activation", layers.MLP_ACTIVATIONS)
def test_mlp_backward_matches_finite_differences(rng, activation):
    x = rng.standard_normal((4, 3))
    params = random_params(rng, [3, 5, 4, 2])
    flat = [a for pair in params for a in pair]

    def forward(x, *flat):
        return layers.mlp(x, list(zip(flat[::2], flat[1::2], strict=True)), activation=activation)

    def backward(x, *flat_and_dy):
        *flat, dy = flat_and_dy
        pairs = list(zip(flat[::2], flat[1::2], strict=True))
        dx, grads = layers.mlp_backward(x, pairs, dy, activation=activation)
        return (dx, *(g for pair in grads for g in pair))

    # The kinks of relu/relu6 have measure zero: random inputs do not meet them within h.
    assert_backward_matches_fd(forward, backward, (x, *flat), wrt=range(7), rng=rng)


# --- conv2d -----------------------------------------------------------------------------


def scipy_conv2d(x, w, b, stride, padding, dilation):
    """Ground truth from scipy.signal.correlate2d: pad x, insert d − 1 zeros between kernel
    taps, take the 'valid' correlation summed over input channels, then keep every s-th."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    C_out, C_in, kH, kW = w.shape
    dilated = np.zeros((C_out, C_in, dh * (kH - 1) + 1, dw * (kW - 1) + 1))
    dilated[:, :, ::dh, ::dw] = w
    out = np.array(
        [
            [
                sum(signal.correlate2d(xp[n, c], dilated[o, c], mode="valid") for c in range(C_in))
                + b[o]
                for o in range(C_out)
            ]
            for n in range(x.shape[0])
        ]
    )
    return out[:, :, ::sh, ::sw]


CONV_CASES = [  # stride, padding, dilation as (rows, columns)
    ((1, 1), (0, 0), (1, 1)),
    ((2, 2), (1, 1), (1, 1)),
    ((1, 1), (2, 2), (2, 2)),
    ((2, 1), (1, 2), (2, 1)),
    ((3, 2), (0, 1), (1, 3)),  # a stride that does not divide the input
]


@pytest.mark.parametrize(("stride", "padding", "dilation"), CONV_CASES)
def test_conv2d_equals_scipy_correlate2d_summed_over_channels(rng, stride, padding, dilation):
    x, w, b = (
        rng.standard_normal((2, 3, 9, 8)),
        rng.standard_normal((4, 3, 3, 2)),
        rng.standard_normal(4),
    )
    y = layers.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)
    expected = scipy_conv2d(x, w, b, stride, padding, dilation)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    # PyTorch's output size: floor((H + 2p − d(k − 1) − 1)/s) + 1
    H_out = (9 + 2 * padding[0] - dilation[0] * 2 - 1) // stride[0] + 1
    W_out = (8 + 2 * padding[1] - dilation[1] * 1 - 1) // stride[1] + 1
    assert y.shape == (2, 4, H_out, W_out)


def test_conv2d_of_hand_numbers_and_int_arguments():
    x = np.arange(9.0).reshape(1, 1, 3, 3)  # [[0 1 2] [3 4 5] [6 7 8]]
    w = np.ones((1, 1, 2, 2))
    np.testing.assert_array_equal(layers.conv2d(x, w), [[[[8.0, 12.0], [20.0, 24.0]]]])
    # padding 1, stride 2: the corner windows see one real entry each
    np.testing.assert_array_equal(
        layers.conv2d(x, w, stride=2, padding=1), [[[[0.0, 3.0], [9.0, 8.0 + 7.0 + 4.0 + 5.0]]]]
    )
    # a 2×2 kernel with dilation 2 reads the four corners
    np.testing.assert_array_equal(layers.conv2d(x, w, dilation=2), [[[[0.0 + 2.0 + 6.0 + 8.0]]]])


@pytest.mark.parametrize(("stride", "padding", "dilation"), CONV_CASES)
def test_conv2d_backward_matches_finite_differences(rng, stride, padding, dilation):
    x, w, b = (
        rng.standard_normal((2, 3, 7, 6)),
        rng.standard_normal((2, 3, 3, 2)),
        rng.standard_normal(2),
    )
    kw = {"stride": stride, "padding": padding, "dilation": dilation}
    assert_backward_matches_fd(
        lambda x, w, b: layers.conv2d(x, w, b, **kw),
        lambda x, w, b, dy: layers.conv2d_backward(x, w, b, dy, **kw),
        (x, w, b),
        wrt=(0, 1, 2),
        rng=rng,
    )


def test_conv2d_without_bias(rng):
    x, w = rng.standard_normal((1, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    np.testing.assert_allclose(
        layers.conv2d(x, w, None, padding=1),
        layers.conv2d(x, w, np.zeros(3), padding=1),
    )
    dy = rng.standard_normal((1, 3, 5, 5))
    assert layers.conv2d_backward(x, w, None, dy, padding=1)[2] is None


# --- pooling ----------------------------------------------------------------------------


def loop_pool(x, reduce, kernel, stride, padding, dilation, fill):
    """Pooling by explicit loops over every output position and every window entry."""
    (kH, kW), (sH, sW), (pH, pW), (dH, dW) = kernel, stride, padding, dilation
    N, C, H, W = x.shape
    H_out = (H + 2 * pH - dH * (kH - 1) - 1) // sH + 1
    W_out = (W + 2 * pW - dW * (kW - 1) - 1) // sW + 1
    y = np.empty((N, C, H_out, W_out))
    for n, c, h, w in np.ndindex(y.shape):
        window = []
        for i in range(kH):
            for j in range(kW):
                r, q = h * sH + i * dH - pH, w * sW + j * dW - pW
                inside = 0 <= r < H and 0 <= q < W
                window.append(x[n, c, r, q] if inside else fill)
        y[n, c, h, w] = reduce(window)
    return y


POOL_CASES = [  # kernel, stride, padding, dilation
    ((2, 2), (2, 2), (0, 0), (1, 1)),
    ((3, 3), (1, 1), (1, 1), (1, 1)),
    ((3, 2), (2, 1), (1, 0), (1, 1)),
    ((2, 3), (1, 2), (1, 1), (2, 1)),
    ((3, 3), (2, 2), (0, 0), (1, 1)),  # a stride that does not divide the input
]


@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation"), POOL_CASES)
def test_max_pool_equals_loops_over_windows(rng, kernel, stride, padding, dilation):
    x = rng.standard_normal((2, 3, 7, 8))
    y = layers.max_pool(x, kernel_size=kernel, stride=stride, padding=padding, dilation=dilation)
    np.testing.assert_array_equal(y, loop_pool(x, max, kernel, stride, padding, dilation, -np.inf))


def test_max_pool_stride_defaults_to_the_kernel_size(rng):
    x = rng.standard_normal((1, 1, 6, 6))
    np.testing.assert_array_equal(
        layers.max_pool(x, kernel_size=3), layers.max_pool(x, kernel_size=3, stride=3)
    )
    assert layers.max_pool(x, kernel_size=3).shape == (1, 1, 2, 2)


@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation"), POOL_CASES)
def test_max_pool_backward_matches_finite_differences(rng, kernel, stride, padding, dilation):
    # Distinct values 0.1 apart: no ties, and a step of h = 1e-5 never changes an arg-max.
    x = 0.1 * rng.permutation(2 * 3 * 7 * 8).reshape(2, 3, 7, 8).astype(float)
    kw = {"kernel_size": kernel, "stride": stride, "padding": padding, "dilation": dilation}
    assert_backward_matches_fd(
        lambda x: layers.max_pool(x, **kw),
        lambda x, dy: layers.max_pool_backward(x, dy, **kw),
        (x,),
        rng=rng,
        h=1e-6,
    )


def test_max_pool_backward_sends_the_gradient_to_the_first_maximum_on_ties():
    x = np.array([[1.0, 3.0, 3.0], [3.0, 0.0, 2.0], [1.0, 5.0, 5.0]]).reshape(1, 1, 3, 3)
    dy = np.array([[10.0, 20.0], [30.0, 40.0]]).reshape(1, 1, 2, 2)
    dx = layers.max_pool_backward(x, dy, kernel_size=2, stride=1)
    # windows: top-left max 3 first at (0, 1); top-right 3 at (0, 1); bottom-left 5 at (2, 1);
    # bottom-right 5 first at (2, 1): overlapping windows add their gradients
    expected = np.array([[0.0, 30.0, 0.0], [0.0, 0.0, 0.0], [0.0, 70.0, 0.0]])
    np.testing.assert_array_equal(dx[0, 0], expected)


def test_max_pool_backward_splits_the_gradient_among_tied_maxima():
    x = np.array([[1.0, 3.0, 3.0], [3.0, 0.0, 2.0], [1.0, 5.0, 5.0]]).reshape(1, 1, 3, 3)
    dy = np.array([[10.0, 20.0], [30.0, 40.0]]).reshape(1, 1, 2, 2)
    dx = layers.max_pool_backward(x, dy, kernel_size=2, stride=1, ties="split")
    # top-left: 3 at (0, 1) and (1, 0), 10/2 each; top-right: 3 at (0, 1) and (0, 2), 20/2
    # each; bottom-left: 5 at (2, 1) alone, 30; bottom-right: 5 at (2, 1) and (2, 2), 40/2 each
    expected = np.array([[0.0, 15.0, 10.0], [5.0, 0.0, 0.0], [0.0, 50.0, 20.0]])
    np.testing.assert_array_equal(dx[0, 0], expected)


def loop_max_pool_backward_split(x, dy, kernel, stride, padding, dilation):
    """The split rule by explicit loops: each window's dy divided among the real entries equal
    to its maximum (the padding never counts)."""
    (kH, kW), (sH, sW), (pH, pW), (dH, dW) = kernel, stride, padding, dilation
    H, W = x.shape[2:]
    dx = np.zeros_like(x)
    for n, c, h, w in np.ndindex(dy.shape):
        entries = [
            (r, q)
            for i in range(kH)
            for j in range(kW)
            for r, q in [(h * sH + i * dH - pH, w * sW + j * dW - pW)]
            if 0 <= r < H and 0 <= q < W
        ]
        top = max(x[n, c, r, q] for r, q in entries)
        tied = [(r, q) for r, q in entries if x[n, c, r, q] == top]
        for r, q in tied:
            dx[n, c, r, q] += dy[n, c, h, w] / len(tied)
    return dx


@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation"), POOL_CASES)
def test_max_pool_backward_split_equals_loops_over_windows_on_ties(
    rng, kernel, stride, padding, dilation
):
    x = rng.integers(0, 3, size=(2, 3, 7, 8)).astype(float)  # values 0, 1, 2: ties everywhere
    kw = {"kernel_size": kernel, "stride": stride, "padding": padding, "dilation": dilation}
    dy = rng.standard_normal(layers.max_pool(x, **kw).shape)
    dx = layers.max_pool_backward(x, dy, **kw, ties="split")
    expected = loop_max_pool_backward_split(x, dy, kernel, stride, padding, dilation)
    np.testing.assert_allclose(dx, expected, rtol=1e-14, atol=1e-15)
    # the forward does not depend on the tie rule
    np.testing.assert_array_equal(layers.max_pool(x, **kw, ties="split"), layers.max_pool(x, **kw))


@pytest.mark.parametrize("ties", ["first", "split"])
def test_max_pool_backward_conserves_the_gradient_of_each_window_on_ties(rng, ties):
    # non-overlapping 2×3 windows over a 6×9 input: Σ_window dx = dy, window by window
    x = rng.integers(0, 2, size=(2, 2, 6, 9)).astype(float)
    dy = rng.standard_normal((2, 2, 3, 3))
    dx = layers.max_pool_backward(x, dy, kernel_size=(2, 3), ties=ties)
    sums = dx.reshape(2, 2, 3, 2, 3, 3).sum(axis=(3, 5))
    np.testing.assert_allclose(sums, dy, rtol=1e-14, atol=1e-15)


def test_max_pool_tie_rules_agree_without_ties(rng):
    x = 0.1 * rng.permutation(2 * 3 * 7 * 8).reshape(2, 3, 7, 8).astype(float)
    kw = {"kernel_size": 3, "stride": 2, "padding": 1}
    dy = rng.standard_normal((2, 3, 4, 4))
    np.testing.assert_array_equal(
        layers.max_pool_backward(x, dy, **kw, ties="split"), layers.max_pool_backward(x, dy, **kw)
    )


FIRST_REAL_ENTRY = np.array([[1.0, 0.0], [0.0, 0.0]])  # the top-left window's real entries


@pytest.mark.parametrize(("ties", "expected"), [("first", FIRST_REAL_ENTRY), ("split", 0.25)])
def test_max_pool_padding_never_takes_the_gradient_of_a_window_of_minus_infinity(ties, expected):
    # a 3×3 window with padding 1 at the corner holds 4 real entries, all −∞: the gradient
    # goes to the first real one (PyTorch's scan starts there) or to all four, never to the
    # padding, which is −∞ too
    x = np.full((1, 1, 3, 3), -np.inf)
    dy = np.zeros((1, 1, 3, 3))
    dy[0, 0, 0, 0] = 1.0
    dx = layers.max_pool_backward(x, dy, kernel_size=3, stride=1, padding=1, ties=ties)
    assert dx.sum() == 1.0
    np.testing.assert_array_equal(dx[0, 0, :2, :2], np.broadcast_to(expected, (2, 2)))


AVG_POOL_CASES = [case[:3] for case in POOL_CASES if case[3] == (1, 1)]  # no dilation


@pytest.mark.parametrize(("kernel", "stride", "padding"), AVG_POOL_CASES)
def test_avg_pool_equals_loops_counting_the_padding(rng, kernel, stride, padding):
    x = rng.standard_normal((2, 3, 7, 8))
    y = layers.avg_pool(x, kernel_size=kernel, stride=stride, padding=padding)
    expected = loop_pool(x, lambda v: sum(v) / len(v), kernel, stride, padding, (1, 1), 0.0)
    np.testing.assert_allclose(y, expected, rtol=1e-14, atol=1e-15)


def test_avg_pool_of_hand_numbers_divides_by_the_whole_window():
    x = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    assert layers.avg_pool(x, kernel_size=2).item() == 2.5
    # padding 1, kernel 2, stride 2: each window holds one real entry and three zeros
    np.testing.assert_array_equal(
        layers.avg_pool(x, kernel_size=2, padding=1)[0, 0], [[0.25, 0.5], [0.75, 1.0]]
    )


@pytest.mark.parametrize(("kernel", "stride", "padding"), AVG_POOL_CASES)
def test_avg_pool_real_divisor_equals_loops_averaging_the_real_entries_only(
    rng, kernel, stride, padding
):
    x = rng.standard_normal((2, 3, 7, 8))
    y = layers.avg_pool(x, kernel_size=kernel, stride=stride, padding=padding, divisor="real")
    # the padding as NaN, left out by nanmean: the mean of the window's real entries
    expected = loop_pool(x, np.nanmean, kernel, stride, padding, (1, 1), np.nan)
    np.testing.assert_allclose(y, expected, rtol=1e-14, atol=1e-15)


def test_avg_pool_real_divisor_of_hand_numbers_divides_by_the_real_entries():
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    # "same" 3×3 at stride 1: a corner window holds 4 real entries, an edge one 6, the
    # centre 9 (1+2+4+5)/4 = 3, (1+2+3+4+5+6)/6 = 3.5, 45/9 = 5; counting the padding: 12/9…
    y = layers.avg_pool(x, kernel_size=3, stride=1, padding=1, divisor="real")
    np.testing.assert_allclose(y[0, 0], [[3.0, 3.5, 4.0], [4.5, 5.0, 5.5], [6.0, 6.5, 7.0]])
    window = layers.avg_pool(x, kernel_size=3, stride=1, padding=1)
    np.testing.assert_allclose(window[0, 0, 0], [12 / 9, 21 / 9, 16 / 9])
    # no padding: both divisors are kH·kW
    assert layers.avg_pool(x, kernel_size=3, divisor="real").item() == 5.0
    # padding 1, kernel 2, stride 2: each window holds one real entry, its own mean
    y = layers.avg_pool(x[..., :2, :2], kernel_size=2, padding=1, divisor="real")
    np.testing.assert_array_equal(y[0, 0], [[1.0, 2.0], [4.0, 5.0]])


def test_avg_pool_backward_real_divisor_spreads_dy_over_the_real_entries():
    # kernel 2, padding 1, stride 2 on a 2×2 input: each window holds one real entry, which
    # gets its window's whole dy (counting the padding: dy/4)
    dy = np.array([[8.0, 4.0], [2.0, 1.0]]).reshape(1, 1, 2, 2)
    x = np.zeros((1, 1, 2, 2))
    dx = layers.avg_pool_backward(x, dy, kernel_size=2, padding=1, divisor="real")
    np.testing.assert_array_equal(dx, dy)
    dx = layers.avg_pool_backward(x, dy, kernel_size=2, padding=1)
    np.testing.assert_array_equal(dx, dy / 4)
    # "same" 3×3 on 1×2: both windows hold both entries, 2 real of 9: dx = (dy₀ + dy₁)/2
    dy = np.array([6.0, 2.0]).reshape(1, 1, 1, 2)
    dx = layers.avg_pool_backward(
        np.zeros((1, 1, 1, 2)), dy, kernel_size=3, stride=1, padding=1, divisor="real"
    )
    np.testing.assert_array_equal(dx, np.full((1, 1, 1, 2), 4.0))


@pytest.mark.parametrize("divisor", layers.AVG_POOL_DIVISORS)
@pytest.mark.parametrize(
    ("kernel", "stride", "padding"), [(2, None, 0), (3, 1, 1), ((3, 2), (2, 1), (1, 0))]
)
def test_avg_pool_backward_matches_finite_differences(rng, kernel, stride, padding, divisor):
    x = rng.standard_normal((2, 2, 7, 6))
    kw = {"kernel_size": kernel, "stride": stride, "padding": padding, "divisor": divisor}
    assert_backward_matches_fd(
        lambda x: layers.avg_pool(x, **kw),
        lambda x, dy: layers.avg_pool_backward(x, dy, **kw),
        (x,),
        rng=rng,
    )


def test_avg_pool_backward_spreads_each_gradient_evenly():
    dy = np.array([[8.0]]).reshape(1, 1, 1, 1)
    dx = layers.avg_pool_backward(np.zeros((1, 1, 2, 2)), dy, kernel_size=2)
    np.testing.assert_array_equal(dx, np.full((1, 1, 2, 2), 2.0))


# --- residual ---------------------------------------------------------------------------


def test_residual_adds_the_branch_to_its_input(rng):
    x = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(layers.residual(x, np.tanh), x + np.tanh(x))
    np.testing.assert_array_equal(layers.residual(x, np.zeros_like), x)  # identity at F = 0


def test_residual_backward_matches_finite_differences(rng):
    x = rng.standard_normal((3, 4))
    W = rng.standard_normal((4, 4))

    def branch(x):  # F(x) = tanh(x Wᵀ)
        return np.tanh(x @ W.T)

    def branch_backward(x, dy):
        return (dy * (1.0 - np.tanh(x @ W.T) ** 2)) @ W

    assert_backward_matches_fd(
        lambda x: layers.residual(x, branch),
        lambda x, dy: layers.residual_backward(x, branch_backward, dy),
        (x,),
        rng=rng,
    )


def test_residual_passes_the_gradient_through_a_dead_branch(rng):
    x, dy = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    dx = layers.residual_backward(x, lambda x, dy: np.zeros_like(dy), dy)
    np.testing.assert_array_equal(dx, dy)


# --- initialisation ---------------------------------------------------------------------

INITS = [
    # name, fan_in, fan_out, variance the paper prescribes
    ("glorot_init", 300, 500, 2.0 / 800),
    ("he_init", 300, 500, 2.0 / 300),
]


@pytest.mark.parametrize(("name", "fan_in", "fan_out", "variance"), INITS)
def test_normal_init_has_the_prescribed_variance(rng, name, fan_in, fan_out, variance):
    W = getattr(layers, name)(fan_in, fan_out, rng)
    assert W.shape == (fan_out, fan_in)  # (out, in): a linear weight
    # 150 000 draws: the sample variance is within about 0.4 % (1 sd) of the truth
    assert W.var() == pytest.approx(variance, rel=0.02)
    assert abs(W.mean()) < 4 * np.sqrt(variance / W.size)
    assert stats.kstest(W.ravel(), stats.norm(0.0, np.sqrt(variance)).cdf).pvalue > 1e-3


@pytest.mark.parametrize(("name", "fan_in", "fan_out", "variance"), INITS)
def test_uniform_init_has_the_prescribed_bounds_and_variance(rng, name, fan_in, fan_out, variance):
    W = getattr(layers, name)(fan_in, fan_out, rng, distribution="uniform")
    limit = np.sqrt(3.0 * variance)  # √(6/(fan_in + fan_out)) and √(6/fan_in)
    assert np.abs(W).max() <= limit
    assert np.abs(W).max() > 0.999 * limit
    assert W.var() == pytest.approx(variance, rel=0.02)
    assert stats.kstest(W.ravel(), stats.uniform(-limit, 2 * limit).cdf).pvalue > 1e-3


@pytest.mark.parametrize(("name", "fan_in", "fan_out", "variance"), INITS)
def test_truncated_normal_init_is_cut_at_two_scales_and_keeps_the_variance(
    rng, name, fan_in, fan_out, variance
):
    W = getattr(layers, name)(fan_in, fan_out, rng, distribution="truncated_normal")
    scale = np.sqrt(variance) / 0.87962566103423978  # Keras's and JAX's constant
    assert layers.TRUNCATED_NORMAL_STD == pytest.approx(0.87962566103423978, rel=1e-15)
    assert np.abs(W).max() <= 2 * scale and np.abs(W).max() > 0.999 * 2 * scale
    assert W.var() == pytest.approx(variance, rel=0.02)
    assert stats.kstest(W.ravel(), stats.truncnorm(-2, 2, scale=scale).cdf).pvalue > 1e-3


def test_truncated_normal_init_matches_keras_glorot_normal_in_distribution():
    # a two-sample test against Keras's own draws (initializers/random_initializers.py), on
    # the torch backend the Keras target uses (Keras's default backend is TensorFlow)
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    ours = layers.glorot_init(300, 500, np.random.default_rng(1), distribution="truncated_normal")
    theirs = np.asarray(keras.initializers.GlorotNormal(seed=1)((300, 500)))
    assert stats.ks_2samp(ours.ravel(), theirs.ravel()).pvalue > 1e-3


def test_glorot_uniform_limit_is_the_papers():
    # Glorot & Bengio eq. 16: U[−√6/√(n_j + n_{j+1}), √6/√(n_j + n_{j+1})]; 6/(2 + 4) = 1
    W = layers.glorot_init(2, 4, np.random.default_rng(0), distribution="uniform", shape=100_000)
    assert -1.0 <= W.min() < -0.999 and 0.999 < W.max() <= 1.0


def test_init_takes_a_shape_for_convolution_weights(rng):
    C_out, C_in, k = 64, 32, 3
    W = layers.he_init(C_in * k * k, C_out * k * k, rng, shape=(C_out, C_in, k, k))
    assert W.shape == (C_out, C_in, k, k)
    assert W.var() == pytest.approx(2.0 / (C_in * k * k), rel=0.03)


def test_init_is_reproducible_from_the_generator():
    a = layers.glorot_init(3, 4, np.random.default_rng(7))
    b = layers.glorot_init(3, 4, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)


# --- bad input --------------------------------------------------------------------------


def test_bad_input_raises_a_clear_error(rng):
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"W must have shape \(4, 3\) .*got \(4, 2\)"):
        layers.linear(x, np.zeros((4, 2)), np.zeros(4))
    with pytest.raises(ValueError, match=r"b must have shape \(4,\) .*got \(3,\)"):
        layers.linear(x, np.zeros((4, 3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"x must have 2 dimensions, got shape \(3,\)"):
        layers.linear(np.zeros(3), np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(ValueError, match=r"dz must have shape \(2, 4\) .*got \(2, 3\)"):
        layers.linear_backward(x, np.zeros((4, 3)), np.zeros(4), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"params must be a non-empty list"):
        layers.mlp(x, [])
    with pytest.raises(ValueError, match=r"params\[1\] W must have shape \(2, 4\)"):
        layers.mlp(x, [(np.zeros((4, 3)), np.zeros(4)), (np.zeros((2, 5)), np.zeros(2))])
    with pytest.raises(ValueError, match=r"params\[0\] must be a \(W, b\) pair"):
        layers.mlp(x, [(np.zeros((4, 3)),)])
    with pytest.raises(ValueError, match=r"activation must be one of 'relu', .* got 'swish'"):
        layers.mlp(x, [(np.zeros((4, 3)), np.zeros(4))], activation="swish")
    with pytest.raises(ValueError, match=r"shapes must match, got y \(2, 4\), dy \(2, 3\)"):
        layers.mlp_backward(x, [(np.zeros((4, 3)), np.zeros(4))], np.zeros((2, 3)))


def test_bad_convolution_and_pooling_input_raises_a_clear_error():
    x, w = np.zeros((1, 2, 5, 5)), np.zeros((3, 2, 3, 3))
    with pytest.raises(ValueError, match=r"w must have shape \(3, 2, 3, 3\) .*C_in = 2"):
        layers.conv2d(x, np.zeros((3, 4, 3, 3)))
    with pytest.raises(ValueError, match=r"w is too big: the kernel spans 7 entries in height"):
        layers.conv2d(x, np.zeros((3, 2, 7, 3)))
    with pytest.raises(ValueError, match=r"w is too big: .* spans 9 entries in width"):
        layers.conv2d(x, w, dilation=(1, 4))
    with pytest.raises(ValueError, match=r"stride must be at least 1, got 0"):
        layers.conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match=r"padding must be at least 0, got -1"):
        layers.conv2d(x, w, padding=(0, -1))
    with pytest.raises(ValueError, match=r"dilation must be at least 1, got 0"):
        layers.conv2d(x, w, dilation=0)
    with pytest.raises(ValueError, match=r"stride must be an int or a pair of ints"):
        layers.conv2d(x, w, stride=(1, 1, 1))
    with pytest.raises(TypeError, match=r"stride must be an integer, got 1.5"):
        layers.conv2d(x, w, stride=1.5)
    with pytest.raises(ValueError, match=r"b must have shape \(3,\)"):
        layers.conv2d(x, w, np.zeros(2))
    with pytest.raises(ValueError, match=r"x must have 4 dimensions"):
        layers.conv2d(np.zeros((2, 5, 5)), w)
    with pytest.raises(ValueError, match=r"dy must have shape \(1, 3, 3, 3\)"):
        layers.conv2d_backward(x, w, None, np.zeros((1, 3, 5, 5)))
    with pytest.raises(ValueError, match=r"kernel_size is too big: the kernel spans 6"):
        layers.max_pool(x, kernel_size=6)
    with pytest.raises(ValueError, match=r"kernel_size must be at least 1, got 0"):
        layers.avg_pool(x, kernel_size=0)
    with pytest.raises(
        ValueError, match=r"padding must be at most half the kernel size, .* = 1, got 2"
    ):
        layers.max_pool(x, kernel_size=2, padding=2)
    with pytest.raises(ValueError, match=r"padding must be at most half the kernel size"):
        layers.max_pool(x, kernel_size=3, padding=2, dilation=2)  # as PyTorch, dilation or not
    with pytest.raises(ValueError, match=r"padding must be at most half the kernel size"):
        layers.avg_pool(x, kernel_size=3, padding=(0, 2))
    with pytest.raises(ValueError, match=r"dy must have shape \(1, 2, 2, 2\)"):
        layers.max_pool_backward(x, np.zeros((1, 2, 3, 3)), kernel_size=2)
    with pytest.raises(ValueError, match=r"dy must have shape \(1, 2, 2, 2\)"):
        layers.avg_pool_backward(x, np.zeros((1, 2, 5, 5)), kernel_size=2)
    with pytest.raises(ValueError, match=r"ties must be one of 'first', 'split', got 'last'"):
        layers.max_pool_backward(x, np.zeros((1, 2, 2, 2)), kernel_size=2, ties="last")
    with pytest.raises(ValueError, match=r"ties must be one of 'first', 'split', got 'last'"):
        layers.max_pool(x, kernel_size=2, ties="last")
    with pytest.raises(ValueError, match=r"divisor must be one of 'window', 'real', got 'valid'"):
        layers.avg_pool(x, kernel_size=2, divisor="valid")


def test_bad_residual_and_init_input_raises_a_clear_error(rng):
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"shapes must match, got x \(2, 3\), fx \(2, 1\)"):
        layers.residual(x, lambda x: x[:, :1])
    with pytest.raises(ValueError, match=r"shapes must match, got x \(2, 3\), dy \(3,\)"):
        layers.residual_backward(x, lambda x, dy: dy, np.zeros(3))
    with pytest.raises(ValueError, match=r"shapes must match, got x .*, f_backward \(2, 1\)"):
        layers.residual_backward(x, lambda x, dy: dy[:, :1], np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"distribution must be one of 'normal', 'uniform', 'tr"):
        layers.glorot_init(3, 4, rng, distribution="truncated")
    with pytest.raises(ValueError, match=r"fan_in must be at least 1, got 0"):
        layers.he_init(0, 4, rng)
    with pytest.raises(TypeError, match=r"fan_out must be an integer, got 4.0"):
        layers.glorot_init(3, 4.0, rng)
    with pytest.raises(TypeError, match=r"rng must be a numpy.random.Generator, got int"):
        layers.he_init(3, 4, 42)
    with pytest.raises(ValueError, match=r"shape must be at least 0, got -1"):
        layers.he_init(3, 4, rng, shape=(2, -1))


def test_the_init_checks_truncated_normal_cdf_is_scipys():
    from nnconform.checks.test_layers import CDFS

    z = np.linspace(-3.0, 3.0, 601)
    scipy_cdf = stats.truncnorm(-2.0, 2.0, scale=1.0 / layers.TRUNCATED_NORMAL_STD).cdf(z)
    np.testing.assert_allclose(CDFS["truncated_normal"](z), scipy_cdf, rtol=1e-13, atol=1e-15)
