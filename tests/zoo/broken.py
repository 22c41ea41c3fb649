"""Targets that misbehave rather than compute wrongly: each must fail its checks with a clear
message while the run goes on."""

import time

import numpy as np

from nnconform.reference import activations as ref
from nnconform.reference import normalization
from tests.zoo import planted


def _raises(x):
    raise RuntimeError("kernel launch failed")


def _hangs(x):
    time.sleep(3600)


raises = planted("relu that raises", relu=_raises)
hangs = planted("relu that hangs", relu=_hangs)
wrong_shape = planted("relu that flattens", relu=lambda x: ref.relu(x).reshape(-1, 1))
wrong_dtype = planted("relu that returns float32", relu=lambda x: ref.relu(x).astype(np.float32))
returns_nan = planted("relu that returns NaN", relu=lambda x: np.full(np.shape(x), np.nan))
gelu_erf = planted(  # not a bug: a documented variant, which passes unless --strict
    "gelu in its erf form",
    gelu=lambda x: ref.gelu(x, variant="erf"),
    gelu_backward=lambda x, dy: ref.gelu_backward(x, dy, variant="erf"),
)


def _relu_for_matrices_only(x):
    if np.ndim(x) > 2:
        raise NotImplementedError("relu takes at most 2 dimensions")
    return ref.relu(x)


def _relu_never(x):
    raise NotImplementedError("no relu on this device")


partly_implemented = planted("relu for matrices only", relu=_relu_for_matrices_only)
never_implemented = planted("relu not implemented", relu=_relu_never)
returns_list = planted("relu that returns a list", relu=lambda x: ref.relu(x).tolist())
hides_dx = planted(  # a library that does not expose BatchNorm's intermediate gradients
    "batch norm without dx_hat",
    batch_norm_backward=lambda dy, cache: normalization.batch_norm_backward(dy, cache)._replace(
        dx_hat=None
    ),
)
mixed = planted(  # one of each verdict, with an expected-failures file (test_check_command)
    "a target with every verdict",
    gelu=lambda x: ref.gelu(x, variant="erf"),
    gelu_backward=lambda x, dy: ref.gelu_backward(x, dy, variant="erf"),
    sigmoid_backward=lambda x, dy: dy * ref.sigmoid(x),
    softmax=lambda z, *, axis=-1: np.exp(z) / np.exp(z).sum(axis=axis, keepdims=True),
)
