"""First-order optimisers (catalogue section 3): trajectories against the oracle at every step,
with the variant measured, every documented mode, and the invariants the update rules imply.

Ground truth is ``nnconform.reference.optimizers`` (float64). A target's optimiser state is
opaque: the checks hand it back to the target and compare parameters only. Every
hyper-parameter is passed by the reference's keyword, so that the libraries' differing defaults
(AdaGrad's δ = 1e-7 here, 1e-10 in PyTorch) never decide a verdict. A mode keyword is passed
only by the check of every documented mode (``variant="ema"``, ``weight_decay_mode=
"decoupled"``: the target in that mode against the oracle in the same mode, unsupported where
the target does not take it); every other check leaves it out, so that the target runs in its
own default, and the variant checks measure which documented variant that default is
(``assert_matches_variant``). See ``nnconform.checks.trajectories`` for the Nesterov forms.

Drawn as values (Hypothesis shrinks them): the shape of θ, the number of steps, and the
hyper-parameters the sources name (α, wd, the learning rate or gradient scale where a check
sweeps them). Drawn from a seed (a numpy generator; Hypothesis draws and shrinks the seed):
θ₀, the quadratic whose gradient drives a trajectory, the gradient sequences and the
learning-rate factors of a changing schedule. These are structured (a positive definite
quadratic, sorted magnitudes, signs), and an element shrunk on its own would only break the
structure, not give a simpler counterexample.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnconform.checks.assertions import assert_close, assert_matches_variant, call, fail
from nnconform.checks.strategies import SEEDS, modes, shapes
from nnconform.checks.trajectories import (
    LOOKAHEAD_FORMS,
    assert_trajectory_matches,
    oracle_path,
    quadratic,
    run,
    unpack,
)
from nnconform.reference import optimizers as oracle
from nnconform.reference.registry import entry


@dataclass(frozen=True)
class Spec:
    lr: float
    hyper: dict[str, Any] = field(default_factory=dict)
    scale: float = 1.0  # of the gradient: small where a variant shows only for small gradients
    keyword: str | None = None  # the oracle's variant keyword (the variant checks never pass it)
    variants: tuple[str, ...] = ()
    lookahead: bool = False  # a Nesterov form: the gradient is taken at θ + αv


SPECS = {
    "gd": Spec(0.1),
    "sgd": Spec(0.1, {"weight_decay": 0.0}),
    # classic and lr_outside agree while lr is constant: the changing-lr check separates them
    "momentum": Spec(0.05, {"alpha": 0.9}, keyword="variant",
                     variants=("classic", "ema", "lr_outside")),
    "nesterov": Spec(0.05, {"alpha": 0.9}, lookahead=True),
    # root_sum and lee agree on the first step only (√(r/1) = √r); eps_inside's √(r + δ)
    # differs from √r + δ by ~δ/2 ≈ 5e-8 relative at |g| ~ 1, 500 times the tolerance
    "adagrad": Spec(0.1, {"eps": 1e-7}, keyword="variant",
                    variants=("root_sum", "lee", "eps_inside")),
    # gradients of ~1e-3 put r ≈ 1e-7 next to δ = 1e-6: √(δ + r) and √r + δ differ by ~3x
    "rmsprop": Spec(0.01, {"rho": 0.9, "eps": 1e-6}, scale=1e-3, keyword="variant",
                    variants=("eps_inside", "eps_outside")),
    "rmsprop_nesterov": Spec(0.01, {"alpha": 0.9, "rho": 0.9}, lookahead=True),
    # gradients of ~1e-2 make δ = 1e-8 visible (a δ misplaced inside the root moves the step
    # by ~δ/2g² ≈ 5e-5 relative; the efficient form's δ/√(1 − β₂ᵗ) by ~3e-5 at t = 1)
    "adam": Spec(0.01, {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
                 scale=1e-2, keyword="form", variants=("algorithm_1", "efficient")),
    "unified": Spec(0.01, {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "bias_correction": True},
                    scale=1e-2),
}  # fmt: skip
NESTEROV_FORMS = [name for name, spec in SPECS.items() if spec.lookahead]


def _candidates(name, theta0, gradient, lrs, *, constant_lr=True):
    """The oracle's trajectories, one per documented variant, and the default's name."""
    spec = SPECS[name]
    if spec.keyword:
        paths = {
            v: oracle_path(name, theta0, gradient, lrs, spec.hyper | {spec.keyword: v})[0]
            for v in spec.variants
        }
        return paths, spec.variants[0]
    thetas, shifted = oracle_path(name, theta0, gradient, lrs, spec.hyper)
    if spec.lookahead and constant_lr:
        return dict(zip(LOOKAHEAD_FORMS, (thetas, shifted), strict=True)), "theta"
    return {"theta": thetas}, "theta"


def _setup(seed: int, shape: tuple[int, ...]):
    rng = np.random.default_rng(seed)
    return rng, rng.standard_normal(shape)


@pytest.mark.parametrize("algorithm", list(SPECS))
@given(seed=SEEDS, shape=shapes(max_dims=2, max_side=4),
       steps=st.integers(5, 8))  # fmt: skip
def test_trajectory_matches_the_oracle_at_every_step(target, algorithm, seed, shape, steps):
    spec = SPECS[algorithm]
    _, theta0 = _setup(seed, shape)
    gradient = quadratic(seed, shape, spec.scale)
    lrs = [spec.lr] * steps
    path, calls = run(target, algorithm, theta0, gradient, lrs, spec.hyper)
    candidates, default = _candidates(algorithm, theta0, gradient, lrs)
    assert_trajectory_matches(
        path, candidates, default=default, what=f"{algorithm} trajectory", calls=calls
    )


@pytest.mark.parametrize("algorithm", list(SPECS))
@given(seed=SEEDS, shape=shapes(max_dims=2, max_side=4),
       steps=st.integers(5, 8))  # fmt: skip
def test_trajectory_follows_a_learning_rate_that_changes_between_steps(
    target, algorithm, seed, shape, steps
):
    # separates momentum's classic (ε inside the velocity) from lr_outside, and catches a
    # step that keeps the first learning rate
    spec = SPECS[algorithm]
    if spec.lookahead and target.get(f"{algorithm}_lookahead") is None:
        pytest.skip(
            f"unsupported: target {target.name!r} has no {algorithm}_lookahead; its shifted "
            "variable equals Alg 8.3/8.6 only with a constant learning rate"
        )
    rng, theta0 = _setup(seed, shape)
    gradient = quadratic(seed, shape, spec.scale)
    lrs = [spec.lr * f for f in rng.uniform(0.2, 2.0, steps)]
    path, calls = run(target, algorithm, theta0, gradient, lrs, spec.hyper)
    candidates, default = _candidates(algorithm, theta0, gradient, lrs, constant_lr=False)
    assert_trajectory_matches(
        path, candidates, default=default, what=f"{algorithm} trajectory, lr={lrs}", calls=calls
    )


# Hyper-parameters without which some documented modes coincide: Adam's l2 and decoupled
# weight decay are one algorithm at weight_decay = 0.
MODE_HYPER = {"adam": {"weight_decay": 0.1}}
MODE_CASES = [(name, keyword, mode) for name in SPECS for keyword, mode in modes(name)]


@pytest.mark.parametrize(("algorithm", "keyword", "mode"), MODE_CASES)
@given(seed=SEEDS, shape=shapes(max_dims=2, max_side=4),
       steps=st.integers(3, 4))  # fmt: skip
def test_trajectory_matches_the_oracle_in_every_documented_mode(
    target, algorithm, keyword, mode, seed, shape, steps
):
    # The mode keyword passed to every step, against the oracle in the same mode, over a
    # learning rate that changes between steps (momentum's classic and lr_outside coincide
    # while it is constant; Lee's AdaGrad leaves root_sum from step 2). A target that does not
    # take the keyword is unsupported in that mode; its default is measured by the checks above.
    # An id with a second mode keyword (adam: weight_decay_mode and form) leaves that one to
    # the target's default, measured among its documented values.
    spec = SPECS[algorithm]
    rng, theta0 = _setup(seed, shape)
    gradient = quadratic(seed, shape, spec.scale)
    lrs = [spec.lr * f for f in rng.uniform(0.2, 2.0, steps)]
    hyper = spec.hyper | MODE_HYPER.get(algorithm, {}) | {keyword: mode}
    path, calls = run(target, algorithm, theta0, gradient, lrs, hyper)
    other = [(k, values) for k, values in entry(algorithm).variants.items() if k != keyword]
    candidates, default = {mode: oracle_path(algorithm, theta0, gradient, lrs, hyper)[0]}, mode
    if other:
        (other_keyword, values), default = other[0], other[0][1][0]
        candidates = {
            v: oracle_path(algorithm, theta0, gradient, lrs, hyper | {other_keyword: v})[0]
            for v in values
        }
    assert_trajectory_matches(path, candidates, default=default,
                              what=f"{algorithm}({keyword}={mode!r}) trajectory, lr={lrs}",
                              calls=calls)  # fmt: skip


def _gradients(rng: np.random.Generator, shape, steps: int, scale: float) -> list[np.ndarray]:
    return [scale * rng.uniform(-3, 3, shape) for _ in range(steps)]


@pytest.mark.parametrize("algorithm", list(SPECS))
@given(seed=SEEDS, shape=shapes(max_dims=2, max_side=4))
def test_zero_gradient_leaves_the_parameters_still(target, algorithm, seed, shape):
    spec = SPECS[algorithm]
    _, theta0 = _setup(seed, shape)
    zero = np.zeros(shape)
    path, calls = run(target, algorithm, theta0, lambda k, at: zero, [spec.lr] * 3, spec.hyper,
                      lookahead=False)  # fmt: skip
    assert_close(path, np.stack([theta0] * 3), what=f"{algorithm}: θ after 3 steps with g = 0",
                 call=calls[0], dtype="float64")  # fmt: skip


@pytest.mark.parametrize("algorithm", list(SPECS))
@given(seed=SEEDS, shape=shapes(max_dims=2, max_side=4))
def test_negating_the_gradients_negates_the_update(target, algorithm, seed, shape):
    # every rule is odd in the gradients it has seen (no weight decay): θ_k(−g) − θ₀ = −(θ_k(g)
    # − θ₀), from a fresh state, over 3 steps
    spec = SPECS[algorithm]
    rng, theta0 = _setup(seed, shape)
    gs = _gradients(rng, shape, 3, spec.scale)
    lrs = [spec.lr] * 3
    plus, _ = run(target, algorithm, theta0, lambda k, at: gs[k], lrs, spec.hyper, lookahead=False)
    minus, calls = run(target, algorithm, theta0, lambda k, at: -gs[k], lrs, spec.hyper,
                       lookahead=False)  # fmt: skip
    assert_close(minus, 2 * theta0 - plus, what=f"{algorithm}: θ_k(−g) against 2θ₀ − θ_k(g)",
                 call=calls[0], dtype="float64")  # fmt: skip


@pytest.mark.parametrize("algorithm", list(SPECS))
@given(seed=SEEDS, n=st.integers(2, 8))
def test_permuting_coordinates_permutes_the_update(target, algorithm, seed, n):
    spec = SPECS[algorithm]
    rng, theta0 = _setup(seed, (n,))
    gs = _gradients(rng, (n,), 3, spec.scale)
    perm = rng.permutation(n)
    lrs = [spec.lr] * 3
    path, _ = run(target, algorithm, theta0, lambda k, at: gs[k], lrs, spec.hyper, lookahead=False)
    permuted, calls = run(target, algorithm, theta0[perm], lambda k, at: gs[k][perm], lrs,
                          spec.hyper, lookahead=False)  # fmt: skip
    assert_close(permuted, path[:, perm], what=f"{algorithm} on permuted coordinates {perm}",
                 call=calls[0], dtype="float64")  # fmt: skip


@pytest.mark.algorithm("momentum")
@given(seed=SEEDS, shape=shapes(max_dims=2, max_side=4),
       steps=st.integers(3, 6))  # fmt: skip
def test_momentum_zero_equals_sgd(target, seed, shape, steps):
    # with α = 0 all three forms reduce to θ ← θ − ε_t g, also with a changing ε_t
    rng, theta0 = _setup(seed, shape)
    gradient = quadratic(seed, shape)
    lrs = list(rng.uniform(0.01, 0.2, steps))
    path, calls = run(target, "momentum", theta0, gradient, lrs, {"alpha": 0.0})
    sgd, _ = oracle_path("sgd", theta0, gradient, lrs, {})
    assert_close(path, sgd, what="momentum with alpha=0 against SGD", call=calls[0],
                 dtype="float64")  # fmt: skip


@pytest.mark.algorithm("adam")
@given(seed=SEEDS, shape=shapes(max_dims=2, max_side=4),
       lr=st.sampled_from([1e-3, 1e-2, 0.1]))  # fmt: skip
def test_adam_first_step_is_lr_times_the_sign_of_the_gradient(target, seed, shape, lr):
    # ŝ₁ = g and r̂₁ = g²: θ₁ = θ₀ − ε g/(|g| + δ). With |g| ≥ 1e-2 and δ = 1e-16 the step is
    # ε·sign(g) to 1e-14 relative, inside the float64 tolerance (1e-10 relative, 1e-12
    # absolute), also in the efficient form, whose δ acts as δ/√(1 − β₂) ≈ 32δ at t = 1.
    rng, theta0 = _setup(seed, shape)
    g = rng.choice([-1.0, 1.0], shape) * 10.0 ** rng.uniform(-2, 2, shape)
    hyper = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-16, "weight_decay": 0.0}
    state, _ = call(target, "adam_init", theta0.copy())
    out, c = call(target, "adam_step", theta0.copy(), g, state, lr=lr, **hyper)
    theta1, _ = unpack(out, c, shape, "adam")
    assert_close(theta1, theta0 - lr * np.sign(g), what="adam: θ₁ against θ₀ − lr·sign(g)",
                 call=c, dtype="float64")  # fmt: skip


@pytest.mark.algorithm("adam")
@given(seed=SEEDS, shape=shapes(max_dims=2, max_side=4),
       power=st.integers(-6, 6).filter(bool))  # fmt: skip
def test_adam_is_invariant_to_scaling_the_gradients(target, seed, shape, power):
    # a power of two scales s, r and √r exactly, so only δ (1e-16, or 32 times that in the
    # efficient form, against |g| ≥ 1e-2·2⁻⁶) can tell the two runs apart: by less than 1e-12
    rng, theta0 = _setup(seed, shape)
    gs = [rng.choice([-1.0, 1.0], shape) * 10.0 ** rng.uniform(-2, 1, shape) for _ in range(5)]
    hyper = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-16, "weight_decay": 0.0}
    lrs = [0.01] * 5
    path, _ = run(target, "adam", theta0, lambda k, at: gs[k], lrs, hyper, lookahead=False)
    scaled, calls = run(target, "adam", theta0, lambda k, at: 2.0**power * gs[k], lrs, hyper,
                        lookahead=False)  # fmt: skip
    assert_close(scaled, path, what=f"adam on 2^{power}·g against adam on g", call=calls[0],
                 dtype="float64")  # fmt: skip


@pytest.mark.algorithm("adagrad")
@given(seed=SEEDS, n=st.integers(1, 8), steps=st.integers(3, 8))
def test_adagrad_effective_step_never_grows(target, seed, n, steps):
    # the per-coordinate step ε/(δ + √r_t) can only shrink as Σg² grows. Gradient magnitudes
    # are non-decreasing per coordinate (signs random) so that Lee's root *mean* square grows
    # too: the property then holds in both documented variants.
    rng, theta0 = _setup(seed, (n,))
    magnitudes = np.sort(rng.uniform(0.1, 3.0, (steps, n)), axis=0)
    gs = list(rng.choice([-1.0, 1.0], (steps, n)) * magnitudes)
    lr = 0.1
    path, calls = run(target, "adagrad", theta0, lambda k, at: gs[k], [lr] * steps,
                      SPECS["adagrad"].hyper, lookahead=False)  # fmt: skip
    before = np.concatenate([theta0[None], path[:-1]])
    with np.errstate(all="ignore"):
        effective = (before - path) / (lr * np.stack(gs))  # (steps, n): ε_t/(δ + σ_t)
    for k in range(steps):
        if not np.all(np.isfinite(effective[k])) or np.any(effective[k] <= 0):
            fail(f"adagrad: effective step {effective[k]} at step {k + 1} is not a positive "
                 f"number (gradients {np.stack(gs)})", calls[k])  # fmt: skip
        # 1e-9 relative: the steps are ≥ 1e-2, recovered from θ differences of O(1) values
        if k and np.any(effective[k] > effective[k - 1] * (1 + 1e-9)):
            i = int(np.argmax(effective[k] / effective[k - 1]))
            fail(f"adagrad: the effective step of coordinate {i} grew from "
                 f"{effective[k - 1, i]!r} to {effective[k, i]!r} at step {k + 1} "
                 f"(gradients {np.stack(gs)[:, i]})", calls[k])  # fmt: skip


@pytest.mark.parametrize("algorithm", NESTEROV_FORMS)
@given(seed=SEEDS, shape=shapes(max_dims=2, max_side=4),
       alpha=st.sampled_from([0.5, 0.9, 0.99]))  # fmt: skip
def test_gradient_is_taken_at_the_look_ahead_point(target, algorithm, seed, shape, alpha):
    # Alg 8.3/8.6 step θ ← θ + v, so v_t = θ_t − θ_{t−1} and the look-ahead point is
    # θ̃_t = θ_t + α(θ_t − θ_{t−1}), read off the parameters alone
    if target.get(f"{algorithm}_lookahead") is None:
        pytest.skip(
            f"unsupported: target {target.name!r} has no {algorithm}_lookahead (a shifted-"
            "variable form; the trajectory check measures it as the 'lookahead' form)"
        )
    spec = SPECS[algorithm]
    _, theta0 = _setup(seed, shape)
    gradient = quadratic(seed, shape)
    hyper = spec.hyper | {"alpha": alpha}
    state, _ = call(target, f"{algorithm}_init", theta0.copy())
    previous, theta = theta0, theta0
    for k in range(5):
        point, c = call(target, f"{algorithm}_lookahead", theta.copy(), state, alpha=alpha)
        assert_close(point, theta + alpha * (theta - previous),
                     what=f"{algorithm}_lookahead at step {k + 1}: θ_t + α(θ_t − θ_t−1)", call=c,
                     dtype="float64")  # fmt: skip
        out, c = call(target, f"{algorithm}_step", theta.copy(), gradient(k, np.asarray(point)),
                      state, lr=spec.lr, **hyper)  # fmt: skip
        previous, (theta, state) = theta, unpack(out, c, shape, algorithm)


@pytest.mark.parametrize("algorithm", ["sgd", "adam"])
@given(seed=SEEDS, shape=shapes(max_dims=2, max_side=4),
       wd=st.sampled_from([0.01, 0.1, 0.5]))  # fmt: skip
def test_coupled_weight_decay_equals_adding_the_l2_gradient(target, algorithm, seed, shape, wd):
    # weight_decay=wd is the gradient of (wd/2)‖θ‖²: the same as wd = 0 and g + wd·θ. Adam's
    # decoupled form (AdamW) instead shrinks θ by lr·wd·θ beside the update: measured.
    spec = SPECS[algorithm]
    rng, theta0 = _setup(seed, shape)
    gs = _gradients(rng, shape, 5, spec.scale)
    lrs = [spec.lr] * 5
    path, calls = run(target, algorithm, theta0, lambda k, at: gs[k], lrs,
                      spec.hyper | {"weight_decay": wd}, lookahead=False)  # fmt: skip
    coupled, _ = run(target, algorithm, theta0, lambda k, at: gs[k] + wd * at, lrs, spec.hyper,
                     lookahead=False)  # fmt: skip
    what = f"{algorithm}(weight_decay={wd}) against {algorithm}(g + {wd}·θ, weight_decay=0)"
    if algorithm == "sgd":
        assert_close(path, coupled, what=what, call=calls[0], dtype="float64")
        return
    # decoupled, from the target's own wd = 0 steps: θ' = step(θ, g) − lr·wd·θ
    state, _ = call(target, "adam_init", theta0.copy())
    theta, decoupled = theta0.copy(), []
    for k, lr in enumerate(lrs):
        out, c = call(target, "adam_step", theta.copy(), gs[k], state, lr=lr, **spec.hyper)
        stepped, state = unpack(out, c, shape, "adam")
        theta = stepped - lr * wd * theta
        decoupled.append(theta)
    assert_matches_variant(path, {"l2": coupled, "decoupled": np.stack(decoupled)},
                           default="l2", what=what, call=calls[0], dtype="float64")  # fmt: skip


@pytest.mark.algorithm("adam")
@given(seed=SEEDS, shape=shapes(max_dims=2, max_side=4),
       wd=st.sampled_from([0.01, 0.1, 0.5]))  # fmt: skip
def test_adam_weight_decay_matches_a_documented_mode(target, seed, shape, wd):
    spec = SPECS["adam"]
    _, theta0 = _setup(seed, shape)
    gradient = quadratic(seed, shape, spec.scale)
    hyper = spec.hyper | {"weight_decay": wd}
    lrs = [spec.lr] * 6
    path, calls = run(target, "adam", theta0, gradient, lrs, hyper)
    # under the target's own form (measured by the trajectory checks): the nearer of the two
    by_form = {
        form: {
            mode: oracle_path("adam", theta0, gradient, lrs,
                              hyper | {"weight_decay_mode": mode, "form": form})[0]
            for mode in ("l2", "decoupled")
        }
        for form in spec.variants
    }  # fmt: skip
    form = min(by_form, key=lambda f: min(np.max(np.abs(path - e)) for e in by_form[f].values()))
    assert_trajectory_matches(path, by_form[form], default="l2",
                              what=f"adam(weight_decay={wd}) trajectory (form {form})",
                              calls=calls)  # fmt: skip


UNIFIED_CASES = {
    # the unified form's special cases (seed 002): the same numbers, not just the same idea
    "adam": ({"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "bias_correction": True},
             {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}),
    "rmsprop": ({"beta1": 0.0, "beta2": 0.9, "eps": 1e-6, "bias_correction": False},
                {"rho": 0.9, "eps": 1e-6, "variant": "eps_outside"}),
    "momentum": ({"beta1": 0.9, "beta2": None, "eps": 1e-8, "bias_correction": False},
                 {"alpha": 0.9, "variant": "ema"}),
}  # fmt: skip


@pytest.mark.algorithm("unified")
@pytest.mark.parametrize("case", list(UNIFIED_CASES))
@given(seed=SEEDS, shape=shapes(max_dims=2, max_side=4))
def test_unified_form_reduces_to_adam_rmsprop_and_momentum(target, case, seed, shape):
    unified, special = UNIFIED_CASES[case]
    _, theta0 = _setup(seed, shape)
    gradient = quadratic(seed, shape, 1e-2)
    lrs = [0.01] * 5
    path, calls = run(target, "unified", theta0, gradient, lrs, unified)
    expected, _ = oracle_path(case, theta0, gradient, lrs, special)
    assert_close(path, expected, what=f"unified({unified}) against the oracle's {case}",
                 call=calls[0], dtype="float64")  # fmt: skip


@pytest.mark.algorithm("weight_decay")
@given(seed=SEEDS, shape=shapes(max_dims=2, max_side=4),
       lam=st.floats(0.0, 1.0))  # fmt: skip
def test_weight_decay_adds_the_gradient_of_the_l2_penalty(target, seed, shape, lam):
    rng = np.random.default_rng(seed)
    g, theta = rng.standard_normal(shape), rng.standard_normal(shape)
    out, c = call(target, "weight_decay", g, theta, lam=lam)
    assert_close(out, oracle.weight_decay(g, theta, lam=lam), what="weight_decay(g, θ, λ)",
                 call=c, dtype="float64")  # fmt: skip


@pytest.mark.parametrize("algorithm", SPECS)
@given(seed=SEEDS, shape=shapes(max_dims=2, max_side=3), steps=st.integers(1, 6))
def test_trajectory_matches_the_oracle_under_a_schedule(target, algorithm, seed, shape, steps):
    # the helper that runs a whole optimisation: θ_1..θ_T (not θ_0), the gradient taken at the
    # look-ahead point for the Nesterov forms, one learning rate per step (a decaying schedule)
    spec = SPECS[algorithm]
    theta0 = np.random.default_rng(seed).uniform(-1, 1, shape)
    gradient = quadratic(seed, shape, spec.scale)
    lrs = [spec.lr / (1 + k) for k in range(steps)]
    path, c = call(target, "trajectory", algorithm, theta0.copy(),
                   lambda theta: gradient(0, theta), steps, lr=lrs, **spec.hyper)  # fmt: skip
    expected = oracle.trajectory(
        algorithm, theta0, lambda theta: gradient(0, theta), steps, lr=lrs, **spec.hyper
    )
    assert_close(path, expected, what=f"trajectory({algorithm!r}, {steps} steps)", call=c,
                 dtype="float64")  # fmt: skip


@pytest.mark.parametrize("algorithm", ["gd", "sgd"])
@given(seed=SEEDS, shape=shapes(max_dims=2, max_side=3), wd=st.sampled_from([0.01, 0.5]))
def test_gradient_descent_with_weight_decay_matches_the_oracle(target, algorithm, seed, shape, wd):
    # weight_decay given and not 0 (the other checks pass 0): the framework's wd, g + wd·θ
    theta0 = np.random.default_rng(seed).uniform(-1, 1, shape)
    gradient = quadratic(seed, shape)
    lrs, hyper = [0.1] * 3, {"weight_decay": wd}
    path, calls = run(target, algorithm, theta0, gradient, lrs, hyper)
    expected, _ = oracle_path(algorithm, theta0, gradient, lrs, hyper)
    assert_close(path, expected, what=f"{algorithm} with weight_decay={wd}, 3 steps",
                 call=calls[-1], dtype="float64")  # fmt: skip
