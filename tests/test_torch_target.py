"""The torch target: it loads, converts at the boundary, and agrees with the oracle where the
conventions are only names (the checks measure everything else)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nnconform.checks.targets import load_target  # noqa: E402
from nnconform.reference import layers, normalization, optimizers  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def target():
    return load_target("torch")


@pytest.fixture
def functions(target):
    return target.namespace


def test_load_target_declares_torch(target):
    assert target.name == "torch"
    assert target.spec == "torch"
    assert target.version == torch.__version__
    assert target.dtypes == ("float64", "float32")
    assert "cpu" in target.devices
    assert ("cuda" in target.devices) == torch.cuda.is_available()


def test_a_missing_function_is_unsupported_not_an_error(target):
    # no torch equivalent: the checks skip these as unsupported
    for name in ("dropout", "rmsprop_nesterov_step", "unified_step", "nesterov_lookahead"):
        assert target.get(name) is None
    assert target.supports("relu", "relu_backward", "adam_init", "adam_step")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "gelu", "softmax"])
def test_forward_and_backward_keep_the_numpy_dtype(functions, rng, name, dtype):
    x = rng.standard_normal((3, 4)).astype(dtype)
    x_before = x.copy()
    y = getattr(functions, name)(x)
    dx = getattr(functions, f"{name}_backward")(x, np.ones_like(x))
    assert isinstance(y, np.ndarray) and y.dtype == np.dtype(dtype) and y.shape == x.shape
    assert isinstance(dx, np.ndarray) and dx.dtype == np.dtype(dtype) and dx.shape == x.shape
    np.testing.assert_array_equal(x, x_before)  # the caller's array is never modified


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_loss_is_a_scalar_of_the_input_dtype(functions, rng, dtype):
    y_hat, y = rng.standard_normal((2, 5)).astype(dtype), rng.standard_normal((2, 5)).astype(dtype)
    loss = functions.mse(y_hat, y)
    assert np.ndim(loss) == 0 and np.asarray(loss).dtype == np.dtype(dtype)
    labels = np.array([1, 0])  # int labels (any integer dtype) become torch's int64
    assert np.ndim(functions.cross_entropy(y_hat, labels)) == 0


def test_linear_backward_matches_the_oracle(functions, rng):
    x, W, b = rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal(2)
    dz = rng.standard_normal((3, 2))
    for got, want in zip(
        functions.linear_backward(x, W, b, dz), layers.linear_backward(x, W, b, dz), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert functions.linear_backward(x, W, None, dz)[2] is None


def test_optimizer_step_uses_the_learning_rate_of_each_step(functions, rng):
    theta, g = rng.standard_normal(4), rng.standard_normal(4)
    state = functions.sgd_init(theta)
    theta1, state = functions.sgd_step(theta, g, state, lr=0.1)
    theta2, state = functions.sgd_step(theta1, g, state, lr=0.01)
    np.testing.assert_allclose(theta1, theta - 0.1 * g, rtol=1e-14)
    np.testing.assert_allclose(theta2, theta1 - 0.01 * g, rtol=1e-14)


def test_a_changing_learning_rate_separates_the_momentum_forms(functions, rng):
    # torch keeps lr out of its buffer (lr_outside); classic momentum keeps the old lr inside
    theta = rng.standard_normal(4)
    grads, rates = [rng.standard_normal(4) for _ in range(3)], [0.1, 0.5, 0.02]
    mine, oracle = theta, theta
    state, reference_state = functions.momentum_init(theta), optimizers.momentum_init(theta)
    for g, lr in zip(grads, rates, strict=True):
        mine, state = functions.momentum_step(mine, g, state, lr=lr, alpha=0.9)
        oracle, reference_state = optimizers.momentum_step(
            oracle, g, reference_state, lr=lr, alpha=0.9, variant="lr_outside"
        )
        np.testing.assert_allclose(mine, oracle, rtol=1e-12, atol=1e-14)


def test_optimizer_state_is_not_modified_by_a_step(functions, rng):
    # stepping twice from one state gives the same result, as with the reference's pure steps
    theta, g = rng.standard_normal(4), rng.standard_normal(4)
    _, state = functions.adam_step(theta, g, functions.adam_init(theta), lr=0.1)
    first, _ = functions.adam_step(theta, g, state, lr=0.1)
    again, _ = functions.adam_step(theta, g, state, lr=0.1)
    np.testing.assert_array_equal(first, again)


def test_batch_norm_maps_momentum_and_returns_three_of_six_gradients(functions, rng):
    x = rng.standard_normal((4, 3, 2, 2))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    mean, var = np.zeros(3), np.ones(3)
    out = functions.batch_norm(x, gamma, beta, mean, var, training=True, momentum=0.8)
    want = normalization.batch_norm(
        x, gamma, beta, mean, var, momentum=0.8, running_var_estimator="unbiased"
    )
    np.testing.assert_allclose(out.y, want.y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.running_mean, want.running_mean, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(mean, np.zeros(3))  # the caller's running stats untouched
    dy = rng.standard_normal(x.shape)
    grads = functions.batch_norm_backward(dy, out.cache)
    assert grads[:3] == (None, None, None)
    np.testing.assert_allclose(
        grads.dx, normalization.batch_norm_backward(dy, want.cache).dx, rtol=1e-10, atol=1e-12
    )


def test_dropout_sample_draws_a_repeatable_torch_mask(functions):
    x = np.ones((50, 50))
    a = functions.dropout_sample(x, p=0.75, rng=np.random.default_rng(3))
    b = functions.dropout_sample(x, p=0.75, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, 1 / 0.75}  # torch's own (inverted) scaling, not ours
    np.testing.assert_array_equal(
        functions.dropout_sample(x, p=0.75, rng=np.random.default_rng(3), training=False), x
    )


def test_init_is_torch_nn_init_on_the_references_layout_and_fans(functions):
    # xavier_normal_ on an (out, in) tensor: std √(2/(in + out)); kaiming_normal_(relu):
    # √(2/in); the same torch seed drawn from the same numpy generator gives the same weights
    w = functions.glorot_init(300, 500, np.random.default_rng(3))
    assert w.shape == (500, 300) and w.dtype == np.float64
    assert w.std() == pytest.approx(np.sqrt(2 / 800), rel=0.02)
    assert np.array_equal(w, functions.glorot_init(300, 500, np.random.default_rng(3)))
    he = functions.he_init(300, 500, np.random.default_rng(3), distribution="uniform")
    assert np.abs(he).max() <= np.sqrt(6 / 300) and he.std() == pytest.approx(
        np.sqrt(2 / 300), rel=0.02
    )
    kernel = functions.he_init(2 * 9, 8 * 9, np.random.default_rng(3), shape=(8, 2, 3, 3))
    assert kernel.shape == (8, 2, 3, 3)
    with pytest.raises(NotImplementedError, match="torch derives fan_in, fan_out"):
        functions.he_init(5, 8, np.random.default_rng(3), shape=(8, 2, 3, 3))
    with pytest.raises(TypeError, match="truncated_normal"):
        functions.glorot_init(3, 4, np.random.default_rng(3), distribution="truncated_normal")


def test_dropout_and_max_pool_offer_the_modes_torch_has(functions, rng):
    # F.dropout is inverted dropout, and max_pool2d's gradient goes to the first maximum of a
    # window: those modes are torch's own (the keyword left out); the others are a TypeError,
    # which the checks read as unsupported
    x = np.ones((50, 50))
    np.testing.assert_array_equal(
        functions.dropout_sample(x, p=0.75, rng=np.random.default_rng(3), variant="inverted"),
        functions.dropout_sample(x, p=0.75, rng=np.random.default_rng(3)),
    )
    with pytest.raises(TypeError, match="no variant='standard'"):
        functions.dropout_sample(x, p=0.75, rng=rng, variant="standard")
    x = np.array([[1.0, 3.0, 3.0], [3.0, 0.0, 2.0], [1.0, 5.0, 5.0]]).reshape(1, 1, 3, 3)
    dy = np.array([[10.0, 20.0], [30.0, 40.0]]).reshape(1, 1, 2, 2)
    for ties in (None, "first"):
        np.testing.assert_array_equal(
            functions.max_pool_backward(x, dy, kernel_size=2, stride=1, ties=ties),
            layers.max_pool_backward(x, dy, kernel_size=2, stride=1, ties="first"),
        )
    with pytest.raises(TypeError, match="no ties='split'"):
        functions.max_pool_backward(x, dy, kernel_size=2, stride=1, ties="split")
    with pytest.raises(TypeError, match="no ties='split'"):
        functions.max_pool(x, kernel_size=2, stride=1, ties="split")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_device_cuda_without_cuda_is_a_usage_error_not_an_empty_pass(tmp_path):
    path, junit = tmp_path / "verdicts.json", tmp_path / "junit.xml"
    env = os.environ | {"PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    argv = [sys.executable, "-m", "nnconform", "check", "--target", "torch", "--device", "cuda",
            "--profile", "quick", "-k", "relu", "--json", str(path),
            "--junit-xml", str(junit)]  # fmt: skip
    run = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.strip().splitlines() == [
        "nnconform check: error: target 'torch' does not run on device 'cuda' here: it runs on "
        "cpu (is the device present and visible to the library?)"
    ]
    assert not list(tmp_path.iterdir())  # no verdicts, no JUnit, no temporary file


def test_modes_are_torch_classes_and_a_missing_mode_is_a_type_error(functions, rng):
    # a mapping, no arithmetic: weight_decay_mode="decoupled" is torch.optim.AdamW with the
    # same weight_decay, "l2" and the keyword left out are torch.optim.Adam
    theta, g = rng.standard_normal(4), rng.standard_normal(4)
    for mode, torch_default in (("l2", True), ("decoupled", False)):
        mine, _ = functions.adam_step(theta, g, functions.adam_init(theta), lr=0.1,
                                      weight_decay=0.3, weight_decay_mode=mode)  # fmt: skip
        want, _ = optimizers.adam_step(theta, g, optimizers.adam_init(theta), lr=0.1,
                                       weight_decay=0.3, weight_decay_mode=mode)  # fmt: skip
        np.testing.assert_allclose(mine, want, rtol=1e-12, atol=1e-14)
        default, _ = functions.adam_step(theta, g, functions.adam_init(theta), lr=0.1,
                                         weight_decay=0.3)  # fmt: skip
        assert np.array_equal(default, mine) == torch_default
    t = np.arange(1, 6)
    exponential = functions.decay(t, lr=0.1, gamma=0.5, step_size=2, kind="exponential")
    np.testing.assert_allclose(exponential, 0.1 * 0.5 ** (t - 1), rtol=1e-15)
    for function, call in {
        "momentum_step": lambda: functions.momentum_step(
            theta, g, functions.momentum_init(theta), lr=0.1, variant="classic"),
        "adagrad_step": lambda: functions.adagrad_step(
            theta, g, functions.adagrad_init(theta), lr=0.1, variant="lee"),
        "rmsprop_step": lambda: functions.rmsprop_step(
            theta, g, functions.rmsprop_init(theta), lr=0.1, variant="eps_inside"),
        "decay": lambda: functions.decay(t, lr=0.1, gamma=0.5, kind="inverse_time"),
        "batch_norm": lambda: functions.batch_norm(
            rng.standard_normal((3, 2)), np.ones(2), np.zeros(2), np.zeros(2), np.ones(2),
            running_var_estimator="biased"),
    }.items():  # fmt: skip
        with pytest.raises(TypeError, match=f"torch offers no {function}"):
            call()


def test_gelu_mse_and_l1_modes_are_torch_keywords_and_half_is_a_type_error(functions, rng):
    # a mapping, no arithmetic: gelu(variant=) is F.gelu(approximate=), mse(variant=) and
    # l1(reduction=) are the losses' reduction=; the keyword left out is torch's own default
    from nnconform.reference import activations, losses

    x, y = rng.standard_normal(5), rng.standard_normal(5)
    for variant in ("tanh", "erf"):
        np.testing.assert_allclose(functions.gelu(x, variant=variant),
                                   activations.gelu(x, variant=variant), rtol=1e-12)  # fmt: skip
    np.testing.assert_array_equal(functions.gelu(x), functions.gelu(x, variant="erf"))
    for variant in ("mean", "sum"):
        assert functions.mse(x, y, variant=variant) == pytest.approx(
            losses.mse(x, y, variant=variant), rel=1e-12
        )
        np.testing.assert_allclose(functions.l1_backward(x, y, 2.0, reduction=variant),
                                   losses.l1_backward(x, y, 2.0, reduction=variant))  # fmt: skip
    assert functions.mse(x, y) == functions.mse(x, y, variant="mean")
    with pytest.raises(TypeError, match=r"torch offers no mse\(variant='half'\)"):
        functions.mse(x, y, variant="half")
