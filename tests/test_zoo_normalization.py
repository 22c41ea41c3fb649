"""The normalisation checks catch planted bugs, each with the property meant for it."""

import pytest

from tests.zoo import assert_caught, failed, run_checks

BUGS = {
    # target: (-k expression selecting the checks, the checks that must fail)
    "spectral_norm_ignoring_eps": (
        "spectral_norm",
        "spectral_norm::spectral_norm_guards_a_tiny_power_iteration_with_the_eps_given",
    ),
    # an output never read before: dmean in evaluation mode
    "bn_training_dmean_in_evaluation": (
        "batch_norm and evaluation",
        "batch_norm::batch_norm_in_evaluation_gives_the_gradients_of_the_running_statistics",
    ),
    "bn_backward_without_dvar_term": (
        "batch_norm_dx_matches or orthogonal_to_x_hat",
        {
            "batch_norm::batch_norm_dx_matches_the_oracle_and_finite_differences",
            "batch_norm::batch_norm_input_gradient_sums_to_zero_and_is_orthogonal_to_x_hat",
        },
    ),
    "bn_unbiased_variance_in_training": (
        "batch_norm_forward or batch_of_two",
        {
            "batch_norm::batch_norm_forward_matches_the_oracle",
            "batch_norm::batch_norm_handles_a_batch_of_two",
        },
    ),
    "bn_statistics_over_wrong_axes": (
        "per_channel_on_feature_maps",
        {"batch_norm::batch_norm_statistics_are_per_channel_on_feature_maps"},
    ),
    "bn_running_momentum_swapped": (
        "running_statistics",
        {"batch_norm::batch_norm_running_statistics_follow_a_documented_estimator"},
    ),
    # a non-default mode: the default call matches the documented variant "unbiased"
    "bn_running_var_estimator_ignored": (
        "every_estimator",
        {"batch_norm::batch_norm_running_statistics_match_the_oracle_in_every_estimator"},
    ),
    "group_norm_over_the_batch": (
        "each_sample_on_its_own",
        {"group_norm::group_norm_normalises_each_sample_on_its_own"},
    ),
    "weight_norm_squared_norm": (
        "weight_norm_has_norm",
        {"weight_norm::weight_norm_has_norm_abs_g_whatever_v"},
    ),
    # the gradient compared in units of its terms' size: a guard of 1e-12 passes, 1e-6 not
    "weight_norm_backward_guard_1e6": (
        "weight_norm_backward",
        {"weight_norm::weight_norm_backward_matches_the_oracle_and_finite_differences"},
    ),
    # a non-default mode: the default call (max_norm) passes
    "spectral_norm_eps_beside_the_norm": (
        "spectral_norm",
        {"spectral_norm::spectral_norm_in_each_mode_matches_the_oracle_in_that_mode"},
    ),
    "spectral_norm_forgets_u": (
        "spectral_norm_converges",
        {"spectral_norm::spectral_norm_converges_to_the_top_singular_value"},
    ),
}


@pytest.mark.parametrize(("bug", "expression", "caught_by"), [(b, *v) for b, v in BUGS.items()])
def test_a_planted_bug_is_caught_by_its_check(bug, expression, caught_by):
    assert_caught(f"tests.zoo.normalization:{bug}", caught_by, k=expression)


def test_the_reference_passes_the_checks_that_catch_them():
    expression = " or ".join(expression for expression, _ in BUGS.values())
    document = run_checks("reference", k=expression)
    assert document["returncode"] == 0, document["output"][-3000:]
    assert not failed(document)


# A defect whose fail message names its cause (the same run: which check, and what it says).
CAUSES = {
    "bn_one_pass_variance_in_float32": (
        "mean_is_1e3 or batch_norm_dx_matches",
        {
            "batch_norm_is_accurate_when_the_mean_is_1e3_times_the_spread": (
                "one-pass variance E[x²] − E[x]² loses accuracy when the mean is large "
                "against the spread"
            ),
            # its backward is right: the finite differences must not blame it
            "batch_norm_dx_matches_the_oracle_and_finite_differences": (
                "forward computed at lower precision; gradient agrees with the oracle to"
            ),
        },
    ),
    "feature_normalization_one_pass_in_float32": (
        "feature_normalization_is_accurate",
        {
            "feature_normalization_is_accurate_when_the_mean_is_1e3_times_the_spread": (
                "one-pass variance E[x²] − E[x]² loses accuracy when the mean is large "
                "against the spread"
            ),
        },
    ),
    "bn_nan_on_a_constant_channel": (
        "constant_channel",
        {
            "batch_norm_keeps_a_constant_channel_finite": (
                "returns NaN there: one-pass variance E[x²] − E[x]² loses accuracy"
            ),
        },
    ),
}


@pytest.mark.parametrize(("bug", "expression", "messages"), [(b, *v) for b, v in CAUSES.items()])
def test_a_defect_is_failed_with_its_cause_named(bug, expression, messages):
    document = run_checks(f"tests.zoo.normalization:{bug}", k=expression)
    found = {r["property"]: r["message"] for r in document["records"] if r["status"] == "fail"}
    for prop, cause in messages.items():
        assert prop in found, document["output"][-3000:]
        assert cause in found[prop], found[prop]
