"""Training: one SGD step of an MLP 784-256-10 (ReLU) with cross-entropy, on MNIST-shaped data.

``size`` is the batch size B (x is (B, 784)). Small batches measure per-call overhead
(dispatch, allocation), large ones the matrix products; ``track_seconds_per_epoch`` turns the
step's time into what a user waits for, a pass over 60000 examples (ceil(60000 / B) steps), over
the whole sweep of batches.
"""

from .common import KernelBenchmark, duet_row, figure_parameters, parameters


class MLPStep(KernelBenchmark):
    """Forward, cross-entropy gradient, back-propagation and an SGD update of both layers."""

    kernel = "mlp_step"
    params = parameters(kernel)

    def time_mlp_step(self, target, device, size):
        self.call()

    track_vs_baseline = duet_row(kernel)

    def peakmem_mlp_step(self, target, device, size):
        self.call()

    peakmem_mlp_step.params = figure_parameters(kernel)

    def track_seconds_per_gflop(self, target, device, size):
        return self.seconds_per_gflop()

    track_seconds_per_gflop.unit = "s/GFLOP"
    track_seconds_per_gflop.params = figure_parameters(kernel)

    def track_seconds_per_epoch(self, target, device, size):
        return self.seconds_per_epoch()

    track_seconds_per_epoch.unit = "s/epoch"
    # per epoch over the sweep of batches, as time_: how it falls as the batch grows is the point
