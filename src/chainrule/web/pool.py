"""Worker processes that compute the page's requests, each under a time limit.

A derivation runs in its own process so that one that takes too long (a huge expression, a high order) can be
stopped: the worker is killed, a fresh one takes its place, and the request is answered with a timeout error while the
server goes on answering the others. A worker is `python -m chainrule.web.pool`, a clean interpreter (forking a
threaded server is unsafe, and multiprocessing's "spawn" would re-run the caller's main script), speaking one JSON
line per request and per answer on its standard input and output. It says when it is ready, so that its start-up
never counts against a request's time.
"""
from __future__ import annotations

import dataclasses
import json
import queue
import select
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Any

from ..limits import limits
from .jobs import Params, answer, as_json

READY = "ready"
START_TIMEOUT = 120.0      # seconds a fresh worker may take to import chainrule (a busy machine)


class Timeout(Exception):
    """A request ran past the time limit; its worker was killed."""


class Busy(Exception):
    """No worker became free in time."""


class WorkerLost(Exception):
    """A worker died while computing (out of memory, killed from outside)."""


@dataclass
class _Worker:
    process: subprocess.Popen
    ready: bool = False

    def readable(self, timeout: float) -> bool:
        assert self.process.stdout is not None
        return bool(select.select([self.process.stdout], [], [], timeout)[0])

    def read_line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise WorkerLost("the worker process stopped")
        return line

    def wait_ready(self) -> None:
        if self.ready:
            return
        if not self.readable(START_TIMEOUT) or self.read_line().strip() != READY:
            raise WorkerLost("a worker process did not start")
        self.ready = True

    def send(self, kind: str, params: Params) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"kind": kind, "params": dataclasses.asdict(params)}) + "\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(5)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


class WorkerPool:
    """`size` worker processes; run(kind, params) answers within `timeout` seconds of computing, or raises Timeout."""

    def __init__(self, size: int, timeout: float, limit_changes: dict | None = None, wait: float = 120.0):
        self.timeout, self.wait, self.limit_changes = timeout, wait, dict(limit_changes or {})
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(size):
            self._idle.put(self._start())

    def _start(self) -> _Worker:
        command = [sys.executable, "-m", "chainrule.web.pool", json.dumps(self.limit_changes)]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                   encoding="utf-8", bufsize=1)
        worker = _Worker(process)
        with self._lock:
            self._workers.append(worker)
        return worker

    def _replace(self, worker: _Worker) -> None:
        worker.stop()
        with self._lock:
            self._workers.remove(worker)
            closed = self._closed
        if not closed:
            self._idle.put(self._start())

    def run(self, kind: str, params: Params) -> dict:
        """The answer of the job `kind` (jobs.JOBS) for `params` (a jobs.Params)."""
        try:
            worker = self._idle.get(timeout=self.wait)
        except queue.Empty:
            raise Busy(f"every worker was busy for {self.wait:g} s") from None
        try:
            worker.wait_ready()
            worker.send(kind, params)
            if not worker.readable(self.timeout):
                self._replace(worker)
                raise Timeout(f"stopped after {self.timeout:g} s")
            result = json.loads(worker.read_line())
        except (OSError, ValueError, WorkerLost) as error:
            self._replace(worker)
            raise WorkerLost(f"the worker computing this request stopped ({type(error).__name__})") from None
        self._idle.put(worker)
        return result

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._workers)
        for worker in workers:
            worker.stop()


def _work(limit_changes: dict) -> None:
    """A worker's loop: read a request line, write the answer line; until standard input closes."""
    print(READY, flush=True)
    with limits(**limit_changes):
        for line in sys.stdin:
            request = json.loads(line)
            fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in request["params"].items()}
            params = Params(**fields)
            print(as_json(answer(request["kind"], params)), flush=True)


if __name__ == "__main__":
    _work(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})
