"""The run report: one self-contained HTML page (inline CSS, figures as base64 PNG, no
external fetches) plus ``report.json`` with the same numbers.

Sections: what happened (a paragraph in words: what improved, what did not and why), summary,
funnel (questions → chains → judged / rule-verified / correct → selected), per-teacher table,
judge diagnostics (score spread, modal share, agreement, RV vs length), RV×CD heatmaps, length
histograms, training loss, evaluation table with tokens spent, selection report, stages, data
files (relative links; journals, state and manifests folded away). Rates are shown as percents.

    from thoughtdistill.report import build_report
    build_report("runs/quickstart", "runs/quickstart/report")

As a pipeline stage: ``uses: report`` with ``{run_dir: ${run_dir}, output_dir: ${stage_dir}}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ..config import StageConfig
from ..io.atomic import atomic_open
from ..stage_io import IOPath, StageFile, files
from .data import chain_stats, eval_runs, judge_diagnostics, load_manifests, loss_curve, main_records_file
from .html import render_html
from .story import what_happened

SECTIONS = ("what-happened", "summary", "funnel", "teachers", "judge", "heatmaps", "lengths", "training",
            "evaluation", "selection", "stages", "files")


class ReportConfig(StageConfig):
    run_dir: IOPath[str] = Field(description="the run directory to report on")
    output_dir: IOPath[str] = Field(description="where report.html and report.json are written")
    title: str | None = None
    max_files: int = Field(300, ge=1)

    def inputs(self) -> list[StageFile]:
        """The run's manifests but the report's own (the stage named like ``output_dir``)."""
        own = f"{Path(self.output_dir).name}.json"
        return [StageFile(f"{f.path}/manifests", "folder", f.field, exclude=(own,)) for f in files(self, "run_dir")]

    def outputs(self) -> list[StageFile]:
        return files(self, "output_dir", kind="folder")


class ReportResult(BaseModel):
    html: str
    json_path: str
    funnel: dict[str, int | None]


def _last(manifests: list[dict[str, Any]], kinds: tuple[str, ...]) -> dict[str, Any] | None:
    found = [m for m in manifests if m.get("kind") in kinds]
    return found[-1] if found else None


def collect(run_dir: str | Path, out_dir: str | Path | None = None, max_files: int = 300) -> dict[str, Any]:
    run_dir = Path(run_dir).resolve()
    out_dir = Path(out_dir).resolve() if out_dir else run_dir / "report"
    manifests = load_manifests(run_dir)
    stages, per_stage = _stage_rows(manifests, run_dir, out_dir)

    def stats_of(kinds: tuple[str, ...]) -> dict[str, Any] | None:
        m = _last([x for x in manifests if x["stage"] in per_stage], kinds)
        return per_stage[m["stage"]] if m else None

    prep, gen = stats_of(("prepare",)), stats_of(("generate",))
    annotated, selected = stats_of(("verify", "judge")), stats_of(("select",))
    evaluation = _evaluation(manifests, run_dir, out_dir)
    tokens = {"generation_prompt": (gen or {}).get("prompt_tokens", 0),
              "generation_completion": (gen or {}).get("completion_tokens", 0),
              "evaluation": sum(r["tokens_spent"] or 0 for r in evaluation)}
    data = {"run_dir": str(run_dir), "recipe": _recipe_name(run_dir),
            "funnel": _funnel(prep, gen, annotated, selected), "stages": stages,
            "heatmaps": _heatmaps(annotated, selected), "lengths": _lengths(gen or annotated, selected),
            "training": _training(manifests, run_dir, out_dir), "evaluation": evaluation,
            "selection": _selection(manifests, run_dir, out_dir), "tokens": tokens,
            "files": _data_files(run_dir, out_dir, max_files),
            "teachers": (gen or {}).get("teachers", {}), "teacher_table": _teacher_table(annotated or gen, selected),
            "judge": _judge_section(manifests, per_stage),
            "selected_with_thought": (selected or {}).get("with_thought")}
    data["what_happened"] = what_happened(data)
    return data


def _stage_rows(manifests: list[dict[str, Any]], run_dir: Path,
                out_dir: Path) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """One row per stage, and the chain statistics of each stage that wrote records."""
    per_stage: dict[str, dict[str, Any]] = {}
    stages = []
    for m in manifests:
        entry: dict[str, Any] = {"stage": m["stage"], "kind": m.get("kind"), "seconds": m.get("seconds"),
                                 "finished_at": m.get("finished_at")}
        if m.get("kind") in ("prepare", "generate", "judge", "verify", "select"):
            path = main_records_file(m, run_dir)
            if path is not None:
                stats = chain_stats(path)
                per_stage[m["stage"]] = stats
                entry.update(records=_rel(path, out_dir), questions=stats["questions"], chains=stats["chains_ok"],
                             judged=stats["judged"], rule_verified=stats["rule_verified"],
                             correct=stats["correct"], verified=stats["correct"])
        stages.append(entry)
    return stages, per_stage


def _funnel(prep: dict[str, Any] | None, gen: dict[str, Any] | None, annotated: dict[str, Any] | None,
            selected: dict[str, Any] | None) -> dict[str, int | None]:
    funnel = {
        "questions": (prep or gen or {}).get("questions"),
        "chains": gen["chains_ok"] if gen else None,
        "judged": annotated["judged"] if annotated else None,  # both RV and CD
        "rule_verified": annotated["rule_verified"] if annotated else None,  # decided by a rule verifier
        "correct": annotated["correct"] if annotated else None,  # verdict true, rule or judge
        "selected": selected["chains_ok"] if selected else None,
    }
    if gen and prep is None:
        funnel["questions"] = gen["questions"]
    funnel["verified"] = funnel["correct"]  # older name of "correct"; not shown
    return funnel


def _judge_section(manifests: list[dict[str, Any]], per_stage: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    judged_m = _last([x for x in manifests if x["stage"] in per_stage], ("judge",))
    if judged_m is None:
        return None
    try:
        return {"stage": judged_m["stage"], **judge_diagnostics(Path(per_stage[judged_m["stage"]]["file"]))}
    except Exception:  # noqa: BLE001 - a report never fails on one section
        return None


def _heatmaps(annotated: dict[str, Any] | None, selected: dict[str, Any] | None) -> dict[str, Any]:
    heatmaps = {}
    if annotated and annotated["judged"]:
        heatmaps["all annotated chains"] = annotated["rv_cd"]
    if selected and selected["judged"]:
        heatmaps["selected chains"] = selected["rv_cd"]
    return heatmaps


def _lengths(generated: dict[str, Any] | None, selected: dict[str, Any] | None) -> dict[str, Any]:
    lengths = {}
    for label, st in (("generated", generated), ("selected", selected)):
        if st and st["lengths"]:
            lengths[label] = {"values": st["lengths"], "unit": st["length_unit"]}
    return lengths


def _training(manifests: list[dict[str, Any]], run_dir: Path, out_dir: Path) -> dict[str, Any]:
    """The last train stage's loss curve and facts."""
    training: dict[str, Any] = {}
    train = _last(manifests, ("train",))
    if train:
        logs = sorted((run_dir / train["stage"]).rglob("trainer_log.json"))
        if logs:
            training = {"log": _rel(logs[0], out_dir), **loss_curve(logs[0])}
        training.update(_train_facts(train))
    return training


def _evaluation(manifests: list[dict[str, Any]], run_dir: Path, out_dir: Path) -> list[dict[str, Any]]:
    """Every evaluation run of every evaluate stage."""
    evaluation = []
    for m in manifests:
        if m.get("kind") == "evaluate":
            for row in eval_runs(run_dir / m["stage"]):
                row["stage"] = m["stage"]
                row["file"] = _rel(Path(row["file"]), out_dir)
                evaluation.append(row)
    return evaluation


def _selection(manifests: list[dict[str, Any]], run_dir: Path, out_dir: Path) -> dict[str, Any] | None:
    """The last select stage's report."""
    sel = _last(manifests, ("select",))
    if not sel:
        return None
    reports = sorted((run_dir / sel["stage"]).rglob("*select_report.json"))
    if not reports:
        return None
    try:
        return {"file": _rel(reports[0], out_dir), "data": json.loads(reports[0].read_text())}
    except ValueError:
        return None


def _teacher_table(annotated: dict[str, Any] | None, selected: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per teacher: chains, correct, rule-verified, judged, truncated, selected."""
    if not annotated:
        return []
    picked = (selected or {}).get("teachers", {})
    rows = []
    for name, t in sorted(annotated["per_teacher"].items(), key=lambda kv: -kv[1]["chains"]):
        rows.append({"teacher": name, **t, "selected": picked.get(name, 0) if selected else None})
    for name, n in picked.items():  # a teacher only the selection has (recorded chains added later)
        if name not in annotated["per_teacher"]:
            rows.append({"teacher": name, **{k: None for k in ("chains", "correct", "incorrect", "rule_verified",
                                                               "judged", "truncated")}, "selected": n})
    return rows


def _train_facts(manifest: dict[str, Any]) -> dict[str, Any]:
    """Steps, examples, batch and student from a train stage's manifest (what the story needs)."""
    result = manifest.get("result") if isinstance(manifest.get("result"), dict) else {}
    config = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    batch = None
    if isinstance(config.get("per_device_batch_size"), int):
        batch = config["per_device_batch_size"] * int(config.get("gradient_accumulation_steps") or 1) \
            * int(result.get("world_size") or 1)
    return {"steps": result.get("steps"), "examples": result.get("examples"), "effective_batch": batch,
            "student": config.get("student"), "first_loss": result.get("first_loss"),
            "last_loss": result.get("last_loss")}


def _recipe_name(run_dir: Path) -> str:
    try:
        return json.loads((run_dir / "run.json").read_text()).get("recipe", run_dir.name)
    except (OSError, ValueError):
        return run_dir.name


def _rel(path: Path, base: Path) -> str:
    import os

    return os.path.relpath(Path(path).resolve(), base)


INTERNAL_NAMES = ("journal", "state.json", ".meta.json", ".lock", "run.json", "recipe.resolved.json",
                  "trainer_state.json", ".stale")
INTERNAL_PARTS = ("manifests", "servers")


def is_internal(rel: Path) -> bool:
    """Bookkeeping a reader rarely opens: journals, state, manifests, work folders, checkpoints,
    infer metadata. Listed folded away in the report."""
    parts = rel.parts
    return (any(p in INTERNAL_PARTS or p.endswith(".work") or p.startswith("checkpoint-") for p in parts[:-1])
            or any(x in rel.name for x in INTERNAL_NAMES))


def _data_files(run_dir: Path, out_dir: Path, limit: int) -> list[dict[str, Any]]:
    out = []
    for path in sorted(run_dir.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        if _under(path, out_dir) or path.suffix not in (".jsonl", ".json", ".gz", ".parquet", ".png", ".html", ".yaml", ".md"):
            continue
        rel = path.relative_to(run_dir)
        if "servers" in rel.parts:
            continue
        out.append({"path": _rel(path, out_dir), "name": str(rel), "bytes": path.stat().st_size,
                    "internal": is_internal(rel)})
        if len(out) >= limit:
            break
    return out


def _under(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def build_report(run_dir: str | Path, out_dir: str | Path | None = None, title: str | None = None,
                 max_files: int = 300) -> ReportResult:
    run_dir = Path(run_dir).resolve()
    out_dir = Path(out_dir).resolve() if out_dir else run_dir / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    data = collect(run_dir, out_dir, max_files)
    html = render_html(data, title or f"thoughtdistill report: {data['recipe']}")
    json_data = {k: v for k, v in data.items() if k != "lengths"}
    json_data["lengths"] = {k: {"unit": v["unit"], "count": len(v["values"]),
                                "min": min(v["values"]), "max": max(v["values"]),
                                "mean": sum(v["values"]) / len(v["values"])} for k, v in data["lengths"].items()}
    json_path = out_dir / "report.json"
    with atomic_open(json_path) as fh:
        json.dump(json_data, fh, indent=2, ensure_ascii=False)
    html_path = out_dir / "report.html"
    with atomic_open(html_path) as fh:
        fh.write(html)
    for path in (html_path, json_path):
        path.chmod(0o644)
    return ReportResult(html=str(html_path), json_path=str(json_path), funnel=data["funnel"])


def run_report(config: ReportConfig) -> ReportResult:
    return build_report(config.run_dir, config.output_dir, config.title, config.max_files)


__all__ = ["SECTIONS", "ReportConfig", "ReportResult", "build_report", "collect", "run_report"]
