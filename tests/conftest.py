import os

import numpy as np
import pytest

from chainrule.numeric.evaluate import checking

# Every evaluation in the suite asserts that each node's value has exactly the node's shape (a float array): here
# through the fixture below, in the command-line subprocesses the tests start through this variable.
os.environ["CHAINRULE_CHECK_SHAPES"] = "1"


@pytest.fixture(scope="session", autouse=True)
def checked_evaluation():
    with checking():
        yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)
