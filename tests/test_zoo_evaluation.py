"""The evaluation and landscape checks catch planted bugs, each with the property meant for it."""

import pytest

from tests.zoo import assert_caught

BUGS = {
    # module:target: (-k expression, the check that must fail)
    # support: in range, the partition exact, the 1/e share off by one example in 500
    "evaluation:bootstrap_high_inclusive": (
        "bootstrap",
        "bootstrap::each_part_of_a_random_split_reaches_every_index_and_no_other",
    ),
    "evaluation:k_fold_overlapping": (
        "k_fold",
        "k_fold::k_fold_test_folds_are_disjoint_and_cover_the_data",
    ),
    "evaluation:bootstrap_without_replacement": (
        "bootstrap",
        "bootstrap::bootstrap_leaves_a_share_of_about_1_over_e_out_of_bag",
    ),
    "evaluation:minibatches_drop_last": (
        "minibatches",
        "epochs::minibatches_visit_every_example_once_per_epoch",
    ),
    "evaluation:iterations_floor": (
        "iterations",
        "epochs::iterations_per_epoch_is_the_ceiling_of_n_over_m",
    ),
    # reuse across calls, an ignored generator: each split or sample on its own is correct
    "evaluation:k_fold_global_random_state": (
        "k_fold",
        "k_fold::k_fold_shuffles_afresh_on_each_call_from_the_generator_given",
    ),
    "evaluation:bootstrap_fixed_seed": (
        "bootstrap",
        "bootstrap::bootstrap_samples_are_drawn_afresh_on_each_call_from_the_generator_given",
    ),
    "evaluation:minibatches_shuffled_once": (
        "minibatches",
        "epochs::minibatches_are_shuffled_afresh_on_each_call_from_the_generator_given",
    ),
    "evaluation:repeated_holdout_one_split": (
        "holdout",
        "holdout::holdout_splits_are_drawn_afresh_on_each_call_and_each_repeat",
    ),
    "landscape:hvp_forward_difference": (
        "hessian",
        "hessian::hessian_vector_product_matches_its_closed_form",
    ),
    "landscape:critical_point_by_determinant": (
        "critical_points",
        "critical_point::critical_points_are_classified_by_the_signs_of_the_eigenvalues",
    ),
    "landscape:minimum_ratio_counting_zero": (
        "minimum_ratio",
        "critical_point::minimum_ratio_counts_the_positive_eigenvalues",
    ),
}


@pytest.mark.parametrize(("bug", "selection"), BUGS.items())
def test_a_planted_bug_is_caught_by_its_check(bug, selection):
    k, caught_by = selection
    assert_caught(f"tests.zoo.{bug}", caught_by, k=k)


# Caught by its property alone: every other check of the id passes the bug, so the gate did
# not catch it before that property was written.
ALONE = {
    # a keyword never varied before: train_fraction left to its default
    "evaluation:repeated_holdout_default_fraction": (
        "holdout",
        {"holdout::repeated_holdout_gives_that_many_stratified_splits"},
    ),
}


@pytest.mark.parametrize(("bug", "selection"), ALONE.items())
def test_a_planted_bug_only_its_own_check_catches(bug, selection):
    k, caught_by = selection
    assert_caught(f"tests.zoo.{bug}", caught_by, k=k, alone=True)
