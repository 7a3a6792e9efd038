"""Rendering and loss masks on real chains, token for token."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from thoughtdistill.errors import ConfigError
from thoughtdistill.records import Record
from thoughtdistill.train.render import (
    check_example,
    conversations,
    resolve_template,
    tokenize_conversation,
)

from .conftest import r1_records


def _tok(path):
    return AutoTokenizer.from_pretrained(path)


def _qwen3_literal(question, thought, solution, system=None):
    """Qwen3's own rendering of a one-turn thinking conversation, written out by hand."""
    head = f"<|im_start|>system\n{system}<|im_end|>\n" if system else ""
    prompt = head + f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
    answer = f"<think>\n{thought.strip()}\n</think>\n\n{solution.strip()}<|im_end|>"
    return prompt, answer


@pytest.mark.parametrize("model", ["smollm2", "tiny-qwen3"])
def test_only_assistant_tokens_and_eos_supervised_on_real_chains(model, data_dir, smollm2_path, tiny_qwen3_path):
    tok = _tok(smollm2_path if model == "smollm2" else tiny_qwen3_path)
    template = resolve_template(tok)
    records = [Record.model_validate(r) for r in r1_records(data_dir)]
    convs = list(conversations(iter(records)))
    assert len(convs) == 10
    eot = tok.convert_tokens_to_ids("<|im_end|>")
    for conv in convs:
        ex = tokenize_conversation(tok, template.template, conv, max_length=100_000)
        prompt, answer = _qwen3_literal(conv.messages[0]["content"], conv.thought, conv.solution)
        # independent expectation: tokenise the literal string, supervise exactly the tokens whose
        # characters lie in the assistant answer (its <|im_end|> included, the trailing newline not)
        enc = tok(prompt + answer + "\n", add_special_tokens=False, return_offsets_mapping=True)
        assert ex.input_ids == enc["input_ids"], conv.sample_id
        lo, hi = len(prompt), len(prompt) + len(answer)
        expected = [t if lo <= s and e <= hi else -100 for t, (s, e) in zip(enc["input_ids"], enc["offset_mapping"])]
        assert ex.labels == expected, conv.sample_id
        sup = [i for i, x in enumerate(ex.labels) if x != -100]
        assert ex.input_ids[sup[-1]] == eot  # the end-of-turn token is trained on ...
        assert ex.labels[-1] == -100  # ... the newline after it is not
        assert tok.decode(ex.input_ids[sup[0]:sup[-1] + 1]) == answer
        assert check_example(tok, template.template, conv, ex).ok


def test_smollm2_pad_equals_eos_still_supervised(smollm2_path, data_dir):
    tok = _tok(smollm2_path)
    assert tok.pad_token_id == tok.eos_token_id  # the trap: masking pad ids would drop the EOS
    template = resolve_template(tok)
    assert template.substituted and "qwen3" in template.source
    conv = next(conversations(iter([Record.model_validate(r1_records(data_dir)[0])])))
    ex = tokenize_conversation(tok, template.template, conv, 100_000)
    last = max(i for i, x in enumerate(ex.labels) if x != -100)
    assert ex.labels[last] == tok.eos_token_id


def test_tiny_qwen3_template_is_qwen3_rendering(tiny_qwen3_path):
    tok = _tok(tiny_qwen3_path)
    template = resolve_template(tok)
    assert template.source == "model" and not template.substituted
    q, t, s = "What is 1+1?", "One plus one.\nThat is two.", "The answer is $\\boxed{2}$."
    for system in (None, "Please reason step by step."):
        msgs = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": q}, {"role": "assistant", "content": f"<think>\n{t}\n</think>\n\n{s}"}]
        prompt, answer = _qwen3_literal(q, t, s, system)
        assert tok.apply_chat_template(msgs, tokenize=False) == prompt + answer + "\n"
        assert tok.apply_chat_template(msgs[:-1], tokenize=False, add_generation_prompt=True) == prompt
        assert (tok.apply_chat_template(msgs[:-1], tokenize=False, add_generation_prompt=True, enable_thinking=False)
                == prompt + "<think>\n\n</think>\n\n")
    # reasoning_content given separately renders the same as the inline think block
    msgs = [{"role": "user", "content": q}, {"role": "assistant", "content": s, "reasoning_content": t}]
    assert tok.apply_chat_template(msgs, tokenize=False) == "".join(_qwen3_literal(q, t, s)) + "\n"


def test_truncate_thought_keeps_close_tag_and_solution(smollm2_path, data_dir):
    tok = _tok(smollm2_path)
    template = resolve_template(tok)
    conv = next(conversations(iter([Record.model_validate(r1_records(data_dir)[0])])))
    full = tokenize_conversation(tok, template.template, conv, 100_000)
    limit = len(full.input_ids) // 2
    assert tokenize_conversation(tok, template.template, conv, limit, "drop") is None
    ex = tokenize_conversation(tok, template.template, conv, limit, "truncate_thought")
    assert ex is not None and ex.truncated_thought and len(ex.input_ids) <= limit
    assert ex.original_len == len(full.input_ids)
    text = tok.decode([t for t, lab in zip(ex.input_ids, ex.labels) if lab != -100])
    assert text.endswith("\n</think>\n\n" + conv.solution + "<|im_end|>")
    assert text.startswith("<think>\n" + conv.thought[:200])
    assert check_example(tok, template.template, conv, ex).ok


def test_template_errors(smollm2_path):
    tok = _tok(smollm2_path)
    tok.chat_template = None
    with pytest.raises(ConfigError, match="no chat template"):
        resolve_template(tok)
    tok.chat_template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
    with pytest.raises(ConfigError, match="generation"):
        resolve_template(tok)
    with pytest.raises(ConfigError, match="generation"):
        resolve_template(tok, chat_template="{{ messages[0]['content'] }}")


@pytest.mark.slow
def test_preflight_passes_and_catches_a_stray_space(r1_file, tmp_path, smollm2_path, capsys):
    from thoughtdistill.train import TrainConfig
    from thoughtdistill.train.preflight import run_preflight

    cfg = TrainConfig(data=r1_file, student=str(smollm2_path), output_dir=str(tmp_path / "ok"), max_length=4096)
    ok = run_preflight(cfg)
    assert ok.ok and ok.samples == 3 and ok.html_path.exists()
    assert 'class="s"' in ok.html_path.read_text()
    assert sum(c for _, _, c in ok.histogram) == 10 and ok.histogram[-1][2] == 1  # one over 4096
    # the reference trainer's bug: a template whose training render differs from inference's
    bad = QWEN3_BAD.replace("'<|im_start|>assistant\\n' }}{%- generation %}",
                            "'<|im_start|>assistant \\n' }}{%- generation %}")
    assert bad != QWEN3_BAD
    tpl = tmp_path / "bad.jinja"
    tpl.write_text(bad)
    cfg = TrainConfig(data=r1_file, student=str(smollm2_path), output_dir=str(tmp_path / "bad"),
                      max_length=4096, chat_template=str(tpl))
    res = run_preflight(cfg)
    assert not res.ok and any("differs from the inference prompt" in p for p in res.problems)


from thoughtdistill.models import QWEN3_THINKING_TEMPLATE as QWEN3_BAD  # noqa: E402


def test_cut_thought_never_ends_inside_a_formula_or_on_its_colon():
    from thoughtdistill.train.render import _clean_cut

    # The shape of the MATH chains the quickstart trains on: a step, a display formula, a colon.
    text = ("First we add the two prices.\nThe total is:\n\\[\n12 + 30 = 42\n\\]\n"
            "So the total is 42. Next we divide by the number of people, which is:\n\\[\n42 / 6")
    cut = _clean_cut(text)
    assert cut == "First we add the two prices.\nThe total is:\n\\[\n12 + 30 = 42\n\\]\nSo the total is 42."
    # Nothing complete in the second half: the last line end, as before.
    assert _clean_cut("\\[ " + "a" * 20 + "\nb\nc") == "\\[ " + "a" * 20 + "\nb"
    assert _clean_cut("no break at all") == "no break at all"
