"""Regularisation: dropout in training, a new mask drawn in every call."""

from .common import KernelBenchmark, duet_row, figure_parameters, parameters


class Dropout(KernelBenchmark):
    """Inverted dropout, keep p = 0.9 (Srivastava et al. 2014): the draw of the mask is timed,
    as frameworks draw theirs inside the kernel."""

    kernel = "dropout"
    params = parameters(kernel)

    def time_dropout(self, target, device, size):
        self.call()

    track_vs_baseline = duet_row(kernel)

    def peakmem_dropout(self, target, device, size):
        self.call()

    peakmem_dropout.params = figure_parameters(kernel)

    def track_seconds_per_gb(self, target, device, size):
        return self.seconds_per_gb()

    track_seconds_per_gb.unit = "s/GB"
    track_seconds_per_gb.params = figure_parameters(kernel)
