"""Code answers: extract the program from a response and run it against tests in the
sandbox (:mod:`thoughtdistill.verify.sandbox`).

- stdin/stdout tests (Codeforces / CodeContests style): ``[{"input": ..., "output": ...}]``,
  compared as whitespace-separated tokens;
- function-call tests (HumanEval style): ``code + test_code + check(entry_point)``.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any, Iterable, Mapping

from .result import VerifyResult
from .sandbox import RunResult, SandboxLimits, run_python

BY_STDIO = "sandbox-stdio"
BY_FUNCTION = "sandbox-function"
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+\-.]*)[^\n]*\n(.*?)```", re.DOTALL)
_PY_LANGS = {"python", "py", "python3", "py3"}


def _after_thought(text: str) -> str | None:
    for end in ("</think>", "<|end_of_thought|>"):
        if end in text:
            return text.rsplit(end, 1)[1]
    if "<think>" in text or "<|begin_of_thought|>" in text:
        return None  # the thought never closed: no final program
    return text


def extract_code(text: str | None) -> str | None:
    """The last fenced Python block after the thought (```python / ```py / ```), or None."""
    if not text:
        return None
    tail = _after_thought(text)
    if tail is None:
        return None
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(tail)]
    python = [body for lang, body in blocks if lang in _PY_LANGS]
    plain = [body for lang, body in blocks if not lang]
    chosen = python or plain
    if not chosen:
        return None
    code = chosen[-1].strip("\n")
    return code if code.strip() else None


def _tokens(text: str) -> list[str]:
    return text.split()


def _short(text: str, n: int = 120) -> str:
    text = text.strip()
    return repr(text if len(text) <= n else text[:n] + "…")


def _failure(run: RunResult) -> str:
    return run.reason or f"exit code {run.returncode}"


def check_stdio(
    code: str | None,
    tests: Iterable[Mapping[str, Any]],
    limits: SandboxLimits | None = None,
    stop_at_first: bool = True,
) -> VerifyResult:
    """Run ``code`` once per test with the test's input on stdin; correct when every output
    matches (whitespace-normalised tokens). ``verdict=None`` when there are no tests."""
    tests = list(tests)
    if not tests:
        return VerifyResult(None, BY_STDIO, "no tests to run")
    if not code or not code.strip():
        return VerifyResult(False, BY_STDIO, "no code to run")
    limits = limits or SandboxLimits()
    failures: list[str] = []
    deadline = time.monotonic() + limits.chain_wall_s
    for i, test in enumerate(tests, start=1):
        if time.monotonic() > deadline:
            failures.append(f"time budget for the chain ({limits.chain_wall_s:g}s) spent after {i - 1}/{len(tests)} tests")
            break
        run = run_python(code, stdin=str(test.get("input", "")), limits=limits)
        if not run.ok:
            failures.append(f"test {i}/{len(tests)}: run failed: {_failure(run)}")
        elif _tokens(run.stdout) != _tokens(str(test.get("output", ""))):
            failures.append(
                f"test {i}/{len(tests)}: wrong output: expected {_short(str(test.get('output', '')))}, "
                f"got {_short(run.stdout)}"
            )
        if failures and stop_at_first:
            break
    if failures:
        return VerifyResult(False, BY_STDIO, "; ".join(failures))
    return VerifyResult(True, BY_STDIO, f"passed {len(tests)}/{len(tests)} tests")


# Read before the solution runs: the harness prints it only after check() returned, so a
# solution that exits early (sys.exit(0), os._exit(0), an atexit or excepthook trick) fails.
_NONCE_HEAD = "import sys as _td_sys\n_td_done = _td_sys.stdin.readline().strip()\n"
# Defined after the solution, so it cannot replace them: a value of a class the solution
# defined (an object whose __eq__ always says True, say) is not an answer.
_GUARD = '''
def _td_foreign(value, depth=0):
    if depth > 50:
        return False
    if type(value).__module__ == "__main__":
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_td_foreign(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return any(_td_foreign(k, depth + 1) or _td_foreign(v, depth + 1) for k, v in value.items())
    return False


def _td_guard(fn):
    def guarded(*args, **kwargs):
        value = fn(*args, **kwargs)
        if _td_foreign(value):
            raise AssertionError(f"returned an object of a class the solution defined ({type(value).__name__})")
        return value
    return guarded
'''


def function_program(code: str, test_code: str, entry_point: str) -> str:
    return (f"{_NONCE_HEAD}\n{code}\n\n{test_code}\n{_GUARD}\n"
            f"check(_td_guard({entry_point}))\n_td_sys.stdout.write('\\n' + _td_done + '\\n')\n")


def check_function(
    code: str | None,
    test_code: str,
    entry_point: str,
    limits: SandboxLimits | None = None,
) -> VerifyResult:
    """HumanEval style: run ``code``, then ``test_code`` (defining ``check``), then
    ``check(entry_point)``; correct when it exits cleanly."""
    if not test_code or not entry_point:
        return VerifyResult(None, BY_FUNCTION, "no test code or entry point")
    if not code or not code.strip():
        return VerifyResult(False, BY_FUNCTION, "no code to run")
    done = secrets.token_hex(16)
    run = run_python(function_program(code, test_code, entry_point), stdin=done + "\n",
                     limits=limits or SandboxLimits())
    if not run.ok:
        return VerifyResult(False, BY_FUNCTION, f"check({entry_point}) failed: {_failure(run)}")
    if run.stdout.rstrip().rsplit("\n", 1)[-1] != done:
        return VerifyResult(False, BY_FUNCTION, f"check({entry_point}) never finished: the program exited "
                                                "early (sys.exit, os._exit, an exit hook)")
    return VerifyResult(True, BY_FUNCTION, f"check({entry_point}) passed")
