"""The activation checks catch planted bugs, each with the property meant for it."""

import pytest

from tests.zoo import assert_caught

BUGS = {
    # target: the check that must fail
    "softmax_without_max": "softmax::softmax_is_finite_at_logits_of_1e4",
    "sigmoid_backward_wrong": "sigmoid::backward_matches_the_oracle_and_finite_differences",
    "ckn_sigma_not_squared": "ckn::ckn_matches_the_oracle_up_to_and_beyond_the_overflow_threshold",
    "ckn_factored": "ckn::ckn_matches_the_oracle_up_to_and_beyond_the_overflow_threshold",
    "ckn_backward_without_the_factor": {
        "ckn::backward_matches_the_oracle_and_finite_differences",
        "ckn::ckn_is_one_at_one_and_its_derivative_is_two_over_sigma_squared_times_itself",
    },
}


@pytest.mark.parametrize(("bug", "caught_by"), BUGS.items())
def test_a_planted_bug_is_caught_by_its_check(bug, caught_by):
    algorithm = next(iter({caught_by} if isinstance(caught_by, str) else caught_by)).split("::")[0]
    assert_caught(f"tests.zoo.activations:{bug}", caught_by, k=algorithm)
