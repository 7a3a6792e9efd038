"""The ``thoughtdistill`` command: a thin layer over the stage functions.

Each stage package owns a ``cli`` module with ``register(app)``; listing it here is the
only step to add a verb.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from .errors import ThoughtDistillError

STAGE_CLIS: list[str] = [
    "thoughtdistill.io.cli",
    "thoughtdistill.evaluate.cli",
    "thoughtdistill.generate.cli",
    "thoughtdistill.train.cli",
    "thoughtdistill.select.cli",
    "thoughtdistill.pipeline.cli",
    "thoughtdistill.judge.cli",
    "thoughtdistill.verify.cli",
]

app = typer.Typer(
    name="thoughtdistill",
    help="Distil long chain-of-thought reasoning from teacher models into small students.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _main(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    if debug:
        os.environ["THOUGHTDISTILL_DEBUG"] = "1"


for _module in STAGE_CLIS:
    importlib.import_module(_module).register(app)


def main() -> None:
    try:
        app()
    except (ThoughtDistillError, OSError) as exc:
        if os.environ.get("THOUGHTDISTILL_DEBUG") or "--debug" in sys.argv:
            raise
        typer.secho(f"error: {_message(exc)}", fg=typer.colors.RED, err=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        _interrupted()
        raise SystemExit(130) from None
    except SystemExit as exc:
        if exc.code == 130:  # click turns Ctrl-C into a silent exit 130 before it reaches us
            _interrupted()
        raise


def _message(exc: Exception) -> str:
    if isinstance(exc, OSError):  # a path that cannot be read or written: its name and why
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    return str(exc)


def _interrupted() -> None:
    typer.secho("interrupted; work done so far is saved: run the same command to resume", err=True)


if __name__ == "__main__":
    main()
