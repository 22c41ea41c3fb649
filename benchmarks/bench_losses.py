"""Losses: softmax cross-entropy forward and backward, the mean over N."""

from .common import KernelBenchmark, duet_row, figure_parameters, parameters


class CrossEntropy(KernelBenchmark):
    """Logits (N, 1024): read z, write ∂loss/∂z = (softmax(z) − onehot(y)) / N; ``size`` is N."""

    kernel = "cross_entropy"
    params = parameters(kernel)

    def time_cross_entropy(self, target, device, size):
        self.call()

    track_vs_baseline = duet_row(kernel)

    def peakmem_cross_entropy(self, target, device, size):
        self.call()

    peakmem_cross_entropy.params = figure_parameters(kernel)

    def track_seconds_per_gb(self, target, device, size):
        return self.seconds_per_gb()

    track_seconds_per_gb.unit = "s/GB"
    track_seconds_per_gb.params = figure_parameters(kernel)
