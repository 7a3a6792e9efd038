"""Data hygiene: question normalisation, exact and near-duplicate detection (MinHash + LSH
bands from ``datasketch``), n-gram decontamination against evaluation sets, and cheap
per-chain quality checks (truncation, missing final answer, repetition loops, language mix).

Everything here is deterministic: hashes are blake2b / datasketch's seeded permutations,
never Python's randomised ``hash`` where a result could depend on it.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from pathlib import Path
from typing import Iterable

import numpy as np

_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
# question text of an evaluation row: ours/MATH/HumanEval, GPQA's CSV, LiveCodeBench's rows
EVAL_TEXT_FIELDS = ("question", "problem", "prompt", "Question", "question_content")


def normalize(text: str) -> str:
    return " ".join(text.lower().split())


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def exact_key(text: str) -> int:
    """64-bit key of the normalised question (case and whitespace ignored)."""
    return int.from_bytes(hashlib.blake2b(normalize(text).encode("utf-8"), digest_size=8).digest(), "little")


# --- near duplicates -------------------------------------------------------------------


class MinHasher:
    """datasketch MinHash signatures of word shingles, plus LSH band keys as uint64."""

    def __init__(self, num_perm: int = 64, threshold: float = 0.8, shingle: int = 3, seed: int = 1):
        from datasketch import MinHash
        from datasketch.lsh import _optimal_param

        self._MinHash = MinHash
        proto = MinHash(num_perm=num_perm, seed=seed, hashfunc=zlib.crc32)
        self._perms, self._scheme = proto.permutations, proto.scheme
        self.num_perm, self.seed, self.shingle, self.threshold = num_perm, seed, shingle, threshold
        self.bands, self.rows = _optimal_param(threshold, num_perm, 0.5, 0.5)
        mult = np.random.default_rng(12345).integers(1, 2**63, size=(self.bands, self.rows), dtype=np.uint64)
        self._mult = mult | np.uint64(1)

    def signature(self, text: str, toks: list[str] | None = None) -> np.ndarray:
        toks = (toks if toks is not None else words(text)) or [normalize(text)]
        k = self.shingle
        sh = [" ".join(toks[i:i + k]).encode("utf-8") for i in range(max(1, len(toks) - k + 1))]
        mh = self._MinHash(num_perm=self.num_perm, seed=self.seed, permutations=self._perms, scheme=self._scheme,
                           hashfunc=zlib.crc32)  # deterministic, and 5x faster than the sha1 default
        mh.update_batch(sh)
        return mh.hashvalues.astype(np.uint32)

    def band_keys(self, sigs: np.ndarray) -> np.ndarray:
        """(n, bands) uint64 keys: equal key in some band -> LSH candidate pair."""
        n = sigs.shape[0]
        used = sigs[:, : self.bands * self.rows].astype(np.uint64).reshape(n, self.bands, self.rows)
        with np.errstate(over="ignore"):
            return (used * self._mult[None]).sum(axis=2, dtype=np.uint64)


def near_duplicates(band_keys: np.ndarray, sigs: np.ndarray, alive: np.ndarray, threshold: float) -> np.ndarray:
    """Mask of questions that near-duplicate an earlier alive question.

    Candidates share an LSH band key; a candidate is confirmed when the estimated Jaccard
    similarity of its signature and the earliest question of the group is >= threshold.
    Only ``alive`` questions take part; the earliest (input order) of a group is kept.
    """
    idx = np.flatnonzero(alive)
    dup = np.zeros(len(alive), bool)
    if len(idx) < 2:
        return dup
    for b in range(band_keys.shape[1]):
        keys = band_keys[idx, b]
        order = np.argsort(keys, kind="stable")  # stable: input order within a key
        sk = keys[order]
        starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
        ends = np.r_[starts[1:], len(sk)]
        multi = (ends - starts) > 1
        for s, e in zip(starts[multi], ends[multi]):
            members = idx[order[s:e]]
            root = members[0]
            rest = members[1:]
            rest = rest[~dup[rest]]
            if len(rest) == 0:
                continue
            sim = (np.asarray(sigs[rest]) == np.asarray(sigs[root])[None]).mean(axis=1)
            dup[rest[sim >= threshold]] = True
    return dup


# --- decontamination -------------------------------------------------------------------


def _ngram_keys(toks: list[str], n: int) -> Iterable[str]:
    # The n-grams themselves (not hashes) go in the set: exact, and no hash seed involved.
    for i in range(len(toks) - n + 1):
        yield " ".join(toks[i:i + n])


class EvalIndex:
    """n-grams (and whole short texts) of evaluation questions; ``contaminated(q)`` checks one."""

    def __init__(self, n: int = 13):
        self.n = n
        self.grams: dict[str, int] = {}  # n-gram -> index of the first file holding it
        self.short: dict[str, int] = {}
        self.files: list[str] = []
        self.labels: list[str] = []  # benchmark name (or file name) of each file
        self.texts = 0

    def add_text(self, text: str, file: int = -1) -> None:
        toks = words(text)
        self.texts += 1
        if len(toks) < self.n:
            self.short.setdefault(" ".join(toks), file)
        else:
            for g in _ngram_keys(toks, self.n):
                self.grams.setdefault(g, file)

    def add_file(self, path: Path, label: str | None = None) -> None:
        """Index the question texts of an evaluation set: JSONL/JSON/Parquet/datasets, an
        ``hf:`` reference, or a CSV (GPQA's published file)."""
        for row in _eval_rows(path):
            text = next((row[k] for k in EVAL_TEXT_FIELDS if isinstance(row.get(k), str) and row[k].strip()), None)
            if text:
                self.add_text(text, len(self.files))
        self.files.append(str(path))
        self.labels.append(label or Path(path).name)

    def match(self, text: str, toks: list[str] | None = None) -> int | None:
        """Index (in ``files``) of an evaluation file sharing an n-gram with ``text``, else None."""
        toks = toks if toks is not None else words(text)
        if len(toks) < self.n:
            return self.short.get(" ".join(toks))
        grams = self.grams
        for k in _ngram_keys(toks, self.n):
            f = grams.get(k)
            if f is not None:
                return f
        return None

    def contaminated(self, text: str) -> bool:
        return self.match(text) is not None


def _eval_rows(path: Path) -> Iterable[dict]:
    if str(path).lower().endswith(".csv"):
        import csv

        with open(path, newline="", encoding="utf-8") as fh:
            yield from csv.DictReader(fh)
        return
    from ..io.reader import iter_rows

    for _, _, row in iter_rows(path):
        if isinstance(row, Exception):
            raise row  # a located RecordError: an evaluation set must be readable as a whole
        yield row


# --- chain quality ---------------------------------------------------------------------


def has_loop(text: str, window: int = 64, tail: int = 4096, min_repeats: int = 4) -> bool:
    """True when the last ``window`` characters recur ``min_repeats`` times in the last ``tail``:
    a generation stuck repeating itself (any period up to tail / min_repeats characters)."""
    if len(text) < window * min_repeats:
        return False
    probe = text[-window:]
    if not probe.strip():
        return False
    return text[-tail:].count(probe) >= min_repeats


# UTF-8 lead bytes of U+3000..U+DFFF (every range of _CJK); deleting all other bytes leaves
# nothing when the text has no CJK character: a C-speed prefilter for the regex.
_NOT_CJK_LEAD = bytes(b for b in range(256) if not 0xE3 <= b <= 0xED)


def cjk_share(text: str) -> float:
    if not text or text.isascii():
        return 0.0
    if not text.encode("utf-8", "surrogatepass").translate(None, _NOT_CJK_LEAD):
        return 0.0
    return len(_CJK.findall(text)) / len(text)


def language_mixed(question: str, chain: str, max_foreign: float = 0.05) -> bool:
    """A chain drifting into CJK script for a question written without it (share of characters).
    The reverse (Latin inside a CJK question) is not flagged: formulas and code are Latin."""
    if cjk_share(question) >= 0.01:
        return False
    return cjk_share(chain) > max_foreign
