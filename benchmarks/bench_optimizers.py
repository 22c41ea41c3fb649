"""Optimisers: one step on a flat float32 vector of ``size`` elements (θ, g, and the state).

Memory-bound: a step reads and writes a few vectors and does a handful of flops per element, so
``track_seconds_per_gb`` (the inverse of the achieved bandwidth over the minimal bytes moved)
is the figure to hold against STREAM triad (``bench_memory``). torch's three code paths are
benchmarked apart: torch-forloop (``foreach=False``), torch-foreach (``foreach=True``) and
torch-fused (``fused=True``), where this torch has them, JAX's optax step, jit-compiled,
and Keras's keras.optimizers step on its torch backend.
"""

from .common import KernelBenchmark, duet_row, figure_parameters, parameters


class AdamStep(KernelBenchmark):
    """Adam (Kingma & Ba 2015, Algorithm 1): reads θ, g, m, v and writes θ, m, v."""

    kernel = "adam"
    params = parameters(kernel)

    def time_adam(self, target, device, size):
        self.call()

    track_vs_baseline = duet_row(kernel)

    def peakmem_adam(self, target, device, size):
        self.call()

    peakmem_adam.params = figure_parameters(kernel)

    def track_seconds_per_gb(self, target, device, size):
        return self.seconds_per_gb()

    track_seconds_per_gb.unit = "s/GB"
    track_seconds_per_gb.params = figure_parameters(kernel)


class SGDMomentumStep(KernelBenchmark):
    """SGD with momentum 0.9 in PyTorch's form (lr outside the velocity): θ, g, v; θ, v."""

    kernel = "sgd_momentum"
    params = parameters(kernel)

    def time_sgd_momentum(self, target, device, size):
        self.call()

    track_vs_baseline = duet_row(kernel)

    def peakmem_sgd_momentum(self, target, device, size):
        self.call()

    peakmem_sgd_momentum.params = figure_parameters(kernel)

    def track_seconds_per_gb(self, target, device, size):
        return self.seconds_per_gb()

    track_seconds_per_gb.unit = "s/GB"
    track_seconds_per_gb.params = figure_parameters(kernel)


class RMSPropStep(KernelBenchmark):
    """RMSprop (ρ = 0.9, ε outside the root as PyTorch has it): θ, g, r; θ, r."""

    kernel = "rmsprop"
    params = parameters(kernel)

    def time_rmsprop(self, target, device, size):
        self.call()

    track_vs_baseline = duet_row(kernel)

    def peakmem_rmsprop(self, target, device, size):
        self.call()

    peakmem_rmsprop.params = figure_parameters(kernel)

    def track_seconds_per_gb(self, target, device, size):
        return self.seconds_per_gb()

    track_seconds_per_gb.unit = "s/GB"
    track_seconds_per_gb.params = figure_parameters(kernel)


class AdaGradStep(KernelBenchmark):
    """AdaGrad (Duchi et al. 2011): θ, g, r; θ, r."""

    kernel = "adagrad"
    params = parameters(kernel)

    def time_adagrad(self, target, device, size):
        self.call()

    track_vs_baseline = duet_row(kernel)

    def peakmem_adagrad(self, target, device, size):
        self.call()

    peakmem_adagrad.params = figure_parameters(kernel)

    def track_seconds_per_gb(self, target, device, size):
        return self.seconds_per_gb()

    track_seconds_per_gb.unit = "s/GB"
    track_seconds_per_gb.params = figure_parameters(kernel)
