"""Chat rendering and loss masks for SFT on thinking chains.

One selected chain becomes one conversation::

    [system?] user: question    assistant: <think>\\n{thought}\\n</think>\\n\\n{solution}

rendered with the student tokenizer's chat template. Only the assistant turn is supervised,
its end-of-turn token included; the masks come from the template's ``{% generation %}``
markers (transformers' ``return_assistant_tokens_mask``), never from matching pad ids, so a
tokenizer whose pad token equals its EOS (SmolLM2: ``<|im_end|>``) still learns to stop.

Template policy (:func:`resolve_template`):
1. ``chat_template`` given in the config (file or text): used as is; it must have
   ``{% generation %}`` markers.
2. the student's own template has ``{% generation %}`` markers: used as is.
3. the student's template is ChatML / Qwen-style (``<|im_start|>``/``<|im_end|>`` tokens in the
   vocabulary; Qwen2.5, Qwen3, SmolLM2…): replaced by :data:`models.QWEN3_THINKING_TEMPLATE`,
   the training variant of the project's Qwen3 template (:mod:`thoughtdistill.qwen3_template`),
   which renders every conversation as Qwen3's published template does (earlier turns'
   reasoning dropped, ``reasoning_content``, tools, ``enable_thinking``) and adds generation
   markers. The trained model is saved with that template, so inference renders exactly what
   training saw, and what a Qwen3 model would be shown.
4. anything else: an error asking for a template with generation markers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..errors import ConfigError, ThoughtDistillError
from ..models import QWEN3_THINKING_TEMPLATE
from ..records import Chain, Record
from ..thoughts import join_thought, split_thought

CHATML_TOKENS = ("<|im_start|>", "<|im_end|>")


def has_generation_markers(template: str | None) -> bool:
    return bool(template) and "generation" in template and "endgeneration" in template


@dataclass(frozen=True)
class TemplateChoice:
    template: str
    source: str  # 'config', 'model', 'qwen3-thinking (substituted)'
    substituted: bool

    @property
    def sha(self) -> str:
        return hashlib.sha256(self.template.encode()).hexdigest()[:12]


def resolve_template(tokenizer, chat_template: str | None = None) -> TemplateChoice:
    """Pick the training template following the policy in the module docstring."""
    if chat_template:
        path = Path(chat_template)
        text = path.read_text(encoding="utf-8") if len(chat_template) < 4096 and path.exists() else chat_template
        if not has_generation_markers(text):
            raise ConfigError(
                f"chat_template {chat_template[:80]!r} has no {{% generation %}} markers: the assistant "
                "tokens to train on cannot be located (wrap the assistant turn, end-of-turn token included, "
                "in {% generation %}…{% endgeneration %})"
            )
        return TemplateChoice(text, "config", True)
    own = getattr(tokenizer, "chat_template", None)
    if isinstance(own, dict):  # several named templates: the default one
        own = own.get("default")
    if not own:
        raise ConfigError(
            "the student tokenizer has no chat template: set chat_template to a jinja file with "
            "{% generation %} markers (see docs/train.md)"
        )
    if has_generation_markers(own):
        return TemplateChoice(own, "model", False)
    vocab = tokenizer.get_vocab()
    if all(tok in vocab for tok in CHATML_TOKENS) and "<|im_start|>" in own:
        return TemplateChoice(QWEN3_THINKING_TEMPLATE, "qwen3-thinking (substituted)", True)
    raise ConfigError(
        "the student's chat template has no {% generation %} markers and is not ChatML/Qwen-style, "
        "so thoughtdistill cannot substitute one: set chat_template to a jinja file with "
        "{% generation %} markers around the assistant turn"
    )


# ---------------------------------------------------------------- records -> conversations


@dataclass
class ChainCounts:
    records: int = 0
    chains_seen: int = 0
    used: int = 0
    skipped_error: int = 0
    skipped_truncated_teacher: int = 0
    skipped_no_thought: int = 0
    skipped_not_correct: int = 0
    skipped_limit: int = 0


@dataclass(frozen=True)
class Conversation:
    sample_id: str
    messages: list[dict[str, str]]
    thought: str
    solution: str


def chain_parts(chain: Chain) -> tuple[str | None, str, bool]:
    """(thought, solution, truncated) of a chain, parsing full_response when needed."""
    if chain.thought is not None or chain.solution is not None:
        truncated = bool(chain.truncated) or chain.finish_reason == "length"
        return chain.thought, (chain.solution or ""), truncated
    parsed = split_thought(chain.full_response, None, chain.finish_reason)
    return parsed.thought, parsed.solution, parsed.truncated or bool(chain.truncated)


def conversations(
    records: Iterator[Record],
    *,
    chains: str = "all",
    max_chains_per_question: int | None = None,
    require_thought: bool = True,
    system_prompt: str | None = None,
    counts: ChainCounts | None = None,
) -> Iterator[Conversation]:
    """One conversation per selected chain; what is skipped, and why, is counted."""
    counts = counts if counts is not None else ChainCounts()
    for record in records:
        counts.records += 1
        taken = 0
        for index, chain in enumerate(record.reasoning):
            counts.chains_seen += 1
            if chain.finish_reason == "error" or chain.error:
                counts.skipped_error += 1
                continue
            if chains == "correct" and not (chain.correctness and chain.correctness.verdict is True):
                counts.skipped_not_correct += 1
                continue
            thought, solution, truncated = chain_parts(chain)
            if truncated:
                counts.skipped_truncated_teacher += 1
                continue
            if require_thought and not (thought or "").strip():
                counts.skipped_no_thought += 1
                continue
            if (chains == "first" and taken >= 1) or (
                max_chains_per_question is not None and taken >= max_chains_per_question
            ):
                counts.skipped_limit += 1
                continue
            taken += 1
            counts.used += 1
            messages = []
            if system_prompt:
                messages.append({"role": "system", "content": system_prompt})
            messages.append({"role": "user", "content": record.question})
            messages.append({"role": "assistant", "content": join_thought(thought, solution)})
            yield Conversation(f"{record.id}#{index}", messages, (thought or "").strip(), solution.strip())


# ---------------------------------------------------------------- tokenisation and masks


@dataclass
class Example:
    sample_id: str
    input_ids: list[int]
    labels: list[int]  # -100 where not supervised
    prompt_len: int
    truncated_thought: bool = False
    original_len: int = 0  # rendered length before any cut

    @property
    def supervised(self) -> int:
        return sum(1 for x in self.labels if x != -100)


class PromptTooLong(ThoughtDistillError):
    pass


def render_ids(tokenizer, template: str, messages: list[dict[str, str]]) -> tuple[list[int], list[int]]:
    out = tokenizer.apply_chat_template(
        messages, chat_template=template, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids = list(out["input_ids"])
    mask = list(out["assistant_masks"])
    return ids, mask


def prompt_ids(tokenizer, template: str, messages: list[dict[str, str]]) -> list[int]:
    """What inference feeds the model: everything before the assistant turn + generation prompt."""
    out = tokenizer.apply_chat_template(
        messages[:-1], chat_template=template, tokenize=True, return_dict=True, add_generation_prompt=True
    )
    return list(out["input_ids"])


def _example(conv: Conversation, ids, mask, prompt_len: int, truncated=False, original_len=0) -> Example:
    labels = [tok if m else -100 for tok, m in zip(ids, mask)]
    return Example(conv.sample_id, ids, labels, prompt_len, truncated, original_len or len(ids))


def tokenize_conversation(
    tokenizer, template: str, conv: Conversation, max_length: int, overlength: str = "drop"
) -> Example | None:
    """Token ids and labels of one conversation; ``None`` when dropped for length.

    With ``overlength='truncate_thought'`` an over-long chain keeps its prompt, ``</think>``,
    solution and end-of-turn token and loses the end of its thought; if even an empty thought
    does not fit, it is dropped. Raises :class:`PromptTooLong` when the prompt alone does not fit.
    """
    ids, mask = render_ids(tokenizer, template, conv.messages)
    plen = prompt_ids_len = len(prompt_ids(tokenizer, template, conv.messages))
    if prompt_ids_len >= max_length:
        raise PromptTooLong(
            f"sample {conv.sample_id}: the prompt alone is {prompt_ids_len} tokens, max_length is "
            f"{max_length}: raise max_length or filter long questions out"
        )
    if len(ids) <= max_length:
        return _example(conv, ids, mask, plen)
    if overlength == "drop":
        return None
    # truncate inside the thought: cut its tail by the excess (+ a little for re-tokenisation)
    thought_ids = tokenizer(conv.thought, add_special_tokens=False, return_offsets_mapping=True)
    offsets = thought_ids["offset_mapping"]
    original_len = len(ids)
    excess = len(ids) - max_length
    keep = len(offsets) - excess - 2
    for _ in range(4):
        if keep <= 0:
            return None
        cut = _clean_cut(conv.thought[: offsets[keep - 1][1]])
        messages = [dict(m) for m in conv.messages]
        messages[-1]["content"] = join_thought(cut, conv.solution)
        ids, mask = render_ids(tokenizer, template, messages)
        if len(ids) <= max_length:
            return _example(conv, ids, mask, plen, truncated=True, original_len=original_len)
        keep -= (len(ids) - max_length) + 4
    return None


def _clean_cut(text: str) -> str:
    """End a cut thought at the last line or sentence end that closes what it opened, if that
    keeps at least half of it: a thought that stops mid-word, inside a formula or on the colon
    that announces one teaches the student to close the block at random (a student trained on
    cuts right after ``\\[`` wrote ``\\[`` and then ``</think>``). Else the last line or
    sentence end, else the text as it is."""
    floor, at, first = len(text) // 2, len(text), None
    while (at := max(text.rfind("\n", 0, at), text.rfind(". ", 0, at))) >= floor:
        head = text[: at + (1 if text.startswith(". ", at) else 0)].rstrip()
        if _complete(head):
            return head
        first = first if first is not None else head
    return first if first is not None else text.rstrip()


def _complete(head: str) -> bool:
    """No display or inline formula left open, and not ending on what introduces more."""
    balanced = (head.count("\\[") == head.count("\\]") and head.count("\\(") == head.count("\\)")
                and head.count("$$") % 2 == 0)
    return balanced and bool(head) and not head.endswith((":", "=", ",", "\\[", "\\("))


# ---------------------------------------------------------------- checks


@dataclass
class SampleCheck:
    sample_id: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def end_of_turn_ids(tokenizer) -> set[int]:
    ids = {tokenizer.eos_token_id}
    if "<|im_end|>" in tokenizer.get_vocab():
        ids.add(tokenizer.convert_tokens_to_ids("<|im_end|>"))
    return {i for i in ids if i is not None}


def check_example(tokenizer, template: str, conv: Conversation, example: Example) -> SampleCheck:
    """Training render vs inference render, token for token, and the supervised span.

    - the training ids start with exactly the ids inference uses as prompt
      (``add_generation_prompt=True``), and supervision starts right after them;
    - the supervised tokens are one contiguous span that decodes to the assistant text and
      ends with the end-of-turn / EOS token (which must therefore be supervised);
    - nothing after it is supervised.
    """
    check = SampleCheck(conv.sample_id)
    p = prompt_ids(tokenizer, template, conv.messages)
    ids, labels = example.input_ids, example.labels
    if ids[: len(p)] != p:
        first = next((i for i, (a, b) in enumerate(zip(ids, p)) if a != b), min(len(ids), len(p)))
        check.problems.append(
            f"training render differs from the inference prompt at token {first}: "
            f"train {tokenizer.decode(ids[max(0, first - 3):first + 3])!r} vs "
            f"inference {tokenizer.decode(p[max(0, first - 3):first + 3])!r}"
        )
    sup = [i for i, x in enumerate(labels) if x != -100]
    if not sup:
        check.problems.append("no supervised tokens")
        return check
    if sup[0] != len(p):
        check.problems.append(f"supervision starts at token {sup[0]}, the inference prompt ends at {len(p)}")
    if sup != list(range(sup[0], sup[-1] + 1)):
        check.problems.append("supervised tokens are not one contiguous span")
    eot = end_of_turn_ids(tokenizer)
    if ids[sup[-1]] not in eot:
        check.problems.append(
            f"the last supervised token is {tokenizer.decode([ids[sup[-1]]])!r}, not the end-of-turn/EOS token"
        )
    text = tokenizer.decode([ids[i] for i in sup])
    want_head = "<think>\n"
    if not text.startswith(want_head) or "\n</think>\n\n" not in text:
        check.problems.append(f"assistant turn is not in thinking format: starts {text[:40]!r}")
    elif not example.truncated_thought:
        expected = conv.messages[-1]["content"]
        body = text
        for tok in eot:
            body = body.removesuffix(tokenizer.decode([tok]))
        if body.strip() != expected.strip():
            check.problems.append("supervised text differs from the assistant turn")
    return check


def render_highlighted(tokenizer, example: Example) -> list[tuple[str, bool]]:
    """(token text, supervised) pairs for display."""
    return [(tokenizer.decode([tok]), lab != -100) for tok, lab in zip(example.input_ids, example.labels)]
