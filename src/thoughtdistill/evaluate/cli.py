"""``thoughtdistill infer`` and ``thoughtdistill eval`` (+ ``eval compare``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ..config import build_config
from ..errors import ThoughtDistillError


def _overrides(**kw: Any) -> dict[str, Any]:
    sampling = {k: kw.pop(k) for k in ("temperature", "top_p", "top_k", "max_new_tokens")}
    out = {k: v for k, v in kw.items() if v is not None and v != []}
    sampling = {k: v for k, v in sampling.items() if v is not None}
    if sampling:
        out["sampling"] = sampling
    return out


def _check_failures(failed: int, total: int, first_error: str | None, where: str) -> None:
    """Warn loudly on stderr when generations failed; fail when all of them did."""
    if not failed:
        return
    if failed == total:
        raise ThoughtDistillError(f"{where}: all {total} generations failed (first error: {first_error})")
    typer.secho(f"warning: {failed} of {total} generations failed (scored as wrong): {first_error}",
                err=True, fg=typer.colors.YELLOW, bold=True)


# Options shared by infer and eval (typer needs them spelled out per command).
def _gen_options():
    return dict(
        config=typer.Option(None, "--config", "-c", help="YAML/JSON config file (CLI flags override it)."),
        model=typer.Option(None, "--model", "-m", help="HF model folder, or served model name (openai)."),
        backend=typer.Option(None, "--backend", help="transformers | vllm | openai"),
        benchmark=typer.Option(None, "--benchmark", "-b", help="Benchmark name (see docs/evaluate.md)."),
        benchmark_path=typer.Option(None, "--benchmark-path", help="File (CSV, JSONL, Parquet) or hf:REPO[:SPLIT] "
                                    "for the benchmark (needed for gpqa_diamond, livecodebench)."),
        release=typer.Option(None, "--release", help="LiveCodeBench release window: release_v1..release_v6 "
                             "(cumulative), v1..v6 (what one release added), v1_v3 (a range)."),
        date_from=typer.Option(None, "--date-from", help="Only problems with contest_date on or after YYYY-MM-DD."),
        date_to=typer.Option(None, "--date-to", help="Only problems with contest_date on or before YYYY-MM-DD."),
        benchmarks_file=typer.Option(None, "--benchmarks-file", help="Extra registry YAML/JSON (repeatable)."),
        limit=typer.Option(None, "--limit", help="Only the first N items (after --slice)."),
        slice_=typer.Option(None, "--slice", help="START:STOP over the items."),
        thinking=typer.Option(None, "--thinking/--no-thinking", help="enable_thinking in the chat template."),
        n=typer.Option(None, "--n", help="Samples per item."),
        seed=typer.Option(None, "--seed", help="Base seed; each (item, sample) derives its own."),
        temperature=typer.Option(None, "--temperature", help="Sampling temperature, 0 = greedy (default: Qwen3's for the mode)."),
        top_p=typer.Option(None, "--top-p", help="Nucleus sampling mass (default: Qwen3's for the mode)."),
        top_k=typer.Option(None, "--top-k", help="Sample among the K likeliest tokens, 0 = off (default: 20)."),
        max_new_tokens=typer.Option(None, "--max-new-tokens",
                                    help="Most tokens per sample, thought + answer (default: 32768)."),
        batch_size=typer.Option(None, "--batch-size",
                                help="Prompts per batch (transformers); openai/vllm take at least this many at once."),
        base_url=typer.Option(None, "--base-url", help="OpenAI-compatible endpoint (openai backend)."),
        api_key_env=typer.Option(None, "--api-key-env", help="Environment variable holding the API key."),
        label=typer.Option(None, "--label", help="Name in comparison tables."),
        dry_run=typer.Option(False, "--dry-run", help="Check the benchmark, model and settings; generate nothing."),
        no_progress=typer.Option(False, "--no-progress", help="No progress bar or progress lines."),
    )


def register(app: typer.Typer) -> None:
    o = _gen_options()

    @app.command("infer")
    def infer_cmd(
        output: Optional[str] = typer.Option(None, "--output", "-o", help="JSONL output (resumable)."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Start the output afresh."),
        config: Optional[Path] = o["config"], model: Optional[str] = o["model"],
        backend: Optional[str] = o["backend"], benchmark: Optional[str] = o["benchmark"],
        benchmark_path: Optional[str] = o["benchmark_path"],
        release: Optional[str] = o["release"], date_from: Optional[str] = o["date_from"],
        date_to: Optional[str] = o["date_to"],
        benchmarks_file: Optional[list[str]] = o["benchmarks_file"],
        limit: Optional[int] = o["limit"], slice_: Optional[str] = o["slice_"],
        thinking: Optional[bool] = o["thinking"], n: Optional[int] = o["n"], seed: Optional[int] = o["seed"],
        temperature: Optional[float] = o["temperature"], top_p: Optional[float] = o["top_p"],
        top_k: Optional[int] = o["top_k"], max_new_tokens: Optional[int] = o["max_new_tokens"],
        batch_size: Optional[int] = o["batch_size"], base_url: Optional[str] = o["base_url"],
        api_key_env: Optional[str] = o["api_key_env"], label: Optional[str] = o["label"],
        dry_run: bool = o["dry_run"], no_progress: bool = o["no_progress"],
    ) -> None:
        """Generate answers for a benchmark into a resumable JSONL file."""
        from .infer import InferConfig, run_infer

        cfg = build_config(InferConfig, config, _overrides(
            output=output, overwrite=overwrite or None, model=model, backend=backend, benchmark=benchmark,
            benchmark_path=benchmark_path, release=release, date_from=date_from, date_to=date_to,
            benchmarks_files=benchmarks_file, limit=limit, slice=slice_,
            enable_thinking=thinking, n=n, seed=seed, temperature=temperature, top_p=top_p, top_k=top_k,
            max_new_tokens=max_new_tokens, batch_size=batch_size, base_url=base_url, api_key_env=api_key_env,
            label=label, progress=False if no_progress else None))
        if dry_run:
            from .dryrun import dry_run_plan

            typer.echo(dry_run_plan(cfg))
            return
        res = run_infer(cfg)
        typer.echo(f"{res.output}: {res.generated} generated, {res.skipped} already done, {res.errors} errors, "
                   f"{res.tokens_per_s:.1f} tokens/s")
        _check_failures(res.errors, res.generated, res.first_error, str(res.output))

    eval_app = typer.Typer(help="Evaluate a model on a benchmark, or compare runs.",
                           invoke_without_command=True, no_args_is_help=False)

    @eval_app.callback()
    def eval_cmd(
        ctx: typer.Context,
        out_dir: Optional[str] = typer.Option(None, "--out-dir", "-o", help="Folder for the run files."),
        from_infer: Optional[str] = typer.Option(None, "--from-infer", help="Score an existing infer JSONL."),
        run_name: Optional[str] = typer.Option(
            None, "--run-name", help="File name stem for the run (default: LABEL__BENCHMARK__think|nothink)."),
        processes: Optional[int] = typer.Option(None, "--processes", help="math-verify worker processes."),
        overwrite: bool = typer.Option(
            False, "--overwrite", help="Regenerate instead of resuming the run's infer output."),
        config: Optional[Path] = o["config"], model: Optional[str] = o["model"],
        backend: Optional[str] = o["backend"], benchmark: Optional[str] = o["benchmark"],
        benchmark_path: Optional[str] = o["benchmark_path"],
        release: Optional[str] = o["release"], date_from: Optional[str] = o["date_from"],
        date_to: Optional[str] = o["date_to"],
        benchmarks_file: Optional[list[str]] = o["benchmarks_file"],
        limit: Optional[int] = o["limit"], slice_: Optional[str] = o["slice_"],
        thinking: Optional[bool] = o["thinking"], n: Optional[int] = o["n"], seed: Optional[int] = o["seed"],
        temperature: Optional[float] = o["temperature"], top_p: Optional[float] = o["top_p"],
        top_k: Optional[int] = o["top_k"], max_new_tokens: Optional[int] = o["max_new_tokens"],
        batch_size: Optional[int] = o["batch_size"], base_url: Optional[str] = o["base_url"],
        api_key_env: Optional[str] = o["api_key_env"], label: Optional[str] = o["label"],
        dry_run: bool = o["dry_run"], no_progress: bool = o["no_progress"],
    ) -> None:
        """Infer + score (or score --from-infer), writing NAME.json and NAME.samples.jsonl."""
        if ctx.invoked_subcommand is not None:
            return
        from .run import EvalConfig, run_eval

        cfg = build_config(EvalConfig, config, _overrides(
            out_dir=out_dir, from_infer=from_infer, run_name=run_name, processes=processes,
            overwrite=overwrite or None, model=model, backend=backend, benchmark=benchmark,
            benchmark_path=benchmark_path, release=release, date_from=date_from, date_to=date_to,
            benchmarks_files=benchmarks_file, limit=limit, slice=slice_,
            enable_thinking=thinking, n=n, seed=seed, temperature=temperature, top_p=top_p, top_k=top_k,
            max_new_tokens=max_new_tokens, batch_size=batch_size, base_url=base_url, api_key_env=api_key_env,
            label=label, progress=False if no_progress else None))
        if dry_run:
            from .dryrun import dry_run_plan

            typer.echo(dry_run_plan(cfg, cfg.from_infer))
            return
        res = run_eval(cfg)  # raises (after writing the files) if every generation failed
        _check_failures(res.failed, res.metrics["n_samples"], res.first_error, str(res.run_json))
        m = res.metrics
        typer.echo(f"{res.run_json}: accuracy {100 * m['accuracy']:.1f}% over {m['n_problems']} problems x "
                   f"{m['n_samples_per_problem']}; mean tokens {m['mean_completion_tokens'] or 0:.0f}; "
                   f"truncated {100 * (m['truncation_rate'] or 0):.1f}%")

    @eval_app.command("compare")
    def compare_cmd(
        runs: list[Path] = typer.Argument(..., help="Run JSON files written by `thoughtdistill eval`."),
        reference: Optional[list[str]] = typer.Option(
            None, "--reference", "-r", help="Published rows: ThoughtY, ThoughtX, R1-Distill, other, a model name, or all."),
        markdown: Optional[Path] = typer.Option(None, "--markdown", help="Write the markdown table here."),
        html_out: Optional[Path] = typer.Option(None, "--html", help="Write a self-contained HTML page here."),
    ) -> None:
        """Table across runs (markdown on stdout; --html for a page with the accuracy-vs-tokens plot)."""
        from .compare import compare_runs

        typer.echo(compare_runs(runs, reference=reference or [], markdown_out=markdown, html_out=html_out))

    app.add_typer(eval_app, name="eval")
