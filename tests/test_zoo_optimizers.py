"""The optimiser and schedule checks catch planted bugs, each with the property meant for it."""

import pytest

from tests.zoo import assert_caught

BUGS = {
    # target: the check that must fail
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
}


@pytest.mark.parametrize(("bug", "caught_by"), BUGS.items())
def test_a_planted_bug_is_caught_by_its_check(bug, caught_by):
    algorithm = caught_by.split("::")[0]
    assert_caught(f"tests.zoo.optimizers:{bug}", caught_by, k=algorithm)
