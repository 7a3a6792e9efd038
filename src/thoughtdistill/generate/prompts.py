"""Prompt presets: how a question becomes chat messages for a teacher."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError

# Qwen3 / DeepSeek-R1 usage notes: no system prompt, all instructions in the user turn, and
# for maths "Please reason step by step, and put your final answer within \boxed{}."
QWEN3_USER = "{question}\n\nPlease reason step by step, and put your final answer within \\boxed{}."

# The prompt of EasyDistill's cot_generation_api job (configs/cot_generation_api.json,
# modelscope/easydistill, Apache-2.0), sent as the system turn with the question as the user turn.
EASYDISTILL_SYSTEM = (
    "Your role as an assistant involves thoroughly exploring questions through a systematic long "
    "thinking process before providing the final precise and accurate solutions. This requires "
    "engaging in a comprehensive cycle of analysis, summarizing, exploration, reassessment, "
    "reflection, backtracing, and iteration to develop well-considered thinking process. Please "
    "structure your response into two main sections: Thought and Solution. In the Thought section, "
    "detail your reasoning process using the specified format: <|begin_of_thought|> {thought with "
    "steps separated with '\n\n'} <|end_of_thought|> Each step should include detailed "
    "considerations such as analisying questions, summarizing relevant findings, brainstorming new "
    "ideas, verifying the accuracy of the current steps, refining any errors, and revisiting "
    "previous steps. In the Solution section, based on various attempts, explorations, and "
    "reflections from the Thought section, systematically present the final solution that you deem "
    "correct. The solution should remain a logical, accurate, concise expression style and detail "
    "necessary step needed to reach the conclusion, formatted as follows: <|begin_of_solution|> "
    "{final formatted, precise, and clear solution} <|end_of_solution|> Now, try to solve the "
    "following question through the above guidelines:"
)

PRESETS: dict[str, tuple[str | None, str]] = {
    "qwen3": (None, QWEN3_USER),
    "plain": (None, "{question}"),
    "easydistill": (EASYDISTILL_SYSTEM, "{question}"),
}


def easydistill_prompt(config_path: str | Path) -> str:
    """The ``inference.prompt`` of an EasyDistill job config (e.g. cot_generation_api.json)."""
    try:
        data = json.loads(Path(config_path).read_text(encoding="utf-8"))
        return data["inference"]["prompt"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{config_path}: no inference.prompt in this EasyDistill config ({exc})") from None


class PromptBuilder:
    """``preset`` gives defaults; ``system`` / ``user_template`` override them. Templates use
    ``{question}`` (and optionally ``{domain}``); other braces (LaTeX) are left alone."""

    def __init__(self, preset: str = "qwen3", system: str | None = None, user_template: str | None = None):
        if preset not in PRESETS:
            raise ConfigError(f"unknown prompt preset '{preset}' (known: {', '.join(PRESETS)})")
        base_system, base_user = PRESETS[preset]
        self.system = system if system is not None else base_system
        self.user = user_template if user_template is not None else base_user
        if "{question}" not in self.user:
            raise ConfigError("user_template must contain {question}")

    def messages(self, question: str, domain: str | None = None) -> list[dict[str, Any]]:
        user = self.user.replace("{domain}", domain or "").replace("{question}", question)
        out: list[dict[str, Any]] = []
        if self.system:
            out.append({"role": "system", "content": self.system})
        out.append({"role": "user", "content": user})
        return out
