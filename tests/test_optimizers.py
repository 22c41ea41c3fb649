"""The optimisers of the reference against ground truth that does not come from it: three-step
trajectories derived by hand and written out as numbers or arithmetic in each test, closed-form
properties (Adam's first step is −lr·sign(g)), and, where PyTorch is installed, its optimisers
for the variants that the docstrings say PyTorch implements.

Most problems are L(θ) = θ², g = 2θ, θ₀ = 1, ε = 0.1. The adaptive methods are fed scripted
gradient sequences chosen so that the roots come out whole (g = 1, 11, 5 for Adam with
β₁ = β₂ = 0.5 gives √r̂ = 1, 9, 7).
"""

import numpy as np
import pytest

from nnconform.reference import optimizers as opt

THETA0 = np.array([1.0])


def quadratic(theta):
    """∇ of L(θ) = θ²."""
    return 2.0 * theta


def scripted(*gs, seen=None):
    """A gradient function that returns gs[0], gs[1], … in turn, recording where it was
    called in ``seen`` (a list)."""
    values = iter(gs)

    def grad_fn(theta):
        if seen is not None:
            seen.append(float(theta[0]))
        return np.array([next(values)])

    return grad_fn


def path(name, grad_fn, steps=3, **kw):
    return opt.trajectory(name, THETA0, grad_fn, steps, **kw)[:, 0]


def close(actual, expected, rtol=1e-12):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=1e-15)


# --- gradient descent and SGD -----------------------------------------------------------


@pytest.mark.parametrize("name", ["gd", "sgd"])
def test_gradient_descent_on_a_quadratic_multiplies_theta_by_one_minus_2lr(name):
    # θ ← θ − 0.1·2θ = 0.8θ
    close(path(name, quadratic, lr=0.1), [0.8, 0.64, 0.512])


def test_sgd_weight_decay_adds_wd_theta_to_the_gradient():
    # θ ← θ − 0.1·(2θ + 0.5θ) = 0.75θ
    close(path("sgd", quadratic, lr=0.1, weight_decay=0.5), [0.75, 0.5625, 0.421875])


def test_sgd_state_is_empty_and_theta_is_not_modified_in_place():
    theta = np.array([1.0, -2.0])
    state = opt.sgd_init(theta)
    assert state == () and isinstance(state, opt.SGDState)
    new, _ = opt.sgd_step(theta, [1.0, 1.0], state, lr=0.5)
    close(new, [0.5, -2.5])
    close(theta, [1.0, -2.0])


def test_weight_decay_adds_twice_lambda_theta():
    close(opt.weight_decay([1.0, -1.0], [2.0, 3.0], lam=0.25), [1.0 + 2 * 0.25 * 2.0, -1.0 + 1.5])


# --- momentum ---------------------------------------------------------------------------


def test_momentum_classic_by_hand():
    # v = 0.9·0 − 0.1·2 = −0.2, θ = 0.8
    # v = 0.9·(−0.2) − 0.1·1.6 = −0.34, θ = 0.46
    # v = 0.9·(−0.34) − 0.1·0.92 = −0.398, θ = 0.062
    close(path("momentum", quadratic, lr=0.1, alpha=0.9), [0.8, 0.46, 0.062])


def test_momentum_ema_by_hand():
    # V = 0.1·2 = 0.2, θ = 1 − 0.02 = 0.98
    # V = 0.9·0.2 + 0.1·1.96 = 0.376, θ = 0.98 − 0.0376 = 0.9424
    # V = 0.9·0.376 + 0.1·1.8848 = 0.52688, θ = 0.9424 − 0.052688 = 0.889712
    close(path("momentum", quadratic, lr=0.1, variant="ema"), [0.98, 0.9424, 0.889712])


def test_momentum_lr_outside_by_hand():
    # v = 2, θ = 0.8;  v = 0.9·2 + 1.6 = 3.4, θ = 0.8 − 0.34 = 0.46
    # v = 0.9·3.4 + 0.92 = 3.98, θ = 0.46 − 0.398 = 0.062
    close(path("momentum", quadratic, lr=0.1, variant="lr_outside"), [0.8, 0.46, 0.062])


def test_momentum_classic_and_lr_outside_agree_while_lr_is_constant(rng):
    theta0 = rng.standard_normal(5)
    scales = rng.uniform(0.5, 2.0, 5)

    def grad_fn(theta):
        return scales * theta + np.sin(theta)

    a = opt.trajectory("momentum", theta0, grad_fn, 20, lr=0.05, variant="classic")
    b = opt.trajectory("momentum", theta0, grad_fn, 20, lr=0.05, variant="lr_outside")
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_momentum_classic_and_lr_outside_differ_once_lr_changes():
    lr = [0.1, 0.2, 0.2]
    # classic:    v = −0.2, θ = 0.8;  v = −0.18 − 0.2·1.6 = −0.5, θ = 0.3
    #             v = −0.45 − 0.2·0.6 = −0.57, θ = −0.27
    # lr_outside: v = 2, θ = 0.8;  v = 1.8 + 1.6 = 3.4, θ = 0.8 − 0.68 = 0.12
    #             v = 3.06 + 0.24 = 3.3, θ = 0.12 − 0.66 = −0.54
    close(path("momentum", quadratic, lr=lr), [0.8, 0.3, -0.27])
    close(path("momentum", quadratic, lr=lr, variant="lr_outside"), [0.8, 0.12, -0.54])


# --- Nesterov ---------------------------------------------------------------------------


def test_nesterov_takes_the_gradient_at_the_look_ahead_point():
    seen = []

    def grad_fn(theta):
        seen.append(float(theta[0]))
        return 2.0 * theta

    # θ̃ = 1,                        g = 2,      v = −0.2,                      θ = 0.8
    # θ̃ = 0.8 + 0.9·(−0.2) = 0.62,  g = 1.24,   v = −0.18 − 0.124 = −0.304,    θ = 0.496
    # θ̃ = 0.496 − 0.2736 = 0.2224,  g = 0.4448, v = −0.2736 − 0.04448 = −0.31808, θ = 0.17792
    close(path("nesterov", grad_fn, lr=0.1, alpha=0.9), [0.8, 0.496, 0.17792])
    close(seen, [1.0, 0.62, 0.2224])


def test_nesterov_lookahead_is_theta_plus_alpha_v():
    state = opt.NesterovState(v=np.array([2.0, -4.0]))
    close(opt.nesterov_lookahead([1.0, 1.0], state, alpha=0.5), [2.0, -1.0])
    state = opt.RMSPropNesterovState(v=np.array([2.0]), r=np.array([1.0]))
    close(opt.rmsprop_nesterov_lookahead([1.0], state, alpha=0.25), [1.5])


# --- AdaGrad ----------------------------------------------------------------------------

# Scripted g = 1, 7, 5: Σg² = 1, 50, 75, so √r = 1, √50, √75 and σ = √(Σg²/t) = 1, 5, 5.
DELTA = 1e-7


def test_adagrad_root_sum_by_hand():
    t1 = 1 - 0.1 * 1 / (DELTA + 1)
    t2 = t1 - 0.1 * 7 / (DELTA + np.sqrt(50))
    t3 = t2 - 0.1 * 5 / (DELTA + np.sqrt(75))
    close(path("adagrad", scripted(1, 7, 5), lr=0.1), [t1, t2, t3])


def test_adagrad_eps_inside_by_hand():
    # optax / Keras: ε/√(r + δ)
    t1 = 1 - 0.1 * 1 / np.sqrt(1 + DELTA)
    t2 = t1 - 0.1 * 7 / np.sqrt(50 + DELTA)
    t3 = t2 - 0.1 * 5 / np.sqrt(75 + DELTA)
    close(path("adagrad", scripted(1, 7, 5), lr=0.1, variant="eps_inside"), [t1, t2, t3])


def test_adagrad_lee_divides_by_the_root_mean_square():
    t1 = 1 - 0.1 * 1 / (DELTA + 1)  # ≈ 0.9
    t2 = t1 - 0.1 * 7 / (DELTA + 5)  # ≈ 0.76
    t3 = t2 - 0.1 * 5 / (DELTA + 5)  # ≈ 0.66
    close(path("adagrad", scripted(1, 7, 5), lr=0.1, variant="lee"), [t1, t2, t3])
    close(path("adagrad", scripted(1, 7, 5), lr=0.1, variant="lee"), [0.9, 0.76, 0.66], 1e-6)


def test_adagrad_state_counts_steps_and_sums_squares():
    state = opt.adagrad_init([0.0, 0.0])
    for g in ([1.0, 2.0], [3.0, 0.0]):
        _, state = opt.adagrad_step([0.0, 0.0], g, state, lr=1.0)
    assert state.t == 2
    close(state.r, [10.0, 4.0])


# --- RMSProp ----------------------------------------------------------------------------

# ρ = 0.75 and scripted g = 2, 1, 1 give r = 0.25·4 = 1, 0.75 + 0.25 = 1, 1. With δ = 0.21
# the root √(δ + r) is 1.1 and √r + δ is 1.21: the variants differ in the second digit.


def test_rmsprop_eps_inside_by_hand():
    expected = [1 - 0.2 / 1.1, 1 - 0.3 / 1.1, 1 - 0.4 / 1.1]
    close(path("rmsprop", scripted(2, 1, 1), lr=0.1, rho=0.75, eps=0.21), expected)


def test_rmsprop_eps_outside_by_hand():
    expected = [1 - 0.2 / 1.21, 1 - 0.3 / 1.21, 1 - 0.4 / 1.21]
    got = path("rmsprop", scripted(2, 1, 1), lr=0.1, rho=0.75, eps=0.21, variant="eps_outside")
    close(got, expected)


def test_rmsprop_nesterov_by_hand():
    seen = []
    # α = 0.5, ρ = 0.75, g = 2, 1, 1 so √r = 1 throughout:
    # θ̃ = 1,                 v = −0.1·2 = −0.2,         θ = 0.8
    # θ̃ = 0.8 − 0.1 = 0.7,   v = −0.1 − 0.1·1 = −0.2,   θ = 0.6
    # θ̃ = 0.6 − 0.1 = 0.5,   v = −0.2,                  θ = 0.4
    got = path("rmsprop_nesterov", scripted(2, 1, 1, seen=seen), lr=0.1, alpha=0.5, rho=0.75)
    close(got, [0.8, 0.6, 0.4])
    close(seen, [1.0, 0.7, 0.5])


def test_rmsprop_nesterov_leaves_coordinates_with_zero_gradients_in_place():
    theta, state = np.array([1.0, 1.0]), opt.rmsprop_nesterov_init([1.0, 1.0])
    new, state = opt.rmsprop_nesterov_step(theta, [0.0, 4.0], state, lr=0.1, rho=0.75)
    # r = (0, 4); the first coordinate's 0/√0 is taken as 0, the second moves by 0.1·4/2
    close(new, [1.0, 0.8])
    close(state.r, [0.0, 4.0])


# --- Adam -------------------------------------------------------------------------------

# β₁ = β₂ = 0.5 and g = 1, 11, 5:
#   ŝ = 1, (1 + 2·11)/3 = 23/3, (1 + 2·11 + 4·5)/7 = 43/7
#   r̂ = 1, (1 + 2·121)/3 = 81, (1 + 242 + 100)/7 = 49    so √r̂ = 1, 9, 7
ADAM = {"beta1": 0.5, "beta2": 0.5, "lr": 0.1}
ADAM_STEPS = [0.1 * 1 / (1 + 1e-8), 0.1 * (23 / 3) / (9 + 1e-8), 0.1 * (43 / 7) / (7 + 1e-8)]


def test_adam_by_hand():
    t1 = 1 - ADAM_STEPS[0]
    t2 = t1 - ADAM_STEPS[1]
    t3 = t2 - ADAM_STEPS[2]
    close(path("adam", scripted(1, 11, 5), **ADAM), [t1, t2, t3])


def test_adam_efficient_form_by_hand():
    # Kingma & Ba §2: ε_t = ε√(1 − β₂ᵗ)/(1 − β₁ᵗ), θ ← θ − ε_t s/(√r + δ), on the raw
    # moments; δ = 0.5 makes the difference from Algorithm 1 (0.1/(1 + δ) at t = 1) plain.
    # s, r after g = 1, 11: 0.5, 0.5 then 5.75, 60.75
    t1 = 1 - 0.1 / (1 + 0.5 / np.sqrt(0.5))
    t2 = t1 - 0.1 / np.sqrt(0.75) * 5.75 / (np.sqrt(60.75) + 0.5)
    close(path("adam", scripted(1, 11), steps=2, form="efficient", **ADAM | {"eps": 0.5}),
          [t1, t2])  # fmt: skip
    standard = path("adam", scripted(1, 11), steps=2, **ADAM | {"eps": 0.5})
    close(standard[0], 1 - 0.1 / (1 + 0.5))


def test_adam_forms_agree_as_delta_vanishes(rng):
    g = rng.standard_normal(5)
    kw = ADAM | {"eps": 1e-300}
    efficient = path("adam", scripted(*g), steps=5, form="efficient", **kw)
    close(efficient, path("adam", scripted(*g), steps=5, **kw), rtol=1e-13)


def test_adam_l2_weight_decay_adds_wd_theta_before_the_moments():
    # the loss gradient c − 0.5θ plus wd·θ = 0.5θ is exactly c = 1, 11, 5: the same path as
    # plain Adam on 1, 11, 5 (decoupled decay would not cancel like this)
    targets = iter([1.0, 11.0, 5.0])

    def grad_fn(theta):
        return next(targets) - 0.5 * theta

    t1 = 1 - ADAM_STEPS[0]
    t2 = t1 - ADAM_STEPS[1]
    t3 = t2 - ADAM_STEPS[2]
    close(path("adam", grad_fn, weight_decay=0.5, **ADAM), [t1, t2, t3])


def test_adam_decoupled_weight_decay_shrinks_theta_by_one_minus_lr_wd():
    # θ ← θ(1 − 0.1·0.5) − step, the Adam step untouched by the decay
    t1 = 0.95 * 1 - ADAM_STEPS[0]  # ≈ 0.85
    t2 = 0.95 * t1 - ADAM_STEPS[1]
    t3 = 0.95 * t2 - ADAM_STEPS[2]
    got = path("adam", scripted(1, 11, 5), weight_decay=0.5, weight_decay_mode="decoupled", **ADAM)
    close(got, [t1, t2, t3])


def test_adam_first_step_is_minus_lr_times_the_sign_of_g(rng):
    theta = rng.standard_normal(50)
    g = rng.choice([-1.0, 1.0], 50) * 10.0 ** rng.uniform(-3, 3, 50)  # |g| ≥ 1e-3
    new, state = opt.adam_step(theta, g, opt.adam_init(theta), lr=0.01)
    # ŝ = g, √r̂ = |g|: the step is −lr·g/(|g| + δ), −lr·sign(g) to within δ/|g| ≤ 1e-5
    np.testing.assert_allclose(new - theta, -0.01 * np.sign(g), rtol=1e-5)
    assert state.t == 1


# --- the unified form -------------------------------------------------------------------


def test_unified_with_bias_correction_is_adam_by_hand():
    t1 = 1 - ADAM_STEPS[0]
    t2 = t1 - ADAM_STEPS[1]
    t3 = t2 - ADAM_STEPS[2]
    close(path("unified", scripted(1, 11, 5), **ADAM), [t1, t2, t3])


def test_unified_without_momentum_or_bias_correction_is_rmsprop_eps_outside_by_hand():
    expected = [1 - 0.2 / 1.21, 1 - 0.3 / 1.21, 1 - 0.4 / 1.21]
    got = path(
        "unified", scripted(2, 1, 1), lr=0.1, beta1=0.0, beta2=0.75, eps=0.21,
        bias_correction=False,
    )  # fmt: skip
    close(got, expected)


def test_unified_without_rms_is_momentum_ema_by_hand():
    got = path("unified", quadratic, lr=0.1, beta1=0.9, beta2=None, bias_correction=False)
    close(got, [0.98, 0.9424, 0.889712])


# --- per-step learning rates ------------------------------------------------------------


def test_trajectory_takes_one_learning_rate_per_step():
    # θ ← θ(1 − 2ε_t): 1·0.8 = 0.8, 0.8·0.6 = 0.48, 0.48·0.4 = 0.192
    close(path("gd", quadratic, lr=[0.1, 0.2, 0.3]), [0.8, 0.48, 0.192])
    close(path("gd", quadratic, lr=np.array([0.1, 0.2, 0.3])), [0.8, 0.48, 0.192])


def test_trajectory_has_one_row_per_step_and_keeps_the_shape(rng):
    theta0 = rng.standard_normal((2, 3))
    for name in opt.OPTIMIZERS:
        out = opt.trajectory(name, theta0, quadratic, 4, lr=0.01)
        assert out.shape == (4, 2, 3) and out.dtype == np.float64
        assert np.all(np.abs(out[-1]) < np.abs(theta0)), name  # every one descends θ²


def test_optimizers_table_lists_init_step_and_lookahead():
    assert set(opt.OPTIMIZERS) == {
        "gd", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "rmsprop_nesterov",
        "adam", "unified",
    }  # fmt: skip
    assert opt.OPTIMIZERS["nesterov"].lookahead is opt.nesterov_lookahead
    assert opt.OPTIMIZERS["adam"] == (opt.adam_init, opt.adam_step, None)


# --- against PyTorch, where it is installed ---------------------------------------------


def torch_path(optimizer, grads, **kw):
    """θ after each step of ``torch.optim.<optimizer>(**kw)`` fed the raw gradients ``grads``."""
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    step = getattr(torch.optim, optimizer)([p], **kw)
    out = []
    for g in grads:
        p.grad = torch.tensor([g], dtype=torch.float64)
        step.step()
        out.append(p.item())
    return out


@pytest.mark.parametrize(
    ("name", "kw", "optimizer", "torch_kw"),
    [
        ("sgd", {"weight_decay": 0.3}, "SGD", {"weight_decay": 0.3}),
        ("momentum", {"variant": "lr_outside", "alpha": 0.8}, "SGD", {"momentum": 0.8}),
        ("adagrad", {"eps": 1e-10}, "Adagrad", {"eps": 1e-10}),
        ("rmsprop", {"variant": "eps_outside", "rho": 0.75, "eps": 0.21}, "RMSprop",
         {"alpha": 0.75, "eps": 0.21}),
        ("adam", {"weight_decay": 0.5}, "Adam", {"weight_decay": 0.5}),
        ("adam", {"weight_decay": 0.5, "weight_decay_mode": "decoupled"}, "AdamW",
         {"weight_decay": 0.5}),
    ],
)  # fmt: skip
def test_the_pytorch_variants_match_pytorch(name, kw, optimizer, torch_kw):
    grads = [1.0, -3.0, 0.5, 2.0]  # raw loss gradients; each side applies its weight decay
    expected = torch_path(optimizer, grads, lr=0.1, **torch_kw)
    close(path(name, scripted(*grads), steps=4, lr=0.1, **kw), expected, rtol=1e-12)


# --- bad input --------------------------------------------------------------------------


def step_of(name):
    init, step, _ = opt.OPTIMIZERS[name]
    return init, step


@pytest.mark.parametrize("name", list(opt.OPTIMIZERS))
@pytest.mark.parametrize("lr", [0.0, -0.1])
def test_every_step_rejects_a_learning_rate_that_is_not_positive(name, lr):
    init, step = step_of(name)
    with pytest.raises(ValueError, match="lr must be positive"):
        step([1.0], [1.0], init([1.0]), lr=lr)


@pytest.mark.parametrize("name", list(opt.OPTIMIZERS))
def test_every_step_rejects_a_non_finite_learning_rate(name):
    init, step = step_of(name)
    with pytest.raises(ValueError, match="lr must be finite"):
        step([1.0], [1.0], init([1.0]), lr=float("nan"))


@pytest.mark.parametrize("name", list(opt.OPTIMIZERS))
def test_every_step_rejects_theta_and_g_of_different_shapes(name):
    init, step = step_of(name)
    with pytest.raises(ValueError, match=r"shapes must match, got theta \(2,\), g \(3,\)"):
        step([1.0, 2.0], [1.0, 2.0, 3.0], init([1.0, 2.0]), lr=0.1)


@pytest.mark.parametrize("name", [n for n in opt.OPTIMIZERS if n not in ("gd", "sgd")])
def test_every_step_rejects_a_state_of_another_shape(name):
    init, step = step_of(name)
    with pytest.raises(ValueError, match=r"shapes must match.*state\."):
        step([1.0, 2.0], [1.0, 2.0], init([1.0]), lr=0.1)


@pytest.mark.parametrize("name", list(opt.OPTIMIZERS))
def test_every_step_rejects_the_state_of_another_optimizer(name):
    _, step = step_of(name)
    other = opt.adagrad_init([1.0]) if name != "adagrad" else opt.adam_init([1.0])
    with pytest.raises(TypeError, match="state must be a"):
        step([1.0], [1.0], other, lr=0.1)


@pytest.mark.parametrize(
    ("name", "keyword", "value"),
    [
        ("momentum", "alpha", 1.0),
        ("momentum", "alpha", -0.1),
        ("nesterov", "alpha", 1.0),
        ("rmsprop", "rho", 1.0),
        ("rmsprop_nesterov", "rho", -0.5),
        ("rmsprop_nesterov", "alpha", 1.5),
        ("adam", "beta1", 1.0),
        ("adam", "beta2", -0.1),
        ("unified", "beta1", 1.0),
        ("unified", "beta2", 1.0),
    ],
)
def test_decay_rates_must_lie_in_zero_one(name, keyword, value):
    init, step = step_of(name)
    with pytest.raises(ValueError, match=rf"{keyword} must be in \[0, 1\), got"):
        step([1.0], [1.0], init([1.0]), lr=0.1, **{keyword: value})


@pytest.mark.parametrize(
    ("init", "lookahead"),
    [
        (opt.nesterov_init, opt.nesterov_lookahead),
        (opt.rmsprop_nesterov_init, opt.rmsprop_nesterov_lookahead),
    ],
)
def test_lookahead_rejects_alpha_outside_zero_one(init, lookahead):
    state = init([1.0])
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\)"):
        lookahead([1.0], state, alpha=1.0)
    with pytest.raises(ValueError, match="shapes must match"):
        lookahead([1.0, 2.0], state, alpha=0.5)
    with pytest.raises(TypeError, match="state must be a"):
        lookahead([1.0], opt.adam_init([1.0]), alpha=0.5)


@pytest.mark.parametrize(("name", "eps"), [("adagrad", 0.0), ("rmsprop", -1e-8), ("adam", 0.0),
                                           ("unified", -1.0)])  # fmt: skip
def test_eps_must_be_positive(name, eps):
    init, step = step_of(name)
    with pytest.raises(ValueError, match="eps must be positive"):
        step([1.0], [1.0], init([1.0]), lr=0.1, eps=eps)


@pytest.mark.parametrize(
    ("name", "keyword", "value", "error", "message"),
    [
        ("momentum", "alpha", float("inf"), ValueError, "alpha must be finite"),
        ("adam", "beta1", "0.9", TypeError, "beta1 must be a real number"),
        ("momentum", "variant", "nesterov", ValueError, "variant must be one of 'classic'"),
        ("adagrad", "variant", "rms", ValueError, "variant must be one of 'root_sum', 'lee'"),
        ("rmsprop", "variant", "inside", ValueError, "variant must be one of 'eps_inside'"),
        ("adam", "weight_decay_mode", "adamw", ValueError, "weight_decay_mode must be one of"),
        ("adam", "weight_decay", -0.1, ValueError, "weight_decay must be non-negative"),
        ("sgd", "weight_decay", -1.0, ValueError, "weight_decay must be non-negative"),
        ("unified", "bias_correction", 1, TypeError, "bias_correction must be True or False"),
    ],
)
def test_bad_hyper_parameters_are_named(name, keyword, value, error, message):
    init, step = step_of(name)
    with pytest.raises(error, match=message):
        step([1.0], [1.0], init([1.0]), lr=0.1, **{keyword: value})


def test_weight_decay_rejects_bad_input():
    with pytest.raises(ValueError, match="lam must be non-negative"):
        opt.weight_decay([1.0], [1.0], lam=-0.1)
    with pytest.raises(ValueError, match="lam must be finite"):
        opt.weight_decay([1.0], [1.0], lam=float("nan"))
    with pytest.raises(ValueError, match=r"shapes must match, got g \(1,\), theta \(2,\)"):
        opt.weight_decay([1.0], [1.0, 2.0], lam=0.1)


def test_trajectory_rejects_an_unknown_name_listing_the_names():
    with pytest.raises(
        ValueError, match=r"name must be one of 'gd', 'sgd', .*'unified', got 'lbfgs'"
    ):
        opt.trajectory("lbfgs", THETA0, quadratic, 3, lr=0.1)


@pytest.mark.parametrize(
    ("steps", "error", "message"),
    [(0, ValueError, "steps must be at least 1"), (2.5, TypeError, "steps must be an integer"),
     (True, TypeError, "steps must be an integer")],
)  # fmt: skip
def test_trajectory_rejects_bad_step_counts(steps, error, message):
    with pytest.raises(error, match=message):
        opt.trajectory("gd", THETA0, quadratic, steps, lr=0.1)


def test_trajectory_rejects_bad_learning_rate_sequences():
    with pytest.raises(ValueError, match=r"lr must be a number or hold one learning rate per step"):
        opt.trajectory("gd", THETA0, quadratic, 3, lr=[0.1, 0.1])
    with pytest.raises(ValueError, match=r"lr\[1\] must be positive, got -0.1"):
        opt.trajectory("gd", THETA0, quadratic, 3, lr=[0.1, -0.1, 0.1])
    with pytest.raises(ValueError, match=r"lr\[2\] must be finite"):
        opt.trajectory("gd", THETA0, quadratic, 3, lr=[0.1, 0.1, float("inf")])
    with pytest.raises(ValueError, match="lr must be positive"):
        opt.trajectory("gd", THETA0, quadratic, 3, lr=0.0)


def test_trajectory_rejects_a_gradient_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"shapes must match, got theta \(1,\), g \(2,\)"):
        opt.trajectory("adam", THETA0, lambda theta: np.ones(2), 3, lr=0.1)
