"""Load on `chainrule serve`: concurrent clients sending a mix of derive / explain / trace / export requests, some of
which hit the limits (an expression over the server's length limit, a derivative order over chainrule's, a syntax
error, and a runaway stopped by the time limit). Every request must be answered (no lost request) and none with a
server error (5xx, or a worker lost); the script reports throughput and latency percentiles.

    .venv/bin/python benchmarks/serve_load.py                    # 20 clients, 1,000 requests, its own server
    .venv/bin/python benchmarks/serve_load.py --url http://127.0.0.1:8000/ --requests 300

The runaway would stop at chainrule's node limit before the time limit, so the server started here raises that limit
(RUNAWAY_LIMITS); a server given with --url needs the same (`chainrule serve --limit nodes=100000000`).

Exit status 0 when every request was answered without a server error, 1 otherwise.
"""
from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

# the node limit raised, so that the runaway of the mix runs until the server's time limit stops it
RUNAWAY_LIMITS = {"nodes": 10**8}

# (weight, kind, query): the mix; "limit" entries are expected to come back as errors of the given kind
MIX = (
    (20, "derive", {"expr": "x'*A*x", "wrt": "x"}),
    (8, "derive", {"expr": "norm2(X*w-y)^2", "wrt": "w", "order": "2"}),
    (8, "derive", {"expr": "sum(log(1+exp(-y.*(X*w))))", "wrt": "w"}),
    (6, "derive", {"expr": "inv(X)", "wrt": "X"}),
    (12, "explain", {"expr": "max(0, w'*x+b)", "wrt": "w"}),
    (8, "explain", {"expr": "ln(sin(x^3)^2)", "wrt": "x", "var": "x:scalar"}),
    (12, "trace", {"expr": "max(0, w'*x+b)", "wrt": "w"}),
    (8, "trace", {"expr": "softmax(x)'*y", "wrt": "x"}),
    (6, "export", {"expr": "tr(X'*A*X)", "wrt": "X"}),
    (4, "derive", {"expr": "x+" * 6000 + "x", "wrt": "x", "_expect": "limit"}),
    (4, "derive", {"expr": "exp(a)", "wrt": "a", "order": "11", "_expect": "LimitError"}),
    (3, "derive", {"expr": "x'*A*", "wrt": "x", "_expect": "ParseError"}),
    (1, "derive", {"expr": "exp(sin(x)'*x)", "wrt": "x", "order": "10", "_expect": "timeout"}),  # 5 s alone
)


@dataclass
class Tally:
    latencies: list = field(default_factory=list)
    statuses: dict = field(default_factory=dict)
    kinds: dict = field(default_factory=dict)
    server_errors: list = field(default_factory=list)
    unexpected: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def one_request(base: str, kind: str, query: dict, timeout: float) -> tuple[int, dict]:
    url = urlsplit(base)
    body = json.dumps({k: v for k, v in query.items() if not k.startswith("_")}).encode()
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)
    try:
        if len(body) < 2000:     # GET as a shared link does; long expressions by POST
            q = "&".join(f"{k}={quote(str(v))}" for k, v in query.items() if not k.startswith("_"))
            conn.request("GET", f"/api/{kind}?{q}")
        else:
            conn.request("POST", f"/api/{kind}", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def client(base: str, jobs: list, tally: Tally, timeout: float) -> None:
    for kind, query in jobs:
        started = time.perf_counter()
        try:
            status, answer = one_request(base, kind, query, timeout)
        except Exception as error:
            status, answer = 0, {"error": {"kind": f"lost: {type(error).__name__}: {error}"}}
        elapsed = time.perf_counter() - started
        got = answer.get("error", {}).get("kind", "ok") if isinstance(answer, dict) else "not JSON"
        with tally.lock:
            tally.latencies.append(elapsed)
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            tally.kinds[got] = tally.kinds.get(got, 0) + 1
            if status == 0 or status >= 500 or got in ("lost", "internal") or got.startswith("lost"):
                tally.server_errors.append((kind, query.get("expr", "")[:40], status, got))
            elif got != query.get("_expect", "ok"):
                tally.unexpected.append((kind, query.get("expr", "")[:40], got))


def plan(requests: int, clients: int, seed: int) -> list[list]:
    rng = random.Random(seed)
    weights = [w for w, _, _ in MIX]
    picks = rng.choices([(k, q) for _, k, q in MIX], weights, k=requests)
    return [picks[c::clients] for c in range(clients)]


def run_load(base: str, clients: int = 20, requests: int = 1000, seed: int = 0, timeout: float = 300.0) -> dict:
    """Send the requests from `clients` threads; the report: counts, throughput, latency percentiles."""
    tally = Tally()
    threads = [threading.Thread(target=client, args=(base, jobs, tally, timeout)) for jobs in plan(requests, clients,
                                                                                                   seed)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    lat = sorted(tally.latencies)
    return {"requests": requests, "answered": len(lat) - tally.statuses.get(0, 0), "clients": clients,
            "wall_s": wall, "throughput_per_s": len(lat) / wall, "p50_ms": 1000 * statistics.median(lat),
            "p95_ms": 1000 * lat[int(0.95 * (len(lat) - 1))], "max_ms": 1000 * lat[-1], "statuses": tally.statuses,
            "answers": tally.kinds, "server_errors": tally.server_errors, "unexpected": tally.unexpected}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server (default: start one here)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="workers of the server started here")
    parser.add_argument("--timeout", type=float, default=2.0, help="time limit of the server started here (s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    server = None
    if args.url is None:
        from chainrule.web.server import Settings, start
        server, _ = start(Settings(port=0, workers=args.workers, timeout=args.timeout, limit_changes=RUNAWAY_LIMITS))
        args.url = server.url
    try:
        report = run_load(args.url, args.clients, args.requests, args.seed)
    finally:
        if server is not None:
            from chainrule.web.server import stop
            stop(server)
    print(json.dumps(report, indent=2))
    print(f"{report['answered']}/{report['requests']} answered, {len(report['server_errors'])} server errors; "
          f"{report['throughput_per_s']:.1f} requests/s, p50 {report['p50_ms']:.0f} ms, p95 {report['p95_ms']:.0f} ms "
          f"({args.clients} clients, {args.workers} workers)")
    ok = report["answered"] == report["requests"] and not report["server_errors"] and not report["unexpected"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
