"""Benchmarks as data plus a scorer, in a registry users can extend with a YAML/JSON file.

A benchmark is a JSONL file, the names of the fields that hold the question and the
reference, a prompt template and a scorer kind. Built-in entries read the sets that ship
inside the package (``package:<file>``, in ``thoughtdistill/evaluate/data/``, licences and
provenance in its SOURCES.md); GPQA-Diamond and LiveCodeBench are not redistributed, so their
entries need a ``path`` from the user.
"""

from __future__ import annotations

import hashlib
import random
from importlib import resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from ..config import read_config_file
from ..errors import ConfigError, RecordError, ThoughtDistillError
from ..io.jsonl import iter_dicts
from ..records import validation_field

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
            file_format=('{"id", "question", "choices": [4 option texts], "answer": "A".."D"}, or the '
                         'original GPQA columns {"Question", "Correct Answer", "Incorrect Answer 1", '
                         '"Incorrect Answer 2", "Incorrect Answer 3"} (options shuffled with a fixed '
                         'per-question seed)')),
        BenchmarkSpec(
            name="livecodebench", scorer="code_stdio", question_field="question",
            answer_field=None, tests_field="tests", prompt_template=CODE_STDIO_PROMPT,
            needs_user_file=True, description="LiveCodeBench (stdin/stdout problems), user-supplied",
            file_format=('{"id", "question", "tests": [{"input", "output"}]}, or LiveCodeBench rows '
                         '{"question_id", "question_content", "public_test_cases" (JSON text), '
                         '"private_test_cases" (JSON text)} with testtype "stdin"')),
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


def get_benchmark(name: str, registry: dict[str, BenchmarkSpec] | None = None,
                  path: str | None = None) -> BenchmarkSpec:
    registry = registry if registry is not None else load_registry()
    if name not in registry:
        raise ConfigError(f"unknown benchmark {name!r}; known benchmarks: {', '.join(sorted(registry))} "
                          "(add your own with a registry file, see docs/evaluate.md)")
    spec = registry[name]
    if path:
        spec = spec.model_copy(update={"path": str(Path(path).expanduser().resolve())})
    return spec


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


def _gpqa_original(row: dict[str, Any], item_id: str) -> tuple[str, list[str], str]:
    options = [row["Correct Answer"], row["Incorrect Answer 1"], row["Incorrect Answer 2"],
               row["Incorrect Answer 3"]]
    order = list(range(4))
    random.Random(int(hashlib.sha256(item_id.encode()).hexdigest()[:8], 16)).shuffle(order)
    choices = [str(options[i]).strip() for i in order]
    return str(row["Question"]).strip(), choices, LETTERS[order.index(0)]


def _lcb_tests(row: dict[str, Any], path: Path, line: int) -> list[dict[str, str]]:
    tests: list[dict[str, str]] = []
    for key in ("public_test_cases", "private_test_cases"):
        raw = row.get(key)
        if not raw:
            continue
        try:
            cases = orjson.loads(raw) if isinstance(raw, str) else raw
        except orjson.JSONDecodeError:
            raise RecordError(str(path), line, key, "not JSON text (compressed LiveCodeBench private "
                              "tests must be decoded to JSON first)") from None
        for case in cases:
            if case.get("testtype", "stdin") != "stdin":
                raise RecordError(str(path), line, key,
                                  f"test type {case.get('testtype')!r} is not supported; only stdin tests")
            tests.append({"input": case["input"], "output": case["output"]})
    return tests


def row_to_item(spec: BenchmarkSpec, row: dict[str, Any], path: Path, line: int) -> EvalItem:
    """Turn one JSONL row into an :class:`EvalItem`, with located errors."""
    def need(name: str | None) -> Any:
        if name is None or name not in row:
            raise RecordError(str(path), line, name, f"missing field {name!r} (benchmark {spec.name!r})")
        return row[name]

    item_id = str(row.get(spec.id_field) or row.get("question_id") or row.get("task_id") or f"line-{line}")
    if spec.scorer == "multiple_choice":
        if "Correct Answer" in row and spec.choices_field not in row:
            question, choices, letter = _gpqa_original(row, item_id)
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
        return EvalItem(item_id, question, answer=letter, meta={"n_choices": len(choices or "ABCD")})
    if spec.scorer == "code_stdio":
        if spec.tests_field not in row and "public_test_cases" in row:
            question = str(row.get("question_content") or need(spec.question_field))
            tests = _lcb_tests(row, path, line)
        else:
            question = str(need(spec.question_field))
            tests = need(spec.tests_field)
        if not isinstance(tests, list) or not all(
                isinstance(t, dict) and "input" in t and "output" in t for t in tests):
            raise RecordError(str(path), line, spec.tests_field, "tests must be a list of {input, output}")
        if not tests:
            raise RecordError(str(path), line, spec.tests_field, "no tests")
        return EvalItem(item_id, question, tests=tests)
    if spec.scorer == "code_function":
        question = str(need(spec.question_field))
        tests = need(spec.tests_field)
        if not isinstance(tests, str):
            raise RecordError(str(path), line, spec.tests_field,
                              f"test code must be text, got {type(tests).__name__}")
        entry = need(spec.entry_point_field)
        return EvalItem(item_id, question, tests=tests, entry_point=str(entry),
                        meta={"prompt": question})
    question = need(spec.question_field)
    if not isinstance(question, str) or not question.strip():
        raise RecordError(str(path), line, spec.question_field, "question must be non-empty text")
    answer = _answer_text(need(spec.answer_field), path, line, spec.answer_field or "answer")
    return EvalItem(item_id, question, answer=answer)


def load_items(spec: BenchmarkSpec, *, limit: int | None = None, slice_: str | None = None,
               base_dir: Path | None = None) -> list[EvalItem]:
    """The benchmark's items (after ``slice`` then ``limit``), validated."""
    path = spec.resolved_path(base_dir)
    if not path.exists():
        raise ConfigError(f"benchmark {spec.name!r}: file {path} not found")
    items = [row_to_item(spec, row, path, line) for line, row in iter_dicts(path)]
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ThoughtDistillError(f"{path}: duplicate item id {item.id!r}")
        seen.add(item.id)
    sl = parse_slice(slice_)
    if sl is not None:
        total, items = len(items), items[sl]
        if not items:
            raise ConfigError(f"--slice {slice_!r} selects no items: benchmark {spec.name!r} has {total}")
    if limit is not None:
        items = items[:limit]
    return items


def iter_items(spec: BenchmarkSpec, **kw: Any) -> Iterator[EvalItem]:
    yield from load_items(spec, **kw)


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
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
