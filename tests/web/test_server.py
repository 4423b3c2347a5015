"""The server over HTTP, without a browser: the API, the Host check, the size limits, the time limit (a runaway is
stopped while other requests are answered), concurrent requests, the static files, and the `serve` command."""
from __future__ import annotations

import http.client
import json
import select
import subprocess
import sys
import threading
import time
from urllib.parse import quote, urlsplit

import pytest

from chainrule.web.server import Settings, start, stop


def request(server, method: str, path: str, body: bytes | None = None, host: str | None = None,
            headers: dict | None = None) -> tuple[int, dict, bytes]:
    url = urlsplit(server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    conn.putrequest(method, path, skip_host=True)
    conn.putheader("Host", host if host is not None else url.netloc)
    for name, value in (headers or {}).items():
        conn.putheader(name, value)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), data


def api(server, kind: str, **query) -> tuple[int, dict]:
    q = "&".join(f"{k}={quote(str(v))}" for k, values in query.items()
                 for v in (values if isinstance(values, list) else [values]))
    status, _, data = request(server, "GET", f"/api/{kind}?{q}")
    return status, json.loads(data)


def test_derive_returns_text_latex_mathml_shape_and_check(server):
    status, answer = api(server, "derive", expr="x'*A*x", wrt="x", var="A:symmetric")
    assert status == 200
    assert answer["result"]["text"] == "2*x'*A"
    assert answer["result"]["mathml"].startswith("<math")
    assert answer["result"]["shape"] == ["n"] and answer["check"]["ok"] is True
    assert {v["name"]: v["kind"] for v in answer["variables"]} == {"x": "vector", "A": "symmetric matrix"}


def test_post_with_json_body_is_the_same_as_get(server):
    body = json.dumps({"expr": "x'*A*x", "wrt": "x", "order": "2"}).encode()
    status, _, data = request(server, "POST", "/api/derive", body, headers={"Content-Type": "application/json"})
    assert status == 200 and json.loads(data)["result"]["text"] == "A+A'"


def test_explain_trace_and_export(server):
    _, work = api(server, "explain", expr="ln(sin(x^3)^2)", wrt="x", var="x:scalar")
    assert "Step 4" in work["html"] and "<svg" in work["svg"] and set(work["nodes"]) == {"u1", "u2", "u3", "u4"}
    _, tr = api(server, "trace", expr="max(0, w'*x+b)", wrt="w", at=["w:0.5,-0.3", "x:1,2", "b:0.4"])
    assert tr["ok"] and tr["trace"]["gradients"][0]["backprop"]["data"] == [1.0, 2.0]
    assert tr["values"]["w"] == "0.5,-0.3"
    _, ex = api(server, "export", expr="x'*A*x", wrt="x")
    assert ex["text"] == "x'*(A+A')" and ex["latex"]


def test_export_with_the_hessian_computes_it(server):
    """hessian=1 adds `hessian` to the generated module; run, it equals the closed form of norm2(X*w-y)^2's
    Hessian, 2 X'X, at random values (and hessian=0, the default, leaves it out)."""
    import numpy as np

    _, ex = api(server, "export", expr="norm2(X*w-y)^2", wrt="w", order="2", hessian="1")
    assert ex["hessian"] is True and ex["text"] == "2*X'*X" and "def hessian(" in ex["code"], ex
    module: dict = {}
    exec(ex["code"], module)
    rng = np.random.default_rng(1)
    X, w, y = rng.standard_normal((5, 3)), rng.standard_normal(3), rng.standard_normal(5)
    np.testing.assert_allclose(module["hessian"](X=X, w=w, y=y), 2 * X.T @ X, rtol=1e-12)
    _, plain = api(server, "export", expr="norm2(X*w-y)^2", wrt="w")
    assert plain["hessian"] is False and "def hessian(" not in plain["code"]
    status, answer = api(server, "export", expr="norm2(X*w-y)^2", wrt="w", hessian="maybe")
    assert status == 400 and "hessian" in answer["error"]["message"]


def test_an_error_of_the_expression_has_its_position(server):
    status, answer = api(server, "derive", expr="x'*A*", wrt="x")
    assert status == 200
    error = answer["error"]
    assert error["kind"] == "ParseError" and error["text"] == "x'*A*" and error["start"] is not None
    assert "^" in error["rendered"]


def test_foreign_host_header_is_refused(server):
    for host in ("evil.example:80", f"attacker.test:{server.server_address[1]}", ""):
        status, _, data = request(server, "GET", "/", host=host)
        assert status == 403, host
        assert "own address" in json.loads(data)["error"]["message"]
    assert request(server, "GET", "/", host=f"localhost:{server.server_address[1]}")[0] == 200


def test_size_limits(server):
    long = json.dumps({"expr": "x+" * 6000 + "x", "wrt": "x"}).encode()    # 12,001 > 10,000 characters
    status, _, data = request(server, "POST", "/api/derive", long)
    assert status == 200 and json.loads(data)["error"]["kind"] == "limit"
    status, _, _ = request(server, "POST", "/api/derive", b"{" + b" " * 100_000 + b"}")
    assert status == 413
    status, _, _ = request(server, "GET", "/api/derive?expr=" + "x" * 20_000)
    assert status == 414
    assert api(server, "derive", expr="x", order="0")[0] == 400
    assert api(server, "nothing", expr="x")[0] == 404
    assert request(server, "POST", "/api/derive", b"[1, 2]")[0] == 400


def test_chainrule_limits_are_reported(server):
    status, answer = api(server, "derive", expr="exp(a)", wrt="a", order=11)
    assert status == 200 and answer["error"]["kind"] == "LimitError" and "order" in answer["error"]["message"]


def test_static_files_and_security_headers(server):
    status, headers, page = request(server, "GET", "/")
    assert status == 200 and b'<script src="/static/app.js"' in page
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    for path in ("/static/app.js", "/static/style.css"):
        assert request(server, "GET", path)[0] == 200
    assert b"http" not in request(server, "GET", "/static/app.js")[2].replace(b"HTTP", b"")   # no outside address
    assert request(server, "GET", "/static/../pyproject.toml")[0] == 404


@pytest.fixture(scope="module")
def quick():
    """A server whose time limit is short, with two workers, both started (their start-up does not count). Its node
    limit is raised: the runaway below would stop at the node limit within the time limit, and the time limit is what
    these tests are about."""
    srv, _ = start(Settings(port=0, workers=2, timeout=1.5, limit_changes={"nodes": 10**8}))
    warm = [threading.Thread(target=api, args=(srv, "derive"), kwargs={"expr": "a*b", "wrt": "a"}) for _ in range(2)]
    for t in warm:
        t.start()
    for t in warm:
        t.join(120)
    yield srv
    stop(srv)


def test_a_runaway_is_stopped_and_the_server_keeps_answering(quick):
    answers = {}

    def slow():
        answers["slow"] = api(quick, "derive", expr="exp(sin(x)'*x)", wrt="x", order=10)   # 5 s alone

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.3)
    status, fast = api(quick, "derive", expr="sin(a)", wrt="a")       # the other worker answers meanwhile
    assert status == 200 and fast["result"]["text"] == "cos(a)"
    assert thread.is_alive()                                          # while the runaway still runs
    thread.join(60)
    status, slow_answer = answers["slow"]
    assert status == 200 and slow_answer["error"]["kind"] == "timeout"
    assert api(quick, "derive", expr="x'*x", wrt="x")[1]["result"]["text"] == "2*x'"   # a fresh worker took over


def test_concurrent_requests_all_answered(server):
    exprs = ["x'*A*x", "sum(exp(x))", "norm2(X*w-y)^2", "tr(X'*A*X)", "x*", "max(0, w'*x+b)"] * 4
    results = [None] * len(exprs)

    def one(k: int) -> None:
        results[k] = api(server, "derive", expr=exprs[k])

    threads = [threading.Thread(target=one, args=(k,)) for k in range(len(exprs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(r is not None and r[0] == 200 for r in results)
    assert sum("error" in r[1] for r in results) == 4                 # the four "x*" only


def test_serve_command_prints_its_address_and_refuses_a_bad_port():
    done = subprocess.run([sys.executable, "-m", "chainrule.cli", "serve", "--port", "70000"], capture_output=True,
                          check=False, text=True, timeout=60)
    assert done.returncode == 2 and "--port" in done.stderr
    process = subprocess.Popen([sys.executable, "-m", "chainrule.cli", "serve", "--port", "0", "--workers", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert select.select([process.stdout], [], [], 60)[0], "serve printed nothing in 60 s"
        line = process.stdout.readline()
        assert line.startswith("chainrule serve: http://127.0.0.1:")
    finally:
        process.terminate()
        process.wait(30)


def test_host_option_warns(monkeypatch, capsys):
    monkeypatch.setattr("chainrule.web.command.serve", lambda settings, open_browser: None)
    from chainrule.cli import main
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 0
    assert "warning" in capsys.readouterr().err
