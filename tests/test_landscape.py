"""The loss-landscape functions of the reference against ground truth that does not come from
it: closed-form Hessians (quadratics; scipy.optimize.rosen_hess and rosen_hess_prod for the
Rosenbrock function), hand-classified critical points (x² + y², −x² − y², x² − y², xy), and
the second-order law L(θ' + u) = L(θ') + ½λ‖u‖² evaluated on the loss itself."""

import numpy as np
import pytest
from scipy import optimize

from nnconform.reference import landscape as ls


def quadratic(rng, n=4):
    """L(θ) = ½θᵀAθ + cᵀθ with a random symmetric A: ∇L = Aθ + c, H = A exactly."""
    M = rng.standard_normal((n, n))
    A, c = M + M.T, rng.standard_normal(n)
    return A, c, (lambda theta: A @ theta + c)


# --- Hessian and Hessian-vector products ------------------------------------------------


def test_hessian_of_a_quadratic_is_its_matrix(rng):
    A, _, grad = quadratic(rng)
    H = ls.hessian(grad, rng.standard_normal(4))
    np.testing.assert_allclose(H, A, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(H, H.T)  # symmetrised


@pytest.mark.parametrize("theta", [[1.0, 1.0, 1.0], [-1.2, 1.0, 0.5, 2.0], [0.3, -0.7]])
def test_hessian_of_rosenbrock_equals_the_closed_form(theta):
    H = ls.hessian(optimize.rosen_der, theta)
    expected = optimize.rosen_hess(theta)
    np.testing.assert_allclose(H, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())


def test_hessian_vector_product_of_rosenbrock_equals_the_closed_form(rng):
    theta, v = rng.standard_normal(5), rng.standard_normal(5)
    Hv = ls.hessian_vector_product(optimize.rosen_der, theta, v)
    expected = optimize.rosen_hess_prod(theta, v)
    np.testing.assert_allclose(Hv, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())


def test_hessian_vector_product_of_a_quadratic_is_exact(rng):
    A, _, grad = quadratic(rng)
    theta, v = rng.standard_normal(4), rng.standard_normal(4)
    np.testing.assert_allclose(ls.hessian_vector_product(grad, theta, v), A @ v, atol=1e-9)


# --- classifying critical points --------------------------------------------------------


def gradient_of(kind):
    """Gradients of the textbook critical points at the origin, written out by hand."""
    return {
        "x² + y²": lambda t: np.array([2 * t[0], 2 * t[1]]),
        "−x² − y²": lambda t: np.array([-2 * t[0], -2 * t[1]]),
        "x² − y²": lambda t: np.array([2 * t[0], -2 * t[1]]),
        "xy": lambda t: np.array([t[1], t[0]]),
        "x² + y⁴": lambda t: np.array([2 * t[0], 4 * t[1] ** 3]),
    }[kind]


@pytest.mark.parametrize(
    ("kind", "expected", "ratio"),
    [
        ("x² + y²", "local_minimum", 1.0),
        ("−x² − y²", "local_maximum", 0.0),
        ("x² − y²", "saddle", 0.5),
        ("xy", "saddle", 0.5),  # eigenvalues ±1 along the diagonals
        ("x² + y⁴", "degenerate", 0.5),  # H = diag(2, 0) at the origin
    ],
)
def test_critical_points_at_the_origin_are_classified(kind, expected, ratio):
    H = ls.hessian(gradient_of(kind), np.zeros(2))
    assert ls.critical_point(H) == expected
    assert ls.minimum_ratio(H) == ratio


def test_classification_of_hand_hessians():
    assert ls.critical_point(np.diag([3.0, 1e-3, 2.0])) == "local_minimum"
    assert ls.critical_point(np.diag([-3.0, -1e-3])) == "local_maximum"
    # a zero eigenvalue beside mixed signs is still a saddle: L rises and falls
    assert ls.critical_point(np.diag([1.0, 0.0, -1.0])) == "saddle"
    assert ls.critical_point(np.diag([1.0, 1e-9])) == "degenerate"
    assert ls.critical_point(np.diag([1.0, 1e-9]), tol=0.0) == "local_minimum"


def test_minimum_ratio_counts_positive_eigenvalues():
    assert ls.minimum_ratio(np.diag([1.0, 2.0, -3.0, 4.0])) == 0.75
    R = np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
    assert ls.minimum_ratio(R @ np.diag([5.0, -1.0]) @ R.T) == 0.5  # rotation keeps eigenvalues


# --- escaping a saddle ------------------------------------------------------------------


def test_escape_direction_of_x2_minus_y2_lowers_the_loss_by_half_lambda():
    def loss(t):
        return t[0] ** 2 - t[1] ** 2

    lam, u = ls.escape_direction(np.diag([2.0, -2.0]))
    assert lam == -2.0
    np.testing.assert_array_equal(u, [0.0, 1.0])
    saddle = np.zeros(2)
    for step in (0.1, 1.0, 3.0):  # exact for a quadratic: L(θ' + u) = L(θ') + ½λ‖u‖²
        assert loss(saddle + step * u) == pytest.approx(
            loss(saddle) + 0.5 * lam * step**2, abs=1e-14
        )


def test_escape_direction_is_the_steepest_descent_of_second_order(rng):
    M = rng.standard_normal((5, 5))
    H = M + M.T
    lam, u = ls.escape_direction(H)
    assert np.linalg.norm(u) == pytest.approx(1.0, abs=1e-14)
    np.testing.assert_allclose(H @ u, lam * u, atol=1e-12)
    # Rayleigh: λ = min over unit v of vᵀHv, so no random direction curves down more steeply
    V = rng.standard_normal((1000, 5))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    assert lam <= np.einsum("ki,ij,kj->k", V, H, V).min()
    assert lam < 0


def test_escape_direction_of_a_cubic_saddle_agrees_to_second_order():
    # L = x² − y² + y³: critical at 0 with H = diag(2, −2); along εu the law errs by ε³
    def loss(t):
        return t[0] ** 2 - t[1] ** 2 + t[1] ** 3

    H = ls.hessian(lambda t: np.array([2 * t[0], -2 * t[1] + 3 * t[1] ** 2]), np.zeros(2))
    lam, u = ls.escape_direction(H)
    assert lam == pytest.approx(-2.0, abs=1e-8)
    for eps in (1e-1, 1e-2, 1e-3):
        second_order = loss(np.zeros(2)) + 0.5 * lam * eps**2
        assert loss(eps * u) < loss(np.zeros(2))
        assert abs(loss(eps * u) - second_order) <= 1.01 * eps**3


def test_escape_direction_raises_where_there_is_nothing_to_escape():
    with pytest.raises(ValueError, match=r"H has no negative eigenvalue \(the smallest is 1"):
        ls.escape_direction(np.diag([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"no negative eigenvalue \(the smallest is -1e-09"):
        ls.escape_direction(np.diag([-1e-9, 2.0]))


# --- bad input --------------------------------------------------------------------------


def test_bad_input_raises_a_clear_error():
    grad = gradient_of("x² + y²")
    with pytest.raises(
        ValueError, match=r"H must be a non-empty square matrix, got shape \(2, 3\)"
    ):
        ls.critical_point(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"H must have 2 dimensions, got shape \(3,\)"):
        ls.minimum_ratio(np.ones(3))
    with pytest.raises(ValueError, match=r"H must be symmetric, got max \|H − Hᵀ\| = 1"):
        ls.escape_direction(np.array([[0.0, 1.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match=r"tol must be non-negative, got -1.0"):
        ls.critical_point(np.eye(2), tol=-1.0)
    with pytest.raises(ValueError, match=r"h must be positive, got 0.0"):
        ls.hessian(grad, np.zeros(2), h=0.0)
    with pytest.raises(ValueError, match=r"h must be finite, got nan"):
        ls.hessian_vector_product(grad, np.zeros(2), np.ones(2), h=float("nan"))
    with pytest.raises(ValueError, match=r"shapes must match, got theta \(2,\), v \(3,\)"):
        ls.hessian_vector_product(grad, np.zeros(2), np.ones(3))
    with pytest.raises(ValueError, match=r"theta must have 1 dimensions, got shape \(2, 2\)"):
        ls.hessian(grad, np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"shapes must match, got theta \(2,\), gradient \(1,\)"):
        ls.hessian(lambda t: t[:1], np.zeros(2))
