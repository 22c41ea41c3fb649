"""nnconform's conformance checks: a pytest suite with a plugin, run against any target.

nnconform check --target torch     (or: pytest --pyargs nnconform.checks --target torch)
"""
