"""The optimiser, solver and schedule checks catch planted bugs, each with the property meant
for it."""

import pytest

from tests.zoo import assert_caught, run_checks

BUGS = {
    # target: the check that must fail
    # a function no check called before, and a keyword only ever given as 0
    "trajectory_from_theta0": "momentum::trajectory_matches_the_oracle_under_a_schedule",
    "gd_weight_decay_twice": "gd::gradient_descent_with_weight_decay_matches_the_oracle",
    "adam_without_bias_correction": "adam::adam_first_step_is_lr_times_the_sign_of_the_gradient",
    "adam_eps_inside_the_root": "adam::trajectory_matches_the_oracle_at_every_step",
    "rmsprop_rho_swapped": "rmsprop::trajectory_matches_the_oracle_at_every_step",
    "momentum_keeps_the_first_lr": (
        "momentum::trajectory_follows_a_learning_rate_that_changes_between_steps"
    ),
    "nesterov_gradient_at_theta": "nesterov::gradient_is_taken_at_the_look_ahead_point",
    "adagrad_accumulating_g": "adagrad::adagrad_effective_step_never_grows",
    "sgd_weight_decay_wrong_sign": "sgd::coupled_weight_decay_equals_adding_the_l2_gradient",
    "noam_with_max": "noam::noam_matches_the_oracle_and_peaks_at_warmup",
    "warmup_off_by_one": "warmup::warmup_rises_linearly_to_lr_then_never_increases",
    # bugs in a non-default mode: the default call is right, so only a check that passes the
    # mode keyword (every documented mode against the oracle in that mode) sees them
    "adam_decoupled_decay_without_lr": (
        "adam::trajectory_matches_the_oracle_in_every_documented_mode"
    ),
    "momentum_ema_weights_swapped": (
        "momentum::trajectory_matches_the_oracle_in_every_documented_mode"
    ),
    "adagrad_lee_off_by_one": "adagrad::trajectory_matches_the_oracle_in_every_documented_mode",
    "decay_inverse_time_off_by_one": "decay::decay_matches_the_oracle_in_every_documented_kind",
    "warmup_cosine_rises_again": "warmup::warmup_matches_the_oracle_in_every_documented_form",
    "adam_efficient_without_the_root": (
        "adam::trajectory_matches_the_oracle_in_every_documented_mode"
    ),
    "adagrad_eps_inside_accumulated": (
        "adagrad::trajectory_matches_the_oracle_in_every_documented_mode"
    ),
    "warmup_from_zero_only_in_the_warmup": (
        "warmup::warmup_matches_the_oracle_in_every_documented_form"
    ),
    "conjugate_gradient_ignores_beta": (
        "conjugate_gradient::conjugate_gradient_follows_its_documented_beta"
    ),
}


@pytest.mark.parametrize(("bug", "caught_by"), BUGS.items())
def test_a_planted_bug_is_caught_by_its_check(bug, caught_by):
    algorithm = caught_by.split("::")[0]
    assert_caught(f"tests.zoo.optimizers:{bug}", caught_by, k=algorithm)


# A library convention catalogued as a variant: the target whose default it is gets the
# verdict "variant" naming it, and no check fails.
VARIANTS = {
    "adam_efficient_by_default": ("adam", "efficient"),
    "adagrad_eps_inside_by_default": ("adagrad", "eps_inside"),
    "warmup_from_zero_by_default": ("warmup", "from_zero"),
}


@pytest.mark.parametrize(("target", "expected"), VARIANTS.items())
def test_a_library_convention_is_a_named_variant(target, expected):
    algorithm, variant = expected
    document = run_checks(f"tests.zoo.optimizers:{target}", k=algorithm)
    assert document["returncode"] == 0, document["output"][-3000:]
    (row,) = [r for r in document["summary"] if r["algorithm"] == algorithm]
    assert row["verdict"] == "variant" and variant in row["variants"], row


def test_a_float32_only_target_gets_no_dtype_false_alarm():
    # the reference computing in float32, declaring dtypes ("float32",): the float64-only
    # checks (trajectories, schedules, finite differences) are unsupported with the reason,
    # the checks that run per dtype pass in float32, nothing fails on dtype
    document = run_checks("tests.zoo.optimizers:float32_only", k="adam or warmup or weight_norm")
    assert document["returncode"] == 0, document["output"][-3000:]
    statuses = {r["status"] for r in document["records"]}
    reasons = [r["message"] for r in document["records"] if r["status"] == "unsupported"]
    assert "pass" in statuses and reasons, statuses
    assert all("target declares no float64" in reason for reason in reasons), reasons
