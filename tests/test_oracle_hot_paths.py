"""Micro-benchmarks of the oracle's hot paths, with pytest-benchmark.

The oracle is a transcription, not an optimisation, but every check and every benchmark baseline
calls it: these track its cost across commits. Under ``-n`` (the README's test command, and CI)
pytest-benchmark runs each body once, untimed, so they are tests like any other: each asserts
what its call returned. Timed, in one process:

    python -m pytest tests/test_oracle_hot_paths.py --benchmark-json oracle.json
    nnconform report --bench oracle.json --html oracle.html
"""

import numpy as np
import pytest

from nnconform.reference import activations, layers, losses, normalization, optimizers

pytest.importorskip("pytest_benchmark")  # the `benchmark` fixture: pip install -e '.[bench]'

N = 2**16  # elements: large enough that numpy, not Python, dominates; small enough for CI


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_adam_step(benchmark, rng):
    theta, g = rng.standard_normal(N), rng.standard_normal(N)
    state = optimizers.adam_init(theta)
    new, state = benchmark(optimizers.adam_step, theta, g, state, lr=1e-3)
    # first step: −lr·sign(g) wherever |g| ≫ eps (Kingma & Ba 2015, section 2.1); the error is
    # lr·eps/(|g| + eps) < 1e-8 where |g| > 1e-3
    large = np.abs(g) > 1e-3
    np.testing.assert_allclose((new - theta)[large], -1e-3 * np.sign(g[large]), rtol=0, atol=1e-8)


def test_momentum_step(benchmark, rng):
    theta, g = rng.standard_normal(N), rng.standard_normal(N)
    state = optimizers.momentum_init(theta)
    new, _ = benchmark(optimizers.momentum_step, theta, g, state, lr=0.1)
    np.testing.assert_allclose(new, theta - 0.1 * g)  # v starts at 0


def test_batch_norm_forward_and_backward(benchmark, rng):
    x, dy = rng.standard_normal((256, 256)), rng.standard_normal((256, 256))
    gamma, beta = np.ones(256), np.zeros(256)
    mean, var = np.zeros(256), np.ones(256)

    def forward_backward():
        out = normalization.batch_norm(x, gamma, beta, mean, var)
        return normalization.batch_norm_backward(dy, out.cache)

    grads = benchmark(forward_backward)
    np.testing.assert_allclose(grads.dx.sum(axis=0), 0.0, atol=1e-9)  # Σᵢ ∂ℓ/∂xᵢ = 0


def test_cross_entropy_forward_and_backward(benchmark, rng):
    z, y = rng.standard_normal((64, 1024)), rng.integers(0, 1024, 64)
    dz = benchmark(lambda: (losses.cross_entropy(z, y), losses.cross_entropy_backward(z, y))[1])
    np.testing.assert_allclose(dz.sum(axis=1), 0.0, atol=1e-12)  # softmax − one-hot sums to 0


def test_gelu(benchmark, rng):
    x = rng.standard_normal(N)
    y = benchmark(activations.gelu, x)
    assert np.all(y >= -0.171) and np.all(y <= np.maximum(x, 0))  # x·Φ(x): min ≈ −0.170


def test_softmax(benchmark, rng):
    z = rng.standard_normal((64, 1024))
    y = benchmark(activations.softmax, z)
    np.testing.assert_allclose(y.sum(axis=1), 1.0)


def test_conv2d_forward_and_backward(benchmark, rng):
    x, w = rng.standard_normal((4, 16, 32, 32)), rng.standard_normal((16, 16, 3, 3))
    dy = rng.standard_normal((4, 16, 32, 32))
    dx, dw, _ = benchmark(lambda: layers.conv2d_backward(x, w, None, dy, padding=1))
    assert dx.shape == x.shape and dw.shape == w.shape


def test_mlp_forward_and_backward(benchmark, rng):
    x = rng.standard_normal((64, 784))
    params = [(rng.standard_normal((256, 784)) * 0.05, np.zeros(256)),
              (rng.standard_normal((10, 256)) * 0.05, np.zeros(10))]  # fmt: skip
    dy = rng.standard_normal((64, 10))
    dx, grads = benchmark(layers.mlp_backward, x, params, dy)
    assert dx.shape == x.shape and [g[0].shape for g in grads] == [(256, 784), (10, 256)]
