"""The catalogue as data: every catalogue id, mapped to its reference functions.

One ``Entry`` per id of the catalogue (the sections and their order follow it). ``functions``
are importable ``module:name`` strings, resolved lazily so that listing the catalogue imports
nothing; ``variants`` maps each variant keyword of the functions to its allowed values, the
default (the source's form) first (mse's ``reduction`` lists "none" alone: its default,
None, reduces as the variant says); ``sources`` cites the seed files by number and the papers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FAMILIES", "REGISTRY", "Entry", "entry", "resolve"]

FAMILIES = (
    "activations",
    "losses",
    "optimizers",
    "schedules",
    "normalization",
    "regularization",
    "layers",
    "landscape",
    "evaluation",
)


@dataclass(frozen=True)
class Entry:
    id: str
    family: str
    title: str
    functions: tuple[str, ...]
    sources: tuple[str, ...]
    variants: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def resolve(self) -> dict[str, Callable[..., Any]]:
        """Import every function of the entry: {name: callable}."""
        return {spec.split(":")[1]: resolve(spec) for spec in self.functions}

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "family": self.family,
            "title": self.title,
            "functions": list(self.functions),
            "variants": {keyword: list(values) for keyword, values in self.variants.items()},
            "sources": list(self.sources),
        }


def resolve(spec: str) -> Callable[..., Any]:
    """Import ``module:name`` and return the object."""
    module, _, name = spec.partition(":")
    if not name:
        raise ValueError(f"a function must be written 'module:name', got {spec!r}")
    return getattr(importlib.import_module(module), name)


def _e(id, family, title, module, names, sources, **variants) -> Entry:
    return Entry(
        id=id,
        family=family,
        title=title,
        functions=tuple(f"nnconform.reference.{module}:{name}" for name in names.split()),
        sources=tuple(sources),
        variants={keyword: tuple(values.split()) for keyword, values in variants.items()},
    )


def _forward_backward(names: str) -> str:
    return " ".join(f"{n} {n}_backward" for n in names.split())


def _optimizer(name: str, *, lookahead: bool = False) -> str:
    return f"{name}_init {name}_step" + (f" {name}_lookahead" if lookahead else "") + " trajectory"


_A, _L, _O, _S = "activations", "losses", "optimizers", "schedules"
_N, _R, _Y, _H, _V = "normalization", "regularization", "layers", "landscape", "evaluation"

# fmt: off
_ENTRIES = [
    # 1. Activations
    _e("sigmoid", _A, "logistic sigmoid", "activations", _forward_backward("sigmoid"),
       ["seed 001", "seed 004"]),
    _e("tanh", _A, "hyperbolic tangent", "activations", _forward_backward("tanh"),
       ["seed 001", "seed 004"]),
    _e("relu", _A, "rectified linear unit", "activations", _forward_backward("relu"),
       ["seed 000", "seed 001", "seed 004", "Krizhevsky et al., NIPS 2012"]),
    _e("leaky_relu", _A, "leaky ReLU", "activations", _forward_backward("leaky_relu"),
       ["seed 001", "seed 004"]),
    _e("prelu", _A, "parametric ReLU, per-channel slope", "activations",
       _forward_backward("prelu"), ["seed 004", "He et al., ICCV 2015"]),
    _e("elu", _A, "exponential linear unit", "activations", _forward_backward("elu"),
       ["seed 004", "Clevert et al., ICLR 2016"]),
    _e("relu6", _A, "ReLU clipped at 6", "activations", _forward_backward("relu6"),
       ["seed 004", "Krizhevsky, tech. report 2010"]),
    _e("selu", _A, "scaled ELU (self-normalising)", "activations", _forward_backward("selu"),
       ["seed 004", "Klambauer et al., NIPS 2017"]),
    _e("gelu", _A, "Gaussian error linear unit", "activations", _forward_backward("gelu"),
       ["seed 004", "Hendrycks & Gimpel 2016"], variant="tanh erf"),
    _e("softplus", _A, "softplus ζ(x) = log(1 + e^x)", "activations",
       _forward_backward("softplus"), ["seed 004"]),
    _e("softplus_sum", _A, "Σ σ(x − i + 0.5) ≈ softplus", "activations",
       _forward_backward("softplus_sum"), ["seed 004", "Nair & Hinton, ICML 2010"]),
    _e("softmax", _A, "softmax", "activations", _forward_backward("softmax"),
       ["seed 001", "seed 002", "seed 004"]),
    _e("log_softmax", _A, "log-softmax via log-sum-exp", "activations",
       _forward_backward("log_softmax"), ["seed 004"]),
    _e("ckn", _A, "Convolutional Kernel Networks activation exp((2/σ²)(u − 1))", "activations",
       _forward_backward("ckn"), ["seed 004", "Mairal et al., NIPS 2014"]),
    # 2. Losses and penalties
    _e("mse", _L, "mean squared error", "losses", _forward_backward("mse"),
       ["seed 000", "seed 001", "seed 004"], variant="half mean sum half_per_example",
       reduction="none"),
    _e("l1", _L, "L1 loss", "losses", _forward_backward("l1"), ["seed 004"],
       reduction="mean sum none"),
    _e("binary_cross_entropy", _L, "binary cross-entropy, on probabilities and on logits",
       "losses", _forward_backward("binary_cross_entropy binary_cross_entropy_with_logits"),
       ["seed 001", "seed 004", "Keras binary_crossentropy (clipped)"],
       variant="unclipped clipped", reduction="mean none"),
    _e("cross_entropy", _L, "softmax cross-entropy of class labels", "losses",
       _forward_backward("cross_entropy"), ["seed 002", "seed 004"], reduction="mean none"),
    _e("l2_penalty", _L, "λ Σ W²", "losses", _forward_backward("l2_penalty"),
       ["seed 000", "seed 001"]),
    _e("l1_penalty", _L, "λ Σ |W|", "losses", _forward_backward("l1_penalty"), ["seed 001"]),
    _e("objective", _L, "mean loss plus per-layer L2 penalties", "losses",
       "objective objective_gradient", ["seed 000", "seed 001"], variant="mean sum"),
    _e("mmd", _L, "maximum mean discrepancy, Gaussian kernel", "losses",
       _forward_backward("mmd") + " gaussian_kernel",
       ["seed 004", "Gretton et al., NIPS 2007; JMLR 2012"], estimator="biased unbiased linear"),
    _e("orthogonal_penalty", _L, "‖WᵀW − I‖_F²", "losses",
       _forward_backward("orthogonal_penalty"), ["seed 004"]),
    # 3. Optimizers
    _e("gd", _O, "full-batch gradient descent", "optimizers", _optimizer("gd"), ["seed 000"]),
    _e("sgd", _O, "minibatch stochastic gradient descent (Alg 8.1)", "optimizers",
       _optimizer("sgd"), ["seed 000", "seed 001", "seed 004 (Alg 8.1)"]),
    _e("momentum", _O, "SGD with momentum (Alg 8.2)", "optimizers", _optimizer("momentum"),
       ["seed 000", "seed 002", "seed 004 (Alg 8.2)"], variant="classic ema lr_outside"),
    _e("nesterov", _O, "Nesterov momentum (Alg 8.3)", "optimizers",
       _optimizer("nesterov", lookahead=True), ["seed 004 (Alg 8.3)", "Sutskever et al. 2013"]),
    _e("adagrad", _O, "AdaGrad (Alg 8.4)", "optimizers", _optimizer("adagrad"),
       ["seed 004 (Alg 8.4)", "seed 002", "Duchi et al., JMLR 2011",
        "optax adagrad (scale_by_rss)", "Keras Adagrad"], variant="root_sum lee eps_inside"),
    _e("rmsprop", _O, "RMSProp (Alg 8.5)", "optimizers", _optimizer("rmsprop"),
       ["seed 004 (Alg 8.5)", "seed 002", "Tieleman & Hinton 2012"],
       variant="eps_inside eps_outside"),
    _e("rmsprop_nesterov", _O, "RMSProp with Nesterov momentum (Alg 8.6)", "optimizers",
       _optimizer("rmsprop_nesterov", lookahead=True), ["seed 004 (Alg 8.6)"]),
    _e("adam", _O, "Adam (Alg 8.7), coupled or decoupled weight decay", "optimizers",
       _optimizer("adam"),
       ["seed 002", "seed 003", "seed 004 (Alg 8.7)", "Kingma & Ba, ICLR 2015",
        "Loshchilov & Hutter, ICLR 2019", "Keras 3 Adam (efficient form)"],
       weight_decay_mode="l2 decoupled", form="algorithm_1 efficient"),
    _e("weight_decay", _O, "coupled weight decay: g + 2λW", "optimizers", "weight_decay",
       ["seed 000"]),
    _e("apg", _O, "accelerated proximal gradient (FISTA)", "solvers", "apg",
       ["seed 004", "Beck & Teboulle, SIAM J. Imaging Sci. 2009",
        "Zuo & Lin, IEEE T-IP 2011 (cited by seed 004 as 2010)"]),
    _e("stochastic_admm", _O, "stochastic linearised ADMM", "solvers", "stochastic_admm",
       ["seed 004", "Ouyang et al., ICML 2013"]),
    _e("newton", _O, "Newton's method", "solvers", "newton", ["seed 004"]),
    _e("conjugate_gradient", _O, "nonlinear conjugate gradient", "solvers",
       "conjugate_gradient", ["seed 004", "Nocedal & Wright, ch. 5"],
       beta="polak_ribiere fletcher_reeves"),
    _e("bfgs", _O, "BFGS quasi-Newton", "solvers", "bfgs",
       ["seed 004", "Nocedal & Wright, ch. 6"]),
    _e("unified", _O, "θ ← θ − (η_t/σ_t) m_t: momentum, RMSProp and Adam in one", "optimizers",
       _optimizer("unified"), ["seed 002"]),
    # 4. Learning-rate schedules
    _e("constant", _S, "constant learning rate", "schedules", "constant", ["seed 001"]),
    _e("decay", _S, "step, exponential and 1/t decay", "schedules", "decay",
       ["seed 002", "optax exponential_decay", "keras.optimizers.schedules"],
       kind="step exponential inverse_time continuous"),
    _e("warmup", _S, "linear warm-up, then a decay", "schedules", "warmup",
       ["seed 002", "optax warmup_*_schedule", "keras.optimizers.schedules"],
       then="inverse_sqrt linear cosine", counting="from_one from_zero"),
    _e("noam", _S, "Transformer schedule d^-0.5 min(t^-0.5, t w^-1.5)", "schedules", "noam",
       ["seed 002", "Vaswani et al., NIPS 2017"]),
    # 5. Normalisation
    _e("feature_normalization", _N, "standardise each feature over the data set",
       "normalization", _forward_backward("feature_normalization"),
       ["seed 002", "jax.nn.standardize's one-pass variance (algorithm='fast'): a defect"]),
    _e("batch_norm", _N, "batch normalisation with the six backward formulas",
       "normalization", _forward_backward("batch_norm"),
       ["seed 002", "seed 004", "Ioffe & Szegedy, ICML 2015"],
       running_var_estimator="biased unbiased"),
    _e("group_norm", _N, "group normalisation (layer norm and instance norm at its ends)",
       "normalization", _forward_backward("group_norm"), ["seed 000", "Wu & He, ECCV 2018"]),
    _e("weight_norm", _N, "w = g v/‖v‖", "normalization", _forward_backward("weight_norm"),
       ["seed 004", "Salimans & Kingma, NIPS 2016",
        "flax WeightNorm: ε = 1e-12 inside the root, a guard (a tolerance, no variant)"]),
    _e("spectral_norm", _N, "W/σ(W), σ by power iteration", "normalization",
       _forward_backward("spectral_norm"),
       ["seed 000", "seed 004", "Miyato et al., ICLR 2018", "torch F.normalize (max_norm)",
        "flax SpectralNorm (ε inside the root)"], variant="max_norm eps_inside"),
    _e("singular_value_bounding", _N, "clip singular values to [1/(1+ε), 1+ε]",
       "normalization", "singular_value_bounding", ["seed 004", "Jia et al., CVPR 2017"]),
    # 6. Regularisation and ensembles
    _e("dropout", _R, "dropout with keep probability p", "regularization",
       "dropout dropout_backward dropout_mask dropout_sample",
       ["seed 000", "seed 001", "seed 004", "Srivastava et al., JMLR 2014"],
       variant="standard inverted"),
    _e("model_averaging", _R, "ensemble error v/k + (k−1)c/k", "regularization",
       "model_averaging ensemble_squared_error ensemble_error_law ensemble_error_from_covariance",
       ["seed 004 (eq. 7.50-7.51)"]),
    _e("bagging", _R, "bootstrap aggregating", "regularization", "bagging bagging_samples",
       ["seed 001", "seed 004", "Breiman, Machine Learning 1996"]),
    _e("early_stopping", _R, "stop after `patience` epochs without improvement",
       "regularization", "early_stopping_init early_stopping_update early_stopping",
       ["seed 001"]),
    # 7. Layers and back-propagation
    _e("linear", _Y, "z = Wx + b", "layers", _forward_backward("linear"),
       ["seed 000", "seed 001", "seed 003"]),
    _e("mlp", _Y, "stack of linear layers and activations", "layers", _forward_backward("mlp"),
       ["seed 000", "seed 001", "seed 003"]),
    _e("conv2d", _Y, "2-D cross-correlation with stride, padding and dilation", "layers",
       _forward_backward("conv2d"), ["seed 000", "seed 004", "Yu & Koltun, ICLR 2016"]),
    _e("max_pool", _Y, "window maximum", "layers", _forward_backward("max_pool"),
       ["seed 000", "seed 004"], ties="first split"),
    _e("avg_pool", _Y, "window mean", "layers", _forward_backward("avg_pool"),
       ["seed 000", "seed 004", "torch count_include_pad", "flax avg_pool count_include_pad",
        "Keras AveragePooling2D padding='same'"], divisor="window real"),
    _e("residual", _Y, "y = x + F(x)", "layers", _forward_backward("residual"),
       ["seed 000", "seed 004", "He et al., CVPR 2016"]),
    _e("init", _Y, "Xavier/Glorot and He initialisation", "layers", "glorot_init he_init",
       ["Glorot & Bengio, AISTATS 2010", "He et al., ICCV 2015",
        "seeds 001, 004 name weight initialisation only, with no formula",
        "keras.initializers.VarianceScaling", "jax.nn.initializers.variance_scaling"],
       distribution="normal uniform truncated_normal"),
    # 8. Loss landscape
    _e("hessian", _H, "Hessian and Hessian-vector products", "landscape",
       "hessian hessian_vector_product", ["seed 002"]),
    _e("critical_point", _H, "classify critical points by Hessian eigenvalues", "landscape",
       "critical_point minimum_ratio escape_direction", ["seed 002"]),
    # 9. Evaluation
    _e("holdout", _V, "stratified holdout split, repeated and averaged", "evaluation",
       "holdout repeated_holdout", ["seed 001"]),
    _e("k_fold", _V, "k-fold cross-validation", "evaluation", "k_fold", ["seed 001"]),
    _e("bootstrap", _V, "bootstrap sample and out-of-bag set", "evaluation", "bootstrap",
       ["seed 001"]),
    _e("epochs", _V, "epochs, iterations per epoch and minibatches", "evaluation",
       "iterations_per_epoch minibatches", ["seed 001"]),
]
# fmt: on

REGISTRY: dict[str, Entry] = {e.id: e for e in _ENTRIES}


def entry(id: str) -> Entry:
    """The entry of a catalogue id, or a ``KeyError`` that lists the ids."""
    try:
        return REGISTRY[id]
    except KeyError:
        raise KeyError(f"unknown catalogue id {id!r}; known ids: {', '.join(REGISTRY)}") from None
