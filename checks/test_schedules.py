"""Learning-rate schedules (catalogue section 4): values against the oracle, the decay kind and
the form after the warm-up measured, every documented kind and form against the oracle in the
same mode, and the shapes the sources state (Noam peaks at the end of its warm-up, a warm-up
rises, a decay never rises). Steps count from t = 1.

A call without a mode keyword runs the target's own default, whose kind or form is measured
(``assert_matches_variant``); the checks of every documented mode pass ``kind=`` or ``then=``
(a target that does not take one is unsupported in that mode).

Every input is drawn as a value, and Hypothesis shrinks it (no seeded generator): a schedule
is a function of a few scalars (lr, γ, step_size, warmup, total, the number of steps), and the
shrunk counterexample is the shortest schedule that shows the fault.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnconform.checks.assertions import assert_close, assert_matches_variant, call, fail
from nnconform.checks.strategies import modes
from nnconform.reference import schedules as oracle

DECAY_KINDS = ("step", "exponential", "inverse_time")
WARMUP_THEN = ("inverse_sqrt", "linear", "cosine")
rates = st.sampled_from([1e-3, 0.01, 0.1, 1.0])


def _values(out, c, t: np.ndarray, what: str) -> np.ndarray:
    """The schedule's values as float64, checked for shape and finiteness."""
    out = np.asarray(out)
    if out.shape != t.shape or not np.issubdtype(out.dtype, np.floating):
        fail(f"{what}: out has shape {out.shape} and dtype {out.dtype}, but should be "
             f"float of shape {t.shape}", c)  # fmt: skip
    if not np.all(np.isfinite(out)):
        fail(f"{what}: out={out} is not finite", c)
    return out.astype(np.float64)


@pytest.mark.algorithm("constant")
@given(lr=rates, steps=st.integers(1, 50))
def test_constant_schedule_is_lr_at_every_step(target, lr, steps):
    t = np.arange(1, steps + 1)
    out, c = call(target, "constant", t, lr=lr)
    assert_close(out, np.full(t.shape, lr), what="constant(t, lr)", call=c, dtype="float64")


@pytest.mark.algorithm("noam")
@given(d_model=st.sampled_from([16, 64, 512]), warmup=st.integers(1, 400))
def test_noam_matches_the_oracle_and_peaks_at_warmup(target, d_model, warmup):
    # d^−0.5·min(t^−0.5, t·w^−1.5): linear up to t = w, ∝ 1/√t after; the two meet at t = w
    t = np.arange(1, 3 * warmup + 3)
    out, c = call(target, "noam", t, d_model=d_model, warmup=warmup)
    eta = _values(out, c, t, "noam(t)")
    assert_close(eta, oracle.noam(t, d_model=d_model, warmup=warmup), what="noam(t)", call=c,
                 dtype="float64")  # fmt: skip
    peak = int(t[np.argmax(eta)])
    if peak != warmup:
        fail(f"noam peaks at t = {peak} (η = {eta.max()!r}), but should peak at t = warmup = "
             f"{warmup} (η = {eta[warmup - 1]!r})", c)  # fmt: skip
    rise, fall = np.diff(eta[:warmup]), np.diff(eta[warmup - 1 :])
    if np.any(rise <= 0) or np.any(fall >= 0):
        fail("noam must rise strictly up to t = warmup and fall strictly after it", c)


@pytest.mark.algorithm("decay")
@given(lr=rates, gamma=st.floats(0.3, 0.95), step_size=st.integers(2, 5),
       steps=st.integers(8, 30))  # fmt: skip
def test_decay_matches_a_documented_kind(target, lr, gamma, step_size, steps):
    # with step_size ≥ 2 and γ < 1 the three kinds differ from t = 2 on
    t = np.arange(1, steps + 1)
    out, c = call(target, "decay", t, lr=lr, gamma=gamma, step_size=step_size)
    eta = _values(out, c, t, "decay(t)")
    candidates = {
        kind: oracle.decay(t, lr=lr, kind=kind, gamma=gamma, step_size=step_size)
        for kind in DECAY_KINDS
    }
    assert_matches_variant(eta, candidates, default="step", what="decay(t)", call=c,
                           dtype="float64")  # fmt: skip


@pytest.mark.algorithm("decay")
@pytest.mark.parametrize(("keyword", "kind"), modes("decay"))
@given(lr=rates, gamma=st.floats(0.3, 0.95), step_size=st.integers(1, 5),
       steps=st.integers(2, 30))  # fmt: skip
def test_decay_matches_the_oracle_in_every_documented_kind(
    target, keyword, kind, lr, gamma, step_size, steps
):
    t = np.arange(1, steps + 1)
    mode = {keyword: kind}
    out, c = call(target, "decay", t, lr=lr, gamma=gamma, step_size=step_size, **mode)
    eta = _values(out, c, t, f"decay(t, {keyword}={kind!r})")
    expected = oracle.decay(t, lr=lr, gamma=gamma, step_size=step_size, **mode)
    assert_close(eta, expected, what=f"decay(t, {keyword}={kind!r})", call=c, dtype="float64")


@pytest.mark.algorithm("decay")
@given(lr=rates, gamma=st.floats(0.3, 1.0), step_size=st.integers(1, 5),
       steps=st.integers(2, 30))  # fmt: skip
def test_decay_starts_at_lr_and_never_increases(target, lr, gamma, step_size, steps):
    t = np.arange(1, steps + 1)
    out, c = call(target, "decay", t, lr=lr, gamma=gamma, step_size=step_size)
    eta = _values(out, c, t, "decay(t)")
    assert_close(eta[0], lr, what="decay at t = 1", call=c, dtype="float64")
    if np.any(np.diff(eta) > 0) or np.any(eta <= 0):
        fail(f"decay must stay positive and never increase, got {eta}", c)


@pytest.mark.algorithm("warmup")
@given(lr=rates, warmup=st.integers(1, 20), extra=st.integers(2, 30))
def test_warmup_then_matches_a_documented_decay(target, lr, warmup, extra):
    total = warmup + extra
    t = np.arange(1, total + 3)  # past total, where linear and cosine are 0
    out, c = call(target, "warmup", t, lr=lr, warmup=warmup, total=total)
    eta = _values(out, c, t, "warmup(t)")
    candidates = {
        then: oracle.warmup(t, lr=lr, warmup=warmup, then=then, total=total) for then in WARMUP_THEN
    }
    assert_matches_variant(eta, candidates, default="inverse_sqrt", what="warmup(t)", call=c,
                           dtype="float64")  # fmt: skip


@pytest.mark.algorithm("warmup")
@pytest.mark.parametrize(("keyword", "then"), modes("warmup"))
@given(lr=rates, warmup=st.integers(1, 20), extra=st.integers(2, 30))
def test_warmup_matches_the_oracle_in_every_documented_form(
    target, keyword, then, lr, warmup, extra
):
    # past ``total`` too, where linear and cosine stay at 0 (a periodic cosine rises again)
    total = warmup + extra
    t = np.arange(1, total + 3)
    mode = {keyword: then}
    out, c = call(target, "warmup", t, lr=lr, warmup=warmup, total=total, **mode)
    eta = _values(out, c, t, f"warmup(t, {keyword}={then!r})")
    expected = oracle.warmup(t, lr=lr, warmup=warmup, total=total, **mode)
    assert_close(eta, expected, what=f"warmup(t, {keyword}={then!r})", call=c, dtype="float64")


@pytest.mark.algorithm("warmup")
@given(lr=rates, warmup=st.integers(1, 20), extra=st.integers(2, 30))
def test_warmup_rises_linearly_to_lr_then_never_increases(target, lr, warmup, extra):
    total = warmup + extra
    t = np.arange(1, total + 3)
    out, c = call(target, "warmup", t, lr=lr, warmup=warmup, total=total)
    eta = _values(out, c, t, "warmup(t)")
    assert_close(eta[:warmup], lr * t[:warmup] / warmup, what="warm-up phase lr·t/warmup",
                 call=c, dtype="float64")  # fmt: skip
    if np.any(np.diff(eta[:warmup]) <= 0):
        fail(f"the warm-up must rise strictly, got {eta[:warmup]}", c)
    if np.any(np.diff(eta[warmup - 1 :]) > 0):
        fail(f"after the warm-up the rate must never increase, got {eta[warmup - 1 :]}", c)
