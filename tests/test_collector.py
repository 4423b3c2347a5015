"""collector.fewer_collections: raised thresholds while requests run, and exactly the process's own afterwards,
whatever the nesting and the threads."""
import gc
import threading

import pytest

import chainrule as cr
from chainrule.collector import fewer_collections


@pytest.fixture
def thresholds():
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_raised_inside_and_restored_after_nested_requests(thresholds):
    gc.set_threshold(700, 10, 10)
    with fewer_collections():
        assert gc.get_threshold() == (20_000, 50, 50)
        with fewer_collections():
            assert gc.get_threshold() == (20_000, 50, 50)
        assert gc.get_threshold() == (20_000, 50, 50)
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.parametrize("own", [(0, 10, 10), (50_000, 100, 100), (30_000, 5, 7)])
def test_collection_off_or_already_rarer_is_left_alone(thresholds, own):
    gc.set_threshold(*own)
    with fewer_collections():
        assert gc.get_threshold() == own
    assert gc.get_threshold() == own


def test_restored_after_an_error(thresholds):
    gc.set_threshold(700, 10, 10)
    with pytest.raises(cr.ChainruleError):
        cr.derivative("x'*A*", "x")
    with pytest.raises(ZeroDivisionError), fewer_collections():
        raise ZeroDivisionError
    assert gc.get_threshold() == (700, 10, 10)


def test_overlapping_requests_in_threads_restore_the_first_thresholds(thresholds):
    gc.set_threshold(700, 10, 10)
    inside, release = threading.Barrier(3), threading.Event()

    def request():
        with fewer_collections():
            inside.wait(timeout=30)
            release.wait(timeout=30)

    threads = [threading.Thread(target=request) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        inside.wait(timeout=30)         # both are inside: the thresholds are raised once
        assert gc.get_threshold() == (20_000, 50, 50)
    finally:
        release.set()
        for t in threads:
            t.join()
    assert gc.get_threshold() == (700, 10, 10)


def test_the_api_collects_rarely_while_it_works(thresholds):
    # parsing, differentiating and printing a 3,000-term sum makes some 200,000 objects: about 300 collections at
    # the default thresholds, a handful at the raised ones (plus one or two between the calls)
    runs = []
    gc.set_threshold(700, 10, 10)
    gc.callbacks.append(record := lambda phase, info: runs.append(phase) if phase == "start" else None)
    try:
        cr.derivative("+".join(f"sin(x{k})" for k in range(3000)), "x1").text()
    finally:
        gc.callbacks.remove(record)
    assert 0 < len(runs) < 30
    assert gc.get_threshold() == (700, 10, 10)
