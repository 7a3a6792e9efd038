"""The CPU cores this process may use (the affinity mask, not the machine's count)."""

from __future__ import annotations

import os
import time


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def idle_cores(window_s: float = 0.5) -> int:
    """Cores idle right now (Linux ``/proc/stat`` over ``window_s``), at least 1.

    On a shared CPU more torch threads than idle cores make every step wait for the slowest
    thread: measured here on 2 cores with the load average near 10, one 8-sequence step of
    SmolLM2 took over 8 minutes with 2 threads (bench/RESULTS.md `## eval` saw the same 8x in
    generation). The 1-minute load average lags (it still counts the stage or servers a pipeline
    has just finished), so the idle time is sampled instead. Elsewhere: every allowed core.
    """
    cores = usable_cores()

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            values = [int(v) for v in fh.readline().split()[1:]]
        return sum(values), values[3] + (values[4] if len(values) > 4 else 0)  # total, idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(window_s)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return cores
    machine = os.cpu_count() or cores
    idle = machine * (idle1 - idle0) / max(1, total1 - total0)
    return max(1, min(cores, round(idle)))
