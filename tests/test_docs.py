"""Docs that run: every command block of README.md and docs/*.md is executed, so the tour
stays true.

A command block is a fenced block labelled ``bash``/``sh``/``shell``/``console``. Each doc file
runs in its own folder holding the embedded defaults under the names the docs use:
``questions.jsonl``, ``chains.jsonl``, ``annotated.jsonl`` (``a.jsonl``, ``b.jsonl.gz``),
``selected.jsonl``, ``OmniThought-0528.jsonl``, ``messy.jsonl``, ``cot_output.json`` (real
text from the shipped quick-start data), ``gpqa_diamond.csv`` and ``test5.jsonl`` (one invented
row each, in the published layouts), ``./student`` (the SmolLM2 fixture), ``configs/`` (the
repository's), EasyDistill's published example configs (placeholders filled in) with their inputs, ``my-recipe.yaml`` (the quick-start recipe), and ``~`` pointing at
a home with ``src/easydistill`` (the EasyDistill prompts fixture). The blocks of one doc run in
order, so a later command can read what an earlier one wrote; every command must exit 0.

Markers, an HTML comment on the line right before the block's opening fence:

- ``<!-- docs-test: dry-run -->`` the block needs a GPU, a cluster or a paid endpoint: each
  ``thoughtdistill`` command runs with ``--dry-run`` (checks config, files, model and plan;
  sends and loads nothing); a launcher in front (``accelerate launch``, ``torchrun``) is
  dropped after checking that its ``--config_file`` exists.
- ``<!-- docs-test: skip REASON -->`` not run; REASON says why, or which test covers it (the
  README's ``bash scripts/quickstart.sh`` is tests/pipeline/test_quickstart.py).
- ``<!-- docs-test: file NAME -->`` on a yaml/json block: written to NAME in the doc's folder
  before its commands run (so ``generate -c generate.yaml`` reads the documented config).

An unlabelled block whose lines start with ``thoughtdistill`` fails the test: label it.
Python blocks are compiled (syntax only).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND_LANGS = ("bash", "sh", "shell", "console")
FENCE = re.compile(r"(?:^<!--\s*docs-test:\s*(?P<marker>.*?)\s*-->\s*\n)?^```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```",
                   re.S | re.M)
LAUNCHERS = ("accelerate", "torchrun")
ENV = {"NODE_RANK": "0", "MASTER_ADDR": "127.0.0.1"}


@dataclass
class Block:
    doc: Path
    line: int
    lang: str
    marker: str
    body: str

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


def blocks(doc: Path) -> list[Block]:
    text = doc.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        line = text[:m.start("lang")].count("\n") + 1
        out.append(Block(doc, line, m.group("lang").lower(), (m.group("marker") or "").strip(), m.group("body")))
    return out


def commands(body: str) -> list[str]:
    """The command lines of a block: continuations joined, blank and comment lines dropped."""
    out, cur = [], ""
    for raw in body.splitlines():
        cur = f"{cur} {raw.strip()}" if cur else raw.strip()
        if cur.endswith("\\"):
            cur = cur[:-1].rstrip()
            continue
        if cur and not cur.startswith("#"):
            out.append(cur)
        cur = ""
    if cur:
        out.append(cur)
    return out


def _expand(token: str, env: dict[str, str], home: Path, cwd: Path) -> list[str]:
    token = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), m.group(0)), token)
    if token == "~" or token.startswith("~/"):
        token = str(home) + token[1:]
    if any(c in token for c in "*?["):
        found = sorted(glob.glob(token, root_dir=cwd))
        return found or [token]
    return [token]


def argv_of(line: str, env: dict[str, str], home: Path, cwd: Path) -> list[str]:
    return [x for tok in shlex.split(line, comments=True) for x in _expand(tok, env, home, cwd)]


def to_run(argv: list[str], marker: str, cwd: Path, where: str) -> list[str]:
    """The command to execute for one documented line."""
    if argv[0] in LAUNCHERS:
        assert marker == "dry-run", f"{where}: {argv[0]} needs GPUs: mark the block 'dry-run' or 'skip'"
        if "--config_file" in argv:
            config = cwd / argv[argv.index("--config_file") + 1]
            assert config.exists(), f"{where}: {config.name}: no such launcher config"
        assert "-m" in argv and argv[argv.index("-m") + 1] == "thoughtdistill", f"{where}: launches no thoughtdistill"
        argv = argv[argv.index("-m") + 1:]
    assert argv[0] == "thoughtdistill", f"{where}: {argv[0]!r} is not a thoughtdistill command: mark the block 'skip REASON'"
    args = argv[1:]
    if marker == "dry-run" and "--dry-run" not in args:
        args.append("--dry-run")
    return [sys.executable, "-m", "thoughtdistill", *args]


# ----------------------------------------------------------------------------- the defaults

def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture(scope="module")
def defaults(tmp_path_factory, smollm2_path) -> Path:
    """The folder every doc's commands start from (copied per doc)."""
    import gzip

    from thoughtdistill.io.convert import convert_file

    base = tmp_path_factory.mktemp("docs-defaults")
    for name in ("configs", ".cache"):
        (base / name).symlink_to(ROOT / name, target_is_directory=True)
    (base / "student").symlink_to(smollm2_path, target_is_directory=True)
    (base / "quickstart-data").symlink_to(ROOT / "configs/recipes/quickstart-data", target_is_directory=True)
    all_chains = base / "all_chains.jsonl"
    convert_file(ROOT / "configs/recipes/quickstart-data/multi_chain.jsonl", all_chains, src_format="multi_chain")
    rows = [json.loads(x) for x in all_chains.read_text().splitlines()[:4]]
    for r in rows:
        r["reasoning"] = r["reasoning"][:2]
    all_chains.unlink()
    _jsonl(base / "questions.jsonl", [{k: r[k] for k in ("id", "question", "answer")} for r in rows])
    _jsonl(base / "chains.jsonl", rows)
    annotated = []
    for i, r in enumerate(rows):
        chains = [{**c, "Reasoning_Verbosity": {"judge": "docs", "level": (i + j) % 10},
                   "Cognitive_Difficulty": {"judge": "docs", "level": (2 * i + j) % 10},
                   "correctness": {"verdict": j == 0, "by": "math-verify"}} for j, c in enumerate(r["reasoning"])]
        annotated.append({**r, "domain": "math", "reasoning": chains})
    _jsonl(base / "annotated.jsonl", annotated)
    _jsonl(base / "a.jsonl", annotated[:2])
    with gzip.open(base / "b.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in annotated[2:])
    selected = [{**r, "reasoning": [{"teacher": "recorded", "thought": c["full_response"] if "full_response" in c
                                     else c.get("thought"), "solution": f"The answer is $\\boxed{{{r['answer']}}}$.",
                                     "correctness": {"verdict": True, "by": "math-verify"}}]}
                for r, c in ((r, r["reasoning"][0]) for r in rows)]
    _jsonl(base / "selected.jsonl", selected)
    convert_file(base / "chains.jsonl", base / "OmniThought-0528.jsonl", dst_format="omnithought")
    (base / "messy.jsonl").write_text((base / "chains.jsonl").read_text() + '{"question": "broken\n'
                                      + json.dumps({"question": ""}) + "\n", encoding="utf-8")
    (base / "cot_output.json").write_text(json.dumps([  # EasyDistill cot_eval output
        {"instruction": r["question"], "output": c.get("full_response") or c.get("thought"),
         "reasoning_verbosity": 4, "cognitive_difficulty": 5, "logical_correctness": True}
        for r in rows for c in r["reasoning"][:1]], ensure_ascii=False), encoding="utf-8")
    _benchmark_copies(base)
    _jsonl(base / "my_gpqa.jsonl", [{"question": "Which gas do plants take in for photosynthesis?", "answer": "CO2"}])
    # EasyDistill's published example configs, their placeholders filled in, with their inputs
    shared_configs = _shared_easydistill()
    shutil.copy(shared_configs / "kd_black_box_local.json", base / "kd_black_box_local.json")
    shutil.copy(shared_configs / "kd_black_box_local.json", base / "easydistill_job.json")
    api = json.loads((shared_configs / "cot_generation_api.json").read_text())
    api["inference"].update(base_url="https://api.example.com/v1", api_key="env:EASYDISTILL_API_KEY")
    (base / "cot_generation_api.json").write_text(json.dumps(api, indent=1))
    (base / "data").mkdir()
    instructions = [{"instruction": r["question"], "input": "", "output": ""} for r in rows]
    (base / "data" / "alpaca_en_demo.json").write_text(json.dumps(instructions))
    (base / "cot_question.json").write_text(json.dumps([{"instruction": r["question"]} for r in rows]))
    shutil.copy(ROOT / "configs/recipes/quickstart.yaml", base / "my-recipe.yaml")  # with what it reads
    shutil.copy(ROOT / "configs/recipes/quickstart-judge-rubric.yaml", base / "quickstart-judge-rubric.yaml")
    home = base / "home"
    (home / "src").mkdir(parents=True)
    (home / "src" / "easydistill").symlink_to(ROOT / "tests/judge/data/easydistill", target_is_directory=True)
    return base


def _benchmark_copies(base: Path) -> None:
    """Stand-ins, written here, for the user's copies of benchmarks that are not redistributed:
    gpqa_diamond.csv (the published columns that are read) and a LiveCodeBench test5.jsonl row."""
    import csv

    with open(base / "gpqa_diamond.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, ["Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2",
                                "Incorrect Answer 3", "Record ID", "High-level domain", "Subdomain"])
        w.writeheader()
        w.writerow({"Question": "Which enzyme joins Okazaki fragments? (written for this test)",
                    "Correct Answer": "DNA ligase", "Incorrect Answer 1": "Primase",
                    "Incorrect Answer 2": "Helicase", "Incorrect Answer 3": "Topoisomerase II",
                    "Record ID": "recDocsTest0000001", "High-level domain": "Biology",
                    "Subdomain": "Molecular Biology"})
    tests = [{"input": "3 4\n", "output": "7\n", "testtype": "stdin"}]
    _jsonl(base / "test5.jsonl", [{
        "question_title": "A Plus B", "question_content": "Read A and B; print A+B.", "platform": "atcoder",
        "question_id": "abc380_a", "contest_id": "abc380", "contest_date": "2024-11-16T00:00:00",
        "starter_code": "", "difficulty": "easy", "public_test_cases": json.dumps(tests),
        "private_test_cases": json.dumps(tests), "metadata": "{}"}])


def _shared_easydistill() -> Path:
    from shared_data import shared_data_dir

    return shared_data_dir().parent / "easydistill-configs"


# ----------------------------------------------------------------------------- the tests

def test_command_blocks_are_labelled_and_markers_known():
    """Cheap checks on every doc: unlabelled blocks hold no commands, markers are known,
    python blocks compile."""
    for doc in DOCS:
        for b in blocks(doc):
            kind = b.marker.split(" ", 1)[0] if b.marker else ""
            assert kind in ("", "dry-run", "skip", "file"), f"{b.where}: unknown docs-test marker {b.marker!r}"
            if kind == "skip":
                assert len(b.marker.split(" ", 1)) == 2, f"{b.where}: 'skip' needs a reason"
            if kind == "file":
                assert b.lang in ("yaml", "json"), f"{b.where}: 'file' marks yaml/json blocks"
            if b.lang == "":
                assert not any(x.startswith("thoughtdistill ") for x in commands(b.body)), \
                    f"{b.where}: a block of commands needs the bash label"
            if b.lang == "python":
                compile(b.body, b.where, "exec")


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_doc_commands_run(doc, defaults, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(defaults, work, symlinks=True)
    home = work / "home"
    env = dict(os.environ, HOME=str(home), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               THOUGHTDISTILL_PROGRESS="off", **ENV)
    env.pop("DEEPSEEK_API_KEY", None)  # a dry run must not need a paid key
    found = blocks(doc)
    for b in found:
        if b.marker.startswith("file "):
            (work / b.marker.split(" ", 1)[1]).write_text(b.body, encoding="utf-8")
    ran = 0
    for b in found:
        if b.lang not in COMMAND_LANGS or b.marker.startswith("skip"):
            continue
        for line in commands(b.body):
            cmd = to_run(argv_of(line, env, home, work), b.marker, work, b.where)
            proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, (f"{b.where}: `{line}` exited {proc.returncode}\n"
                                          f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
            ran += 1
    if any(b.lang in COMMAND_LANGS and not b.marker.startswith("skip") for b in found):
        assert ran
