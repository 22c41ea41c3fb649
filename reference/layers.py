"""Layers and back-propagation: each forward with its backward (vector-Jacobian products) beside it.

Layouts are PyTorch's: a batch of vectors is (N, features), a batch of images (N, C, H, W), a
linear weight (out, in), a convolution weight (C_out, C_in, kH, kW). Every ``f(x, ...)`` has an
``f_backward(x, ..., dy)`` that returns the gradient of each differentiable input, in argument
order, given the upstream gradient ``dy`` of the output.

Sources (catalogue section 7; seeds by file number):
    000, 001, 003  linear layers, the multi-layer perceptron and back-propagation through the
                   graph by the chain rule; Rumelhart, Hinton & Williams, Nature 1986.
    000, 004  convolution (cross-correlation), stride, zero padding; 3×3 kernels and dilated
              convolution: Yu & Koltun, "Multi-Scale Context Aggregation by Dilated
              Convolutions", ICLR 2016.
    000, 004  max and average pooling.
    000, 004  residual connections: He et al., "Deep Residual Learning", CVPR 2016.
    001, 004  initialisation, named only (001 a heading, 004 "initial parameters θ" in each
              algorithm), with no formula: the formulas are the papers', Glorot & Bengio,
              "Understanding the difficulty of training deep feedforward neural networks",
              AISTATS 2010; He et al., "Delving Deep into Rectifiers", ICCV 2015.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from nnconform.reference import activations
from nnconform.reference._validate import as_array, choice, integer, same_shape

__all__ = [
    "AVG_POOL_DIVISORS",
    "INIT_DISTRIBUTIONS",
    "MAX_POOL_TIES",
    "MLP_ACTIVATIONS",
    "TRUNCATED_NORMAL_STD",
    "avg_pool",
    "avg_pool_backward",
    "conv2d",
    "conv2d_backward",
    "glorot_init",
    "he_init",
    "linear",
    "linear_backward",
    "max_pool",
    "max_pool_backward",
    "mlp",
    "mlp_backward",
    "residual",
    "residual_backward",
]

Params = Sequence[tuple[Any, Any]]


def _shaped(name: str, array: np.ndarray, shape: tuple[int, ...], why: str) -> None:
    """Raise unless ``array`` has exactly ``shape``: no silent broadcasting."""
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape} ({why}), got {array.shape}")


# --- linear -----------------------------------------------------------------------------


def _linear_args(x, W, b) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    x = as_array("x", x, ndim=2)  # (N, in)
    W = as_array("W", W, ndim=2)  # (out, in)
    _shaped("W", W, (W.shape[0], x.shape[1]), f"(out, in) with in = {x.shape[1]} from x")
    if b is not None:
        b = as_array("b", b)
        _shaped("b", b, (W.shape[0],), "(out,) with out = W.shape[0]")
    return x, W, b


def linear(x, W, b=None) -> np.ndarray:
    """z = Wx + b for each sample x, i.e. Z = X Wᵀ + b for a batch   (seeds 000, 001, 003).

    ``x`` is (N, in), ``W`` is (out, in) and ``b`` is (out,) or None (no bias); z is (N, out).

    Warning: PyTorch's ``nn.Linear`` stores W as (out, in), as here; Keras's ``Dense`` and JAX's
    ``flax.linen.Dense`` store the transpose (in, out) and compute X W + b.
    """
    x, W, b = _linear_args(x, W, b)
    z = x @ W.T  # (N, out)
    return z if b is None else z + b


def linear_backward(x, W, b, dz) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Returns (dx, dW, db): per sample ∂/∂x = Wᵀ∂z, ∂/∂W = ∂z xᵀ, ∂/∂b = ∂z; for a batch

        dX = dZ W,   dW = dZᵀ X,   db = Σ_n dZ_n   (sums over the batch: W, b are shared).

    ``db`` is None when ``b`` is None.
    """
    x, W, b = _linear_args(x, W, b)
    dz = as_array("dz", dz)
    _shaped("dz", dz, (x.shape[0], W.shape[0]), "the output's (N, out)")
    return dz @ W, dz.T @ x, None if b is None else dz.sum(axis=0)


# --- multi-layer perceptron -------------------------------------------------------------

MLP_ACTIVATIONS = (
    "relu",
    "tanh",
    "sigmoid",
    "leaky_relu",
    "elu",
    "relu6",
    "selu",
    "gelu",
    "softplus",
)


def _mlp_args(x, params: Params, activation: str):
    x = as_array("x", x, ndim=2)
    choice("activation", activation, MLP_ACTIVATIONS)
    if isinstance(params, np.ndarray) or not isinstance(params, Sequence) or not params:
        raise ValueError(f"params must be a non-empty list of (W, b) pairs, got {params!r}")
    layers, width = [], x.shape[1]
    for i, pair in enumerate(params):
        if not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"params[{i}] must be a (W, b) pair, got {pair!r}")
        W = as_array(f"params[{i}] W", pair[0], ndim=2)
        b = as_array(f"params[{i}] b", pair[1])
        # Each layer's input width is the previous layer's output width.
        _shaped(f"params[{i}] W", W, (W.shape[0], width), f"(out, in) with in = {width}")
        _shaped(f"params[{i}] b", b, (W.shape[0],), "(out,) with out = W.shape[0]")
        layers.append((W, b))
        width = W.shape[0]
    sigma = getattr(activations, activation)
    sigma_backward = getattr(activations, activation + "_backward")
    return x, layers, sigma, sigma_backward


def mlp(x, params: Params, *, activation: str = "relu") -> np.ndarray:
    """A stack of linear layers with an activation σ between them, none after the last:

        a₀ = x,   z_l = a_{l−1} W_lᵀ + b_l,   a_l = σ(z_l) for l < L,   y = z_L

    (seeds 000, 001, 003). ``params`` is a list of (W_l, b_l), W_l of shape (out_l, in_l);
    ``activation`` names a function of ``nnconform.reference.activations`` (its default keywords).
    The output is left linear so that a loss (softmax cross-entropy, MSE) can follow.
    """
    x, layers, sigma, _ = _mlp_args(x, params, activation)
    a = x
    for W, b in layers[:-1]:
        a = sigma(linear(a, W, b))
    return linear(a, *layers[-1])


def mlp_backward(
    x, params: Params, dy, *, activation: str = "relu"
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Returns (dx, [(dW_1, db_1), …, (dW_L, db_L)]) by back-propagation (seeds 000, 003):
    a forward pass keeps each layer's input a_{l−1} and pre-activation z_l; then, from
    ∂ℓ/∂z_L = dy backwards, each node's gradient is its successor's pulled back by the chain rule:

        ∂ℓ/∂W_l = (∂ℓ/∂z_l)ᵀ a_{l−1},   ∂ℓ/∂b_l = Σ_n ∂ℓ/∂z_l,   ∂ℓ/∂a_{l−1} = ∂ℓ/∂z_l W_l,
        ∂ℓ/∂z_{l−1} = ∂ℓ/∂a_{l−1} ⊙ σ'(z_{l−1}).
    """
    x, layers, sigma, sigma_backward = _mlp_args(x, params, activation)
    inputs, pre = [], []  # a_{l−1} and z_l of each layer l
    a = x
    for W, b in layers:
        inputs.append(a)
        pre.append(linear(a, W, b))
        a = sigma(pre[-1])
    dy = as_array("dy", dy)
    same_shape(y=pre[-1], dy=dy)
    grads = []
    dz = dy  # ∂ℓ/∂z_L = dy: the last layer has no activation
    for i in reversed(range(len(layers))):
        da, dW, db = linear_backward(inputs[i], *layers[i], dz)
        grads.append((dW, db))
        if i > 0:
            dz = sigma_backward(pre[i - 1], da)
    return da, grads[::-1]


# --- window geometry shared by convolution and pooling ----------------------------------


class _Geometry(NamedTuple):
    """Where the windows of a convolution or a pooling lie: (rows, columns) per field."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    out: tuple[int, int]

    def window(self, i: int, j: int) -> tuple:
        """The entries of the padded input that kernel offset (i, j) meets at every output
        position: padded row i·d + s·o for o = 0, …, H_out − 1 (likewise columns). One slice
        per offset reads like the sum Σ_{i,j} w[i, j] x[s·o + d·i, s·o' + d·j]."""
        (dh, dw), (sh, sw), (Ho, Wo) = self.dilation, self.stride, self.out
        rows = slice(i * dh, i * dh + sh * (Ho - 1) + 1, sh)
        cols = slice(j * dw, j * dw + sw * (Wo - 1) + 1, sw)
        return (..., rows, cols)

    def offsets(self):
        """Kernel offsets (i, j) in row-major order, the order PyTorch scans a window in."""
        return np.ndindex(*self.kernel)


def _int_pair(name: str, value: Any, *, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints (rows, columns), as PyTorch's ``_pair`` takes them."""
    if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        return integer(name, value[0], minimum=minimum), integer(name, value[1], minimum=minimum)
    value = integer(name, value, minimum=minimum)
    return value, value


def _geometry(
    shape: tuple[int, ...], kernel, stride, padding, dilation, *, kernel_name: str
) -> _Geometry:
    """The output size floor((H + 2p − d(k − 1) − 1)/s) + 1 per axis (PyTorch's), or an error
    when the dilated kernel does not fit in the padded input."""
    out = []
    for axis, size, k, s, p, d in zip(
        ("height", "width"), shape[-2:], kernel, stride, padding, dilation, strict=True
    ):
        span = d * (k - 1) + 1  # the dilated kernel covers this many input entries
        if span > size + 2 * p:
            raise ValueError(
                f"{kernel_name} is too big: the kernel spans {span} entries in {axis} "
                f"(dilation·(k − 1) + 1 = {d}·{k - 1} + 1), more than the padded input's "
                f"{size + 2 * p} (x {axis} {size} + 2·padding {p})"
            )
        out.append((size + 2 * p - span) // s + 1)
    return _Geometry(tuple(kernel), stride, padding, dilation, tuple(out))


def _pad(x: np.ndarray, padding: tuple[int, int], value: float) -> np.ndarray:
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _unpad(xp: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    ph, pw = padding
    return xp[:, :, ph : xp.shape[2] - ph, pw : xp.shape[3] - pw]


def _output_gradient(dy, x: np.ndarray, channels: int, geometry: _Geometry) -> np.ndarray:
    dy = as_array("dy", dy)
    _shaped("dy", dy, (x.shape[0], channels, *geometry.out), "the output's (N, C, H_out, W_out)")
    return dy


# --- convolution ------------------------------------------------------------------------


def _conv2d_args(x, w, b, stride, padding, dilation):
    x = as_array("x", x, ndim=4)  # (N, C_in, H, W)
    w = as_array("w", w, ndim=4)  # (C_out, C_in, kH, kW)
    C_out, _, kH, kW = w.shape
    _shaped("w", w, (C_out, x.shape[1], kH, kW), f"(C_out, C_in, kH, kW) with C_in = {x.shape[1]}")
    if kH == 0 or kW == 0:
        raise ValueError(f"w must have a kernel of at least 1×1, got shape {w.shape}")
    if b is not None:
        b = as_array("b", b)
        _shaped("b", b, (C_out,), "(C_out,) with C_out = w.shape[0]")
    geometry = _geometry(
        x.shape,
        (kH, kW),
        _int_pair("stride", stride, minimum=1),
        _int_pair("padding", padding, minimum=0),
        _int_pair("dilation", dilation, minimum=1),
        kernel_name="w",
    )
    return x, w, b, geometry


def conv2d(x, w, b=None, *, stride=1, padding=0, dilation=1) -> np.ndarray:
    """2-D cross-correlation with stride s, zero padding p and dilation d   (seeds 000, 004):

        y[n, o, h, w] = b[o] + Σ_{c, i, j} w[o, c, i, j] · x̃[n, c, s_H·h + d_H·i, s_W·w + d_W·j]

    where x̃ is x with p zeros on each side of each spatial axis; the output is
    (N, C_out, H_out, W_out) with H_out = floor((H + 2p − d(kH − 1) − 1)/s) + 1 (and likewise
    W_out). Dilation d inserts d − 1 holes between kernel taps (Yu & Koltun 2016), so a 3×3
    kernel with d = 2 sees a 5×5 field. ``stride``, ``padding`` and ``dilation`` are each an int
    or a (rows, columns) pair; ``b`` is (C_out,) or None.

    Warning: this is what deep-learning libraries call convolution (PyTorch ``conv2d``, JAX
    ``lax.conv_general_dilated``); the convolution of signal processing flips the kernel
    (``scipy.signal.convolve2d``).
    """
    x, w, b, g = _conv2d_args(x, w, b, stride, padding, dilation)
    xp = _pad(x, g.padding, 0.0)
    y = np.zeros((x.shape[0], w.shape[0], *g.out))  # (N, C_out, H_out, W_out)
    for i, j in g.offsets():
        y += np.einsum("nchw,oc->nohw", xp[g.window(i, j)], w[:, :, i, j])
    return y if b is None else y + b[:, None, None]


def conv2d_backward(
    x, w, b, dy, *, stride=1, padding=0, dilation=1
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Returns (dx, dw, db). Each kernel tap (i, j) is a linear map from a strided slice of x̃
    to y, so its gradients are linear's:

        ∂ℓ/∂w[o, c, i, j] = Σ_{n, h, w} dy[n, o, h, w] · x̃[n, c, s·h + d·i, s·w + d·j],
        ∂ℓ/∂x̃[n, c, s·h + d·i, s·w + d·j] += Σ_o dy[n, o, h, w] · w[o, c, i, j],
        ∂ℓ/∂b[o] = Σ_{n, h, w} dy[n, o, h, w];

    dx is ∂ℓ/∂x̃ without the padding. Input entries that no window reaches (when the stride does
    not divide the input evenly) get gradient 0. ``db`` is None when ``b`` is None.
    """
    x, w, b, g = _conv2d_args(x, w, b, stride, padding, dilation)
    dy = _output_gradient(dy, x, w.shape[0], g)
    xp = _pad(x, g.padding, 0.0)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i, j in g.offsets():
        window = g.window(i, j)
        dw[:, :, i, j] = np.einsum("nohw,nchw->oc", dy, xp[window])
        dxp[window] += np.einsum("nohw,oc->nchw", dy, w[:, :, i, j])
    db = None if b is None else dy.sum(axis=(0, 2, 3))
    return _unpad(dxp, g.padding), dw, db


# --- pooling ----------------------------------------------------------------------------


def _pool_args(x, kernel_size, stride, padding, dilation) -> tuple[np.ndarray, _Geometry]:
    x = as_array("x", x, ndim=4)  # (N, C, H, W)
    kernel = _int_pair("kernel_size", kernel_size, minimum=1)
    stride = kernel if stride is None else _int_pair("stride", stride, minimum=1)
    padding = _int_pair("padding", padding, minimum=0)
    dilation = _int_pair("dilation", dilation, minimum=1)
    for p, k in zip(padding, kernel, strict=True):
        # PyTorch's rule (dilation or not): it keeps a real entry in every window.
        if p > k // 2:
            raise ValueError(
                f"padding must be at most half the kernel size, kernel_size // 2 = {k // 2}, "
                f"got {p}"
            )
    return x, _geometry(x.shape, kernel, stride, padding, dilation, kernel_name="kernel_size")


def _window_argmax(x: np.ndarray, g: _Geometry) -> tuple[np.ndarray, np.ndarray]:
    """The maximum of every window and the index (row-major) of the kernel offset holding it."""
    xp = _pad(x, g.padding, -np.inf)
    real = _real(x, g)
    best = np.full((*x.shape[:2], *g.out), -np.inf)  # (N, C, H_out, W_out)
    arg = np.zeros(best.shape, dtype=np.intp)
    seen = np.zeros(best.shape, dtype=bool)
    for k, (i, j) in enumerate(g.offsets()):
        patch, inside = xp[g.window(i, j)], real[g.window(i, j)]
        # Strict '>': on ties the first offset keeps the maximum (and later the gradient), as
        # in PyTorch; a NaN takes over and propagates, as in PyTorch. The scan starts at the
        # window's first real entry, so the padding never wins, not even against −∞.
        better = inside & (~seen | (patch > best) | np.isnan(patch))
        best, arg = np.where(better, patch, best), np.where(better, k, arg)
        seen |= inside
    return best, arg


def _real(x: np.ndarray, g: _Geometry) -> np.ndarray:
    """True at the entries of the padded input that are x's, False on the padding."""
    return _pad(np.ones(x.shape, dtype=bool), g.padding, False)


MAX_POOL_TIES = ("first", "split")


def max_pool(x, *, kernel_size, stride=None, padding=0, dilation=1, ties="first") -> np.ndarray:
    """Max pooling   (seeds 000, 004):

        y[n, c, h, w] = max_{i, j} x̃[n, c, s_H·h + d_H·i, s_W·w + d_W·j],

    x̃ being x padded with −∞ (padding never wins), the output size as ``conv2d``'s. ``stride``
    defaults to ``kernel_size``; each argument is an int or a (rows, columns) pair. As in
    PyTorch, ``padding`` may be at most ``kernel_size // 2``; ``ceil_mode`` is not offered
    (the output size rounds down). A window holding a NaN outputs NaN, as in PyTorch.

    ``ties`` names the backward's tie rule (see ``max_pool_backward``); the maximum itself
    does not depend on it, so the forward only checks its value.
    """
    choice("ties", ties, MAX_POOL_TIES)
    x, g = _pool_args(x, kernel_size, stride, padding, dilation)
    return _window_argmax(x, g)[0]


def max_pool_backward(
    x, dy, *, kernel_size, stride=None, padding=0, dilation=1, ties="first"
) -> np.ndarray:
    """∂ℓ/∂x: each output's gradient goes to the maximum of its window; an entry in several
    windows sums their gradients. Where a window holds several equal maxima (ties: exact
    on integer-valued or quantised inputs, and after a ReLU, which ties every negative at 0),
    max is not differentiable and libraries choose a subgradient:

        first  (default, PyTorch's max_pool2d): the whole dy[n, c, h, w] goes to the first
               maximum in row-major window order (the kernel offset (i, j) with the smallest
               i·kW + j), the arg-max that a strict '>' scan keeps;
        split  (torch.amax and jnp.max reductions): dy[n, c, h, w]/t to each of the t tied
               maxima (the entries equal to the window's maximum; its NaNs, if it holds any).

    Either way the gradient of every window is conserved, Σ_window dx = dy, so over
    non-overlapping windows Σdx = Σdy; a rule that sends dy whole to every tied maximum
    (Σdx = t·dy) is not a subgradient of max at all. Warning: TensorFlow's max-pool gradient
    and JAX's ``lax.reduce_window`` VJP choose by their own scan order, which may differ.
    """
    ties = choice("ties", ties, MAX_POOL_TIES)
    x, g = _pool_args(x, kernel_size, stride, padding, dilation)
    dy = _output_gradient(dy, x, x.shape[1], g)
    best, arg = _window_argmax(x, g)
    offsets = list(g.offsets())
    if ties == "first":
        takes = [arg == k for k in range(len(offsets))]  # (N, C, H_out, W_out) each
        gradient = dy
    else:
        xp, real = _pad(x, g.padding, -np.inf), _real(x, g)
        takes = [_is_maximum(xp[g.window(i, j)], best) & real[g.window(i, j)] for i, j in offsets]
        gradient = dy / np.sum(takes, axis=0)  # dy/t: every window holds t ≥ 1 maxima
    dxp = _pad(np.zeros_like(x), g.padding, 0.0)
    for take, (i, j) in zip(takes, offsets, strict=True):
        dxp[g.window(i, j)] += np.where(take, gradient, 0.0)
    return _unpad(dxp, g.padding)


def _is_maximum(patch: np.ndarray, best: np.ndarray) -> np.ndarray:
    """Where an entry is its window's maximum (a NaN, where the maximum is NaN)."""
    return (patch == best) | (np.isnan(patch) & np.isnan(best))


AVG_POOL_DIVISORS = ("window", "real")


def _divisor(x: np.ndarray, g: _Geometry, divisor: str) -> np.ndarray | int:
    """What each window's sum is divided by: kH·kW (``window``), or the count of x's own
    entries in the window, (N, C)-broadcast over (H_out, W_out) (``real``)."""
    if divisor == "window":
        return int(np.prod(g.kernel))
    real = _real(x[:1, :1], g).astype(np.float64)
    return sum(real[g.window(i, j)] for i, j in g.offsets())


def avg_pool(x, *, kernel_size, stride=None, padding=0, divisor="window") -> np.ndarray:
    """Average pooling   (seeds 000, 004):

        y[n, c, h, w] = (1 / D[h, w]) Σ_{i, j} x̃[n, c, s_H·h + i, s_W·w + j],

    x̃ being x padded with zeros. ``stride`` defaults to ``kernel_size``; no ``ceil_mode`` and
    no dilation (as PyTorch). ``divisor`` names D, which differs only in windows over the
    padding (without padding both give the plain mean):

        window  (default, the seeds' "mean of the window"; PyTorch's F.avg_pool2d default
                count_include_pad=True, flax.linen.avg_pool's default count_include_pad=True):
                D = kH·kW, so a window over the border averages in the padding's zeros;
        real    D = the number of x's own (non-padding) entries in the window: PyTorch's
                count_include_pad=False, flax's avg_pool(count_include_pad=False)
                (flax/linen/pooling.py:98-106, the divisor a pool of ones), and Keras 3 /
                TensorFlow AveragePooling2D(padding="same") (keras/src/backend/torch/nn.py:
                453, F.avg_pool2d(count_include_pad=False)).

    A variant, not a defect: each is the exact mean of a stated set (the padded window, or
    the input entries it covers); neither loses accuracy, they answer different questions.
    """
    divisor = choice("divisor", divisor, AVG_POOL_DIVISORS)
    x, g = _pool_args(x, kernel_size, stride, padding, 1)
    xp = _pad(x, g.padding, 0.0)
    return sum(xp[g.window(i, j)] for i, j in g.offsets()) / _divisor(x, g, divisor)


def avg_pool_backward(
    x, dy, *, kernel_size, stride=None, padding=0, divisor="window"
) -> np.ndarray:
    """∂ℓ/∂x: each output's gradient spread evenly, dy/D, over its window (the padding's
    share dropped), D as in ``avg_pool``'s ``divisor``; an entry in several windows sums
    their shares."""
    divisor = choice("divisor", divisor, AVG_POOL_DIVISORS)
    x, g = _pool_args(x, kernel_size, stride, padding, 1)
    dy = _output_gradient(dy, x, x.shape[1], g)
    share = dy / _divisor(x, g, divisor)
    dxp = _pad(np.zeros_like(x), g.padding, 0.0)
    for i, j in g.offsets():
        dxp[g.window(i, j)] += share
    return _unpad(dxp, g.padding)


# --- residual connection ----------------------------------------------------------------


def residual(x, f: Callable[[np.ndarray], Any]) -> np.ndarray:
    """y = x + F(x), the identity shortcut of a residual block   (seeds 000, 004; He et al.
    2016, eq. 1). ``f`` is the residual branch, any callable of x whose output has x's shape
    (a projection shortcut W_s x, for shapes that change, is a linear layer outside this op).
    """
    x = as_array("x", x)
    fx = as_array("f(x)", f(x))
    same_shape(x=x, fx=fx)
    return x + fx


def residual_backward(x, f_backward: Callable[[np.ndarray, np.ndarray], Any], dy) -> np.ndarray:
    """∂ℓ/∂x = dy + F'(x)ᵀ dy: the shortcut passes the gradient through unchanged, so it never
    vanishes however small the branch's gradient (He et al. 2016, sec. 3.1). ``f_backward(x, dy)``
    is the branch's vector-Jacobian product; gradients of the branch's own parameters are the
    branch's business (call its backward with the same dy).
    """
    x, dy = as_array("x", x), as_array("dy", dy)
    same_shape(x=x, dy=dy)
    dfx = as_array("f_backward(x, dy)", f_backward(x, dy))
    same_shape(x=x, f_backward=dfx)
    return dy + dfx


# --- initialisation ---------------------------------------------------------------------

INIT_DISTRIBUTIONS = ("normal", "uniform", "truncated_normal")

# The standard deviation of N(0, 1) cut to [−2, 2]: √(1 − 4φ(2)/(Φ(2) − Φ(−2))) ≈ 0.879626,
# the constant by which Keras's VarianceScaling and JAX's variance_scaling raise the scale of
# their truncated normal so that the draws keep the documented variance.
TRUNCATED_NORMAL_STD = math.sqrt(
    1.0 - 4.0 * math.exp(-2.0) / math.sqrt(2.0 * math.pi) / math.erf(math.sqrt(2.0))
)


def _draw(std: float, rng, distribution: str, shape: tuple[int, ...]) -> np.ndarray:
    """Zero-mean draws of standard deviation ``std``: N(0, std²); U(−a, a) with a = √3·std
    (the uniform on [−a, a] has variance a²/3); or N(0, s²) cut to [−2s, 2s] (redrawn there),
    s = std/0.879626, which keeps the variance std² (Keras's glorot_normal and he_normal,
    JAX's glorot_normal and he_normal: ``variance_scaling(distribution="truncated_normal")``)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    distribution = choice("distribution", distribution, INIT_DISTRIBUTIONS)
    if distribution == "normal":
        return rng.normal(0.0, std, size=shape)
    if distribution == "uniform":
        limit = np.sqrt(3.0) * std
        return rng.uniform(-limit, limit, size=shape)
    z = rng.standard_normal(shape)
    while np.any(cut := np.abs(z) > 2.0):
        z[cut] = rng.standard_normal(np.count_nonzero(cut))
    return std / TRUNCATED_NORMAL_STD * z


def _init_shape(fan_in, fan_out, shape) -> tuple[int, int, tuple[int, ...]]:
    fan_in = integer("fan_in", fan_in, minimum=1)
    fan_out = integer("fan_out", fan_out, minimum=1)
    if shape is None:
        return fan_in, fan_out, (fan_out, fan_in)  # a linear weight (out, in)
    if isinstance(shape, int | np.integer):
        shape = (shape,)
    shape = tuple(integer("shape", s, minimum=0) for s in shape)
    return fan_in, fan_out, shape


def glorot_init(
    fan_in: int, fan_out: int, rng: np.random.Generator, *, distribution="normal", shape=None
) -> np.ndarray:
    """Xavier/Glorot initialisation: zero mean, Var W = 2/(fan_in + fan_out)   (Glorot & Bengio,
    "Understanding the difficulty of training deep feedforward neural networks", AISTATS 2010,
    eq. 12 and 16; seeds 001 and 004 only name weight initialisation, with no formula):

        normal:            W ~ N(0, 2/(fan_in + fan_out))
        uniform:           W ~ U(−a, a),  a = √(6/(fan_in + fan_out))
        truncated_normal:  the normal cut at ±2 of its scale, the scale raised to keep the
                           variance (Keras's and JAX's glorot_normal)

    The variance keeps activations and gradients of roughly equal scale through a stack of
    near-linear units (tanh near 0). Returns a (fan_out, fan_in) array, or ``shape`` if given
    (for a convolution, shape (C_out, C_in, kH, kW) with fan_in = C_in·kH·kW and
    fan_out = C_out·kH·kW, as PyTorch counts them).

    Warning: Glorot & Bengio's own form is the uniform one; Keras's and JAX's ``glorot_normal``
    draw the truncated normal (rescaled to the same variance), PyTorch's ``xavier_normal_`` the
    plain normal, the default here.
    """
    fan_in, fan_out, shape = _init_shape(fan_in, fan_out, shape)
    return _draw(np.sqrt(2.0 / (fan_in + fan_out)), rng, distribution, shape)


def he_init(
    fan_in: int, fan_out: int, rng: np.random.Generator, *, distribution="normal", shape=None
) -> np.ndarray:
    """He (Kaiming) initialisation: zero mean, Var W = 2/fan_in   (He, Zhang, Ren & Sun,
    "Delving Deep into Rectifiers", ICCV 2015, eq. 10; seeds 001 and 004 only name weight
    initialisation, with no formula):

        normal:            W ~ N(0, 2/fan_in)
        uniform:           W ~ U(−a, a),  a = √(6/fan_in)
        truncated_normal:  the normal cut at ±2 of its scale, the scale raised to keep the
                           variance (Keras's and JAX's he_normal)

    The factor 2 makes up for ReLU zeroing half its inputs, so the forward variance is kept.
    ``fan_out`` only sets the default (fan_out, fan_in) shape; ``shape`` overrides it.

    Warning: PyTorch's ``kaiming_normal_`` (mode='fan_in', nonlinearity='relu') matches;
    PyTorch's default ``nn.Linear``/``nn.Conv2d`` initialisation is not He's but
    U(−1/√fan_in, 1/√fan_in); Keras's and JAX's ``he_normal`` draw the truncated normal.
    """
    fan_in, fan_out, shape = _init_shape(fan_in, fan_out, shape)
    return _draw(np.sqrt(2.0 / fan_in), rng, distribution, shape)
