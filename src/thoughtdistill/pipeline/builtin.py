"""Built-in pipeline stages: ``prepare`` (data files → canonical questions) and
``easydistill_export`` (canonical records → EasyDistill's JSON output formats)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..config import StageConfig
from ..errors import ConfigError, RecordError
from ..io import JsonlWriter, iter_dicts
from ..io.atomic import atomic_open
from ..records import Record
from ..stage_io import IOPath, StageFile, files
from ..thoughts import join_thought, split_thought

Format = Literal["auto", "canonical", "gsm8k", "math", "aime", "easydistill", "multi_chain", "r1_traces"]

# EasyDistill 1.x composes the rewrite request like this (synthesis/cot_synthesis.py).
REWRITE_TEMPLATES = {
    "long2short": "{prompt} Simplify the reasoning process for the problem below.\n\nProblem:\n{instruction}"
                  "\n\nAnswer:\n{output}\n\nSimplified Reasoning Process:",
    "short2long": "{prompt} Extend the reasoning process for the problem below.\n\nProblem:\n{instruction}"
                  "\n\nAnswer:\n{output}\n\nExtended Reasoning Process:",
}


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: IOPath[str]
    format: Format = "auto"
    offset: int = Field(0, ge=0)
    limit: int | None = Field(None, ge=1)
    domain: str | None = None
    pick: Literal["first", "shortest"] = Field(
        "first", description="shortest: the `limit` shortest questions among the first `pool` rows")
    pool: int | None = Field(None, ge=1)
    max_chains: int | None = Field(None, ge=0, description="keep at most this many recorded chains a question")
    teacher: str | None = Field(None, description="teacher label for recorded chains without one")


class Rewrite(BaseModel):
    """Turn (instruction, output) pairs into teacher requests that rewrite the chain."""

    model_config = ConfigDict(extra="forbid")

    direction: Literal["long2short", "short2long"]
    prompt: str


class PrepareConfig(StageConfig):
    sources: list[Source] = Field(min_length=1)
    output: IOPath[str] = Field(description="canonical questions JSONL")
    heldout: int = Field(0, ge=0, description="questions moved to heldout_output (evaluation)")
    heldout_output: IOPath[str | None] = None
    shuffle: bool = False
    seed: int = 0
    keep_chains: bool = True
    prompt_prefix: str | None = Field(None, description="EasyDistill cot_generation: prompt + '\\n' + question")
    rewrite: Rewrite | None = None

    def inputs(self) -> list[StageFile]:
        return files(self, "sources.path")

    def outputs(self) -> list[StageFile]:
        return files(self, "output", "heldout_output")


class PrepareResult(BaseModel):
    output: str
    count: int
    heldout_output: str | None = None
    heldout_count: int = 0


def read_json_or_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a JSON array file (EasyDistill) or of a JSON Lines file."""
    with open(path, "rb") as fh:
        head = fh.read(4096).lstrip()
    if head.startswith(b"["):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise RecordError(str(path), None, None, f"invalid JSON array: {exc}") from None
        for i, row in enumerate(data, start=1):
            if not isinstance(row, dict):
                raise RecordError(str(path), i, None, f"item {i} is not an object")
            yield i, row
    else:
        yield from iter_dicts(path)


def detect(row: dict[str, Any]) -> str:
    if "reasoning" in row and "question" in row:
        return "canonical"
    if "instruction" in row:
        return "easydistill"
    if "chains" in row:
        return "multi_chain"
    if "message_thinking" in row:
        return "r1_traces"
    if "final" in row and "question" in row:
        return "gsm8k"
    if "problem" in row and "answer" in row:
        return "math"
    if "question" in row:
        return "canonical"
    raise ValueError(f"cannot tell the format of a row with fields {sorted(row)}")


def _chain_from_text(text: str, teacher: str | None) -> dict[str, Any]:
    parsed = split_thought(text)
    chain: dict[str, Any] = {"full_response": text, "solution": parsed.solution}
    if parsed.has_thought:
        chain["thought"] = parsed.thought
    if teacher:
        chain["teacher"] = teacher
    return chain


def to_canonical(row: dict[str, Any], fmt: str, keep_chains: bool, teacher: str | None = None) -> dict[str, Any]:
    fmt = detect(row) if fmt == "auto" else fmt
    base = {k: row[k] for k in ("id", "source") if k in row}
    if fmt == "canonical":
        out = dict(row)
    elif fmt == "gsm8k":
        out = {**base, "question": row["question"], "answer": str(row["final"]), "domain": "math",
               "meta": {"solution": row.get("answer")}}
    elif fmt in ("math", "aime"):
        out = {**base, "question": row.get("problem") or row["question"], "answer": str(row["answer"]),
               "domain": "math"}
        if row.get("solution"):
            out["meta"] = {"solution": row["solution"]}
    elif fmt == "multi_chain":
        out = {**base, "question": row["question"], "answer": row.get("answer"), "domain": "math",
               "reasoning": [_chain_from_text(c["response"], teacher or "multi_chain") for c in row.get("chains", [])]}
    elif fmt == "r1_traces":
        out = {**base, "question": row["problem"], "answer": row.get("gtruth_answer"), "domain": "math",
               "reasoning": [{"teacher": row.get("teacher"), "thought": row["message_thinking"],
                              "solution": row.get("message_content") or "",
                              "full_response": join_thought(row["message_thinking"], row.get("message_content"))}]}
    elif fmt == "easydistill":
        out = {**base, "question": row["instruction"], "meta": {"easydistill": dict(row)}}
        if row.get("output"):
            out["reasoning"] = [_chain_from_text(row["output"], teacher or "easydistill-input")]
    else:
        raise ValueError(f"unknown format {fmt}")
    if not keep_chains:
        out.pop("reasoning", None)
    return out


def _rows(source: Source, path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    rows = ((n, r) for i, (n, r) in enumerate(read_json_or_jsonl(path)) if i >= source.offset)
    if source.pick == "first":
        yield from rows
        return
    pool = []
    for n, r in rows:
        if source.pool is not None and len(pool) >= source.pool:
            break
        pool.append((n, r))

    def size(item: tuple[int, dict[str, Any]]) -> tuple[int, int]:
        r = item[1]
        text = r.get("question") or r.get("problem") or r.get("instruction") or ""
        return len(str(text)), item[0]

    yield from sorted(pool, key=size)


def iter_prepared(config: PrepareConfig) -> Iterator[Record]:
    for source in config.sources:
        path = Path(source.path)
        if not path.exists():
            raise ConfigError(f"prepare: {path}: file not found")
        taken = 0
        for number, row in _rows(source, path):
            if source.limit is not None and taken >= source.limit:
                break
            try:
                data = to_canonical(row, source.format, config.keep_chains, source.teacher)
                if source.domain:
                    data["domain"] = source.domain
                if data.get("reasoning") is not None:
                    chains = data["reasoning"][: source.max_chains] if source.max_chains is not None \
                        else data["reasoning"]
                    data["reasoning"] = chains
                if config.rewrite is not None:
                    original = data.get("meta", {}).get("easydistill", {})
                    if "output" not in original:
                        raise ValueError("a rewrite needs rows with 'instruction' and 'output'")
                    data = {"id": data.get("id", ""), "question": REWRITE_TEMPLATES[config.rewrite.direction].format(
                        prompt=config.rewrite.prompt, instruction=original["instruction"], output=original["output"]),
                        "meta": data["meta"]}
                elif config.prompt_prefix:
                    meta = dict(data.get("meta") or {})
                    meta["original_question"] = data["question"]
                    data = {**data, "question": f"{config.prompt_prefix}\n{data['question']}", "meta": meta}
                record = Record.model_validate(data)
            except (KeyError, ValueError, TypeError) as exc:
                raise RecordError(str(path), number, None, f"cannot convert row: {exc}") from None
            taken += 1
            yield record


def run_prepare(config: PrepareConfig) -> PrepareResult:
    records = list(iter_prepared(config))
    if config.shuffle:
        random.Random(config.seed).shuffle(records)
    if config.heldout and not config.heldout_output:
        raise ConfigError("prepare: heldout > 0 needs heldout_output")
    if config.heldout >= len(records) and config.heldout:
        raise ConfigError(f"prepare: heldout={config.heldout} leaves no training questions ({len(records)} read)")
    held, train = records[: config.heldout], records[config.heldout:]
    seen: set[str] = set()
    with JsonlWriter(config.output) as out:
        for rec in train:
            if rec.id in seen:
                continue
            seen.add(rec.id)
            out.write(rec)
    heldout_count = 0
    if config.heldout_output:
        with JsonlWriter(config.heldout_output) as out:
            for rec in held:
                out.write(rec)
            heldout_count = out.count
    return PrepareResult(output=config.output, count=len(seen),
                         heldout_output=config.heldout_output, heldout_count=heldout_count)


# ---------------------------------------------------------------------------------------
class ExportConfig(StageConfig):
    input: IOPath[str] = Field(description="canonical JSONL (chains, possibly annotated)")
    output: IOPath[str] = Field(description="EasyDistill JSON file")
    format: Literal["generation", "eval", "rewrite", "labeled"] = "generation"
    json_lines: bool = Field(False, description="JSON Lines instead of one JSON array")
    only_correct: bool = False

    def inputs(self) -> list[StageFile]:
        return files(self, "input")

    def outputs(self) -> list[StageFile]:
        return files(self, "output")


class ExportResult(BaseModel):
    output: str
    rows: int


def _instruction(rec: Record) -> str:
    meta = rec.meta or {}
    original = meta.get("easydistill") or {}
    return original.get("instruction") or meta.get("original_question") or rec.question


def _level(chain, name: str) -> int:
    ann = getattr(chain, name, None)
    return ann.level if ann is not None else -1  # EasyDistill's own "no score" value


def export_rows(config: ExportConfig) -> Iterator[dict[str, Any]]:
    from ..io import iter_records

    for rec in iter_records(config.input):
        for chain in rec.reasoning:
            if chain.finish_reason == "error" or chain.error:
                continue
            correct = bool(chain.correctness and chain.correctness.verdict)
            if config.only_correct and not correct:
                continue
            text = chain.full_response or join_thought(chain.thought, chain.solution)
            if config.format == "rewrite":
                text = chain.solution if chain.thought and chain.solution else (chain.full_response or text)
            row: dict[str, Any] = {"instruction": _instruction(rec), "output": text}
            if config.format == "eval":
                row["reasoning_verbosity"] = _level(chain, "Reasoning_Verbosity")
                row["cognitive_difficulty"] = _level(chain, "Cognitive_Difficulty")
                row["logical_correctness"] = correct
            yield row


def run_export(config: ExportConfig) -> ExportResult:
    rows = list(export_rows(config))
    with atomic_open(config.output) as fh:
        if config.json_lines:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            json.dump(rows, fh, ensure_ascii=False, indent=4)
    return ExportResult(output=config.output, rows=len(rows))
