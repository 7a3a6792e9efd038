"""Local OpenAI-compatible servers started by the pipeline (teacher/judge on this machine).

``transformers``/``echo`` backends run llm-katan; ``vllm`` runs ``vllm serve`` (GPU users);
``auto`` picks vLLM when it is installed and a GPU is visible, else llm-katan transformers.
Servers die with the pipeline (Linux parent-death signal), so a killed run leaves no orphan.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from ..errors import ConfigError, ThoughtDistillError
from ..cpu import usable_cores
from .katan import LOCAL_KEY, LocalServer, free_port, katan_command, wait_ready
from .recipe import ServerSpec

# The env var stages read the local servers' (non-secret) key from.
LOCAL_KEY_ENV = "THOUGHTDISTILL_LOCAL_KEY"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    os.setpgrp()


def resolve_model(model: str, build: bool = True) -> str:
    if model.startswith("fixture:"):
        from ..models import MODEL_NAMES, cache_root, ensure_model

        name = model.split(":", 1)[1]
        if name not in MODEL_NAMES:
            raise ConfigError(f"unknown fixture model {name!r}; choose one of {MODEL_NAMES}")
        return str(ensure_model(name) if build else cache_root() / "models" / name)
    return model


def pick_backend(spec: ServerSpec) -> str:
    if spec.backend != "auto":
        return spec.backend
    if importlib.util.find_spec("vllm") is not None:
        try:
            import torch

            if torch.cuda.is_available():
                return "vllm"
        except ImportError:
            pass
    return "transformers"


def served_name(name: str, spec: ServerSpec) -> str:
    return spec.served_name or name


def server_threads(max_concurrent: int) -> int:
    """Torch threads per request of a CPU llm-katan server: it runs up to ``max_concurrent``
    requests in parallel threads, each with the whole process's thread count, so without a cap
    N requests on C cores run N*C threads. Measured on 2 cores: 2 requests x 1 thread answered
    small judge prompts ~25% faster than 1 x 2 threads (bench/RESULTS.md ## quickstart)."""
    return max(1, usable_cores() // max(1, max_concurrent))


def start_server(name: str, spec: ServerSpec, workdir: Path) -> LocalServer:
    workdir.mkdir(parents=True, exist_ok=True)
    model = resolve_model(spec.model)
    backend = pick_backend(spec)
    port = free_port()
    served = served_name(name, spec)
    if backend == "vllm":
        exe = shutil.which("vllm")
        if exe is None:
            raise ThoughtDistillError(f"server {name}: backend vllm but the `vllm` command is not installed")
        cmd = [exe, "serve", model, "--host", "127.0.0.1", "--port", str(port),
               "--served-model-name", served, "--api-key", LOCAL_KEY, *spec.extra_args]
    else:
        cmd = katan_command(model, backend, port, served_name=served, max_concurrent=spec.max_concurrent,
                            max_tokens=spec.max_tokens, stats_file=workdir / "stats.json")
        if backend == "echo":
            cmd += ["--latency-ms", str(spec.latency_ms), "--error-rate", str(spec.error_rate)]
        else:
            cmd += ["--device", "cpu", "--no-quantize", *spec.extra_args]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if backend == "transformers":
        env.setdefault("OMP_NUM_THREADS", str(server_threads(spec.max_concurrent)))
    for secret in ("OPENAI_API_KEY", "THOUGHTDISTILL_EASYDISTILL_API_KEY"):
        env.pop(secret, None)
    log_path = workdir / "server.log"
    log = open(log_path, "ab")
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir,
                            preexec_fn=preexec)
    log.close()
    server = LocalServer(f"http://127.0.0.1:{port}/v1", served, proc, workdir, log_path)
    wait_ready(server, spec.startup_timeout)
    return server


class ServerPool:
    """Starts servers lazily (only when a stage that runs needs one) and stops them all."""

    def __init__(self, specs: dict[str, ServerSpec], workdir: Path, log=print):
        self.specs = specs
        self.workdir = workdir
        self.running: dict[str, LocalServer] = {}
        self.log = log

    def get(self, name: str) -> LocalServer:
        if name not in self.specs:
            raise ConfigError(f"unknown server {name!r}; servers: {', '.join(self.specs) or 'none'}")
        if name not in self.running:
            spec = self.specs[name]
            self.log(f"starting local server {name} ({spec.backend}, {spec.model})")
            os.environ.setdefault(LOCAL_KEY_ENV, LOCAL_KEY)
            self.running[name] = start_server(name, spec, self.workdir / name)
            self.log(f"server {name} ready at {self.running[name].base_url}")
        return self.running[name]

    def stop_all(self) -> None:
        for name, server in list(self.running.items()):
            server.stop()
            self.running.pop(name, None)
