"""Gather a run's numbers from its run directory: manifests, stage outputs, logs."""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

from ..io import iter_dicts

CHAIN_KINDS = ("generate", "judge", "verify", "select", "prepare")
LEVELS = 10


def load_manifests(run_dir: Path) -> list[dict[str, Any]]:
    """Manifests of completed stages, in recipe order (run.json), else by finish time."""
    folder = run_dir / "manifests"
    if not folder.exists():
        return []
    manifests = {}
    for path in folder.glob("*.json"):
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        if data.get("status") == "done":
            manifests[data.get("stage", path.stem)] = data
    order: list[str] = []
    run_json = run_dir / "run.json"
    if run_json.exists():
        try:
            order = [s["name"] for s in json.loads(run_json.read_text()).get("stages", [])]
        except (ValueError, KeyError):
            order = []
    rank = {n: i for i, n in enumerate(order)}
    return sorted(manifests.values(), key=lambda m: (rank.get(m["stage"], 1 << 20), m.get("finished_at", "")))


def _paths(obj: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, str(k))
    elif isinstance(obj, list):
        for v in obj:
            yield from _paths(v, key)
    elif isinstance(obj, str) and os.path.isabs(obj) and "\n" not in obj and len(obj) < 4096:
        yield key, obj


def main_records_file(manifest: dict[str, Any], run_dir: Path) -> Path | None:
    """The canonical records file a stage wrote: a JSONL named by its result or config as an
    output, else the largest records-like JSONL in its folder."""
    stage_dir = run_dir / manifest["stage"]
    candidates: list[Path] = []
    for source in (manifest.get("result") or {}, manifest.get("config") or {}):
        for key, value in _paths(source):
            value = value.replace("${run_dir}", str(run_dir))
            p = Path(value)
            if p.suffix in (".jsonl", ".gz") and p.exists() and ("out" in key or key in ("path", "selected", "chains", "annotated")):
                if _is_records(p):
                    candidates.append(p)
    if candidates:
        return candidates[0]
    if stage_dir.is_dir():
        files = [p for p in stage_dir.rglob("*.jsonl") if "journal" not in p.name and "quarantine" not in p.name
                 and "dropped" not in p.name and _is_records(p)]
        if files:
            return max(files, key=lambda p: p.stat().st_size)
    return None


def _is_records(path: Path) -> bool:
    try:
        for _, row in iter_dicts(path):
            return "question" in row
    except Exception:  # noqa: BLE001 - any unreadable file is simply not a records file
        return False
    return False


RULE_VERIFIERS = ("math-verify", "sandbox-stdio", "sandbox-function")


def _teacher_row() -> dict[str, int]:
    return {"chains": 0, "correct": 0, "incorrect": 0, "rule_verified": 0, "judged": 0, "truncated": 0}


def chain_stats(path: Path) -> dict[str, Any]:
    """Counts, RV×CD matrix, lengths and per-teacher numbers of the chains in a records file.

    ``judged``: chains with both an RV and a CD level; ``rule_verified``: correctness decided
    by a rule verifier (math-verify, sandbox); ``correct``: verdict true, whoever decided it
    (``verified`` is the same number, kept for older readers)."""
    tally = _ChainTally()
    for _, row in iter_dicts(path):
        tally.n["questions"] += 1
        for chain in row.get("reasoning") or []:
            tally.add(chain)
    n = tally.n
    return {"file": str(path), "questions": n["questions"], "chains": n["chains"], "chains_ok": n["ok"],
            "correct": n["correct"], "incorrect": n["incorrect"], "verified": n["correct"],
            "rule_verified": n["rule_verified"], "judge_decided": n["judge_decided"], "judged": n["judged"],
            "truncated": n["truncated"], "with_thought": n["with_thought"], "rv_cd": tally.matrix,
            "lengths": tally.lengths, "length_unit": tally.length_unit, "prompt_tokens": n["prompt_tokens"],
            "completion_tokens": n["completion_tokens"], "teachers": dict(tally.teachers),
            "per_teacher": tally.per_teacher}


class _ChainTally:
    """The running numbers of :func:`chain_stats`: totals in ``n``, per teacher in ``per_teacher``."""

    def __init__(self) -> None:
        self.n: Counter[str] = Counter()
        self.matrix = [[0] * LEVELS for _ in range(LEVELS)]  # [rv][cd]
        self.lengths: list[int] = []
        self.length_unit = "completion tokens"
        self.teachers: Counter[str] = Counter()
        self.per_teacher: dict[str, dict[str, int]] = {}

    def add(self, chain: dict[str, Any]) -> None:
        n = self.n
        n["chains"] += 1
        if chain.get("finish_reason") == "error" or chain.get("error"):
            return
        n["ok"] += 1
        name = chain.get("teacher") or "?"
        self.teachers[name] += 1
        t = self.per_teacher.setdefault(name, _teacher_row())
        t["chains"] += 1
        if chain.get("truncated") or chain.get("finish_reason") == "length":
            n["truncated"] += 1
            t["truncated"] += 1
        if chain.get("thought") or "</think>" in (chain.get("full_response") or ""):
            n["with_thought"] += 1
        self._correctness(chain.get("correctness") or {}, t)
        rv = (chain.get("Reasoning_Verbosity") or {}).get("level")
        cd = (chain.get("Cognitive_Difficulty") or {}).get("level")
        if isinstance(rv, int) and isinstance(cd, int) and 0 <= rv < LEVELS and 0 <= cd < LEVELS:
            self.matrix[rv][cd] += 1
            n["judged"] += 1
            t["judged"] += 1
        self._length(chain)

    def _correctness(self, corr: dict[str, Any], t: dict[str, int]) -> None:
        n = self.n
        if corr.get("verdict") is True:
            n["correct"] += 1
            t["correct"] += 1
        elif corr.get("verdict") is False:
            n["incorrect"] += 1
            t["incorrect"] += 1
        if corr.get("verdict") is not None:
            if corr.get("by") in RULE_VERIFIERS:
                n["rule_verified"] += 1
                t["rule_verified"] += 1
            elif str(corr.get("by", "")).startswith(("judge:", "majority(", "llm-judge")):
                n["judge_decided"] += 1

    def _length(self, chain: dict[str, Any]) -> None:
        """Completion tokens from the usage, else ≈ characters / 4."""
        usage = chain.get("usage") or {}
        if usage.get("completion_tokens"):
            self.lengths.append(int(usage["completion_tokens"]))
            self.n["completion_tokens"] += int(usage["completion_tokens"])
            self.n["prompt_tokens"] += int(usage.get("prompt_tokens") or 0)
        else:
            text = chain.get("full_response") or "\n".join(
                x for x in (chain.get("thought"), chain.get("solution")) if x)
            self.lengths.append(max(1, len(text) // 4))
            self.length_unit = "tokens (≈ chars / 4 where usage is missing)"


def judge_diagnostics(path: Path) -> dict[str, Any]:
    """:func:`thoughtdistill.judge.diagnostics.diagnose` over a records file's chains."""
    from ..judge.diagnostics import diagnose

    return diagnose(chain for _, row in iter_dicts(path) for chain in row.get("reasoning") or [])


def model_params(model: str | None) -> int | None:
    """Parameters of a local safetensors model folder, read from the files' headers (no
    weights loaded); None when it is not a local folder."""
    import struct

    if not model:
        return None
    folder = Path(model)
    files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    total = 0
    for f in files:
        try:
            with open(f, "rb") as fh:
                (size,) = struct.unpack("<Q", fh.read(8))
                header = json.loads(fh.read(size))
        except (OSError, ValueError, struct.error):
            return None
        for name, info in header.items():
            if name != "__metadata__" and isinstance(info, dict):
                n = 1
                for d in info.get("shape", []):
                    n *= int(d)
                total += n
    return total or None


def loss_curve(path: Path) -> dict[str, list[float]]:
    """(step, loss) and (step, eval_loss) from trainer_log.json: HF ``log_history`` (a list,
    or a dict holding ``log_history``/``history``/``logs``), or JSON Lines of log dicts."""
    text = path.read_text()
    try:
        data: Any = json.loads(text)
    except ValueError:
        data = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(data, dict):
        for key in ("log_history", "history", "logs", "steps"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
    out: dict[str, list[float]] = {"step": [], "loss": [], "eval_step": [], "eval_loss": []}
    if not isinstance(data, list):
        return out
    for i, entry in enumerate(data):
        if not isinstance(entry, dict):
            continue
        step = entry.get("step", entry.get("global_step", i + 1))
        if isinstance(entry.get("loss"), (int, float)):
            out["step"].append(float(step))
            out["loss"].append(float(entry["loss"]))
        if isinstance(entry.get("eval_loss"), (int, float)):
            out["eval_step"].append(float(step))
            out["eval_loss"].append(float(entry["eval_loss"]))
    return out


def eval_runs(folder: Path) -> list[dict[str, Any]]:
    """Rows of the evaluation table from ``thoughtdistill.eval/1`` run JSONs in a folder.
    Metrics an older run lacks (format adherence, held-out NLL, accuracy CI) are None."""
    rows = []
    for path in sorted(folder.rglob("*.json")):
        if path.name.endswith(".meta.json"):
            continue
        try:
            data = json.loads(path.read_text())
        except (ValueError, OSError):
            continue
        if not isinstance(data, dict) or "metrics" not in data:
            continue
        m = {k: (None if isinstance(v, float) and math.isnan(v) else v)
             for k, v in (data.get("metrics") or {}).items()}  # NaN (nothing scored): missing
        bench = data.get("benchmark")
        n_samples = m.get("n_samples") or 0
        mean_tokens = m.get("mean_completion_tokens")
        sampling = data.get("sampling") if isinstance(data.get("sampling"), dict) else {}
        nll = m.get("heldout_nll")
        rows.append({
            "file": str(path),
            "run": data.get("run_name") or path.stem,
            "label": data.get("label") or data.get("model"),
            "model": data.get("model"),
            "model_params": model_params(data.get("model")),
            "benchmark": bench.get("name") if isinstance(bench, dict) else bench,
            "n_problems": m.get("n_problems"),
            "n": data.get("n", m.get("n_samples_per_problem")),
            "accuracy": m.get("accuracy"),
            "ci": _ci(m, data.get("n")),
            "mean_completion_tokens": mean_tokens,
            "mean_thinking_tokens": m.get("mean_thinking_tokens"),
            "tokens_spent": round(mean_tokens * n_samples) if mean_tokens and n_samples else None,
            "truncation_rate": m.get("truncation_rate"),
            "cap_rate": m.get("cap_rate"),
            "accuracy_per_1k_tokens": m.get("accuracy_per_1k_tokens"),
            "format_adherence": m.get("format_adherence"),
            "heldout_nll": nll.get("per_token") if isinstance(nll, dict) else None,
            "heldout_chains": nll.get("chains") if isinstance(nll, dict) else None,
            "max_new_tokens": sampling.get("max_new_tokens"),
            "enable_thinking": data.get("enable_thinking"),
        })
    return rows


def _ci(metrics: dict[str, Any], n: Any) -> list[float] | None:
    ci = metrics.get("accuracy_ci")
    if isinstance(ci, dict) and isinstance(ci.get("low"), (int, float)) and isinstance(ci.get("high"), (int, float)):
        return [ci["low"], ci["high"]]
    est = metrics.get(f"avg@{n}") if n else None
    if isinstance(est, dict):
        lo, hi = est.get("ci_low", est.get("low")), est.get("ci_high", est.get("high"))
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
            return [lo, hi]
    return None
