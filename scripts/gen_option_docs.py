#!/usr/bin/env python
"""Write the option tables of docs/*.md from the commands themselves (their config models).

A table sits between ``<!-- options: COMMAND WORDS -->`` and ``<!-- /options -->`` (a command's
options), or ``<!-- fields: module:Class -->`` and ``<!-- /fields -->`` (a config model's fields);
this script replaces what is between them. ``--check``: change nothing, exit 1 naming the stale tables
(tests/test_cli_options.py runs it).

    python scripts/gen_option_docs.py          # rewrite the tables
    python scripts/gen_option_docs.py --check  # are they current?
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- options: (?P<words>[^>]*?) -->\n)(?P<body>.*?)(<!-- /options -->)", re.S)
FIELDS = re.compile(r"(<!-- fields: (?P<model>[\w.]+):(?P<cls>\w+) -->\n)(?P<body>.*?)(<!-- /fields -->)", re.S)


def render(text: str) -> str:
    from thoughtdistill.cli import app
    from thoughtdistill.cliutil import find_command, options_markdown

    def table(m: re.Match) -> str:
        words = m.group("words").split()
        note = (f"Generated from the config models by `scripts/gen_option_docs.py`; "
                f"`thoughtdistill {' '.join(words)} --help` shows the same.\n\n")
        return m.group(1) + note + options_markdown(find_command(app, words)) + "\n" + m.group(4)

    def fields(m: re.Match) -> str:
        import importlib

        from thoughtdistill.cliutil import fields_markdown

        model = getattr(importlib.import_module(m.group("model")), m.group("cls"))
        note = f"Generated from `{m.group('cls')}` by `scripts/gen_option_docs.py`.\n\n"
        return m.group(1) + note + fields_markdown(model) + "\n" + m.group(5)

    return FIELDS.sub(fields, BLOCK.sub(table, text))


def main(argv: list[str]) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    check = "--check" in argv
    stale = []
    for path in sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")]):
        text = path.read_text(encoding="utf-8")
        if "<!-- options:" not in text and "<!-- fields:" not in text:
            continue
        new = render(text)
        if new != text:
            stale.append(path.relative_to(ROOT))
            if not check:
                path.write_text(new, encoding="utf-8")
    if stale and check:
        print(f"stale option tables in {', '.join(map(str, stale))}: run python scripts/gen_option_docs.py")
        return 1
    for path in stale:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
