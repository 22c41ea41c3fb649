"""Batch normalisation: forward and backward in training mode (Ioffe & Szegedy 2015).

Memory-bound: read x, write y; read dy and x, write dx (20 B per element in float32). The
2-d case is a fully connected layer's (N, 256); the 4-d case a convolutional one's
(N, 64, 16, 16), whose statistics reduce over N, H and W.
"""

from .common import KernelBenchmark, duet_row, figure_parameters, parameters


class BatchNorm2d(KernelBenchmark):
    """x (N, 256): statistics over N; ``size`` is N, the rows."""

    kernel = "batch_norm_2d"
    params = parameters(kernel)

    def time_batch_norm_2d(self, target, device, size):
        self.call()

    track_vs_baseline = duet_row(kernel)

    def peakmem_batch_norm_2d(self, target, device, size):
        self.call()

    peakmem_batch_norm_2d.params = figure_parameters(kernel)

    def track_seconds_per_gb(self, target, device, size):
        return self.seconds_per_gb()

    track_seconds_per_gb.unit = "s/GB"
    track_seconds_per_gb.params = figure_parameters(kernel)


class BatchNorm4d(KernelBenchmark):
    """x (N, 64, 16, 16): statistics over N, H and W; ``size`` is N, the images."""

    kernel = "batch_norm_4d"
    params = parameters(kernel)

    def time_batch_norm_4d(self, target, device, size):
        self.call()

    track_vs_baseline = duet_row(kernel)

    def peakmem_batch_norm_4d(self, target, device, size):
        self.call()

    peakmem_batch_norm_4d.params = figure_parameters(kernel)

    def track_seconds_per_gb(self, target, device, size):
        return self.seconds_per_gb()

    track_seconds_per_gb.unit = "s/GB"
    track_seconds_per_gb.params = figure_parameters(kernel)
