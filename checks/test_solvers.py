"""Solvers for small dense problems (catalogue section 3): accelerated proximal gradient (its
iterates and the FISTA bound), Newton's method, nonlinear conjugate gradient, BFGS and
stochastic ADMM, against the oracle where the iterates are determined by the method and
against ``scipy.optimize`` where only the minimiser is (CG and BFGS depend on the line search,
so their iterates are not compared; CG's β is read off its first two steps, which any line
search leaves determined).

Drawn from a seed (a numpy generator; Hypothesis draws and shrinks the seed): every problem
(Q, b, x0, the lasso data). They are matrices with structure (positive definite, a range that
holds b), which element-wise shrinking would break; the seed replays them exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.optimize
from hypothesis import given
from hypothesis import strategies as st

from nnconform.checks.assertions import Call, assert_close, call, fail
from nnconform.checks.strategies import SEEDS, modes
from nnconform.checks.tolerances import MINIMISERS, Tolerance
from nnconform.reference import solvers as oracle


def _iterates(out: Any, c: Call, attribute: str = "iterates") -> np.ndarray:
    value = getattr(out, attribute, None)
    if value is None:
        fail(f"{c.function} must return a result with .{attribute}, got {type(out).__name__}", c)
    value = np.asarray(value)
    if value.ndim != 2 or not np.all(np.isfinite(value)):
        fail(f"{c.function}: .{attribute} must be a finite (steps + 1, n) array, got {value}", c)
    return value.astype(np.float64)


# --- APG / FISTA ------------------------------------------------------------------------


def _convex_quadratic(seed: int):
    """F(x) = ½xᵀQx − bᵀx with Q = MᵀM positive semi-definite, often singular (rank r ≤ n),
    and b in Q's range so that a minimiser exists; the one nearest x0 is Q⁺b + (I − Q⁺Q)x0."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 7))
    m = rng.standard_normal((int(rng.integers(1, n + 1)), n))  # (r, n)
    q = m.T @ m  # (n, n)
    b = q @ rng.standard_normal(n)
    x0 = 3 * rng.standard_normal(n)
    pinv = np.linalg.pinv(q)
    x_star = pinv @ b + (np.eye(n) - pinv @ q) @ x0
    return q, b, x0, x_star


@pytest.mark.algorithm("apg")
@given(seed=SEEDS, steps=st.integers(5, 40))
def test_apg_obeys_the_fista_bound(target, seed, steps):
    # Beck & Teboulle 2009, Thm 4.4 with ε = 1/L: F(x_k) − F* ≤ 2L‖x₀ − x*‖²/(k + 1)², k ≥ 1
    q, b, x0, x_star = _convex_quadratic(seed)
    L = float(np.linalg.eigvalsh(q).max())
    out, c = call(target, "apg", lambda x: q @ x - b, x0.copy(), lr=1.0 / L, steps=steps)
    xs = _iterates(out, c)

    def objective(x):
        return 0.5 * x @ q @ x - b @ x

    radius = float(np.sum((x0 - x_star) ** 2))
    # rounding of F in float64: u times its terms' scale, with a factor of 1e6 to spare
    slack = 1e-10 * (1.0 + abs(objective(x_star)) + L * radius)
    for k in range(1, len(xs)):
        gap, bound = objective(xs[k]) - objective(x_star), 2 * L * radius / (k + 1) ** 2
        if gap > bound + slack:
            fail(f"apg: F(x_{k}) − F* = {gap!r} exceeds the FISTA bound 2L‖x₀ − x*‖²/(k + 1)² "
                 f"= {bound!r} (L = {L!r})", c)  # fmt: skip


@pytest.mark.algorithm("apg")
@pytest.mark.parametrize("g", ["none", "l1"])
@given(seed=SEEDS, steps=st.integers(5, 20))
def test_apg_iterates_match_the_oracle(target, g, seed, steps):
    q, b, x0, _ = _convex_quadratic(seed)
    lr = 1.0 / float(np.linalg.eigvalsh(q).max())
    extra = {} if g == "none" else {"prox": lambda v, lr: oracle.soft_threshold(v, 0.3 * lr)}
    out, c = call(target, "apg", lambda x: q @ x - b, x0.copy(), lr=lr, steps=steps, **extra)
    expected = oracle.apg(lambda x: q @ x - b, x0, lr=lr, steps=steps, **extra).iterates
    assert_close(_iterates(out, c), expected, what=f"apg iterates (g = {g})", call=c,
                 dtype="float64")  # fmt: skip


# --- Newton, CG, BFGS -------------------------------------------------------------------


def _smooth_problem(seed: int):
    """f(x) = ½xᵀQx − bᵀx + Σᵢ log(1 + exp(aᵢᵀx)): smooth, strongly convex (Q ⪰ 0.5 I), not
    quadratic. Returns f, ∇f, ∇²f, x0 and the minimiser from scipy.optimize.root on ∇f."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 7))
    m = rng.standard_normal((n, n))
    q = m @ m.T / n + 0.5 * np.eye(n)
    b, a = rng.standard_normal(n), rng.standard_normal((3, n))

    def sigma(z):
        return 0.5 * (1.0 + np.tanh(z / 2))

    def f(x):
        return float(0.5 * x @ q @ x - b @ x + np.sum(np.logaddexp(0.0, a @ x)))

    def grad(x):
        return q @ x - b + a.T @ sigma(a @ x)

    def hess(x):
        s = sigma(a @ x)
        return q + a.T @ np.diag(s * (1 - s)) @ a

    x0 = rng.standard_normal(n)
    root = scipy.optimize.root(grad, x0, jac=hess, tol=1e-14)
    # the root's own accuracy (‖∇f‖ ≤ 1e-12 gives ‖x − x*‖ ≤ 2e-12): a check, not an assumption
    if np.linalg.norm(grad(root.x)) > 1e-12:
        raise RuntimeError(f"scipy.optimize.root did not converge on seed {seed}: {root}")
    return f, grad, hess, x0, root.x


@pytest.mark.algorithm("newton")
@given(seed=SEEDS)
def test_newton_matches_the_oracle_and_scipy(target, seed):
    _, grad, hess, x0, x_star = _smooth_problem(seed)
    out, c = call(target, "newton", grad, hess, x0.copy(), steps=50, tol=1e-10)
    xs = _iterates(out, c)
    expected = oracle.newton(grad, hess, x0, steps=50, tol=1e-10).iterates
    assert_close(xs, expected, what="newton iterates", call=c, dtype="float64")
    assert_close(xs[-1], x_star, what="newton's minimiser against scipy.optimize.root",
                 call=c, tol=MINIMISERS)  # fmt: skip


@pytest.mark.algorithm("newton")
@given(seed=SEEDS)
def test_newton_solves_a_strictly_convex_quadratic_in_one_step(target, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 7))
    m = rng.standard_normal((n, n))
    q, b = m @ m.T / n + 0.5 * np.eye(n), rng.standard_normal(n)
    out, c = call(target, "newton", lambda x: q @ x - b, lambda x: q, rng.standard_normal(n),
                  steps=1, tol=0.0)  # fmt: skip
    xs = _iterates(out, c)
    if len(xs) < 2:
        fail(f"newton took no step (iterates {xs})", c)
    assert_close(xs[1], np.linalg.solve(q, b), what="newton's first step on ½xᵀQx − bᵀx",
                 call=c, dtype="float64")  # fmt: skip


@pytest.mark.parametrize("algorithm", ["conjugate_gradient", "bfgs"])
@given(seed=SEEDS)
def test_solver_finds_the_minimiser_scipy_finds(target, algorithm, seed):
    f, grad, _, x0, x_star = _smooth_problem(seed)
    out, c = call(target, algorithm, f, grad, x0.copy(), tol=1e-10)
    x = _iterates(out, c)[-1]
    assert_close(x, x_star, what=f"{algorithm}'s minimiser against scipy.optimize.root", call=c,
                 tol=MINIMISERS)  # fmt: skip
    if f(x) > f(x0) + 1e-12 * (1 + abs(f(x0))):
        fail(f"{algorithm} ended above its start: f(x) = {f(x)!r} > f(x0) = {f(x0)!r}", c)


def _beta_formula(beta: str, g0: np.ndarray, g1: np.ndarray) -> float:
    """β₁ of the documented formula (Nocedal & Wright eq. 5.41a and 5.45), from g₀ and g₁."""
    if beta == "fletcher_reeves":
        return float(g1 @ g1 / (g0 @ g0))
    return max(0.0, float(g1 @ (g1 - g0) / (g0 @ g0)))  # polak_ribiere: PR+


@pytest.mark.algorithm("conjugate_gradient")
@pytest.mark.parametrize(("keyword", "beta"), modes("conjugate_gradient"))
@given(seed=SEEDS)
def test_conjugate_gradient_follows_its_documented_beta(target, keyword, beta, seed):
    # CG steps along d₀ = −g₀, then d₁ = −g₁ + β₁d₀, so x₂ − x₁ = α₁(−g₁) + α₁β₁(−g₀) whatever
    # the line search chose for α₀, α₁: β₁ = b/a from x₂ − x₁ = a(−g₁) + b(−g₀). (n = 1
    # restarts at every step: no β to read; the minimiser is still compared.) The formulas
    # differ by g₁ᵀg₀/g₀ᵀg₀, at least 5e-5 relative over 5000 problems; β₁ is recovered to
    # 5e-11 relative, hence the tolerance 1e-8.
    f, grad, _, x0, x_star = _smooth_problem(seed)
    out, c = call(target, "conjugate_gradient", f, grad, x0.copy(), tol=1e-10,
                  **{keyword: beta})  # fmt: skip
    xs = _iterates(out, c)
    assert_close(xs[-1], x_star, what=f"conjugate_gradient({keyword}={beta!r})'s minimiser "
                 "against scipy.optimize.root", call=c, tol=MINIMISERS)  # fmt: skip
    if len(x0) < 2 or len(xs) < 3:
        return
    g0, g1 = grad(xs[0]), grad(xs[1])
    expected = _beta_formula(beta, g0, g1)
    if g1 @ (-g1 - expected * g0) >= 0:
        return  # not a descent direction: a restart (β₁ = 0) is allowed (N&W §5.2)
    (a, b), *_ = np.linalg.lstsq(np.stack([-g1, -g0], axis=1), xs[2] - xs[1], rcond=None)
    if not a > 0:
        fail(f"conjugate_gradient({keyword}={beta!r}): the second step x₂ − x₁ = {xs[2] - xs[1]}"
             f" has no positive component along −g₁ = {-g1}", c)  # fmt: skip
    others = ", ".join(f"{name} gives {_beta_formula(name, g0, g1)!r}"
                       for _, name in modes("conjugate_gradient") if name != beta)  # fmt: skip
    assert_close(np.float64(b / a), expected, what=f"conjugate_gradient({keyword}={beta!r}): "
                 f"β₁ read off x₀, x₁, x₂ ({others})", call=c,
                 tol=Tolerance(rtol=1e-8, atol=1e-12))  # fmt: skip


# --- stochastic ADMM --------------------------------------------------------------------


def _lasso(seed: int):
    """min (1/2N)‖Dx − y‖² + μ‖x‖₁ as θ₁(x) + θ₂(y) with x − y = 0 (A = I, B = −I, b = 0)."""
    rng = np.random.default_rng(seed)
    big_n, n = 30, int(rng.integers(1, 6))
    d, y = rng.standard_normal((big_n, n)), rng.standard_normal(big_n)
    mu = float(rng.uniform(0.01, 0.3))

    def grad_theta1(x, idx):
        return d[idx].T @ (d[idx] @ x - y[idx]) / len(idx)

    def prox(v, tau):
        return np.sign(v) * np.maximum(np.abs(v) - mu * tau, 0.0)

    problem = (grad_theta1, prox, np.eye(n), -np.eye(n), np.zeros(n), np.zeros(n), np.zeros(n))
    return rng, d, y, mu, problem


@pytest.mark.algorithm("stochastic_admm")
@given(seed=SEEDS, steps=st.integers(5, 30))
def test_stochastic_admm_iterates_match_the_oracle(target, seed, steps):
    rng, _, _, _, problem = _lasso(seed)
    samples = [rng.choice(30, 8, replace=False) for _ in range(steps)]
    hyper = {"beta": 1.0, "eta": 0.1, "steps": steps}
    out, c = call(target, "stochastic_admm", *problem, samples=list(samples), **hyper)
    expected = oracle.stochastic_admm(*problem, samples=list(samples), **hyper)
    for attribute in ("x_iterates", "y_iterates"):
        assert_close(_iterates(out, c, attribute), getattr(expected, attribute),
                     what=f"stochastic_admm .{attribute}", call=c, dtype="float64")  # fmt: skip


@pytest.mark.algorithm("stochastic_admm")
@given(seed=SEEDS)
def test_stochastic_admm_converges_to_the_lasso_solution(target, seed):
    # full-batch samples: the linearised ADMM converges to the lasso minimiser, found here by
    # scipy's L-BFGS-B on the split x = u − v, u, v ≥ 0 (a smooth bound-constrained problem)
    _, d, y, mu, problem = _lasso(seed)
    big_n, n = d.shape
    # the contraction per step is slowest for a small μ: 500 steps left 4 problems in 5000 short
    # of 1e-6 (seed 1657208810 by 49×); with 2000 steps the worst 8 of those 5000 are within
    # 3% of the tolerance, what is left being scipy's own error
    steps = 2000
    out, c = call(target, "stochastic_admm", *problem, beta=1.0, eta=0.1, steps=steps,
                  samples=[np.arange(big_n)] * steps)  # fmt: skip
    x = _iterates(out, c, "x_iterates")[-1]

    def objective(z):
        r = d @ (z[:n] - z[n:]) - y
        return 0.5 * r @ r / big_n + mu * z.sum()

    def gradient(z):
        g = d.T @ (d @ (z[:n] - z[n:]) - y) / big_n
        return np.concatenate([g + mu, -g + mu])

    split = scipy.optimize.minimize(
        objective, np.zeros(2 * n), jac=gradient, method="L-BFGS-B", bounds=[(0, None)] * 2 * n,
        options={"ftol": 1e-15, "gtol": 1e-13, "maxiter": 10_000},
    )  # fmt: skip
    assert_close(x, split.x[:n] - split.x[n:], what="stochastic_admm's x against the lasso "
                 "minimiser from scipy.optimize", call=c, tol=MINIMISERS)  # fmt: skip
