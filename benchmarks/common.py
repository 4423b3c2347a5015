"""Timing and Markdown helpers shared by the benchmark scripts."""

import ctypes
import ctypes.util
import statistics
import time
import timeit
from collections.abc import Callable, Sequence


def median_time(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of `repeat` single calls, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def first_call_time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def steady_time(fn: Callable[[], object], repeat: int = 5, budget: float = 0.05) -> float:
    """Best per-call time after two warm-up calls, `timeit` style (min of `repeat` loops)."""
    fn()
    fn()
    once = median_time(fn, 3)
    number = max(1, int(budget / max(once, 1e-9)))
    return min(timeit.Timer(fn).repeat(repeat, number)) / number


def paired_times(a: Callable[[], object], b: Callable[[], object], rounds: int = 3) -> tuple[float, float]:
    """Steady times of `a` and `b`, measured in alternation so that a burst of machine load hits both."""
    first, second = alternating_times([a, b], rounds)
    return first, second


def alternating_times(fns: Sequence[Callable[[], object]], rounds: int = 3) -> list[float]:
    """Steady times of each of `fns`, measured in turn, `rounds` times over; the best of each."""
    rows = [[steady_time(fn) for fn in fns] for _ in range(rounds)]
    return [min(column) for column in zip(*rows, strict=True)]


# glibc's mallopt parameters
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def steady_allocator() -> bool:
    """Keep freed memory in the process (glibc): the same arrays are allocated on every call being timed, and by
    default glibc may hand a freed block of megabytes back to the system and page-fault it in again at the next call,
    or not, depending on what else lies at the top of its heap. On the one-hidden-layer MLP at n = 1000 (an 8 MB
    gradient) the same torch.autograd step measured 1.03 ms with 1.4 million page faults in one row and 0.77 ms with
    few in the next. With these settings both sides of every ratio reuse their memory. False where the C library is
    not glibc (nothing is changed)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        return False
    if mallopt is None:
        return False
    # never trim the heap; blocks up to 32 MB (glibc's largest threshold on 64-bit) from the heap, not mmap
    return bool(mallopt(_M_TRIM_THRESHOLD, 1 << 30)) and bool(mallopt(_M_MMAP_THRESHOLD, 32 << 20))


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1e3:.3g}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def code(text: str) -> str:
    return "`" + text.replace("|", "\\|") + "`"
