"""Targets that misbehave rather than compute wrongly: each must fail its checks with a clear
message while the run goes on."""

import time

import numpy as np

from nnconform.reference import activations as ref
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
