"""Learning-rate schedules (catalogue section 4): values against the oracle, the decay kind and
the form after the warm-up measured, every documented kind and form against the oracle in the
same mode, and the shapes the sources state (Noam peaks at the end of its warm-up, a warm-up
rises, a decay never rises). Steps count from t = 1; a target that evaluates its warm-up at the
count of steps taken before the update (optax, Keras: the first step gets the initial value)
matches the documented ``counting="from_zero"`` variant.

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

DECAY_KINDS = oracle.DECAY_KINDS
WARMUP_THEN = ("inverse_sqrt", "linear", "cosine")
WARMUP_COUNTING = ("from_one", "from_zero")
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
    # with step_size ≥ 2 and γ < 1 the kinds differ from t = 2 on (continuous γ^(1/step_size)
    # against step's 1 and exponential's γ)
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


def _warmup_candidates(t, *, lr, warmup, total, **fixed) -> dict[str, dict[str, np.ndarray]]:
    """The oracle's warm-up schedules, {counting: {then: η}}, with ``fixed`` keywords held."""
    return {
        counting: {
            then: oracle.warmup(t, lr=lr, warmup=warmup, total=total,
                                **({"then": then, "counting": counting} | fixed))
            for then in WARMUP_THEN
        }
        for counting in WARMUP_COUNTING
    }  # fmt: skip


def _nearest(eta: np.ndarray, candidates: dict[str, np.ndarray]) -> float:
    return min(float(np.max(np.abs(eta - e))) for e in candidates.values())


@pytest.mark.algorithm("warmup")
@given(lr=rates, warmup=st.integers(1, 20), extra=st.integers(2, 30))
def test_warmup_then_matches_a_documented_decay(target, lr, warmup, extra):
    # the form after the warm-up is measured under the target's own step counting (the
    # warm-up check measures that): the documented forms of the counting that comes nearest
    total = warmup + extra
    t = np.arange(1, total + 3)  # past total, where linear and cosine are 0
    out, c = call(target, "warmup", t, lr=lr, warmup=warmup, total=total)
    eta = _values(out, c, t, "warmup(t)")
    by_counting = _warmup_candidates(t, lr=lr, warmup=warmup, total=total)
    counting = min(by_counting, key=lambda k: _nearest(eta, by_counting[k]))
    assert_matches_variant(eta, by_counting[counting], default="inverse_sqrt",
                           what=f"warmup(t) (counting {counting})", call=c,
                           dtype="float64")  # fmt: skip


@pytest.mark.algorithm("warmup")
@pytest.mark.parametrize(("keyword", "mode"), modes("warmup"))
@given(lr=rates, warmup=st.integers(1, 20), extra=st.integers(2, 30))
def test_warmup_matches_the_oracle_in_every_documented_form(
    target, keyword, mode, lr, warmup, extra
):
    # past ``total`` too, where linear and cosine stay at 0 (a periodic cosine rises again).
    # The keyword passed fixes one mode; the other keyword is left to the target's default,
    # measured among its documented values (a from_zero target called with then= only)
    total = warmup + extra
    t = np.arange(1, total + 3)
    out, c = call(target, "warmup", t, lr=lr, warmup=warmup, total=total, **{keyword: mode})
    eta = _values(out, c, t, f"warmup(t, {keyword}={mode!r})")
    by_counting = _warmup_candidates(t, lr=lr, warmup=warmup, total=total, **{keyword: mode})
    if keyword == "counting":
        candidates, default = by_counting[mode], "inverse_sqrt"
    else:
        candidates = {k: forms[mode] for k, forms in by_counting.items()}
        default = WARMUP_COUNTING[0]
    assert_matches_variant(eta, candidates, default=default,
                           what=f"warmup(t, {keyword}={mode!r})", call=c,
                           dtype="float64")  # fmt: skip


@pytest.mark.algorithm("warmup")
@given(lr=rates, warmup=st.integers(1, 20), extra=st.integers(2, 30))
def test_warmup_rises_linearly_to_lr_then_never_increases(target, lr, warmup, extra):
    # the warm-up phase in either documented counting: lr·t/warmup (from_one) or
    # lr·(t − 1)/warmup (from_zero: the first step gets the initial value 0, lr comes one
    # step later), measured; then strictly rising up to lr and never rising after it
    total = warmup + extra
    t = np.arange(1, total + 3)
    out, c = call(target, "warmup", t, lr=lr, warmup=warmup, total=total)
    eta = _values(out, c, t, "warmup(t)")
    phase = {"from_one": lr * t[:warmup] / warmup, "from_zero": lr * (t[:warmup] - 1) / warmup}
    counting = assert_matches_variant(eta[:warmup], phase, default="from_one",
                                      what="warm-up phase lr·s/warmup", call=c,
                                      dtype="float64")  # fmt: skip
    peak = warmup if counting == "from_one" else warmup + 1  # the step that gets lr
    if np.any(np.diff(eta[:peak]) <= 0):
        fail(f"the warm-up must rise strictly, got {eta[:peak]}", c)
    assert_close(eta[peak - 1], lr, what=f"the rate at the end of the warm-up (step {peak})",
                 call=c, dtype="float64")  # fmt: skip
    if np.any(np.diff(eta[peak - 1 :]) > 0):
        fail(f"after the warm-up the rate must never increase, got {eta[peak - 1 :]}", c)
