"""CPU training and evaluation pick their torch threads from the cores idle right now (a busy
shared CPU makes extra threads wait on each other: 8 minutes for one SmolLM2 step with 2
threads at load ~10)."""

from __future__ import annotations

import os
import threading
import time

from thoughtdistill.cpu import idle_cores


def test_idle_cores_is_between_one_and_the_allowed_cores():
    cores = len(os.sched_getaffinity(0))
    assert 1 <= idle_cores(0.2) <= cores


def test_a_busy_core_is_not_counted_idle():
    cores = len(os.sched_getaffinity(0))
    quiet = idle_cores(0.3)
    stop = time.monotonic() + 1.0

    def spin():
        while time.monotonic() < stop:
            pass

    worker = threading.Thread(target=spin)
    worker.start()
    try:
        busy = idle_cores(0.5)
    finally:
        worker.join()
    assert busy <= max(1, min(quiet, cores - 1)) or cores == 1
