"""The learning-rate schedules of the reference against hand-computed values, their defining
properties (Noam peaks at t = warmup, warm-up rises linearly, every warm-up is continuous) and,
where PyTorch is installed, its StepLR and ExponentialLR (whose step e is t − 1 here)."""

import math

import numpy as np
import pytest

from nnconform.reference import schedules as sch


def close(actual, expected, rtol=1e-13):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=1e-15)


# --- values by hand ---------------------------------------------------------------------


def test_constant_is_lr_at_every_step():
    assert sch.constant(7, lr=0.3) == 0.3
    close(sch.constant([1, 2, 3], lr=0.3), [0.3, 0.3, 0.3])


def test_step_decay_multiplies_by_gamma_every_step_size_steps():
    t = np.arange(1, 8)
    close(sch.decay(t, lr=1.0, gamma=0.5, step_size=3), [1, 1, 1, 0.5, 0.5, 0.5, 0.25])


def test_exponential_decay_starts_at_lr_on_the_first_step():
    close(sch.decay([1, 2, 3, 4], lr=2.0, kind="exponential", gamma=0.5), [2, 1, 0.5, 0.25])


def test_inverse_time_decay_is_lr_over_one_plus_gamma_t_minus_one():
    close(sch.decay([1, 2, 3, 5], lr=1.0, kind="inverse_time", gamma=0.5), [1, 1 / 1.5, 0.5, 1 / 3])


def test_continuous_decay_spreads_gamma_over_each_step_size_steps():
    # lr·γ^((t − 1)/s): γ reached after s steps, as step decay's, but γ^(1/s) a step between
    close(sch.decay([1, 2, 3, 5], lr=2.0, kind="continuous", gamma=0.25, step_size=2),
          [2, 2 * 0.5, 2 * 0.25, 2 * 0.0625])  # fmt: skip


def test_continuous_decay_matches_optax_and_keras_without_staircase():
    # both count from 0: their step e is t − 1 (optax 0.2.8 schedules/_schedule.py
    # exponential_decay; Keras 3 learning_rate_schedule.py ExponentialDecay)
    t = np.arange(1, 12)
    expected = sch.decay(t, lr=0.2, kind="continuous", gamma=0.7, step_size=3)
    close(expected, 0.2 * 0.7 ** ((t - 1) / 3), rtol=1e-15)
    optax = pytest.importorskip("optax")
    schedule = optax.exponential_decay(0.2, transition_steps=3, decay_rate=0.7)
    close(expected, [float(schedule(e)) for e in t - 1], rtol=1e-6)  # optax in float32


def test_warmup_rises_linearly_then_decays_as_inverse_sqrt():
    close(sch.warmup([1, 2, 3, 4], lr=2.0, warmup=4), [0.5, 1.0, 1.5, 2.0])
    close(sch.warmup([16, 64], lr=2.0, warmup=4), [2.0 * 0.5, 2.0 * 0.25])  # √(4/16), √(4/64)


def test_warmup_then_linear_reaches_zero_at_total_and_stays_there():
    close(sch.warmup([4, 5, 6, 8, 9, 100], lr=1.0, warmup=4, then="linear", total=8),
          [1.0, 0.75, 0.5, 0.0, 0.0, 0.0])  # fmt: skip


def test_warmup_then_cosine_by_hand():
    got = sch.warmup([4, 5, 6, 7, 8, 9], lr=1.0, warmup=4, then="cosine", total=8)
    # (1 + cos(πk/4))/2 for k = 0, 1, 2, 3, 4 steps after the warm-up
    expected = [1.0, 0.5 + math.sqrt(2) / 4, 0.5, 0.5 - math.sqrt(2) / 4, 0.0, 0.0]
    close(got, expected, rtol=1e-12)


def test_warmup_from_zero_gives_the_first_step_the_initial_value():
    # s = t − 1: 0 on the first step, lr one step after the from_one schedule reaches it
    close(sch.warmup([1, 2, 3, 4, 5], lr=2.0, warmup=4, counting="from_zero"),
          [0.0, 0.5, 1.0, 1.5, 2.0])  # fmt: skip
    close(sch.warmup([17, 65], lr=2.0, warmup=4, counting="from_zero"), [1.0, 0.5])


@pytest.mark.parametrize(("then", "optax_schedule"), [
    ("cosine", "warmup_cosine_decay_schedule"), ("linear", "linear_onecycle")])  # fmt: skip
def test_warmup_from_zero_is_optax_at_the_count_before_the_step(then, optax_schedule):
    optax = pytest.importorskip("optax")
    if then == "linear":  # optax's piecewise-linear warm-up then decay to 0 at ``total``
        schedule = optax.join_schedules(
            [optax.linear_schedule(0.0, 0.3, 5), optax.linear_schedule(0.3, 0.0, 7)], [5]
        )
    else:
        schedule = optax.warmup_cosine_decay_schedule(0.0, 0.3, 5, 12, end_value=0.0)
    t = np.arange(1, 16)
    expected = np.array([float(schedule(k)) for k in t - 1])  # optax's count, from 0
    got = sch.warmup(t, lr=0.3, warmup=5, then=then, total=12, counting="from_zero")
    close(got, expected, rtol=1e-6)  # optax computes in float32


def test_noam_by_hand():
    # d = 512, w = 4000: at t = 1, 512^-0.5·4000^-1.5; at the peak t = w, (512·4000)^-0.5;
    # at t = 16000, 512^-0.5·16000^-0.5 = (512·16000)^-0.5
    got = sch.noam([1, 4000, 16000], d_model=512, warmup=4000)
    expected = [
        1 / (math.sqrt(512) * 4000**1.5),
        1 / math.sqrt(512 * 4000),
        1 / math.sqrt(512 * 16000),
    ]
    close(got, expected)
    assert sch.noam(4000, d_model=512) == pytest.approx(1 / math.sqrt(2_048_000), rel=1e-14)


# --- properties -------------------------------------------------------------------------


@pytest.mark.parametrize("warmup", [1, 7, 100, 4000])
def test_noam_peaks_at_t_equal_warmup(warmup):
    t = np.arange(1, 4 * warmup + 1)
    assert t[np.argmax(sch.noam(t, d_model=64, warmup=warmup))] == warmup


@pytest.mark.parametrize("then", ["inverse_sqrt", "linear", "cosine"])
def test_warmup_increases_strictly_then_never_increases_and_peaks_at_lr(then):
    t = np.arange(1, 41)
    eta = sch.warmup(t, lr=0.5, warmup=10, then=then, total=30)
    assert np.all(np.diff(eta[:10]) > 0)
    assert np.all(np.diff(eta[9:]) <= 0)
    assert eta.max() == eta[9] == pytest.approx(0.5, rel=1e-15)


def test_noam_warmup_increases_strictly():
    eta = sch.noam(np.arange(1, 101), d_model=16, warmup=100)
    assert np.all(np.diff(eta) > 0)


def test_scalar_t_gives_a_float_and_array_t_keeps_its_shape():
    assert type(sch.noam(5, d_model=8, warmup=3)) is float
    assert type(sch.decay(np.int64(3), lr=1.0, gamma=0.5, step_size=1)) is float
    assert sch.warmup(3.0, lr=1.0, warmup=4) == 0.75  # a whole float is a step count
    t = np.arange(1, 7).reshape(2, 3)
    for eta in (
        sch.constant(t, lr=1.0),
        sch.decay(t, lr=1.0, kind="exponential", gamma=0.9),
        sch.warmup(t, lr=1.0, warmup=2),
        sch.noam(t, d_model=8, warmup=2),
    ):
        assert eta.shape == (2, 3) and eta.dtype == np.float64


def test_decay_matches_pytorch_steplr_and_exponentiallr():
    torch = pytest.importorskip("torch")
    for make, kw in [
        (torch.optim.lr_scheduler.StepLR, {"step_size": 3, "gamma": 0.5}),
        (torch.optim.lr_scheduler.ExponentialLR, {"gamma": 0.9}),
    ]:
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.2)
        scheduler = make(optimizer, **kw)
        torch_lr = []
        for _ in range(10):  # the rate used by step t = 1, 2, ...
            torch_lr.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        kind = "step" if "step_size" in kw else "exponential"
        close(sch.decay(np.arange(1, 11), lr=0.2, kind=kind, **kw), torch_lr, rtol=1e-12)


# --- bad input --------------------------------------------------------------------------

SCHEDULES = [
    lambda t: sch.constant(t, lr=1.0),
    lambda t: sch.decay(t, lr=1.0, gamma=0.5, step_size=2),
    lambda t: sch.warmup(t, lr=1.0, warmup=4),
    lambda t: sch.noam(t, d_model=8, warmup=4),
]


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize(
    ("t", "error", "message"),
    [
        (0, ValueError, r"t must be at least 1 \(the first step\), got 0"),
        (-3, ValueError, "t must be at least 1"),
        (np.array([1, 2, 0]), ValueError, "t must be at least 1"),
        (2.5, ValueError, "t must hold whole step counts"),
        (np.array([1.0, 1.5]), ValueError, "t must hold whole step counts"),
        (float("nan"), ValueError, "t must hold whole step counts"),
        (True, TypeError, "t must be an integer step count"),
        (np.array([True, False]), TypeError, "t must hold integer step counts, got dtype bool"),
        ("3", TypeError, "t must be an integer step count"),
        (None, TypeError, "t must be an integer step count"),
    ],
)
def test_every_schedule_rejects_bad_steps(schedule, t, error, message):
    with pytest.raises(error, match=message):
        schedule(t)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: sch.constant(1, lr=0.0), ValueError, "lr must be positive"),
        (lambda: sch.decay(1, lr=-1.0, gamma=0.5, step_size=1), ValueError, "lr must be positive"),
        (lambda: sch.decay(1, lr=1.0, kind="cosine", gamma=0.5), ValueError,
         "kind must be one of 'step', 'exponential', 'inverse_time', 'continuous', got 'cosine'"),
        (lambda: sch.decay(1, lr=1.0, gamma=1.5, step_size=1), ValueError,
         r"gamma must be in \(0, 1\], got 1.5"),
        (lambda: sch.decay(1, lr=1.0, kind="exponential", gamma=0.0), ValueError,
         r"gamma must be in \(0, 1\]"),
        (lambda: sch.decay(1, lr=1.0, kind="inverse_time", gamma=-1.0), ValueError,
         "gamma must be non-negative"),
        (lambda: sch.decay(1, lr=1.0, gamma=0.5), ValueError, "step_size must be given"),
        (lambda: sch.decay(1, lr=1.0, gamma=0.5, step_size=0), ValueError,
         "step_size must be at least 1"),
        (lambda: sch.decay(1, lr=1.0, gamma=0.5, step_size=1.5), TypeError,
         "step_size must be an integer"),
        (lambda: sch.warmup(1, lr=1.0, warmup=0), ValueError, "warmup must be at least 1"),
        (lambda: sch.warmup(1, lr=1.0, warmup=4, then="step"), ValueError,
         "then must be one of 'inverse_sqrt', 'linear', 'cosine'"),
        (lambda: sch.warmup(1, lr=1.0, warmup=4, then="cosine"), ValueError,
         "total must be given for then='cosine'"),
        (lambda: sch.warmup(1, lr=1.0, warmup=4, then="linear", total=4), ValueError,
         "total must be at least 5, got 4"),
        (lambda: sch.noam(1, d_model=0), ValueError, "d_model must be at least 1"),
        (lambda: sch.noam(1, d_model=8.0), TypeError, "d_model must be an integer"),
        (lambda: sch.noam(1, d_model=8, warmup=0), ValueError, "warmup must be at least 1"),
    ],
)  # fmt: skip
def test_bad_schedule_parameters_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()
