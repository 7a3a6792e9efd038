"""``run_select``: pass 1 (compact stats) -> decisions on arrays -> pass 2 (write chosen chains)."""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from pydantic import ValidationError

from ..errors import ConfigError, RecordError
from ..io.atomic import atomic_open, refuse_overwriting_input
from ..io.convert import iter_canonical_rows
from ..io.hub import is_hub_ref
from ..io.jsonl import JsonlWriter
from ..progress import Progress
from ..records import Record, validation_field
from .budgets import apply_budgets
from .config import SelectConfig
from .filters import evaluate, parse_filter
from .hygiene import EvalIndex, MinHasher, near_duplicates
from .report import distribution, write_figures
from .scan import FLAG_NAMES, F_ERROR, F_LANGMIX, F_LOOP, F_NO_ANSWER, F_TRUNCATED, Scanner, Stats
from .strategies import STRATEGIES

REPORT_SUFFIX = ".select_report.json"
FIGURES_SUFFIX = ".select_figures"


def _output_stem(output: Path) -> str:
    return Path(output.name.removesuffix(".gz")).stem


def report_path(output: Path) -> Path:
    """The report beside the output, named after it: two selections in one folder keep both."""
    return output.with_name(_output_stem(output) + REPORT_SUFFIX)


def figures_dir(output: Path) -> Path:
    return output.with_name(_output_stem(output) + FIGURES_SUFFIX)
REPORT_VERSION = 1
CONTAMINATED = "contaminated_questions:"


@dataclass
class SelectResult:
    output: Path
    report_path: Path | None
    questions_in: int
    chains_in: int
    questions_out: int
    chains_out: int
    tokens_out: int
    report: dict[str, Any]


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def decontamination_sets(hygiene) -> list[tuple[str, Path]]:
    """(label, file) of every evaluation set to decontaminate against: the packaged benchmarks
    chosen by name (all of them by default), then the user's ``eval_files`` (labelled by file
    name). Evaluation data only: training samples never belong here."""
    from ..evaluate.benchmarks import BUILTIN, packaged_benchmarks

    names = packaged_benchmarks() if hygiene.decontaminate_against is None else hygiene.decontaminate_against
    sets = [(name, BUILTIN[name].resolved_path()) for name in names]
    for f in hygiene.eval_files:
        if is_hub_ref(f):
            sets.append((str(f), f))
            continue
        if not Path(f).exists():
            raise ConfigError(f"hygiene.eval_files: {f} not found")
        sets.append((Path(f).name, Path(f)))
    return sets


class _Steps:
    """Counts before/after each step; every removal is attributed to a reason."""

    def __init__(self, stats: Stats):
        self.stats = stats
        self.rows: list[dict] = []

    def add(self, step: str, alive: np.ndarray, before: np.ndarray, reasons: dict[str, int] | None = None) -> None:
        st = self.stats
        qa = np.unique(st.q[alive]).size
        qb = np.unique(st.q[before]).size
        self.rows.append({"step": step, "chains": int(alive.sum()), "questions": int(qa),
                          "removed_chains": int(before.sum() - alive.sum()), "removed_questions": int(qb - qa),
                          "reasons": {k: int(v) for k, v in (reasons or {}).items() if v}})


def _decide(cfg: SelectConfig, stats: Stats, mh: MinHasher | None, steps: _Steps,
            eval_sets: list[str] = ()) -> tuple[np.ndarray, dict, dict]:
    alive = np.ones(stats.n_chains, bool)
    steps.add("read", alive, alive, {"bad_rows": stats.rows_bad})
    _apply_filters(cfg, stats, alive, steps)
    _apply_quality(cfg, stats, alive, steps)
    _apply_hygiene(cfg, stats, mh, alive, steps, eval_sets)
    return _apply_strategy(cfg, stats, alive, steps)


def _apply_filters(cfg: SelectConfig, st: Stats, alive: np.ndarray, steps: _Steps) -> None:
    """The user's filters (``alive`` is narrowed in place)."""
    specs = [parse_filter(f) for f in cfg.filters]
    before = alive.copy()
    reasons: dict[str, int] = {}
    for spec, raw in zip(specs, cfg.filters):
        hit = evaluate(st, spec)
        label = raw if isinstance(raw, str) else f"{spec.field} {spec.op} {spec.value}"
        reasons[label] = int((alive & ~hit).sum())
        alive &= hit
    steps.add("filters", alive, before, reasons)


def _apply_quality(cfg: SelectConfig, st: Stats, alive: np.ndarray, steps: _Steps) -> None:
    """Chain quality flags (``alive`` is narrowed in place)."""
    qc = cfg.quality
    before = alive.copy()
    reasons = {}
    for flag, on in ((F_ERROR, qc.drop_errors), (F_TRUNCATED, qc.drop_truncated),
                     (F_NO_ANSWER, qc.final_answer != "off"), (F_LOOP, qc.drop_loops),
                     (F_LANGMIX, qc.drop_language_mix)):
        if on:
            hit = alive & ((st.flags & flag) > 0)
            reasons[FLAG_NAMES[flag]] = int(hit.sum())
            alive &= ~hit
    steps.add("quality", alive, before, reasons)


def _questions_alive(st: Stats, alive: np.ndarray) -> np.ndarray:
    """Questions that still have a chain."""
    qa = np.zeros(st.n_questions, bool)
    qa[st.q[alive]] = True
    return qa


def _exact_duplicates(st: Stats, qa: np.ndarray) -> np.ndarray:
    """Questions (among ``qa``) whose key an earlier one has."""
    idx = np.flatnonzero(qa)
    keys = st.q_key[idx]
    o = np.argsort(keys, kind="stable")
    sk = keys[o]
    dup_sorted = np.zeros(len(sk), bool)  # np.r_[False, ...] would be 1 long when nothing is left
    dup_sorted[1:] = sk[1:] == sk[:-1]
    dup_q = np.zeros(st.n_questions, bool)
    dup_q[idx[o[dup_sorted]]] = True
    return dup_q


def _apply_hygiene(cfg: SelectConfig, st: Stats, mh: MinHasher | None, alive: np.ndarray, steps: _Steps,
                   eval_sets: list[str]) -> None:
    """Question-level hygiene, among questions that still have a chain (in place)."""
    hy = cfg.hygiene
    if hy.exact_dedup:
        before = alive.copy()
        dup_q = _exact_duplicates(st, _questions_alive(st, alive))
        alive &= ~dup_q[st.q]
        steps.add("exact_dedup", alive, before, {"duplicate_questions": int(dup_q.sum())})
    if hy.near_dedup and mh is not None and st.q_bands is not None:
        before = alive.copy()
        qa = _questions_alive(st, alive)
        dup_q = near_duplicates(st.q_bands, st.signatures(mh.num_perm), qa, hy.near_threshold)
        alive &= ~dup_q[st.q]
        steps.add("near_dedup", alive, before, {"near_duplicate_questions": int(dup_q.sum())})
    if hy.decontaminate:
        before = alive.copy()
        qa = _questions_alive(st, alive)
        alive &= st.q_contaminated[st.q] == 0
        hits = np.bincount(st.q_contaminated[qa], minlength=len(eval_sets) + 1)[1:]
        steps.add("decontaminate", alive, before,
                  {f"{CONTAMINATED}{label}": int(h) for label, h in zip(eval_sets, hits)})


def _apply_strategy(cfg: SelectConfig, st: Stats, alive: np.ndarray,
                    steps: _Steps) -> tuple[np.ndarray, dict, dict]:
    """The strategy's order, then the budgets: the kept chains and both steps' reports."""
    tie = np.random.default_rng(cfg.seed).random(st.n_chains)
    name = cfg.strategy
    budget = cfg.budget
    matched: dict | None = None
    if name == "random":
        budget, matched = _random_budget(cfg, st, alive, tie)
        tie = np.random.default_rng([cfg.seed, 1]).random(st.n_chains)  # independent of the matched run
    order, srep = STRATEGIES[name](st, alive, _params(cfg, name), tie)
    if matched is not None:
        srep["matched"] = matched
    sel = np.zeros(st.n_chains, bool)
    sel[order] = True
    steps.add("strategy", sel, alive, srep.get("dropped"))
    kept, brep = apply_budgets(st, order, budget)
    final = np.zeros(st.n_chains, bool)
    final[kept] = True
    steps.add("budget", final, sel, brep.get("dropped"))
    return kept, srep, brep


def _random_budget(cfg: SelectConfig, st: Stats, alive: np.ndarray, tie: np.ndarray) -> tuple[Any, dict | None]:
    """The random strategy's budget: ``random.n`` chains, or as many as the ``match``ed
    strategy keeps (what it kept is reported)."""
    rp = cfg.random
    budget = cfg.budget
    n = rp.n
    matched = None
    if rp.match is not None:
        m_order, m_rep = STRATEGIES[rp.match](st, alive, _params(cfg, rp.match), tie)
        m_kept, _ = apply_budgets(st, m_order, cfg.budget)
        n = len(m_kept) if n is None else min(n, len(m_kept))
        matched = {"strategy": rp.match, "chains": int(len(m_kept)), "tokens": int(st.tokens[m_kept].sum())}
    if n is not None:
        mc = n if budget.max_chains is None else min(n, budget.max_chains)
        budget = budget.model_copy(update={"max_chains": mc})
    return budget, matched


def _why_empty(cfg: SelectConfig, stats: Stats, steps: list[dict], srep: dict, brep: dict) -> str:
    """One line saying which step left nothing to select, and why."""
    if stats.n_chains == 0:
        what = "the input has no rows" if stats.n_rows == 0 else f"the input's {stats.n_rows} row(s) have no chains"
        bad = f" ({stats.rows_bad} bad row(s) left out)" if stats.rows_bad else ""
        return f"selected nothing: {what}{bad}"
    row = next((r for r in steps if r["chains"] == 0), steps[-1])
    if row["step"] == "decontaminate":
        return (f"selected nothing: decontamination removed the last {row['removed_chains']} chain(s): their "
                f"questions appear in {_matched_sets(row)}; the input is evaluation data, not training data "
                "(choose the sets with hygiene.decontaminate_against)")
    pre_strategy = row["step"] not in ("strategy", "budget")
    if not pre_strategy and cfg.strategy != "random" and not ((stats.rv >= 0) & (stats.cd >= 0)).any():
        return (f"selected nothing: no chain has RV/CD levels ({cfg.strategy} needs them): "
                "run `thoughtdistill judge` first")
    matched = srep.get("matched")
    if matched and matched["chains"] == 0:
        return f"selected nothing: random --match {matched['strategy']} copies its count, and it selects no chains"
    why = ", ".join(f"{_reason_label(k, brep if row['step'] == 'budget' else {})}: {v}"
                    for k, v in row["reasons"].items())
    return f"selected nothing: step '{row['step']}' removed the last {row['removed_chains']} chain(s)" + (
        f" ({why})" if why else "")


def _matched_sets(row: dict) -> str:
    """'benchmark math500 (500 questions)' from a decontaminate step's reasons."""
    hits = [(k[len(CONTAMINATED):], v) for k, v in row["reasons"].items() if k.startswith(CONTAMINATED)]
    return "evaluation set(s) " + ", ".join(f"{name} ({n} question{'s' * (n != 1)})" for name, n in hits)


def _looks_like_eval_set(steps: list[dict], share: float = 0.5) -> list[str]:
    """Recognise, by content, an input that is (a copy of) an evaluation set: more than half of its
    questions match one set. Its path does not matter: a converted copy is recognised too."""
    row = next((r for r in steps if r["step"] == "decontaminate"), None)
    if row is None:
        return []
    before = row["questions"] + row["removed_questions"]
    return [f"decontamination: {n} of {before} input questions appear in evaluation set {k[len(CONTAMINATED):]}: "
            "the input looks like that benchmark itself, not training data"
            for k, n in row["reasons"].items() if k.startswith(CONTAMINATED) and before and n > share * before]


def _reason_label(reason: str, brep: dict) -> str:
    """A budget reason with its setting (``max_tokens=1``); other reasons as they are."""
    value = brep.get("params", {}).get(reason)
    return f"{reason}={value}" if isinstance(value, int) else reason


def _params(cfg: SelectConfig, name: str):
    return {"threshold": cfg.threshold, "rv-cd-mix": cfg.rv_cd_mix,
            "student-fit": cfg.student_fit, "random": cfg.random}[name]


def _write(cfg: SelectConfig, stats: Stats, kept: np.ndarray) -> tuple[int, int]:
    """Pass 2: stream the inputs again and write each chosen question with its chosen chains,
    in input order, as canonical records."""
    kept = np.sort(kept)
    rows = stats.q_row[stats.q[kept]]
    cis = stats.ci[kept]
    o = np.lexsort((cis, rows))
    rows, cis = rows[o].tolist(), cis[o].tolist()
    j, n_rows, written_q = 0, 0, 0
    with JsonlWriter(cfg.output) as out, Progress(stats.n_rows or None, "select: write", "row",
                                                  enabled=cfg.progress, ticker=False) as bar:
        for path in cfg.input:
            if j >= len(rows):
                break
            for number, _raw, obj in iter_canonical_rows(path):  # the rows pass 1 scanned
                r = n_rows
                n_rows += 1
                bar.update()
                if j >= len(rows):
                    break
                if rows[j] != r:
                    continue
                want = []
                while j < len(rows) and rows[j] == r:
                    want.append(cis[j])
                    j += 1
                chains = obj.get("reasoning") or []
                obj["reasoning"] = [chains[i] for i in want]
                try:
                    rec = Record.model_validate(obj)
                except ValidationError as exc:
                    loc, msg = validation_field(exc)
                    raise RecordError(str(path), number, loc, msg) from None
                out.write(rec)
                written_q += 1
    return written_q, len(kept)


def run_select(config: SelectConfig) -> SelectResult:
    """Select chains from ``config.input`` into ``config.output`` (see docs/select.md)."""
    cfg = config
    t0 = time.perf_counter()
    _preflight(cfg)
    cfg.output.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".select-", dir=cfg.output.parent))
    try:
        stats, mh, ev = _scan(cfg, work)
        t_scan = time.perf_counter()
        steps = _Steps(stats)
        kept, srep, brep = _decide(cfg, stats, mh, steps, ev.labels if ev else [])
        t_decide = time.perf_counter()
        q_out, c_out = _write(cfg, stats, kept)
        t_write = time.perf_counter()
        report = _report(cfg, stats, steps, kept, srep, brep, (q_out, c_out), mh, ev)
        report["timing_s"] = {"scan": round(t_scan - t0, 3), "decide": round(t_decide - t_scan, 3),
                              "write": round(t_write - t_decide, 3), "total": round(time.perf_counter() - t0, 3)}
        report["peak_rss_mb"] = round(_peak_rss_mb(), 1)
        report_file = None
        if cfg.report:
            report_file = report_path(cfg.output)
            with atomic_open(report_file, "wb", encoding=None) as fh:
                fh.write(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
        return SelectResult(cfg.output, report_file, stats.n_questions, stats.n_chains, q_out, c_out,
                            report["counts"]["tokens_out"], report)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _preflight(cfg: SelectConfig) -> None:
    """What can fail before the inputs are read."""
    for p in cfg.input:
        if not is_hub_ref(p) and not Path(p).exists():
            raise ConfigError(f"input: {p} not found")
    refuse_overwriting_input(cfg.output, cfg.input)
    for f in cfg.filters:  # fail on a bad filter before reading gigabytes
        parse_filter(f)
    if cfg.strategy == "student-fit" or (cfg.strategy == "random" and cfg.random.match == "student-fit"):
        from .strategies import cd_band

        cd_band(cfg.student_fit)


def _scan(cfg: SelectConfig, work: Path) -> tuple[Stats, MinHasher | None, EvalIndex | None]:
    """Pass 1: every input row scanned into per-chain stats (with the MinHash and the
    evaluation-set index the hygiene steps need)."""
    hy = cfg.hygiene
    ev: EvalIndex | None = None
    if hy.decontaminate:
        ev = EvalIndex(hy.ngram)
        for label, path in decontamination_sets(hy):
            ev.add_file(path, label)
    mh = MinHasher(hy.num_perm, hy.near_threshold, hy.shingle) if hy.near_dedup else None
    scanner = Scanner(cfg.quality, cfg.chars_per_token, mh, ev, cfg.student_fit.difficulty_key, work, cfg.on_error)
    # ticker=False: updates come per row (and no thread beside worker processes)
    with Progress(None, "select: scan", "row", enabled=cfg.progress, ticker=False) as bar:
        for p in cfg.input:
            scanner.scan_file(Path(p), bar.update)
    return scanner.finish(), mh, ev


def _report(cfg: SelectConfig, stats: Stats, steps: _Steps, kept: np.ndarray, srep: dict, brep: dict,
            written: tuple[int, int], mh: MinHasher | None, ev: EvalIndex | None) -> dict[str, Any]:
    """The selection report (without timings): counts, steps, strategy and budget reports,
    warnings, distributions before and after, figures."""
    q_out, c_out = written
    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "strategy": cfg.strategy,
        "seed": cfg.seed,
        "input": [str(p) for p in cfg.input],
        "output": str(cfg.output),
        "config": cfg.model_dump(mode="json"),
        "counts": {"rows_in": stats.n_rows, "rows_bad": stats.rows_bad,
                   "questions_in": stats.n_questions, "chains_in": stats.n_chains,
                   "questions_out": q_out, "chains_out": c_out, "tokens_out": int(stats.tokens[kept].sum())},
        "steps": steps.rows,
        "strategy_report": srep,
        "budget_report": brep,
        "hygiene": {"eval_sets": [{"name": label, "path": path} for label, path in zip(ev.labels, ev.files)]
                    if ev else [], "eval_texts": ev.texts if ev else 0,
                    "lsh_bands": mh.bands if mh else None, "lsh_rows": mh.rows if mh else None},
        "errors": stats.errors,
        "warnings": _looks_like_eval_set(steps.rows) + srep.get("warnings", []) + brep.get("warnings", []),
    }
    if c_out == 0:
        report["warnings"].append(_why_empty(cfg, stats, steps.rows, srep, brep))
    report["before"] = distribution(stats, np.arange(stats.n_chains))
    report["after"] = distribution(stats, np.sort(kept))
    report["figures"] = {}
    if cfg.figures and cfg.report:
        figs = write_figures(report["before"], report["after"], figures_dir(cfg.output))
        report["figures"] = {k: f"{figures_dir(cfg.output).name}/{v}" for k, v in figs.items()}
    return report
