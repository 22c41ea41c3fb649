"""The benchmark kernels time the right computation, and the harness, STREAM and the machine
record say what they should.

Ground truth for the kernels is the reference called directly on the kernel's own inputs
(``kernels.inputs``): one call of every implementation (the reference's adapter path, torch's
and JAX's), from the same seed, must give the reference's result within float32 tolerance, so
that a preparer timing the wrong thing (Adam with the wrong learning rate, dropout with torch's
p read as the keep probability, GELU in JAX's default tanh form) fails here. Nothing here
asserts a time.
"""

from __future__ import annotations

import importlib.util
import math
import types

import numpy as np
import pytest

from nnconform.checks.perf import harness, kernels, registry
from nnconform.checks.perf.harness import Measurement, measure
from nnconform.checks.perf.kernels import KERNELS, Prepared, Unsupported, check_size, inputs
from nnconform.checks.perf.machine import machine_info
from nnconform.checks.perf.registry import prepare
from nnconform.checks.perf.stream import stream
from nnconform.checks.targets import wrap
from nnconform.reference import activations, layers, losses, normalization, optimizers

# Small sizes in each kernel's own unit (rows, images, examples; dropout's is larger: its
# check counts).
TINY = {
    "batch_norm_2d": 4,
    "batch_norm_4d": 1,
    "cross_entropy": 4,
    "softmax": 4,
    "dropout": 2**14,
    "conv2d": 1,
    "mlp_step": 8,
}
SEED = 3


def tiny(name: str) -> int:
    return TINY.get(name, 2**10)


def jax_or_skip() -> None:
    pytest.importorskip("jax")
    pytest.importorskip("optax")
    pytest.importorskip("flax")


def as_numpy(result) -> list[np.ndarray]:
    """A kernel's output (an array, a tensor, or a nest of them) as a flat list of arrays."""
    if isinstance(result, list | tuple):
        return [a for item in result for a in as_numpy(item)]
    if hasattr(result, "detach"):
        result = result.detach().cpu().numpy()
    return [np.asarray(result, dtype=np.float64)]


# --- the expected results, from the reference called directly ----------------------------

OPTIMIZER = {
    "adam": lambda t, g: optimizers.adam_step(t, g, optimizers.adam_init(t), lr=1e-3)[0],
    "sgd_momentum": lambda t, g: optimizers.momentum_step(
        t, g, optimizers.momentum_init(t), lr=1e-3, variant="lr_outside"
    )[0],
    "rmsprop": lambda t, g: optimizers.rmsprop_step(
        t, g, optimizers.rmsprop_init(t), lr=1e-3, variant="eps_outside"
    )[0],
    "adagrad": lambda t, g: optimizers.adagrad_step(t, g, optimizers.adagrad_init(t), lr=1e-3)[0],
}


# Keras's optimisers, each in the reference's variant it computes (provider_keras): Adam's
# "efficient" form (ε outside the bias correction), momentum with lr inside the velocity, ε inside
# the root for RMSprop and AdaGrad; Keras has no option for any of them.
KERAS_OPTIMIZER = {
    "adam": lambda t, g: optimizers.adam_step(
        t, g, optimizers.adam_init(t), lr=1e-3, form="efficient"
    )[0],
    "sgd_momentum": lambda t, g: optimizers.momentum_step(
        t, g, optimizers.momentum_init(t), lr=1e-3, variant="classic"
    )[0],
    "rmsprop": lambda t, g: optimizers.rmsprop_step(
        t, g, optimizers.rmsprop_init(t), lr=1e-3, variant="eps_inside"
    )[0],
    "adagrad": lambda t, g: optimizers.adagrad_step(
        t, g, optimizers.adagrad_init(t), lr=1e-3, variant="eps_inside"
    )[0],
}


def adagrad_eps_inside(theta: np.ndarray, g: np.ndarray) -> np.ndarray:
    """optax's AdaGrad, one step from r = 0: θ − lr·g/√(g² + ε), ε = 1e-7 inside the root
    (optax ``scale_by_rss``; the reference's has it outside, and optax has no option to move
    it: the bench times optax as it is, and checks it against its own formula here)."""
    theta, g = theta.astype(np.float64), g.astype(np.float64)
    return theta - 1e-3 * g / np.sqrt(g * g + 1e-7)


def expected(name: str, data: dict, implementation: str = "reference") -> list[np.ndarray]:
    """The reference's result of one call of kernel ``name`` (dropout excepted: random)."""
    if name == "adagrad" and implementation == "jax":
        return [adagrad_eps_inside(data["theta"], data["g"])]
    if implementation == "keras":
        return [KERAS_OPTIMIZER[name](data["theta"], data["g"])]
    if name in OPTIMIZER:
        return [OPTIMIZER[name](data["theta"], data["g"])]
    if name.startswith("batch_norm"):
        out = normalization.batch_norm(
            data["x"], data["gamma"], data["beta"], data["running_mean"], data["running_var"]
        )
        return [normalization.batch_norm_backward(data["dy"], out.cache).dx]
    if name == "cross_entropy":
        return [losses.cross_entropy_backward(data["z"], data["y"])]
    if name == "gelu":
        return [activations.gelu(data["x"], variant="erf")]  # torch's form
    if name == "softmax":
        return [activations.softmax(data["z"])]
    if name == "conv2d":
        dx, dw, db = layers.conv2d_backward(
            data["x"], data["w"], data["b"], data["dy"], stride=1, padding=1
        )
        return [dx, dw, db]
    assert name == "mlp_step"
    params = [(data["W1"], data["b1"]), (data["W2"], data["b2"])]
    dz = losses.cross_entropy_backward(layers.mlp(data["x"], params), data["y"])
    _, grads = layers.mlp_backward(data["x"], params, dz)
    steps = zip(params, grads, strict=True)
    return [p - 0.01 * d for (W, b), (dW, db) in steps for p, d in ((W, dW), (b, db))]


def starting_point(name: str, data: dict) -> list[np.ndarray] | None:
    """For steps, the parameters before it: their change is compared, not their value, which
    a wrong learning rate would change only in the fourth digit."""
    if name in OPTIMIZER:
        return [data["theta"]]
    if name == "mlp_step":
        return [data[k] for k in ("W1", "b1", "W2", "b2")]
    return None


# Tolerances, relative to the result's largest magnitude (atol) and per element (rtol). float32
# against the float64 oracle: rounding of the inputs and of sums over up to ~10^4 terms gives
# errors near 1e-6 relative; 1e-3 and 1e-4 × scale leave room for the libraries' own orders of
# summation without letting a wrong hyper-parameter through (a learning rate 10 % off moves an
# optimiser's step by 10 %). JAX's XLA fuses and reorders more freely, and on cpu computes some
# transcendental functions (erf, exp) by its own polynomial approximations: GELU's and
# softmax's errors reach a few ulp, still far inside these. flax's BatchNorm computes the
# variance in one pass, E[x²] − E[x]²; on these inputs (mean 0, unit spread, 4 rows or 256
# values per channel) its cancellation costs about 1e-7 relative, also inside them.
TOLERANCE = {"default": (1e-3, 1e-4)}


def assert_same_computation(name: str, implementation: str) -> None:
    data = inputs(name, tiny(name), SEED)
    got = as_numpy(prepare(name, implementation, tiny(name), seed=SEED).run())
    want = expected(name, data, implementation)
    before = starting_point(name, data)
    if before is not None:
        got = [g - b for g, b in zip(got, before, strict=True)]
        want = [w - b for w, b in zip(want, before, strict=True)]
    assert len(got) == len(want), f"{implementation} returned {len(got)} arrays, not {len(want)}"
    for g, w in zip(got, want, strict=True):
        # float32 against the float64 oracle: rounding of the inputs and of sums over up to
        # ~10^4 terms; relative to the result's scale so that large gradients do not mislead
        scale = float(np.max(np.abs(w)))
        rtol, atol = TOLERANCE.get(name, TOLERANCE["default"])
        np.testing.assert_allclose(
            g, w, rtol=rtol, atol=atol * scale, err_msg=f"{name} {implementation}"
        )


def assert_dropout_keeps_nine_in_ten(name: str, implementation: str) -> None:
    """A random mask: every output is 0 or x/0.9 (inverted dropout, keep p = 0.9), and about
    90 % are kept (2**14 draws: the standard deviation of the fraction is 0.0023)."""
    x = inputs(name, tiny(name), SEED)["x"].astype(np.float64)
    (y,) = as_numpy(prepare(name, implementation, tiny(name), seed=SEED).run())
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / 0.9, rtol=1e-6, err_msg=implementation)
    assert abs(kept.mean() - 0.9) < 0.02, f"{implementation} kept {kept.mean():.3f}, not 0.9"


def check(name: str, implementation: str) -> None:
    if name == "dropout":
        assert_dropout_keeps_nine_in_ten(name, implementation)
    else:
        assert_same_computation(name, implementation)


# --- the kernels -------------------------------------------------------------------------


def test_the_kernel_table_is_the_contracts():
    assert list(KERNELS) == [
        "adam", "sgd_momentum", "rmsprop", "adagrad", "batch_norm_2d", "batch_norm_4d",
        "cross_entropy", "gelu", "softmax", "dropout", "conv2d", "mlp_step",
    ]  # fmt: skip
    assert KERNELS["adam"].bytes_per_element == 28
    assert KERNELS["conv2d"].bytes_per_element is None
    assert KERNELS["mlp_step"].dataset_size == 60000
    # conv2d at N = 1: forward 16·32·32 outputs × 16·9 MACs, three products, 2 FLOPs each
    assert KERNELS["conv2d"].flops(1) == 3 * 2 * (16 * 32 * 32) * (16 * 9)
    # the optimisers work in place (their roof is STREAM update), nothing else does
    assert [k.name for k in KERNELS.values() if k.in_place] == [
        "adam", "sgd_momentum", "rmsprop", "adagrad",
    ]  # fmt: skip


def test_every_kernel_says_what_its_size_means():
    """A flat kernel's size is elements; a batch kernel's is N, and the default sweeps hold the
    same numbers of elements (2**16 to 2**24) whichever unit counts them."""
    flat = {k.name for k in KERNELS.values() if k.flat}
    assert flat == {"adam", "sgd_momentum", "rmsprop", "adagrad", "gelu", "dropout"}
    labels = {k.name: k.size_label for k in KERNELS.values() if not k.flat}
    assert labels == {
        "batch_norm_2d": "rows", "batch_norm_4d": "images", "cross_entropy": "rows",
        "softmax": "rows", "conv2d": "images", "mlp_step": "batch size",
    }  # fmt: skip
    for k in KERNELS.values():
        assert k.size_meaning and k.rule, k.name
        if k.name not in ("conv2d", "mlp_step"):
            assert [k.elements(n) for n in k.sizes] == [2**16, 2**18, 2**20, 2**22, 2**24]
    assert KERNELS["softmax"].shape(64) == (64, 1024)
    assert KERNELS["batch_norm_4d"].elements(2) == 2 * 64 * 16 * 16
    assert KERNELS["mlp_step"].shape(100) == (100, 784)
    assert KERNELS["gelu"].bytes(2**20) == 8 * 2**20


@pytest.mark.parametrize("name", list(KERNELS))
def test_input_bytes_are_what_the_inputs_hold(name):
    """The memory estimate's unit, computed without drawing the inputs."""
    for size in (tiny(name), 3 * tiny(name)):
        held = sum(a.nbytes for a in inputs(name, size).values())
        assert KERNELS[name].input_bytes(size) == held


@pytest.mark.parametrize("name", list(KERNELS))
def test_every_builtin_implementation_prepares_and_runs(name):
    names = registry.implementations(name)
    assert names[0] == "reference"
    for implementation in names:
        prepared = prepare(name, implementation, tiny(name), seed=SEED)
        assert isinstance(prepared, Prepared)
        assert prepared.kernel is KERNELS[name] and prepared.size == tiny(name)
        for _ in range(2):  # state carried from one call to the next stays valid
            out = prepared.run()
            prepared.sync()
        assert all(np.isfinite(a).all() for a in as_numpy(out)), implementation
        if KERNELS[name].bytes_per_element is not None:
            elements = KERNELS[name].elements(tiny(name))
            assert prepared.bytes == KERNELS[name].bytes_per_element * elements
            assert prepared.flops is None
        else:
            assert prepared.bytes is None and prepared.flops > 0


@pytest.mark.parametrize("name", list(KERNELS))
def test_torch_and_the_reference_compute_the_same_thing(name):
    pytest.importorskip("torch")
    for implementation in registry.implementations(name):
        if implementation not in ("jax", "keras"):
            check(name, implementation)


@pytest.mark.parametrize("name", list(KERNELS))
def test_jax_and_the_reference_compute_the_same_thing(name):
    """Every JAX implementation, jit-compiled in float32, from the same inputs."""
    jax_or_skip()
    assert "jax" in registry.implementations(name)
    check(name, "jax")


def test_jax_gelu_in_its_default_tanh_form_is_caught(monkeypatch):
    """JAX's gelu defaults to the tanh approximation; the kernel is the erf form."""
    jax_or_skip()
    import jax

    gelu = jax.nn.gelu
    monkeypatch.setattr(jax.nn, "gelu", lambda x, approximate=False: gelu(x))
    with pytest.raises(AssertionError):
        check("gelu", "jax")


def test_jax_with_the_wrong_learning_rate_or_keep_probability_is_caught(monkeypatch):
    jax_or_skip()
    from nnconform.checks.perf import provider_jax

    monkeypatch.setattr(provider_jax, "LR", 1.1e-3)
    with pytest.raises(AssertionError):
        check("rmsprop", "jax")
    monkeypatch.setattr(provider_jax, "KEEP", 0.1)
    with pytest.raises(AssertionError):
        check("dropout", "jax")


def test_jax_compiles_in_preparation_and_its_timing_waits_for_the_result():
    """The first timed call finds the compiled function (no trace, no compile); ``sync``
    blocks until the last result exists; a stateful kernel chains on its own state."""
    jax_or_skip()
    import jax

    prepared = prepare("gelu", "jax", 2**10)
    with jax.log_compiles():  # a compilation now would be logged, and is not expected
        import logging

        records = []
        handler = logging.Handler()
        handler.emit = records.append
        logger = logging.getLogger("jax")
        logger.addHandler(handler)
        try:
            out = prepared.run()
            prepared.run()
            prepared.sync()
        finally:
            logger.removeHandler(handler)
    assert not [r for r in records if "ompil" in r.getMessage()], records
    assert out.is_ready()
    step = prepare("adam", "jax", 2**10)
    first = np.asarray(step.run())
    second = step.run()
    step.sync()
    assert second.is_ready() and not np.array_equal(first, np.asarray(second))


def keras_or_skip() -> None:
    # the Keras target sets KERAS_BACKEND=torch before it imports keras, as the provider does
    pytest.importorskip("nnconform.checks.targets.keras", exc_type=ImportError)


@pytest.mark.parametrize("name", list(KERAS_OPTIMIZER))
def test_keras_and_the_reference_compute_the_same_thing(name):
    """Every Keras optimiser, stepped once by optimizer.apply in float32, from the same inputs,
    against the reference in the variant Keras computes."""
    keras_or_skip()
    assert "keras" in registry.implementations(name)
    check(name, "keras")


def test_keras_with_the_wrong_learning_rate_or_the_wrong_variant_is_caught(monkeypatch):
    """The agreement test has the power to tell: a learning rate 10 % off, or Keras's RMSprop
    (ε inside the root) held against torch's form (ε outside: the kernel's own variant)."""
    keras_or_skip()
    from nnconform.checks.perf import provider_keras

    with monkeypatch.context() as patch:
        patch.setattr(provider_keras, "LR", 1.1e-3)
        with pytest.raises(AssertionError):
            check("adam", "keras")
    for name in ("rmsprop", "adagrad"):
        monkeypatch.setitem(KERAS_OPTIMIZER, name, OPTIMIZER[name])
        with pytest.raises(AssertionError):
            check(name, "keras")


def test_keras_steps_in_place_and_every_call_carries_its_state():
    """One run is one optimizer.apply on the same variable: θ moves every call (Adam's first
    steps are about lr per element), and on cpu the result is there when run returns."""
    keras_or_skip()
    prepared = prepare("adam", "keras", 2**10, seed=SEED)
    assert prepared.timer == "wall"
    theta = inputs("adam", 2**10, SEED)["theta"].astype(np.float64)
    first = as_numpy(prepared.run())[0]
    second = as_numpy(prepared.run())[0]
    prepared.sync()
    np.testing.assert_allclose(np.abs(first - theta), 1e-3, rtol=0.05)
    np.testing.assert_allclose(np.abs(second - first), 1e-3, rtol=0.1)


def test_keras_on_cuda_steps_on_the_gpu_and_is_timed_by_cuda_events():
    """Where a GPU is: θ, its slots and g on the device (made under keras.device), the step
    the reference's, each sample timed by CUDA events after a synchronisation."""
    keras_or_skip()
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no GPU here")
    assert "keras" in registry.implementations("adam", "cuda")
    prepared = prepare("adam", "keras", 2**10, device="cuda", seed=SEED)
    assert prepared.timer == "cuda-events"
    out = prepared.run()
    prepared.sync()
    assert out.device.type == "cuda"
    data = inputs("adam", 2**10, SEED)
    step = as_numpy(out)[0] - data["theta"]
    want = KERAS_OPTIMIZER["adam"](data["theta"], data["g"]) - data["theta"]
    np.testing.assert_allclose(step, want, rtol=1e-3, atol=1e-7)


@pytest.mark.parametrize("name", list(KERNELS))
def test_a_user_target_goes_through_the_same_recipe_as_the_reference(name):
    """The torch adapter (numpy in, numpy out, the reference's names) as a user's target."""
    pytest.importorskip("torch")
    check(name, "nnconform.checks.targets.torch:make_target")


def test_a_preparer_with_the_wrong_learning_rate_is_caught(monkeypatch):
    pytest.importorskip("torch")
    from nnconform.checks.perf import provider_torch

    monkeypatch.setattr(provider_torch, "LR", 1.1e-3)
    with pytest.raises(AssertionError):
        check("adam", "torch-fused")


def test_dropout_with_torchs_p_read_as_the_keep_probability_is_caught(monkeypatch):
    pytest.importorskip("torch")
    from nnconform.checks.perf import provider_torch

    monkeypatch.setattr(provider_torch, "KEEP", 0.1)  # F.dropout(p=0.9): keeps one in ten
    with pytest.raises(AssertionError):
        check("dropout", "torch")


def test_rmsprop_has_no_fused_path_and_says_why():
    pytest.importorskip("torch")
    assert "torch-fused" not in registry.implementations("rmsprop")
    with pytest.raises(Unsupported, match="fused"):
        prepare("rmsprop", "torch-fused", 2**10)


def test_the_optimiser_paths_do_not_apply_elsewhere():
    pytest.importorskip("torch")
    assert registry.implementations("gelu")[:2] == ("reference", "torch")
    with pytest.raises(Unsupported, match=r"torch\.optim"):
        prepare("gelu", "torch-foreach", 2**10)


def test_cuda_is_unsupported_without_a_gpu():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert registry.implementations("adam", "cuda") == ()
    with pytest.raises(Unsupported, match="cuda"):
        prepare("adam", "torch", 2**10, device="cuda")
    if importlib.util.find_spec("jax") is not None:
        with pytest.raises(Unsupported, match="cuda is not available to jax here"):
            prepare("adam", "jax", 2**10, device="cuda")
    if importlib.util.find_spec("keras") is not None:
        with pytest.raises(Unsupported, match="cuda is not available here"):
            prepare("adam", "keras", 2**10, device="cuda")
    with pytest.raises(Unsupported, match="reference runs on cpu"):
        prepare("adam", "reference", 2**10, device="cuda")


def test_a_target_lacking_a_function_is_unsupported(monkeypatch):
    module = types.ModuleType("only_adam")
    module.adam_init, module.adam_step = optimizers.adam_init, optimizers.adam_step
    monkeypatch.setattr(
        "nnconform.checks.targets.load_target", lambda spec, device="cpu": wrap(module, name=spec)
    )
    assert prepare("adam", "only_adam", 2**10).run().shape == (2**10,)
    with pytest.raises(Unsupported, match="target only_adam has no gelu"):
        prepare("gelu", "only_adam", 2**10)


def test_a_targets_native_path_is_used_when_offered(monkeypatch):
    calls = []
    module = types.ModuleType("native")
    module.bench_gelu = lambda size, device, seed: calls.append((size, device, seed)) or (lambda: 7)
    monkeypatch.setattr(
        "nnconform.checks.targets.load_target", lambda spec, device="cpu": wrap(module, name=spec)
    )
    prepared = prepare("gelu", "native", 2**10, seed=5)
    assert calls == [(2**10, "cpu", 5)] and prepared.run() == 7


@pytest.mark.parametrize(
    ("name", "size", "message"),
    [
        ("softmax", 0, "size 0 does not fit softmax: it takes a batch N >= 1"),
        ("batch_norm_2d", 1, "N >= 2"),
        ("conv2d", -4, "size -4 does not fit conv2d"),
        ("adam", 0, "size 0 does not fit adam"),
        ("mlp_step", 2.5, "size must be an integer, got 2.5"),
    ],
)
def test_a_size_that_does_not_fit_names_the_size_and_the_rule(name, size, message):
    with pytest.raises(ValueError, match=message):
        check_size(name, size)


def test_sizes_below_the_default_sweep_are_allowed():
    assert check_size("adam", 1) == 1 and check_size("mlp_step", 1) == 1
    assert inputs("softmax", 1)["z"].shape == (1, 1024)
    assert inputs("conv2d", 2)["x"].shape == (2, 16, 32, 32)
    assert inputs("batch_norm_4d", 1)["x"].dtype == np.float32


def test_unknown_kernels_and_devices_are_value_errors():
    with pytest.raises(ValueError, match="unknown kernel 'adamw': choose from adam"):
        prepare("adamw", "reference", 2**10)
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        prepare("adam", "reference", 2**10, device="tpu")


def test_default_sizes_grow_on_request(monkeypatch):
    monkeypatch.delenv("NNCONFORM_BENCH_LARGE", raising=False)
    assert kernels.default_sizes("adam") == (2**16, 2**18, 2**20, 2**22, 2**24)
    assert kernels.default_sizes("conv2d") == (1, 4, 16, 64)
    assert kernels.default_sizes("softmax") == (64, 256, 1024, 4096, 16384)
    assert kernels.default_sizes("mlp_step") == (1, 10, 100, 1000, 10000)
    monkeypatch.setenv("NNCONFORM_BENCH_LARGE", "1")
    assert kernels.default_sizes("gelu")[-2:] == (2**26, 2**28)
    assert kernels.default_sizes("batch_norm_4d")[-2:] == (2**26 // 16384, 2**28 // 16384)
    assert kernels.default_sizes("mlp_step")[-1] == 60000
    for name in KERNELS:
        for size in kernels.default_sizes(name):
            check_size(name, size)


# --- the harness -------------------------------------------------------------------------


def test_quartiles_and_the_noise_flag_from_given_samples():
    m = Measurement.from_samples([5.0, 1.0, 3.0, 2.0, 4.0], number=4)
    assert (m.q1, m.median, m.q3) == (2.0, 3.0, 4.0)  # numpy's linear percentiles
    assert m.iqr == 2.0 and m.rel_iqr == pytest.approx(2 / 3) and m.noisy
    steady = Measurement.from_samples([1.00, 1.01, 1.02, 1.03, 1.04])
    assert steady.rel_iqr == pytest.approx(0.02 / 1.02) and not steady.noisy
    assert Measurement.from_samples([0.5]).iqr == 0.0
    edge = Measurement.from_samples([1.0, 1.0, 1.2, 1.2, 1.2])  # q1 1.0, median 1.2, q3 1.2
    assert edge.rel_iqr == pytest.approx(0.2 / 1.2) and edge.noisy


@pytest.mark.parametrize("bad", [[], [1.0, math.nan], [-1.0]])
def test_samples_must_be_times(bad):
    with pytest.raises(ValueError, match="samples"):
        Measurement.from_samples(bad)


def test_measure_warms_up_calibrates_and_syncs_after_every_sample():
    """A fake clock that each call advances by 1 ms: the calibration doubles number until a
    sample lasts 10 ms (1, 2, 4, 8 calls are too short; 16 are not)."""
    now, calls, syncs = [0.0], [], []

    def run():
        now[0] += 1e-3
        calls.append(now[0])

    def sync():
        syncs.append(len(calls))

    prepared = Prepared(KERNELS["adam"], "fake", "cpu", 1, run, sync, None, None)
    m = measure(prepared, warmup=3, repeats=5, min_sample_time=0.01, clock=lambda: now[0])
    assert m.number == 16
    assert m.samples == pytest.approx([1e-3] * 5) and m.median == pytest.approx(1e-3)
    assert len(calls) == 3 + (1 + 2 + 4 + 8 + 16) + 5 * 16
    # before and after the warm-up, then at the end of every calibration and timed sample
    assert syncs == [0, 3] + [3 + n for n in (1, 3, 7, 15, 31)] + [34 + 16 * i for i in range(1, 6)]


def test_measure_rejects_bad_settings():
    prepared = Prepared(KERNELS["adam"], "fake", "cpu", 1, lambda: None, lambda: None, None, None)
    with pytest.raises(ValueError, match="repeats must be an integer >= 1, got 0"):
        measure(prepared, repeats=0)
    with pytest.raises(ValueError, match="warmup"):
        measure(prepared, warmup=-1)


def test_measure_times_a_real_kernel():
    m = measure(prepare("adam", "reference", 2**10), warmup=1, repeats=3, min_sample_time=0.001)
    assert len(m.samples) == 3 and m.q1 <= m.median <= m.q3 and m.median > 0
    assert harness.NOISY == 0.10


# --- STREAM and the machine --------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_stream_reports_positive_bandwidths(backend):
    if backend == "torch":
        pytest.importorskip("torch")
    result = stream("cpu", elements=2**16, repeats=2, backend=backend)
    keys = {"device", "backend", "threads", "elements", "copy_gbs", "triad_gbs", "update_gbs"}
    assert keys <= set(result)
    assert result["backend"] == backend and result["elements"] == 2**16
    assert result["copy_gbs"] > 0 and result["triad_gbs"] > 0 and result["threads"] >= 1
    assert result["update_gbs"] > 0
    # numpy's triad and update are two passes over memory (see stream.py): 20 B per element
    assert result["triad_bytes_per_element"] == (20 if backend == "numpy" else 12)
    assert result["update_bytes_per_element"] == (20 if backend == "numpy" else 12)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_stream_update_adds_into_its_own_array(backend):
    """update is a ← a + 3·b in place (torch: a.add_(b, alpha=3)); triad a ← b + 3·c writes a
    afresh; copy a ← b."""
    from nnconform.checks.perf import stream as module

    if backend == "torch":
        pytest.importorskip("torch")
        passes = module._torch_passes("cpu", 8)
    else:
        passes = module._numpy_passes(8)
    a, b, _ = passes.arrays
    passes.triad()  # 1 + 3·2
    passes.update()
    passes.update()  # 7 + 3 + 3
    assert np.asarray(a).tolist() == [13.0] * 8 and np.asarray(b).tolist() == [1.0] * 8
    passes.copy()
    assert np.asarray(a).tolist() == [1.0] * 8


def test_stream_rejects_bad_arguments():
    with pytest.raises(ValueError, match="elements"):
        stream(elements=0)
    with pytest.raises(ValueError, match="backend"):
        stream(elements=16, backend="jax")


def test_machine_info_has_the_keys_the_report_reads():
    info = machine_info()
    for key in ("cpu_model", "logical_cores", "threads", "python", "numpy", "torch", "asv",
                "blas", "allocator", "gpu", "git_commit", "platform", "jax", "llc_bytes",
                "memory_bytes"):  # fmt: skip
        assert key in info, key
    assert info["logical_cores"] >= 1 and info["numpy"] == np.__version__
    assert info["gpu"] is None  # cpu
    assert isinstance(info["allocator"], dict)


@pytest.mark.parametrize("name", ["adam", "mlp_step", "dropout"])
def test_the_shared_inputs_stay_as_drawn_after_every_implementation_ran(name):
    """The implementations of one kernel and size share one read-only draw: none may change
    it (a JAX step donates its buffers, a torch step updates in place, a user's target may
    update its arguments: each works on its own copy)."""
    size = tiny(name)
    for implementation in registry.implementations(name):
        prepared = prepare(name, implementation, size, seed=SEED)
        for _ in range(2):
            prepared.run()
        prepared.sync()
    shared = inputs(name, size, SEED)
    fresh = kernels._draw(KERNELS[name], size, SEED)
    assert shared.keys() == fresh.keys()
    for key in fresh:
        assert not shared[key].flags.writeable
        np.testing.assert_array_equal(shared[key], fresh[key], err_msg=key)


def test_inputs_kept_on_disk_are_read_back_as_drawn(tmp_path, monkeypatch):
    """NNCONFORM_BENCH_INPUTS (the asv suite's): the first draw is written, later processes
    read it back; a damaged file is drawn again."""
    monkeypatch.setenv("NNCONFORM_BENCH_INPUTS", str(tmp_path))
    kernels._inputs.cache_clear()
    try:
        first = inputs("softmax", 3, seed=7)
        (kept,) = tmp_path.glob("softmax-3-7-*.npz")
        kernels._inputs.cache_clear()  # as a new process would
        again = inputs("softmax", 3, seed=7)
        np.testing.assert_array_equal(again["z"], first["z"])
        assert not again["z"].flags.writeable
        kept.write_bytes(b"not a zip file")
        kernels._inputs.cache_clear()
        np.testing.assert_array_equal(inputs("softmax", 3, seed=7)["z"], first["z"])
        fresh = kernels._draw(KERNELS["softmax"], 3, 7)
        np.testing.assert_array_equal(first["z"], fresh["z"])
    finally:
        kernels._inputs.cache_clear()
