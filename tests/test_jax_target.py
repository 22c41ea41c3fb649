"""The JAX target: it loads, converts at the boundary (dtypes, layouts, padding), and maps
optax's and flax's conventions as names (step counts, rate = 1 − p, BatchNorm's momentum,
Adam's weight-decay modes); the checks measure everything else."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
flax = pytest.importorskip("flax")

from nnconform.checks.targets import load_target  # noqa: E402
from nnconform.reference import (  # noqa: E402
    activations,
    layers,
    losses,
    normalization,
    optimizers,
    schedules,
)


@pytest.fixture(scope="module")
def target():
    return load_target("jax")


@pytest.fixture
def functions(target):
    return target.namespace


def test_load_target_declares_jax_with_64_bit_arrays(target):
    assert target.name == "jax" and target.spec == "jax"
    assert target.version == (
        f"jax {jax.__version__}, optax {optax.__version__}, flax {flax.__version__}"
    )
    assert target.dtypes == ("float64", "float32")
    assert "cpu" in target.devices
    assert jax.config.jax_enable_x64  # float64 stays float64 (JAX computes in float32 otherwise)


def test_a_missing_function_is_unsupported_not_an_error(target):
    # binary cross-entropy on probabilities, l1, a given mask, a separate look-ahead, the
    # solvers: JAX has no function that takes them
    for name in ("binary_cross_entropy", "l1", "dropout", "nesterov_lookahead", "bfgs"):
        assert target.get(name) is None
    assert target.supports("relu", "relu_backward", "adam_init", "adam_step", "batch_norm")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "gelu", "elu", "softmax"])
def test_forward_and_backward_keep_the_numpy_dtype_and_shape(functions, rng, name, dtype):
    x = rng.standard_normal((3, 5)).astype(dtype)  # 15 elements: padded to 16, sliced back
    x_before = x.copy()
    y = getattr(functions, name)(x)
    dx = getattr(functions, f"{name}_backward")(x, np.ones_like(x))
    assert isinstance(y, np.ndarray) and y.dtype == np.dtype(dtype) and y.shape == x.shape
    assert isinstance(dx, np.ndarray) and dx.dtype == np.dtype(dtype) and dx.shape == x.shape
    np.testing.assert_array_equal(x, x_before)  # the caller's array is never modified


def test_padding_to_a_power_of_two_changes_no_element(functions, rng):
    # the element-wise functions run on x flattened and zero-padded: the padding must never
    # reach the result, whatever the size (1, odd, exactly a power of two, 0-d)
    for shape in [(1,), (7,), (2, 4), (3, 3, 3), ()]:
        x = rng.standard_normal(shape) * 3
        dy = rng.standard_normal(shape)
        np.testing.assert_allclose(functions.elu(x, alpha=0.5), activations.elu(x, alpha=0.5),
                                   rtol=1e-14, atol=1e-300)  # fmt: skip
        np.testing.assert_allclose(functions.sigmoid_backward(x, dy),
                                   activations.sigmoid_backward(x, dy), rtol=1e-13)  # fmt: skip
        assert np.shape(functions.relu(x)) == shape


def test_gelu_modes_are_jax_approximate_and_the_default_is_the_tanh_form(functions, rng):
    x = rng.standard_normal(6)
    for variant in ("tanh", "erf"):
        np.testing.assert_allclose(functions.gelu(x, variant=variant),
                                   activations.gelu(x, variant=variant), rtol=1e-12)  # fmt: skip
    # jax.nn.gelu's default is approximate=True: the keyword left out measures it
    np.testing.assert_array_equal(functions.gelu(x), functions.gelu(x, variant="tanh"))
    assert not np.array_equal(functions.gelu(x), functions.gelu(x, variant="erf"))


def test_prelu_takes_one_scalar_slope_and_not_one_per_channel(functions, rng):
    x = rng.standard_normal((2, 3, 4))
    a, dy = np.array([0.25]), rng.standard_normal(x.shape)
    np.testing.assert_allclose(functions.prelu(x, a), activations.prelu(x, a), rtol=1e-15)
    dx, da = functions.prelu_backward(x, a, dy)
    want_dx, want_da = activations.prelu_backward(x, a, dy)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-14)
    np.testing.assert_allclose(da, want_da, rtol=1e-12)
    assert np.shape(da) == np.shape(a)
    with pytest.raises(NotImplementedError, match="one scalar slope"):
        functions.prelu(x, np.array([0.1, 0.2, 0.3]))


def test_layouts_nchw_oihw_and_out_in_map_to_flax_and_back(functions, rng):
    # NCHW ↔ NHWC, OIHW ↔ HWIO for flax.linen.Conv; (out, in) ↔ Dense's (in, out) kernel
    x, w, b = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2)), rng.random(4)
    geometry = {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)}
    y = layers.conv2d(x, w, b, **geometry)
    np.testing.assert_allclose(functions.conv2d(x, w, b, **geometry), y, rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    for got, want in zip(functions.conv2d_backward(x, w, b, dy, **geometry),
                         layers.conv2d_backward(x, w, b, dy, **geometry), strict=True):  # fmt: skip
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)
    x, W, dz = rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal((3, 2))
    for got, want in zip(functions.linear_backward(x, W, b[:2], dz),
                         layers.linear_backward(x, W, b[:2], dz), strict=True):  # fmt: skip
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert functions.linear_backward(x, W, None, dz)[2] is None


def test_pools_map_the_layout_and_refuse_a_dilation(functions, rng):
    x = rng.standard_normal((2, 3, 5, 6))
    for name in ("max_pool", "avg_pool"):
        got = getattr(functions, name)(x, kernel_size=(2, 3), stride=2, padding=1)
        want = getattr(layers, name)(x, kernel_size=(2, 3), stride=2, padding=1)
        np.testing.assert_allclose(got, want, rtol=1e-14)
    with pytest.raises(NotImplementedError, match="no dilation"):
        functions.max_pool(x, kernel_size=2, dilation=2)
    # max-pool's gradient on a tie goes to the first maximum of a window: ties "first"
    x = np.array([[1.0, 3.0, 3.0], [3.0, 0.0, 2.0], [1.0, 5.0, 5.0]]).reshape(1, 1, 3, 3)
    dy = np.array([[10.0, 20.0], [30.0, 40.0]]).reshape(1, 1, 2, 2)
    for ties in (None, "first"):
        np.testing.assert_array_equal(
            functions.max_pool_backward(x, dy, kernel_size=2, stride=1, ties=ties),
            layers.max_pool_backward(x, dy, kernel_size=2, stride=1, ties="first"),
        )
    with pytest.raises(TypeError, match=r"no max_pool_backward\(ties='split'\)"):
        functions.max_pool_backward(x, dy, kernel_size=2, stride=1, ties="split")


def test_schedules_count_steps_from_zero_as_optax_does(functions):
    # the reference's step t is optax's count t − 1: the step decay is the same function of t;
    # the warm-up, which optax starts at init_value = 0 on count 0, is the reference's one step
    # later (its value at step t is the reference's at t − 1)
    t = np.arange(1, 12)
    np.testing.assert_allclose(
        functions.decay(t, lr=0.3, gamma=0.5, step_size=3, kind="step"),
        schedules.decay(t, lr=0.3, gamma=0.5, step_size=3, kind="step"),
        rtol=1e-15,
    )
    np.testing.assert_allclose(
        functions.decay(t, lr=0.3, gamma=0.5, kind="exponential"), 0.3 * 0.5 ** (t - 1), rtol=1e-14
    )
    eta = functions.warmup(t, lr=0.3, warmup=4, total=10)
    assert eta[0] == 0.0
    want = schedules.warmup(t[:-1], lr=0.3, warmup=4, total=10, then="cosine")
    np.testing.assert_allclose(eta[1:], want, rtol=1e-14, atol=1e-17)
    assert isinstance(functions.decay(5, lr=0.3, gamma=0.5, step_size=2), float)
    assert functions.constant(np.array([[1, 2], [3, 4]]), lr=0.2).shape == (2, 2)


def test_optimizer_step_uses_the_learning_rate_of_each_step(functions, rng):
    # inject_hyperparams: the learning rate (and every hyper-parameter) can change per step
    theta, g = rng.standard_normal(4), rng.standard_normal(4)
    state = functions.sgd_init(theta)
    theta1, state = functions.sgd_step(theta, g, state, lr=0.1)
    theta2, state = functions.sgd_step(theta1, g, state, lr=0.01)
    np.testing.assert_allclose(theta1, theta - 0.1 * g, rtol=1e-14)
    np.testing.assert_allclose(theta2, theta1 - 0.01 * g, rtol=1e-14)
    theta32, _ = functions.sgd_step(theta.astype(np.float32), g.astype(np.float32),
                                    functions.sgd_init(theta), lr=0.1)  # fmt: skip
    assert theta32.dtype == np.float32


def test_momentum_is_optax_trace_with_lr_outside_and_nesterov_its_shifted_form(functions, rng):
    # optax.sgd(momentum=α) keeps lr out of its trace: the reference's lr_outside variant
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
    with pytest.raises(TypeError, match=r"no momentum_step\(variant='classic'\)"):
        functions.momentum_step(theta, grads[0], functions.momentum_init(theta), lr=0.1,
                                variant="classic")  # fmt: skip
    # optax.sgd(nesterov=True) steps its stored (shifted) point: m ← g + αm, θ ← θ − lr(g + αm)
    # (optax transform.trace); the checks compare it with the reference's look-ahead form
    mine, state, m = theta, functions.nesterov_init(theta), np.zeros(4)
    for g, lr in zip(grads, rates, strict=True):
        m = g + 0.9 * m
        expected = mine - lr * (g + 0.9 * m)
        mine, state = functions.nesterov_step(mine, g, state, lr=lr, alpha=0.9)
        np.testing.assert_allclose(mine, expected, rtol=1e-12, atol=1e-14)


def test_adagrad_starts_its_accumulator_at_zero_with_eps_inside_the_root(functions, rng):
    # initial_accumulator_value=0 (optax's default is 0.1); ε inside the root is optax's own
    theta, g1, g2 = (rng.standard_normal(4) for _ in range(3))
    state = functions.adagrad_init(theta)
    theta1, state = functions.adagrad_step(theta, g1, state, lr=0.1, eps=1e-3)
    theta2, _ = functions.adagrad_step(theta1, g2, state, lr=0.1, eps=1e-3)
    np.testing.assert_allclose(theta1, theta - 0.1 * g1 / np.sqrt(g1**2 + 1e-3), rtol=1e-13)
    r = g1**2 + g2**2
    np.testing.assert_allclose(theta2, theta1 - 0.1 * g2 / np.sqrt(r + 1e-3), rtol=1e-13)
    with pytest.raises(TypeError, match=r"no adagrad_step\(variant='root_sum'\)"):
        functions.adagrad_step(theta, g1, functions.adagrad_init(theta), lr=0.1,
                               variant="root_sum")  # fmt: skip


def test_adam_and_adamw_are_offered_through_the_weight_decay_mode(functions, rng):
    # a (2, 3) θ: stepped flattened and zero-padded to 8 coordinates, its shape given back
    theta, g = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    for mode in ("l2", "decoupled"):
        mine, _ = functions.adam_step(theta, g, functions.adam_init(theta), lr=0.1,
                                      weight_decay=0.3, weight_decay_mode=mode)  # fmt: skip
        want, _ = optimizers.adam_step(theta, g, optimizers.adam_init(theta), lr=0.1,
                                       weight_decay=0.3, weight_decay_mode=mode)  # fmt: skip
        np.testing.assert_allclose(mine, want, rtol=1e-12, atol=1e-14)
    # optax.adam, the keyword left out, takes no weight decay: no mode is chosen for it
    with pytest.raises(NotImplementedError, match="takes no weight decay"):
        functions.adam_step(theta, g, functions.adam_init(theta), lr=0.1, weight_decay=0.3)
    plain, _ = functions.adam_step(theta, g, functions.adam_init(theta), lr=0.1)
    want, _ = optimizers.adam_step(theta, g, optimizers.adam_init(theta), lr=0.1)
    np.testing.assert_allclose(plain, want, rtol=1e-12, atol=1e-14)


def test_optimizer_state_is_not_modified_by_a_step(functions, rng):
    # stepping twice from one state gives the same result, as with the reference's pure steps
    theta, g = rng.standard_normal(5), rng.standard_normal(5)
    _, state = functions.adam_step(theta, g, functions.adam_init(theta), lr=0.1)
    first, _ = functions.adam_step(theta, g, state, lr=0.1)
    again, _ = functions.adam_step(theta, -g, state, lr=0.1)
    again, _ = functions.adam_step(theta, g, state, lr=0.1)
    np.testing.assert_array_equal(first, again)
    with pytest.raises(TypeError, match="state must come from adam_init"):
        functions.adam_step(theta, g, functions.sgd_init(theta), lr=0.1)


def test_weight_decay_is_add_decayed_weights_at_twice_lambda(functions, rng):
    g, theta = rng.standard_normal(4), rng.standard_normal(4)
    np.testing.assert_allclose(functions.weight_decay(g, theta, lam=0.3),
                               optimizers.weight_decay(g, theta, lam=0.3), rtol=1e-15)  # fmt: skip


def test_batch_norm_momentum_is_the_old_values_weight_and_three_gradients_come_back(functions, rng):
    # mean and spread of one scale: flax's one-pass variance is exact enough here
    x = rng.standard_normal((4, 3, 2, 2))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    mean, var = rng.standard_normal(3), rng.random(3) + 0.5
    out = functions.batch_norm(x, gamma, beta, mean, var, training=True, momentum=0.8)
    want = normalization.batch_norm(x, gamma, beta, mean, var, momentum=0.8)  # biased
    np.testing.assert_allclose(out.y, want.y, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out.running_mean, want.running_mean, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(out.running_var, want.running_var, rtol=1e-10)
    np.testing.assert_array_equal(mean, want.running_mean * 0 + mean)  # caller's stats kept
    dy = rng.standard_normal(x.shape)
    grads = functions.batch_norm_backward(dy, out.cache)
    assert grads[:3] == (None, None, None)
    want_grads = normalization.batch_norm_backward(dy, want.cache)
    for got, expected in zip(grads[3:], want_grads[3:], strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-11)
    # evaluation: use_running_average, the running statistics unchanged
    evaluation = functions.batch_norm(x, gamma, beta, mean, var, training=False)
    expected = normalization.batch_norm(x, gamma, beta, mean, var, training=False)
    np.testing.assert_allclose(evaluation.y, expected.y, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(evaluation.running_mean, mean)
    with pytest.raises(TypeError, match=r"no batch_norm\(running_var_estimator='unbiased'\)"):
        functions.batch_norm(x, gamma, beta, mean, var, running_var_estimator="unbiased")


def test_group_and_weight_norm_map_the_channel_axis(functions, rng):
    x, gamma, beta = rng.standard_normal((2, 4, 3)), rng.standard_normal(4), rng.random(4)
    np.testing.assert_allclose(functions.group_norm(x, gamma, beta, num_groups=2),
                               normalization.group_norm(x, gamma, beta, num_groups=2),
                               rtol=1e-9, atol=1e-11)  # fmt: skip
    v, g = rng.standard_normal((3, 5)), rng.standard_normal(3)
    np.testing.assert_allclose(functions.weight_norm(v, g), normalization.weight_norm(v, g),
                               rtol=1e-10)  # fmt: skip


def test_spectral_norm_returns_u_and_sigma_but_no_v(functions, rng):
    W, u = rng.standard_normal((3, 4)), rng.standard_normal(3)
    u = u / np.linalg.norm(u)
    out = functions.spectral_norm(W, u, n_power_iterations=2)
    want = normalization.spectral_norm(W, u, n_power_iterations=2)
    np.testing.assert_allclose(out.weight, want.weight, rtol=1e-10)
    np.testing.assert_allclose(out.u, want.u, rtol=1e-10, atol=1e-14)
    assert out.v is None
    np.testing.assert_allclose(out.sigma, want.sigma, rtol=1e-12)
    with pytest.raises(NotImplementedError, match="n_steps < 1"):
        functions.spectral_norm(W, u, rng.standard_normal(4), n_power_iterations=0)


def test_dropout_rate_is_one_minus_keep_probability(functions):
    x = np.ones((100, 100))
    a = functions.dropout_sample(x, p=0.75, rng=np.random.default_rng(3))
    b = functions.dropout_sample(x, p=0.75, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)  # the PRNGKey comes from rng: repeatable
    assert set(np.unique(a)) <= {0.0, 1 / 0.75}  # flax's own (inverted) scaling, not ours
    assert abs(np.mean(a != 0) - 0.75) < 0.02  # keeps p, drops rate = 1 − p
    np.testing.assert_array_equal(
        functions.dropout_sample(x, p=0.75, rng=np.random.default_rng(3), training=False), x
    )
    with pytest.raises(TypeError, match=r"no dropout_sample\(variant='standard'\)"):
        functions.dropout_sample(x, p=0.75, rng=np.random.default_rng(3), variant="standard")


def test_initialisers_draw_the_reference_layout_with_jax_fans(functions):
    w = functions.he_init(6, 4, np.random.default_rng(0), distribution="uniform")
    assert w.shape == (4, 6) and np.all(np.abs(w) <= np.sqrt(6 / 6))
    conv = functions.glorot_init(3 * 4, 2 * 4, np.random.default_rng(0), shape=(2, 3, 2, 2))
    assert conv.shape == (2, 3, 2, 2)
    with pytest.raises(NotImplementedError, match="jax derives fan_in"):
        functions.glorot_init(5, 7, np.random.default_rng(0), shape=(2, 3))
    large = functions.glorot_init(400, 300, np.random.default_rng(1))
    assert abs(large.var() / (2 / 700) - 1) < 0.03  # the documented variance, truncated or not
    # JAX's default glorot_normal is truncated at 2σ before rescaling (none beyond 2/0.88 σ);
    # distribution="normal" is variance_scaling's untruncated normal (about 0.5% beyond 2.3σ)
    sigma = np.sqrt(2 / 700)
    assert np.max(np.abs(large)) <= 2 / 0.8796 * sigma * (1 + 1e-6)
    normal = functions.glorot_init(400, 300, np.random.default_rng(1), distribution="normal")
    assert abs(normal.var() / sigma**2 - 1) < 0.03
    assert 0.003 < np.mean(np.abs(normal) > 2.3 * sigma) < 0.03


def test_losses_are_optax_unreduced_terms_and_a_reduced_call_is_not_offered(functions, rng):
    # reduction="none" only: mse's variant names optax's function (l2_loss ½d², squared_error
    # d²); the backward is the VJP with dy of the terms' shape. 7 elements, 3 rows: padded
    y_hat, y, dy = rng.standard_normal((3, 7, 1)) * 2
    for variant, factor in (("half", 0.5), ("half_per_example", 0.5), ("mean", 1.0), ("sum", 1.0)):
        terms = functions.mse(y_hat, y, variant=variant, reduction="none")
        np.testing.assert_allclose(terms, factor * (y_hat - y) ** 2, rtol=1e-14)
        grad = functions.mse_backward(y_hat, y, dy, variant=variant, reduction="none")
        np.testing.assert_allclose(grad, 2 * factor * (y_hat - y) * dy, rtol=1e-14)
    z, soft = rng.standard_normal(5) * 5, rng.uniform(size=5)
    np.testing.assert_allclose(
        functions.binary_cross_entropy_with_logits(z, soft, reduction="none"),
        losses.binary_cross_entropy_with_logits(z, soft, reduction="none"), rtol=1e-13,
    )  # fmt: skip
    logits, labels, dz = rng.standard_normal((3, 4)), np.array([3, 0, 1]), rng.standard_normal(3)
    terms = functions.cross_entropy(logits, labels, reduction="none")
    assert terms.shape == (3,) and terms.dtype == np.float64  # the padded rows sliced off
    np.testing.assert_allclose(terms, losses.cross_entropy(logits, labels, reduction="none"),
                               rtol=1e-14)  # fmt: skip
    grad = functions.cross_entropy_backward(logits.astype(np.float32), labels, dz,
                                            reduction="none")  # fmt: skip
    assert grad.shape == (3, 4) and grad.dtype == np.float32
    np.testing.assert_allclose(grad, losses.cross_entropy_backward(logits, labels, dz,
                               reduction="none"), rtol=1e-5, atol=1e-7)  # fmt: skip
    # a reduced call would be adapter arithmetic: NotImplementedError (unsupported example);
    # a reduction or reduced variant optax lacks: TypeError (unsupported mode); mse's variant
    # left out: optax has no default of its two squared losses
    for reduced in (
        lambda: functions.mse(y_hat, y),
        lambda: functions.mse(y_hat, y, reduction="none"),
        lambda: functions.cross_entropy(logits, labels),
        lambda: functions.binary_cross_entropy_with_logits_backward(z, soft),
    ):
        with pytest.raises(NotImplementedError):
            reduced()
    for refused in (
        lambda: functions.mse(y_hat, y, variant="sum"),
        lambda: functions.cross_entropy(logits, labels, reduction="mean"),
    ):
        with pytest.raises(TypeError):
            refused()
