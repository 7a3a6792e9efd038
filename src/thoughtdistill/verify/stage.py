"""The ``verify`` stage: rule verifiers over a chains file.

For each chain the first rule that applies decides its ``correctness``:

- function-call tests: ``record.meta`` has ``test`` and ``entry_point`` (HumanEval) ->
  :func:`code.check_function` on the chain's last Python block (the record's prompt is put
  in front when the block does not define the entry point itself);
- stdin/stdout tests: ``record.meta["tests"]`` is a list of ``{input, output}`` ->
  :func:`code.check_stdio`;
- a reference answer: ``record.answer`` (any domain but code) -> :func:`math.verify_math`.

Chains no rule applies to are left as they are (counted as ``unchecked``); the judge stage
sends those to the LLM judge. Math checks run on a process pool, code checks on a thread
pool of sandboxed subprocesses; records are streamed in batches (bounded memory).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from pydantic import Field

from ..config import StageConfig
from ..io.atomic import refuse_overwriting_input
from ..progress import Progress
from ..records import Chain, Record
from ..stage_io import IOPath, StageFile, files
from .code import check_function, check_stdio, extract_code
from .result import VerifyResult
from .sandbox import SandboxLimits, isolation_mode


class VerifyConfig(StageConfig):
    input: IOPath[Path] = Field(description="chains to verify (JSONL/JSON/Parquet/datasets folder, or hf:REPO[:SPLIT])")
    output: IOPath[Path] = Field(description="verified chains; the format follows the suffix")
    input_format: str | None = Field(default=None, description="input format (default: detected)")
    processes: int = Field(default=2, ge=1, description="math-verify worker processes")
    code_workers: int = Field(default=2, ge=1, description="sandboxed code runs at once")
    sandbox: SandboxLimits = Field(default_factory=SandboxLimits)
    batch_records: int = Field(default=256, ge=1, description="records verified per batch")
    math_timeout_s: float = Field(default=5.0, gt=0, description="seconds math-verify may take per answer")
    limit: int | None = Field(default=None, ge=1, description="only the first N records")
    progress: bool = Field(default=True, description="a bar on a terminal, else a line every ~10 s")

    def inputs(self) -> list[StageFile]:
        return files(self, "input")

    def outputs(self) -> list[StageFile]:
        return files(self, "output")


@dataclass
class VerifyRunResult:
    output: Path
    records: int = 0
    chains: int = 0
    correct: int = 0
    incorrect: int = 0
    undecided: int = 0  # a rule applied but could not decide (e.g. verifier error)
    unchecked: int = 0  # no rule applies (no reference answer or tests)
    by: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    isolation: str | None = None  # the sandbox mode code ran under, when code ran

    def summary(self) -> str:
        by = ", ".join(f"{k}={v}" for k, v in sorted(self.by.items())) or "none"
        weak = ("warning: code ran with rlimits only (not root): it could read this user's files and "
                "other processes' environments and reach the network by undoing a Python-level block; "
                "run verify as root (namespaces) or inside a container for isolation\n"
                if self.isolation == "rlimits" else "")
        return weak + (f"verified {self.chains} chains in {self.records} records ({self.seconds:.1f}s): "
                f"{self.correct} correct, {self.incorrect} incorrect, {self.undecided} undecided, "
                f"{self.unchecked} without a rule; by {by} -> {self.output}")


def rule_for(record: Record) -> str | None:
    """Which rule verifier applies to a record's chains: 'function', 'stdio', 'math' or None."""
    meta = record.meta or {}
    if meta.get("test") and meta.get("entry_point"):
        return "function"
    tests = meta.get("tests")
    if isinstance(tests, list) and tests and all(isinstance(t, dict) and "input" in t for t in tests):
        return "stdio"
    if record.answer is not None and str(record.answer).strip() and record.domain != "code":
        return "math"
    return None


def chain_text(chain: Chain) -> str:
    if chain.full_response:
        return chain.full_response
    if chain.thought is not None:
        return f"<think>\n{chain.thought}\n</think>\n\n{chain.solution or ''}"
    return chain.solution or ""


def _code_check(record: Record, chain: Chain, rule: str, limits: SandboxLimits) -> VerifyResult:
    meta = record.meta or {}
    code = extract_code(chain_text(chain))
    if rule == "function":
        entry = str(meta["entry_point"])
        if code is not None and f"def {entry}" not in code:
            code = record.question + code if code.startswith((" ", "\t")) else record.question + "\n" + code
        return check_function(code, str(meta["test"]), entry, limits)
    return check_stdio(code, meta["tests"], limits)


def verify_pairs(
    pairs: Sequence[tuple[Record, Chain]],
    *,
    processes: int = 2,
    code_workers: int = 2,
    limits: SandboxLimits | None = None,
    math_timeout_s: float = 5.0,
    on_result: Callable[[], None] | None = None,
) -> list[VerifyResult | None]:
    """Rule-verify (record, chain) pairs; None where no rule applies. Order is kept.
    ``on_result`` is called once per pair (progress)."""
    from .math import verify_math_many

    limits = limits or SandboxLimits()
    out: list[VerifyResult | None] = [None] * len(pairs)
    math_idx: list[int] = []
    code_idx: list[tuple[int, str]] = []
    tick = on_result or (lambda: None)
    for i, (record, chain) in enumerate(pairs):
        rule = None if chain.finish_reason == "error" else rule_for(record)
        if rule == "math":
            math_idx.append(i)
        elif rule is not None:
            code_idx.append((i, rule))
        else:
            tick()
    if math_idx:
        results = verify_math_many(
            [(chain_text(pairs[i][1]), pairs[i][0].answer) for i in math_idx],
            processes=processes if len(math_idx) >= 16 else 1, timeout_s=math_timeout_s, on_result=tick)
        for i, res in zip(math_idx, results):
            out[i] = res
    if code_idx:
        def run(item: tuple[int, str]) -> tuple[int, VerifyResult]:
            i, rule = item
            record, chain = pairs[i]
            return i, _code_check(record, chain, rule, limits)

        with ThreadPoolExecutor(max_workers=code_workers) as pool:
            for i, res in pool.map(run, code_idx):
                out[i] = res
                tick()
    return out


def _batches(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def count_chains(path: Path, limit: int | None = None) -> int | None:
    """Chains in a records file (raw rows, no validation): a progress total; None if unreadable
    or a hub dataset (counting would stream it all once more)."""
    from ..io import is_hub_ref, iter_rows

    if is_hub_ref(path):
        return None
    total = 0
    try:
        for i, (_, _, row) in enumerate(iter_rows(path)):
            if limit is not None and i >= limit:
                break
            chains = row.get("reasoning") if isinstance(row, dict) else None
            total += len(chains) if isinstance(chains, list) else 0
    except Exception:  # noqa: BLE001 - the real read reports the problem
        return None
    return total or None  # another format (chains under other keys): no total


def with_hidden_paths(limits: SandboxLimits, *paths: Path) -> SandboxLimits:
    """``limits`` that also hide ``paths`` (the input, which holds the tests) from the programs."""
    return limits.model_copy(update={"hide": [*limits.hide, *(str(Path(p).resolve()) for p in paths)]})


def apply_verdicts(records: list[Record], config: Any, counts: VerifyRunResult | None = None,
                   on_result: Callable[[], None] | None = None) -> None:
    """Set ``correctness`` on every chain a rule applies to (in place)."""
    pairs = [(r, c) for r in records for c in r.reasoning]
    results = verify_pairs(pairs, processes=config.processes, code_workers=config.code_workers,
                           limits=with_hidden_paths(config.sandbox, config.input), math_timeout_s=config.math_timeout_s,
                           on_result=on_result)
    for (record, chain), res in zip(pairs, results):
        if counts is not None:
            counts.chains += 1
        if res is None:
            if counts is not None:
                counts.unchecked += 1
            continue
        chain.correctness = res.to_correctness()
        if counts is not None:
            counts.by[res.by] = counts.by.get(res.by, 0) + 1
            if res.verdict is True:
                counts.correct += 1
            elif res.verdict is False:
                counts.incorrect += 1
            else:
                counts.undecided += 1


def run_verify(config: VerifyConfig) -> VerifyRunResult:
    """Rule-verify every chain of ``config.input``; write ``config.output`` atomically."""
    from ..io import open_writer, read_records

    refuse_overwriting_input(config.output, [config.input])
    start = time.monotonic()
    result = VerifyRunResult(output=config.output)
    total = count_chains(config.input, config.limit) if config.progress else None
    # ticker=False: updates come per chain, and a ticker thread would make the math pool
    # start by forkserver instead of fork
    with open_writer(config.output) as writer, \
            Progress(total, "verify", "chain", enabled=config.progress, ticker=False) as bar:
        for batch in _batches(read_records(config.input, config.input_format, limit=config.limit),
                              config.batch_records):
            apply_verdicts(batch, config, result, on_result=bar.update)
            for record in batch:
                writer.write(record)
                result.records += 1
    result.seconds = time.monotonic() - start
    if any(k.startswith("sandbox") for k in result.by):
        result.isolation = isolation_mode(config.sandbox.isolation)
    return result
