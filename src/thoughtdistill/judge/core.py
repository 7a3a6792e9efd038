"""The ``judge`` stage: LLM judges score RV / CD / correctness, rule verifiers decide
correctness where they can, results are aggregated with provenance.

Passes over the input (streamed each time; memory holds one parsed score per judgment):

1. every (chain, judge, metric) prompt goes through the teacher engine (``thoughtdistill.api``:
   concurrency, retries, journal in ``work_dir``, response cache);
2. replies that could not be parsed are asked again once, with the reply and a stricter
   instruction appended; a reply still unreadable becomes ``Judgment(ok=False, raw=...)``;
3. the output: each chain gets its ``judgments`` (earlier judges' are kept), aggregated
   ``Reasoning_Verbosity`` / ``Cognitive_Difficulty`` (``{"judge": "median(a,b)", "level": n}``)
   and ``correctness`` from the cascade: a rule verifier where the record has a reference
   answer or tests, else the judges' majority. Chain text is never changed.

Re-running with another judge or rubric sends only the new requests: keys include a hash of
the prompt, the journal resumes, and the response cache answers identical prompts.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal

from pydantic import Field, model_validator

from ..api import (ChatRequest, ChatResult, EndpointConfig, check_endpoints, default_cache_dir,
                   run_requests_sync, run_sync)
from ..config import StageConfig
from ..errors import ConfigError, ThoughtDistillError
from ..io import read_records
from ..io.atomic import output_lock, refuse_overwriting_input
from ..io.hub import is_hub_ref
from ..records import Annotation, Chain, Correctness, Judgment, Record
from ..stage_io import IOPath, NoEffectPath, StageFile, files
from ..verify.sandbox import SandboxLimits
from ..verify import chain_text, rule_for, verify_pairs, with_hidden_paths
from .agreement import format_report
from .diagnostics import JudgeDiagnostics, format_diagnostics
from .parse import Parsed, parse_score
from .rubrics import METRICS, SHORT, Rubric, kind_of, load_rubric, strict_instruction

RAW_KEEP = 2000  # characters of a judge's reply kept in a parsed Judgment (the tail)


class JudgeConfig(StageConfig):
    input: IOPath[Path] = Field(description="chains (JSONL/JSON/Parquet/datasets folder, or hf:REPO[:SPLIT])")
    output: IOPath[Path] = Field(description="annotated chains; the format follows the suffix")
    input_format: str | None = Field(default=None, description="input format (default: detected)")
    judges: list[EndpointConfig] = Field(default_factory=list, description="LLM judges (name = judge label)")
    metrics: list[Literal["Reasoning_Verbosity", "Cognitive_Difficulty", "correctness"]] = Field(
        default_factory=lambda: list(METRICS), description="what the judges score (repeat the flag)")
    rubric: Literal["thoughtdistill", "easydistill"] = Field(default="thoughtdistill", description="rubric preset")
    rubric_file: IOPath[Path | None] = Field(default=None, description="YAML/JSON templates overriding the preset, or "
                                     "EasyDistill's prompts (its folder or prompts file; needed by rubric easydistill)")
    aggregate: Literal["median", "mean"] = Field(default="median", description="how several judges' levels combine")
    judge_correctness: Literal["fallback", "always", "never"] = Field(
        default="fallback", description="fallback: ask judges only where no rule verifier applies; "
        "always: ask them everywhere (agreement with the rules); never: rules only")
    rule_verify: bool = Field(default=True, description="use rule verifiers (math-verify, sandbox) first")
    keep_previous: bool = Field(default=True, description="keep earlier judges' judgments on the chains")
    max_chain_chars: int = Field(default=60000, ge=200, description="longer chains are cut in the middle")
    strict_retry: bool = Field(default=True, description="re-ask once, with a stricter format prompt, "
                               "when a reply cannot be parsed")
    temperature: float | None = Field(default=0.0, ge=0, description="judges' sampling temperature")
    work_dir: NoEffectPath[Path | None] = Field(default=None, description="journal; default <output>.work")
    cache: bool = Field(default=True, description="use the response cache")
    cache_dir: NoEffectPath[Path | None] = Field(default=None, description="response cache folder "
                                                 "(default: the user cache folder)")
    retry_failed: bool = Field(default=True, description="on resume, re-send requests that failed for good")
    agreement_report: IOPath[Path | None] = Field(default=None, description="default <output>.agreement.json")
    processes: int = Field(default=2, ge=1, description="math-verify worker processes")
    code_workers: int = Field(default=2, ge=1, description="sandboxed code runs at once")
    sandbox: SandboxLimits = Field(default_factory=SandboxLimits)
    limit: int | None = Field(default=None, ge=1, description="only the first N records")
    progress: bool = Field(default=True, description="a bar on a terminal, else a line every ~10 s")
    check_endpoints: bool = Field(default=True, description="GET /models of every judge before any request")
    dry_run: bool = Field(default=False, description="count the judge calls and check the config; send nothing")

    @model_validator(mode="after")
    def _check(self) -> "JudgeConfig":
        names = [j.name for j in self.judges]
        if len(set(names)) != len(names):
            raise ValueError(f"judge names must be unique: {names}")
        if not self.judges and not self.rule_verify:
            raise ValueError("no judges and rule_verify off: nothing to do")
        return self

    def inputs(self) -> list[StageFile]:
        return files(self, "input", "rubric_file")

    def outputs(self) -> list[StageFile]:
        return files(self, "output", "agreement_report")


@dataclass
class JudgeResult:
    output: Path
    records: int = 0
    chains: int = 0
    requests: int = 0
    sent: int = 0
    cached: int = 0
    resumed: int = 0
    retried: int = 0
    unparsable: int = 0
    failed: int = 0  # transport failures (no reply at all)
    correctness_by: dict[str, int] = field(default_factory=dict)
    agreement: dict[str, Any] = field(default_factory=dict)
    agreement_path: Path | None = None
    seconds: float = 0.0
    diagnostics: dict[str, Any] = field(default_factory=dict)  # judge.diagnostics report
    dry_run_notes: list[str] | None = None  # set by a dry run: the judges it would call

    def summary(self) -> str:
        if self.dry_run_notes is not None:
            judges = "".join(f"\n  judge {n}" for n in self.dry_run_notes)
            return (f"would make {self.requests} judge calls for {self.chains} chains in {self.records} records "
                    f"-> {self.output}; nothing sent (--dry-run){judges}")
        by = ", ".join(f"{k}={v}" for k, v in sorted(self.correctness_by.items())) or "none"
        return (f"judged {self.chains} chains in {self.records} records ({self.seconds:.1f}s): "
                f"{self.requests} judge calls ({self.sent} sent, {self.cached} cached, "
                f"{self.resumed} resumed), {self.retried} strict retries, {self.unparsable} "
                f"unparsable, {self.failed} failed; correctness by {by} -> {self.output}\n"
                + (format_diagnostics(self.diagnostics) if self.diagnostics else format_report(self.agreement)))


# ----------------------------------------------------------------------------- prompts

def _cut_middle(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = (limit - 40) // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters cut ...]\n{text[-half:]}"


@dataclass(frozen=True)
class Task:
    key: str
    judge: str
    metric: str
    record_id: str
    chain_index: int
    messages: list[dict[str, Any]]


def _wanted(config: JudgeConfig, record: Record, metric: str) -> bool:
    if metric != "correctness":
        return True
    if config.judge_correctness == "never":
        return False
    if config.judge_correctness == "always" or not config.rule_verify:
        return True
    return rule_for(record) is None


def iter_tasks(config: JudgeConfig, rubric: Rubric, records: Iterator[Record]) -> Iterator[Task]:
    for record in records:
        for ci, chain in enumerate(record.reasoning):
            if chain.finish_reason == "error":
                continue
            text = _cut_middle(chain_text(chain), config.max_chain_chars)
            for metric in config.metrics:
                if not _wanted(config, record, metric):
                    continue
                reference = record.answer if metric == "correctness" else None
                prompt = rubric.render(metric, record.question, text, reference)
                digest = hashlib.sha256(prompt.encode()).hexdigest()[:12]
                for judge in config.judges:
                    key = f"{record.id}/{ci}/{judge.name}/{SHORT[metric]}/{digest}"
                    yield Task(key, judge.name, metric, record.id, ci,
                               [{"role": "user", "content": prompt}])


def _request(task: Task, temperature: float | None, strict_from: str | None = None) -> ChatRequest:
    messages = list(task.messages)
    key = task.key
    if strict_from is not None:
        messages += [{"role": "assistant", "content": strict_from},
                     {"role": "user", "content": strict_instruction(task.metric)}]
        key += "/strict"
    return ChatRequest(key=key, messages=messages, endpoint=task.judge, temperature=temperature)


def _reply(result: ChatResult) -> str:
    return result.content or ""


def _tail(text: str, n: int = RAW_KEEP) -> str:
    return text if len(text) <= n else "…" + text[-n:]


# ----------------------------------------------------------------------------- engine passes

def count_tasks(config: JudgeConfig) -> int:
    """How many judge calls :func:`iter_tasks` will make (no prompt is rendered): the bar's total."""
    total = 0
    for record in read_records(config.input, config.input_format, limit=config.limit):
        metrics = sum(_wanted(config, record, m) for m in config.metrics)
        total += metrics * len(config.judges) * sum(c.finish_reason != "error" for c in record.reasoning)
    return total


def _run(config: JudgeConfig, requests: Iterator[ChatRequest] | list[ChatRequest], work: Path,
         stats: JudgeResult, desc: str, total: int | None = None) -> Iterator[ChatResult]:
    cache = (config.cache_dir or default_cache_dir()) if config.cache else None
    # in completion order: results are looked up by key, and the prompts stay a stream
    for res in run_requests_sync(config.judges, requests, in_order=False, journal_path=work / "journal.jsonl",
                                 cache_dir=cache, progress=config.progress,
                                 retry_failed=config.retry_failed, desc=desc, total=total):
        stats.requests += 1
        if res.resumed:
            stats.resumed += 1
        elif res.cached:
            stats.cached += 1
        else:
            stats.sent += 1
        yield res


@dataclass
class _Score:
    value: int | bool | None
    ok: bool
    raw: str | None
    how: str


def _collect_scores(config: JudgeConfig, rubric: Rubric, work: Path, stats: JudgeResult) -> dict[str, _Score]:
    """Passes 1 and 2: key -> parsed score (after one strict retry where needed)."""
    kinds = {}
    scores: dict[str, _Score] = {}

    def tasks() -> Iterator[Task]:
        return iter_tasks(config, rubric, read_records(config.input, config.input_format, limit=config.limit))

    def requests() -> Iterator[ChatRequest]:
        for task in tasks():
            kinds[task.key] = kind_of(task.metric)
            yield _request(task, config.temperature)

    retry: dict[str, str] = {}
    total = count_tasks(config) if config.progress else None
    for res in _run(config, requests(), work, stats, "judge", total):
        if not res.ok:
            scores[res.key] = _Score(None, False, res.error, "request failed")
            continue
        parsed = parse_score(_reply(res), kinds[res.key])
        scores[res.key] = _Score(parsed.value, parsed.ok, _tail(_reply(res)), parsed.how)
        if not parsed.ok and config.strict_retry:
            retry[res.key] = _reply(res)
    if retry:
        strict = [_request(t, config.temperature, strict_from=retry[t.key]) for t in tasks() if t.key in retry]
        stats.retried += len(strict)
        for res in _run(config, strict, work, stats, "judge (strict retry)"):
            key = res.key[: -len("/strict")]
            first = scores[key]
            if not res.ok:
                continue
            parsed: Parsed = parse_score(_reply(res), kinds[key])
            if parsed.ok:
                scores[key] = _Score(parsed.value, True, _tail(_reply(res)), "strict retry: " + parsed.how)
            else:
                raw = f"{first.raw}\n--- strict retry ---\n{_tail(_reply(res))}"
                scores[key] = _Score(None, False, raw, f"{first.how}; strict retry: {parsed.how}")
    for s in scores.values():
        if s.how == "request failed":
            stats.failed += 1
        elif not s.ok:
            stats.unparsable += 1
    return scores


# ----------------------------------------------------------------------------- aggregation

def aggregate_levels(levels: dict[str, int], how: str = "median") -> Annotation | None:
    """One annotation from several judges' levels: ``{"judge": "median(a,b)", "level": n}``
    (one judge: its own name). Half levels round half up."""
    if not levels:
        return None
    names = sorted(levels)
    values = [levels[n] for n in names]
    if len(values) == 1:
        return Annotation(judge=names[0], level=values[0])
    centre = statistics.median(values) if how == "median" else statistics.fmean(values)
    level = int(centre + 0.5)
    return Annotation(judge=f"{how}({','.join(names)})", level=level)


def aggregate_verdicts(verdicts: dict[str, bool]) -> Correctness | None:
    if not verdicts:
        return None
    names = sorted(verdicts)
    yes = sum(verdicts.values())
    no = len(verdicts) - yes
    verdict = None if yes == no else yes > no
    by = f"judge:{names[0]}" if len(names) == 1 else f"majority({','.join(names)})"
    detail = ", ".join(f"{n}={'correct' if verdicts[n] else 'incorrect'}" for n in names)
    if verdict is None:
        detail += " (tie: undecided)"
    return Correctness(verdict=verdict, by=by, detail=f"LLM judge: {detail}")


def _previous_judgments(chain: Chain, replacing: set[str], keep: bool) -> list[Judgment]:
    if not keep:
        return []
    out = [j for j in chain.judgments or [] if j.judge not in replacing]
    have = {(j.judge, j.metric) for j in out}
    # an annotation from elsewhere (e.g. OmniThought's QwQ-32B) becomes a judgment once,
    # so it takes part in aggregation and agreement
    for metric in ("Reasoning_Verbosity", "Cognitive_Difficulty"):
        ann: Annotation | None = getattr(chain, metric)
        if ann is not None and ann.judge and "(" not in ann.judge and ann.judge not in replacing \
                and (ann.judge, metric) not in have:
            out.append(Judgment(judge=ann.judge, metric=metric, level=ann.level, raw=None))
    return out


def _annotate(config: JudgeConfig, rubric: Rubric, record: Record, scores: dict[str, _Score]) -> None:
    by_chain: dict[int, list[Judgment]] = {}
    for task in iter_tasks(config, rubric, iter([record])):
        s = scores.get(task.key)
        if s is None:
            continue
        j = Judgment(judge=task.judge, metric=task.metric, ok=s.ok, raw=s.raw,
                     level=s.value if (s.ok and task.metric != "correctness") else None,
                     verdict=s.value if (s.ok and task.metric == "correctness") else None,
                     rubric=f"{rubric.name}:{rubric.fingerprint}", parse=s.how)
        by_chain.setdefault(task.chain_index, []).append(j)
    replacing = {j.name for j in config.judges}
    for ci, chain in enumerate(record.reasoning):
        new = by_chain.get(ci, [])
        if not new and not chain.judgments:
            continue
        chain.judgments = _previous_judgments(chain, replacing, config.keep_previous) + new
        for metric in ("Reasoning_Verbosity", "Cognitive_Difficulty"):
            if metric not in config.metrics:
                continue
            levels = {j.judge: j.level for j in chain.judgments
                      if j.metric == metric and j.ok and j.level is not None}
            ann = aggregate_levels(levels, config.aggregate)
            if ann is not None:
                setattr(chain, metric, ann)


def _decide_correctness(config: JudgeConfig, records: list[Record], stats: JudgeResult) -> None:
    pairs = [(r, c) for r in records for c in r.reasoning]
    rules: list[Any] = [None] * len(pairs)
    if config.rule_verify:
        rules = verify_pairs(pairs, processes=config.processes, code_workers=config.code_workers,
                             limits=with_hidden_paths(config.sandbox, config.input))
    for (record, chain), rule in zip(pairs, rules):
        if rule is not None:
            chain.correctness = rule.to_correctness()
        elif "correctness" in config.metrics:
            verdicts = {j.judge: j.verdict for j in chain.judgments or []
                        if j.metric == "correctness" and j.ok and j.verdict is not None}
            decided = aggregate_verdicts(verdicts)
            if decided is not None:
                chain.correctness = decided
            elif any(j.metric == "correctness" for j in chain.judgments or []):
                chain.correctness = Correctness(verdict=None, by="llm-judge",
                                                detail="no readable judge verdict")
        if chain.correctness is not None:
            stats.correctness_by[chain.correctness.by] = stats.correctness_by.get(chain.correctness.by, 0) + 1


def run_judge(config: JudgeConfig) -> JudgeResult:
    """Judge every chain of ``config.input``; write ``config.output`` and an agreement report."""
    start = time.monotonic()
    rubric = load_rubric(config.rubric, config.rubric_file)
    if config.dry_run:
        return _dry_run(config, start)
    _preflight(config)
    with output_lock(config.output):
        return _judge(config, rubric, start)


def _judge(config: JudgeConfig, rubric: Rubric, start: float) -> JudgeResult:
    from ..io import open_writer

    work = config.work_dir or config.output.with_name(config.output.name + ".work")
    work.mkdir(parents=True, exist_ok=True)
    stats = JudgeResult(output=config.output)
    scores = _collect_scores(config, rubric, work, stats) if config.judges else {}
    diag = JudgeDiagnostics()  # score spread, modal share, RV-length correlation, agreement
    batch: list[Record] = []
    with open_writer(config.output) as writer:
        def flush() -> None:
            _decide_correctness(config, batch, stats)
            for rec in batch:
                for chain in rec.reasoning:
                    diag.add(chain)
                writer.write(rec)
            batch.clear()

        for record in read_records(config.input, config.input_format, limit=config.limit):
            _annotate(config, rubric, record, scores)
            stats.records += 1
            stats.chains += len(record.reasoning)
            batch.append(record)
            if len(batch) >= 256:
                flush()
        flush()
    stats.agreement = diag.agreement.report()
    stats.diagnostics = diag.report()
    stats.agreement_path = config.agreement_report or config.output.with_name(
        config.output.name + ".agreement.json")
    stats.agreement_path.write_text(json.dumps({**stats.agreement, "diagnostics": stats.diagnostics}, indent=2),
                                    encoding="utf-8")
    stats.seconds = time.monotonic() - start
    if stats.failed and stats.failed == len(scores):
        raise ThoughtDistillError(
            f"all {stats.failed} judge calls failed (first: {_first_failure(scores)}); {config.output} "
            "holds the chains without LLM scores; fix the judge and run again (failed calls are re-sent)")
    return stats


def _dry_run(config: JudgeConfig, start: float) -> JudgeResult:
    """The checks that send nothing: input, rubric (already loaded), output path; the calls it
    would make. A judge whose key variable is unset is a note, not an error (the dry run may
    happen on another machine than the real one)."""
    import os

    if not is_hub_ref(config.input) and not config.input.exists():
        raise ConfigError(f"input: {config.input} not found")
    refuse_overwriting_input(config.output, [config.input])
    stats = JudgeResult(output=config.output, requests=count_tasks(config) if config.judges else 0)
    for record in read_records(config.input, config.input_format, limit=config.limit):
        stats.records += 1
        stats.chains += len(record.reasoning)
    notes = [f"{j.name}: {j.model} at {j.base_url}" + (f" (key variable {j.api_key_env} is not set)"
                                                        if j.api_key_env and not os.environ.get(j.api_key_env) else "")
             for j in config.judges]
    stats.seconds = time.monotonic() - start
    stats.dry_run_notes = notes
    return stats


def _preflight(config: JudgeConfig) -> None:
    """Everything that can fail before a request is spent."""
    if not is_hub_ref(config.input) and not config.input.exists():
        raise ConfigError(f"input: {config.input} not found")
    refuse_overwriting_input(config.output, [config.input])
    for judge in config.judges:
        judge.api_key()
    if config.judges and config.check_endpoints:
        run_sync(check_endpoints(config.judges))


def _first_failure(scores: dict[str, "_Score"]) -> str:
    return next((s.raw or "" for s in scores.values() if s.how == "request failed"), "")
