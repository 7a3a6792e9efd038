"""The project's Qwen3 chat template: renders every conversation as Qwen3's published template
does (``chat_template`` in the Qwen/Qwen3-* ``tokenizer_config.json``), character for character.

What Qwen3's rendering does, and this template reproduces:

- a system message first in the conversation opens it; with ``tools`` it is followed by the
  tool list (one JSON object per line) and the tool-call instructions, in one system turn;
- the *last query* is the last user message that is not a wrapped tool response; an assistant
  turn after it keeps its reasoning as ``<think>\\n…\\n</think>\\n\\n`` (the final turn always, even
  with empty reasoning; an intermediate tool-calling turn only when it has reasoning); every
  assistant turn before it shows its answer only: earlier turns' reasoning is dropped;
- reasoning comes from ``reasoning_content`` when it is a string, otherwise from a
  ``<think>…</think>`` block at the head of ``content``;
- tool calls follow the answer as ``<tool_call>\\n{"name": …, "arguments": …}\\n</tool_call>``;
  consecutive ``tool`` messages share one user turn of ``<tool_response>`` blocks;
- a non-string ``content`` (``None`` next to tool calls) renders as empty;
- the generation prompt is ``<|im_start|>assistant\\n``, followed by the empty think block
  ``<think>\\n\\n</think>\\n\\n`` when ``enable_thinking`` is false.

Two variants come from one source (:func:`qwen3_template`): :data:`QWEN3_CHAT_TEMPLATE` (no
markers) and :data:`QWEN3_THINKING_TEMPLATE`, the training variant, in which each assistant
turn's text and its ``<|im_end|>`` sit inside ``{% generation %}`` markers so that transformers'
``return_assistant_tokens_mask`` (and TRL's ``assistant_only_loss``) can find them. The markers
print nothing: both variants render the same text.
"""

from __future__ import annotations

TOOLS_INTRO = (
    "# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n"
    "You are provided with function signatures within <tools></tools> XML tags:\\n<tools>"
)
TOOLS_OUTRO = (
    "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\\n<tool_call>\\n"
    '{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n'
)

# the opening system turn: the first message if it is a system one, plus the tools when given
OPENING = (
    "{%- set first_is_system = messages[0].role == 'system' %}"
    "{%- if tools %}"
    "{{- '<|im_start|>system\\n' }}"
    "{%- if first_is_system %}{{- messages[0].content + '\\n\\n' }}{%- endif %}"
    '{{- "' + TOOLS_INTRO + '" }}'
    '{%- for tool in tools %}{{- "\\n" }}{{- tool | tojson }}{%- endfor %}'
    '{{- "' + TOOLS_OUTRO + '" }}'
    "{%- elif first_is_system %}"
    "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}"
    "{%- endif %}"
)

# index of the last user message that is not a tool response wrapped as a user turn
LAST_QUERY = (
    "{%- set query = namespace(index=messages|length - 1, found=false) %}"
    "{%- for message in messages|reverse %}"
    "{%- if not query.found and message.role == 'user' and message.content is string"
    " and not (message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}"
    "{%- set query.found = true %}"
    "{%- set query.index = messages|length - 1 - loop.index0 %}"
    "{%- endif %}"
    "{%- endfor %}"
)

PLAIN_TURN = "{{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>\\n' }}"

# reasoning: reasoning_content when a string, else the <think> block at the head of content
SPLIT_REASONING = (
    "{%- set reasoning = '' %}"
    "{%- if message.reasoning_content is string %}"
    "{%- set reasoning = message.reasoning_content %}"
    "{%- elif '</think>' in content %}"
    "{%- set reasoning = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}"
    "{%- set content = content.split('</think>')[-1].lstrip('\\n') %}"
    "{%- endif %}"
)

ASSISTANT_TEXT = (
    "{%- if loop.index0 > query.index and (loop.last or reasoning) %}"
    "{{- '<think>\\n' + reasoning.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}"
    "{%- else %}"
    "{{- content }}"
    "{%- endif %}"
)

TOOL_CALLS = (
    "{%- for tool_call in message.tool_calls or [] %}"
    "{%- if content or not loop.first %}{{- '\\n' }}{%- endif %}"
    "{%- set function = tool_call.function if tool_call.function else tool_call %}"
    "{{- '<tool_call>\\n{\"name\": \"' }}{{- function.name }}{{- '\", \"arguments\": ' }}"
    "{%- if function.arguments is string %}{{- function.arguments }}"
    "{%- else %}{{- function.arguments | tojson }}{%- endif %}"
    "{{- '}\\n</tool_call>' }}"
    "{%- endfor %}"
)

# consecutive tool messages share one user turn
TOOL_RESPONSE = (
    "{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + content + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}"
)

GENERATION_PROMPT = (
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}"
    "{%- endif %}"
    "{%- endif %}"
)


def assistant_turn(generation_markers: bool) -> str:
    """One assistant turn; with markers, its text and ``<|im_end|>`` are the trained span."""
    open_mark, close_mark = ("{%- generation %}", "{%- endgeneration %}") if generation_markers else ("", "")
    return (
        SPLIT_REASONING
        + "{{- '<|im_start|>assistant\\n' }}"
        + open_mark
        + ASSISTANT_TEXT
        + TOOL_CALLS
        + "{{- '<|im_end|>' }}"
        + close_mark
        + "{{- '\\n' }}"
    )


def qwen3_template(generation_markers: bool) -> str:
    """The Qwen3 template text, with or without ``{% generation %}`` markers."""
    return (
        OPENING
        + LAST_QUERY
        + "{%- for message in messages %}"
        + "{%- set content = message.content if message.content is string else '' %}"
        + "{%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}"
        + PLAIN_TURN
        + "{%- elif message.role == 'assistant' %}"
        + assistant_turn(generation_markers)
        + "{%- elif message.role == 'tool' %}"
        + TOOL_RESPONSE
        + "{%- endif %}"
        + "{%- endfor %}"
        + GENERATION_PROMPT
    )


QWEN3_CHAT_TEMPLATE = qwen3_template(generation_markers=False)
QWEN3_THINKING_TEMPLATE = qwen3_template(generation_markers=True)
