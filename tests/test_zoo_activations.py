"""The activation checks catch planted bugs, each with the property meant for it."""

import pytest

from tests.zoo import failed, run_checks

BUGS = {
    # target: the check that must fail
    "softmax_without_max": "softmax::softmax_is_finite_at_logits_of_1e4",
    "sigmoid_backward_wrong": "sigmoid::backward_matches_the_oracle_and_finite_differences",
}


@pytest.mark.parametrize(("bug", "caught_by"), BUGS.items())
def test_a_planted_bug_is_caught_by_its_check(bug, caught_by):
    algorithm = caught_by.split("::")[0]
    document = run_checks(f"tests.zoo.activations:{bug}", k=algorithm)
    assert caught_by in failed(document), document["output"][-3000:]
    assert document["returncode"] == 1
