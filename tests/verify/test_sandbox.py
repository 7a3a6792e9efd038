"""Sandbox: normal runs, and each attack stopped or denied, reported as a failed run, with
the host (this test process) unharmed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from thoughtdistill.verify.sandbox import SandboxLimits, isolation_mode, run_python

NS = isolation_mode() == "namespaces"
FAST = SandboxLimits(cpu_s=2, wall_s=4, memory_mb=512, nproc=16)


def test_runs_code_with_stdin():
    res = run_python("print(input()[::-1])", stdin="abc\n")
    assert res.ok and res.returncode == 0 and res.stdout == "cba\n" and res.reason is None


def test_error_is_a_failed_run():
    res = run_python("raise ValueError('boom')")
    assert not res.ok and res.returncode == 1 and "ValueError: boom" in res.reason


def test_ten_gigabyte_allocation_is_stopped():
    res = run_python("x = bytearray(10 * 1024**3)\nprint('allocated')", limits=FAST)
    assert not res.ok and "allocated" not in res.stdout and "memory" in res.reason


def test_parent_api_key_is_not_visible(monkeypatch):
    monkeypatch.setenv("THOUGHTDISTILL_TEST_API_KEY", "sk-should-never-leak")
    code = (
        "import os, glob\n"
        "assert 'THOUGHTDISTILL_TEST_API_KEY' not in os.environ, 'env leaked'\n"
        "for p in glob.glob('/proc/[0-9]*/environ'):\n"
        "    try:\n"
        "        data = open(p, 'rb').read()\n"
        "    except OSError:\n"
        "        continue\n"
        "    assert b'sk-should-never-leak' not in data, 'leaked via ' + p\n"
        "open(f'/proc/{os.getppid()}/environ').read()\n"  # the parent's environment
    )
    res = run_python(code, limits=FAST)
    assert not res.ok
    if NS:  # other processes' environments are unreadable to the sandbox uid
        assert "Permission denied" in res.reason or "No such file" in res.reason
    assert "leaked" not in res.stderr
    assert sorted(run_python("import os; print(' '.join(sorted(os.environ)))").stdout.split()) == [
        "HOME", "LANG", "LC_ALL", "PATH", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED", "PYTHONIOENCODING"]


def test_opening_a_socket_is_denied():
    code = "import socket\ns = socket.create_connection(('127.0.0.1', 22), timeout=2)\nprint('connected')"
    res = run_python(code, limits=FAST)
    assert not res.ok and "connected" not in res.stdout
    res = run_python("import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=2)", limits=FAST)
    assert not res.ok
    assert ("unreachable" in res.reason) if NS else ("network access is disabled" in res.reason)


@pytest.mark.skipif(not NS, reason="write confinement needs the namespace isolation (root on Linux)")
def test_writing_outside_its_dir_is_denied(tmp_path):
    target_repo = Path(__file__).resolve().parents[2] / "SANDBOX_ESCAPE"
    lock_dir = Path("/run/lock/SANDBOX_ESCAPE")  # world-writable on the host: masked too
    for target in (target_repo, Path("/tmp/SANDBOX_ESCAPE"), tmp_path / "escape", lock_dir):
        res = run_python(f"open({str(target)!r}, 'w').write('x')\nprint('wrote')", limits=FAST)
        assert not res.ok and "wrote" not in res.stdout, res
        assert not target.exists()
        assert "Permission denied" in res.reason or "Read-only" in res.reason or "No such file" in res.reason
    inside = run_python("open('out.txt', 'w').write('hi'); print(open('out.txt').read())", limits=FAST)
    assert inside.ok and inside.stdout == "hi\n"


def test_endless_output_is_capped():
    res = run_python("while True: print('x' * 1000)", limits=SandboxLimits(fsize_mb=1, wall_s=10))
    assert not res.ok and len(res.stdout) <= 1024 * 1024 + 100


@pytest.mark.slow
def test_infinite_loop_is_stopped():
    res = run_python("while True: pass", limits=SandboxLimits(cpu_s=1, wall_s=5))
    assert not res.ok and not res.timed_out and "CPU time limit" in res.reason
    res = run_python("import time\ntime.sleep(60)", limits=SandboxLimits(cpu_s=1, wall_s=1.5))
    assert not res.ok and res.timed_out and "wall-clock" in res.reason and res.wall_s < 10


def _sandbox_processes() -> list[str]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid >= 1_200_000:
                    pids.append(entry)
            except OSError:
                pass
    return pids


@pytest.mark.slow
def test_fork_bomb_is_contained():
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    res = run_python(code, limits=SandboxLimits(cpu_s=2, wall_s=3, nproc=16))
    assert not res.ok
    # the host survives and can still start processes; nothing of the bomb is left behind
    assert run_python("print('alive')").stdout == "alive\n"
    if NS:
        assert _sandbox_processes() == []


@pytest.mark.skipif(not NS, reason="a private /proc needs the namespace isolation (root on Linux)")
def test_host_processes_are_not_visible():
    res = run_python("import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))", limits=FAST)
    assert res.ok and len(eval(res.stdout)) <= 3, res.stdout  # its own namespace only, not the host's


MASKED = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")  # empty inside the sandbox anyway


def _visible_in_sandbox(path: Path) -> bool:
    real = path.resolve()
    return path.is_file() and not any(real.is_relative_to(Path(m).resolve()) for m in MASKED)


@pytest.mark.skipif(not NS, reason="hiding files needs the namespace isolation (root on Linux)")
def test_hidden_files_read_empty(data_dir):
    """verify hides its input (the tests with their expected outputs) from the programs it checks."""
    # a world-readable file the program can see: the shared tests file, unless the checkout
    # (and its data) lives under /tmp, which the sandbox masks whole; then a system file
    candidates = [data_dir / "code_tests.jsonl", Path("/etc/os-release"), Path("/etc/passwd")]
    target = next(p for p in candidates if _visible_in_sandbox(p))
    code = f"print(len(open({str(target)!r}).read()))"
    assert int(run_python(code, limits=FAST).stdout) > 0
    hidden = run_python(code, limits=FAST.model_copy(update={"hide": [str(target)]}))
    assert hidden.ok and hidden.stdout.strip() == "0"
    assert target.stat().st_size > 0  # untouched outside the sandbox


def test_verify_hides_its_input_from_the_programs():
    from thoughtdistill.verify.sandbox import SandboxLimits
    from thoughtdistill.verify import with_hidden_paths

    limits = with_hidden_paths(SandboxLimits(hide=["/a"]), Path("rel/in.jsonl"))
    assert limits.hide == ["/a", str(Path("rel/in.jsonl").resolve())]
