"""Learning-rate schedules η_t: functions of the step count t = 1, 2, … (t = 1 is the first step).

Each takes an integer ``t`` ≥ 1 or an array of them and returns a float or a float array of the
same shape, so that ``lr=schedule(np.arange(1, steps + 1), ...)`` gives ``trajectory`` one
learning rate per step.

Sources (catalogue section 4; seeds by file number):
    001  a constant learning rate.
    002  learning-rate decay and warm-up (Hung-yi Lee, "Learning Rate Scheduling").
    002  the Transformer's warm-up: Vaswani et al., "Attention Is All You Need", NIPS 2017, eq. 3.
    nanoGPT ``get_lr`` (Karpathy): linear warm-up, then cosine decay, phase by phase.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from nnconform.reference._validate import choice, integer, interval, nonnegative, positive

__all__ = ["DECAY_KINDS", "constant", "decay", "noam", "warmup"]


def _steps(t: Any) -> tuple[np.ndarray, bool]:
    """``t`` as a float64 array of whole step counts ≥ 1, and whether it was a scalar."""
    if isinstance(t, bool | np.bool_) or not (
        isinstance(t, numbers.Real) or isinstance(t, np.ndarray | list | tuple)
    ):
        raise TypeError(
            f"t must be an integer step count >= 1 or an array of them, got {t!r} "
            f"({type(t).__name__})"
        )
    array = np.asarray(t)
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(f"t must hold integer step counts, got dtype {array.dtype}")
    if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
        raise ValueError(f"t must hold whole step counts (1, 2, ...), got {t!r}")
    if array.size and array.min() < 1:
        raise ValueError(f"t must be at least 1 (the first step), got {array.min()}")
    return array.astype(np.float64), array.ndim == 0


def _out(values: np.ndarray, scalar: bool) -> float | np.ndarray:
    return float(values) if scalar else values


def constant(t, *, lr: float) -> float | np.ndarray:
    """η_t = η   (seed 001)."""
    t, scalar = _steps(t)
    return _out(np.full(t.shape, positive("lr", lr)), scalar)


DECAY_KINDS = ("step", "exponential", "inverse_time", "continuous")


def decay(
    t,
    *,
    lr: float,
    kind: str = "step",
    gamma: float,
    step_size: int | None = None,
) -> float | np.ndarray:
    """Learning-rate decay   (seed 002), η_1 = lr on the first step:

        step          lr·γ^⌊(t − 1)/step_size⌋     (PyTorch StepLR; γ ∈ (0, 1])
        exponential   lr·γ^(t − 1)                 (PyTorch ExponentialLR; γ ∈ (0, 1])
        inverse_time  lr/(1 + γ(t − 1))            (Keras InverseTimeDecay, decay_steps = 1)
        continuous    lr·γ^((t − 1)/step_size)     (optax exponential_decay and Keras
                                                   ExponentialDecay with staircase=False,
                                                   their defaults; TensorFlow's
                                                   exponential_decay: γ spread over each
                                                   step_size steps, not applied at their end)

    Warning: PyTorch's schedulers and Keras count from 0 (the learning rate before any
    ``scheduler.step()``); their epoch/step e is t − 1 here.
    """
    t, scalar = _steps(t)
    lr = positive("lr", lr)
    kind = choice("kind", kind, DECAY_KINDS)
    if kind == "inverse_time":
        gamma = nonnegative("gamma", gamma)
        return _out(lr / (1.0 + gamma * (t - 1.0)), scalar)
    gamma = interval("gamma", gamma, 0.0, 1.0, closed="right")
    if kind == "exponential":
        return _out(lr * gamma ** (t - 1.0), scalar)
    if step_size is None:
        raise ValueError(f"step_size must be given for kind={kind!r} (steps between decays)")
    step_size = integer("step_size", step_size, minimum=1)
    if kind == "continuous":
        return _out(lr * gamma ** ((t - 1.0) / step_size), scalar)
    return _out(lr * gamma ** np.floor((t - 1.0) / step_size), scalar)


def warmup(
    t,
    *,
    lr: float,
    warmup: int,
    then: str = "inverse_sqrt",
    total: int | None = None,
    counting: str = "from_one",
) -> float | np.ndarray:
    """Linear warm-up to ``lr`` over ``warmup`` steps, then a decay   (seed 002; nanoGPT):

        s ≤ warmup           lr·s/warmup
        then inverse_sqrt    lr·√(warmup/s)
             linear          lr·(total − s)/(total − warmup), 0 after ``total``
             cosine          lr·(1 + cos(π(s − warmup)/(total − warmup)))/2, 0 after ``total``

    Every form is continuous, equal to lr at s = warmup. ``total`` is needed by linear and
    cosine only. ``counting`` says which s the t-th step (t = 1, 2, …) uses:

        from_one   s = t        the first step already gets lr/warmup (seed 002)
        from_zero  s = t − 1    the first step gets the initial value, 0 (optax
                                ``warmup_cosine_decay_schedule``/``linear_schedule``, evaluated
                                at the optimiser's count, which starts at 0; Keras
                                ``CosineDecay(warmup_steps=...)`` at ``optimizer.iterations``,
                                0 on the first step, gives ``initial_learning_rate``)

    from_zero is a variant, not a defect: it is the same schedule η(s), indexed by the number
    of steps taken *before* the update rather than by the update's own number; optax and
    Keras document η(0) = ``init_value`` / ``initial_learning_rate`` as the first value. The
    two differ by one step everywhere (lr is reached at step warmup + 1, not warmup). With
    ``init_value`` 0 (the reference has no other) the from_zero schedule's first step is 0.

    Warning: nanoGPT's ``get_lr`` counts from 0 and warms up as lr·(it + 1)/(warmup + 1), and
    decays to ``min_lr`` rather than 0.
    """
    t, scalar = _steps(t)
    lr = positive("lr", lr)
    warmup = integer("warmup", warmup, minimum=1)
    then = choice("then", then, ("inverse_sqrt", "linear", "cosine"))
    counting = choice("counting", counting, ("from_one", "from_zero"))
    s = t if counting == "from_one" else t - 1.0
    if then != "inverse_sqrt" or total is not None:
        if total is None:
            raise ValueError(f"total must be given for then={then!r} (the step where lr is 0)")
        total = integer("total", total, minimum=warmup + 1)
    # 1. linear warm-up
    rising = lr * s / warmup
    # 2. the decay after it (s ≥ 1 where it is used: the warm-up covers s = 0)
    if then == "inverse_sqrt":
        falling = lr * np.sqrt(warmup / np.maximum(s, 1.0))
    else:
        progress = np.clip((s - warmup) / (total - warmup), 0.0, 1.0)  # 0 → 1
        if then == "linear":
            falling = lr * (1.0 - progress)
        else:
            falling = lr * 0.5 * (1.0 + np.cos(np.pi * progress))
    return _out(np.where(s <= warmup, rising, falling), scalar)


def noam(t, *, d_model: int, warmup: int = 4000) -> float | np.ndarray:
    """η_t = d_model^−0.5 · min(t^−0.5, t · warmup^−1.5)   (seed 002; Vaswani et al. 2017, eq. 3).

    Linear in t up to t = warmup, then ∝ 1/√t: the two meet, and η peaks, at t = warmup.

    Warning: some implementations (The Annotated Transformer, fairseq) multiply by a
    ``factor`` and count from 0 (then guard t = 0); this is the paper's form with factor 1.
    """
    t, scalar = _steps(t)
    d_model = integer("d_model", d_model, minimum=1)
    warmup = integer("warmup", warmup, minimum=1)
    return _out(d_model**-0.5 * np.minimum(t**-0.5, t * warmup**-1.5), scalar)
