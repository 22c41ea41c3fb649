"""The loss-landscape checks catch planted bugs, each with the property meant to catch it."""

import pytest

from tests.zoo import assert_caught

BUGS = {
    # target: (-k expression, the checks that must fail)
    "hvp_forward_difference": (
        "hessian",
        {"hessian::hessian_vector_product_matches_its_closed_form"},
    ),
    # boundaries: eigenvalues ≥ 0.1 from zero (the other checks) never reach tol
    "critical_point_strict_zero": (
        "near_tol",
        {"critical_point::eigenvalues_at_and_near_tol_are_classified_by_the_documented_rule"},
    ),
    "minimum_ratio_default_tol": (
        "near_tol",
        {"critical_point::eigenvalues_at_and_near_tol_are_classified_by_the_documented_rule"},
    ),
}


@pytest.mark.parametrize(("bug", "selection"), BUGS.items())
def test_a_planted_bug_is_caught_by_its_check(bug, selection):
    k, caught_by = selection
    assert_caught(f"tests.zoo.landscape:{bug}", caught_by, k=k)


# Caught by its property alone: every other check of the id passes the bug, so the gate did
# not catch it before that property was written.
ALONE = {
    # a keyword never varied before: the finite-difference step h
    "hessian_over_the_default_step": (
        "hessian",
        {"hessian::hessian_matches_its_closed_form"},
    ),
}


@pytest.mark.parametrize(("bug", "selection"), ALONE.items())
def test_a_planted_bug_only_its_own_check_catches(bug, selection):
    k, caught_by = selection
    assert_caught(f"tests.zoo.landscape:{bug}", caught_by, k=k, alone=True)
