"""Code answers: extract the program from a response and run it against tests in the
sandbox (:mod:`thoughtdistill.verify.sandbox`).

- stdin/stdout tests (Codeforces / CodeContests style): ``[{"input": ..., "output": ...}]``,
  compared as whitespace-separated tokens (numbers also as decimals: ``0.50`` equals ``0.5``);
- function-call tests (HumanEval style): ``code + test_code + check(entry_point)``;
- functional tests (LeetCode / LiveCodeBench style): ``Solution().<func_name>(*args)`` per
  test, arguments and expected output as JSON (:func:`check_functional`).
"""

from __future__ import annotations

import re
import secrets
import time
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from .result import VerifyResult
from .sandbox import RunResult, SandboxLimits, run_python

BY_STDIO = "sandbox-stdio"
BY_FUNCTION = "sandbox-function"
BY_FUNCTIONAL = "sandbox-functional"
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


def _same_token(got: str, want: str) -> bool:
    """Equal text, or equal decimal numbers ('0.50' vs '0.5'), as LiveCodeBench compares."""
    if got == want:
        return True
    try:
        return Decimal(got) == Decimal(want)
    except InvalidOperation:
        return False


def _same_output(got: str, want: str) -> bool:
    a, b = _tokens(got), _tokens(want)
    return len(a) == len(b) and all(_same_token(x, y) for x, y in zip(a, b))


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
        elif not _same_output(run.stdout, str(test.get("output", ""))):
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


# --------------------------------------------------------------------------- functional tests
# LeetCode style (LiveCodeBench "functional" tests): the solution defines ``class Solution``
# with a method ``func_name`` (or a plain function of that name); each test's input holds one
# JSON value per line (the arguments), its output one JSON value. The harness below is the
# whole program: it reads the nonce, the method name, the decoded arguments and the solution's
# source from stdin, runs the source in its own module, calls the method per test and prints
# one ``nonce<TAB>{"value": …}`` / ``{"error": …}`` line per test. Expected outputs never enter
# the sandbox; they are compared here. Names like LiveCodeBench's own prelude (typing,
# collections, math…) are imported first, since LeetCode starter code uses ``List[int]``.
_FUNCTIONAL_HARNESS = r'''
import json as _json
import signal as _signal
import sys as _sys
import types as _types

# the modules LiveCodeBench's runner star-imports before a solution, in its order
_STAR = ("string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math", "random",
         "statistics", "itertools", "functools", "operator", "io", "sys", "json", "builtins", "typing")
_PRELUDE = ("".join(f"from {m} import *\n" for m in _STAR)
            + "".join(f"import {m}\n" for m in _STAR[:-2]) + "sys.setrecursionlimit(50000)\n")
_SCALARS = (type(None), bool, int, float, str)


class _TdTimeout(BaseException):
    pass


def _td_plain(value, top=True, depth=0):
    """A JSON-ready copy of a returned value: builtin data only (a value of a class the
    solution defined, an int subclass with its own __eq__, a set… is not an answer). A tuple
    counts as a list at the top level only, as in LiveCodeBench's runner."""
    kind = type(value)
    if depth > 100:
        raise TypeError("returned value nested too deeply")
    if kind in _SCALARS:
        return value
    if kind is list or (kind is tuple and top):
        return [_td_plain(v, False, depth + 1) for v in value]
    if kind is tuple:
        return {"__td_tuple__": [_td_plain(v, False, depth + 1) for v in value]}
    if kind is dict and all(type(k) is str for k in value):
        return {k: _td_plain(v, False, depth + 1) for k, v in value.items()}
    raise TypeError(f"returned a value of type {kind.__name__}, not JSON data")


def _td_alarm(signum, frame):
    raise _TdTimeout()


def _td_main():
    done = _sys.stdin.readline().strip()
    name, per_test_s = _json.loads(_sys.stdin.readline())
    cases = _json.loads(_sys.stdin.readline())
    source = _json.loads(_sys.stdin.readline())
    dumps, write, flush = _json.dumps, _sys.stdout.write, _sys.stdout.flush
    module = _types.ModuleType("solution")
    exec(compile(_PRELUDE + source, "solution.py", "exec"), module.__dict__)
    owner = module.__dict__.get("Solution")
    method = getattr(owner(), name, None) if isinstance(owner, type) else module.__dict__.get(name)
    if not callable(method):
        raise SystemExit(f"the solution defines no method or function {name!r}")
    _signal.signal(_signal.SIGALRM, _td_alarm)
    for args in cases:
        try:
            _signal.alarm(per_test_s)
            value = method(*args)
            _signal.alarm(0)
            out = {"value": _td_plain(value)}
        except _TdTimeout:
            out = {"error": f"time limit ({per_test_s}s) exceeded"}
        except BaseException as exc:  # SystemExit included: leaving is not an answer
            _signal.alarm(0)
            out = {"error": f"{name} raised {type(exc).__name__}: {exc}"[:300]}
        write(done + "\t" + dumps(out) + "\n")
        flush()
        if "error" in out:
            break


_td_main()
'''


def functional_args(test_input: str) -> list[Any]:
    """The arguments of one functional test: one JSON value per line (ValueError if not)."""
    import json

    return [json.loads(line) for line in str(test_input).split("\n") if line.strip()]


def _functional_results(stdout: str, done: str) -> list[dict[str, Any]]:
    import json

    prefix = done + "\t"
    return [json.loads(line[len(prefix):]) for line in stdout.splitlines() if line.startswith(prefix)]


def _functional_limits(limits: SandboxLimits, n: int) -> SandboxLimits:
    """One process runs every test: CPU and wall budgets grow with the count, within the chain's."""
    return limits.model_copy(update={"cpu_s": min(limits.chain_wall_s, limits.cpu_s * n),
                                     "wall_s": min(limits.chain_wall_s, limits.wall_s * n)})


def check_functional(
    code: str | None,
    tests: Iterable[Mapping[str, Any]],
    func_name: str,
    limits: SandboxLimits | None = None,
) -> VerifyResult:
    """LeetCode style: call ``Solution().<func_name>(*args)`` (or the function ``func_name``)
    once per test with the JSON-decoded arguments; correct when every return value equals the
    JSON-decoded expected output (a returned tuple counts as a list). ``verdict=None`` when
    there are no tests."""
    import json

    tests = list(tests)
    if not tests or not func_name:
        return VerifyResult(None, BY_FUNCTIONAL, "no tests or no method name")
    if not code or not code.strip():
        return VerifyResult(False, BY_FUNCTIONAL, "no code to run")
    limits = limits or SandboxLimits()
    done = secrets.token_hex(16)
    args = [functional_args(t["input"]) for t in tests]
    stdin = "\n".join([done, json.dumps([func_name, max(1, int(limits.cpu_s))]), json.dumps(args),
                       json.dumps(code)]) + "\n"
    run = run_python(_FUNCTIONAL_HARNESS, stdin=stdin, limits=_functional_limits(limits, len(tests)))
    results = _functional_results(run.stdout, done)
    for i, test in enumerate(tests):
        where = f"test {i + 1}/{len(tests)}"
        if i >= len(results):
            why = _failure(run) if not run.ok else "the program stopped before it (sys.exit, os._exit)"
            return VerifyResult(False, BY_FUNCTIONAL, f"{where}: no result: {why}")
        got = results[i]
        if "error" in got:
            return VerifyResult(False, BY_FUNCTIONAL, f"{where}: {got['error']}")
        expected = json.loads(test["output"])
        if got["value"] != expected:
            return VerifyResult(False, BY_FUNCTIONAL, f"{where}: wrong answer: expected "
                                f"{_short(json.dumps(expected))}, got {_short(json.dumps(got['value']))}")
    return VerifyResult(True, BY_FUNCTIONAL, f"passed {len(tests)}/{len(tests)} tests")
