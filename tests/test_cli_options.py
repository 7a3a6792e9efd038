"""Stage CLIs are built from their config models (one source per option): a field added to a
config is an option, with its description in --help, and lands in the built config."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal, Optional

import pytest
import typer
from pydantic import BaseModel, Field
from typer.testing import CliRunner

from thoughtdistill.cliutil import config_options, field_options, find_command, options_markdown
from thoughtdistill.config import StageConfig, build_config
from thoughtdistill.errors import ConfigError

runner = CliRunner()
WIDE = {"COLUMNS": "250", "TERMINAL_WIDTH": "250"}
ROOT = Path(__file__).resolve().parents[1]


class Limits(BaseModel):
    max_items: Optional[int] = Field(default=None, ge=1, description="at most this many items")
    seed: int = Field(default=0, description="the limits' own seed")


class ToyConfig(StageConfig):
    input: Path = Field(description="records to read")
    mode: Literal["fast", "slow"] = Field(default="fast", description="how to go")
    tags: list[str] = Field(default_factory=list, description="labels to keep")
    band: tuple[int, int] = Field(default=(3, 5), description="inclusive level range")
    cache: bool = Field(default=True, description="reuse earlier answers")
    seed: int = Field(default=1, description="the seed")
    limits: Limits = Field(default_factory=Limits)


def _toy_app(model: type[StageConfig], seen: dict[str, Any], **kw: Any) -> typer.Typer:
    app = typer.Typer()

    @app.command("toy")
    @config_options(model, names={"input": ("--input", "-i")}, **kw)
    def toy(config: Optional[Path] = typer.Option(None, "--config", "-c", help="config file"),
            overrides: dict[str, Any] = {}) -> None:
        """A toy stage."""
        seen["cfg"] = build_config(model, config, overrides)

    @app.command("other")
    def other() -> None:
        """A second command, so 'toy' stays a subcommand."""

    return app


def test_every_field_is_an_option_with_its_description_and_default(tmp_path):
    seen: dict[str, Any] = {}
    app = _toy_app(ToyConfig, seen)
    out = runner.invoke(app, ["toy", "--help"], env=WIDE).output
    for text in ("--input", "-i", "records to read", "--mode", "fast | slow", "(default: fast)",
                 "--tags", "--band", "YAML", "--cache", "--no-cache", "(default: cache)",
                 "--max-items", "at most this many items", "--seed", "--limits-seed", "limits (section)"):
        assert text in out, text
    result = runner.invoke(app, ["toy", "-i", "a.jsonl", "--mode", "slow", "--tags", "x", "--tags", "y",
                                 "--band", "[2, 4]", "--no-cache", "--max-items", "7", "--limits-seed", "9"])
    assert result.exit_code == 0, result.output
    cfg = seen["cfg"]
    assert (cfg.input, cfg.mode, cfg.tags, cfg.band, cfg.cache) == (Path("a.jsonl"), "slow", ["x", "y"], (2, 4), False)
    assert (cfg.limits.max_items, cfg.limits.seed, cfg.seed) == (7, 9, 1)


def test_a_field_added_in_a_subclass_is_on_the_cli_with_no_other_edit(tmp_path):
    class ToyPlus(ToyConfig):
        temperature_floor: float = Field(default=0.25, description="never sample colder than this")

    seen: dict[str, Any] = {}
    app = _toy_app(ToyPlus, seen)
    out = runner.invoke(app, ["toy", "--help"], env=WIDE).output
    assert "--temperature-floor" in out and "never sample colder than this" in out and "(default: 0.25)" in out
    assert runner.invoke(app, ["toy", "-i", "a", "--temperature-floor", "0.5"]).exit_code == 0
    assert seen["cfg"].temperature_floor == 0.5
    # and in the docs' table
    table = options_markdown(typer.main.get_command(app).commands["toy"])
    assert "| `--temperature-floor` | `temperature_floor` | never sample colder than this (default: 0.25) |" in table


def test_file_values_stand_unless_a_flag_is_given(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("input: from_file.jsonl\nmode: slow\nlimits:\n  max_items: 3\n")
    seen: dict[str, Any] = {}
    app = _toy_app(ToyConfig, seen)
    assert runner.invoke(app, ["toy", "-c", str(path)]).exit_code == 0
    assert (seen["cfg"].input, seen["cfg"].mode, seen["cfg"].limits.max_items) == (Path("from_file.jsonl"), "slow", 3)
    assert runner.invoke(app, ["toy", "-c", str(path), "--max-items", "5", "-i", "b"]).exit_code == 0
    assert (seen["cfg"].input, seen["cfg"].mode, seen["cfg"].limits.max_items) == (Path("b"), "slow", 5)
    bad = runner.invoke(app, ["toy", "-i", "a", "--mode", "medium"])
    assert isinstance(bad.exception, ConfigError) and "field 'mode'" in str(bad.exception)


def test_a_field_that_clashes_with_a_headline_flag_is_refused():
    class Clash(ToyConfig):
        config: str = "x"

    with pytest.raises(ConfigError, match="Clash.config: its option --config clashes"):
        _toy_app(Clash, {})
    assert "config" not in {o.path[0] for o in field_options(Clash, skip=["config"])}


def test_docs_option_tables_are_current():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_option_docs.py"), "--check"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_stage_commands_keep_their_flags():
    from thoughtdistill.cli import app

    expected = {
        "generate": "--config -c --input -i --output -o --base-url --model --teacher --api-key-env --concurrency "
                    "--max-tokens --temperature --stream --no-stream --n --prompt --work-dir --limit --truncation-retries "
                    "--no-cache --dry-run --no-progress",
        "judge": "--config -c --input -i --output -o --base-url --model --judge-name --api-key-env --concurrency "
                 "--max-tokens --metric --rubric --rubric-file --aggregate --judge-correctness --no-rules --work-dir "
                 "--no-cache --limit --no-progress --dry-run",
        "select": "--output -o --config -c --strategy -s --filter -f --student-size --difficulty --teacher-order "
                  "--per-question --samples-per-bin --total --rv-target --match --n --max-chains --max-tokens "
                  "--max-per-question --eval-file --decontaminate-against --no-near-dedup --no-decontaminate "
                  "--no-figures --seed --on-error",
        "train": "--config -c --data --student --output-dir -o --max-length --overlength --epochs --max-steps --lr "
                 "--batching --resume --overwrite --preflight --dry-run --validate",
        "infer": "--api-key-env --backend --base-url --batch-size --benchmark --benchmark-path --benchmarks-file "
                 "--config --date-from --date-to --dry-run --label --limit --max-new-tokens --model --n "
                 "--no-progress --no-thinking --output --overwrite --release --seed --slice --temperature --thinking "
                 "--top-k --top-p -b -c -m -o",
        "eval": "--api-key-env --backend --base-url --batch-size --benchmark --benchmark-path --benchmarks-file "
                "--config --date-from --date-to --dry-run --from-infer --label --limit --max-new-tokens "
                "--model --n --no-progress --no-thinking --out-dir --overwrite --processes --release --run-name "
                "--seed --slice --temperature --thinking --top-k --top-p -b -c -m -o",
        "convert": "--from --to --on-error --quarantine --unique-ids --split-thoughts --require-chains",
        "stats": "--from --tokenizer --json",
        "run": "--config -c --run-dir -o --from --until --dry-run --force --local-backend --set",
        "verify": "--config -c --input -i --output -o --input-format --processes --code-workers --cpu-s "
                  "--wall-s --memory-mb --limit",
    }
    for words, flags in expected.items():
        command = find_command(app, words.split())
        have = {o for p in command.params for o in [*p.opts, *getattr(p, "secondary_opts", [])]}
        missing = set(flags.split()) - have
        assert not missing, f"{words}: {sorted(missing)}"


def test_every_option_of_every_command_says_what_it_does():
    """A config field without a description would be a bare flag in --help and the docs."""
    from thoughtdistill.cli import app

    def walk(command, words):
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*words, name])
        if words:
            yield words, command

    def says_nothing(text: str) -> bool:  # at most the generated '(default: x)' / '(required...)'
        return not re.sub(r"\((default|required)[^)]*\)", "", text or "").strip()

    bare = [f"{' '.join(words)} {p.opts[0]}" for words, command in walk(typer.main.get_command(app), [])
            for p in command.params if getattr(p, "param_type_name", "") == "option" and says_nothing(p.help)]
    assert not bare, bare
    assert says_nothing("(default: 3)") and not says_nothing("seed (default: 3)")


def test_comma_lists_prefixed_sections_and_endpoint_flags(tmp_path):
    from thoughtdistill.api import EndpointConfig
    from thoughtdistill.cliutil import EndpointFlags

    class Served(StageConfig):
        judges: list[EndpointConfig] = Field(default_factory=list, description="endpoints")
        names: list[str] = Field(default_factory=list, description="who")
        limits: Limits = Field(default_factory=Limits)

    seen: dict[str, Any] = {}
    app = typer.Typer()

    @app.command("toy")
    @config_options(Served, comma=["names"], prefixed=["limits"],
                    endpoints=EndpointFlags("judges", "judge", "--judge-name", ("base_url", "model", "concurrency")))
    def toy(config: Optional[Path] = typer.Option(None, "--config", "-c"), overrides: dict[str, Any] = {}) -> None:
        seen["cfg"] = build_config(Served, config, overrides)

    app.command("other")(lambda: None)
    help_text = runner.invoke(app, ["toy", "--help"], env=WIDE).output
    for text in ("--limits-max-items", "--limits-seed", "--judge-name", "--base-url", "one judge: model name",
                 "requests in flight (one judge, or every judge of -c)", "comma-separated"):
        assert text in help_text, text
    ok = runner.invoke(app, ["toy", "--names", "a, b", "--limits-max-items", "2", "--base-url", "http://h/v1",
                             "--model", "m", "--concurrency", "3"])
    assert ok.exit_code == 0, ok.output
    cfg = seen["cfg"]
    assert cfg.names == ["a", "b"] and cfg.limits.max_items == 2
    assert [(j.name, j.base_url, j.model, j.concurrency) for j in cfg.judges] == [("judge", "http://h/v1", "m", 3)]
    assert runner.invoke(app, ["toy", "--names", ""]).exit_code == 0 and seen["cfg"].names == []
    alone = runner.invoke(app, ["toy", "--concurrency", "3"])  # nothing to tune without -c or --base-url
    assert isinstance(alone.exception, ConfigError) and "--concurrency" in str(alone.exception)


def test_a_field_added_to_a_real_stage_config_reaches_its_command(monkeypatch, tmp_path, data_dir):
    """verify's command is built from VerifyConfig at register time: a subclass with one more
    field (standing in for an edit of the class) gets the flag, its help, and the value."""
    import thoughtdistill.verify.stage as stage
    from thoughtdistill.verify import cli as verify_cli

    class VerifyPlus(stage.VerifyConfig):
        answer_note: Optional[str] = Field(default=None, description="a note kept with the run")

    seen: dict[str, Any] = {}
    real_run = stage.run_verify

    def run_and_keep(cfg):  # the real run; the config it got is kept for the assertion
        seen["cfg"] = cfg
        return real_run(cfg)

    monkeypatch.setattr(stage, "VerifyConfig", VerifyPlus)
    monkeypatch.setattr(stage, "run_verify", run_and_keep)
    app = typer.Typer()
    verify_cli.register(app)
    app.command("other")(lambda: None)
    assert "--answer-note" in (out := runner.invoke(app, ["verify", "--help"], env=WIDE).output)
    assert "a note kept with the run" in out
    result = runner.invoke(app, ["verify", "-i", str(data_dir / "r1_traces.jsonl"), "-o", str(tmp_path / "v.jsonl"),
                                 "--limit", "2", "--no-progress", "--answer-note", "hello"])
    assert result.exit_code == 0, result.output
    assert seen["cfg"].answer_note == "hello" and seen["cfg"].limit == 2
