"""Load a report in real headless Chromium and return its DOM and console messages.

Used by the tests (and handy for CI): ``chromium --headless --dump-dom`` with
``--enable-logging=stderr`` prints every console message as an ``INFO:CONSOLE`` line.
Debian: ``apt-get install -y chromium chromium-driver``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
         # Any attempt to reach the network fails loudly instead of fetching.
         "--host-resolver-rules=MAP * ~NOTFOUND"]
CONSOLE = re.compile(r":CONSOLE(?:\(\d+\)|:\d+)?\]\s*(.*)")


@dataclass
class BrowserCheck:
    dom: str
    console: list[str]
    stderr: str


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def load_in_chromium(html_path: str | Path, timeout: float = 120) -> BrowserCheck:
    exe = chromium_path()
    if exe is None:
        raise FileNotFoundError("chromium not installed (Debian: apt-get install -y chromium chromium-driver)")
    with tempfile.TemporaryDirectory(prefix="td-chromium-") as profile:
        proc = subprocess.run(
            [exe, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", Path(html_path).resolve().as_uri()],
            capture_output=True, text=True, timeout=timeout)
    console = [m.group(1) for line in proc.stderr.splitlines() if (m := CONSOLE.search(line))]
    return BrowserCheck(proc.stdout, console, proc.stderr)
