"""LLM judging of chains: RV / CD / correctness rubrics, robust parsing, several judges,
aggregation with provenance, agreement reports, and the verification cascade.

    from thoughtdistill.judge import JudgeConfig, run_judge, parse_score, load_rubric
"""

from .agreement import AgreementTracker, cohen_kappa, format_report, spearman
from .core import JudgeConfig, JudgeResult, aggregate_levels, aggregate_verdicts, run_judge
from .parse import Parsed, parse_score
from .rubrics import METRICS, PRESETS, Rubric, load_rubric

__all__ = [
    "AgreementTracker", "JudgeConfig", "JudgeResult", "METRICS", "PRESETS", "Parsed", "Rubric",
    "aggregate_levels", "aggregate_verdicts", "cohen_kappa", "format_report", "load_rubric",
    "parse_score", "run_judge", "spearman",
]
