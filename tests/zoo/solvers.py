"""Planted bugs in the solvers: each a mistake that a transcription of the method could make,
and that the final answer on an easy problem does not show."""

import numpy as np

from nnconform.reference import normalization as ref_norm
from nnconform.reference import solvers as ref
from tests.zoo import planted


def _proximal_gradient_without_momentum(grad_f, x0, *, lr, steps, prox=None, tol=0.0):
    # ISTA: x_k = prox(x_{k−1} − ε∇f(x_{k−1})), the momentum step y_{k+1} dropped; O(1/k) only
    x = np.array(x0, dtype=np.float64)
    iterates = [x]
    for _ in range(steps):
        v = x - lr * np.asarray(grad_f(x))
        x_new = v if prox is None else np.asarray(prox(v, lr), dtype=np.float64)
        iterates.append(x_new)
        if np.linalg.norm(x - x_new) / lr <= tol:
            return ref.SolverResult(x_new, np.array(iterates), True, len(iterates) - 1)
        x = x_new
    return ref.SolverResult(x, np.array(iterates), False, len(iterates) - 1)


def _newton_with_a_strict_stopping_test(grad, hess, x0, *, steps=50, tol=1e-10):
    # ‖∇L‖ < tol in place of ≤: at tol = 0 a stationary start takes steps (of length 0) and is
    # reported unconverged
    x = np.array(x0, dtype=np.float64)
    iterates, g = [x], np.asarray(grad(x))
    for _ in range(steps):
        if np.linalg.norm(g) < tol:
            break
        x = x - np.linalg.solve(np.asarray(hess(x)), g)
        iterates.append(x)
        g = np.asarray(grad(x))
    converged = bool(np.linalg.norm(g) < tol)
    return ref.SolverResult(x, np.array(iterates), converged, len(iterates) - 1)


def _bfgs_with_the_direction_as_curvature_pair(f, grad, x0, *, steps=1000, tol=1e-6):
    # the update fed s = d (the search direction) in place of s = αd: H is wrongly scaled,
    # yet the line search still walks to the minimiser
    x = np.array(x0, dtype=np.float64)
    n = x.shape[0]
    eye, H = np.eye(n), np.eye(n)
    g, iterates = np.asarray(grad(x)), [x]
    for _ in range(steps):
        if np.linalg.norm(g) <= tol:
            break
        d = -H @ g
        alpha = ref._step_length(f, grad, x, d, float(f(x)), g, c2=0.9)
        if alpha is None:
            break
        x = x + alpha * d
        g_new = np.asarray(grad(x))
        y = g_new - g
        if y @ d > 0:
            rho = 1.0 / (y @ d)
            V = eye - rho * np.outer(y, d)
            H = V.T @ H @ V + rho * np.outer(d, d)
        g = g_new
        iterates.append(x)
    return ref.SolverResult(x, np.array(iterates), np.linalg.norm(g) <= tol, len(iterates) - 1)


def _conjugate_gradient_with_bfgs_line_search(f, grad, x0, *, beta="polak_ribiere",
                                              steps=1000, tol=1e-6):  # fmt: skip
    # one line search shared by CG and BFGS, with BFGS's c2 = 0.9: Fletcher–Reeves directions
    # need c2 < ½ to stay descent directions (N&W Lemma 5.6)
    original = ref._step_length

    def loose(*args, c2):
        return original(*args, c2=0.9)

    ref._step_length = loose
    try:
        return ref.conjugate_gradient(f, grad, x0, beta=beta, steps=steps, tol=tol)
    finally:
        ref._step_length = original


def _admm_with_the_sign_of_b_flipped_in_the_dual_update(grad_theta1, prox_theta2, A, B, b, x0,
                                                        y0, **kwargs):  # fmt: skip
    # λ ← λ − β(Ax + By + b): b's sign slipped in the residual of the multiplier's update
    # only; invisible when b = 0. Rebuilt from the reference's own steps, one at a time.
    steps, samples = kwargs.pop("steps"), list(kwargs.pop("samples"))
    lam0 = kwargs.pop("lam0", None)
    A, B, b = (np.asarray(a, dtype=np.float64) for a in (A, B, b))
    x, y = np.asarray(x0, dtype=np.float64), np.asarray(y0, dtype=np.float64)
    lam = np.zeros(len(b)) if lam0 is None else np.asarray(lam0, dtype=np.float64)
    eta = kwargs["eta"]
    xs, ys = [x], [y]
    for k in range(steps):
        eta_k = eta(k + 1) if callable(eta) else eta
        one = ref.stochastic_admm(grad_theta1, prox_theta2, A, B, b, x, y, lam0=lam, steps=1,
                                  samples=[samples[k]], beta=kwargs["beta"], eta=eta_k)  # fmt: skip
        x, y = one.x, one.y
        lam = lam - kwargs["beta"] * (A @ x + B @ y + b)
        xs.append(x)
        ys.append(y)
    xs, ys = np.array(xs), np.array(ys)
    return ref.ADMMResult(x, y, lam, xs[:-1].mean(axis=0), ys[1:].mean(axis=0), xs, ys)


def _admm_averaging_x_1_to_k(*args, **kwargs):
    # x̄_k = (1/k) Σ_{i=1}^{k} x_i (the last k iterates) in place of Σ_{i=0}^{k−1}
    out = ref.stochastic_admm(*args, **kwargs)
    return out._replace(x_bar=out.x_iterates[1:].mean(axis=0))


def _weight_norm_over_columns(v, g):
    # one norm per input column (torch's weight_norm(dim=1)) in place of per output row
    v = np.asarray(v, dtype=np.float64)
    if v.ndim == 1:
        return ref_norm.weight_norm(v, g)
    norm = np.sqrt(np.sum(v**2, axis=0, keepdims=True))
    return np.asarray(g, dtype=np.float64).reshape((-1,) + (1,) * (v.ndim - 1)) * v / norm


apg_without_momentum = planted(
    "APG without momentum (ISTA)", apg=_proximal_gradient_without_momentum
)
newton_strict_stopping_test = planted(
    "Newton stopping on ‖∇L‖ < tol", newton=_newton_with_a_strict_stopping_test
)
bfgs_direction_as_curvature_pair = planted(
    "BFGS updated with s = d, not αd", bfgs=_bfgs_with_the_direction_as_curvature_pair
)
conjugate_gradient_loose_line_search = planted(
    "conjugate gradient with BFGS's c2 = 0.9",
    conjugate_gradient=_conjugate_gradient_with_bfgs_line_search,
)
admm_sign_of_b_in_the_dual_update = planted(
    "stochastic ADMM with +b in the multiplier's update",
    stochastic_admm=_admm_with_the_sign_of_b_flipped_in_the_dual_update,
)
admm_x_bar_off_by_one = planted(
    "stochastic ADMM averaging x_1..x_k", stochastic_admm=_admm_averaging_x_1_to_k
)
weight_norm_over_columns = planted(
    "weight norm normalising columns", weight_norm=_weight_norm_over_columns
)
