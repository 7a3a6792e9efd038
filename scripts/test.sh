#!/usr/bin/env bash
# The whole test suite, slow tests included (what CI runs). Fast tests only: .venv/bin/pytest
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The ZeRO-2 training test runs DeepSpeed on CPU; it is an optional extra for users.
.venv/bin/pip install -q -c constraints.txt -e ".[deepspeed]"
# The report test drives a real headless Chromium; install it where we may (CI runs as root).
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
    || { echo "could not install chromium" >&2; [ "${CI:-}" != true ] || exit 1; }
fi
. .venv/bin/activate
export HF_HOME="$PWD/.cache/hf" HF_DATASETS_CACHE="$PWD/.cache/hf/datasets"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 THOUGHTDISTILL_CACHE="$PWD/.cache/thoughtdistill"
# pytest exits 5 when no test is collected; set -e turns that into a failure.
pytest -m "slow or not slow" -q --durations=25 "$@"
