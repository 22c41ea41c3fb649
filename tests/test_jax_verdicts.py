"""The JAX target's verdicts do not depend on the Hypothesis seed: the ci profile under three
seeds gives the same verdict and variants for every catalogue id, and every id that does not
pass is pinned with the optax, flax or JAX source that explains it (line numbers: optax 0.2.8,
flax 0.12.8, site-packages paths)."""

import os

import pytest

from tests.zoo import run_checks

pytest.importorskip("jax")
pytest.importorskip("optax")
pytest.importorskip("flax")

# the ids the JAX target covers (a verdict other than unsupported), the losses left out until
# the reduction policy lands: with mse, l1, binary_cross_entropy and cross_entropy it reaches 39
COVERED = {
    "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "relu6", "selu", "gelu", "softplus",
    "softmax", "log_softmax", "gd", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam",
    "weight_decay", "constant", "decay", "warmup", "feature_normalization", "batch_norm",
    "group_norm", "weight_norm", "spectral_norm", "dropout", "linear", "mlp", "conv2d",
    "max_pool", "avg_pool", "init",
}  # fmt: skip


def _failed(document: dict) -> dict[str, set[str]]:
    """catalogue id -> the properties that failed."""
    failed: dict[str, set[str]] = {}
    for record in document["records"]:
        if record["status"] == "fail":
            failed.setdefault(record["algorithm"], set()).add(record["property"])
    return failed


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("NNCONFORM_JAX_VERDICTS"),
    reason="three JAX ci runs, about 25 min on 2 cores: set NNCONFORM_JAX_VERDICTS=1 to run",
)
def test_jax_verdicts_are_the_same_under_three_seeds_and_each_non_pass_is_explained():
    verdicts, failures = {}, {}
    for seed in (0, 1, 2):
        document = run_checks("jax", extra=("--profile", "ci", "--seed", str(seed), "-n", "2"))
        assert document["returncode"] == 1, document["output"][-3000:]  # the fails pinned below
        assert document["hypothesis_seed"] == seed
        verdicts[seed] = {
            row["algorithm"]: (row["verdict"], row["variants"]) for row in document["summary"]
        }
        failures[seed] = _failed(document)
    assert verdicts[1] == verdicts[0] and verdicts[2] == verdicts[0]
    v = verdicts[0]
    # the properties that fail for a cause are the same under every seed (others of the same
    # id may fail at some seeds only: a verdict is by id)
    failed = {
        algorithm: set.intersection(*(failures[seed].get(algorithm, set()) for seed in (0, 1, 2)))
        for algorithm in failures[0]
    }
    assert {a for a, (verdict, _) in v.items() if verdict != "unsupported"} == COVERED

    # variants measured by the default call, the mode keyword left out
    assert v["gelu"] == ("pass", ["tanh"])  # jax.nn.gelu(approximate=True) by default
    assert v["momentum"] == ("variant", ["lr_outside"])  # optax.sgd(momentum=): transform.trace
    assert v["nesterov"] == ("variant", ["lookahead"])  # trace(nesterov=True) stores θ̃
    assert v["rmsprop"] == ("pass", ["eps_inside"])  # optax.rmsprop(eps_in_sqrt=True) default
    assert v["max_pool"] == ("pass", ["first"])  # select_and_scatter_add under ge
    assert v["init"] == ("pass", ["normal"])  # truncated normal rescaled to the variance
    assert v["dropout"] == ("variant", ["inverted"])  # flax stochastic.py:107, inputs/keep_prob
    for passing in ("adam", "sgd", "gd", "softmax", "conv2d", "spectral_norm", "group_norm"):
        assert v[passing][0] == "pass", passing

    # XLA's CPU backend treats subnormal inputs as 0 (DAZ/FTZ), as JAX documents ("Sharp bits",
    # jax-ml/jax#16200 "working as intended", #26668): at a subnormal x the kink's one-sided
    # derivative is taken (relu'(1e-45) = 0). A platform convention, not a catalogue variant
    regime = "forward_and_backward_are_right_at_the_edge_of_every_regime"
    for activation in ("relu", "leaky_relu", "relu6", "selu"):
        assert v[activation][0] == "fail" and failed[activation] == {regime}, activation
    assert v["prelu"][0] == "fail"
    assert failed["prelu"] == {"prelu_and_its_slope_gradient_match_the_oracle"}

    # optax.adagrad puts ε inside the root: θ ← θ − lr·g/√(r + ε) (optax/_src/transform.py:72,
    # scale_by_rss, lax.rsqrt(t + eps)); a documented form, the catalogue's coming eps_inside
    assert v["adagrad"][0] == "fail"
    assert failed["adagrad"] >= {
        "trajectory_matches_the_oracle_at_every_step",
        "trajectory_follows_a_learning_rate_that_changes_between_steps",
    }

    # flax's BatchNorm computes the variance in one pass, E[x²] − E[x]², by default
    # (use_fast_variance=True, flax/linen/normalization.py:138-142): a defect, which loses κ²
    # of accuracy at a mean κ times the spread, and a constant channel's dx with it
    assert v["batch_norm"] == ("fail", ["biased"])
    assert failed["batch_norm"] >= {
        "batch_norm_is_accurate_when_the_mean_is_1e3_times_the_spread",
        "batch_norm_keeps_a_constant_channel_finite",
    }

    # flax's WeightNorm normalises by rsqrt(Σv² + ε), ε = 1e-12 inside the root
    # (flax/linen/normalization.py:244 _l2_normalize, :1301 epsilon, :1377): ‖w‖ is |g| only
    # up to ε/‖v‖² (1e-6 at ‖v‖ = 1e-3); a documented form, a variant to name (eps_inside)
    assert v["weight_norm"][0] == "fail"
    assert "weight_norm_has_norm_abs_g_whatever_v" in failed["weight_norm"]

    # optax counts steps from 0: warmup_cosine_decay_schedule's linear_schedule starts at
    # init_value on count 0 (optax/schedules/_schedule.py:617-657), so step t gets the
    # reference's value at t − 1 (lr·(t − 1)/warmup); a documented convention to name
    assert v["warmup"][0] == "fail"
    assert failed["warmup"] >= {
        "warmup_then_matches_a_documented_decay",
        "warmup_matches_the_oracle_in_every_documented_form",
        "warmup_rises_linearly_to_lr_then_never_increases",
    }

    # optax.exponential_decay's default staircase=False decays continuously,
    # lr·γ^((t − 1)/step_size) (optax/schedules/_schedule.py:250-317, p = count/transition_steps,
    # floored only with staircase): a documented form the catalogue does not name (continuous)
    assert v["decay"][0] == "fail"
    assert failed["decay"] == {"decay_matches_a_documented_kind"}

    assert {a for a, (verdict, _) in v.items() if verdict == "fail"} == {
        "relu", "leaky_relu", "relu6", "selu", "prelu", "adagrad", "batch_norm", "weight_norm",
        "warmup", "decay",
    }  # fmt: skip
