"""``thoughtdistill run``: recipes of stages in one resumable run directory, and
EasyDistill 1.x configs mapped onto the same stages."""

from .recipe import Recipe, ServerSpec, StageSpec, load_recipe
from .runner import PipelineResult, StageOutcome, run_pipeline
from .stages import KINDS, StageKind, register_kind

__all__ = [
    "KINDS",
    "PipelineResult",
    "Recipe",
    "ServerSpec",
    "StageKind",
    "StageOutcome",
    "StageSpec",
    "load_recipe",
    "register_kind",
    "run_pipeline",
]
