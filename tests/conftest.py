"""Shared fixtures: real data from ../shared/data, real models built once per run,
real local OpenAI-compatible servers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HOME", str(ROOT / ".cache" / "hf"))
os.environ.setdefault("HF_DATASETS_CACHE", str(ROOT / ".cache" / "hf" / "datasets"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("THOUGHTDISTILL_CACHE", str(ROOT / ".cache" / "thoughtdistill"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    from shared_data import shared_data_dir

    return shared_data_dir()


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    from thoughtdistill.models import ensure_model

    return ensure_model("smollm2")


@pytest.fixture(scope="session")
def tiny_qwen3_path() -> Path:
    from thoughtdistill.models import ensure_model

    return ensure_model("tiny-qwen3")


@pytest.fixture
def echo_server(tmp_path):
    """A real llm-katan echo server on 127.0.0.1 (no faults, no latency)."""
    from thoughtdistill.pipeline.katan import katan

    with katan(workdir=tmp_path / "katan") as server:
        yield server


@pytest.fixture(scope="session")
def smollm2_server(smollm2_path, tmp_path_factory):
    """A real llm-katan transformers server generating with the SmolLM2 fixture."""
    from thoughtdistill.pipeline.katan import katan

    with katan(model=str(smollm2_path), backend="transformers", served_name="smollm2",
               max_concurrent=2, max_tokens=256,
               workdir=tmp_path_factory.mktemp("katan-smol")) as server:
        yield server


@pytest.fixture
def stub_server():
    """Factory: start_stub(**flags) → a real starlette/uvicorn OpenAI-compatible server
    (tests/api/teacher_server.py) that can answer 429 bursts, reasoning_content and n."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "td_teacher_server", Path(__file__).parent / "api" / "teacher_server.py")
    teacher_server = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(teacher_server)
    started = []

    def start(**flags):
        server = teacher_server.start_stub(**flags)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
