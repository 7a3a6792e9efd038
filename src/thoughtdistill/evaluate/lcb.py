"""LiveCodeBench ``code_generation_lite`` rows as published.

A row holds ``question_title, question_content, platform, question_id, contest_id,
contest_date, starter_code, difficulty, public_test_cases, private_test_cases, metadata``.
``public_test_cases`` is JSON text; ``private_test_cases`` is JSON text or, in the lite
files, base64(zlib(pickle(JSON text))); ``metadata`` is JSON text holding ``func_name`` for
LeetCode problems. Each test is ``{input, output, testtype}`` with testtype ``stdin`` or
``functional`` (one JSON argument per input line, the output one JSON value).

The pickle layer is read with :class:`PrimitiveUnpickler`, which resolves no global at all:
only the opcodes for str/bytes/numbers/lists/tuples/dicts/None/bools work, so a pickle that
would import or call anything (``__reduce__`` tricks) is refused before anything runs.

Release windows follow LiveCodeBench's README (``release_v1`` … ``release_v6``: problems
from May 2023 to the month named, with the problem counts it gives); ``v2`` … are the
problems each release added, as lcb_runner's fine-grained version tags.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import io
import pickle
import zlib
from typing import Any

import orjson

from ..errors import RecordError

MAX_TESTS_BYTES = 1 << 30  # decompressed private tests of one row (zip-bomb guard)

# release -> (last day, problems in the release); every release starts on 2023-05-01
_CUMULATIVE = {
    "release_v1": ("2024-03-31", 400),
    "release_v2": ("2024-05-31", 511),
    "release_v3": ("2024-07-31", 612),
    "release_v4": ("2024-09-30", 713),
    "release_v5": ("2025-01-31", 880),
    "release_v6": ("2025-04-30", 1055),
}
FIRST_DAY = "2023-05-01"


class PrimitiveUnpickler(pickle.Unpickler):
    """Unpickles plain data only: any global lookup (classes, functions, reduce) is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"it loads the global {module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("it asks for a persistent id")


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, MAX_TESTS_BYTES)
    if inflater.unconsumed_tail:
        raise ValueError(f"decompressed tests exceed {MAX_TESTS_BYTES >> 20} MiB")
    return out


def decode_private_tests(raw: str) -> Any:
    """JSON text, or base64(zlib(pickle(JSON text))) as in the lite files → parsed JSON.
    Raises ValueError (bad encoding) or pickle.UnpicklingError (refused content)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        packed = _inflate(base64.b64decode(raw.encode("ascii"), validate=True))
    except (binascii.Error, UnicodeEncodeError, zlib.error) as exc:
        raise ValueError(f"neither JSON text nor base64(zlib(pickle)) ({type(exc).__name__}: {exc})") from None
    text = PrimitiveUnpickler(io.BytesIO(packed)).load()
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if not isinstance(text, str):
        raise ValueError(f"the pickle holds {type(text).__name__}, expected JSON text")
    return orjson.loads(text)


def _cases(row: dict[str, Any], key: str, path: str, line: int) -> list[dict[str, str]]:
    raw = row.get(key)
    if raw in (None, "", []):
        return []
    try:
        cases = decode_private_tests(raw) if isinstance(raw, str) else raw
    except pickle.UnpicklingError as exc:
        raise RecordError(path, line, key, f"pickle refused: {exc}; only plain data is accepted, "
                          "nothing was run") from None
    except Exception as exc:  # bad base64/zlib/pickle/JSON: one located line
        raise RecordError(path, line, key, f"cannot decode the tests: {type(exc).__name__}: {exc}") from None
    if not isinstance(cases, list) or not all(
            isinstance(c, dict) and isinstance(c.get("input"), str) and isinstance(c.get("output"), str)
            for c in cases):
        raise RecordError(path, line, key, "tests must be a list of {input, output, testtype} with text values")
    return cases


def func_name(row: dict[str, Any], path: str, line: int) -> str | None:
    meta = row.get("metadata")
    if isinstance(meta, str) and meta.strip():
        try:
            meta = orjson.loads(meta)
        except orjson.JSONDecodeError:
            raise RecordError(path, line, "metadata", "not JSON text") from None
    name = meta.get("func_name") if isinstance(meta, dict) else None
    return str(name) if name else None


def _check_functional(cases: list[dict[str, str]], path: str, line: int) -> None:
    from ..verify.code import functional_args

    for i, case in enumerate(cases, start=1):
        try:
            functional_args(case["input"])
            orjson.loads(case["output"])
        except (ValueError, orjson.JSONDecodeError):
            raise RecordError(path, line, "private_test_cases",
                              f"functional test {i}: input lines and output must be JSON values") from None


def lcb_tests(row: dict[str, Any], path: str, line: int) -> tuple[list[dict[str, str]], str, str | None]:
    """(tests [{input, output}], testtype 'stdin' | 'functional', func_name) of one row.
    As in LiveCodeBench's runner, a row with ``metadata.func_name`` is call-based."""
    cases = _cases(row, "public_test_cases", path, line) + _cases(row, "private_test_cases", path, line)
    name = func_name(row, path, line)
    types = {c.get("testtype", "stdin") for c in cases}
    if "functional" in types and not name:
        raise RecordError(path, line, "metadata", "functional tests need metadata.func_name")
    if not types <= {"stdin", "functional"}:
        raise RecordError(path, line, "public_test_cases", f"unknown test types {sorted(types - {'stdin', 'functional'})}")
    kind = "functional" if name else "stdin"
    tests = [{"input": c["input"], "output": c["output"]} for c in cases]
    if kind == "functional":
        _check_functional(tests, path, line)
    return tests, kind, name


def lcb_question(row: dict[str, Any]) -> str:
    """The problem text plus how to answer: complete the starter code, or read stdin."""
    text = str(row.get("question_content") or "").strip()
    starter = str(row.get("starter_code") or "").strip()
    if starter:
        return (f"{text}\n\nComplete this starter code (keep its class and method names):\n"
                f"```python\n{starter}\n```")
    return f"{text}\n\nRead the input from standard input and write the answer to standard output."


def contest_date(row: dict[str, Any], path: str, line: int) -> dt.date:
    raw = row.get("contest_date")
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.datetime.fromisoformat(str(raw)).date()
    except ValueError:
        raise RecordError(path, line, "contest_date",
                          f"not an ISO date ({raw!r}); needed to select a release window") from None


def _version_window(tag: str) -> tuple[str, str, int]:
    names = list(_CUMULATIVE)
    lo, _, hi = tag.partition("_")
    first, last = int(lo[1:]), int((hi or lo)[1:])
    if not (1 <= first <= last <= len(names)) or (hi and not hi.startswith("v")):
        raise ValueError(tag)
    start = FIRST_DAY if first == 1 else _day_after(_CUMULATIVE[names[first - 2]][0])
    before = _CUMULATIVE[names[first - 2]][1] if first > 1 else 0
    end, count = _CUMULATIVE[names[last - 1]]
    return start, end, count - before


def _day_after(day: str) -> str:
    return (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()


def release_window(release: str) -> tuple[str, str, int]:
    """(first day, last day, problem count) of a LiveCodeBench release: ``release_v1`` …
    ``release_v6`` (cumulative), ``v1`` … ``v6`` (what one release added), ``v1_v3`` (a range)."""
    if release in _CUMULATIVE:
        end, count = _CUMULATIVE[release]
        return FIRST_DAY, end, count
    try:
        if not release.startswith("v"):
            raise ValueError(release)
        return _version_window(release)
    except ValueError:
        known = ", ".join([*_CUMULATIVE, "v1 … v6", "vA_vB"])
        raise ValueError(f"unknown LiveCodeBench release {release!r}; known: {known}") from None
