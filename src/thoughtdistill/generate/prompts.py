"""Prompt presets: how a question becomes chat messages for a teacher."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError

# Qwen3 / DeepSeek-R1 usage notes: no system prompt, all instructions in the user turn, and
# for maths "Please reason step by step, and put your final answer within \boxed{}."
QWEN3_USER = "{question}\n\nPlease reason step by step, and put your final answer within \\boxed{}."

PRESETS: dict[str, tuple[str | None, str]] = {
    "qwen3": (None, QWEN3_USER),
    "plain": (None, "{question}"),
}
# EasyDistill's cot_generation_api prompt goes as the system turn with the question as the user
# turn; its text is read from the user's EasyDistill job config (easydistill_config), not kept here.
EASYDISTILL = "easydistill"


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
        if preset == EASYDISTILL:
            if system is None:
                raise ConfigError("the easydistill prompt preset reads EasyDistill's own prompt: set "
                                  "easydistill_config (in the generate config) to your EasyDistill job config, "
                                  "e.g. its configs/cot_generation_api.json")
            preset = "plain"
        if preset not in PRESETS:
            raise ConfigError(f"unknown prompt preset '{preset}' (known: {', '.join([*PRESETS, EASYDISTILL])})")
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
