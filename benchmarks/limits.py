"""Bounded work: time, peak memory and outcome of the stress inputs of issue 7, one subprocess each.

Every request either answers or stops with a LimitError that names the limit; this table shows which, and how long
and how much memory it took. Each case runs in a fresh Python process (so one slow or huge case cannot hang or starve
the others) with a wall-clock timeout and an address-space cap; the child measures its own time (wall and CPU, the
imports excluded) and its peak resident memory (`resource.getrusage`, imports included).

Run: .venv/bin/python benchmarks/limits.py [--timeout 20] [--only SUBSTRING]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

from common import markdown_table

# The child: runs one snippet with `cr` and `np` in scope, reports JSON on its last line of stdout.
CHILD = r"""
import json, resource, sys, time
cap = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
import numpy as np
import chainrule as cr
import contextlib, os
if "cli(" in sys.argv[1]:     # only there: the command's modules would add to every other case's peak memory
    from chainrule.cli import main
report = {}

def cli(argv):
    # the whole command-line request, in this process (its modules imported), its output thrown away
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        status = main(argv)
    if status != 0:
        raise SystemExit(f"exit status {status}")

wall, cpu = time.perf_counter(), time.process_time()
try:
    exec(sys.argv[1], {"cr": cr, "np": np, "report": report, "cli": cli})
    outcome = "answered"
except cr.LimitError as error:
    line = error.message.splitlines()[0]
    outcome = "LimitError (" + (line.rsplit("(", 1)[-1].rstrip(")") if line.endswith(")") else "?") + ")"
except cr.ChainruleError as error:
    outcome = type(error).__name__ + ": " + error.message.splitlines()[0][:60]
except MemoryError:
    outcome = "MemoryError"
except RecursionError:
    outcome = "RecursionError"
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"outcome": outcome, "wall": wall, "cpu": cpu, "peak_mb": peak, **report}))
"""


# (group, input as shown, snippet). Snippets build long texts in the child, so the command line stays short.
CASES = [
    ("power", "`A^1e20`", "cr.parse('A^1e20')"),
    ("power", "`A^100000`", "cr.parse('A^100000')"),
    ("power", "`A^1000`, derivative by `A`, printed", "report['chars'] = len(cr.derivative('A^1000', 'A').text())"),
    ("power", "`A^1000` evaluated (n = 100)",
     "cr.parse('A^1000').evaluate(A=np.linalg.qr(np.random.default_rng(0).standard_normal((100, 100)))[0])"),
    ("order", "`x'*x`, order 99999999999999999999", "cr.derivative(\"x'*x\", 'x', order=99999999999999999999)"),
    ("order", "`exp(x'*x)`, order 8, printed",
     "report['chars'] = len(cr.derivative(\"exp(x'*x)\", 'x', order=8).text())"),
    ("order", "`exp(x'*x)`, order 10 (the default order limit), printed",
     "report['chars'] = len(cr.derivative(\"exp(x'*x)\", 'x', order=10).text())"),
    ("order", "`exp(x'*x)`, order 20 (order limit raised to 20)",
     "with cr.limits(order=20): cr.derivative(\"exp(x'*x)\", 'x', order=20)"),
    ("order", "`sin(a)*exp(a)/(1+a^2)`, order 10",
     "report['chars'] = len(cr.derivative('sin(a)*exp(a)/(1+a^2)', 'a', order=10).text())"),
    ("long input", "sum of 50,000 terms `x0+x1+...` (~150,000 chars), by `x3`",
     ("t = '+'.join(f'x{k % 10}' for k in range(50000)); report['chars'] = len(t)\n"
      "cr.derivative(t, 'x3').text()")),
    ("long input", "sum `x+x+...` (100,000 chars), by `x`",
     "t = '+'.join(['x'] * 50000); report['chars'] = len(t); cr.derivative(t, 'x').text()"),
    ("long input", "sum `a+a+...` of 100,000 terms (199,999 chars, the input limit), by `a`",
     "t = '+'.join(['a'] * 100000); report['chars'] = len(t); cr.derivative(t, 'a').text()"),
    ("long input", "sum `a+a+...` of 500,000 terms (999,999 chars)",
     "t = '+'.join(['a'] * 500000); report['chars'] = len(t); cr.derivative(t, 'a').text()"),
    ("long input", "`x'*A*A*...*A*x`, 25,000 factors (50,000 chars), by `x`",
     "t = \"x'*\" + '*'.join(['A'] * 25000) + '*x'; report['chars'] = len(t); cr.derivative(t, 'x').text()"),
    ("long input", "`x'*A*A*...*A*x`, 50,000 factors (100,000 chars), by `x`",
     "t = \"x'*\" + '*'.join(['A'] * 50000) + '*x'; report['chars'] = len(t); cr.derivative(t, 'x').text()"),
    ("long input", "`x'*A*A*...*A*x`, 5,000 factors (10,000 chars), by `A`, printed",
     "t = \"x'*\" + '*'.join(['A'] * 5000) + '*x'; report['chars'] = len(cr.derivative(t, 'A').text())"),
    ("long input", "`x'*A*A*...*A*x`, 7,500 factors (15,000 chars, near the node limit), by `A`, printed",
     "t = \"x'*\" + '*'.join(['A'] * 7500) + '*x'; report['chars'] = len(cr.derivative(t, 'A').text())"),
    ("long input", "`x'*A*A*...*A*x`, 20,000 factors (40,000 chars), by `A`, printed",
     "t = \"x'*\" + '*'.join(['A'] * 20000) + '*x'; report['chars'] = len(cr.derivative(t, 'A').text())"),
    ("long input", "`x.*x.*...` (33,000 factors, 99,000 chars), by `x`",
     "t = '.*'.join(['x'] * 33000); report['chars'] = len(t); cr.derivative(t, 'x').text()"),
    ("long input", "`sin(x0).*sin(x1).*...` (100,000 chars), by `x1`",
     ("t = '.*'.join(f'sin(x{k % 100})' for k in range(10000)); report['chars'] = len(t);"
      "cr.derivative(t, 'x1').text()")),
    ("long input", "`[a; a; ...]`, 50,000 entries (100,000 chars), by `a`",
     "t = '[' + ';'.join(['a'] * 50000) + ']'; report['chars'] = len(t); cr.derivative(t, 'a').text()"),
    ("long input", "`[a; a; ...]`, 5,000 entries (10,000 chars), by `a`",
     "t = '[' + ';'.join(['a'] * 5000) + ']'; report['chars'] = len(t); cr.derivative(t, 'a').text()"),
    ("long input", "`x0*x0+x1*x1+...` (each `xk` re-kinded to a scalar; 100,000 chars), by `x7`",
     "t = '+'.join(f'x{k}*x{k}' for k in range(9000)); report['chars'] = len(t); cr.derivative(t, 'x7').text()"),
    ("long input", "200,001 characters", "cr.parse('x' * 200001)"),
    ("CLI", "`chainrule diff` of `x'*A*A*...*A*x`, 50,000 factors, `--wrt x`",
     "t = \"x'*\" + '*'.join(['A'] * 50000) + '*x'; report['chars'] = len(t); cli(['diff', t, '--wrt', 'x'])"),
    ("CLI", "`chainrule diff` of `[a; a; ...]`, 50,000 entries, `--wrt a`",
     "t = '[' + ';'.join(['a'] * 50000) + ']'; report['chars'] = len(t); cli(['diff', t, '--wrt', 'a'])"),
    ("CLI", "`chainrule diff` of `x+x+...` (100,000 chars), `--wrt x`",
     "t = '+'.join(['x'] * 50000); report['chars'] = len(t); cli(['diff', t, '--wrt', 'x'])"),
    ("CLI", "`chainrule diff` of `x.*x.*...` (99,000 chars), `--wrt x`",
     "t = '.*'.join(['x'] * 33000); report['chars'] = len(t); cli(['diff', t, '--wrt', 'x'])"),
    ("CLI", "`chainrule diff` of `sin(x0).*sin(x1).*...` (100,000 chars), `--wrt x1`",
     ("t = '.*'.join(f'sin(x{k % 100})' for k in range(10000)); report['chars'] = len(t);"
      "cli(['diff', t, '--wrt', 'x1'])")),
    ("nesting", "`sin(sin(...(a)))` 10,000 deep, by `a`, printed",
     "t = 'sin(' * 10000 + 'a' + ')' * 10000; report['chars'] = len(cr.derivative(t, 'a').text())"),
    ("nesting", "`((...(x)...))` 10,001 deep", "cr.parse('(' * 10001 + 'x' + ')' * 10001)"),
    ("nesting", "`---...-x`, 500,000 signs, by `x`", "cr.derivative('-' * 500000 + 'x', 'x').text()"),
    ("explain", "`explain` of `sin(sin(...(x)))` 1,000 deep",
     "t = 'sin(' * 1000 + 'x' + ')' * 1000; report['chars'] = len(cr.explain(t, 'x').text())"),
    ("explain", "`explain` of `sin(x0)+sin(x1)+...`, 2,000 terms",
     "t = '+'.join(f'sin(x{k})' for k in range(2000)); report['chars'] = len(cr.explain(t, 'x1').text())"),
    ("trace", "`trace` of `sin(sin(...(a)))` 4,000 deep at a = 0.5",
     "t = 'sin(' * 4000 + 'a' + ')' * 4000; report['chars'] = len(cr.trace(t, 'a', {'a': 0.5}).text())"),
    ("evaluation", "`eye(100000000)` evaluated", "cr.parse('eye(100000000)').evaluate()"),
    ("evaluation", "Hessian of `sum(exp(x))` at n = 100,000",
     "cr.hessian('sum(exp(x))', 'x').evaluate(x=np.zeros(100000))"),
    ("evaluation", "Hessian of `sum(exp(x))` at n = 10,000",
     "cr.hessian('sum(exp(x))', 'x').evaluate(x=np.zeros(10000))"),
    ("printing", "`norm1(B-A)`, `B` and `A` of declared size 10**12, by `B`, printed",
     "report['chars'] = len(cr.derivative(cr.parse('norm1(B-A)', B=(10**12,), A=(10**12,)), 'B').text())"),
]


def run_case(snippet: str, timeout: float, cap: int) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, snippet, str(cap)], capture_output=True, text=True,
                              timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        return {"outcome": f"killed at the {timeout:g} s timeout", "wall": time.perf_counter() - start}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return {"outcome": f"crashed (exit {done.returncode}): {last[:80]}", "wall": time.perf_counter() - start}
    return json.loads(lines[-1])


def table(timeout: float, cap: int, only: str | None) -> str:
    rows = []
    for group, shown, snippet in CASES:
        if only and only not in shown.replace("`", ""):
            continue
        r = run_case(snippet, timeout, cap)
        cpu = f"{r['cpu']:.2f}" if "cpu" in r else "—"
        peak = f"{r['peak_mb']:.0f}" if "peak_mb" in r else "—"
        out = f"{r['chars']:,}" if "chars" in r else ""
        rows.append([group, shown.replace("|", "\\|"), r["outcome"], f"{r['wall']:.2f}", cpu, peak, out])
        print(f"  {shown}: {r['outcome']} {r['wall']:.2f} s", file=sys.stderr, flush=True)
    return markdown_table(["group", "input", "outcome", "wall s", "CPU s", "peak MB", "chars (input or output)"],
                          rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds before a case is killed")
    parser.add_argument("--cap-gb", type=float, default=6.0, help="address-space cap of each case, GB")
    parser.add_argument("--only", help="run only the cases whose input contains this text")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Python {platform.python_version()}, {os.cpu_count()} CPU cores, load average {load:.1f} at the start; "
          f"timeout {args.timeout:g} s, address space capped at {args.cap_gb:g} GB per case.\n")
    print(table(args.timeout, int(args.cap_gb * 2**30), args.only))


if __name__ == "__main__":
    main()
