"""Run the whole benchmark suite and print one Markdown report.

Run: .venv/bin/python benchmarks/run_all.py
"""

import os

# One BLAS thread on both sides: on a small machine thread wake-ups otherwise dominate and blur the ratios.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import platform
import time

import derivation_time
import evaluation_time
import numpy as np
import sympy as sp


def environment() -> str:
    return (f"Python {platform.python_version()}, NumPy {np.__version__}, SymPy {sp.__version__}, "
            f"{os.cpu_count()} CPU cores, {platform.machine()} {platform.system()}, "
            f"BLAS threads {os.environ['OPENBLAS_NUM_THREADS']}.")


def main() -> None:
    start = time.perf_counter()
    print("# chainrule benchmarks\n")
    print(environment() + "\n")
    derivation_time.main()
    print()
    evaluation_time.main()
    print(f"\nSuite wall time: {time.perf_counter() - start:.0f} s.")


if __name__ == "__main__":
    main()
