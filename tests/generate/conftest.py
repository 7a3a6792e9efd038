import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("td_teacher_server", Path(__file__).parent.parent / "api" / "teacher_server.py")
teacher_server = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(teacher_server)


@pytest.fixture
def stub_server():
    """Factory: start_stub(**flags) → a real starlette/uvicorn OpenAI-compatible server."""
    started = []

    def start(**flags):
        server = teacher_server.start_stub(**flags)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
