#!/usr/bin/env bash
# The README's first command: install, build the embedded fixtures, run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export HF_HOME="$PWD/.cache/hf" HF_DATASETS_CACHE="$PWD/.cache/hf/datasets"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 THOUGHTDISTILL_CACHE="$PWD/.cache/thoughtdistill"
out=runs/quickstart
mkdir -p "$out"
thoughtdistill convert ../shared/data/multi_chain.jsonl "$out/multi_chain.canonical.jsonl" --from multi_chain
thoughtdistill stats "$out/multi_chain.canonical.jsonl"
echo "canonical records written to $out/multi_chain.canonical.jsonl"
