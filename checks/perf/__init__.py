"""Performance: the kernels ``nnconform bench`` and the asv benchmarks time, the timing harness,
the machine's STREAM bandwidth and a record of the machine."""
