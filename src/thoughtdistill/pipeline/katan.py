"""Real OpenAI-compatible servers on 127.0.0.1 (llm-katan): the pipeline's local teacher and
judge, and the servers tests and benches talk to. Real HTTP servers, not mocks."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx

from ..errors import ThoughtDistillError

# llm-katan only checks that an Authorization header is present; this is not a secret.
LOCAL_KEY = "local-test-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalServer:
    base_url: str
    model: str
    process: subprocess.Popen
    workdir: Path
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def katan_executable() -> str:
    exe = shutil.which("llm-katan") or str(Path(sys.executable).parent / "llm-katan")
    if not Path(exe).exists():
        raise ThoughtDistillError("llm-katan is not installed: pip install 'thoughtdistill[dev]'")
    return exe


def katan_command(model: str, backend: str, port: int, *, served_name: str | None, max_concurrent: int,
                  max_tokens: int, stats_file: Path) -> list[str]:
    """The llm-katan command line both the pipeline and tests start (backend flags added after)."""
    cmd = [katan_executable(), "--model", model, "--backend", backend,
           "--host", "127.0.0.1", "--port", str(port), "--max-concurrent", str(max_concurrent),
           "--stats-file", str(stats_file), "--max-tokens", str(max_tokens), "--log-level", "warning"]
    if served_name:
        cmd += ["--served-model-name", served_name]
    return cmd


def start_katan(
    model: str = "echo-teacher",
    *,
    backend: str = "echo",
    served_name: str | None = None,
    max_concurrent: int = 32,
    latency_ms: int = 0,
    error_rate: float = 0.0,
    timeout_after: int = 0,
    max_tokens: int = 512,
    workdir: str | Path | None = None,
    startup_timeout: float = 180.0,
) -> LocalServer:
    """Start llm-katan and wait until /v1/models answers.

    ``backend='transformers'`` with ``model`` a local HF folder serves real generations
    (e.g. the SmolLM2 fixture); ``'echo'`` echoes the prompt with injectable faults.
    """
    workdir = Path(workdir or tempfile.mkdtemp(prefix="katan-"))
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cmd = katan_command(str(model), backend, port, served_name=served_name, max_concurrent=max_concurrent,
                        max_tokens=max_tokens, stats_file=workdir / "stats.json")
    if backend == "echo":
        cmd += ["--latency-ms", str(latency_ms), "--error-rate", str(error_rate),
                "--timeout-after", str(timeout_after)]
    else:
        cmd += ["--device", "cpu", "--no-quantize"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    log_path = workdir / "server.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    server = LocalServer(f"http://127.0.0.1:{port}/v1", served_name or str(model), proc, workdir, log_path)
    wait_ready(server, startup_timeout)
    return server


def wait_ready(server: LocalServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ThoughtDistillError(f"llm-katan exited at start-up:\n{server.log()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            resp = httpx.get(f"{server.base_url}/models",
                             headers={"Authorization": f"Bearer {LOCAL_KEY}"}, timeout=2)
            if resp.status_code == 200:
                return
        time.sleep(0.3)
    server.stop()
    raise ThoughtDistillError(f"llm-katan did not start within {timeout:.0f}s:\n{server.log()[-2000:]}")


@contextlib.contextmanager
def katan(**kwargs) -> Iterator[LocalServer]:
    server = start_katan(**kwargs)
    try:
        yield server
    finally:
        server.stop()
