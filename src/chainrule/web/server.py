"""The HTTP server of `chainrule serve`: the standard library's ThreadingHTTPServer, a page and a small JSON API.

Why the standard library: a local tool for one person needs no framework, and every dependency is one more thing to
install and keep safe. The server
- listens on 127.0.0.1 unless told otherwise, and answers only requests whose Host header names its own address
  (a page elsewhere cannot reach it through a DNS name that resolves to 127.0.0.1: DNS rebinding);
- refuses long addresses (414), large bodies (413) and long expressions (413) before any work;
- computes each request in a worker process with a time limit (pool.py): a runaway is stopped and reported (as an
  error in the answer), and the other requests go on;
- sends the page with a Content-Security-Policy that allows nothing but itself: no request leaves the machine.

API: GET /api/<derive|explain|trace|export>?expr=...&wrt=...&var=A:symmetric&order=2&layout=...&mode=...&at=x:1,2
(export also takes target=numpy|torch|jax and hessian=1; or POST with the same names in a JSON object),
GET /api/examples. Answers are JSON. Every request that was
answered is 200: the result, or {"error": {"kind", "message", "text", "start", "end", "hint", "rendered"}} for an
expression chainrule refuses, a limit or the time limit ("kind": "timeout"), so that the page's console stays clean;
a malformed request is 4xx (400, 403 for a foreign Host header, 404, 413 for a large body, 414 for a long address),
and 503 says every worker stayed busy.
"""
from __future__ import annotations

import json
import signal
import sys
import threading
import webbrowser
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from .jobs import KINDS, RequestError, examples, read_params
from .pool import Busy, Timeout, WorkerLost, WorkerPool

STATIC = {"/": ("index.html", "text/html; charset=utf-8"), "/index.html": ("index.html", "text/html; charset=utf-8"),
          "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/static/style.css": ("style.css", "text/css; charset=utf-8")}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
                               "style-src 'self' 'unsafe-inline'; font-src 'self'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Settings:
    """What `chainrule serve` was asked for. Limits: characters of an expression, bytes of a request body and of
    its address, seconds one derivation may take; `workers` processes compute."""
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    timeout: float = 10.0
    max_chars: int = 10_000
    max_body: int = 64 * 1024
    max_url: int = 16 * 1024
    allowed_hosts: tuple[str, ...] = ()
    limit_changes: dict = field(default_factory=dict)
    quiet: bool = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, settings: Settings):
        self.settings = settings
        super().__init__((settings.host, settings.port), Handler)
        self.pool = WorkerPool(settings.workers, settings.timeout, settings.limit_changes)
        self.allowed = _allowed_hosts(settings.host, self.server_address[1], settings.allowed_hosts)

    @property
    def url(self) -> str:
        host = self.settings.host
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
        return f"http://{shown}:{self.server_address[1]}/"

    def server_close(self) -> None:
        super().server_close()
        self.pool.close()


def _allowed_hosts(host: str, port: int, extra: tuple[str, ...]) -> frozenset[str]:
    """The Host header values that name this server: its address with the port (and the loopback names when it
    listens on loopback or on every interface), and the names given with --allow-host."""
    names = {host, *extra}
    if host in LOOPBACK or host in ("0.0.0.0", "::", ""):
        names |= set(LOOPBACK)
    allowed = set()
    for name in names:
        shown = f"[{name}]" if ":" in name else name
        allowed |= {f"{shown}:{port}".lower()}
    return frozenset(allowed)


class Handler(BaseHTTPRequestHandler):
    server: Server
    server_version = "chainrule"
    protocol_version = "HTTP/1.1"

    # ---- checks every request passes first ----
    def _checked(self) -> bool:
        if len(self.path) > self.server.settings.max_url:
            self._error(HTTPStatus.REQUEST_URI_TOO_LONG, "the address is too long",
                        "Send a long expression with POST instead.")
            return False
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in self.server.allowed:
            self._error(HTTPStatus.FORBIDDEN, f"this server answers only requests for its own address, not {host!r}",
                        "Open the address that `chainrule serve` printed (DNS rebinding protection).")
            return False
        return True

    def do_GET(self) -> None:
        if not self._checked():
            return
        url = urlsplit(self.path)
        if url.path in STATIC:
            self._static(*STATIC[url.path])
        elif url.path == "/api/examples":
            self._json(HTTPStatus.OK, {"examples": examples()})
        elif url.path.startswith("/api/"):
            try:
                query = parse_qs(url.query, keep_blank_values=True, max_num_fields=200)
            except ValueError:
                self._error(HTTPStatus.BAD_REQUEST, "too many parameters")
                return
            self._api(url.path[5:], query)
        else:
            self._error(HTTPStatus.NOT_FOUND, f"nothing at {url.path}")

    def do_POST(self) -> None:
        if not self._checked():
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._error(HTTPStatus.LENGTH_REQUIRED, "a POST needs a Content-Length")
            return
        if length > self.server.settings.max_body or length < 0:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                        f"the request has {length:,} bytes, more than the limit of {self.server.settings.max_body:,}")
            self.close_connection = True
            return
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except (ValueError, UnicodeDecodeError):
            self._error(HTTPStatus.BAD_REQUEST, "the body is not JSON")
            return
        if not isinstance(body, dict):
            self._error(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
            return
        self._api(urlsplit(self.path).path.removeprefix("/api/"), body)

    # ---- answers ----
    def _api(self, kind: str, query: dict) -> None:
        if kind not in KINDS:
            self._error(HTTPStatus.NOT_FOUND, f"no API {kind!r}", f"Use one of {', '.join(KINDS)}.")
            return
        try:
            params = read_params(query, self.server.settings.max_chars)
            result = self.server.pool.run(kind, params)
        except RequestError as error:
            self._error(HTTPStatus.OK if error.status == 413 else HTTPStatus(error.status), error.message, error.hint,
                        "limit" if error.status == 413 else "request")
        except Timeout as error:
            self._error(HTTPStatus.OK, f"the computation took too long and was {error}",
                        "Try a smaller expression or a lower order, or start the server with a larger --timeout.",
                        "timeout")
        except Busy as error:
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, str(error), "Try again in a moment.", "busy")
        except WorkerLost as error:
            self._error(HTTPStatus.OK, str(error), "It may have run out of memory.", "lost")
        else:
            self._json(HTTPStatus.OK, result)

    def _error(self, status: HTTPStatus, message: str, hint: str = "", kind: str = "request") -> None:
        rendered = "\n".join(filter(None, [message, hint]))
        self._json(status, {"error": {"kind": kind, "message": message, "hint": hint or None, "text": None,
                                      "start": None, "end": None, "rendered": rendered}})

    def _json(self, status: HTTPStatus, payload: dict) -> None:
        self._send(status, json.dumps(payload, allow_nan=False, default=str).encode(), "application/json")

    def _static(self, name: str, content_type: str) -> None:
        data = resources.files("chainrule.web").joinpath("static", name).read_bytes()
        self._send(HTTPStatus.OK, data, content_type)

    def _send(self, status: HTTPStatus, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        if not self.server.settings.quiet:
            super().log_message(format, *args)


def start(settings: Settings) -> tuple[Server, threading.Thread]:
    """A server answering in a background thread (tests, benchmarks, notebooks); stop it with stop(server)."""
    server = Server(settings)
    thread = threading.Thread(target=server.serve_forever, name="chainrule-serve", daemon=True)
    thread.start()
    return server, thread


def stop(server: Server) -> None:
    server.shutdown()
    server.server_close()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(settings: Settings, open_browser: bool = False) -> None:
    """Run until Ctrl-C: print the address, optionally open it in the default browser."""
    server = Server(settings)
    signal.signal(signal.SIGTERM, _interrupt)      # `kill` stops the workers too, as Ctrl-C does
    print(f"chainrule serve: {server.url}  (Ctrl-C stops it)", flush=True)
    if open_browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("chainrule serve: stopped", file=sys.stderr)
    finally:
        server.server_close()
