"""Inference and evaluation: backends, benchmark registry, scorers, metrics, run files.

Public API::

    from thoughtdistill.evaluate import (InferConfig, run_infer, EvalConfig, run_eval,
        compare_runs, Sampling, TransformersBackend, VLLMBackend, OpenAIBackend,
        load_registry, get_benchmark, load_items, score_many, pass_at_k, problem_metrics)
"""

from .backends import GenOutput, InferBackend, OpenAIBackend, Sampling, TransformersBackend, VLLMBackend
from .benchmarks import BUILTIN, BenchmarkSpec, EvalItem, build_messages, get_benchmark, load_items, load_registry
from .compare import compare_runs, load_reference
from .infer import InferConfig, InferResult, run_infer
from .metrics import bootstrap_mean, majority_correct, pass_at_k, problem_metrics
from .run import SCHEMA, EvalConfig, EvalResult, run_eval
from .scoring import Score, extract_choice, score_many, score_one

__all__ = [
    "BUILTIN", "BenchmarkSpec", "EvalConfig", "EvalItem", "EvalResult", "GenOutput", "InferBackend",
    "InferConfig", "InferResult", "OpenAIBackend", "SCHEMA", "Sampling", "Score", "TransformersBackend",
    "VLLMBackend", "bootstrap_mean", "build_messages", "compare_runs", "extract_choice", "get_benchmark",
    "load_items", "load_reference", "load_registry", "majority_correct", "pass_at_k", "problem_metrics",
    "run_eval", "run_infer", "score_many", "score_one",
]
