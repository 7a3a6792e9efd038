"""Reading a score out of a judge's reply, robustly and without guessing.

Paths, in order (the first that yields a valid value wins):

1. ``<score>N</score>`` tags: the last tag whose content is a value (``<score>N</score>``
   with a letter, as in an instruction the judge quoted, is skipped);
2. a JSON object with a ``score`` / ``level`` / ``rating`` / ``verdict`` / ``correct`` key
   (also inside a ```json fence);
3. ``Score: N`` / ``Rating = N`` / ``Level: N`` / ``N/9`` / ``N out of 9``;
4. a bare value: only when the whole reply (after any thought) is short (at most
   :data:`SHORT_REPLY` characters) and holds exactly one number, e.g. ``"7"`` or ``"7."``.

Levels must be integers in 0..9 (``7.0`` is accepted, ``7.5`` is not); correctness values
are 1/0, true/false, yes/no, correct/incorrect. A reasoning judge's thought (``<think>…``)
is ignored. Anything else is unparsable: the caller retries once with a stricter
instruction and then records the judgment with ``ok=False`` and the raw text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..records import LEVEL_MAX, LEVEL_MIN

SHORT_REPLY = 24
_TAG = re.compile(r"<score>\s*(.*?)\s*</score>", re.IGNORECASE | re.DOTALL)
_JSON_OBJ = re.compile(r"\{[^{}]*\}", re.DOTALL)
_LABELLED = re.compile(
    r"\b(?:score|rating|level|grade|verdict)\b\**\s*(?:is|[:=])?\s*\**\s*([A-Za-z]+|\d+(?:\.\d+)?)",
    re.IGNORECASE,
)
_OUT_OF = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:/|out\s+of)\s*(?:9|10|1)\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*\d)")
_TRUE = {"1", "true", "yes", "correct", "valid", "right", "1.0"}
_FALSE = {"0", "false", "no", "incorrect", "invalid", "wrong", "0.0"}
_JSON_KEYS = ("score", "level", "rating", "verdict", "correct", "correctness", "value")


@dataclass(frozen=True)
class Parsed:
    value: int | bool | None  # a level (int) or a verdict (bool); None: unparsable
    how: str  # "tag", "json", "label", "bare" or why it failed

    @property
    def ok(self) -> bool:
        return self.value is not None


def strip_thought(text: str) -> str:
    for end in ("</think>", "<|end_of_thought|>"):
        if end in text:
            return text.rsplit(end, 1)[1]
    for start in ("<think>", "<|begin_of_thought|>"):
        if start in text:
            return ""  # the judge never finished thinking
    return text


def _value(token: str, kind: str) -> int | bool | None:
    token = str(token).strip().strip("*.`'\"").strip().lower()
    if kind == "bool":
        if token in _TRUE:
            return True
        if token in _FALSE:
            return False
        return None
    try:
        number = float(token)
    except ValueError:
        return None
    if number != int(number):
        return None
    level = int(number)
    return level if LEVEL_MIN <= level <= LEVEL_MAX else None


def _from_json(text: str, kind: str) -> int | bool | None:
    for blob in reversed(_JSON_OBJ.findall(text)):
        try:
            obj = json.loads(blob)
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        lowered = {str(k).lower(): v for k, v in obj.items()}
        for key in _JSON_KEYS:
            if key in lowered and not isinstance(lowered[key], (dict, list)):
                raw = lowered[key]
                value = _value("true" if raw is True else "false" if raw is False else str(raw), kind)
                if value is not None:
                    return value
    return None


def parse_score(text: str | None, kind: str = "level") -> Parsed:
    """A level 0..9 (``kind='level'``) or a verdict (``kind='bool'``) from a judge reply."""
    if text is None or not text.strip():
        return Parsed(None, "empty reply")
    body = strip_thought(text)
    if not body.strip():
        return Parsed(None, "no answer after the judge's thought")
    for match in reversed(_TAG.findall(body)):
        value = _value(match, kind)
        if value is not None:
            return Parsed(value, "tag")
    value = _from_json(body, kind)
    if value is not None:
        return Parsed(value, "json")
    for match in reversed(list(_LABELLED.finditer(body))):
        value = _value(match.group(1), kind)
        if value is not None:
            return Parsed(value, "label")
    if kind == "level":
        for match in reversed(list(_OUT_OF.finditer(body))):
            value = _value(match.group(1), kind)
            if value is not None:
                return Parsed(value, "label")
    short = body.strip()
    if len(short) <= SHORT_REPLY:
        if kind == "bool":
            value = _value(short, kind)
            if value is not None:
                return Parsed(value, "bare")
        numbers = _NUMBER.findall(short)
        if len(numbers) == 1:
            value = _value(numbers[0], kind)
            if value is not None:
                return Parsed(value, "bare")
            return Parsed(None, f"value {numbers[0]} outside the allowed range")
    return Parsed(None, "no score found (no <score> tag, JSON, 'Score: N' or short bare value)")
