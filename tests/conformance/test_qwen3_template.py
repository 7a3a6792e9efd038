"""The project's Qwen3 template renders as Qwen3's published template does, character for character.

Reference: ``data/Qwen-Qwen3-0.6B.jinja``, a verbatim copy of the ``chat_template`` of
Qwen/Qwen3-0.6B (Apache-2.0) as vendored by llama.cpp at ``models/templates/Qwen-Qwen3-0.6B.jinja``
(read from github.com/ye-NX/llama.cpp, a mirror of ggml-org/llama.cpp, commit b354d7c9; see
``data/SOURCES.md``). It is rendered here with plain jinja2 in the environment transformers uses
(``trim_blocks``, ``lstrip_blocks``, ``tojson`` without ASCII escaping); ours goes through
``tokenizer.apply_chat_template``, as training, inference and ``thoughtdistill eval`` render it.
The literal strings below are the expected renderings read off the official template.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment
from transformers import AutoTokenizer

from thoughtdistill.models import QWEN3_CHAT_TEMPLATE, QWEN3_THINKING_TEMPLATE
from thoughtdistill.train.render import resolve_template

OFFICIAL = (Path(__file__).parent / "data" / "Qwen-Qwen3-0.6B.jinja").read_text(encoding="utf-8")

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def _compile_official():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = lambda value: json.dumps(value, ensure_ascii=False)
    return env.from_string(OFFICIAL)


OFFICIAL_TEMPLATE = _compile_official()


def _official(messages, tools=None, add_generation_prompt=False, **kwargs) -> str:
    return OFFICIAL_TEMPLATE.render(messages=messages, tools=tools, add_generation_prompt=add_generation_prompt,
                                    **kwargs)


@pytest.fixture(scope="module")
def tok(smollm2_path):
    return AutoTokenizer.from_pretrained(smollm2_path)


def _ours(tok, messages, template=QWEN3_CHAT_TEMPLATE, **kwargs) -> str:
    return tok.apply_chat_template(messages, chat_template=template, tokenize=False, **kwargs)


def _user(text):
    return {"role": "user", "content": text}


def _assistant(text, **extra):
    return {"role": "assistant", "content": text, **extra}


SINGLE = [_user("What is 1+1?"), _assistant("<think>\nOne plus one.\n</think>\n\nIt is $\\boxed{2}$.")]
MULTI = [
    _user("What is 1+1?"), _assistant("<think>\nOne plus one is two.\n</think>\n\n2"),
    _user("And times 3?"), _assistant("<think>\n2 times 3.\n</think>\n\n6"),
]
SYSTEM = [{"role": "system", "content": "Reason step by step."}, *SINGLE]
LATE_SYSTEM = [SYSTEM[0], *MULTI[:2], {"role": "system", "content": "Now be brief."}, *MULTI[2:]]
REASONING_FIELD = [
    _user("What is 1+1?"), _assistant("2", reasoning_content="one plus one"),
    _user("And times 3?"), _assistant("6", reasoning_content="\ntwo times three\n"),
]
EMPTY_REASONING_FIELD = [_user("Hi"), _assistant("<think>\nkept as text\n</think>\n\nHello", reasoning_content="")]
TOOL_ROUND_TRIP = [
    {"role": "system", "content": "You help with weather."},
    _user("Weather in Paris and Rome?"),
    _assistant("<think>\nAsk the tool for both cities.\n</think>\n\nLet me check.", tool_calls=[
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
        {"type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}]),
    {"role": "tool", "content": '{"sky": "sunny"}'},
    {"role": "tool", "content": '{"sky": "rain"}'},
    _assistant("", tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris", "day": "tomorrow"}}]),
    {"role": "tool", "content": '{"sky": "cloudy"}'},
    _assistant("<think>\nCombine the answers.\n</think>\n\nParis is sunny, Rome rainy; tomorrow Paris is cloudy."),
]
CASES = {"single": SINGLE, "multi": MULTI, "system": SYSTEM, "late_system": LATE_SYSTEM,
         "reasoning_content": REASONING_FIELD, "empty_reasoning_content": EMPTY_REASONING_FIELD,
         "tool_round_trip": TOOL_ROUND_TRIP}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("template", [QWEN3_CHAT_TEMPLATE, QWEN3_THINKING_TEMPLATE], ids=["chat", "training"])
def test_conversation_renders_as_official(tok, name, template):
    messages = CASES[name]
    tools = [WEATHER_TOOL] if name == "tool_round_trip" else None
    assert _ours(tok, messages, template, tools=tools) == _official(messages, tools=tools)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("enable_thinking", [None, True, False])
@pytest.mark.parametrize("template", [QWEN3_CHAT_TEMPLATE, QWEN3_THINKING_TEMPLATE], ids=["chat", "training"])
def test_generation_prompt_renders_as_official(tok, name, enable_thinking, template):
    prompt = CASES[name][:-1]
    tools = [WEATHER_TOOL] if name == "tool_round_trip" else None
    switch = {} if enable_thinking is None else {"enable_thinking": enable_thinking}
    ours = _ours(tok, prompt, template, tools=tools, add_generation_prompt=True, **switch)
    assert ours == _official(prompt, tools=tools, add_generation_prompt=True, **switch)


def _random_assistant(rng):
    thought, answer = rng.choice(["", "t1", "\nt2\n", "a\n\nb"]), rng.choice(["", "ans", "\nans\n"])
    form = rng.choice(["plain", "think_block", "field", "close_only"])
    if form == "think_block":
        message = _assistant(f"<think>\n{thought}\n</think>\n\n{answer}")
    elif form == "field":
        message = _assistant(answer, reasoning_content=thought)
    elif form == "close_only":
        message = _assistant(f"{thought}</think>{answer}")
    else:
        message = _assistant(answer)
    if rng.random() < 0.3:
        message["tool_calls"] = [{"type": "function", "function": {"name": f"f{i}", "arguments": {"x": i}}}
                                 for i in range(rng.randint(1, 2))]
    return message


def _random_conversation(rng):
    messages = [{"role": "system", "content": "sys"}] if rng.random() < 0.5 else []
    for _ in range(rng.randint(1, 4)):
        wrapped = rng.random() < 0.2  # a tool response sent as a user turn: not a query
        messages.append(_user("<tool_response>\nr\n</tool_response>" if wrapped else f"q{len(messages)}"))
        for _ in range(rng.randint(1, 2)):
            messages.append(_random_assistant(rng))
            if messages[-1].get("tool_calls"):
                messages += [{"role": "tool", "content": f"out{i}"} for i in range(rng.randint(1, 2))]
        if rng.random() < 0.15:
            messages.append({"role": "system", "content": "late system"})
    return messages


def test_random_conversations_render_as_official(tok):
    """Seeded random mixes of the features above: every rendering, with and without a generation
    prompt and tools, in both variants, equals the official template's."""
    import random

    rng = random.Random(14)
    for _ in range(150):
        messages = _random_conversation(rng)
        tools = [WEATHER_TOOL] if rng.random() < 0.3 else None
        for options in ({}, {"add_generation_prompt": True}, {"add_generation_prompt": True, "enable_thinking": False}):
            expected = _official(messages, tools=tools, **options)
            for template in (QWEN3_CHAT_TEMPLATE, QWEN3_THINKING_TEMPLATE):
                assert _ours(tok, messages, template, tools=tools, **options) == expected, messages


def test_single_turn_literal(tok):
    assert _ours(tok, SYSTEM) == (
        "<|im_start|>system\nReason step by step.<|im_end|>\n"
        "<|im_start|>user\nWhat is 1+1?<|im_end|>\n"
        "<|im_start|>assistant\n<think>\nOne plus one.\n</think>\n\nIt is $\\boxed{2}$.<|im_end|>\n")


def test_multi_turn_drops_earlier_reasoning_literal(tok):
    expected = (
        "<|im_start|>user\nWhat is 1+1?<|im_end|>\n"
        "<|im_start|>assistant\n2<|im_end|>\n"
        "<|im_start|>user\nAnd times 3?<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n2 times 3.\n</think>\n\n6<|im_end|>\n")
    assert _ours(tok, MULTI) == expected
    assert _ours(tok, REASONING_FIELD) == expected.replace("2 times 3.", "two times three")


def test_generation_prompts_literal(tok):
    head = ("<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\n2<|im_end|>\n"
            "<|im_start|>user\nAnd times 3?<|im_end|>\n<|im_start|>assistant\n")
    assert _ours(tok, MULTI[:-1], add_generation_prompt=True) == head
    assert _ours(tok, MULTI[:-1], add_generation_prompt=True, enable_thinking=True) == head
    assert _ours(tok, MULTI[:-1], add_generation_prompt=True, enable_thinking=False) == head + "<think>\n\n</think>\n\n"


def test_tool_call_round_trip_literal(tok):
    rendered = _ours(tok, TOOL_ROUND_TRIP, tools=[WEATHER_TOOL])
    assert rendered.startswith("<|im_start|>system\nYou help with weather.\n\n# Tools\n\n")
    assert "<tools>\n" + json.dumps(WEATHER_TOOL) + "\n</tools>" in rendered
    assert rendered.endswith(
        "<|im_start|>user\nWeather in Paris and Rome?<|im_end|>\n"
        "<|im_start|>assistant\n<think>\nAsk the tool for both cities.\n</think>\n\nLet me check.\n"
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n</tool_call><|im_end|>\n'
        '<|im_start|>user\n<tool_response>\n{"sky": "sunny"}\n</tool_response>\n'
        '<tool_response>\n{"sky": "rain"}\n</tool_response><|im_end|>\n'
        '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "day": "tomorrow"}}'
        "\n</tool_call><|im_end|>\n"
        '<|im_start|>user\n<tool_response>\n{"sky": "cloudy"}\n</tool_response><|im_end|>\n'
        "<|im_start|>assistant\n<think>\nCombine the answers.\n</think>\n\n"
        "Paris is sunny, Rome rainy; tomorrow Paris is cloudy.<|im_end|>\n")


def test_none_content_beside_tool_calls_renders_empty(tok):
    """Qwen3's later template revision guards non-string content (``None`` beside tool calls) as
    empty; the vendored copy predates it and fails on ``None``, so the expectation is literal."""
    messages = [_user("Weather?"), _assistant(None, tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}]),
                {"role": "tool", "content": "snow"}]
    assert _ours(tok, messages, add_generation_prompt=True) == (
        "<|im_start|>user\nWeather?<|im_end|>\n"
        '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\nsnow\n</tool_response><|im_end|>\n<|im_start|>assistant\n")


def test_training_variant_masks_each_assistant_turn(tok):
    out = tok.apply_chat_template(TOOL_ROUND_TRIP, chat_template=QWEN3_THINKING_TEMPLATE, tools=[WEATHER_TOOL],
                                  tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = list(out["input_ids"]), list(out["assistant_masks"])
    spans, start = [], None
    for i, m in enumerate(mask + [0]):
        if m and start is None:
            start = i
        if not m and start is not None:
            spans.append(tok.decode(ids[start:i]))
            start = None
    rendered = _official(TOOL_ROUND_TRIP, tools=[WEATHER_TOOL])
    turns = [t.split("<|im_end|>")[0] + "<|im_end|>" for t in rendered.split("<|im_start|>assistant\n")[1:]]
    assert len(turns) == 3 and spans == turns


def test_fixture_and_substituted_students_carry_the_template(tiny_qwen3_path, smollm2_path):
    assert AutoTokenizer.from_pretrained(tiny_qwen3_path).chat_template == QWEN3_THINKING_TEMPLATE
    smollm2 = AutoTokenizer.from_pretrained(smollm2_path)
    choice = resolve_template(smollm2)
    assert choice.substituted and choice.template == QWEN3_THINKING_TEMPLATE


def test_a_fixture_cached_by_an_earlier_version_gets_the_current_template(tmp_path):
    from thoughtdistill.models import ensure_model

    folder = tmp_path / "models" / "tiny-qwen3"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "chat_template.jinja").write_text("{{ messages[0]['content'] }}")  # an earlier version's
    assert ensure_model("tiny-qwen3", root=tmp_path) == folder
    assert (folder / "chat_template.jinja").read_text() == QWEN3_THINKING_TEMPLATE
    assert sorted(p.name for p in folder.iterdir()) == ["chat_template.jinja", "config.json"]  # no temp file


@pytest.mark.slow
def test_trained_student_saves_the_template(tmp_path, data_dir):
    """A trained SmolLM2 (the substituted path) is saved with a tokenizer whose multi-turn
    rendering is the official one."""
    from thoughtdistill.train import TrainConfig, run_train

    from train.conftest import r1_records, write_jsonl  # tests/ is on sys.path (rootdir conftest)

    data = write_jsonl(tmp_path / "r1.jsonl", r1_records(data_dir)[:2])
    result = run_train(TrainConfig(data=str(data), student="smollm2", output_dir=str(tmp_path / "run"),
                                   max_length=512, overlength="truncate_thought", max_steps=1,
                                   per_device_batch_size=1, gradient_accumulation_steps=1))
    saved = AutoTokenizer.from_pretrained(result.model_dir)
    assert saved.chat_template == QWEN3_THINKING_TEMPLATE
    assert saved.apply_chat_template(MULTI, tokenize=False) == _official(MULTI)
    prompt = saved.apply_chat_template(MULTI[:-1], tokenize=False, add_generation_prompt=True, enable_thinking=False)
    assert prompt == _official(MULTI[:-1], add_generation_prompt=True, enable_thinking=False)
