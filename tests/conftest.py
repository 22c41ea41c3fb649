import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed-seed generator: the tests of the oracle are deterministic."""
    return np.random.default_rng(20261122)
