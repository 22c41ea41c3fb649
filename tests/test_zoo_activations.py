"""The activation checks catch planted bugs, each with the property meant for it."""

import pytest

from tests.zoo import assert_caught, run_checks

BUGS = {
    # target: the check that must fail
    # a keyword never given before: every other check leaves axis to its default
    "softmax_last_axis_only": "softmax::softmax_along_the_first_axis_matches_the_oracle",
    "softmax_without_max": "softmax::softmax_is_finite_at_logits_of_1e4",
    "sigmoid_backward_wrong": "sigmoid::backward_matches_the_oracle_and_finite_differences",
    "ckn_sigma_not_squared": "ckn::ckn_matches_the_oracle_up_to_and_beyond_the_overflow_threshold",
    "ckn_factored": "ckn::ckn_matches_the_oracle_up_to_and_beyond_the_overflow_threshold",
    "ckn_backward_without_the_factor": {
        "ckn::backward_matches_the_oracle_and_finite_differences",
        "ckn::ckn_is_one_at_one_and_its_derivative_is_two_over_sigma_squared_times_itself",
    },
    # input regimes: overflow at the exp thresholds
    "softplus_as_written": "softplus::activation_reaches_its_asymptote_for_large_x",
    "tanh_as_written": {
        "tanh::forward_matches_the_oracle",
        "tanh::activation_reaches_its_asymptote_for_large_x",
    },
    "sigmoid_backward_through_exp_minus_x": (
        "sigmoid::forward_and_backward_are_right_at_the_edge_of_every_regime"
    ),
    "log_softmax_through_softmax": "log_softmax::softmax_is_finite_at_logits_of_1e4",
    # kinks: the documented subgradient, and only a one-sided derivative for leaky ReLU
    "relu_backward_one_at_zero": "relu::activation_takes_the_documented_subgradient_at_each_kink",
    "leaky_relu_backward_zero_at_zero": (
        "leaky_relu::activation_takes_the_documented_subgradient_at_each_kink"
    ),
    # asymptotes and modes
    "selu_without_lambda_above_zero": "selu::activation_reaches_its_asymptote_for_large_x",
    "gelu_tanh_mode_as_erf": "gelu::gelu_matches_the_oracle_in_every_documented_mode",
}


@pytest.mark.parametrize(("bug", "caught_by"), BUGS.items())
def test_a_planted_bug_is_caught_by_its_check(bug, caught_by):
    algorithm = next(iter({caught_by} if isinstance(caught_by, str) else caught_by)).split("::")[0]
    assert_caught(f"tests.zoo.activations:{bug}", caught_by, k=algorithm)


def test_a_backward_that_flushes_subnormals_to_zero_is_named():
    document = run_checks("tests.zoo.activations:relu_backward_flushing_subnormals", k="relu")
    messages = [
        r["message"] for r in document["records"] if r["status"] == "fail"
        and r["property"] == "forward_and_backward_are_right_at_the_edge_of_every_regime"
    ]  # fmt: skip
    assert messages, document["output"][-3000:]
    assert all("flushes subnormal inputs to zero" in m for m in messages)


def test_a_forward_in_float32_inside_is_named_and_its_right_backward_is_not_blamed():
    document = run_checks("tests.zoo.activations:softplus_in_float32_inside", k="softplus")
    found = {r["property"]: r["message"] for r in document["records"] if r["status"] == "fail"}
    assert "forward_matches_the_oracle" in found, document["output"][-3000:]
    message = found["backward_matches_the_oracle_and_finite_differences"]
    assert "forward computed at lower precision; gradient agrees with the oracle to" in message
