"""The pipeline's local servers: one torch thread per parallel request on CPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from thoughtdistill.cpu import usable_cores
from thoughtdistill.pipeline.recipe import ServerSpec
from thoughtdistill.pipeline.servers import server_threads, start_server


def test_threads_split_the_cores_between_parallel_requests():
    cores = usable_cores()
    assert server_threads(1) == cores
    assert server_threads(cores) == 1
    assert server_threads(4 * cores) == 1  # never zero


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc/<pid>/environ")
def test_cpu_server_process_gets_its_thread_count(smollm2_path, tmp_path, monkeypatch):
    # A real llm-katan transformers server over the SmolLM2 fixture.
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    spec = ServerSpec(model=str(smollm2_path), backend="transformers", max_concurrent=2, max_tokens=8)
    server = start_server("judge", spec, tmp_path / "judge")
    try:
        assert _environ(server.process.pid)["OMP_NUM_THREADS"] == str(server_threads(2))
    finally:
        server.stop()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc/<pid>/environ")
def test_users_thread_setting_wins(smollm2_path, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    spec = ServerSpec(model=str(smollm2_path), backend="transformers", max_concurrent=2, max_tokens=8)
    server = start_server("judge", spec, tmp_path / "judge")
    try:
        assert _environ(server.process.pid)["OMP_NUM_THREADS"] == "3"
    finally:
        server.stop()
