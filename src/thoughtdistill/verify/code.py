"""Code answers: extract the program from a response and run it against tests in the
sandbox (:mod:`thoughtdistill.verify.sandbox`).

- stdin/stdout tests (Codeforces / CodeContests style): ``[{"input": ..., "output": ...}]``,
  compared as whitespace-separated tokens;
- function-call tests (HumanEval style): ``code + test_code + check(entry_point)``.
"""

from __future__ import annotations

import re
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
    for i, test in enumerate(tests, start=1):
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


def function_program(code: str, test_code: str, entry_point: str) -> str:
    return f"{code}\n\n{test_code}\n\ncheck({entry_point})\n"


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
    run = run_python(function_program(code, test_code, entry_point), limits=limits or SandboxLimits())
    if run.ok:
        return VerifyResult(True, BY_FUNCTION, f"check({entry_point}) passed")
    return VerifyResult(False, BY_FUNCTION, f"check({entry_point}) failed: {_failure(run)}")
