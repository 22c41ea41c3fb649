"""The loss landscape (catalogue section 8): Hessians and Hessian-vector products against closed
forms, and critical points classified by the signs of the Hessian's eigenvalues.

Ground truth here is analytic, not the oracle: L(θ) = ¼ q Σθᵢ⁴ + ½ θᵀAθ + bᵀθ has
∇L = qθ³ + Aθ + b and H = diag(3qθ²) + A, and a matrix Q diag(λ) Qᵀ built from chosen
eigenvalues λ has a known classification. A target's Hessian may come from differences of the
gradient (as the oracle's) or from automatic differentiation; both meet the finite-difference
tolerance of the table.

Drawn as values (Hypothesis shrinks them): points, coefficients and directions of the
quartics, eigenvalues, tolerances and the finite-difference step h, and where each eigenvalue
sits against the tolerance (at it, just inside, just outside). From a seed: the rotation Q of
Q diag(λ) Qᵀ (an orthogonal matrix is a structure, not values to shrink one by one). The
boundary checks use diagonal Hessians, whose eigenvalues every eigensolver returns exactly, so
that an eigenvalue exactly at ``tol`` is at it in the target too.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from nnconform.checks.assertions import assert_close, call, fail
from nnconform.checks.strategies import SEEDS, arrays
from nnconform.checks.tolerances import FINITE_DIFFERENCES
from nnconform.reference import landscape as oracle

FLOAT64 = "float64"


@st.composite
def _quartics(draw):
    """(θ, A, b, q): a point and the coefficients of L above; q = 0 gives a quadratic."""
    n = draw(st.integers(1, 5), label="n")
    theta = draw(arrays((n,), low=-2, high=2), label="theta")
    M = draw(arrays((n, n), low=-2, high=2), label="M")
    b = draw(arrays((n,), low=-2, high=2), label="b")
    q = draw(st.sampled_from([0.0, 0.5, 1.0]), label="q")
    return theta, (M + M.T) / 2, b, q


def _gradient(A: np.ndarray, b: np.ndarray, q: float):
    def grad_fn(theta):
        theta = np.asarray(theta, dtype=np.float64)
        return q * theta**3 + A @ theta + b

    return grad_fn


def _closed_form_hessian(theta: np.ndarray, A: np.ndarray, q: float) -> np.ndarray:
    return np.diag(3 * q * theta**2) + A


# the finite-difference step: the default, or one given. The truncation error is q·h² on the
# quartic's θ³ (1e-8, the tolerance's atol, at h = 1e-4), the rounding error about u·|∇L|/h:
# h = 3e-5 and 1e-6 keep both below the finite-difference tolerance.
STEPS = st.sampled_from([{}, {"h": 3e-5}, {"h": 1e-6}])


@pytest.mark.algorithm("hessian")
@given(problem=_quartics(), step=STEPS)
def test_hessian_matches_its_closed_form(target, problem, step):
    theta, A, b, q = problem
    H, c = call(target, "hessian", _gradient(A, b, q), theta, **step)
    assert_close(
        H,
        _closed_form_hessian(theta, A, q),
        what="hessian(∇L, θ) against diag(3qθ²) + A",
        call=c,
        tol=FINITE_DIFFERENCES,
    )


@pytest.mark.algorithm("hessian")
@given(problem=_quartics())
def test_hessian_is_symmetric(target, problem):
    theta, A, b, q = problem
    H, c = call(target, "hessian", _gradient(A, b, q), theta)
    H = np.asarray(H, dtype=np.float64)
    if H.shape != (theta.size, theta.size):
        fail(f"hessian: out has shape {H.shape}, but should have shape {(theta.size,) * 2}", c)
    assert_close(
        H, H.T, what="hessian(∇L, θ) against its transpose", call=c, tol=FINITE_DIFFERENCES
    )


@pytest.mark.algorithm("hessian")
@given(problem=_quartics(), data=st.data(), step=STEPS)
def test_hessian_vector_product_matches_its_closed_form(target, problem, data, step):
    theta, A, b, q = problem
    v = data.draw(arrays(theta.shape, low=-1, high=1), label="v")
    Hv, c = call(target, "hessian_vector_product", _gradient(A, b, q), theta, v, **step)
    assert_close(
        Hv,
        _closed_form_hessian(theta, A, q) @ v,
        what="hessian_vector_product against (diag(3qθ²) + A) v",
        call=c,
        tol=FINITE_DIFFERENCES,
    )


# --- critical points ----------------------------------------------------------------------


def _rotation(seed: int, n: int) -> np.ndarray:
    """A random orthogonal matrix (QR of a Gaussian one)."""
    Q, R = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return Q * np.sign(np.diag(R))


@st.composite
def _spectra(draw, *, allow_zero: bool = True, distinct: bool = False):
    """(H, λ): a symmetric Q diag(λ) Qᵀ and its eigenvalues, each λ zero or ≥ 0.1 away from
    it, so that the default tolerance 1e-8 classifies them without doubt."""
    n = draw(st.integers(1, 5), label="n")
    magnitude = st.floats(0.1, 5.0)
    value = st.one_of(magnitude, magnitude.map(lambda x: -x))
    if allow_zero:
        value = st.one_of(value, st.just(0.0))
    if distinct:  # a gap of at least 0.1 between eigenvalues: eigenvectors are well defined
        lam = draw(
            st.lists(st.integers(-50, 50).filter(bool), min_size=n, max_size=n, unique=True),
            label="tenths",
        )
        lam = np.array(lam, dtype=np.float64) / 10
    else:
        lam = np.array(draw(st.lists(value, min_size=n, max_size=n), label="eigenvalues"))
    Q = _rotation(draw(SEEDS, label="seed"), n)
    H = Q @ np.diag(lam) @ Q.T
    return (H + H.T) / 2, lam


def _kind(lam: np.ndarray) -> str:
    positive, negative = np.any(lam > 0), np.any(lam < 0)
    if positive and negative:
        return "saddle"
    if np.any(lam == 0):
        return "degenerate"
    return "local_minimum" if positive else "local_maximum"


@pytest.mark.algorithm("critical_point")
@given(spectrum=_spectra())
def test_critical_points_are_classified_by_the_signs_of_the_eigenvalues(target, spectrum):
    H, lam = spectrum
    kind, c = call(target, "critical_point", H)
    if kind != _kind(lam):
        fail(
            f"critical_point(H) with eigenvalues {lam.tolist()}: out={kind!r}, but should be "
            f"{_kind(lam)!r}",
            c,
        )


@pytest.mark.algorithm("critical_point")
@given(spectrum=_spectra())
def test_minimum_ratio_counts_the_positive_eigenvalues(target, spectrum):
    H, lam = spectrum
    ratio, c = call(target, "minimum_ratio", H)
    assert_close(
        np.float64(ratio),
        np.count_nonzero(lam > 0) / lam.size,
        what=f"minimum_ratio(H) with eigenvalues {lam.tolist()}",
        call=c,
        dtype=FLOAT64,
    )


@pytest.mark.algorithm("critical_point")
@given(spectrum=_spectra(distinct=True), data=st.data())
def test_escape_direction_is_the_most_negative_eigenvector_and_lowers_the_loss(
    target, spectrum, data
):
    H, lam = spectrum
    if lam.min() >= 0:
        lam, H = -lam, -H  # ensure a negative eigenvalue: escaping needs one
    out, c = call(target, "escape_direction", H)
    value, u = out[0], np.asarray(out[1], dtype=np.float64)
    assert_close(
        value,
        lam.min(),
        what="escape_direction's λ (the most negative eigenvalue)",
        call=c,
        dtype=FLOAT64,
    )
    assert_close(np.float64(np.linalg.norm(u)), 1.0, what="‖u‖", call=c, dtype=FLOAT64)
    # λ's eigenvalues are ≥ 0.1 apart, so u is defined up to its sign, which the largest
    # component fixes: positive (a unit eigenvector moves by about u_mach·‖H‖/0.1 ≈ 1e-14)
    assert_close(
        out[1],
        oracle.escape_direction(H)[1],
        what="u against the oracle's (its largest-magnitude component positive)",
        call=c,
        dtype=FLOAT64,
    )
    assert_close(H @ u, lam.min() * u, what="H u against λ u", call=c, dtype=FLOAT64)
    # At a saddle θ' of L(θ) = ½(θ − θ')ᵀH(θ − θ') the step u lowers L by exactly ½λ‖u‖².
    saddle = data.draw(arrays(lam.shape, low=-2, high=2), label="saddle")

    def loss(theta):
        return 0.5 * (theta - saddle) @ H @ (theta - saddle)

    assert_close(
        np.float64(loss(saddle + u) - loss(saddle)),
        0.5 * lam.min(),
        what="L(θ' + u) − L(θ') against ½λ‖u‖²",
        call=c,
        dtype=FLOAT64,
    )


# --- the tolerance's boundary -------------------------------------------------------------

# tol as given (None: the default 1e-8, not passed); 0 makes only an exact 0 degenerate
TOLS = st.sampled_from([None, 0.0, 1e-3, 0.25])
# where an eigenvalue sits: at ±tol, just inside or just outside it, 0, or far from it
PLACES = st.sampled_from(["at", "inside", "outside", "zero", "far"])


def _at_boundary(place: str, sign: float, tol: float) -> float:
    step = tol / 1024 if tol > 0 else 1e-9  # just inside/outside: far above the rounding of λ
    return (
        sign
        * {
            "at": tol,
            "inside": max(tol - step, 0.0),
            "outside": tol + step,
            "zero": 0.0,
            "far": 1.0 + tol,
        }[place]
    )


@st.composite
def _boundary_spectra(draw):
    """(λ, tol, keywords): eigenvalues at, just inside and just outside ±tol, and tol given or
    left to its default."""
    given_tol = draw(TOLS, label="tol")
    tol = 1e-8 if given_tol is None else given_tol
    n = draw(st.integers(1, 4), label="n")
    places = draw(st.lists(PLACES, min_size=n, max_size=n), label="places")
    signs = draw(st.lists(st.sampled_from([1.0, -1.0]), min_size=n, max_size=n), label="signs")
    lam = np.array([_at_boundary(p, s, tol) for p, s in zip(places, signs, strict=True)])
    return lam, tol, ({} if given_tol is None else {"tol": given_tol})


def _classify(lam: np.ndarray, tol: float) -> str:
    """The documented rule, eigenvalue by eigenvalue: λ > tol positive, λ < −tol negative,
    |λ| ≤ tol zero (tol itself counts as zero)."""
    positive, negative = np.any(lam > tol), np.any(lam < -tol)
    if positive and negative:
        return "saddle"
    if np.any(np.abs(lam) <= tol):
        return "degenerate"
    return "local_minimum" if positive else "local_maximum"


@pytest.mark.algorithm("critical_point")
@given(spectrum=_boundary_spectra())
# exactly at tol, beside an eigenvalue far above it: degenerate, with a ratio of ½
@example(spectrum=(np.array([0.25, 1.25]), 0.25, {"tol": 0.25}))
# just outside −tol at the default tol: a maximum, with a direction of descent
@example(spectrum=(np.array([-1e-8 - 1e-8 / 1024]), 1e-8, {}))
def test_eigenvalues_at_and_near_tol_are_classified_by_the_documented_rule(target, spectrum):
    lam, tol, keywords = spectrum
    H = np.diag(lam)
    kind, c = call(target, "critical_point", H, **keywords)
    if kind != _classify(lam, tol):
        fail(
            f"critical_point(diag({lam.tolist()}), tol={tol:g}): out={kind!r}, but should be "
            f"{_classify(lam, tol)!r} (|λ| ≤ tol counts as zero)",
            c,
        )
    ratio, c = call(target, "minimum_ratio", H, **keywords)
    assert_close(
        ratio,
        np.count_nonzero(lam > tol) / lam.size,
        what=f"minimum_ratio(diag({lam.tolist()}), tol={tol:g}): the share of λ > tol",
        call=c,
        dtype=FLOAT64,
    )
    if lam.min() < -tol:  # a direction of descent exists only past −tol
        out, c = call(target, "escape_direction", H, **keywords)
        assert_close(
            out[0], lam.min(), what="escape_direction's λ beyond −tol", call=c, dtype=FLOAT64
        )
