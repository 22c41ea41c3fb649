"""Planted bugs in layers: each a mistake real implementations have made."""

import numpy as np

from nnconform.reference import layers as ref
from tests.zoo import planted


def _conv2d_ignoring_dilation(x, w, b=None, *, stride=1, padding=0, dilation=1):
    return ref.conv2d(x, w, b, stride=stride, padding=padding)  # dilation never reaches the taps


def _conv2d_backward_flipped_dw(x, w, b, dy, *, stride=1, padding=0, dilation=1):
    dx, dw, db = ref.conv2d_backward(x, w, b, dy, stride=stride, padding=padding, dilation=dilation)
    return dx, dw[:, :, ::-1, ::-1], db  # convolution's flipped kernel, not cross-correlation's


def _max_pool_backward_spread_evenly(x, dy, *, kernel_size, stride=None, padding=0, dilation=1):
    # the gradient of every window shared by all its entries (avg-pool's rule), not the arg-max's
    x, g = ref._pool_args(x, kernel_size, stride, padding, dilation)
    dxp = ref._pad(np.zeros_like(x), g.padding, 0.0)
    for i, j in g.offsets():
        dxp[g.window(i, j)] += np.asarray(dy) / np.prod(g.kernel)
    return ref._unpad(dxp, g.padding)


def _max_pool_backward_every_tied_maximum(
    x, dy, *, kernel_size, stride=None, padding=0, dilation=1, ties="first"
):
    # the gradient mask x == max(window), as a hand-written backward builds it: every tied
    # maximum gets the whole dy, so a window of t ties passes on t·dy
    x, g = ref._pool_args(x, kernel_size, stride, padding, dilation)
    best = ref.max_pool(
        x, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation
    )
    xp = ref._pad(x, g.padding, -np.inf)
    dxp = ref._pad(np.zeros_like(x), g.padding, 0.0)
    for i, j in g.offsets():
        dxp[g.window(i, j)] += np.where(xp[g.window(i, j)] == best, np.asarray(dy), 0.0)
    return ref._unpad(dxp, g.padding)


def _max_pool_backward_last_maximum(
    x, dy, *, kernel_size, stride=None, padding=0, dilation=1, ties="first"
):
    # a '>=' scan: on ties the last maximum in row-major order keeps the gradient
    x, g = ref._pool_args(x, kernel_size, stride, padding, dilation)
    xp = ref._pad(x, g.padding, -np.inf)
    best = np.full((*x.shape[:2], *g.out), -np.inf)
    arg = np.zeros(best.shape, dtype=np.intp)
    offsets = list(g.offsets())
    for k, (i, j) in enumerate(offsets):
        better = xp[g.window(i, j)] >= best
        best, arg = np.where(better, xp[g.window(i, j)], best), np.where(better, k, arg)
    dxp = ref._pad(np.zeros_like(x), g.padding, 0.0)
    for k, (i, j) in enumerate(offsets):
        dxp[g.window(i, j)] += np.where(arg == k, np.asarray(dy), 0.0)
    return ref._unpad(dxp, g.padding)


def _avg_pool_square_divisor(x, *, kernel_size, stride=None, padding=0):
    _, g = ref._pool_args(x, kernel_size, stride, padding, 1)
    # divides by kH², as if every kernel were square
    return ref.avg_pool(x, kernel_size=kernel_size, stride=stride, padding=padding) * (
        np.prod(g.kernel) / g.kernel[0] ** 2
    )


def _avg_pool_backward_ignoring_the_divisor(
    x, dy, *, kernel_size, stride=None, padding=0, divisor="window"
):
    # a hand-written backward that forgets count_include_pad=False: every window's dy spread
    # as dy/(kH·kW), though the forward divides the border windows by their real entries
    return ref.avg_pool_backward(x, dy, kernel_size=kernel_size, stride=stride, padding=padding)


def _linear_backward_dw_transposed(x, W, b, dz):
    dx, dW, db = ref.linear_backward(x, W, b, dz)
    return dx, dW.T, db  # x dzᵀ: (in, out) instead of (out, in)


def _mlp_backward_derivative_at_the_activation(x, params, dy, *, activation="relu"):
    # σ'(a) where σ'(z) is meant: the derivative taken at the layer's output, not its input
    x, layers, sigma, sigma_backward = ref._mlp_args(x, params, activation)
    inputs, pre = [], []
    a = np.asarray(x, dtype=np.float64)
    for W, b in layers:
        inputs.append(a)
        pre.append(ref.linear(a, W, b))
        a = sigma(pre[-1])
    grads, dz = [], np.asarray(dy, dtype=np.float64)
    for i in reversed(range(len(layers))):
        da, dW, db = ref.linear_backward(inputs[i], *layers[i], dz)
        grads.append((dW, db))
        if i > 0:
            dz = sigma_backward(sigma(pre[i - 1]), da)
    return da, grads[::-1]


def _he_init_fan_out(fan_in, fan_out, rng, *, distribution="normal", shape=None):
    # Var W = 2/fan_out: PyTorch's kaiming mode='fan_out' where fan_in is meant
    w = ref.he_init(fan_out, fan_in, rng, distribution=distribution)
    return w.T if shape is None else w.reshape(shape)


def _glorot_init_uniform_draws_a_normal(fan_in, fan_out, rng, *, distribution="normal", shape=None):
    # the "uniform" mode's variance right, its distribution not: rng.normal in both branches
    return ref.glorot_init(fan_in, fan_out, rng, distribution="normal", shape=shape)


conv2d_ignores_dilation = planted("conv2d ignoring dilation", conv2d=_conv2d_ignoring_dilation)
conv2d_backward_flipped_kernel = planted(
    "conv2d backward with a flipped dw", conv2d_backward=_conv2d_backward_flipped_dw
)
max_pool_backward_spread = planted(
    "max-pool backward spreading the gradient evenly",
    max_pool_backward=_max_pool_backward_spread_evenly,
)
avg_pool_square_divisor = planted("avg-pool dividing by kH²", avg_pool=_avg_pool_square_divisor)
avg_pool_backward_ignoring_the_divisor = planted(
    "avg-pool backward dividing by kH·kW in divisor='real'",
    avg_pool_backward=_avg_pool_backward_ignoring_the_divisor,
)
linear_backward_transposed = planted(
    "linear backward with dW = x dzᵀ", linear_backward=_linear_backward_dw_transposed
)
mlp_backward_wrong_derivative = planted(
    "mlp backward taking σ' at the activation",
    mlp_backward=_mlp_backward_derivative_at_the_activation,
)


def _glorot_init_truncated_normal(fan_in, fan_out, rng, *, distribution="normal", shape=None):
    if distribution != "normal":
        return ref.glorot_init(fan_in, fan_out, rng, distribution=distribution, shape=shape)
    # Keras's glorot_normal: a normal cut at ±2 of its scale, the scale raised by 1/0.8796 so
    # that the variance stays 2/(fan_in + fan_out) (keras.initializers.VarianceScaling)
    sigma = np.sqrt(2.0 / (fan_in + fan_out)) / 0.87962566103423978
    w = rng.standard_normal((fan_out, fan_in) if shape is None else shape)
    while np.any(bad := np.abs(w) > 2.0):
        w[bad] = rng.standard_normal(np.count_nonzero(bad))
    return sigma * w


glorot_init_truncated_normal = planted(
    "Glorot initialisation drawing a truncated normal", glorot_init=_glorot_init_truncated_normal
)
he_init_fan_out = planted("He initialisation with fan_out", he_init=_he_init_fan_out)
max_pool_backward_every_tied_maximum = planted(
    "max-pool backward sending the gradient to every tied maximum",
    max_pool_backward=_max_pool_backward_every_tied_maximum,
)
max_pool_backward_last_maximum = planted(
    "max-pool backward sending the gradient to the last maximum ('>=' scan)",
    max_pool_backward=_max_pool_backward_last_maximum,
)
glorot_init_uniform_draws_a_normal = planted(
    "Glorot initialisation drawing a normal in its uniform mode",
    glorot_init=_glorot_init_uniform_draws_a_normal,
)


def _mlp_always_relu(x, params, *, activation="relu"):
    # the activation argument accepted and ignored
    return ref.mlp(x, params)


def _glorot_init_ignoring_shape(fan_in, fan_out, rng, *, distribution="normal", shape=None):
    # the (fan_out, fan_in) matrix whatever shape is asked for
    return ref.glorot_init(fan_in, fan_out, rng, distribution=distribution)


mlp_always_relu = planted("mlp ignoring its activation", mlp=_mlp_always_relu)
glorot_init_ignoring_shape = planted(
    "Glorot init ignoring the shape it is given", glorot_init=_glorot_init_ignoring_shape
)


def _max_pool_refusing_split(x, *, ties=None, **options):
    # a library whose forward has one tie rule and says so
    if ties not in (None, "first"):
        raise TypeError(f"no ties={ties!r}")
    return ref.max_pool(x, **options)


def _max_pool_backward_split_as_first(x, dy, *, ties=None, **options):
    # ... while its backward takes ties="split" and answers with the first-maximum rule
    return ref.max_pool_backward(x, dy, **options, ties="first")


max_pool_backward_split_as_first = planted(
    "max-pool backward answering ties='split' with the first-maximum rule, its forward "
    "refusing split",
    max_pool=_max_pool_refusing_split,
    max_pool_backward=_max_pool_backward_split_as_first,
)
