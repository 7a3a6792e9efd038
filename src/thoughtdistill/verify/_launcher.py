"""Sandbox launcher: runs in the child process, sets up isolation, then execs Python.

Invoked as ``python -I -S _launcher.py '<json spec>'`` by :func:`sandbox.run_python`, with
stdin/stdout/stderr already pointing at files and the working dir as cwd. Standard library
only (it runs before anything else is imported).

As root ("namespaces" isolation):
  unshare(net, mount, pid, ipc, uts) -> fork (pid 1 of the new pid namespace) ->
  private mounts; a fresh /proc; read-only empty tmpfs over the world-writable /tmp, /var/tmp,
  /dev/shm, /run/lock, /dev/mqueue with the working dir bind-mounted at /tmp/sandbox -> fork -> rlimits, drop to an unprivileged uid -> exec.
  When pid 1 exits the kernel kills everything left in the namespace (fork bombs included).
Otherwise ("rlimits" isolation): rlimits, then exec with a preamble that disables sockets.
"""

import ctypes
import json
import os
import resource
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18

NO_NET_PREAMBLE = (
    "import socket as _s\n"
    "def _deny(*a, **k):\n"
    "    raise PermissionError('network access is disabled in the thoughtdistill sandbox')\n"
    "_s.socket = _deny; _s.create_connection = _deny; _s.socketpair = _deny\n"
    "del _s, _deny\n"
)

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src, target, fstype, flags, data=None):
    _check(
        _libc.mount(
            src.encode() if src else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def _set_limits(spec, nproc_base=0):
    def lim(kind, soft, hard=None):
        hard = soft if hard is None else hard
        resource.setrlimit(kind, (soft, hard))

    lim(resource.RLIMIT_CPU, int(spec["cpu_s"]), int(spec["cpu_s"]) + 1)
    mem = int(spec["memory_mb"]) * 1024 * 1024
    lim(resource.RLIMIT_AS, mem)
    lim(resource.RLIMIT_DATA, mem)
    lim(resource.RLIMIT_FSIZE, int(spec["fsize_mb"]) * 1024 * 1024)
    lim(resource.RLIMIT_NPROC, nproc_base + int(spec["nproc"]))
    lim(resource.RLIMIT_CORE, 0)
    lim(resource.RLIMIT_NOFILE, 256)


def _argv(spec, preamble=""):
    py = spec["python"]
    if preamble:
        boot = (
            preamble
            + "import sys, runpy; sys.argv = ['main.py']; sys.path.insert(0, '')\n"
            + "runpy.run_path('main.py', run_name='__main__')\n"
        )
        return [py, "-E", "-s", "-c", boot]
    return [py, "-E", "-s", "main.py"]


def _exit_like(status):
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)  # die by the same signal so the parent sees it
        os._exit(128 + sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def _as_init(spec):
    """pid 1 of the new namespaces: mounts, then fork the program and reap everything."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    # opened inside the new mount namespace: a bind source must belong to it
    work_fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    uid = int(spec["uid"])
    # a /proc of this pid namespace only: the host's process list and command lines stay hidden
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for path in spec.get("hide", []):  # e.g. the chains file with the expected outputs
        _mount("/dev/null", path, None, MS_BIND)
    for target in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/dev/mqueue"):
        if os.path.islink(target):
            continue  # /var/lock -> /run/lock: masked through its target
        if not os.path.isdir(target):
            continue
        _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755")
        if target == "/tmp":
            os.mkdir("/tmp/sandbox", 0o755)
            _mount(f"/proc/self/fd/{work_fd}", "/tmp/sandbox", None, MS_BIND)
        _mount(None, target, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=64k,mode=755")
    os.close(work_fd)
    os.chdir("/tmp/sandbox")
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            _set_limits(spec)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.execve(spec["python"], _argv(spec), spec["env"])
        except BaseException as exc:  # noqa: BLE001
            os.write(2, f"sandbox: cannot start the program: {exc}\n".encode())
            os._exit(126)
    while True:  # reap orphans too; leave when the program itself has ended
        try:
            done, status = os.wait()
        except ChildProcessError:
            os._exit(1)
        if done == pid:
            _exit_like(status)


def main():
    spec = json.loads(sys.argv[1])
    if spec["mode"] == "namespaces":
        flags = CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
        _check(_libc.unshare(ctypes.c_int(flags)), "unshare")
        pid = os.fork()
        if pid == 0:
            try:
                _as_init(spec)
            except BaseException as exc:  # noqa: BLE001
                os.write(2, f"sandbox: set-up failed: {exc}\n".encode())
                os._exit(125)
        _, status = os.waitpid(pid, 0)
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0
        if 128 < code <= 128 + 64:
            # pid 1 cannot kill itself with a signal; it reported 128+sig: re-raise it here
            signal.signal(code - 128, signal.SIG_DFL)
            os.kill(os.getpid(), code - 128)
        _exit_like(status)
    # rlimits only (not root): the best this process can do without namespaces
    nproc_base = int(spec.get("nproc_base", 0))
    _set_limits(spec, nproc_base)
    os.execve(spec["python"], _argv(spec, NO_NET_PREAMBLE), spec["env"])


if __name__ == "__main__":
    main()
