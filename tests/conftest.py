import os

import numpy as np
import pytest

from chainrule.ir import checking

# Checking mode (chainrule.ir.checking): every Expr the suite makes passes the validity pass (ir/validate.py), and
# every evaluation asserts that each node's value has exactly the node's shape (a float array). Here through the
# fixture below, in the command-line subprocesses the tests start through this variable.
os.environ["CHAINRULE_CHECK_SHAPES"] = "1"


@pytest.fixture(scope="session", autouse=True)
def checked_evaluation():
    with checking():
        yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)
