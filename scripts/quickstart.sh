#!/usr/bin/env bash
# The README's first command: install, build the embedded fixtures, run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export HF_HOME="$PWD/.cache/hf" HF_DATASETS_CACHE="$PWD/.cache/hf/datasets"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 THOUGHTDISTILL_CACHE="$PWD/.cache/thoughtdistill"
# The embedded default (configs/recipes/quickstart.yaml): local teacher and judge servers,
# generate → verify → judge → select → train → eval before/after → report, on CPU, offline.
# Prints where the report is. Re-running resumes; unchanged stages are skipped.
thoughtdistill run "$@"
