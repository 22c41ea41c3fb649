"""The loss checks catch planted bugs, each with the property meant for it."""

import pytest

from tests.zoo import assert_caught, failed, run_checks

BUGS = {
    # target: (-k expression selecting the checks, the checks that must fail)
    "bce_with_logits_naive": (
        "finite_at_logits_of_1e4",
        {"binary_cross_entropy::binary_cross_entropy_with_logits_is_finite_at_logits_of_1e4"},
    ),
    "cross_entropy_backward_without_mean": (
        "softmax_minus_onehot",
        {"cross_entropy::cross_entropy_gradient_is_softmax_minus_onehot_over_n"},
    ),
    "mse_forward_mean_backward_half": (
        "loss_backward and mse",
        {"mse::loss_backward_matches_the_oracle_and_finite_differences"},
    ),
    "orthogonal_penalty_backward_halved": (
        "loss_backward and orthogonal_penalty",
        {"orthogonal_penalty::loss_backward_matches_the_oracle_and_finite_differences"},
    ),
    # input regimes: the subgradient at a kink, overflow at the exp threshold, every mode
    "l1_backward_sign_by_division": (
        "subgradient and l1",
        {"l1::loss_backward_takes_the_documented_subgradient_at_each_kink"},
    ),
    "l1_penalty_backward_sign_by_division": (
        "subgradient and l1_penalty",
        {"l1_penalty::loss_backward_takes_the_documented_subgradient_at_each_kink"},
    ),
    "bce_with_logits_through_log1p_exp": (
        "loss_forward and binary_cross_entropy_with_logits",
        {"binary_cross_entropy::loss_forward_matches_the_oracle"},
    ),
    "cross_entropy_backward_without_max": (
        "edge_of_every_regime and cross_entropy",
        {"cross_entropy::loss_forward_and_backward_are_right_at_the_edge_of_every_regime"},
    ),
    "mse_ignores_its_variant": (
        "every_documented_mode and mse",
        {"mse::loss_matches_the_oracle_in_every_documented_mode"},
    ),
    "mmd_ignores_its_estimator": (
        "every_documented_mode and mmd",
        {"mmd::loss_matches_the_oracle_in_every_documented_mode"},
    ),
    # reductions ("none": the unreduced terms) and the variants of issues 11 and 12
    "mse_unreduced_halves": (
        "every_reduction_mode and mse",
        {"mse::loss_matches_the_oracle_in_every_reduction_mode"},
    ),
    "cross_entropy_ignores_reduction": (
        "every_reduction_mode and cross_entropy",
        {"cross_entropy::loss_matches_the_oracle_in_every_reduction_mode"},
    ),
    "bce_backward_unreduced_over_n": (
        "every_reduction_mode and binary_cross_entropy",
        {"binary_cross_entropy::loss_matches_the_oracle_in_every_reduction_mode"},
    ),
    "bce_clipped_at_float32_epsilon": (
        "every_documented_mode and binary_cross_entropy",
        {"binary_cross_entropy::loss_matches_the_oracle_in_every_documented_mode"},
    ),
    "mse_half_per_example_over_elements": (
        "every_documented_mode and mse",
        {"mse::loss_matches_the_oracle_in_every_documented_mode"},
    ),
    "objective_ignores_its_variant": (
        "every_documented_mode and objective",
        {"objective::objective_matches_the_oracle_in_every_documented_mode"},
    ),
}


@pytest.mark.parametrize(("bug", "expression", "caught_by"), [(b, *v) for b, v in BUGS.items()])
def test_a_planted_bug_is_caught_by_its_check(bug, expression, caught_by):
    assert_caught(f"tests.zoo.losses:{bug}", caught_by, k=expression)


def test_the_reference_passes_the_checks_that_catch_them():
    expression = " or ".join(f"({expression})" for expression, _ in BUGS.values())
    document = run_checks("reference", k=expression)
    assert document["returncode"] == 0, document["output"][-3000:]
    assert not failed(document)
