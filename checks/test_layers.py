"""Layers and back-propagation (catalogue section 7): every forward against the oracle, every
backward against the oracle and against central differences of the target's own forward, with
strides, padding and dilation drawn; max-pool on inputs with exact ties, forward and backward,
in each tie rule; avg-pool's divisor (the padding counted or not) measured on "same" windows
over the padding, and checked in each mode; initialisation variances and distributions checked
statistically (``nnconform.checks.statistics``), in each documented distribution.

Drawn as values (Hypothesis shrinks them): shapes, geometry (kernel, stride, padding, dilation),
the inputs, weights and upstream gradients of every layer, and the tied max-pool inputs, from
{0, 1, 2} so that windows hold exact ties (they shrink towards all zeros, one big tie), and the
avg-pool inputs over the padding, from [0.5, 2] (positive: every border window's divisor shows,
however they shrink). From a seed (a numpy generator whose seed Hypothesis draws): the distinct
max-pool inputs of the finite-difference check (a permutation: no ties, so the arg-max stays put
under a step), the directions of finite differences, and the generator handed to an initialiser
(its thousands of draws are the statistic, not a counterexample to shrink).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special, stats

from nnconform.checks.assertions import assert_close, assert_matches_variant, call, each_part, fail
from nnconform.checks.gradients import assert_backward_matches_finite_differences
from nnconform.checks.statistics import (
    ALPHA,
    bounded_mean_tolerance,
    chi2_mean_tolerance,
    ks_midpoints,
    ks_tolerance,
    statistical,
)
from nnconform.checks.strategies import SEEDS, arrays, modes
from nnconform.checks.tolerances import Tolerance
from nnconform.reference import layers as oracle

FLOAT64 = "float64"


def _pair_or_int(a: int, b: int):
    """An int when both axes agree, else the (rows, columns) pair: both forms get exercised."""
    return a if a == b else (a, b)


# --- linear -------------------------------------------------------------------------------


@st.composite
def _linear_inputs(draw, dtype: str = FLOAT64):
    n, fan_in, fan_out = (draw(st.integers(1, 5), label=name) for name in ("N", "in", "out"))
    x = draw(arrays((n, fan_in), dtype=dtype), label="x")
    W = draw(arrays((fan_out, fan_in), low=-2, high=2, dtype=dtype), label="W")
    b = draw(st.none() | arrays((fan_out,), dtype=dtype), label="b")
    return x, W, b


@pytest.mark.algorithm("linear")
@given(data=st.data())
def test_linear_forward_matches_the_oracle(target, dtype, data):
    x, W, b = data.draw(_linear_inputs(dtype))
    out, c = call(target, "linear", x, W, b)
    assert_close(out, oracle.linear(x, W, b), what="linear(x, W, b)", call=c, dtype=dtype)


@pytest.mark.algorithm("linear")
@given(data=st.data(), seed=SEEDS)
def test_linear_backward_matches_the_oracle_and_finite_differences(target, data, seed):
    x, W, b = data.draw(_linear_inputs())
    dz = data.draw(arrays((x.shape[0], W.shape[0]), low=-2, high=2), label="dz")
    grads, c = call(target, "linear_backward", x, W, b, dz)
    expected = oracle.linear_backward(x, W, b, dz)
    for name, got, want in zip(("dx", "dW", "db"), grads, expected, strict=True):
        if want is not None:
            assert_close(got, want, what=f"linear_backward {name}", call=c, dtype=FLOAT64)
    forward = target.get("linear")
    if forward is not None:
        wrt = [0, 1] if b is None else [0, 1, 2]
        assert_backward_matches_finite_differences(
            forward,
            [x, W, b],
            dz,
            [grads[i] for i in wrt],
            wrt,
            seed=seed,
            what="linear_backward",
            call=c,
            oracle=oracle.linear,
        )


# --- multi-layer perceptron ---------------------------------------------------------------


@st.composite
def _mlp_inputs(draw, dtype: str = FLOAT64):
    widths = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4), label="widths")
    n = draw(st.integers(1, 4), label="N")
    x = draw(arrays((n, widths[0]), low=-2, high=2, dtype=dtype), label="x")
    params = [
        (
            draw(arrays((fan_out, fan_in), low=-1.5, high=1.5, dtype=dtype), label="W"),
            draw(arrays((fan_out,), low=-1, high=1, dtype=dtype), label="b"),
        )
        for fan_in, fan_out in itertools.pairwise(widths)
    ]
    return x, params


@pytest.mark.algorithm("mlp")
@given(data=st.data())
def test_mlp_forward_matches_the_oracle(target, dtype, data):
    x, params = data.draw(_mlp_inputs(dtype))
    out, c = call(target, "mlp", x, params)
    assert_close(out, oracle.mlp(x, params), what="mlp(x, params)", call=c, dtype=dtype)


@pytest.mark.algorithm("mlp")
@given(data=st.data(), seed=SEEDS)
def test_mlp_backward_matches_the_oracle_and_finite_differences(target, data, seed):
    # tanh: smooth, so central differences need no care about kinks
    x, params = data.draw(_mlp_inputs())
    dy = data.draw(arrays((x.shape[0], params[-1][0].shape[0]), low=-2, high=2), label="dy")
    out, c = call(target, "mlp_backward", x, params, dy, activation="tanh")
    dx, grads = out
    expected_dx, expected = oracle.mlp_backward(x, params, dy, activation="tanh")
    assert_close(dx, expected_dx, what="mlp_backward dx", call=c, dtype=FLOAT64)
    if len(grads) != len(params):
        fail(f"mlp_backward returned {len(grads)} layer gradients for {len(params)} layers", c)
    for layer, ((dW, db), (eW, eb)) in enumerate(zip(grads, expected, strict=True)):
        assert_close(dW, eW, what=f"mlp_backward dW of layer {layer + 1}", call=c, dtype=FLOAT64)
        assert_close(db, eb, what=f"mlp_backward db of layer {layer + 1}", call=c, dtype=FLOAT64)
    forward = target.get("mlp")
    if forward is not None:
        flat = [a for pair in params for a in pair]

        def f(x, *flat, mlp=forward):
            return mlp(x, list(zip(flat[::2], flat[1::2], strict=True)), activation="tanh")

        assert_backward_matches_finite_differences(
            f,
            [x, *flat],
            dy,
            [dx, *(g for pair in grads for g in pair)],
            range(1 + len(flat)),
            seed=seed,
            what="mlp_backward",
            call=c,
            oracle=functools.partial(f, mlp=oracle.mlp),
        )


# --- window geometry ----------------------------------------------------------------------


@st.composite
def _geometry(draw, *, max_kernel: int, pool: bool, dilation: bool):
    """Per axis: kernel k, stride s, padding p, dilation d, and an input size the dilated
    kernel fits in. Pools pad at most k // 2 (PyTorch's rule, the reference's too) and get no
    window made only of padding (its maximum is −∞)."""
    axes = []
    for axis in ("rows", "cols"):
        k = draw(st.integers(1, max_kernel), label=f"kernel {axis}")
        s = draw(st.integers(1, 3), label=f"stride {axis}")
        p = draw(st.integers(0, k // 2 if pool else 2), label=f"padding {axis}")
        d = draw(st.integers(1, 3), label=f"dilation {axis}") if dilation else 1
        span = d * (k - 1) + 1
        # a pool's input at least as wide as its dilated kernel: then every window holds a real
        # entry (with dilation, padding ≤ k // 2 alone allows windows of padding only)
        smallest = span if pool else max(1, span - 2 * p)
        size = draw(st.integers(smallest, smallest + 4), label=f"size {axis}")
        axes.append((k, s, p, d, size))
    (kh, sh, ph, dh, H), (kw, sw, pw, dw, W) = axes
    options = {"stride": _pair_or_int(sh, sw), "padding": _pair_or_int(ph, pw)}
    if dilation:
        options["dilation"] = _pair_or_int(dh, dw)
    return (kh, kw), (H, W), options


# --- convolution --------------------------------------------------------------------------


@st.composite
def _conv_inputs(draw, dtype: str = FLOAT64):
    (kh, kw), (H, W), options = draw(_geometry(max_kernel=3, pool=False, dilation=True))
    n, c_in, c_out = (draw(st.integers(1, 3), label=name) for name in ("N", "C_in", "C_out"))
    x = draw(arrays((n, c_in, H, W), low=-2, high=2, dtype=dtype), label="x")  # (N, C, H, W)
    w = draw(arrays((c_out, c_in, kh, kw), low=-1, high=1, dtype=dtype), label="w")
    b = draw(st.none() | arrays((c_out,), dtype=dtype), label="b")
    return x, w, b, options


@pytest.mark.algorithm("conv2d")
@given(data=st.data())
def test_conv2d_forward_matches_the_oracle(target, dtype, data):
    x, w, b, options = data.draw(_conv_inputs(dtype))
    out, c = call(target, "conv2d", x, w, b, **options)
    expected = oracle.conv2d(x, w, b, **options)
    assert_close(out, expected, what=f"conv2d(x, w, b, {options})", call=c, dtype=dtype)


@pytest.mark.algorithm("conv2d")
@given(data=st.data(), seed=SEEDS)
def test_conv2d_backward_matches_the_oracle_and_finite_differences(target, data, seed):
    x, w, b, options = data.draw(_conv_inputs())
    y_shape = oracle.conv2d(x, w, b, **options).shape
    dy = data.draw(arrays(y_shape, low=-2, high=2), label="dy")
    grads, c = call(target, "conv2d_backward", x, w, b, dy, **options)
    expected = oracle.conv2d_backward(x, w, b, dy, **options)
    for name, got, want in zip(("dx", "dw", "db"), grads, expected, strict=True):
        if want is not None:
            assert_close(got, want, what=f"conv2d_backward {name}", call=c, dtype=FLOAT64)
    forward = target.get("conv2d")
    if forward is not None:
        wrt = [0, 1] if b is None else [0, 1, 2]
        assert_backward_matches_finite_differences(
            lambda x, w, b: forward(x, w, b, **options),
            [x, w, b],
            dy,
            [grads[i] for i in wrt],
            wrt,
            seed=seed,
            what="conv2d_backward",
            call=c,
            oracle=lambda x, w, b: oracle.conv2d(x, w, b, **options),
        )


# --- pooling ------------------------------------------------------------------------------


@st.composite
def _pool_inputs(draw, *, dilation: bool, distinct: bool, dtype: str = FLOAT64):
    kernel, (H, W), options = draw(_geometry(max_kernel=3, pool=True, dilation=dilation))
    if draw(st.booleans(), label="default stride"):
        del options["stride"]  # the stride defaults to the kernel size
    n, channels = draw(st.integers(1, 2), label="N"), draw(st.integers(1, 3), label="C")
    shape = (n, channels, H, W)
    if distinct:
        # No ties in any window: distinct values 0.1 apart (a permutation), so that the
        # arg-max is unique and stays put under a finite-difference step of ~1e-5.
        order = np.random.default_rng(draw(SEEDS, label="seed"))
        x = (order.permutation(int(np.prod(shape))).reshape(shape) - np.prod(shape) / 2) * 0.1
        x = x.astype(dtype)
    else:
        x = draw(arrays(shape, dtype=dtype), label="x")
    return x, {"kernel_size": _pair_or_int(*kernel), **options}


POOLS = {"max_pool": True, "avg_pool": False}  # id -> takes dilation (and needs no ties)


def _assert_pool_matches(out, algorithm, oracle_of, *, what, call, dtype=FLOAT64):
    """max_pool against the oracle; avg_pool against each documented divisor (the default
    call measures the target's own): returns the mode keyword of the variant matched."""
    if algorithm == "max_pool":
        assert_close(out, oracle_of(), what=what, call=call, dtype=dtype)
        return {}
    expected = {d: oracle_of(divisor=d) for d in oracle.AVG_POOL_DIVISORS}
    divisor = assert_matches_variant(
        out, expected, default="window", what=what, call=call, dtype=dtype
    )
    return {"divisor": divisor}


@pytest.mark.parametrize("algorithm", list(POOLS))
@given(data=st.data())
def test_pool_forward_matches_the_oracle(target, dtype, algorithm, data):
    x, options = data.draw(_pool_inputs(dilation=POOLS[algorithm], distinct=False, dtype=dtype))
    out, c = call(target, algorithm, x, **options)
    oracle_of = functools.partial(getattr(oracle, algorithm), x, **options)
    what = f"{algorithm}(x, {options})"
    _assert_pool_matches(out, algorithm, oracle_of, what=what, call=c, dtype=dtype)


@pytest.mark.parametrize("algorithm", list(POOLS))
@given(data=st.data(), seed=SEEDS)
def test_pool_backward_matches_the_oracle_and_finite_differences(target, algorithm, data, seed):
    x, options = data.draw(_pool_inputs(dilation=POOLS[algorithm], distinct=True))
    y_shape = getattr(oracle, algorithm)(x, **options).shape
    dy = data.draw(arrays(y_shape, low=-2, high=2), label="dy")
    backward = f"{algorithm}_backward"
    dx, c = call(target, backward, x, dy, **options)
    backward_of = functools.partial(getattr(oracle, backward), x, dy, **options)
    mode = _assert_pool_matches(
        dx, algorithm, backward_of, what=f"{backward}(x, dy, {options})", call=c
    )
    forward = target.get(algorithm)
    if forward is not None:
        assert_backward_matches_finite_differences(
            lambda x: forward(x, **options), [x], dy, [dx], [0], seed=seed, what=backward, call=c,
            oracle=lambda x: getattr(oracle, algorithm)(x, **options, **mode),
        )  # fmt: skip


# --- avg-pool divisor over the padding --------------------------------------------------


@st.composite
def _border_pool_inputs(draw, dtype: str = FLOAT64):
    """ "same" pooling, the geometry every library offers with padding (Keras's and
    TensorFlow's only one): stride 1, an odd kernel (3 on at least one axis) padded (k − 1)/2
    a side, so the border windows hold padding; x and dy > 0, so that every border window's
    divisor shows (kH·kW against its count of real entries) in the forward and the backward."""
    kernel = draw(st.sampled_from([(3, 3), (3, 1), (1, 3)]), label="kernel")
    H, W = (draw(st.integers(1, 4), label=f"size {axis}") for axis in ("rows", "cols"))
    n, channels = draw(st.integers(1, 2), label="N"), draw(st.integers(1, 2), label="C")
    x = draw(arrays((n, channels, H, W), low=0.5, high=2, dtype=dtype), label="x")
    dy = draw(arrays(x.shape, low=0.5, high=2, dtype=dtype), label="dy")  # "same": y has x's shape
    padding = _pair_or_int(*((k - 1) // 2 for k in kernel))
    return x, dy, {"kernel_size": _pair_or_int(*kernel), "stride": 1, "padding": padding}


@pytest.mark.algorithm("avg_pool")
@given(data=st.data())
def test_avg_pool_over_the_padding_matches_a_documented_divisor(target, dtype, data):
    # Every input tells the divisors apart, so the default call's variant is measured at
    # every seed (the general checks draw such windows only now and then).
    x, dy, options = data.draw(_border_pool_inputs(dtype))

    def forward():
        y, c = call(target, "avg_pool", x, **options)
        what = f"avg_pool(x, {options}) over the padding"
        _assert_pool_matches(y, "avg_pool", functools.partial(oracle.avg_pool, x, **options),
                             what=what, call=c, dtype=dtype)  # fmt: skip

    def backward():
        dx, c = call(target, "avg_pool_backward", x, dy, **options)
        what = f"avg_pool_backward(x, dy, {options}) over the padding"
        backward_of = functools.partial(oracle.avg_pool_backward, x, dy, **options)
        _assert_pool_matches(dx, "avg_pool", backward_of, what=what, call=c, dtype=dtype)

    each_part(forward, backward)


@pytest.mark.algorithm("avg_pool")
@pytest.mark.parametrize(("keyword", "mode"), modes("avg_pool"))
@given(data=st.data())
def test_avg_pool_in_each_mode_matches_the_oracle_in_that_mode(target, keyword, mode, data):
    x, dy, options = data.draw(_border_pool_inputs())
    _pool_in_mode(target, "avg_pool", x, dy, {**options, keyword: mode})


def _pool_in_mode(target, algorithm: str, x, dy, options: dict, *, on: str = "") -> None:
    """The pool's forward and backward in the mode ``options`` names, against the oracle in
    that mode; the backward is called in it even where the forward refuses it."""
    backward = f"{algorithm}_backward"

    def forward_part():
        y, c = call(target, algorithm, x, **options)
        assert_close(y, getattr(oracle, algorithm)(x, **options),
                     what=f"{algorithm}(x, {options}){on}", call=c)  # fmt: skip

    def backward_part():
        dx, c = call(target, backward, x, dy, **options)
        assert_close(dx, getattr(oracle, backward)(x, dy, **options),
                     what=f"{backward}(x, dy, {options}){on}", call=c)  # fmt: skip

    each_part(forward_part, backward_part)


# --- max-pool on ties ---------------------------------------------------------------------

TIE_VALUES = st.sampled_from([0.0, 1.0, 2.0])  # shrinks to 0.0: every window one tie


@st.composite
def _tied_pool_inputs(draw, *, tiled: bool, dtype: str = FLOAT64):
    """Integer-valued inputs (exact ties in every dtype) and windows of at least 2 entries.
    ``tiled``: stride = kernel and no dilation, so the windows do not overlap and each one's
    gradient can be summed apart; else the geometry of ``_geometry``, dilation included."""
    (kh, kw), (H, W), options = draw(_geometry(max_kernel=3, pool=True, dilation=not tiled))
    assume(kh * kw >= 2)  # a 1×1 window holds no tie
    if tiled:
        options["stride"] = _pair_or_int(kh, kw)  # windows side by side
    if draw(st.booleans(), label="default stride"):
        del options["stride"]  # the stride defaults to the kernel size
    n, channels = draw(st.integers(1, 2), label="N"), draw(st.integers(1, 2), label="C")
    x = draw(hnp.arrays(np.float64, (n, channels, H, W), elements=TIE_VALUES), label="x")
    options = {"kernel_size": _pair_or_int(kh, kw), **options}
    y_shape = oracle.max_pool(x, **options).shape
    # dy > 0: a gradient sent twice never cancels out
    dy = draw(arrays(y_shape, low=0.5, high=2.0, dtype=dtype), label="dy")
    return x.astype(dtype), dy, options


def _tiles(a: np.ndarray, kernel: tuple[int, int], padding: tuple[int, int], fill: float):
    """(N, C, H_out, W_out, kH·kW): the entries of each window when the windows tile the
    padded input (stride = kernel, no dilation), padding with ``fill``."""
    (kh, kw), (ph, pw) = kernel, padding
    a = np.pad(a, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    ho, wo = a.shape[2] // kh, a.shape[3] // kw  # floor((H + 2p − k)/k) + 1
    a = a[:, :, : ho * kh, : wo * kw].reshape(*a.shape[:2], ho, kh, wo, kw)
    return a.transpose(0, 1, 2, 4, 3, 5).reshape(*a.shape[:2], ho, wo, kh * kw)


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


@pytest.mark.algorithm("max_pool")
@given(data=st.data())
def test_max_pool_backward_conserves_the_gradient_of_each_window_on_ties(target, data):
    # Σ_window dx = dy whatever the tie rule (first, split): a subgradient of max is a convex
    # combination of the tied entries' unit vectors. Non-overlapping windows, so each sum is
    # read apart; a rule that sends dy whole to each of t tied maxima gives t·dy.
    x, dy, options = data.draw(_tied_pool_inputs(tiled=True))
    dx, c = call(target, "max_pool_backward", x, dy, **options)
    what = f"max_pool_backward(x, dy, {options}) on tied inputs"
    dx = np.asarray(dx, dtype=np.float64)
    if dx.shape != x.shape:
        fail(f"{what}: out has shape {dx.shape}, but should have shape {x.shape}", c)
    kernel, padding = _pair(options["kernel_size"]), _pair(options.get("padding", 0))
    windows = _tiles(x, kernel, padding, -np.inf)
    ties = np.count_nonzero(windows == windows.max(axis=-1, keepdims=True), axis=-1)
    sums = _tiles(dx, kernel, padding, 0.0).sum(axis=-1)
    sent_whole = np.isclose(sums, ties * dy, rtol=1e-12) & (ties > 1)
    if sent_whole.any():
        where = tuple(int(i) for i in np.argwhere(sent_whole)[0])
        fail(
            f"{what}: the gradient of window {where} sums to {sums[where]!r} over its entries, "
            f"{ties[where]} times its dy = {dy[where]!r}: dy was sent whole to each of the "
            f"{ties[where]} tied maxima (Σdx > Σdy); it must go to one of them (ties='first') "
            "or be split among them (ties='split')",
            c,
        )
    assert_close(sums, dy, what=f"{what}: Σdx over each window against its dy", call=c)
    assert_close(
        np.float64(dx.sum()), dy.sum(), what=f"{what}: Σdx against Σdy", call=c, dtype=FLOAT64
    )


@pytest.mark.algorithm("max_pool")
@given(data=st.data())
def test_max_pool_on_ties_matches_a_documented_tie_rule(target, dtype, data):
    # The forward is the maximum whatever the rule; the backward's rule on ties is measured
    # without the keyword (the target's own default): first (PyTorch) or split.
    x, dy, options = data.draw(_tied_pool_inputs(tiled=False, dtype=dtype))
    y, c = call(target, "max_pool", x, **options)
    expected = oracle.max_pool(x, **options)
    assert_close(y, expected, what=f"max_pool(x, {options}) on ties", call=c, dtype=dtype)
    dx, c = call(target, "max_pool_backward", x, dy, **options)
    expected = {t: oracle.max_pool_backward(x, dy, **options, ties=t) for t in oracle.MAX_POOL_TIES}
    assert_matches_variant(
        dx,
        expected,
        default="first",
        what=f"max_pool_backward(x, dy, {options}) on tied inputs",
        call=c,
        dtype=dtype,
    )


@pytest.mark.algorithm("max_pool")
@pytest.mark.parametrize(("keyword", "mode"), modes("max_pool"))
@given(data=st.data())
def test_max_pool_on_ties_in_each_mode_matches_the_oracle_in_that_mode(target, keyword, mode, data):
    x, dy, options = data.draw(_tied_pool_inputs(tiled=False))
    _pool_in_mode(target, "max_pool", x, dy, {**options, keyword: mode}, on=" on ties")


# --- residual -----------------------------------------------------------------------------


def _branch(x):
    """F(x) = sin(x)·0.5 + 0.1x², a smooth residual branch (numpy in, numpy out)."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * np.sin(x) + 0.1 * x**2


def _branch_backward(x, dy):
    x = np.asarray(x, dtype=np.float64)
    return (0.5 * np.cos(x) + 0.2 * x) * np.asarray(dy, dtype=np.float64)


@pytest.mark.algorithm("residual")
@given(data=st.data(), seed=SEEDS)
def test_residual_adds_the_shortcut_forward_and_backward(target, data, seed):
    x = data.draw(arrays(), label="x")
    dy = data.draw(arrays(x.shape, low=-2, high=2), label="dy")
    y, c = call(target, "residual", x, _branch)
    assert_close(y, oracle.residual(x, _branch), what="residual(x, F)", call=c, dtype=FLOAT64)
    dx, c = call(target, "residual_backward", x, _branch_backward, dy)
    expected = oracle.residual_backward(x, _branch_backward, dy)
    assert_close(dx, expected, what="residual_backward(x, F', dy)", call=c, dtype=FLOAT64)
    forward = target.get("residual")
    if forward is not None:
        assert_backward_matches_finite_differences(
            lambda x: forward(x, _branch),
            [x],
            dy,
            [dx],
            [0],
            seed=seed,
            what="residual_backward",
            call=c,
            oracle=lambda x: oracle.residual(x, _branch),
        )


@pytest.mark.algorithm("residual")
@given(data=st.data())
def test_residual_passes_the_gradient_through_a_dead_branch(target, data):
    # He et al. 2016 sec. 3.1: with F' = 0 the shortcut still carries dy unchanged
    x = data.draw(arrays(), label="x")
    dy = data.draw(arrays(x.shape, low=-2, high=2), label="dy")
    dx, c = call(target, "residual_backward", x, lambda x, dy: np.zeros_like(dy), dy)
    assert_close(dx, dy, what="residual_backward with F' = 0", call=c, dtype=FLOAT64)


# --- initialisation (statistical) ---------------------------------------------------------

INITS = {  # function -> its variance Var W
    "glorot_init": lambda fan_in, fan_out: 2.0 / (fan_in + fan_out),
    "he_init": lambda fan_in, fan_out: 2.0 / fan_in,
}
SQRT3 = float(np.sqrt(3.0))
# the documented distributions of unit variance, as CDFs of the standardised weights w/σ
CDFS = {
    "normal": stats.norm.cdf,
    "uniform": lambda z: np.clip((z + SQRT3) / (2 * SQRT3), 0.0, 1.0),
    # N(0, s²) cut to [−2s, 2s], s = 1/0.879626 (unit variance): (Φ(z/s) − Φ(−2))/(Φ(2) − Φ(−2))
    # with z/s clipped to [−2, 2] (scipy's truncnorm.cdf gives the same, 40 times slower)
    "truncated_normal": lambda z: (
        (special.ndtr(np.clip(z * oracle.TRUNCATED_NORMAL_STD, -2.0, 2.0)) - special.ndtr(-2.0))
        / (special.ndtr(2.0) - special.ndtr(-2.0))
    ),
}


def _init_weights(target, function, side, wider, seed, **mode):
    """The target's (fan_out, fan_in) weights, fan_out twice fan_in or half of it (side and
    2·side: 2·side² draws either way), and the documented variance σ²."""
    fan_in, fan_out = (side, 2 * side) if wider else (2 * side, side)
    w, c = call(target, function, fan_in, fan_out, np.random.default_rng(seed), **mode)
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (fan_out, fan_in):
        fail(
            f"{function}({fan_in}, {fan_out}): out has shape {w.shape}, but should have shape "
            f"{(fan_out, fan_in)} (out, in)",
            c,
        )
    return w, INITS[function](fan_in, fan_out), c


def _assert_zero_mean_and_the_variance(w, sigma2, function, c) -> None:
    """Comparisons 1 and 2 of the init checks (see below), each at false alarm ALPHA."""
    n, sigma = w.size, np.sqrt(sigma2)
    mean_bound = max(
        stats.norm.isf(ALPHA / 2) * sigma / np.sqrt(n),
        bounded_mean_tolerance(n, 2 * SQRT3 * sigma).atol,
    )
    assert_close(
        np.float64(w.mean()),
        0.0,
        what=f"the mean of {function}'s {n} weights",
        call=c,
        tol=Tolerance(rtol=0.0, atol=mean_bound),
    )
    variance_bound = max(chi2_mean_tolerance(n).rtol, bounded_mean_tolerance(n, 3.0).atol)
    assert_close(
        np.float64(np.mean(w**2) / sigma2),
        1.0,
        what=f"{function}'s (1/n)Σw² over the documented variance {sigma2:.6g}",
        call=c,
        tol=Tolerance(rtol=variance_bound, atol=0.0),
    )


def _cdfs(w: np.ndarray, sigma2: float) -> dict[str, np.ndarray]:
    """Each documented distribution's CDF at the sorted standardised weights w/σ."""
    z = np.sort(w.ravel()) / np.sqrt(sigma2)
    return {name: cdf(z) for name, cdf in CDFS.items()}


def _ks_what(function: str, n: int) -> str:
    return (f"Kolmogorov–Smirnov: the empirical CDF of {function}'s {n} weights/σ, (i − ½)/n, "
            "against the documented distribution's CDF at them")  # fmt: skip


# The initialiser checks draw side ∈ [275, 300]: n = 2·side² ∈ [151 250, 180 000] weights.
# Three statistical comparisons per example, each with false alarm ≤ 1e-7 whichever of the two
# documented distributions the target draws from (3 examples: ≤ 9e-7 per check):
# 1. mean: within max(normal quantile 5.33σ/√n, Hoeffding for U(−√3σ, √3σ)) of 0;
# 2. (1/n)Σw²/σ²: within max(exact chi-square bound, Hoeffding for w² ∈ [0, 3σ²]) of 1, about
#    0.02 here; power against a variance off by a factor 2 (a swapped fan_in/fan_out for He,
#    a dropped factor 2): > 0.999 9;
# 3. the distribution: a one-sample Kolmogorov–Smirnov test of w/σ against the documented
#    CDF (the DKW–Massart bound at 1e-7, ``ks_tolerance``: D_n ≤ 0.0075 at n = 151 250). The
#    normal and the uniform of one variance are 0.058 apart (sup |Φ − U|); the truncated
#    normal (Keras's and JAX's ``glorot_normal``/``he_normal``: cut at ±2 of its own scale,
#    rescaled to the variance) is 0.0167 from the normal and farther from the uniform, more
#    than twice the bound, with the statistic's noise ≈ 0.5/√n ≈ 0.0013: told apart with
#    probability > 0.999 9. (The tail share beyond 1.75σ of the earlier check, 0.0821 against
#    0.0802, was inside its bound of 0.02.)


@pytest.mark.algorithm("init")
@pytest.mark.parametrize("function", list(INITS))
@statistical
@given(side=st.integers(275, 300), wider=st.booleans(), seed=SEEDS)
def test_init_draws_zero_mean_weights_of_the_documented_variance(
    target, function, side, wider, seed
):
    # fan_out is twice fan_in or half of it, so that a swapped fan_in/fan_out (He) or a
    # dropped factor 2 changes the variance by a factor 2; comparisons 1-3 above, the third
    # measuring which documented distribution the target draws from
    w, sigma2, c = _init_weights(target, function, side, wider, seed)
    _assert_zero_mean_and_the_variance(w, sigma2, function, c)
    assert_matches_variant(ks_midpoints(w.size), _cdfs(w, sigma2), default="normal",
                           what=_ks_what(function, w.size), call=c,
                           tol=ks_tolerance(w.size))  # fmt: skip


@pytest.mark.algorithm("init")
@pytest.mark.parametrize("function", list(INITS))
@pytest.mark.parametrize(("keyword", "mode"), modes("init"))
@statistical
@given(side=st.integers(275, 300), wider=st.booleans(), seed=SEEDS)
def test_init_in_each_mode_draws_that_distribution(
    target, function, keyword, mode, side, wider, seed
):
    # The same three comparisons, the third against the mode's own distribution: a "uniform"
    # that draws a normal, a "normal" that draws a uniform or a truncated normal, is caught.
    w, sigma2, c = _init_weights(target, function, side, wider, seed, **{keyword: mode})
    _assert_zero_mean_and_the_variance(w, sigma2, function, c)
    assert_close(ks_midpoints(w.size), _cdfs(w, sigma2)[mode],
                 what=f"{_ks_what(f'{function}({keyword}={mode!r})', w.size)}", call=c,
                 tol=ks_tolerance(w.size))  # fmt: skip


@pytest.mark.algorithm("mlp")
@given(data=st.data())
def test_mlp_with_the_activation_given_matches_the_oracle(target, dtype, data):
    # activation given (every other check leaves the default relu): tanh between the layers
    x, params = data.draw(_mlp_inputs(dtype))
    out, c = call(target, "mlp", x, params, activation="tanh")
    expected = oracle.mlp(x, params, activation="tanh")
    assert_close(out, expected, what="mlp(x, params, activation='tanh')", call=c, dtype=dtype)


@pytest.mark.parametrize("algorithm", INITS)
@statistical
@given(c_in=st.integers(4, 8), fan_out=st.integers(32, 64), seed=SEEDS)
def test_init_of_a_convolution_kernel_has_the_shape_given_and_the_variance_of_its_fans(
    target, algorithm, c_in, fan_out, seed
):
    # shape given: a (fan_out, c_in, 3, 3) kernel, fan_in = 9·c_in; its weights have zero mean
    # and the documented variance of the fans (the two comparisons of the init checks above)
    fan_in, shape = 9 * c_in, (fan_out, c_in, 3, 3)
    w, c = call(target, algorithm, fan_in, fan_out, np.random.default_rng(seed), shape=shape)
    if np.shape(w) != shape:
        fail(f"{algorithm}({fan_in}, {fan_out}, shape={shape}): out has shape {np.shape(w)}", c)
    sigma2 = INITS[algorithm](fan_in, fan_out)
    _assert_zero_mean_and_the_variance(np.asarray(w, dtype=np.float64), sigma2, algorithm, c)
