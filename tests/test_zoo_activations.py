"""The activation checks catch planted bugs, each with the property meant for it."""

import pytest

from tests.zoo import assert_caught

BUGS = {
    # target: the check that must fail
    "softmax_without_max": "softmax::softmax_is_finite_at_logits_of_1e4",
    "sigmoid_backward_wrong": "sigmoid::backward_matches_the_oracle_and_finite_differences",
}


@pytest.mark.parametrize(("bug", "caught_by"), BUGS.items())
def test_a_planted_bug_is_caught_by_its_check(bug, caught_by):
    algorithm = caught_by.split("::")[0]
    assert_caught(f"tests.zoo.activations:{bug}", caught_by, k=algorithm)
