"""nnconform: a property-based conformance and benchmark suite for neural-network training
algorithms.

One import package, whose parts are the repository's top-level folders:

    nnconform.reference   the oracle: every catalogue algorithm as a float64 numpy function
    nnconform.checks      the conformance suite (pytest + Hypothesis), its targets and the bench
    nnconform.reports     the self-contained HTML report

and, shared by all of them, ``nnconform.files`` (results written whole or not at all),
``nnconform.units`` and the command line ``nnconform.cli`` (``python -m nnconform``).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nnconform")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "unknown"
