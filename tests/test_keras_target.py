"""The Keras target: it loads on Keras's torch backend (and refuses another), converts at the
boundary (dtypes through floatx, layouts, padding), and maps Keras's conventions as names
(Dropout's rate = 1 − p, BatchNormalization's momentum, step counts from 0, the optimisers'
modes); the checks measure everything else."""

import os
import subprocess
import sys

import numpy as np
import pytest

# the target module sets KERAS_BACKEND=torch before it imports keras (a bare import of keras
# would pick Keras's default backend, TensorFlow, which is not installed)
pytest.importorskip("nnconform.checks.targets.keras", exc_type=ImportError)
import keras

from nnconform.checks.targets import TargetError, load_target
from nnconform.reference import (
    activations,
    layers,
    losses,
    normalization,
    optimizers,
    schedules,
)


@pytest.fixture(scope="module")
def target():
    try:
        return load_target("keras")
    except TargetError as error:  # this process's keras runs on another backend
        pytest.skip(str(error))


@pytest.fixture
def functions(target):
    return target.namespace


def test_load_target_declares_keras_on_its_torch_backend(target):
    assert target.name == "keras" and target.spec == "keras"
    assert target.version.startswith(f"keras {keras.__version__} (torch ")
    assert target.dtypes == ("float64", "float32")
    assert keras.backend.backend() == "torch"


def test_keras_on_another_backend_is_a_target_error_not_a_crash():
    # Keras fixes its backend once per process: a process whose KERAS_BACKEND names another
    # (numpy: the lightest) cannot load the target, and is told why
    code = (
        "from nnconform.checks.targets import TargetError, load_target\n"
        "try:\n    load_target('keras')\n"
        "except TargetError as error:\n    print('TargetError:', error)\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "numpy"}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert "TargetError:" in run.stdout, run.stderr[-2000:]
    assert "'numpy'" in run.stdout and "KERAS_BACKEND=torch" in run.stdout


def test_a_missing_function_is_unsupported_not_an_error(target):
    for name in (
        "constant",
        "noam",
        "dropout",
        "nesterov_lookahead",
        "trajectory",
        "weight_norm",
        "spectral_norm",
        "bfgs",
    ):
        assert target.get(name) is None, name
    assert target.supports("prelu_backward", "adam_step", "batch_norm", "mse", "warmup")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "gelu", "elu", "softmax"])
def test_activations_keep_the_dtype_and_floatx_is_restored(functions, rng, name, dtype):
    x = rng.standard_normal((3, 5)).astype(dtype)
    x_before, floatx = x.copy(), keras.config.floatx()
    y = getattr(functions, name)(x)
    dx = getattr(functions, f"{name}_backward")(x, np.ones_like(x))
    assert isinstance(y, np.ndarray) and y.dtype == np.dtype(dtype) and y.shape == x.shape
    assert isinstance(dx, np.ndarray) and dx.dtype == np.dtype(dtype) and dx.shape == x.shape
    np.testing.assert_array_equal(x, x_before)  # the caller's array is never modified
    assert keras.config.floatx() == floatx  # set for the call only
    erf = {"variant": "erf"} if name == "gelu" else {}  # Keras's default gelu
    reference = getattr(activations, f"{name}_backward")(
        x.astype(np.float64), np.ones(x.shape), **erf
    )
    rtol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(dx, reference, rtol=rtol, atol=rtol)


def test_gelu_modes_are_keras_approximate_and_the_default_is_the_erf_form(functions, rng):
    x = rng.standard_normal(7)
    for variant in ("tanh", "erf"):
        np.testing.assert_allclose(
            functions.gelu(x, variant=variant), activations.gelu(x, variant=variant), rtol=1e-12
        )
    np.testing.assert_allclose(functions.gelu(x), activations.gelu(x, variant="erf"), rtol=1e-12)
    assert np.max(np.abs(functions.gelu(x) - activations.gelu(x, variant="tanh"))) > 1e-6


def test_leaky_relu_takes_the_references_slope_not_keras_default(functions):
    x = np.array([-2.0, 3.0])
    np.testing.assert_allclose(functions.leaky_relu(x), [-0.02, 3.0], rtol=1e-15)
    np.testing.assert_allclose(functions.leaky_relu(x, alpha=0.5), [-1.0, 3.0], rtol=1e-15)


def test_prelu_slope_is_per_channel_on_axis_1_or_shared(functions, rng):
    x, dy = rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 2, 4))
    for a in (np.array([0.1, 0.3]), np.array([0.2]), np.float64(0.2)):
        np.testing.assert_allclose(functions.prelu(x, a), activations.prelu(x, a), rtol=1e-15)
        dx, da = functions.prelu_backward(x, a, dy)
        expected_dx, expected_da = activations.prelu_backward(x, a, dy)
        np.testing.assert_allclose(dx, expected_dx, rtol=1e-15)
        assert np.shape(da) == np.shape(a)
        np.testing.assert_allclose(da, expected_da, rtol=1e-12)


def test_float64_matmul_comes_back_in_float32_as_keras_computes_it(functions, rng):
    # Keras's type promotion maps float64 to float32 on every backend but TensorFlow
    # (keras/src/backend/common/dtypes.py, BIT64_TO_BIT32_DTYPE): the adapter shows it, it does
    # not cast back, so that the checks measure it
    x, W = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    out = functions.linear(x, W)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, layers.linear(x, W), rtol=1e-5, atol=1e-6)


def test_dropout_rate_is_one_minus_the_keep_probability(functions, rng):
    x = np.ones(20_000)
    out = functions.dropout_sample(x, p=0.25, rng=rng)  # keep a quarter
    kept = out != 0
    # 20 000 Bernoulli(0.25): the kept share is 0.25 ± 0.02 but for a 1e-9 chance; 0.75 if
    # the rate were p itself
    assert abs(kept.mean() - 0.25) < 0.02
    np.testing.assert_allclose(out[kept], 4.0, rtol=1e-12)  # inverted: x/p
    np.testing.assert_array_equal(functions.dropout_sample(x, p=0.25, rng=rng, training=False), x)
    with pytest.raises(TypeError):
        functions.dropout_sample(x, p=0.5, rng=rng, variant="standard")


def test_batch_norm_momentum_is_the_weight_of_the_old_running_value(functions, rng):
    x = rng.standard_normal((8, 3)) + 2.0
    gamma, beta, mean, var = rng.random(3) + 0.5, rng.standard_normal(3), np.ones(3), np.ones(3)
    out = functions.batch_norm(x, gamma, beta, mean, var, momentum=0.8)
    expected = normalization.batch_norm(x, gamma, beta, mean, var, momentum=0.8)
    # 0.8 of the old value: with 1 − p the running mean would be 0.2·1 + 0.8·μ_B, far off.
    # Keras computes the moments in float32 here (measured by the checks): float32 tolerance
    np.testing.assert_allclose(out.running_mean, expected.running_mean, rtol=1e-6)
    np.testing.assert_allclose(out.running_var, expected.running_var, rtol=1e-5)  # biased
    np.testing.assert_allclose(out.y, expected.y, rtol=1e-5, atol=1e-5)
    with pytest.raises(TypeError):
        functions.batch_norm(x, gamma, beta, mean, var, running_var_estimator="unbiased")


def test_optimisers_map_their_modes_and_states_can_be_stepped_twice(functions, rng):
    theta, g1, g2 = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal(4)
    cases = [  # (name, target keywords, reference keywords)
        ("momentum", {"lr": 0.1, "alpha": 0.8}, {"variant": "classic"}),
        ("adam", {"lr": 0.01}, {"form": "efficient"}),  # Keras's Adam
        (
            "adam",
            {"lr": 0.01, "weight_decay": 0.1},
            {"form": "efficient", "weight_decay_mode": "decoupled"},
        ),
        (
            "adam",
            {"lr": 0.01, "weight_decay": 0.1, "weight_decay_mode": "decoupled"},
            {"form": "efficient"},
        ),
        ("adagrad", {"lr": 0.1}, {"variant": "eps_inside"}),  # accumulator from 0, not 0.1
        ("rmsprop", {"lr": 0.1}, {"variant": "eps_inside"}),
        ("sgd", {"lr": 0.1, "weight_decay": 0.3}, {}),
    ]
    for name, keywords, modes in cases:
        step, oracle_step = getattr(functions, f"{name}_step"), getattr(optimizers, f"{name}_step")
        state, oracle_state = getattr(functions, f"{name}_init")(theta), None
        oracle_state = getattr(optimizers, f"{name}_init")(theta)
        got, expected = theta, theta
        for g in (g1, g2, g1):
            got, state = step(got, g, state, **keywords)
            expected, oracle_state = oracle_step(expected, g, oracle_state, **keywords, **modes)
        np.testing.assert_allclose(got, expected, rtol=1e-12, err_msg=name)
        # one state stepped twice: two independent results
        once, _ = step(got, g2, state, **keywords)
        again, _ = step(got, g2, state, **keywords)
        np.testing.assert_array_equal(once, again)
    with pytest.raises(TypeError):
        functions.adam_step(theta, g1, functions.adam_init(theta), lr=0.1, weight_decay_mode="l2")
    with pytest.raises(TypeError):
        functions.adam_step(theta, g1, functions.adam_init(theta), lr=0.1, form="algorithm_1")
    with pytest.raises(TypeError):
        functions.adagrad_step(theta, g1, functions.adagrad_init(theta), lr=0.1, variant="root_sum")


def test_nesterov_is_keras_shifted_variable(functions, rng):
    # SGD(nesterov=True) stores θ̃ = θ + αv: from v = 0 its first step is θ̃ − lr·g − α·lr·g
    theta, g = rng.standard_normal(3), rng.standard_normal(3)
    out, _ = functions.nesterov_step(theta, g, functions.nesterov_init(theta), lr=0.1, alpha=0.9)
    np.testing.assert_allclose(out, theta - 0.1 * g - 0.9 * 0.1 * g, rtol=1e-12)


def test_schedules_count_steps_from_zero(functions):
    t = np.arange(1, 13)
    np.testing.assert_allclose(
        functions.decay(t, lr=0.1, gamma=0.5, step_size=4, kind="step"),
        schedules.decay(t, lr=0.1, gamma=0.5, step_size=4),
        rtol=1e-14,
    )
    np.testing.assert_allclose(
        functions.decay(t, lr=0.1, gamma=0.5, kind="inverse_time"),
        schedules.decay(t, lr=0.1, gamma=0.5, kind="inverse_time"),
        rtol=1e-14,
    )
    assert functions.decay(1, lr=0.1, gamma=0.5, kind="exponential") == pytest.approx(0.1)
    out = functions.warmup(t, lr=0.1, warmup=4, total=10)
    expected = schedules.warmup(t, lr=0.1, warmup=4, total=10, then="cosine", counting="from_zero")
    np.testing.assert_allclose(out, expected, rtol=1e-14, atol=1e-17)
    assert out[0] == 0.0  # initial_learning_rate at iteration 0
    for keyword, mode in (("counting", "from_one"), ("then", "linear")):
        with pytest.raises(TypeError):
            functions.warmup(t, lr=0.1, warmup=4, total=10, **{keyword: mode})


def test_losses_reduce_keras_per_element_terms(functions, rng):
    y_hat, y = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((4, 3))
    d = y_hat.astype(np.float64) - y
    np.testing.assert_allclose(functions.mse(y_hat, y, reduction="none"), d**2, rtol=1e-5)
    np.testing.assert_allclose(functions.mse(y_hat, y, variant="sum"), np.sum(d**2), rtol=1e-5)
    np.testing.assert_allclose(functions.mse(y_hat, y), np.mean(d**2), rtol=1e-5)
    np.testing.assert_allclose(functions.l1(y_hat, y, reduction="sum"), np.sum(abs(d)), rtol=1e-5)
    dy = rng.standard_normal((4, 3))
    np.testing.assert_allclose(
        functions.l1_backward(y_hat, y, dy, reduction="none"),
        losses.l1_backward(y_hat, y, dy, reduction="none"),
        rtol=1e-6,
    )
    with pytest.raises(TypeError):
        functions.mse(y_hat, y, variant="half")
    with pytest.raises(TypeError):
        functions.binary_cross_entropy(np.full(3, 0.5), np.ones(3), variant="unclipped")


def test_conv_and_pools_take_channels_first_and_explicit_padding(functions, rng):
    x, w, b = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2)), rng.random(4)
    for options in ({"padding": 1, "stride": 2}, {"padding": (2, 0), "dilation": 2}, {}):
        np.testing.assert_allclose(
            functions.conv2d(x, w, b, **options),
            layers.conv2d(x, w, b, **options),
            rtol=1e-12,
            atol=1e-12,
        )
    dy = rng.standard_normal(layers.conv2d(x, w, None, padding=1).shape)
    for got, expected in zip(
        functions.conv2d_backward(x, w, None, dy, padding=1),
        layers.conv2d_backward(x, w, None, dy, padding=1),
        strict=True,
    ):
        if expected is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    negative = -1.0 - rng.random((1, 1, 4, 4))  # a 0-padded max would be 0: −∞ padding
    np.testing.assert_array_equal(
        functions.max_pool(negative, kernel_size=2, padding=1),
        layers.max_pool(negative, kernel_size=2, padding=1),
    )
    with pytest.raises(NotImplementedError):
        functions.avg_pool(x, kernel_size=2, padding=1)  # neither "valid" nor "same"
    with pytest.raises(NotImplementedError):
        functions.max_pool(x, kernel_size=2, dilation=2)


def test_init_draws_the_references_layout_with_keras_fans(functions, rng):
    w = functions.glorot_init(30, 20, rng, distribution="uniform")
    assert w.shape == (20, 30) and w.dtype == np.float64
    assert np.max(np.abs(w)) <= np.sqrt(6.0 / 50)  # U(−a, a), a = √(6/(fan_in + fan_out))
    kernel = functions.he_init(2 * 9, 8 * 9, rng, shape=(8, 2, 3, 3))
    assert kernel.shape == (8, 2, 3, 3)
    with pytest.raises(NotImplementedError):
        functions.he_init(5, 5, rng, shape=(8, 2, 3, 3))  # Keras derives the fans from the shape
