"""nnconform's checks: the conformance suite and the ``nnconform`` command line."""
