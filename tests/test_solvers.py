"""The solvers of the reference against ground truth that does not come from them:
scipy.optimize.minimize (BFGS, CG, Newton-CG, and L-BFGS-B on the split x = u − v, u, v ≥ 0
of the lasso), scipy.optimize.minimize_scalar, scipy's Rosenbrock function and its derivatives,
np.linalg.solve, the lasso's optimality conditions, Beck & Teboulle's bound written out,
hand-computed first steps, and central finite differences for the one backward."""

import itertools

import numpy as np
import pytest
from scipy import optimize, special

from nnconform.reference import solvers as s
from tests.gradcheck import assert_backward_matches_fd

# --- test problems, each with its own derivatives written out by hand --------------------


def random_quadratic(rng, n, condition=10.0):
    """f(x) = ½xᵀQx − cᵀx with Q's eigenvalues spread over [1/condition, 1] (L = 1) and
    c = Qz for a standard normal z, so that the minimiser Q⁻¹c is of order 1 whatever Q."""
    Qr, _ = np.linalg.qr(rng.standard_normal((n, n)))
    Q = Qr @ np.diag(np.geomspace(1.0 / condition, 1.0, n)) @ Qr.T
    return Q, Q @ rng.standard_normal(n)


class LogSumExp:
    """f(x) = log Σ_i exp(Mx)_i + (λ/2)‖x‖² − aᵀx: smooth and strongly convex (λ > 0)."""

    def __init__(self, rng, n=5, rows=8, lam=1.0):
        self.M, self.a, self.lam = rng.standard_normal((rows, n)), rng.standard_normal(n), lam

    def f(self, x):
        return special.logsumexp(self.M @ x) + 0.5 * self.lam * x @ x - self.a @ x

    def grad(self, x):
        p = special.softmax(self.M @ x)
        return self.M.T @ p + self.lam * x - self.a

    def hess(self, x):
        p = special.softmax(self.M @ x)
        return self.M.T @ (np.diag(p) - np.outer(p, p)) @ self.M + self.lam * np.eye(len(x))


def scipy_minimum(problem, x0):
    """The minimiser by scipy's BFGS, as far as f's rounding lets it go: ‖∇f‖ < 1e-8, so
    ‖x − x*‖ < 1e-8 as f is 1-strongly convex."""
    res = optimize.minimize(
        problem.f, x0, jac=problem.grad, method="BFGS", options={"gtol": 1e-11, "maxiter": 10000}
    )
    assert np.linalg.norm(problem.grad(res.x)) < 1e-8
    return res.x


class Lasso:
    """F(x) = (1/2N)‖Dx − e‖² + μ‖x‖₁ on a random sparse regression."""

    def __init__(self, rng, N=200, n=6, mu=0.1):
        self.D = rng.standard_normal((N, n))
        truth = np.zeros(n)
        truth[: n // 2] = rng.uniform(0.5, 2.0, n // 2) * rng.choice([-1, 1], n // 2)
        self.e = self.D @ truth + 0.5 * rng.standard_normal(N)
        self.N, self.n, self.mu = N, n, mu
        self.L = np.linalg.eigvalsh(self.D.T @ self.D / N).max()  # Lipschitz constant of ∇f

    def f(self, x):
        r = self.D @ x - self.e
        return 0.5 * r @ r / self.N

    def grad(self, x):
        return self.D.T @ (self.D @ x - self.e) / self.N

    def objective(self, x):
        return self.f(x) + self.mu * np.abs(x).sum()

    def solution(self):
        """min over z = (u, v) ≥ 0 of f(u − v) + μ Σ(u + v): smooth, solved by L-BFGS-B."""
        n = self.n

        def split(z):
            gx = self.grad(z[:n] - z[n:])
            return self.f(z[:n] - z[n:]) + self.mu * z.sum(), np.concatenate([gx, -gx]) + self.mu

        res = optimize.minimize(
            split,
            np.ones(2 * n),
            jac=True,
            method="L-BFGS-B",
            bounds=[(0, None)] * (2 * n),
            options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10000},
        )
        return res.x[:n] - res.x[n:]


def assert_lasso_optimal(lasso, x, atol):
    """The optimality conditions 0 ∈ ∇f(x) + μ∂‖x‖₁: ∇f_i = −μ sign(x_i) where x_i ≠ 0 and
    |∇f_i| ≤ μ where x_i = 0."""
    g = lasso.grad(x)
    nonzero = np.abs(x) > 1e-8
    np.testing.assert_allclose(g[nonzero], -lasso.mu * np.sign(x[nonzero]), atol=atol)
    assert np.all(np.abs(g[~nonzero]) <= lasso.mu + atol)


# --- soft-thresholding ------------------------------------------------------------------


def test_soft_threshold_by_hand():
    v = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_array_equal(s.soft_threshold(v, 1.0), [-2.0, 0, 0, 0, 0, 1.0])
    np.testing.assert_array_equal(s.soft_threshold(v, 0.0), v)


def test_soft_threshold_is_the_prox_of_the_l1_norm(rng):
    v, tau = rng.uniform(-3, 3, 20), 0.7
    expected = [
        optimize.minimize_scalar(
            lambda u, vi=vi: tau * abs(u) + 0.5 * (u - vi) ** 2,
            bounds=(-4, 4),
            method="bounded",
            options={"xatol": 1e-10},
        ).x
        for vi in v
    ]
    np.testing.assert_allclose(s.soft_threshold(v, tau), expected, atol=1e-7)


def test_soft_threshold_backward_matches_finite_differences(rng):
    v = rng.uniform(-3, 3, (4, 5))
    v = np.where(np.abs(np.abs(v) - 0.8) < 1e-2, 2.0, v)  # no kink inside the stencil
    assert_backward_matches_fd(s.soft_threshold, s.soft_threshold_backward, [v, 0.8], rng=rng)


def test_soft_threshold_rejects_a_negative_tau_and_mismatched_dy():
    with pytest.raises(ValueError, match="tau must be non-negative, got -1"):
        s.soft_threshold([1.0], -1.0)
    with pytest.raises(ValueError, match=r"v \(2,\), dy \(3,\)"):
        s.soft_threshold_backward([1.0, 2.0], 0.5, [1.0, 1.0, 1.0])


# --- APG (FISTA) ------------------------------------------------------------------------


def fista_bound(L, x0, x_star, k):
    """Beck & Teboulle 2009, Thm 4.4: F(x_k) − F(x*) ≤ 2L‖x₀ − x*‖²/(k + 1)²."""
    return 2 * L * np.sum((x0 - x_star) ** 2) / (k + 1) ** 2


@pytest.mark.parametrize("condition", [1.0, 10.0, 1e3, 1e5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_apg_obeys_the_fista_bound_on_every_step_of_a_convex_quadratic(seed, condition):
    rng = np.random.default_rng(seed)
    n = 8
    Q, c = random_quadratic(rng, n, condition)
    L = np.linalg.eigvalsh(Q).max()
    x_star = np.linalg.solve(Q, c)

    def objective(x):
        return 0.5 * x @ Q @ x - c @ x

    x0 = 3 * rng.standard_normal(n)
    res = s.apg(lambda x: Q @ x - c, x0, lr=1 / L, steps=300)
    # all 300 steps, unless it lands exactly on x* (condition 1: the first step does)
    assert res.iterations == 300 or res.converged
    assert res.iterates.shape == (res.iterations + 1, n)
    for k in range(1, res.iterations + 1):
        gap = objective(res.iterates[k]) - objective(x_star)
        assert -1e-12 <= gap <= fista_bound(L, x0, x_star, k) + 1e-12, k


def test_apg_without_prox_converges_to_the_solution_of_the_linear_system(rng):
    Q, c = random_quadratic(rng, 6, condition=20.0)
    res = s.apg(lambda x: Q @ x - c, np.zeros(6), lr=1.0, steps=1000, tol=1e-10)
    assert res.converged and res.iterations < 1000
    # ‖x − x*‖ ≤ ‖gradient mapping‖/λ_min = 1e-10 · 20
    np.testing.assert_allclose(res.x, np.linalg.solve(Q, c), atol=2e-9)


def test_apg_first_steps_by_hand():
    # f(x) = (a/2)x², ε = 0.1: x1 = x0 − εa·x0; y2 = x1 since t1 = 1;
    # x2 = y2 − εa·y2; t2 = (1 + √5)/2; y3 = x2 + ((t2 − 1)/t3)(x2 − x1); x3 = (1 − εa)y3.
    a, lr, x0 = 2.0, 0.1, 1.0
    x1 = 0.8 * x0
    x2 = 0.8 * x1
    t2 = (1 + np.sqrt(5)) / 2
    t3 = (1 + np.sqrt(1 + 4 * t2**2)) / 2
    x3 = 0.8 * (x2 + (t2 - 1) / t3 * (x2 - x1))
    res = s.apg(lambda x: a * x, [x0], lr=lr, steps=3)
    np.testing.assert_allclose(res.iterates[:, 0], [x0, x1, x2, x3], rtol=1e-15)


@pytest.fixture
def lasso(rng):
    return Lasso(rng)


def test_apg_solves_a_lasso_and_obeys_the_fista_bound(lasso):
    x_star = lasso.solution()
    assert_lasso_optimal(lasso, x_star, atol=1e-8)  # the scipy solution is a true minimiser
    F_star = lasso.objective(x_star)
    x0 = np.full(lasso.n, 2.0)
    res = s.apg(
        lasso.grad,
        x0,
        lr=1 / lasso.L,
        steps=500,
        prox=lambda v, lr: s.soft_threshold(v, lasso.mu * lr),
    )
    for k in range(1, res.iterations + 1):
        gap = lasso.objective(res.iterates[k]) - F_star
        assert -1e-10 <= gap <= fista_bound(lasso.L, x0, x_star, k) + 1e-10, k
    np.testing.assert_allclose(res.x, x_star, atol=1e-7)
    assert_lasso_optimal(lasso, res.x, atol=1e-8)


def test_apg_returns_new_arrays_and_leaves_x0_alone():
    x0 = np.array([1.0, -2.0])
    res = s.apg(lambda x: x, x0, lr=0.5, steps=2)
    assert res.iterates[0] is not x0 and np.array_equal(x0, [1.0, -2.0])
    np.testing.assert_array_equal(res.iterates[0], x0)
    assert res.iterations == 2 and not res.converged


def test_apg_rejects_bad_arguments():
    grad = lambda x: x  # noqa: E731
    with pytest.raises(ValueError, match="lr must be positive, got 0"):
        s.apg(grad, [1.0], lr=0.0, steps=3)
    with pytest.raises(TypeError, match="prox must be callable"):
        s.apg(grad, [1.0], lr=0.1, steps=3, prox=1.0)
    with pytest.raises(ValueError, match=r"prox must return shape \(2,\), got \(3,\)"):
        s.apg(grad, [1.0, 2.0], lr=0.1, steps=3, prox=lambda v, lr: np.zeros(3))
    with pytest.raises(ValueError, match=r"grad_f must return shape \(2,\), got \(\)"):
        s.apg(lambda x: 1.0, [1.0, 2.0], lr=0.1, steps=3)


# --- stochastic ADMM --------------------------------------------------------------------


def lasso_admm(lasso, B, **kw):
    """The lasso as min f(x) + μ‖y‖₁ s.t. x + By = 0 (A = I, b = 0)."""
    n = lasso.n
    return s.stochastic_admm(
        kw.pop("grad", lambda x, xi: lasso.grad(x)),
        lambda v, tau: s.soft_threshold(v, lasso.mu * tau),
        np.eye(n),
        B,
        np.zeros(n),
        np.zeros(n),
        np.zeros(n),
        **kw,
    )


@pytest.mark.parametrize("scale", [-1.0, 1.0, 2.0])
def test_admm_with_exact_gradients_solves_the_lasso(rng, scale):
    # x + s·y = 0 with θ₂ = μ‖y‖₁ means y = −x/s and θ₂ = (μ/|s|)‖x‖₁: a lasso with μ/|s|
    lasso = Lasso(rng, mu=0.2)
    res = lasso_admm(
        lasso, scale * np.eye(lasso.n), beta=1.0, eta=0.5, steps=600, samples=itertools.repeat(0)
    )
    lasso.mu = 0.2 / abs(scale)
    x_star = lasso.solution()
    np.testing.assert_allclose(res.x, x_star, atol=1e-8)
    np.testing.assert_allclose(res.y, -x_star / scale, atol=1e-8)


def test_admm_with_stochastic_gradients_converges_to_the_scipy_lasso_solution(lasso):
    """Minibatches of 20 of the 200 rows, η_k = 0.3/√k, 3000 steps: the averaged iterates come
    within 0.02 (max-norm) of the solution, the objective within 1e-3 (measured over eight
    problem and sampling seeds: at most 0.0094 and 2.2e-4)."""
    x_star = lasso.solution()
    draws = np.random.default_rng(1)

    def minibatch_gradient(x, rows):
        D, e = lasso.D[rows], lasso.e[rows]
        return D.T @ (D @ x - e) / len(rows)

    res = lasso_admm(
        lasso,
        -np.eye(lasso.n),
        grad=minibatch_gradient,
        beta=1.0,
        eta=lambda k: 0.3 / np.sqrt(k),
        steps=3000,
        samples=(draws.integers(lasso.N, size=20) for _ in range(3000)),
    )
    np.testing.assert_allclose(res.x_bar, x_star, atol=0.02)
    np.testing.assert_allclose(res.y_bar, x_star, atol=0.02)
    assert lasso.objective(res.y_bar) - lasso.objective(x_star) < 1e-3


def test_admm_first_step_by_hand():
    # A = I, B = −I, b = 0, λ0 = 0: x1 = (x0/η − g + βy0)/(β + 1/η); y1 = soft(x1, μ/β);
    # λ1 = −β(x1 − y1)
    x0, y0, g = np.array([1.0, -2.0]), np.array([0.5, 0.5]), np.array([0.3, -0.1])
    beta, eta, mu = 2.0, 0.5, 0.6
    x1 = (x0 / eta - g + beta * y0) / (beta + 1 / eta)  # (2.7, −2.9)/4
    y1 = np.sign(x1) * np.maximum(np.abs(x1) - mu / beta, 0)
    seen = []

    def grad(x, xi):
        seen.append((x.copy(), xi))
        return g

    res = s.stochastic_admm(
        grad,
        lambda v, tau: s.soft_threshold(v, mu * tau),
        np.eye(2),
        -np.eye(2),
        np.zeros(2),
        x0,
        y0,
        beta=beta,
        eta=eta,
        steps=1,
        samples=["ξ1"],
    )
    np.testing.assert_allclose(res.x, [0.675, -0.725], rtol=1e-15)
    np.testing.assert_allclose(res.x, x1, rtol=1e-15)
    np.testing.assert_allclose(res.y, y1, rtol=1e-15)
    np.testing.assert_allclose(res.lam, -beta * (x1 - y1), rtol=1e-15)
    np.testing.assert_array_equal(res.x_bar, x0)  # (1/k) Σ_{i<k} x_i with k = 1
    np.testing.assert_array_equal(res.y_bar, y1)  # (1/k) Σ_{i=1..k} y_i
    assert seen[0][1] == "ξ1" and np.array_equal(seen[0][0], x0)


def test_admm_calls_eta_at_k_equal_1_2_3(lasso):
    calls = []
    lasso_admm(
        lasso,
        -np.eye(lasso.n),
        beta=1.0,
        eta=lambda k: calls.append(k) or 0.1,
        steps=3,
        samples=range(3),
    )
    assert calls == [1, 2, 3]


def test_admm_rejects_bad_arguments(lasso):
    I2, z2 = np.eye(2), np.zeros(2)
    grad, prox = (lambda x, xi: x), (lambda v, tau: v)
    kw = {"beta": 1.0, "eta": 0.1, "steps": 2, "samples": [0, 1]}
    with pytest.raises(ValueError, match="B must have orthogonal columns"):
        s.stochastic_admm(grad, prox, I2, [[1.0, 1.0], [0.0, 1.0]], z2, z2, z2, **kw)
    with pytest.raises(
        ValueError, match=r"shapes must fit .* got A \(2, 2\), B \(2, 2\), b \(3,\)"
    ):
        s.stochastic_admm(grad, prox, I2, I2, np.zeros(3), z2, z2, **kw)
    with pytest.raises(ValueError, match=r"x0 \(3,\)"):
        s.stochastic_admm(grad, prox, I2, I2, z2, np.zeros(3), z2, **kw)
    with pytest.raises(ValueError, match="A must have 2 dimensions"):
        s.stochastic_admm(grad, prox, z2, I2, z2, z2, z2, **kw)
    with pytest.raises(ValueError, match=r"lam0 must have shape \(2,\)"):
        s.stochastic_admm(grad, prox, I2, I2, z2, z2, z2, lam0=np.zeros(3), **kw)
    with pytest.raises(ValueError, match="beta must be positive, got -1"):
        s.stochastic_admm(grad, prox, I2, I2, z2, z2, z2, **{**kw, "beta": -1.0})
    with pytest.raises(ValueError, match="eta must be positive, got 0"):
        s.stochastic_admm(grad, prox, I2, I2, z2, z2, z2, **{**kw, "eta": 0.0})
    with pytest.raises(ValueError, match=r"eta\(1\) must be positive, got -0.5"):
        s.stochastic_admm(grad, prox, I2, I2, z2, z2, z2, **{**kw, "eta": lambda k: -0.5})
    with pytest.raises(ValueError, match="samples ran out after 2 samples; steps=3"):
        s.stochastic_admm(grad, prox, I2, I2, z2, z2, z2, **{**kw, "steps": 3})
    with pytest.raises(TypeError, match="samples must be an iterable"):
        s.stochastic_admm(
            grad, prox, I2, I2, z2, z2, z2, **{**kw, "samples": np.random.default_rng(0)}
        )
    with pytest.raises(TypeError, match="prox_theta2 must be callable"):
        s.stochastic_admm(grad, None, I2, I2, z2, z2, z2, **kw)


# --- Newton -----------------------------------------------------------------------------


def test_newton_takes_one_step_on_a_strictly_convex_quadratic(rng):
    Q, c = random_quadratic(rng, 7, condition=1e4)
    res = s.newton(lambda x: Q @ x - c, lambda x: Q, rng.standard_normal(7))
    assert res.converged and res.iterations == 1
    np.testing.assert_allclose(res.x, np.linalg.solve(Q, c), rtol=1e-9)


@pytest.mark.parametrize("x0", [[-1.2, 1.0], [1.3, 0.7, 0.8, 1.9, 1.2]])
def test_newton_agrees_with_scipy_newton_cg_on_rosenbrock(x0):
    res = s.newton(optimize.rosen_der, optimize.rosen_hess, x0)
    ref = optimize.minimize(
        optimize.rosen,
        x0,
        jac=optimize.rosen_der,
        hess=optimize.rosen_hess,
        method="Newton-CG",
        options={"xtol": 1e-12},
    )
    assert res.converged
    np.testing.assert_allclose(res.x, ref.x, atol=1e-6)
    np.testing.assert_allclose(res.x, np.ones(len(x0)), atol=1e-10)


def test_newton_converges_quadratically_to_the_scipy_minimiser(rng):
    problem = LogSumExp(rng)
    x_star = scipy_minimum(problem, np.zeros(5))
    res = s.newton(problem.grad, problem.hess, np.zeros(5))
    assert res.converged and res.iterations < 10
    np.testing.assert_allclose(res.x, x_star, atol=1e-8)
    errors = np.linalg.norm(res.iterates - res.x, axis=1)[:-1]
    small = errors[(errors < 1e-1) & (errors > 1e-6)]
    assert np.all(small[1:] <= 10 * small[:-1] ** 2)  # e_{k+1} ≤ C e_k²


def test_newton_rejects_a_singular_hessian_and_bad_shapes():
    with pytest.raises(ValueError, match="hess\\(x\\) is singular at iteration 0"):
        s.newton(lambda x: x, lambda x: np.zeros((2, 2)), [1.0, 1.0])
    with pytest.raises(ValueError, match=r"hess must return shape \(2, 2\), got \(2,\)"):
        s.newton(lambda x: x, lambda x: np.ones(2), [1.0, 1.0])
    with pytest.raises(TypeError, match="hess must be callable"):
        s.newton(lambda x: x, "H", [1.0, 1.0])


# --- nonlinear conjugate gradient and BFGS ----------------------------------------------


@pytest.mark.parametrize("beta", ["polak_ribiere", "fletcher_reeves"])
@pytest.mark.parametrize("x0", [[-1.2, 1.0], [-1.2, 1.0, -1.2, 1.0], [1.3, 0.7, 0.8, 1.9, 1.2]])
def test_conjugate_gradient_finds_the_rosenbrock_minimum_as_scipy_cg_does(beta, x0):
    res = s.conjugate_gradient(optimize.rosen, optimize.rosen_der, x0, beta=beta, tol=1e-10)
    ref = optimize.minimize(
        optimize.rosen, x0, jac=optimize.rosen_der, method="CG", options={"gtol": 1e-9}
    )
    assert res.converged
    np.testing.assert_allclose(res.x, np.ones(len(x0)), atol=1e-7)
    np.testing.assert_allclose(res.x, ref.x, atol=1e-6)


@pytest.mark.parametrize("beta", ["polak_ribiere", "fletcher_reeves"])
def test_conjugate_gradient_agrees_with_scipy_on_a_smooth_convex_problem(rng, beta):
    problem = LogSumExp(rng)
    x0 = rng.standard_normal(5)
    res = s.conjugate_gradient(problem.f, problem.grad, x0, beta=beta, tol=1e-7)
    assert res.converged
    # f is 1-strongly convex: ‖x − x*‖ ≤ ‖g‖ ≤ tol
    np.testing.assert_allclose(res.x, scipy_minimum(problem, x0), atol=1e-7)


def test_conjugate_gradient_solves_a_quadratic_in_few_steps(rng):
    n = 10
    Q, c = random_quadratic(rng, n, condition=10.0)
    f = lambda x: 0.5 * x @ Q @ x - c @ x  # noqa: E731
    res = s.conjugate_gradient(f, lambda x: Q @ x - c, np.zeros(n), tol=1e-7)
    assert res.converged and res.iterations <= 5 * n
    # ‖x − x*‖ ≤ ‖g‖/λ_min ≤ 1e-7 · 10
    np.testing.assert_allclose(res.x, np.linalg.solve(Q, c), atol=1e-6)


@pytest.mark.parametrize("x0", [[-1.2, 1.0], [-1.2, 1.0, -1.2, 1.0], [1.3, 0.7, 0.8, 1.9, 1.2]])
def test_bfgs_finds_the_rosenbrock_minimum_as_scipy_bfgs_does(x0):
    res = s.bfgs(optimize.rosen, optimize.rosen_der, x0, tol=1e-10)
    ref = optimize.minimize(
        optimize.rosen, x0, jac=optimize.rosen_der, method="BFGS", options={"gtol": 1e-9}
    )
    assert res.converged
    np.testing.assert_allclose(res.x, np.ones(len(x0)), atol=1e-7)
    np.testing.assert_allclose(res.x, ref.x, atol=1e-6)


def test_bfgs_agrees_with_scipy_on_a_smooth_convex_problem(rng):
    problem = LogSumExp(rng)
    x0 = rng.standard_normal(5)
    res = s.bfgs(problem.f, problem.grad, x0, tol=1e-7)
    assert res.converged
    np.testing.assert_allclose(res.x, scipy_minimum(problem, x0), atol=1e-7)


def test_bfgs_solves_an_ill_conditioned_quadratic_in_few_steps(rng):
    # H_k → Q⁻¹ makes the steps Newton steps: tens of steps where gradient descent, whose error
    # shrinks by (1 − 1/κ) per step, would need thousands
    n = 6
    Q, c = random_quadratic(rng, n, condition=1e3)
    res = s.bfgs(lambda x: 0.5 * x @ Q @ x - c @ x, lambda x: Q @ x - c, np.zeros(n), tol=1e-9)
    assert res.converged and res.iterations <= 10 * n
    # ‖x − x*‖ ≤ ‖g‖/λ_min ≤ 1e-9 · 1e3
    np.testing.assert_allclose(res.x, np.linalg.solve(Q, c), atol=1e-6)


@pytest.mark.parametrize(("solver", "c2"), [(s.conjugate_gradient, 0.1), (s.bfgs, 0.9)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_step_on_an_ill_conditioned_quadratic_meets_the_strong_wolfe_conditions(
    solver, c2, seed
):
    # On a quadratic, φ(α) = f(x + αs) is a parabola with its minimum at α* = −gᵀs/(sᵀQs),
    # so the curvature condition |φ'(1)| ≤ c2|φ'(0)| of the step s = x_{k+1} − x_k reads
    # |1 − α*| ≤ c2·α*, and Armijo f(x + s) ≤ f(x) + c1 gᵀs reads 1 ≤ 2(1 − c1)α*. The start
    # lies along the smallest eigenvalue (κ = 1e4): the first exact step is α* ≈ 1e4 times
    # |d|, beyond the ten doublings from α = 1 that scipy's line_search tries by default.
    rng = np.random.default_rng(seed)
    Q, c = random_quadratic(rng, 5, condition=1e4)
    x_star = np.linalg.solve(Q, c)
    x0 = x_star + 10 * np.linalg.eigh(Q)[1][:, 0] + 1e-3 * rng.standard_normal(5)
    res = solver(lambda x: 0.5 * x @ Q @ x - c @ x, lambda x: Q @ x - c, x0, steps=40, tol=1e-5)
    assert res.iterations >= 2
    for x, x_next in itertools.pairwise(res.iterates):
        step = x_next - x
        alpha = -(Q @ x - c) @ step / (step @ Q @ step)
        assert abs(1 - alpha) <= c2 * alpha + 1e-9, (alpha, c2)
        assert 1 <= 2 * (1 - 1e-4) * alpha + 1e-9


@pytest.mark.parametrize("solver", [s.conjugate_gradient, s.bfgs])
def test_line_search_methods_stop_unconverged_when_no_step_decreases_f(solver):
    # a gradient of the wrong sign: every step along −g goes uphill, so the search fails
    res = solver(lambda x: x @ x, lambda x: -2 * x, [1.0, 2.0])
    assert not res.converged and res.iterations == 0
    np.testing.assert_array_equal(res.x, [1.0, 2.0])


@pytest.mark.parametrize("solver", [s.conjugate_gradient, s.bfgs, s.newton])
def test_a_step_budget_of_one_is_honoured(solver):
    args = (
        (optimize.rosen_der, optimize.rosen_hess)
        if solver is s.newton
        else (
            optimize.rosen,
            optimize.rosen_der,
        )
    )
    res = solver(*args, [-1.2, 1.0], steps=1)
    assert res.iterations == 1 and not res.converged and res.iterates.shape == (2, 2)


def test_conjugate_gradient_rejects_an_unknown_beta():
    with pytest.raises(ValueError, match="beta must be one of 'polak_ribiere', 'fletcher_reeves'"):
        s.conjugate_gradient(optimize.rosen, optimize.rosen_der, [0.0, 0.0], beta="hestenes")


# --- argument checks shared by all solvers ----------------------------------------------


def run(name, x0=(1.0, 2.0), **kw):
    """Call a solver on f(x) = ½‖x‖² with the given x0 and keywords."""
    f, grad, hess = (lambda x: 0.5 * x @ x), (lambda x: x), (lambda x: np.eye(len(x)))
    if name == "apg":
        return s.apg(grad, x0, **{"lr": 0.5, "steps": 3, **kw})
    if name == "newton":
        return s.newton(grad, hess, x0, **kw)
    return getattr(s, name)(f, grad, x0, **kw)


SOLVERS = ["apg", "newton", "conjugate_gradient", "bfgs"]


@pytest.mark.parametrize("name", SOLVERS)
@pytest.mark.parametrize(
    ("x0", "error", "match"),
    [
        ([[1.0, 2.0]], ValueError, r"x0 must have 1 dimensions, got shape \(1, 2\)"),
        ([], ValueError, r"x0 must not be empty"),
        ([1.0, np.nan], ValueError, r"x0 must be finite"),
        (["a", "b"], TypeError, r"x0 must be a numeric array"),
    ],
)
def test_every_solver_rejects_a_bad_x0(name, x0, error, match):
    with pytest.raises(error, match=match):
        run(name, x0)


@pytest.mark.parametrize("name", SOLVERS)
@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        ({"steps": 0}, ValueError, "steps must be at least 1, got 0"),
        ({"steps": 2.5}, TypeError, "steps must be an integer, got 2.5"),
        ({"tol": -1e-3}, ValueError, "tol must be non-negative, got -0.001"),
        ({"tol": float("nan")}, ValueError, "tol must be finite, got nan"),
    ],
)
def test_every_solver_rejects_bad_steps_and_tol(name, kw, error, match):
    with pytest.raises(error, match=match):
        run(name, **kw)


@pytest.mark.parametrize("name", ["conjugate_gradient", "bfgs"])
def test_line_search_solvers_name_a_non_callable_f(name):
    with pytest.raises(TypeError, match="f must be callable, got 3"):
        getattr(s, name)(3, lambda x: x, [1.0])
