r"""asv benchmarks of the kernels in ``nnconform.checks.perf``, across commits.

One module per family (``bench_optimizers.py``, ``bench_normalization.py``, ...) and one class
per kernel, parametrised over ``[targets, devices, sizes]`` as numpy's and scipy's benchmarks
are (``time_<kernel>`` over the kernel's whole default sweep; ``peakmem_`` and ``track_`` at its
largest size); ``bench_memory.py`` records the machine's STREAM bandwidth beside them.
``common.py`` holds what every class shares, and says where a run's time goes. Targets are the
built-in implementations that run here (the reference, torch's paths, JAX's) and yours. Each
kernel's ``size`` is its own: elements of a flat vector, or a batch N (the class says which).
Run them with asv from the repository root (asv.conf.json):

    asv run --python=same --quick            # this environment, each benchmark once; add
                                             # --set-commit-hash $(git rev-parse HEAD) to save
    NNCONFORM_ASV_BASELINE=/abs/tree asv continuous --factor 1.05 main HEAD -b track_vs_baseline
                                             # the gate: each commit's reference against one
                                             # baseline version, in one process (the duet rows)
    asv continuous --interleave-rounds --factor 1.05 main HEAD -b "time_\w+\('reference'"
                                             # the times: two commits, their rounds alternating

The gate is the duet rows, ``track_vs_baseline`` (``KernelBenchmark.ratio_to_baseline``): the
commit's reference timed interleaved with a baseline version's in one process, so that the
machine's drift cancels in their quotient; listed only when NNCONFORM_ASV_BASELINE names the
baseline's tree. ``time_`` rows carry samples, from which asv judges whether a change is
significant, but their rounds are a minute apart and the machine drifts between them (README:
"Benchmarks across commits"); the other ``track_`` figures (s/GB, s/GFLOP, s/epoch) and
``peakmem_`` are single numbers, the graphs' derived units. asv's ``-b`` matches
``name(param, ...)``, so ``-b "time_\w+\('reference'"`` selects the reference's rows (add
your targets' names to the group): the torch, JAX and Keras rows are pinned libraries,
controls that a commit here does not change, and their speed moves by ±10 to 20 % from one
process to the next.

Environment variables, read when asv discovers the benchmarks and again in every benchmark
process (so set them for the whole asv command):

    NNCONFORM_BENCH_TARGETS   comma-separated target specs benchmarked beside the built-ins
                              (``my_kernels,my_package.adapter:make_target``)
    NNCONFORM_BENCH_LARGE=1   adds the larger sizes of ``kernels.default_sizes``
                              (``nnconform.checks.perf``)
    NNCONFORM_BENCH_DEVICES   the devices of the grid, comma-separated (default: cpu, and cuda
                              where a GPU driver is present)
    NNCONFORM_ASV_BASELINE    an absolute path to a tree that holds the baseline's nnconform
                              as pip installs it (``pip install --no-deps --target PATH
                              CHECKOUT``): lists the duet rows
"""
