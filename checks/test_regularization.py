"""Regularisation and ensembles (catalogue section 6): dropout with a given mask and with the
target's own masks (statistically), in each documented variant; the ensemble variance law
exactly and by Monte Carlo; bagging's resampling; early stopping; and the independence of
every random draw across calls (a mask or a resample reused on the next call, or drawn
without the generator given, fails).

Statistical checks follow ``nnconform.checks.statistics``: a fixed number of examples and
bounds that a correct target trips with probability at most 1e-6 per check; each states its
power.

Drawn as values (Hypothesis shrinks them): keep probabilities, the inputs and upstream
gradients of dropout with a given mask, ensemble sizes, variances and covariances, sizes of
resamples, losses of early stopping. From a seed (a numpy generator whose seed Hypothesis
draws): dropout masks handed to the target (0/1 patterns with a given keep rate are a
structure, not values to shrink one by one), the large inputs of the statistical checks and
the generators handed to the target (their thousands of draws are the statistic).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from nnconform.checks.assertions import assert_close, assert_matches_variant, call, fail
from nnconform.checks.gradients import assert_backward_matches_finite_differences
from nnconform.checks.statistics import (
    assert_at_chance,
    assert_drawn_afresh,
    binomial_fraction_tolerance,
    chi2_mean_tolerance,
    mask_agreement,
    mcdiarmid_deviation,
    multiset_overlap,
    statistical,
)
from nnconform.checks.strategies import SEEDS, arrays, modes, shapes
from nnconform.checks.tolerances import EXACT, conditioned, tolerance
from nnconform.reference import regularization as oracle

FLOAT64 = "float64"
# Keep probabilities away from 1/2, where "keep p" and "drop p" coincide, and from 0 and 1,
# where the variants coincide or the scale 1/p blows up.
KEEP = st.one_of(st.floats(0.15, 0.4), st.floats(0.6, 0.9))


def _mask(rng: np.random.Generator, shape: tuple[int, ...], p: float) -> np.ndarray:
    """A 0/1 mask with its first unit kept, so that the variants always differ somewhere."""
    mask = (rng.random(shape) < p).astype(np.float64)
    mask.flat[0] = 1.0
    return mask


def _nonzero(x: np.ndarray) -> np.ndarray:
    """x with its first entry set to 1 (the unit the mask keeps): the variants differ there."""
    x = x.copy()
    x.flat[0] = 1.0
    return x


# --- dropout with a given mask ------------------------------------------------------------


@pytest.mark.algorithm("dropout")
@given(data=st.data(), p=KEEP, seed=SEEDS)
def test_dropout_with_a_given_mask_matches_a_documented_variant(target, dtype, data, p, seed):
    x = _nonzero(data.draw(arrays(shapes(max_dims=3, max_side=6)), label="x")).astype(dtype)
    mask = _mask(np.random.default_rng(seed), x.shape, p).astype(dtype)
    out, c = call(target, "dropout", x, mask, p=p, training=True)
    expected = {v: oracle.dropout(x, mask, p=p, variant=v) for v in oracle.DROPOUT_VARIANTS}
    assert_matches_variant(
        out, expected, default="standard", what="dropout(x, mask) in training", call=c, dtype=dtype
    )


@pytest.mark.algorithm("dropout")
@given(data=st.data(), p=KEEP)
def test_dropout_at_evaluation_matches_a_documented_variant(target, dtype, data, p):
    x = _nonzero(data.draw(arrays(shapes(max_dims=3, max_side=6)), label="x")).astype(dtype)
    out, c = call(target, "dropout", x, None, p=p, training=False)
    expected = {
        v: oracle.dropout(x, None, p=p, training=False, variant=v) for v in oracle.DROPOUT_VARIANTS
    }
    assert_matches_variant(
        out, expected, default="standard", what="dropout(x) at evaluation", call=c, dtype=dtype
    )


@pytest.mark.algorithm("dropout")
@given(data=st.data(), p=KEEP)
def test_dropout_keeps_the_expected_training_output_equal_to_the_evaluation_output(target, data, p):
    # dropout is linear in each unit: E[training output] = p · (output with the unit kept).
    # Whatever the variant, that must equal the evaluation output, or a network trained with
    # dropout sees other activations at test time (standard: p·x both; inverted: x both).
    x = _nonzero(data.draw(arrays(shapes(max_dims=2, max_side=6)), label="x"))
    kept, _ = call(target, "dropout", x, np.ones_like(x), p=p, training=True)
    evaluated, c_eval = call(target, "dropout", x, None, p=p, training=False)
    assert_close(
        p * np.asarray(kept, dtype=np.float64),
        np.asarray(evaluated, dtype=np.float64),
        what="p · dropout(x, all kept) against dropout(x) at evaluation",
        call=c_eval,
        dtype=FLOAT64,
    )


@pytest.mark.algorithm("dropout")
@given(data=st.data(), p=KEEP, seed=SEEDS, training=st.booleans())
def test_dropout_backward_matches_the_oracle_and_finite_differences(
    target, data, p, seed, training
):
    x = _nonzero(data.draw(arrays(shapes(max_dims=3, max_side=5)), label="x"))
    dy = _nonzero(data.draw(arrays(x.shape, low=-2, high=2), label="dy"))
    mask = _mask(np.random.default_rng(seed), x.shape, p) if training else None
    dx, c = call(target, "dropout_backward", x, mask, dy, p=p, training=training)
    expected = {
        v: oracle.dropout_backward(x, mask, dy, p=p, training=training, variant=v)
        for v in oracle.DROPOUT_VARIANTS
    }
    assert_matches_variant(
        dx, expected, default="standard", what="dropout_backward(x, mask, dy)", call=c
    )
    forward = target.get("dropout")
    if forward is not None:
        assert_backward_matches_finite_differences(
            lambda x: forward(x, mask, p=p, training=training),
            [x],
            dy,
            [dx],
            [0],
            seed=seed,
            what="dropout_backward",
            call=c,
            oracle=[lambda x, v=v: oracle.dropout(x, mask, p=p, training=training, variant=v)
                    for v in oracle.DROPOUT_VARIANTS],
        )  # fmt: skip


@pytest.mark.algorithm("dropout")
@pytest.mark.parametrize(("keyword", "mode"), modes("dropout"))
@given(data=st.data(), p=KEEP, seed=SEEDS, training=st.booleans())
def test_dropout_in_each_mode_matches_the_oracle_in_that_mode(
    target, keyword, mode, data, p, seed, training
):
    # exact: with the mask given, forward and backward are the mode's formula, r ⊙ x or
    # r ⊙ x / p in training, p·x or x at evaluation (and likewise for dy)
    x = _nonzero(data.draw(arrays(shapes(max_dims=3, max_side=5)), label="x"))
    dy = _nonzero(data.draw(arrays(x.shape, low=-2, high=2), label="dy"))
    mask = _mask(np.random.default_rng(seed), x.shape, p) if training else None
    options = {"p": p, "training": training, keyword: mode}
    y, c = call(target, "dropout", x, mask, **options)
    expected = oracle.dropout(x, mask, **options)
    assert_close(y, expected, what=f"dropout(x, mask, {options})", call=c, dtype=FLOAT64)
    dx, c = call(target, "dropout_backward", x, mask, dy, **options)
    expected = oracle.dropout_backward(x, mask, dy, **options)
    assert_close(dx, expected, what=f"dropout_backward(x, mask, dy, {options})", call=c)


# --- dropout with the target's own masks (statistical) ----------------------------------

SAMPLE_SHAPE = (200, 200)  # 40 000 units per draw
MASK_SHAPE = (100, 100)  # 10 000 units per mask: for the checks of modes and of independence


@pytest.mark.algorithm("dropout")
@statistical
@given(p=KEEP, seed=SEEDS)
def test_dropout_sample_keeps_each_unit_with_probability_p(target, p, seed):
    # K kept units of n = 40 000 is Binomial(n, p) for a correct target. False alarm: the
    # exact binomial bound at 1e-7 (about 5.3 sigma), 3 examples: 3e-7 per check. Power: the
    # standard deviation of K/n is at most 0.0025, the bound at most 0.0134, so a keep
    # probability off by 0.02 is caught with probability > 0.99, and PyTorch's convention
    # misread (keeping with the drop probability 1 − p, off by ≥ 0.2 here) always.
    x = np.ones(SAMPLE_SHAPE)
    y, c = call(target, "dropout_sample", x, p=p, rng=np.random.default_rng(seed), training=True)
    y = np.asarray(y, dtype=np.float64)
    if y.shape != x.shape:
        fail(f"dropout_sample: out has shape {y.shape}, but should have shape {x.shape}", c)
    fraction = np.count_nonzero(y) / y.size
    assert_close(
        np.float64(fraction),
        p,
        what=f"the fraction of units dropout_sample keeps (keep probability p = {p})",
        call=c,
        tol=binomial_fraction_tolerance(y.size, p),
    )


@pytest.mark.algorithm("dropout")
@statistical
@given(data=st.data(), p=KEEP, seed=SEEDS)
def test_dropout_sample_scales_kept_units_as_a_documented_variant(target, data, p, seed):
    # Exact, not statistical: whichever units the target keeps, each kept unit is x (standard)
    # or x/p (inverted). Inputs are bounded away from 0 so that "kept" is visible.
    x = data.draw(arrays((40, 50), low=0.5, high=2.0), label="x")
    x = x * np.where(np.arange(x.size).reshape(x.shape) % 2, -1.0, 1.0)
    y, c = call(target, "dropout_sample", x, p=p, rng=np.random.default_rng(seed), training=True)
    y = np.asarray(y, dtype=np.float64)
    if y.shape != x.shape:
        fail(f"dropout_sample: out has shape {y.shape}, but should have shape {x.shape}", c)
    kept = y != 0
    if not kept.any():
        fail(f"dropout_sample dropped all {x.size} units with keep probability p = {p}", c)
    expected = {"standard": x[kept], "inverted": x[kept] / p}
    assert_matches_variant(
        y[kept], expected, default="standard", what="the kept units of dropout_sample", call=c
    )


@pytest.mark.algorithm("dropout")
@given(data=st.data(), p=KEEP, seed=SEEDS)
def test_dropout_sample_at_evaluation_matches_a_documented_variant(target, data, p, seed):
    x = _nonzero(data.draw(arrays(shapes(max_dims=3, max_side=6)), label="x"))
    y, c = call(target, "dropout_sample", x, p=p, rng=np.random.default_rng(seed), training=False)
    expected = {
        v: oracle.dropout(x, None, p=p, training=False, variant=v) for v in oracle.DROPOUT_VARIANTS
    }
    assert_matches_variant(
        y, expected, default="standard", what="dropout_sample(x) at evaluation", call=c
    )


@pytest.mark.algorithm("dropout")
@statistical
@given(p=KEEP, seed=SEEDS)
def test_dropout_sample_mean_in_training_equals_the_evaluation_output(target, p, seed):
    # On x = 1 a correct target outputs s (kept) or 0, so the training mean is s·K/n with
    # K ~ Binomial(n, p), and s·p is the evaluation output. The check allows s times the
    # exact binomial bound at 1e-7 (3 examples: false alarm 3e-7 per check). Power: a
    # target that scales kept units for one variant and evaluates in the other is off by a
    # factor p or 1/p (≥ 10 % here), far beyond the bound of ≤ 1.4 % (relative to s); always
    # caught.
    x = np.ones(SAMPLE_SHAPE)
    y, c = call(target, "dropout_sample", x, p=p, rng=np.random.default_rng(seed), training=True)
    evaluated, c_eval = call(
        target, "dropout_sample", x, p=p, rng=np.random.default_rng(seed), training=False
    )
    y, evaluated = np.asarray(y, dtype=np.float64), np.asarray(evaluated, dtype=np.float64)
    if y.shape != x.shape or evaluated.shape != x.shape:
        fail(f"dropout_sample: out has shape {y.shape}, but should have shape {x.shape}", c)
    scale = float(np.max(np.abs(y)))
    bound = binomial_fraction_tolerance(y.size, p)
    assert_close(
        np.float64(y.mean()),
        float(evaluated.mean()),
        what="the mean of dropout_sample(1) in training against its evaluation output",
        call=c_eval,
        tol=bound._replace(atol=bound.atol * scale),
    )


@pytest.mark.algorithm("dropout")
@pytest.mark.parametrize(("keyword", "mode"), modes("dropout"))
@statistical
@given(p=KEEP, seed=SEEDS)
def test_dropout_sample_in_each_mode_keeps_units_with_probability_p_and_scales_as_that_mode(
    target, keyword, mode, p, seed
):
    # One statistical comparison: the share of kept units of n = 10 000 within the exact
    # binomial bound at 1e-7 (≤ 0.027; 3 examples: false alarm ≤ 3e-7 per check). Power: a
    # keep probability off by 0.05, or PyTorch's drop probability misread (off by ≥ 0.2
    # here), is always caught. Exact, given the units the target kept: training output
    # r ⊙ x (standard) or r ⊙ x / p (inverted), evaluation output p·x or x. Inputs from the
    # seed, |x| in [0.5, 2] so that a kept unit is never 0.
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 2.0, MASK_SHAPE) * rng.choice([-1.0, 1.0], MASK_SHAPE)
    options = {"p": p, keyword: mode}
    y, c = call(target, "dropout_sample", x, rng=rng, training=True, **options)
    y = np.asarray(y, dtype=np.float64)
    if y.shape != x.shape:
        fail(f"dropout_sample: out has shape {y.shape}, but should have shape {x.shape}", c)
    kept = (y != 0).astype(np.float64)
    assert_close(
        np.float64(kept.mean()),
        p,
        what=f"the share of units dropout_sample({options}) keeps",
        call=c,
        tol=binomial_fraction_tolerance(kept.size, p),
    )
    expected = oracle.dropout(x, kept, **options)
    assert_close(y, expected, what=f"dropout_sample(x, {options}) on the units it kept", call=c)
    y, c = call(target, "dropout_sample", x, rng=rng, training=False, **options)
    expected = oracle.dropout(x, None, training=False, **options)
    assert_close(y, expected, what=f"dropout_sample(x, {options}) at evaluation", call=c)


def _drawn_mask(target, function: str, p: float):
    """The target's mask as a function of the generator: dropout_mask's own, or the units
    dropout_sample keeps of x = 1."""

    def draw(rng):
        if function == "dropout_mask":
            out, c = call(target, "dropout_mask", MASK_SHAPE, p=p, rng=rng)
        else:
            out, c = call(target, "dropout_sample", np.ones(MASK_SHAPE), p=p, rng=rng)
        out = np.asarray(out)
        if out.shape != MASK_SHAPE:
            fail(f"{function}: out has shape {out.shape}, but should have shape {MASK_SHAPE}", c)
        return (out != 0).astype(np.int8), c

    return draw


@pytest.mark.algorithm("dropout")
@pytest.mark.parametrize("function", ["dropout_mask", "dropout_sample"])
@statistical
@given(p=KEEP, seed=SEEDS)
def test_dropout_masks_are_drawn_afresh_on_each_call_from_the_generator_given(
    target, function, p, seed
):
    # ``assert_drawn_afresh``: a fresh generator of the same seed replays the mask exactly;
    # two successive calls, and generators of two seeds, give masks of n = 10 000 units that
    # agree on a share q = p² + (1 − p)² of them, within the exact binomial bound (≤ 0.027).
    # Two statistical comparisons at 1e-7, 3 examples: false alarm ≤ 6e-7 per check. Power: a
    # mask reused on the next call, or drawn from a fixed seed, agrees everywhere (share 1
    # against q ≤ 0.82 here): always caught; so is a mask only partly redrawn (a share off
    # by ≥ 0.03).
    assert_drawn_afresh(
        _drawn_mask(target, function, p),
        seed,
        lambda a, b: mask_agreement(a, b, p),
        what=f"{function}(shape {MASK_SHAPE}, p={p:.4g})",
    )


# --- model averaging and the ensemble variance law ---------------------------------------


def _law(v: float, c: float, k: int) -> float:
    """E[((1/k) Σ_i ε_i)²] = v/k + (k − 1)c/k  (seed 004, eq. 7.50), written out here."""
    return v / k + (k - 1) * c / k


def _equicorrelated(v: float, c: float, k: int) -> np.ndarray:
    """The (k, k) covariance with v on the diagonal and c elsewhere."""
    return (v - c) * np.eye(k) + c * np.ones((k, k))


@st.composite
def _ensembles(draw, min_rho: float | None = None):
    """(v, c, k) with c = ρv and ρ in the range where the covariance is valid."""
    k = draw(st.integers(1, 8), label="k")
    v = draw(st.floats(0.1, 5.0), label="v")
    low = -1.0 / (k - 1) if k > 1 else -1.0
    rho = draw(st.floats(low if min_rho is None else min_rho, 1.0), label="rho")
    return v, rho * v, k


@pytest.mark.algorithm("model_averaging")
@given(data=st.data())
def test_model_averaging_is_the_mean_of_the_predictions(target, dtype, data):
    k = data.draw(st.integers(1, 6), label="k")
    shape = data.draw(shapes(max_dims=2, max_side=5), label="shape")
    predictions = data.draw(arrays((k, *shape)), label="predictions").astype(dtype)
    out, c = call(target, "model_averaging", predictions)
    expected = oracle.model_averaging(predictions)
    assert_close(out, expected, what="model_averaging(predictions)", call=c, dtype=dtype)


@pytest.mark.algorithm("model_averaging")
@given(ensemble=_ensembles())
def test_ensemble_error_law_is_v_over_k_plus_the_covariance_term(target, ensemble):
    v, cov, k = ensemble
    out, c = call(target, "ensemble_error_law", v, cov, k)
    assert_close(
        np.float64(out), _law(v, cov, k), what="ensemble_error_law(v, c, k)", call=c, dtype=FLOAT64
    )


@pytest.mark.algorithm("model_averaging")
@given(ensemble=_ensembles(), data=st.data())
def test_ensemble_error_from_covariance_equals_the_law(target, ensemble, data):
    # the law for the equicorrelated covariance, and 1ᵀΣ1/k² for any covariance Σ = AAᵀ
    v, cov, k = ensemble
    out, c = call(target, "ensemble_error_from_covariance", _equicorrelated(v, cov, k))
    assert_close(
        np.float64(out),
        _law(v, cov, k),
        what="ensemble_error_from_covariance(equicorrelated Σ)",
        call=c,
        dtype=FLOAT64,
    )
    A = data.draw(arrays((k, k), low=-2, high=2), label="A")
    sigma = A @ A.T
    out, c = call(target, "ensemble_error_from_covariance", sigma)
    assert_close(
        np.float64(out),
        oracle.ensemble_error_from_covariance(sigma),
        what="ensemble_error_from_covariance(AAᵀ)",
        call=c,
        dtype=FLOAT64,
    )


@pytest.mark.algorithm("model_averaging")
@given(ensemble=_ensembles())
def test_model_averaging_lowers_the_error_variance_by_the_law(target, ensemble):
    # Averaging is linear: the ensemble's error is wᵀε with w = model_averaging(I), the
    # average of the unit "predictions" e_i, so its variance is wᵀΣw exactly.
    v, cov, k = ensemble
    w, c = call(target, "model_averaging", np.eye(k))
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (k,):
        fail(f"model_averaging(I_k): out has shape {w.shape}, but should have shape {(k,)}", c)
    assert_close(
        w @ _equicorrelated(v, cov, k) @ w,
        _law(v, cov, k),
        what="wᵀΣw with w = model_averaging(I) against v/k + (k − 1)c/k",
        call=c,
        dtype=FLOAT64,
    )


@pytest.mark.algorithm("model_averaging")
@given(data=st.data())
def test_ensemble_squared_error_matches_the_oracle(target, data):
    k, n = data.draw(st.integers(1, 6), label="k"), data.draw(st.integers(1, 8), label="n")
    errors = data.draw(arrays((k, n)), label="errors")
    out, c = call(target, "ensemble_squared_error", errors)
    assert_close(
        np.float64(out),
        oracle.ensemble_squared_error(errors),
        what="ensemble_squared_error(errors)",
        call=c,
        dtype=FLOAT64,
    )


MONTE_CARLO_SAMPLES = 20_000


@pytest.mark.algorithm("model_averaging")
@statistical
@given(ensemble=_ensembles(min_rho=0.25), seed=SEEDS)
def test_ensemble_error_law_holds_by_monte_carlo(target, ensemble, seed):
    # n = 20 000 draws of k errors ~ N(0, Σ), Σ equicorrelated: the averaged error ē is
    # N(0, L) with L the law, so n·mean(ē²)/L is chi-square with n degrees of freedom. False
    # alarm: exact chi-square quantiles at 1e-7, a bound of 5.4 % of L; 3 examples: 3e-7 per
    # check. Power: with ρ = c/v ≥ 0.25 and k ≤ 8, the slip v/k + c (instead of
    # v/k + (k − 1)c/k) is off by ρ/(1 + (k − 1)ρ) ≥ 9 %, while the estimate's standard
    # deviation is 1 %: caught with probability > 0.999 9; so is any law off by ≥ 9 %.
    v, cov, k = ensemble
    lam, U = np.linalg.eigh(_equicorrelated(v, cov, k))
    root = U * np.sqrt(np.clip(lam, 0.0, None))  # Σ = root rootᵀ
    errors = root @ np.random.default_rng(seed).standard_normal((k, MONTE_CARLO_SAMPLES))
    estimate, _ = call(target, "ensemble_squared_error", errors)
    law, c = call(target, "ensemble_error_law", v, cov, k)
    assert_close(
        np.float64(estimate),
        float(law),
        what=f"ensemble_squared_error of {MONTE_CARLO_SAMPLES} draws against "
        f"ensemble_error_law(v={v:g}, c={cov:g}, k={k})",
        call=c,
        tol=chi2_mean_tolerance(MONTE_CARLO_SAMPLES),
    )


# --- bagging ------------------------------------------------------------------------------


def _rows(out, shape: tuple[int, int], what: str, c) -> np.ndarray:
    """``out`` as an integer (k, n) array of indices in range(n), or a failed check."""
    rows = np.asarray(out)
    if rows.shape != shape:
        fail(f"{what}: out has shape {rows.shape}, but should have shape {shape}", c)
    if not np.issubdtype(rows.dtype, np.integer):
        fail(f"{what}: out has dtype {rows.dtype}, but indices should be integers", c)
    if rows.size and (rows.min() < 0 or rows.max() >= shape[1]):
        fail(f"{what}: indices run from {rows.min()} to {rows.max()}, outside 0..{shape[1] - 1}", c)
    return rows


@pytest.mark.algorithm("bagging")
@statistical
@given(n=st.integers(50, 400), k=st.integers(20, 40), seed=SEEDS)
def test_bagging_samples_draw_with_replacement(target, n, k, seed):
    # Two statistical comparisons, each with false alarm ≤ 1e-7 (3 examples: ≤ 6e-7 per check):
    # 1. each row of n draws repeats an index: a row without a repeat has probability
    #    n!/nⁿ ≤ 3.5e-21 for n ≥ 50 (k ≤ 40 rows: < 1e-19). Power: drawing without
    #    replacement (a permutation) is always caught.
    # 2. the out-of-bag count over the k rows (a function of kn draws that one draw changes
    #    by at most 1) lies within McDiarmid's bound of k·n(1 − 1/n)ⁿ. Power: the bound is
    #    ≤ 25 % of the expectation here (kn ≥ 1000), so a resample that leaves out half the
    #    data, or none of it, is always caught.
    rows, c = call(target, "bagging_samples", n, k, np.random.default_rng(seed))
    rows = _rows(rows, (k, n), f"bagging_samples({n}, {k})", c)
    for i, row in enumerate(rows):
        if np.unique(row).size == n:
            fail(f"bagging_samples({n}, {k}): row {i} repeats no index (no replacement)", c)
    missing = sum(n - np.unique(row).size for row in rows)
    assert_close(
        np.float64(missing),
        k * n * (1 - 1 / n) ** n,
        what=f"examples out of bag over {k} resamples of {n}",
        call=c,
        tol=EXACT._replace(atol=mcdiarmid_deviation(k * n)),
    )


@pytest.mark.algorithm("bagging")
@statistical
@given(n=st.integers(50, 100), k=st.integers(4, 10), seed=SEEDS)
def test_bagging_samples_are_drawn_afresh_for_each_model_and_each_call(target, n, k, seed):
    # Three statistical comparisons of the examples two resamples share (the multiset
    # intersection, about 0.48·n per pair; McDiarmid's bound, see ``multiset_overlap``),
    # each at 1e-7, 3 examples: false alarm ≤ 9e-7 per check:
    # 1, 2. ``assert_drawn_afresh``: all k rows of two successive calls, and of generators of
    #    two seeds, row by row (and a fresh generator of the same seed replays them exactly);
    # 3. the models of one call, rows 2i against 2i + 1.
    # Power: a reused resample shares all n examples of each row, at least 10 beyond the
    # bound for every n and k drawn (about 0.48·n by chance): every reuse, across calls,
    # seeds or models, is always caught.
    def draw(rng):
        rows, c = call(target, "bagging_samples", n, k, rng)
        return _rows(rows, (k, n), f"bagging_samples({n}, {k})", c), c

    what = f"bagging_samples({n}, {k})"
    rows, c = assert_drawn_afresh(draw, seed, lambda a, b: multiset_overlap(a, b, n), what=what)
    even, odd = rows[0 : k - 1 : 2], rows[1:k:2]
    assert_at_chance(
        multiset_overlap(even, odd, n),
        what=f"{what}: models 2i and 2i + 1 of one call",
        call=c,
        identical=np.array_equal(even, odd),
        cause="one resample reused for several models, so they are not k resamples",
    )


@pytest.mark.algorithm("bagging")
@given(n=st.integers(2, 20), k=st.integers(1, 6), seed=SEEDS)
def test_bagging_fits_each_model_on_a_resample_of_the_examples(target, n, k, seed):
    X = np.stack([np.arange(n, dtype=np.float64), -np.arange(n, dtype=np.float64)], axis=1)
    y = 10.0 * np.arange(n, dtype=np.float64)

    def fit(Xs, ys):  # the "model" is its training set
        return np.array(Xs, dtype=np.float64), np.array(ys, dtype=np.float64)

    models, c = call(target, "bagging", fit, X, y, k=k, rng=np.random.default_rng(seed))
    if len(models) != k:
        fail(f"bagging returned {len(models)} models, but should return k = {k}", c)
    for i, (Xs, ys) in enumerate(models):
        if Xs.shape != X.shape or ys.shape != y.shape:
            fail(
                f"model {i} was fitted on X {Xs.shape}, y {ys.shape}; should be {X.shape}, "
                f"{y.shape} (n examples drawn with replacement)",
                c,
            )
        index = Xs[:, 0].astype(int)
        assert_close(Xs, X[index], what=f"model {i}'s examples are rows of X", call=c, tol=EXACT)
        assert_close(
            ys, y[index], what=f"model {i}'s labels go with its examples", call=c, tol=EXACT
        )


# --- early stopping -----------------------------------------------------------------------

# losses on a coarse grid, so that ties (which are not improvements) happen often
LOSSES = st.lists(st.integers(0, 3).map(lambda i: 1.0 + i / 4), min_size=1, max_size=25)
# a plateau at the best loss: only a strict decrease improves, so this stops at epoch 3 with
# the weights of epoch 1 (a '≤' test would keep going and keep epoch 3's)
PLATEAU = [1.5, 1.5, 1.5, 1.25]


def _epochs(out, c) -> np.ndarray:
    epochs = np.asarray(out)
    if epochs.shape != (2,) or not np.issubdtype(epochs.dtype, np.integer):
        fail(f"early_stopping: out={out!r}, but should be a pair of epochs (stop, best)", c)
    return epochs


@pytest.mark.algorithm("early_stopping")
@given(losses=LOSSES, patience=st.integers(1, 5))
@example(losses=PLATEAU, patience=2)
def test_early_stopping_matches_the_oracle(target, losses, patience):
    out, c = call(target, "early_stopping", losses, patience=patience)
    expected = oracle.early_stopping(losses, patience=patience)
    assert_close(
        _epochs(out, c), np.array(expected), what="(stop_epoch, best_epoch)", call=c, tol=EXACT
    )


@pytest.mark.algorithm("early_stopping")
@given(losses=LOSSES, patience=st.integers(1, 5))
@example(losses=PLATEAU, patience=2)
def test_early_stopping_stops_patience_epochs_after_the_best(target, losses, patience):
    out, c = call(target, "early_stopping", losses, patience=patience)
    stop, best = (int(e) for e in _epochs(out, c))
    if not 1 <= best <= stop <= len(losses):
        fail(
            f"early_stopping: (stop, best) = ({stop}, {best}) is not 1 ≤ best ≤ stop ≤ "
            f"{len(losses)}",
            c,
        )
    seen = losses[:stop]
    first_minimum = int(np.argmin(seen)) + 1  # only a strict decrease improves: the first
    if best != first_minimum:
        fail(
            f"early_stopping: best epoch {best} (loss {losses[best - 1]}), but the lowest loss "
            f"up to epoch {stop} is {min(seen)}, first at epoch {first_minimum}",
            c,
        )
    if stop < len(losses) and stop - best != patience:
        fail(
            f"early_stopping stopped at epoch {stop}, {stop - best} epochs after the best "
            f"({best}), but should stop after patience = {patience}",
            c,
        )
    if stop == len(losses) and stop - best > patience:
        fail(
            f"early_stopping ran to epoch {stop}, {stop - best} epochs after the best "
            f"({best}), past patience = {patience}",
            c,
        )


@pytest.mark.algorithm("early_stopping")
@given(losses=LOSSES, patience=st.integers(1, 5))
@example(losses=PLATEAU, patience=2)
def test_early_stopping_keeps_a_copy_of_the_best_weights(target, losses, patience):
    # the weights are updated in place after each epoch, as an optimiser does: the kept best
    # weights must not follow them
    state, c = call(target, "early_stopping_init", patience)
    params = np.zeros(3)
    for epoch, loss in enumerate(losses, 1):
        params[:] = epoch
        state, c = call(target, "early_stopping_update", state, loss, params)
        if getattr(state, "stopped", False):
            break
    best_epoch = int(getattr(state, "best_epoch", -1))
    _, expected_best = oracle.early_stopping(losses[:epoch], patience=patience)
    assert_close(
        np.array([best_epoch]),
        np.array([expected_best]),
        what="state.best_epoch",
        call=c,
        tol=EXACT,
    )
    kept = getattr(state, "best_params", None)
    if kept is None:
        fail("early_stopping_update kept no best_params", c)
    assert_close(
        kept,
        np.full(3, float(expected_best)),
        what="state.best_params (the weights of the best epoch)",
        call=c,
        tol=EXACT,
    )


@pytest.mark.algorithm("early_stopping")
@given(patience=st.integers(1, 4), wait=st.integers(-1, 1), default=st.booleans())
def test_early_stopping_stops_exactly_when_the_wait_reaches_patience(
    target, patience, wait, default
):
    # the boundary: a best epoch, then patience − 1, patience or patience + 1 epochs without
    # improvement, then a better loss. At patience − 1 it keeps going and the late loss is
    # the best; at patience it stops before it. (default: patience left to its default 10.)
    patience = 10 if default else patience
    plateau = patience + wait
    losses = [1.0] + [1.0] * plateau + [0.5]
    keywords = {} if default else {"patience": patience}
    out, c = call(target, "early_stopping", losses, **keywords)
    stop, best = (1 + patience, 1) if plateau >= patience else (len(losses), len(losses))
    if len(out) != 2:
        fail(f"early_stopping: out={out!r}, but should be a pair (stop_epoch, best_epoch)", c)
    what = f"early_stopping({losses}, patience={patience})"
    assert_close(out[0], stop, what=f"{what}: stop_epoch", call=c, tol=EXACT)
    assert_close(out[1], best, what=f"{what}: best_epoch", call=c, tol=EXACT)


def _assert_state(state, expected, what: str, c) -> None:
    """Every field of an early-stopping state against the oracle's, exactly."""
    for name in oracle.EarlyStoppingState._fields:
        if name == "best_params":
            continue  # compared by the check that updates the weights in place
        value = getattr(state, name, None)
        if value is None:
            fail(f"{what}: the state has no field {name!r}", c)
        assert_close(value, getattr(expected, name), what=f"{what}.{name}", call=c, tol=EXACT)


@pytest.mark.algorithm("early_stopping")
@given(losses=LOSSES, patience=st.integers(1, 5))
@example(losses=PLATEAU, patience=2)
def test_early_stopping_state_matches_the_oracle_from_the_initial_state_on(
    target, losses, patience
):
    # the initial state too: best_loss inf, best_epoch 0, epoch 0, wait 0, not stopped
    state, c = call(target, "early_stopping_init", patience)
    expected = oracle.early_stopping_init(patience)
    _assert_state(state, expected, f"early_stopping_init({patience})", c)
    for epoch, loss in enumerate(losses, 1):
        state, c = call(target, "early_stopping_update", state, loss)
        expected = oracle.early_stopping_update(expected, loss)
        _assert_state(state, expected, f"early_stopping_update after epoch {epoch}", c)


# --- the support of the masks and resamples on small n ------------------------------------


@pytest.mark.algorithm("dropout")
@statistical
@given(p=KEEP, seed=SEEDS)
def test_dropout_mask_is_zeros_and_ones_and_every_unit_is_both_kept_and_dropped(target, p, seed):
    # Exact support: a mask of 0.0 and 1.0 of the shape asked for, and every unit of (4, 3)
    # kept in some of 256 masks and dropped in others (drawn as one (256, 4, 3) mask). A
    # correct target leaves a unit always kept with probability p^256 ≤ 0.9^256 ≈ 2e-12 or
    # always dropped with (1 − p)^256 ≤ 0.85^256 ≈ 8e-19: over 12 units and 3 examples,
    # ≤ 1e-10 per check. Power: a mask shared across the batch (drawn for one row and
    # broadcast), or a unit never kept or never dropped, is always caught.
    shape = (256, 4, 3)
    mask, c = call(target, "dropout_mask", shape, p=p, rng=np.random.default_rng(seed))
    if np.shape(mask) != shape:
        fail(f"dropout_mask({shape}): out has shape {np.shape(mask)}, but should be {shape}", c)
    values = np.unique(np.asarray(mask, dtype=np.float64))
    if not set(values.tolist()) <= {0.0, 1.0}:
        fail(f"dropout_mask({shape}, p={p}): values {values[:5].tolist()}, not only 0 and 1", c)
    kept = np.asarray(mask, dtype=np.float64).reshape(shape[0], -1)
    never = np.flatnonzero(kept.max(axis=0) == 0), np.flatnonzero(kept.min(axis=0) == 1)
    for units, how in zip(never, ("kept", "dropped"), strict=True):
        if units.size:
            fail(
                f"dropout_mask({shape}, p={p}): units {units.tolist()} of the (4, 3) rows are "
                f"never {how} in {shape[0]} rows (each row is a fresh draw of every unit)",
                c,
            )
    assert_close(
        np.float64(kept.mean()),
        p,
        what=f"the fraction of units dropout_mask keeps (keep probability p = {p})",
        call=c,
        tol=binomial_fraction_tolerance(kept.size, p),
    )


@pytest.mark.algorithm("bagging")
@statistical
@given(seed=SEEDS)
def test_bagging_samples_reach_every_index_on_small_n(target, seed):
    # k = 200 resamples of n ≤ 5: an index is missing from all of them with probability
    # (1 − 1/n)^(200n) ≤ e^−200 for a correct target (never, in practice). Power: an index
    # range off by one (range(n − 1)) always leaves n − 1 out; out of range is caught below.
    rng = np.random.default_rng(seed)
    for n in (1, 2, 3, 5):
        rows, c = call(target, "bagging_samples", n, 200, rng)
        rows = _rows(rows, (200, n), f"bagging_samples({n}, 200)", c)
        if missing := sorted(set(range(n)) - set(rows.ravel().tolist())):
            fail(f"bagging_samples({n}, 200): indices {missing} never drawn in 200 resamples", c)


# --- the kernel of the MMD penalty ---------------------------------------------------------


@pytest.mark.algorithm("mmd")
@given(data=st.data(), sigma=st.sampled_from([None, 0.5, 1.0, 3.0]))
def test_gaussian_kernel_is_exp_of_minus_the_squared_distance_over_two_sigma_squared(
    target, data, sigma
):
    # every pair of rows, against scipy's squared Euclidean distances; sigma given or left
    # to its default 1 (scikit-learn's γ = 1/(2σ²) convention misread shows at every σ ≠ 1/√2)
    d = data.draw(st.integers(1, 3), label="d")
    X = data.draw(arrays((data.draw(st.integers(1, 4), label="M"), d), low=-2, high=2), label="X")
    Y = data.draw(arrays((data.draw(st.integers(1, 4), label="N"), d), low=-2, high=2), label="Y")
    keywords = {} if sigma is None else {"sigma": sigma}
    K, c = call(target, "gaussian_kernel", X, Y, **keywords)
    exponent = cdist(X, Y, "sqeuclidean") / (2.0 * (1.0 if sigma is None else sigma) ** 2)
    assert_close(
        K,
        np.exp(-exponent),
        what=f"gaussian_kernel(X, Y, sigma={sigma})",
        call=c,
        dtype=FLOAT64,
        # exp(−a) turns a's rounding into a relative error of |a| ulps
        tol=conditioned(tolerance(FLOAT64), float(exponent.max()) + 1.0),
    )
