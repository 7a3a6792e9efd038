"""``run_generate``: questions in, canonical records with teacher chains out.

Durable state is the engine's journal in ``work_dir``; the output file is derived from it
(deterministically, in input order) and written atomically at the end, so a run killed at
any moment and started again with the same config ends with the same output.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Literal, NamedTuple

import orjson
from pydantic import Field, model_validator

from ..api import (ChatRequest, ChatResult, Choice, EndpointConfig, Engine, check_endpoints,
                   default_cache_dir, estimate_tokens, probe_n, run_sync)
from ..config import StageConfig
from ..errors import ConfigError, ThoughtDistillError
from ..io import atomic_open, container_of, is_hub_ref, open_writer, read_records
from ..io.atomic import output_lock, refuse_overwriting_input
from ..records import Chain, Record, Usage
from ..stage_io import IOPath, NoEffectPath, StageFile, files
from ..thoughts import join_thought, split_thought
from .prompts import PromptBuilder, easydistill_prompt

log = logging.getLogger(__name__)


class GenerateConfig(StageConfig):
    input: IOPath[Path] = Field(description="questions (JSONL/JSON/Parquet/datasets folder, or hf:REPO[:SPLIT])")
    input_format: str | None = Field(default=None, description="input format (default: detected)")
    output: IOPath[Path] = Field(description="chains; the format follows the suffix (.jsonl, .json, .parquet)")
    teachers: list[EndpointConfig] = Field(min_length=1, description="the teacher endpoints (in a config file)")
    n: int = Field(default=1, ge=1, description="chains per question per teacher")
    assign: Literal["all", "split"] = Field(
        default="all", description="all: every teacher answers every question (up to its quota); "
        "split: each question goes to one teacher, shared by weight (up to quotas)")
    prompt: Literal["qwen3", "plain", "easydistill"] = Field(default="qwen3", description="prompt preset")
    system_prompt: str | None = Field(default=None, description="system prompt instead of the preset's")
    user_template: str | None = Field(default=None, description="user message instead of the preset's; "
                                      "must contain {question}")
    easydistill_config: IOPath[Path | None] = Field(default=None, description="take the system prompt from an "
                                            "EasyDistill job config's inference.prompt")
    work_dir: NoEffectPath[Path | None] = Field(default=None, description="journal and state; default <output>.work")
    cache: bool = Field(default=True, description="use the response cache")
    cache_dir: NoEffectPath[Path | None] = Field(default=None, description="response cache folder "
                                                 "(default: the user cache folder)")
    truncation_retries: int = Field(default=0, ge=0, description="re-ask truncated chains this many times")
    truncation_factor: float = Field(default=2.0, gt=1, description="each re-ask multiplies max_tokens by this")
    max_tokens_cap: int | None = Field(default=None, ge=1, description="re-asks never ask for more tokens than this")
    retry_failed: bool = Field(default=True, description="on resume, re-send requests that failed for good")
    limit: int | None = Field(default=None, ge=1, description="only the first N questions")
    dry_run: bool = Field(default=False, description="estimate requests, tokens and cost; send nothing")
    dry_run_completion_tokens: int | None = Field(default=None, ge=1,
                                                  description="expected completion tokens a chain (default: max_tokens or 4096)")
    progress: bool = Field(default=True, description="a bar on a terminal, else a line every ~10 s")
    check_endpoints: bool = Field(default=True, description="ask each teacher for its model list before sending")
    fsync_every: int = Field(default=0, ge=0, description="fsync the journal every N appends (0: never)")

    @model_validator(mode="after")
    def _check(self) -> "GenerateConfig":
        names = [t.name for t in self.teachers]
        if len(set(names)) != len(names):
            raise ValueError(f"teacher names must be unique: {names}")
        if self.truncation_retries and any(t.max_tokens is None for t in self.teachers):
            raise ValueError("truncation_retries needs max_tokens set on every teacher")
        return self

    def inputs(self) -> list[StageFile]:
        return files(self, "input", "easydistill_config")

    def outputs(self) -> list[StageFile]:
        return files(self, "output")


@dataclass
class TeacherEstimate:
    questions: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0


@dataclass
class GenerateResult:
    output: Path | None
    questions: int = 0
    chains: int = 0
    failed: int = 0
    truncated: int = 0
    sent: int = 0
    cached: int = 0
    resumed: int = 0
    changed: int = 0
    retries: int = 0
    first_error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    elapsed_s: float = 0.0
    estimate: dict[str, TeacherEstimate] = field(default_factory=dict)

    def summary(self) -> str:
        if self.output is None:
            lines = ["dry run: nothing sent"]
            total = 0.0
            for name, e in self.estimate.items():
                total += e.cost
                lines.append(f"  {name}: {e.questions} questions, {e.requests} requests, "
                             f"~{e.prompt_tokens:,} prompt + ~{e.completion_tokens:,} completion tokens, "
                             f"~${e.cost:,.2f}")
            lines.append(f"  total ~${total:,.2f}")
            return "\n".join(lines)
        return (f"{self.output}: {self.questions} questions, {self.chains} chains "
                f"({self.failed} failed, {self.truncated} truncated); {self.sent} HTTP requests, "
                f"{self.cached} cached, {self.resumed} resumed, "
                + (f"{self.changed} re-sent (settings changed since journaled), " if self.changed else "")
                + f"{self.retries} retries; "
                f"{self.prompt_tokens:,}+{self.completion_tokens:,} tokens in {self.elapsed_s:.1f}s")


# -- planning --------------------------------------------------------------------------------

def _assign(config: GenerateConfig, records: Iterator[Record]) -> Iterator[tuple[Record, list[EndpointConfig]]]:
    """Which teachers answer each question: deterministic from the input order."""
    counts: dict[str, int] = defaultdict(int)
    for record in records:
        open_ = [t for t in config.teachers if t.quota is None or counts[t.name] < t.quota]
        if config.assign == "split" and open_:
            open_ = [min(open_, key=lambda t: ((counts[t.name] + 1) / t.weight, config.teachers.index(t)))]
        for t in open_:
            counts[t.name] += 1
        yield record, open_


def _slot_key(record_id: str, teacher: str, i: int) -> str:
    return f"{record_id}/{teacher}/{i}"


def _n_key(record_id: str, teacher: str, n: int) -> str:
    return f"{record_id}/{teacher}/n{n}"


def _seed(teacher: EndpointConfig, i: int, n: int) -> int | None:
    if n == 1:
        return teacher.seed
    return (teacher.seed or 0) + i


class _Best(NamedTuple):
    """A chain slot's current best result: the journal key it is under, the result, the
    slot's choice in it, and the truncation retry round it came from (0: the first request)."""

    key: str
    result: ChatResult | None
    choice: Choice | None
    round: int


class _Slot(NamedTuple):
    """One chain slot (sample ``index`` of ``teacher`` for ``record``) and its best result."""

    record: Record
    teacher: EndpointConfig
    index: int
    messages: list[dict]
    best: _Best


class _Plan:
    def __init__(self, config: GenerateConfig, use_n: dict[str, bool]):
        self.config, self.use_n = config, use_n
        system = config.system_prompt
        preset = config.prompt
        if config.easydistill_config is not None:
            system, preset = easydistill_prompt(config.easydistill_config), "easydistill"
        self.prompts = PromptBuilder(preset, system, config.user_template)

    def records(self) -> Iterator[tuple[Record, list[EndpointConfig]]]:
        return _assign(self.config, read_records(self.config.input, self.config.input_format, limit=self.config.limit))

    def base_requests(self) -> Iterator[ChatRequest]:
        n = self.config.n
        for record, teachers in self.records():
            messages = self.prompts.messages(record.question, record.domain)
            for t in teachers:
                if self.use_n.get(t.name) and n > 1:
                    yield ChatRequest(key=_n_key(record.id, t.name, n), messages=messages,
                                      endpoint=t.name, n=n, seed=t.seed)
                else:
                    for i in range(n):
                        yield ChatRequest(key=_slot_key(record.id, t.name, i), messages=messages,
                                          endpoint=t.name, seed=_seed(t, i, n))

    def slots(self, journal) -> Iterator[_Slot]:
        """Each chain slot with its current best result."""
        for record, teachers in self.records():
            messages = self.prompts.messages(record.question, record.domain)
            for t, i, best in self.record_slots(journal, record, teachers):
                yield _Slot(record, t, i, messages, best)

    def record_slots(self, journal, record: Record,
                     teachers: list[EndpointConfig]) -> Iterator[tuple[EndpointConfig, int, _Best]]:
        for t in teachers:
            nres = journal.get(_n_key(record.id, t.name, self.config.n)) if self.config.n > 1 else None
            for i in range(self.config.n):
                yield t, i, self._best(journal, record.id, t.name, i, nres)

    def _best(self, journal, rid: str, tname: str, i: int, nres: ChatResult | None) -> _Best:
        slot = _slot_key(rid, tname, i)
        for rnd in range(self.config.truncation_retries, 0, -1):
            res = journal.get(f"{slot}/r{rnd}")
            if res is not None and res.ok:
                return _Best(f"{slot}/r{rnd}", res, res.choices[0], rnd)
        if nres is not None and (not nres.ok or i < len(nres.choices)):
            return _Best(_n_key(rid, tname, self.config.n), nres, (nres.choices[i] if nres.ok else None), 0)
        res = journal.get(slot)
        return _Best(slot, res, (res.choices[0] if res is not None and res.ok else None), 0)


def _is_truncated(choice: Choice | None) -> bool:
    if choice is None:
        return False
    return split_thought(choice.content, choice.reasoning_content, choice.finish_reason).truncated


def make_chain(teacher: EndpointConfig, result: ChatResult | None, choice: Choice | None,
               share: int = 1) -> Chain:
    label = teacher.label
    if result is None:
        return Chain(teacher=label, finish_reason="error", error="no result (request not made)")
    if not result.ok or choice is None:
        return Chain(teacher=label, finish_reason="error", error=result.error or "no choice")
    content, rc = choice.content or "", choice.reasoning_content
    full = join_thought(rc, content) if rc else content
    if not full.strip():
        return Chain(teacher=label, finish_reason="error", error="empty response")
    parsed = split_thought(content, rc, choice.finish_reason)
    usage = None
    if result.usage:
        usage = Usage(prompt_tokens=result.usage.get("prompt_tokens"),
                      completion_tokens=(result.usage.get("completion_tokens") or 0) // share
                      if result.usage.get("completion_tokens") is not None else None)
    return Chain(teacher=label, thought=parsed.thought, solution=parsed.solution, full_response=full,
                 finish_reason="length" if choice.finish_reason == "length" else "stop",
                 truncated=parsed.truncated, usage=usage)


# -- the stage -------------------------------------------------------------------------------

def _validate(config: GenerateConfig) -> int:
    if not is_hub_ref(config.input) and not config.input.exists():
        raise ConfigError(f"{config.input}: input file not found")
    refuse_overwriting_input(config.output, [config.input])
    try:
        container_of(config.output)
    except ThoughtDistillError as exc:
        raise ConfigError(f"output: {exc}") from None
    _Plan(config, {})  # prompt settings
    count = 0
    ids: set[str] = set()
    for record in read_records(config.input, config.input_format, limit=config.limit):  # raises on the first bad record
        count += 1
        if record.id in ids:
            raise ConfigError(f"{config.input}: question {count} repeats id '{record.id}' "
                              "(ids key the journal: deduplicate the input or give distinct ids)")
        ids.add(record.id)
    if count == 0:
        raise ConfigError(f"{config.input}: no questions")
    return count


def _estimate(config: GenerateConfig) -> dict[str, TeacherEstimate]:
    plan = _Plan(config, {})
    est = {t.name: TeacherEstimate() for t in config.teachers}
    for record, teachers in plan.records():
        ptok = estimate_tokens(plan.prompts.messages(record.question, record.domain))
        for t in teachers:
            e = est[t.name]
            per_chain = config.dry_run_completion_tokens or t.max_tokens or 4096
            use_n = t.supports_n is True and config.n > 1
            e.questions += 1
            e.requests += 1 if use_n else config.n
            e.prompt_tokens += ptok * (1 if use_n else config.n)
            e.completion_tokens += per_chain * config.n
    for t in config.teachers:
        e = est[t.name]
        e.cost = t.cost(e.prompt_tokens, e.completion_tokens)
    return est


def _resolve_n(config: GenerateConfig, state_path: Path) -> dict[str, bool]:
    """Server-side n per teacher; decided once per work dir so a resume uses the same keys."""
    try:
        state = orjson.loads(state_path.read_bytes()) if state_path.exists() else {}
    except orjson.JSONDecodeError as exc:
        raise ThoughtDistillError(
            f"{state_path}: unreadable ({exc}); it records how this run asked for n chains, so a resume "
            "keeps its request keys: restore it, or delete the work dir to start afresh") from None
    use_n: dict[str, bool] = dict(state.get("use_n", {}))
    for t in config.teachers:
        if t.name in use_n or config.n == 1:
            continue
        use_n[t.name] = run_sync(probe_n(t)) if t.supports_n == "auto" else bool(t.supports_n)
        log.info("teacher %s: server-side n %s", t.name, "honoured" if use_n[t.name] else "not used")
    with atomic_open(state_path, "wb", encoding=None) as fh:
        fh.write(orjson.dumps(dict(state, use_n=use_n)))
    return use_n


def run_generate(config: GenerateConfig) -> GenerateResult:
    start = time.monotonic()
    count = _validate(config)
    if config.dry_run:
        return GenerateResult(output=None, questions=count, estimate=_estimate(config))
    with output_lock(config.output):
        return _generate(config, count, start)


def _generate(config: GenerateConfig, count: int, start: float) -> GenerateResult:
    for t in config.teachers:
        t.api_key()  # missing key env var: one clear error now
    if config.check_endpoints:
        run_sync(check_endpoints(config.teachers))
    work = config.work_dir or config.output.with_name(config.output.name + ".work")
    work.mkdir(parents=True, exist_ok=True)
    use_n = _resolve_n(config, work / "state.json")
    plan = _Plan(config, use_n)
    cache_dir = (config.cache_dir or default_cache_dir()) if config.cache else None
    engine = Engine(config.teachers, journal_path=work / "journal.jsonl", cache_dir=cache_dir,
                    retry_failed=config.retry_failed, fsync_every=config.fsync_every)
    result = GenerateResult(output=config.output, questions=count)
    try:
        def phase(requests, desc: str, total: int | None = None) -> None:
            async def go() -> None:
                async for _ in engine.run(requests, progress=config.progress, total=total,
                                          yield_resumed=False, desc=desc):
                    pass
            run_sync(go())

        total = sum(1 for _ in plan.base_requests()) if config.progress else None
        phase(plan.base_requests(), "generate", total)
        # slots a server-side n call did not fill (fewer choices than asked): separate requests
        missing = [ChatRequest(key=_slot_key(s.record.id, s.teacher.name, s.index), messages=s.messages,
                               endpoint=s.teacher.name, seed=_seed(s.teacher, s.index, config.n))
                   for s in plan.slots(engine.journal)
                   if s.best.result is None and use_n.get(s.teacher.name)]
        if missing:
            phase(missing, "fill n")
        for rnd in range(1, config.truncation_retries + 1):
            retry = []
            for s in plan.slots(engine.journal):
                res, t = s.best.result, s.teacher
                if res is not None and res.ok and s.best.round == rnd - 1 and _is_truncated(s.best.choice):
                    budget = int(t.max_tokens * config.truncation_factor ** rnd)  # type: ignore[operator]
                    if config.max_tokens_cap:
                        budget = min(budget, config.max_tokens_cap)
                    retry.append(ChatRequest(key=f"{_slot_key(s.record.id, t.name, s.index)}/r{rnd}",
                                             messages=s.messages, endpoint=t.name,
                                             seed=_seed(t, s.index, config.n), max_tokens=budget))
            if not retry:
                break
            phase(retry, f"retry truncated ({rnd})")
        _write_output(config, plan, engine, result)
    finally:
        engine.close()
    s = engine.stats
    result.sent, result.cached, result.resumed, result.retries = s.sent, s.cached, s.resumed, s.retries
    result.changed = s.changed
    result.elapsed_s = round(time.monotonic() - start, 3)
    if result.chains and result.failed == result.chains:
        raise ThoughtDistillError(
            f"all {result.chains} chains failed (first: {result.first_error}); {config.output} keeps them "
            "as errors; fix the teacher and run again: they are sent again")
    return result


def _write_output(config: GenerateConfig, plan: _Plan, engine: Engine, result: GenerateResult) -> None:
    with open_writer(config.output) as writer:
        for record, teachers in plan.records():
            chains: list[Chain] = []
            for teacher, _, (key, res, choice, _round) in plan.record_slots(engine.journal, record, teachers):
                share = config.n if config.n > 1 and key.endswith(f"/n{config.n}") else 1
                chain = make_chain(teacher, res, choice, share)
                chains.append(chain)
                if chain.finish_reason == "error":
                    result.failed += 1
                    result.first_error = result.first_error or chain.error
                result.truncated += bool(chain.truncated)
                if res is not None and res.ok and res.usage:
                    result.prompt_tokens += int(res.usage.get("prompt_tokens") or 0) // share
                    result.completion_tokens += int(res.usage.get("completion_tokens") or 0) // share
            result.chains += len(chains)
            writer.write(record.model_copy(update={"reasoning": list(record.reasoning) + chains}))
