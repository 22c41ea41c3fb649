"""The regularisation checks catch planted bugs, each with the property meant to catch it."""

import pytest

from tests.zoo import assert_caught

BUGS = {
    # target: (-k expression, the checks that must fail)
    # a default never left to itself before
    "early_stopping_lightning_patience": (
        "early_stopping",
        {"early_stopping::early_stopping_stops_exactly_when_the_wait_reaches_patience"},
    ),
    # support: every row a correct mask; no check called dropout_mask before
    "dropout_mask_shared_across_the_batch": (
        "dropout_mask",
        {"dropout::dropout_mask_is_zeros_and_ones_and_every_unit_is_both_kept_and_dropped"},
    ),
    # a function no check called before: mmd itself uses the oracle's own kernel
    "gaussian_kernel_sigma_squared": (
        "gaussian_kernel",
        {"mmd::gaussian_kernel_is_exp_of_minus_the_squared_distance_over_two_sigma_squared"},
    ),
    "dropout_inverted_times_p": (
        "dropout",
        {
            "dropout::dropout_with_a_given_mask_matches_a_documented_variant",
            "dropout::dropout_sample_scales_kept_units_as_a_documented_variant",
        },
    ),
    "dropout_sample_drop_probability": (
        "dropout_sample",
        {"dropout::dropout_sample_keeps_each_unit_with_probability_p"},
    ),
    # each half matches a documented variant: only the consistency of the two catches it
    "dropout_mixed_variants": (
        "dropout",
        {"dropout::dropout_keeps_the_expected_training_output_equal_to_the_evaluation_output"},
    ),
    "ensemble_law_plus_c": (
        "ensemble",
        {
            "model_averaging::ensemble_error_law_is_v_over_k_plus_the_covariance_term",
            "model_averaging::ensemble_error_law_holds_by_monte_carlo",
        },
    ),
    "bagging_without_replacement": (
        "bagging",
        {"bagging::bagging_samples_draw_with_replacement"},
    ),
    "early_stopping_ties_improve": (
        "early_stopping",
        {"early_stopping::early_stopping_matches_the_oracle"},
    ),
    "early_stopping_keeps_a_reference": (
        "early_stopping",
        {"early_stopping::early_stopping_keeps_a_copy_of_the_best_weights"},
    ),
    # reuse across calls: each call on its own is a correct dropout
    "dropout_sample_caching_its_mask": (
        "drawn_afresh",
        {"dropout::dropout_masks_are_drawn_afresh_on_each_call_from_the_generator_given"},
    ),
    # non-default modes: the default call (standard) passes
    "dropout_sample_ignoring_its_variant": (
        "dropout_sample",
        {
            "dropout::dropout_sample_in_each_mode_keeps_units_with_probability_p_and_scales_as_"
            "that_mode"
        },
    ),
    "dropout_backward_inverted_without_1_over_p": (
        "in_each_mode",
        {"dropout::dropout_in_each_mode_matches_the_oracle_in_that_mode"},
    ),
    # a generator ignored: each resample on its own is a correct one
    "bagging_samples_fixed_seed": (
        "bagging",
        {"bagging::bagging_samples_are_drawn_afresh_for_each_model_and_each_call"},
    ),
}


@pytest.mark.parametrize(("bug", "selection"), BUGS.items())
def test_a_planted_bug_is_caught_by_its_check(bug, selection):
    k, caught_by = selection
    assert_caught(f"tests.zoo.regularization:{bug}", caught_by, k=k)


# Caught by its property alone: every other check of the id passes the bug, so the gate did
# not catch it before that property was written.
ALONE = {
    # an output never read before: the state before the first update
    "early_stopping_init_float_max": (
        "early_stopping",
        {"early_stopping::early_stopping_state_matches_the_oracle_from_the_initial_state_on"},
    ),
    # support on small n: the large-n statistics pass a missing last index
    "bagging_samples_high_inclusive": (
        "bagging",
        {"bagging::bagging_samples_reach_every_index_on_small_n"},
    ),
}


@pytest.mark.parametrize(("bug", "selection"), ALONE.items())
def test_a_planted_bug_only_its_own_check_catches(bug, selection):
    k, caught_by = selection
    assert_caught(f"tests.zoo.regularization:{bug}", caught_by, k=k, alone=True)
