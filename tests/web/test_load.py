"""A short run of benchmarks/serve_load.py (the full one: 1,000 requests): 20 concurrent clients, a mix of derive,
explain, trace and export requests with some that hit the limits; none lost, no server error."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from chainrule.web.server import Settings, start, stop

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "serve_load.py"


def test_twenty_clients_lose_nothing():
    spec = importlib.util.spec_from_file_location("serve_load", SCRIPT)
    load = importlib.util.module_from_spec(spec)
    sys.modules["serve_load"] = load          # its dataclasses look their module up
    spec.loader.exec_module(load)
    server, _ = start(Settings(port=0, workers=2, timeout=2.0, limit_changes=load.RUNAWAY_LIMITS))
    try:
        report = load.run_load(server.url, clients=20, requests=200, seed=1)
    finally:
        stop(server)
    assert report["answered"] == 200 and not report["server_errors"], report
    assert not report["unexpected"], report["unexpected"]
    assert report["answers"]["limit"] and report["answers"]["LimitError"]
