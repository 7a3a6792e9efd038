"""Benchmarks as data plus a scorer, in a registry users can extend with a YAML/JSON file.

A benchmark is a file of rows (CSV, JSONL, JSON, Parquet, a datasets folder, or an ``hf:``
hub reference), the names of the fields that hold the question and the reference, a prompt
template and a scorer kind; published layouts (GPQA's CSV columns, LiveCodeBench's
``code_generation_lite`` rows, see :mod:`.lcb`) are recognised by their columns. Built-in entries read the sets that ship
inside the package (``package:<file>``, in ``thoughtdistill/evaluate/data/``, licences and
provenance in its SOURCES.md); GPQA-Diamond and LiveCodeBench are not redistributed, so their
entries need a ``path`` from the user.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import itertools
import random
import warnings
from importlib import resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ..config import read_config_file
from ..errors import ConfigError, RecordError, ThoughtDistillError
from ..io.hub import is_hub_ref, iter_hub_rows, parse_hub_ref
from ..io.jsonl import iter_dicts
from ..io.reader import container_of, iter_rows
from ..records import validation_field
from . import lcb

ScorerKind = Literal["math", "multiple_choice", "code_stdio", "code_function"]

MATH_PROMPT = "{question}\nPlease reason step by step, and put your final answer within \\boxed{}."
MC_PROMPT = (
    "Answer the following multiple choice question. Think step by step, then give your final "
    "answer as a single letter within \\boxed{}, e.g. \\boxed{A}.\n\n{question}"
)
CODE_STDIO_PROMPT = (
    "Solve the following programming problem in Python 3. The program reads from standard input "
    "and writes to standard output. Give the complete program in one ```python code block.\n\n{question}"
)
LCB_PROMPT = (
    "Solve the following programming problem in Python 3. Give your solution in one ```python "
    "code block.\n\n{question}"
)
CODE_FUNCTION_PROMPT = (
    "Complete the following Python function. Give the complete function (with its imports) in one "
    "```python code block.\n\n```python\n{question}```"
)


PACKAGED = "package:"


def packaged_file(name: str) -> Path:
    """A benchmark file shipped in ``thoughtdistill/evaluate/data`` (a real file in any install
    that unpacks the wheel, which pip always does)."""
    path = Path(str(resources.files("thoughtdistill.evaluate") / "data" / name))
    if not path.is_file():
        raise ThoughtDistillError(f"packaged benchmark file {name!r} is missing from {path.parent}: "
                                  "reinstall thoughtdistill")
    return path


class BenchmarkSpec(BaseModel):
    """One registry entry. Field names refer to keys of the benchmark's JSONL rows."""

    model_config = ConfigDict(extra="forbid")

    name: str
    path: str | None = None  # JSONL file; 'package:<file>' = a set shipped in the package
    scorer: ScorerKind = "math"
    id_field: str = "id"
    question_field: str = "problem"
    answer_field: str | None = "answer"  # math / multiple_choice: the reference answer
    tests_field: str | None = None  # code_stdio: [{input, output}]; code_function: test code
    entry_point_field: str | None = None  # code_function
    choices_field: str | None = None  # multiple_choice: list of option texts (else in question)
    prompt_template: str = MATH_PROMPT  # '{question}' is replaced (other braces are literal)
    system_prompt: str | None = None
    description: str = ""
    choice_seed: int = 0  # multiple_choice from GPQA columns: options ordered by hash(id, seed)
    answer_after: str | None = None  # the gold is the text after the last such marker ('####')
    release: str | None = None  # LiveCodeBench release window (release_v2, v2, v1_v3 …)
    date_from: str | None = None  # rows with contest_date >= this day (YYYY-MM-DD)
    date_to: str | None = None  # rows with contest_date <= this day
    needs_user_file: bool = False  # not redistributed: the user must give ``path``
    file_format: str = ""  # documentation of the expected row format, shown in errors

    def resolved_path(self, base_dir: Path | None = None) -> Path:
        if not self.path:
            hint = f" Expected rows: {self.file_format}" if self.file_format else ""
            raise ConfigError(
                f"benchmark {self.name!r} is not shipped (licence); give the path to your own copy "
                f"with --benchmark-path FILE or a registry file entry with 'path'.{hint}")
        if self.path.startswith(PACKAGED):
            return packaged_file(self.path[len(PACKAGED):])
        path = Path(self.path).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return path


BUILTIN: dict[str, BenchmarkSpec] = {
    spec.name: spec
    for spec in [
        BenchmarkSpec(name="aime24", path="package:aime24.jsonl.gz", description="AIME 2024 I+II (30)"),
        BenchmarkSpec(name="aime25", path="package:aime25.jsonl.gz", description="AIME 2025 I+II (30)"),
        BenchmarkSpec(name="math500", path="package:math500.jsonl.gz", description="MATH-500 test subset"),
        BenchmarkSpec(name="gsm8k", path="package:gsm8k_test.jsonl.gz", question_field="question",
                      answer_field="final", description="GSM8K test (1319)"),
        BenchmarkSpec(name="humaneval", path="package:humaneval.jsonl.gz", scorer="code_function",
                      question_field="prompt", answer_field=None, tests_field="test",
                      entry_point_field="entry_point", prompt_template=CODE_FUNCTION_PROMPT,
                      description="HumanEval (164), function-call tests"),
        BenchmarkSpec(name="code_tests", path="package:code_tests.jsonl.gz", scorer="code_stdio",
                      answer_field=None, tests_field="tests", prompt_template=CODE_STDIO_PROMPT,
                      description="Codeforces/CodeContests stdin/stdout problems (60)"),
        BenchmarkSpec(
            name="gpqa_diamond", scorer="multiple_choice", question_field="question",
            answer_field="answer", choices_field="choices", prompt_template=MC_PROMPT,
            needs_user_file=True, description="GPQA-Diamond (198), user-supplied",
            file_format=('the published gpqa_diamond.csv (columns "Question", "Correct Answer", '
                         '"Incorrect Answer 1".."3", "Record ID", …; options ordered by a hash of the '
                         'Record ID and choice_seed), as CSV, JSONL or Parquet; or rows '
                         '{"id", "question", "choices": [4 option texts], "answer": "A".."D"}')),
        BenchmarkSpec(
            name="livecodebench", scorer="code_stdio", question_field="question",
            answer_field=None, tests_field="tests", prompt_template=LCB_PROMPT,
            needs_user_file=True, description="LiveCodeBench code generation (stdin and LeetCode "
            "functional tests), user-supplied",
            file_format=('code_generation_lite rows as published (question_id, question_content, '
                         'starter_code, contest_date, public_test_cases JSON text, private_test_cases '
                         'JSON text or base64(zlib(pickle)), metadata with func_name), JSONL or Parquet; '
                         'or {"id", "question", "tests": [{"input", "output"}]} (stdin tests)')),
    ]
}


def packaged_benchmarks() -> list[str]:
    """Names of the built-in benchmarks whose data ships in the package."""
    return [name for name, spec in BUILTIN.items() if spec.path and spec.path.startswith(PACKAGED)]


def load_registry(files: list[str | Path] | None = None) -> dict[str, BenchmarkSpec]:
    """Built-in benchmarks plus entries from user YAML/JSON files (later files win).

    A file is ``{benchmarks: {name: {field: value}}}`` or ``{benchmarks: [{name: …}]}``;
    an entry named like a built-in one updates it (e.g. only its ``path``). Relative
    paths are relative to the file.
    """
    registry = dict(BUILTIN)
    for file in files or []:
        file = Path(file)
        data = read_config_file(file).get("benchmarks")
        if data is None:
            raise ConfigError(f"{file}: a benchmark registry file needs a 'benchmarks' key")
        entries = (
            [dict(v, name=k) for k, v in data.items()] if isinstance(data, dict) else list(data)
        )
        for entry in entries:
            if not isinstance(entry, dict) or "name" not in entry:
                raise ConfigError(f"{file}: each benchmark entry needs a 'name'")
            base = registry.get(entry["name"])
            merged = dict(base.model_dump() if base else {}, **entry)
            if merged.get("path") and not merged["path"].startswith(PACKAGED):
                p = Path(merged["path"]).expanduser()
                merged["path"] = str(p if p.is_absolute() else (file.parent / p).resolve())
            try:
                registry[entry["name"]] = BenchmarkSpec.model_validate(merged)
            except ValidationError as exc:
                loc, msg = validation_field(exc)
                raise ConfigError(f"{file}: benchmark {entry['name']!r} field '{loc}': {msg}") from None
    return registry


# Field names of known benchmarks as published on the Hugging Face hub (``hf:`` paths); a
# hub copy whose columns match a built-in entry's needs none.
HUB_FIELDS: dict[str, dict[str, str]] = {
    "HuggingFaceH4/MATH-500": {"id_field": "unique_id"},
    "HuggingFaceH4/aime_2024": {"id_field": "id"},
    "openai/gsm8k": {"answer_field": "answer", "answer_after": "####"},
    "openai/openai_humaneval": {"id_field": "task_id"},
}


def _with_path(spec: BenchmarkSpec, path: str) -> BenchmarkSpec:
    if is_hub_ref(path):
        mapping = HUB_FIELDS.get(parse_hub_ref(path).repo, {})
        return spec.model_copy(update={"path": path, **mapping})
    return spec.model_copy(update={"path": str(Path(path).expanduser().resolve())})


def get_benchmark(name: str, registry: dict[str, BenchmarkSpec] | None = None,
                  path: str | None = None, *, release: str | None = None, date_from: str | None = None,
                  date_to: str | None = None) -> BenchmarkSpec:
    """The registry entry ``name``, with ``path`` (a file or an ``hf:`` reference) and a
    problem window (LiveCodeBench ``release`` and/or ``date_from``/``date_to``) applied."""
    registry = registry if registry is not None else load_registry()
    if name not in registry:
        raise ConfigError(f"unknown benchmark {name!r}; known benchmarks: {', '.join(sorted(registry))} "
                          "(add your own with a registry file, see docs/evaluate.md)")
    spec = registry[name]
    if path:
        spec = _with_path(spec, path)
    window = {k: v for k, v in {"release": release, "date_from": date_from, "date_to": date_to}.items() if v}
    if window:
        spec = spec.model_copy(update=window)
    date_window(spec)  # bad release names and dates fail here, before any row is read
    return spec


def benchmark_window(spec: BenchmarkSpec) -> dict[str, str]:
    """The entry's problem window as settings ({} when it has none, so older runs compare equal)."""
    return {k: getattr(spec, k) for k in ("release", "date_from", "date_to") if getattr(spec, k)}


def date_window(spec: BenchmarkSpec) -> tuple[dt.date | None, dt.date | None, int | None]:
    """(first day, last day, expected problem count) the entry selects by ``contest_date``."""
    start = end = None
    count = None
    if spec.release:
        try:
            first, last, count = lcb.release_window(spec.release)
        except ValueError as exc:
            raise ConfigError(f"benchmark {spec.name!r}: {exc}") from None
        start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    for key in ("date_from", "date_to"):
        text = getattr(spec, key)
        if not text:
            continue
        try:
            day = dt.date.fromisoformat(str(text))
        except ValueError:
            raise ConfigError(f"benchmark {spec.name!r}: {key} {text!r} is not a date (YYYY-MM-DD)") from None
        count = None  # a narrowed window: the release's count no longer applies
        if key == "date_from":
            start = max(start or day, day)
        else:
            end = min(end or day, day)
    if start and end and end < start:
        raise ConfigError(f"benchmark {spec.name!r}: the window {start}..{end} is empty")
    return start, end, count


@dataclass
class EvalItem:
    """One problem, ready to prompt and score."""

    id: str
    question: str  # the text placed into the prompt template
    answer: str | None = None  # math / multiple choice reference
    tests: Any = None  # code: [{input, output}] or test code
    entry_point: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def parse_slice(text: str | None) -> slice | None:
    """'10:20', ':50', '5:' → slice; None → None. An inverted or empty range is an error."""
    if not text:
        return None
    parts = text.split(":")
    if len(parts) != 2:
        raise ConfigError(f"--slice {text!r}: expected START:STOP, e.g. 0:50")
    try:
        start, stop = (int(p) if p.strip() else None for p in parts)
    except ValueError:
        raise ConfigError(f"--slice {text!r}: START and STOP must be integers") from None
    if start is not None and stop is not None and (start < 0) == (stop < 0) and stop <= start:
        raise ConfigError(f"--slice {text!r} is empty: STOP must be greater than START")
    return slice(start, stop)


def _answer_text(value: Any, path: Path, line: int, field_name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RecordError(str(path), line, field_name,
                          f"reference answer must be text or a number, got {type(value).__name__}")
    return str(value)


LETTERS = "ABCDEFGHIJ"


GPQA_COLUMNS = ("Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")


def _gpqa_original(row: dict[str, Any], item_id: str, seed: int, path: Path,
                   line: int) -> tuple[str, list[str], str]:
    """Question, options in an order fixed by (Record ID, seed) — not by row position — and
    the letter of the correct one, from GPQA's published columns."""
    for column in GPQA_COLUMNS:
        if not isinstance(row.get(column), str) or not row[column].strip():
            raise RecordError(str(path), line, column, "missing or empty GPQA column")
    options = [row[c].strip() for c in GPQA_COLUMNS[1:]]
    order = list(range(4))
    digest = hashlib.sha256(f"{item_id}\0{seed}".encode()).hexdigest()
    random.Random(int(digest[:16], 16)).shuffle(order)
    return row["Question"].strip(), [options[i] for i in order], LETTERS[order.index(0)]


def _mc_item(spec: BenchmarkSpec, row: dict[str, Any], item_id: str, path: Path, line: int,
             need: Any) -> EvalItem:
    if "Correct Answer" in row and spec.choices_field not in row:
        question, choices, letter = _gpqa_original(row, item_id, spec.choice_seed, path, line)
    else:
        question = str(need(spec.question_field))
        choices = need(spec.choices_field) if spec.choices_field else None
        letter = _answer_text(need(spec.answer_field), path, line, spec.answer_field or "answer").strip()
        letter = letter.upper().strip("()")
        if choices is not None and (not isinstance(choices, list) or len(choices) > len(LETTERS)):
            raise RecordError(str(path), line, spec.choices_field, "choices must be a list of option texts")
        n = len(choices) if choices else 4
        if letter not in LETTERS[:n]:
            raise RecordError(str(path), line, spec.answer_field,
                              f"answer must be a letter A-{LETTERS[n - 1]}, got {letter!r}")
    if choices:
        question = question + "\n\n" + "\n".join(f"{LETTERS[i]}) {c}" for i, c in enumerate(choices))
    meta = {"n_choices": len(choices or "ABCD")}
    for key in ("High-level domain", "Subdomain"):
        if row.get(key):
            meta[key] = row[key]
    return EvalItem(item_id, question, answer=letter, meta=meta)


def _stdio_item(spec: BenchmarkSpec, row: dict[str, Any], item_id: str, path: Path, line: int,
                need: Any) -> EvalItem:
    if spec.tests_field not in row and "public_test_cases" in row:
        if not str(row.get("question_content") or "").strip():
            raise RecordError(str(path), line, "question_content", "missing or empty (LiveCodeBench row)")
        tests, kind, name = lcb.lcb_tests(row, str(path), line)
        question, field_name = lcb.lcb_question(row), "public_test_cases"
        meta = {"testtype": kind, **{k: str(row[k]) for k in ("platform", "difficulty", "contest_date")
                                     if row.get(k) is not None}}
    else:
        question, tests, name = str(need(spec.question_field)), need(spec.tests_field), None
        field_name, meta = spec.tests_field, {"testtype": "stdin"}
    if not isinstance(tests, list) or not all(
            isinstance(t, dict) and "input" in t and "output" in t for t in tests):
        raise RecordError(str(path), line, field_name, "tests must be a list of {input, output}")
    if not tests:
        raise RecordError(str(path), line, field_name, "no tests")
    return EvalItem(item_id, question, tests=tests, entry_point=name, meta=meta)


def _function_item(spec: BenchmarkSpec, row: dict[str, Any], item_id: str, path: Path, line: int,
                   need: Any) -> EvalItem:
    question = str(need(spec.question_field))
    tests = need(spec.tests_field)
    if not isinstance(tests, str):
        raise RecordError(str(path), line, spec.tests_field, f"test code must be text, got {type(tests).__name__}")
    entry = need(spec.entry_point_field)
    return EvalItem(item_id, question, tests=tests, entry_point=str(entry), meta={"prompt": question})


def _math_item(spec: BenchmarkSpec, row: dict[str, Any], item_id: str, path: Path, line: int,
               need: Any) -> EvalItem:
    question = need(spec.question_field)
    if not isinstance(question, str) or not question.strip():
        raise RecordError(str(path), line, spec.question_field, "question must be non-empty text")
    answer = _answer_text(need(spec.answer_field), path, line, spec.answer_field or "answer")
    if spec.answer_after:
        if spec.answer_after not in answer:
            raise RecordError(str(path), line, spec.answer_field, f"no {spec.answer_after!r} before the answer")
        answer = answer.rsplit(spec.answer_after, 1)[1].strip().replace(",", "")
    return EvalItem(item_id, question, answer=answer)


_ITEM_BUILDERS = {"multiple_choice": _mc_item, "code_stdio": _stdio_item,
                  "code_function": _function_item, "math": _math_item}
_ID_FALLBACKS = ("Record ID", "question_id", "task_id")


def row_to_item(spec: BenchmarkSpec, row: dict[str, Any], path: Path, line: int) -> EvalItem:
    """Turn one row into an :class:`EvalItem`, with located errors."""
    def need(name: str | None) -> Any:
        if name is None or name not in row:
            raise RecordError(str(path), line, name, f"missing field {name!r} (benchmark {spec.name!r})")
        return row[name]

    raw_id = row.get(spec.id_field) or next((row[k] for k in _ID_FALLBACKS if row.get(k)), None)
    item_id = str(raw_id).strip() if raw_id not in (None, "") else f"line-{line}"
    return _ITEM_BUILDERS[spec.scorer](spec, row, item_id, path, line, need)


# --------------------------------------------------------------------------- reading rows

def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a CSV file with a header (GPQA's published layout), numbered by the file line
    where each record starts (quoted fields may span lines)."""
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        start = 2
        try:
            for row in reader:
                if None in row:
                    raise RecordError(str(path), start, None, "more values than header columns")
                yield start, row
                start = reader.line_num + 1
        except csv.Error as exc:
            raise RecordError(str(path), reader.line_num, None, f"bad CSV: {exc}") from None
        except UnicodeDecodeError as exc:
            raise RecordError(str(path), reader.line_num + 1, None, f"not UTF-8 ({exc.reason})") from None


def _file_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        container_of(path)
    except ThoughtDistillError:  # an unknown suffix: read as JSON Lines
        yield from iter_dicts(path)
        return
    for number, _raw, parsed in iter_rows(path):
        if isinstance(parsed, RecordError):
            raise parsed
        yield number, parsed


def iter_benchmark_rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line or row number, row) of a benchmark file: CSV, JSONL(.gz), JSON array, Parquet,
    a datasets folder, or an ``hf:`` dataset reference. Rows are read one at a time; a bad
    row is a RecordError when it is reached."""
    if is_hub_ref(path):
        return enumerate(iter_hub_rows(str(path)), start=1)
    path = Path(path)
    if path.name.lower().endswith(".csv"):
        return _csv_rows(path)
    return _file_rows(path)


def _in_window(rows: Iterable[tuple[int, dict[str, Any]]], spec: BenchmarkSpec,
               path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    start, end, _ = date_window(spec)
    if start is None and end is None:
        yield from rows
        return
    for line, row in rows:
        day = lcb.contest_date(row, str(path), line)
        if (start is None or day >= start) and (end is None or day <= end):
            yield line, row


def _select(rows: Iterator[tuple[int, dict[str, Any]]], sl: slice | None, limit: int | None,
            spec: BenchmarkSpec, slice_text: str | None) -> list[tuple[int, dict[str, Any]]]:
    """``slice`` then ``limit`` over raw rows, reading no further than needed (a negative
    bound needs the whole file)."""
    read = itertools.count()
    counted = ((next(read), row)[1] for row in rows)
    if sl is None or ((sl.start or 0) >= 0 and (sl.stop is None or sl.stop >= 0)):
        start = (sl.start or 0) if sl else 0
        stop = sl.stop if sl else None
        if limit is not None:
            stop = start + limit if stop is None else min(stop, start + limit)
        chosen = list(itertools.islice(counted, start, stop))
    else:
        chosen = list(counted)[sl][:limit]
    if sl is not None and not chosen:
        raise ConfigError(f"--slice {slice_text!r} selects no items: benchmark {spec.name!r} has {next(read)}")
    return chosen


def _warn_release_count(spec: BenchmarkSpec, found: int) -> None:
    _, _, expected = date_window(spec)
    if spec.release and expected is not None and found != expected:
        warnings.warn(f"benchmark {spec.name!r}: release {spec.release} has {expected} problems in "
                      f"LiveCodeBench's README, the file has {found} in its window", stacklevel=3)


def load_items(spec: BenchmarkSpec, *, limit: int | None = None, slice_: str | None = None,
               base_dir: Path | None = None) -> list[EvalItem]:
    """The benchmark's items: rows in the entry's date window, then ``slice``, then ``limit``.
    Only the selected rows are validated and decoded, so a bad row elsewhere does not stop
    a ``--limit`` run; a bad selected row is a RecordError naming file, line and field."""
    hub = is_hub_ref(spec.path or "")
    path = Path(str(spec.path)) if hub else spec.resolved_path(base_dir)
    if not hub and not path.exists():
        raise ConfigError(f"benchmark {spec.name!r}: file {path} not found")
    sl = parse_slice(slice_)
    rows = _in_window(iter_benchmark_rows(str(spec.path) if hub else path), spec, path)
    chosen = _select(rows, sl, limit, spec, slice_)
    if sl is None and limit is None:
        _warn_release_count(spec, len(chosen))
    items = [row_to_item(spec, row, path, line) for line, row in chosen]
    seen: dict[str, int] = {}
    for (line, _), item in zip(chosen, items):
        if item.id in seen:
            raise RecordError(str(path), line, spec.id_field,
                              f"duplicate item id {item.id!r} (first at line {seen[item.id]})")
        seen[item.id] = line
    return items


def build_messages(spec: BenchmarkSpec, item: EvalItem, template: str | None = None,
                   system_prompt: str | None = None) -> list[dict[str, str]]:
    text = (template or spec.prompt_template).replace("{question}", item.question)
    messages = []
    system = system_prompt if system_prompt is not None else spec.system_prompt
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": text})
    return messages


def file_sha256(path: Path) -> str:
    """The file's SHA-256; for an ``hf:`` reference, that of the reference text (the hub
    content itself is not hashed)."""
    if is_hub_ref(str(path)):
        return hashlib.sha256(str(path).encode()).hexdigest()
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
