"""Selection strategies, decided on compact arrays (no text).

Each strategy is a plain function ``f(stats, cand, params, tie) -> (order, report)``:
``cand`` is the boolean mask of chains still eligible after filters and hygiene, ``tie`` a
seeded random number per chain (the last tie-breaker, so results are reproducible for a
seed), ``order`` the chosen chain indices in priority order (budgets cut from the end) and
``report`` a JSON-able dict including every drop and its reason.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..errors import ConfigError
from .config import RandomParams, RvCdMixParams, StudentFitParams, ThresholdParams
from .scan import Stats

RV_TARGET_MAP = {"low": 2.0, "medium": 5.0, "high": 8.0}  # EasyDistill's named targets


def largest_remainder(exact: list[float]) -> list[int]:
    """Integer quotas summing to round(sum(exact)), each floor(x) or floor(x)+1: the units left
    after flooring go to the largest fractional parts (ties: the earlier entry). Unlike rounding
    each quota alone, five quotas of 0.4 give [1, 1, 0, 0, 0], not five zeros."""
    floors = [math.floor(x + 1e-9) for x in exact]
    left = int(round(sum(exact))) - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:max(0, left)]:
        floors[i] += 1
    return floors


def _drop(report: dict, reason: str, mask: np.ndarray) -> None:
    n = int(mask.sum())
    if n:
        report["dropped"][reason] = report["dropped"].get(reason, 0) + n


def _require(stats: Stats, cand: np.ndarray, report: dict, correct: bool, rv: bool, cd: bool) -> np.ndarray:
    m = cand.copy()
    if correct:
        bad = m & (stats.correct != 1)
        _drop(report, "not_correct", bad & (stats.correct == 0))
        _drop(report, "correctness_unknown", bad & (stats.correct != 0))
        m &= ~bad
    if cd:
        _drop(report, "cd_missing", m & (stats.cd < 0))
        m &= stats.cd >= 0
    if rv:
        _drop(report, "rv_missing", m & (stats.rv < 0))
        m &= stats.rv >= 0
    return m


# --- threshold -------------------------------------------------------------------------


def threshold(stats: Stats, cand: np.ndarray, p: ThresholdParams, tie: np.ndarray):
    """EasyDistill's reference filter: correct, ``rv[0] <= RV <= rv[1]``, ``cd[0] <= CD <= cd[1]``.
    Every passing chain is kept (budgets may cut, in seeded random order)."""
    report = {"params": p.model_dump(mode="json"), "dropped": {}}
    m = _require(stats, cand, report, p.require_correct, True, True)
    out_rv = m & ((stats.rv < p.rv[0]) | (stats.rv > p.rv[1]))
    _drop(report, "rv_out_of_range", out_rv)
    m &= ~out_rv
    out_cd = m & ((stats.cd < p.cd[0]) | (stats.cd > p.cd[1]))
    _drop(report, "cd_out_of_range", out_cd)
    m &= ~out_cd
    idx = np.flatnonzero(m)
    return idx[np.argsort(tie[idx], kind="stable")], report


# --- rv-cd-mix -------------------------------------------------------------------------


def cd_bin(cd: np.ndarray, edges: list[float]) -> np.ndarray:
    """Bin index per CD value, -1 outside [edges[0], edges[-1]]. Bins are [e_i, e_i+1) except the
    last, which is closed: CD equal to the last edge lands in the last bin (EasyDistill put it
    in a phantom extra bin)."""
    e = np.asarray(edges, dtype=np.float64)
    x = cd.astype(np.float64)
    b = np.searchsorted(e, x, side="right") - 1
    b[x == e[-1]] = len(e) - 2
    b[(x < e[0]) | (x > e[-1])] = -1
    return b


def bin_targets(p: RvCdMixParams) -> list[float]:
    """RV target per bin: a number, a list, low/medium/high (2/5/8), or ``matched``: rising
    linearly from 2 (first bin) to 10 (last bin), 5 for a single bin, as EasyDistill does."""
    n = len(p.cd_bins) - 1
    t = p.rv_target
    if isinstance(t, list):
        return [float(x) for x in t]
    if isinstance(t, (int, float)):
        return [float(t)] * n
    if t in RV_TARGET_MAP:
        return [RV_TARGET_MAP[t]] * n
    if n == 1:
        return [5.0]
    return [round(2.0 + i * 8.0 / (n - 1), 2) for i in range(n)]


def rv_cd_mix(stats: Stats, cand: np.ndarray, p: RvCdMixParams, tie: np.ndarray):
    """Bin chains by CD, keep in each bin the chains whose RV is closest to the bin's target.

    Fixed relative to EasyDistill's ``cot_mix_by_rv_cd``: the last edge is inside the last bin;
    chains are grouped per question (at most ``per_question`` chains of one question, its
    closest first); quotas from ``total`` x ``bin_weights`` use largest-remainder rounding; bins
    are filled round-robin by rank so a question is not claimed by whichever bin comes first;
    every chain left out is counted under a reason.
    """
    n_bins = len(p.cd_bins) - 1
    targets = bin_targets(p)
    report: dict = {"params": p.model_dump(mode="json"), "dropped": {}}
    m = _require(stats, cand, report, p.require_correct, True, True)
    b = cd_bin(stats.cd, p.cd_bins)
    _drop(report, "cd_outside_bins", m & (b < 0))
    m &= b >= 0
    idx = np.flatnonzero(m)
    bi = b[idx]
    dist = np.abs(stats.rv[idx].astype(np.float64) - np.asarray(targets)[bi])
    exact, quotas = _bin_quotas(p, n_bins)
    # rank inside each bin: distance, then seeded tie
    order = np.lexsort((tie[idx], dist, bi))
    sb = bi[order]
    starts = np.searchsorted(sb, np.arange(n_bins), side="left")
    rank = np.arange(len(order)) - starts[sb]
    # round-robin: rank 0 of every bin, then rank 1 ...
    rr = order[np.lexsort((sb, rank))]
    chosen, taken = _fill_bins(rr, idx, bi, stats.q[idx], quotas, p.per_question, report)
    avail = np.bincount(bi, minlength=n_bins).tolist()
    report["bins"] = [
        {"bin": k, "cd_range": [p.cd_bins[k], p.cd_bins[k + 1]], "closed_right": k == n_bins - 1,
         "rv_target": targets[k], "candidates": avail[k],
         "quota_exact": (None if exact is None else round(exact[k], 6)), "quota": quotas[k],
         "selected": taken[k], "shortfall": (0 if quotas[k] is None else max(0, quotas[k] - taken[k]))}
        for k in range(n_bins)
    ]
    report["empty_bins"] = [k for k in range(n_bins) if avail[k] == 0]
    if exact is not None and sum(exact) > 0 and sum(q or 0 for q in quotas) == 0:
        report["warnings"] = [f"total {p.total} rounds to no chains over {n_bins} bins"]
    return np.asarray(chosen, dtype=np.int64), report


def _bin_quotas(p: RvCdMixParams, n_bins: int) -> tuple[list[float] | None, list[int | None]]:
    """Each bin's exact share of ``total`` (None without a total) and its quota (None: no limit)."""
    if p.total is None:
        return None, [p.samples_per_bin] * n_bins
    w = p.bin_weights or [1.0] * n_bins
    exact = [p.total * x / sum(w) for x in w]
    quotas: list[int | None] = list(largest_remainder(exact))
    if p.samples_per_bin is not None:
        quotas = [min(q, p.samples_per_bin) for q in quotas]
    return exact, quotas


def _fill_bins(rr: np.ndarray, idx: np.ndarray, bi: np.ndarray, q: np.ndarray, quotas: list[int | None],
               per_question: int, report: dict) -> tuple[list[int], list[int]]:
    """Take chains in round-robin order while their bin has room and their question fewer than
    ``per_question`` chosen; the chosen chains and the count taken per bin (drops reported)."""
    chosen: list[int] = []
    taken = [0] * len(quotas)
    per_q: dict[int, int] = {}
    full = capped = 0
    qs = q.tolist()
    bl = bi.tolist()
    for j in rr.tolist():
        k = bl[j]
        qt = quotas[k]
        if qt is not None and taken[k] >= qt:
            full += 1
            continue
        qi = qs[j]
        c = per_q.get(qi, 0)
        if c >= per_question:
            capped += 1
            continue
        per_q[qi] = c + 1
        taken[k] += 1
        chosen.append(int(idx[j]))
    if full:
        report["dropped"]["bin_quota_full"] = full
    if capped:
        report["dropped"]["question_already_chosen"] = capped
    return chosen, taken


# --- student-fit -----------------------------------------------------------------------


def parse_size(size: float | str) -> float:
    """Billions of parameters from 4, '4B', '1.7b', '600M'."""
    if isinstance(size, (int, float)) and not isinstance(size, bool):
        return float(size)
    s = str(size).strip().lower()
    mult = 1.0
    if s.endswith("b"):
        s = s[:-1]
    elif s.endswith("m"):
        s, mult = s[:-1], 1e-3
    try:
        return float(s) * mult
    except ValueError:
        raise ConfigError(f"student_fit.student_size: cannot read {size!r} as a parameter count like '4B'") from None


def cd_band(p: StudentFitParams) -> tuple[float, float]:
    """The CD target band for the student. Sizes in ``size_bands`` map directly; other sizes
    are interpolated linearly in log(size) between the two neighbouring sizes (policy
    ``interpolate``) or rejected (policy ``exact``); sizes outside the table are always an error."""
    size = parse_size(p.student_size)
    table = sorted((parse_size(k), tuple(v)) for k, v in p.size_bands.items())
    if not table:
        raise ConfigError("student_fit.size_bands is empty")
    known = ", ".join(f"{s:g}B" for s, _ in table)
    for s, band in table:
        if math.isclose(s, size, rel_tol=1e-6):
            return float(band[0]), float(band[1])
    if p.size_policy == "exact":
        raise ConfigError(f"student_fit.student_size: no CD band for a {size:g}B student (known: {known}); "
                          "add it to student_fit.size_bands or use size_policy: interpolate")
    if size < table[0][0] or size > table[-1][0]:
        raise ConfigError(f"student_fit.student_size: {size:g}B is outside the size table ({known}); "
                          "add a band for it to student_fit.size_bands")
    for (s0, b0), (s1, b1) in zip(table, table[1:]):
        if s0 < size < s1:
            t = (math.log(size) - math.log(s0)) / (math.log(s1) - math.log(s0))
            return (b0[0] + t * (b1[0] - b0[0]), b0[1] + t * (b1[1] - b0[1]))
    raise AssertionError("unreachable")


def question_difficulty(stats: Stats, p: StudentFitParams) -> tuple[np.ndarray, dict]:
    """Difficulty in [0, 1] per question, from all its chains (not only the eligible ones):
    ``mean_cd`` = mean CD / 9; ``pass_rate`` = 1 - share of judged chains that are correct;
    ``meta`` = record.meta[difficulty_key] scaled by ``difficulty_range``. Missing values fall
    back to mean_cd, then to 0.5; the report counts each source."""
    nq = stats.n_questions
    has_cd = stats.cd >= 0
    cnt = np.bincount(stats.q[has_cd], minlength=nq)
    tot = np.bincount(stats.q[has_cd], weights=stats.cd[has_cd].astype(np.float64), minlength=nq)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_cd = np.where(cnt > 0, tot / np.maximum(cnt, 1) / 9.0, np.nan)
        if p.difficulty == "pass_rate":
            judged = stats.correct >= 0
            nj = np.bincount(stats.q[judged], minlength=nq)
            nc = np.bincount(stats.q[judged], weights=(stats.correct[judged] == 1).astype(np.float64), minlength=nq)
            d = np.where(nj > 0, 1.0 - nc / np.maximum(nj, 1), np.nan)
        elif p.difficulty == "meta":
            lo, hi = p.difficulty_range
            d = np.clip((stats.q_difficulty.astype(np.float64) - lo) / ((hi - lo) or 1.0), 0.0, 1.0)
        else:
            d = mean_cd.copy()
    primary = ~np.isnan(d)
    d = np.where(primary, d, mean_cd)
    second = ~primary & ~np.isnan(d)
    d = np.where(np.isnan(d), 0.5, d)
    src = {p.difficulty: int(primary.sum())}
    if p.difficulty != "mean_cd":
        src["mean_cd_fallback"] = int(second.sum())
    src["default_0.5"] = int(nq - primary.sum() - second.sum())
    return d, src


def student_fit(stats: Stats, cand: np.ndarray, p: StudentFitParams, tie: np.ndarray):
    """Per question, the ``per_question`` correct chains that best fit the student and the question.

    score = cd_weight x (distance of CD to the student's band, 0 inside) +
            rv_weight x |RV - (rv_range[0] + difficulty x (rv_range[1] - rv_range[0]))|;
    lower is better; ties go to the earlier teacher in ``teacher_order``, then the seeded
    tie-breaker. Questions are then ordered best-score first for the budgets."""
    lo, hi = cd_band(p)
    report: dict = {"params": p.model_dump(mode="json"), "cd_band": [round(lo, 4), round(hi, 4)],
                    "student_size_b": parse_size(p.student_size), "dropped": {}}
    d, src = question_difficulty(stats, p)
    report["difficulty_source"] = src
    m = _require(stats, cand, report, p.require_correct, True, True)
    idx = np.flatnonzero(m)
    cd = stats.cd[idx].astype(np.float64)
    cd_dist = np.maximum(np.maximum(lo - cd, cd - hi), 0.0)
    if p.max_cd_distance is not None:
        far = cd_dist > p.max_cd_distance + 1e-9
        report["dropped"]["cd_too_far_from_band"] = int(far.sum())
        idx, cd_dist = idx[~far], cd_dist[~far]
    qv = stats.q[idx]
    r0, r1 = p.rv_range
    target = r0 + d[qv] * (r1 - r0)
    score = p.cd_weight * cd_dist + p.rv_weight * np.abs(stats.rv[idx] - target)
    score = np.round(score, 9)  # equal fits compare equal despite float noise
    names = {t: i for i, t in enumerate(p.teacher_order)}
    trank_of = np.array([names.get(t, len(names)) for t in stats.teachers] + [len(names)], np.int32)
    trank = trank_of[stats.teacher[idx]]  # teacher -1 indexes the trailing "unlisted" slot
    o = np.lexsort((tie[idx], trank, score, qv))
    sq = qv[o]
    first = np.r_[0, np.flatnonzero(sq[1:] != sq[:-1]) + 1]
    rank = np.arange(len(o)) - np.repeat(first, np.diff(np.r_[first, len(o)]))
    keep = o[rank < p.per_question]
    report["dropped"]["worse_fit_same_question"] = int(len(o) - len(keep))
    prio = np.lexsort((tie[idx][keep], trank[keep], score[keep]))
    chosen = idx[keep][prio]
    report["rv_target_mean"] = float(np.mean(target)) if len(target) else None
    report["score_mean"] = float(np.mean(score[keep])) if len(keep) else None
    report["in_band"] = int((cd_dist[keep] == 0).sum())
    return chosen, report


# --- random ----------------------------------------------------------------------------


def random_pick(stats: Stats, cand: np.ndarray, p: RandomParams, tie: np.ndarray):
    """Uniformly random eligible chains (seeded), at most ``per_question`` per question; the count
    is set by ``n`` or by the matched strategy's final count (see run_select)."""
    report: dict = {"params": p.model_dump(mode="json"), "dropped": {}}
    m = _require(stats, cand, report, p.require_correct, False, False)
    idx = np.flatnonzero(m)
    o = idx[np.argsort(tie[idx], kind="stable")]
    qs = stats.q[o]
    # keep the first per_question chains of each question in the random order
    so = np.argsort(qs, kind="stable")
    sq = qs[so]
    first = np.r_[0, np.flatnonzero(sq[1:] != sq[:-1]) + 1] if len(sq) else np.zeros(0, np.int64)
    rank = np.empty(len(o), np.int64)
    rank[so] = np.arange(len(o)) - np.repeat(first, np.diff(np.r_[first, len(o)]))
    keep = rank < p.per_question
    report["dropped"]["question_already_chosen"] = int((~keep).sum())
    return o[keep], report


STRATEGIES: dict[str, Callable] = {
    "threshold": threshold,
    "rv-cd-mix": rv_cd_mix,
    "student-fit": student_fit,
    "random": random_pick,
}
