"""Rule-based verifiers: math answers with math-verify, code in a local sandbox.

Submodules (import what you need; ``math`` pulls in sympy):

- :mod:`thoughtdistill.verify.math`: ``extract_final_answer``, ``math_equal``,
  ``verify_math``, ``verify_math_many`` (process pool);
- :mod:`thoughtdistill.verify.sandbox`: ``SandboxLimits``, ``run_python`` -> ``RunResult``;
- :mod:`thoughtdistill.verify.code`: ``extract_code``, ``check_stdio``, ``check_function``;
- :mod:`thoughtdistill.verify.stage`: ``VerifyConfig``, ``run_verify`` (the ``verify`` verb).

The stage's public API, for other stages (the judge's cascade), is re-exported here:
``rule_for`` (which rule applies to a record), ``chain_text`` (the text a verifier reads),
``verify_pairs`` (rule-verify (record, chain) pairs) and ``with_hidden_paths`` (sandbox
limits that hide the input). They load on first use, so that the math worker processes,
which import :mod:`.math`, do not import the stage.
"""

from typing import Any

from .result import VerifyResult

_STAGE_API = ("VerifyConfig", "VerifyRunResult", "chain_text", "rule_for", "run_verify", "verify_pairs",
              "with_hidden_paths")

__all__ = ["VerifyResult", *_STAGE_API]


def __getattr__(name: str) -> Any:
    if name in _STAGE_API:
        from . import stage

        return getattr(stage, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
