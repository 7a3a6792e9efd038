"""Converters between the canonical record and the formats users bring or need.

A *format* says what the rows mean; the *container* (JSONL, .json array, Parquet, datasets
folder) follows the file name and is independent of it. Each format has ``read`` (foreign
row → canonical dict, validated afterwards) and/or ``write`` (record → foreign rows).

- ``canonical`` / ``omnithought`` / ``omnithought-0528``: one row per question with a
  ``reasoning`` list; OmniThought rows are canonical rows already, so both schema variants
  (``full_response``-only chains and ``thought``/``solution`` chains) round-trip unchanged.
- one row per chain, for training and other tools: ``easydistill`` (instruction/output),
  ``alpaca`` (instruction/input/output), ``sharegpt`` (conversations from/value),
  ``messages`` (OpenAI chat; the assistant turn is ``<think>\\n…\\n</think>\\n\\n`` + solution,
  the Qwen3 convention), ``responses`` (raw teacher outputs: question + content, optional
  ``reasoning_content``/``finish_reason``/``model``/``usage``). Reading these merges
  consecutive rows of the same question back into one record.
- input only, the shared data files: ``math500``, ``aime``, ``gsm8k``, ``humaneval``,
  ``code_tests``, ``r1_traces``, ``multi_chain``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from ..errors import RecordError, ThoughtDistillError
from ..records import OMNITHOUGHT_VERDICT, Chain, Record, adopt_published_fields, content_id, is_published_correctness
from ..thoughts import join_thought, split_thought
from .jsonl import OnError, ReadStats

if TYPE_CHECKING:
    from .reader import Source

Row = dict[str, Any]


# ----------------------------------------------------------------------------- chain helpers


def chain_from_response(
    content: str | None,
    *,
    reasoning_content: str | None = None,
    finish_reason: str | None = None,
    teacher: str | None = None,
    usage: dict[str, Any] | None = None,
) -> Row:
    """A canonical chain from one teacher answer (think tags or a separate reasoning field).

    With think tags ``full_response`` keeps the answer as returned; with ``reasoning_content``
    the two fields become ``thought`` and ``solution``. ``truncated`` is always set.
    """
    parsed = split_thought(content, reasoning_content, finish_reason)
    chain: Row = {}
    if teacher:
        chain["teacher"] = teacher
    if parsed.thought is not None:
        chain["thought"] = parsed.thought
    chain["solution"] = parsed.solution
    if not reasoning_content and content:
        chain["full_response"] = content
    if finish_reason in ("stop", "length", "error"):
        chain["finish_reason"] = finish_reason
    elif finish_reason:
        chain["finish_reason_raw"] = finish_reason
    chain["truncated"] = parsed.truncated
    if usage:
        chain["usage"] = usage
    return chain


def render_chain(chain: Chain | Row) -> str:
    """The chain as one assistant turn: ``<think>\\n…\\n</think>\\n\\n`` + solution (Qwen3)."""
    data = chain.dump() if isinstance(chain, Chain) else chain
    thought, solution, full = data.get("thought"), data.get("solution"), data.get("full_response")
    if thought is None and full:
        parsed = split_thought(full)
        if not parsed.has_thought:
            return full.strip()
        thought, solution = parsed.thought, parsed.solution
    if thought is None:
        return (solution or "").strip()
    return join_thought(thought, solution)


def split_chains(record: Record) -> Record:
    """Fill ``thought``/``solution``/``truncated`` of chains that only have ``full_response``
    (OmniThought-0528 style), so that stages needing the parts have them."""
    for chain in record.reasoning:
        if chain.full_response and chain.thought is None and chain.solution is None:
            parsed = split_thought(chain.full_response, None, chain.finish_reason)
            if parsed.has_thought:
                chain.thought = parsed.thought
            chain.solution = parsed.solution
            if chain.truncated is None:
                chain.truncated = parsed.truncated
    return record


def merge_consecutive(records: Iterable[Record]) -> Iterator[Record]:
    """Join neighbouring records with the same id into one (bounded memory: one record)."""
    current: Record | None = None
    for record in records:
        if current is not None and record.id == current.id:
            current.reasoning.extend(record.reasoning)
            continue
        if current is not None:
            yield current
        current = record
    if current is not None:
        yield current


def _text(row: Row, key: str, *, required: bool = True) -> str | None:
    value = row.get(key)
    if value is None:
        if required:
            raise RecordError("", None, key, "missing")
        return None
    if not isinstance(value, str):
        raise RecordError("", None, key, f"expected text, got {type(value).__name__}")
    return value


def _rest(row: Row, used: Iterable[str]) -> Row:
    used = set(used)
    return {k: v for k, v in row.items() if k not in used}


# ----------------------------------------------------------------------------- canonical


def _read_canonical(row: Row) -> Row:
    """Canonical and OmniThought rows as they are, published labels mapped (for readers of
    plain dicts; validated records get the same mapping from :class:`Chain`)."""
    chains = row.get("reasoning")
    if isinstance(chains, list) and any(isinstance(c, dict) and OMNITHOUGHT_VERDICT in c for c in chains):
        return {**row, "reasoning": [adopt_published_fields(c) for c in chains]}
    return row


def _write_canonical(record: Record) -> Iterator[Row]:
    yield record.dump()


def _published_chain(chain: Row) -> Row:
    # the correctness read from thought_correctness_verify is that field again, not a second one
    if is_published_correctness(chain):
        return {k: v for k, v in chain.items() if k != "correctness"}
    return chain


def _write_omnithought(record: Record) -> Iterator[Row]:
    # OmniThought rows carry no id: leave it out when it is only the content hash we added.
    data = record.dump()
    if data.get("id") == content_id(record.question):
        data.pop("id")
    if "reasoning" in data:
        data["reasoning"] = [_published_chain(c) for c in data["reasoning"]]
    yield data


# ----------------------------------------------------------------------------- one row per chain


def _question_row(question: str, chain: Row, **rest: Any) -> Row:
    return {"question": question, "reasoning": [chain], **{k: v for k, v in rest.items() if v}}


# EasyDistill's cot_eval scores, one row per chain: its field -> the canonical chain field.
EASYDISTILL_LEVELS = {"reasoning_verbosity": "Reasoning_Verbosity", "cognitive_difficulty": "Cognitive_Difficulty"}
EASYDISTILL_VERDICT = "logical_correctness"
EASYDISTILL_JUDGE = "easydistill"  # its rows do not name the judge model
EASYDISTILL_FIELDS = {"id", "instruction", "output", "images", EASYDISTILL_VERDICT, *EASYDISTILL_LEVELS}


def _easydistill_level(row: Row, key: str) -> Row | None:
    """``{judge, level}`` from a 0-9 score; None / -1 mean "no score" (judge unparsable)."""
    value = row.get(key)
    if value is None or (type(value) is int and value == -1):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if type(value) is not int or not 0 <= value <= 9:
        raise RecordError("", None, key, f"expected a level 0-9 (or null / -1: no score), got {value!r}")
    return {"judge": EASYDISTILL_JUDGE, "level": value}


def _easydistill_correctness(row: Row) -> Row | None:
    """``{verdict, by: "easydistill"}`` from ``logical_correctness`` (bool, 1/0, or null: undecided)."""
    if EASYDISTILL_VERDICT not in row:
        return None
    value = row[EASYDISTILL_VERDICT]
    if value is not None and not isinstance(value, bool):
        if type(value) is not int or value not in (0, 1):
            raise RecordError("", None, EASYDISTILL_VERDICT, f"expected true/false (or 1/0, null), got {value!r}")
        value = bool(value)
    return {"verdict": value, "by": EASYDISTILL_JUDGE}


def _read_easydistill(row: Row) -> Row:
    question = _text(row, "instruction")
    chain = chain_from_response(_text(row, "output"))
    for key, field_name in EASYDISTILL_LEVELS.items():
        annotation = _easydistill_level(row, key)
        if annotation is not None:
            chain[field_name] = annotation
    correctness = _easydistill_correctness(row)
    if correctness is not None:
        chain["correctness"] = correctness
    rest = _rest(row, ("instruction", "output", EASYDISTILL_VERDICT, *EASYDISTILL_LEVELS))
    if rest:  # per-row fields (EasyDistill 2's sample id, images) belong to this chain
        chain["easydistill"] = rest
    return _question_row(question, chain)


def _easydistill_scores(chain: Chain) -> Row:
    """A scored chain's three cot_eval fields (null for a missing one, as EasyDistill writes
    an unparsable score); nothing for a chain without any score."""
    scores: Row = {}
    for key, field_name in EASYDISTILL_LEVELS.items():
        annotation = getattr(chain, field_name)
        scores[key] = annotation.level if annotation is not None else None
    scores[EASYDISTILL_VERDICT] = chain.correctness.verdict if chain.correctness is not None else None
    return scores if any(v is not None for v in scores.values()) else {}


def _write_easydistill(record: Record) -> Iterator[Row]:
    for chain in record.reasoning:
        extra = getattr(chain, "easydistill", None)
        extra = extra if isinstance(extra, dict) else {}
        row: Row = {"id": extra["id"]} if "id" in extra else {}
        row["instruction"] = record.question
        # the teacher's text as returned (EasyDistill's own thought tags survive), else rendered
        row["output"] = chain.full_response if chain.full_response else render_chain(chain)
        row.update(_easydistill_scores(chain))
        row.update({k: v for k, v in extra.items() if k != "id"})
        yield row


def _is_easydistill(row: Row) -> bool:
    return {"instruction", "output"} <= row.keys() <= EASYDISTILL_FIELDS


def _read_alpaca(row: Row) -> Row:
    instruction = _text(row, "instruction")
    extra_input = _text(row, "input", required=False) or ""
    output = _text(row, "output")
    question = f"{instruction}\n\n{extra_input}" if extra_input.strip() else instruction
    meta = _rest(row, ("instruction", "input", "output"))
    if extra_input.strip():
        meta["alpaca"] = {"instruction": instruction, "input": extra_input}
    return _question_row(question, chain_from_response(output), meta=meta or None)


def _write_alpaca(record: Record) -> Iterator[Row]:
    for chain in record.reasoning:
        yield {"instruction": record.question, "input": "", "output": render_chain(chain)}


_SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                   "system": "system", "chatgpt": "assistant", "bing": "assistant"}


def _dialogue(turns: Any, key: str, role_key: str, text_key: str) -> tuple[str | None, str, Row]:
    """(system, question, assistant turn) from a chat: the last user turn and the answer to it."""
    if not isinstance(turns, list) or not turns:
        raise RecordError("", None, key, "expected a non-empty list of turns")
    system, question, answer = None, None, None
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise RecordError("", None, f"{key}.{i}", f"expected an object, got {type(turn).__name__}")
        role = _SHAREGPT_ROLES.get(str(turn.get(role_key, "")).lower())
        if role is None:
            raise RecordError("", None, f"{key}.{i}.{role_key}", f"unknown role {turn.get(role_key)!r}")
        text = turn.get(text_key)
        if not isinstance(text, str):
            raise RecordError("", None, f"{key}.{i}.{text_key}", "expected text")
        if role == "system":
            system = text
        elif role == "user":
            question, answer = text, None
        else:
            answer = turn
    if question is None:
        raise RecordError("", None, key, "no user turn")
    if answer is None:
        raise RecordError("", None, key, "no assistant turn after the last user turn")
    return system, question, answer


def _read_sharegpt(row: Row) -> Row:
    system, question, turn = _dialogue(row.get("conversations"), "conversations", "from", "value")
    meta = _rest(row, ("conversations", "system"))
    system = row.get("system") or system
    if system:
        meta["system"] = system
    return _question_row(question, chain_from_response(turn["value"]), meta=meta or None)


def _write_sharegpt(record: Record) -> Iterator[Row]:
    for chain in record.reasoning:
        conv = [{"from": "human", "value": record.question}, {"from": "gpt", "value": render_chain(chain)}]
        system = (record.meta or {}).get("system")
        if isinstance(system, str) and system:
            conv.insert(0, {"from": "system", "value": system})
        yield {"conversations": conv}


def _read_messages(row: Row) -> Row:
    system, question, turn = _dialogue(row.get("messages"), "messages", "role", "content")
    chain = chain_from_response(
        turn["content"], reasoning_content=turn.get("reasoning_content") or turn.get("reasoning"),
        finish_reason=row.get("finish_reason"), teacher=row.get("model"),
    )
    meta = _rest(row, ("messages", "finish_reason", "model"))
    if system:
        meta["system"] = system
    return _question_row(question, chain, meta=meta or None)


def _write_messages(record: Record) -> Iterator[Row]:
    system = (record.meta or {}).get("system")
    for chain in record.reasoning:
        messages = [{"role": "user", "content": record.question},
                    {"role": "assistant", "content": render_chain(chain)}]
        if isinstance(system, str) and system:
            messages.insert(0, {"role": "system", "content": system})
        yield {"messages": messages}


def _read_responses(row: Row) -> Row:
    question = row.get("question", row.get("prompt"))
    if not isinstance(question, str):
        raise RecordError("", None, "question", "missing (or 'prompt')")
    content = row.get("content", row.get("response", row.get("output")))
    if not isinstance(content, str):
        raise RecordError("", None, "content", "missing (or 'response'/'output')")
    chain = chain_from_response(
        content, reasoning_content=row.get("reasoning_content"), finish_reason=row.get("finish_reason"),
        teacher=row.get("model", row.get("teacher")), usage=row.get("usage"),
    )
    used = ("question", "prompt", "content", "response", "output", "reasoning_content",
            "finish_reason", "model", "teacher", "usage", "id", "answer")
    return _question_row(question, chain, id=row.get("id"), answer=row.get("answer"),
                         meta=_rest(row, used) or None)


def _write_responses(record: Record) -> Iterator[Row]:
    for chain in record.reasoning:
        out: Row = {"id": record.id, "question": record.question}
        if chain.thought is not None:
            out["reasoning_content"] = chain.thought
            out["content"] = chain.solution or ""
        else:
            out["content"] = chain.full_response or chain.solution or ""
        for key in ("teacher", "finish_reason"):
            if getattr(chain, key) is not None:
                out["model" if key == "teacher" else key] = getattr(chain, key)
        yield out


# ----------------------------------------------------------------------------- shared data files


def _question_only(row: Row, question_key: str, domain: str, answer_key: str | None, used: Iterable[str]) -> Row:
    out: Row = {"question": _text(row, question_key), "domain": domain}
    for key in ("id", "source"):
        if key in row:
            out[key] = row[key]
    if answer_key and row.get(answer_key) is not None:
        out["answer"] = row[answer_key]
    meta = _rest(row, {question_key, answer_key, "id", "source", *used})
    if meta:
        out["meta"] = meta
    return out


def _read_math500(row: Row) -> Row:
    return _question_only(row, "problem", "math", "answer", ())


def _read_aime(row: Row) -> Row:
    # aime24 carries the problem twice ('problem' and 'question'); keep one.
    used = ("question",) if row.get("question") == row.get("problem") else ()
    return _question_only(row, "problem", "math", "answer", used)


GSM8K_MARK = "####"


def _gsm8k_final(worked: Any) -> str | None:
    """The final answer of a worked GSM8K solution: after ``####``, commas removed."""
    if not isinstance(worked, str) or GSM8K_MARK not in worked:
        return None
    return worked.rsplit(GSM8K_MARK, 1)[1].strip().replace(",", "")


def _read_gsm8k(row: Row) -> Row:
    if "final" not in row:  # the published layout (openai/gsm8k): question + worked answer
        row = {**row, "final": _gsm8k_final(row.get("answer"))}
    out = _question_only(row, "question", "math", "final", ("answer",))
    if row.get("answer") is not None:
        out.setdefault("meta", {})["solution"] = row["answer"]
    return out


def _is_gsm8k(row: Row) -> bool:
    return {"question", "final"} <= row.keys() or (
        row.keys() == {"question", "answer"} and _gsm8k_final(row["answer"]) is not None)


def _read_humaneval(row: Row) -> Row:
    return _question_only(row, "prompt", "code", None, ())


def _read_code_tests(row: Row) -> Row:
    return _question_only(row, "problem", "code", None, ())


def _read_r1_traces(row: Row) -> Row:
    out = _question_only(row, "problem", "math", "gtruth_answer",
                         ("message_thinking", "message_content", "teacher"))
    chain: Row = {"teacher": _text(row, "teacher", required=False),
                  "thought": _text(row, "message_thinking").strip(),
                  "solution": _text(row, "message_content").strip(),
                  "truncated": False}
    out["reasoning"] = [{k: v for k, v in chain.items() if v is not None}]
    return out


def _read_multi_chain(row: Row) -> Row:
    out = _question_only(row, "question", "math", "answer", ("chains",))
    chains = row.get("chains")
    if not isinstance(chains, list):
        raise RecordError("", None, "chains", "expected a list")
    reasoning = []
    for i, item in enumerate(chains):
        if not isinstance(item, dict) or not isinstance(item.get("response"), str):
            raise RecordError("", None, f"chains.{i}.response", "expected text")
        chain: Row = {"full_response": item["response"], **_rest(item, ("response", "correct"))}
        if "correct" in item:
            if not isinstance(item["correct"], bool):
                raise RecordError("", None, f"chains.{i}.correct", "expected true/false")
            chain["correctness"] = {"verdict": item["correct"], "by": "dataset-label"}
        reasoning.append(chain)
    out["reasoning"] = reasoning
    return out


# ----------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Format:
    name: str
    doc: str
    read: Callable[[Row], Row] | None = None
    write: Callable[[Record], Iterable[Row]] | None = None
    per_chain: bool = False  # one row per chain: reading merges neighbours of one question
    detect: Callable[[Row], bool] = field(default=lambda row: False)
    aliases: tuple[str, ...] = ()


FORMATS: dict[str, Format] = {}


def _register(fmt: Format) -> None:
    for name in (fmt.name, *fmt.aliases):
        FORMATS[name] = fmt


# Detection order matters: the most specific field sets first.
for _fmt in (
    Format("canonical", "thoughtdistill record: one question with a 'reasoning' list of chains",
           _read_canonical, _write_canonical,
           detect=lambda r: "question" in r and ("reasoning" in r or not ({"final", "chains"} & r.keys()))),
    Format("omnithought", "OmniThought / OmniThought-0528 rows (canonical without the content-hash id)",
           _read_canonical, _write_omnithought, aliases=("omnithought-0528",)),
    Format("multi_chain", "shared multi_chain.jsonl: question + 8 chains {response, pred, correct}",
           _read_multi_chain, detect=lambda r: "chains" in r and "question" in r),
    Format("r1_traces", "shared r1_traces.jsonl: problem, message_thinking, message_content, teacher",
           _read_r1_traces, detect=lambda r: "message_thinking" in r),
    Format("humaneval", "HumanEval: task_id, prompt, canonical_solution, test, entry_point",
           _read_humaneval, detect=lambda r: {"prompt", "entry_point"} <= r.keys()),
    Format("code_tests", "stdin/stdout problems: problem, tests [{input, output}]",
           _read_code_tests, detect=lambda r: {"problem", "tests"} <= r.keys()),
    Format("gsm8k", "GSM8K: question, answer (worked solution, '#### final'), final (optional)",
           _read_gsm8k, detect=_is_gsm8k),
    Format("math500", "MATH-500: problem, solution, answer, subject, level, unique_id",
           _read_math500, detect=lambda r: {"problem", "unique_id"} <= r.keys()),
    Format("aime", "AIME 24/25 (and any problem/answer file)", _read_aime,
           detect=lambda r: {"problem", "answer"} <= r.keys(), aliases=("aime24", "aime25")),
    Format("easydistill", "EasyDistill JSON: [{instruction, output}] (+ cot_eval's reasoning_verbosity, "
           "cognitive_difficulty, logical_correctness)", _read_easydistill, _write_easydistill,
           per_chain=True, detect=_is_easydistill),
    Format("alpaca", "Alpaca: instruction, input, output", _read_alpaca, _write_alpaca,
           per_chain=True, detect=lambda r: {"instruction", "output"} <= r.keys()),
    Format("sharegpt", "ShareGPT: conversations [{from, value}]", _read_sharegpt, _write_sharegpt,
           per_chain=True, detect=lambda r: "conversations" in r),
    Format("messages", "OpenAI chat messages; assistant = <think>…</think> + solution", _read_messages,
           _write_messages, per_chain=True, detect=lambda r: "messages" in r),
    Format("responses", "raw teacher outputs: question/prompt + content/response [+ reasoning_content]",
           _read_responses, _write_responses, per_chain=True,
           detect=lambda r: ({"question", "prompt"} & r.keys()) and ({"content", "response"} & r.keys())),
):
    _register(_fmt)

DETECT_ORDER = ("multi_chain", "r1_traces", "humaneval", "code_tests", "gsm8k", "math500", "messages",
                "sharegpt", "easydistill", "alpaca", "responses", "aime", "canonical")


def get_format(name: str) -> Format:
    key = name.lower().replace("_", "-")
    for candidate in (name, name.lower(), key, key.replace("-", "_")):
        if candidate in FORMATS:
            return FORMATS[candidate]
    names = sorted({f.name for f in FORMATS.values()})
    raise ThoughtDistillError(f"unknown format {name!r}; choose one of: {', '.join(names)}")


NAME_IT = "name the format (--from, or input_format in a stage config)"


def detect_format(row: Row) -> Format:
    """Guess a row's format from its fields."""
    for name in DETECT_ORDER:
        fmt = FORMATS[name]
        if fmt.detect(row):
            return fmt
    raise ThoughtDistillError(f"cannot tell the format of a row with fields {sorted(row)[:12]}; {NAME_IT}")


def sniff_format(path: str | Path, *, default: str | None = None) -> Format:
    """The format of a file, from its first valid row. With no valid row at all: the
    ``default`` format if one is given (the reader then reports each row itself), else the
    first row's own error, or an error saying the file is empty."""
    from .reader import iter_rows

    first_error: Exception | None = None
    for _line, _raw, parsed in iter_rows(path):
        if isinstance(parsed, dict):
            return detect_format(parsed)
        if isinstance(parsed, Exception) and first_error is None:
            first_error = parsed
    if default is not None:
        return FORMATS[default]
    if first_error is not None:  # no good row at all: the first row's own error says why
        raise first_error
    raise ThoughtDistillError(f"{path}: empty: no row to read")


# ----------------------------------------------------------------------------- reading / converting


AUTO = ("auto", None)


def resolve_format(path: str | Path, fmt: str | None = "auto", *, default: str | None = None) -> Format:
    """The named format, or (``"auto"`` / None) the one the first row's fields show
    (``default`` when no row is valid, see :func:`sniff_format`)."""
    form = sniff_format(path, default=default) if fmt in AUTO else get_format(fmt)
    if form.read is None:
        raise ThoughtDistillError(f"format {form.name!r} can only be written")
    return form


def read_records(
    path: str | Path,
    fmt: str | None = "auto",
    *,
    limit: int | None = None,
    on_error: OnError = "raise",
    quarantine: str | Path | None = None,
    stats: ReadStats | None = None,
    require_chains: bool = False,
    unique_ids: bool = False,
    split: bool = False,
    merge: bool | None = None,
) -> Iterator[Record]:
    """Canonical records from a file in any format and container, or an ``hf:`` dataset
    reference, streamed: the one reading entry point of every stage.

    ``fmt="auto"`` (or None) detects the format from the first row, like ``convert``.
    ``limit`` stops after that many records. ``split`` fills thought/solution of
    ``full_response``-only chains. ``merge`` (default: on for one-row-per-chain formats)
    joins neighbouring rows of the same question into one record.
    """
    from .reader import iter_records

    form = resolve_format(path, fmt)
    convert = None if form.read is _read_canonical else form.read  # Chain maps published labels itself
    records: Iterable[Record] = iter_records(
        path, convert=convert, on_error=on_error, quarantine=quarantine, stats=stats,
        require_chains=require_chains, unique_ids=unique_ids and not form.per_chain,
    )
    if merge if merge is not None else form.per_chain:
        records = merge_consecutive(records)
        if unique_ids:
            records = _unique_after_merge(records, path)
    if split:
        records = (split_chains(r) for r in records)
    if limit is not None:
        records = itertools.islice(records, max(limit, 0))
    return iter(records)


def iter_canonical_rows(path: str | Path, fmt: str | None = "auto") -> "Source":
    """Canonical record *dicts* (not validated) from any file, format or ``hf:`` reference,
    streamed as ``(line, raw bytes or None, dict or RecordError)``: for readers that check
    rows themselves and must stay fast (select's two passes). A row's conversion error is a
    located RecordError value; one-row-per-chain formats are merged like :func:`read_records`
    (a merged record carries the line and raw bytes of its first row)."""
    from .reader import iter_rows

    form = resolve_format(path, fmt, default="canonical")
    rows = _converted_rows(path, iter_rows(path), form.read)
    return _merge_row_dicts(rows) if form.per_chain else rows


def _converted_rows(path: str | Path, rows: "Source", convert: Callable[[Row], Row]) -> "Source":
    from .reader import CONVERT_ERRORS, located

    for number, raw, parsed in rows:
        if isinstance(parsed, RecordError):
            yield number, raw, parsed
            continue
        try:
            yield number, raw, convert(parsed)
        except CONVERT_ERRORS as exc:
            yield number, raw, located(path, number, exc)


def _row_key(row: Row) -> str | None:
    if isinstance(row.get("id"), str) and row["id"]:
        return row["id"]
    question = row.get("question")
    return content_id(question) if isinstance(question, str) else None


def _merge_row_dicts(rows: "Source") -> "Source":
    """Join neighbouring converted rows of one question (bounded memory: one record)."""
    current: tuple[int, bytes | None, Row] | None = None
    key: str | None = None
    for item in rows:
        number, _raw, row = item
        if isinstance(row, RecordError):
            yield item
            continue
        row_key = _row_key(row)
        if current is not None and row_key is not None and row_key == key:
            current[2]["reasoning"] = [*current[2].get("reasoning", []), *row.get("reasoning", [])]
            continue
        if current is not None:
            yield current
        current, key = item, row_key
    if current is not None:
        yield current


def _unique_after_merge(records: Iterable[Record], path: str | Path) -> Iterator[Record]:
    seen: set[str] = set()
    for record in records:
        if record.id in seen:
            raise RecordError(str(path), None, "id", f"duplicate id {record.id!r} (rows of one question are not adjacent)")
        seen.add(record.id)
        yield record


def load_questions(path: str | Path, fmt: str | None = None, **kwargs: Any) -> list[Record]:
    """All records of a (small) file as a list, the format detected by its fields unless given.

    ``load_questions('math500.jsonl')`` → 500 question-only records;
    ``multi_chain.jsonl`` → 100 records × 8 chains; ``r1_traces.jsonl`` → 10 one-chain records.
    """
    return list(read_records(path, fmt, **kwargs))


def export_rows(records: Iterable[Record], fmt: str) -> Iterator[Row]:
    """Rows of an output format from canonical records."""
    form = get_format(fmt)
    if form.write is None:
        raise ThoughtDistillError(f"format {form.name!r} is input only; write canonical, omnithought, "
                                  "easydistill, alpaca, sharegpt, messages or responses")
    for record in records:
        yield from form.write(record)


@dataclass
class ConvertResult:
    records_in: int
    rows_out: int
    bad: int
    output: Path
    quarantine: Path | None
    errors: list[str]


def convert_file(
    src: str | Path,
    dst: str | Path,
    *,
    src_format: str | None = None,
    dst_format: str = "canonical",
    on_error: OnError = "raise",
    quarantine: str | Path | None = None,
    unique_ids: bool = False,
    split: bool = False,
    require_chains: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ConvertResult:
    """Convert ``src`` to ``dst`` (written atomically), streaming; see :func:`read_records`."""
    from .reader import open_writer

    from .hub import is_hub_ref
    from .reader import quarantine_path

    dst = Path(dst)
    if not is_hub_ref(src) and Path(src).resolve() == dst.resolve():
        raise ThoughtDistillError(f"{dst}: output would overwrite the input")
    out_form = get_format(dst_format)
    qpath = Path(quarantine) if quarantine else quarantine_path(src)
    stats = ReadStats()
    records = read_records(src, src_format, on_error=on_error, quarantine=qpath, stats=stats,
                           require_chains=require_chains, unique_ids=unique_ids, split=split)
    count = 0

    def counted() -> Iterator[Record]:
        nonlocal count
        for record in records:
            count += 1
            if progress is not None:
                progress(count)
            yield record

    plain = out_form.name not in ("canonical", "omnithought")
    with open_writer(dst, plain=plain) as writer:
        writer.write_all(export_rows(counted(), out_form.name))
        rows = writer.count
    return ConvertResult(count, rows, stats.bad, dst, qpath if stats.bad and on_error == "quarantine" else None,
                         stats.errors)
