"""Run untrusted Python (a teacher's solution) in a local sandbox.

What is enforced (see docs/judge.md, "Sandbox"):

- always: a fresh temp working dir (deleted afterwards); a clean environment (only
  ``PATH``, ``LANG``, ``HOME``=the working dir; nothing from the parent, so no API keys);
  rlimits on CPU seconds (SIGXCPU, then SIGKILL), address space (memory), file size
  (stdout/stderr and files: SIGXFSZ), open files and processes; a wall-clock timeout that
  kills the whole process group; stdout/stderr captured to files capped by the file-size
  limit, so a program printing forever cannot fill the parent's memory.
- as root on Linux (``isolation == "namespaces"``): new network namespace (no interfaces
  but a down loopback: no network at all), new pid namespace (everything the program
  started dies with it: fork bombs are bounded by the process limit and cleaned up), new
  mount namespace with a fresh /proc and read-only empty tmpfs over the world-writable /tmp,
  /var/tmp, /dev/shm, /run/lock and /dev/mqueue (the working dir is bind-mounted at /tmp/sandbox), and the program runs under its own
  unprivileged uid (so it cannot write anywhere that is not world-writable, cannot read
  other processes' environments, and the process limit counts only its own processes).
- otherwise (``isolation == "rlimits"``): the rlimits above and a preamble that replaces
  ``socket.socket`` (best effort: code can undo it); writes are not confined.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..stage_io import NoEffectPath

LAUNCHER = Path(__file__).with_name("_launcher.py")
_UID_BASE = 1_200_000
_uid_counter = itertools.count()
_uid_lock = threading.Lock()
_mode_cache: dict[str, str] = {}


class SandboxLimits(BaseModel):
    """Resource limits for one run."""

    model_config = ConfigDict(extra="forbid")

    cpu_s: float = Field(10.0, gt=0, description="CPU seconds (RLIMIT_CPU)")
    wall_s: float = Field(20.0, gt=0, description="wall-clock seconds before the process group is killed")
    memory_mb: int = Field(1024, ge=64, description="address-space limit in MB (RLIMIT_AS)")
    nproc: int = Field(32, ge=1, description="processes/threads the program may have (RLIMIT_NPROC)")
    fsize_mb: int = Field(16, ge=1, description="largest file it may write in MB, stdout included (RLIMIT_FSIZE)")
    chain_wall_s: float = Field(120.0, gt=0, description="wall-clock seconds for all the tests of one chain")
    hide: NoEffectPath[list[str]] = Field(default_factory=list, description="files made unreadable inside the sandbox "
                            "(namespaces only), e.g. the chains file holding the tests")
    python: NoEffectPath[str | None] = Field(None, description="interpreter; default: this one if others can run it, else python3")
    isolation: str = Field("auto", pattern="^(auto|namespaces|rlimits)$",
                           description="auto | namespaces | rlimits: namespaces (root on Linux) or resource "
                           "limits only; auto picks namespaces where unshare works")


@dataclass
class RunResult:
    ok: bool
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    reason: str | None = None  # why it failed: "wall-clock timeout", "CPU time limit", ...
    isolation: str = ""
    wall_s: float = 0.0
    extra: dict = field(default_factory=dict)


def _world_runnable(path: str) -> bool:
    """Can an unprivileged uid run this interpreter and read its standard library?"""
    real = Path(os.path.realpath(path))
    for parent in [*reversed(real.parents), real]:
        try:
            mode = parent.stat().st_mode
        except OSError:
            return False
        if not mode & 0o001:
            return False
    lib = Path(sys.base_prefix)
    return all(p.stat().st_mode & 0o001 for p in [*reversed(lib.parents), lib] if p.exists())


def default_python(for_uid_drop: bool) -> str:
    if not for_uid_drop or _world_runnable(sys.executable):
        return sys.executable
    for cand in ("/usr/bin/python3", "/usr/local/bin/python3", shutil.which("python3") or ""):
        if cand and os.path.exists(cand) and _world_runnable_simple(cand):
            return cand
    return sys.executable


def _world_runnable_simple(path: str) -> bool:
    real = Path(os.path.realpath(path))
    return all(p.stat().st_mode & 0o001 for p in [*reversed(real.parents), real])


def isolation_mode(requested: str = "auto") -> str:
    """'namespaces' when root on Linux and unshare works here, else 'rlimits'."""
    if requested != "auto":
        return requested
    if "auto" not in _mode_cache:
        mode = "rlimits"
        if sys.platform.startswith("linux") and os.geteuid() == 0:
            probe = _spawn("print('ok')", "", SandboxLimits(cpu_s=5, wall_s=20), "namespaces")
            if probe.ok and probe.stdout.strip() == "ok":
                mode = "namespaces"
        _mode_cache["auto"] = mode
    return _mode_cache["auto"]


def _next_uid() -> int:
    with _uid_lock:
        return _UID_BASE + (os.getpid() % 10_000) * 1000 + next(_uid_counter) % 1000


def _clean_env(home: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": home,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONHASHSEED": "0",
    }


def _count_user_processes() -> int:
    uid = os.getuid()
    n = 0
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


def run_python(code: str, stdin: str = "", limits: SandboxLimits | None = None) -> RunResult:
    """Run ``code`` as a script (``main.py`` in a fresh dir) with ``stdin``; never raises
    for anything the program does: failures come back as ``ok=False`` with a ``reason``."""
    limits = limits or SandboxLimits()
    return _spawn(code, stdin, limits, isolation_mode(limits.isolation))


def _read_capped(path: Path, cap: int) -> str:
    with open(path, "rb") as fh:
        data = fh.read(cap + 1)
    text = data[:cap].decode("utf-8", errors="replace")
    return text + ("\n[... output cut]" if len(data) > cap else "")


def _spawn(code: str, stdin: str, limits: SandboxLimits, mode: str) -> RunResult:
    root = Path(tempfile.mkdtemp(prefix="td-sandbox-"))
    os.chmod(root, 0o700)
    work = root / "work"
    work.mkdir()
    io_dir = root / "io"
    io_dir.mkdir()
    uid = _next_uid()
    try:
        (work / "main.py").write_text(code, encoding="utf-8")
        (io_dir / "stdin").write_text(stdin or "", encoding="utf-8")
        if mode == "namespaces":
            os.chown(work, uid, uid)
            os.chmod(work, 0o700)
            os.chmod(work / "main.py", 0o644)
        spec = {
            "mode": mode,
            "uid": uid,
            "python": limits.python or default_python(mode == "namespaces"),
            "cpu_s": max(1, int(limits.cpu_s + 0.999)),
            "memory_mb": limits.memory_mb,
            "nproc": limits.nproc,
            "fsize_mb": limits.fsize_mb,
            "env": _clean_env("/tmp/sandbox" if mode == "namespaces" else str(work)),
            "hide": [p for p in limits.hide if os.path.isfile(p)],
        }
        if mode != "namespaces":
            spec["nproc_base"] = _count_user_processes()
        import json

        start = time.monotonic()
        with open(io_dir / "stdin", "rb") as fin, open(io_dir / "stdout", "wb") as fout, \
                open(io_dir / "stderr", "wb") as ferr:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", str(LAUNCHER), json.dumps(spec)],
                stdin=fin, stdout=fout, stderr=ferr, cwd=work, env=spec["env"],
                start_new_session=True, close_fds=True,
            )
            timed_out = False
            try:
                proc.wait(timeout=limits.wall_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(proc)
            finally:
                if proc.poll() is None:
                    _kill_group(proc)
        elapsed = time.monotonic() - start
        cap = limits.fsize_mb * 1024 * 1024
        out = _read_capped(io_dir / "stdout", cap)
        err = _read_capped(io_dir / "stderr", cap)
        rc = proc.returncode
        reason = None if (rc == 0 and not timed_out) else _why(rc, err, timed_out, limits)
        return RunResult(rc == 0 and not timed_out, rc, out, err, timed_out, reason, mode, elapsed)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _why(rc: int | None, stderr: str, timed_out: bool, limits: SandboxLimits) -> str:
    if timed_out:
        return f"wall-clock timeout after {limits.wall_s:g}s (process group killed)"
    tail = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    if len(tail) > 300:  # one line can be megabytes: keep its end, where the error is
        tail = "…" + tail[-300:]
    if rc is not None and rc < 0:
        sig = -rc
        if sig == signal.SIGXCPU:
            return f"CPU time limit ({limits.cpu_s:g}s) exceeded"
        if sig == signal.SIGXFSZ:
            return f"file size limit ({limits.fsize_mb} MB) exceeded"
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"killed by {name}"
    if "MemoryError" in stderr:
        return f"memory limit ({limits.memory_mb} MB) exceeded (MemoryError)"
    if rc == 125 or rc == 126:
        return f"sandbox failed to start: {tail}"
    return f"exit code {rc}" + (f": {tail}" if tail else "")
