"""Run the whole benchmark suite and print one Markdown report.

Run: .venv/bin/python benchmarks/run_all.py
"""

import os
import platform
import time

import numpy as np
import sympy as sp

import derivation_time
import evaluation_time


def environment() -> str:
    return (f"Python {platform.python_version()}, NumPy {np.__version__}, SymPy {sp.__version__}, "
            f"{os.cpu_count()} CPU cores, {platform.machine()} {platform.system()}.")


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
