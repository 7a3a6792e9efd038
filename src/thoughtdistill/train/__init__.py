"""``thoughtdistill train``: SFT (black-box) and top-k KD (white-box) of a thinking student."""

from .config import KDSettings, LoraSettings, TrainConfig
from .run import TrainResult, run_train

__all__ = ["KDSettings", "LoraSettings", "TrainConfig", "TrainResult", "run_train"]
