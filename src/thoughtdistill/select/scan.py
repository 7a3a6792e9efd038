"""Pass 1: stream the input once and keep only small numeric arrays per chain and question.

Text never stays in memory: each row is parsed, its chains' levels, verdicts, lengths and
quality flags are appended to compact arrays, the question's MinHash signature goes to a
temporary file on disk, and the row is dropped. Memory is ~16 bytes per chain plus
~(24 + 8 x LSH bands) bytes per question, whatever the text size.
"""

from __future__ import annotations

import math
import re
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..errors import RecordError
from ..io.convert import iter_canonical_rows
from ..io.jsonl import Quarantine
from ..io.reader import quarantine_path
from ..thoughts import split_thought
from .config import QualityConfig
from .hygiene import EvalIndex, MinHasher, exact_key, has_loop, language_mixed, words

F_TRUNCATED, F_NO_ANSWER, F_LOOP, F_LANGMIX, F_ERROR = 1, 2, 4, 8, 16
FLAG_NAMES = {F_TRUNCATED: "truncated", F_NO_ANSWER: "no_final_answer", F_LOOP: "repetition_loop",
              F_LANGMIX: "language_mix", F_ERROR: "error_chain"}
_NUM = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass
class Stats:
    # per chain
    q: np.ndarray  # question index (int32)
    ci: np.ndarray  # position of the chain in its record (int32)
    rv: np.ndarray  # int8, -1 = missing
    cd: np.ndarray  # int8, -1 = missing
    correct: np.ndarray  # int8: 1 true, 0 false, -1 undecided / not judged
    teacher: np.ndarray  # int16 into ``teachers``, -1 = none
    tokens: np.ndarray  # int32
    flags: np.ndarray  # uint8 bit set of F_*
    # per question
    q_domain: np.ndarray  # int16 into ``domains``, -1 = none
    q_difficulty: np.ndarray  # float32 from meta, nan = none
    q_key: np.ndarray  # uint64 normalised-text key (exact duplicates)
    q_contaminated: np.ndarray  # int16: 0 clean, else 1 + index of the matching eval file
    q_bands: np.ndarray | None  # (n, bands) uint64 LSH keys, or None
    sig_path: Path | None  # (n, num_perm) uint32 signatures on disk
    teachers: list[str]
    domains: list[str]
    rows_bad: int = 0
    errors: list[str] = field(default_factory=list)
    n_rows: int = 0  # non-blank lines seen (valid + bad), the line index space of pass 2
    q_row: np.ndarray | None = None  # row index (over all inputs) of each valid question

    @property
    def n_questions(self) -> int:
        return len(self.q_domain)

    @property
    def n_chains(self) -> int:
        return len(self.q)

    def signatures(self, num_perm: int) -> np.ndarray:
        if self.sig_path is None or self.n_questions == 0:
            return np.zeros((self.n_questions, num_perm), np.uint32)
        return np.memmap(self.sig_path, dtype=np.uint32, mode="r", shape=(self.n_questions, num_perm))


def _level(chain: dict, key: str, path: str, line: int, i: int) -> int:
    ann = chain.get(key)
    if ann is None:
        return -1
    level = ann.get("level") if isinstance(ann, dict) else None
    if level is None:
        return -1
    if isinstance(level, bool) or not isinstance(level, (int, float)) or level != int(level) or not 0 <= level <= 9:
        raise RecordError(path, line, f"reasoning.{i}.{key}.level", f"level must be an integer 0-9, got {level!r}")
    return int(level)


def _difficulty(meta: Any, key: str) -> float:
    if not isinstance(meta, dict):
        return math.nan
    val = meta.get(key)
    if isinstance(val, bool) or val is None:
        return math.nan
    if isinstance(val, (int, float)):
        return float(val)
    if isinstance(val, str):  # e.g. MATH's "Level 3"
        m = _NUM.search(val)
        return float(m.group()) if m else math.nan
    return math.nan


def _final_solution(full: str | None, solution: str | None) -> tuple[str, bool]:
    """The chain's answer part, and whether its thought is cut off (no closing tag)."""
    if solution is None and full:
        k = full.find("</think>")
        if k >= 0:  # the common case, without copying the thought
            return full[k + 8:], False
        if "<think>" in full:
            return "", True
        p = split_thought(full)
        return p.solution, p.truncated
    return solution or "", False


class Scanner:
    def __init__(self, quality: QualityConfig, chars_per_token: float, minhasher: MinHasher | None,
                 eval_index: EvalIndex | None, difficulty_key: str, workdir: Path, on_error: str):
        self.qc, self.cpt = quality, chars_per_token
        self.mh, self.ev, self.dkey = minhasher, eval_index, difficulty_key
        self.on_error = on_error
        self.workdir = workdir
        self._teachers: dict[str, int] = {}
        self._domains: dict[str, int] = {}
        c = {k: array(t) for k, t in dict(q="i", ci="i", rv="b", cd="b", correct="b", teacher="h",
                                           tokens="i", flags="B").items()}
        self.c = c
        self.qa = {k: array(t) for k, t in dict(domain="h", difficulty="f", row="q", contaminated="h").items()}
        self.keys: list[int] = []
        self.rows_bad, self.errors, self.row = 0, [], 0
        self.sig_path = workdir / "signatures.u32" if minhasher else None
        self._sig_fh = open(self.sig_path, "wb") if self.sig_path else None
        self._sig_buf: list[np.ndarray] = []

    def _intern(self, table: dict[str, int], name: Any) -> int:
        if name is None:
            return -1
        name = str(name)
        idx = table.get(name)
        if idx is None:
            idx = table[name] = len(table)
        return idx

    def scan_file(self, path: Path | str, on_row: Any = None) -> None:
        """Scan one input: any container, format (detected) or ``hf:`` reference, streamed
        as canonical row dicts (the same row order pass 2 reads again); ``on_row()`` after
        each row (progress)."""
        spath = str(path)
        quarantine = Quarantine(quarantine_path(path)) if self.on_error == "quarantine" else None
        try:
            for number, raw, obj in iter_canonical_rows(path):
                row = self.row
                self.row += 1
                if on_row is not None:
                    on_row()
                try:
                    if isinstance(obj, RecordError):
                        raise obj
                    self._scan_row(obj, spath, number, row)
                except RecordError as err:
                    self.rows_bad += 1
                    if len(self.errors) < 20:
                        self.errors.append(str(err))
                    if self.on_error == "raise":
                        raise
                    if quarantine is not None:
                        quarantine.add(err, raw if raw is not None else orjson.dumps(obj, default=str))
        finally:
            if quarantine is not None:
                quarantine.close()

    def _scan_row(self, obj: dict, path: str, line: int, row: int) -> None:
        question = obj.get("question")
        if not isinstance(question, str) or not question.strip():
            raise RecordError(path, line, "question", "missing or blank question")
        chains = obj.get("reasoning") or []
        if not isinstance(chains, list):
            raise RecordError(path, line, "reasoning", "must be a list of chains")
        parsed = [self._scan_chain(ch, question, path, line, i) for i, ch in enumerate(chains)]
        self._commit(obj, question, row, parsed)

    def _scan_chain(self, ch: Any, question: str, path: str, line: int, i: int) -> tuple[int, ...]:
        """One chain's columns: (index, rv, cd, correct, teacher, tokens, flags); a bad chain raises."""
        if not isinstance(ch, dict):
            raise RecordError(path, line, f"reasoning.{i}", "a chain must be an object")
        qc = self.qc
        rv = _level(ch, "Reasoning_Verbosity", path, line, i)
        cd = _level(ch, "Cognitive_Difficulty", path, line, i)
        corr = ch.get("correctness")
        verdict = corr.get("verdict") if isinstance(corr, dict) else None
        if verdict is not None and not isinstance(verdict, bool):
            raise RecordError(path, line, f"reasoning.{i}.correctness.verdict", f"must be true, false or null, got {verdict!r}")
        finish = ch.get("finish_reason")
        full, thought, solution = ch.get("full_response"), ch.get("thought"), ch.get("solution")
        flags = 0
        if finish == "error":
            flags |= F_ERROR
        elif not (full or thought or solution):
            raise RecordError(path, line, f"reasoning.{i}", "a chain needs full_response, thought or solution text")
        text = full if full else "\n".join(p for p in (thought, solution) if p)
        if ch.get("truncated") is True or finish == "length":
            flags |= F_TRUNCATED
        sol, cut = _final_solution(full, solution)
        if cut:
            flags |= F_TRUNCATED
        if qc.final_answer == "nonempty" and not sol.strip():
            flags |= F_NO_ANSWER
        elif qc.final_answer == "boxed" and "\\boxed" not in sol:
            flags |= F_NO_ANSWER
        if qc.drop_loops and has_loop(text, qc.loop_window, qc.loop_tail, qc.loop_min_repeats):
            flags |= F_LOOP
        if qc.drop_language_mix and language_mixed(question, text, qc.max_foreign_script):
            flags |= F_LANGMIX
        usage = ch.get("usage")
        toks = usage.get("completion_tokens") if isinstance(usage, dict) else None
        if not isinstance(toks, int) or isinstance(toks, bool):
            toks = math.ceil(len(text) / self.cpt)
        return (i, rv, cd, 1 if verdict is True else 0 if verdict is False else -1,
                self._intern(self._teachers, ch.get("teacher")), min(toks, 2**31 - 1), flags)

    def _commit(self, obj: dict, question: str, row: int, parsed: list[tuple[int, ...]]) -> None:
        """A valid row's chains and question into the columns (and its MinHash signature)."""
        qi = len(self.keys)
        c = self.c
        for i, rv, cd, corr, t, toks, flags in parsed:
            c["q"].append(qi); c["ci"].append(i); c["rv"].append(rv); c["cd"].append(cd)
            c["correct"].append(corr); c["teacher"].append(t); c["tokens"].append(toks); c["flags"].append(flags)
        qa = self.qa
        qa["domain"].append(self._intern(self._domains, obj.get("domain")))
        qa["difficulty"].append(_difficulty(obj.get("meta"), self.dkey))
        qa["row"].append(row)
        toks = words(question) if (self.ev is not None or self.mh is not None) else None
        hit = self.ev.match(question, toks) if self.ev is not None else None
        qa["contaminated"].append(0 if hit is None else hit + 1)  # 0 clean, else file index + 1
        self.keys.append(exact_key(question))
        if self.mh is not None:
            self._sig_buf.append(self.mh.signature(question, toks))
            if len(self._sig_buf) >= 4096:
                self._flush_sigs()

    def _flush_sigs(self) -> None:
        if self._sig_buf and self._sig_fh:
            self._sig_fh.write(np.stack(self._sig_buf).tobytes())
        self._sig_buf = []

    def finish(self) -> Stats:
        self._flush_sigs()
        if self._sig_fh:
            self._sig_fh.close()
        c, qa = self.c, self.qa
        stats = Stats(
            q=np.frombuffer(c["q"], np.int32).copy() if c["q"] else np.zeros(0, np.int32),
            ci=np.array(c["ci"], np.int32), rv=np.array(c["rv"], np.int8), cd=np.array(c["cd"], np.int8),
            correct=np.array(c["correct"], np.int8), teacher=np.array(c["teacher"], np.int16),
            tokens=np.array(c["tokens"], np.int64), flags=np.array(c["flags"], np.uint8),
            q_domain=np.array(qa["domain"], np.int16), q_difficulty=np.array(qa["difficulty"], np.float32),
            q_key=np.array(self.keys, np.uint64), q_contaminated=np.array(qa["contaminated"], np.int16),
            q_bands=None, sig_path=self.sig_path,
            teachers=list(self._teachers), domains=list(self._domains),
            rows_bad=self.rows_bad, errors=self.errors, n_rows=self.row,
            q_row=np.array(qa["row"], np.int64),
        )
        if self.mh is not None:
            sigs = stats.signatures(self.mh.num_perm)
            bands = np.empty((stats.n_questions, self.mh.bands), np.uint64)
            for s in range(0, stats.n_questions, 65536):
                bands[s:s + 65536] = self.mh.band_keys(np.asarray(sigs[s:s + 65536]))
            stats.q_bands = bands
        return stats
