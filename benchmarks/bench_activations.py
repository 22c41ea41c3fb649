"""Activations: forward passes, elementwise (GELU) and along rows (softmax)."""

from .common import KernelBenchmark, duet_row, figure_parameters, parameters


class GELU(KernelBenchmark):
    """GELU in the erf form PyTorch computes by default (Hendrycks & Gimpel 2016); ``size`` is
    the elements of x."""

    kernel = "gelu"
    params = parameters(kernel)

    def time_gelu(self, target, device, size):
        self.call()

    track_vs_baseline = duet_row(kernel)

    def peakmem_gelu(self, target, device, size):
        self.call()

    peakmem_gelu.params = figure_parameters(kernel)

    def track_seconds_per_gb(self, target, device, size):
        return self.seconds_per_gb()

    track_seconds_per_gb.unit = "s/GB"
    track_seconds_per_gb.params = figure_parameters(kernel)


class Softmax(KernelBenchmark):
    """Softmax of z (N, 1024) along its last axis, shifted by the row maximum; ``size`` is N."""

    kernel = "softmax"
    params = parameters(kernel)

    def time_softmax(self, target, device, size):
        self.call()

    track_vs_baseline = duet_row(kernel)

    def peakmem_softmax(self, target, device, size):
        self.call()

    peakmem_softmax.params = figure_parameters(kernel)

    def track_seconds_per_gb(self, target, device, size):
        return self.seconds_per_gb()

    track_seconds_per_gb.unit = "s/GB"
    track_seconds_per_gb.params = figure_parameters(kernel)
