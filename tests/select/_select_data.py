"""Real records for the select tests (helpers + fixtures, imported by tests/select/conftest.py).

``multi_chain.jsonl`` (100 MATH problems x 8 Qwen2.5-Math chains with real correctness labels)
is turned into canonical records by a small local loader. The file has no RV/CD annotations
and a single sampler, so the tests ADD DETERMINISTIC SYNTHETIC ones, stated here:
- RV = the chain's length decile over the whole file (0-9, clipped to 1-9);
- CD = 2 x MATH level - 1 + (chain index mod 3) - 1, clipped to 0-9;
- teacher = "teacher-a" for even chain positions, "teacher-b" for odd ones;
- meta.difficulty = the MATH level string ("Level 3").
Text, answers and correctness verdicts are the real ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest


def canonical_multi_chain(data_dir: Path) -> list[dict]:
    rows = [orjson.loads(line) for line in (data_dir / "multi_chain.jsonl").read_bytes().splitlines() if line.strip()]
    lengths = np.array([len(c["response"]) for r in rows for c in r["chains"]])
    deciles = np.quantile(lengths, np.linspace(0.1, 0.9, 9))
    out = []
    for r in rows:
        level = int(str(r.get("level", "Level 3")).split()[-1]) if r.get("level") else 3
        chains = []
        for i, c in enumerate(r["chains"]):
            rv = int(min(9, max(1, np.searchsorted(deciles, len(c["response"]), side="right"))))
            cd = int(min(9, max(0, 2 * level - 1 + (i % 3) - 1)))
            chains.append({
                "teacher": "teacher-a" if i % 2 == 0 else "teacher-b",
                "full_response": c["response"],
                "finish_reason": "stop",
                "Cognitive_Difficulty": {"judge": "synthetic", "level": cd},
                "Reasoning_Verbosity": {"judge": "synthetic", "level": rv},
                "correctness": {"verdict": bool(c["correct"]), "by": "qwen2.5-math-eval", "detail": str(c["pred"])},
            })
        out.append({"id": r["id"], "question": r["question"], "answer": r["answer"], "domain": "math",
                    "source": r.get("source"), "meta": {"difficulty": r.get("level")}, "reasoning": chains})
    return out


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


@pytest.fixture(scope="session")
def multi_chain_rows(data_dir) -> list[dict]:
    return canonical_multi_chain(data_dir)


@pytest.fixture
def multi_chain_file(tmp_path, multi_chain_rows) -> Path:
    return write_jsonl(tmp_path / "annotated.jsonl", multi_chain_rows)
