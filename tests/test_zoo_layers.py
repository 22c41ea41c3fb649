"""The layer checks catch planted bugs, each with the property meant to catch it."""

import pytest

from tests.zoo import assert_caught

BUGS = {
    # target: (-k expression, the check that must fail)
    # keywords never given before
    "mlp_always_relu": ("mlp", "mlp::mlp_with_the_activation_given_matches_the_oracle"),
    "glorot_init_ignoring_shape": (
        "glorot_init",
        "glorot_init::init_of_a_convolution_kernel_has_the_shape_given_and_the_variance_of_its_fans",
    ),
    "conv2d_ignores_dilation": ("conv2d", "conv2d::conv2d_forward_matches_the_oracle"),
    "conv2d_backward_flipped_kernel": (
        "conv2d",
        "conv2d::conv2d_backward_matches_the_oracle_and_finite_differences",
    ),
    "max_pool_backward_spread": (
        "pool_backward",
        "max_pool::pool_backward_matches_the_oracle_and_finite_differences",
    ),
    "avg_pool_square_divisor": ("pool_forward", "avg_pool::pool_forward_matches_the_oracle"),
    "linear_backward_transposed": (
        "linear",
        "linear::linear_backward_matches_the_oracle_and_finite_differences",
    ),
    "mlp_backward_wrong_derivative": (
        "mlp",
        "mlp::mlp_backward_matches_the_oracle_and_finite_differences",
    ),
    "he_init_fan_out": (
        "init_draws",
        "init::init_draws_zero_mean_weights_of_the_documented_variance",
    ),
    # ties: Σdx = t·dy over a window of t tied maxima; the message names the cause
    "max_pool_backward_every_tied_maximum": (
        "ties",
        "max_pool::max_pool_backward_conserves_the_gradient_of_each_window_on_ties",
    ),
    # the gradient conserved, but no documented tie rule (first, split) gives it
    "max_pool_backward_last_maximum": (
        "ties",
        "max_pool::max_pool_on_ties_matches_a_documented_tie_rule",
    ),
    # a non-default mode: the default (normal) call passes
    # "normal" drawing the truncated normal: the default call reads as that variant, the call
    # in mode "normal" fails
    "glorot_init_truncated_normal": (
        "init_in_each_mode",
        {"init::init_in_each_mode_draws_that_distribution"},
    ),
    "glorot_init_uniform_draws_a_normal": (
        "init_in_each_mode",
        "init::init_in_each_mode_draws_that_distribution",
    ),
}


@pytest.mark.parametrize(("bug", "selection"), BUGS.items())
def test_a_planted_bug_is_caught_by_its_check(bug, selection):
    k, caught_by = selection
    assert_caught(f"tests.zoo.layers:{bug}", caught_by, k=k)


# Caught by its property alone: every other selected check passes the bug, so the gate did not
# catch it before that property was written.
ALONE = {
    # a backward called in each mode even where its forward refuses the mode
    "max_pool_backward_split_as_first": (
        "ties",
        {"max_pool::max_pool_on_ties_in_each_mode_matches_the_oracle_in_that_mode"},
    ),
    # divisor="real" forgotten by the backward: every default (window) call passes
    "avg_pool_backward_ignoring_the_divisor": (
        "avg_pool",
        {"avg_pool::avg_pool_in_each_mode_matches_the_oracle_in_that_mode"},
    ),
}


@pytest.mark.parametrize(("bug", "selection"), ALONE.items())
def test_a_planted_bug_only_its_own_check_catches(bug, selection):
    k, caught_by = selection
    assert_caught(f"tests.zoo.layers:{bug}", caught_by, k=k, alone=True)
