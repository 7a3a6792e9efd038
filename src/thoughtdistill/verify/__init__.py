"""Rule-based verifiers: math answers with math-verify, code in a local sandbox.

Submodules (import what you need; ``math`` pulls in sympy):

- :mod:`thoughtdistill.verify.math`: ``extract_final_answer``, ``math_equal``,
  ``verify_math``, ``verify_math_many`` (process pool);
- :mod:`thoughtdistill.verify.sandbox`: ``SandboxLimits``, ``run_python`` -> ``RunResult``;
- :mod:`thoughtdistill.verify.code`: ``extract_code``, ``check_stdio``, ``check_function``;
- :mod:`thoughtdistill.verify.stage`: ``VerifyConfig``, ``run_verify`` (the ``verify`` verb).
"""

from .result import VerifyResult

__all__ = ["VerifyResult"]
