"""``thoughtdistill select``: filters, hygiene, strategies and budgets over annotated chains.

Streaming in two passes (compact numeric stats first, chosen text second), so memory stays
bounded whatever the input size. See docs/select.md.
"""

from .config import (
    DEFAULT_SIZE_BANDS,
    BudgetConfig,
    FilterSpec,
    HygieneConfig,
    QualityConfig,
    RandomParams,
    RvCdMixParams,
    SelectConfig,
    StudentFitParams,
    ThresholdParams,
)
from .filters import parse_filter
from .run import SelectResult, figures_dir, report_path, run_select
from .strategies import STRATEGIES, cd_band, cd_bin, largest_remainder

__all__ = [
    "DEFAULT_SIZE_BANDS",
    "figures_dir",
    "report_path",
    "STRATEGIES",
    "BudgetConfig",
    "FilterSpec",
    "HygieneConfig",
    "QualityConfig",
    "RandomParams",
    "RvCdMixParams",
    "SelectConfig",
    "SelectResult",
    "StudentFitParams",
    "ThresholdParams",
    "cd_band",
    "cd_bin",
    "largest_remainder",
    "parse_filter",
    "run_select",
]
