"""The solver checks catch planted bugs, each with the property meant for it."""

import pytest

from tests.zoo import assert_caught, failed, run_checks

BUGS = {
    # target: (-k expression selecting the checks, the checks that must fail)
    "apg_without_momentum": (
        "ill_conditioned_lasso",
        {"apg::apg_obeys_the_fista_bound_on_an_ill_conditioned_lasso"},
    ),
    "newton_strict_stopping_test": (
        "stopping_test_holds_at_its_boundary",
        {"newton::solver_stopping_test_holds_at_its_boundary"},
    ),
    "bfgs_direction_as_curvature_pair": (
        "iterates_counts_and_flag",
        {"bfgs::solver_iterates_counts_and_flag_match_the_oracle_on_harder_problems"},
    ),
    "conjugate_gradient_loose_line_search": (
        "strong_wolfe",
        {"conjugate_gradient::every_accepted_step_satisfies_the_strong_wolfe_conditions"},
    ),
    "admm_sign_of_b_in_the_dual_update": (
        "general_constraints",
        {"stochastic_admm::stochastic_admm_matches_the_oracle_with_general_constraints"},
    ),
    "admm_x_bar_off_by_one": (
        "general_constraints",
        {"stochastic_admm::stochastic_admm_matches_the_oracle_with_general_constraints"},
    ),
    "weight_norm_over_columns": (
        "squared_singular_values",
        {"weight_norm::weight_norm_with_unit_g_has_squared_singular_values_summing_to_d_o"},
    ),
}


@pytest.mark.parametrize(("bug", "expression", "caught_by"), [(b, *v) for b, v in BUGS.items()])
def test_a_planted_bug_is_caught_by_its_check(bug, expression, caught_by):
    assert_caught(f"tests.zoo.solvers:{bug}", caught_by, k=expression)


def test_the_reference_passes_the_checks_that_catch_them():
    expression = " or ".join(expression for expression, _ in BUGS.values())
    document = run_checks("reference", k=expression)
    assert document["returncode"] == 0, document["output"][-3000:]
    assert not failed(document)
