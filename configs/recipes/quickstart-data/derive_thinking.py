"""Derive the quickstart's thinking-format files from the shipped recorded chains.

    python configs/recipes/quickstart-data/derive_thinking.py      # rewrites the two files below

- ``thinking_chains.jsonl`` (training side): multi_chain rows 0-83 as canonical records. Each
  recorded Qwen2.5-Math chain-of-thought answer becomes a thinking chain: its last paragraph
  (the one stating ``\\boxed{…}``) is the answer, the paragraphs before it the thought; a
  single-paragraph answer keeps all of it as the thought and gets
  ``The final answer is $\\boxed{pred}$.`` as its answer. Correct chains (the dataset's label)
  first, shortest first, at most 4 per question; correctness is kept (``by: dataset-label``).
  Plus the real DeepSeek-R1 / Qwen3 traces of 4 of the 5 r1_traces problems (8 chains).
- ``heldout_chains.jsonl`` (never trained on): multi_chain rows 84-99, the first correct chain of
  each in the recorded order (no length bias), same conversion; plus the R1 / Qwen3 traces of
  the fifth problem (2 chains). The evaluate stage scores the student's NLL on them.

Deterministic: same inputs, same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEACHER = "qwen2.5-math-recorded"
TRAIN_ROWS = range(0, 84)
HELDOUT_ROWS = range(84, 100)
HELDOUT_R1 = ("3",)  # r1_traces problem (id suffix) kept for held-out: its R1 and Qwen3 traces


def thinking_chain(response: str, pred: str, correct: bool) -> dict:
    text = response.strip()
    paragraphs = text.split("\n\n")
    if len(paragraphs) > 1 and "\\boxed" in paragraphs[-1]:
        thought, solution = "\n\n".join(paragraphs[:-1]).strip(), paragraphs[-1].strip()
    else:
        thought, solution = text, f"The final answer is $\\boxed{{{pred}}}$."
    return {"teacher": TEACHER, "thought": thought, "solution": solution, "finish_reason": "stop",
            "correctness": {"verdict": bool(correct), "by": "dataset-label"}}


def multi_chain_record(row: dict, chains: list[dict]) -> dict:
    return {"id": row["id"], "source": row["source"], "question": row["question"], "answer": row["answer"],
            "domain": "math", "meta": {"level": row.get("level")}, "reasoning": chains}


def r1_record(row: dict) -> dict:
    return {"id": row["id"], "source": row["source"], "question": row["problem"], "answer": row["gtruth_answer"],
            "domain": "math",
            "reasoning": [{"teacher": row["teacher"], "thought": row["message_thinking"].strip(),
                           "solution": row["message_content"].strip(), "finish_reason": "stop"}]}


def main() -> None:
    rows = [json.loads(line) for line in (HERE / "multi_chain.jsonl").read_text().splitlines() if line.strip()]
    traces = [json.loads(line) for line in (HERE / "r1_traces.jsonl").read_text().splitlines() if line.strip()]
    train, heldout = [], []
    for i in TRAIN_ROWS:
        row = rows[i]
        chains = [thinking_chain(c["response"], c["pred"], c["correct"]) for c in row["chains"]]
        chains.sort(key=lambda c: (not c["correctness"]["verdict"], len(c["thought"]) + len(c["solution"])))
        train.append(multi_chain_record(row, chains[:4]))
    for i in HELDOUT_ROWS:
        row = rows[i]
        first = next((c for c in row["chains"] if c["correct"]), row["chains"][0])
        heldout.append(multi_chain_record(row, [thinking_chain(first["response"], first["pred"], first["correct"])]))
    for trace in traces:
        (heldout if trace["id"].rsplit("-", 1)[1] in HELDOUT_R1 else train).append(r1_record(trace))
    for name, records in (("thinking_chains.jsonl", train), ("heldout_chains.jsonl", heldout)):
        (HERE / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        print(f"{name}: {len(records)} questions, {sum(len(r['reasoning']) for r in records)} chains")


if __name__ == "__main__":
    main()
