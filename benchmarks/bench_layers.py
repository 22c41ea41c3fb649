"""Layers: a 3 × 3 convolution, forward and backward (dx, dw and db).

Compute-bound (144 multiply-adds per input element in each of the three passes), so the figure
beside the time is ``track_seconds_per_gflop``, the inverse of the achieved FLOP/s.
"""

from .common import KernelBenchmark, duet_row, figure_parameters, parameters


class Conv2d(KernelBenchmark):
    """x (N, 16, 32, 32), w (16, 16, 3, 3), stride 1, padding 1; ``size`` is N, the images."""

    kernel = "conv2d"
    params = parameters(kernel)

    def time_conv2d(self, target, device, size):
        self.call()

    track_vs_baseline = duet_row(kernel)

    def peakmem_conv2d(self, target, device, size):
        self.call()

    peakmem_conv2d.params = figure_parameters(kernel)

    def track_seconds_per_gflop(self, target, device, size):
        return self.seconds_per_gflop()

    track_seconds_per_gflop.unit = "s/GFLOP"
    track_seconds_per_gflop.params = figure_parameters(kernel)
