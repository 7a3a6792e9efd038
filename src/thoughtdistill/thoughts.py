"""Split a teacher's answer into thought and solution.

Handles the conventions teachers use in the wild:
- ``<think>…</think>solution`` (R1, QwQ, Qwen3);
- a missing opening tag (R1/Qwen3 templates put ``<think>`` in the prompt, so the answer
  starts inside the thought);
- a missing closing tag: the thought never ended, so the chain is truncated;
- a separate ``reasoning_content`` field (DeepSeek API, vLLM reasoning parser);
- EasyDistill's ``<|begin_of_thought|>…<|end_of_thought|>`` / ``<|begin_of_solution|>`` preset.
"""

from __future__ import annotations

from dataclasses import dataclass

TAG_PAIRS = (
    ("<think>", "</think>"),
    ("<|begin_of_thought|>", "<|end_of_thought|>"),
)
SOLUTION_TAGS = ("<|begin_of_solution|>", "<|end_of_solution|>")


@dataclass(frozen=True)
class ParsedThought:
    thought: str | None
    solution: str
    truncated: bool  # the thought never closed, or the teacher stopped for length
    has_thought: bool


def _strip_solution_tags(text: str) -> str:
    start, end = SOLUTION_TAGS
    if start in text:
        text = text.split(start, 1)[1]
    return text.split(end, 1)[0].strip()


def split_thought(
    content: str | None,
    reasoning_content: str | None = None,
    finish_reason: str | None = None,
) -> ParsedThought:
    """Split one response. ``finish_reason == 'length'`` always marks it truncated."""
    content = content or ""
    stopped_for_length = finish_reason == "length"
    if reasoning_content:
        # The server already separated the thought; a think block may still leak into content.
        inner = split_thought(content, None, finish_reason)
        solution = inner.solution if inner.has_thought and not inner.truncated else content.strip()
        return ParsedThought(reasoning_content.strip(), solution, stopped_for_length, True)
    for open_tag, close_tag in TAG_PAIRS:
        if close_tag in content:
            before, after = content.split(close_tag, 1)
            thought = before.split(open_tag, 1)[1] if open_tag in before else before
            return ParsedThought(thought.strip(), _strip_solution_tags(after), stopped_for_length, True)
        if open_tag in content:
            thought = content.split(open_tag, 1)[1]
            return ParsedThought(thought.strip(), "", True, True)
    return ParsedThought(None, _strip_solution_tags(content), stopped_for_length, False)


def thought_unclosed(content: str | None) -> bool:
    """Whether a response opens a thought and never closes it (the teacher was cut off):
    the truncation :func:`split_thought` reports, without copying the text."""
    if not content:
        return False
    for open_tag, close_tag in TAG_PAIRS:
        if close_tag in content:
            return False
        if open_tag in content:
            return True
    return False


def join_thought(thought: str | None, solution: str | None) -> str:
    """The Qwen3 rendering of a chain: ``<think>\\n…\\n</think>\\n\\n`` + solution."""
    return f"<think>\n{(thought or '').strip()}\n</think>\n\n{(solution or '').strip()}"
