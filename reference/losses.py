"""Losses and penalties: each forward with its backward (vector-Jacobian product) beside it.

A loss ``f(y_hat, y, ...)`` returns a scalar (a Python float); its ``f_backward(y_hat, y, dy)``
returns the gradient with respect to the prediction, scaled by the scalar upstream gradient
``dy`` (1.0 by default). Targets and class labels get no gradient. The backward takes the same
keyword arguments as the forward.

The reduction policy (the unreduced losses of optax, of Keras and of ``reduction='none'`` in
PyTorch compare with no arithmetic in an adapter): every loss, mse, l1, binary cross-entropy
(on probabilities and on logits) and cross-entropy, and its backward, takes
``reduction="none"`` and then returns its unreduced terms, one per element of the prediction
(mse, l1, binary cross-entropy) or one per row of the logits (cross-entropy), such that the
variant's own reduction of them is the reduced loss:

    mse, variant half               ½(ŷ − y)² per element; the loss is their mean
    mse, variant half_per_example   ½(ŷ − y)² per element; the loss is their sum over m rows
    mse, variants mean and sum      (ŷ − y)² per element; their mean, their sum
    l1                              |ŷ − y| per element; their mean (or sum)
    binary_cross_entropy            −[y log p + (1 − y) log(1 − p)] per element, p clipped
                                    to [1e-7, 1 − 1e-7] first in variant clipped; their mean
    binary_cross_entropy_with_logits  max(z, 0) − y·z + log(1 + e^−|z|) per element; mean
    cross_entropy                   −log softmax(z_i)_{y_i} per row i, shape (N,); their mean

So optax's ``l2_loss`` (½d²) is mse's half (or half_per_example) terms, ``squared_error`` and
torch's ``mse_loss(reduction='none')`` (d²) its mean (or sum) terms. The unreduced backward
is the vector-Jacobian product of the terms: ``dy`` has the terms' shape, and multiplies each
term's derivative (no 1/n). Without the keyword, a loss is reduced as its variant says, and
which reduction a library applies by default is measured as a variant (mse's divisor, l1's
mean or sum). mse's reduction is its variant, so its ``reduction`` takes "none" only (None,
the default, reduces as the variant says); l1 takes "mean", "sum" and "none"; binary
cross-entropy and cross-entropy "mean" and "none".

Sources (catalogue section 2; seeds by file number):
    000, 001, 004  mean squared error, with the divisors of the sources as variants (004: the
         per-example ½‖ŷ_i − y_i‖², averaged over the m examples of a batch).
    004  L1 loss.
    001, 004  binary cross-entropy, on probabilities and on logits; the clipped variant is
         Keras's (keras.losses.binary_crossentropy: ``ops.clip(output, epsilon, 1 - epsilon)``,
         ``keras.config.epsilon()`` = 1e-7).
    002, 004  softmax cross-entropy of class labels.
    000, 001  L2 penalty (weight decay); 001  L1 penalty.
    000, 001  the regularised objective: mean loss (000; 001: summed over the minibatch)
         plus per-layer L2 penalties.
    004  maximum mean discrepancy: Gretton et al., "A Kernel Method for the Two-Sample Problem",
         NIPS 2007; "A Kernel Two-Sample Test", JMLR 13, 2012 (eq. 3, eq. 5, Lemma 14).
    004  orthogonality penalty on filters (with Jia et al., "Improving Training of Deep Neural
         Networks via Singular Value Bounding", CVPR 2017).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from nnconform.reference._validate import as_array, choice, nonnegative, positive, same_shape
from nnconform.reference.activations import log_softmax, sigmoid, softmax

__all__ = [
    "BCE_CLIP",
    "BCE_VARIANTS",
    "L1_REDUCTIONS",
    "LOSS_REDUCTIONS",
    "MMD_ESTIMATORS",
    "MSE_REDUCTIONS",
    "MSE_VARIANTS",
    "OBJECTIVE_VARIANTS",
    "binary_cross_entropy",
    "binary_cross_entropy_backward",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_backward",
    "cross_entropy",
    "cross_entropy_backward",
    "gaussian_kernel",
    "l1",
    "l1_backward",
    "l1_penalty",
    "l1_penalty_backward",
    "l2_penalty",
    "l2_penalty_backward",
    "mmd",
    "mmd_backward",
    "mse",
    "mse_backward",
    "objective",
    "objective_gradient",
    "orthogonal_penalty",
    "orthogonal_penalty_backward",
]


# --- argument helpers -------------------------------------------------------------------


def _nonempty(name: str, x: np.ndarray) -> np.ndarray:
    """A mean over no elements is undefined: an empty batch is an error, not a NaN."""
    if x.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {x.shape}")
    return x


def _prediction_and_target(y_hat, y, names: tuple[str, str] = ("y_hat", "y")):
    """The prediction and the target as float64 arrays of one shape, with at least one element."""
    a, b = as_array(names[0], y_hat), as_array(names[1], y)
    same_shape(**{names[0]: a, names[1]: b})
    return _nonempty(names[0], a), b


def _upstream(dy) -> float:
    """The upstream gradient of a scalar loss: a scalar (a 0-d array is fine)."""
    return float(as_array("dy", dy, ndim=0))


def _unreduced(reduction: str | None) -> bool:
    return reduction == "none"


def _upstream_of(dy, reduction: str | None, shape: tuple[int, ...]):
    """The upstream gradient: a scalar for a reduced loss; for the unreduced terms an array of
    their shape (the vector of a vector-Jacobian product), never broadcast from a scalar."""
    if not _unreduced(reduction):
        return _upstream(dy)
    dy = as_array("dy", dy)
    if dy.shape != shape:
        raise ValueError(
            f"dy must have the shape of the unreduced loss {shape} (reduction='none'), "
            f"got {dy.shape}"
        )
    return dy


def _mean_or_none(terms: np.ndarray, reduction: str):
    """The mean of the terms, or the terms themselves for reduction="none"."""
    if choice("reduction", reduction, LOSS_REDUCTIONS) == "none":
        return terms
    return float(np.mean(terms))


def _within(name: str, x: np.ndarray, *, open_interval: bool = False) -> np.ndarray:
    """Check every element of ``x`` lies in [0, 1] (or in (0, 1) when ``open_interval``)."""
    inside = (x > 0) & (x < 1) if open_interval else (x >= 0) & (x <= 1)
    if not np.all(inside):
        allowed = "the open interval (0, 1)" if open_interval else "[0, 1]"
        bad = x[~inside].ravel()[0]
        raise ValueError(f"{name} must lie in {allowed}, got an element {bad}")
    return x


# --- mean squared error -----------------------------------------------------------------

MSE_VARIANTS = ("half", "mean", "sum", "half_per_example")
MSE_REDUCTIONS = ("none",)  # mse's reduction is its variant: None (the default) applies it
LOSS_REDUCTIONS = ("mean", "none")  # binary cross-entropy and cross-entropy
L1_REDUCTIONS = ("mean", "sum", "none")


def _mse_halved(variant: str) -> bool:
    """Whether the variant's terms carry the ½: ½(ŷ − y)² (half, half_per_example)."""
    return choice("variant", variant, MSE_VARIANTS) in ("half", "half_per_example")


def _mse_divisor(variant: str, y_hat: np.ndarray) -> float:
    """The divisor of the sum of the variant's terms: n elements (half: Σ½d²/n = Σd²/(2n);
    mean), m examples (half_per_example: the rows, the first axis; a 0-d ŷ is one example),
    or 1 (sum)."""
    examples = y_hat.shape[0] if y_hat.ndim else 1
    divisors = {"half": y_hat.size, "mean": y_hat.size, "sum": 1, "half_per_example": examples}
    return float(divisors[choice("variant", variant, MSE_VARIANTS)])


def _mse_reduction(reduction: str | None) -> str | None:
    return None if reduction is None else choice("reduction", reduction, MSE_REDUCTIONS)


def mse(y_hat, y, *, variant: str = "half", reduction: str | None = None) -> float | np.ndarray:
    """Mean squared error over the n elements of y_hat   (seeds 000, 001, 004).

    variant ``half`` (seed 001, the default):  1/(2n) Σ (ŷ − y)²
    variant ``mean``:                          1/n Σ (ŷ − y)²
    variant ``sum`` (seeds 000, 004):          Σ (ŷ − y)² = ‖y − f(x)‖²
    variant ``half_per_example`` (seed 004):   (1/m) Σ_i ½‖ŷ_i − y_i‖² over the m rows ŷ_i of
        a batch (the first axis): L(x, y) = ½‖x − y‖² per example, J = (1/m) Σ L. A 1-D ŷ is
        m = n examples of one value each, where it equals ``half``.

    ``reduction="none"``: the terms, ½(ŷ − y)² per element for ``half`` and
    ``half_per_example``, (ŷ − y)² for ``mean`` and ``sum`` (see the module's policy).

    Warning: PyTorch ``nn.MSELoss()`` and Keras ``MeanSquaredError`` are ``mean``;
    ``reduction='sum'`` is ``sum``. The ½ of ``half`` makes the gradient (ŷ − y)/n. optax's
    ``l2_loss`` is the unreduced ½(ŷ − y)², its ``squared_error`` (ŷ − y)².

    Finite wherever the sum of squares is within the range (inf only beyond it, as the true
    value is); subnormal differences square to 0, within any tolerance of the true value.
    """
    y_hat, y = _prediction_and_target(y_hat, y)
    d2 = (y_hat - y) ** 2
    terms = 0.5 * d2 if _mse_halved(variant) else d2
    if _unreduced(_mse_reduction(reduction)):
        return terms
    return float(np.sum(terms) / _mse_divisor(variant, y_hat))


def mse_backward(
    y_hat, y, dy=1.0, *, variant: str = "half", reduction: str | None = None
) -> np.ndarray:
    """∂/∂ŷ: (ŷ − y)/n for ``half``, 2(ŷ − y)/n for ``mean``, 2(ŷ − y) for ``sum``,
    (ŷ − y)/m for ``half_per_example``; times dy. Unreduced: dy (the terms' shape) times
    ŷ − y (half, half_per_example) or 2(ŷ − y) (mean, sum), element by element."""
    y_hat, y = _prediction_and_target(y_hat, y)
    dy = _upstream_of(dy, _mse_reduction(reduction), y_hat.shape)
    slope = (1.0 if _mse_halved(variant) else 2.0) * (y_hat - y)  # each term's derivative
    if _unreduced(reduction):
        return dy * slope
    return dy * slope / _mse_divisor(variant, y_hat)


# --- L1 loss ----------------------------------------------------------------------------


def l1(y_hat, y, *, reduction: str = "mean") -> float | np.ndarray:
    """L1 loss ‖y − f(x)‖₁   (seed 004): Σ |ŷ − y|, divided by n for ``mean`` (the default);
    ``reduction="none"``: |ŷ − y| per element.

    Warning: PyTorch ``nn.L1Loss()`` is ``mean`` too.
    """
    y_hat, y = _prediction_and_target(y_hat, y)
    terms = np.abs(y_hat - y)
    reduction = choice("reduction", reduction, L1_REDUCTIONS)
    if reduction == "none":
        return terms
    return float(np.mean(terms)) if reduction == "mean" else float(np.sum(terms))


def l1_backward(y_hat, y, dy=1.0, *, reduction: str = "mean") -> np.ndarray:
    """Subgradient sign(ŷ − y) (0 where ŷ = y, ±0.0 included, as PyTorch takes it; never the
    0/0 = NaN of (ŷ − y)/|ŷ − y|), divided by n for ``mean``; times dy (unreduced: dy of the
    terms' shape, element by element)."""
    y_hat, y = _prediction_and_target(y_hat, y)
    reduction = choice("reduction", reduction, L1_REDUCTIONS)
    g = _upstream_of(dy, reduction, y_hat.shape) * np.sign(y_hat - y)
    return g / y_hat.size if reduction == "mean" else g


# --- binary cross-entropy ---------------------------------------------------------------

BCE_VARIANTS = ("unclipped", "clipped")
BCE_CLIP = 1e-7  # Keras's epsilon: keras.config.epsilon()


def _clip_bounds(p) -> tuple[float, float]:
    """[c, 1 − c] as Keras clips with them, rounded to p's own floating dtype (float64 for
    other input): keras/src/backend/torch/nn.py:955 ``torch.clip(output, backend.epsilon(),
    1.0 - backend.epsilon())`` on output in its dtype, which rounds the Python bounds to it.
    In float32, c = 1.0000000117e-7 and 1 − 1e-7 rounds to 1 − 2⁻²³ = 0.99999988, so p =
    0.99999994 or 1 is clipped to 0.99999988 and costs 23·ln 2 ≈ 15.94 with y = 0, not
    −log(1e-7) ≈ 16.12."""
    dtype = np.asarray(p).dtype
    t = dtype.type if np.issubdtype(dtype, np.floating) else np.float64
    return float(t(BCE_CLIP)), float(t(1.0 - BCE_CLIP))


def _clipped(p: np.ndarray, variant: str, bounds: tuple[float, float]) -> np.ndarray:
    """p itself (unclipped), or p clipped to ``bounds``, [c, 1 − c] (clipped, Keras)."""
    if choice("variant", variant, BCE_VARIANTS) == "clipped":
        return np.clip(p, *bounds)
    return p


def binary_cross_entropy(
    p, y, *, variant: str = "unclipped", reduction: str = "mean"
) -> float | np.ndarray:
    """−(1/N) Σ [y log p + (1 − y) log(1 − p)] over the N elements of p   (seeds 001, 004).

    ``p`` holds probabilities in [0, 1], ``y`` targets in [0, 1] (soft targets allowed), with
    0·log 0 = 0: a certain p = 0 or 1 costs nothing when the target agrees, and +inf when it
    does not.

    variant ``unclipped`` (the default, the seeds' formula); variant ``clipped``: p clipped
    to [1e-7, 1 − 1e-7] first, as Keras's ``binary_crossentropy`` does (``ops.clip(output,
    epsilon, 1 - epsilon)``, epsilon = 1e-7): never more than −log(1e-7) ≈ 16.1 per element,
    and about 1e-7 where a certain p agrees with its label. The bounds are those of p's dtype,
    as Keras computes them: in float32, [1.0000000117e-7, 1 − 2⁻²³] (see ``_clip_bounds``).
    ``reduction="none"``: the terms −[y log p + (1 − y) log(1 − p)], one per element.

    Warning: PyTorch ``nn.BCELoss`` clamps each log at −100, so it never returns more than 100
    per element where this returns inf.
    """
    bounds = _clip_bounds(p)
    p, y = _prediction_and_target(p, y, ("p", "y"))
    _within("p", p)
    _within("y", y)
    p = _clipped(p, variant, bounds)
    with np.errstate(divide="ignore", invalid="ignore"):  # log 0 = −inf, only where it counts
        likelihood = np.where(y > 0, y * np.log(p), 0.0) + np.where(
            y < 1, (1.0 - y) * np.log1p(-p), 0.0
        )
    return _mean_or_none(-likelihood, reduction)


def binary_cross_entropy_backward(
    p, y, dy=1.0, *, variant: str = "unclipped", reduction: str = "mean"
) -> np.ndarray:
    """∂/∂p = (1/N) (−y/p + (1 − y)/(1 − p)) = (p − y) / (N p (1 − p)), times dy (unreduced:
    dy of the terms' shape, element by element, no 1/N).

    The derivative does not exist at p = 0 or 1, so the unclipped backward requires p in
    (0, 1). Clipped, it is that of the clipped q = clip(p, c, 1 − c) where c ≤ p ≤ 1 − c (the
    bounds included, as torch.clamp's and keras.ops.clip's gradients take them) and 0 outside,
    for every p in [0, 1].

    Warning: PyTorch clamps the denominator p(1 − p) at 1e-12, so its gradient differs where
    p < 1e-12 or 1 − p < 1e-12.
    """
    bounds = _clip_bounds(p)
    p, y = _prediction_and_target(p, y, ("p", "y"))
    clipped = choice("variant", variant, BCE_VARIANTS) == "clipped"
    _within("p", p, open_interval=not clipped)
    _within("y", y)
    reduction = choice("reduction", reduction, LOSS_REDUCTIONS)
    dy = _upstream_of(dy, reduction, p.shape)
    q = _clipped(p, variant, bounds)
    slope = (q - y) / (q * (1.0 - q))
    if clipped:
        slope = np.where((p >= bounds[0]) & (p <= bounds[1]), slope, 0.0)
    return dy * slope if reduction == "none" else dy * slope / p.size


def binary_cross_entropy_with_logits(z, y, *, reduction: str = "mean") -> float | np.ndarray:
    """Binary cross-entropy of σ(z), computed from the logits z   (seeds 001, 004).

    For a hard label y ∈ {0, 1}, −log σ((2y − 1)z) = ζ((1 − 2y)z) with ζ the softplus. The
    same loss for any target y ∈ [0, 1] is ζ(z) − y·z, evaluated as

        max(z, 0) − y·z + log(1 + e^−|z|)

    which never exponentiates a positive number: exact and finite at |z| = 1e4 (z = 1e4 with
    y = 0 costs 1e4) and at every finite z (never the inf of log(1 + e^z) past z ≈ 709.78,
    nor the log 0 of log σ(z) past |z| ≈ 37), and for hard labels equal to ζ((1 − 2y)z) term
    by term. Mean over the N elements of z; ``reduction="none"``: the N terms.

    Warning: PyTorch ``nn.BCEWithLogitsLoss`` uses the same formula (mean, soft targets);
    optax's ``sigmoid_binary_cross_entropy`` is the unreduced terms.
    """
    z, y = _prediction_and_target(z, y, ("z", "y"))
    _within("y", y)
    return _mean_or_none(np.maximum(z, 0.0) - y * z + np.log1p(np.exp(-np.abs(z))), reduction)


def binary_cross_entropy_with_logits_backward(
    z, y, dy=1.0, *, reduction: str = "mean"
) -> np.ndarray:
    """∂/∂z (ζ(z) − y·z) / N = (σ(z) − y) / N, times dy (unreduced: dy of the terms' shape,
    element by element, no 1/N)."""
    z, y = _prediction_and_target(z, y, ("z", "y"))
    _within("y", y)
    reduction = choice("reduction", reduction, LOSS_REDUCTIONS)
    slope = sigmoid(z) - y
    dy = _upstream_of(dy, reduction, z.shape)
    return dy * slope if reduction == "none" else dy * slope / z.size


# --- softmax cross-entropy --------------------------------------------------------------


def _logits_and_labels(z, y) -> tuple[np.ndarray, np.ndarray]:
    """Logits (N, K) and integer labels (N,) in [0, K)."""
    z = _nonempty("z", as_array("z", z, ndim=2))  # (N, K)
    labels = np.asarray(y)
    if labels.dtype == bool or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"y must hold integer class labels, got dtype {labels.dtype}")
    if labels.shape != z.shape[:1]:
        raise ValueError(
            f"y must have shape (N,) = {z.shape[:1]} for z of shape {z.shape}, got {labels.shape}"
        )
    K = z.shape[1]
    outside = (labels < 0) | (labels >= K)
    if np.any(outside):
        raise ValueError(f"y must hold class labels in [0, {K}), got {labels[outside][0]}")
    return z, labels.astype(np.intp)


def cross_entropy(z, y, *, reduction: str = "mean") -> float | np.ndarray:
    """(1/N) Σ_i [−z_{i,y_i} + log Σ_j exp(z_{ij})]   (seeds 002, 004).

    Softmax followed by the negative log-likelihood of the true class y_i, on logits z (N, K),
    through log-softmax so that logits of ±1e4, or of any size whose differences stay within
    the range, give a finite loss. ``reduction="none"``: the N per-row terms, shape (N,).

    Warning: PyTorch ``nn.CrossEntropyLoss`` takes logits like this; Keras
    ``categorical_crossentropy`` takes probabilities unless ``from_logits=True``; optax's
    ``softmax_cross_entropy_with_integer_labels`` is the unreduced terms.
    """
    z, y = _logits_and_labels(z, y)
    rows = np.arange(z.shape[0])
    return _mean_or_none(-log_softmax(z, axis=1)[rows, y], reduction)


def cross_entropy_backward(z, y, dy=1.0, *, reduction: str = "mean") -> np.ndarray:
    """∂/∂z = (softmax(z) − onehot(y)) / N, times dy: finite at logits of any size (the
    softmax subtracts the maximum first). Unreduced: row i times dy_i, dy of shape (N,), no
    1/N."""
    z, y = _logits_and_labels(z, y)
    N, K = z.shape
    onehot = np.eye(K)[y]  # (N, K)
    reduction = choice("reduction", reduction, LOSS_REDUCTIONS)
    dy = _upstream_of(dy, reduction, (N,))
    if reduction == "none":
        return dy[:, None] * (softmax(z, axis=1) - onehot)
    return dy * (softmax(z, axis=1) - onehot) / N


# --- weight penalties -------------------------------------------------------------------


def l2_penalty(W, *, lam: float) -> float:
    """λ Σ W²   (seeds 000, 001).

    Warning: many texts and Keras write λ/2 Σ W²; PyTorch's ``weight_decay=wd`` adds wd·W to
    the gradient, which is this penalty with λ = wd/2.
    """
    W = as_array("W", W)
    return float(nonnegative("lam", lam) * np.sum(W**2))


def l2_penalty_backward(W, dy=1.0, *, lam: float) -> np.ndarray:
    """∂/∂W λ Σ W² = 2λW, times dy."""
    W = as_array("W", W)
    return _upstream(dy) * 2.0 * nonnegative("lam", lam) * W


def l1_penalty(W, *, lam: float) -> float:
    """λ Σ |W|   (seed 001)."""
    W = as_array("W", W)
    return float(nonnegative("lam", lam) * np.sum(np.abs(W)))


def l1_penalty_backward(W, dy=1.0, *, lam: float) -> np.ndarray:
    """Subgradient λ sign(W), 0 at W = 0 (and −0.0; never the NaN of λW/|W|); times dy."""
    W = as_array("W", W)
    return _upstream(dy) * nonnegative("lam", lam) * np.sign(W)


# --- the regularised objective ----------------------------------------------------------


def _layer_lams(lams, n_layers: int) -> list[float]:
    """One λ per layer: a scalar is shared by every layer."""
    if isinstance(lams, numbers.Real):
        return [nonnegative("lams", lams)] * n_layers
    lams = list(lams)
    if len(lams) != n_layers:
        raise ValueError(f"lams must hold one λ per layer ({n_layers}), got {len(lams)}")
    return [nonnegative(f"lams[{layer}]", lam) for layer, lam in enumerate(lams)]


OBJECTIVE_VARIANTS = ("mean", "sum")


def _data_term(per_example: np.ndarray, variant: str) -> np.ndarray:
    """(1/N) Σ_i over the first axis (mean, seed 000) or Σ_i (sum, seed 001)."""
    if choice("variant", variant, OBJECTIVE_VARIANTS) == "sum":
        return per_example.sum(axis=0)
    return per_example.mean(axis=0)


def objective(losses, weights: Sequence, lams, *, variant: str = "mean") -> float:
    """L(W) = (1/N) Σ_i l(y_i, ŷ_i) + Σ_layers λ_l Σ_{k,m} (W^l_{k,m})²   (seed 000).

    ``losses`` are the N per-example losses l(y_i, ŷ_i), shape (N,); ``weights`` the layers'
    weight arrays W^l; ``lams`` one λ_l per layer, or one number shared by all layers.
    Biases are usually left out of ``weights``: seed 000 penalises the weights only.

    variant ``mean`` (the default; seed 000, and Alg 8.1 of seed 004); variant ``sum``: the
    data term Σ_i l(y_i, ŷ_i) summed over the examples, as seed 001 describes minibatch
    training (the losses summed, then back-propagated), with the same penalties.
    """
    losses = _nonempty("losses", as_array("losses", losses, ndim=1))  # (N,)
    weights = [as_array(f"weights[{layer}]", W) for layer, W in enumerate(weights)]
    penalties = (
        lam * np.sum(W**2) for lam, W in zip(_layer_lams(lams, len(weights)), weights, strict=True)
    )
    return float(_data_term(losses, variant) + sum(penalties))


def objective_gradient(
    example_grads: Sequence, weights: Sequence, lams, *, variant: str = "mean"
) -> list[np.ndarray]:
    """∂L/∂W^l = (1/N) Σ_i ∂l_i/∂W^l + 2λ_l W^l for every layer l   (seed 000); variant
    ``sum``: Σ_i ∂l_i/∂W^l + 2λ_l W^l (seed 001).

    ``example_grads[l]`` stacks the per-example gradients ∂l_i/∂W^l, shape (N, *W^l.shape);
    ``weights`` and ``lams`` as for ``objective``. Returns one gradient per layer, in order.
    """
    choice("variant", variant, OBJECTIVE_VARIANTS)
    weights = [as_array(f"weights[{layer}]", W) for layer, W in enumerate(weights)]
    example_grads = [
        as_array(f"example_grads[{layer}]", g) for layer, g in enumerate(example_grads)
    ]
    if len(example_grads) != len(weights):
        raise ValueError(
            f"example_grads must hold one array per layer ({len(weights)}), "
            f"got {len(example_grads)}"
        )
    lams = _layer_lams(lams, len(weights))
    N = example_grads[0].shape[0] if example_grads and example_grads[0].ndim else 0
    gradients = []
    for layer, (g, W, lam) in enumerate(zip(example_grads, weights, lams, strict=True)):
        if N == 0 or g.shape != (N, *W.shape):
            raise ValueError(
                f"example_grads[{layer}] must have shape (N, {', '.join(map(str, W.shape))}): "
                f"N ≥ 1 examples (one N for every layer), then weights[{layer}].shape; "
                f"got {g.shape}"
            )
        gradients.append(_data_term(g, variant) + 2.0 * lam * W)  # (1/N) Σ_i ∂l_i/∂W + 2λW
    return gradients


# --- maximum mean discrepancy -----------------------------------------------------------

MMD_ESTIMATORS = ("biased", "unbiased", "linear")


def gaussian_kernel(X, Y, *, sigma: float = 1.0) -> np.ndarray:
    """k(x, y) = exp(−‖x − y‖² / (2σ²)) for every row x of X (M, d) and y of Y (N, d): (M, N).

    Warning: scikit-learn's ``rbf_kernel`` and others write exp(−γ‖x − y‖²), γ = 1/(2σ²).
    """
    X, Y = as_array("X", X, ndim=2), as_array("Y", Y, ndim=2)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"X and Y must have as many columns, got X {X.shape}, Y {Y.shape}")
    sigma = positive("sigma", sigma)
    squared_distances = np.sum((X[:, None, :] - Y[None, :, :]) ** 2, axis=-1)  # (M, N)
    return np.exp(-squared_distances / (2.0 * sigma**2))


def _mmd_weights(M: int, N: int, estimator: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each estimator is Σ A_ss ⊙ k(xs, xs) + Σ A_tt ⊙ k(xt, xt) + Σ A_st ⊙ k(xs, xt);
    these are the weight matrices A_ss (M, M), A_tt (N, N), A_st (M, N) of the three."""
    A_st = np.full((M, N), -2.0 / (M * N))
    if estimator == "biased":  # every pair, the diagonal included (a V-statistic)
        return np.full((M, M), 1.0 / M**2), np.full((N, N), 1.0 / N**2), A_st
    if estimator == "unbiased":  # pairs i ≠ j only (a U-statistic)
        return (1.0 - np.eye(M)) / (M * (M - 1)), (1.0 - np.eye(N)) / (N * (N - 1)), A_st
    # linear: the pairs (2i−1, 2i), i = 1..⌊N/2⌋, 1-based; 0-based rows (j, j + 1), j even.
    pairs = N // 2
    j = 2 * np.arange(pairs)
    A_same, A_cross = np.zeros((N, N)), np.zeros((N, N))
    A_same[j, j + 1] = 1.0 / pairs  # k(x_{2i−1}, x_{2i}) and k(y_{2i−1}, y_{2i})
    A_cross[j, j + 1] = A_cross[j + 1, j] = -1.0 / pairs  # k(x_{2i−1}, y_{2i}), k(x_{2i}, y_{2i−1})
    return A_same, A_same, A_cross


def _samples(xs, xt, estimator: str) -> tuple[np.ndarray, np.ndarray]:
    xs, xt = as_array("xs", xs, ndim=2), as_array("xt", xt, ndim=2)  # (M, d), (N, d)
    (M, d), (N, e) = xs.shape, xt.shape
    if d != e:
        raise ValueError(f"xs and xt must have as many features, got xs {xs.shape}, xt {xt.shape}")
    minimum = {"biased": 1, "unbiased": 2, "linear": 2}[
        choice("estimator", estimator, MMD_ESTIMATORS)
    ]
    if M < minimum or N < minimum:
        raise ValueError(
            f"the {estimator} estimator needs at least {minimum} samples in xs and in xt, "
            f"got M = {M}, N = {N}"
        )
    if estimator == "linear" and M != N:
        raise ValueError(f"the linear estimator pairs xs with xt: M must equal N, got {M} and {N}")
    return xs, xt


def mmd(xs, xt, *, sigma: float = 1.0, estimator: str = "biased") -> float:
    """MMD² between the samples xs (M, d) and xt (N, d), Gaussian kernel k   (seed 004).

    MMD²(s, t) = ‖(1/M) Σ φ(xs_i) − (1/N) Σ φ(xt_j)‖² in the kernel's feature space, with
    ⟨φ(x), φ(y)⟩ = k(x, y) (Gretton et al. 2012):

    ``biased`` (eq. 5, a V-statistic; the seed's formula; ≥ 0):
        1/M² Σ_{i,j} k(xs_i, xs_j) + 1/N² Σ_{i,j} k(xt_i, xt_j) − 2/(MN) Σ_{i,j} k(xs_i, xt_j)
    ``unbiased`` (eq. 3, a U-statistic; expectation 0 when s = t, may be negative):
        1/(M(M−1)) Σ_{i≠j} k(xs_i, xs_j) + 1/(N(N−1)) Σ_{i≠j} k(xt_i, xt_j) − 2/(MN) Σ k(xs_i, xt_j)
    ``linear`` (Lemma 14, over the 4-tuples of the seed; M = N, m₂ = ⌊N/2⌋ pairs):
        1/m₂ Σ_{i=1..m₂} k(x_{2i−1}, x_{2i}) + k(y_{2i−1}, y_{2i})
                         − k(x_{2i−1}, y_{2i}) − k(x_{2i}, y_{2i−1}),    x = xs, y = xt

    The oracle writes all three as weighted sums of the kernel matrices (``_mmd_weights``), so
    the linear estimator costs O(N²) here rather than O(N): clarity over speed.
    """
    xs, xt = _samples(xs, xt, estimator)
    A_ss, A_tt, A_st = _mmd_weights(len(xs), len(xt), estimator)
    k = lambda X, Y: gaussian_kernel(X, Y, sigma=sigma)  # noqa: E731
    return float(np.sum(A_ss * k(xs, xs)) + np.sum(A_tt * k(xt, xt)) + np.sum(A_st * k(xs, xt)))


def _kernel_sum_backward(A: np.ndarray, X: np.ndarray, Y: np.ndarray, sigma: float):
    """Gradients of S = Σ_ij A_ij k(x_i, y_j) in X and in Y, with ∂k/∂x = −k (x − y)/σ²."""
    B = A * gaussian_kernel(X, Y, sigma=sigma) / sigma**2  # (M, N)
    dX = B @ Y - B.sum(axis=1, keepdims=True) * X  # −Σ_j B_ij (x_i − y_j)
    dY = B.T @ X - B.sum(axis=0)[:, None] * Y  # +Σ_i B_ij (x_i − y_j)
    return dX, dY


def mmd_backward(xs, xt, dy=1.0, *, sigma: float = 1.0, estimator: str = "biased"):
    """Returns (dxs, dxt), the gradients of dy·MMD² in xs and xt.

    Each kernel term Σ A_ij k(x_i, y_j) contributes −(1/σ²) Σ_j A_ij k_ij (x_i − y_j) to x_i and
    the opposite sum over i to y_j; a term within one sample (k(xs, xs)) feeds both.
    """
    xs, xt = _samples(xs, xt, estimator)
    sigma = positive("sigma", sigma)
    A_ss, A_tt, A_st = _mmd_weights(len(xs), len(xt), estimator)
    dxs_1, dxs_2 = _kernel_sum_backward(A_ss, xs, xs, sigma)
    dxt_1, dxt_2 = _kernel_sum_backward(A_tt, xt, xt, sigma)
    dxs_3, dxt_3 = _kernel_sum_backward(A_st, xs, xt, sigma)
    dy = _upstream(dy)
    return dy * (dxs_1 + dxs_2 + dxs_3), dy * (dxt_1 + dxt_2 + dxt_3)


# --- orthogonality penalty --------------------------------------------------------------


def orthogonal_penalty(W) -> float:
    """‖WᵀW − I‖_F²   (seed 004): 0 exactly when the columns of W (m, n) are orthonormal.

    Warning: some implementations penalise WWᵀ − I (orthonormal rows) instead, or add a
    factor λ; with a convolution kernel, W is the kernel reshaped to (fan_in, out_channels).
    """
    W = as_array("W", W, ndim=2)  # (m, n)
    G = W.T @ W - np.eye(W.shape[1])  # (n, n)
    return float(np.sum(G**2))


def orthogonal_penalty_backward(W, dy=1.0) -> np.ndarray:
    """∂/∂W ‖WᵀW − I‖_F² = 4W(WᵀW − I), times dy."""
    W = as_array("W", W, ndim=2)
    return _upstream(dy) * 4.0 * W @ (W.T @ W - np.eye(W.shape[1]))
