"""Solvers for small dense problems: accelerated proximal gradient, stochastic ADMM, Newton,
nonlinear conjugate gradient and BFGS (catalogue section 3, registry family "optimizers").

Each solver runs a whole trajectory from ``x0`` and returns it: ``SolverResult(x, iterates,
converged, iterations)`` with ``iterates[0] = x0`` and ``iterates[k]`` the k-th iterate, or
``ADMMResult`` for the two-block ADMM. Functions are plain callables on float64 vectors of
shape (n,); nothing is modified in place.

Sources (catalogue section 3; seeds by file number):
    004  APG and its O(1/k²) theorem, read as FISTA: Beck & Teboulle, "A Fast Iterative
         Shrinkage-Thresholding Algorithm for Linear Inverse Problems", SIAM J. Imaging Sci.
         2(1), 2009, Thm 4.4. The seed's own citation is Zuo & Lin, "A Generalized
         Accelerated Proximal Gradient Approach for Total-Variation-Based Image Restoration",
         IEEE Trans. Image Processing 20(10), 2011 (the seed writes "IEEE T-IP, 2010"), who
         restate that theorem for their generalised APG.
    004  Stochastic ADMM: Ouyang, He, Tran & Gray, "Stochastic Alternating Direction Method of
         Multipliers", ICML 2013, Algorithm 1.
    004  Newton's method, nonlinear conjugate gradient and BFGS ("二阶及其近似"):
         Nocedal & Wright, "Numerical Optimization", 2nd ed. 2006, ch. 3, 5 and 6.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import numpy as np
from scipy.optimize import line_search

from nnconform.reference._validate import as_array, choice, integer, nonnegative, positive

__all__ = [
    "ADMMResult",
    "SolverResult",
    "apg",
    "bfgs",
    "conjugate_gradient",
    "newton",
    "soft_threshold",
    "soft_threshold_backward",
    "stochastic_admm",
]

Vector = Callable[[np.ndarray], Any]


class SolverResult(NamedTuple):
    x: np.ndarray  # (n,) the last iterate
    iterates: np.ndarray  # (iterations + 1, n): x0 first
    converged: bool  # the stopping test (see each solver) passed
    iterations: int  # steps taken


class ADMMResult(NamedTuple):
    x: np.ndarray  # (n,) x_k
    y: np.ndarray  # (p,) y_k
    lam: np.ndarray  # (m,) the multiplier λ_k
    x_bar: np.ndarray  # (n,) (1/k) Σ_{i=0}^{k-1} x_i: the average the theorem is about
    y_bar: np.ndarray  # (p,) (1/k) Σ_{i=1}^{k} y_i
    x_iterates: np.ndarray  # (k + 1, n): x0 first
    y_iterates: np.ndarray  # (k + 1, p): y0 first


# --- argument checks and evaluation -----------------------------------------------------


def _function(name: str, f: Any) -> Callable:
    if not callable(f):
        raise TypeError(f"{name} must be callable, got {f!r} ({type(f).__name__})")
    return f


def _start(name: str, x0: Any) -> np.ndarray:
    """A starting point: a non-empty, finite 1-D float64 vector (a new array)."""
    x0 = as_array(name, x0, ndim=1)
    if x0.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {x0.shape}")
    if not np.all(np.isfinite(x0)):
        raise ValueError(f"{name} must be finite, got {x0}")
    return x0


def _vector(name: str, f: Callable, *args: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Call f(*args) and check it returns an array of the expected shape."""
    value = np.asarray(f(*args), dtype=np.float64)
    if value.shape != shape:
        raise ValueError(f"{name} must return shape {shape}, got {value.shape}")
    return value


def _norm(v: np.ndarray) -> float:
    return float(np.linalg.norm(v))


# --- soft-thresholding: the prox of the L1 norm ----------------------------------------


def soft_threshold(v, tau: float) -> np.ndarray:
    """prox of τ‖·‖₁: argmin_u τ‖u‖₁ + ½‖u − v‖² = sign(v) · max(|v| − τ, 0).

    The shrinkage step of ISTA/FISTA for the lasso (Beck & Teboulle 2009, eq. 1.4); pass
    ``prox=lambda v, lr: soft_threshold(v, mu * lr)`` to ``apg`` for g = μ‖·‖₁.
    """
    v = as_array("v", v)
    tau = nonnegative("tau", tau)
    return np.sign(v) * np.maximum(np.abs(v) - tau, 0.0)


def soft_threshold_backward(v, tau: float, dy) -> np.ndarray:
    """The gradient with respect to v: dy · 1[|v| > τ] (0 at the kinks |v| = τ)."""
    v, dy = as_array("v", v), as_array("dy", dy)
    if v.shape != dy.shape:
        raise ValueError(f"shapes must match, got v {v.shape}, dy {dy.shape}")
    tau = nonnegative("tau", tau)
    return np.where(np.abs(v) > tau, dy, 0.0)


# --- accelerated proximal gradient (FISTA) ---------------------------------------------


def apg(
    grad_f: Vector,
    x0,
    *,
    lr: float,
    steps: int,
    prox: Callable[[np.ndarray, float], Any] | None = None,
    tol: float = 0.0,
) -> SolverResult:
    """Accelerated proximal gradient for min F(x) = f(x) + g(x), read as FISTA   (seed 004).

        x_k     = prox_g(y_k − ε∇f(y_k), ε)                    (ε ≤ 1/L)
        t_{k+1} = (1 + √(1 + 4t_k²)) / 2
        y_{k+1} = x_k + ((t_k − 1)/t_{k+1}) (x_k − x_{k−1}),    t_1 = 1, y_1 = x_0,

    Beck & Teboulle's FISTA (SIAM J. Imaging Sci. 2009, eqs. 4.1–4.3). Seed 004 prints
    x_k = y_{k−1} − ε∇F(y_{k−1}) beside y_{k+1} from x_k: read literally, its indices do not
    close (y_{k+1} would feed x_{k+2}, splitting the sequence into two interleaved halves). The
    seed is read as FISTA, x_k = prox(y_k − ε∇f(y_k)) with y_1 = x₀, which is what the seed's
    theorem is about; the seed's indices are not repeated here.

    ``prox(v, lr)`` returns argmin_u g(u) + ‖u − v‖²/(2·lr); ``None`` means g = 0 (prox is the
    identity) and the method is Nesterov's accelerated gradient, the seed's form.

    Theorem (seed 004, eq. 20, from the paper the seed cites: Zuo & Lin, "A Generalized
    Accelerated Proximal Gradient Approach for Total-Variation-Based Image Restoration", IEEE
    Trans. Image Processing 20(10), 2011 — the seed writes "IEEE T-IP, 2010" — who restate Beck
    & Teboulle 2009, Thm 4.4): for convex f with an L-Lipschitz gradient, convex g and ε = 1/L,
        F(x_k) − F(x*) ≤ 2L‖x₀ − x*‖² / (k + 1)²   for every k ≥ 1,
    where x_k is ``iterates[k]``. With ε < 1/L the bound holds with L replaced by 1/ε.

    Stops early, with ``converged=True``, when the gradient mapping ‖y_{k−1} − x_k‖/ε is at most
    ``tol`` (it is 0 exactly at a minimiser of F); the default tol = 0 runs all ``steps``.

    Warning: the momentum (t_k − 1)/t_{k+1} is not the constant momentum of SGD's ``nesterov``
    (Alg 8.3); it grows towards 1 as k grows.
    """
    grad_f = _function("grad_f", grad_f)
    if prox is not None:
        prox = _function("prox", prox)
    x_prev = _start("x0", x0)
    lr = positive("lr", lr)
    steps = integer("steps", steps, minimum=1)
    tol = nonnegative("tol", tol)
    shape = x_prev.shape

    y, t = x_prev.copy(), 1.0
    iterates, converged = [x_prev], False
    for _ in range(steps):
        v = y - lr * _vector("grad_f", grad_f, y, shape=shape)
        x = v if prox is None else _vector("prox", prox, v, lr, shape=shape)
        iterates.append(x)
        if _norm(y - x) / lr <= tol:
            converged = True
            break
        t_next = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
        y = x + ((t - 1.0) / t_next) * (x - x_prev)
        x_prev, t = x, t_next
    return SolverResult(iterates[-1], np.array(iterates), converged, len(iterates) - 1)


# --- stochastic ADMM --------------------------------------------------------------------


def _scaled_orthogonal(B: np.ndarray) -> float:
    """c > 0 with BᵀB = cI, or a ValueError: then the y-step is a prox (see stochastic_admm)."""
    gram = B.T @ B
    c = float(np.trace(gram)) / B.shape[1]
    if c <= 0 or not np.allclose(gram, c * np.eye(B.shape[1]), rtol=1e-10, atol=1e-12 * c):
        raise ValueError(
            "B must have orthogonal columns of equal norm (BᵀB = cI with c > 0, e.g. -I or I) "
            f"so that the y-step is a prox of theta2, got BᵀB =\n{gram}"
        )
    return c


def _step_sizes(eta: Any) -> Callable[[int], float]:
    """η as a function of k = 1, 2, ...: a constant, or a callable checked at each call."""
    if callable(eta):
        return lambda k: positive(f"eta({k})", eta(k))
    eta = positive("eta", eta)
    return lambda k: eta


def stochastic_admm(
    grad_theta1: Callable[[np.ndarray, Any], Any],
    prox_theta2: Callable[[np.ndarray, float], Any],
    A,
    B,
    b,
    x0,
    y0,
    *,
    beta: float,
    eta: float | Callable[[int], float],
    steps: int,
    samples: Iterable[Any],
    lam0=None,
) -> ADMMResult:
    """Stochastic linearised ADMM for min_x,y E_ξ θ₁(x, ξ) + θ₂(y) s.t. Ax + By = b   (seed 004).

    Ouyang et al. 2013, Algorithm 1, with the seed's augmented Lagrangian
    L_β = θ₁(x) + θ₂(y) − ⟨λ, Ax + By − b⟩ + β/2‖Ax + By − b‖²; for k = 0, 1, ...:

        x_{k+1} = argmin_x ⟨θ₁'(x_k, ξ_{k+1}), x⟩ + β/2‖Ax + By_k − b − λ_k/β‖²
                                                 + ‖x − x_k‖²/(2η_{k+1})
                i.e. (βAᵀA + I/η) x = x_k/η − θ₁'(x_k, ξ_{k+1}) + βAᵀ(b − By_k + λ_k/β)
        y_{k+1} = argmin_y θ₂(y) + β/2‖Ax_{k+1} + By − b − λ_k/β‖²
        λ_{k+1} = λ_k − β(Ax_{k+1} + By_{k+1} − b).

    Shapes: A (m, n), B (m, p), b (m,), x0 (n,), y0 (p,), λ (m,) with λ_0 = 0 unless ``lam0``.
    ``grad_theta1(x, xi)`` is an unbiased stochastic gradient of θ₁ at x for the sample ξ;
    ``samples`` yields ξ_1, ξ_2, ... (one per step: a list, or a generator such as
    ``(rng.choice(N, m) for _ in range(steps))``). ``eta`` is a constant or a callable k ↦ η_k
    (k = 1, 2, ...); the paper's rate O(1/√k) takes η_k ∝ 1/√k.

    The y-step is solved through ``prox_theta2(v, tau)`` = argmin_y θ₂(y) + ‖y − v‖²/(2τ), which
    needs BᵀB = cI (B = −I, I, or any scaled orthogonal matrix): then
    β/2‖By − w‖² = βc/2‖y − Bᵀw/c‖² + const, so y_{k+1} = prox(Bᵀw/c, 1/(βc)) with
    w = b − Ax_{k+1} + λ_k/β. The lasso min θ₁(x) + μ‖y‖₁ s.t. x − y = 0 is A = I, B = −I, b = 0,
    prox_theta2 = lambda v, tau: soft_threshold(v, mu * tau). Other B raise a ValueError.

    The convergence theorem (Ouyang et al., Thm 1: O(1/√k) in expectation for the objective gap
    and the constraint residual) is for the averages x̄_k = (1/k) Σ_{i=0}^{k−1} x_i and
    ȳ_k = (1/k) Σ_{i=1}^{k} y_i, returned as ``x_bar`` and ``y_bar``.

    Warning: the seed writes the multiplier with a minus sign (−⟨λ, ·⟩, λ ← λ − β·residual);
    Boyd et al.'s ADMM uses +⟨y, ·⟩ and y ← y + ρ·residual, i.e. λ = −y.
    """
    grad_theta1 = _function("grad_theta1", grad_theta1)
    prox_theta2 = _function("prox_theta2", prox_theta2)
    A, B, b = as_array("A", A, ndim=2), as_array("B", B, ndim=2), as_array("b", b, ndim=1)
    x, y = _start("x0", x0), _start("y0", y0)
    m, n = A.shape
    if B.shape[0] != m or b.shape[0] != m or x.shape[0] != n or B.shape[1] != y.shape[0]:
        raise ValueError(
            "shapes must fit Ax + By = b with A (m, n), B (m, p), b (m,), x0 (n,), y0 (p,), "
            f"got A {A.shape}, B {B.shape}, b {b.shape}, x0 {x.shape}, y0 {y.shape}"
        )
    c = _scaled_orthogonal(B)
    lam = np.zeros(m) if lam0 is None else _start("lam0", lam0)
    if lam.shape != (m,):
        raise ValueError(f"lam0 must have shape ({m},) like b, got {lam.shape}")
    beta = positive("beta", beta)
    eta_at = _step_sizes(eta)
    steps = integer("steps", steps, minimum=1)
    if not isinstance(samples, Iterable):  # a bare Generator is not: wrap it in a generator
        raise TypeError(
            f"samples must be an iterable of samples ξ (one per step), got {type(samples).__name__}"
        )
    draws = iter(samples)

    xs, ys = [x], [y]
    for k in range(steps):
        try:
            xi = next(draws)
        except StopIteration:
            raise ValueError(
                f"samples ran out after {k} samples; steps={steps} needs one per step"
            ) from None
        g = _vector("grad_theta1", grad_theta1, x, xi, shape=(n,))
        eta_k = eta_at(k + 1)
        lhs = beta * A.T @ A + np.eye(n) / eta_k  # (n, n), positive definite
        x = np.linalg.solve(lhs, x / eta_k - g + beta * A.T @ (b - B @ y + lam / beta))
        w = b - A @ x + lam / beta  # the y-step is argmin θ₂(y) + β/2‖By − w‖²
        y = _vector("prox_theta2", prox_theta2, B.T @ w / c, 1.0 / (beta * c), shape=y.shape)
        lam = lam - beta * (A @ x + B @ y - b)
        xs.append(x)
        ys.append(y)
    xs, ys = np.array(xs), np.array(ys)
    return ADMMResult(x, y, lam, xs[:-1].mean(axis=0), ys[1:].mean(axis=0), xs, ys)


# --- Newton's method --------------------------------------------------------------------


def newton(grad: Vector, hess: Vector, x0, *, steps: int = 50, tol: float = 1e-10) -> SolverResult:
    """Newton's method θ ← θ − H⁻¹∇L   (seed 004; Nocedal & Wright §3.3).

    The pure step, without a line search: quadratic convergence near a minimiser with a
    positive-definite Hessian, one step on a strictly convex quadratic, and no guarantee far
    from one (it is attracted to saddles and maxima as well). H⁻¹∇L is computed by solving
    H p = ∇L, never by inverting H. Stops with ``converged=True`` when ‖∇L(θ)‖₂ ≤ ``tol``.
    """
    grad, hess = _function("grad", grad), _function("hess", hess)
    x = _start("x0", x0)
    steps = integer("steps", steps, minimum=1)
    tol = nonnegative("tol", tol)
    n = x.shape[0]

    iterates = [x]
    g = _vector("grad", grad, x, shape=(n,))
    for k in range(steps):
        if _norm(g) <= tol:
            break
        H = _vector("hess", hess, x, shape=(n, n))
        try:
            p = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            raise ValueError(
                f"hess(x) is singular at iteration {k}, x = {x}: the Newton step is undefined"
            ) from None
        x = x - p
        iterates.append(x)
        g = _vector("grad", grad, x, shape=(n,))
    return SolverResult(x, np.array(iterates), _norm(g) <= tol, len(iterates) - 1)


# --- line search shared by CG and BFGS --------------------------------------------------


def _step_length(f, grad, x, d, fx, gx, *, c2: float) -> float | None:
    """A step length along the descent direction d: strong Wolfe conditions with c1 = 1e-4
    (scipy.optimize.line_search, Nocedal & Wright Alg 3.5), else backtracking to the Armijo
    condition from α = 1; None when both fail: usually because f has reached its rounding
    floor, where ‖g‖ ≈ √(ε_mach |f| L) and no step can show a decrease."""
    with warnings.catch_warnings():
        # scipy's LineSearchWarning (a private RuntimeWarning subclass) only says "no step
        # found": the fallback below handles that case.
        warnings.simplefilter("ignore", RuntimeWarning)
        # maxiter: scipy doubles a trial step from α = 1 at most maxiter times (default 10),
        # then returns the last trial without testing it, with slope None; 2⁶⁰ covers the
        # curvatures of any float64 problem, so a step without a slope is a failure.
        alpha, *_, slope = line_search(
            f, grad, x, d, gfk=gx, old_fval=fx, c1=1e-4, c2=c2, maxiter=60
        )
    if alpha is not None and slope is not None and np.isfinite(alpha) and alpha > 0:
        return float(alpha)
    slope, alpha = float(gx @ d), 1.0
    for _ in range(60):
        f_new = f(x + alpha * d)
        # strict decrease as well: near the minimiser rounding makes f(x + αd) == f(x), and a
        # step that changes nothing would repeat forever. NaN compares False: keep halving.
        if f_new <= fx + 1e-4 * alpha * slope and f_new < fx:
            return alpha
        alpha *= 0.5
    return None


def _smooth(f: Any, grad: Any, n: int) -> tuple[Callable, Callable]:
    """f and grad checked and wrapped: f returns a float, grad a (n,) float64 vector."""
    f, grad = _function("f", f), _function("grad", grad)
    return (lambda x: float(f(x))), (lambda x: _vector("grad", grad, x, shape=(n,)))


# --- nonlinear conjugate gradient -------------------------------------------------------


def conjugate_gradient(
    f: Vector,
    grad: Vector,
    x0,
    *,
    beta: str = "polak_ribiere",
    steps: int = 1000,
    tol: float = 1e-6,
) -> SolverResult:
    """Nonlinear conjugate gradient   (seed 004; Nocedal & Wright §5.2).

        x_{k+1} = x_k + α_k d_k,   α_k from a line search
        d_{k+1} = −g_{k+1} + β_{k+1} d_k,   d_0 = −g_0

    ``beta``:
        "polak_ribiere"   β = max(0, g_{k+1}ᵀ(g_{k+1} − g_k) / g_kᵀg_k)   (PR+, N&W eq. 5.45)
        "fletcher_reeves" β = g_{k+1}ᵀg_{k+1} / g_kᵀg_k                 (N&W eq. 5.41a)

    The step satisfies the strong Wolfe conditions with c1 = 1e-4, c2 = 0.1 (c2 < ½ keeps
    Fletcher–Reeves directions descent directions, N&W Lemma 5.6), with a backtracking fallback.
    The method restarts (d = −g) every n steps (N&W §5.2) and whenever d is not a descent
    direction; PR+ also restarts by itself when β would be negative. Stops with
    ``converged=True`` when ‖g‖₂ ≤ ``tol``, or unconverged when no step decreases f (at f's
    rounding floor, ‖g‖ ≈ √(ε_mach |f| L): a tol below that cannot be met).

    Warning: scipy.optimize.minimize(method="CG") is Polak–Ribière too, with different
    line-search constants and stopping test (‖g‖_∞ ≤ gtol), so trajectories differ slightly.
    """
    x = _start("x0", x0)
    n = x.shape[0]
    f, grad = _smooth(f, grad, n)
    beta = choice("beta", beta, ("polak_ribiere", "fletcher_reeves"))
    steps = integer("steps", steps, minimum=1)
    tol = nonnegative("tol", tol)

    fx, g = f(x), grad(x)
    d = -g
    iterates = [x]
    for k in range(steps):
        if _norm(g) <= tol:
            break
        if k % n == 0 or g @ d >= 0:
            d = -g
        alpha = _step_length(f, grad, x, d, fx, g, c2=0.1)
        if alpha is None:
            break
        x = x + alpha * d
        fx, g_new = f(x), grad(x)
        if beta == "fletcher_reeves":
            b = (g_new @ g_new) / (g @ g)
        else:
            b = max(0.0, g_new @ (g_new - g) / (g @ g))
        d, g = -g_new + b * d, g_new
        iterates.append(x)
    return SolverResult(x, np.array(iterates), _norm(g) <= tol, len(iterates) - 1)


# --- BFGS -------------------------------------------------------------------------------


def bfgs(f: Vector, grad: Vector, x0, *, steps: int = 1000, tol: float = 1e-6) -> SolverResult:
    """BFGS quasi-Newton method   (seed 004; Nocedal & Wright §6.1, Alg 6.1).

        d_k = −H_k g_k,   x_{k+1} = x_k + α_k d_k,   s_k = x_{k+1} − x_k,   y_k = g_{k+1} − g_k
        H_{k+1} = (I − ρ s yᵀ) H_k (I − ρ y sᵀ) + ρ s sᵀ,   ρ = 1/(yᵀs)      (N&W eq. 6.17)

    H approximates the inverse Hessian, starting from H_0 = I (as scipy's BFGS does; N&W
    eq. 6.20 would rescale it after the first step). The step satisfies the strong Wolfe
    conditions with c1 = 1e-4, c2 = 0.9, which guarantee yᵀs > 0; should the backtracking
    fallback give yᵀs ≤ 0, the update is skipped so that H stays positive definite. Stops with
    ``converged=True`` when ‖g‖₂ ≤ ``tol``, or unconverged when no step decreases f (at f's
    rounding floor, ‖g‖ ≈ √(ε_mach |f| L): a tol below that cannot be met).
    """
    x = _start("x0", x0)
    n = x.shape[0]
    f, grad = _smooth(f, grad, n)
    steps = integer("steps", steps, minimum=1)
    tol = nonnegative("tol", tol)

    eye = np.eye(n)
    H = eye.copy()  # (n, n) inverse-Hessian approximation
    fx, g = f(x), grad(x)
    iterates = [x]
    for _ in range(steps):
        if _norm(g) <= tol:
            break
        d = -H @ g
        alpha = _step_length(f, grad, x, d, fx, g, c2=0.9)
        if alpha is None:
            break
        s = alpha * d
        x = x + s
        fx, g_new = f(x), grad(x)
        y = g_new - g
        if y @ s > 0:  # curvature condition; else skip the update
            rho = 1.0 / (y @ s)
            V = eye - rho * np.outer(y, s)  # (n, n); H ← VᵀHV + ρssᵀ is eq. 6.17
            H = V.T @ H @ V + rho * np.outer(s, s)
        g = g_new
        iterates.append(x)
    return SolverResult(x, np.array(iterates), _norm(g) <= tol, len(iterates) - 1)
